package snmpagent

import (
	"math"
	"net"
	"slices"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestTreeOrder(t *testing.T) {
	tree := NewTree()
	// Registered in an order where string sorting would be wrong.
	oids := []string{"1.3.6.1.10", "1.3.6.1.9", "1.3.6.1.9.1", "1.3.6.1.100", "1.3.6.2", "1.3.6.1.1.4294967295", "1.3.6.1.1"}
	for i, o := range oids {
		if err := tree.SetValue(o, Variable{Type: gosnmp.Integer, Value: i}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"1.3.6.1.1", "1.3.6.1.1.4294967295", "1.3.6.1.9", "1.3.6.1.9.1", "1.3.6.1.10", "1.3.6.1.100", "1.3.6.2"}
	var got []string
	for o, _, ok := tree.Next("0.0"); ok; o, _, ok = tree.Next(o) {
		got = append(got, o)
	}
	if !slices.Equal(got, want) {
		t.Errorf("walk order\n got %v\nwant %v", got, want)
	}

	tests := []struct {
		after, next string
		ok          bool
	}{
		{"1.3.6.1.9", "1.3.6.1.9.1", true},
		{"1.3.6.1.9.1", "1.3.6.1.10", true},
		{"1.3.6.1.9.0.5", "1.3.6.1.9.1", true}, // need not exist
		{"1.3.6.1.11", "1.3.6.1.100", true},
		{".1.3.6.1.1", "1.3.6.1.1.4294967295", true}, // leading dot tolerated
		{"1.3.6.2", "", false},
		{"2.0", "", false},
		{"not.an.oid", "", false},
	}
	for _, tt := range tests {
		next, _, ok := tree.Next(tt.after)
		if next != tt.next || ok != tt.ok {
			t.Errorf("Next(%s) = %q, %v; want %q, %v", tt.after, next, ok, tt.next, tt.ok)
		}
	}

	if v, ok := tree.Get("1.3.6.1.100"); !ok || v.Value != 3 {
		t.Errorf("Get = %v, %v", v, ok)
	}
	if _, ok := tree.Get("1.3.6.1.100.0"); ok {
		t.Error("Get of an absent OID succeeded")
	}
	if !tree.Remove("1.3.6.1.9.1") || tree.Remove("1.3.6.1.9.1") {
		t.Error("Remove did not report correctly")
	}
	if next, _, _ := tree.Next("1.3.6.1.9"); next != "1.3.6.1.10" {
		t.Errorf("after Remove, Next(1.3.6.1.9) = %s", next)
	}
	// Re-registering replaces.
	if err := tree.SetValue("1.3.6.1.10", Variable{Type: gosnmp.OctetString, Value: "ten"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := tree.Get("1.3.6.1.10"); v.Type != gosnmp.OctetString {
		t.Errorf("replaced object has type %v", v.Type)
	}
}

func TestTreeRegisterErrors(t *testing.T) {
	tree := NewTree()
	bad := []struct {
		oid string
		obj Object
	}{
		{"", Object{Type: gosnmp.Integer, Value: 1}},
		{"1", Object{Type: gosnmp.Integer, Value: 1}},
		{"1.3.x", Object{Type: gosnmp.Integer, Value: 1}},
		{"1..3", Object{Type: gosnmp.Integer, Value: 1}},
		{"1.3.-1", Object{Type: gosnmp.Integer, Value: 1}},
		{"1.3.+1", Object{Type: gosnmp.Integer, Value: 1}},
		{"1.3.4294967296", Object{Type: gosnmp.Integer, Value: 1}},
		{"3.1", Object{Type: gosnmp.Integer, Value: 1}},
		{"1.40", Object{Type: gosnmp.Integer, Value: 1}},
		{"1.3", Object{Type: gosnmp.Integer, Value: "one"}}, // static value of the wrong Go type
		{"1.3", Object{Type: gosnmp.Integer, Value: int64(1) << 40}},
		{"1.3", Object{Type: gosnmp.Asn1BER(0x99), Value: 1}}, // unknown type
	}
	for _, b := range bad {
		if err := tree.Register(b.oid, b.obj); err == nil {
			t.Errorf("Register(%q, %+v) succeeded", b.oid, b.obj)
		}
	}
	long := "1.3"
	for range maxOIDArcs - 2 {
		long += ".1"
	}
	if err := tree.SetValue(long, Variable{Type: gosnmp.Null}); err != nil {
		t.Errorf("%d arcs: %v", maxOIDArcs, err)
	}
	if err := tree.SetValue(long+".1", Variable{Type: gosnmp.Null}); err == nil {
		t.Errorf("%d arcs accepted", maxOIDArcs+1)
	}
}

func TestTreeSet(t *testing.T) {
	tree := NewTree()
	var stored any
	checked := 0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tree.SetValue("1.3.1", Variable{Type: gosnmp.Integer, Value: 1}))
	must(tree.Register("1.3.2", Object{
		Type: gosnmp.Integer,
		Get:  func() any { return stored },
		Check: func(v any) gosnmp.SNMPError {
			checked++
			if v.(int) < 0 {
				return gosnmp.WrongValue
			}
			return gosnmp.NoError
		},
		Set: func(v any) gosnmp.SNMPError { stored = v; return gosnmp.NoError },
	}))
	tests := []struct {
		oid    string
		v      Variable
		status gosnmp.SNMPError
	}{
		{"1.3.1", Variable{Type: gosnmp.Integer, Value: 2}, gosnmp.NotWritable},
		{"1.3.9", Variable{Type: gosnmp.Integer, Value: 2}, gosnmp.NotWritable},
		{"1.3.2", Variable{Type: gosnmp.Gauge32, Value: uint32(2)}, gosnmp.WrongType},
		{"1.3.2", Variable{Type: gosnmp.Integer, Value: -2}, gosnmp.WrongValue},
	}
	for _, tt := range tests {
		if got := tree.CheckSet(tt.oid, tt.v); got != tt.status {
			t.Errorf("CheckSet(%s, %v) = %v, want %v", tt.oid, tt.v, got, tt.status)
		}
		if got := tree.Set(tt.oid, tt.v); got != tt.status {
			t.Errorf("Set(%s, %v) = %v, want %v", tt.oid, tt.v, got, tt.status)
		}
	}
	if stored != nil {
		t.Fatalf("a refused Set stored %v", stored)
	}
	if got := tree.Set("1.3.2", Variable{Type: gosnmp.Integer, Value: 5}); got != gosnmp.NoError {
		t.Fatal(got)
	}
	if v, _ := tree.Get("1.3.2"); v.Value != 5 {
		t.Errorf("Get after Set = %v", v.Value)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   Variable
		want any // nil with ok false means an error is expected
		ok   bool
	}{
		{Variable{gosnmp.Integer, 5}, 5, true},
		{Variable{gosnmp.Integer, uint8(5)}, 5, true}, // gosnmp itself panics on this
		{Variable{gosnmp.Integer, int64(-7)}, -7, true},
		{Variable{gosnmp.Integer, int64(math.MaxInt32) + 1}, nil, false},
		{Variable{gosnmp.Integer, "5"}, nil, false},
		{Variable{gosnmp.Gauge32, 300}, uint32(300), true},
		{Variable{gosnmp.Counter32, uint(7)}, uint32(7), true}, // how gosnmp decodes Counter32
		{Variable{gosnmp.TimeTicks, -1}, nil, false},
		{Variable{gosnmp.Gauge32, uint64(math.MaxUint32) + 1}, nil, false},
		{Variable{gosnmp.Counter64, uint64(math.MaxUint64)}, uint64(math.MaxUint64), true},
		{Variable{gosnmp.Counter64, 12}, uint64(12), true},
		{Variable{gosnmp.Counter64, -12}, nil, false},
		{Variable{gosnmp.OctetString, "abc"}, "abc", true},
		{Variable{gosnmp.OctetString, []byte("abc")}, "abc", true},
		{Variable{gosnmp.OctetString, 3}, nil, false},
		{Variable{gosnmp.ObjectIdentifier, ".1.3.6.1"}, "1.3.6.1", true},
		{Variable{gosnmp.ObjectIdentifier, []byte("1.3")}, nil, false}, // gosnmp itself panics on this
		{Variable{gosnmp.ObjectIdentifier, "1.3.x"}, nil, false},
		{Variable{gosnmp.IPAddress, "192.0.2.1"}, "192.0.2.1", true},
		{Variable{gosnmp.IPAddress, net.IPv4(192, 0, 2, 2)}, "192.0.2.2", true},
		{Variable{gosnmp.IPAddress, []byte{192, 0, 2, 3}}, "192.0.2.3", true},
		{Variable{gosnmp.IPAddress, "2001:db8::1"}, nil, false},
		{Variable{gosnmp.OpaqueFloat, float32(1.5)}, float32(1.5), true},
		{Variable{gosnmp.OpaqueDouble, float32(1.5)}, nil, false},
		{Variable{gosnmp.Null, "ignored"}, nil, true},
		{Variable{gosnmp.EndOfMibView, nil}, nil, true},
		{Variable{gosnmp.UnknownType, nil}, nil, false},
	}
	for _, tt := range tests {
		got, err := normalize(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("normalize(%v %#v): err %v, want ok %v", tt.in.Type, tt.in.Value, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		if b, isBytes := got.Value.([]byte); isBytes {
			got.Value = string(b)
		}
		if got.Value != tt.want || got.Type != tt.in.Type {
			t.Errorf("normalize(%v %#v) = %v %#v, want %#v", tt.in.Type, tt.in.Value, got.Type, got.Value, tt.want)
		}
	}
}

func TestSNMPStatus(t *testing.T) {
	tests := []struct {
		in, v1, v2 gosnmp.SNMPError
	}{
		{gosnmp.NoError, gosnmp.NoError, gosnmp.NoError},
		{gosnmp.NotWritable, gosnmp.NoSuchName, gosnmp.NotWritable},
		{gosnmp.NoAccess, gosnmp.NoSuchName, gosnmp.NoAccess},
		{gosnmp.NoCreation, gosnmp.NoSuchName, gosnmp.NoCreation},
		{gosnmp.WrongType, gosnmp.BadValue, gosnmp.WrongType},
		{gosnmp.WrongValue, gosnmp.BadValue, gosnmp.WrongValue},
		{gosnmp.InconsistentValue, gosnmp.BadValue, gosnmp.InconsistentValue},
		{gosnmp.ResourceUnavailable, gosnmp.GenErr, gosnmp.ResourceUnavailable},
		{gosnmp.CommitFailed, gosnmp.GenErr, gosnmp.CommitFailed},
		{gosnmp.NoSuchName, gosnmp.NoSuchName, gosnmp.NotWritable},
		{gosnmp.BadValue, gosnmp.BadValue, gosnmp.WrongValue},
		{gosnmp.ReadOnly, gosnmp.NoSuchName, gosnmp.NotWritable},
		{gosnmp.SNMPError(200), gosnmp.GenErr, gosnmp.GenErr},
	}
	for _, tt := range tests {
		if got := snmpStatus(tt.in, true); got != tt.v1 {
			t.Errorf("v1 %v -> %v, want %v", tt.in, got, tt.v1)
		}
		if got := snmpStatus(tt.in, false); got != tt.v2 {
			t.Errorf("v2 %v -> %v, want %v", tt.in, got, tt.v2)
		}
	}
}

func TestParseV3HeaderRejects(t *testing.T) {
	good := encodeV3Request(t, v3Request{user: testUser(t, "shaaes"), level: gosnmp.AuthPriv, oids: []string{oidSysDescr}},
		"\x80\x00\x00\x00\x05engine", 1, 0)
	h, err := parseV3Header(good)
	if err != nil {
		t.Fatal(err)
	}
	if h.user != "shaaes" || h.engineID != "\x80\x00\x00\x00\x05engine" || h.msgID != 4711 || h.level() != gosnmp.AuthPriv || h.authEnd-h.authStart != 12 {
		t.Errorf("parsed %+v", h)
	}
	for cut := range good {
		// Every truncation fails somewhere: in the header or, past it, in
		// the outer SEQUENCE's length.
		if _, err := parseV3Header(good[:cut]); err == nil {
			t.Errorf("truncation to %d bytes parsed", cut)
		}
	}
}
