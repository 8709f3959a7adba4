package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
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
// the configured certificate, or a leaf signed by a CA generated into
// state_dir (certs.go), both kept current while serving; plain HTTP only
// with insecure_http. The redfish section is read once: changing it
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
		certs, err := newCertStore("redfish", dir, certSource{Listen: rc.Listen, TLSCert: rc.TLSCert, TLSKey: rc.TLSKey}, d.log, time.Now)
		if err != nil {
			return fmt.Errorf("redfish: %w", err)
		}
		go certs.run(ctx)
		tlsConfig = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
	}
	ln, err := d.listen("redfish", rc.Listen)
	if err != nil {
		return fmt.Errorf("redfish: %w", err)
	}
	defer d.forget("redfish", ln)
	svc := redfish.New(redfishBackend{d}, redfish.Options{
		ServiceUUID:           uuid,
		AuthFailuresPerMinute: cfg.IPMI.AuthFailuresPerMinute,
		Logger:                d.log,
	})
	srv := newServer(svc, ln, d.log)
	srv.TLSConfig = tlsConfig
	scheme := "https"
	if tlsConfig == nil {
		scheme = "http"
		d.log.Warn("redfish serving plain HTTP (insecure_http): credentials cross the network in clear text")
	}
	d.log.Info("redfish serving", "listen", ln.Addr().String(), "scheme", scheme, "max_connections", ln.Stats().Max,
		"max_connections_per_source", ln.Stats().PerSource)
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
