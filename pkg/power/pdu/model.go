package pdu

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Model describes how one switched-PDU family exposes outlet control, outlet
// status and per-outlet metering over SNMP. Models are data, not code: adding
// a vendor means adding a row to [Models], never a switch statement.
//
// OID templates are numeric OIDs without a leading dot in which the token
// "{outlet}" stands for the 1-based outlet index, e.g.
// "1.3.6.1.4.1.318.1.1.4.4.2.1.3.{outlet}". The token may sit in the middle
// of an OID (ATEN puts ".0" after it).
type Model struct {
	// Name is the model name used in configuration; it matches the
	// snmp_driver names of OpenStack Ironic's snmp power driver where one exists.
	Name string
	// Aliases are other accepted configuration names for the same row.
	Aliases []string
	// Description is a human-readable family name for docs and `check --probe`.
	Description string
	// SysObjectID is the sysObjectID prefix that identifies this family when
	// the configured model is "auto"; empty means the row is never chosen
	// automatically. The longest matching prefix wins.
	SysObjectID string

	// On, Off and Reboot are the SET operations that switch one outlet.
	// Reboot is optional (zero value: the family has no reboot command).
	On, Off, Reboot Command
	// Status reads one outlet's switch state.
	Status StatusColumn
	// Power reads one outlet's active power, or is nil when the MIB has no
	// per-outlet metering.
	Power *MeterColumn
	// OutletName is the template of an outlet's user-defined name (an
	// OCTET STRING), "" when the row has no verified name column.
	// Discovery reads it to match outlets to machines.
	OutletName string
	// IndexShifts maps outlet numbers to the MIB's sub-identifiers where they
	// differ (ATEN skips sub-identifiers); nil means the outlet number is
	// the index.
	IndexShifts []IndexShift

	// Source cites the MIB or driver the OIDs and values were taken from.
	Source string
}

// Command is one SNMP SET: write integer Value to the OID built from OID.
type Command struct {
	OID   string
	Value int
}

// IsZero reports whether c is the absent command.
func (c Command) IsZero() bool { return c.OID == "" }

// StatusColumn maps the integer read from an outlet status OID to on or off.
// Values in none of the lists read as unknown.
type StatusColumn struct {
	OID string
	On  []int
	Off []int
	// PendingOn lists values meaning "off, and a switch-on is pending"
	// (Eaton pendingOn, ServerTech onWait); PendingOff "on, and a
	// switch-off is pending". They read as the current state, and after a
	// SET as a switch the device accepted and has not finished.
	PendingOn  []int
	PendingOff []int
}

// MeterColumn reads an outlet's active power. The raw integer multiplied by
// Scale gives watts (e.g. Scale 0.1 for a MIB that reports decawatts... or
// tenths of a watt).
type MeterColumn struct {
	OID   string
	Scale float64
}

// IndexShift adds Add to every outlet number from From upwards (the last
// matching shift wins).
type IndexShift struct {
	From int
	Add  int
}

// OID expands template for outlet, applying the model's index shifts.
func (m *Model) OID(template string, outlet int) string {
	return OutletOID(template, m.index(outlet))
}

// Switch is what an outlet command does: on, off, or reboot (off, then
// on again, by the PDU itself).
type Switch int

// Outlet switches.
const (
	SwitchOn Switch = iota + 1
	SwitchOff
	SwitchReboot
)

// Commands are one outlet's commands as an agent receives them: by
// control OID, the switch each written value asks for. Commands that share
// an OID differ by value (APC: 1 on, 2 off); commands on separate OIDs may
// share a value (Eaton: write 0). Simulated and fake PDUs answer SETs with
// it.
func (m *Model) Commands(outlet int) map[string]map[int]Switch {
	out := map[string]map[int]Switch{}
	for _, c := range []struct {
		cmd Command
		sw  Switch
	}{{m.On, SwitchOn}, {m.Off, SwitchOff}, {m.Reboot, SwitchReboot}} {
		if c.cmd.IsZero() {
			continue
		}
		oid := m.OID(c.cmd.OID, outlet)
		if out[oid] == nil {
			out[oid] = map[int]Switch{}
		}
		out[oid][c.cmd.Value] = c.sw
	}
	return out
}

// OutletOf is the inverse of OID: the outlet whose instance of template
// oid is (with or without a leading dot), or ok=false when oid is not an
// instance of template.
func (m *Model) OutletOf(template, oid string) (outlet int, ok bool) {
	prefix, suffix, found := strings.Cut(template, OutletToken)
	if !found {
		return 0, false
	}
	rest, found := strings.CutPrefix(strings.TrimPrefix(oid, "."), prefix)
	if !found {
		return 0, false
	}
	digits, found := strings.CutSuffix(rest, suffix)
	if !found || digits == "" || strings.Contains(digits, ".") {
		return 0, false
	}
	index, err := strconv.Atoi(digits)
	if err != nil || index < 1 {
		return 0, false
	}
	// Undo the index shifts: the outlet whose sub-identifier is index.
	// Shifts only add, so it lies at most the largest shift below.
	maxAdd := 0
	for _, sh := range m.IndexShifts {
		maxAdd = max(maxAdd, sh.Add)
	}
	for o := max(1, index-maxAdd); o <= index; o++ {
		if m.index(o) == index {
			return o, true
		}
	}
	return 0, false
}

// index is the sub-identifier of outlet after the row's index shifts.
func (m *Model) index(outlet int) int {
	index := outlet
	for _, s := range m.IndexShifts {
		if outlet >= s.From {
			index = outlet + s.Add
		}
	}
	return index
}

// TablePrefix is the part of template before the outlet index, without its
// trailing dot: the subtree a walk of the column starts at.
func TablePrefix(template string) string {
	prefix, _, _ := strings.Cut(template, OutletToken)
	return strings.TrimSuffix(prefix, ".")
}

// OutletToken is the placeholder for the outlet index in OID templates.
const OutletToken = "{outlet}"

// OutletOID expands template for outlet (1-based).
func OutletOID(template string, outlet int) string {
	return strings.Replace(template, OutletToken, strconv.Itoa(outlet), 1)
}

// Lookup returns the model named name (or one of its aliases).
func Lookup(name string) (*Model, bool) {
	for i := range Models {
		m := &Models[i]
		if m.Name == name {
			return m, true
		}
		for _, a := range m.Aliases {
			if a == name {
				return m, true
			}
		}
	}
	return nil, false
}

// Candidates lists the rows whose SysObjectID is a prefix of sysObjectID
// (numeric, with or without a leading dot), most specific first. A
// prefix only says which vendor and product line answered; the client
// confirms a candidate by reading its outlet table (see Client.Model).
func Candidates(sysObjectID string) []*Model {
	id := strings.TrimPrefix(sysObjectID, ".")
	var out []*Model
	for i := range Models {
		m := &Models[i]
		if m.SysObjectID == "" {
			continue
		}
		if id == m.SysObjectID || strings.HasPrefix(id, m.SysObjectID+".") {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b *Model) int { return len(b.SysObjectID) - len(a.SysObjectID) })
	return out
}

// Detect picks the model whose SysObjectID is the longest prefix of
// sysObjectID, without confirming it.
func Detect(sysObjectID string) (*Model, error) {
	c := Candidates(sysObjectID)
	if len(c) == 0 {
		return nil, fmt.Errorf("no PDU model matches sysObjectID %s", sysObjectID)
	}
	return c[0], nil
}

// Closest lists up to n rows whose SysObjectID shares the most leading
// sub-identifiers with sysObjectID, beyond the enterprises arc
// (1.3.6.1.4.1): rows of the same vendor, most alike first. Error messages
// name them so that an operator sees which family was considered.
func Closest(sysObjectID string, n int) []*Model {
	id := strings.Split(strings.TrimPrefix(sysObjectID, "."), ".")
	type scored struct {
		m      *Model
		common int
	}
	var all []scored
	for i := range Models {
		m := &Models[i]
		if m.SysObjectID == "" {
			continue
		}
		arcs := strings.Split(m.SysObjectID, ".")
		common := 0
		for common < len(arcs) && common < len(id) && arcs[common] == id[common] {
			common++
		}
		if common > len(enterprises) {
			all = append(all, scored{m, common})
		}
	}
	slices.SortStableFunc(all, func(a, b scored) int { return b.common - a.common })
	var out []*Model
	for _, s := range all[:min(n, len(all))] {
		out = append(out, s.m)
	}
	return out
}

// enterprises is 1.3.6.1.4.1 as sub-identifiers.
var enterprises = []string{"1", "3", "6", "1", "4", "1"}

// Names lists every accepted model name (including "auto"), for error messages.
func Names() []string {
	names := []string{"auto"}
	for _, m := range Models {
		names = append(names, m.Name)
		names = append(names, m.Aliases...)
	}
	return names
}

// StateOf maps a raw status value to on (true), off (false) or unknown
// (ok=false). A pending value reads as the state the outlet is still in.
func (s StatusColumn) StateOf(v int) (on, ok bool) {
	switch {
	case slices.Contains(s.On, v), slices.Contains(s.PendingOff, v):
		return true, true
	case slices.Contains(s.Off, v), slices.Contains(s.PendingOn, v):
		return false, true
	}
	return false, false
}

// Pending reports whether v means a switch is pending, and towards which
// state.
func (s StatusColumn) Pending(v int) (towardOn, ok bool) {
	switch {
	case slices.Contains(s.PendingOn, v):
		return true, true
	case slices.Contains(s.PendingOff, v):
		return false, true
	}
	return false, false
}
