package redfish

import (
	"net/url"
	"strings"

	"github.com/powerjockey/powerjockey/pkg/account"
)

// The AccountService shows the account model of pkg/account: a caller's
// credentials are one account per role they hold (from each node's IPMI
// privilege), and the three predefined roles. Nothing can be written: the
// configuration file is the only source of accounts (405, with the reason).
// A caller sees its own accounts only, as it sees its own nodes only.

func accountPath(id string) string { return accountsPath + "/" + url.PathEscape(id) }

func rolePath(r account.Role) string { return rolesPath + "/" + string(r) }

// callerAccounts are the accounts of the caller's credentials.
func (c *call) callerAccounts() []account.Account {
	grants := make([]account.Grant, 0, len(c.entries))
	for _, e := range c.entries {
		grants = append(grants, account.Grant{Node: e.System.Name(), Username: e.Credentials.Username,
			Password: e.Credentials.Password, Role: e.Credentials.role()})
	}
	return account.Group(grants)
}

func serveAccountService(c *call) *apiError {
	return c.get(map[string]any{
		"@odata.type":    typeAccountService,
		"@odata.id":      accountServicePath,
		"Id":             "AccountService",
		"Name":           "Account Service",
		"Description":    "The accounts are the nodes' IPMI users from the configuration file; they are read-only here.",
		"ServiceEnabled": true,
		// Every failed login is logged.
		"AuthFailureLoggingThreshold": 1,
		"LocalAccountAuth":            "Enabled",
		"Accounts":                    odataID(accountsPath),
		"Roles":                       odataID(rolesPath),
		"Status":                      map[string]any{"State": "Enabled", "Health": "OK"},
	})
}

func serveAccounts(c *call) *apiError {
	var paths []string
	for _, a := range c.callerAccounts() {
		paths = append(paths, accountPath(a.ID))
	}
	return c.collection(typeAccountCollection, accountsPath, "Accounts Collection", paths)
}

func findAccount(c *call) *apiError {
	for _, a := range c.callerAccounts() {
		if a.ID == c.params[0] {
			c.item = a
			return nil
		}
	}
	return notFound("ManagerAccount", truncate(c.params[0]))
}

// serveAccount is one account, with an ETag (DSP0266 requires one on
// ManagerAccount GETs).
func serveAccount(c *call) *apiError {
	a := c.item.(account.Account)
	body := map[string]any{
		"@odata.type": typeAccount,
		"@odata.id":   accountPath(a.ID),
		"Id":          a.ID,
		"Name":        "User Account " + a.Username,
		"Description": "The IPMI and Redfish user of " + strings.Join(a.Nodes, ", ") + ", from the configuration file",
		"UserName":    a.Username,
		"Password":    nil, // the schema requires null on reads
		"RoleId":      string(a.Role),
		"Enabled":     true,
		"Locked":      false,
		// The same credentials open the nodes' IPMI endpoints.
		"AccountTypes": []string{"Redfish", "IPMI"},
		"Links":        map[string]any{"Role": odataID(rolePath(a.Role))},
	}
	tag := weakTag(append([]string{a.ID, a.Username, string(a.Role)}, a.Nodes...)...)
	return c.resource(200, body, tag)
}

func serveRoles(c *call) *apiError {
	var paths []string
	for _, r := range account.Roles {
		paths = append(paths, rolePath(r))
	}
	return c.collection(typeRoleCollection, rolesPath, "Roles Collection", paths)
}

func findRole(c *call) *apiError {
	r := account.Role(c.params[0])
	if !r.Valid() {
		return notFound("Role", truncate(c.params[0]))
	}
	c.item = r
	return nil
}

func serveRole(c *call) *apiError {
	r := c.item.(account.Role)
	privs := []string{}
	for _, p := range r.Privileges() {
		privs = append(privs, string(p))
	}
	return c.get(map[string]any{
		"@odata.type":        typeRole,
		"@odata.id":          rolePath(r),
		"Id":                 string(r),
		"Name":               string(r) + " Role",
		"Description":        r.Description(),
		"RoleId":             string(r),
		"IsPredefined":       true,
		"AssignedPrivileges": privs,
		"OemPrivileges":      []string{},
	})
}
