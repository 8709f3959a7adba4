package redfish

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/powerjockey/powerjockey/pkg/account"
	"github.com/powerjockey/powerjockey/pkg/node"
)

// A route is one URI template of the service and the methods it takes.
// The table is the single place that says what exists and what may be
// done to it: the Allow header, the 405 answers and the privilege checks
// all come from it, so they cannot disagree.
type route struct {
	// segs are the path segments after /redfish/v1; "{}" matches any one.
	segs []string
	// find resolves the path parameters to resources the caller may see
	// (404 otherwise); nil when there is nothing to find.
	find func(c *call) *apiError
	// methods are the methods served; GET implies HEAD.
	methods map[string]method
	// collection marks a resource collection (the only query applies).
	collection bool
	// notAllowed, when set, is the 405 answer (with a reason) instead of
	// the bare OperationNotAllowed.
	notAllowed func(allow string) *apiError
}

// refuse405 is the route's answer to a method it does not take.
func (rt *route) refuse405() *apiError {
	if rt.notAllowed != nil {
		return rt.notAllowed(rt.allow())
	}
	return methodNotAllowed(rt.allow())
}

// method is one method of a route.
type method struct {
	// public methods are served without authentication (DSP0266: the
	// service root, the OData documents, and session login).
	public bool
	// priv is the privilege needed: on the node, for a node's resources;
	// of any of the caller's roles otherwise.
	priv  account.Privilege
	serve func(c *call) *apiError
}

// versionsSeg stands for /redfish (the versions object) in the route
// table: no path segment can be it.
const versionsSeg = "\x00versions"

// allPublic reports whether every method of the route is public: a wrong
// method is then answered without asking for credentials.
func (rt *route) allPublic() bool {
	for _, m := range rt.methods {
		if !m.public {
			return false
		}
	}
	return true
}

// methodOrder is the order methods are listed in Allow.
var methodOrder = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}

// allow is the route's Allow header value.
func (rt *route) allow() string {
	var out []string
	for _, m := range methodOrder {
		_, ok := rt.methods[m]
		if m == http.MethodHead {
			_, ok = rt.methods[http.MethodGet]
		}
		if ok {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// call is one request on its way through a route.
type call struct {
	s      *Service
	w      http.ResponseWriter
	r      *http.Request
	route  *route
	params []string
	query  query

	// p is the caller and entries the nodes its credentials own; both
	// unset on a public method.
	p       *principal
	entries []Entry
	// entry is the node a node's resource belongs to, once found.
	entry    Entry
	hasEntry bool
	// item is the sub-resource a route's find resolved (a log entry, a
	// NIC, a session, an account, a role).
	item any
}

// role is the caller's role for this request: its role on the node, for
// a node's resources; otherwise the highest it holds anywhere (every role
// holds Login and ConfigureSelf, all that service-wide changes need).
func (c *call) role() account.Role {
	if c.hasEntry {
		return c.entry.Credentials.role()
	}
	var roles []account.Role
	for _, e := range c.entries {
		roles = append(roles, e.Credentials.role())
	}
	return account.Highest(roles...)
}

// match returns the route for a path below /redfish/v1 and its parameters.
func (s *Service) match(seg []string) (*route, []string) {
	for _, rt := range s.routes {
		if len(rt.segs) != len(seg) {
			continue
		}
		var params []string
		ok := true
		for i, p := range rt.segs {
			switch {
			case p == "{}":
				params = append(params, seg[i])
			case p != seg[i]:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

// serve routes one request: find the route, authenticate unless the
// method is public, find the resource (404), check the method (405 with
// Allow), the privilege (403) and the query (501/400), then serve.
func (s *Service) serve(w http.ResponseWriter, r *http.Request, user *string) *apiError {
	if v := r.Header.Get("OData-Version"); v != "" && v != "4.0" {
		return newError(http.StatusPreconditionFailed, msg("HeaderInvalid", "OData-Version")).
			withDetail("OData-Version " + truncate(v) + " is not supported; this service speaks 4.0.")
	}
	path := r.URL.Path
	var seg []string
	switch {
	case path == "/redfish" || path == "/redfish/":
		seg = []string{versionsSeg}
	default:
		rest, ok := strings.CutPrefix(path, "/redfish/v1")
		if !ok || (rest != "" && rest[0] != '/') {
			return invalidURI(truncate(path))
		}
		if rest = strings.Trim(rest, "/"); rest != "" {
			seg = strings.Split(rest, "/")
		}
	}
	rt, params := s.match(seg)
	name := r.Method
	if name == http.MethodHead {
		name = http.MethodGet
	}
	m, known := method{}, false
	if rt != nil {
		m, known = rt.methods[name]
	}
	c := &call{s: s, w: w, r: r, route: rt, params: params}
	if rt != nil && !known && rt.allPublic() {
		return rt.refuse405()
	}
	if !known || !m.public {
		p, entries, aerr := s.authenticate(r)
		if aerr != nil {
			return aerr
		}
		*user = p.user
		c.p, c.entries = p, entries
		c.r = r.WithContext(node.WithRequester(r.Context(), node.Requester{Channel: node.ChannelRedfish, Source: r.RemoteAddr, User: p.user}))
	}
	if rt == nil {
		return invalidURI(truncate(path))
	}
	if rt.find != nil && !m.public {
		if aerr := rt.find(c); aerr != nil {
			return aerr
		}
	}
	if !known {
		return rt.refuse405()
	}
	if m.priv != "" && !c.role().Can(m.priv) {
		return s.forbidden(c, m.priv)
	}
	q, aerr := parseQuery(r.URL.RawQuery, rt, r.Method)
	if aerr != nil {
		return aerr
	}
	c.query = q
	return m.serve(c)
}

// query is what the service understood of a request's query string.
type query struct {
	// only asks for the single member of a collection (DSP0266 "only").
	only bool
}

// parseQuery applies DSP0266's query parameter rules. The service
// supports only "only"; any other parameter starting with "$" is 501
// QueryParameterUnsupported (ProtocolFeaturesSupported says so); other
// parameters are ignored, excerpt included (unsupported, and without "$").
func parseQuery(raw string, rt *route, methodName string) (query, *apiError) {
	var q query
	if raw == "" {
		return q, nil
	}
	var others []string
	onlyValue := false
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		switch {
		case strings.HasPrefix(k, "$"):
			return q, newError(http.StatusNotImplemented, msg("QueryParameterUnsupported", truncate(k))).
				withDetail("Query parameter '" + truncate(k) + "' is not supported: this service supports only 'only' " +
					"(see ProtocolFeaturesSupported in the service root).")
		case k == "only":
			q.only = true
			onlyValue = hasValue
			_ = v
		default:
			others = append(others, k)
		}
	}
	if !q.only {
		return q, nil
	}
	switch {
	case onlyValue:
		return q, newError(http.StatusBadRequest, msg("QueryParameterValueFormatError", truncate(raw), "only")).
			withDetail("The query parameter 'only' takes no value.")
	case len(others) > 0:
		return q, newError(http.StatusBadRequest, msg("QueryCombinationInvalid")).
			withDetail("The query parameter 'only' cannot be combined with other query parameters.")
	case methodName != http.MethodGet && methodName != http.MethodHead:
		return q, newError(http.StatusBadRequest, msg("QueryNotSupportedOnOperation"))
	case !rt.collection:
		return q, newError(http.StatusBadRequest, msg("QueryNotSupportedOnResource")).
			withDetail("The query parameter 'only' applies to resource collections only.")
	}
	return q, nil
}

// forbidden refuses a request the caller's role does not allow (403), and
// logs it: sushy hides a 403 from its caller when it uses a session (it
// logs in again, retries, and returns the second 403 without raising).
func (s *Service) forbidden(c *call, p account.Privilege) *apiError {
	nodeName := ""
	if c.hasEntry {
		nodeName = c.entry.System.Name()
	}
	s.audit.Write(c.r.Context(), slog.LevelWarn, "redfish request refused: read-only credentials", c.r.RemoteAddr, truncate(c.p.user),
		"node", nodeName, "role", string(c.role()), "privilege", string(p), "method", c.r.Method, "path", truncate(c.r.URL.Path))
	return newError(http.StatusForbidden, msg("InsufficientPrivilege")).
		withDetail("The credentials in use hold the role " + string(c.role()) + " here, which lacks the privilege " +
			string(p) + " this request needs (a node's IPMI privilege user or callback is the role ReadOnly).")
}

// findEntry resolves the first path parameter to one of the caller's
// nodes. A node the credentials do not own is not found, as if it did not
// exist; the refusal is logged for the operator.
func findEntry(typ string) func(c *call) *apiError {
	return func(c *call) *apiError {
		id := c.params[0]
		for _, e := range c.entries {
			if e.System.Name() == id {
				c.entry, c.hasEntry = e, true
				return nil
			}
		}
		if _, exists := c.s.b.System(id); exists {
			c.s.audit.Write(c.r.Context(), slog.LevelWarn, "redfish access refused: the credentials are not this node's", c.r.RemoteAddr, truncate(c.p.user),
				"node", id, "path", truncate(c.r.URL.Path))
		}
		return notFound(typ, truncate(id))
	}
}

// resource sends a resource: its Allow header (from the route), the Link
// to its schema (DSP0266: on every GET and HEAD), and its ETag when it has
// one (also as @odata.etag).
func (c *call) resource(status int, body map[string]any, etag string) *apiError {
	h := c.w.Header()
	h.Set("Allow", c.route.allow())
	if link := describedBy(body); link != "" {
		h.Set("Link", link)
	}
	if etag != "" {
		body["@odata.etag"] = etag
		h.Set("ETag", etag)
	}
	writeJSON(c.w, c.r, status, body)
	return nil
}

// get sends a resource in answer to GET (or HEAD).
func (c *call) get(body map[string]any) *apiError { return c.resource(http.StatusOK, body, "") }

// collection sends a resource collection of the given member paths; with
// the only query and exactly one member, that member instead (DSP0266).
func (c *call) collection(typ, path, name string, members []string) *apiError {
	if c.query.only && len(members) == 1 {
		return c.s.redirectGet(c, members[0])
	}
	list := make([]any, len(members))
	for i, m := range members {
		list[i] = odataID(m)
	}
	return c.get(map[string]any{
		"@odata.type":         typ,
		"@odata.id":           path,
		"Name":                name,
		"Members@odata.count": len(list),
		"Members":             list,
	})
}

// redirectGet serves a GET of path in place of the current request, with
// the same credentials: the only query's answer.
func (s *Service) redirectGet(c *call, path string) *apiError {
	r := c.r.Clone(c.r.Context())
	u := *c.r.URL
	u.Path, u.RawPath, u.RawQuery = path, "", ""
	r.URL = &u
	var user string
	return s.serve(c.w, r, &user)
}

// noContent answers 204.
func (c *call) noContent() *apiError {
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
