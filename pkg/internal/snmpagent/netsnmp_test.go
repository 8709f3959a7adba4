package snmpagent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/powerjockey/powerjockey/test/testkit"
)

// Interop tests against net-snmp's command-line tools (Debian package
// "snmp"). Without the tools they skip, except under CI, where a missing
// tool is a failure.

// netSNMP runs a net-snmp tool against a, isolated from the machine's
// net-snmp configuration and MIB files, and returns its combined output.
func netSNMP(t *testing.T, a *Agent, tool string, options []string, operands ...string) (string, error) {
	t.Helper()
	path := testkit.Tool(t, tool)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	// -On -Oq: numeric OIDs, "OID value" lines. -Le: log to stderr.
	// -t/-r: fail fast when the agent stays silent; later options win.
	full := append([]string{"-On", "-Oq", "-Le", "-t", "2", "-r", "1"}, options...)
	full = append(full, "127.0.0.1:"+fmt.Sprint(agentPort(a)))
	full = append(full, operands...)
	// Spares us net-snmp's "Created directory" notice.
	if err := os.Mkdir(dir+"/cert_indexes", 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, path, full...)
	cmd.Env = append(os.Environ(), "SNMPCONFPATH="+dir, "SNMP_PERSISTENT_DIR="+dir, "MIBS=", "MIBDIRS="+dir, "HOME="+dir)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestNetSNMP(t *testing.T) {
	for _, tool := range []string{"snmpget", "snmpset", "snmpwalk", "snmpbulkwalk"} {
		testkit.Tool(t, tool)
	}
	tree, pdu := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	v3 := func(user, auth, authPass, priv, privPass string) []string {
		args := []string{"-v3", "-u", user}
		switch {
		case priv != "":
			args = append(args, "-l", "authPriv", "-a", auth, "-A", authPass, "-x", priv, "-X", privPass)
		case auth != "":
			args = append(args, "-l", "authNoPriv", "-a", auth, "-A", authPass)
		default:
			args = append(args, "-l", "noAuthNoPriv")
		}
		return args
	}
	v1 := []string{"-v1", "-c", "public"}
	v2c := []string{"-v2c", "-c", "public"}
	v2cWrite := []string{"-v2c", "-c", "private"}
	shaAES := v3("shaaes", "SHA", "pass1234", "AES", "pass5678")

	descr := "." + oidSysDescr + ` "powerjockey simulated PDU"`
	tests := []struct {
		name    string
		tool    string
		args    []string
		oids    []string
		want    []string // lines of output that must appear
		wantErr bool
	}{
		{"v1 get", "snmpget", v1, []string{oidSysDescr, oidWatts + "3"}, []string{descr, "." + oidWatts + "3 300"}, false},
		{"v1 get missing", "snmpget", v1, []string{"1.3.6.1.2.1.1.99.0"}, []string{"noSuchName"}, true},
		{"v2c get", "snmpget", v2c, []string{oidSysObjectID, oidCounter64, oidIPAddress}, []string{
			"." + oidSysObjectID + " .1.3.6.1.4.1.99999", "." + oidCounter64 + " 1099511627776", "." + oidIPAddress + " 192.0.2.7"}, false},
		{"v2c get missing", "snmpget", v2c, []string{"1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.1.1.7"}, []string{
			".1.3.6.1.2.1.1.99.0 No Such Object available on this agent at this OID",
			".1.3.6.1.2.1.1.1.7 No Such Instance currently exists at this OID"}, false},
		{"v1 walk", "snmpwalk", v1, []string{"1.3.6.1.4.1.99999"}, []string{"." + oidTen + " 10", "." + oidLast + " 42"}, false},
		{"v2c walk", "snmpwalk", v2c, []string{"1.3.6.1.4.1.99999.2"}, []string{"." + oidOutlet + "3 1", "." + oidWatts + "1 100"}, false},
		{"v2c bulkwalk", "snmpbulkwalk", append(v2c, "-Cr3"), []string{"1.3.6.1"}, []string{descr, "." + oidLast + " 42"}, false},
		{"v2c set", "snmpset", v2cWrite, []string{oidOutlet + "2", "i", "1", oidSysContact, "s", "noc"}, []string{
			"." + oidOutlet + "2 1", "." + oidSysContact + ` "noc"`}, false},
		{"v2c set read-only", "snmpset", v2cWrite, []string{oidSysName, "s", "x"}, []string{"notWritable"}, true},
		{"v2c set wrong type", "snmpset", v2cWrite, []string{oidOutlet + "2", "s", "on"}, []string{"wrongType"}, true},
		{"v2c set read community", "snmpset", v2c, []string{oidOutlet + "2", "i", "2"}, []string{"noAccess"}, true},
		{"v1 set read-only", "snmpset", []string{"-v1", "-c", "private"}, []string{oidSysName, "s", "x"}, []string{"noSuchName"}, true},
		{"v1 set wrong value", "snmpset", []string{"-v1", "-c", "private"}, []string{oidOutlet + "2", "i", "5"}, []string{"badValue"}, true},
		{"v1 wrong community", "snmpget", []string{"-v1", "-c", "nope", "-t", "0.2", "-r", "0"}, []string{oidSysDescr}, []string{"Timeout"}, true},
		{"v3 noAuthNoPriv", "snmpget", v3("noauth", "", "", "", ""), []string{oidSysDescr}, []string{descr}, false},
		{"v3 MD5", "snmpget", v3("md5", "MD5", "authpass1", "", ""), []string{oidSysDescr}, []string{descr}, false},
		{"v3 MD5 DES", "snmpget", v3("md5des", "MD5", "authpass2", "DES", "privpass2"), []string{oidSysDescr}, []string{descr}, false},
		{"v3 SHA AES", "snmpget", shaAES, []string{oidSysDescr}, []string{descr}, false},
		{"v3 SHA-224 AES-192", "snmpget", v3("sha224aes192", "SHA-224", "authpass4", "AES-192", "privpass4"), []string{oidSysDescr}, []string{descr}, false},
		{"v3 SHA-256 AES-256", "snmpget", v3("sha256aes256", "SHA-256", "authpass5", "AES-256", "privpass5"), []string{oidSysDescr}, []string{descr}, false},
		{"v3 SHA-512 AES", "snmpget", v3("sha512aes", "SHA-512", "authpass7", "AES", "privpass7"), []string{oidSysDescr}, []string{descr}, false},
		{"v3 SHA-512 DES", "snmpget", v3("sha512des", "SHA-512", "authpass8", "DES", "privpass8"), []string{oidSysDescr}, []string{descr}, false},
		{"v3 walk", "snmpwalk", shaAES, []string{"1.3.6.1.4.1.99999.1"}, []string{"." + oidNine + " 9", "." + oidTen + " 10"}, false},
		{"v3 bulkwalk", "snmpbulkwalk", shaAES, []string{"1.3.6.1"}, []string{descr, "." + oidLast + " 42"}, false},
		{"v3 set", "snmpset", shaAES, []string{oidOutlet + "3", "i", "2"}, []string{"." + oidOutlet + "3 2"}, false},
		{"v3 read-only user set", "snmpset", v3("md5", "MD5", "authpass1", "", ""), []string{oidOutlet + "3", "i", "1"}, []string{"noAccess"}, true},
		{"v3 unknown user", "snmpget", v3("mallory", "SHA", "pass1234", "AES", "pass5678"), []string{oidSysDescr}, []string{"Unknown user name"}, true},
		{"v3 wrong auth passphrase", "snmpget", v3("shaaes", "SHA", "wrongpass", "AES", "pass5678"), []string{oidSysDescr}, []string{"Authentication failure"}, true},
		{"v3 wrong priv passphrase", "snmpget", v3("shaaes", "SHA", "pass1234", "AES", "wrongpass"), []string{oidSysDescr}, []string{"Decryption error"}, true},
		{"v3 level above the user's", "snmpget", v3("md5", "MD5", "authpass1", "AES", "privpass1"), []string{oidSysDescr}, []string{"Unsupported security level"}, true},
		{"v3 level below the user's", "snmpget", v3("shaaes", "SHA", "pass1234", "", ""), []string{oidSysDescr}, []string{"authorizationError"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := netSNMP(t, a, tt.tool, tt.args, tt.oids...)
			if (err != nil) != tt.wantErr {
				t.Errorf("exit error %v, want error %v; output:\n%s", err, tt.wantErr, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if pdu.outlet(1) != outletOn || pdu.outlet(2) != outletOff {
		t.Errorf("outlets %v after the SETs, want 2 on and 3 off", pdu.outlets)
	}

	t.Run("walk covers the MIB in order", func(t *testing.T) {
		out, err := netSNMP(t, a, "snmpbulkwalk", []string{"-v2c", "-c", "public", "-Cr5"}, "1.3.6.1")
		if err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		var got []string
		for _, line := range strings.Split(out, "\n") {
			// net-snmp prints the endOfMibView that ends a walk of the
			// whole MIB, as it does against its own snmpd.
			if strings.Contains(line, "No more variables left in this MIB View") {
				continue
			}
			got = append(got, strings.TrimPrefix(strings.Fields(line)[0], "."))
		}
		if strings.Join(got, " ") != strings.Join(treeOIDs, " ") {
			t.Errorf("walk\n got %v\nwant %v", got, treeOIDs)
		}
	})
}

// TestNetSNMPDropped checks that net-snmp sees a dropping agent time out.
func TestNetSNMPDropped(t *testing.T) {
	tree, _ := newTestTree(t)
	a := startAgent(t, testConfig, tree)
	a.SetDropAll(true)
	out, err := netSNMP(t, a, "snmpget", []string{"-v2c", "-c", "public", "-t", "0.2"}, oidSysDescr)
	if err == nil || !strings.Contains(out, "Timeout") {
		t.Errorf("got %v:\n%s", err, out)
	}
	waitStats(t, a, func(s Stats) bool { return s.Dropped == 2 }) // -r 1: one retry
}
