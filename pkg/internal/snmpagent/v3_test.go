package snmpagent

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

func TestV3(t *testing.T) {
	tree, pdu := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	for _, u := range testUsers {
		t.Run(u.Name, func(t *testing.T) {
			c := newV3Client(t, a, u, levelOf(u))
			res, err := c.Get([]string{oidSysDescr, oidCounter64})
			checkPacket(t, res, err, gosnmp.NoError, 0, []vb{
				{oidSysDescr, gosnmp.OctetString, "powerjockey simulated PDU"},
				{oidCounter64, gosnmp.Counter64, "1099511627776"},
			})
			res, err = c.GetNext([]string{oidTen})
			checkPacket(t, res, err, gosnmp.NoError, 0, []vb{{oidOutlet + "1", gosnmp.Integer, "1"}})

			for _, walk := range []func(string) ([]gosnmp.SnmpPDU, error){c.WalkAll, c.BulkWalkAll} {
				all, err := walk("1.3.6.1")
				if err != nil {
					t.Fatal(err)
				}
				if got := toVBs(all); len(got) != len(treeOIDs) || got[len(got)-1].name != oidLast {
					t.Errorf("walk returned %v", got)
				}
			}

			// Toggle outlet 1 and back; read-only users get noAccess.
			before := pdu.outlet(0)
			res, err = c.Set([]gosnmp.SnmpPDU{{Name: oidOutlet + "1", Type: gosnmp.Integer, Value: outletOff}})
			if err != nil {
				t.Fatal(err)
			}
			if !u.ReadWrite {
				if res.Error != gosnmp.NoAccess || res.ErrorIndex != 1 || pdu.outlet(0) != before {
					t.Errorf("read-only user: got %v index %d", res.Error, res.ErrorIndex)
				}
				return
			}
			if res.Error != gosnmp.NoError || pdu.outlet(0) != outletOff {
				t.Errorf("SET: got %v, outlet %d", res.Error, pdu.outlet(0))
			}
			if _, err := c.Set([]gosnmp.SnmpPDU{{Name: oidOutlet + "1", Type: gosnmp.Integer, Value: before}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// v3Request describes a raw SNMPv3 request built with gosnmp's marshaller,
// so tests can send what gosnmp's client would not.
type v3Request struct {
	user         USMUser
	level        gosnmp.SnmpV3MsgFlags
	notReporting bool
	maxSize      uint32
	engineID     *string
	boots, time  *uint32
	pduType      gosnmp.PDUType
	oids         []string
}

func (r v3Request) encode(t testing.TB, a *Agent) []byte {
	t.Helper()
	engineID, boots, engineTime := a.EngineID(), a.engineBoots, a.engineTime()
	if r.engineID != nil {
		engineID = *r.engineID
	}
	if r.boots != nil {
		boots = *r.boots
	}
	if r.time != nil {
		engineTime = *r.time
	}
	return encodeV3Request(t, r, engineID, boots, engineTime)
}

func encodeV3Request(t testing.TB, r v3Request, engineID string, boots, engineTime uint32) []byte {
	t.Helper()
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    engineID,
		AuthoritativeEngineBoots: boots,
		AuthoritativeEngineTime:  engineTime,
		UserName:                 r.user.Name,
		AuthenticationProtocol:   orNoAuth(r.user.AuthProtocol),
		AuthenticationPassphrase: r.user.AuthPassphrase,
		PrivacyProtocol:          orNoPriv(r.user.PrivProtocol),
		PrivacyPassphrase:        r.user.PrivPassphrase,
	}
	if err := sp.InitSecurityKeys(); err != nil {
		t.Fatal(err)
	}
	if r.level == gosnmp.AuthPriv {
		sp.PrivacyParameters = binary.BigEndian.AppendUint64(nil, uint64(boots)<<32|0x1234)
	}
	flags := r.level | gosnmp.Reportable
	if r.notReporting {
		flags = r.level
	}
	pduType := r.pduType
	if pduType == 0 {
		pduType = gosnmp.GetRequest
	}
	var vars []gosnmp.SnmpPDU
	for _, o := range r.oids {
		vars = append(vars, gosnmp.SnmpPDU{Name: o, Type: gosnmp.Null})
	}
	p := &gosnmp.SnmpPacket{
		Version:            gosnmp.Version3,
		MsgFlags:           flags,
		SecurityModel:      gosnmp.UserSecurityModel,
		SecurityParameters: sp,
		MsgID:              4711,
		MsgMaxSize:         r.maxSize,
		ContextEngineID:    engineID,
		PDUType:            pduType,
		RequestID:          815,
		Variables:          vars,
	}
	msg, err := p.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func encodeV3(t testing.TB, a *Agent, u USMUser, level gosnmp.SnmpV3MsgFlags, maxSize uint32, oids []string) []byte {
	t.Helper()
	return v3Request{user: u, level: level, maxSize: maxSize, oids: oids}.encode(t, a)
}

// decodeV3Reply decodes an agent's reply as u would at level; reports sent
// noAuthNoPriv decode with any user.
func decodeV3Reply(t testing.TB, u USMUser, level gosnmp.SnmpV3MsgFlags, msg []byte) *gosnmp.SnmpPacket {
	t.Helper()
	if msg == nil {
		t.Fatal("no reply")
	}
	if u.Name == "" {
		u.Name = "-"
	}
	dec := &gosnmp.GoSNMP{
		Version:       gosnmp.Version3,
		SecurityModel: gosnmp.UserSecurityModel,
		MsgFlags:      level,
		SecurityParameters: &gosnmp.UsmSecurityParameters{
			UserName:                 u.Name,
			AuthenticationProtocol:   orNoAuth(u.AuthProtocol),
			AuthenticationPassphrase: u.AuthPassphrase,
			PrivacyProtocol:          orNoPriv(u.PrivProtocol),
			PrivacyPassphrase:        u.PrivPassphrase,
		},
	}
	p, err := dec.SnmpDecodePacket(msg)
	if err != nil {
		t.Fatalf("decoding reply: %v", err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func TestV3Reports(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	shaaes := testUser(t, "shaaes")
	wrongAuth, wrongPriv, levelTooHigh := shaaes, shaaes, testUser(t, "md5")
	wrongAuth.AuthPassphrase = "not-the-password"
	wrongPriv.PrivPassphrase = "not-the-password"
	levelTooHigh.PrivProtocol, levelTooHigh.PrivPassphrase = gosnmp.AES, "privpass1"

	tests := []struct {
		name string
		req  v3Request
		// The report's varbind, and the level it is authenticated at.
		oid   string
		level gosnmp.SnmpV3MsgFlags
		stat  func(Stats) uint64
	}{
		{"discovery", v3Request{engineID: ptr(""), boots: ptr(uint32(0)), time: ptr(uint32(0))},
			oidUnknownEngineIDs, gosnmp.NoAuthNoPriv, func(s Stats) uint64 { return s.UnknownEngineIDs }},
		{"other engine", v3Request{user: shaaes, level: gosnmp.AuthPriv, engineID: ptr("\x80\x00\x00\x00\x05other"), oids: []string{oidSysDescr}},
			oidUnknownEngineIDs, gosnmp.NoAuthNoPriv, func(s Stats) uint64 { return s.UnknownEngineIDs }},
		{"unknown user", v3Request{user: USMUser{Name: "mallory"}, oids: []string{oidSysDescr}},
			oidUnknownUserNames, gosnmp.NoAuthNoPriv, func(s Stats) uint64 { return s.UnknownUserNames }},
		{"level above the user's", v3Request{user: levelTooHigh, level: gosnmp.AuthPriv, oids: []string{oidSysDescr}},
			oidUnsupportedSecLevels, gosnmp.NoAuthNoPriv, func(s Stats) uint64 { return s.UnsupportedSecLevels }},
		{"wrong auth passphrase", v3Request{user: wrongAuth, level: gosnmp.AuthPriv, oids: []string{oidSysDescr}},
			oidWrongDigests, gosnmp.NoAuthNoPriv, func(s Stats) uint64 { return s.WrongDigests }},
		{"wrong priv passphrase", v3Request{user: wrongPriv, level: gosnmp.AuthPriv, oids: []string{oidSysDescr}},
			oidDecryptionErrors, gosnmp.NoAuthNoPriv, func(s Stats) uint64 { return s.DecryptionErrors }},
		{"boots from before a reboot", v3Request{user: shaaes, level: gosnmp.AuthPriv, boots: ptr(uint32(7)), oids: []string{oidSysDescr}},
			oidNotInTimeWindows, gosnmp.AuthNoPriv, func(s Stats) uint64 { return s.NotInTimeWindows }},
		{"time far ahead", v3Request{user: shaaes, level: gosnmp.AuthNoPriv, time: ptr(uint32(1000)), oids: []string{oidSysDescr}},
			oidNotInTimeWindows, gosnmp.AuthNoPriv, func(s Stats) uint64 { return s.NotInTimeWindows }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.stat(a.Stats())
			reply := exchange(t, a, tt.req.encode(t, a), time.Second)
			res := decodeV3Reply(t, shaaes, tt.level, reply)
			if res.PDUType != gosnmp.Report || res.MsgID != 4711 || res.MsgFlags&gosnmp.AuthPriv != tt.level {
				t.Errorf("got %v msgID %d flags %v, want a report with msgID 4711 at %v", res.PDUType, res.MsgID, res.MsgFlags, tt.level)
			}
			sp := res.SecurityParameters.(*gosnmp.UsmSecurityParameters)
			if sp.AuthoritativeEngineID != a.EngineID() || sp.AuthoritativeEngineBoots != 1 || sp.AuthoritativeEngineTime > 5 {
				t.Errorf("report carries engine %x boots %d time %d", sp.AuthoritativeEngineID, sp.AuthoritativeEngineBoots, sp.AuthoritativeEngineTime)
			}
			after := tt.stat(a.Stats())
			want := []vb{{tt.oid, gosnmp.Counter32, str(uint(after))}}
			if got := toVBs(res.Variables); !slices.Equal(got, want) || after != before+1 {
				t.Errorf("report varbinds %v, want %v (counter %d -> %d)", got, want, before, after)
			}
		})
	}

	t.Run("not reportable", func(t *testing.T) {
		req := v3Request{user: USMUser{Name: "mallory"}, notReporting: true, oids: []string{oidSysDescr}}
		if reply := exchange(t, a, req.encode(t, a), 50*time.Millisecond); reply != nil {
			t.Error("a non-reportable message got a report")
		}
	})
	if s := a.Stats(); s.AuthFailures != 5 {
		t.Errorf("AuthFailures = %d, want 5 (%+v)", s.AuthFailures, s)
	}
}

func TestV3ClientErrors(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	shaaes := testUser(t, "shaaes")

	t.Run("below the user's level", func(t *testing.T) {
		res, err := newV3Client(t, a, shaaes, gosnmp.AuthNoPriv).Get([]string{oidSysDescr})
		checkPacket(t, res, err, gosnmp.AuthorizationError, 0, []vb{{oidSysDescr, gosnmp.Null, ""}})
	})
	t.Run("read-only user", func(t *testing.T) {
		res, err := newV3Client(t, a, testUser(t, "md5"), gosnmp.AuthNoPriv).
			Set([]gosnmp.SnmpPDU{{Name: oidOutlet + "1", Type: gosnmp.Integer, Value: outletOff}})
		checkPacket(t, res, err, gosnmp.NoAccess, 1, []vb{{oidOutlet + "1", gosnmp.Integer, "2"}})
	})
	// gosnmp's client verifies every reply against the user's key once it
	// knows the engine, so it rejects these noAuthNoPriv reports ("incoming
	// packet is not authentic") instead of returning ErrWrongDigest and
	// friends; TestV3Reports checks the reports themselves.
	for _, tt := range []struct {
		name   string
		mangle func(*USMUser)
		stat   func(Stats) uint64
	}{
		{"unknown user", func(u *USMUser) { u.Name = "mallory" }, func(s Stats) uint64 { return s.UnknownUserNames }},
		{"wrong auth passphrase", func(u *USMUser) { u.AuthPassphrase = "wrong-password" }, func(s Stats) uint64 { return s.WrongDigests }},
		{"wrong priv passphrase", func(u *USMUser) { u.PrivPassphrase = "wrong-password" }, func(s Stats) uint64 { return s.DecryptionErrors }},
		{"wrong auth protocol", func(u *USMUser) { u.AuthProtocol = gosnmp.SHA256 }, func(s Stats) uint64 { return s.WrongDigests }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := shaaes
			tt.mangle(&u)
			before := tt.stat(a.Stats())
			c := newV3Client(t, a, u, gosnmp.AuthPriv)
			c.Timeout = 200 * time.Millisecond
			if res, err := c.Get([]string{oidSysDescr}); err == nil {
				t.Errorf("request succeeded: %v", res.Variables)
			}
			if after := tt.stat(a.Stats()); after != before+1 {
				t.Errorf("counter went from %d to %d, want one more", before, after)
			}
		})
	}
}

func TestV3TimeWindowRecovery(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	u := testUser(t, "sha256aes256")
	// A client that remembers the engine from before a reboot: it skips
	// discovery, gets an authenticated notInTimeWindow report, resyncs and
	// retries.
	c := newV3Client(t, a, u, gosnmp.AuthPriv)
	sp := c.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	sp.AuthoritativeEngineID, sp.AuthoritativeEngineBoots, sp.AuthoritativeEngineTime = a.EngineID(), 0, 99999
	res, err := c.Get([]string{oidSysDescr})
	checkPacket(t, res, err, gosnmp.NoError, 0, []vb{{oidSysDescr, gosnmp.OctetString, "powerjockey simulated PDU"}})
	if s := a.Stats(); s.NotInTimeWindows != 1 || s.UnknownEngineIDs != 0 {
		t.Errorf("stats %+v, want exactly one notInTimeWindow and no discovery", s)
	}
}

func TestV3ContextAndUnknownPDU(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	u := testUser(t, "md5des")
	// A Response PDU sent to the agent is not answered.
	msg := v3Request{user: u, level: gosnmp.AuthPriv, pduType: gosnmp.GetResponse, oids: []string{oidSysDescr}}.encode(t, a)
	if reply := exchange(t, a, msg, 50*time.Millisecond); reply != nil {
		t.Error("a Response PDU was answered")
	}
	waitStats(t, a, func(s Stats) bool { return s.Malformed == 1 })

	// GetBulk over v3, answered at authPriv with DES.
	msg = v3Request{user: u, level: gosnmp.AuthPriv, pduType: gosnmp.GetBulkRequest, oids: []string{oidOutlet}}.encode(t, a)
	res := decodeV3Reply(t, u, gosnmp.AuthPriv, exchange(t, a, msg, time.Second))
	if res.PDUType != gosnmp.GetResponse || res.RequestID != 815 || res.ContextEngineID != a.EngineID() {
		t.Errorf("got %v request-id %d context engine %x", res.PDUType, res.RequestID, res.ContextEngineID)
	}
	// Max-repetitions is 0 in this request: only the engine's answer is
	// checked, not its length.
	if strings.Contains(res.SafeString(), "Error:TooBig") {
		t.Errorf("unexpected tooBig: %s", res.SafeString())
	}
}
