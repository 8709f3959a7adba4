package pdu_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// Test communities; distinct so a test can tell which one a request used.
const (
	readCommunity  = "pj-read"
	writeCommunity = "pj-write"
)

// testTimeout bounds every context a test hands the client.
const testTimeout = 10 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startRack builds and runs a simulated rack until the test ends.
func startRack(t *testing.T, cfg sim.Config) *sim.Rack {
	t.Helper()
	r, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	testkit.Background(t, "rack.Run", r.Run)
	return r
}

// simPDU is the configuration of one simulated PDU named "p" speaking model.
func simPDU(model string) sim.PDUConfig {
	return sim.PDUConfig{
		Name:           "p",
		Model:          model,
		Listen:         "127.0.0.1:0",
		Outlets:        12,
		ReadCommunity:  readCommunity,
		WriteCommunity: writeCommunity,
	}
}

// baseConfig is a v2c client configuration for the PDU at addr.
func baseConfig(addr, model string) pdu.Config {
	return pdu.Config{
		Name:    "p",
		Address: addr,
		Model:   model,
		SNMP: pdu.SNMPConfig{
			Version:        "2c",
			CommunityRead:  readCommunity,
			CommunityWrite: writeCommunity,
			Timeout:        time.Second,
			Retries:        1,
		},
	}
}

func newClient(t *testing.T, cfg pdu.Config) *pdu.Client {
	t.Helper()
	c, err := pdu.New(cfg)
	if err != nil {
		t.Fatalf("pdu.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// netSNMPGet reads OIDs with net-snmp's snmpget, isolated from the
// machine's net-snmp configuration and MIBs, and returns the bare values,
// one per OID. args select version and credentials, e.g. -v2c -c COMMUNITY.
func netSNMPGet(t *testing.T, addr string, oids []string, args ...string) []string {
	t.Helper()
	path := testkit.Tool(t, "snmpget")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/cert_indexes", 0o700); err != nil {
		t.Fatal(err)
	}
	full := append([]string{"-On", "-Oqv", "-Le", "-t", "2", "-r", "1"}, args...)
	full = append(full, addr)
	full = append(full, oids...)
	cmd := exec.CommandContext(ctx, path, full...)
	cmd.Env = append(os.Environ(), "SNMPCONFPATH="+dir, "SNMP_PERSISTENT_DIR="+dir, "MIBS=", "MIBDIRS="+dir, "HOME="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("snmpget %s: %v\n%s%s", strings.Join(full, " "), err, out, stderr.String())
	}
	values := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(values) != len(oids) {
		t.Fatalf("snmpget %s: %d values for %d OIDs:\n%s", strings.Join(full, " "), len(values), len(oids), out)
	}
	return values
}

// netSNMPGetV2c reads OIDs with snmpget -v2c and the read community.
func netSNMPGetV2c(t *testing.T, addr string, oids ...string) []string {
	t.Helper()
	return netSNMPGet(t, addr, oids, "-v2c", "-c", readCommunity)
}

// recorder is a pdu.Observer that counts requests by operation.
type recorder struct {
	mu   sync.Mutex
	ops  map[string]int
	errs map[string]int
}

func newRecorder() *recorder { return &recorder{ops: map[string]int{}, errs: map[string]int{}} }

func (r *recorder) SNMPRequest(_, op string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops[op]++
	if err != nil {
		r.errs[op]++
	}
}

func (r *recorder) count(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops[op]
}

// setEvent is one SET a fakePDU applied.
type setEvent struct {
	oid   string
	value int
	at    time.Time
}

// fakePDU is a hand-driven SNMP PDU for one model row, built directly on
// snmpagent: the test sets the raw status and meter values it serves
// (including ones the simulation never produces, such as pending states and
// negative meters), makes SETs fail with a chosen error status, and sees
// when each SET arrived.
type fakePDU struct {
	model *pdu.Model
	agent *snmpagent.Agent

	mu     sync.Mutex
	status map[int]int
	power  map[int]int
	sets   []setEvent
	setErr gosnmp.SNMPError
	// afterSet, when set, gives the status a SET leaves (ok=false: the
	// row's own on/off value), as a PDU that sequences its outlets.
	afterSet func(oid string, value int) (status int, ok bool)
}

// startFake serves model's MIB for outlets 1..outlets with all outlets off
// and meters at 0, until the test ends.
func startFake(t *testing.T, model string, outlets int, cfg snmpagent.Config) *fakePDU {
	t.Helper()
	m, ok := pdu.Lookup(model)
	if !ok {
		t.Fatalf("no model %s", model)
	}
	f := &fakePDU{model: m, status: map[int]int{}, power: map[int]int{}}
	tree := snmpagent.NewTree()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sysObjectID := m.SysObjectID + ".1"
	if m.SysObjectID == "" {
		sysObjectID = "1.3.6.1.4.1.8072.3.2.10"
	}
	must(tree.SetValue("1.3.6.1.2.1.1.1.0", snmpagent.Variable{Type: gosnmp.OctetString, Value: "fake " + m.Name}))
	must(tree.SetValue("1.3.6.1.2.1.1.2.0", snmpagent.Variable{Type: gosnmp.ObjectIdentifier, Value: sysObjectID}))
	for o := 1; o <= outlets; o++ {
		f.status[o] = m.Status.Off[0]
		objs := map[string]*snmpagent.Object{}
		objs[m.OID(m.Status.OID, o)] = &snmpagent.Object{Type: gosnmp.Integer, Get: func() any {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.status[o]
		}}
		if m.Power != nil {
			objs[m.OID(m.Power.OID, o)] = &snmpagent.Object{Type: gosnmp.Integer, Get: func() any {
				f.mu.Lock()
				defer f.mu.Unlock()
				return f.power[o]
			}}
		}
		// The status value a switch leaves (a reboot: as it is).
		result := map[pdu.Switch]int{pdu.SwitchOn: m.Status.On[0], pdu.SwitchOff: m.Status.Off[0], pdu.SwitchReboot: -1}
		for oid, byValue := range m.Commands(o) {
			obj := objs[oid]
			if obj == nil {
				obj = &snmpagent.Object{Type: gosnmp.Integer, Value: 0}
				objs[oid] = obj
			}
			obj.Check = func(v any) gosnmp.SNMPError {
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.setErr != gosnmp.NoError {
					return f.setErr
				}
				if _, ok := byValue[v.(int)]; !ok {
					return gosnmp.WrongValue
				}
				return gosnmp.NoError
			}
			obj.Set = func(v any) gosnmp.SNMPError {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.sets = append(f.sets, setEvent{oid: oid, value: v.(int), at: time.Now()})
				if f.afterSet != nil {
					if r, ok := f.afterSet(oid, v.(int)); ok {
						f.status[o] = r
						return gosnmp.NoError
					}
				}
				if r := result[byValue[v.(int)]]; r >= 0 {
					f.status[o] = r
				}
				return gosnmp.NoError
			}
		}
		for oid, obj := range objs {
			must(tree.Register(oid, *obj))
		}
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.ReadCommunity == "" && cfg.WriteCommunity == "" && len(cfg.Users) == 0 {
		cfg.ReadCommunity, cfg.WriteCommunity = readCommunity, writeCommunity
	}
	a, err := snmpagent.New(cfg, tree)
	if err != nil {
		t.Fatal(err)
	}
	f.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return f
}

func (f *fakePDU) addr() string { return f.agent.Addr().String() }

func (f *fakePDU) setStatus(outlet, raw int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[outlet] = raw
}

func (f *fakePDU) setPower(outlet, raw int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.power[outlet] = raw
}

func (f *fakePDU) onSet(fn func(oid string, value int) (status int, ok bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterSet = fn
}

func (f *fakePDU) failSets(status gosnmp.SNMPError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setErr = status
}

func (f *fakePDU) setLog() []setEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]setEvent(nil), f.sets...)
}

// waitRequests waits until the agent has received at least n datagrams.
func waitRequests(t *testing.T, a *snmpagent.Agent, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats().Requests < n {
		if time.Now().After(deadline) {
			t.Fatalf("agent received %d requests, want %d within 5s", a.Stats().Requests, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// macOf is a locally administered MAC derived from i.
func macOf(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x50, 0x4a, 0, 0, byte(i)}
}

// magicPacket is a Wake-on-LAN magic packet for mac.
func magicPacket(mac net.HardwareAddr) []byte {
	b := make([]byte, 0, 102)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	for range 16 {
		b = append(b, mac...)
	}
	return b
}

func fmtWatts(w *float64) string {
	if w == nil {
		return "nil"
	}
	return fmt.Sprint(*w)
}
