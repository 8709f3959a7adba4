package snmpagent

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// vb is an expected varbind: name without the leading dot, type, and the
// value as str renders it.
type vb struct {
	name  string
	typ   gosnmp.Asn1BER
	value string
}

func toVBs(pdus []gosnmp.SnmpPDU) []vb {
	out := make([]vb, len(pdus))
	for i, p := range pdus {
		out[i] = vb{strings.TrimPrefix(p.Name, "."), p.Type, str(p.Value)}
		if p.Value == nil {
			out[i].value = ""
		}
	}
	return out
}

func checkPacket(t *testing.T, got *gosnmp.SnmpPacket, err error, status gosnmp.SNMPError, index uint8, want []vb) {
	t.Helper()
	if err != nil {
		t.Fatalf("request failed: %v", err)
	}
	if got.Error != status || got.ErrorIndex != index {
		t.Errorf("error-status %v index %d, want %v index %d", got.Error, got.ErrorIndex, status, index)
	}
	if g := toVBs(got.Variables); !slices.Equal(g, want) {
		t.Errorf("varbinds\n got %v\nwant %v", g, want)
	}
}

var communityVersions = []struct {
	name    string
	version gosnmp.SnmpVersion
}{{"v1", gosnmp.Version1}, {"v2c", gosnmp.Version2c}}

func TestGet(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	for _, v := range communityVersions {
		t.Run(v.name, func(t *testing.T) {
			c := newClient(t, a, v.version, "public")
			res, err := c.Get([]string{oidSysDescr, oidSysObjectID, oidSysUpTime, oidWatts + "2", oidWatts + "3", oidIPAddress, oidCounter32})
			checkPacket(t, res, err, gosnmp.NoError, 0, []vb{
				{oidSysDescr, gosnmp.OctetString, "powerjockey simulated PDU"},
				{oidSysObjectID, gosnmp.ObjectIdentifier, ".1.3.6.1.4.1.99999"},
				{oidSysUpTime, gosnmp.TimeTicks, "12345"},
				{oidWatts + "2", gosnmp.Gauge32, "0"},
				{oidWatts + "3", gosnmp.Gauge32, "300"},
				{oidIPAddress, gosnmp.IPAddress, "192.0.2.7"},
				{oidCounter32, gosnmp.Counter32, "7"},
			})
		})
	}
}

func TestGetMissing(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	oids := []string{oidSysDescr, "1.3.6.1.2.1.1.1.5", "1.3.6.1.2.1.1.1", "1.3.6.1.2.1.99.1.0", oidCounter64}

	t.Run("v1", func(t *testing.T) {
		// The first missing varbind is reported; all come back as sent.
		res, err := newClient(t, a, gosnmp.Version1, "public").Get(oids)
		want := make([]vb, len(oids))
		for i, o := range oids {
			want[i] = vb{o, gosnmp.Null, ""}
		}
		checkPacket(t, res, err, gosnmp.NoSuchName, 2, want)

		// Counter64 does not exist for SNMPv1.
		res, err = newClient(t, a, gosnmp.Version1, "public").Get([]string{oidCounter64})
		checkPacket(t, res, err, gosnmp.NoSuchName, 1, []vb{{oidCounter64, gosnmp.Null, ""}})
	})
	t.Run("v2c", func(t *testing.T) {
		res, err := newClient(t, a, gosnmp.Version2c, "public").Get(oids)
		checkPacket(t, res, err, gosnmp.NoError, 0, []vb{
			{oidSysDescr, gosnmp.OctetString, "powerjockey simulated PDU"},
			{"1.3.6.1.2.1.1.1.5", gosnmp.NoSuchInstance, ""},
			{"1.3.6.1.2.1.1.1", gosnmp.NoSuchInstance, ""},
			{"1.3.6.1.2.1.99.1.0", gosnmp.NoSuchObject, ""},
			{oidCounter64, gosnmp.Counter64, "1099511627776"},
		})
	})
}

func TestGetNext(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)

	t.Run("v2c", func(t *testing.T) {
		c := newClient(t, a, gosnmp.Version2c, "public")
		res, err := c.GetNext([]string{"1.3.6.1.4.1.99999.1.9", "1.3.6.1.4.1.99999.2.9", oidLast, "1.3"})
		checkPacket(t, res, err, gosnmp.NoError, 0, []vb{
			// numeric order: .10 follows .9
			{oidTen, gosnmp.Gauge32, "10"},
			{oidCounter64, gosnmp.Counter64, "1099511627776"},
			{oidLast, gosnmp.EndOfMibView, ""},
			{oidSysDescr, gosnmp.OctetString, "powerjockey simulated PDU"},
		})
	})
	t.Run("v1", func(t *testing.T) {
		c := newClient(t, a, gosnmp.Version1, "public")
		// Counter64 is skipped.
		res, err := c.GetNext([]string{"1.3.6.1.4.1.99999.2.9"})
		checkPacket(t, res, err, gosnmp.NoError, 0, []vb{{oidIPAddress, gosnmp.IPAddress, "192.0.2.7"}})
		res, err = c.GetNext([]string{oidSysName, oidLast})
		checkPacket(t, res, err, gosnmp.NoSuchName, 2, []vb{{oidSysName, gosnmp.Null, ""}, {oidLast, gosnmp.Null, ""}})
	})
}

func TestWalk(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	withoutCounter64 := slices.DeleteFunc(slices.Clone(treeOIDs), func(o string) bool { return o == oidCounter64 })

	tests := []struct {
		name    string
		version gosnmp.SnmpVersion
		bulk    bool
		maxReps uint32
		want    []string
	}{
		{"v1 walk", gosnmp.Version1, false, 0, withoutCounter64},
		{"v2c walk", gosnmp.Version2c, false, 0, treeOIDs},
		{"v2c bulkwalk", gosnmp.Version2c, true, 0, treeOIDs},
		{"v2c bulkwalk 3 per request", gosnmp.Version2c, true, 3, treeOIDs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, a, tt.version, "public")
			c.MaxRepetitions = tt.maxReps
			walk := c.WalkAll
			if tt.bulk {
				walk = c.BulkWalkAll
			}
			res, err := walk("1.3.6.1")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res {
				got = append(got, strings.TrimPrefix(p.Name, "."))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("walk\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestGetBulk(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	c := newClient(t, a, gosnmp.Version2c, "public")

	// One non-repeater, two repeated columns, the second of which runs off
	// the end of the MIB in the second round.
	res, err := c.GetBulk([]string{oidSysDescr, oidOutlet + "0", oidCounter32}, 1, 3)
	checkPacket(t, res, err, gosnmp.NoError, 0, []vb{
		{oidSysObjectID, gosnmp.ObjectIdentifier, ".1.3.6.1.4.1.99999"},
		{oidOutlet + "1", gosnmp.Integer, "1"},
		{oidLast, gosnmp.Integer, "42"},
		{oidOutlet + "2", gosnmp.Integer, "2"},
		{oidLast, gosnmp.EndOfMibView, ""},
		{oidOutlet + "3", gosnmp.Integer, "1"},
		{oidLast, gosnmp.EndOfMibView, ""},
	})

	// Every column at the end stops the repetitions early.
	res, err = c.GetBulk([]string{oidLast}, 0, 50)
	checkPacket(t, res, err, gosnmp.NoError, 0, []vb{{oidLast, gosnmp.EndOfMibView, ""}})
}

func TestSet(t *testing.T) {
	for _, v := range communityVersions {
		t.Run(v.name, func(t *testing.T) {
			tree, pdu := newTestTree(t)
			a := startAgent(t, testConfig, tree)
			v1 := v.version == gosnmp.Version1
			pick := func(v1Status, v2Status gosnmp.SNMPError) gosnmp.SNMPError {
				if v1 {
					return v1Status
				}
				return v2Status
			}
			rw := newClient(t, a, v.version, "private")
			ro := newClient(t, a, v.version, "public")

			tests := []struct {
				name   string
				client *gosnmp.GoSNMP
				pdus   []gosnmp.SnmpPDU
				status gosnmp.SNMPError
				index  uint8
			}{
				{"read community", ro, []gosnmp.SnmpPDU{{Name: oidOutlet + "2", Type: gosnmp.Integer, Value: outletOn}},
					pick(gosnmp.NoSuchName, gosnmp.NoAccess), 1},
				{"read-only object", rw, []gosnmp.SnmpPDU{{Name: oidSysName, Type: gosnmp.OctetString, Value: "x"}},
					pick(gosnmp.NoSuchName, gosnmp.NotWritable), 1},
				{"absent object", rw, []gosnmp.SnmpPDU{{Name: "1.3.6.1.4.1.99999.8.0", Type: gosnmp.Integer, Value: 1}},
					pick(gosnmp.NoSuchName, gosnmp.NotWritable), 1},
				{"wrong type", rw, []gosnmp.SnmpPDU{{Name: oidOutlet + "2", Type: gosnmp.OctetString, Value: "on"}},
					pick(gosnmp.BadValue, gosnmp.WrongType), 1},
				{"wrong value", rw, []gosnmp.SnmpPDU{{Name: oidOutlet + "2", Type: gosnmp.Integer, Value: 7}},
					pick(gosnmp.BadValue, gosnmp.WrongValue), 1},
				{"second varbind bad, first not applied", rw, []gosnmp.SnmpPDU{
					{Name: oidOutlet + "2", Type: gosnmp.Integer, Value: outletOn},
					{Name: oidOutlet + "3", Type: gosnmp.Integer, Value: 9},
				}, pick(gosnmp.BadValue, gosnmp.WrongValue), 2},
			}
			for _, tt := range tests {
				res, err := tt.client.Set(tt.pdus)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if res.Error != tt.status || res.ErrorIndex != tt.index {
					t.Errorf("%s: got %v index %d, want %v index %d", tt.name, res.Error, res.ErrorIndex, tt.status, tt.index)
				}
				if pdu.outlet(1) != outletOff {
					t.Fatalf("%s: outlet 2 switched by a failed SET", tt.name)
				}
			}

			res, err := rw.Set([]gosnmp.SnmpPDU{
				{Name: oidOutlet + "2", Type: gosnmp.Integer, Value: outletOn},
				{Name: oidSysContact, Type: gosnmp.OctetString, Value: "noc@example.net"},
			})
			checkPacket(t, res, err, gosnmp.NoError, 0, []vb{
				{oidOutlet + "2", gosnmp.Integer, "1"},
				{oidSysContact, gosnmp.OctetString, "noc@example.net"},
			})
			res, err = ro.Get([]string{oidOutlet + "2", oidWatts + "2", oidSysContact})
			checkPacket(t, res, err, gosnmp.NoError, 0, []vb{
				{oidOutlet + "2", gosnmp.Integer, "1"},
				{oidWatts + "2", gosnmp.Gauge32, "200"},
				{oidSysContact, gosnmp.OctetString, "noc@example.net"},
			})
		})
	}
}

// failingSetMIB fails Set (after CheckSet passed) on one OID.
type failingSetMIB struct {
	*Tree
	failOn string
}

func (m failingSetMIB) Set(oid string, v Variable) gosnmp.SNMPError {
	if oid == m.failOn {
		return gosnmp.ResourceUnavailable
	}
	return m.Tree.Set(oid, v)
}

func TestSetCommitFailure(t *testing.T) {
	tree, pdu := newTestTree(t)
	a := startAgent(t, testConfig, failingSetMIB{tree, oidOutlet + "3"})
	set := []gosnmp.SnmpPDU{
		{Name: oidOutlet + "2", Type: gosnmp.Integer, Value: outletOn},
		{Name: oidOutlet + "3", Type: gosnmp.Integer, Value: outletOff},
	}
	res, err := newClient(t, a, gosnmp.Version2c, "private").Set(set)
	if err != nil {
		t.Fatal(err)
	}
	// Outlet 2 was switched and cannot be switched back.
	if res.Error != gosnmp.UndoFailed || res.ErrorIndex != 2 || pdu.outlet(1) != outletOn {
		t.Errorf("got %v index %d, outlet 2 = %d; want undoFailed index 2, outlet on", res.Error, res.ErrorIndex, pdu.outlet(1))
	}
	res, err = newClient(t, a, gosnmp.Version2c, "private").Set(set[1:])
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.CommitFailed || res.ErrorIndex != 1 {
		t.Errorf("got %v index %d, want commitFailed index 1", res.Error, res.ErrorIndex)
	}
	res, err = newClient(t, a, gosnmp.Version1, "private").Set(set[1:])
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != gosnmp.GenErr || res.ErrorIndex != 1 {
		t.Errorf("v1: got %v index %d, want genErr index 1", res.Error, res.ErrorIndex)
	}
}

// badValueMIB serves a value whose Go type does not fit its SNMP type.
type badValueMIB struct{ *Tree }

func (m badValueMIB) Get(oid string) (Variable, bool) {
	if oid == oidSysName {
		return Variable{Type: gosnmp.ObjectIdentifier, Value: 42}, true
	}
	return m.Tree.Get(oid)
}

func TestBadMIBValueIsGenErr(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, badValueMIB{tree})
	res, err := newClient(t, a, gosnmp.Version2c, "public").Get([]string{oidSysDescr, oidSysName})
	checkPacket(t, res, err, gosnmp.GenErr, 2, []vb{{oidSysDescr, gosnmp.Null, ""}, {oidSysName, gosnmp.Null, ""}})
}

func TestWrongCommunityIsDropped(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	for _, v := range communityVersions {
		c := newClient(t, a, v.version, "guess")
		c.Timeout = 100 * time.Millisecond
		if _, err := c.Get([]string{oidSysDescr}); err == nil {
			t.Errorf("%s: request with a wrong community was answered", v.name)
		}
	}
	s := waitStats(t, a, func(s Stats) bool { return s.UnknownCommunity == 2 })
	if s.Responses != 0 {
		t.Errorf("stats %+v: responses sent", s)
	}
}

func TestReadOnlyAgent(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, Config{Listen: "127.0.0.1:0", ReadCommunity: "public"}, tree)
	// An empty write community must not match an empty community.
	c := newClient(t, a, gosnmp.Version2c, "")
	c.Timeout = 100 * time.Millisecond
	if _, err := c.Set([]gosnmp.SnmpPDU{{Name: oidOutlet + "1", Type: gosnmp.Integer, Value: 2}}); err == nil {
		t.Error("SET with an empty community was answered")
	}
	waitStats(t, a, func(s Stats) bool { return s.UnknownCommunity == 1 })
}

func TestTooBig(t *testing.T) {
	tree := NewTree()
	long := strings.Repeat("x", 200)
	for i := range 10 {
		if err := tree.SetValue("1.3.6.1.4.1.99999.7."+string(rune('0'+i)), Variable{Type: gosnmp.OctetString, Value: long}); err != nil {
			t.Fatal(err)
		}
	}
	a := startAgent(t, testConfig, tree, WithMaxMessageSize(484))
	oids := []string{"1.3.6.1.4.1.99999.7.0", "1.3.6.1.4.1.99999.7.1", "1.3.6.1.4.1.99999.7.2"}

	t.Run("v2c get", func(t *testing.T) {
		res, err := newClient(t, a, gosnmp.Version2c, "public").Get(oids)
		checkPacket(t, res, err, gosnmp.TooBig, 0, []vb{})
	})
	t.Run("v1 get", func(t *testing.T) {
		res, err := newClient(t, a, gosnmp.Version1, "public").Get(oids)
		checkPacket(t, res, err, gosnmp.TooBig, 0, []vb{{oids[0], gosnmp.Null, ""}, {oids[1], gosnmp.Null, ""}, {oids[2], gosnmp.Null, ""}})
	})
	t.Run("v2c bulk is cut short", func(t *testing.T) {
		c := newClient(t, a, gosnmp.Version2c, "public")
		res, err := c.GetBulk([]string{"1.3.6.1.4.1.99999.7"}, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if res.Error != gosnmp.NoError || len(res.Variables) != 2 {
			t.Errorf("got %v with %d varbinds, want noError with 2", res.Error, len(res.Variables))
		}
		c.MaxRepetitions = 10
		all, err := c.BulkWalkAll("1.3.6.1.4.1.99999.7")
		if err != nil || len(all) != 10 {
			t.Errorf("bulkwalk got %d varbinds, err %v; want 10", len(all), err)
		}
	})
	t.Run("v3 msgMaxSize", func(t *testing.T) {
		// The agent allows 65507, the request only 484.
		a := startAgent(t, testConfig, tree)
		u := testUser(t, "shaaes")
		msg := encodeV3(t, a, u, gosnmp.AuthPriv, 484, oids)
		res := decodeV3Reply(t, u, gosnmp.AuthPriv, exchange(t, a, msg, time.Second))
		if res.PDUType != gosnmp.GetResponse || res.Error != gosnmp.TooBig || len(res.Variables) != 0 {
			t.Errorf("got %v %v with %d varbinds, want a tooBig response", res.PDUType, res.Error, len(res.Variables))
		}
	})
}

func TestTooManyVarbinds(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	c := newClient(t, a, gosnmp.Version2c, "public")
	c.MaxOids = 300
	oids := make([]string, 256)
	for i := range oids {
		oids[i] = oidSysDescr
	}
	res, err := c.Get(oids)
	checkPacket(t, res, err, gosnmp.TooBig, 0, []vb{})
	res, err = c.Get(oids[:255])
	if err != nil || res.Error != gosnmp.NoError || len(res.Variables) != 255 {
		t.Errorf("255 varbinds: err %v, status %v, %d varbinds", err, res.Error, len(res.Variables))
	}
}

func TestFaultInjection(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	c := newClient(t, a, gosnmp.Version2c, "public")

	t.Run("drop all", func(t *testing.T) {
		a.SetDropAll(true)
		c.Timeout = 100 * time.Millisecond
		if _, err := c.Get([]string{oidSysDescr}); err == nil {
			t.Fatal("dropping agent answered")
		}
		waitStats(t, a, func(s Stats) bool { return s.Dropped == 1 })
		a.SetDropAll(false)
		c.Timeout = time.Second
		if _, err := c.Get([]string{oidSysDescr}); err != nil {
			t.Fatalf("agent did not recover: %v", err)
		}
	})
	t.Run("delay", func(t *testing.T) {
		const delay = 200 * time.Millisecond
		a.SetResponseDelay(delay)
		defer a.SetResponseDelay(0)
		c.Timeout = 50 * time.Millisecond
		if _, err := c.Get([]string{oidSysDescr}); err == nil {
			t.Fatal("slow agent answered within the client's timeout")
		}
		// Let the late answer to the timed-out request arrive and be
		// discarded before the next request.
		time.Sleep(delay)
		c.Timeout = 2 * time.Second
		start := time.Now()
		if _, err := c.Get([]string{oidSysDescr}); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < delay {
			t.Errorf("response came after %v, want at least %v", took, delay)
		}
	})
}

func TestMalformedDatagrams(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	valid, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}).
		SnmpEncodePacket(gosnmp.GetRequest, []gosnmp.SnmpPDU{{Name: oidSysDescr, Type: gosnmp.Null}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	response, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: "public"}).
		SnmpEncodePacket(gosnmp.GetResponse, []gosnmp.SnmpPDU{{Name: oidSysDescr, Type: gosnmp.Null}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	bulkV1 := bytes.Clone(valid)
	bulkV1[4] = 0 // version 1 ...
	bulkV1[bytes.IndexByte(bulkV1, byte(gosnmp.GetRequest))] = byte(gosnmp.GetBulkRequest)
	junk := [][]byte{
		{},
		{0x30},
		{0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},
		[]byte("GET / HTTP/1.0\r\n\r\n"),
		valid[:len(valid)-1],
		append(bytes.Clone(valid), 0),
		response,
		bulkV1,
		{0x30, 0x03, 0x02, 0x01, 0x07}, // version 7
		{0x30, 0x03, 0x02, 0x01, 0x03}, // v3 with nothing else
	}
	for i, msg := range junk {
		if reply := exchange(t, a, msg, 20*time.Millisecond); reply != nil {
			t.Errorf("junk %d was answered", i)
		}
	}
	waitStats(t, a, func(s Stats) bool { return s.Malformed == uint64(len(junk)) })
	if reply := exchange(t, a, valid, time.Second); reply == nil {
		t.Error("valid request after junk was not answered")
	}
}

func TestServeLifecycle(t *testing.T) {
	tree, _ := newTestTree(t)
	a, err := New(testConfig, tree)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	if _, err := newClient(t, a, gosnmp.Version2c, "public").Get([]string{oidSysDescr}); err != nil {
		t.Fatal(err)
	}
	if err := a.Serve(ctx); err == nil {
		t.Error("second Serve did not fail")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after cancel", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	a.Close() // again, after Serve closed it: must not panic

	// Close alone also ends Serve.
	b, err := New(testConfig, tree)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- b.Serve(context.Background()) }()
	b.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after Close", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
}

func TestNewValidation(t *testing.T) {
	tree := NewTree()
	long := strings.Repeat("c", 128)
	tests := []struct {
		name string
		cfg  Config
		mib  MIB
		opts []Option
	}{
		{"no listen", Config{}, tree, nil},
		{"bad listen", Config{Listen: "nonsense"}, tree, nil},
		{"nil MIB", Config{Listen: "127.0.0.1:0"}, nil, nil},
		{"long community", Config{Listen: "127.0.0.1:0", ReadCommunity: long}, tree, nil},
		{"short engine ID", Config{Listen: "127.0.0.1:0", EngineID: "abcd"}, tree, nil},
		{"long engine ID", Config{Listen: "127.0.0.1:0", EngineID: strings.Repeat("e", 33)}, tree, nil},
		{"boots at limit", Config{Listen: "127.0.0.1:0", EngineBoots: 1<<31 - 1}, tree, nil},
		{"small max size", Config{Listen: "127.0.0.1:0"}, tree, []Option{WithMaxMessageSize(100)}},
		{"unnamed user", Config{Listen: "127.0.0.1:0", Users: []USMUser{{}}}, tree, nil},
		{"duplicate user", Config{Listen: "127.0.0.1:0", Users: []USMUser{{Name: "a"}, {Name: "a"}}}, tree, nil},
		{"short passphrase", Config{Listen: "127.0.0.1:0", Users: []USMUser{{Name: "a", AuthProtocol: gosnmp.SHA, AuthPassphrase: "short"}}}, tree, nil},
		{"priv without auth", Config{Listen: "127.0.0.1:0", Users: []USMUser{{Name: "a", PrivProtocol: gosnmp.AES, PrivPassphrase: "privpass1"}}}, tree, nil},
		{"unknown auth", Config{Listen: "127.0.0.1:0", Users: []USMUser{{Name: "a", AuthProtocol: 99, AuthPassphrase: "authpass1"}}}, tree, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg, tt.mib, tt.opts...)
			if err == nil {
				a.Close()
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestEngineID(t *testing.T) {
	if deriveEngineID("127.0.0.1:1161") != deriveEngineID("127.0.0.1:1161") {
		t.Error("derived engine ID is not deterministic")
	}
	if deriveEngineID("127.0.0.1:1161") == deriveEngineID("127.0.0.1:1162") {
		t.Error("two addresses share an engine ID")
	}
	if n := len(deriveEngineID("[::1]:1161")); n < 5 || n > 32 {
		t.Errorf("derived engine ID has %d octets", n)
	}
	tree := NewTree()
	a, err := New(Config{Listen: "127.0.0.1:0", EngineID: "\x80\x00\x1f\x88\x04sim"}, tree)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.EngineID() != "\x80\x00\x1f\x88\x04sim" {
		t.Errorf("configured engine ID not used: %x", a.EngineID())
	}
}

// TestSetAnswer checks that an object's Answer replaces the echo of a
// successful SET: the agent then behaves like the misbehaving agents a
// manager must not trust (noError with an exception varbind, or another
// value than the one written).
func TestSetAnswer(t *testing.T) {
	tree := NewTree()
	var written atomic.Int32 // set by the agent's goroutine
	for oid, answer := range map[string]func(any) Variable{
		"1.3.6.1.4.1.99.1": func(any) Variable { return Variable{Type: gosnmp.NoSuchInstance} },
		"1.3.6.1.4.1.99.2": func(any) Variable { return Variable{Type: gosnmp.Integer, Value: 7} },
		"1.3.6.1.4.1.99.3": nil,
	} {
		if err := tree.Register(oid, Object{Type: gosnmp.Integer, Value: 0, Answer: answer,
			Set: func(any) gosnmp.SNMPError { written.Add(1); return gosnmp.NoError }}); err != nil {
			t.Fatal(err)
		}
	}
	a := startAgent(t, testConfig, tree)
	c := newClient(t, a, gosnmp.Version2c, "private")
	tests := []struct {
		oid  string
		typ  gosnmp.Asn1BER
		want any
	}{
		{"1.3.6.1.4.1.99.1", gosnmp.NoSuchInstance, nil},
		{"1.3.6.1.4.1.99.2", gosnmp.Integer, 7},
		{"1.3.6.1.4.1.99.3", gosnmp.Integer, 2},
	}
	for _, tt := range tests {
		res, err := c.Set([]gosnmp.SnmpPDU{{Name: tt.oid, Type: gosnmp.Integer, Value: 2}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Error != gosnmp.NoError || len(res.Variables) != 1 {
			t.Fatalf("%s: error %v, %d varbinds", tt.oid, res.Error, len(res.Variables))
		}
		v := res.Variables[0]
		if v.Type != tt.typ || (tt.want != nil && v.Value != tt.want) {
			t.Errorf("%s answered %v %v, want %v %v", tt.oid, v.Type, v.Value, tt.typ, tt.want)
		}
	}
	if n := written.Load(); n != 3 {
		t.Errorf("Set ran %d times, want 3 (the answer does not undo the write)", n)
	}
}
