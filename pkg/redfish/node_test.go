package redfish

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// TestWithRealNodes runs the service over the node layer itself: the
// allowable resets come from node.Supports, the boot override is node.Boot
// (a Redfish "Once" does not lapse), and a power-on consumes it as a BIOS
// would.
func TestWithRealNodes(t *testing.T) {
	store, err := node.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newNode := func(name string, fb node.Fallback) *node.Node {
		n, err := node.New(context.Background(), node.Config{Name: name, Fallback: fb}, store)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		return n
	}
	manual, strict := newNode("manual-0", node.FallbackManual), newNode("strict-0", node.FallbackError)
	b := &fakeBackend{entries: []Entry{
		{System: manual, Credentials: Credentials{Username: "admin", Password: "password", Role: account.Administrator}},
		{System: strict, Credentials: Credentials{Username: "admin", Password: "password", Role: account.Administrator}},
	}}
	f := &fixture{svc: New(b, Options{}), log: &testkit.Log{}}

	m := decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/manual-0", "")))
	var resets []string
	for _, v := range field(m, "Actions", "#ComputerSystem.Reset", "ResetType@Redfish.AllowableValues").([]any) {
		resets = append(resets, v.(string))
	}
	if want := []string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle"}; !slices.Equal(resets, want) {
		t.Errorf("manual node resets %v, want %v", resets, want)
	}
	if m["UUID"] != manual.GUID().String() {
		t.Errorf("UUID %v, want %s", m["UUID"], manual.GUID())
	}
	m = decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/strict-0", "")))
	if got := field(m, "Actions", "#ComputerSystem.Reset", "ResetType@Redfish.AllowableValues").([]any); len(got) != 0 {
		t.Errorf("a node with no means and fallback error offers %v", got)
	}
	if w := f.do(t, admin(http.MethodPost, "/redfish/v1/Systems/strict-0/Actions/ComputerSystem.Reset", `{"ResetType": "On"}`)); w.Code != http.StatusBadRequest {
		t.Errorf("reset of a node that cannot: %d", w.Code)
	}

	w := f.do(t, admin(http.MethodPatch, "/redfish/v1/Systems/manual-0",
		`{"Boot": {"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "UEFI"}}`))
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d\n%s", w.Code, w.Body)
	}
	st := manual.Snapshot().Persisted
	if bt := st.Boot; !bt.Valid || bt.Persistent || !bt.UEFI || bt.Device != node.BootPXE || !bt.ExpiresAt.IsZero() {
		t.Errorf("node boot %+v, want a PXE UEFI next-boot override without a lapse", bt)
	}
	if w := f.do(t, admin(http.MethodPost, "/redfish/v1/Systems/manual-0/Actions/ComputerSystem.Reset", `{"ResetType": "On"}`)); w.Code != http.StatusNoContent {
		t.Fatalf("reset On: %d\n%s", w.Code, w.Body)
	}
	m = decodeJSON(t, f.do(t, admin(http.MethodGet, "/redfish/v1/Systems/manual-0", "")))
	if m["PowerState"] != "On" || field(m, "Boot", "BootSourceOverrideEnabled") != "Disabled" || field(m, "Boot", "BootSourceOverrideTarget") != "Pxe" {
		t.Errorf("after On: PowerState %v, Boot %v: want On and the one-time override consumed", m["PowerState"], m["Boot"])
	}
	if manual.Snapshot().Persisted.Manual == nil {
		t.Error("the manual action was not recorded")
	}
}
