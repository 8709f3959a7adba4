package pdu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// OutletInfo is what discovery reads of one outlet.
type OutletInfo struct {
	Outlet
	// Number is the outlet's number (as configured in nodes' outlets).
	Number int
	// Name is the outlet's user-defined name, "" when the model has no
	// name column or the PDU reported none.
	Name string
}

// maxWalk bounds the objects a walk of one outlet column reads (a PDU
// has at most a few hundred outlets, Raritan's sensor table a few
// thousand rows).
const maxWalk = 20000

var errWalkTooLong = errors.New("walk too long")

// Discover reads every outlet the PDU's status table holds, with its name
// (where the model has a name column), state and draw. It only reads.
func (c *Client) Discover(ctx context.Context) (*Model, []OutletInfo, error) {
	m, err := c.Model(ctx)
	if err != nil {
		return nil, nil, err
	}
	var outlets []int
	prefix := TablePrefix(m.Status.OID)
	err = c.walk(ctx, prefix, func(v gosnmp.SnmpPDU) {
		if o, ok := m.OutletOf(m.Status.OID, v.Name); ok && !slices.Contains(outlets, o) {
			outlets = append(outlets, o)
		}
	})
	if err != nil {
		return m, nil, fmt.Errorf("pdu %s: walk %s: %w", c.cfg.Name, prefix, err)
	}
	slices.Sort(outlets)
	var oids []string
	for _, o := range outlets {
		oids = append(oids, m.OID(m.Status.OID, o))
		if m.Power != nil {
			oids = append(oids, m.OID(m.Power.OID, o))
		}
		if m.OutletName != "" {
			oids = append(oids, m.OID(m.OutletName, o))
		}
	}
	values := make(map[string]gosnmp.SnmpPDU, len(oids))
	for chunk := range slices.Chunk(oids, gosnmp.MaxOids) {
		pkt, err := c.request(ctx, "get", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
			return g.Get(chunk)
		})
		if err != nil {
			return m, nil, fmt.Errorf("pdu %s: read outlets: %w", c.cfg.Name, err)
		}
		for _, v := range pkt.Variables {
			values[trimDot(v.Name)] = v
		}
	}
	readings, _ := outletReadings(m, outlets, values)
	infos := make([]OutletInfo, 0, len(outlets))
	for _, o := range outlets {
		info := OutletInfo{Outlet: readings[o], Number: o}
		if m.OutletName != "" {
			info.Name = textValue(values[m.OID(m.OutletName, o)])
		}
		infos = append(infos, info)
	}
	return m, infos, nil
}

// textValue is an OCTET STRING's text, trimmed, "" for anything else.
func textValue(v gosnmp.SnmpPDU) string {
	b, ok := v.Value.([]byte)
	if !ok || v.Type != gosnmp.OctetString {
		return ""
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
}

// walk reads the subtree under prefix (GETBULK where the version has it),
// holding the PDU's request slot, at most maxWalk objects.
func (c *Client) walk(ctx context.Context, prefix string, fn func(gosnmp.SnmpPDU)) error {
	_, err := c.request(ctx, "get", false, func(g *gosnmp.GoSNMP) (*gosnmp.SnmpPacket, error) {
		n := 0
		visit := func(v gosnmp.SnmpPDU) error {
			if n++; n > maxWalk {
				return fmt.Errorf("%w: more than %d objects under %s", errWalkTooLong, maxWalk, prefix)
			}
			fn(v)
			return nil
		}
		var err error
		if g.Version == gosnmp.Version1 {
			err = g.Walk(prefix, visit)
		} else {
			err = g.BulkWalk(prefix, visit)
		}
		return &gosnmp.SnmpPacket{}, err
	})
	return err
}
