package pdu

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// upsIdentManufacturer and upsIdentModel (UPS-MIB, RFC 1628) name a UPS;
// a device answering them is named as one when it is refused.
const (
	upsIdentManufacturerOID = "1.3.6.1.2.1.33.1.1.1.0"
	upsIdentModelOID        = "1.3.6.1.2.1.33.1.1.2.0"
)

// ErrNotPDU means model auto found no switched PDU of the model table at
// the address: a UPS, a sensor box, a metered-only PDU or an unknown
// device. The error is a *DetectError.
var ErrNotPDU = errors.New("not a switched PDU of the model table")

// DetectError explains why model auto refused a device.
type DetectError struct {
	PDU         string
	SysObjectID string
	SysDescr    string
	// Tried lists the rows whose sysObjectID prefix matched and why
	// reading their outlet table did not confirm them.
	Tried []Rejected
	// Closest names the rows that share the most sub-identifiers with
	// the sysObjectID (the same vendor), most alike first.
	Closest []string
	// UPS is the device's UPS-MIB identity, when it answers one.
	UPS string
}

// Rejected is a row that was tried and why it does not fit.
type Rejected struct {
	Model, Reason string
}

// Error says what the device is and why no model row fits it.
func (e *DetectError) Error() string {
	var b strings.Builder
	id := e.SysObjectID
	if id == "" {
		id = "(none)"
	}
	fmt.Fprintf(&b, "pdu %s: sysObjectID %s", e.PDU, id)
	if d := strings.Join(strings.Fields(e.SysDescr), " "); d != "" {
		fmt.Fprintf(&b, " (%q)", d)
	}
	fmt.Fprintf(&b, " is %s", ErrNotPDU)
	if e.UPS != "" {
		fmt.Fprintf(&b, ": it answers UPS-MIB as %q, a UPS", e.UPS)
	}
	if len(e.Tried) == 0 {
		b.WriteString("; no row's sysObjectID prefix matches")
	}
	for _, r := range e.Tried {
		fmt.Fprintf(&b, "; row %s: %s", r.Model, r.Reason)
	}
	if len(e.Closest) > 0 {
		fmt.Fprintf(&b, "; closest rows: %s", strings.Join(e.Closest, ", "))
	} else {
		b.WriteString("; no row of this vendor")
	}
	b.WriteString(". If it is a switched PDU, configure its model by name (docs/pdu-models.md)")
	return b.String()
}

// Unwrap makes errors.Is(err, ErrNotPDU) hold.
func (e *DetectError) Unwrap() error { return ErrNotPDU }

// DetectModel finds the PDU's row: the rows whose sysObjectID prefix
// matches, most specific first, each confirmed by reading its outlet
// status table. A prefix alone says only which vendor answered (Eaton,
// CyberPower and Vertiv UPSes and sensor boxes share their PDUs' arcs).
// When no row is confirmed the error is a *DetectError; a device that does
// not answer is a transport error (wrapping power.ErrTimeout).
func (c *Client) DetectModel(ctx context.Context) (*Model, error) {
	id, descr, err := c.identity(ctx)
	if err != nil {
		return nil, fmt.Errorf("pdu %s: detect model: %w", c.cfg.Name, err)
	}
	derr := &DetectError{PDU: c.cfg.Name, SysObjectID: id, SysDescr: descr}
	for _, m := range Candidates(id) {
		reason, err := c.Confirm(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("pdu %s: detect model: read %s outlet table: %w", c.cfg.Name, m.Name, err)
		}
		if reason == "" {
			c.log.Info("detected PDU model", "model", m.Name, "sysObjectID", id)
			return m, nil
		}
		derr.Tried = append(derr.Tried, Rejected{Model: m.Name, Reason: reason})
	}
	for _, m := range Closest(id, 3) {
		derr.Closest = append(derr.Closest, m.Name)
	}
	derr.UPS = c.upsIdentity(ctx)
	c.log.Error("PDU refused", "err", derr.Error())
	return nil, derr
}

// identity reads sysObjectID.0 and sysDescr.0.
func (c *Client) identity(ctx context.Context) (id, descr string, err error) {
	pkt, err := c.request(ctx, "get", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
		return g.Get([]string{sysObjectIDOID, sysDescrOID})
	})
	if err != nil {
		var ae *AgentError
		if !errors.As(err, &ae) || ae.Status != gosnmp.NoSuchName {
			return "", "", err
		}
		// An SNMPv1 agent without sysDescr: ask for sysObjectID alone.
		pkt, err = c.request(ctx, "get", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
			return g.Get([]string{sysObjectIDOID})
		})
		if err != nil {
			return "", "", err
		}
	}
	id, descr = identityOf(pkt.Variables)
	return id, descr, nil
}

// identityOf picks sysObjectID and sysDescr out of an answer, ignoring
// anything of another type.
func identityOf(vars []gosnmp.SnmpPDU) (id, descr string) {
	for _, v := range vars {
		switch trimDot(v.Name) {
		case sysObjectIDOID:
			if s, ok := v.Value.(string); ok && v.Type == gosnmp.ObjectIdentifier {
				id = trimDot(s)
			}
		case sysDescrOID:
			if b, ok := v.Value.([]byte); ok && v.Type == gosnmp.OctetString {
				descr = string(b)
			}
		}
	}
	return id, descr
}

// confirmSteps bounds the GETNEXTs spent looking for the first outlet of a
// status table (ATEN puts other objects before its outlets).
const confirmSteps = 8

// Confirm reads m's outlet status table on the PDU: "" when it holds an
// outlet whose status is an integer, else why it does not fit the row.
// err is set only when the PDU did not answer.
func (c *Client) Confirm(ctx context.Context, m *Model) (reason string, err error) {
	prefix := TablePrefix(m.Status.OID)
	_, suffix, _ := strings.Cut(m.Status.OID, OutletToken)
	next := prefix
	for range confirmSteps {
		v, found, err := c.getNext(ctx, next)
		if err != nil {
			return "", err
		}
		name := trimDot(v.Name)
		if !found || !strings.HasPrefix(name, prefix+".") {
			return fmt.Sprintf("no outlet status table at %s", prefix), nil
		}
		arc, _, _ := strings.Cut(strings.TrimPrefix(name, prefix+"."), ".")
		o, ok := m.OutletOf(m.Status.OID, prefix+"."+arc+suffix)
		if !ok {
			next = prefix + "." + arc + ".4294967295" // past this sub-tree
			continue
		}
		oid := m.OID(m.Status.OID, o)
		if name != oid {
			if v, err = c.getOne(ctx, oid); err != nil {
				return "", err
			}
		}
		return statusReason(m, oid, v), nil
	}
	return fmt.Sprintf("no outlet status among the first %d objects under %s", confirmSteps, prefix), nil
}

// statusReason is "" when v, read at oid, is an outlet status for m.
func statusReason(m *Model, oid string, v gosnmp.SnmpPDU) string {
	if _, ok := intValue(v); !ok {
		return fmt.Sprintf("%s holds %s, not an outlet status", oid, v.Type)
	}
	return ""
}

// getNext asks for the object after oid; found is false at the end of
// the agent's MIB.
func (c *Client) getNext(ctx context.Context, oid string) (v gosnmp.SnmpPDU, found bool, err error) {
	pkt, err := c.request(ctx, "get", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
		return g.GetNext([]string{oid})
	})
	var ae *AgentError
	if errors.As(err, &ae) && ae.Status == gosnmp.NoSuchName {
		return v, false, nil // SNMPv1's end of MIB
	}
	if err != nil {
		return v, false, err
	}
	if len(pkt.Variables) != 1 || pkt.Variables[0].Type == gosnmp.EndOfMibView {
		return v, false, nil
	}
	return pkt.Variables[0], true, nil
}

// getOne reads one object; an absent object comes back as an exception
// varbind (SNMPv2) or a NoSuchObject varbind made up for SNMPv1's error.
func (c *Client) getOne(ctx context.Context, oid string) (gosnmp.SnmpPDU, error) {
	pkt, err := c.request(ctx, "get", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
		return g.Get([]string{oid})
	})
	var ae *AgentError
	if errors.As(err, &ae) && ae.Status == gosnmp.NoSuchName {
		return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.NoSuchObject}, nil
	}
	if err != nil {
		return gosnmp.SnmpPDU{}, err
	}
	if len(pkt.Variables) != 1 {
		return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.NoSuchObject}, nil
	}
	return pkt.Variables[0], nil
}

// upsIdentity is the device's UPS-MIB manufacturer and model, "" when it
// answers none (or does not answer: this only words an error message).
func (c *Client) upsIdentity(ctx context.Context) string {
	var parts []string
	for _, oid := range []string{upsIdentManufacturerOID, upsIdentModelOID} {
		v, err := c.getOne(ctx, oid)
		if err != nil {
			return strings.Join(parts, " ")
		}
		if b, ok := v.Value.([]byte); ok && v.Type == gosnmp.OctetString {
			if s := strings.Join(strings.Fields(string(b)), " "); s != "" {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, " ")
}
