// Package redfishtest checks a Redfish service against DSP0266's protocol
// rules from the outside, as a client sees it: starting at /redfish/v1/
// it follows every @odata.id link and, resource by resource, checks the
// headers, every HTTP method against the Allow header, HEAD, error
// bodies, ETags and If-Match on what can be patched, the query parameters
// against ProtocolFeaturesSupported, the privileges of a read-only login,
// and that every @odata.type is a type $metadata declares. It knows
// nothing of the service's code: the rules are the specification's (the
// assertion texts of DMTF's Redfish-Protocol-Validator are quoted where
// they apply). The unit tests run it over the service in memory and the
// end-to-end tests over the real binary. It is test support, not a stable
// API.
package redfishtest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// Config says where the service is and how to log in.
type Config struct {
	// Base is the scheme and authority: "https://127.0.0.1:8000".
	Base   string
	Client *http.Client
	// User and Password are credentials that may change everything they see.
	User, Password string
	// ReadOnlyUser and ReadOnlyPassword, when set, are credentials of the
	// ReadOnly role: they must read everything they see and change
	// nothing (403 InsufficientPrivilege).
	ReadOnlyUser, ReadOnlyPassword string
	// Patches gives, per schema namespace, a PATCH body that changes
	// nothing (it sets a writable property to its current value), made
	// from the resource as read. Every resource that takes PATCH needs
	// one; DefaultPatches covers ComputerSystem, Chassis and VirtualMedia.
	Patches map[string]func(resource map[string]any) map[string]any
	// MaxResources bounds the walk (default 2000).
	MaxResources int
}

// DefaultPatches are harmless PATCH bodies for the resources whose
// writable properties the Redfish schemas define and Ironic writes.
var DefaultPatches = map[string]func(map[string]any) map[string]any{
	"ComputerSystem": func(r map[string]any) map[string]any {
		boot, _ := r["Boot"].(map[string]any)
		return map[string]any{"Boot": map[string]any{"BootSourceOverrideMode": boot["BootSourceOverrideMode"]}}
	},
	"Chassis": func(r map[string]any) map[string]any {
		return map[string]any{"LocationIndicatorActive": r["LocationIndicatorActive"]}
	},
	"VirtualMedia": func(r map[string]any) map[string]any {
		return map[string]any{"WriteProtected": r["WriteProtected"]}
	},
}

// Result is what the walk saw.
type Result struct {
	// Resources maps every URI walked to its @odata.type.
	Resources map[string]string
	// Allow maps every URI walked to its Allow header.
	Allow map[string]string
}

// Walk checks the service. It fails t for every rule broken and returns
// what it saw.
func Walk(t *testing.T, cfg Config) *Result {
	t.Helper()
	if cfg.MaxResources == 0 {
		cfg.MaxResources = 2000
	}
	if cfg.Patches == nil {
		cfg.Patches = DefaultPatches
	}
	w := &walker{cfg: cfg, res: &Result{Resources: map[string]string{}, Allow: map[string]string{}}}
	w.metadata(t)
	w.publicDocuments(t)
	w.walk(t)
	w.sessions(t)
	if cfg.ReadOnlyUser != "" {
		t.Run("ReadOnly", w.readOnly)
	}
	return w.res
}

type walker struct {
	cfg Config
	res *Result
	// namespaces are those $metadata includes ("ComputerSystem",
	// "ComputerSystem.v1_13_0").
	namespaces map[string]bool
	features   map[string]any
}

// response is one exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// auth is how a request authenticates.
type auth struct{ user, password, token string }

func (w *walker) admin() auth { return auth{user: w.cfg.User, password: w.cfg.Password} }
func (w *walker) roAuth() auth {
	return auth{user: w.cfg.ReadOnlyUser, password: w.cfg.ReadOnlyPassword}
}

func (w *walker) do(t *testing.T, method, uri string, a auth, body []byte, hdr map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, w.cfg.Base+uri, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	switch {
	case a.token != "":
		req.Header.Set("X-Auth-Token", a.token)
	case a.user != "":
		req.SetBasicAuth(a.user, a.password)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("OData-Version", "4.0")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, uri, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: b}
	w.commonHeaders(t, method, uri, r)
	if r.status >= 400 && method != http.MethodHead {
		w.errorBody(t, method, uri, r)
	}
	return r
}

// commonHeaders: "Redfish Services shall return the HTTP 1.1
// Specification-defined [OData-Version header]" and [Cache-Control
// header], on every response.
func (w *walker) commonHeaders(t *testing.T, method, uri string, r response) {
	t.Helper()
	if got := r.header.Get("OData-Version"); got != "4.0" {
		t.Errorf("%s %s: OData-Version %q, want 4.0", method, uri, got)
	}
	if r.header.Get("Cache-Control") == "" {
		t.Errorf("%s %s: no Cache-Control header", method, uri)
	}
	if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
		t.Errorf("%s %s: 405 without Allow (\"shall be returned with the HTTP 405 status code\")", method, uri)
	}
}

// errorBody: 4xx and 5xx responses carry the Redfish error object: code,
// message and @Message.ExtendedInfo, each message with a MessageId of the
// form Registry.Major.Minor.Key and a Message.
func (w *walker) errorBody(t *testing.T, method, uri string, r response) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string           `json:"code"`
			Message string           `json:"message"`
			Ext     []map[string]any `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || len(e.Error.Ext) == 0 {
		t.Errorf("%s %s: status %d without a Redfish error body: %s", method, uri, r.status, r.body)
		return
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: error with Content-Type %q", method, uri, ct)
	}
	for _, m := range e.Error.Ext {
		id, _ := m["MessageId"].(string)
		if strings.Count(id, ".") != 3 || m["Message"] == nil {
			t.Errorf("%s %s: malformed message %v", method, uri, m)
		}
	}
	w.types(t, uri, r.json(t))
}

// messageIDs are the keys (last part of the MessageId) of an error body.
func messageIDs(r response) []string {
	var e struct {
		Error struct {
			Ext []struct{ MessageId string } `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	json.Unmarshal(r.body, &e)
	var ids []string
	for _, m := range e.Error.Ext {
		ids = append(ids, m.MessageId[strings.LastIndexByte(m.MessageId, '.')+1:])
	}
	return ids
}

// metadata reads $metadata: "The service shall use the application/xml
// ... MIME types", "shall include an EntityContainer", and each reference
// names a DMTF CSDL file (Namespace_v1.xml) that includes the namespace
// and its versions.
func (w *walker) metadata(t *testing.T) {
	t.Helper()
	r := w.do(t, http.MethodGet, "/redfish/v1/$metadata", auth{}, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("$metadata without credentials: %d", r.status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("$metadata Content-Type %q", ct)
	}
	var doc struct {
		References []struct {
			URI      string `xml:"Uri,attr"`
			Includes []struct {
				Namespace string `xml:"Namespace,attr"`
			} `xml:"Include"`
		} `xml:"Reference"`
		DataServices struct {
			Schemas []struct {
				Containers []struct {
					Name string `xml:"Name,attr"`
				} `xml:"EntityContainer"`
			} `xml:"Schema"`
		} `xml:"DataServices"`
	}
	if err := xml.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("$metadata is not XML: %v", err)
	}
	w.namespaces = map[string]bool{}
	for _, ref := range doc.References {
		file := path.Base(ref.URI)
		for _, inc := range ref.Includes {
			base, _, _ := strings.Cut(inc.Namespace, ".")
			if file != base+"_v1.xml" {
				t.Errorf("$metadata: namespace %s is included from %s, not from DMTF's %s_v1.xml", inc.Namespace, ref.URI, base)
			}
			w.namespaces[inc.Namespace] = true
		}
	}
	containers := 0
	for _, s := range doc.DataServices.Schemas {
		containers += len(s.Containers)
	}
	if containers == 0 {
		t.Error("$metadata has no EntityContainer")
	}
}

// checkType: an @odata.type "#Namespace.vX_Y_Z.Type" (or "#Namespace.Type")
// must name a namespace $metadata includes.
func (w *walker) checkType(t *testing.T, uri, typ string) {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(typ, "#"), ".")
	if !strings.HasPrefix(typ, "#") || len(parts) < 2 || len(parts) > 3 {
		t.Errorf("%s: @odata.type %q is not #Namespace[.vX_Y_Z].Type", uri, typ)
		return
	}
	ns := strings.Join(parts[:len(parts)-1], ".")
	if !w.namespaces[ns] || !w.namespaces[parts[0]] {
		t.Errorf("%s: @odata.type %q: namespace %s is not in $metadata", uri, typ, ns)
	}
}

// types checks every @odata.type anywhere in v.
func (w *walker) types(t *testing.T, uri string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "@odata.type" {
				s, _ := e.(string)
				w.checkType(t, uri, s)
				continue
			}
			w.types(t, uri, e)
		}
	case []any:
		for _, e := range x {
			w.types(t, uri, e)
		}
	}
}

// publicDocuments: "Services shall not require authentication to retrieve
// the Service Root and /redfish resources", "the OData metadata document
// or the OData service document"; /redfish is {"v1": "/redfish/v1/"};
// the service document lists the root and each direct child of it.
func (w *walker) publicDocuments(t *testing.T) {
	t.Helper()
	r := w.do(t, http.MethodGet, "/redfish", auth{}, nil, nil)
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) == "" {
		t.Fatalf("/redfish: %d", r.status)
	}
	if v := r.json(t); len(v) != 1 || v["v1"] != "/redfish/v1/" {
		t.Errorf("/redfish = %v, want {\"v1\": \"/redfish/v1/\"}", v)
	}
	root := w.do(t, http.MethodGet, "/redfish/v1/", auth{}, nil, nil)
	if root.status != http.StatusOK {
		t.Fatalf("service root without credentials: %d", root.status)
	}
	rm := root.json(t)
	w.features, _ = rm["ProtocolFeaturesSupported"].(map[string]any)
	if alt := w.do(t, http.MethodGet, "/redfish/v1", auth{}, nil, nil); alt.status != http.StatusOK && alt.status/100 != 3 {
		t.Errorf("/redfish/v1 without the slash: %d", alt.status)
	}
	doc := w.do(t, http.MethodGet, "/redfish/v1/odata", auth{}, nil, nil)
	if doc.status != http.StatusOK || !strings.HasPrefix(doc.header.Get("Content-Type"), "application/json") {
		t.Fatalf("/redfish/v1/odata: %d %s", doc.status, doc.header.Get("Content-Type"))
	}
	dm := doc.json(t)
	if dm["@odata.context"] != "/redfish/v1/$metadata" {
		t.Errorf("odata: @odata.context %v", dm["@odata.context"])
	}
	urls := map[string]bool{}
	for _, e := range asList(dm["value"]) {
		m, _ := e.(map[string]any)
		u, _ := m["url"].(string)
		urls[strings.TrimSuffix(u, "/")] = true
	}
	if !urls["/redfish/v1"] {
		t.Error("odata: the service root is not in value")
	}
	for k, v := range rm {
		if m, ok := v.(map[string]any); ok && k != "Links" {
			if id, ok := m["@odata.id"].(string); ok && !urls[strings.TrimSuffix(id, "/")] {
				t.Errorf("odata: the root's child %s (%s) is not in value", k, id)
			}
		}
	}
	if rm["Links"] == nil || testkit.Field(rm, "Links", "Sessions", "@odata.id") == nil {
		t.Error("service root: no Links/Sessions")
	}
}

// walk visits every resource linked from the service root.
func (w *walker) walk(t *testing.T) {
	t.Helper()
	queue := []string{"/redfish/v1/"}
	seen := map[string]bool{"/redfish/v1": true}
	var deletable []string
	for len(queue) > 0 {
		uri := queue[0]
		queue = queue[1:]
		if len(w.res.Resources) >= w.cfg.MaxResources {
			t.Fatalf("more than %d resources: stopping", w.cfg.MaxResources)
		}
		var body map[string]any
		t.Run(strings.TrimPrefix(uri, "/redfish/v1"), func(t *testing.T) {
			body = w.resource(t, uri)
			if strings.Contains(w.res.Allow[uri], http.MethodDelete) {
				deletable = append(deletable, uri)
			}
		})
		for _, l := range links(body) {
			p, frag, _ := strings.Cut(l, "#")
			if frag != "" && strings.TrimSuffix(p, "/") == strings.TrimSuffix(uri, "/") && body != nil {
				if resolvePointer(body, frag) == nil {
					t.Errorf("%s: @odata.id %s: the fragment does not resolve in the resource", uri, l)
				}
			}
			if !strings.HasPrefix(p, "/redfish/v1") {
				t.Errorf("%s: link %q is not below /redfish/v1", uri, l)
				continue
			}
			key := strings.TrimSuffix(p, "/")
			if !seen[key] {
				seen[key] = true
				queue = append(queue, p)
			}
		}
	}
	// DELETE last, so that nothing walked is gone before it is checked:
	// "To remove a resource, the service shall support the DELETE method";
	// afterwards the resource is gone (404).
	for _, uri := range deletable {
		r := w.do(t, http.MethodDelete, uri, w.admin(), nil, nil)
		if r.status != http.StatusOK && r.status != http.StatusNoContent && r.status != http.StatusAccepted {
			t.Errorf("DELETE %s (in Allow): %d\n%s", uri, r.status, r.body)
			continue
		}
		if g := w.do(t, http.MethodGet, uri, w.admin(), nil, nil); g.status != http.StatusNotFound {
			t.Errorf("GET %s after DELETE: %d, want 404", uri, g.status)
		}
	}
}

// resource checks one resource and returns it.
func (w *walker) resource(t *testing.T, uri string) map[string]any {
	t.Helper()
	get := w.do(t, http.MethodGet, uri, w.admin(), nil, nil)
	if get.status != http.StatusOK {
		t.Fatalf("GET: %d\n%s", get.status, get.body)
	}
	if ct := get.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET: Content-Type %q", ct)
	}
	body := get.json(t)
	typ, _ := body["@odata.type"].(string)
	w.res.Resources[uri] = typ
	if id, _ := body["@odata.id"].(string); strings.TrimSuffix(id, "/") != strings.TrimSuffix(uri, "/") {
		t.Errorf("@odata.id %q at %s", id, uri)
	}
	if typ == "" {
		t.Fatal("no @odata.type")
	}
	w.types(t, uri, body)
	if body["Name"] == nil {
		t.Error("no Name (the Resource schema requires it)")
	}
	collection := strings.HasSuffix(strings.Split(strings.TrimPrefix(typ, "#"), ".")[0], "Collection")
	if collection {
		n, ok := body["Members@odata.count"].(float64)
		if !ok || int(n) != len(asList(body["Members"])) {
			t.Errorf("Members@odata.count %v for %d members (\"shall always include the count property\")",
				body["Members@odata.count"], len(asList(body["Members"])))
		}
	} else if body["Id"] == nil {
		t.Error("no Id (the Resource schema requires it)")
	}

	// "[The Allow header] shall be returned with any GET or HEAD operation".
	allow := methodSet(get.header.Get("Allow"))
	w.res.Allow[uri] = get.header.Get("Allow")
	if !allow[http.MethodGet] || !allow[http.MethodHead] {
		t.Errorf("Allow %q lacks GET or HEAD", get.header.Get("Allow"))
	}
	// "A Link header containing rel=describedby shall be returned on GET
	// and HEAD requests"; "if the referenced JSON Schema is a versioned
	// schema, it shall match the version contained in the value of the
	// @odata.type property".
	w.describedBy(t, typ, get.header)
	// ETag: "If a resource supports an ETag, it shall use the
	// RFC7232-defined ETag"; the header and @odata.etag agree.
	etag := get.header.Get("ETag")
	if etag != "" {
		if !validETag(etag) {
			t.Errorf("ETag %q is not an RFC 7232 entity-tag", etag)
		}
		if tag, ok := body["@odata.etag"]; ok && tag != etag {
			t.Errorf("@odata.etag %v differs from the ETag header %s", tag, etag)
		}
	}
	if strings.HasPrefix(typ, "#ManagerAccount.") && etag == "" {
		t.Error("\"The ETag header shall be included on responses to GETs of ManagerAccount resources\"")
	}

	// "The HEAD method differs from the GET method in that it shall not
	// return message body information."
	head := w.do(t, http.MethodHead, uri, w.admin(), nil, nil)
	if head.status != http.StatusOK || len(head.body) != 0 {
		t.Errorf("HEAD: %d with %d body bytes", head.status, len(head.body))
	}
	if head.header.Get("Allow") != get.header.Get("Allow") {
		t.Errorf("HEAD Allow %q, GET Allow %q", head.header.Get("Allow"), get.header.Get("Allow"))
	}
	w.describedBy(t, typ, head.header)

	w.methods(t, uri, body, allow, get.header.Get("Allow"))
	if allow[http.MethodPatch] {
		w.etags(t, uri, body, etag)
	}
	w.queries(t, uri, body, collection)
	// Without credentials, only the public documents are served.
	if uri != "/redfish/v1/" {
		r := w.do(t, http.MethodGet, uri, auth{}, nil, nil)
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET without credentials: %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
		}
	}
	return body
}

func (w *walker) describedBy(t *testing.T, typ string, h http.Header) {
	t.Helper()
	link := h.Get("Link")
	target, params, _ := strings.Cut(link, ";")
	if !strings.Contains(strings.ReplaceAll(params, " ", ""), "rel=describedby") {
		t.Errorf("Link %q has no rel=describedby", link)
		return
	}
	target = strings.Trim(strings.TrimSpace(target), "<>")
	u, err := url.Parse(target)
	if err != nil {
		t.Errorf("Link target %q: %v", target, err)
		return
	}
	parts := strings.Split(strings.TrimPrefix(typ, "#"), ".")
	want := strings.Join(parts[:len(parts)-1], ".") + ".json"
	if path.Base(u.Path) != want {
		t.Errorf("Link %q for @odata.type %s: want the schema %s", link, typ, want)
	}
}

// methods tries every method. One the Allow header lists must not be
// refused with 405 (a malformed body is sent, so 400 is the answer and
// nothing changes); one it does not list must be 405 with the same Allow:
// "the Redfish service shall return the HTTP 405 Method Not Allowed status
// code or the HTTP 501 Not Implemented status code".
func (w *walker) methods(t *testing.T, uri string, body map[string]any, allow map[string]bool, allowHeader string) {
	t.Helper()
	for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		if allow[m] {
			if m == http.MethodDelete {
				continue // done at the end of the walk
			}
			r := w.do(t, m, uri, w.admin(), []byte(`{"malformed`), nil)
			if r.status != http.StatusBadRequest || !slices.Contains(messageIDs(r), "MalformedJSON") {
				t.Errorf("%s (in Allow) with a malformed body: %d %v, want 400 MalformedJSON", m, r.status, messageIDs(r))
			}
			continue
		}
		r := w.do(t, m, uri, w.admin(), []byte(`{}`), nil)
		switch {
		case r.status == http.StatusNotImplemented:
		case r.status != http.StatusMethodNotAllowed:
			t.Errorf("%s (not in Allow %q): %d, want 405", m, allowHeader, r.status)
		case r.header.Get("Allow") != allowHeader:
			t.Errorf("%s: 405 with Allow %q, GET said %q", m, r.header.Get("Allow"), allowHeader)
		}
	}
	// Actions: POST only.
	for _, target := range actionTargets(body) {
		r := w.do(t, http.MethodGet, target, w.admin(), nil, nil)
		if r.status != http.StatusMethodNotAllowed || !methodSet(r.header.Get("Allow"))[http.MethodPost] {
			t.Errorf("GET action %s: %d, Allow %q; want 405 and POST", target, r.status, r.header.Get("Allow"))
		}
		r = w.do(t, http.MethodPost, target, w.admin(), []byte(`{"malformed`), nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("POST action %s with a malformed body: %d, want 400", target, r.status)
		}
	}
}

// etags: a resource that takes PATCH has an ETag; a PATCH with a stale
// If-Match is refused with 412 and changes nothing; with the current one
// it succeeds.
func (w *walker) etags(t *testing.T, uri string, body map[string]any, etag string) {
	t.Helper()
	if etag == "" {
		t.Error("takes PATCH but has no ETag")
		return
	}
	ns := strings.Split(strings.TrimPrefix(body["@odata.type"].(string), "#"), ".")[0]
	mk := w.cfg.Patches[ns]
	if mk == nil {
		t.Errorf("no harmless PATCH known for %s: add one to Config.Patches", ns)
		return
	}
	patch, _ := json.Marshal(mk(body))
	r := w.do(t, http.MethodPatch, uri, w.admin(), patch, map[string]string{"If-Match": `W/"00000000stale"`})
	if r.status != http.StatusPreconditionFailed || !slices.Contains(messageIDs(r), "PreconditionFailed") {
		t.Errorf("PATCH with a stale If-Match: %d %v, want 412 PreconditionFailed", r.status, messageIDs(r))
	}
	if g := w.do(t, http.MethodGet, uri, w.admin(), nil, nil); g.header.Get("ETag") != etag {
		t.Errorf("a refused PATCH changed the ETag: %s → %s", etag, g.header.Get("ETag"))
	}
	r = w.do(t, http.MethodPatch, uri, w.admin(), patch, map[string]string{"If-Match": etag})
	if r.status != http.StatusOK && r.status != http.StatusNoContent {
		t.Errorf("PATCH %s with If-Match %s: %d\n%s", patch, etag, r.status, r.body)
	}
	if r.status == http.StatusOK && r.header.Get("ETag") == "" {
		t.Error("PATCH answered 200 without the new ETag")
	}
	if r := w.do(t, http.MethodPatch, uri, w.admin(), patch, nil); r.status != http.StatusOK && r.status != http.StatusNoContent {
		t.Errorf("PATCH without If-Match: %d", r.status)
	}
	// "A client only provides OData annotations: Services shall return the
	// HTTP 400 Bad Request status code with the NoOperation message from
	// the Base Message Registry or one of the modification success
	// responses."
	before := w.do(t, http.MethodGet, uri, w.admin(), nil, nil).header.Get("ETag")
	annotations, _ := json.Marshal(map[string]any{"@odata.id": body["@odata.id"]})
	r = w.do(t, http.MethodPatch, uri, w.admin(), annotations, nil)
	switch {
	case r.status == http.StatusBadRequest && slices.Contains(messageIDs(r), "NoOperation"):
	case r.status == http.StatusOK || r.status == http.StatusNoContent:
	default:
		t.Errorf("PATCH of OData annotations only: %d %v, want 400 NoOperation or a success", r.status, messageIDs(r))
	}
	if after := w.do(t, http.MethodGet, uri, w.admin(), nil, nil).header.Get("ETag"); after != before {
		t.Errorf("a PATCH of OData annotations only changed the resource: %s → %s", before, after)
	}
}

// queries: "Services shall return the HTTP 501 Not Implemented status code
// for any unsupported query parameters that start with $", "shall ignore
// unknown or unsupported query parameters that do not begin with $", and
// what ProtocolFeaturesSupported claims must work.
func (w *walker) queries(t *testing.T, uri string, body map[string]any, collection bool) {
	t.Helper()
	sep := "?"
	unsupported := []string{"$rpvunknown=1"}
	if f, _ := w.features["ExpandQuery"].(map[string]any); f == nil || (f["ExpandAll"] != true && f["Levels"] != true && f["Links"] != true && f["NoLinks"] != true) {
		unsupported = append(unsupported, "$expand=*", "$expand=.($levels=1)")
	}
	if w.features["SelectQuery"] != true {
		unsupported = append(unsupported, "$select=Name")
	}
	if w.features["FilterQuery"] != true {
		unsupported = append(unsupported, "$filter=Name%20eq%20'x'")
	}
	if w.features["TopSkipQuery"] != true {
		unsupported = append(unsupported, "$top=1", "$skip=1")
	}
	for _, q := range unsupported {
		r := w.do(t, http.MethodGet, uri+sep+q, w.admin(), nil, nil)
		if r.status != http.StatusNotImplemented {
			t.Errorf("GET ?%s (unsupported): %d, want 501", q, r.status)
		}
	}
	r := w.do(t, http.MethodGet, uri+sep+"rpvunknown=1", w.admin(), nil, nil)
	if r.status != http.StatusOK {
		t.Errorf("GET ?rpvunknown=1 (no $, to be ignored): %d", r.status)
	}
	r = w.do(t, http.MethodGet, uri+sep+"only", w.admin(), nil, nil)
	members := asList(body["Members"])
	switch {
	case w.features["OnlyMemberQuery"] != true:
		// Unsupported and without $: ignored, the resource itself.
		if r.status != http.StatusOK || r.json(t)["@odata.id"] != body["@odata.id"] {
			t.Errorf("GET ?only with OnlyMemberQuery not claimed: %d, want the resource itself", r.status)
		}
		return
	case collection && len(members) == 1:
		want, _ := members[0].(map[string]any)["@odata.id"].(string)
		if r.status != http.StatusOK || r.json(t)["@odata.id"] != want {
			t.Errorf("GET ?only of a one-member collection: %d, want the member %s", r.status, want)
		}
	case collection:
		if r.status != http.StatusOK || r.json(t)["@odata.id"] != body["@odata.id"] {
			t.Errorf("GET ?only of a %d-member collection: %d, want the collection", len(members), r.status)
		}
	default:
		// The only parameter applies to collections: refused (400) or ignored.
		if r.status != http.StatusBadRequest && r.status != http.StatusOK {
			t.Errorf("GET ?only of a resource that is not a collection: %d", r.status)
		}
	}
	if collection {
		if r := w.do(t, http.MethodGet, uri+"?only=yes", w.admin(), nil, nil); r.status != http.StatusBadRequest {
			t.Errorf("GET ?only=yes: %d (\"400 ... for values applied to query parameters without defined values, such as excerpt or only\")", r.status)
		}
	}
}

// sessions: sessions are created by POST to the Sessions collection and to
// its Members ("Services that support the addition of Members to a
// resource collection shall support both forms"), answered with 201,
// X-Auth-Token and Location; the token works until the session is deleted.
func (w *walker) sessions(t *testing.T) {
	t.Helper()
	t.Run("sessions", func(t *testing.T) {
		login, _ := json.Marshal(map[string]string{"UserName": w.cfg.User, "Password": w.cfg.Password})
		for _, target := range []string{"/redfish/v1/SessionService/Sessions", "/redfish/v1/SessionService/Sessions/Members"} {
			r := w.do(t, http.MethodPost, target, auth{}, login, nil)
			token, loc := r.header.Get("X-Auth-Token"), r.header.Get("Location")
			if r.status != http.StatusCreated || token == "" || loc == "" {
				t.Errorf("POST %s: %d, token %t, Location %q", target, r.status, token != "", loc)
				continue
			}
			if u, err := url.Parse(loc); err == nil {
				loc = u.Path
			}
			if sess := r.json(t); sess["@odata.id"] != loc || sess["Password"] != nil {
				t.Errorf("POST %s: the body is not the new session at %s: %v", target, loc, sess)
			}
			if g := w.do(t, http.MethodGet, loc, auth{token: token}, nil, nil); g.status != http.StatusOK {
				t.Errorf("GET the session with its token: %d", g.status)
			}
			if d := w.do(t, http.MethodDelete, loc, auth{token: token}, nil, nil); d.status != http.StatusNoContent && d.status != http.StatusOK {
				t.Errorf("DELETE the session: %d", d.status)
			}
			if g := w.do(t, http.MethodGet, "/redfish/v1/Systems", auth{token: token}, nil, nil); g.status != http.StatusUnauthorized {
				t.Errorf("the token of a deleted session: %d, want 401", g.status)
			}
		}
	})
}

// readOnly walks what a ReadOnly login sees: every resource reads (200);
// every change is refused with 403 InsufficientPrivilege and changes
// nothing, except logging in and ending its own session (ConfigureSelf).
func (w *walker) readOnly(t *testing.T) {
	ro := w.roAuth()
	queue := []string{"/redfish/v1/"}
	seen := map[string]bool{"/redfish/v1": true}
	for n := 0; len(queue) > 0; n++ {
		if n >= w.cfg.MaxResources {
			t.Fatalf("more than %d resources", w.cfg.MaxResources)
		}
		uri := queue[0]
		queue = queue[1:]
		get := w.do(t, http.MethodGet, uri, ro, nil, nil)
		if get.status != http.StatusOK {
			t.Errorf("ReadOnly GET %s: %d", uri, get.status)
			continue
		}
		body := get.json(t)
		before := get.header.Get("ETag")
		allow := methodSet(get.header.Get("Allow"))
		typ, _ := body["@odata.type"].(string)
		ns := strings.Split(strings.TrimPrefix(typ, "#"), ".")[0]
		for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
			if !allow[m] || ns == "Session" || ns == "SessionCollection" {
				continue // ending one's own session and logging in are allowed
			}
			var patch []byte
			if mk := w.cfg.Patches[ns]; m == http.MethodPatch && mk != nil {
				patch, _ = json.Marshal(mk(body))
			} else {
				patch = []byte(`{}`)
			}
			r := w.do(t, m, uri, ro, patch, nil)
			if r.status != http.StatusForbidden || !slices.Contains(messageIDs(r), "InsufficientPrivilege") {
				t.Errorf("ReadOnly %s %s: %d %v, want 403 InsufficientPrivilege", m, uri, r.status, messageIDs(r))
			}
		}
		for _, target := range actionTargets(body) {
			r := w.do(t, http.MethodPost, target, ro, actionBody(target), nil)
			if r.status != http.StatusForbidden || !slices.Contains(messageIDs(r), "InsufficientPrivilege") {
				t.Errorf("ReadOnly POST %s: %d %v, want 403 InsufficientPrivilege", target, r.status, messageIDs(r))
			}
		}
		if before != "" {
			if g := w.do(t, http.MethodGet, uri, ro, nil, nil); g.header.Get("ETag") != before {
				t.Errorf("ReadOnly requests changed %s: ETag %s → %s", uri, before, g.header.Get("ETag"))
			}
		}
		for _, l := range links(body) {
			p, _, _ := strings.Cut(l, "#")
			if key := strings.TrimSuffix(p, "/"); strings.HasPrefix(p, "/redfish/v1") && !seen[key] {
				seen[key] = true
				queue = append(queue, p)
			}
		}
	}
}

// actionBody is a valid body for the actions a read-only login tries: it
// would change something if the service let it through.
func actionBody(target string) []byte {
	switch {
	case strings.HasSuffix(target, "ComputerSystem.Reset"):
		return []byte(`{"ResetType": "ForceOff"}`)
	case strings.HasSuffix(target, "VirtualMedia.InsertMedia"):
		return []byte(`{"Image": "http://192.0.2.1/readonly.iso"}`)
	}
	return []byte(`{}`)
}

// links returns every @odata.id in v except the top-level one.
func links(body map[string]any) []string {
	var out []string
	var rec func(v any, top bool)
	rec = func(v any, top bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "@odata.id" && !top {
					if s, ok := e.(string); ok {
						out = append(out, s)
					}
					continue
				}
				rec(e, false)
			}
		case []any:
			for _, e := range x {
				rec(e, false)
			}
		}
	}
	rec(body, true)
	sort.Strings(out)
	return out
}

// actionTargets returns the targets of the resource's Actions.
func actionTargets(body map[string]any) []string {
	var out []string
	acts, _ := body["Actions"].(map[string]any)
	for _, a := range acts {
		if m, ok := a.(map[string]any); ok {
			if s, ok := m["target"].(string); ok {
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// resolvePointer resolves a JSON pointer fragment ("/PowerSupplies/0").
func resolvePointer(v any, ptr string) any {
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func methodSet(allow string) map[string]bool {
	out := map[string]bool{}
	for _, m := range strings.Split(allow, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out[m] = true
		}
	}
	return out
}

// validETag: entity-tag = [ W/ ] DQUOTE *etagc DQUOTE (RFC 7232 §2.3).
func validETag(s string) bool {
	s = strings.TrimPrefix(s, "W/")
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for _, c := range []byte(s[1 : len(s)-1]) {
		if c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

func asList(v any) []any { l, _ := v.([]any); return l }

// Client returns an HTTP client for the walk over transport (nil: the
// default): every request is bounded in time and redirects are not
// followed, so that the walk sees what the service answers.
func Client(transport http.RoundTripper) *http.Client {
	return &http.Client{Transport: transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
