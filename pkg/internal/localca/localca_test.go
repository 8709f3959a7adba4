package localca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// readPEMs returns the certificates of a PEM file.
func readPEMs(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

func verifyFor(leaf, ca *x509.Certificate, name string, at time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// TestGeneratedCertificate: the served certificate is a leaf for TLS
// servers (not a CA), P-256, at most 397 days, naming the listen host,
// signed by a generated CA that clients trust (ca.crt); the files are
// read back (crypto/x509) as a client would see them.
func TestGeneratedCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cert, err := generatedCertificate("redfish", dir, "127.0.0.1:8000", now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	chain := readPEMs(t, filepath.Join(dir, CertFile))
	cas := readPEMs(t, filepath.Join(dir, CAFile))
	if len(chain) != 2 || len(cas) != 1 || !bytes.Equal(chain[1].Raw, cas[0].Raw) || !bytes.Equal(chain[0].Raw, cert.Certificate[0]) {
		t.Fatalf("tls.crt holds %d certificates, ca.crt %d: want the leaf then the CA, and the CA", len(chain), len(cas))
	}
	leaf, ca := chain[0], cas[0]

	if !leaf.BasicConstraintsValid || leaf.IsCA {
		t.Errorf("leaf: basicConstraints valid=%v CA=%v, want CA:FALSE", leaf.BasicConstraintsValid, leaf.IsCA)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf key usage %b, want digitalSignature only (ECDSA key)", leaf.KeyUsage)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("leaf extended key usage %v, want serverAuth only", leaf.ExtKeyUsage)
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("leaf key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 398*24*time.Hour || life < 300*24*time.Hour {
		t.Errorf("leaf lifetime %v, want at most 398 days", life)
	}
	if leaf.NotBefore.After(now) {
		t.Errorf("leaf not valid yet at issue: NotBefore %v", leaf.NotBefore)
	}
	if !slices.Equal(leaf.DNSNames, []string{"localhost"}) || len(leaf.IPAddresses) != 2 {
		t.Errorf("leaf SANs %v %v, want localhost, 127.0.0.1, ::1", leaf.DNSNames, leaf.IPAddresses)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, ca.SubjectKeyId) || len(leaf.SubjectKeyId) == 0 {
		t.Error("leaf lacks its SKI or an AKI naming the CA")
	}
	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("CA: IsCA=%v pathlen0=%v usage %b", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if !ca.PermittedDNSDomainsCritical || !slices.Equal(ca.PermittedDNSDomains, []string{"localhost"}) || len(ca.PermittedIPRanges) != 2 {
		t.Errorf("CA name constraints: DNS %v IP %v", ca.PermittedDNSDomains, ca.PermittedIPRanges)
	}
	for _, name := range []string{"127.0.0.1", "localhost", "::1"} {
		if err := verifyFor(leaf, ca, name, now); err != nil {
			t.Errorf("does not verify for %s against ca.crt: %v", name, err)
		}
	}
	for _, f := range []string{KeyFile, CAKeyFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
	}

	// The CA's name constraints hold: its key cannot vouch for another host.
	caPair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	evilTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "evil"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), DNSNames: []string{"www.example.org"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, evilTmpl, ca, &key.PublicKey, caPair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	evil, _ := x509.ParseCertificate(der)
	var inv x509.CertificateInvalidError
	if err := verifyFor(evil, ca, "www.example.org", now); !errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName {
		t.Errorf("a certificate for another host signed with the CA's key verifies: %v", err)
	}
}

// TestGeneratedCertificateLifecycle: kept across restarts, renewed from
// the same CA 30 days before it expires (a client trusting ca.crt keeps
// verifying), a new CA only when the CA expires or cannot name the listen
// host, and the CA certificate earlier versions served is replaced.
func TestGeneratedCertificateLifecycle(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	gen := func(listen string, at time.Time) (*x509.Certificate, *x509.Certificate, *testkit.Records) {
		t.Helper()
		logs := testkit.NewRecords()
		if _, err := generatedCertificate("redfish", dir, listen, at, slog.New(logs)); err != nil {
			t.Fatal(err)
		}
		return readPEMs(t, filepath.Join(dir, CertFile))[0], readPEMs(t, filepath.Join(dir, CAFile))[0], logs
	}
	leaf1, ca1, _ := gen("127.0.0.1:8000", now)

	leaf2, ca2, _ := gen("127.0.0.1:8000", now.Add(300*24*time.Hour))
	if !bytes.Equal(leaf1.Raw, leaf2.Raw) || !bytes.Equal(ca1.Raw, ca2.Raw) {
		t.Error("a certificate with more than 30 days left was replaced")
	}

	renewAt := leaf1.NotAfter.Add(-29 * 24 * time.Hour)
	leaf3, ca3, logs := gen("127.0.0.1:8000", renewAt)
	if bytes.Equal(leaf1.Raw, leaf3.Raw) || !bytes.Equal(ca1.Raw, ca3.Raw) {
		t.Fatal("a leaf expiring within 30 days was not renewed from the same CA")
	}
	if err := verifyFor(leaf3, ca1, "127.0.0.1", renewAt); err != nil {
		t.Errorf("the renewed leaf does not verify against the CA clients have: %v", err)
	}
	if !logs.Has("redfish certificate renewed") || !logs.Has("expires within 30 days") {
		t.Errorf("renewal not logged: %v", logs.All())
	}

	// Another listen host: the CA's name constraints do not cover it.
	leaf4, ca4, logs := gen("192.0.2.7:8000", renewAt)
	if bytes.Equal(ca1.Raw, ca4.Raw) || verifyFor(leaf4, ca4, "192.0.2.7", renewAt) != nil || verifyFor(leaf4, ca4, "127.0.0.1", renewAt) != nil {
		t.Errorf("listen host change: SANs %v %v", leaf4.DNSNames, leaf4.IPAddresses)
	}
	if !logs.Has("clients must be given the new ca.crt") {
		t.Errorf("a new CA is not announced: %v", logs.All())
	}

	// The CA expiring within 30 days: a new CA and leaf.
	late := ca4.NotAfter.Add(-29 * 24 * time.Hour)
	leaf5, ca5, _ := gen("192.0.2.7:8000", late)
	if bytes.Equal(ca4.Raw, ca5.Raw) || leaf5.NotAfter.After(ca5.NotAfter) || verifyFor(leaf5, ca5, "192.0.2.7", late) != nil {
		t.Error("an expiring CA was not replaced")
	}

	// A host name listen address is a DNS SAN; the wildcard address
	// names the machine.
	d2 := t.TempDir()
	if c, err := generatedCertificate("redfish", d2, "bmc.example.org:8000", now, slog.New(slog.DiscardHandler)); err != nil || c.Leaf.VerifyHostname("bmc.example.org") != nil {
		t.Errorf("host name listen: %v", err)
	}
	d3 := t.TempDir()
	c, err := generatedCertificate("redfish", d3, "0.0.0.0:8000", now, slog.New(slog.DiscardHandler))
	if h, herr := os.Hostname(); err != nil || herr == nil && c.Leaf.VerifyHostname(h) != nil {
		t.Errorf("wildcard listen: %v, DNS SANs %v", err, c.Leaf.DNSNames)
	}
	if c2, err := generatedCertificate("redfish", d3, "0.0.0.0:8000", now, slog.New(slog.DiscardHandler)); err != nil || !bytes.Equal(c.Certificate[0], c2.Certificate[0]) {
		t.Errorf("wildcard listen: certificate not kept: %v", err)
	}

	// What earlier versions generated: a self-signed 10-year CA as tls.crt.
	d4 := t.TempDir()
	oldKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	old := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "powerjockey Redfish 127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	oldDER, _ := x509.CreateCertificate(rand.Reader, old, old, &oldKey.PublicKey, oldKey)
	oldKeyDER, _ := x509.MarshalPKCS8PrivateKey(oldKey)
	os.WriteFile(filepath.Join(d4, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: oldDER}), 0o644)
	os.WriteFile(filepath.Join(d4, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: oldKeyDER}), 0o600)
	logs = testkit.NewRecords()
	c, err = generatedCertificate("redfish", d4, "127.0.0.1:8000", now, slog.New(logs))
	if err != nil || c.Leaf.IsCA || bytes.Equal(c.Certificate[0], oldDER) {
		t.Errorf("the old CA-style certificate was kept: %v", err)
	}
}

// TestConfiguredCertificate: the operator's certificate is served as is,
// re-read when its files change, and one that is a CA or expires soon is
// warned about.
func TestConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	// Files from the generator stand in for the operator's.
	src := t.TempDir()
	if _, err := generatedCertificate("redfish", src, "127.0.0.1:8000", now, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "my.crt"), filepath.Join(dir, "my.key")
	copyFile := func(from, to string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join(src, CertFile), certFile)
	copyFile(filepath.Join(src, KeyFile), keyFile)
	logs := testkit.NewRecords()
	rc := Source{Listen: "127.0.0.1:8000", TLSCert: certFile, TLSKey: keyFile}
	s, err := NewStore("redfish", filepath.Join(dir, "state"), rc, slog.New(logs), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetCertificate(nil)
	first := readPEMs(t, certFile)[0]
	if !bytes.Equal(got.Certificate[0], first.Raw) {
		t.Error("the configured certificate is not served")
	}
	if _, err := os.Stat(filepath.Join(dir, "state", CertFile)); err == nil {
		t.Error("a certificate was generated although one is configured")
	}

	// New files (a renewal): served after the next refresh.
	src2 := t.TempDir()
	if _, err := generatedCertificate("redfish", src2, "127.0.0.1:8000", now, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	copyFile(filepath.Join(src2, CertFile), certFile)
	copyFile(filepath.Join(src2, KeyFile), keyFile)
	later := time.Now().Add(time.Second)
	os.Chtimes(certFile, later, later)
	if err := s.refresh(false); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetCertificate(nil)
	if bytes.Equal(got.Certificate[0], first.Raw) || !logs.Has("redfish certificate files changed") {
		t.Error("changed certificate files were not re-read")
	}

	// A configured certificate that expires soon is warned about.
	s.now = func() time.Time { return got.Leaf.NotAfter.Add(-24 * time.Hour) }
	if err := s.refresh(false); err != nil {
		t.Fatal(err)
	}
	if !logs.Has("expires soon") {
		t.Errorf("no warning for a certificate expiring in a day: %v", logs.All())
	}
	// A missing file is an error at start.
	if _, err := NewStore("redfish", dir, Source{Listen: "127.0.0.1:1", TLSCert: "/nonexistent", TLSKey: keyFile}, slog.New(slog.DiscardHandler), time.Now); err == nil {
		t.Error("a missing tls_cert is not an error")
	}
}
