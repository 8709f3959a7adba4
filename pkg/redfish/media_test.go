package redfish

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/node"
)

const (
	cdPath     = "/redfish/v1/Managers/compute-0/VirtualMedia/Cd"
	insertPath = cdPath + "/Actions/VirtualMedia.InsertMedia"
	ejectPath  = cdPath + "/Actions/VirtualMedia.EjectMedia"
)

func getJSON(t *testing.T, f *fixture, path string) (map[string]any, string) {
	t.Helper()
	w := f.do(t, admin(http.MethodGet, path, ""))
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, w.Code, w.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return m, w.Header().Get("ETag")
}

func TestVirtualMediaResources(t *testing.T) {
	f := newFixture(t, Options{})
	mgr, _ := getJSON(t, f, "/redfish/v1/Managers/compute-0")
	if field(mgr, "VirtualMedia", "@odata.id") != "/redfish/v1/Managers/compute-0/VirtualMedia" {
		t.Errorf("manager VirtualMedia link: %v", mgr["VirtualMedia"])
	}
	coll, _ := getJSON(t, f, "/redfish/v1/Managers/compute-0/VirtualMedia")
	if members, _ := coll["Members"].([]any); len(members) != 1 || members[0].(map[string]any)["@odata.id"] != cdPath {
		t.Errorf("collection: %v", coll)
	}
	cd, _ := getJSON(t, f, cdPath)
	if cd["Inserted"] != false || cd["Image"] != nil || cd["ConnectedVia"] != "NotConnected" || cd["WriteProtected"] != true ||
		cd["Password"] != nil || strings.Join(toStrings(cd["MediaTypes"]), ",") != "CD,DVD" {
		t.Errorf("empty CD: %v", cd)
	}
	// A node without a boot endpoint has no virtual media.
	mgr1, _ := getJSON(t, f, "/redfish/v1/Managers/compute-1")
	if _, ok := mgr1["VirtualMedia"]; ok {
		t.Error("compute-1 has no boot endpoint but lists VirtualMedia")
	}
	if w := f.do(t, admin(http.MethodGet, "/redfish/v1/Managers/compute-1/VirtualMedia/Cd", "")); w.Code != 404 {
		t.Errorf("compute-1's CD: %d", w.Code)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

func TestInsertAndEjectMedia(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	// sushy: {"Image": URL} (Inserted and WriteProtected default to true).
	if w := f.do(t, admin(http.MethodPost, insertPath, `{"Image": "https://img.example/deploy.iso"}`)); w.Code != http.StatusNoContent {
		t.Fatalf("InsertMedia: %d %s", w.Code, w.Body)
	}
	if m := sys.Media(); m.Image != "https://img.example/deploy.iso" || !m.Inserted {
		t.Errorf("media %+v", m)
	}
	cd, _ := getJSON(t, f, cdPath)
	if cd["Image"] != "https://img.example/deploy.iso" || cd["ImageName"] != "deploy.iso" || cd["Inserted"] != true ||
		cd["ConnectedVia"] != "URI" || cd["TransferProtocolType"] != "HTTPS" || cd["TransferMethod"] != "Stream" {
		t.Errorf("inserted CD: %v", cd)
	}
	// With every parameter.
	if w := f.do(t, admin(http.MethodPost, insertPath, `{"Image": "http://img/x.iso", "Inserted": false, "WriteProtected": true,
		"TransferProtocolType": "HTTP", "TransferMethod": "Stream", "UserName": "u", "Password": "p"}`)); w.Code != http.StatusNoContent {
		t.Fatalf("InsertMedia with all parameters: %d %s", w.Code, w.Body)
	}
	if m := sys.Media(); m.Inserted || m.UserName != "u" || m.Password != "p" {
		t.Errorf("media %+v", m)
	}
	if cd, _ := getJSON(t, f, cdPath); cd["UserName"] != "u" || cd["Password"] != nil {
		t.Errorf("credentials shown: %v %v", cd["UserName"], cd["Password"])
	}
	// sushy posts EjectMedia without a body, and {} when that is refused.
	for _, body := range []string{"", "{}"} {
		if w := f.do(t, admin(http.MethodPost, ejectPath, body)); w.Code != http.StatusNoContent {
			t.Errorf("EjectMedia %q: %d %s", body, w.Code, w.Body)
		}
	}
	if sys.Media().Attached() {
		t.Error("still attached after EjectMedia")
	}

	bad := []struct {
		name, path, body string
		keys             []string
	}{
		{"no image", insertPath, `{"Inserted": true}`, []string{"ActionParameterMissing"}},
		{"image not a string", insertPath, `{"Image": 7}`, []string{"ActionParameterValueTypeError"}},
		{"writable", insertPath, `{"Image": "http://x/a.iso", "WriteProtected": false}`, []string{"ActionParameterValueNotInList"}},
		{"upload", insertPath, `{"Image": "http://x/a.iso", "TransferMethod": "Upload"}`, []string{"ActionParameterValueNotInList"}},
		{"nfs", insertPath, `{"Image": "http://x/a.iso", "TransferProtocolType": "NFS"}`, []string{"ActionParameterValueNotInList"}},
		{"protocol conflict", insertPath, `{"Image": "http://x/a.iso", "TransferProtocolType": "HTTPS"}`, []string{"ActionParameterValueConflict"}},
		{"unknown", insertPath, `{"Image": "http://x/a.iso", "Media": "CD"}`, []string{"ActionParameterUnknown"}},
		{"duplicate", insertPath, `{"Image": "http://x/a.iso", "Image": "http://x/b.iso"}`, []string{"ActionParameterDuplicate"}},
		{"too long", insertPath, `{"Image": "http://x/` + strings.Repeat("a", 3000) + `"}`, []string{"ActionParameterValueFormatError"}},
		{"eject with a parameter", ejectPath, `{"Image": "x"}`, []string{"ActionParameterUnknown"}},
		{"eject malformed", ejectPath, `{"Ima`, []string{"MalformedJSON"}},
	}
	for _, tt := range bad {
		w := f.do(t, admin(http.MethodPost, tt.path, tt.body))
		_, keys := redfishError(t, w)
		if w.Code != 400 || strings.Join(keys, ",") != strings.Join(tt.keys, ",") {
			t.Errorf("%s: %d %v, want 400 %v", tt.name, w.Code, keys, tt.keys)
		}
	}
	if n := len(sys.inserts); n != 2 {
		t.Errorf("refused requests reached the node: %d inserts", n)
	}
}

// TestInsertMediaImageProblems: an image that cannot be served is refused
// with the Base message naming the problem.
func TestInsertMediaImageProblems(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	tests := []struct {
		problem node.MediaProblem
		status  int
		key     string
	}{
		{node.MediaUnreachable, 400, "CouldNotEstablishConnection"},
		{node.MediaNotFound, 400, "ResourceMissingAtURI"},
		{node.MediaUnauthorized, 400, "ResourceAtUriUnauthorized"},
		{node.MediaNoRanges, 400, "SourceDoesNotSupportProtocol"},
		{node.MediaBadURL, 400, "ActionParameterValueFormatError"},
		{node.MediaFailed, 502, "GeneralError"},
	}
	for _, tt := range tests {
		sys.set(func(s *fakeSystem) {
			s.mediaErr = &node.MediaError{Problem: tt.problem, Image: "http://img/x.iso", Err: errors.New("the reason")}
		})
		w := f.do(t, admin(http.MethodPost, insertPath, `{"Image": "http://img/x.iso"}`))
		e, keys := redfishError(t, w)
		if w.Code != tt.status || len(keys) != 1 || keys[0] != tt.key || !strings.Contains(e.Error.Message, "the reason") {
			t.Errorf("problem %d: %d %v %q", tt.problem, w.Code, keys, e.Error.Message)
		}
	}
	if sys.Media().Attached() {
		t.Error("a refused image was attached")
	}
}

// TestPatchMedia: sushy's PATCH fallback inserts and ejects; If-Match is
// honoured; Inserted alone moves an attached image.
func TestPatchMedia(t *testing.T) {
	f := newFixture(t, Options{})
	sys := f.sys["compute-0"]
	_, tag := getJSON(t, f, cdPath)
	w := f.do(t, req{method: http.MethodPatch, path: cdPath, user: "admin", pw: "password",
		body: `{"Image": "http://img/x.iso", "Inserted": true, "WriteProtected": true}`, header: map[string]string{"If-Match": tag}})
	if w.Code != 200 || w.Header().Get("ETag") == tag || !sys.Media().Inserted {
		t.Fatalf("PATCH insert: %d %s", w.Code, w.Body)
	}
	w = f.do(t, req{method: http.MethodPatch, path: cdPath, user: "admin", pw: "password",
		body: `{"Inserted": false}`, header: map[string]string{"If-Match": tag}})
	if w.Code != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d", w.Code)
	}
	if w := f.do(t, admin(http.MethodPatch, cdPath, `{"Inserted": false}`)); w.Code != 200 || sys.Media().Inserted || !sys.Media().Attached() {
		t.Errorf("Inserted false: %d %+v", w.Code, sys.Media())
	}
	if w := f.do(t, admin(http.MethodPatch, cdPath, `{"Image": null, "Inserted": false}`)); w.Code != 200 || sys.Media().Attached() {
		t.Errorf("PATCH eject: %d %+v", w.Code, sys.Media())
	}
	for body, key := range map[string]string{
		`{"Inserted": true}`:                "PropertyValueConflict",
		`{"Image": null, "Inserted": true}`: "PropertyValueConflict",
		`{"MediaTypes": ["CD"]}`:            "PropertyNotWritable",
		`{"Size": 1}`:                       "PropertyUnknown",
		`{"@odata.id": "` + cdPath + `"}`:   "NoOperation",
		`{"WriteProtected": false}`:         "PropertyValueNotInList",
		`{"Image": "http://img/a.iso", "TransferProtocolType": "HTTPS"}`: "PropertyValueConflict",
	} {
		w := f.do(t, admin(http.MethodPatch, cdPath, body))
		if _, keys := redfishError(t, w); w.Code != 400 || len(keys) != 1 || keys[0] != key {
			t.Errorf("PATCH %s: %d %v, want %s", body, w.Code, keys, key)
		}
	}
}

// TestMediaNeedsConfigureManager: the virtual CD is the BMC's; an Operator
// (ConfigureComponents only) reads it and may not change it.
func TestMediaNeedsConfigureManager(t *testing.T) {
	f := newFixture(t, Options{})
	f.backend.mu.Lock()
	f.backend.entries[0].Credentials.Role = account.Operator
	f.backend.mu.Unlock()
	if w := f.do(t, admin(http.MethodGet, cdPath, "")); w.Code != 200 {
		t.Errorf("Operator GET: %d", w.Code)
	}
	for _, p := range []string{insertPath, ejectPath} {
		w := f.do(t, admin(http.MethodPost, p, `{"Image": "http://img/x.iso"}`))
		if _, keys := redfishError(t, w); w.Code != 403 || keys[0] != "InsufficientPrivilege" {
			t.Errorf("Operator POST %s: %d %v", p, w.Code, keys)
		}
	}
}
