package snmpagent

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// fuzzConfig fixes the engine ID so the checked-in SNMPv3 seeds, recorded
// against it, authenticate and reach the PDU handling.
var fuzzConfig = Config{
	ReadCommunity:  "public",
	WriteCommunity: "private",
	Users:          testUsers,
	EngineID:       "\x80\x00\x00\x00\x05powerjockey-fuzz",
}

const corpusDir = "testdata/fuzz/FuzzAgentDatagram"

// FuzzAgentDatagram feeds arbitrary datagrams through decode and dispatch.
// The seeds in testdata/fuzz/FuzzAgentDatagram are real requests recorded
// by TestWriteFuzzCorpus.
func FuzzAgentDatagram(f *testing.F) {
	tree, _ := newTestTree(f)
	a, err := newAgent(fuzzConfig, tree, "fuzz", WithMaxMessageSize(1500))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Keep snmpEngineTime near the seeds' so their SNMPv3 requests stay
		// in the time window however long the fuzzer runs. The fuzz
		// function is never called concurrently within one process.
		a.started = time.Now()
		in := append([]byte(nil), raw...)
		reply := a.handle(raw, netip.AddrPort{})
		if string(in) != string(raw) {
			t.Fatal("handle modified its input")
		}
		if reply == nil {
			return
		}
		if len(reply) > a.maxMsgSize {
			t.Fatalf("reply of %d bytes exceeds the %d limit", len(reply), a.maxMsgSize)
		}
		if _, err := peekVersion(reply); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
	})
}

// TestWriteFuzzCorpus regenerates the seed corpus by recording the datagrams
// that gosnmp's client and, when installed, net-snmp's tools send to an
// agent configured like the fuzz target's.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("SNMPAGENT_WRITE_CORPUS") == "" {
		t.Skip("set SNMPAGENT_WRITE_CORPUS=1 to regenerate " + corpusDir)
	}
	tree, _ := newTestTree(t)
	cfg := fuzzConfig
	cfg.Listen = "127.0.0.1:0"
	a := startAgent(t, cfg, tree)
	rec := startRecorder(t, a.Addr().(*net.UDPAddr))

	client := func(version gosnmp.SnmpVersion, community string, u *USMUser) *gosnmp.GoSNMP {
		c := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: rec.port(), Version: version, Community: community,
			Timeout: time.Second, MaxOids: gosnmp.MaxOids, MaxRepetitions: 4}
		if u != nil {
			c.SecurityModel, c.MsgFlags = gosnmp.UserSecurityModel, levelOf(*u)
			c.SecurityParameters = &gosnmp.UsmSecurityParameters{UserName: u.Name,
				AuthenticationProtocol: orNoAuth(u.AuthProtocol), AuthenticationPassphrase: u.AuthPassphrase,
				PrivacyProtocol: orNoPriv(u.PrivProtocol), PrivacyPassphrase: u.PrivPassphrase}
		}
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	set := []gosnmp.SnmpPDU{{Name: oidOutlet + "1", Type: gosnmp.Integer, Value: outletOn}, {Name: oidSysContact, Type: gosnmp.OctetString, Value: "noc"}}
	v1 := client(gosnmp.Version1, "public", nil)
	v2c := client(gosnmp.Version2c, "private", nil)
	steps := []func() error{
		func() error { _, err := v1.Get([]string{oidSysDescr, oidCounter64}); return err },
		func() error { _, err := v1.GetNext([]string{oidNine}); return err },
		func() error { _, err := v2c.GetBulk([]string{oidSysDescr, oidOutlet}, 1, 3); return err },
		func() error { _, err := v2c.Set(set); return err },
	}
	for _, name := range []string{"noauth", "md5des", "shaaes", "sha256aes256"} {
		u := testUser(t, name)
		c := client(gosnmp.Version3, "", &u)
		steps = append(steps,
			func() error { _, err := c.Get([]string{oidSysDescr, oidIPAddress}); return err },
			func() error { _, err := c.Set(set); return err })
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if _, err := exec.LookPath("snmpget"); err == nil {
		for _, args := range [][]string{
			{"-v2c", "-c", "public"},
			{"-v3", "-l", "authPriv", "-u", "shaaes", "-a", "SHA", "-A", "pass1234", "-x", "AES", "-X", "pass5678"},
		} {
			args = append(args, "-t", "1", "-r", "0", fmt.Sprintf("127.0.0.1:%d", rec.port()), oidSysDescr)
			cmd := exec.Command("snmpget", args...)
			dir := t.TempDir()
			cmd.Env = append(os.Environ(), "SNMPCONFPATH="+dir, "SNMP_PERSISTENT_DIR="+dir, "MIBS=", "HOME="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("snmpget %v: %v\n%s", args, err, out)
			}
		}
	}

	if err := os.MkdirAll(corpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range rec.datagrams() {
		sum := sha256.Sum256(d)
		name := filepath.Join(corpusDir, fmt.Sprintf("%x", sum[:8]))
		if err := os.WriteFile(name, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%+q)\n", d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d seeds to %s", len(rec.datagrams()), corpusDir)
}

// TestFuzzSeedsAreAnswered guards the corpus: every recorded request must
// still reach the PDU handling, or the fuzzer explores only the front door.
func TestFuzzSeedsAreAnswered(t *testing.T) {
	tree, _ := newTestTree(t)
	a, err := newAgent(fuzzConfig, tree, "fuzz")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(corpusDir, "*"))
	if err != nil || len(files) < 10 {
		t.Fatalf("found %d seed files (err %v)", len(files), err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var seed string
		if _, err := fmt.Sscanf(string(b), "go test fuzz v1\n[]byte(%q)", &seed); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if reply := a.handle([]byte(seed), netip.AddrPort{}); reply == nil {
			t.Errorf("%s: no reply", name)
		}
	}
	if s := a.Stats(); s.AuthFailures+s.NotInTimeWindows+s.Malformed+s.UnknownCommunity != 0 {
		t.Errorf("seeds were refused: %+v", s)
	}
}

// recorder is a UDP relay that keeps a copy of every request it forwards.
type recorder struct {
	conn *net.UDPConn
	mu   sync.Mutex
	seen [][]byte
}

func startRecorder(t *testing.T, agent *net.UDPAddr) *recorder {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := net.DialUDP("udp", nil, agent)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, maxUDPPayload)
		for {
			n, client, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.seen = append(r.seen, append([]byte(nil), buf[:n]...))
			r.mu.Unlock()
			if _, err := upstream.Write(buf[:n]); err != nil {
				return
			}
			upstream.SetReadDeadline(time.Now().Add(time.Second))
			n, err = upstream.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if err != nil {
				return
			}
			conn.WriteToUDP(buf[:n], client)
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		upstream.Close()
		<-done
	})
	return r
}

func (r *recorder) port() uint16 { return uint16(r.conn.LocalAddr().(*net.UDPAddr).Port) }

func (r *recorder) datagrams() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}
