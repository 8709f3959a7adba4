package snmpagent

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"
)

const (
	// maxIndexedVarbinds is the most varbinds a Get, GetNext or Set may
	// carry: gosnmp holds error-index in a uint8, so a later varbind's error
	// could not be reported. Larger requests get tooBig.
	maxIndexedVarbinds = 255
	// maxBulkVarbinds bounds the work one GetBulk can cause before the
	// response is cut to the message size anyway.
	maxBulkVarbinds = 2048
)

// response is the outcome of one request PDU, before encoding.
type response struct {
	status gosnmp.SNMPError
	index  int // 1-based error-index; 0 when status is noError or tooBig
	vars   []gosnmp.SnmpPDU
	// bulk marks a GetBulk result, which is cut short rather than turned
	// into tooBig when it does not fit (RFC 3416 §4.2.3).
	bulk bool
}

// checkRequest rejects what gosnmp decodes but an agent must not answer.
// On success every varbind name is a valid OID without a leading dot.
func checkRequest(req *gosnmp.SnmpPacket) error {
	switch req.PDUType {
	case gosnmp.GetRequest, gosnmp.GetNextRequest, gosnmp.SetRequest:
	case gosnmp.GetBulkRequest:
		if req.Version == gosnmp.Version1 {
			return errors.New("GetBulk in an SNMPv1 message")
		}
	default:
		return fmt.Errorf("%v is not a request", req.PDUType)
	}
	for i := range req.Variables {
		name := strings.TrimPrefix(req.Variables[i].Name, ".")
		// gosnmp decodes OIDs longer than it can encode again.
		if _, err := parseOID(name); err != nil {
			return fmt.Errorf("varbind %d: %w", i+1, err)
		}
		req.Variables[i].Name = name
	}
	return nil
}

// process runs one decoded, authorized request against the MIB.
func (a *Agent) process(req *gosnmp.SnmpPacket, canWrite bool) response {
	v1 := req.Version == gosnmp.Version1
	vars := req.Variables
	if req.PDUType != gosnmp.GetBulkRequest && len(vars) > maxIndexedVarbinds {
		return response{status: gosnmp.TooBig}
	}
	switch req.PDUType {
	case gosnmp.GetRequest:
		return a.get(vars, v1)
	case gosnmp.GetNextRequest:
		return a.getNext(vars, v1)
	case gosnmp.GetBulkRequest:
		return a.getBulk(vars, int(req.NonRepeaters), int(req.MaxRepetitions))
	default:
		return a.set(vars, v1, canWrite)
	}
}

func (a *Agent) get(vars []gosnmp.SnmpPDU, v1 bool) response {
	out := make([]gosnmp.SnmpPDU, len(vars))
	for i, vb := range vars {
		v, ok := a.mib.Get(vb.Name)
		if ok {
			var err error
			if v, err = normalize(v); err != nil {
				a.log.Warn("snmpagent: MIB returned a bad value", "oid", vb.Name, "err", err)
				return failure(gosnmp.GenErr, i, vars)
			}
		}
		switch {
		case v1 && (!ok || isException(v.Type) || v.Type == gosnmp.Counter64):
			// SNMPv1 cannot carry Counter64, so it does not exist there
			// (RFC 3584 §4.2.2.1).
			return failure(gosnmp.NoSuchName, i, vars)
		case !ok:
			v = Variable{Type: a.missing(vb.Name)}
		}
		out[i] = varbind(vb.Name, v)
	}
	return response{vars: out}
}

// missing picks the exception for an OID the MIB does not hold. The MIB knows
// only instances, so "an object of which oid would be an instance exists" is
// guessed as "something is served under oid's parent": sysDescr.5 and
// sysDescr (without .0) give noSuchInstance, an unknown column
// noSuchObject.
func (a *Agent) missing(oid string) gosnmp.Asn1BER {
	parent := oid[:strings.LastIndexByte(oid, '.')]
	if next, _, ok := a.mib.Next(parent); ok && strings.HasPrefix(next, parent+".") {
		return gosnmp.NoSuchInstance
	}
	return gosnmp.NoSuchObject
}

func (a *Agent) getNext(vars []gosnmp.SnmpPDU, v1 bool) response {
	out := make([]gosnmp.SnmpPDU, len(vars))
	for i, vb := range vars {
		name, v, ok, err := a.next(vb.Name, v1)
		switch {
		case err != nil:
			return failure(gosnmp.GenErr, i, vars)
		case !ok && v1:
			return failure(gosnmp.NoSuchName, i, vars)
		case !ok:
			out[i] = varbind(vb.Name, Variable{Type: gosnmp.EndOfMibView})
		default:
			out[i] = varbind(name, v)
		}
	}
	return response{vars: out}
}

// next returns the MIB's next servable variable after oid. SNMPv1 skips
// Counter64 objects, which it cannot carry (RFC 3584 §4.2.2.1).
func (a *Agent) next(oid string, v1 bool) (string, Variable, bool, error) {
	for {
		name, v, ok := a.mib.Next(oid)
		if !ok {
			return "", Variable{}, false, nil
		}
		// A MIB that does not move forward would loop a walk forever.
		if compareOIDs(name, oid) <= 0 {
			a.log.Warn("snmpagent: MIB Next did not advance; treating as end of MIB", "oid", oid, "next", name)
			return "", Variable{}, false, nil
		}
		if isException(v.Type) || (v1 && v.Type == gosnmp.Counter64) {
			oid = name
			continue
		}
		v, err := normalize(v)
		if err != nil {
			a.log.Warn("snmpagent: MIB returned a bad value", "oid", name, "err", err)
			return "", Variable{}, false, err
		}
		return name, v, true, nil
	}
}

// getBulk follows RFC 3416 §4.2.3: the first nonRepeaters varbinds get one
// GetNext each, the rest maxRepetitions rounds of GetNext, stopping early
// once every repeated column has hit the end of the MIB.
func (a *Agent) getBulk(vars []gosnmp.SnmpPDU, nonRepeaters, maxRepetitions int) response {
	n := min(max(nonRepeaters, 0), len(vars))
	var out []gosnmp.SnmpPDU
	for i := range n {
		name, v, ok, err := a.next(vars[i].Name, false)
		switch {
		case err != nil:
			return failure(gosnmp.GenErr, i, vars)
		case !ok:
			out = append(out, varbind(vars[i].Name, Variable{Type: gosnmp.EndOfMibView}))
		default:
			out = append(out, varbind(name, v))
		}
	}
	repeaters := vars[n:]
	cursor := make([]string, len(repeaters))
	ended := make([]bool, len(repeaters))
	for j, vb := range repeaters {
		cursor[j] = vb.Name
	}
	for range max(maxRepetitions, 0) {
		allEnded := true
		for j := range repeaters {
			if len(out) >= maxBulkVarbinds {
				return response{vars: out, bulk: true}
			}
			if !ended[j] {
				name, v, ok, err := a.next(cursor[j], false)
				if err != nil {
					return failure(gosnmp.GenErr, n+j, vars)
				}
				if ok {
					cursor[j] = name
					out = append(out, varbind(name, v))
					allEnded = false
					continue
				}
				ended[j] = true
			}
			out = append(out, varbind(cursor[j], Variable{Type: gosnmp.EndOfMibView}))
		}
		if allEnded {
			break
		}
	}
	return response{vars: out, bulk: true}
}

// set validates every varbind before applying any (RFC 3416 §4.2.5), so a
// request either changes nothing or, barring a failing Set, everything.
func (a *Agent) set(vars []gosnmp.SnmpPDU, v1 bool, canWrite bool) response {
	if !canWrite {
		return failure(snmpStatus(gosnmp.NoAccess, v1), 0, vars)
	}
	values := make([]Variable, len(vars))
	for i, vb := range vars {
		v, err := normalize(Variable{Type: vb.Type, Value: vb.Value})
		if err != nil {
			return failure(snmpStatus(gosnmp.WrongEncoding, v1), i, vars)
		}
		values[i] = v
	}
	for i, vb := range vars {
		if status := a.mib.CheckSet(vb.Name, values[i]); status != gosnmp.NoError {
			return failure(snmpStatus(status, v1), i, vars)
		}
	}
	for i, vb := range vars {
		if status := a.mib.Set(vb.Name, values[i]); status != gosnmp.NoError {
			a.log.Warn("snmpagent: MIB Set failed after CheckSet passed", "oid", vb.Name, "status", status)
			// Nothing is undone: earlier varbinds stay applied.
			failed := gosnmp.UndoFailed
			if i == 0 {
				failed = gosnmp.CommitFailed
			}
			return failure(snmpStatus(failed, v1), i, vars)
		}
	}
	out := echo(vars)
	if ans, ok := a.mib.(SetAnswerer); ok {
		for i, vb := range vars {
			v, err := normalize(ans.SetAnswer(vb.Name, values[i]))
			if err != nil {
				a.log.Warn("snmpagent: MIB answered a SET with a bad value", "oid", vb.Name, "err", err)
				return failure(snmpStatus(gosnmp.GenErr, v1), i, vars)
			}
			out[i] = varbind(vb.Name, v)
		}
	}
	return response{vars: out}
}

// snmpStatus translates a MIB's error status for the request's version:
// SNMPv2 codes to SNMPv1 as RFC 3584 §4.4 does, and the SNMPv1 codes a MIB
// may use to their SNMPv2 counterparts.
func snmpStatus(s gosnmp.SNMPError, v1 bool) gosnmp.SNMPError {
	if v1 {
		switch s {
		case gosnmp.NoError, gosnmp.TooBig, gosnmp.NoSuchName, gosnmp.BadValue, gosnmp.GenErr:
			return s
		case gosnmp.WrongValue, gosnmp.WrongEncoding, gosnmp.WrongType, gosnmp.WrongLength, gosnmp.InconsistentValue:
			return gosnmp.BadValue
		case gosnmp.ReadOnly, gosnmp.NoAccess, gosnmp.NotWritable, gosnmp.NoCreation, gosnmp.InconsistentName, gosnmp.AuthorizationError:
			return gosnmp.NoSuchName
		}
		return gosnmp.GenErr
	}
	switch s {
	case gosnmp.NoSuchName, gosnmp.ReadOnly:
		return gosnmp.NotWritable
	case gosnmp.BadValue:
		return gosnmp.WrongValue
	}
	if s > gosnmp.InconsistentName {
		return gosnmp.GenErr
	}
	return s
}

// failure is an error response: the request's varbinds come back unchanged
// with the error status and the 1-based index of the varbind at fault i.
func failure(status gosnmp.SNMPError, i int, vars []gosnmp.SnmpPDU) response {
	return response{status: status, index: i + 1, vars: echo(vars)}
}

// echo copies request varbinds into a response, replacing values that cannot
// be encoded with Null.
func echo(vars []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
	out := make([]gosnmp.SnmpPDU, len(vars))
	for i, vb := range vars {
		v, err := normalize(Variable{Type: vb.Type, Value: vb.Value})
		if err != nil {
			v = Variable{Type: gosnmp.Null}
		}
		out[i] = varbind(vb.Name, v)
	}
	return out
}

func varbind(oid string, v Variable) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: v.Type, Value: v.Value}
}

// fit encodes r within limit bytes. A GetBulk result loses trailing varbinds
// until it fits (RFC 3416 §4.2.3); anything else becomes tooBig with no
// varbinds (§4.2.1), or for SNMPv1 with the request's (RFC 1157 §4.1.2).
func fit(r response, req *gosnmp.SnmpPacket, limit int, encode func(response) ([]byte, error)) ([]byte, error) {
	out, err := encode(r)
	if err != nil {
		return nil, err
	}
	if len(out) <= limit {
		return out, nil
	}
	if r.bulk {
		// Find the longest prefix of r.vars that fits: lo fits (or is 0),
		// hi does not. A response with no varbinds at all would stall the
		// client's walk, so it becomes tooBig instead.
		lo, hi := 0, len(r.vars)
		var best []byte
		for lo+1 < hi {
			mid := (lo + hi) / 2
			b, err := encode(response{vars: r.vars[:mid]})
			if err != nil {
				return nil, err
			}
			if len(b) <= limit {
				lo, best = mid, b
			} else {
				hi = mid
			}
		}
		if lo > 0 {
			return best, nil
		}
	}
	tooBig := response{status: gosnmp.TooBig}
	if req.Version == gosnmp.Version1 {
		tooBig.vars = echo(req.Variables)
	}
	out, err = encode(tooBig)
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, fmt.Errorf("even a tooBig response needs %d bytes, limit is %d", len(out), limit)
	}
	return out, nil
}
