package pdu

import (
	"fmt"
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
// Values in neither list (e.g. "pending") read as unknown.
type StatusColumn struct {
	OID string
	On  []int
	Off []int
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
	index := outlet
	for _, s := range m.IndexShifts {
		if outlet >= s.From {
			index = outlet + s.Add
		}
	}
	return OutletOID(template, index)
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

// Detect picks the model whose SysObjectID is the longest prefix of
// sysObjectID (numeric, with or without a leading dot).
func Detect(sysObjectID string) (*Model, error) {
	id := strings.TrimPrefix(sysObjectID, ".")
	var best *Model
	for i := range Models {
		m := &Models[i]
		if m.SysObjectID == "" {
			continue
		}
		if id == m.SysObjectID || strings.HasPrefix(id, m.SysObjectID+".") {
			if best == nil || len(m.SysObjectID) > len(best.SysObjectID) {
				best = m
			}
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no PDU model matches sysObjectID %s", sysObjectID)
	}
	return best, nil
}

// Names lists every accepted model name (including "auto"), for error messages.
func Names() []string {
	names := []string{"auto"}
	for _, m := range Models {
		names = append(names, m.Name)
		names = append(names, m.Aliases...)
	}
	return names
}

// StateOf maps a raw status value to on (true), off (false) or unknown (ok=false).
func (s StatusColumn) StateOf(v int) (on, ok bool) {
	for _, x := range s.On {
		if x == v {
			return true, true
		}
	}
	for _, x := range s.Off {
		if x == v {
			return false, true
		}
	}
	return false, false
}
