package pdu_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/power/pdu"
	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// TestClientEveryModel drives a simulated PDU of every row of pdu.Models
// through the client: outlets switch on and off, the client reads the
// state back, net-snmp's snmpget reads it independently from the agent, and
// metered rows report the simulated machine's draw.
func TestClientEveryModel(t *testing.T) {
	testkit.RequireTool(t, "snmpget")
	const (
		standby = 37.0
		running = 211.0
	)
	for i := range pdu.Models {
		m := &pdu.Models[i]
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			// Outlet 3 feeds machine "a"; outlet 10 feeds "b" (above ATEN's
			// second index shift); outlets 4 and 11 are their neighbours,
			// which a wrong index would switch instead.
			rack := startRack(t, sim.Config{
				PDUs: []sim.PDUConfig{simPDU(m.Name)},
				Machines: []sim.MachineConfig{
					{Name: "a", MAC: macOf(1), PDU: "p", Outlets: []int{3}, StandbyWatts: standby, RunningWatts: running},
					{Name: "b", MAC: macOf(2), PDU: "p", Outlets: []int{10}, StandbyWatts: 5, RunningWatts: 50},
				},
			})
			sp := rack.PDU("p")
			addr := sp.Addr()
			c := newClient(t, baseConfig(addr, m.Name))
			c.Watch(3, 4, 10, 11)
			ctx := testCtx(t)

			// check compares the client's view and the simulation's of
			// outlet o with the expected state and draw.
			check := func(o int, wantOn bool, wantWatts float64) {
				t.Helper()
				got, err := c.Read(ctx, []int{o})
				if err != nil {
					t.Fatalf("Read(%d): %v", o, err)
				}
				if want := power.StateFor(wantOn); got[o].State != want {
					t.Errorf("client: outlet %d is %v, want %v", o, got[o].State, want)
				}
				if sp.Outlet(o) != wantOn {
					t.Errorf("sim: outlet %d on=%v, want %v", o, sp.Outlet(o), wantOn)
				}
				if m.Power == nil {
					if got[o].Watts != nil {
						t.Errorf("client: unmetered model reports %v W on outlet %d", *got[o].Watts, o)
					}
					return
				}
				if got[o].Watts == nil || *got[o].Watts != wantWatts {
					t.Errorf("client: outlet %d draws %s W, want %v", o, fmtWatts(got[o].Watts), wantWatts)
				}
			}
			// checkNetSNMP reads the outlets' status (and meter) objects
			// with net-snmp's snmpget, independently of the client.
			type want struct {
				outlet int
				on     bool
				watts  float64
			}
			checkNetSNMP := func(wants ...want) {
				t.Helper()
				var oids []string
				for _, w := range wants {
					oids = append(oids, "."+m.OID(m.Status.OID, w.outlet))
					if m.Power != nil {
						oids = append(oids, "."+m.OID(m.Power.OID, w.outlet))
					}
				}
				raws := netSNMPGetV2c(t, addr, oids...)
				for _, w := range wants {
					raw := raws[0]
					raws = raws[1:]
					v, err := strconv.Atoi(raw)
					if err != nil {
						t.Fatalf("snmpget: status of outlet %d %q is not an integer", w.outlet, raw)
					}
					if on, known := m.Status.StateOf(v); !known || on != w.on {
						t.Errorf("snmpget: outlet %d status %d (on=%v known=%v), want on=%v", w.outlet, v, on, known, w.on)
					}
					if m.Power == nil {
						continue
					}
					raw = raws[0]
					raws = raws[1:]
					if v, err := strconv.Atoi(raw); err != nil || float64(v)*m.Power.Scale != w.watts {
						t.Errorf("snmpget: outlet %d meter %q, want %v W", w.outlet, raw, w.watts)
					}
				}
			}

			check(3, false, 0)
			check(10, false, 0)
			checkNetSNMP(want{3, false, 0}, want{10, false, 0})

			if err := c.SetOutlets(ctx, []int{3}, true); err != nil {
				t.Fatalf("SetOutlets(3, on): %v", err)
			}
			check(3, true, standby)
			check(4, false, 0)
			check(10, false, 0)

			// A magic packet boots the machine: the meter follows its draw.
			rack.HandleMagicPacket(magicPacket(macOf(1)))
			if s := rack.Machine("a").State(); s != sim.Running {
				t.Fatalf("machine a is %v after a magic packet, want running", s)
			}
			check(3, true, running)

			if err := c.SetOutlets(ctx, []int{10}, true); err != nil {
				t.Fatalf("SetOutlets(10, on): %v", err)
			}
			check(10, true, 5)
			check(11, false, 0)
			checkNetSNMP(want{3, true, running}, want{4, false, 0}, want{10, true, 5}, want{11, false, 0})

			if err := c.SetOutlets(ctx, []int{3, 10}, false); err != nil {
				t.Fatalf("SetOutlets(3+10, off): %v", err)
			}
			check(3, false, 0)
			check(10, false, 0)
			checkNetSNMP(want{3, false, 0}, want{10, false, 0})
			if s := rack.Machine("a").State(); s != sim.Off {
				t.Errorf("machine a is %v after its outlet went off, want off", s)
			}
			if n := sp.Sets(); n != 4 {
				t.Errorf("sim applied %d outlet SETs, want 4", n)
			}
		})
	}
}

// TestNegativeMeterIsNoReading: every metered row reads a negative meter
// value (-1, or -2000000 on some MIBs) as "no reading", not as watts.
func TestNegativeMeterIsNoReading(t *testing.T) {
	for i := range pdu.Models {
		m := &pdu.Models[i]
		if m.Power == nil {
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			f := startFake(t, m.Name, 4, snmpagent.Config{})
			f.setStatus(1, m.Status.On[0])
			f.setStatus(2, m.Status.On[0])
			f.setStatus(3, m.Status.On[0])
			f.setStatus(4, m.Status.On[0])
			f.setPower(1, -1)
			f.setPower(2, -2000000)
			f.setPower(3, 0)
			f.setPower(4, 150)
			c := newClient(t, baseConfig(f.addr(), m.Name))
			c.Watch(1, 2, 3, 4)
			got, err := c.Read(testCtx(t), []int{1, 2, 3, 4})
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]string{1: "nil", 2: "nil", 3: "0", 4: fmt.Sprint(150 * m.Power.Scale)}
			for o, w := range want {
				if got[o].State != power.StateOn {
					t.Errorf("outlet %d: state %v, want on", o, got[o].State)
				}
				if g := fmtWatts(got[o].Watts); g != w {
					t.Errorf("outlet %d: watts %s, want %s", o, g, w)
				}
			}
		})
	}
}

// TestStatusValues: every status value of every row maps as the row says,
// and values in neither list read as unknown.
func TestStatusValues(t *testing.T) {
	for i := range pdu.Models {
		m := &pdu.Models[i]
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			type tc struct {
				raw  int
				want power.State
			}
			var cases []tc
			for _, v := range m.Status.On {
				cases = append(cases, tc{v, power.StateOn})
			}
			for _, v := range m.Status.Off {
				cases = append(cases, tc{v, power.StateOff})
			}
			for _, v := range []int{-1, 99, 12345} {
				cases = append(cases, tc{v, power.Unknown})
			}
			f := startFake(t, m.Name, len(cases), snmpagent.Config{})
			c := newClient(t, baseConfig(f.addr(), m.Name))
			var outlets []int
			for i, tc := range cases {
				f.setStatus(i+1, tc.raw)
				outlets = append(outlets, i+1)
			}
			c.Watch(outlets...)
			got, err := c.Read(testCtx(t), outlets)
			if err != nil {
				t.Fatal(err)
			}
			for i, tc := range cases {
				if s := got[i+1].State; s != tc.want {
					t.Errorf("status value %d reads %v, want %v", tc.raw, s, tc.want)
				}
			}
		})
	}
}

// TestAutoDetect: a client configured with model "auto" picks the row whose
// sysObjectID the PDU reports, and switches with that row's MIB.
func TestAutoDetect(t *testing.T) {
	for i := range pdu.Models {
		m := &pdu.Models[i]
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			rack := startRack(t, sim.Config{PDUs: []sim.PDUConfig{simPDU(m.Name)}})
			sp := rack.PDU("p")
			c := newClient(t, baseConfig(sp.Addr(), "auto"))
			ctx := testCtx(t)
			got, err := c.Model(ctx)
			if m.SysObjectID == "" {
				// Not detectable: the simulated PDU reports a generic
				// sysObjectID, which must not match any row.
				if err == nil {
					t.Fatalf("auto detected %s for a row without sysObjectID", got.Name)
				}
				if !errors.Is(err, pdu.ErrNotPDU) || !strings.Contains(err.Error(), "no row's sysObjectID prefix matches") {
					t.Errorf("error %q does not say no model matched", err)
				}
				if err := c.SetOutlets(ctx, []int{1}, true); err == nil {
					t.Error("SetOutlets succeeded without a model")
				}
				if sp.Sets() != 0 {
					t.Error("a SET reached the PDU without a model")
				}
				return
			}
			if err != nil {
				t.Fatalf("Model: %v", err)
			}
			if got != m {
				t.Fatalf("auto detected %s, want %s", got.Name, m.Name)
			}
			if err := c.SetOutlets(ctx, []int{2}, true); err != nil {
				t.Fatal(err)
			}
			if !sp.Outlet(2) || sp.Outlet(1) || sp.Outlet(3) {
				t.Errorf("outlets 1..3 = %v %v %v, want only 2 on", sp.Outlet(1), sp.Outlet(2), sp.Outlet(3))
			}
			res, err := c.Probe(ctx, []int{1, 2})
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.Model != m.Name || res.SysObjectID != "."+m.SysObjectID+".1" && res.SysObjectID != m.SysObjectID+".1" {
				t.Errorf("Probe = model %s sysObjectID %s, want %s %s.1", res.Model, res.SysObjectID, m.Name, m.SysObjectID)
			}
			if !strings.Contains(res.SysDescr, m.Description) {
				t.Errorf("Probe sysDescr %q", res.SysDescr)
			}
			if res.Outlets[1].State != power.StateOff || res.Outlets[2].State != power.StateOn {
				t.Errorf("Probe outlets = %+v, want 1 off, 2 on", res.Outlets)
			}
		})
	}
}

// TestAutoDetectOnce: detection costs the identity GET and one GETNEXT into
// the outlet table, after which the model is kept.
func TestAutoDetectOnce(t *testing.T) {
	rack := startRack(t, sim.Config{PDUs: []sim.PDUConfig{simPDU("cyberpower")}})
	a := rack.PDU("p").Agent()
	c := newClient(t, baseConfig(rack.PDU("p").Addr(), "auto"))
	ctx := testCtx(t)
	for range 3 {
		m, err := c.Model(ctx)
		if err != nil || m.Name != "cyberpower" {
			t.Fatalf("Model = %v, %v", m, err)
		}
	}
	if n := a.Stats().Requests; n != 2 {
		t.Errorf("detection took %d requests, want 2", n)
	}
}

// TestSNMPVersions switches and reads an outlet with every SNMP version and
// USM security level the client supports, against the simulated agent.
func TestSNMPVersions(t *testing.T) {
	user := func(name string, auth gosnmp.SnmpV3AuthProtocol, priv gosnmp.SnmpV3PrivProtocol) snmpagent.USMUser {
		u := snmpagent.USMUser{Name: name, AuthProtocol: auth, PrivProtocol: priv, ReadWrite: true}
		if auth != 0 {
			u.AuthPassphrase = name + "-auth-pass"
		}
		if priv != 0 {
			u.PrivPassphrase = name + "-priv-pass"
		}
		return u
	}
	users := []snmpagent.USMUser{
		user("noauth", 0, 0),
		user("md5", gosnmp.MD5, 0),
		user("sha", gosnmp.SHA, 0),
		user("sha256", gosnmp.SHA256, 0),
		user("sha512", gosnmp.SHA512, 0),
		user("sha256aes", gosnmp.SHA256, gosnmp.AES),
		user("md5des", gosnmp.MD5, gosnmp.DES),
		user("shaaes256", gosnmp.SHA, gosnmp.AES256),
		user("sha224aes192c", gosnmp.SHA224, gosnmp.AES192C),
		user("sha384aes256c", gosnmp.SHA384, gosnmp.AES256C),
		{Name: "readonly", AuthProtocol: gosnmp.SHA, AuthPassphrase: "readonly-auth-pass"},
	}
	v3 := func(name, auth, priv string) pdu.SNMPConfig {
		s := pdu.SNMPConfig{Version: "3", User: name, AuthProtocol: auth, PrivProtocol: priv, Timeout: time.Second, Retries: 1}
		if auth != "" {
			s.AuthPassphrase = name + "-auth-pass"
		}
		if priv != "" {
			s.PrivPassphrase = name + "-priv-pass"
		}
		return s
	}
	community := func(version, read, write string) pdu.SNMPConfig {
		return pdu.SNMPConfig{Version: version, CommunityRead: read, CommunityWrite: write, Timeout: time.Second, Retries: 1}
	}
	// With a short timeout for the cases the agent drops silently.
	short := func(s pdu.SNMPConfig) pdu.SNMPConfig {
		s.Timeout, s.Retries = 150*time.Millisecond, 0
		return s
	}
	tests := []struct {
		name    string
		snmp    pdu.SNMPConfig
		readErr string // "" = the read succeeds
		setErr  string // "" = the switch succeeds
		timeout bool   // the failures wrap power.ErrTimeout
		// switched: the SET is performed although SetOutlets fails (its
		// read-back does).
		switched bool
	}{
		{name: "v1", snmp: community("1", readCommunity, writeCommunity)},
		{name: "v2c", snmp: community("2c", readCommunity, writeCommunity)},
		{name: "default version is v2c", snmp: community("", readCommunity, writeCommunity)},
		// The read community may not write: the agent answers noAccess.
		{name: "v2c write with read community", snmp: community("2c", readCommunity, readCommunity), setErr: "NoAccess"},
		{name: "v1 write with read community", snmp: community("1", readCommunity, readCommunity), setErr: "NoSuchName"},
		// Reads use the read community only: a wrong write community
		// leaves reads working and makes SETs go unanswered.
		{name: "v2c wrong write community", snmp: short(community("2c", readCommunity, "nope")), setErr: "timeout", timeout: true},
		{name: "v2c wrong read community", snmp: short(community("2c", "nope", writeCommunity)), readErr: "timeout", setErr: "read back", timeout: true, switched: true},
		{name: "v3 noAuthNoPriv", snmp: v3("noauth", "", "")},
		{name: "v3 authNoPriv MD5", snmp: v3("md5", "MD5", "")},
		{name: "v3 authNoPriv SHA", snmp: v3("sha", "SHA", "")},
		{name: "v3 authNoPriv SHA256", snmp: v3("sha256", "SHA256", "")},
		{name: "v3 authNoPriv SHA512", snmp: v3("sha512", "SHA512", "")},
		{name: "v3 authPriv SHA256+AES", snmp: v3("sha256aes", "SHA256", "AES")},
		{name: "v3 authPriv MD5+DES", snmp: v3("md5des", "MD5", "DES")},
		{name: "v3 authPriv SHA+AES256", snmp: v3("shaaes256", "SHA", "AES256")},
		{name: "v3 authPriv SHA224+AES192C", snmp: v3("sha224aes192c", "SHA224", "AES192C")},
		{name: "v3 authPriv SHA384+AES256C", snmp: v3("sha384aes256c", "SHA384", "AES256C")},
		{name: "v3 read-only user", snmp: v3("readonly", "SHA", ""), setErr: "NoAccess"},
		{
			name: "v3 wrong auth passphrase",
			snmp: func() pdu.SNMPConfig {
				s := v3("sha256aes", "SHA256", "AES")
				s.AuthPassphrase = "not-the-passphrase"
				return s
			}(),
			// The agent's wrongDigests Report is unauthenticated, as RFC 3414
			// has it, so gosnmp discards it as not authentic.
			readErr: "not authentic", setErr: "not authentic",
		},
		{name: "v3 unknown user", snmp: v3("mallory", "SHA", "AES"), readErr: "not authentic", setErr: "not authentic"},
		// An authPriv user asking without privacy is refused (as net-snmp's
		// VACM does).
		{name: "v3 security level below the user's", snmp: v3("sha256aes", "SHA256", ""), readErr: "AuthorizationError", setErr: "AuthorizationError"},
	}
	rackCfg := simPDU("apc_rpdu2")
	rackCfg.Users = users
	rack := startRack(t, sim.Config{
		PDUs:     []sim.PDUConfig{rackCfg},
		Machines: []sim.MachineConfig{{Name: "a", PDU: "p", Outlets: []int{1}, StandbyWatts: 9}},
	})
	sp := rack.PDU("p")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(sp.Addr(), "apc_rpdu2")
			cfg.SNMP = tt.snmp
			c := newClient(t, cfg)
			c.Watch(1)
			ctx := testCtx(t)
			sp.SetOutlet(1, false)
			expectErr := func(op string, err error, want string) {
				t.Helper()
				if want == "" {
					if err != nil {
						t.Fatalf("%s: %v", op, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("%s succeeded, want an error containing %q", op, want)
				}
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(want)) {
					t.Errorf("%s: error %q does not contain %q", op, err, want)
				}
				if errors.Is(err, power.ErrTimeout) != tt.timeout {
					t.Errorf("%s: errors.Is(%q, ErrTimeout) = %v, want %v", op, err, !tt.timeout, tt.timeout)
				}
			}
			got, err := c.Read(ctx, []int{1})
			expectErr("Read", err, tt.readErr)
			if err == nil && got[1].State != power.StateOff {
				t.Errorf("Read: outlet 1 %v, want off", got[1].State)
			}
			err = c.SetOutlets(ctx, []int{1}, true)
			expectErr("SetOutlets", err, tt.setErr)
			if sp.Outlet(1) != (tt.setErr == "" || tt.switched) {
				t.Errorf("sim outlet 1 on=%v after SetOutlets", sp.Outlet(1))
			}
			if tt.setErr != "" || tt.readErr != "" {
				return
			}
			// A fresh read from the agent (not the cache) sees it on.
			c2 := newClient(t, cfg)
			c2.Watch(1)
			got, err = c2.Read(ctx, []int{1})
			if err != nil {
				t.Fatal(err)
			}
			if got[1].State != power.StateOn || got[1].Watts == nil || *got[1].Watts != 9 {
				t.Errorf("fresh Read: outlet 1 %v %s W, want on 9 W", got[1].State, fmtWatts(got[1].Watts))
			}
			if err := c.SetOutlets(ctx, []int{1}, false); err != nil {
				t.Fatal(err)
			}
			if sp.Outlet(1) {
				t.Error("outlet 1 still on after switch-off")
			}
		})
	}
}

// TestSNMPv3NetSNMP cross-checks a v3 switch with net-snmp's snmpget using
// the same USM user, for authNoPriv and authPriv.
func TestSNMPv3NetSNMP(t *testing.T) {
	testkit.RequireTool(t, "snmpget")
	tests := []struct {
		user             snmpagent.USMUser
		auth, priv       string // client names
		netAuth, netPriv string // net-snmp names
	}{
		{snmpagent.USMUser{Name: "u1", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "u1-authpass", ReadWrite: true}, "SHA256", "", "SHA-256", ""},
		{snmpagent.USMUser{Name: "u2", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "u2-authpass", PrivProtocol: gosnmp.AES, PrivPassphrase: "u2-privpass", ReadWrite: true}, "SHA256", "AES", "SHA-256", "AES"},
		{snmpagent.USMUser{Name: "u3", AuthProtocol: gosnmp.MD5, AuthPassphrase: "u3-authpass", PrivProtocol: gosnmp.DES, PrivPassphrase: "u3-privpass", ReadWrite: true}, "MD5", "DES", "MD5", "DES"},
	}
	pc := simPDU("servertech_sentry4")
	for _, tt := range tests {
		pc.Users = append(pc.Users, tt.user)
	}
	rack := startRack(t, sim.Config{PDUs: []sim.PDUConfig{pc}})
	sp := rack.PDU("p")
	m, _ := pdu.Lookup("servertech_sentry4")
	for i, tt := range tests {
		t.Run(tt.user.Name, func(t *testing.T) {
			outlet := i + 1
			cfg := baseConfig(sp.Addr(), m.Name)
			cfg.SNMP = pdu.SNMPConfig{Version: "3", User: tt.user.Name,
				AuthProtocol: tt.auth, AuthPassphrase: tt.user.AuthPassphrase,
				PrivProtocol: tt.priv, PrivPassphrase: tt.user.PrivPassphrase,
				Timeout: time.Second, Retries: 1}
			c := newClient(t, cfg)
			if err := c.SetOutlets(testCtx(t), []int{outlet}, true); err != nil {
				t.Fatal(err)
			}
			args := []string{"-v3", "-u", tt.user.Name, "-l", "authNoPriv", "-a", tt.netAuth, "-A", tt.user.AuthPassphrase}
			if tt.netPriv != "" {
				args = append(args, "-x", tt.netPriv, "-X", tt.user.PrivPassphrase)
				args[4] = "authPriv"
			}
			got := netSNMPGet(t, sp.Addr(), []string{"." + m.OID(m.Status.OID, outlet)}, args...)[0]
			if got != strconv.Itoa(m.Status.On[0]) {
				t.Errorf("snmpget v3: outlet %d status %q, want %d", outlet, got, m.Status.On[0])
			}
		})
	}
}

// TestNew rejects bad configurations before contacting anything.
func TestNew(t *testing.T) {
	tests := []struct {
		name string
		edit func(*pdu.Config)
		want string // "" = valid
	}{
		{"valid", func(*pdu.Config) {}, ""},
		{"auto", func(c *pdu.Config) { c.Model = "auto" }, ""},
		{"empty model is auto", func(c *pdu.Config) { c.Model = "" }, ""},
		{"alias", func(c *pdu.Config) { c.Model = "apc_masterswitch" }, ""},
		{"unknown model", func(c *pdu.Config) { c.Model = "nope" }, "unknown model"},
		{"no port", func(c *pdu.Config) { c.Address = "127.0.0.1" }, "address"},
		{"bad port", func(c *pdu.Config) { c.Address = "127.0.0.1:99999" }, "port"},
		{"bad version", func(c *pdu.Config) { c.SNMP.Version = "4" }, "unknown SNMP version"},
		{"bad auth", func(c *pdu.Config) { c.SNMP.Version, c.SNMP.AuthProtocol = "3", "SHA1" }, "unknown auth protocol"},
		{"bad priv", func(c *pdu.Config) {
			c.SNMP.Version, c.SNMP.AuthProtocol, c.SNMP.PrivProtocol = "3", "SHA", "3DES"
		}, "unknown privacy protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig("127.0.0.1:161", "apc")
			tt.edit(&cfg)
			c, err := pdu.New(cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c.Name() != "p" {
					t.Errorf("Name = %q", c.Name())
				}
				c.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestCache: reads within CacheTTL cost no SNMP traffic, a switch shows in
// the cache at once, and an expired cache polls again.
func TestCache(t *testing.T) {
	rack := startRack(t, sim.Config{
		PDUs:     []sim.PDUConfig{simPDU("eatonpower")},
		Machines: []sim.MachineConfig{{Name: "a", PDU: "p", Outlets: []int{2}, StandbyWatts: 12}},
	})
	sp := rack.PDU("p")
	a := sp.Agent()
	// A TTL no loaded machine overruns between two checks, and a clock the
	// test moves past it instead of sleeping.
	const ttl = time.Hour
	clock := &testkit.Offset{}
	cfg := baseConfig(sp.Addr(), "eatonpower")
	cfg.CacheTTL = ttl
	cfg.Now = clock.Now
	rec := newRecorder()
	cfg.Observer = rec
	c := newClient(t, cfg)
	c.Watch(1, 2, 3)
	ctx := testCtx(t)

	read := func(o int) pdu.Outlet {
		t.Helper()
		got, err := c.Read(ctx, []int{o})
		if err != nil {
			t.Fatal(err)
		}
		return got[o]
	}
	if s := read(2).State; s != power.StateOff {
		t.Fatalf("outlet 2 %v, want off", s)
	}
	base := a.Stats().Requests
	if base != 1 || rec.count("poll") != 1 {
		t.Fatalf("first read: %d requests, %d polls; want 1 and 1", base, rec.count("poll"))
	}

	// Switched by hand behind the client's back: the cache does not see it.
	sp.SetOutlet(3, true)
	for range 20 {
		for o := 1; o <= 3; o++ {
			if s := read(o).State; s != power.StateOff {
				t.Fatalf("cached outlet %d %v, want off", o, s)
			}
		}
	}
	if n := a.Stats().Requests; n != base {
		t.Errorf("%d requests for cached reads, want none", n-base)
	}

	// A switch through the client is read back by a poll of every watched
	// outlet, which also sees the hand switch; reads after it are cached.
	if err := c.SetOutlets(ctx, []int{2}, true); err != nil {
		t.Fatal(err)
	}
	base = a.Stats().Requests
	if rec.count("poll") != 2 {
		t.Errorf("%d polls after a switch, want 2 (its read-back)", rec.count("poll"))
	}
	if o := read(2); o.State != power.StateOn || o.Watts == nil || *o.Watts != 12 {
		t.Errorf("outlet 2 %v %s W after switch-on, want on 12 W", o.State, fmtWatts(o.Watts))
	}
	if s := read(3).State; s != power.StateOn {
		t.Errorf("outlet 3 %v after the read-back poll, want on (switched by hand)", s)
	}
	sp.SetOutlet(3, false)
	if s := read(3).State; s != power.StateOn {
		t.Errorf("outlet 3 %v within the TTL, want the cached on", s)
	}
	if n := a.Stats().Requests; n != base {
		t.Errorf("%d requests for cached reads after the read-back, want none", n-base)
	}

	// Once the TTL has passed, a read polls and sees the hand switch.
	clock.Advance(ttl + time.Second)
	if s := read(3).State; s != power.StateOff {
		t.Errorf("outlet 3 %v after the TTL, want off", s)
	}
	if n := rec.count("poll"); n != 3 {
		t.Errorf("%d polls, want 3", n)
	}
}

// TestCacheTracksSwitchDuringPoll: a switch acknowledged while a poll is in
// flight is not undone in the cache by that poll's older result. The poll
// spans several GETs (more OIDs than fit one request), and the SET is
// queued behind the first one.
func TestCacheTracksSwitchDuringPoll(t *testing.T) {
	const outlets = 100 // metered: 200 OIDs, 4 GETs of gosnmp.MaxOids
	f := startFake(t, "apc_rpdu2", outlets, snmpagent.Config{})
	cfg := baseConfig(f.addr(), "apc_rpdu2")
	cfg.CacheTTL = time.Minute
	c := newClient(t, cfg)
	all := make([]int, outlets)
	for i := range all {
		all[i] = i + 1
	}
	c.Watch(all...)
	ctx := testCtx(t)
	f.agent.SetResponseDelay(100 * time.Millisecond)

	readDone := make(chan error, 1)
	go func() {
		_, err := c.Read(ctx, []int{1})
		readDone <- err
	}()
	waitRequests(t, f.agent, 1) // the poll's first GET is at the agent
	if err := c.SetOutlets(ctx, []int{1}, true); err != nil {
		t.Fatal(err)
	}
	if err := <-readDone; err != nil {
		t.Fatal(err)
	}
	got, err := c.Read(ctx, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if got[1].State != power.StateOn {
		t.Errorf("outlet 1 reads %v after an acknowledged switch-on, want on", got[1].State)
	}
}

// TestSharedPoll: N concurrent Read calls for N different outlets within the
// cache window cause exactly one poll (one GET at the agent).
func TestSharedPoll(t *testing.T) {
	const n = 16
	rack := startRack(t, sim.Config{PDUs: []sim.PDUConfig{func() sim.PDUConfig {
		p := simPDU("servertech_sentry3")
		p.Outlets = n
		p.InitialOn = true
		return p
	}()}})
	sp := rack.PDU("p")
	a := sp.Agent()
	cfg := baseConfig(sp.Addr(), "servertech_sentry3")
	// No cache: every reader that finds no poll in flight would start one,
	// so a single poll proves the readers shared the one in flight.
	cfg.CacheTTL = 0
	// The poll stays at the agent for 2 s, long enough for the other
	// readers to join it on a loaded machine; the client waits for it.
	const held = 2 * time.Second
	cfg.SNMP.Timeout = 5 * held
	rec := newRecorder()
	cfg.Observer = rec
	c := newClient(t, cfg)
	for o := 1; o <= n; o++ {
		c.Watch(o)
	}
	a.SetResponseDelay(held)
	ctx := testCtx(t)

	var wg sync.WaitGroup
	errs := make([]error, n+1)
	states := make([]power.State, n+1)
	began := make([]time.Time, n+1)
	read := func(o int) {
		defer wg.Done()
		began[o] = time.Now()
		got, err := c.Read(ctx, []int{o})
		errs[o], states[o] = err, got[o].State
	}
	wg.Add(n)
	go read(1)
	waitRequests(t, a, 1)
	// The poll's GET is at the agent, which answers it held from now.
	inFlight := time.Now()
	for o := 2; o <= n; o++ {
		go read(o)
	}
	wg.Wait()
	for o := 2; o <= n; o++ {
		if began[o].Sub(inFlight) > held*3/4 {
			t.Skipf("too slow: reader %d started %v after the poll, which may have ended", o, began[o].Sub(inFlight))
		}
	}
	for o := 1; o <= n; o++ {
		if errs[o] != nil || states[o] != power.StateOn {
			t.Errorf("Read(%d) = %v, %v; want on", o, states[o], errs[o])
		}
	}
	if got := rec.count("poll"); got != 1 {
		t.Errorf("%d polls for %d concurrent readers, want 1", got, n)
	}
	if got := a.Stats().Requests; got != 1 {
		t.Errorf("%d requests at the agent, want 1", got)
	}
}

// udpProxy relays datagrams between one client and an agent and tracks how
// many requests are outstanding (forwarded, not yet answered).
type udpProxy struct {
	mu          sync.Mutex
	outstanding int
	maxOut      int
	forwarded   int
}

// startProxy listens on 127.0.0.1 and relays to target until the test ends.
func startProxy(t *testing.T, target string) (*udpProxy, string) {
	t.Helper()
	front, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	back, err := net.Dial("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	p := &udpProxy{}
	var (
		clientMu sync.Mutex
		client   net.Addr
	)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := front.ReadFrom(buf)
			if err != nil {
				return
			}
			clientMu.Lock()
			client = from
			clientMu.Unlock()
			p.mu.Lock()
			p.outstanding++
			p.forwarded++
			p.maxOut = max(p.maxOut, p.outstanding)
			p.mu.Unlock()
			back.Write(buf[:n])
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := back.Read(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.outstanding--
			p.mu.Unlock()
			clientMu.Lock()
			to := client
			clientMu.Unlock()
			front.WriteTo(buf[:n], to)
		}
	}()
	t.Cleanup(func() {
		front.Close()
		back.Close()
		wg.Wait()
	})
	return p, front.LocalAddr().String()
}

func (p *udpProxy) stats() (maxOutstanding, forwarded int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxOut, p.forwarded
}

// TestOneRequestInFlight: many concurrent Read and SetOutlets callers never
// have two requests outstanding at the PDU.
func TestOneRequestInFlight(t *testing.T) {
	for _, version := range []string{"2c", "3"} {
		t.Run("v"+version, func(t *testing.T) {
			pc := simPDU("cyberpower")
			pc.Users = []snmpagent.USMUser{{Name: "u", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "u-authpass",
				PrivProtocol: gosnmp.AES, PrivPassphrase: "u-privpass", ReadWrite: true}}
			rack := startRack(t, sim.Config{PDUs: []sim.PDUConfig{pc}})
			sp := rack.PDU("p")
			sp.Agent().SetResponseDelay(2 * time.Millisecond)
			proxy, addr := startProxy(t, sp.Addr())
			cfg := baseConfig(addr, "cyberpower")
			if version == "3" {
				cfg.SNMP = pdu.SNMPConfig{Version: "3", User: "u", AuthProtocol: "SHA256", AuthPassphrase: "u-authpass",
					PrivProtocol: "AES", PrivPassphrase: "u-privpass", Timeout: 2 * time.Second, Retries: 1}
			}
			cfg.CacheTTL = 0 // every read polls
			c := newClient(t, cfg)
			const workers, rounds = 8, 5
			for o := 1; o <= workers; o++ {
				c.Watch(o)
			}
			ctx := testCtx(t)
			var wg sync.WaitGroup
			errs := make(chan error, workers*rounds*2)
			for w := 1; w <= workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := range rounds {
						if err := c.SetOutlets(ctx, []int{w}, r%2 == 0); err != nil {
							errs <- err
						}
						if _, err := c.Read(ctx, []int{w, (w % workers) + 1}); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			maxOut, forwarded := proxy.stats()
			if maxOut != 1 {
				t.Errorf("up to %d requests outstanding at once, want 1", maxOut)
			}
			if forwarded < workers*rounds {
				t.Errorf("only %d requests forwarded", forwarded)
			}
			for o := 1; o <= workers; o++ {
				if !sp.Outlet(o) { // the last round (r=4) switched on
					t.Errorf("outlet %d off after the last round switched it on", o)
				}
			}
		})
	}
}

// TestStagger: switch-ons on one PDU are at least Stagger apart at the
// agent, whether they come from one call or from concurrent ones, and
// switch-offs are not delayed.
func TestStagger(t *testing.T) {
	const stagger = 150 * time.Millisecond
	setup := func(t *testing.T) (*fakePDU, *pdu.Client) {
		f := startFake(t, "apc_rackpdu", 8, snmpagent.Config{})
		cfg := baseConfig(f.addr(), "apc_rackpdu")
		cfg.Stagger = stagger
		cfg.CacheTTL = time.Minute
		c := newClient(t, cfg)
		c.Watch(1, 2, 3, 4, 5, 6, 7, 8)
		return f, c
	}
	checkGaps := func(t *testing.T, sets []setEvent, value int, want int) {
		t.Helper()
		var ons []time.Time
		for _, s := range sets {
			if s.value == value {
				ons = append(ons, s.at)
			}
		}
		if len(ons) != want {
			t.Fatalf("%d switch-ons at the agent, want %d", len(ons), want)
		}
		for i := 1; i < len(ons); i++ {
			if gap := ons[i].Sub(ons[i-1]); gap < stagger {
				t.Errorf("switch-ons %d and %d only %v apart, want >= %v", i, i+1, gap, stagger)
			}
		}
	}

	t.Run("one call", func(t *testing.T) {
		f, c := setup(t)
		if err := c.SetOutlets(testCtx(t), []int{1, 2, 3}, true); err != nil {
			t.Fatal(err)
		}
		checkGaps(t, f.setLog(), 1, 3)
	})

	t.Run("concurrent calls", func(t *testing.T) {
		f, c := setup(t)
		ctx := testCtx(t)
		var wg sync.WaitGroup
		for o := 1; o <= 3; o++ {
			wg.Go(func() {
				if err := c.SetOutlets(ctx, []int{o}, true); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		checkGaps(t, f.setLog(), 1, 3)
	})

	t.Run("offs are not delayed", func(t *testing.T) {
		f, c := setup(t)
		ctx := testCtx(t)
		if err := c.SetOutlets(ctx, []int{1}, true); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := c.SetOutlets(ctx, []int{1, 2, 3, 4}, false); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took >= stagger {
			t.Errorf("4 switch-offs right after a switch-on took %v, want < %v", took, stagger)
		}
		if n := len(f.setLog()); n != 5 {
			t.Errorf("%d SETs, want 5", n)
		}
	})

	t.Run("first switch-on is not delayed", func(t *testing.T) {
		_, c := setup(t)
		start := time.Now()
		if err := c.SetOutlets(testCtx(t), []int{5}, true); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took >= stagger {
			t.Errorf("first switch-on took %v, want < %v", took, stagger)
		}
	})

	// The request slot is held by a slow poll while switch-ons queue: once
	// the PDU answers fast again they must still be Stagger apart.
	t.Run("behind a slow request", func(t *testing.T) {
		f, c := setup(t)
		ctx := testCtx(t)
		f.agent.SetResponseDelay(3 * stagger)
		readDone := make(chan error, 1)
		go func() {
			_, err := c.Read(ctx, []int{1})
			readDone <- err
		}()
		waitRequests(t, f.agent, 1)
		time.Sleep(20 * time.Millisecond) // the agent is now sleeping on the poll's response
		f.agent.SetResponseDelay(0)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := c.SetOutlets(ctx, []int{1, 2}, true); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := c.SetOutlets(ctx, []int{3}, true); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if err := <-readDone; err != nil {
			t.Fatal(err)
		}
		checkGaps(t, f.setLog(), 1, 3)
	})

	t.Run("cancelled while waiting", func(t *testing.T) {
		f, c := setup(t)
		ctx := testCtx(t)
		if err := c.SetOutlets(ctx, []int{1}, true); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, stagger/3)
		defer cancel()
		start := time.Now()
		err := c.SetOutlets(short, []int{2}, true)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("SetOutlets with a context shorter than the stagger: %v, want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > stagger {
			t.Errorf("cancelled switch-on returned after %v", took)
		}
		if n := len(f.setLog()); n != 1 {
			t.Errorf("%d SETs at the agent, want 1 (the cancelled one must not be sent)", n)
		}
	})
}

// TestUnreachable: a PDU that does not answer fails switches and reads with
// an error wrapping power.ErrTimeout, within timeout*(retries+1) plus slack.
func TestUnreachable(t *testing.T) {
	const (
		timeout = 150 * time.Millisecond
		retries = 1
		slack   = 400 * time.Millisecond
	)
	bound := timeout*(retries+1) + slack
	// drop serves a PDU that ignores every request; closed is a port where
	// nothing listens (the kernel answers ICMP port unreachable).
	drop := func(t *testing.T) (string, *snmpagent.Agent) {
		pc := simPDU("apc")
		pc.Users = []snmpagent.USMUser{{Name: "u", AuthProtocol: gosnmp.SHA, AuthPassphrase: "u-authpass", ReadWrite: true}}
		rack := startRack(t, sim.Config{PDUs: []sim.PDUConfig{pc}})
		a := rack.PDU("p").Agent()
		a.SetDropAll(true)
		return rack.PDU("p").Addr(), a
	}
	closed := func(t *testing.T) (string, *snmpagent.Agent) { return testkit.FreeAddr(t, "udp"), nil }
	v2c := pdu.SNMPConfig{Version: "2c", CommunityRead: readCommunity, CommunityWrite: writeCommunity}
	v3 := pdu.SNMPConfig{Version: "3", User: "u", AuthProtocol: "SHA", AuthPassphrase: "u-authpass"}
	tests := []struct {
		name  string
		addr  func(*testing.T) (string, *snmpagent.Agent)
		snmp  pdu.SNMPConfig
		model string
	}{
		{"dropped v2c", drop, v2c, "apc"},
		{"dropped v2c auto", drop, v2c, "auto"},
		{"dropped v3", drop, v3, "apc"},
		{"dropped v3 auto", drop, v3, "auto"},
		{"closed port v2c", closed, v2c, "apc"},
		{"closed port v3 auto", closed, v3, "auto"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, agent := tt.addr(t)
			cfg := baseConfig(addr, tt.model)
			cfg.SNMP = tt.snmp
			cfg.SNMP.Timeout, cfg.SNMP.Retries = timeout, retries
			rec := newRecorder()
			cfg.Observer = rec
			c := newClient(t, cfg)
			c.Watch(1)
			ctx := testCtx(t)
			check := func(op string, f func() error) {
				t.Helper()
				start := time.Now()
				err := f()
				took := time.Since(start)
				if !errors.Is(err, power.ErrTimeout) {
					t.Errorf("%s: %v, want an error wrapping power.ErrTimeout", op, err)
				}
				if err != nil && !strings.Contains(err.Error(), "pdu p") {
					t.Errorf("%s: error %q does not name the PDU", op, err)
				}
				if took > bound {
					t.Errorf("%s failed after %v, want within %v", op, took, bound)
				}
				if agent != nil && took < timeout*(retries+1) {
					t.Errorf("%s gave up after %v, before its %d tries of %v", op, took, retries+1, timeout)
				}
			}
			check("SetOutlets", func() error { return c.SetOutlets(ctx, []int{1}, true) })
			check("Read", func() error { _, err := c.Read(ctx, []int{1}); return err })
			check("SetOutlets off", func() error { return c.SetOutlets(ctx, []int{1}, false) })
			if rec.count("poll") != 1 || rec.errs["poll"] != 1 {
				t.Errorf("observer: %d polls, %d failed; want 1, 1", rec.count("poll"), rec.errs["poll"])
			}
			// Each operation stops at its first request (the SET, the poll's
			// GET, or the detection or engine discovery before them), sent
			// retries+1 times.
			if agent != nil {
				if got, want := agent.Stats().Dropped, uint64(3*(retries+1)); got != want {
					t.Errorf("agent dropped %d datagrams, want %d", got, want)
				}
			}
		})
	}
}

// TestReadContext: a reader whose context ends stops waiting for the poll.
func TestReadContext(t *testing.T) {
	f := startFake(t, "apc", 2, snmpagent.Config{})
	f.agent.SetResponseDelay(time.Second)
	cfg := baseConfig(f.addr(), "apc")
	cfg.SNMP.Timeout, cfg.SNMP.Retries = 300*time.Millisecond, 0
	c := newClient(t, cfg)
	c.Watch(1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Read(ctx, []int{1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read: %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("Read returned after %v", took)
	}
}

// TestReadUnwatched: reading an outlet no feed watches fails at once rather
// than polling forever.
func TestReadUnwatched(t *testing.T) {
	f := startFake(t, "apc", 4, snmpagent.Config{})
	c := newClient(t, baseConfig(f.addr(), "apc"))
	c.Watch(1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.Read(ctx, []int{1, 2})
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read of an unwatched outlet: %v, want a prompt error", err)
	}
	if n := f.agent.Stats().Requests; n > 1 {
		t.Errorf("%d requests for an unwatched read, want at most 1", n)
	}
	c.Watch(2)
	if _, err := c.Read(ctx, []int{1, 2}); err != nil {
		t.Errorf("Read after Watch: %v", err)
	}
	c.Unwatch(2)
	// The cache still holds outlet 2 until it expires; with no TTL it must fail.
	if _, err := c.Read(ctx, []int{2}); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read after Unwatch: %v, want a prompt error", err)
	}
}

// TestSNMPErrorStatus: a PDU that answers a SET with an error status yields
// an error naming the outlet and the status, not a timeout.
func TestSNMPErrorStatus(t *testing.T) {
	tests := []struct {
		name    string
		version string
		status  gosnmp.SNMPError
		want    string
	}{
		{"v2c wrongValue", "2c", gosnmp.WrongValue, "WrongValue"},
		{"v2c inconsistentValue", "2c", gosnmp.InconsistentValue, "InconsistentValue"},
		{"v2c resourceUnavailable", "2c", gosnmp.ResourceUnavailable, "ResourceUnavailable"},
		{"v1 wrongValue is badValue", "1", gosnmp.WrongValue, "BadValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, "vertivgeist_pdu", 2, snmpagent.Config{})
			f.failSets(tt.status)
			cfg := baseConfig(f.addr(), "vertivgeist_pdu")
			cfg.SNMP.Version = tt.version
			rec := newRecorder()
			cfg.Observer = rec
			c := newClient(t, cfg)
			err := c.SetOutlets(testCtx(t), []int{2}, true)
			if err == nil {
				t.Fatal("SetOutlets succeeded against a refusing PDU")
			}
			for _, want := range []string{tt.want, "outlet 2", "pdu p"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if errors.Is(err, power.ErrTimeout) {
				t.Errorf("error %q wraps ErrTimeout", err)
			}
			if rec.count("set") != 1 || rec.errs["set"] != 1 {
				t.Errorf("observer saw %d sets, %d failed; want 1, 1", rec.count("set"), rec.errs["set"])
			}
			if len(f.setLog()) != 0 {
				t.Error("the refused SET was applied")
			}
		})
	}

	// A client configured with the wrong model: SETs hit objects the PDU
	// does not have, and reads find no status.
	t.Run("wrong model", func(t *testing.T) {
		f := startFake(t, "cyberpower", 2, snmpagent.Config{})
		c := newClient(t, baseConfig(f.addr(), "apc"))
		c.Watch(1)
		ctx := testCtx(t)
		err := c.SetOutlets(ctx, []int{1}, true)
		if err == nil || !strings.Contains(err.Error(), "NotWritable") {
			t.Errorf("SetOutlets on the wrong MIB: %v, want NotWritable", err)
		}
		got, err := c.Read(ctx, []int{1})
		if err != nil {
			t.Fatal(err)
		}
		if got[1].State != power.Unknown {
			t.Errorf("outlet without status object reads %v, want unknown", got[1].State)
		}
	})
}

// TestObserver: the observer hears of every request by operation.
func TestObserver(t *testing.T) {
	rack := startRack(t, sim.Config{PDUs: []sim.PDUConfig{simPDU("raritan_pdu2")}})
	cfg := baseConfig(rack.PDU("p").Addr(), "auto")
	rec := newRecorder()
	cfg.Observer = rec
	c := newClient(t, cfg)
	c.Watch(1, 2)
	ctx := testCtx(t)
	if err := c.SetOutlets(ctx, []int{1, 2}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, []int{1}); err != nil {
		t.Fatal(err)
	}
	// One poll reads both outlets back after the SETs, one answers Read
	// (CacheTTL 0).
	for op, want := range map[string]int{"set": 2, "poll": 2} {
		if got := rec.count(op); got != want {
			t.Errorf("observer: %d %q requests, want %d", got, op, want)
		}
	}
	// The detection (identity, then the outlet table) is the only GET: a
	// poll's GETs are reported as the poll.
	if got := rec.count("get"); got != 2 {
		t.Errorf("observer: %d gets, want 2 (the detection)", got)
	}
	var ops []string
	for op := range rec.ops {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		if op != "get" && op != "set" && op != "poll" {
			t.Errorf("unexpected operation %q", op)
		}
	}
}
