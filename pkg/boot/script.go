// Package boot is powerjockey's boot endpoint: the HTTP server a machine's
// iPXE fetches its boot script from (the site's DHCP server chains iPXE to
// it), and from which the machine reads the image inserted in its virtual
// CD. The script carries out the node's boot override, which IPMI and
// Redfish clients set: a machine without a BMC cannot be told where to
// boot, but a machine that network-boots first does what its script says.
//
// A machine is known by its MAC address (/boot.ipxe?mac=${netX/mac}). Its
// script chains the configured upstream network boot (PXE override),
// boots its local disk (disk override), sanboots the virtual CD (CD
// override with an image inserted) or exits to the firmware; an override
// that cannot be carried out (BIOS setup) is logged and falls back to the
// node's default. Serving the script uses up a next-boot-only override and
// tells the node its machine is on (node.TakeBoot).
package boot

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// Settings are a node's boot endpoint settings (config boot and
// nodes[].boot).
type Settings struct {
	// Upstream is the script a PXE override chains; empty: exit.
	Upstream string
	// Default is what the machine does without an override: "exit",
	// "pxe" or "disk".
	Default string
	// Disk is how a disk override boots: "sanboot" or "exit".
	Disk string
}

// Script is a rendered boot script.
type Script struct {
	// Text is the iPXE script.
	Text string
	// Does says, for people, what the script makes the machine do.
	Does string
	// Fallback is true when the override could not be carried out and the
	// script does the default instead.
	Fallback bool
}

// action is what a script does.
type action int

const (
	actExit action = iota
	actPXE
	actDisk
	actCD
)

// plan decides what a boot with override b and media m does: the action,
// and the reason when the override cannot be carried out.
func plan(b node.Boot, m node.Media, s Settings) (a action, fallback string) {
	if !b.Valid {
		return defaultAction(s), ""
	}
	switch b.Device {
	case node.BootNone:
		// IPMI's device selector 0: no override of the boot device.
		return defaultAction(s), ""
	case node.BootPXE:
		return actPXE, ""
	case node.BootDisk, node.BootSafe:
		return actDisk, ""
	case node.BootCDROM, node.BootRemoteCDROM, node.BootRemoteMedia:
		if m.Attached() && m.Inserted {
			return actCD, ""
		}
		return defaultAction(s), "the override is CD but no image is inserted in the virtual CD"
	case node.BootBIOS:
		return defaultAction(s), "BIOS setup cannot be entered from a boot script"
	default:
		return defaultAction(s), fmt.Sprintf("a boot script cannot boot the device %s", b.Device)
	}
}

func defaultAction(s Settings) action {
	switch s.Default {
	case "pxe":
		return actPXE
	case "disk":
		return actDisk
	default:
		return actExit
	}
}

// Render writes the boot script of the named node (its machine's MAC
// normalised) for the override and media it took. mediaURL is where the
// machine reads the virtual CD's image from.
func Render(name, mac string, t node.BootTaken, s Settings, mediaURL string) Script {
	a, why := plan(t.Boot, t.Media, s)
	var b strings.Builder
	b.WriteString("#!ipxe\n")
	fmt.Fprintf(&b, "# powerjockey: the boot script of %s (%s)\n", name, mac)
	say := func(text string) { fmt.Fprintf(&b, "echo powerjockey: %s: %s\n", name, text) }
	var does string
	if why != "" {
		say(echoSafe(why) + ", doing the default instead")
	}
	failed := func(what string) {
		b.WriteString("exit\n:failed\n")
		say(what + "; going on with the boot order of the firmware")
		b.WriteString("exit\n")
	}
	switch a {
	case actPXE:
		if s.Upstream == "" {
			does = "exits to the firmware for its own network boot (no upstream network boot is configured)"
			say("network boot: no upstream is configured, exiting to the firmware")
			b.WriteString("exit\n")
			break
		}
		does = "chains the network boot at " + s.Upstream
		say("network boot")
		fmt.Fprintf(&b, "chain --autofree %s || goto failed\n", s.Upstream)
		failed("the network boot failed")
	case actDisk:
		if s.Disk == "exit" {
			does = "exits to the firmware, which boots the next device (the local disk)"
			say("local disk: exiting to the firmware")
			b.WriteString("exit\n")
			break
		}
		does = "boots the local disk (BIOS drive 0x80; under UEFI, exits to the firmware)"
		say("local disk")
		b.WriteString("iseq ${platform} pcbios || exit\n")
		b.WriteString("sanboot --no-describe --drive 0x80 || goto failed\n")
		failed("the local disk did not boot")
	case actCD:
		does = "boots the virtual CD (" + t.Media.Image + ")"
		say("virtual CD " + echoSafe(t.Media.ImageName()))
		fmt.Fprintf(&b, "sanboot --no-describe %s || goto failed\n", mediaURL)
		failed("the virtual CD did not boot")
	default:
		does = "exits to the firmware, which goes on with its own boot order"
		say("no boot override: exiting to the firmware")
		b.WriteString("exit\n")
	}
	if why != "" {
		does = why + "; the script does the default instead: it " + does
	}
	return Script{Text: b.String(), Does: upperFirst(does) + ".", Fallback: why != ""}
}

// unknownScript answers a MAC address no node has.
func unknownScript(mac string) string {
	return "#!ipxe\necho powerjockey: no node has the MAC address " + mac + "; going on with the boot order of the firmware\nexit\n"
}

// badMACScript answers a request whose mac parameter is not a MAC address.
const badMACScript = "#!ipxe\necho powerjockey: the mac parameter is not a MAC address; going on with the boot order of the firmware\nexit\n"

// askMACScript answers a request without a mac parameter: it asks again,
// naming the NIC that booted (netX is the last one opened). The MAC is
// written with hyphens: iPXE would take a relative URI with a colon in it
// ("boot.ipxe?mac=52:54:...") for one with a scheme, and fail to open it.
const askMACScript = "#!ipxe\nchain boot.ipxe?mac=${netX/mac:hexhyp}\n"

// echoUnsafe are the characters iPXE would interpret in an echo line:
// settings expansion, comments, command separators, quoting.
var echoUnsafe = regexp.MustCompile(`[^A-Za-z0-9 ._:,()/+=@-]`)

// echoSafe makes text safe to print with iPXE's echo.
func echoSafe(s string) string { return echoUnsafe.ReplaceAllString(s, "?") }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
