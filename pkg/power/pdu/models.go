package pdu

// Models lists every supported switched-PDU family, one row each. Every OID
// and value below was checked against the source named in the row's Source
// field (vendor MIB first; OpenStack Ironic's snmp driver only where no MIB
// could be found). See docs/pdu-models.md for the table, the sources and how
// to add a row.
//
// Conventions used in the rows:
//   - Tables indexed by a unit (Eaton strapping index, Raritan pduId,
//     ServerTech tower/unit and infeed/cord, APC MasterSwitch Plus index)
//     address the first unit; that index is written literally in the
//     template.
//   - A Status OID equal to the On/Off OID means the MIB documents that a
//     GET of the control object returns the outlet state.
//   - Power is nil where the MIB has no per-outlet active power column (or it
//     could not be verified). Meter columns report negative values (-1, or
//     -2000000 on some MIBs) when a reading is unavailable.
var Models = []Model{
	// ATEN eco PDUs. ATEN-PE-CFG (librenms/librenms mibs/aten/ATEN-PE-CFG)
	// places outletNStatus at { outlet N+1 } for N = 1..8 and { outlet N+2 }
	// for N >= 9 (sub-identifier 10 is outletConfigTable), i.e.
	// 1.3.6.1.4.1.21317.1.3.2.2.2.2.(N+1).0 / .(N+2).0: the IndexShifts.
	// Ironic's ...21317.1.3.2.2.2.2.N.0 addresses the neighbouring outlet.
	// Values: off(1) on(2) pending(3) reset(4); the status object is writable.
	{
		Name:        "aten",
		Description: "ATEN eco PDU (ATEN-PE-CFG outletNStatus)",
		SysObjectID: "1.3.6.1.4.1.21317",
		On:          Command{OID: "1.3.6.1.4.1.21317.1.3.2.2.2.2.{outlet}.0", Value: 2},
		Off:         Command{OID: "1.3.6.1.4.1.21317.1.3.2.2.2.2.{outlet}.0", Value: 1},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.21317.1.3.2.2.2.2.{outlet}.0", On: []int{2}, Off: []int{1}},
		IndexShifts: []IndexShift{{From: 1, Add: 1}, {From: 9, Add: 2}},
		Source:      "ATEN-PE-CFG outletNStatus (librenms/librenms mibs/aten/ATEN-PE-CFG); Ironic SNMPDriverAten (openstack/ironic ironic/drivers/modules/snmp.py) without the index shift",
	},

	// APC MasterSwitch (AP92xx / AP79xx switched, sPDU tables).
	// PowerNet-MIB (librenms/librenms mibs/apc/PowerNet-MIB v4.2.6):
	//   sPDUOutletCtl ::= { sPDUOutletControlEntry 3 }, sPDUOutletControl ::= { masterswitch 4 },
	//   masterswitch ::= { hardware 4 } = 318.1.1.4; outletOn(1) outletOff(2) outletReboot(3);
	//   "Getting this variable will return the outlet state" (1 on, 2 off): control OID is the status OID.
	//   sysObjectID: masterSwitch ::= { system 4 } = 318.1.3.4 (products.system subtree).
	//   Ironic's system_id (318,1,1,4) is the hardware MIB subtree, not a sysObjectID.
	// No per-outlet power in the sPDU tables.
	{
		Name:        "apc",
		Aliases:     []string{"apc_masterswitch"},
		Description: "APC MasterSwitch (PowerNet-MIB sPDUOutletCtl)",
		SysObjectID: "1.3.6.1.4.1.318.1.3.4",
		On:          Command{OID: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.{outlet}", Value: 2},
		Reboot:      Command{OID: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.{outlet}", Value: 3},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.318.1.1.4.4.2.1.3.{outlet}", On: []int{1}, Off: []int{2}},
		Source:      "PowerNet-MIB sPDUOutletCtl (librenms/librenms mibs/apc/PowerNet-MIB); sysObjectID masterSwitch; Ironic SNMPDriverAPCMasterSwitch (openstack/ironic ironic/drivers/modules/snmp.py)",
	},

	// APC MasterSwitch Plus.
	// PowerNet-MIB: sPDUOutletControlMSPOutletCommand ::= { sPDUOutletControlMSPEntry 5 },
	//   sPDUOutletControlMSPTable ::= { sPDUOutletControlMSP 1 }, sPDUOutletControlMSP ::= { masterswitchMSP 5 },
	//   masterswitchMSP ::= { hardware 6 } = 318.1.1.6.
	//   INDEX { sPDUOutletControlMSPIndex, sPDUOutletControlMSPOutletIndex }: the first MasterSwitch
	//   Plus (index 1) is written literally. Ironic omits this index (318.1.1.6.5.1.1.5.<outlet>),
	//   which contradicts the MIB; the MIB is followed here.
	//   immediateOnMSP(1) immediateOffMSP(3) immediateRebootMSP(5); a GET returns 1 (on) or 3 (off):
	//   control OID is the status OID.
	//   sysObjectID: masterSwitchMSP ::= { masterSwitch 4 } = 318.1.3.4.4.
	{
		Name:        "apc_masterswitchplus",
		Description: "APC MasterSwitch Plus (PowerNet-MIB sPDUOutletControlMSPOutletCommand)",
		SysObjectID: "1.3.6.1.4.1.318.1.3.4.4",
		On:          Command{OID: "1.3.6.1.4.1.318.1.1.6.5.1.1.5.1.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.318.1.1.6.5.1.1.5.1.{outlet}", Value: 3},
		Reboot:      Command{OID: "1.3.6.1.4.1.318.1.1.6.5.1.1.5.1.{outlet}", Value: 5},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.318.1.1.6.5.1.1.5.1.{outlet}", On: []int{1}, Off: []int{3}},
		Source:      "PowerNet-MIB sPDUOutletControlMSPOutletCommand, INDEX {sPDUOutletControlMSPIndex, sPDUOutletControlMSPOutletIndex} (librenms/librenms mibs/apc/PowerNet-MIB); sysObjectID masterSwitchMSP",
	},

	// APC Rack PDU, first generation (AP78xx/AP79xx, rPDU tables).
	// PowerNet-MIB: rPDUOutletControlOutletCommand ::= { rPDUOutletControlEntry 4 },
	//   rPDUOutletControl ::= { rPDUOutlet 3 }, rPDUOutlet ::= { rPDU 3 }, rPDU ::= { hardware 12 }.
	//   immediateOn(1) immediateOff(2) immediateReboot(3); a GET returns 1 (on) or 2 (off):
	//   control OID is the status OID (as in Ironic SNMPDriverAPCRackPDU).
	//   sysObjectID: masterSwitchrPDU ::= { masterSwitch 5 } = 318.1.3.4.5.
	// No per-outlet active power in the rPDU tables.
	{
		Name:        "apc_rackpdu",
		Description: "APC Switched Rack PDU (PowerNet-MIB rPDUOutletControlOutletCommand)",
		SysObjectID: "1.3.6.1.4.1.318.1.3.4.5",
		On:          Command{OID: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.{outlet}", Value: 2},
		Reboot:      Command{OID: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.{outlet}", Value: 3},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.{outlet}", On: []int{1}, Off: []int{2}},
		Source:      "PowerNet-MIB rPDUOutletControlOutletCommand (librenms/librenms mibs/apc/PowerNet-MIB); sysObjectID masterSwitchrPDU; Ironic SNMPDriverAPCRackPDU",
	},

	// APC Rack PDU 2 (AP84xx/AP86xx/AP88xx/AP89xx, rPDU2 tables). Not an Ironic driver.
	// PowerNet-MIB: rPDU2 ::= { hardware 26 }, rPDU2Outlet ::= { rPDU2 9 },
	//   rPDU2OutletSwitched ::= { rPDU2Outlet 2 }, rPDU2OutletMetered ::= { rPDU2Outlet 4 }.
	//   rPDU2OutletSwitchedControlCommand ::= { rPDU2OutletSwitchedControlEntry 5 } (table { rPDU2OutletSwitched 4 }):
	//     immediateOn(1) immediateOff(2) immediateReboot(3).
	//   rPDU2OutletSwitchedStatusState ::= { rPDU2OutletSwitchedStatusEntry 5 } (table { rPDU2OutletSwitched 3 }):
	//     off(1) on(2).
	//   rPDU2OutletMeteredStatusPower ::= { rPDU2OutletMeteredStatusEntry 7 } (table { rPDU2OutletMetered 3 }).
	//     Its DESCRIPTION gives no unit ("the power draw of the load"); the sibling
	//     rPDU2OutletMeteredConfig*Threshold objects are "in Watts", so Scale 1 (watts) is inferred.
	//   The tables are indexed by a row index over all chained PDUs (rPDU2Outlet*Index, with
	//   *Module = PDU id and *Number = outlet number); on a single PDU the row index is the outlet number.
	//   sysObjectID: masterSwitchrPDU2 ::= { masterSwitch 6 } = 318.1.3.4.6.
	//   rPDU2OutletSwitchedControlName ::= { rPDU2OutletSwitchedControlEntry 3 } (PowerNet-MIB as
	//     compiled in DotZero24/pysnmp-mibs pysnmp_mibs/PowerNet-MIB.py, 1edca37f): the outlet's name.
	{
		Name:        "apc_rpdu2",
		Description: "APC Rack PDU 2 (PowerNet-MIB rPDU2OutletSwitched/rPDU2OutletMetered)",
		SysObjectID: "1.3.6.1.4.1.318.1.3.4.6",
		On:          Command{OID: "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.{outlet}", Value: 2},
		Reboot:      Command{OID: "1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.{outlet}", Value: 3},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.{outlet}", On: []int{2}, Off: []int{1}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.{outlet}", Scale: 1},
		OutletName:  "1.3.6.1.4.1.318.1.1.26.9.2.4.1.3.{outlet}",
		Source:      "PowerNet-MIB rPDU2OutletSwitchedControlCommand, rPDU2OutletSwitchedStatusState, rPDU2OutletMeteredStatusPower (librenms/librenms and DanielleHuisman/observium-community-edition mibs/apc/PowerNet-MIB), rPDU2OutletSwitchedControlName (DotZero24/pysnmp-mibs PowerNet-MIB.py); sysObjectID masterSwitchrPDU2",
	},

	// APC Easy PDU (EPDU1xxx, PowerNet-MIB ePDU tables). Not an Ironic driver.
	// PowerNet-MIB as compiled in DotZero24/pysnmp-mibs pysnmp_mibs/PowerNet-MIB.py
	// (1edca37f8382511f4a05409eea0251866e83c942): ePDU ::= { hardware 30 } = 318.1.1.30,
	//   ePDUOutlet ::= { ePDU 6 }; ePDUOutletStatusTable { ePDUOutlet 1 }, ePDUOutletControlTable
	//   { ePDUOutlet 2 }, each indexed by a row index with *Module and *Number columns (one PDU:
	//   the row index is the outlet number, as for rPDU2).
	//   ePDUOutletStatusState (status col 4): off(1) on(2) (also Network UPS Tools
	//     drivers/apc-epdu-mib.c, networkupstools/nut 1bc7b068).
	//   ePDUOutletControlCommand (control col 4): immediateOn(1) immediateOff(2) outletUnknown(3);
	//     no reboot. No per-outlet metering in the ePDU tables.
	//   sysObjectID 318.1.3.4.9: NUT apc-epdu-mib.c APC_EPDU_MIB_SYSOID, LibreNMS os apc-epdu, and the
	//     recording of an EPDU1116S (librenms tests/snmpsim/apc-epdu.snmprec). Before this row the
	//     generic apc row claimed these PDUs and would have written sPDUOutletCtl, which they lack.
	{
		Name:        "apc_epdu",
		Description: "APC Easy PDU (PowerNet-MIB ePDUOutletControlTable)",
		SysObjectID: "1.3.6.1.4.1.318.1.3.4.9",
		On:          Command{OID: "1.3.6.1.4.1.318.1.1.30.6.2.1.4.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.318.1.1.30.6.2.1.4.{outlet}", Value: 2},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.318.1.1.30.6.1.1.4.{outlet}", On: []int{2}, Off: []int{1}},
		Source:      "PowerNet-MIB ePDUOutletControlCommand, ePDUOutletStatusState (DotZero24/pysnmp-mibs pysnmp_mibs/PowerNet-MIB.py); networkupstools/nut drivers/apc-epdu-mib.c; sysObjectID from NUT and librenms tests/snmpsim/apc-epdu.snmprec",
	},

	// APC NetShelter Advanced Rack PDU (APDU10xxx, NMC3 "cPDU"). Not an Ironic driver.
	// CPDU-MIB (DanielleHuisman/observium-community-edition mibs/apc/CPDU-MIB,
	// 7e57dbc8f5679da52cc9fe8c615895bf8fec365b): cPDU ::= { hardware 32 } = 318.1.1.32,
	//   pduOutlet ::= { cPDU 5 }; tables indexed { unit index, outlet index }: unit 1 written literally.
	//   pduOutletSwitchedControlCommand ::= { pduOutletSwitchedControlEntry 4 } (table { pduOutlet 5 }):
	//     immediateOff(1) immediateOn(2) delayedOff(3) delayedOn(4) immediateReboot(5) ...
	//   pduOutletSwitchedStatusState ::= { pduOutletSwitchedStatusEntry 4 } (table { pduOutlet 4 }):
	//     off(0) on(1); pduOutletSwitchedStatusName (col 3) is the outlet's name.
	//   pduOutletMeteredStatusActivePower ::= { pduOutletMeteredStatusEntry 6 } (table { pduOutlet 9 }):
	//     "the power draw, in Watts(W)".
	//   sysObjectID: the MIB's comment on sysObjectID names 318.1.1.32; the recording of an
	//     APDU10150SM (librenms tests/snmpsim/apc-cpdu.snmprec) reports 318.1.1.32.1.
	{
		Name:        "apc_cpdu",
		Description: "APC NetShelter Advanced Rack PDU (CPDU-MIB pduOutletSwitchedControlTable)",
		SysObjectID: "1.3.6.1.4.1.318.1.1.32",
		On:          Command{OID: "1.3.6.1.4.1.318.1.1.32.5.5.1.4.1.{outlet}", Value: 2},
		Off:         Command{OID: "1.3.6.1.4.1.318.1.1.32.5.5.1.4.1.{outlet}", Value: 1},
		Reboot:      Command{OID: "1.3.6.1.4.1.318.1.1.32.5.5.1.4.1.{outlet}", Value: 5},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.318.1.1.32.5.4.1.4.1.{outlet}", On: []int{1}, Off: []int{0}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.318.1.1.32.5.9.1.6.1.{outlet}", Scale: 1},
		OutletName:  "1.3.6.1.4.1.318.1.1.32.5.4.1.3.1.{outlet}",
		Source:      "CPDU-MIB pduOutletSwitchedControlCommand, pduOutletSwitchedStatusState, pduOutletSwitchedStatusName, pduOutletMeteredStatusActivePower (DanielleHuisman/observium-community-edition mibs/apc/CPDU-MIB); recording librenms tests/snmpsim/apc-cpdu.snmprec",
	},

	// CyberPower switched ePDU.
	// CPS-MIB (librenms/librenms mibs/cyberpower/CPS-MIB v2.13): ePDU ::= { hardware 3 } = 3808.1.1.3,
	//   ePDUOutlet ::= { ePDU 3 }, ePDUOutletControl ::= { ePDUOutlet 3 }, ePDUOutletStatus ::= { ePDUOutlet 5 }.
	//   ePDUOutletControlOutletCommand ::= { ePDUOutletControlEntry 4 }: immediateOn(1) immediateOff(2)
	//     immediateReboot(3); a GET returns 1 (on) or 2 (off): control OID is the status OID.
	//   ePDUOutletStatusActivePower ::= { ePDUOutletStatusEntry 8 }: "in watts" (outlet-monitored models).
	//   ePDUOutletControlOutletName ::= { ePDUOutletControlEntry 2 }: the outlet's name.
	//   sysObjectID prefix: cps ::= { enterprises 3808 } (Ironic system_id (3808,)).
	{
		Name:        "cyberpower",
		Description: "CyberPower switched ePDU (CPS-MIB ePDUOutletControlOutletCommand)",
		SysObjectID: "1.3.6.1.4.1.3808",
		On:          Command{OID: "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.{outlet}", Value: 2},
		Reboot:      Command{OID: "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.{outlet}", Value: 3},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.{outlet}", On: []int{1}, Off: []int{2}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.3808.1.1.3.3.5.1.1.8.{outlet}", Scale: 1},
		OutletName:  "1.3.6.1.4.1.3808.1.1.3.3.3.1.1.2.{outlet}",
		Source:      "CPS-MIB ePDUOutletControlOutletCommand, ePDUOutletControlOutletName, ePDUOutletStatusActivePower (librenms/librenms mibs/cyberpower/CPS-MIB); Ironic SNMPDriverCyberPower",
	},

	// CyberPower switched ePDU, second-generation tables (ePDU2; e.g. PDU81005). Not an Ironic driver.
	// CPS-MIB as compiled in DotZero24/pysnmp-mibs pysnmp_mibs/CPS-MIB.py
	// (1edca37f8382511f4a05409eea0251866e83c942): ePDU2 ::= { hardware 6 } = 3808.1.1.6,
	//   ePDU2Outlet ::= { ePDU2 6 }; tables indexed by a row index over chained PDUs with a
	//   *ModuleIndex column (one PDU: the row index is the outlet number).
	//   ePDU2OutletSwitchedControlCommand (3808.1.1.6.6.1.5.1.5): immediateOn(1) immediateOff(2)
	//     immediateReboot(3) delayedOn(4) ...
	//   ePDU2OutletSwitchedStatusState (3808.1.1.6.6.1.4.1.5): outletStatusOn(1) outletStatusOff(2);
	//     ePDU2OutletSwitchedStatusName (col 4) is the outlet's name.
	//   ePDU2OutletMeteredStatusActivePower (3808.1.1.6.6.2.4.1.7, Gauge32): watts, by the same
	//     unit as the first-generation ePDUOutletStatusActivePower ("in watts"); the recording
	//     below confirms it: its outlets' sum (220) matches the PDU's ePDULoadStatusActivePower (216 W).
	//   sysObjectID 3808.1.1.6: the recording of a PDU81005 (librenms tests/snmpsim/cyberpower_pdu81005.snmprec),
	//     which serves the ePDU2 tables (LibreNMS PR #20074 reads them there).
	{
		Name:        "cyberpower_epdu2",
		Description: "CyberPower switched ePDU, ePDU2 tables (CPS-MIB ePDU2OutletSwitchedControlCommand)",
		SysObjectID: "1.3.6.1.4.1.3808.1.1.6",
		On:          Command{OID: "1.3.6.1.4.1.3808.1.1.6.6.1.5.1.5.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.3808.1.1.6.6.1.5.1.5.{outlet}", Value: 2},
		Reboot:      Command{OID: "1.3.6.1.4.1.3808.1.1.6.6.1.5.1.5.{outlet}", Value: 3},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.3808.1.1.6.6.1.4.1.5.{outlet}", On: []int{1}, Off: []int{2}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.3808.1.1.6.6.2.4.1.7.{outlet}", Scale: 1},
		OutletName:  "1.3.6.1.4.1.3808.1.1.6.6.1.4.1.4.{outlet}",
		Source:      "CPS-MIB ePDU2OutletSwitchedControlCommand, ePDU2OutletSwitchedStatusState, ePDU2OutletSwitchedStatusName, ePDU2OutletMeteredStatusActivePower (DotZero24/pysnmp-mibs pysnmp_mibs/CPS-MIB.py); recording librenms tests/snmpsim/cyberpower_pdu81005.snmprec",
	},

	// Eaton ePDU (G2/G3 "Marlin").
	// EATON-EPDU-MIB (librenms/librenms mibs/eaton/EATON-EPDU-MIB): eatonEpdu ::= { pduAgent 7 } = 534.6.6.7,
	//   outlets ::= { eatonEpdu 6 }; outletControlTable ::= { outlets 6 }, outletPowerTable ::= { outlets 5 },
	//   both INDEX { strappingIndex, outletIndex }. strappingIndex is "always '0'" for units without
	//   strapping; the first (master) unit 0 is written literally.
	//   outletControlStatus (col 2): off(0) on(1) pendingOff(2) pendingOn(3); pending states read as
	//     the current physical state (pendingOff = still on, pendingOn = still off), as in Ironic,
	//     and after a SET as a switch the PDU accepted (its outlet sequencing delays it).
	//   outletControlOffCmd (col 3), outletControlOnCmd (col 4), outletControlRebootCmd (col 5):
	//     write 0 = act immediately (0-n seconds of delay, -1 cancels).
	//   outletWatts (outletPowerEntry 3): "Units are Watts"; negative = not available.
	//   Ironic's SNMPDriverEatonPower documents off = .3 / on = .4 but its code sets oid_poweron = (3,)
	//   and oid_poweroff = (4,), and it omits strappingIndex; both contradict the MIB, which is followed.
	//   sysObjectID prefix: eatonEpdu 534.6.6.7, which the recording of an ePDU MA reports
	//   (librenms tests/snmpsim/eatonpdu.snmprec). Ironic's system_id (534,) also covers Eaton's
	//   UPSes (XUPS-MIB 534.1): they would now be refused, not driven as PDUs.
	{
		Name:        "eatonpower",
		Description: "Eaton ePDU (EATON-EPDU-MIB outletControlTable)",
		SysObjectID: "1.3.6.1.4.1.534.6.6.7",
		On:          Command{OID: "1.3.6.1.4.1.534.6.6.7.6.6.1.4.0.{outlet}", Value: 0},
		Off:         Command{OID: "1.3.6.1.4.1.534.6.6.7.6.6.1.3.0.{outlet}", Value: 0},
		Reboot:      Command{OID: "1.3.6.1.4.1.534.6.6.7.6.6.1.5.0.{outlet}", Value: 0},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.534.6.6.7.6.6.1.2.0.{outlet}", On: []int{1}, Off: []int{0}, PendingOff: []int{2}, PendingOn: []int{3}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.534.6.6.7.6.5.1.3.0.{outlet}", Scale: 1},
		Source:      "EATON-EPDU-MIB outletControlStatus, outletControlOnCmd, outletControlOffCmd, outletControlRebootCmd, outletWatts (librenms/librenms mibs/eaton/EATON-EPDU-MIB); Ironic SNMPDriverEatonPower (on/off OIDs swapped there)",
	},

	// Teltronix. No vendor MIB was found; the row is Ironic's driver as written.
	// Ironic SNMPDriverTeltronix: 23620.1.2.2.1.4.<outlet> "Outlet Power", 1=Off 2=On; the same
	// object is written and read. No reboot value, no metering known.
	{
		Name:        "teltronix",
		Description: "Teltronix PDU (Ironic SNMPDriverTeltronix; no vendor MIB found)",
		SysObjectID: "1.3.6.1.4.1.23620",
		On:          Command{OID: "1.3.6.1.4.1.23620.1.2.2.1.4.{outlet}", Value: 2},
		Off:         Command{OID: "1.3.6.1.4.1.23620.1.2.2.1.4.{outlet}", Value: 1},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.23620.1.2.2.1.4.{outlet}", On: []int{2}, Off: []int{1}},
		Source:      "Ironic SNMPDriverTeltronix (openstack/ironic ironic/drivers/modules/snmp.py); not checked against a vendor MIB",
	},

	// BayTech MRP27 / RPC. No vendor MIB was found in the stored sources.
	// Ironic SNMPDriverBaytechMRP27: 4779.1.3.5.3.1.3.{unit_id=1}.<outlet>, 0=Off 1=On 2=Reboot.
	// Network UPS Tools drivers/baytech-mib.c uses the same OID for outlet status and load.off (0) /
	// load.on (1) and reads -1 error, 0 off, 1 on, 2 cycling (transitional). Unit 1 is written
	// literally. No sysObjectID in either source: not auto-detected.
	{
		Name:        "baytech_mrp27",
		Description: "BayTech MRP27 / RPC (Ironic SNMPDriverBaytechMRP27; NUT baytech-mib)",
		On:          Command{OID: "1.3.6.1.4.1.4779.1.3.5.3.1.3.1.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.4779.1.3.5.3.1.3.1.{outlet}", Value: 0},
		Reboot:      Command{OID: "1.3.6.1.4.1.4779.1.3.5.3.1.3.1.{outlet}", Value: 2},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.4779.1.3.5.3.1.3.1.{outlet}", On: []int{1}, Off: []int{0}},
		Source:      "Ironic SNMPDriverBaytechMRP27 (openstack/ironic ironic/drivers/modules/snmp.py); networkupstools/nut drivers/baytech-mib.c; not checked against a vendor MIB",
	},

	// Raritan PX2/PX3 (PDU2-MIB).
	// PDU2-MIB (librenms/librenms mibs/raritan/PDU2-MIB): raritan ::= { enterprises 13742 },
	//   pdu2 ::= { raritan 6 }, control ::= { pdu2 4 }, outletControl ::= { control 1 },
	//   outletSwitchControlTable ::= { outletControl 2 }, INDEX { pduId, outletId }.
	//   pduId: "For PX2, PX3 and PX3TS, pduId is always 1" -> written literally.
	//   switchingOperation (col 2), OutletSwitchingOperationsEnumeration: off(0) on(1) cycle(2).
	//   outletSwitchingState (col 3), SensorStateEnumeration: on(7) off(8). The row reads the
	//     outlet's onOff sensor instead (same enumeration): measurementsOutletSensorState
	//     ::= { outletSensorMeasurementsEntry 3 }, sensorType onOff(14), in the table the meter is
	//     read from, which is what the recording of a PX3-5493U-K2 (librenms
	//     tests/snmpsim/raritan-pdu_px3.snmprec) holds: .3.1.N.14 = on(7) for its 24 outlets.
	//   outletName ::= { outletConfigurationEntry 3 } = 13742.6.3.5.3.1.3.{pduId}.{outlet} (the
	//     recording holds the operator's names there, outletLabel "1".."24" in column 2).
	//   measurementsOutletSensorValue ::= { outletSensorMeasurementsEntry 4 },
	//     outletSensorMeasurementsTable ::= { measurementsOutlet 3 }, measurementsOutlet ::= { measurements 4 },
	//     measurements ::= { pdu2 5 }; INDEX { pduId, outletId, sensorType }; activePower = 5.
	//     The value "should be scaled by outletSensorDecimalDigits" (a per-sensor value the PDU reports);
	//     Raritan's SNMP MIB User Guide (2019) shows activePower sensors with unit watt(3) and 0 decimal
	//     digits, and the PX3 recording's outletSensorDecimalDigits (13742.6.3.5.4.1.7.1.N.5) is 0 for
	//     every outlet: Scale 1. Its outlets' activePower sums to 1671 W against the inlet's 1665 W.
	//   sysObjectID: the pdu2 subtree 13742.6 (PX1 PDU-MIB devices sit under 13742.4 and do not speak
	//   PDU2-MIB; LibreNMS raritan-pdu detection matches 13742.[4|6]).
	//   Ironic SNMPDriverRaritanPDU2 uses the same control OID and values and reads outletSwitchingState,
	//   with no system_id.
	{
		Name:        "raritan_pdu2",
		Description: "Raritan PX2/PX3 (PDU2-MIB outletSwitchControlTable)",
		SysObjectID: "1.3.6.1.4.1.13742.6",
		On:          Command{OID: "1.3.6.1.4.1.13742.6.4.1.2.1.2.1.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.13742.6.4.1.2.1.2.1.{outlet}", Value: 0},
		Reboot:      Command{OID: "1.3.6.1.4.1.13742.6.4.1.2.1.2.1.{outlet}", Value: 2},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.13742.6.5.4.3.1.3.1.{outlet}.14", On: []int{7}, Off: []int{8}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.13742.6.5.4.3.1.4.1.{outlet}.5", Scale: 1},
		OutletName:  "1.3.6.1.4.1.13742.6.3.5.3.1.3.1.{outlet}",
		Source:      "PDU2-MIB switchingOperation, measurementsOutletSensorState.pduId.outletId.onOff(14), measurementsOutletSensorValue.pduId.outletId.activePower(5), outletName (librenms/librenms mibs/raritan/PDU2-MIB); Raritan SNMP MIB User Guide 2019 (decimal digits); recording librenms tests/snmpsim/raritan-pdu_px3.snmprec; Ironic SNMPDriverRaritanPDU2",
	},

	// ServerTech Sentry3 (Switched CDU).
	// Sentry3-MIB (librenms/librenms mibs/sentry/Sentry3-MIB): sentry3 ::= { serverTech 3 } = 1718.3,
	//   systemTables ::= { sentry3 2 }, outletTable ::= { systemTables 3 },
	//   INDEX { towerIndex, infeedIndex, outletIndex }: tower 1, infeed 1 written literally (as Ironic).
	//   outletControlAction (col 11): none(0) on(1) off(2) reboot(3).
	//   outletStatus (col 5): off(0) on(1) offWait(2) onWait(3) offError(4) onError(5) noComm(6)
	//     reading(7) offFuse(8) onFuse(9). offWait reads as on and onWait as off (pending, Ironic's
	//     mapping; the MIB names the states only); error/fuse/noComm/reading read as unknown.
	//   outletPower (col 14): UNITS "Watts", negative = not available.
	//   sysObjectID prefix: sentry3 module 1718.3. Ironic SNMPDriverServerTechSentry3 has no system_id.
	{
		Name:        "servertech_sentry3",
		Description: "ServerTech Sentry3 CDU (Sentry3-MIB outletTable)",
		SysObjectID: "1.3.6.1.4.1.1718.3",
		On:          Command{OID: "1.3.6.1.4.1.1718.3.2.3.1.11.1.1.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.1718.3.2.3.1.11.1.1.{outlet}", Value: 2},
		Reboot:      Command{OID: "1.3.6.1.4.1.1718.3.2.3.1.11.1.1.{outlet}", Value: 3},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.1718.3.2.3.1.5.1.1.{outlet}", On: []int{1}, Off: []int{0}, PendingOff: []int{2}, PendingOn: []int{3}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.1718.3.2.3.1.14.1.1.{outlet}", Scale: 1},
		Source:      "Sentry3-MIB outletControlAction, outletStatus, outletPower (librenms/librenms mibs/sentry/Sentry3-MIB); Ironic SNMPDriverServerTechSentry3",
	},

	// ServerTech Sentry4 (PRO1/PRO2).
	// Sentry4-MIB (librenms/librenms mibs/sentry/Sentry4-MIB): sentry4 ::= { serverTech 4 } = 1718.4,
	//   st4Objects ::= { sentry4 1 }, st4Outlets ::= { st4Objects 8 };
	//   st4OutletMonitorTable ::= { st4Outlets 3 }, st4OutletControlTable ::= { st4Outlets 5 },
	//   INDEX { st4UnitIndex, st4InputCordIndex, st4OutletIndex }: unit A=1, cord 1 written literally.
	//   st4OutletControlAction (control col 2): none(0) on(1) off(2) reboot(3) queueOn(4) ...
	//   st4OutletState (monitor col 1), DeviceState: unknown(0) on(1) off(2).
	//   st4OutletActivePower (monitor col 7): UNITS "Watts", -1 = not available.
	//   Ironic SNMPDriverServerTechSentry4 reads st4OutletControlState instead and maps pendOn(8) to on
	//   and pendOff(9) to off, while the MIB describes pendOn as "outlet is off, but will be turning
	//   on" and pendOff as "outlet is on, but will be turning off"; st4OutletState avoids that.
	//   sysObjectID prefix 1718.4 (also LibreNMS sentry4 detection).
	{
		Name:        "servertech_sentry4",
		Description: "ServerTech Sentry4 PRO1/PRO2 (Sentry4-MIB st4Outlet tables)",
		SysObjectID: "1.3.6.1.4.1.1718.4",
		On:          Command{OID: "1.3.6.1.4.1.1718.4.1.8.5.1.2.1.1.{outlet}", Value: 1},
		Off:         Command{OID: "1.3.6.1.4.1.1718.4.1.8.5.1.2.1.1.{outlet}", Value: 2},
		Reboot:      Command{OID: "1.3.6.1.4.1.1718.4.1.8.5.1.2.1.1.{outlet}", Value: 3},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.1718.4.1.8.3.1.1.1.1.{outlet}", On: []int{1}, Off: []int{2}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.1718.4.1.8.3.1.7.1.1.{outlet}", Scale: 1},
		Source:      "Sentry4-MIB st4OutletControlAction, st4OutletState, st4OutletActivePower (librenms/librenms mibs/sentry/Sentry4-MIB); Ironic SNMPDriverServerTechSentry4",
	},

	// Vertiv / Geist rack PDU (v5 "IMD" firmware).
	// VERTIV-V5-MIB (librenms/librenms mibs/vertiv/VERTIV-V5-MIB; same tables in GEIST-V5-MIB,
	//   ZoEplA/observium mibs/geist/GEIST-V5-MIB): vertiv ::= { enterprises 21239 }, v5 ::= { vertiv 5 },
	//   imd ::= { v5 2 }, pdu ::= { imd 3 }; pduOutletSwitchTable ::= { pdu 5 },
	//   pduOutletMeterTable ::= { pdu 6 }; single index pduOutletSwitchIndex / pduOutletMeterIndex.
	//   pduOutletSwitchControl (col 6): cancel(1) on(2) off(4) reboot(6); GETs return none(8).
	//     Only accepted when the outlet is in manual mode (inconsistentValue otherwise).
	//   pduOutletSwitchState (col 4): on(1) off(2) on2off(3) off2on(4) rebootOn(5) rebootOff(6)
	//     unavailable(7); per the MIB text 3 and 5 are "outlet is on", 4 and 6 "outlet is off";
	//     on2off(3) and off2on(4) are transitions (pending off and pending on).
	//     (Ironic maps 1,3 / 2,4 and defines rebootOff = 5 by mistake.)
	//   pduOutletMeterRealPower (col 12): UNITS "watts". Assumes the meter row index equals the switch
	//     row index (true when every outlet is both switched and metered).
	//   sysObjectID prefix: vertiv/geist enterprise 21239.
	{
		Name:        "vertivgeist_pdu",
		Description: "Vertiv/Geist rack PDU (VERTIV-V5-MIB / GEIST-V5-MIB pduOutletSwitchTable)",
		SysObjectID: "1.3.6.1.4.1.21239",
		On:          Command{OID: "1.3.6.1.4.1.21239.5.2.3.5.1.6.{outlet}", Value: 2},
		Off:         Command{OID: "1.3.6.1.4.1.21239.5.2.3.5.1.6.{outlet}", Value: 4},
		Reboot:      Command{OID: "1.3.6.1.4.1.21239.5.2.3.5.1.6.{outlet}", Value: 6},
		Status:      StatusColumn{OID: "1.3.6.1.4.1.21239.5.2.3.5.1.4.{outlet}", On: []int{1, 5}, Off: []int{2, 6}, PendingOff: []int{3}, PendingOn: []int{4}},
		Power:       &MeterColumn{OID: "1.3.6.1.4.1.21239.5.2.3.6.1.12.{outlet}", Scale: 1},
		Source:      "VERTIV-V5-MIB pduOutletSwitchControl, pduOutletSwitchState, pduOutletMeterRealPower (librenms/librenms mibs/vertiv/VERTIV-V5-MIB; ZoEplA/observium mibs/geist/GEIST-V5-MIB); Ironic SNMPDriverVertivGeistPDU",
	},
}
