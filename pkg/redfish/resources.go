package redfish

import (
	"errors"
	"log/slog"
	"net/http"
)

// redfishVersion is the DSP0266 version the service claims.
const redfishVersion = "1.11.0"

func (s *Service) root() map[string]any {
	return map[string]any{
		"@odata.type":    "#ServiceRoot.v1_5_0.ServiceRoot",
		"@odata.id":      rootPath,
		"Id":             "RootService",
		"Name":           "powerjockey Redfish Service",
		"RedfishVersion": redfishVersion,
		"UUID":           s.uuid,
		"Vendor":         "powerjockey",
		"Product":        "powerjockey",
		"ProtocolFeaturesSupported": map[string]any{
			"ExpandQuery":     map[string]any{"ExpandAll": false, "Levels": false, "Links": false, "NoLinks": false},
			"ExcerptQuery":    false,
			"FilterQuery":     false,
			"OnlyMemberQuery": false,
			"SelectQuery":     false,
		},
		"Systems":        odataID(systemsPath),
		"Managers":       odataID(managersPath),
		"Chassis":        odataID(chassisCollPath),
		"SessionService": odataID(sessionServicePath),
		"Links":          map[string]any{"Sessions": odataID(sessionsPath)},
	}
}

// collection renders a resource collection of the given members.
func collection(typ, path, name string, members []string, pathOf func(string) string) map[string]any {
	list := make([]any, len(members))
	for i, m := range members {
		list[i] = odataID(pathOf(m))
	}
	return map[string]any{
		"@odata.type":         typ,
		"@odata.id":           path,
		"Name":                name,
		"Members@odata.count": len(list),
		"Members":             list,
	}
}

// managerResource is a node's emulated BMC: sushy resolves a System's
// managers through Links.ManagedBy, and each node has its own BMC here
// (its IPMI endpoint), so one Manager per node.
func managerResource(name string) map[string]any {
	return map[string]any{
		"@odata.type": "#Manager.v1_10_0.Manager",
		"@odata.id":   managerPath(name),
		"Id":          name,
		"Name":        "powerjockey BMC of " + name,
		"Description": "The BMC powerjockey emulates for " + name + " (IPMI and Redfish)",
		"ManagerType": "BMC",
		"PowerState":  "On",
		"Status":      map[string]any{"State": "Enabled", "Health": "OK"},
		"Links": map[string]any{
			"ManagerForServers": []any{odataID(SystemPath(name))},
			"ManagerForChassis": []any{odataID(chassisPath(name))},
		},
	}
}

// chassisResource is a node's enclosure; nothing is known of it.
func chassisResource(name string) map[string]any {
	return map[string]any{
		"@odata.type": "#Chassis.v1_14_0.Chassis",
		"@odata.id":   chassisPath(name),
		"Id":          name,
		"Name":        name,
		"ChassisType": "Other",
		"Status":      map[string]any{"State": "Enabled", "Health": "OK"},
		"Links": map[string]any{
			"ComputerSystems": []any{odataID(SystemPath(name))},
			"ManagedBy":       []any{odataID(managerPath(name))},
		},
	}
}

func (s *Service) sessionService() map[string]any {
	return map[string]any{
		"@odata.type":    "#SessionService.v1_1_8.SessionService",
		"@odata.id":      sessionServicePath,
		"Id":             "SessionService",
		"Name":           "Session Service",
		"ServiceEnabled": true,
		"SessionTimeout": int(s.sessions.timeout.Seconds()),
		"Sessions":       odataID(sessionsPath),
		"Status":         map[string]any{"State": "Enabled", "Health": "OK"},
	}
}

func sessionResource(sess session) map[string]any {
	return map[string]any{
		"@odata.type":           "#Session.v1_3_0.Session",
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
func (s *Service) login(w http.ResponseWriter, r *http.Request) *apiError {
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
	writeJSON(w, http.StatusCreated, sessionResource(sess))
	return nil
}

// sessionMember serves GET and DELETE of one session. A caller sees only
// the sessions of its own credentials.
func (s *Service) sessionMember(w http.ResponseWriter, r *http.Request, method string, p *principal, id string) *apiError {
	sess, ok := s.sessions.get(id)
	if !ok || !sess.ownedBy(p) {
		return notFound("Session", truncate(id))
	}
	switch method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, sessionResource(sess))
		return nil
	case http.MethodDelete:
		if s.sessions.remove(id) {
			s.log.Info("redfish session ended", "session", id, "user", truncate(sess.user), "remote", r.RemoteAddr)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return methodNotAllowed("GET, HEAD, DELETE")
	}
}

// odataDocument is the OData service document (/redfish/v1/odata).
func odataDocument() map[string]any {
	entry := func(name, url string) map[string]any {
		return map[string]any{"name": name, "kind": "Singleton", "url": url}
	}
	return map[string]any{
		"@odata.context": "/redfish/v1/$metadata",
		"value": []any{
			entry("Service", rootPath),
			entry("Systems", systemsPath),
			entry("Managers", managersPath),
			entry("Chassis", chassisCollPath),
			entry("SessionService", sessionServicePath),
		},
	}
}

// metadataXML is the CSDL document (/redfish/v1/$metadata): references to
// the DMTF schemas of the resources served.
const metadataXML = `<?xml version="1.0" encoding="UTF-8"?>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/ServiceRoot_v1.xml">
    <edmx:Include Namespace="ServiceRoot"/>
    <edmx:Include Namespace="ServiceRoot.v1_5_0"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/ComputerSystemCollection_v1.xml">
    <edmx:Include Namespace="ComputerSystemCollection"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/ComputerSystem_v1.xml">
    <edmx:Include Namespace="ComputerSystem"/>
    <edmx:Include Namespace="ComputerSystem.v1_10_0"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/ManagerCollection_v1.xml">
    <edmx:Include Namespace="ManagerCollection"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/Manager_v1.xml">
    <edmx:Include Namespace="Manager"/>
    <edmx:Include Namespace="Manager.v1_10_0"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/ChassisCollection_v1.xml">
    <edmx:Include Namespace="ChassisCollection"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/Chassis_v1.xml">
    <edmx:Include Namespace="Chassis"/>
    <edmx:Include Namespace="Chassis.v1_14_0"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/SessionService_v1.xml">
    <edmx:Include Namespace="SessionService"/>
    <edmx:Include Namespace="SessionService.v1_1_8"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/SessionCollection_v1.xml">
    <edmx:Include Namespace="SessionCollection"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/Session_v1.xml">
    <edmx:Include Namespace="Session"/>
    <edmx:Include Namespace="Session.v1_3_0"/>
  </edmx:Reference>
  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/Message_v1.xml">
    <edmx:Include Namespace="Message"/>
    <edmx:Include Namespace="Message.v1_1_1"/>
  </edmx:Reference>
  <edmx:DataServices>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">
      <EntityContainer Name="Service" Extends="ServiceRoot.v1_5_0.ServiceContainer"/>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
`
