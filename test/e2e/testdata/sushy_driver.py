"""Drives powerjockey's Redfish service with sushy, as Ironic's redfish
driver does, and prints one JSON object per step on stdout.

usage: sushy_driver.py URL VERIFY USER PASSWORD STEPS_JSON [AUTH]

VERIFY is a CA bundle path or "false". AUTH is "auto" (Ironic's default:
a session, else HTTP basic) or "basic". STEPS_JSON is a list of steps:
  {"op": "system", "id": "/redfish/v1/Systems/x"}   select a system (no id: the only one)
  {"op": "read"}                                    refresh and report the system
  {"op": "reset", "value": "On"}                    System.reset_system
  {"op": "boot", "target": "Pxe", "enabled": "Once", "mode": "UEFI"}
                                                    System.set_system_boot_options (any subset)
  {"op": "wait_power", "value": "On", "timeout": 10}
  {"op": "systems"}                                 identities in the Systems collection
  {"op": "links"}                                   the system's managers and chassis
  {"op": "inspect"}                                 what Ironic's redfish inspection reads
                                                    (NICs, memory, processors, disks, boot mode)
  {"op": "indicator", "value": "Blinking"}          System.set_indicator_led, read back
  {"op": "power"}                                   the chassis' power supplies (Ironic's sensor data)
  {"op": "vmedia_insert", "url": "http://..."}      Ironic's redfish-virtual-media insertion of a CD
                                                    (ironic.drivers.modules.redfish.boot._insert_vmedia)
  {"op": "vmedia_eject"}                            its ejection of every CD (_eject_vmedia)
  {"op": "vmedia"}                                  the managers' virtual media as sushy reads them
A step that raises reports {"error", "exc", "status"} and the run goes on.
"""

import json
import sys
import time

import sushy


def state(system):
    boot = system.boot
    return {
        "id": system.identity,
        "uuid": system.uuid,
        "power_state": system.power_state.value if system.power_state else None,
        "boot": {
            "target": boot.target.value if boot.target else None,
            "enabled": boot.enabled.value if boot.enabled else None,
            "mode": boot.mode.value if boot.mode else None,
            "allowed": sorted(boot.allowed_values or []),
        },
        "resets": sorted(v.value for v in system.get_allowed_reset_system_values()),
        "etag": system._get_etag(),
    }


def step(conn, system, s):
    op = s["op"]
    if op == "system":
        system = conn.get_system(s.get("id"))
        return system, state(system)
    if op == "read":
        system.refresh()
        return system, state(system)
    if op == "reset":
        system.reset_system(sushy.ResetType(s["value"]))
        return system, {"ok": True}
    if op == "boot":
        kw = {}
        if "target" in s:
            kw["target"] = sushy.BootSource(s["target"])
        if "enabled" in s:
            kw["enabled"] = sushy.BootSourceOverrideEnabled(s["enabled"])
        if "mode" in s:
            kw["mode"] = sushy.BootSourceOverrideMode(s["mode"])
        system.set_system_boot_options(**kw)
        system.refresh()
        return system, state(system)
    if op == "wait_power":
        deadline = time.monotonic() + s.get("timeout", 10)
        start = time.monotonic()
        while True:
            system.refresh()
            ps = system.power_state.value if system.power_state else None
            if ps == s["value"] or time.monotonic() > deadline:
                return system, {"power_state": ps, "waited": round(time.monotonic() - start, 2)}
            time.sleep(0.2)
    if op == "systems":
        return system, {"systems": [m.identity for m in conn.get_system_collection().get_members()]}
    if op == "links":
        return system, {"managers": [m.identity for m in system.managers],
                        "chassis": [c.identity for c in system.chassis]}
    if op == "inspect":
        # As ironic.drivers.modules.redfish.inspect and redfish.utils
        # get_enabled_macs read them.
        procs = system.processors.summary if system.processors else None
        disks = system.simple_storage.disks_sizes_bytes if system.simple_storage else None
        return system, {"macs": {mac: st.value for mac, st in system.ethernet_interfaces.summary.items()},
                        "memory_gib": system.memory_summary.size_gib if system.memory_summary else None,
                        "cpus": procs.count if procs else None,
                        "arch": procs.architecture.value if procs and procs.architecture else None,
                        "disks": disks,
                        "boot": {"mode": system.boot.mode.value if system.boot.mode else None}}
    if op == "indicator":
        system.set_indicator_led(sushy.IndicatorLED(s["value"]))
        system.refresh()
        chassis = system.chassis[0]
        return system, {"indicator": system.indicator_led.value if system.indicator_led else None,
                        "chassis_indicator": chassis.indicator_led.value if chassis.indicator_led else None}
    if op == "power":
        power = system.chassis[0].power
        return system, {"supplies": [{"id": ps.identity, "name": ps.name,
                                      "state": ps.status.state.value if ps.status and ps.status.state else None,
                                      "health": ps.status.health.value if ps.status and ps.status.health else None}
                                     for ps in power.power_supplies]}
    if op in ("vmedia_insert", "vmedia_eject"):
        # Ironic's own code, imported only when needed (it takes a second).
        from ironic.drivers.modules.redfish import boot as redfish_boot

        class Node:
            uuid = system.identity

        class Task:
            node = Node()

        if op == "vmedia_insert":
            redfish_boot._insert_vmedia(Task(), system.managers, s["url"], sushy.VIRTUAL_MEDIA_CD)
        else:
            redfish_boot._eject_vmedia(Task(), system.managers, sushy.VIRTUAL_MEDIA_CD)
        return system, {"vmedia": vmedia(system)}
    if op == "vmedia":
        return system, {"vmedia": vmedia(system)}
    raise ValueError("unknown op %r" % op)


def vmedia(system):
    out = []
    for manager in system.managers:
        for v in manager.virtual_media.get_members():
            out.append({"id": v.identity, "image": v.image, "inserted": v.inserted,
                        "media_types": sorted(t.value for t in v.media_types),
                        "connected_via": v.connected_via.value if v.connected_via else None,
                        "transfer_method": v.transfer_method.value if v.transfer_method else None})
    return out


def main():
    url, verify, user, password, steps = sys.argv[1:6]
    auth = sys.argv[6] if len(sys.argv) > 6 else "auto"
    if verify == "false":
        verify = False
    if auth == "basic":
        conn = sushy.Sushy(url, auth=sushy.auth.BasicAuth(username=user, password=password), verify=verify)
    else:
        conn = sushy.Sushy(url, username=user, password=password, verify=verify)
    session = conn._auth.get_session_key() is not None if hasattr(conn._auth, "get_session_key") else False
    print(json.dumps({"op": "connect", "session": session, "redfish_version": conn.redfish_version}), flush=True)
    system = None
    for s in json.loads(steps):
        try:
            system, out = step(conn, system, s)
        except Exception as e:  # report and go on, as a test wants to see it
            out = {"error": str(e), "exc": type(e).__name__, "status": getattr(e, "status_code", None)}
        out["op"] = s["op"]
        print(json.dumps(out), flush=True)
    # End the session now rather than at interpreter shutdown, when sushy
    # can no longer make requests.
    conn._auth.close()


if __name__ == "__main__":
    main()
