package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/pkg/sim"
	"github.com/powerjockey/powerjockey/test/testkit"
)

// MAAS's IPMI power driver (canonical/maas,
// src/provisioningserver/drivers/power/ipmi.py) runs freeipmi with these
// lines; its defaults are the LAN_2_0 driver, cipher suite 3 (17
// offered), the OPERATOR privilege and the opensesspriv workaround.
//
//	on:    ipmi-chassis-config -W opensesspriv <common> --commit --filename F
//	       ipmipower -W opensesspriv <common> --cycle --on-if-off
//	off:   ipmipower -W opensesspriv <common> --off   (--soft for a soft power off)
//	query: ipmipower -W opensesspriv <common> --stat
//	<common> = --driver-type LAN_2_0 -h ADDRESS -u USER -p PASSWORD -I SUITE -l OPERATOR
//
// F is one of its two templates, indented as it writes them; the boot type
// is left out for "Automatic" and is EFI or PC-COMPATIBLE otherwise.
const (
	maasConfig = `Section Chassis_Boot_Flags
        Boot_Flags_Persistent                         No
        Boot_Device                                   PXE
EndSection
`
	maasConfigWithBootType = `Section Chassis_Boot_Flags
        Boot_Flags_Persistent                         No
        BIOS_Boot_Type                                %s
        Boot_Device                                   PXE
EndSection
`
)

// maasState is how MAAS reads ipmipower's answer.
var maasState = regexp.MustCompile(`:\s*(on|off)`)

// maas is one machine's power parameters in MAAS.
type maas struct {
	t       *testing.T
	address string // host:port, as MAAS's power_address
	user    string
	pass    string
	suite   string
}

func (m maas) common() []string {
	return []string{"--driver-type", "LAN_2_0", "-h", m.address, "-u", m.user, "-p", m.pass, "-I", m.suite, "-l", "OPERATOR"}
}

// ipmipower runs MAAS's ipmipower line with op and returns what MAAS
// makes of it: the state for --stat, else ipmipower's output. MAAS reads
// errors from stdout and requires exit status 0.
func (m maas) ipmipower(op ...string) string {
	m.t.Helper()
	args := append(append([]string{"-W", "opensesspriv"}, m.common()...), op...)
	res := tool(m.t, "ipmipower", args...)
	if res.code != 0 {
		m.t.Fatalf("ipmipower %s: %v", strings.Join(args, " "), res)
	}
	if match := maasState.FindStringSubmatch(res.stdout); match != nil {
		return match[1]
	}
	return res.stdout
}

// chassisConfig commits MAAS's boot-flags file (bootType "" for
// Automatic) as it does before every power on.
func (m maas) chassisConfig(bootType string) {
	m.t.Helper()
	content := maasConfig
	if bootType != "" {
		content = fmt.Sprintf(maasConfigWithBootType, bootType)
	}
	f := filepath.Join(m.t.TempDir(), "maas-ipmi.conf")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		m.t.Fatal(err)
	}
	args := append(append([]string{"-W", "opensesspriv"}, m.common()...), "--commit", "--filename", f)
	if res := tool(m.t, "ipmi-chassis-config", args...); res.code != 0 || res.stderr != "" {
		// MAAS only warns about a failed commit; a BMC that powerjockey
		// emulates must not give it a reason to.
		m.t.Fatalf("ipmi-chassis-config --commit: %v", res)
	}
}

// checkout reads the boot flags back as an operator would check what
// MAAS set: ipmi-chassis-config --checkout of the section.
func (m maas) checkout() map[string]string {
	m.t.Helper()
	args := append(append([]string{"-W", "opensesspriv"}, m.common()...), "--checkout", "--section", "Chassis_Boot_Flags")
	res := tool(m.t, "ipmi-chassis-config", args...)
	if res.code != 0 {
		m.t.Fatalf("ipmi-chassis-config --checkout: %v", res)
	}
	kv := map[string]string{}
	for _, line := range strings.Split(res.stdout, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "Section") || line == "EndSection" {
			continue
		}
		if f := strings.Fields(line); len(f) == 2 {
			kv[f[0]] = f[1]
		}
	}
	return kv
}

// TestMAASPowerDriver drives a machine through MAAS's power cycle with
// each cipher suite MAAS offers: query, the boot flags for PXE (each boot
// type) read back, power on (a cycle when already on), power off, soft
// power off.
func TestMAASPowerDriver(t *testing.T) {
	testkit.Tool(t, "ipmipower")
	testkit.Tool(t, "ipmi-chassis-config")
	r := newRack(t, "maas-3", "maas-17")
	for _, suite := range []string{"3", "17"} {
		t.Run("cs"+suite, func(t *testing.T) {
			t.Parallel()
			name := "maas-" + suite
			m := maas{t: t, address: fmt.Sprintf("127.0.0.1:%d", r.ports[name]), user: "admin", pass: "password", suite: suite}
			mach := r.machine(name)
			if got := m.ipmipower("--stat"); got != "off" {
				t.Fatalf("query: %q", got)
			}

			// The boot flags MAAS commits, read back as MAAS wrote them,
			// and held by powerjockey for the next boot only.
			for _, c := range []struct {
				bootType, want string
				uefi           bool
			}{{"EFI", "EFI", true}, {"PC-COMPATIBLE", "PC-COMPATIBLE", false}, {"", "PC-COMPATIBLE", false}} {
				m.chassisConfig(c.bootType)
				got := m.checkout()
				if got["Boot_Flags_Persistent"] != "No" || got["Boot_Device"] != "PXE" || got["BIOS_Boot_Type"] != c.want {
					t.Errorf("boot type %q: checkout %v", c.bootType, got)
				}
				if b := r.boot(t, name); b.Device != "pxe" || !b.Valid || b.Persistent || b.UEFI != c.uefi {
					t.Errorf("boot type %q: powerjockey holds %+v", c.bootType, b)
				}
			}

			// Power on: --cycle --on-if-off powers an off machine on.
			m.chassisConfig("EFI")
			if got := m.ipmipower("--cycle", "--on-if-off"); !strings.Contains(got, "ok") {
				t.Fatalf("power on: %q", got)
			}
			r.waitMachine(t, name, sim.Running)
			// MAAS then queries until the machine is on (it waits 4, 8,
			// 16, 32 s between queries; here at most that long in all).
			testkit.Eventually(t, 60*time.Second, "MAAS reads on", func() bool { return m.ipmipower("--stat") == "on" })
			if n := mach.Boots(); n != 1 {
				t.Fatalf("boots after power on: %d", n)
			}
			// Boot_Flags_Persistent No: that boot used the override up.
			if b := r.boot(t, name); b.Valid {
				t.Errorf("the next-boot-only override outlived the boot: %+v", b)
			}
			// Power on of a machine that is on: MAAS's line cycles it.
			m.chassisConfig("EFI")
			if got := m.ipmipower("--cycle", "--on-if-off"); !strings.Contains(got, "ok") {
				t.Fatalf("power on (cycle): %q", got)
			}
			testkit.Eventually(t, 20*time.Second, "the cycle boots the machine again", func() bool {
				return mach.Boots() == 2 && mach.State() == sim.Running
			})
			testkit.Eventually(t, 60*time.Second, "MAAS reads on after the cycle", func() bool { return m.ipmipower("--stat") == "on" })

			// Power off.
			if got := m.ipmipower("--off"); !strings.Contains(got, "ok") {
				t.Fatalf("power off: %q", got)
			}
			r.waitMachine(t, name, sim.Off)
			testkit.Eventually(t, 30*time.Second, "MAAS reads off", func() bool { return m.ipmipower("--stat") == "off" })

			// Soft power off ("power_off_mode: soft"): a PDU cannot ask
			// an OS to shut down, so powerjockey announces it for a
			// human and answers ok, as a BMC answers ok to an ACPI
			// request the OS may ignore.
			if got := m.ipmipower("--cycle", "--on-if-off"); !strings.Contains(got, "ok") {
				t.Fatalf("power on: %q", got)
			}
			r.waitMachine(t, name, sim.Running)
			if got := m.ipmipower("--soft"); !strings.Contains(got, "ok") {
				t.Fatalf("soft power off: %q", got)
			}
			testkit.Eventually(t, 10*time.Second, "the soft off announced", func() bool {
				return len(r.Log.Lines("manual action needed: power "+name+" SOFT OFF")) > 0
			})
		})
	}
}

// TestMAASErrors: what MAAS matches in ipmipower's output to tell the user
// why a power action failed.
func TestMAASErrors(t *testing.T) {
	testkit.Tool(t, "ipmipower")
	r := newRack(t, "maas-err")
	for _, c := range []struct {
		name, port, user, pass string
		want                   []string // any of these (MAAS's PowerAuthError keys)
	}{
		// MAAS: "Incorrect password."
		{"password", "maas-err", "admin", "wrong-password", []string{"password invalid"}},
		// MAAS: "Incorrect username." or "Incorrect password.": go-ipmi
		// answers an unknown name as a wrong password (RAKP 2 with a
		// key the console cannot verify) so that names cannot be probed.
		{"username", "maas-err", "nobody", "password", []string{"username invalid", "password invalid"}},
		// A user with the User privilege asked for OPERATOR, MAAS's
		// default: "Access denied while performing power action."
		{"privilege", "Viewer", "viewer", "viewer-secret", []string{"privilege level cannot be obtained for this user"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := maas{t: t, address: fmt.Sprintf("127.0.0.1:%d", r.ports[c.port]), user: c.user, pass: c.pass, suite: "3"}
			args := append(append([]string{"-W", "opensesspriv"}, m.common()...), "--stat")
			res := tool(t, "ipmipower", args...)
			found := false
			for _, w := range c.want {
				found = found || strings.Contains(res.stdout, w)
			}
			if !found || res.code == 0 {
				t.Errorf("want a failure with one of %q on stdout: %v", c.want, res)
			}
		})
	}
}
