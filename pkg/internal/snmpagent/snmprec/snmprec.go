// Package snmprec reads SNMP walks recorded in snmpsim's snmprec format,
// the format network-monitoring projects (LibreNMS among them) keep their
// device recordings in, and serves them from an snmpagent.Tree. Tests use
// it to stand a recording of a real device behind a UDP port, so that
// what a client reads comes from the device, not from the client's own
// tables.
//
// A record is one line "OID|TAG|VALUE": TAG is the BER tag of the value's
// SNMP type in decimal (2 Integer32, 4 OCTET STRING, 5 NULL, 6 OBJECT
// IDENTIFIER, 64 IpAddress, 65 Counter32, 66 Gauge32, 67 TimeTicks,
// 68 Opaque, 70 Counter64), followed by "x" when VALUE is hex-encoded.
// Lines starting with "#" are comments, as for snmpsim. snmpsim's variation
// modules ("TAG:module") are not supported.
package snmprec

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"

	"github.com/powerjockey/powerjockey/pkg/internal/snmpagent"
)

// Record is one recorded variable.
type Record struct {
	OID string
	snmpagent.Variable
}

// maxLine bounds one record (a long OCTET STRING in hex).
const maxLine = 1 << 20

// Parse reads records until EOF. Errors name the line.
func Parse(r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	var out []Record
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rec, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return out, nil
}

// Load parses the snmprec file at path.
func Load(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

func parseLine(line string) (Record, error) {
	parts := strings.SplitN(line, "|", 3)
	if len(parts) != 3 {
		return Record{}, fmt.Errorf("want OID|TAG|VALUE, got %q", truncate(line))
	}
	oid := strings.TrimPrefix(strings.TrimSpace(parts[0]), ".")
	if !validOID(oid) {
		return Record{}, fmt.Errorf("invalid OID %q", truncate(oid))
	}
	tag, value := parts[1], parts[2]
	if strings.Contains(tag, ":") {
		return Record{}, fmt.Errorf("%s: variation modules (%q) are not supported", oid, truncate(tag))
	}
	hexed := strings.HasSuffix(tag, "x")
	tag = strings.TrimSuffix(tag, "x")
	raw := []byte(value)
	if hexed {
		b, err := hex.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return Record{}, fmt.Errorf("%s: hex value: %w", oid, err)
		}
		raw = b
	}
	num, err := strconv.Atoi(tag)
	if err != nil {
		return Record{}, fmt.Errorf("%s: tag %q is not a number", oid, truncate(parts[1]))
	}
	v, err := decode(num, raw)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", oid, err)
	}
	return Record{OID: oid, Variable: v}, nil
}

func decode(tag int, raw []byte) (snmpagent.Variable, error) {
	s := string(raw)
	switch gosnmp.Asn1BER(tag) {
	case gosnmp.Integer:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return snmpagent.Variable{}, fmt.Errorf("Integer32 %q: %w", truncate(s), err)
		}
		return snmpagent.Variable{Type: gosnmp.Integer, Value: int(n)}, nil
	case gosnmp.OctetString, gosnmp.Opaque:
		return snmpagent.Variable{Type: gosnmp.Asn1BER(tag), Value: raw}, nil
	case gosnmp.Null:
		return snmpagent.Variable{Type: gosnmp.Null}, nil
	case gosnmp.ObjectIdentifier:
		oid := strings.TrimPrefix(strings.TrimSpace(s), ".")
		if !validOID(oid) {
			return snmpagent.Variable{}, fmt.Errorf("OBJECT IDENTIFIER %q is not a numeric OID", truncate(s))
		}
		return snmpagent.Variable{Type: gosnmp.ObjectIdentifier, Value: oid}, nil
	case gosnmp.IPAddress:
		if len(raw) == 4 { // hex-encoded, as snmpsim writes it
			return snmpagent.Variable{Type: gosnmp.IPAddress, Value: fmt.Sprintf("%d.%d.%d.%d", raw[0], raw[1], raw[2], raw[3])}, nil
		}
		return snmpagent.Variable{Type: gosnmp.IPAddress, Value: strings.TrimSpace(s)}, nil
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return snmpagent.Variable{}, fmt.Errorf("%v %q: %w", gosnmp.Asn1BER(tag), truncate(s), err)
		}
		return snmpagent.Variable{Type: gosnmp.Asn1BER(tag), Value: uint32(n)}, nil
	case gosnmp.Counter64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return snmpagent.Variable{}, fmt.Errorf("Counter64 %q: %w", truncate(s), err)
		}
		return snmpagent.Variable{Type: gosnmp.Counter64, Value: n}, nil
	}
	return snmpagent.Variable{}, fmt.Errorf("unsupported tag %d", tag)
}

// validOID reports whether s is a numeric OID of 2 to 128 arcs that fit
// in 32 bits, as the agent requires.
func validOID(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 128 {
		return false
	}
	for _, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil || n > math.MaxUint32 {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Tree serves records as static, read-only values. A test makes objects
// writable (the control objects a recording never holds) by registering
// them over it.
func Tree(records []Record) (*snmpagent.Tree, error) {
	t := snmpagent.NewTree()
	for _, r := range records {
		if err := t.SetValue(r.OID, r.Variable); err != nil {
			return nil, err
		}
	}
	return t, nil
}
