package pdutest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// TestIndependentOfModels keeps the test devices honest: they must not be
// built from the model table they are used to check.
func TestIndependentOfModels(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasSuffix(dep, "/pkg/power/pdu") || strings.HasSuffix(dep, "/pkg/sim") {
			t.Errorf("pdutest depends on %s", dep)
		}
	}
}

func TestRecordingsParse(t *testing.T) {
	names := Recordings()
	if len(names) < 10 {
		t.Fatalf("%d recordings", len(names))
	}
	for _, n := range names {
		recs, err := Records(n)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		found := false
		for _, r := range recs {
			if r.OID == "1.3.6.1.2.1.1.2.0" && r.Type == gosnmp.ObjectIdentifier {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no sysObjectID", n)
		}
	}
	for name, f := range Families {
		d, err := New(name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		d.Agent.Close()
		if len(d.Outlets()) == 0 {
			t.Errorf("%s: the recording holds no status under %s", name, f.Status(1))
		}
	}
}
