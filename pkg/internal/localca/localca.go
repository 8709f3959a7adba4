// Package localca gives a TLS service (the Redfish service, the HTTP
// server beyond loopback) its certificate: the operator's files, re-read
// when they change, or a leaf issued by a small certificate authority
// generated into the service's state directory, name-constrained to the
// service's own names and renewed before it expires. Clients are given
// the CA (ca.crt) once and trust every renewed leaf.
package localca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/powerjockey/powerjockey/pkg/internal/atomicfile"
)

// Files of the generated certificates in a service's directory
// (state_dir/redfish, state_dir/http). CertFile is the served chain (the
// leaf, then the CA), so a client that was given it as its CA bundle
// trusts the CA, and with it every renewed leaf; CAFile is what clients
// are told to trust.
const (
	CertFile  = "tls.crt"
	KeyFile   = "tls.key"
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
)

// Lifetimes of the generated certificates. A leaf lives at most 397 days
// (CA/Browser Forum ballot SC22 caps publicly trusted ones at 398, and
// clients increasingly apply it to every certificate); it is renewed 30
// days before it expires, at start and by the daemon while it runs, signed
// by the same CA, so clients that trust the CA never notice. The CA lives
// ten years: it is what clients are told to trust, and its name
// constraints limit it to this service's own names.
const (
	leafLifetime = 397 * 24 * time.Hour
	caLifetime   = 10 * 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
	// certCheckInterval is how often the running daemon looks at its
	// certificate (expiry, and changed files of a configured one).
	certCheckInterval = 6 * time.Hour
)

// Source is where a service's certificate comes from: the operator's
// files, or (both empty) a leaf generated for the listen address.
type Source struct {
	Listen, TLSCert, TLSKey string
}

// Store holds a TLS service's certificate (Redfish's, the HTTP
// server's) and keeps it current:
// a generated one is renewed before it expires, a configured one is
// re-read when its files change (a renewal by certbot or cert-manager),
// both without a restart.
type Store struct {
	service string // "redfish", "http": in log lines and the certificates' names
	dir     string
	rc      Source
	log     *slog.Logger
	now     func() time.Time

	cur atomic.Pointer[tls.Certificate]

	mu   sync.Mutex
	mods [2]time.Time // modification times of a configured tls_cert and tls_key
}

// NewStore loads or generates the certificate of service ("redfish",
// "http": in log lines and the certificates' names) under dir; an error
// means the service cannot start. now is the clock (tests: a fake one).
func NewStore(service, dir string, rc Source, log *slog.Logger, now func() time.Time) (*Store, error) {
	s := &Store{service: service, dir: dir, rc: rc, log: log, now: now}
	if err := s.refresh(true); err != nil {
		return nil, err
	}
	return s, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (s *Store) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load(), nil
}

// TLSConfig is a server configuration serving the store's current
// certificate (TLS 1.2 and later).
func (s *Store) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: s.GetCertificate, MinVersion: tls.VersionTLS12}
}

// Run refreshes the certificate every certCheckInterval until ctx ends.
// A failed refresh keeps the current certificate and is logged.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(certCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.refresh(false); err != nil {
				s.log.Error(s.service+" certificate not refreshed: the current one keeps serving", "err", err)
			}
		}
	}
}

func (s *Store) refresh(first bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rc.TLSCert != "" {
		return s.refreshConfigured(first)
	}
	cert, err := generatedCertificate(s.service, s.dir, s.rc.Listen, s.now(), s.log)
	if err != nil {
		return err
	}
	if old := s.cur.Load(); old == nil || !slices.EqualFunc(old.Certificate, cert.Certificate, slices.Equal[[]byte]) {
		s.cur.Store(&cert)
	}
	return nil
}

// refreshConfigured (re)loads the operator's certificate when its files
// changed, and warns about what clients will refuse.
func (s *Store) refreshConfigured(first bool) error {
	var mods [2]time.Time
	for i, f := range []string{s.rc.TLSCert, s.rc.TLSKey} {
		st, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("tls_cert/tls_key: %w", err)
		}
		mods[i] = st.ModTime()
	}
	if !first && mods == s.mods {
		s.warnConfigured(s.cur.Load().Leaf)
		return nil
	}
	cert, err := tls.LoadX509KeyPair(s.rc.TLSCert, s.rc.TLSKey)
	if err != nil {
		return fmt.Errorf("tls_cert/tls_key: %w", err)
	}
	if !first {
		s.log.Info(s.service+" certificate files changed: serving the new certificate", "cert", s.rc.TLSCert,
			"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	s.mods = mods
	s.cur.Store(&cert)
	s.warnConfigured(cert.Leaf)
	return nil
}

func (s *Store) warnConfigured(leaf *x509.Certificate) {
	now := s.now()
	switch {
	case now.After(leaf.NotAfter):
		s.log.Error(s.service+" certificate (tls_cert) has expired: clients that verify it refuse to connect", "cert", s.rc.TLSCert,
			"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Add(renewBefore).After(leaf.NotAfter):
		s.log.Warn(s.service+" certificate (tls_cert) expires soon: renew it (the daemon re-reads the files)", "cert", s.rc.TLSCert,
			"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if leaf.IsCA {
		s.log.Warn(s.service+" certificate (tls_cert) is a CA certificate: serve a leaf certificate that a CA signed", "cert", s.rc.TLSCert)
	}
}

// generatedCertificate returns the generated chain for the listen address,
// renewing (and, when needed, first creating) what is missing, expiring,
// not covering the listen host, or not what this version generates (the
// self-signed CA certificate that earlier versions served).
func generatedCertificate(service, dir, listen string, now time.Time, log *slog.Logger) (tls.Certificate, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("listen %q: %w", listen, err)
	}
	caPath, caKeyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)

	ca, caKey, caWhy := loadCA(caPath, caKeyPath, now)
	cert, leafWhy := loadLeaf(certPath, keyPath, ca, host, now)
	if caWhy == "" && leafWhy == "" {
		return cert, nil
	}
	names := hostNames(host)
	if caWhy == "" {
		// A renewed leaf from the CA clients already trust; unless the CA
		// does not permit the listen host (its name constraints were
		// made for another one): then a new CA.
		cert, err := issueLeaf(service, ca, caKey, host, names, now)
		if err != nil {
			return tls.Certificate{}, err
		}
		if err := verifyLeaf(cert, ca, host, now); err == nil {
			log.Info(service+" certificate renewed", "cert", certPath, "reason", leafWhy,
				"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
			return cert, writeLeaf(certPath, keyPath, cert)
		}
		caWhy = "its name constraints do not cover listen host " + host
	}
	if _, err := os.Stat(caPath); err == nil {
		log.Warn(service+" generating a new CA: clients must be given the new ca.crt to verify the service", "ca", caPath, "reason", caWhy)
	} else {
		log.Info(service+" generating a CA and a certificate; give clients ca.crt to verify the service", "ca", caPath)
	}
	ca, caKey, err = newCA(service, host, names, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err = issueLeaf(service, ca, caKey, host, names, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeCA(caPath, caKeyPath, ca, caKey); err != nil {
		return tls.Certificate{}, err
	}
	return cert, writeLeaf(certPath, keyPath, cert)
}

// loadCA loads the generated CA; why says why it cannot be used ("" if it can).
func loadCA(certPath, keyPath string, now time.Time) (*x509.Certificate, crypto.Signer, string) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, "none yet"
	case err != nil:
		return nil, nil, "cannot be loaded: " + err.Error()
	}
	ca := pair.Leaf
	key, ok := pair.PrivateKey.(crypto.Signer)
	switch {
	case !ok:
		return nil, nil, "its key cannot sign"
	case !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0:
		return nil, nil, "not a CA certificate"
	case now.Add(renewBefore).After(ca.NotAfter):
		return nil, nil, "expires within 30 days"
	}
	return ca, key, ""
}

// loadLeaf loads the served chain; why says why it must be replaced.
func loadLeaf(certPath, keyPath string, ca *x509.Certificate, host string, now time.Time) (tls.Certificate, string) {
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cert, "none yet"
	case err != nil:
		return cert, "cannot be loaded: " + err.Error()
	}
	leaf := cert.Leaf
	switch {
	case leaf.IsCA:
		return cert, "a CA certificate (as earlier versions made): replaced by a leaf"
	case leaf.NotAfter.Sub(leaf.NotBefore) > leafLifetime:
		return cert, "lifetime over 397 days"
	case now.Add(renewBefore).After(leaf.NotAfter):
		return cert, "expires within 30 days"
	case ca == nil:
		return cert, "its CA is replaced"
	}
	if err := verifyLeaf(cert, ca, host, now); err != nil {
		return cert, err.Error()
	}
	return cert, ""
}

// verifyLeaf checks the chain as a client would: signed by ca, for
// serverAuth, naming host (any of its names for a wildcard listen host).
func verifyLeaf(cert tls.Certificate, ca *x509.Certificate, host string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if !isWildcard(host) {
		opts.DNSName = host
	}
	if _, err := cert.Leaf.Verify(opts); err != nil {
		return fmt.Errorf("does not verify for listen host %s: %w", host, err)
	}
	return nil
}

func isWildcard(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// certNames are the names of a generated certificate: its SANs, and the
// CA's name constraints.
type certNames struct {
	dns []string
	ips []net.IP
}

// hostNames are the names for a listen host: the host itself, localhost,
// 127.0.0.1 and ::1; for a wildcard listen address also the host name and
// the addresses of the machine's interfaces.
func hostNames(host string) certNames {
	n := certNames{dns: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}}
	addIP := func(ip net.IP) {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if !slices.ContainsFunc(n.ips, ip.Equal) {
			n.ips = append(n.ips, ip)
		}
	}
	addDNS := func(name string) {
		if name != "" && !slices.Contains(n.dns, name) {
			n.dns = append(n.dns, name)
		}
	}
	ip := net.ParseIP(host)
	switch {
	case ip != nil && !ip.IsUnspecified():
		addIP(ip)
	case ip == nil && host != "":
		addDNS(host)
	default:
		if h, err := os.Hostname(); err == nil {
			addDNS(h)
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() {
					addIP(ipn.IP)
				}
			}
		}
	}
	return n
}

func certCN(host string) string {
	if isWildcard(host) {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	return host
}

// serviceTitle is the service's name in certificates: "Redfish", "HTTP".
func serviceTitle(service string) string {
	if service == "redfish" {
		return "Redfish"
	}
	return strings.ToUpper(service)
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(der) // RFC 5280 4.2.1.2 method (1); an identifier, not a signature
	return sum[:], nil
}

// newCA makes the CA that signs the service's leaves. Its name
// constraints permit only the service's names, so its key, kept in
// state_dir next to the leaf's, cannot vouch for any other host.
func newCA(service, host string, names certNames, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	ski, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	var ipRanges []*net.IPNet
	for _, ip := range names.ips {
		ipRanges = append(ipRanges, &net.IPNet{IP: ip, Mask: net.CIDRMask(len(ip)*8, len(ip)*8)})
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{Organization: []string{"powerjockey"},
			CommonName: fmt.Sprintf("powerjockey %s CA %s %s", serviceTitle(service), certCN(host), now.UTC().Format("2006-01-02"))},
		NotBefore:                   now.Add(-time.Hour),
		NotAfter:                    now.Add(caLifetime - time.Hour),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true,
		SubjectKeyId:                ski,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         names.dns,
		PermittedIPRanges:           ipRanges,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// issueLeaf makes the served certificate: a leaf (not a CA) for TLS
// servers only, naming the service's host, signed by ca, living at most
// leafLifetime and never past the CA.
func issueLeaf(service string, ca *x509.Certificate, caKey crypto.Signer, host string, names certNames, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	ski, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	notBefore := now.Add(-time.Hour) // a client's clock a little behind
	notAfter := notBefore.Add(leafLifetime)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"powerjockey"}, CommonName: "powerjockey " + serviceTitle(service) + " " + certCN(host)},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		// ECDSA keys sign (the handshake); keyEncipherment is for RSA
		// key transport only, and the key here is never RSA.
		KeyUsage:              leafKeyUsage(&key.PublicKey),
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          ski,
		DNSNames:              names.dns,
		IPAddresses:           names.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// leafKeyUsage is digitalSignature, plus keyEncipherment for an RSA key
// (RFC 5246's RSA key exchange encrypts to it).
func leafKeyUsage(pub crypto.PublicKey) x509.KeyUsage {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	}
	return x509.KeyUsageDigitalSignature
}

func writeCA(certPath, keyPath string, ca *x509.Certificate, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644)
}

func writeLeaf(certPath, keyPath string, cert tls.Certificate) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return atomicfile.Write(certPath, chain, 0o644)
}
