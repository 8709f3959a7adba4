package snmpagent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gosnmp/gosnmp"
)

// Variable is one value served or written.
//
// Type is the SNMP syntax; Value holds the Go form gosnmp uses for it:
// int for Integer; uint32 for Counter32, Gauge32, TimeTicks and Uinteger32;
// uint64 for Counter64; []byte or string for OctetString and Opaque; a numeric
// OID string for ObjectIdentifier; a dotted IPv4 string for IPAddress; nil for
// Null. The agent accepts any Go integer type where an integer is due and
// converts it, so a getter may return what is convenient. Values decoded from
// a SET arrive normalized: int, uint32, uint64, []byte, OID strings without a
// leading dot.
type Variable struct {
	Type  gosnmp.Asn1BER
	Value any
}

// MIB is what an Agent serves. OIDs are numeric strings without a leading
// dot, e.g. "1.3.6.1.2.1.1.1.0".
//
// One Agent calls its MIB from a single goroutine, one request at a time, so
// a multi-varbind SET sees no reads in between its CheckSet and Set calls.
type MIB interface {
	// Get returns the value at exactly oid. A MIB may return a Variable of
	// type gosnmp.NoSuchObject or gosnmp.NoSuchInstance to choose the
	// exception itself; ok == false lets the agent choose.
	Get(oid string) (v Variable, ok bool)
	// Next returns the first OID strictly after oid in numeric order
	// (1.3.6.1.10 sorts after 1.3.6.1.9), and its value. oid need not exist.
	Next(oid string) (next string, v Variable, ok bool)
	// CheckSet reports whether Set(oid, v) would succeed, without side
	// effects. The agent checks every varbind of a SET before applying any.
	// It returns gosnmp.NoError or an SNMPv2 error status such as
	// gosnmp.NotWritable, gosnmp.WrongType or gosnmp.WrongValue; the agent
	// translates for SNMPv1.
	CheckSet(oid string, v Variable) gosnmp.SNMPError
	// Set writes v at oid. It is called only after CheckSet accepted every
	// varbind of the request; a failure here leaves the earlier varbinds
	// applied and is reported as commitFailed or undoFailed.
	Set(oid string, v Variable) gosnmp.SNMPError
}

// SetAnswerer is implemented by a MIB that chooses the varbinds a
// successful SET is answered with. Without it the agent echoes the values
// written, as RFC 3416 §4.2.5 requires; a MIB implements it to imitate
// agents that do not.
type SetAnswerer interface {
	SetAnswer(oid string, written Variable) Variable
}

// Object is one OID served by a Tree.
type Object struct {
	// Type is the object's syntax. SETs with another type fail with wrongType.
	Type gosnmp.Asn1BER
	// Value is served when Get is nil.
	Value any
	// Get, when set, computes the value on every read, so a simulated device
	// can report live state (an outlet's status, its watts).
	Get func() any
	// Set, when set, makes the object writable. It receives a value already
	// checked to be of Type and accepted by Check; it may still fail, e.g.
	// with gosnmp.ResourceUnavailable.
	Set func(v any) gosnmp.SNMPError
	// Check, when set, validates a value before any varbind of a SET is
	// applied, e.g. returning gosnmp.WrongValue for an unknown outlet command.
	Check func(v any) gosnmp.SNMPError
	// Answer, when set, chooses the varbind a successful SET of this object
	// is answered with instead of the value written. It imitates agents
	// that acknowledge a SET with error-status noError but an exception
	// (noSuchInstance) or another value, so that managers can be tested
	// against them.
	Answer func(written any) Variable
}

// Tree is a MIB held as a sorted list of objects. It is safe for concurrent
// use; the Get, Set and Check callbacks run without the Tree's lock held, so
// they may themselves use the Tree.
type Tree struct {
	mu      sync.RWMutex
	entries []treeEntry // sorted by numeric OID
}

type treeEntry struct {
	oid  string
	arcs []uint32
	obj  Object
}

var (
	_ MIB         = (*Tree)(nil)
	_ SetAnswerer = (*Tree)(nil)
)

// NewTree returns an empty Tree.
func NewTree() *Tree { return &Tree{} }

// Register serves obj at oid, replacing any object already there.
func (t *Tree) Register(oid string, obj Object) error {
	arcs, err := parseOID(oid)
	if err != nil {
		return fmt.Errorf("register %q: %w", oid, err)
	}
	if obj.Get == nil {
		if _, err := normalize(Variable{Type: obj.Type, Value: obj.Value}); err != nil {
			return fmt.Errorf("register %q: %w", oid, err)
		}
	}
	e := treeEntry{oid: formatOID(arcs), arcs: arcs, obj: obj}
	t.mu.Lock()
	defer t.mu.Unlock()
	i, found := slices.BinarySearchFunc(t.entries, arcs, func(e treeEntry, arcs []uint32) int {
		return slices.Compare(e.arcs, arcs)
	})
	if found {
		t.entries[i] = e
	} else {
		t.entries = slices.Insert(t.entries, i, e)
	}
	return nil
}

// SetValue serves the static, read-only value v at oid. It is shorthand for
// Register with only Type and Value, and also how a simulation updates a
// static value.
func (t *Tree) SetValue(oid string, v Variable) error {
	return t.Register(oid, Object{Type: v.Type, Value: v.Value})
}

// Remove stops serving oid. It reports whether oid was served.
func (t *Tree) Remove(oid string) bool {
	arcs, err := parseOID(oid)
	if err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	i, found := t.search(arcs)
	if found {
		t.entries = slices.Delete(t.entries, i, i+1)
	}
	return found
}

// search returns the index of arcs in t.entries, or where it would be
// inserted. t.mu must be held.
func (t *Tree) search(arcs []uint32) (int, bool) {
	return slices.BinarySearchFunc(t.entries, arcs, func(e treeEntry, arcs []uint32) int {
		return slices.Compare(e.arcs, arcs)
	})
}

// lookup returns a copy of the entry at oid.
func (t *Tree) lookup(oid string) (treeEntry, bool) {
	arcs, err := parseOID(oid)
	if err != nil {
		return treeEntry{}, false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	i, found := t.search(arcs)
	if !found {
		return treeEntry{}, false
	}
	return t.entries[i], true
}

// Get implements MIB.
func (t *Tree) Get(oid string) (Variable, bool) {
	e, ok := t.lookup(oid)
	if !ok {
		return Variable{}, false
	}
	return e.value(), true
}

// Next implements MIB.
func (t *Tree) Next(oid string) (string, Variable, bool) {
	arcs, err := parseOID(oid)
	if err != nil {
		return "", Variable{}, false
	}
	t.mu.RLock()
	i, found := t.search(arcs)
	if found {
		i++
	}
	if i >= len(t.entries) {
		t.mu.RUnlock()
		return "", Variable{}, false
	}
	e := t.entries[i]
	t.mu.RUnlock()
	return e.oid, e.value(), true
}

// CheckSet implements MIB.
func (t *Tree) CheckSet(oid string, v Variable) gosnmp.SNMPError {
	e, ok := t.lookup(oid)
	return e.checkSet(ok, v)
}

// SetAnswer implements SetAnswerer: the object's Answer, or the value
// written.
func (t *Tree) SetAnswer(oid string, written Variable) Variable {
	e, ok := t.lookup(oid)
	if !ok || e.obj.Answer == nil {
		return written
	}
	return e.obj.Answer(written.Value)
}

// Set implements MIB.
func (t *Tree) Set(oid string, v Variable) gosnmp.SNMPError {
	e, ok := t.lookup(oid)
	if status := e.checkSet(ok, v); status != gosnmp.NoError {
		return status
	}
	return e.obj.Set(v.Value)
}

func (e treeEntry) checkSet(found bool, v Variable) gosnmp.SNMPError {
	switch {
	case !found || e.obj.Set == nil:
		// net-snmp answers notWritable for absent scalars as well.
		return gosnmp.NotWritable
	case v.Type != e.obj.Type:
		return gosnmp.WrongType
	case e.obj.Check != nil:
		return e.obj.Check(v.Value)
	}
	return gosnmp.NoError
}

func (e treeEntry) value() Variable {
	if e.obj.Get != nil {
		return Variable{Type: e.obj.Type, Value: e.obj.Get()}
	}
	return Variable{Type: e.obj.Type, Value: e.obj.Value}
}

// maxOIDArcs is the most sub-identifiers an OID may have (RFC 2578 §3.5).
const maxOIDArcs = 128

// parseOID parses a numeric OID, with or without a leading dot.
func parseOID(oid string) ([]uint32, error) {
	s := strings.TrimPrefix(oid, ".")
	if s == "" {
		return nil, fmt.Errorf("empty OID")
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > maxOIDArcs {
		return nil, fmt.Errorf("OID must have 2 to %d arcs, has %d", maxOIDArcs, len(parts))
	}
	arcs := make([]uint32, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid arc %q: %w", p, err)
		}
		arcs[i] = uint32(n)
	}
	// BER packs the first two arcs into one sub-identifier (X.690 §8.19.4).
	if arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) || (arcs[0] == 2 && arcs[1] > 1<<32-1-80) {
		return nil, fmt.Errorf("arcs %d.%d cannot be encoded", arcs[0], arcs[1])
	}
	return arcs, nil
}

func formatOID(arcs []uint32) string {
	b := make([]byte, 0, len(arcs)*4)
	for i, a := range arcs {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(a), 10)
	}
	return string(b)
}

// compareOIDs orders two OIDs numerically; unparsable OIDs sort first.
func compareOIDs(a, b string) int {
	x, _ := parseOID(a)
	y, _ := parseOID(b)
	return slices.Compare(x, y)
}
