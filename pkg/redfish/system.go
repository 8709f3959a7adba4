package redfish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/powerjockey/powerjockey/pkg/node"
	"github.com/powerjockey/powerjockey/pkg/power"
)

// Boot override targets: the Redfish BootSource values a client may set,
// and the node devices they are. IPMI's Get System Boot Options shows the
// same node.Boot.
var targetToDevice = map[string]node.BootDevice{
	"None":        node.BootNone,
	"Pxe":         node.BootPXE,
	"Hdd":         node.BootDisk,
	"Cd":          node.BootCDROM,
	"BiosSetup":   node.BootBIOS,
	"Diags":       node.BootDiag,
	"Floppy":      node.BootFloppy,
	"RemoteDrive": node.BootRemoteDisk,
}

// targetValues are the allowable BootSourceOverrideTarget values, in the
// order they are listed.
var targetValues = []string{"None", "Pxe", "Hdd", "Cd", "BiosSetup", "Diags", "Floppy", "RemoteDrive"}

// deviceToTarget shows a node device as Redfish: the inverse of
// targetToDevice, plus the nearest value for devices only IPMI can set.
var deviceToTarget = map[node.BootDevice]string{
	node.BootNone:         "None",
	node.BootPXE:          "Pxe",
	node.BootDisk:         "Hdd",
	node.BootCDROM:        "Cd",
	node.BootBIOS:         "BiosSetup",
	node.BootDiag:         "Diags",
	node.BootFloppy:       "Floppy",
	node.BootRemoteDisk:   "RemoteDrive",
	node.BootSafe:         "Hdd",    // IPMI: default hard drive, safe mode
	node.BootRemoteCDROM:  "Cd",     // IPMI: remotely connected CD/DVD
	node.BootRemoteFloppy: "Floppy", // IPMI: remotely connected floppy
	node.BootRemoteMedia:  "Cd",     // IPMI: remotely connected primary removable media
}

// Allowable BootSourceOverrideEnabled and BootSourceOverrideMode values.
var (
	enabledValues = []string{"Once", "Continuous", "Disabled"}
	modeValues    = []string{"UEFI", "Legacy"}
)

// redfishBoot is a node.Boot as the three Redfish override properties.
type redfishBoot struct {
	target, enabled, mode string
}

func toRedfish(b node.Boot) redfishBoot {
	rb := redfishBoot{target: deviceToTarget[b.Device], enabled: "Disabled", mode: "Legacy"}
	if rb.target == "" {
		rb.target = "None"
	}
	switch {
	case b.Valid && b.Persistent:
		rb.enabled = "Continuous"
	case b.Valid:
		rb.enabled = "Once"
	}
	if b.UEFI {
		rb.mode = "UEFI"
	}
	return rb
}

// apply changes b as p asks, leaving everything else (IPMI's raw bits
// included) as it was.
func (p bootPatch) apply(b *node.Boot) {
	if p.Target != nil {
		b.Device = targetToDevice[*p.Target]
	}
	if p.Enabled != nil {
		switch *p.Enabled {
		case "Disabled":
			b.Valid = false
		case "Once":
			b.Valid, b.Persistent = true, false
		case "Continuous":
			b.Valid, b.Persistent = true, true
		}
	}
	if p.Mode != nil {
		b.UEFI = *p.Mode == "UEFI"
	}
}

// systemETag is the System's weak ETag. It versions what a PATCH can
// change (the boot override as Redfish shows it, and the indicator), so
// that a power state changing underneath does not fail a client's
// If-Match. Only letters and digits appear between the quotes: sushy's
// weak-to-strong retry expects that.
func systemETag(rb redfishBoot, ind node.Indicator) string {
	return weakTag(rb.target, rb.enabled, rb.mode, string(ind))
}

// weakTag is a weak ETag over the given values.
func weakTag(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return `W/"` + hex.EncodeToString(h.Sum(nil)[:8]) + `"`
}

// ifMatch reports whether the If-Match header values (absent: true) match
// the current ETag. Weak comparison: Redfish clients send back the weak
// ETag they were given.
func ifMatch(values []string, current string) bool {
	if len(values) == 0 {
		return true
	}
	cur := strings.TrimPrefix(current, "W/")
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == cur {
				return true
			}
		}
	}
	return false
}

// resetTypes maps the ResetType values the service can offer to node
// actions, in the order they are listed. GracefulRestart is a Reset: a
// machine without a BMC cannot be asked to restart its OS, so it is off,
// pause, on (or the node's exec reset hook); docs/redfish.md says so.
var resetTypes = []struct {
	name   string
	action power.Action
}{
	{"On", power.On},
	{"ForceOff", power.Off},
	{"GracefulShutdown", power.SoftOff},
	{"ForceRestart", power.Reset},
	{"GracefulRestart", power.Reset},
	{"PowerCycle", power.Cycle},
	{"Nmi", power.Diag},
}

// otherResetTypes are Redfish ResetType values no node here performs.
var otherResetTypes = map[string]bool{"ForceOn": true, "PushPowerButton": true, "Suspend": true, "Pause": true, "Resume": true}

func resetActionFor(name string) (power.Action, bool) {
	for _, rt := range resetTypes {
		if rt.name == name {
			return rt.action, true
		}
	}
	return 0, false
}

// allowedResets lists the ResetTypes the node honours: performed by its
// means or announced by the manual fallback.
func allowedResets(sys System) []string {
	out := []string{}
	for _, rt := range resetTypes {
		if sys.Supports(rt.action).Honoured() {
			out = append(out, rt.name)
		}
	}
	return out
}

// statusTimeout bounds a power status read for a GET (the node itself
// answers within its StatusWait, 1.5 s by default).
const statusTimeout = 3 * time.Second

// actionTimeout bounds one Reset: long enough for an exec hook, short of
// what sushy waits (60 s).
const actionTimeout = 55 * time.Second

// indicatorValues are the IndicatorLED values a client may set.
var indicatorValues = []string{"Lit", "Blinking", "Off"}

// systemResource renders a node as a ComputerSystem and returns its ETag.
func (c *call) systemResource(ctx context.Context) (map[string]any, string) {
	e := c.entry
	sys := e.System
	name := sys.Name()
	path := SystemPath(name)
	ph := assessPower(ctx, sys)
	rb := toRedfish(sys.Boot())
	ind := sys.Indicator()
	tag := systemETag(rb, ind)
	body := map[string]any{
		"@odata.type": typeSystem,
		"@odata.id":   path,
		"Id":          name,
		"Name":        name,
		"Description": "Machine " + name + ", its power managed by powerjockey",
		"SystemType":  "Physical",
		"UUID":        sys.GUID().String(),
		// The truth from the sensors. When they cannot tell, PowerState
		// is null: sushy maps it to None and Ironic to "no power state",
		// never to a guess, while the rest of the resource (boot
		// override, reset) stays usable. A 5xx here would make sushy
		// retry the GET ten times, three seconds apart, and fail the
		// boot-device calls too.
		"PowerState": ph.powerState(),
		"Status":     ph.status(),
		// There is no indicator light: the state is recorded and logged.
		"IndicatorLED":                         string(ind),
		"IndicatorLED@Redfish.AllowableValues": indicatorValues,
		"LocationIndicatorActive":              ind != node.IndicatorOff,
		"Boot": map[string]any{
			"BootSourceOverrideTarget":                          rb.target,
			"BootSourceOverrideTarget@Redfish.AllowableValues":  targetValues,
			"BootSourceOverrideEnabled":                         rb.enabled,
			"BootSourceOverrideEnabled@Redfish.AllowableValues": enabledValues,
			"BootSourceOverrideMode":                            rb.mode,
			"BootSourceOverrideMode@Redfish.AllowableValues":    modeValues,
		},
		"EthernetInterfaces": odataID(path + "/EthernetInterfaces"),
		"LogServices":        odataID(path + "/LogServices"),
		"Actions": map[string]any{
			resetAction: map[string]any{
				"target":                            path + "/Actions/ComputerSystem.Reset",
				"ResetType@Redfish.AllowableValues": allowedResets(sys),
			},
		},
		"Links": map[string]any{
			"ManagedBy": []any{odataID(managerPath(name))},
			"Chassis":   []any{odataID(chassisPath(name))},
		},
	}
	addInventory(body, path, e.Hardware)
	return body, tag
}

func serveSystem(c *call) *apiError {
	body, tag := c.systemResource(c.r.Context())
	return c.resource(http.StatusOK, body, tag)
}

// patchSystem changes the boot override and the indicator, after the
// whole body was validated and If-Match checked; nothing is applied
// unless everything can be. A Redfish "Once" override does not lapse
// after IPMI's 60 seconds.
func patchSystem(c *call) *apiError {
	data, aerr := readBody(c.w, c.r)
	if aerr != nil {
		return aerr
	}
	patch, aerr := decodeSystemPatch(data)
	if aerr != nil {
		return aerr
	}
	sys := c.entry.System
	mu := c.s.nodeLock(sys.Name())
	mu.Lock()
	defer mu.Unlock()
	conditions := c.r.Header.Values("If-Match")
	before, ind := sys.Boot(), sys.Indicator()
	if cur := systemETag(toRedfish(before), ind); !ifMatch(conditions, cur) {
		return preconditionFailed(cur)
	}
	if patch.changesBoot() {
		// A PATCH of the mode alone leaves an IPMI-armed next-boot
		// override its remaining lapse; any other change arms it without
		// one.
		var validFor time.Duration
		if patch.Target == nil && patch.Enabled == nil && !before.ExpiresAt.IsZero() {
			validFor = max(time.Until(before.ExpiresAt), time.Millisecond)
		}
		mismatch := false
		err := sys.UpdateBoot(c.r.Context(), func(b *node.Boot) {
			// Check again under the node's lock: an IPMI client may have
			// changed the override since the check above.
			if !ifMatch(conditions, systemETag(toRedfish(*b), ind)) {
				mismatch = true
				return
			}
			patch.apply(b)
		}, validFor)
		if mismatch {
			return preconditionFailed(systemETag(toRedfish(sys.Boot()), ind))
		}
		if err != nil {
			c.s.log.Error("redfish boot override not saved", "node", sys.Name(), "err", err)
			return newError(http.StatusInternalServerError, msg("PropertyNotUpdated", "Boot")).
				withDetail("The boot override could not be saved: " + err.Error())
		}
	}
	if aerr := c.setIndicator(patch.indicatorPatch); aerr != nil {
		return aerr
	}
	c.s.log.Debug("redfish system patched", "node", sys.Name(), "user", c.p.user, "remote", c.r.RemoteAddr)
	body, tag := c.systemResource(c.r.Context())
	return c.resource(http.StatusOK, body, tag)
}

// setIndicator applies the indicator part of a PATCH, if any.
func (c *call) setIndicator(p indicatorPatch) *apiError {
	sys := c.entry.System
	want, ok := p.resolve(sys.Indicator())
	if !ok {
		return nil
	}
	if err := sys.SetIndicator(c.r.Context(), want); err != nil {
		c.s.log.Error("redfish indicator not saved", "node", sys.Name(), "err", err)
		return newError(http.StatusInternalServerError, msg("PropertyNotUpdated", "IndicatorLED")).
			withDetail("The indicator state could not be saved: " + err.Error())
	}
	return nil
}

func preconditionFailed(current string) *apiError {
	return newError(http.StatusPreconditionFailed, msg("PreconditionFailed")).
		withDetail("The If-Match ETag does not match the resource's current ETag "+current+"; GET it and retry.").
		withHeader("ETag", current)
}

// resetSystem performs ComputerSystem.Reset. It answers 204 once the node
// confirmed the action's first step (the outlet switched, the magic packet
// sent, the hook exited 0, or the manual action announced), and an error
// whenever the node did not: never a success it cannot vouch for.
func resetSystem(c *call) *apiError {
	data, aerr := readBody(c.w, c.r)
	if aerr != nil {
		return aerr
	}
	rt, aerr := decodeReset(data)
	if aerr != nil {
		return aerr
	}
	sys := c.entry.System
	allowed := allowedResets(sys)
	a, known := resetActionFor(rt)
	if !known {
		if otherResetTypes[rt] {
			return newError(http.StatusBadRequest, msg("ActionParameterNotSupported", "ResetType", resetAction).related("#/ResetType")).
				withDetail(fmt.Sprintf("ResetType %s is not supported by system %s; allowable values: %s.", rt, sys.Name(), strings.Join(allowed, ", ")))
		}
		return newError(http.StatusBadRequest, msg("ActionParameterValueNotInList", truncate(rt), "ResetType", resetAction).related("#/ResetType"))
	}
	if !sys.Supports(a).Honoured() {
		return unsupported(sys.Name(), rt, allowed, nil)
	}
	c.s.log.Debug("redfish reset", "node", sys.Name(), "reset_type", rt, "action", a.String(), "user", c.p.user, "remote", c.r.RemoteAddr)
	ctx, cancel := context.WithTimeout(c.r.Context(), actionTimeout)
	defer cancel()
	if err := sys.Power(ctx, a); err != nil {
		return powerError(sys.Name(), rt, allowed, err)
	}
	return c.noContent()
}

func unsupported(name, rt string, allowed []string, err error) *apiError {
	detail := fmt.Sprintf("System %s cannot perform ResetType %s", name, rt)
	if rt == "Nmi" {
		detail += " (it needs an exec diag hook)"
	}
	if err != nil {
		detail += ": " + err.Error()
	}
	return newError(http.StatusBadRequest, msg("ActionParameterNotSupported", "ResetType", resetAction).related("#/ResetType")).
		withDetail(detail + "; allowable values: " + strings.Join(allowed, ", ") + ".")
}

// retryAfter is the Retry-After of a power action whose device did not
// answer: about one SNMP timeout × tries.
const retryAfter = "5"

// powerError maps a failed node action to a Redfish error: an action the
// node cannot do is the client's error (400); a device that did not answer
// in time is temporary (503); any other device failure is a bad gateway
// (502). The node's error text, which names the device, is the message.
func powerError(name, rt string, allowed []string, err error) *apiError {
	switch {
	case errors.Is(err, power.ErrUnsupported):
		return unsupported(name, rt, allowed, err)
	case errors.Is(err, power.ErrTimeout), errors.Is(err, node.ErrStale),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return newError(http.StatusServiceUnavailable,
			msg("ServiceTemporarilyUnavailable", retryAfter).withResolution("Reset "+rt+" of system "+name+" failed: "+err.Error()+". Check the node's PDU or hook and retry.")).
			withDetail(fmt.Sprintf("Reset %s of system %s failed, nothing was confirmed: %v", rt, name, err)).
			withHeader("Retry-After", retryAfter)
	default:
		return newError(http.StatusBadGateway,
			msg("GeneralError").withResolution("Reset "+rt+" of system "+name+" failed: "+err.Error()+". Check the node's PDU or hook and retry.")).
			withDetail(fmt.Sprintf("Reset %s of system %s failed: %v", rt, name, err))
	}
}
