package pdu

import (
	"testing"

	"github.com/gosnmp/gosnmp"
)

// FuzzSNMPResponse feeds arbitrary datagrams, as a PDU (or anything
// pretending to be one) could answer, through the decoding the client relies
// on: gosnmp's packet decoder for v1, v2c and v3 (authPriv, so the USM and
// privacy code runs too) and powerjockey's interpretation of the values for
// every model row: outlet readings, the check of a SET's answer and model
// detection's reading of identity and outlet tables.
func FuzzSNMPResponse(f *testing.F) {
	resp := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "private", PDUType: gosnmp.GetResponse, RequestID: 7,
		Variables: []gosnmp.SnmpPDU{
			{Name: "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.1", Type: gosnmp.Integer, Value: 2},
			{Name: "1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.1", Type: gosnmp.Integer, Value: 120},
			{Name: "1.3.6.1.4.1.534.6.6.7.6.6.1.2.0.1", Type: gosnmp.Gauge32, Value: uint(1)},
			{Name: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.1", Type: gosnmp.NoSuchInstance},
		}}
	if b, err := resp.MarshalMsg(); err == nil {
		f.Add(b)
	}
	resp.Version = gosnmp.Version1
	if b, err := resp.MarshalMsg(); err == nil {
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})

	decoders := []*gosnmp.GoSNMP{
		{Version: gosnmp.Version1, Community: "private", Logger: gosnmp.NewLogger(nil)},
		{Version: gosnmp.Version2c, Community: "private", Logger: gosnmp.NewLogger(nil)},
		{Version: gosnmp.Version3, MsgFlags: gosnmp.AuthPriv, SecurityModel: gosnmp.UserSecurityModel, Logger: gosnmp.NewLogger(nil),
			SecurityParameters: &gosnmp.UsmSecurityParameters{UserName: "pj",
				AuthenticationProtocol: gosnmp.SHA256, AuthenticationPassphrase: "auth-pass-123",
				PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: "priv-pass-456",
				AuthoritativeEngineID: "\x80\x00\x1f\x88\x80powerjockey"}},
	}
	outlets := []int{1, 2, 3, 9, 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range decoders {
			pkt, err := d.SnmpDecodePacket(data)
			if err != nil || pkt == nil {
				continue
			}
			values := make(map[string]gosnmp.SnmpPDU, len(pkt.Variables))
			for _, v := range pkt.Variables {
				values[trimDot(v.Name)] = v
			}
			for i := range Models {
				m := &Models[i]
				outletReadings(m, outlets, values)
				// The answer to a SET, to detection's GETs and GETNEXTs.
				_ = setAnswer(pkt, m.OID(m.On.OID, 1), m.On.Value)
				for _, v := range pkt.Variables {
					_ = statusReason(m, m.OID(m.Status.OID, 1), v)
					m.OutletOf(m.Status.OID, v.Name)
				}
			}
			identityOf(pkt.Variables)
		}
	})
}
