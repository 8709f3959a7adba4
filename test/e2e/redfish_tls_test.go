package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRedfishCertificateOpenSSL reads the certificate the daemon
// generated, and the one it serves, with OpenSSL: a leaf (CA:FALSE) for
// TLS servers only, with digitalSignature and no certificate signing,
// SANs for the listen address, at most 398 days; signed by a CA limited
// to those names; the chain verifies for 127.0.0.1 with ca.crt as the
// only trust anchor. curl verifies it both with ca.crt and with tls.crt
// (which carries the CA: clients set up with it keep working across
// renewals).
func TestRedfishCertificateOpenSSL(t *testing.T) {
	requireTool(t, "openssl", "curl")
	r := newRedfishEnv(t)
	dir := filepath.Dir(r.ca)
	leafFile := filepath.Join(dir, "tls.crt")
	ossl := func(args ...string) string {
		t.Helper()
		out, err := run(t, 20*time.Second, "openssl", args...)
		if err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
		return out
	}
	text := ossl("x509", "-in", leafFile, "-noout", "-text")
	for _, want := range []string{
		"X509v3 Basic Constraints: critical\n                CA:FALSE",
		"X509v3 Key Usage: critical\n                Digital Signature\n",
		"X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n",
		"X509v3 Subject Alternative Name: \n                DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1\n",
		"Public Key Algorithm: id-ecPublicKey",
		"NIST CURVE: P-256",
		"X509v3 Authority Key Identifier",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text of tls.crt lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Certificate Sign") {
		t.Errorf("the served certificate may sign certificates:\n%s", text)
	}
	// Lifetime, from OpenSSL's own dates.
	dates := ossl("x509", "-in", leafFile, "-noout", "-startdate", "-enddate")
	m := regexp.MustCompile(`notBefore=(.+)\nnotAfter=(.+)\n`).FindStringSubmatch(dates)
	if m == nil {
		t.Fatalf("openssl dates: %q", dates)
	}
	const layout = "Jan _2 15:04:05 2006 MST"
	from, err1 := time.Parse(layout, m[1])
	to, err2 := time.Parse(layout, m[2])
	if err1 != nil || err2 != nil || to.Sub(from) > 398*24*time.Hour || to.Before(time.Now().Add(300*24*time.Hour)) {
		t.Errorf("validity %s .. %s (%v, %v): want at most 398 days, from now", m[1], m[2], err1, err2)
	}

	caText := ossl("x509", "-in", r.ca, "-noout", "-text")
	for _, want := range []string{"CA:TRUE, pathlen:0", "Certificate Sign, CRL Sign", "X509v3 Name Constraints: critical",
		"Permitted:\n                  DNS:localhost\n                  IP:127.0.0.1/255.255.255.255\n"} {
		if !strings.Contains(caText, want) {
			t.Errorf("openssl x509 -text of ca.crt lacks %q:\n%s", want, caText)
		}
	}
	if out := ossl("verify", "-CAfile", r.ca, "-purpose", "sslserver", "-verify_ip", "127.0.0.1", leafFile); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify: %s", out)
	}

	// The served chain, verified by OpenSSL's client with ca.crt alone.
	port := r.ports["RF"]
	out, _ := run(t, 20*time.Second, "sh", "-c", fmt.Sprintf(
		"openssl s_client -connect 127.0.0.1:%d -CAfile %s -verify_ip 127.0.0.1 -verify_return_error -showcerts </dev/null 2>&1", port, r.ca))
	if !strings.Contains(out, "Verify return code: 0 (ok)") || !strings.Contains(out, "depth=1") {
		t.Errorf("openssl s_client does not verify the served chain with ca.crt:\n%s", out)
	}
	// curl with ca.crt (the curl helper) and with tls.crt as the bundle.
	if status, _, _ := r.curl("/redfish/v1/"); status != 200 {
		t.Errorf("curl --cacert ca.crt: %d", status)
	}
	if out, err := run(t, 20*time.Second, "curl", "-sS", "--cacert", leafFile, "-o", os.DevNull, "-w", "%{http_code}", r.url+"/redfish/v1/"); err != nil || out != "200" {
		t.Errorf("curl --cacert tls.crt: %v %s", err, out)
	}
	// A client that does not know the CA refuses the certificate.
	if out, err := run(t, 20*time.Second, "curl", "-sS", "--cacert", "/dev/null", "--capath", t.TempDir(), r.url+"/redfish/v1/"); err == nil {
		t.Errorf("curl without the CA accepted the certificate: %s", out)
	}
}

// TestRedfishRefusedLoginAudit: curl's refused logins are audit lines with
// channel redfish, the source address and the user, never the password;
// 60 bad logins from one address (30 refused with 401, then 30 with 429)
// write at most 10 lines of each kind (the audit rate limit), and another
// address is still heard.
func TestRedfishRefusedLoginAudit(t *testing.T) {
	requireTool(t, "curl")
	r := newRedfishEnv(t)
	url := r.url + "/redfish/v1/Systems"
	args := []string{"-sS", "--cacert", r.ca, "--interface", "127.0.0.2", "-u", "mallory:guess-that-password", "-o", os.DevNull, "-w", "%{http_code} "}
	for range 60 {
		args = append(args, url)
	}
	out, err := run(t, 60*time.Second, "curl", args...)
	if err != nil || strings.Count(out, "401") != 30 || strings.Count(out, "429") != 30 {
		t.Fatalf("60 bad logins: %v, want 30 × 401 then 30 × 429: %s", err, out)
	}
	if out, err := run(t, 20*time.Second, "curl", "-sS", "--cacert", r.ca, "--interface", "127.0.0.3", "-u", "eve:other-guess",
		"-o", os.DevNull, "-w", "%{http_code}", url); err != nil || out != "401" {
		t.Fatalf("bad login from 127.0.0.3: %v %s", err, out)
	}
	var flood []string
	for _, l := range r.logLines("audit=true channel=redfish source=127.0.0.2:") {
		if !strings.Contains(l, "level=DEBUG") {
			flood = append(flood, l)
		}
	}
	if len(flood) == 0 || len(flood) > 20 || !strings.Contains(flood[0], `msg="redfish authentication failed"`) || !strings.Contains(flood[0], "user=mallory") {
		t.Errorf("%d audit lines for 60 refused logins from one address, want 1..20:\n%s", len(flood), strings.Join(flood, "\n"))
	}
	if len(r.logLines("audit=true channel=redfish source=127.0.0.3:")) != 1 {
		t.Errorf("the refused login from 127.0.0.3 is not audited:\n%s", r.logs())
	}
	if strings.Contains(r.logs(), "guess-that-password") || strings.Contains(r.logs(), "other-guess") {
		t.Error("a password reached the log")
	}
}
