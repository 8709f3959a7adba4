package redfish

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
	"github.com/powerjockey/powerjockey/pkg/redfish/redfishtest"
)

// TestConformanceWalk walks every resource of the service, as admin and
// as a ReadOnly login, checking DSP0266's protocol rules resource by
// resource (package redfishtest).
func TestConformanceWalk(t *testing.T) {
	f := newFixture(t, Options{})
	w := 230.0
	sys := f.sys["compute-0"]
	sys.set(func(s *fakeSystem) {
		s.reading = power.Reading{State: power.StateOn, Source: "metering", At: time.Now(), Watts: &w,
			Outlets: []power.OutletReading{{PDU: "rack1", Outlet: 3, State: power.StateOn, Watts: &w}, {PDU: "rack1", Outlet: 4, State: power.StateOff}}}
		s.events = []node.Event{
			{ID: 1, At: time.Now(), Kind: node.EventPowerAction, Severity: node.SeverityOK, Message: "Power on via pdu done."},
			{ID: 2, At: time.Now(), Kind: node.EventPowerChanged, Severity: node.SeverityWarning, Message: "Power off without a request."},
		}
		s.samples = []node.MeterSample{{At: time.Now().Add(-time.Minute), Min: 200, Max: 240, Avg: 220, Count: 4}}
	})
	f.sys["other-0"].set(func(s *fakeSystem) {
		s.events = []node.Event{{ID: 7, At: time.Now(), Kind: node.EventBootOverride, Severity: node.SeverityOK, Message: "Boot override set."}}
	})
	srv := httptest.NewServer(f.svc)
	defer srv.Close()
	// Sessions of both users exist during the walk.
	for _, who := range [][2]string{{"admin", "password"}, {"viewer", "viewer-secret"}} {
		r := f.do(t, req{method: "POST", path: sessionsPath, body: `{"UserName": "` + who[0] + `", "Password": "` + who[1] + `"}`})
		if r.Code != 201 {
			t.Fatalf("login %s: %d", who[0], r.Code)
		}
	}
	res := redfishtest.Walk(t, redfishtest.Config{
		Base: srv.URL, Client: redfishtest.Client(nil),
		User: "admin", Password: "password",
		ReadOnlyUser: "viewer", ReadOnlyPassword: "viewer-secret",
	})
	// Everything a client of this service needs was walked.
	for _, path := range []string{
		"/redfish/v1/Systems/compute-0", "/redfish/v1/Systems/compute-0/EthernetInterfaces/525400cc0001",
		"/redfish/v1/Systems/compute-0/LogServices/EventLog/Entries/2", "/redfish/v1/Systems/compute-0/Processors/CPU",
		"/redfish/v1/Systems/compute-0/SimpleStorage/Disks", "/redfish/v1/Chassis/compute-0/Power",
		"/redfish/v1/Managers/compute-1", "/redfish/v1/AccountService/Accounts/admin", "/redfish/v1/AccountService/Roles/ReadOnly",
		"/redfish/v1/Managers/compute-0/VirtualMedia", "/redfish/v1/Managers/compute-0/VirtualMedia/Cd",
	} {
		if res.Resources[path] == "" {
			t.Errorf("%s was not walked", path)
		}
	}
	for path, allow := range map[string]string{
		"/redfish/v1/Systems/compute-0":                      "GET, HEAD, PATCH",
		"/redfish/v1/Chassis/compute-0":                      "GET, HEAD, PATCH",
		"/redfish/v1/SessionService/Sessions":                "GET, HEAD, POST",
		"/redfish/v1/AccountService/Accounts/admin":          "GET, HEAD",
		"/redfish/v1/Systems/compute-0/LogServices/EventLog": "GET, HEAD",
		"/redfish/v1/Managers/compute-0/VirtualMedia/Cd":     "GET, HEAD, PATCH",
	} {
		if res.Allow[path] != allow {
			t.Errorf("%s: Allow %q, want %q", path, res.Allow[path], allow)
		}
	}
	// The ReadOnly login changed nothing.
	if _, _, updates, actions := sys.snapshot(); len(actions) != 0 {
		t.Errorf("power actions during the walk: %v (%d boot updates)", actions, updates)
	}
	if f.sys["other-0"].Indicator() != node.IndicatorOff || f.sys["other-0"].cleared != 0 || len(f.sys["other-0"].inserts) != 0 {
		t.Error("the ReadOnly login changed its node")
	}
	if !strings.Contains(f.log.String(), "redfish request refused") {
		t.Error("ReadOnly refusals were not logged")
	}
}

// TestConformanceWalkRealNodes walks a service over real nodes (no
// sensors, a manual fallback): the event log, boot override and
// indicator are the node layer's.
func TestConformanceWalkRealNodes(t *testing.T) {
	store, err := node.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	for _, n := range []struct {
		name, user, pw string
		role           account.Role
	}{{"manual-0", "admin", "password", account.Administrator}, {"manual-1", "op", "op-secret", account.Operator}, {"ro-0", "ro", "ro-secret", account.ReadOnly}} {
		// manual-0's BMC has virtual media (an endpoint that accepts any image).
		var bc node.BootConfig
		if n.name == "manual-0" {
			bc.Media = acceptImages{}
		}
		nd, err := node.New(context.Background(), node.Config{Name: n.name, Boot: bc}, store)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nd.Close)
		entries = append(entries, Entry{System: nd, Credentials: Credentials{Username: n.user, Password: n.pw, Role: n.role},
			Hardware: Hardware{MACs: []net.HardwareAddr{{2, 0, 0, 0, 0, byte(len(entries))}}}})
	}
	ctx := node.WithRequester(context.Background(), node.Requester{Channel: "cli", User: "test"})
	if err := entries[0].System.Power(ctx, power.On); err != nil {
		t.Fatal(err)
	}
	svc := New(&fakeBackend{entries: entries}, Options{})
	srv := httptest.NewServer(svc)
	defer srv.Close()
	for _, who := range [][2]string{{"admin", "password"}, {"op", "op-secret"}} {
		t.Run(who[0], func(t *testing.T) {
			redfishtest.Walk(t, redfishtest.Config{Base: srv.URL, Client: redfishtest.Client(nil), User: who[0], Password: who[1],
				ReadOnlyUser: "ro", ReadOnlyPassword: "ro-secret"})
		})
	}
}

// acceptImages is a media checker that accepts every image.
type acceptImages struct{}

func (acceptImages) CheckMedia(context.Context, node.Media) (int64, error) { return 1 << 20, nil }
