package snmpagent

import (
	"fmt"
	"math"
	"net"

	"github.com/gosnmp/gosnmp"
)

// normalize converts v.Value to the one Go type gosnmp's marshaller accepts
// for v.Type, or reports why it cannot. It runs on every value the agent
// sends, because gosnmp panics on some mismatches (an Integer held in a
// uint8, an ObjectIdentifier that is not a string) instead of returning an
// error, and on every value a SET delivers, so a MIB sees one form per type.
func normalize(v Variable) (Variable, error) {
	switch v.Type {
	case gosnmp.Integer:
		n, ok := toInt64(v.Value)
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return v, fmt.Errorf("%v value %#v is not an int32", v.Type, v.Value)
		}
		return Variable{Type: v.Type, Value: int(n)}, nil
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks, gosnmp.Uinteger32:
		n, ok := toInt64(v.Value)
		if !ok || n < 0 || n > math.MaxUint32 {
			return v, fmt.Errorf("%v value %#v is not a uint32", v.Type, v.Value)
		}
		return Variable{Type: v.Type, Value: uint32(n)}, nil
	case gosnmp.Counter64:
		if u, ok := v.Value.(uint64); ok {
			return Variable{Type: v.Type, Value: u}, nil
		}
		n, ok := toInt64(v.Value)
		if !ok || n < 0 {
			return v, fmt.Errorf("%v value %#v is not a uint64", v.Type, v.Value)
		}
		return Variable{Type: v.Type, Value: uint64(n)}, nil
	case gosnmp.OctetString, gosnmp.Opaque:
		switch s := v.Value.(type) {
		case []byte:
			return Variable{Type: v.Type, Value: s}, nil
		case string:
			return Variable{Type: v.Type, Value: []byte(s)}, nil
		}
	case gosnmp.ObjectIdentifier:
		if s, ok := v.Value.(string); ok {
			arcs, err := parseOID(s)
			if err != nil {
				return v, fmt.Errorf("%v value: %w", v.Type, err)
			}
			return Variable{Type: v.Type, Value: formatOID(arcs)}, nil
		}
	case gosnmp.IPAddress:
		var ip net.IP
		switch a := v.Value.(type) {
		case string:
			ip = net.ParseIP(a)
		case net.IP:
			ip = a
		case []byte:
			ip = net.IP(a)
		}
		if ip4 := ip.To4(); ip4 != nil {
			return Variable{Type: v.Type, Value: ip4.String()}, nil
		}
	case gosnmp.OpaqueFloat:
		if f, ok := v.Value.(float32); ok {
			return Variable{Type: v.Type, Value: f}, nil
		}
	case gosnmp.OpaqueDouble:
		if f, ok := v.Value.(float64); ok {
			return Variable{Type: v.Type, Value: f}, nil
		}
	case gosnmp.Null, gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView:
		return Variable{Type: v.Type}, nil
	default:
		return v, fmt.Errorf("unsupported type %v", v.Type)
	}
	return v, fmt.Errorf("%v value %#v has Go type %T", v.Type, v.Value, v.Value)
}

// toInt64 converts any Go integer type that fits in an int64.
func toInt64(x any) (int64, bool) {
	switch n := x.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), uint64(n) <= math.MaxInt64
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), n <= math.MaxInt64
	}
	return 0, false
}

// isException reports whether t is one of the SNMPv2 varbind exceptions.
func isException(t gosnmp.Asn1BER) bool {
	return t == gosnmp.NoSuchObject || t == gosnmp.NoSuchInstance || t == gosnmp.EndOfMibView
}
