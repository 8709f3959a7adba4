package redfish

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// redfishVersion is the DSP0266 version the service claims.
const redfishVersion = "1.11.0"

// serveVersions is /redfish: the protocol versions served.
func serveVersions(c *call) *apiError {
	c.w.Header().Set("Allow", c.route.allow())
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{"v1": rootPath})
	return nil
}

func serveRoot(c *call) *apiError {
	return c.get(map[string]any{
		"@odata.type":    typeServiceRoot,
		"@odata.id":      rootPath,
		"Id":             "RootService",
		"Name":           "powerjockey Redfish Service",
		"RedfishVersion": redfishVersion,
		"UUID":           c.s.uuid,
		"Vendor":         "powerjockey",
		"Product":        "powerjockey",
		// What parseQuery does: only "only"; other $ parameters are 501.
		"ProtocolFeaturesSupported": map[string]any{
			"ExpandQuery":     map[string]any{"ExpandAll": false, "Levels": false, "Links": false, "NoLinks": false},
			"ExcerptQuery":    false,
			"FilterQuery":     false,
			"OnlyMemberQuery": true,
			"SelectQuery":     false,
		},
		"Systems":        odataID(systemsPath),
		"Managers":       odataID(managersPath),
		"Chassis":        odataID(chassisCollPath),
		"SessionService": odataID(sessionServicePath),
		"AccountService": odataID(accountServicePath),
		"Links":          map[string]any{"Sessions": odataID(sessionsPath)},
	})
}

// serveODataDocument is the OData service document (/redfish/v1/odata):
// the service root and each resource directly below it.
func serveODataDocument(c *call) *apiError {
	entry := func(name, url string) map[string]any {
		return map[string]any{"name": name, "kind": "Singleton", "url": url}
	}
	c.w.Header().Set("Allow", c.route.allow())
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{
		"@odata.context": metadataPath,
		"value": []any{
			entry("Service", rootPath),
			entry("Systems", systemsPath),
			entry("Managers", managersPath),
			entry("Chassis", chassisCollPath),
			entry("SessionService", sessionServicePath),
			entry("AccountService", accountServicePath),
		},
	})
	return nil
}

func serveMetadata(c *call) *apiError {
	c.w.Header().Set("Allow", c.route.allow())
	writeBody(c.w, c.r, http.StatusOK, "application/xml", []byte(metadataXML))
	return nil
}

// nodePaths returns pathOf of every node the caller sees.
func nodePaths(c *call, pathOf func(string) string) []string {
	out := make([]string, len(c.entries))
	for i, e := range c.entries {
		out[i] = pathOf(e.System.Name())
	}
	return out
}

func serveSystems(c *call) *apiError {
	return c.collection(typeSystemCollection, systemsPath, "Computer System Collection", nodePaths(c, SystemPath))
}

func serveManagers(c *call) *apiError {
	return c.collection(typeManagerCollection, managersPath, "Manager Collection", nodePaths(c, managerPath))
}

func serveChassisCollection(c *call) *apiError {
	return c.collection(typeChassisCollection, chassisCollPath, "Chassis Collection", nodePaths(c, chassisPath))
}

// serveManager is a node's emulated BMC: sushy resolves a System's
// managers through Links.ManagedBy, and each node has its own BMC here
// (its IPMI endpoint), so one Manager per node.
func serveManager(c *call) *apiError {
	name := c.entry.System.Name()
	now := c.s.now().UTC()
	body := map[string]any{
		"@odata.type":           typeManager,
		"@odata.id":             managerPath(name),
		"Id":                    name,
		"Name":                  "powerjockey BMC of " + name,
		"Description":           "The BMC powerjockey emulates for " + name + " (IPMI and Redfish)",
		"ManagerType":           "BMC",
		"FirmwareVersion":       c.s.firmware,
		"ServiceEntryPointUUID": c.s.uuid,
		"DateTime":              now.Format(time.RFC3339),
		"DateTimeLocalOffset":   "+00:00",
		"PowerState":            "On",
		"Status":                map[string]any{"State": "Enabled", "Health": "OK"},
		"Links": map[string]any{
			"ManagerForServers": []any{odataID(SystemPath(name))},
			"ManagerForChassis": []any{odataID(chassisPath(name))},
		},
	}
	if c.entry.System.HasVirtualMedia() {
		body["VirtualMedia"] = odataID(mediaCollPath(name))
	}
	return c.get(body)
}

func serveSessionService(c *call) *apiError {
	return c.get(map[string]any{
		"@odata.type":    typeSessionService,
		"@odata.id":      sessionServicePath,
		"Id":             "SessionService",
		"Name":           "Session Service",
		"ServiceEnabled": true,
		"SessionTimeout": int(c.s.sessions.timeout.Seconds()),
		"Sessions":       odataID(sessionsPath),
		"Status":         map[string]any{"State": "Enabled", "Health": "OK"},
	})
}

// serveSessions lists the caller's own sessions.
func serveSessions(c *call) *apiError {
	var paths []string
	for _, sess := range c.s.sessions.list(c.p) {
		paths = append(paths, sessionPath(sess.id))
	}
	return c.collection(typeSessionCollection, sessionsPath, "Session Collection", paths)
}

func sessionResource(sess session) map[string]any {
	return map[string]any{
		"@odata.type":           typeSession,
		"@odata.id":             sessionPath(sess.id),
		"Id":                    sess.id,
		"Name":                  "User Session",
		"Description":           "Redfish session of " + sess.user,
		"UserName":              sess.user,
		"Password":              nil, // the schema requires null on reads
		"SessionType":           "Redfish",
		"ClientOriginIPAddress": remoteHost(sess.remote),
	}
}

func remoteHost(addr string) string {
	r := http.Request{RemoteAddr: addr}
	return remoteIP(&r)
}

// login creates a session (POST to the Sessions collection, the one
// request besides the service root that needs no credentials): 201 with
// the token in X-Auth-Token and the session in Location.
func login(c *call) *apiError {
	s, w, r := c.s, c.w, c.r
	ip := remoteIP(r)
	if aerr := s.limiter.check(ip); aerr != nil {
		s.rateLimited(r, "")
		return aerr
	}
	data, aerr := readBody(w, r)
	if aerr != nil {
		return aerr
	}
	l, aerr := decodeLogin(data)
	if aerr != nil {
		return aerr
	}
	p := &principal{user: l.UserName, pwHash: hashSecret(l.Password)}
	if len(p.visible(s.b.Systems())) == 0 {
		s.limiter.fail(ip)
		s.authFailed(r, l.UserName, "session login: no node has this username and password")
		return unauthorized("The username and password are not those of any system.")
	}
	sess, token, err := s.sessions.create(p, r.RemoteAddr)
	if errors.Is(err, errSessionLimit) {
		s.audit.Write(r.Context(), slog.LevelWarn, "redfish session refused: session table full", r.RemoteAddr, truncate(l.UserName))
		return newError(http.StatusServiceUnavailable, msg("SessionLimitExceeded")).
			withDetail("All sessions are in use; delete one or use HTTP basic authentication.")
	}
	s.log.Info("redfish session created", "session", sess.id, "user", truncate(l.UserName), "remote", r.RemoteAddr)
	w.Header().Set("X-Auth-Token", token)
	w.Header().Set("Location", sessionPath(sess.id))
	writeJSON(w, r, http.StatusCreated, sessionResource(sess))
	return nil
}

// findSession finds one of the caller's own sessions; the others do not
// exist for it.
func findSession(c *call) *apiError {
	sess, ok := c.s.sessions.get(c.params[0])
	if !ok || !sess.ownedBy(c.p) {
		return notFound("Session", truncate(c.params[0]))
	}
	c.item = sess
	return nil
}

func serveSession(c *call) *apiError { return c.get(sessionResource(c.item.(session))) }

// deleteSession ends a session (log out): ConfigureSelf, which every role
// holds.
func deleteSession(c *call) *apiError {
	sess := c.item.(session)
	if c.s.sessions.remove(sess.id) {
		c.s.log.Info("redfish session ended", "session", sess.id, "user", truncate(sess.user), "remote", c.r.RemoteAddr)
	}
	return c.noContent()
}
