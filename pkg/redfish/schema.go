package redfish

import (
	"sort"
	"strings"
)

// The @odata.type of every resource the service sends, in one list: the
// $metadata document and the Link headers are made from it, and the
// conformance walker checks that every type a response names is in
// $metadata. Versions are DMTF schema versions that define every property
// the service sends (LocationIndicatorActive needs ComputerSystem 1.13 and
// Chassis 1.14, PowerInputWatts Power 1.5, AccountTypes ManagerAccount 1.4,
// LogEntryType LogService 1.1, RoleId Role 1.2, TransferMethod and
// TransferProtocolType VirtualMedia 1.3).
const (
	typeServiceRoot       = "#ServiceRoot.v1_5_0.ServiceRoot"
	typeSystemCollection  = "#ComputerSystemCollection.ComputerSystemCollection"
	typeSystem            = "#ComputerSystem.v1_13_0.ComputerSystem"
	typeManagerCollection = "#ManagerCollection.ManagerCollection"
	typeManager           = "#Manager.v1_10_0.Manager"
	typeChassisCollection = "#ChassisCollection.ChassisCollection"
	typeChassis           = "#Chassis.v1_14_0.Chassis"
	typePower             = "#Power.v1_7_0.Power"
	typeSessionService    = "#SessionService.v1_1_8.SessionService"
	typeSessionCollection = "#SessionCollection.SessionCollection"
	typeSession           = "#Session.v1_3_0.Session"
	typeAccountService    = "#AccountService.v1_5_0.AccountService"
	typeAccountCollection = "#ManagerAccountCollection.ManagerAccountCollection"
	typeAccount           = "#ManagerAccount.v1_7_0.ManagerAccount"
	typeRoleCollection    = "#RoleCollection.RoleCollection"
	typeRole              = "#Role.v1_2_0.Role"
	typeNICCollection     = "#EthernetInterfaceCollection.EthernetInterfaceCollection"
	typeNIC               = "#EthernetInterface.v1_4_0.EthernetInterface"
	typeLogServiceColl    = "#LogServiceCollection.LogServiceCollection"
	typeLogService        = "#LogService.v1_4_0.LogService"
	typeLogEntryColl      = "#LogEntryCollection.LogEntryCollection"
	typeLogEntry          = "#LogEntry.v1_4_0.LogEntry"
	typeProcessorColl     = "#ProcessorCollection.ProcessorCollection"
	typeProcessor         = "#Processor.v1_5_0.Processor"
	typeStorageColl       = "#SimpleStorageCollection.SimpleStorageCollection"
	typeStorage           = "#SimpleStorage.v1_2_0.SimpleStorage"
	typeMessage           = "#Message.v1_1_1.Message"
	typeVirtualMediaColl  = "#VirtualMediaCollection.VirtualMediaCollection"
	typeVirtualMedia      = "#VirtualMedia.v1_4_0.VirtualMedia"
)

// usedTypes lists them for $metadata.
var usedTypes = []string{
	typeServiceRoot, typeSystemCollection, typeSystem, typeManagerCollection, typeManager,
	typeChassisCollection, typeChassis, typePower, typeSessionService, typeSessionCollection, typeSession,
	typeAccountService, typeAccountCollection, typeAccount, typeRoleCollection, typeRole,
	typeNICCollection, typeNIC, typeLogServiceColl, typeLogService, typeLogEntryColl, typeLogEntry,
	typeProcessorColl, typeProcessor, typeStorageColl, typeStorage, typeMessage,
	typeVirtualMediaColl, typeVirtualMedia,
}

// schemaBase is where DMTF publishes its schemas.
const schemaBase = "http://redfish.dmtf.org/schemas/v1/"

// splitType splits "#ComputerSystem.v1_13_0.ComputerSystem" into its
// namespace ("ComputerSystem") and version ("v1_13_0"); the version is
// empty for unversioned types (collections).
func splitType(t string) (namespace, version string) {
	parts := strings.Split(strings.TrimPrefix(t, "#"), ".")
	switch len(parts) {
	case 3:
		return parts[0], parts[1]
	case 2:
		return parts[0], ""
	}
	return "", ""
}

// describedBy is the Link header of a resource: its JSON schema, of the
// version its @odata.type names (DSP0266 "Link header").
func describedBy(body map[string]any) string {
	t, _ := body["@odata.type"].(string)
	ns, ver := splitType(t)
	if ns == "" {
		return ""
	}
	file := ns
	if ver != "" {
		file += "." + ver
	}
	return "<" + schemaBase + file + ".json>; rel=describedby"
}

// metadataXML is the OData CSDL document served at /redfish/v1/$metadata:
// a reference to the DMTF CSDL file of every namespace used (ns_v1.xml,
// including the namespace and its version), and the entity container.
var metadataXML = buildMetadata()

func buildMetadata() string {
	includes := map[string][]string{}
	for _, t := range usedTypes {
		ns, ver := splitType(t)
		includes[ns] = append(includes[ns], ns)
		if ver != "" {
			includes[ns] = append(includes[ns], ns+"."+ver)
		}
	}
	var names []string
	for ns := range includes {
		names = append(names, ns)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">` + "\n")
	for _, ns := range names {
		b.WriteString(`  <edmx:Reference Uri="` + schemaBase + ns + `_v1.xml">` + "\n")
		seen := map[string]bool{}
		for _, inc := range includes[ns] {
			if !seen[inc] {
				seen[inc] = true
				b.WriteString(`    <edmx:Include Namespace="` + inc + `"/>` + "\n")
			}
		}
		b.WriteString("  </edmx:Reference>\n")
	}
	_, rootVer := splitType(typeServiceRoot)
	b.WriteString(`  <edmx:DataServices>` + "\n")
	b.WriteString(`    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">` + "\n")
	b.WriteString(`      <EntityContainer Name="Service" Extends="ServiceRoot.` + rootVer + `.ServiceContainer"/>` + "\n")
	b.WriteString("    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n")
	return b.String()
}
