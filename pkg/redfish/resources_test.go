package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

func viewer(method, path, body string) req {
	return req{method: method, path: path, body: body, user: "viewer", pw: "viewer-secret"}
}

// TestQueryParameters: DSP0266's query rules. Parameters with "$" the
// service does not support are 501 QueryParameterUnsupported; others
// without "$" are ignored; "only" returns a one-member collection's member.
func TestQueryParameters(t *testing.T) {
	f := newFixture(t, Options{})
	tests := []struct {
		name   string
		r      req
		status int
		msg    string // error message key, or the @odata.id of the answer
	}{
		{"$expand", admin(http.MethodGet, "/redfish/v1/Systems?$expand=*", ""), 501, "QueryParameterUnsupported"},
		{"$top", admin(http.MethodGet, "/redfish/v1/Systems?$top=1", ""), 501, "QueryParameterUnsupported"},
		{"$select", admin(http.MethodGet, "/redfish/v1/Systems/compute-0?$select=Name", ""), 501, "QueryParameterUnsupported"},
		{"unknown $ on the public root", req{path: "/redfish/v1/?$rpvunknown"}, 501, "QueryParameterUnsupported"},
		{"escaped $", admin(http.MethodGet, "/redfish/v1/Systems?%24filter=x", ""), 501, "QueryParameterUnsupported"},
		{"no $: ignored", admin(http.MethodGet, "/redfish/v1/Systems?foo=bar", ""), 200, "/redfish/v1/Systems"},
		{"excerpt: ignored (unsupported, no $)", admin(http.MethodGet, "/redfish/v1/Systems/compute-0?excerpt", ""), 200, "/redfish/v1/Systems/compute-0"},
		{"only, one member", viewer(http.MethodGet, "/redfish/v1/Systems?only", ""), 200, "/redfish/v1/Systems/other-0"},
		{"only, two members", admin(http.MethodGet, "/redfish/v1/Systems?only", ""), 200, "/redfish/v1/Systems"},
		{"only, nested collection", admin(http.MethodGet, "/redfish/v1/Systems/compute-0/EthernetInterfaces?only", ""), 200,
			"/redfish/v1/Systems/compute-0/EthernetInterfaces/525400cc0001"},
		{"only with a value", viewer(http.MethodGet, "/redfish/v1/Systems?only=1", ""), 400, "QueryParameterValueFormatError"},
		{"only with another parameter", viewer(http.MethodGet, "/redfish/v1/Systems?only&foo", ""), 400, "QueryCombinationInvalid"},
		{"only on a resource", admin(http.MethodGet, "/redfish/v1/Systems/compute-0?only", ""), 400, "QueryNotSupportedOnResource"},
		{"only on a PATCH", admin(http.MethodPatch, "/redfish/v1/Systems/compute-0?only", `{"IndicatorLED": "Off"}`), 400, "QueryNotSupportedOnOperation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, tt.r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				if _, keys := redfishError(t, w); keys[0] != tt.msg {
					t.Errorf("messages %v, want %s", keys, tt.msg)
				}
				return
			}
			if m := decodeJSON(t, w); m["@odata.id"] != tt.msg {
				t.Errorf("answer %v, want %s", m["@odata.id"], tt.msg)
			}
		})
	}
	root := decodeJSON(t, f.do(t, req{path: "/redfish/v1/"}))
	if field(root, "ProtocolFeaturesSupported", "OnlyMemberQuery") != true || field(root, "ProtocolFeaturesSupported", "SelectQuery") != false ||
		field(root, "ProtocolFeaturesSupported", "ExpandQuery", "ExpandAll") != false {
		t.Errorf("ProtocolFeaturesSupported %v", root["ProtocolFeaturesSupported"])
	}
}

// TestHeaders: OData-Version, Cache-Control, Allow and Link on GET and
// HEAD; HEAD has no body; the Link names the schema of @odata.type.
func TestHeaders(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tt := range []struct{ path, allow, link string }{
		{"/redfish/v1/", "GET, HEAD", "ServiceRoot.v1_5_0.json"},
		{"/redfish/v1/Systems", "GET, HEAD", "ComputerSystemCollection.json"},
		{"/redfish/v1/Systems/compute-0", "GET, HEAD, PATCH", "ComputerSystem.v1_13_0.json"},
		{"/redfish/v1/Chassis/compute-0", "GET, HEAD, PATCH", "Chassis.v1_14_0.json"},
		{"/redfish/v1/SessionService/Sessions", "GET, HEAD, POST", "SessionCollection.json"},
		{"/redfish/v1/AccountService/Accounts/admin", "GET, HEAD", "ManagerAccount.v1_7_0.json"},
	} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			r := admin(m, tt.path, "")
			if tt.path == "/redfish/v1/" {
				r = req{method: m, path: tt.path}
			}
			w := f.do(t, r)
			if w.Code != 200 || w.Header().Get("Allow") != tt.allow || w.Header().Get("Cache-Control") == "" {
				t.Errorf("%s %s: %d, Allow %q", m, tt.path, w.Code, w.Header().Get("Allow"))
			}
			want := "<http://redfish.dmtf.org/schemas/v1/" + tt.link + ">; rel=describedby"
			if got := w.Header().Get("Link"); got != want {
				t.Errorf("%s %s: Link %q, want %q", m, tt.path, got, want)
			}
			if m == http.MethodHead && w.Body.Len() != 0 {
				t.Errorf("HEAD %s: %d body bytes", tt.path, w.Body.Len())
			}
			if m == http.MethodHead && w.Header().Get("Content-Length") == "0" {
				t.Errorf("HEAD %s: Content-Length 0, want the GET's", tt.path)
			}
		}
	}
	// $metadata names every type sent, each from its DMTF CSDL file.
	w := f.do(t, req{path: "/redfish/v1/$metadata"})
	for _, typ := range usedTypes {
		ns, ver := splitType(typ)
		if !strings.Contains(w.Body.String(), `<edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/`+ns+`_v1.xml">`) ||
			!strings.Contains(w.Body.String(), `Namespace="`+ns+`"`) || (ver != "" && !strings.Contains(w.Body.String(), `Namespace="`+ns+"."+ver+`"`)) {
			t.Errorf("$metadata lacks %s", typ)
		}
	}
}

// TestSessionsMembersPost: DSP0266 makes a POST to a collection's Members
// the same as to the collection.
func TestSessionsMembersPost(t *testing.T) {
	f := newFixture(t, Options{})
	w := f.do(t, req{method: http.MethodPost, path: sessionsPath + "/Members", body: `{"UserName": "admin", "Password": "password"}`})
	loc := w.Header().Get("Location")
	if w.Code != 201 || w.Header().Get("X-Auth-Token") == "" || !strings.HasPrefix(loc, sessionsPath+"/") || strings.HasSuffix(loc, "/Members") {
		t.Fatalf("POST Sessions/Members: %d, Location %q", w.Code, loc)
	}
	if w := f.do(t, req{path: loc, token: w.Header().Get("X-Auth-Token")}); w.Code != 200 {
		t.Errorf("the session: %d", w.Code)
	}
	if w := f.do(t, admin(http.MethodGet, sessionsPath+"/Members", "")); w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET Sessions/Members: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// TestAccountService: the accounts are the caller's own credentials, one
// per role; the roles are DSP0266's three; nothing can be written.
func TestAccountService(t *testing.T) {
	f := newFixture(t, Options{})
	// The same admin credentials hold Operator on a third node.
	op := newFakeSystem("compute-2")
	f.backend.entries = append(f.backend.entries, Entry{System: op, Credentials: Credentials{Username: "admin", Password: "password", Role: account.Operator}})

	accts := decodeJSON(t, f.do(t, admin(http.MethodGet, accountsPath, "")))
	if got := members(t, accts); !slices.Equal(got, []string{accountsPath + "/admin-1", accountsPath + "/admin-2"}) {
		t.Fatalf("admin's accounts %v", got)
	}
	w := f.do(t, admin(http.MethodGet, accountsPath+"/admin-2", ""))
	a := decodeJSON(t, w)
	if a["UserName"] != "admin" || a["RoleId"] != "Operator" || a["Password"] != nil || field(a, "Links", "Role", "@odata.id") != rolesPath+"/Operator" ||
		!strings.Contains(a["Description"].(string), "compute-2") || w.Header().Get("ETag") == "" {
		t.Errorf("admin-2 = %v (ETag %q)", a, w.Header().Get("ETag"))
	}
	if got := members(t, decodeJSON(t, f.do(t, viewer(http.MethodGet, accountsPath, "")))); !slices.Equal(got, []string{accountsPath + "/viewer"}) {
		t.Errorf("viewer's accounts %v", got)
	}
	if w := f.do(t, viewer(http.MethodGet, accountsPath+"/admin-1", "")); w.Code != 404 {
		t.Errorf("another user's account: %d, want 404", w.Code)
	}
	// The predefined roles, from DSP0266's table.
	for role, privs := range map[string][]string{
		"Administrator": {"Login", "ConfigureManager", "ConfigureUsers", "ConfigureSelf", "ConfigureComponents"},
		"Operator":      {"Login", "ConfigureSelf", "ConfigureComponents"},
		"ReadOnly":      {"Login", "ConfigureSelf"},
	} {
		m := decodeJSON(t, f.do(t, viewer(http.MethodGet, rolesPath+"/"+role, "")))
		var got []string
		for _, p := range m["AssignedPrivileges"].([]any) {
			got = append(got, p.(string))
		}
		if !slices.Equal(got, privs) || m["IsPredefined"] != true || m["RoleId"] != role {
			t.Errorf("role %s = %v", role, m)
		}
	}
	// Writes: 405 with the reason, for every role.
	for _, r := range []req{
		admin(http.MethodPost, accountsPath, `{"UserName": "new", "Password": "x", "RoleId": "Operator"}`),
		admin(http.MethodPatch, accountsPath+"/admin-1", `{"Password": "changed"}`),
		admin(http.MethodDelete, accountsPath+"/admin-1", ""),
		admin(http.MethodPatch, accountServicePath, `{"AccountLockoutThreshold": 3}`),
		admin(http.MethodPatch, rolesPath+"/ReadOnly", `{"AssignedPrivileges": ["Login"]}`),
		viewer(http.MethodPatch, accountsPath+"/viewer", `{"Password": "changed"}`),
	} {
		w := f.do(t, r)
		if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: %d, Allow %q", r.method, r.path, w.Code, w.Header().Get("Allow"))
			continue
		}
		e, keys := redfishError(t, w)
		if !slices.Equal(keys, []string{"OperationNotAllowed", "AccountNotModified"}) || !strings.Contains(e.Error.Message, "configuration file") {
			t.Errorf("%s %s: %v %q", r.method, r.path, keys, e.Error.Message)
		}
	}
}

// TestPrivileges: what each role may do, resource by resource.
func TestPrivileges(t *testing.T) {
	f := newFixture(t, Options{})
	f.backend.entries[1].Credentials.Role = account.Operator // compute-1
	changes := []struct{ method, path, body string }{
		{http.MethodPost, "/Actions/ComputerSystem.Reset", `{"ResetType": "On"}`},
		{http.MethodPatch, "", `{"Boot": {"BootSourceOverrideTarget": "Pxe"}}`},
		{http.MethodPatch, "", `{"IndicatorLED": "Blinking"}`},
		{http.MethodPost, "/LogServices/EventLog/Actions/LogService.ClearLog", `{}`},
	}
	for _, tt := range []struct {
		who    func(string, string, string) req
		node   string
		status []int
	}{
		{admin, "compute-0", []int{204, 200, 200, 204}},
		{admin, "compute-1", []int{204, 200, 200, 204}}, // Operator
		{viewer, "other-0", []int{403, 403, 403, 403}},  // ReadOnly
	} {
		for i, c := range changes {
			w := f.do(t, tt.who(c.method, "/redfish/v1/Systems/"+tt.node+c.path, c.body))
			if w.Code != tt.status[i] {
				t.Errorf("%s %s on %s: %d, want %d\n%s", c.method, c.path, tt.node, w.Code, tt.status[i], w.Body)
			}
		}
		w := f.do(t, tt.who(http.MethodPatch, "/redfish/v1/Chassis/"+tt.node, `{"LocationIndicatorActive": false}`))
		if want := tt.status[1]; w.Code != want {
			t.Errorf("PATCH Chassis/%s: %d, want %d", tt.node, w.Code, want)
		}
	}
	ro := f.sys["other-0"]
	if boot, _, updates, actions := ro.snapshot(); updates != 0 || len(actions) != 0 || boot.Valid || ro.Indicator() != node.IndicatorOff || ro.cleared != 0 {
		t.Error("the ReadOnly user changed its node")
	}
	// A ReadOnly login ends its own session (ConfigureSelf).
	w := f.do(t, req{method: http.MethodPost, path: sessionsPath, body: `{"UserName": "viewer", "Password": "viewer-secret"}`})
	tok, loc := w.Header().Get("X-Auth-Token"), w.Header().Get("Location")
	if w := f.do(t, req{method: http.MethodDelete, path: loc, token: tok}); w.Code != 204 {
		t.Errorf("ReadOnly logout: %d", w.Code)
	}
}

// TestIndicator: IndicatorLED and LocationIndicatorActive are accepted on
// the System and the Chassis, recorded on the node, and shown by both.
func TestIndicator(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	tests := []struct {
		path, body string
		status     int
		want       node.Indicator
		msgs       []string
	}{
		{"/redfish/v1/Systems/compute-0", `{"IndicatorLED": "Blinking"}`, 200, node.IndicatorBlinking, nil},
		{"/redfish/v1/Systems/compute-0", `{"LocationIndicatorActive": true}`, 200, node.IndicatorBlinking, nil},
		{"/redfish/v1/Chassis/compute-0", `{"IndicatorLED": "Lit"}`, 200, node.IndicatorLit, nil},
		{"/redfish/v1/Chassis/compute-0", `{"LocationIndicatorActive": true}`, 200, node.IndicatorLit, nil},
		{"/redfish/v1/Chassis/compute-0", `{"LocationIndicatorActive": false}`, 200, node.IndicatorOff, nil},
		{"/redfish/v1/Systems/compute-0", `{"LocationIndicatorActive": true, "IndicatorLED": "Lit"}`, 200, node.IndicatorLit, nil},
		{"/redfish/v1/Systems/compute-0", `{"LocationIndicatorActive": false, "IndicatorLED": "Lit"}`, 400, node.IndicatorLit, []string{"PropertyValueConflict"}},
		{"/redfish/v1/Systems/compute-0", `{"IndicatorLED": "On"}`, 400, node.IndicatorLit, []string{"PropertyValueNotInList"}},
		{"/redfish/v1/Chassis/compute-0", `{"LocationIndicatorActive": "yes"}`, 400, node.IndicatorLit, []string{"PropertyValueTypeError"}},
		{"/redfish/v1/Chassis/compute-0", `{"ChassisType": "RackMount", "AssetTag": "x"}`, 400, node.IndicatorLit, []string{"PropertyNotWritable", "PropertyUnknown"}},
		{"/redfish/v1/Chassis/compute-0", `{}`, 400, node.IndicatorLit, []string{"EmptyJSON"}},
		{"/redfish/v1/Chassis/compute-0", `{"@odata.id": "/redfish/v1/Chassis/compute-0", "@odata.etag": "W/\"1\""}`, 400, node.IndicatorLit, []string{"NoOperation"}},
		{"/redfish/v1/Systems/compute-0", `{"@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem"}`, 400, node.IndicatorLit, []string{"NoOperation"}},
		{"/redfish/v1/Systems/compute-0", `{"IndicatorLED": "Off", "Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}`, 200, node.IndicatorOff, nil},
	}
	for _, tt := range tests {
		w := f.do(t, admin(http.MethodPatch, tt.path, tt.body))
		if w.Code != tt.status {
			t.Fatalf("PATCH %s %s: %d, want %d\n%s", tt.path, tt.body, w.Code, tt.status, w.Body)
		}
		if tt.status != 200 {
			if _, keys := redfishError(t, w); !slices.Equal(keys, tt.msgs) {
				t.Errorf("PATCH %s: messages %v, want %v", tt.body, keys, tt.msgs)
			}
		}
		if got := sys.Indicator(); got != tt.want {
			t.Errorf("after PATCH %s: indicator %s, want %s", tt.body, got, tt.want)
		}
		for _, p := range []string{"/redfish/v1/Systems/compute-0", "/redfish/v1/Chassis/compute-0"} {
			m := decodeJSON(t, f.do(t, admin(http.MethodGet, p, "")))
			if m["IndicatorLED"] != string(tt.want) || m["LocationIndicatorActive"] != (tt.want != node.IndicatorOff) {
				t.Errorf("%s after PATCH %s: IndicatorLED %v, LocationIndicatorActive %v", p, tt.body, m["IndicatorLED"], m["LocationIndicatorActive"])
			}
		}
	}
	// The indicator is part of what both ETags version.
	before := f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0", "")).Header().Get("ETag")
	cbefore := f.do(t, admin(http.MethodGet, "/redfish/v1/Chassis/compute-0", "")).Header().Get("ETag")
	f.do(t, admin(http.MethodPatch, "/redfish/v1/Chassis/compute-0", `{"IndicatorLED": "Blinking"}`))
	if f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0", "")).Header().Get("ETag") == before {
		t.Error("the System's ETag did not change with the indicator")
	}
	r := admin(http.MethodPatch, "/redfish/v1/Chassis/compute-0", `{"IndicatorLED": "Off"}`)
	r.header = map[string]string{"If-Match": cbefore}
	if w := f.do(t, r); w.Code != 412 || sys.Indicator() != node.IndicatorBlinking {
		t.Errorf("stale If-Match on the Chassis: %d, indicator %s", w.Code, sys.Indicator())
	}
}

// TestHealth: Warning with a condition while the power state is unknown
// or stale, Critical while the sensors (a PDU) do not answer.
func TestHealth(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	pduErr := fmt.Errorf("pdu rack1: %w", power.ErrTimeout)
	tests := []struct {
		name       string
		reading    power.Reading
		readErr    error
		snapErr    error
		lagging    bool
		wantPower  any
		wantHealth string
		why        string
	}{
		{"fresh", power.Reading{State: power.StateOn, Source: "outlet", At: time.Now()}, nil, nil, false, "On", "OK", ""},
		{"recorded", power.Reading{State: power.StateOff, Source: "recorded", At: time.Now().Add(-time.Hour)}, nil, nil, false, "Off", "OK", ""},
		{"never commanded, no sensor", power.Reading{State: power.Unknown, Source: "recorded", At: time.Now()}, nil, nil, false, nil, "Warning", "no sensor"},
		{"stale", power.Reading{State: power.StateOn, Source: "outlet", At: time.Now().Add(-20 * time.Second)}, nil, nil, true, "On", "Warning", "stale: last read 20s ago from outlet"},
		{"unknown: nothing answered yet", power.Reading{}, fmt.Errorf("node compute-0: %w", node.ErrStale), nil, false, nil, "Warning", "unknown"},
		{"PDU silent, cached reading", power.Reading{State: power.StateOn, Source: "outlet", At: time.Now().Add(-5 * time.Second)}, nil, pduErr, false, "On", "Critical", "do not answer"},
		{"PDU silent, nothing left", power.Reading{}, fmt.Errorf("node compute-0: %w: %w", node.ErrStale, pduErr), pduErr, false, nil, "Critical", "do not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys.set(func(s *fakeSystem) {
				s.reading, s.readErr, s.snapErr, s.lagging = tt.reading, tt.readErr, tt.snapErr, tt.lagging
			})
			for _, p := range []string{"/redfish/v1/Systems/compute-0", "/redfish/v1/Chassis/compute-0"} {
				m := decodeJSON(t, f.do(t, admin(http.MethodGet, p, "")))
				if m["PowerState"] != tt.wantPower || field(m, "Status", "Health") != tt.wantHealth {
					t.Errorf("%s: PowerState %v, Health %v; want %v, %s", p, m["PowerState"], field(m, "Status", "Health"), tt.wantPower, tt.wantHealth)
				}
				conds, _ := field(m, "Status", "Conditions").([]any)
				if tt.wantHealth == "OK" {
					if conds != nil {
						t.Errorf("%s: conditions %v while OK", p, conds)
					}
					continue
				}
				if len(conds) != 1 {
					t.Fatalf("%s: conditions %v", p, conds)
				}
				c := conds[0].(map[string]any)
				if c["MessageId"] != "ResourceEvent.1.0.ResourceErrorsDetected" || c["Severity"] != tt.wantHealth ||
					!strings.Contains(c["Message"].(string), tt.why) || !strings.HasPrefix(c["Message"].(string), "The resource property PowerState has detected errors of type '") {
					t.Errorf("%s: condition %v", p, c)
				}
			}
		})
	}
}

// TestPowerResource: one power supply per configured outlet with the
// outlet's state and draw; the node's draw and its hour's statistics;
// watts absent, not zero, without a meter or a fresh reading.
func TestPowerResource(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	w230, w0 := 230.0, 0.0
	get := func() map[string]any {
		return decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Chassis/compute-0/Power", "")))
	}
	sys.set(func(s *fakeSystem) {
		s.reading = power.Reading{State: power.StateOn, Source: "metering", At: time.Now(), Watts: &w230,
			Outlets: []power.OutletReading{{PDU: "rack1", Outlet: 3, State: power.StateOn, Watts: &w230}, {PDU: "rack1", Outlet: 4, State: power.StateOff, Watts: &w0}}}
		s.samples = []node.MeterSample{
			{At: time.Now().Add(-10 * time.Minute), Min: 100, Max: 250, Avg: 200, Count: 2},
			{At: time.Now().Add(-5 * time.Minute), Min: 220, Max: 240, Avg: 230, Count: 2},
		}
	})
	m := get()
	pc := m["PowerControl"].([]any)[0].(map[string]any)
	if pc["PowerConsumedWatts"] != 230.0 || field(pc, "PowerMetrics", "MinConsumedWatts") != 100.0 ||
		field(pc, "PowerMetrics", "MaxConsumedWatts") != 250.0 || field(pc, "PowerMetrics", "AverageConsumedWatts") != 215.0 ||
		field(pc, "PowerMetrics", "IntervalInMin") != 10.0 {
		t.Errorf("PowerControl %v", pc)
	}
	ps := m["PowerSupplies"].([]any)
	if len(ps) != 2 {
		t.Fatalf("supplies %v", ps)
	}
	for i, want := range []struct {
		name, state string
		watts       float64
	}{{"Power supply on PDU rack1 outlet 3", "Enabled", 230}, {"Power supply on PDU rack1 outlet 4", "Disabled", 0}} {
		s := ps[i].(map[string]any)
		if s["Name"] != want.name || field(s, "Status", "State") != want.state || s["PowerInputWatts"] != want.watts ||
			s["MemberId"] != fmt.Sprint(i) || s["@odata.id"] != fmt.Sprintf("/redfish/v1/Chassis/compute-0/Power#/PowerSupplies/%d", i) {
			t.Errorf("supply %d = %v", i, s)
		}
		if _, ok := s["LastPowerOutputWatts"]; ok {
			t.Errorf("supply %d claims an output power: the PDU meters its input", i)
		}
	}
	// No meter: absent, not zero.
	sys.set(func(s *fakeSystem) {
		s.reading = power.Reading{State: power.StateOn, Source: "outlet", At: time.Now(),
			Outlets: []power.OutletReading{{PDU: "rack1", Outlet: 3, State: power.StateOn}, {PDU: "rack1", Outlet: 4, State: power.StateOn}}}
		s.samples = nil
	})
	m = get()
	pc = m["PowerControl"].([]any)[0].(map[string]any)
	if _, ok := pc["PowerConsumedWatts"]; ok {
		t.Errorf("PowerConsumedWatts without a meter: %v", pc)
	}
	if _, ok := pc["PowerMetrics"]; ok {
		t.Errorf("PowerMetrics without a meter: %v", pc)
	}
	for _, s := range m["PowerSupplies"].([]any) {
		if _, ok := s.(map[string]any)["PowerInputWatts"]; ok {
			t.Errorf("PowerInputWatts without a meter: %v", s)
		}
	}
	// A PDU that does not answer: no watts, supplies Critical.
	sys.set(func(s *fakeSystem) {
		s.reading, s.readErr, s.snapErr = power.Reading{}, node.ErrStale, errors.New("pdu rack1: timeout")
	})
	m = get()
	pc = m["PowerControl"].([]any)[0].(map[string]any)
	if _, ok := pc["PowerConsumedWatts"]; ok || field(pc, "Status", "Health") != "Critical" {
		t.Errorf("PowerControl with a silent PDU: %v", pc)
	}
	for _, s := range m["PowerSupplies"].([]any) {
		if field(s.(map[string]any), "Status", "Health") != "Critical" {
			t.Errorf("supply with a silent PDU: %v", s)
		}
	}
	// A node without outlets has neither.
	m = decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Chassis/compute-1/Power", "")))
	if len(m["PowerControl"].([]any)) != 0 || len(m["PowerSupplies"].([]any)) != 0 {
		t.Errorf("power of a node without outlets: %v", m)
	}
}

// TestLogService: the event log as LogEntries; ClearLog empties it.
func TestLogService(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	sys.set(func(s *fakeSystem) {
		s.events = []node.Event{
			{ID: 41, At: at, Kind: node.EventPowerAction, Severity: node.SeverityOK, Message: "Power on via pdu done by admin over ipmi."},
			{ID: 42, At: at.Add(time.Minute), Kind: node.EventPowerChanged, Severity: node.SeverityWarning, Message: "Power off without a request."},
			{ID: 43, At: at.Add(2 * time.Minute), Kind: node.EventSensorFailed, Severity: node.SeverityCritical, Message: "Power sensors stopped answering."},
		}
	})
	const base = "/redfish/v1/Systems/compute-0/LogServices/EventLog"
	svc := decodeJSON(t, f.do(t, admin(http.MethodGet, base, "")))
	if svc["LogEntryType"] != "Event" || svc["MaxNumberOfRecords"] != float64(node.DefaultEventLogSize) || svc["OverWritePolicy"] != "WrapsWhenFull" ||
		field(svc, "Actions", "#LogService.ClearLog", "target") != base+"/Actions/LogService.ClearLog" {
		t.Errorf("log service %v", svc)
	}
	entries := decodeJSON(t, f.do(t, admin(http.MethodGet, base+"/Entries", "")))
	list := entries["Members"].([]any)
	if len(list) != 3 || entries["Members@odata.count"] != 3.0 {
		t.Fatalf("entries %v", entries)
	}
	e := list[1].(map[string]any)
	if e["@odata.id"] != base+"/Entries/42" || e["Id"] != "42" || e["Severity"] != "Warning" || e["EntryType"] != "Event" ||
		e["Created"] != "2026-03-04T05:07:07Z" || e["Message"] != "Power off without a request." ||
		field(e, "Links", "OriginOfCondition", "@odata.id") != "/redfish/v1/Systems/compute-0" {
		t.Errorf("entry 42 = %v", e)
	}
	if m := decodeJSON(t, f.do(t, admin(http.MethodGet, base+"/Entries/43", ""))); m["Severity"] != "Critical" {
		t.Errorf("entry 43 = %v", m)
	}
	for _, id := range []string{"44", "x", "-1"} {
		if w := f.do(t, admin(http.MethodGet, base+"/Entries/"+id, "")); w.Code != 404 {
			t.Errorf("entry %s: %d", id, w.Code)
		}
	}
	if w := f.do(t, admin(http.MethodPost, base+"/Actions/LogService.ClearLog", `{"LogEntriesETag": "x"}`)); w.Code != 400 {
		t.Errorf("ClearLog with a parameter: %d", w.Code)
	}
	if w := f.do(t, admin(http.MethodPost, base+"/Actions/LogService.ClearLog", "")); w.Code != 204 {
		t.Fatalf("ClearLog: %d\n%s", w.Code, w.Body)
	}
	list = decodeJSON(t, f.do(t, admin(http.MethodGet, base+"/Entries", "")))["Members"].([]any)
	if len(list) != 1 || !strings.Contains(list[0].(map[string]any)["Message"].(string), "cleared by admin") {
		t.Errorf("after ClearLog: %v", list)
	}
}

// TestInventory: the NIC's MAC and the configured CPU, memory and disk,
// in the forms sushy (and so Ironic's redfish inspection) reads them; a
// node without them has none of these resources.
func TestInventory(t *testing.T) {
	f := newFixture(t, Options{})
	m := decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0", "")))
	if field(m, "MemorySummary", "TotalSystemMemoryGiB") != 16.0 || field(m, "ProcessorSummary", "LogicalProcessorCount") != 8.0 {
		t.Errorf("summaries %v %v", m["MemorySummary"], m["ProcessorSummary"])
	}
	nic := decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0/EthernetInterfaces/525400cc0001", "")))
	if nic["MACAddress"] != "52:54:00:cc:00:01" || field(nic, "Status", "State") != "Enabled" || field(nic, "Status", "Health") != "OK" {
		t.Errorf("NIC %v", nic)
	}
	cpu := decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0/Processors/CPU", "")))
	if cpu["ProcessorArchitecture"] != "x86" || cpu["InstructionSet"] != "x86-64" || cpu["TotalThreads"] != 8.0 {
		t.Errorf("CPU %v", cpu)
	}
	disk := decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-0/SimpleStorage/Disks", "")))
	if d := disk["Devices"].([]any)[0].(map[string]any); d["CapacityBytes"] != float64(100<<30) {
		t.Errorf("disk %v", disk)
	}
	m = decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-1", "")))
	for _, k := range []string{"Processors", "ProcessorSummary", "MemorySummary", "SimpleStorage"} {
		if _, ok := m[k]; ok {
			t.Errorf("compute-1 (nothing configured) has %s", k)
		}
	}
	if got := members(t, decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/compute-1/EthernetInterfaces", "")))); len(got) != 0 {
		t.Errorf("compute-1 NICs %v", got)
	}
	for _, p := range []string{"/redfish/v1/Systems/compute-1/Processors", "/redfish/v1/Systems/compute-1/SimpleStorage/Disks", "/redfish/v1/Systems/compute-0/Processors/CPU2"} {
		if w := f.do(t, admin(http.MethodGet, p, "")); w.Code != 404 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	// Every top-level property of a System and a Chassis is writable or
	// known read-only, so a PATCH of it is PropertyNotWritable, never
	// PropertyUnknown.
	for p, ro := range map[string]map[string]bool{"/redfish/v1/Systems/compute-0": systemReadOnly, "/redfish/v1/Chassis/compute-0": chassisReadOnly} {
		for k := range decodeJSON(t, f.do(t, admin(http.MethodGet, p, ""))) {
			if !ro[k] && k != "Boot" && k != "IndicatorLED" && k != "LocationIndicatorActive" && !strings.HasPrefix(k, "@odata.") {
				t.Errorf("%s: property %s is neither writable nor listed read-only", p, k)
			}
		}
	}
}
