package redfish

import (
	"fmt"
	"net"
	"strings"
)

// Inventory comes from the configuration, not from the machine: the MAC
// address of its Wake-on-LAN NIC (what Ironic's redfish inspection makes
// ports from), and the enrollment properties (cpu, memory, disk, arch)
// that instackenv.json carries. Each resource says so in its Description.
// A node without them has none of these resources.

const configured = "As configured in powerjockey (nodes[].%s); powerjockey does not inspect the machine."

// addInventory adds the links and summaries of what is configured.
func addInventory(body map[string]any, sysPath string, hw Hardware) {
	if hasCPU(hw) {
		body["Processors"] = odataID(sysPath + "/Processors")
		if hw.CPUs > 0 {
			body["ProcessorSummary"] = map[string]any{"LogicalProcessorCount": hw.CPUs}
		}
	}
	if hw.MemoryMiB > 0 {
		body["MemorySummary"] = map[string]any{"TotalSystemMemoryGiB": float64(hw.MemoryMiB) / 1024}
	}
	if hasDisk(hw) {
		body["SimpleStorage"] = odataID(sysPath + "/SimpleStorage")
	}
}

func hasCPU(hw Hardware) bool  { return hw.CPUs > 0 || archOf(hw.Arch) != "" }
func hasDisk(hw Hardware) bool { return hw.DiskGB > 0 }

// findInventory finds the node and checks it has the inventory asked for.
func findInventory(has func(Hardware) bool) func(c *call) *apiError {
	find := findEntry("ComputerSystem")
	return func(c *call) *apiError {
		if aerr := find(c); aerr != nil {
			return aerr
		}
		if !has(c.entry.Hardware) {
			return invalidURI(truncate(c.r.URL.Path))
		}
		return nil
	}
}

// macID is a NIC's Id: its MAC address without separators.
func macID(mac net.HardwareAddr) string { return strings.ReplaceAll(mac.String(), ":", "") }

func serveNICs(c *call) *apiError {
	path := SystemPath(c.entry.System.Name()) + "/EthernetInterfaces"
	var members []string
	for _, mac := range c.entry.Hardware.MACs {
		members = append(members, path+"/"+macID(mac))
	}
	return c.collection(typeNICCollection, path, "Ethernet Network Interface Collection", members)
}

func findNIC(c *call) *apiError {
	if aerr := findEntry("ComputerSystem")(c); aerr != nil {
		return aerr
	}
	for _, mac := range c.entry.Hardware.MACs {
		if macID(mac) == c.params[1] {
			c.item = mac
			return nil
		}
	}
	return notFound("EthernetInterface", truncate(c.params[1]))
}

// serveNIC is a configured NIC. Its health is OK because nothing says
// otherwise (powerjockey does not watch the link); Ironic creates ports
// only for enabled, healthy interfaces.
func serveNIC(c *call) *apiError {
	mac := c.item.(net.HardwareAddr)
	return c.get(map[string]any{
		"@odata.type":         typeNIC,
		"@odata.id":           SystemPath(c.entry.System.Name()) + "/EthernetInterfaces/" + macID(mac),
		"Id":                  macID(mac),
		"Name":                "NIC " + mac.String(),
		"Description":         fmt.Sprintf(configured, "mac") + " It is the NIC Wake-on-LAN wakes.",
		"MACAddress":          mac.String(),
		"PermanentMACAddress": mac.String(),
		"Status":              map[string]any{"State": "Enabled", "Health": "OK"},
	})
}

// archOf maps a configured architecture (Ironic's cpu_arch words) to
// Redfish's ProcessorArchitecture and InstructionSet.
func archOf(arch string) (architecture string) {
	a, _ := archInstructionSet(arch)
	return a
}

func archInstructionSet(arch string) (architecture, instructionSet string) {
	switch strings.ToLower(arch) {
	case "x86_64", "amd64":
		return "x86", "x86-64"
	case "i386", "i686", "x86":
		return "x86", "x86"
	case "aarch64", "arm64":
		return "ARM", "ARM-A64"
	case "ppc64le", "ppc64":
		return "Power", "PowerISA"
	}
	return "", ""
}

const cpuID = "CPU"

func serveProcessors(c *call) *apiError {
	path := SystemPath(c.entry.System.Name()) + "/Processors"
	return c.collection(typeProcessorColl, path, "Processor Collection", []string{path + "/" + cpuID})
}

func findProcessor(c *call) *apiError {
	if aerr := findInventory(hasCPU)(c); aerr != nil {
		return aerr
	}
	if c.params[1] != cpuID {
		return notFound("Processor", truncate(c.params[1]))
	}
	return nil
}

// serveProcessor is the node's processors as one resource: the number of
// logical CPUs and the architecture configured.
func serveProcessor(c *call) *apiError {
	hw := c.entry.Hardware
	body := map[string]any{
		"@odata.type":   typeProcessor,
		"@odata.id":     SystemPath(c.entry.System.Name()) + "/Processors/" + cpuID,
		"Id":            cpuID,
		"Name":          "Processors",
		"Description":   fmt.Sprintf(configured, "cpu, arch"),
		"ProcessorType": "CPU",
		"Status":        map[string]any{"State": "Enabled"},
	}
	if hw.CPUs > 0 {
		body["TotalThreads"] = hw.CPUs
	}
	if a, is := archInstructionSet(hw.Arch); a != "" {
		body["ProcessorArchitecture"] = a
		body["InstructionSet"] = is
	}
	return c.get(body)
}

const diskID = "Disks"

func serveStorages(c *call) *apiError {
	path := SystemPath(c.entry.System.Name()) + "/SimpleStorage"
	return c.collection(typeStorageColl, path, "Simple Storage Collection", []string{path + "/" + diskID})
}

func findStorage(c *call) *apiError {
	if aerr := findInventory(hasDisk)(c); aerr != nil {
		return aerr
	}
	if c.params[1] != diskID {
		return notFound("SimpleStorage", truncate(c.params[1]))
	}
	return nil
}

// serveStorage is the configured disk (instackenv's disk, in GiB as
// Ironic's local_gb counts).
func serveStorage(c *call) *apiError {
	hw := c.entry.Hardware
	return c.get(map[string]any{
		"@odata.type": typeStorage,
		"@odata.id":   SystemPath(c.entry.System.Name()) + "/SimpleStorage/" + diskID,
		"Id":          diskID,
		"Name":        "Disks",
		"Description": fmt.Sprintf(configured, "disk"),
		"Devices": []any{map[string]any{
			"Name":          "Disk 1",
			"CapacityBytes": int64(hw.DiskGB) << 30,
			"Status":        map[string]any{"State": "Enabled", "Health": "OK"},
		}},
		"Status": map[string]any{"State": "Enabled"},
	})
}
