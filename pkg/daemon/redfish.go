package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/config"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/redfish"
)

// redfishBackend serves the daemon's current nodes to the Redfish service:
// it is read on every request, so nodes added, removed or changed by a
// reload are served at once.
type redfishBackend struct{ d *Daemon }

func (b redfishBackend) Systems() []redfish.Entry {
	b.d.mu.RLock()
	defer b.d.mu.RUnlock()
	out := make([]redfish.Entry, 0, len(b.d.nodes))
	for _, e := range b.d.nodes {
		out = append(out, e.redfishEntry())
	}
	slices.SortFunc(out, func(x, y redfish.Entry) int { return strings.Compare(x.System.Name(), y.System.Name()) })
	return out
}

func (b redfishBackend) System(name string) (redfish.Entry, bool) {
	b.d.mu.RLock()
	defer b.d.mu.RUnlock()
	e, ok := b.d.nodes[name]
	if !ok {
		return redfish.Entry{}, false
	}
	return e.redfishEntry(), true
}

// redfishEntry is the node with the credentials of its IPMI section (the
// Redfish face accepts the same user as the node's BMC, with the role of
// its IPMI privilege) and what the configuration says of its machine.
func (e *nodeEntry) redfishEntry() redfish.Entry {
	ipmi := e.cfg.IPMI
	hw := redfish.Hardware{CPUs: e.cfg.CPU, MemoryMiB: e.cfg.Memory, DiskGB: e.cfg.Disk, Arch: e.cfg.Arch}
	if len(e.cfg.MAC) > 0 {
		hw.MACs = []net.HardwareAddr{net.HardwareAddr(e.cfg.MAC)}
	}
	if p := e.cfg.PDU; p != nil {
		for _, o := range p.Outlets {
			hw.Outlets = append(hw.Outlets, redfish.Outlet{PDU: p.Name, Outlet: o})
		}
	}
	return redfish.Entry{
		System: e.node,
		Credentials: redfish.Credentials{
			Username: ipmi.Username,
			Password: ipmi.Password,
			Role:     account.FromIPMIPrivilege(ipmi.Privilege),
		},
		Hardware: hw,
	}
}

// ServeRedfish serves the Redfish service on redfish.listen until ctx
// ends; it returns nil at once when Redfish is not configured. HTTPS with
// the configured certificate, or one generated into state_dir; plain HTTP
// only with insecure_http. The redfish section is read once: changing it
// needs a restart.
func (d *Daemon) ServeRedfish(ctx context.Context) error {
	cfg := d.Config()
	rc := cfg.Redfish
	if rc.Listen == "" {
		return nil
	}
	dir := filepath.Join(cfg.StateDir, "redfish")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	uuid, err := serviceUUID(dir)
	if err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	var tlsConfig *tls.Config
	if !rc.InsecureHTTP {
		cert, err := redfishCertificate(dir, rc, d.log)
		if err != nil {
			return fmt.Errorf("redfish: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", rc.Listen)
	if err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	svc := redfish.New(redfishBackend{d}, redfish.Options{
		ServiceUUID:           uuid,
		AuthFailuresPerMinute: cfg.IPMI.AuthFailuresPerMinute,
		Logger:                d.log,
	})
	srv := &http.Server{
		Handler:           svc,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// TLS handshake failures of scanners and of clients that do not
		// trust the certificate are noise at the default level.
		ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	scheme := "https"
	if tlsConfig == nil {
		scheme = "http"
		d.log.Warn("redfish serving plain HTTP (insecure_http): credentials cross the network in clear text")
	}
	d.log.Info("redfish serving", "listen", ln.Addr().String(), "scheme", scheme)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if tlsConfig != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("redfish: %w", err)
	}
	return nil
}

// serviceUUID returns the service root's UUID, kept in dir across restarts.
func serviceUUID(dir string) (string, error) {
	path := filepath.Join(dir, "service-uuid")
	b, err := os.ReadFile(path)
	if err == nil {
		var g node.GUID
		if g.UnmarshalJSON([]byte(`"`+strings.TrimSpace(string(b))+`"`)) == nil {
			return g.String(), nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	u := node.NewGUID().String()
	if err := writeFileAtomic(path, []byte(u+"\n"), 0o644); err != nil {
		return "", err
	}
	return u, nil
}

// Files of the generated certificate, under state_dir/redfish.
const (
	generatedCert = "tls.crt"
	generatedKey  = "tls.key"
)

// redfishCertificate loads the configured certificate, or the one
// generated into dir earlier, or generates one: ECDSA P-256, self-signed,
// usable as its own CA (Ironic's redfish_verify_ca may point at it), with
// SANs for the listen host, localhost, 127.0.0.1 and ::1. A generated
// certificate is kept across restarts unless it expired or no longer
// covers the listen host.
func redfishCertificate(dir string, rc config.Redfish, log *slog.Logger) (tls.Certificate, error) {
	if rc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(rc.TLSCert, rc.TLSKey)
		if err != nil {
			return cert, fmt.Errorf("tls_cert/tls_key: %w", err)
		}
		return cert, nil
	}
	host, _, err := net.SplitHostPort(rc.Listen)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("listen %q: %w", rc.Listen, err)
	}
	certPath, keyPath := filepath.Join(dir, generatedCert), filepath.Join(dir, generatedKey)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	switch {
	case err == nil:
		why := reusable(cert.Leaf, host)
		if why == "" {
			log.Info("redfish using the generated certificate", "cert", certPath)
			return cert, nil
		}
		log.Info("redfish generating a new certificate", "cert", certPath, "reason", why)
	case errors.Is(err, fs.ErrNotExist):
		log.Info("redfish generating a self-signed certificate", "cert", certPath)
	default:
		log.Warn("redfish generating a new certificate: the generated one cannot be loaded", "cert", certPath, "err", err)
	}
	certPEM, keyPEM, err := selfSigned(host, time.Now())
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// reusable returns why a generated certificate must be replaced ("" if not).
func reusable(leaf *x509.Certificate, host string) string {
	if leaf == nil {
		return "unparsable"
	}
	if time.Now().Add(24 * time.Hour).After(leaf.NotAfter) {
		return "expires within a day"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() || host == "" {
		return ""
	}
	if leaf.VerifyHostname(host) != nil {
		return "does not cover listen host " + host
	}
	return ""
}

// selfSigned makes a certificate and key for host as PEM.
func selfSigned(host string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	ski := sha1.Sum(pub)
	dns, ips := certNames(host)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"powerjockey"}, CommonName: "powerjockey Redfish " + certCN(host)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski[:],
		AuthorityKeyId:        ski[:],
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func certCN(host string) string {
	if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	return host
}

// certNames are the SANs for a listen host: the host itself, localhost,
// 127.0.0.1 and ::1; for a wildcard listen address also the host name and
// the addresses of the machine's interfaces.
func certNames(host string) (dns []string, ips []net.IP) {
	dns = []string{"localhost"}
	ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	addIP := func(ip net.IP) {
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	addDNS := func(name string) {
		if name != "" && !slices.Contains(dns, name) {
			dns = append(dns, name)
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
				if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
					addIP(n.IP)
				}
			}
		}
	}
	return dns, ips
}

// writeFileAtomic writes data to path via a synced temporary file and a
// rename, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
