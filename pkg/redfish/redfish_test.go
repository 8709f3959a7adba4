package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

func TestPublicResources(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		path string
		want map[string]any // top-level fields
	}{
		{"/redfish", map[string]any{"v1": "/redfish/v1/"}},
		{"/redfish/", map[string]any{"v1": "/redfish/v1/"}},
		{"/redfish/v1/", map[string]any{"@odata.id": "/redfish/v1/", "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
			"Id": "RootService", "RedfishVersion": redfishVersion, "UUID": "4f0e2a4c-6b1d-4c55-9a59-2e4f8e1b7c3d"}},
		{"/redfish/v1", map[string]any{"@odata.id": "/redfish/v1/"}},
		{"/redfish/v1/odata", map[string]any{"@odata.context": "/redfish/v1/$metadata"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := f.do(t, req{path: tt.path})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d:\n%s", w.Code, w.Body)
			}
			m := decodeJSON(t, w)
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
		})
	}
	root := decodeJSON(t, f.do(t, req{path: "/redfish/v1/"}))
	for _, link := range [][]string{{"Systems"}, {"Managers"}, {"Chassis"}, {"SessionService"}, {"Links", "Sessions"}} {
		if id, _ := field(root, append(link, "@odata.id")...).(string); !strings.HasPrefix(id, "/redfish/v1/") {
			t.Errorf("service root link %v = %q", link, id)
		}
	}
	w := f.do(t, req{path: "/redfish/v1/$metadata"})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "ServiceRoot.v1_5_0") {
		t.Errorf("$metadata: %d\n%s", w.Code, w.Body)
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		name   string
		r      req
		status int
	}{
		{"no credentials", req{path: "/redfish/v1/Systems"}, http.StatusUnauthorized},
		{"wrong password", req{path: "/redfish/v1/Systems", user: "admin", pw: "nope"}, http.StatusUnauthorized},
		{"unknown user", req{path: "/redfish/v1/Systems", user: "root", pw: "password"}, http.StatusUnauthorized},
		{"another node's password", req{path: "/redfish/v1/Systems", user: "admin", pw: "viewer-secret"}, http.StatusUnauthorized},
		{"bogus token", req{path: "/redfish/v1/Systems", token: "deadbeef"}, http.StatusUnauthorized},
		{"bearer scheme", req{path: "/redfish/v1/Systems", header: map[string]string{"Authorization": "Bearer x"}}, http.StatusUnauthorized},
		{"unknown path needs credentials first", req{path: "/redfish/v1/Nope"}, http.StatusUnauthorized},
		{"good credentials", req{path: "/redfish/v1/Systems", user: "admin", pw: "password"}, http.StatusOK},
		{"read-only user may read", req{path: "/redfish/v1/Systems/other-0", user: "viewer", pw: "viewer-secret"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, tt.r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d:\n%s", w.Code, tt.status, w.Body)
			}
			if tt.status != http.StatusUnauthorized {
				return
			}
			if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic realm=") {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if _, keys := redfishError(t, w); !slices.Equal(keys, []string{"NoValidSession"}) {
				t.Errorf("messages %v, want NoValidSession", keys)
			}
		})
	}
	logs := f.log.String()
	if !strings.Contains(logs, `msg="redfish authentication failed"`) || !strings.Contains(logs, "user=root") {
		t.Errorf("refused logins not logged:\n%s", logs)
	}
	for _, secret := range []string{"nope", "viewer-secret", "password\n"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a password (%q) reached the log:\n%s", secret, logs)
		}
	}
}

func TestCredentialsSeeOnlyTheirSystems(t *testing.T) {
	f := newFixture(t, Options{})
	for _, coll := range []struct{ path, prefix string }{
		{"/redfish/v1/Systems", "/redfish/v1/Systems/"},
		{"/redfish/v1/Managers", "/redfish/v1/Managers/"},
		{"/redfish/v1/Chassis", "/redfish/v1/Chassis/"},
	} {
		for _, who := range []struct {
			user, pw string
			want     []string
		}{
			{"admin", "password", []string{"compute-0", "compute-1"}},
			{"viewer", "viewer-secret", []string{"other-0"}},
		} {
			w := f.do(t, req{path: coll.path, user: who.user, pw: who.pw})
			var want []string
			for _, n := range who.want {
				want = append(want, coll.prefix+n)
			}
			if got := members(t, decodeJSON(t, w)); !slices.Equal(got, want) {
				t.Errorf("%s as %s: members %v, want %v", coll.path, who.user, got, want)
			}
		}
	}
	// Another node's resources do not exist for these credentials.
	for _, path := range []string{"/redfish/v1/Systems/other-0", "/redfish/v1/Managers/other-0", "/redfish/v1/Chassis/other-0",
		"/redfish/v1/Systems/nosuch", "/redfish/v1/Systems/other-0/Actions/ComputerSystem.Reset"} {
		w := f.do(t, admin(http.MethodGet, path, ""))
		if w.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, w.Code)
			continue
		}
		if _, keys := redfishError(t, w); keys[0] != "ResourceNotFound" {
			t.Errorf("%s: %v, want ResourceNotFound", path, keys)
		}
	}
	if !strings.Contains(f.log.String(), "redfish access refused") {
		t.Errorf("refused access to another node's system not logged:\n%s", f.log)
	}
}

func TestSystemResource(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	tests := []struct {
		name       string
		reading    power.Reading
		readErr    error
		supports   map[power.Action]node.Support
		wantPower  any
		wantHealth string
		wantResets []string
	}{
		{"on, all means", power.Reading{State: power.StateOn}, nil, nil, "On", "OK",
			[]string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle"}},
		{"off", power.Reading{State: power.StateOff}, nil, nil, "Off", "OK",
			[]string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle"}},
		{"sensor error: null", power.Reading{}, node.ErrStale, nil, nil, "Warning",
			[]string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle"}},
		{"unknown: null", power.Reading{State: power.Unknown}, nil, nil, nil, "Warning",
			[]string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle"}},
		{"manual counts, nmi with a diag hook", power.Reading{State: power.StateOn}, nil,
			map[power.Action]node.Support{power.SoftOff: node.ByHand, power.Diag: node.ByMeans}, "On", "OK",
			[]string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle", "Nmi"}},
		{"fallback error, no soft off, no reset", power.Reading{State: power.StateOn}, nil,
			map[power.Action]node.Support{power.SoftOff: node.Unsupported, power.Reset: node.Unsupported}, "On", "OK",
			[]string{"On", "ForceOff", "PowerCycle"}},
		{"nothing", power.Reading{State: power.StateOff}, nil,
			map[power.Action]node.Support{power.On: node.Unsupported, power.Off: node.Unsupported, power.SoftOff: node.Unsupported,
				power.Reset: node.Unsupported, power.Cycle: node.Unsupported}, "Off", "OK",
			[]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys.set(func(s *fakeSystem) { s.reading, s.readErr, s.supports = tt.reading, tt.readErr, tt.supports })
			w := f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0", ""))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d\n%s", w.Code, w.Body)
			}
			m := decodeJSON(t, w)
			if m["PowerState"] != tt.wantPower {
				t.Errorf("PowerState %v, want %v", m["PowerState"], tt.wantPower)
			}
			if h := field(m, "Status", "Health"); h != tt.wantHealth {
				t.Errorf("Health %v, want %s", h, tt.wantHealth)
			}
			var resets []string
			for _, v := range field(m, "Actions", "#ComputerSystem.Reset", "ResetType@Redfish.AllowableValues").([]any) {
				resets = append(resets, v.(string))
			}
			if !slices.Equal(resets, tt.wantResets) && !(len(resets) == 0 && len(tt.wantResets) == 0) {
				t.Errorf("allowable resets %v, want %v", resets, tt.wantResets)
			}
		})
	}
	m := decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0", "")))
	for k, want := range map[string]any{
		"@odata.id": "/redfish/v1/Systems/compute-0", "@odata.type": typeSystem,
		"Id": "compute-0", "Name": "compute-0", "UUID": sys.GUID().String(),
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if got := field(m, "Actions", "#ComputerSystem.Reset", "target"); got != "/redfish/v1/Systems/compute-0/Actions/ComputerSystem.Reset" {
		t.Errorf("reset target %v", got)
	}
	if got := field(m, "Links", "ManagedBy").([]any)[0].(map[string]any)["@odata.id"]; got != "/redfish/v1/Managers/compute-0" {
		t.Errorf("ManagedBy %v", got)
	}
	w := f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0/", ""))
	if w.Code != http.StatusOK || w.Header().Get("ETag") != m["@odata.etag"] {
		t.Errorf("trailing slash: status %d, ETag %q vs @odata.etag %v", w.Code, w.Header().Get("ETag"), m["@odata.etag"])
	}
	if etag := w.Header().Get("ETag"); !strings.HasPrefix(etag, `W/"`) {
		t.Errorf("ETag %q is not weak", etag)
	}
	for _, path := range []string{"/redfish/v1/Managers/compute-0", "/redfish/v1/Chassis/compute-0", "/redfish/v1/SessionService"} {
		m := decodeJSON(t, f.do(t, admin(http.MethodGet, path, "")))
		if m["@odata.id"] != path || m["Id"] == nil || m["Name"] == nil || m["@odata.type"] == nil {
			t.Errorf("%s: %v", path, m)
		}
	}
}

func TestBootMapping(t *testing.T) {
	tests := []struct {
		boot node.Boot
		want redfishBoot
	}{
		{node.Boot{Device: node.BootNone}, redfishBoot{"None", "Disabled", "Legacy"}},
		{node.Boot{Valid: true, Device: node.BootPXE}, redfishBoot{"Pxe", "Once", "Legacy"}},
		{node.Boot{Valid: true, Persistent: true, UEFI: true, Device: node.BootDisk}, redfishBoot{"Hdd", "Continuous", "UEFI"}},
		{node.Boot{Valid: false, Persistent: true, Device: node.BootCDROM}, redfishBoot{"Cd", "Disabled", "Legacy"}},
		{node.Boot{Valid: true, UEFI: true, Device: node.BootBIOS}, redfishBoot{"BiosSetup", "Once", "UEFI"}},
		{node.Boot{Valid: true, Device: node.BootSafe}, redfishBoot{"Hdd", "Once", "Legacy"}},
		{node.Boot{Valid: true, Device: node.BootRemoteMedia}, redfishBoot{"Cd", "Once", "Legacy"}},
		{node.Boot{Valid: true, Device: ""}, redfishBoot{"None", "Once", "Legacy"}},
	}
	for _, tt := range tests {
		if got := toRedfish(tt.boot); got != tt.want {
			t.Errorf("toRedfish(%+v) = %+v, want %+v", tt.boot, got, tt.want)
		}
	}
	// Every settable target reads back as itself.
	for _, v := range targetValues {
		var b node.Boot
		bootPatch{Target: &v}.apply(&b)
		if got := toRedfish(b).target; got != v {
			t.Errorf("target %s reads back as %s", v, got)
		}
	}
}

func ptr(s string) *string { return &s }

func TestPatchBoot(t *testing.T) {
	start := node.Boot{Device: node.BootNone, IPMI: node.IPMIBootBits{Flags: [5]byte{0, 0, 0x08, 0, 0}}}
	tests := []struct {
		name     string
		body     string
		status   int
		wantMsgs []string
		want     node.Boot // when status is 200
	}{
		{"ironic: pxe once uefi", `{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "UEFI"}}`,
			200, nil, node.Boot{Valid: true, UEFI: true, Device: node.BootPXE, IPMI: start.IPMI}},
		{"disk continuous", `{"Boot": {"BootSourceOverrideTarget": "Hdd", "BootSourceOverrideEnabled": "Continuous"}}`,
			200, nil, node.Boot{Valid: true, Persistent: true, Device: node.BootDisk, IPMI: start.IPMI}},
		{"target alone keeps it disabled", `{"Boot": {"BootSourceOverrideTarget": "Cd"}}`,
			200, nil, node.Boot{Device: node.BootCDROM, IPMI: start.IPMI}},
		{"mode alone", `{"Boot": {"BootSourceOverrideMode": "UEFI"}}`,
			200, nil, node.Boot{UEFI: true, Device: node.BootNone, IPMI: start.IPMI}},
		{"bios setup once", `{"Boot":{"BootSourceOverrideEnabled":"Once","BootSourceOverrideTarget":"BiosSetup"}}`,
			200, nil, node.Boot{Valid: true, Device: node.BootBIOS, IPMI: start.IPMI}},
		{"malformed", `{"Boot": {`, 400, []string{"MalformedJSON"}, node.Boot{}},
		{"not an object", `["Boot"]`, 400, []string{"MalformedJSON"}, node.Boot{}},
		{"trailing data", `{"Boot": {"BootSourceOverrideMode": "UEFI"}} {}`, 400, []string{"MalformedJSON"}, node.Boot{}},
		{"empty body", ``, 400, []string{"MalformedJSON"}, node.Boot{}},
		{"empty object", `{}`, 400, []string{"EmptyJSON"}, node.Boot{}},
		{"empty boot", `{"Boot": {}}`, 400, []string{"NoOperation"}, node.Boot{}},
		{"unknown property", `{"Bootx": {}}`, 400, []string{"PropertyUnknown"}, node.Boot{}},
		{"unknown boot property", `{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootOrder": ["a"]}}`, 400, []string{"PropertyUnknown"}, node.Boot{}},
		{"read-only property", `{"PowerState": "On"}`, 400, []string{"PropertyNotWritable"}, node.Boot{}},
		{"allowable values are read-only", `{"Boot": {"BootSourceOverrideTarget@Redfish.AllowableValues": ["Pxe"]}}`, 400, []string{"PropertyNotWritable"}, node.Boot{}},
		{"bad target", `{"Boot": {"BootSourceOverrideTarget": "pxe"}}`, 400, []string{"PropertyValueNotInList"}, node.Boot{}},
		{"unsupported target", `{"Boot": {"BootSourceOverrideTarget": "UefiHttp"}}`, 400, []string{"PropertyValueNotInList"}, node.Boot{}},
		{"bad enabled", `{"Boot": {"BootSourceOverrideEnabled": "Twice"}}`, 400, []string{"PropertyValueNotInList"}, node.Boot{}},
		{"bad mode", `{"Boot": {"BootSourceOverrideMode": "EFI"}}`, 400, []string{"PropertyValueNotInList"}, node.Boot{}},
		{"wrong type", `{"Boot": {"BootSourceOverrideTarget": 5}}`, 400, []string{"PropertyValueTypeError"}, node.Boot{}},
		{"null", `{"Boot": {"BootSourceOverrideTarget": null}}`, 400, []string{"PropertyValueTypeError"}, node.Boot{}},
		{"boot not an object", `{"Boot": "Pxe"}`, 400, []string{"PropertyValueTypeError"}, node.Boot{}},
		{"duplicate", `{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideTarget": "Hdd"}}`, 400, []string{"PropertyDuplicate"}, node.Boot{}},
		{"every problem at once, one good value applies nothing",
			`{"Id": "x", "Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideMode": "EFI", "Foo": 1}, "Bar": true}`,
			400, []string{"PropertyNotWritable", "PropertyValueNotInList", "PropertyUnknown", "PropertyUnknown"}, node.Boot{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			sys := f.sys["compute-0"]
			sys.set(func(s *fakeSystem) { s.boot = start })
			w := f.do(t, admin(http.MethodPatch, "/redfish/v1/Systems/compute-0", tt.body))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.status, w.Body)
			}
			boot, validFor, updates, _ := sys.snapshot()
			if tt.status != http.StatusOK {
				_, keys := redfishError(t, w)
				if !slices.Equal(keys, tt.wantMsgs) {
					t.Errorf("messages %v, want %v", keys, tt.wantMsgs)
				}
				if updates != 0 || boot != start {
					t.Errorf("a refused PATCH changed the boot override: %d updates, %+v", updates, boot)
				}
				return
			}
			if boot != tt.want {
				t.Errorf("boot %+v, want %+v", boot, tt.want)
			}
			if validFor != 0 {
				t.Errorf("validFor %v: a Redfish override must not lapse", validFor)
			}
			m := decodeJSON(t, w)
			if w.Header().Get("ETag") != m["@odata.etag"] || w.Header().Get("ETag") != systemETag(toRedfish(tt.want), node.IndicatorOff) {
				t.Errorf("ETag %q, body %v, want %s", w.Header().Get("ETag"), m["@odata.etag"], systemETag(toRedfish(tt.want), node.IndicatorOff))
			}
		})
	}
}

func TestPatchMessagesNameTheProperty(t *testing.T) {
	f := newFixture(t, Options{})
	w := f.do(t, admin(http.MethodPatch, "/redfish/v1/Systems/compute-0", `{"Boot": {"BootSourceOverrideTarget": "Usb"}}`))
	e, _ := redfishError(t, w)
	m := e.Error.Ext[0]
	if !slices.Equal(m.MessageArgs, []string{"Usb", "Boot/BootSourceOverrideTarget"}) ||
		!slices.Equal(m.RelatedProperties, []string{"#/Boot/BootSourceOverrideTarget"}) ||
		m.Message != "The value 'Usb' for the property Boot/BootSourceOverrideTarget is not in the list of acceptable values." {
		t.Errorf("message %+v", m)
	}
}

func TestPatchIfMatch(t *testing.T) {
	body := `{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}`
	current := systemETag(toRedfish(node.Boot{Device: node.BootNone}), node.IndicatorOff)
	tests := []struct {
		name    string
		ifMatch string
		status  int
	}{
		{"weak, as given", current, 200},
		{"strong form of it", strings.TrimPrefix(current, "W/"), 200},
		{"in a list", `"nope", ` + current, 200},
		{"any", "*", 200},
		{"stale", `W/"0123456789abcdef"`, 412},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			r := admin(http.MethodPatch, "/redfish/v1/Systems/compute-0", body)
			r.header = map[string]string{"If-Match": tt.ifMatch}
			w := f.do(t, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.status, w.Body)
			}
			_, _, updates, _ := f.sys["compute-0"].snapshot()
			if tt.status == 412 {
				if _, keys := redfishError(t, w); keys[0] != "PreconditionFailed" {
					t.Errorf("messages %v", keys)
				}
				if updates != 0 {
					t.Error("a failed precondition changed the boot override")
				}
			}
		})
	}
	// An IPMI client changes the override between the check and the write:
	// the check under the node's lock catches it.
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	sys.set(func(s *fakeSystem) {
		s.beforeUpdate = func(b *node.Boot) { b.Device, b.Valid = node.BootDisk, true }
	})
	r := admin(http.MethodPatch, "/redfish/v1/Systems/compute-0", body)
	r.header = map[string]string{"If-Match": current}
	if w := f.do(t, r); w.Code != http.StatusPreconditionFailed {
		t.Fatalf("racing change: status %d, want 412\n%s", w.Code, w.Body)
	}
	if boot, _, _, _ := sys.snapshot(); boot.Device != node.BootDisk {
		t.Errorf("boot %+v: the PATCH overwrote the racing change", boot)
	}
}

func TestPatchModeKeepsIPMILapse(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	sys.set(func(s *fakeSystem) {
		s.boot = node.Boot{Valid: true, Device: node.BootPXE, ExpiresAt: time.Now().Add(40 * time.Second)}
	})
	f.do(t, admin(http.MethodPatch, "/redfish/v1/Systems/compute-0", `{"Boot": {"BootSourceOverrideMode": "UEFI"}}`))
	if _, validFor, _, _ := sys.snapshot(); validFor < 30*time.Second || validFor > 40*time.Second {
		t.Errorf("validFor %v: a mode-only PATCH must keep the IPMI override's remaining lapse", validFor)
	}
	f.do(t, admin(http.MethodPatch, "/redfish/v1/Systems/compute-0", `{"Boot": {"BootSourceOverrideEnabled": "Once"}}`))
	if _, validFor, _, _ := sys.snapshot(); validFor != 0 {
		t.Errorf("validFor %v after arming through Redfish, want 0", validFor)
	}
}

func TestReset(t *testing.T) {
	const path = "/redfish/v1/Systems/compute-0/Actions/ComputerSystem.Reset"
	tests := []struct {
		name       string
		body       string
		supports   map[power.Action]node.Support
		powerErr   error
		status     int
		wantMsgs   []string
		wantAction []power.Action
	}{
		{"On", `{"ResetType": "On"}`, nil, nil, 204, nil, []power.Action{power.On}},
		{"ForceOff", `{"ResetType": "ForceOff"}`, nil, nil, 204, nil, []power.Action{power.Off}},
		{"GracefulShutdown", `{"ResetType": "GracefulShutdown"}`, nil, nil, 204, nil, []power.Action{power.SoftOff}},
		{"ForceRestart", `{"ResetType": "ForceRestart"}`, nil, nil, 204, nil, []power.Action{power.Reset}},
		{"GracefulRestart is a reset", `{"ResetType": "GracefulRestart"}`, nil, nil, 204, nil, []power.Action{power.Reset}},
		{"PowerCycle", `{"ResetType": "PowerCycle"}`, nil, nil, 204, nil, []power.Action{power.Cycle}},
		{"Nmi with a diag hook", `{"ResetType": "Nmi"}`, map[power.Action]node.Support{power.Diag: node.ByMeans}, nil, 204, nil, []power.Action{power.Diag}},
		{"manual fallback is honoured", `{"ResetType": "GracefulShutdown"}`, map[power.Action]node.Support{power.SoftOff: node.ByHand}, nil, 204, nil, []power.Action{power.SoftOff}},
		{"Nmi without a diag hook", `{"ResetType": "Nmi"}`, nil, nil, 400, []string{"ActionParameterNotSupported"}, nil},
		{"ForceOn is never offered", `{"ResetType": "ForceOn"}`, nil, nil, 400, []string{"ActionParameterNotSupported"}, nil},
		{"node says unsupported", `{"ResetType": "On"}`, nil, fmt.Errorf("power on n: %w", power.ErrUnsupported), 400, []string{"ActionParameterNotSupported"}, []power.Action{power.On}},
		{"PDU timeout", `{"ResetType": "ForceOff"}`, nil, fmt.Errorf("pdu rack1: 10.0.0.5:161: %w", power.ErrTimeout), 503, []string{"ServiceTemporarilyUnavailable"}, []power.Action{power.Off}},
		{"stale", `{"ResetType": "ForceOff"}`, nil, fmt.Errorf("node n: %w", node.ErrStale), 503, []string{"ServiceTemporarilyUnavailable"}, []power.Action{power.Off}},
		{"hook failed", `{"ResetType": "GracefulShutdown"}`, nil, errors.New("exec soft hook for n exited with status 1"), 502, []string{"GeneralError"}, []power.Action{power.SoftOff}},
		{"not a reset type", `{"ResetType": "on"}`, nil, nil, 400, []string{"ActionParameterValueNotInList"}, nil},
		{"missing", `{}`, nil, nil, 400, []string{"ActionParameterMissing"}, nil},
		{"unknown parameter", `{"ResetType": "On", "Force": true}`, nil, nil, 400, []string{"ActionParameterUnknown"}, nil},
		{"wrong type", `{"ResetType": 1}`, nil, nil, 400, []string{"ActionParameterValueTypeError"}, nil},
		{"duplicate", `{"ResetType": "On", "ResetType": "ForceOff"}`, nil, nil, 400, []string{"ActionParameterDuplicate"}, nil},
		{"malformed", `{"ResetType": `, nil, nil, 400, []string{"MalformedJSON"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			sys := f.sys["compute-0"]
			sys.set(func(s *fakeSystem) { s.supports, s.powerErr = tt.supports, tt.powerErr })
			w := f.do(t, admin(http.MethodPost, path, tt.body))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.status, w.Body)
			}
			_, _, _, actions := sys.snapshot()
			if !slices.Equal(actions, tt.wantAction) {
				t.Errorf("node actions %v, want %v", actions, tt.wantAction)
			}
			if tt.status == http.StatusNoContent {
				if w.Body.Len() != 0 {
					t.Errorf("204 with a body: %s", w.Body)
				}
				return
			}
			e, keys := redfishError(t, w)
			if !slices.Equal(keys, tt.wantMsgs) {
				t.Errorf("messages %v, want %v", keys, tt.wantMsgs)
			}
			if tt.powerErr != nil && !strings.Contains(e.Error.Message, tt.powerErr.Error()) {
				t.Errorf("error.message %q does not say what failed (%v)", e.Error.Message, tt.powerErr)
			}
			if tt.status == 503 && w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}

func TestReadOnlyUser(t *testing.T) {
	f := newFixture(t, Options{})
	viewer := func(method, path, body string) req {
		return req{method: method, path: path, body: body, user: "viewer", pw: "viewer-secret"}
	}
	for _, r := range []req{
		viewer(http.MethodPost, "/redfish/v1/Systems/other-0/Actions/ComputerSystem.Reset", `{"ResetType": "On"}`),
		viewer(http.MethodPatch, "/redfish/v1/Systems/other-0", `{"Boot": {"BootSourceOverrideTarget": "Pxe"}}`),
	} {
		w := f.do(t, r)
		if w.Code != http.StatusForbidden {
			t.Fatalf("%s %s: status %d, want 403", r.method, r.path, w.Code)
		}
		if _, keys := redfishError(t, w); keys[0] != "InsufficientPrivilege" {
			t.Errorf("messages %v", keys)
		}
	}
	if _, _, updates, actions := f.sys["other-0"].snapshot(); updates != 0 || len(actions) != 0 {
		t.Errorf("a read-only user changed the node: %d boot updates, actions %v", updates, actions)
	}
	if n := strings.Count(f.log.String(), "redfish request refused: read-only credentials"); n != 2 {
		t.Errorf("%d refusals logged, want 2:\n%s", n, f.log)
	}
}

func TestProtocolErrors(t *testing.T) {
	f := newFixture(t, Options{})
	big := `{"Boot": {"BootSourceOverrideTarget": "` + strings.Repeat("x", maxBody) + `"}}`
	tests := []struct {
		name   string
		r      req
		status int
		msg    string
	}{
		{"unknown URI", admin(http.MethodGet, "/redfish/v1/Nope", ""), 404, "InvalidURI"},
		{"outside /redfish/v1", admin(http.MethodGet, "/redfish/v2", ""), 404, "InvalidURI"},
		{"prefix is not a segment", admin(http.MethodGet, "/redfish/v1x", ""), 404, "InvalidURI"},
		{"DELETE a system", admin(http.MethodDelete, "/redfish/v1/Systems/compute-0", ""), 405, "OperationNotAllowed"},
		{"GET an action", admin(http.MethodGet, "/redfish/v1/Systems/compute-0/Actions/ComputerSystem.Reset", ""), 405, "OperationNotAllowed"},
		{"POST the service root", req{method: http.MethodPost, path: "/redfish/v1/"}, 405, "OperationNotAllowed"},
		{"PUT a collection", admin(http.MethodPut, "/redfish/v1/Systems", ""), 405, "OperationNotAllowed"},
		{"OData-Version 5", req{path: "/redfish/v1/", header: map[string]string{"OData-Version": "5.0"}}, 412, "HeaderInvalid"},
		{"form body", func() req {
			r := admin(http.MethodPatch, "/redfish/v1/Systems/compute-0", `Boot=Pxe`)
			r.header = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
			return r
		}(), 415, "HeaderInvalid"},
		{"body too large", admin(http.MethodPatch, "/redfish/v1/Systems/compute-0", big), 413, "PayloadTooLarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, tt.r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.status, w.Body)
			}
			if _, keys := redfishError(t, w); keys[0] != tt.msg {
				t.Errorf("messages %v, want %s", keys, tt.msg)
			}
			if tt.status == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	// HEAD is GET without a body.
	w := f.do(t, req{method: http.MethodHead, path: "/redfish/v1/"})
	if w.Code != http.StatusOK {
		t.Errorf("HEAD: %d", w.Code)
	}
}

func TestSessions(t *testing.T) {
	f := newFixture(t, Options{SessionTimeout: 10 * time.Minute, MaxSessions: 3})
	login := func(user, pw string) (string, string, int) {
		t.Helper()
		w := f.do(t, req{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions",
			body: fmt.Sprintf(`{"UserName": %q, "Password": %q}`, user, pw)})
		return w.Header().Get("X-Auth-Token"), w.Header().Get("Location"), w.Code
	}
	token, loc, code := login("admin", "password")
	if code != http.StatusCreated || token == "" || !strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/") {
		t.Fatalf("login: %d, token %q, Location %q", code, token, loc)
	}
	m := decodeJSON(t, f.do(t, req{path: loc, token: token}))
	if m["UserName"] != "admin" || m["Password"] != nil || m["@odata.id"] != loc {
		t.Errorf("session resource %v", m)
	}
	if got := members(t, decodeJSON(t, f.do(t, req{path: "/redfish/v1/Systems", token: token}))); len(got) != 2 {
		t.Errorf("session sees %v", got)
	}
	vtoken, vloc, _ := login("viewer", "viewer-secret")
	// Each sees only its own sessions.
	if got := members(t, decodeJSON(t, f.do(t, req{path: "/redfish/v1/SessionService/Sessions", token: token}))); !slices.Equal(got, []string{loc}) {
		t.Errorf("admin's sessions %v, want [%s]", got, loc)
	}
	if w := f.do(t, req{path: vloc, token: token}); w.Code != http.StatusNotFound {
		t.Errorf("admin reads viewer's session: %d", w.Code)
	}
	if w := f.do(t, req{method: http.MethodDelete, path: vloc, user: "admin", pw: "password"}); w.Code != http.StatusNotFound {
		t.Errorf("admin deletes viewer's session: %d", w.Code)
	}
	// Basic auth with the same credentials may end the session.
	if w := f.do(t, req{method: http.MethodDelete, path: loc, user: "admin", pw: "password"}); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d\n%s", w.Code, w.Body)
	}
	if w := f.do(t, req{path: "/redfish/v1/Systems", token: token}); w.Code != http.StatusUnauthorized {
		t.Errorf("deleted session still works: %d", w.Code)
	}
	// Idle timeout, refreshed by use.
	f.clock.Advance(9 * time.Minute)
	if w := f.do(t, req{path: "/redfish/v1/Systems", token: vtoken}); w.Code != http.StatusOK {
		t.Fatalf("session before its timeout: %d", w.Code)
	}
	f.clock.Advance(9 * time.Minute)
	if w := f.do(t, req{path: "/redfish/v1/Systems", token: vtoken}); w.Code != http.StatusOK {
		t.Fatalf("used session expired early: %d", w.Code)
	}
	f.clock.Advance(11 * time.Minute)
	if w := f.do(t, req{path: "/redfish/v1/Systems", token: vtoken}); w.Code != http.StatusUnauthorized {
		t.Fatalf("idle session still valid: %d", w.Code)
	}
	// A changed password (a reload) ends the sessions made with the old one.
	tok2, _, _ := login("admin", "password")
	f.backend.setPassword("compute-0", "new")
	f.backend.setPassword("compute-1", "new")
	if w := f.do(t, req{path: "/redfish/v1/Systems", token: tok2}); w.Code != http.StatusUnauthorized {
		t.Errorf("session outlived its password: %d", w.Code)
	}
	// Limit.
	for i := 0; i < 3; i++ {
		if _, _, code := login("viewer", "viewer-secret"); code != http.StatusCreated {
			t.Fatalf("login %d: %d", i, code)
		}
	}
	w := f.do(t, req{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions", body: `{"UserName": "viewer", "Password": "viewer-secret"}`})
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("login beyond the limit: %d", w.Code)
	}
	if _, keys := redfishError(t, w); keys[0] != "SessionLimitExceeded" {
		t.Errorf("messages %v", keys)
	}
	if strings.Contains(f.log.String(), token) || strings.Contains(f.log.String(), vtoken) {
		t.Error("a session token reached the log")
	}
}

func TestLoginErrors(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		name, body string
		status     int
		msgs       []string
	}{
		{"wrong password", `{"UserName": "admin", "Password": "x"}`, 401, []string{"NoValidSession"}},
		{"missing password", `{"UserName": "admin"}`, 400, []string{"CreateFailedMissingReqProperties"}},
		{"missing both", `{}`, 400, []string{"CreateFailedMissingReqProperties", "CreateFailedMissingReqProperties"}},
		{"unknown property", `{"UserName": "admin", "Password": "password", "Context": "x"}`, 400, []string{"PropertyUnknown"}},
		{"password not a string", `{"UserName": "admin", "Password": 12345678}`, 400, []string{"PropertyValueTypeError"}},
		{"malformed", `{"UserName": `, 400, []string{"MalformedJSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, req{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions", body: tt.body})
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.status, w.Body)
			}
			if w.Header().Get("X-Auth-Token") != "" {
				t.Error("a token for a refused login")
			}
			if _, keys := redfishError(t, w); !slices.Equal(keys, tt.msgs) {
				t.Errorf("messages %v, want %v", keys, tt.msgs)
			}
			if strings.Contains(w.Body.String(), "12345678") {
				t.Error("the password was echoed")
			}
		})
	}
}

func TestAuthFailureLimit(t *testing.T) {
	f := newFixture(t, Options{AuthFailuresPerMinute: 3})
	bad := req{path: "/redfish/v1/Systems", user: "admin", pw: "guess"}
	for i := 0; i < 3; i++ {
		if w := f.do(t, bad); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, w.Code)
		}
	}
	good := admin(http.MethodGet, "/redfish/v1/Systems", "")
	w := f.do(t, good)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	loginReq := req{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions", body: `{"UserName": "admin", "Password": "password"}`}
	if w := f.do(t, loginReq); w.Code != http.StatusTooManyRequests {
		t.Errorf("session login while limited: %d", w.Code)
	}
	if w := f.do(t, req{path: "/redfish/v1/"}); w.Code != http.StatusOK {
		t.Errorf("service root while limited: %d", w.Code)
	}
	f.clock.Advance(61 * time.Second)
	if w := f.do(t, good); w.Code != http.StatusOK {
		t.Errorf("after the minute: %d", w.Code)
	}
	// Unlimited when disabled.
	f = newFixture(t, Options{AuthFailuresPerMinute: -1})
	for i := 0; i < 50; i++ {
		f.do(t, bad)
	}
	if w := f.do(t, good); w.Code != http.StatusOK {
		t.Errorf("disabled limiter refused: %d", w.Code)
	}
}

func TestSystemPath(t *testing.T) {
	for name, want := range map[string]string{
		"compute-0":  "/redfish/v1/Systems/compute-0",
		"a.b_c":      "/redfish/v1/Systems/a.b_c",
		"with space": "/redfish/v1/Systems/with%20space",
		"x/y":        "/redfish/v1/Systems/x%2Fy",
	} {
		if got := SystemPath(name); got != want {
			t.Errorf("SystemPath(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestMessageFormatting(t *testing.T) {
	m := msg("ActionParameterValueNotInList", "Bounce", "ResetType", resetAction)
	if m.Message != "The value 'Bounce' for the parameter ResetType in the action #ComputerSystem.Reset is not in the list of acceptable values." {
		t.Errorf("message %q", m.Message)
	}
	if m := msg("NoSuchKey"); m.MessageID != registryPrefix+"InternalError" {
		t.Errorf("unknown key gives %s", m.MessageID)
	}
	for key, e := range baseRegistry {
		if e.severity != "Critical" && e.severity != "Warning" && e.severity != "OK" {
			t.Errorf("%s: severity %q", key, e.severity)
		}
	}
}

func TestSessionsPerUserBounded(t *testing.T) {
	f := newFixture(t, Options{MaxSessions: 100})
	var tokens []string
	for i := 0; i < maxPerUser+2; i++ {
		f.clock.Advance(time.Second)
		w := f.do(t, req{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions", body: `{"UserName": "admin", "Password": "password"}`})
		if w.Code != http.StatusCreated {
			t.Fatalf("login %d: %d", i, w.Code)
		}
		tokens = append(tokens, w.Header().Get("X-Auth-Token"))
	}
	// The least recently used sessions made room; the rest work.
	for i, tok := range tokens {
		want := http.StatusOK
		if i < 2 {
			want = http.StatusUnauthorized
		}
		if w := f.do(t, req{path: "/redfish/v1/Systems", token: tok}); w.Code != want {
			t.Errorf("session %d: %d, want %d", i, w.Code, want)
		}
	}
	if got := members(t, decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/SessionService/Sessions", "")))); len(got) != maxPerUser {
		t.Errorf("%d sessions, want %d", len(got), maxPerUser)
	}
	// Another user is not affected.
	if w := f.do(t, req{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions", body: `{"UserName": "viewer", "Password": "viewer-secret"}`}); w.Code != http.StatusCreated {
		t.Errorf("viewer login: %d", w.Code)
	}
}

// TestRefusedLoginAudit: every refused login (basic, session login, token)
// writes an audit line with channel redfish, the source address and the
// user name, never the password; a flood from one address writes a
// bounded number of lines per minute (the next line after the minute says
// how many were suppressed), and does not silence other addresses.
func TestRefusedLoginAudit(t *testing.T) {
	f := newFixture(t, Options{})
	const attacker, other = "192.0.2.20", "192.0.2.30"
	w := f.do(t, req{path: "/redfish/v1/Systems", user: "root", pw: "hunter2-secret", remote: "192.0.2.10:5555"})
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d", w.Code)
	}
	w = f.do(t, req{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions", remote: "192.0.2.11:6666",
		body: `{"UserName": "admin", "Password": "hunter3-secret"}`})
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("session login status %d", w.Code)
	}
	f.do(t, req{path: "/redfish/v1/Systems", token: "0123456789abcdef", remote: "192.0.2.12:7777"})
	logs := f.log.String()
	for _, want := range []string{
		`msg="redfish authentication failed" audit=true channel=redfish source=192.0.2.10:5555 user=root method=GET path=/redfish/v1/Systems reason="no node has this username and password"`,
		`msg="redfish authentication failed" audit=true channel=redfish source=192.0.2.11:6666 user=admin method=POST path=/redfish/v1/SessionService/Sessions reason="session login: no node has this username and password"`,
		`msg="redfish authentication failed" audit=true channel=redfish source=192.0.2.12:7777 user="" method=GET path=/redfish/v1/Systems reason="invalid or expired session token"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no audit line %s in:\n%s", want, logs)
		}
	}
	for _, secret := range []string{"hunter2", "hunter3", "0123456789abcdef"} {
		if strings.Contains(logs, secret) {
			t.Errorf("%q reached the log", secret)
		}
	}

	// A flood of bad logins from one address: 30 answered 401, the rest
	// 429; at most audit.DefaultPerSource lines of each of the two kinds.
	// The debug-level access log writes a line per request; what reaches
	// a log at the default level (info) is bounded.
	infoLines := func() int {
		n := 0
		for _, l := range strings.Split(f.log.String(), "\n") {
			if l != "" && !strings.Contains(l, "level=DEBUG") {
				n++
			}
		}
		return n
	}
	before := infoLines()
	codes := map[int]int{}
	for i := range 500 {
		w := f.do(t, req{path: "/redfish/v1/Systems", user: "root", pw: fmt.Sprint("guess-", i), remote: fmt.Sprintf("%s:%d", attacker, 10000+i)})
		codes[w.Code]++
	}
	if codes[http.StatusUnauthorized] != 30 || codes[http.StatusTooManyRequests] != 470 {
		t.Errorf("flood answers %v, want 30 × 401 and 470 × 429", codes)
	}
	if added := infoLines() - before; added > 20 {
		t.Errorf("500 refused logins wrote %d log lines at info and above, want at most 20", added)
	}
	// Another address is still audited.
	f.do(t, req{path: "/redfish/v1/Systems", user: "mallory", pw: "x", remote: other + ":1"})
	if !strings.Contains(f.log.String(), "source="+other+":1 user=mallory") {
		t.Error("a refused login from another address was not audited during the flood")
	}
	// After the minute: the next line reports what was suppressed.
	f.clock.Advance(time.Minute)
	f.do(t, req{path: "/redfish/v1/Systems", user: "root", pw: "again", remote: attacker + ":2"})
	if !regexp.MustCompile(`source=192\.0\.2\.20:2 user=root .* suppressed=20`).MatchString(f.log.String()) {
		t.Errorf("the suppressed count is not reported:\n%s", f.log.String())
	}
}
