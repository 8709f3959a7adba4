package snmprec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestParse(t *testing.T) {
	// Lines in the shapes LibreNMS's recordings use (tests/snmpsim), a
	// comment, a blank line and CRLF endings.
	in := "# recorded somewhere\r\n" +
		"1.3.6.1.2.1.1.1.0|4x|61706370647500\n" +
		"1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.318.1.1.32.1\n" +
		"\n" +
		"1.3.6.1.2.1.1.3.0|67|282420114\n" +
		"1.3.6.1.2.1.1.4.0|4|<private>\n" +
		"1.3.6.1.2.1.2.2.1.6.1|4|\n" +
		"1.3.6.1.2.1.4.20.1.3.10.10.0.10|64|255.255.255.192\n" +
		"1.3.6.1.2.1.4.22.1.2.2.10.10.0.1|4x|00005E00014F\n" +
		"1.3.6.1.4.1.13742.6.3.5.3.1.3.1.2|4|DEVICE 8:PS1:Planned\n" +
		"1.3.6.1.4.1.1718.4.1.9.3.1.1.1.1|2|-410\n" +
		"1.3.6.1.2.1.31.1.1.1.6.2|70|42519705069\n" +
		"1.3.6.1.2.1.2.2.1.5.2|66|100000000\n" +
		"1.3.6.1.2.1.2.2.1.22.1|6|0.0\n" +
		"1.3.6.1.2.1.4.3.0|65|18982581\n"
	recs, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		oid string
		typ gosnmp.Asn1BER
		val string
	}{
		{"1.3.6.1.2.1.1.1.0", gosnmp.OctetString, "apcpdu\x00"},
		{"1.3.6.1.2.1.1.2.0", gosnmp.ObjectIdentifier, "1.3.6.1.4.1.318.1.1.32.1"},
		{"1.3.6.1.2.1.1.3.0", gosnmp.TimeTicks, "282420114"},
		{"1.3.6.1.2.1.1.4.0", gosnmp.OctetString, "<private>"},
		{"1.3.6.1.2.1.2.2.1.6.1", gosnmp.OctetString, ""},
		{"1.3.6.1.2.1.4.20.1.3.10.10.0.10", gosnmp.IPAddress, "255.255.255.192"},
		{"1.3.6.1.2.1.4.22.1.2.2.10.10.0.1", gosnmp.OctetString, "\x00\x00\x5e\x00\x01\x4f"},
		{"1.3.6.1.4.1.13742.6.3.5.3.1.3.1.2", gosnmp.OctetString, "DEVICE 8:PS1:Planned"},
		{"1.3.6.1.4.1.1718.4.1.9.3.1.1.1.1", gosnmp.Integer, "-410"},
		{"1.3.6.1.2.1.31.1.1.1.6.2", gosnmp.Counter64, "42519705069"},
		{"1.3.6.1.2.1.2.2.1.5.2", gosnmp.Gauge32, "100000000"},
		{"1.3.6.1.2.1.2.2.1.22.1", gosnmp.ObjectIdentifier, "0.0"},
		{"1.3.6.1.2.1.4.3.0", gosnmp.Counter32, "18982581"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		r := recs[i]
		got := ""
		switch v := r.Value.(type) {
		case []byte:
			got = string(v)
		case nil:
		default:
			got = fmt.Sprint(v)
		}
		if r.OID != w.oid || r.Type != w.typ || got != w.val {
			t.Errorf("record %d = %s %v %q, want %s %v %q", i, r.OID, r.Type, got, w.oid, w.typ, w.val)
		}
	}
	tree, err := Tree(recs)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := tree.Get("1.3.6.1.2.1.1.2.0"); !ok || v.Value != "1.3.6.1.4.1.318.1.1.32.1" {
		t.Errorf("tree sysObjectID = %v %v", v, ok)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"1.3.6.1|2", "line 1: want OID|TAG|VALUE"},
		{"# c\n1.3.x|2|1", "line 2: invalid OID"},
		{"1.3.6|2:numeric|1", "variation modules"},
		{"1.3.6|2|one", "Integer32"},
		{"1.3.6|2|4294967296", "Integer32"},
		{"1.3.6|4x|zz", "hex value"},
		{"1.3.6|99|1", "unsupported tag 99"},
		{"1.3.6|6|abc", "not a numeric OID"},
		{"1.3.6|66|-1", "Gauge32"},
		{"1.3.6|two|1", "is not a number"},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

// FuzzParse feeds arbitrary text to the parser: it must return records or
// an error, never panic, and every record it returns must be servable or
// refused by Tree with an error.
func FuzzParse(f *testing.F) {
	f.Add("1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.318.1.1.32.1\n1.3.6.1.2.1.1.1.0|4x|616263\n")
	f.Add("# comment\n1.3.6|64|0a000001\n1.3.6.1|70|1\n")
	f.Add("1.3.6|2|-2147483648\n9.9|5|\n")
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		_, _ = Tree(recs)
	})
}

func fmtAny(v any) string    { return strings.TrimSpace(fmtSprint(v)) }
func fmtSprint(v any) string { return fmt.Sprint(v) }
