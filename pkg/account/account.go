// Package account is powerjockey's account model, the one place that says
// who may log in and what they may do: every node's BMC user (the
// username and password of its ipmi section) is a grant of one Redfish
// role on that node, the role following from the user's IPMI privilege.
// The configuration file is the only source of accounts; nothing here
// creates, changes or deletes one.
//
// The Redfish face serves these accounts and roles (AccountService) and
// enforces the privileges; any other face that authenticates users (the
// HTTP API) can call the same functions so that a login means the same
// thing everywhere.
package account

import (
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"strconv"
	"strings"

	"github.com/powerjockey/powerjockey/pkg/config"
)

// Privilege is a Redfish privilege (DSP0266 "Privilege model"), in the
// words of the Redfish Privileges schema.
type Privilege string

// The Redfish-defined privileges.
const (
	// Login reads resources and logs in.
	Login Privilege = "Login"
	// ConfigureManager changes the manager (the emulated BMC).
	ConfigureManager Privilege = "ConfigureManager"
	// ConfigureUsers manages accounts other than one's own.
	ConfigureUsers Privilege = "ConfigureUsers"
	// ConfigureSelf changes one's own account and ends one's own sessions.
	ConfigureSelf Privilege = "ConfigureSelf"
	// ConfigureComponents changes systems and chassis: power, boot
	// override, indicator, logs.
	ConfigureComponents Privilege = "ConfigureComponents"
)

// Role is one of the three roles DSP0266 predefines. Each account holds
// exactly one.
type Role string

// The predefined roles.
const (
	Administrator Role = "Administrator"
	Operator      Role = "Operator"
	ReadOnly      Role = "ReadOnly"
)

// Roles lists the predefined roles, most privileged first.
var Roles = []Role{Administrator, Operator, ReadOnly}

// privileges are the AssignedPrivileges DSP0266 gives each predefined
// role ("Roles" clause of the privilege model).
var privileges = map[Role][]Privilege{
	Administrator: {Login, ConfigureManager, ConfigureUsers, ConfigureSelf, ConfigureComponents},
	Operator:      {Login, ConfigureSelf, ConfigureComponents},
	ReadOnly:      {Login, ConfigureSelf},
}

// Valid reports whether r is a predefined role.
func (r Role) Valid() bool { _, ok := privileges[r]; return ok }

// Privileges returns the role's assigned privileges (a copy).
func (r Role) Privileges() []Privilege { return slices.Clone(privileges[r]) }

// Can reports whether the role holds privilege p.
func (r Role) Can(p Privilege) bool { return slices.Contains(privileges[r], p) }

// rank orders roles by privilege: a higher rank holds every privilege of
// a lower one.
func (r Role) rank() int {
	switch r {
	case Administrator:
		return 3
	case Operator:
		return 2
	case ReadOnly:
		return 1
	}
	return 0
}

// Description says what the role may do here.
func (r Role) Description() string {
	switch r {
	case Administrator:
		return "Reads everything and changes power, boot override, indicator and logs (IPMI privilege administrator)."
	case Operator:
		return "Reads everything and changes power, boot override, indicator and logs (IPMI privilege operator)."
	case ReadOnly:
		return "Reads everything, changes nothing but its own sessions (IPMI privilege user or callback)."
	}
	return ""
}

// FromIPMIPrivilege maps an IPMI channel privilege limit to the role that
// allows the same: administrator and operator may control power and boot
// (IPMI's Chassis Control needs operator), user and callback may only
// read. An empty privilege is the configuration's default, administrator.
func FromIPMIPrivilege(privilege config.Privilege) Role {
	switch config.Privilege(strings.ToLower(string(privilege))) {
	case config.PrivilegeOperator:
		return Operator
	case config.PrivilegeUser, config.PrivilegeCallback:
		return ReadOnly
	default:
		return Administrator
	}
}

// Grant is one node's BMC user: the credentials the node accepts and the
// role they hold on it.
type Grant struct {
	Node     string
	Username string
	Password string
	Role     Role
}

// Grants returns the grant of every configured node, in configuration
// order: its ipmi username and password (password_file already read by
// config.Load) with the role of its IPMI privilege.
func Grants(nodes []config.Node) []Grant {
	out := make([]Grant, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, Grant{Node: n.Name, Username: n.IPMI.Username, Password: n.IPMI.Password,
			Role: FromIPMIPrivilege(n.IPMI.Privilege)})
	}
	return out
}

// Matches reports whether user and password are the grant's credentials,
// in constant time.
func (g Grant) Matches(user, password string) bool {
	return matches(g.Username, hash(g.Password), user, hash(password))
}

// Hash is a password as kept in memory by whoever must compare it later (a
// session): its SHA-256.
type Hash [32]byte

// HashPassword hashes a password for MatchesHash.
func HashPassword(password string) Hash { return hash(password) }

// MatchesHash is Matches for a password known only by its hash.
func (g Grant) MatchesHash(user string, pw Hash) bool {
	return matches(g.Username, hash(g.Password), user, pw)
}

func hash(s string) Hash { return sha256.Sum256([]byte(s)) }

func matches(wantUser string, wantPW Hash, user string, pw Hash) bool {
	u := subtle.ConstantTimeCompare([]byte(wantUser), []byte(user))
	p := subtle.ConstantTimeCompare(wantPW[:], pw[:])
	return u&p == 1
}

// Account is one set of credentials with one role, and the nodes it
// holds that role on. Credentials configured with different privileges on
// different nodes are several accounts (DSP0266: each account has exactly
// one role); a login with them acts with each node's own role.
type Account struct {
	// ID is unique among the accounts and stable while the configuration
	// does not change them: the username, with a suffix only when several
	// accounts share it.
	ID       string
	Username string
	Role     Role
	// Nodes are the node names, sorted.
	Nodes []string

	pw Hash
}

// Matches reports whether user and password are the account's
// credentials, in constant time.
func (a Account) Matches(user, password string) bool {
	return matches(a.Username, a.pw, user, hash(password))
}

// MatchesHash is Matches for a password known only by its hash.
func (a Account) MatchesHash(user string, pw Hash) bool {
	return matches(a.Username, a.pw, user, pw)
}

// Group folds grants into accounts: one per distinct username, password
// and role. Accounts are ordered by username, then role (most privileged
// first), then first node.
func Group(grants []Grant) []Account {
	type key struct {
		user string
		pw   Hash
		role Role
	}
	idx := map[key]int{}
	var out []Account
	for _, g := range grants {
		k := key{g.Username, hash(g.Password), g.Role}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Account{Username: g.Username, Role: g.Role, pw: k.pw})
		}
		out[i].Nodes = append(out[i].Nodes, g.Node)
	}
	for i := range out {
		slices.Sort(out[i].Nodes)
	}
	slices.SortFunc(out, func(a, b Account) int {
		if c := strings.Compare(a.Username, b.Username); c != 0 {
			return c
		}
		if c := b.Role.rank() - a.Role.rank(); c != 0 {
			return c
		}
		return strings.Compare(a.Nodes[0], b.Nodes[0])
	})
	// IDs: the username (made URI-safe) when it is unique, else with the
	// account's place among those sharing it.
	count := map[string]int{}
	for _, a := range out {
		count[idSafe(a.Username)]++
	}
	seen := map[string]int{}
	used := map[string]bool{}
	for i := range out {
		base := idSafe(out[i].Username)
		id := base
		if count[base] > 1 {
			seen[base]++
			id = base + "-" + strconv.Itoa(seen[base])
		}
		for used[id] { // a username that looks like another's suffixed ID
			id += "_"
		}
		used[id] = true
		out[i].ID = id
	}
	return out
}

// idSafe makes a username usable as one URI segment: letters, digits and
// "-._~" are kept, anything else becomes "_".
func idSafe(user string) string {
	if user == "" {
		return "anonymous"
	}
	b := []byte(user)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// Highest returns the most privileged of roles ("" for none).
func Highest(roles ...Role) Role {
	var best Role
	for _, r := range roles {
		if r.rank() > best.rank() {
			best = r
		}
	}
	return best
}
