package pdu

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// numericOID matches a dotted numeric OID without a leading dot.
var numericOID = regexp.MustCompile(`^[0-9]+(\.[0-9]+)+$`)

// checkTemplate reports whether t is a numeric OID template holding exactly
// one "{outlet}" token as a whole sub-identifier.
func checkTemplate(t *testing.T, what, tmpl string) {
	t.Helper()
	if n := strings.Count(tmpl, OutletToken); n != 1 {
		t.Errorf("%s %q: %d %s tokens, want 1", what, tmpl, n, OutletToken)
		return
	}
	if strings.HasPrefix(tmpl, ".") {
		t.Errorf("%s %q: leading dot", what, tmpl)
	}
	for _, outlet := range []int{1, 12} {
		oid := OutletOID(tmpl, outlet)
		if !numericOID.MatchString(oid) {
			t.Errorf("%s %q expands to %q for outlet %d: not a numeric OID", what, tmpl, oid, outlet)
		}
	}
	if !strings.HasPrefix(tmpl, "1.3.6.1.4.1.") {
		t.Errorf("%s %q: not under enterprises (1.3.6.1.4.1)", what, tmpl)
	}
}

func TestModelsRows(t *testing.T) {
	if len(Models) == 0 {
		t.Fatal("Models is empty")
	}
	seen := map[string]string{}
	for _, m := range Models {
		m := m
		t.Run(m.Name, func(t *testing.T) {
			if m.Name == "" {
				t.Fatal("empty Name")
			}
			for _, n := range append([]string{m.Name}, m.Aliases...) {
				if n == "" || n == "auto" {
					t.Errorf("invalid name or alias %q", n)
				}
				if prev, dup := seen[n]; dup {
					t.Errorf("name %q used by %s and %s", n, prev, m.Name)
				}
				seen[n] = m.Name
			}
			if m.Description == "" {
				t.Error("empty Description")
			}
			if m.Source == "" {
				t.Error("empty Source")
			}
			if m.SysObjectID != "" && !numericOID.MatchString(m.SysObjectID) {
				t.Errorf("SysObjectID %q is not a numeric OID without leading dot", m.SysObjectID)
			}

			if m.On.IsZero() || m.Off.IsZero() {
				t.Fatal("On and Off commands are required")
			}
			checkTemplate(t, "On", m.On.OID)
			checkTemplate(t, "Off", m.Off.OID)
			if !m.Reboot.IsZero() {
				checkTemplate(t, "Reboot", m.Reboot.OID)
			}
			if m.On == m.Off {
				t.Errorf("On and Off are the same command %+v", m.On)
			}

			if m.Status.OID == "" {
				t.Fatal("empty Status OID")
			}
			checkTemplate(t, "Status", m.Status.OID)
			if len(m.Status.On) == 0 || len(m.Status.Off) == 0 {
				t.Errorf("Status needs on and off values, got on=%v off=%v", m.Status.On, m.Status.Off)
			}
			for _, on := range m.Status.On {
				for _, off := range m.Status.Off {
					if on == off {
						t.Errorf("status value %d is both on and off", on)
					}
				}
			}

			if m.Power != nil {
				checkTemplate(t, "Power", m.Power.OID)
				if !(m.Power.Scale > 0) {
					t.Errorf("Power Scale %v, want > 0", m.Power.Scale)
				}
			}
		})
	}
}

// TestModelsExpected pins the verified OIDs and values of every row, for
// outlet 3, so that an accidental edit of a row fails loudly. Update it
// together with the row and its citation.
func TestModelsExpected(t *testing.T) {
	type want struct {
		on, off, reboot string // expanded OID "=" value; "" for no command
		status          string
		statusOn        []int
		statusOff       []int
		power           string // expanded OID; "" for no meter
		sysObjectID     string
	}
	cases := map[string]want{
		"apc": {
			on: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.3=1", off: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.3=2",
			reboot: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.3=3",
			status: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.3", statusOn: []int{1}, statusOff: []int{2},
			sysObjectID: "1.3.6.1.4.1.318.1.3.4",
		},
		"apc_masterswitchplus": {
			on: "1.3.6.1.4.1.318.1.1.6.5.1.1.5.1.3=1", off: "1.3.6.1.4.1.318.1.1.6.5.1.1.5.1.3=3",
			reboot: "1.3.6.1.4.1.318.1.1.6.5.1.1.5.1.3=5",
			status: "1.3.6.1.4.1.318.1.1.6.5.1.1.5.1.3", statusOn: []int{1}, statusOff: []int{3},
			sysObjectID: "1.3.6.1.4.1.318.1.3.4.4",
		},
		"apc_rackpdu": {
			on: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3=1", off: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3=2",
			reboot: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3=3",
			status: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3", statusOn: []int{1}, statusOff: []int{2},
			sysObjectID: "1.3.6.1.4.1.318.1.3.4.5",
		},
		"apc_rpdu2": {
			on: "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.3=1", off: "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.3=2",
			reboot: "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.3=3",
			status: "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.3", statusOn: []int{2}, statusOff: []int{1},
			power:       "1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.3",
			sysObjectID: "1.3.6.1.4.1.318.1.3.4.6",
		},
		"cyberpower": {
			on: "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.3=1", off: "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.3=2",
			reboot: "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.3=3",
			status: "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.3", statusOn: []int{1}, statusOff: []int{2},
			power:       "1.3.6.1.4.1.3808.1.1.3.3.5.1.1.8.3",
			sysObjectID: "1.3.6.1.4.1.3808",
		},
		"eatonpower": {
			on: "1.3.6.1.4.1.534.6.6.7.6.6.1.4.0.3=0", off: "1.3.6.1.4.1.534.6.6.7.6.6.1.3.0.3=0",
			reboot: "1.3.6.1.4.1.534.6.6.7.6.6.1.5.0.3=0",
			status: "1.3.6.1.4.1.534.6.6.7.6.6.1.2.0.3", statusOn: []int{1, 2}, statusOff: []int{0, 3},
			power:       "1.3.6.1.4.1.534.6.6.7.6.5.1.3.0.3",
			sysObjectID: "1.3.6.1.4.1.534",
		},
		"aten": {
			// Outlet 3 is sub-identifier 4 (ATEN-PE-CFG outlet3Status = { outlet 4 }).
			on: "1.3.6.1.4.1.21317.1.3.2.2.2.2.4.0=2", off: "1.3.6.1.4.1.21317.1.3.2.2.2.2.4.0=1",
			status: "1.3.6.1.4.1.21317.1.3.2.2.2.2.4.0", statusOn: []int{2}, statusOff: []int{1},
			sysObjectID: "1.3.6.1.4.1.21317",
		},
		"teltronix": {
			on: "1.3.6.1.4.1.23620.1.2.2.1.4.3=2", off: "1.3.6.1.4.1.23620.1.2.2.1.4.3=1",
			status: "1.3.6.1.4.1.23620.1.2.2.1.4.3", statusOn: []int{2}, statusOff: []int{1},
			sysObjectID: "1.3.6.1.4.1.23620",
		},
		"baytech_mrp27": {
			on: "1.3.6.1.4.1.4779.1.3.5.3.1.3.1.3=1", off: "1.3.6.1.4.1.4779.1.3.5.3.1.3.1.3=0",
			reboot: "1.3.6.1.4.1.4779.1.3.5.3.1.3.1.3=2",
			status: "1.3.6.1.4.1.4779.1.3.5.3.1.3.1.3", statusOn: []int{1}, statusOff: []int{0},
		},
		"raritan_pdu2": {
			on: "1.3.6.1.4.1.13742.6.4.1.2.1.2.1.3=1", off: "1.3.6.1.4.1.13742.6.4.1.2.1.2.1.3=0",
			reboot: "1.3.6.1.4.1.13742.6.4.1.2.1.2.1.3=2",
			status: "1.3.6.1.4.1.13742.6.4.1.2.1.3.1.3", statusOn: []int{7}, statusOff: []int{8},
			power:       "1.3.6.1.4.1.13742.6.5.4.3.1.4.1.3.5",
			sysObjectID: "1.3.6.1.4.1.13742.6",
		},
		"servertech_sentry3": {
			on: "1.3.6.1.4.1.1718.3.2.3.1.11.1.1.3=1", off: "1.3.6.1.4.1.1718.3.2.3.1.11.1.1.3=2",
			reboot: "1.3.6.1.4.1.1718.3.2.3.1.11.1.1.3=3",
			status: "1.3.6.1.4.1.1718.3.2.3.1.5.1.1.3", statusOn: []int{1, 2}, statusOff: []int{0, 3},
			power:       "1.3.6.1.4.1.1718.3.2.3.1.14.1.1.3",
			sysObjectID: "1.3.6.1.4.1.1718.3",
		},
		"servertech_sentry4": {
			on: "1.3.6.1.4.1.1718.4.1.8.5.1.2.1.1.3=1", off: "1.3.6.1.4.1.1718.4.1.8.5.1.2.1.1.3=2",
			reboot: "1.3.6.1.4.1.1718.4.1.8.5.1.2.1.1.3=3",
			status: "1.3.6.1.4.1.1718.4.1.8.3.1.1.1.1.3", statusOn: []int{1}, statusOff: []int{2},
			power:       "1.3.6.1.4.1.1718.4.1.8.3.1.7.1.1.3",
			sysObjectID: "1.3.6.1.4.1.1718.4",
		},
		"vertivgeist_pdu": {
			on: "1.3.6.1.4.1.21239.5.2.3.5.1.6.3=2", off: "1.3.6.1.4.1.21239.5.2.3.5.1.6.3=4",
			reboot: "1.3.6.1.4.1.21239.5.2.3.5.1.6.3=6",
			status: "1.3.6.1.4.1.21239.5.2.3.5.1.4.3", statusOn: []int{1, 3, 5}, statusOff: []int{2, 4, 6},
			power:       "1.3.6.1.4.1.21239.5.2.3.6.1.12.3",
			sysObjectID: "1.3.6.1.4.1.21239",
		},
	}

	cmd := func(m *Model, c Command) string {
		if c.IsZero() {
			return ""
		}
		return m.OID(c.OID, 3) + "=" + strconv.Itoa(c.Value)
	}
	equal := func(a, b []int) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}

	if len(cases) != len(Models) {
		t.Errorf("%d expected rows, %d rows in Models: keep this table in step", len(cases), len(Models))
	}
	for name, w := range cases {
		m, ok := Lookup(name)
		if !ok {
			t.Errorf("%s: no such row", name)
			continue
		}
		if got := cmd(m, m.On); got != w.on {
			t.Errorf("%s On = %s, want %s", name, got, w.on)
		}
		if got := cmd(m, m.Off); got != w.off {
			t.Errorf("%s Off = %s, want %s", name, got, w.off)
		}
		if got := cmd(m, m.Reboot); got != w.reboot {
			t.Errorf("%s Reboot = %s, want %s", name, got, w.reboot)
		}
		if got := m.OID(m.Status.OID, 3); got != w.status {
			t.Errorf("%s Status = %s, want %s", name, got, w.status)
		}
		if !equal(m.Status.On, w.statusOn) || !equal(m.Status.Off, w.statusOff) {
			t.Errorf("%s Status on/off = %v/%v, want %v/%v", name, m.Status.On, m.Status.Off, w.statusOn, w.statusOff)
		}
		gotPower := ""
		if m.Power != nil {
			gotPower = m.OID(m.Power.OID, 3)
		}
		if gotPower != w.power {
			t.Errorf("%s Power = %q, want %q", name, gotPower, w.power)
		}
		if m.SysObjectID != w.sysObjectID {
			t.Errorf("%s SysObjectID = %q, want %q", name, m.SysObjectID, w.sysObjectID)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		want string // row Name; "" = not found
	}{
		{"apc", "apc"},
		{"apc_masterswitch", "apc"},
		{"apc_masterswitchplus", "apc_masterswitchplus"},
		{"apc_rackpdu", "apc_rackpdu"},
		{"apc_rpdu2", "apc_rpdu2"},
		{"cyberpower", "cyberpower"},
		{"eatonpower", "eatonpower"},
		{"teltronix", "teltronix"},
		{"baytech_mrp27", "baytech_mrp27"},
		{"raritan_pdu2", "raritan_pdu2"},
		{"servertech_sentry3", "servertech_sentry3"},
		{"servertech_sentry4", "servertech_sentry4"},
		{"vertivgeist_pdu", "vertivgeist_pdu"},
		{"auto", ""}, // handled by the caller, not a row
		{"APC", ""},  // names are case-sensitive
		{"", ""},
		{"no_such_pdu", ""},
	}
	for _, tt := range tests {
		m, ok := Lookup(tt.name)
		switch {
		case tt.want == "" && ok:
			t.Errorf("Lookup(%q) = %s, want not found", tt.name, m.Name)
		case tt.want != "" && !ok:
			t.Errorf("Lookup(%q) not found, want %s", tt.name, tt.want)
		case ok && m.Name != tt.want:
			t.Errorf("Lookup(%q) = %s, want %s", tt.name, m.Name, tt.want)
		}
	}

	// Every name and alias in the table resolves to its own row.
	for i := range Models {
		for _, n := range append([]string{Models[i].Name}, Models[i].Aliases...) {
			m, ok := Lookup(n)
			if !ok || m != &Models[i] {
				t.Errorf("Lookup(%q) does not return row %s", n, Models[i].Name)
			}
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		sysObjectID string
		want        string // "" = no match
	}{
		// APC: the product subtree 318.1.3.4 (masterSwitch) and its children.
		{"1.3.6.1.4.1.318.1.3.4.1", "apc"},                  // masterSwitchV1
		{".1.3.6.1.4.1.318.1.3.4.2", "apc"},                 // masterSwitchV2, leading dot
		{"1.3.6.1.4.1.318.1.3.4.4", "apc_masterswitchplus"}, // masterSwitchMSP
		{"1.3.6.1.4.1.318.1.3.4.5", "apc_rackpdu"},          // masterSwitchrPDU, not generic apc
		{".1.3.6.1.4.1.318.1.3.4.5", "apc_rackpdu"},         // same, leading dot
		{"1.3.6.1.4.1.318.1.3.4.6", "apc_rpdu2"},            // masterSwitchrPDU2
		{"1.3.6.1.4.1.318.1.3.4.8", "apc"},                  // masterSwitchrPDUB: generic row
		{"1.3.6.1.4.1.318.1.3.4.55", "apc"},                 // 55 is not a child of .5
		{"1.3.6.1.4.1.318.1.3.2.11", ""},                    // smartUPS2200: not a PDU
		{"1.3.6.1.4.1.3808.1.1.3", "cyberpower"},            // under cps
		{"1.3.6.1.4.1.534.6.6.7", "eatonpower"},             // eatonEpdu
		{"1.3.6.1.4.1.23620.1.2", "teltronix"},              //
		{"1.3.6.1.4.1.13742.6", "raritan_pdu2"},             // pdu2
		{"1.3.6.1.4.1.13742.4", ""},                         // PX1 (PDU-MIB): not PDU2-MIB
		{"1.3.6.1.4.1.1718.3", "servertech_sentry3"},        //
		{"1.3.6.1.4.1.1718.4", "servertech_sentry4"},        //
		{"1.3.6.1.4.1.1718.4.1", "servertech_sentry4"},      //
		{"1.3.6.1.4.1.21239.5.2", "vertivgeist_pdu"},        //
		{"1.3.6.1.4.1.4779.1", ""},                          // BayTech: no sysObjectID, manual only
		{"1.3.6.1.4.1.3180", ""},                            // prefix must end on a sub-identifier
		{"1.3.6.1.4.1.53", ""},                              //
		{"", ""},                                            //
	}
	for _, tt := range tests {
		m, err := Detect(tt.sysObjectID)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("Detect(%q) = %s, want no match", tt.sysObjectID, m.Name)
		case tt.want != "" && err != nil:
			t.Errorf("Detect(%q): %v, want %s", tt.sysObjectID, err, tt.want)
		case err == nil && m.Name != tt.want:
			t.Errorf("Detect(%q) = %s, want %s", tt.sysObjectID, m.Name, tt.want)
		}
	}
}

// TestDetectLongestPrefix checks, for every pair of rows whose sysObjectID
// prefixes nest, that the more specific row wins and the generic one still
// answers for its other children.
func TestDetectLongestPrefix(t *testing.T) {
	nested := 0
	for _, a := range Models {
		for _, b := range Models {
			if a.SysObjectID == "" || b.SysObjectID == "" || a.Name == b.Name {
				continue
			}
			if !strings.HasPrefix(b.SysObjectID, a.SysObjectID+".") {
				continue
			}
			nested++
			m, err := Detect(b.SysObjectID + ".1")
			if err != nil || m.Name != b.Name {
				t.Errorf("Detect(%s.1) = %v, %v; want the longer prefix %s over %s", b.SysObjectID, m, err, b.Name, a.Name)
			}
		}
	}
	if nested == 0 {
		t.Error("no nested sysObjectID prefixes: the APC rows should nest under 1.3.6.1.4.1.318.1.3.4")
	}
	for i := range Models {
		if Models[i].SysObjectID == "" {
			continue
		}
		m, err := Detect(Models[i].SysObjectID)
		if err != nil || m != &Models[i] {
			t.Errorf("Detect(%s) does not return its own row %s", Models[i].SysObjectID, Models[i].Name)
		}
	}
}

func TestStateOfRows(t *testing.T) {
	tests := []struct {
		model  string
		raw    int
		on, ok bool
	}{
		{"eatonpower", 0, false, true}, // off
		{"eatonpower", 1, true, true},  // on
		{"eatonpower", 2, true, true},  // pendingOff: still on
		{"eatonpower", 3, false, true}, // pendingOn: still off
		{"eatonpower", 4, false, false},
		{"raritan_pdu2", 7, true, true},
		{"raritan_pdu2", 8, false, true},
		{"raritan_pdu2", -1, false, false}, // unavailable
		{"apc_rpdu2", 1, false, true},      // rPDU2 state table: off(1)
		{"apc_rpdu2", 2, true, true},       // on(2)
		{"servertech_sentry4", 0, false, false},
		{"vertivgeist_pdu", 5, true, true},  // rebootOn: outlet is on
		{"vertivgeist_pdu", 6, false, true}, // rebootOff: outlet is off
		{"vertivgeist_pdu", 7, false, false},
		{"servertech_sentry3", 6, false, false}, // noComm
	}
	for _, tt := range tests {
		m, ok := Lookup(tt.model)
		if !ok {
			t.Fatalf("no row %s", tt.model)
		}
		on, known := m.Status.StateOf(tt.raw)
		if on != tt.on || known != tt.ok {
			t.Errorf("%s StateOf(%d) = %v,%v want %v,%v", tt.model, tt.raw, on, known, tt.on, tt.ok)
		}
	}
}

func TestNamesListsEveryRow(t *testing.T) {
	names := map[string]bool{}
	for _, n := range Names() {
		names[n] = true
	}
	if !names["auto"] {
		t.Error("Names() lacks auto")
	}
	for _, m := range Models {
		for _, n := range append([]string{m.Name}, m.Aliases...) {
			if !names[n] {
				t.Errorf("Names() lacks %s", n)
			}
		}
	}
}
