package snmpagent

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// OIDs of the test MIB, a tiny simulated PDU.
const (
	oidSysDescr    = "1.3.6.1.2.1.1.1.0"
	oidSysObjectID = "1.3.6.1.2.1.1.2.0"
	oidSysUpTime   = "1.3.6.1.2.1.1.3.0"
	oidSysContact  = "1.3.6.1.2.1.1.4.0"
	oidSysName     = "1.3.6.1.2.1.1.5.0"
	oidNine        = "1.3.6.1.4.1.99999.1.9"
	oidTen         = "1.3.6.1.4.1.99999.1.10"
	oidOutlet      = "1.3.6.1.4.1.99999.2.1." // + outlet number 1..3
	oidWatts       = "1.3.6.1.4.1.99999.2.2." // + outlet number 1..3
	oidCounter64   = "1.3.6.1.4.1.99999.3.0"
	oidIPAddress   = "1.3.6.1.4.1.99999.4.0"
	oidCounter32   = "1.3.6.1.4.1.99999.5.0"
	oidLast        = "1.3.6.1.4.1.99999.9.0"
)

const (
	outletOn  = 1
	outletOff = 2
)

// simPDU is the device behind the test MIB: three outlets whose state a SET
// switches and whose watts are computed on read.
type simPDU struct {
	mu      sync.Mutex
	outlets [3]int
	contact string
}

func (p *simPDU) outlet(i int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.outlets[i]
}

// newTestTree returns the test MIB; objects are registered out of order to
// exercise the Tree's sorting.
func newTestTree(t testing.TB) (*Tree, *simPDU) {
	t.Helper()
	pdu := &simPDU{outlets: [3]int{outletOn, outletOff, outletOn}, contact: "ops@example.net"}
	tree := NewTree()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tree.SetValue(oidLast, Variable{Type: gosnmp.Integer, Value: 42}))
	must(tree.SetValue(oidTen, Variable{Type: gosnmp.Gauge32, Value: uint32(10)}))
	must(tree.SetValue(oidNine, Variable{Type: gosnmp.Gauge32, Value: uint32(9)}))
	for i := range 3 {
		n := strconv.Itoa(i + 1)
		must(tree.Register(oidOutlet+n, Object{
			Type: gosnmp.Integer,
			Get:  func() any { return pdu.outlet(i) },
			Check: func(v any) gosnmp.SNMPError {
				if s := v.(int); s != outletOn && s != outletOff {
					return gosnmp.WrongValue
				}
				return gosnmp.NoError
			},
			Set: func(v any) gosnmp.SNMPError {
				pdu.mu.Lock()
				defer pdu.mu.Unlock()
				pdu.outlets[i] = v.(int)
				return gosnmp.NoError
			},
		}))
		must(tree.Register(oidWatts+n, Object{
			Type: gosnmp.Gauge32,
			Get: func() any {
				if pdu.outlet(i) == outletOn {
					return 100 * (i + 1) // an int: the agent converts
				}
				return 0
			},
		}))
	}
	must(tree.SetValue(oidSysDescr, Variable{Type: gosnmp.OctetString, Value: "powerjockey simulated PDU"}))
	must(tree.SetValue(oidSysObjectID, Variable{Type: gosnmp.ObjectIdentifier, Value: "1.3.6.1.4.1.99999"}))
	must(tree.Register(oidSysUpTime, Object{Type: gosnmp.TimeTicks, Get: func() any { return uint32(12345) }}))
	must(tree.Register(oidSysContact, Object{
		Type: gosnmp.OctetString,
		Get: func() any {
			pdu.mu.Lock()
			defer pdu.mu.Unlock()
			return pdu.contact
		},
		Set: func(v any) gosnmp.SNMPError {
			pdu.mu.Lock()
			defer pdu.mu.Unlock()
			pdu.contact = string(v.([]byte))
			return gosnmp.NoError
		},
	}))
	must(tree.SetValue(oidSysName, Variable{Type: gosnmp.OctetString, Value: "pdu-a1"}))
	must(tree.SetValue(oidCounter64, Variable{Type: gosnmp.Counter64, Value: uint64(1) << 40}))
	must(tree.SetValue(oidIPAddress, Variable{Type: gosnmp.IPAddress, Value: "192.0.2.7"}))
	must(tree.SetValue(oidCounter32, Variable{Type: gosnmp.Counter32, Value: uint32(7)}))
	return tree, pdu
}

// treeOIDs lists the test MIB in the order a walk must return it.
var treeOIDs = []string{
	oidSysDescr, oidSysObjectID, oidSysUpTime, oidSysContact, oidSysName,
	oidNine, oidTen,
	oidOutlet + "1", oidOutlet + "2", oidOutlet + "3",
	oidWatts + "1", oidWatts + "2", oidWatts + "3",
	oidCounter64, oidIPAddress, oidCounter32, oidLast,
}

// Test credentials. The agent below knows every user of testUsers.
var testUsers = []USMUser{
	{Name: "noauth", ReadWrite: true},
	{Name: "md5", AuthProtocol: gosnmp.MD5, AuthPassphrase: "authpass1"},
	{Name: "md5des", AuthProtocol: gosnmp.MD5, AuthPassphrase: "authpass2", PrivProtocol: gosnmp.DES, PrivPassphrase: "privpass2", ReadWrite: true},
	{Name: "shaaes", AuthProtocol: gosnmp.SHA, AuthPassphrase: "pass1234", PrivProtocol: gosnmp.AES, PrivPassphrase: "pass5678", ReadWrite: true},
	{Name: "sha224aes192", AuthProtocol: gosnmp.SHA224, AuthPassphrase: "authpass4", PrivProtocol: gosnmp.AES192, PrivPassphrase: "privpass4", ReadWrite: true},
	{Name: "sha256aes256", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "authpass5", PrivProtocol: gosnmp.AES256, PrivPassphrase: "privpass5", ReadWrite: true},
	{Name: "sha384aes256c", AuthProtocol: gosnmp.SHA384, AuthPassphrase: "authpass6", PrivProtocol: gosnmp.AES256C, PrivPassphrase: "privpass6", ReadWrite: true},
	{Name: "sha512aes", AuthProtocol: gosnmp.SHA512, AuthPassphrase: "authpass7", PrivProtocol: gosnmp.AES, PrivPassphrase: "privpass7"},
	{Name: "sha512des", AuthProtocol: gosnmp.SHA512, AuthPassphrase: "authpass8", PrivProtocol: gosnmp.DES, PrivPassphrase: "privpass8", ReadWrite: true},
}

func testUser(t testing.TB, name string) USMUser {
	t.Helper()
	for _, u := range testUsers {
		if u.Name == name {
			return u
		}
	}
	t.Fatalf("no test user %q", name)
	return USMUser{}
}

var testConfig = Config{
	Listen:         "127.0.0.1:0",
	ReadCommunity:  "public",
	WriteCommunity: "private",
	Users:          testUsers,
}

// startAgent serves mib on a loopback port until the test ends.
func startAgent(t testing.TB, cfg Config, mib MIB, opts ...Option) *Agent {
	t.Helper()
	a, err := New(cfg, mib, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	testkit.Background(t, "Serve", a.Serve)
	return a
}

func agentPort(a *Agent) uint16 { return uint16(a.Addr().(*net.UDPAddr).Port) }

// newClient connects a gosnmp client to a after applying configure.
func newClient(t testing.TB, a *Agent, version gosnmp.SnmpVersion, community string, configure ...func(*gosnmp.GoSNMP)) *gosnmp.GoSNMP {
	t.Helper()
	c := &gosnmp.GoSNMP{
		Target:    "127.0.0.1",
		Port:      agentPort(a),
		Version:   version,
		Community: community,
		Timeout:   time.Second,
		Retries:   0,
		MaxOids:   gosnmp.MaxOids,
	}
	for _, f := range configure {
		f(c)
	}
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newV3Client connects a gosnmp SNMPv3 client as u at the given level.
func newV3Client(t testing.TB, a *Agent, u USMUser, level gosnmp.SnmpV3MsgFlags) *gosnmp.GoSNMP {
	t.Helper()
	return newClient(t, a, gosnmp.Version3, "", func(c *gosnmp.GoSNMP) {
		c.SecurityModel = gosnmp.UserSecurityModel
		c.MsgFlags = level
		c.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName:                 u.Name,
			AuthenticationProtocol:   orNoAuth(u.AuthProtocol),
			AuthenticationPassphrase: u.AuthPassphrase,
			PrivacyProtocol:          orNoPriv(u.PrivProtocol),
			PrivacyPassphrase:        u.PrivPassphrase,
		}
	})
}

func orNoAuth(p gosnmp.SnmpV3AuthProtocol) gosnmp.SnmpV3AuthProtocol {
	if p == 0 {
		return gosnmp.NoAuth
	}
	return p
}

func orNoPriv(p gosnmp.SnmpV3PrivProtocol) gosnmp.SnmpV3PrivProtocol {
	if p == 0 {
		return gosnmp.NoPriv
	}
	return p
}

func levelOf(u USMUser) gosnmp.SnmpV3MsgFlags {
	switch {
	case orNoPriv(u.PrivProtocol) != gosnmp.NoPriv:
		return gosnmp.AuthPriv
	case orNoAuth(u.AuthProtocol) != gosnmp.NoAuth:
		return gosnmp.AuthNoPriv
	}
	return gosnmp.NoAuthNoPriv
}

// exchange sends one raw datagram to a and returns the reply, or nil when
// none arrives within wait.
func exchange(t testing.TB, a *Agent, msg []byte, wait time.Duration) []byte {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, a.Addr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxUDPPayload)
	n, err := conn.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// waitStats polls a's counters until cond holds, for counters that move
// after the client has already given up (dropped requests).
func waitStats(t testing.TB, a *Agent, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		s := a.Stats()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached the expected state: %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// str renders a decoded value for comparisons.
func str(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}
