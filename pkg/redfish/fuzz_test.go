package redfish

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzDecoders feeds arbitrary bytes to the request decoders (PATCH of a
// System and of a Chassis, ComputerSystem.Reset, LogService.ClearLog,
// session login, VirtualMedia.InsertMedia and a PATCH of the virtual CD,
// and the query string). None may panic; each
// either accepts or answers 400 with at least one well-formed message; an
// accepted body re-encoded decodes to the same result; and a refused login
// never echoes what was given as the password.
func FuzzDecoders(f *testing.F) {
	for _, s := range []string{
		`{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "UEFI"}}`,
		`{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideTarget": "Hdd"}}`,
		`{"Boot": {"BootSourceOverrideMode": 5}, "Id": "x"}`,
		`{"ResetType": "ForceRestart"}`,
		`{"ResetType": "On", "x": [1, {"y": null}]}`,
		`{"UserName": "admin", "Password": "password"}`,
		`{"UserName": "admin", "Password": {"p": "secret"}}`,
		`{"IndicatorLED": "Blinking", "LocationIndicatorActive": true}`,
		`{"IndicatorLED": "Off", "LocationIndicatorActive": true}`,
		`{"LocationIndicatorActive": "yes"}`,
		`only`, `$expand=*&only`, `only=1`, `%24top=1`, `a=%zz&only`,
		`{"Image": "http://img/x.iso", "Inserted": true, "WriteProtected": true, "TransferProtocolType": "HTTP"}`,
		`{"Image": null, "Inserted": false}`,
		`{"Image": "https://img/x.iso", "UserName": "u", "Password": {"p": "secret-value"}, "TransferMethod": "Upload"}`,
		`{}`, `[]`, `"x"`, `{"a":1} {"b":2}`, "{\"\xff\": 1}", `{"Boot": {`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRefusal := func(what string, aerr *apiError) {
			if aerr.status != http.StatusBadRequest || len(aerr.msgs) == 0 {
				t.Fatalf("%s: refusal %d with %d messages", what, aerr.status, len(aerr.msgs))
			}
			for _, m := range aerr.msgs {
				if !strings.HasPrefix(m.MessageID, registryPrefix) || m.Message == "" || strings.Contains(m.MessageID, "InternalError") {
					t.Fatalf("%s: bad message %+v", what, m)
				}
			}
			if _, err := json.Marshal(aerr.body()); err != nil {
				t.Fatalf("%s: error body does not encode: %v", what, err)
			}
		}

		if p, aerr := decodeSystemPatch(data); aerr != nil {
			checkRefusal("patch", aerr)
		} else {
			if p.empty() || len(p.conflict()) > 0 {
				t.Fatal("accepted a PATCH that changes nothing")
			}
			boot := map[string]string{}
			for k, v := range map[string]*string{"BootSourceOverrideTarget": p.Target, "BootSourceOverrideEnabled": p.Enabled, "BootSourceOverrideMode": p.Mode} {
				if v != nil {
					if !contains(bootWritable[k], *v) {
						t.Fatalf("accepted %s %q", k, *v)
					}
					boot[k] = *v
				}
			}
			doc := map[string]any{}
			if len(boot) > 0 {
				doc["Boot"] = boot
			}
			if p.LED != nil {
				if !contains(indicatorValues, *p.LED) {
					t.Fatalf("accepted IndicatorLED %q", *p.LED)
				}
				doc["IndicatorLED"] = *p.LED
			}
			if p.Locate != nil {
				doc["LocationIndicatorActive"] = *p.Locate
			}
			again, _ := json.Marshal(doc)
			p2, aerr := decodeSystemPatch(again)
			if aerr != nil || !samePatch(p, p2) {
				t.Fatalf("re-encoded patch %s decodes differently: %v", again, aerr)
			}
		}

		if p, aerr := decodeChassisPatch(data); aerr != nil {
			checkRefusal("chassis patch", aerr)
		} else if p.empty() || (p.LED != nil && !contains(indicatorValues, *p.LED)) || len(p.conflict()) > 0 {
			t.Fatalf("accepted chassis patch %+v", p)
		}

		if aerr := decodeClearLog(data); aerr != nil {
			checkRefusal("clear log", aerr)
		}

		// The same bytes as a query string.
		for _, rt := range []*route{{collection: true}, {}} {
			q, aerr := parseQuery(string(data), rt, http.MethodGet)
			if aerr == nil {
				if q.only && !rt.collection {
					t.Fatalf("only accepted on a resource: %q", data)
				}
				continue
			}
			if (aerr.status != http.StatusBadRequest && aerr.status != http.StatusNotImplemented) || len(aerr.msgs) == 0 {
				t.Fatalf("query %q: refusal %d with %d messages", data, aerr.status, len(aerr.msgs))
			}
			if _, err := json.Marshal(aerr.body()); err != nil {
				t.Fatalf("query refusal does not encode: %v", err)
			}
		}

		if rt, aerr := decodeReset(data); aerr != nil {
			checkRefusal("reset", aerr)
		} else {
			again, _ := json.Marshal(map[string]string{"ResetType": rt})
			if rt2, aerr := decodeReset(again); aerr != nil || rt2 != rt {
				t.Fatalf("re-encoded reset %s decodes to %q, %v", again, rt2, aerr)
			}
		}

		// The virtual CD's InsertMedia and PATCH: what is accepted says
		// only what the CD is (read-only, streamed, the URL's protocol).
		for _, action := range []bool{true, false} {
			r, aerr := decodeMediaRequest(data, action)
			if aerr != nil {
				checkRefusal("media", aerr)
				var raw map[string]json.RawMessage
				if json.Unmarshal(data, &raw) == nil && len(raw["Password"]) > 8 {
					if b, _ := json.Marshal(aerr.body()); strings.Contains(string(b), string(raw["Password"])) {
						t.Fatalf("a refused media request echoes the password %s", raw["Password"])
					}
				}
				continue
			}
			switch {
			case action && r.Image == nil, !action && r.empty():
				t.Fatalf("accepted a media request without an image or a change: %s", data)
			case r.WriteProtected != nil && !*r.WriteProtected, r.TransferMethod != nil && *r.TransferMethod != "Stream",
				r.Image != nil && r.TransferProtocolType != nil && protocolOf(*r.Image) != *r.TransferProtocolType:
				t.Fatalf("accepted %+v", r)
			}
		}

		if l, aerr := decodeLogin(data); aerr != nil {
			checkRefusal("login", aerr)
			var raw map[string]json.RawMessage
			if json.Unmarshal(data, &raw) == nil && len(raw["Password"]) > 8 {
				if b, _ := json.Marshal(aerr.body()); strings.Contains(string(b), string(raw["Password"])) {
					t.Fatalf("a refused login echoes the password %s", raw["Password"])
				}
			}
		} else {
			again, _ := json.Marshal(l)
			if l2, aerr := decodeLogin(again); aerr != nil || l2 != l {
				t.Fatalf("re-encoded login decodes to %+v, %v", l2, aerr)
			}
		}
	})
}

func samePatch(a, b systemPatch) bool {
	eq := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	beq := func(x, y *bool) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.Target, b.Target) && eq(a.Enabled, b.Enabled) && eq(a.Mode, b.Mode) &&
		eq(a.LED, b.LED) && beq(a.Locate, b.Locate)
}
