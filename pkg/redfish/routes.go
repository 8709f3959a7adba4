package redfish

import (
	"net/http"
	"strings"

	"github.com/powerjockey/powerjockey/pkg/account"
)

// routeTable is every URI the service serves. Paths are below
// /redfish/v1; "{}" is a path parameter, the first one of a node's
// resources being the node's name. More specific routes come first.
//
// A node's emulated BMC is /Managers/{}: resources that belong to the BMC
// rather than the machine (virtual media, for one) go below it as further
// rows here and links in managerResource, without other changes.
func (s *Service) routeTable() []*route {
	get := func(fn func(c *call) *apiError) method { return method{priv: account.Login, serve: fn} }
	public := func(fn func(c *call) *apiError) method { return method{public: true, serve: fn} }
	change := func(fn func(c *call) *apiError) method {
		return method{priv: account.ConfigureComponents, serve: fn}
	}
	// The BMC's own resources (virtual media) need ConfigureManager
	// (DSP8011's privilege registry): an Operator may not change them.
	manage := func(fn func(c *call) *apiError) method {
		return method{priv: account.ConfigureManager, serve: fn}
	}
	sys := findEntry("ComputerSystem")
	r := func(path string, find func(*call) *apiError, collection bool, methods map[string]method) *route {
		var segs []string
		if path != "" {
			segs = strings.Split(path, "/")
		}
		return &route{segs: segs, find: find, collection: collection, methods: methods}
	}
	accounts := func(rt *route) *route { rt.notAllowed = accountsReadOnly; return rt }
	return []*route{
		r(versionsSeg, nil, false, map[string]method{http.MethodGet: public(serveVersions)}),
		r("", nil, false, map[string]method{http.MethodGet: public(serveRoot)}),
		r("odata", nil, false, map[string]method{http.MethodGet: public(serveODataDocument)}),
		r("$metadata", nil, false, map[string]method{http.MethodGet: public(serveMetadata)}),

		r("Systems", nil, true, map[string]method{http.MethodGet: get(serveSystems)}),
		r("Systems/{}", sys, false, map[string]method{http.MethodGet: get(serveSystem), http.MethodPatch: change(patchSystem)}),
		r("Systems/{}/Actions/ComputerSystem.Reset", sys, false, map[string]method{http.MethodPost: change(resetSystem)}),
		r("Systems/{}/EthernetInterfaces", sys, true, map[string]method{http.MethodGet: get(serveNICs)}),
		r("Systems/{}/EthernetInterfaces/{}", findNIC, false, map[string]method{http.MethodGet: get(serveNIC)}),
		r("Systems/{}/LogServices", sys, true, map[string]method{http.MethodGet: get(serveLogServices)}),
		r("Systems/{}/LogServices/"+logID, sys, false, map[string]method{http.MethodGet: get(serveLogService)}),
		r("Systems/{}/LogServices/"+logID+"/Actions/LogService.ClearLog", sys, false, map[string]method{http.MethodPost: change(clearLog)}),
		r("Systems/{}/LogServices/"+logID+"/Entries", sys, true, map[string]method{http.MethodGet: get(serveLogEntries)}),
		r("Systems/{}/LogServices/"+logID+"/Entries/{}", findLogEntry, false, map[string]method{http.MethodGet: get(serveLogEntry)}),
		r("Systems/{}/Processors", findInventory(hasCPU), true, map[string]method{http.MethodGet: get(serveProcessors)}),
		r("Systems/{}/Processors/{}", findProcessor, false, map[string]method{http.MethodGet: get(serveProcessor)}),
		r("Systems/{}/SimpleStorage", findInventory(hasDisk), true, map[string]method{http.MethodGet: get(serveStorages)}),
		r("Systems/{}/SimpleStorage/{}", findStorage, false, map[string]method{http.MethodGet: get(serveStorage)}),

		r("Managers", nil, true, map[string]method{http.MethodGet: get(serveManagers)}),
		r("Managers/{}", findEntry("Manager"), false, map[string]method{http.MethodGet: get(serveManager)}),
		r("Managers/{}/VirtualMedia", findMedia, true, map[string]method{http.MethodGet: get(serveMediaCollection)}),
		r("Managers/{}/VirtualMedia/"+mediaID, findMedia, false, map[string]method{http.MethodGet: get(serveMedia), http.MethodPatch: manage(patchMedia)}),
		r("Managers/{}/VirtualMedia/"+mediaID+"/Actions/"+insertMediaAction, findMedia, false, map[string]method{http.MethodPost: manage(insertMedia)}),
		r("Managers/{}/VirtualMedia/"+mediaID+"/Actions/"+ejectMediaAction, findMedia, false, map[string]method{http.MethodPost: manage(ejectMedia)}),

		r("Chassis", nil, true, map[string]method{http.MethodGet: get(serveChassisCollection)}),
		r("Chassis/{}", findEntry("Chassis"), false, map[string]method{http.MethodGet: get(serveChassis), http.MethodPatch: change(patchChassis)}),
		r("Chassis/{}/Power", findEntry("Chassis"), false, map[string]method{http.MethodGet: get(servePower)}),

		r("SessionService", nil, false, map[string]method{http.MethodGet: get(serveSessionService)}),
		r("SessionService/Sessions", nil, true, map[string]method{http.MethodGet: get(serveSessions), http.MethodPost: public(login)}),
		// DSP0266: a POST to a collection's Members is the same as to the
		// collection.
		r("SessionService/Sessions/Members", nil, false, map[string]method{http.MethodPost: public(login)}),
		r("SessionService/Sessions/{}", findSession, false, map[string]method{
			http.MethodGet:    get(serveSession),
			http.MethodDelete: {priv: account.ConfigureSelf, serve: deleteSession},
		}),

		// Accounts and roles are read-only: the configuration file is
		// their only source. Writes answer 405 with the reason.
		accounts(r("AccountService", nil, false, map[string]method{http.MethodGet: get(serveAccountService)})),
		accounts(r("AccountService/Accounts", nil, true, map[string]method{http.MethodGet: get(serveAccounts)})),
		accounts(r("AccountService/Accounts/{}", findAccount, false, map[string]method{http.MethodGet: get(serveAccount)})),
		accounts(r("AccountService/Roles", nil, true, map[string]method{http.MethodGet: get(serveRoles)})),
		accounts(r("AccountService/Roles/{}", findRole, false, map[string]method{http.MethodGet: get(serveRole)})),
	}
}
