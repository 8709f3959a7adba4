package pdu

import (
	"regexp"
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
		{"apc_epdu", "apc_epdu"},
		{"apc_cpdu", "apc_cpdu"},
		{"cyberpower", "cyberpower"},
		{"cyberpower_epdu2", "cyberpower_epdu2"},
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
		{"1.3.6.1.4.1.318.1.3.4.9", "apc_epdu"},             // EPDU1116S recording
		{"1.3.6.1.4.1.318.1.1.32.1", "apc_cpdu"},            // APDU10150SM recording
		{"1.3.6.1.4.1.318.1.3.8.4", ""},                     // NetBotz recording: not a PDU
		{"1.3.6.1.4.1.3808.1.1.3", "cyberpower"},            // under cps
		{"1.3.6.1.4.1.3808.1.1.6", "cyberpower_epdu2"},      // PDU81005 recording
		{"1.3.6.1.4.1.534.6.6.7", "eatonpower"},             // eatonEpdu
		{"1.3.6.1.4.1.534.1", ""},                           // XUPS-MIB: an Eaton UPS
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
		{"eatonpower", 0, false, true},      // off
		{"eatonpower", 1, true, true},       // on
		{"eatonpower", 2, true, true},       // pendingOff: still on
		{"eatonpower", 3, false, true},      // pendingOn: still off
		{"vertivgeist_pdu", 3, true, true},  // on2off: still on
		{"vertivgeist_pdu", 4, false, true}, // off2on: still off
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

func TestPending(t *testing.T) {
	tests := []struct {
		model      string
		raw        int
		toward, ok bool
	}{
		{"eatonpower", 3, true, true},  // pendingOn
		{"eatonpower", 2, false, true}, // pendingOff
		{"eatonpower", 1, false, false},
		{"servertech_sentry3", 3, true, true},  // onWait
		{"servertech_sentry3", 2, false, true}, // offWait
		{"vertivgeist_pdu", 4, true, true},     // off2on
		{"apc_rpdu2", 2, false, false},
	}
	for _, tt := range tests {
		m, _ := Lookup(tt.model)
		toward, ok := m.Status.Pending(tt.raw)
		if toward != tt.toward || ok != tt.ok {
			t.Errorf("%s Pending(%d) = %v,%v want %v,%v", tt.model, tt.raw, toward, ok, tt.toward, tt.ok)
		}
	}
}

func TestOutletOfInvertsOID(t *testing.T) {
	for i := range Models {
		m := &Models[i]
		for _, tmpl := range []string{m.Status.OID, m.On.OID} {
			for o := 1; o <= 48; o++ {
				got, ok := m.OutletOf(tmpl, "."+m.OID(tmpl, o))
				if !ok || got != o {
					t.Errorf("%s OutletOf(%s, outlet %d) = %d,%v", m.Name, tmpl, o, got, ok)
				}
			}
		}
		if _, ok := m.OutletOf(m.Status.OID, TablePrefix(m.Status.OID)+".0.7.7"); ok {
			t.Errorf("%s: OutletOf accepted a foreign instance", m.Name)
		}
	}
	aten, _ := Lookup("aten")
	// ATEN sub-identifier 10 is outletConfigTable, no outlet's status.
	if o, ok := aten.OutletOf(aten.Status.OID, "1.3.6.1.4.1.21317.1.3.2.2.2.2.10.0"); ok {
		t.Errorf("aten sub-identifier 10 read as outlet %d", o)
	}
}

func TestClosest(t *testing.T) {
	names := func(ms []*Model) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	// An APC UPS (smartUPS, 318.1.3.2.x): the APC rows under 318.1.3, none elsewhere.
	got := names(Closest("1.3.6.1.4.1.318.1.3.2.11", 3))
	if len(got) != 3 {
		t.Fatalf("Closest(APC UPS) = %v, want 3 APC rows", got)
	}
	for _, n := range got {
		if !strings.HasPrefix(n, "apc") {
			t.Errorf("Closest(APC UPS) includes %s", n)
		}
	}
	if got := Closest("1.3.6.1.4.1.99999.1", 3); len(got) != 0 {
		t.Errorf("Closest(unknown vendor) = %v, want none", names(got))
	}
}
