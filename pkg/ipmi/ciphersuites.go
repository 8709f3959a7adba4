package ipmi

import (
	"context"
	"slices"

	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/types"
)

// handleGetChannelCipherSuites implements Get Channel Cipher Suites (IPMI
// v2.0 §22.15). go-ipmi omits the integrity and confidentiality bytes of a
// suite whose algorithm is "none", which makes ipmitool misread the whole
// list (cipher suite 1 shows as xrc4_128); the spec's records always carry
// all three algorithm bytes (Table 22-19).
func handleGetChannelCipherSuites(_ context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
	if len(req) < 3 {
		return nil, ccRequestDataTruncated, nil
	}
	channel := req[0] & 0x0F
	if channel == 0x0E {
		channel = lanChannel
	}
	if channel != lanChannel {
		return nil, ccInvalidDataField, nil
	}
	if req[1] > 0x01 { // IPMI and SOL payloads ride the same suites
		return nil, ccInvalidDataField, nil
	}
	byCipherSuite := req[2]&0x80 != 0
	index := int(req[2] & 0x3F)

	suites := hctx.BMC.ResolvedCipherSuites()
	var records []byte
	if byCipherSuite {
		for _, id := range suites {
			auth, integ, crypt, ok := types.GetCipherSuiteAlgorithms(id)
			if !ok {
				continue
			}
			records = append(records, 0xC0, byte(id), byte(auth)&0x3F, 0x40|byte(integ)&0x3F, 0x80|byte(crypt)&0x3F)
		}
	} else {
		// "List supported algorithms": each algorithm once, tagged by kind.
		var algs []byte
		for _, id := range suites {
			auth, integ, crypt, ok := types.GetCipherSuiteAlgorithms(id)
			if !ok {
				continue
			}
			for _, a := range []byte{byte(auth) & 0x3F, 0x40 | byte(integ)&0x3F, 0x80 | byte(crypt)&0x3F} {
				if !slices.Contains(algs, a) {
					algs = append(algs, a)
				}
			}
		}
		records = algs
	}
	resp := []byte{channel}
	if start := index * 16; start < len(records) {
		resp = append(resp, records[start:min(start+16, len(records))]...)
	}
	return resp, ccOK, nil
}
