package boot

import (
	"strings"
	"testing"

	"github.com/powerjockey/powerjockey/pkg/node"
)

func TestRender(t *testing.T) {
	media := node.Media{Image: "https://images.example/deploy.iso", Inserted: true, ID: "abc"}
	attached := media
	attached.Inserted = false
	up := Settings{Upstream: "http://192.168.24.1:8088/boot.ipxe", Default: "exit", Disk: "sanboot"}
	const mediaURL = "http://10.0.2.100:9624/media/n1/abc/deploy.iso"
	once := func(d node.BootDevice) node.Boot { return node.Boot{Valid: true, Device: d} }
	tests := []struct {
		name     string
		boot     node.Boot
		media    node.Media
		s        Settings
		lines    []string // the script's command lines, in order
		does     string
		fallback bool
	}{
		{"pxe chains the upstream", once(node.BootPXE), node.Media{}, up,
			[]string{"chain --autofree http://192.168.24.1:8088/boot.ipxe || goto failed", "exit", ":failed", "exit"},
			"Chains the network boot at http://192.168.24.1:8088/boot.ipxe.", false},
		{"pxe without upstream exits", once(node.BootPXE), node.Media{}, Settings{Default: "exit", Disk: "sanboot"},
			[]string{"exit"},
			"Exits to the firmware for its own network boot (no upstream network boot is configured).", false},
		{"disk sanboots drive 0x80", once(node.BootDisk), node.Media{}, up,
			[]string{"iseq ${platform} pcbios || exit", "sanboot --no-describe --drive 0x80 || goto failed", "exit", ":failed", "exit"},
			"Boots the local disk (BIOS drive 0x80; under UEFI, exits to the firmware).", false},
		{"disk by exit", node.Boot{Valid: true, Persistent: true, Device: node.BootDisk}, node.Media{}, Settings{Disk: "exit"},
			[]string{"exit"}, "Exits to the firmware, which boots the next device (the local disk).", false},
		{"safe mode is the disk", once(node.BootSafe), node.Media{}, up,
			[]string{"iseq ${platform} pcbios || exit", "sanboot --no-describe --drive 0x80 || goto failed", "exit", ":failed", "exit"},
			"Boots the local disk (BIOS drive 0x80; under UEFI, exits to the firmware).", false},
		{"cd with media sanboots it", once(node.BootCDROM), media, up,
			[]string{"sanboot --no-describe " + mediaURL + " || goto failed", "exit", ":failed", "exit"},
			"Boots the virtual CD (https://images.example/deploy.iso).", false},
		{"remote cd is the virtual cd", once(node.BootRemoteCDROM), media, up,
			[]string{"sanboot --no-describe " + mediaURL + " || goto failed", "exit", ":failed", "exit"},
			"Boots the virtual CD (https://images.example/deploy.iso).", false},
		{"cd without media falls back", once(node.BootCDROM), attached, up,
			[]string{"exit"},
			"The override is CD but no image is inserted in the virtual CD; the script does the default instead: it exits to the firmware, which goes on with its own boot order.", true},
		{"bios setup falls back to the default", once(node.BootBIOS), node.Media{}, Settings{Default: "pxe", Upstream: up.Upstream},
			[]string{"chain --autofree http://192.168.24.1:8088/boot.ipxe || goto failed", "exit", ":failed", "exit"},
			"BIOS setup cannot be entered from a boot script; the script does the default instead: it chains the network boot at http://192.168.24.1:8088/boot.ipxe.", true},
		{"floppy falls back", once(node.BootFloppy), node.Media{}, up, []string{"exit"},
			"A boot script cannot boot the device floppy; the script does the default instead: it exits to the firmware, which goes on with its own boot order.", true},
		{"no override: default exit", node.Boot{Device: node.BootPXE}, media, up, []string{"exit"},
			"Exits to the firmware, which goes on with its own boot order.", false},
		{"no override: default disk", node.Boot{Device: node.BootNone}, node.Media{}, Settings{Default: "disk", Disk: "sanboot"},
			[]string{"iseq ${platform} pcbios || exit", "sanboot --no-describe --drive 0x80 || goto failed", "exit", ":failed", "exit"},
			"Boots the local disk (BIOS drive 0x80; under UEFI, exits to the firmware).", false},
		{"device none is no override", once(node.BootNone), node.Media{}, Settings{Default: "pxe", Upstream: up.Upstream},
			[]string{"chain --autofree http://192.168.24.1:8088/boot.ipxe || goto failed", "exit", ":failed", "exit"},
			"Chains the network boot at http://192.168.24.1:8088/boot.ipxe.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := ""
			if tt.media.Attached() {
				url = mediaURL
			}
			sc := Render("n1", "52:54:00:00:00:01", node.BootTaken{Boot: tt.boot, Media: tt.media}, tt.s, url)
			if !strings.HasPrefix(sc.Text, "#!ipxe\n# powerjockey: the boot script of n1 (52:54:00:00:00:01)\n") {
				t.Errorf("header:\n%s", sc.Text)
			}
			var cmds []string
			for _, l := range strings.Split(strings.TrimSpace(sc.Text), "\n") {
				if !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "echo ") {
					cmds = append(cmds, l)
				}
			}
			if strings.Join(cmds, "\n") != strings.Join(tt.lines, "\n") {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(cmds, "\n"), strings.Join(tt.lines, "\n"))
			}
			if sc.Does != tt.does || sc.Fallback != tt.fallback {
				t.Errorf("does %q fallback %v, want %q %v", sc.Does, sc.Fallback, tt.does, tt.fallback)
			}
			for _, l := range strings.Split(sc.Text, "\n") {
				if strings.HasPrefix(l, "echo ") && strings.ContainsAny(l, "$#|&'\"\\") {
					t.Errorf("echo line iPXE would interpret: %q", l)
				}
			}
		})
	}
}

func TestEchoSafe(t *testing.T) {
	if got := echoSafe("a${x} || reboot # 'q'"); got != "a??x? ?? reboot ? ?q?" {
		t.Errorf("echoSafe = %q", got)
	}
}
