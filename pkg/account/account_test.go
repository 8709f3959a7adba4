package account

import (
	"slices"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/config"
)

// TestPredefinedRoles checks the roles against DSP0266's table of
// predefined roles (privilege model, "Roles"): Administrator holds all
// five Redfish privileges, Operator all but ConfigureManager and
// ConfigureUsers, ReadOnly only Login and ConfigureSelf.
func TestPredefinedRoles(t *testing.T) {
	want := map[Role][]Privilege{
		Administrator: {"Login", "ConfigureManager", "ConfigureUsers", "ConfigureSelf", "ConfigureComponents"},
		Operator:      {"Login", "ConfigureSelf", "ConfigureComponents"},
		ReadOnly:      {"Login", "ConfigureSelf"},
	}
	if len(Roles) != 3 {
		t.Fatalf("Roles = %v", Roles)
	}
	for _, r := range Roles {
		got := r.Privileges()
		if !slices.Equal(got, want[r]) {
			t.Errorf("%s privileges %v, want %v", r, got, want[r])
		}
		for _, p := range []Privilege{Login, ConfigureManager, ConfigureUsers, ConfigureSelf, ConfigureComponents} {
			if r.Can(p) != slices.Contains(want[r], p) {
				t.Errorf("%s.Can(%s) = %v", r, p, r.Can(p))
			}
		}
		if !r.Valid() || r.Description() == "" {
			t.Errorf("%s: valid %v, description %q", r, r.Valid(), r.Description())
		}
	}
	got := Administrator.Privileges()
	got[0] = "Changed"
	if Administrator.Privileges()[0] != Login {
		t.Error("Privileges returns the role's own slice")
	}
	if Role("Root").Valid() || Role("Root").Can(Login) {
		t.Error("an unknown role holds privileges")
	}
}

func TestFromIPMIPrivilege(t *testing.T) {
	for _, tt := range []struct {
		ipmi config.Privilege
		want Role
	}{
		{"administrator", Administrator},
		{"", Administrator}, // the configuration's default
		{"operator", Operator},
		{"OPERATOR", Operator},
		{"user", ReadOnly},
		{"callback", ReadOnly},
	} {
		if got := FromIPMIPrivilege(tt.ipmi); got != tt.want {
			t.Errorf("FromIPMIPrivilege(%q) = %s, want %s", tt.ipmi, got, tt.want)
		}
	}
}

func TestGrantsFromConfig(t *testing.T) {
	nodes := []config.Node{
		{Name: "a", IPMI: config.NodeIPMI{Username: "admin", Password: "pw", Privilege: "administrator"}},
		{Name: "b", IPMI: config.NodeIPMI{Username: "viewer", Password: "v", Privilege: "user"}},
	}
	got := Grants(nodes)
	want := []Grant{{"a", "admin", "pw", Administrator}, {"b", "viewer", "v", ReadOnly}}
	if !slices.Equal(got, want) {
		t.Errorf("Grants = %+v, want %+v", got, want)
	}
	if !got[0].Matches("admin", "pw") || got[0].Matches("admin", "pw ") || got[0].Matches("Admin", "pw") {
		t.Error("Grant.Matches")
	}
	if !got[0].MatchesHash("admin", HashPassword("pw")) || got[0].MatchesHash("admin", HashPassword("v")) {
		t.Error("Grant.MatchesHash")
	}
}

func TestGroup(t *testing.T) {
	grants := []Grant{
		{"c-1", "admin", "pw", Administrator},
		{"c-0", "admin", "pw", Administrator},
		{"v-0", "viewer", "secret", ReadOnly},
		{"o-0", "admin", "pw", Operator},    // same credentials, another role
		{"x-0", "admin", "other", Operator}, // same user, another password
		{"w-0", "we/ird name", "p", ReadOnly},
	}
	accts := Group(grants)
	type row struct {
		id, user string
		role     Role
		nodes    []string
	}
	want := []row{
		{"admin-1", "admin", Administrator, []string{"c-0", "c-1"}},
		{"admin-2", "admin", Operator, []string{"o-0"}},
		{"admin-3", "admin", Operator, []string{"x-0"}},
		{"viewer", "viewer", ReadOnly, []string{"v-0"}},
		{"we_ird_name", "we/ird name", ReadOnly, []string{"w-0"}},
	}
	if len(accts) != len(want) {
		t.Fatalf("%d accounts, want %d: %+v", len(accts), len(want), accts)
	}
	for i, a := range accts {
		w := want[i]
		if a.ID != w.id || a.Username != w.user || a.Role != w.role || !slices.Equal(a.Nodes, w.nodes) {
			t.Errorf("account %d = %s %s %s %v, want %+v", i, a.ID, a.Username, a.Role, a.Nodes, w)
		}
	}
	if !accts[0].Matches("admin", "pw") || accts[0].Matches("admin", "other") || !accts[2].MatchesHash("admin", HashPassword("other")) {
		t.Error("Account.Matches")
	}
	// A username that looks like another's suffixed ID still gets its own.
	accts = Group([]Grant{{"a", "u", "1", ReadOnly}, {"b", "u", "2", ReadOnly}, {"c", "u-1", "3", ReadOnly}})
	ids := map[string]bool{}
	for _, a := range accts {
		if ids[a.ID] {
			t.Errorf("duplicate ID %s in %+v", a.ID, accts)
		}
		ids[a.ID] = true
	}
	if len(Group(nil)) != 0 {
		t.Error("accounts from no grants")
	}
}

func TestHighest(t *testing.T) {
	if Highest(ReadOnly, Administrator, Operator) != Administrator || Highest(ReadOnly) != ReadOnly || Highest() != "" {
		t.Error("Highest")
	}
}
