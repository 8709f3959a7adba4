package connlimit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server serves h on a loopback listener wrapped with lim, over TLS when
// tlsOn; it returns the Listener and the address.
func server(t *testing.T, lim Limits, tlsOn bool, h http.Handler) (*Listener, string) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, "test", lim, slog.New(slog.DiscardHandler))
	srv := &http.Server{Handler: h, ConnState: l.ConnState, ReadHeaderTimeout: 10 * time.Second}
	var serveLn net.Listener = l
	if tlsOn {
		serveLn = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}})
	}
	go srv.Serve(serveLn)
	t.Cleanup(func() { srv.Close() })
	return l, inner.Addr().String()
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })

// dialFrom opens a TCP connection from a loopback source address.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c within two seconds.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func waitOpen(t *testing.T, l *Listener, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Open != want {
		if time.Now().After(deadline) {
			t.Fatalf("open connections %d, want %d", l.Stats().Open, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// get makes one request from src on a fresh connection.
func get(t *testing.T, src, addr string, tlsOn bool) (string, error) {
	t.Helper()
	scheme := "http"
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext}
	if tlsOn {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(scheme + "://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestCaps(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			l, addr := server(t, Limits{Max: 8, PerSource: 3}, tlsOn, ok)

			// Per source: a fourth idle connection from one address
			// evicts that address's oldest.
			first := dialFrom(t, "127.0.0.2", addr)
			waitOpen(t, l, 1)
			for range 2 {
				dialFrom(t, "127.0.0.2", addr)
			}
			waitOpen(t, l, 3)
			dialFrom(t, "127.0.0.2", addr)
			if !closedByServer(first) {
				t.Error("the oldest idle connection of an address over its cap was not closed")
			}
			waitOpen(t, l, 3)

			// Total: idle connections from many addresses fill the
			// listener; a client still gets its answer, by evicting the
			// idlest connection of the address holding most.
			for i := range 20 {
				dialFrom(t, fmt.Sprintf("127.0.1.%d", 1+i%10), addr)
			}
			waitOpen(t, l, 8)
			for i := range 5 {
				if body, err := get(t, "127.0.0.1", addr, tlsOn); err != nil || body != "ok" {
					t.Fatalf("request %d during the flood: %q %v", i, body, err)
				}
			}
			if st := l.Stats(); st.Open > 8 || st.Evicted == 0 {
				t.Errorf("stats %+v: want at most 8 open and evictions", st)
			}
		})
	}
}

// TestBusyConnectionsAreNotEvicted: at the cap with every connection in a
// request, a new connection is refused (closed), and the requests finish.
func TestBusyConnectionsAreNotEvicted(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	var n atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) <= 4 {
			started.Done()
			<-release
		}
		io.WriteString(w, "done")
	})
	l, addr := server(t, Limits{Max: 4, PerSource: 4}, false, h)
	started.Add(4)
	results := make(chan error, 4)
	for i := range 4 {
		go func() {
			body, err := get(t, fmt.Sprintf("127.0.2.%d", i+1), addr, false)
			if err == nil && body != "done" {
				err = fmt.Errorf("body %q", body)
			}
			results <- err
		}()
	}
	started.Wait()
	c := dialFrom(t, "127.0.2.9", addr)
	if !closedByServer(c) {
		t.Error("a connection over the cap of busy connections was not refused")
	}
	if st := l.Stats(); st.Refused != 1 || st.Evicted != 0 || st.Open != 4 {
		t.Errorf("stats %+v, want 1 refused, 0 evicted, 4 open", st)
	}
	close(release)
	for range 4 {
		if err := <-results; err != nil {
			t.Errorf("a busy request failed: %v", err)
		}
	}
	if body, err := get(t, "127.0.0.1", addr, false); err != nil || body != "done" {
		t.Errorf("after the busy requests: %q %v", body, err)
	}
	waitOpen(t, l, 0)
}

// TestSetLimits: lowered caps apply to new connections.
func TestSetLimits(t *testing.T) {
	l, addr := server(t, Limits{Max: 100, PerSource: 100}, false, ok)
	for range 5 {
		dialFrom(t, "127.0.3.1", addr)
	}
	waitOpen(t, l, 5)
	l.SetLimits(Limits{Max: 2, PerSource: 50})
	if got := l.Stats().Limits; got != (Limits{Max: 2, PerSource: 2}) {
		t.Errorf("limits %+v, want per-source clamped to max", got)
	}
	dialFrom(t, "127.0.3.2", addr)
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Evicted != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := l.Stats(); st.Evicted != 1 || st.Open != 5 {
		t.Errorf("stats %+v, want one evicted for the new one", st)
	}
}
