package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/powerjockey/powerjockey/pkg/node"
)

// maxBody bounds every request body: the largest legitimate one (a boot
// PATCH) is well under a hundred bytes.
const maxBody = 16 << 10

// member is one name/value pair of a JSON object, in document order.
type member struct {
	name string
	raw  json.RawMessage
}

// errNotObject is a body that is JSON but not an object.
var errNotObject = errors.New("the request body must be a JSON object")

// objectMembers reads data as exactly one JSON object and returns its
// members in order. Duplicate names are kept (the caller reports them);
// anything but one well-formed object is an error.
func objectMembers(data []byte) ([]member, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("the request body is empty")
	}
	if err != nil {
		return nil, syntaxDetail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxDetail(err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("malformed object member name")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxDetail(err)
		}
		out = append(out, member{name: name, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, syntaxDetail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON object")
	}
	return out, nil
}

func syntaxDetail(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v (at byte %d)", se, se.Offset)
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return errors.New("the JSON document ends early")
	}
	return err
}

// malformed is the 400 answer to a body that is not one JSON object.
func malformed(err error) *apiError {
	return newError(http.StatusBadRequest, msg("MalformedJSON")).withDetail("Malformed JSON: " + err.Error() + ".")
}

// jsonString decodes raw as a JSON string; ok is false for any other type
// (null included).
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// argValue renders a JSON value for a MessageArgs entry, bounded in length.
func argValue(raw json.RawMessage) string {
	if s, ok := jsonString(raw); ok {
		return truncate(s)
	}
	return truncate(string(raw))
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// bootPatch is the Boot part of a decoded PATCH of a ComputerSystem: the
// properties to change (nil: unchanged), as Redfish enumeration values.
type bootPatch struct {
	Target, Enabled, Mode *string
}

// indicatorPatch is the indicator part of a decoded PATCH of a System or
// Chassis (nil: unchanged). Both forms may be given if they agree.
type indicatorPatch struct {
	// LED is IndicatorLED: Lit, Blinking or Off.
	LED *string
	// Locate is LocationIndicatorActive.
	Locate *bool
}

// empty reports whether the patch changes nothing.
func (p indicatorPatch) empty() bool { return p.LED == nil && p.Locate == nil }

// resolve is the indicator state the patch asks for, given the current
// one; ok is false when it asks for nothing. LocationIndicatorActive true
// keeps a lit or blinking indicator as it is and makes an off one blink.
func (p indicatorPatch) resolve(cur node.Indicator) (node.Indicator, bool) {
	switch {
	case p.LED != nil:
		return node.Indicator(*p.LED), true
	case p.Locate == nil:
		return cur, false
	case !*p.Locate:
		return node.IndicatorOff, true
	case cur == node.IndicatorOff:
		return node.IndicatorBlinking, true
	}
	return cur, true
}

// systemPatch is a decoded PATCH of a ComputerSystem.
type systemPatch struct {
	bootPatch
	indicatorPatch
}

// changesBoot reports whether the patch names a Boot property.
func (p bootPatch) changesBoot() bool { return p.Target != nil || p.Enabled != nil || p.Mode != nil }

// empty reports whether the patch changes nothing.
func (p systemPatch) empty() bool { return !p.changesBoot() && p.indicatorPatch.empty() }

// systemReadOnly are ComputerSystem properties this service reports and a
// PATCH may not set.
var systemReadOnly = map[string]bool{
	"Id": true, "Name": true, "Description": true, "UUID": true, "SystemType": true,
	"PowerState": true, "Status": true, "Actions": true, "Links": true,
	"EthernetInterfaces": true, "LogServices": true, "Processors": true, "SimpleStorage": true,
	"MemorySummary": true, "ProcessorSummary": true, "IndicatorLED@Redfish.AllowableValues": true,
}

// chassisReadOnly are the Chassis properties this service reports and a
// PATCH may not set.
var chassisReadOnly = map[string]bool{
	"Id": true, "Name": true, "Description": true, "UUID": true, "ChassisType": true,
	"PowerState": true, "Status": true, "Links": true, "Power": true,
	"IndicatorLED@Redfish.AllowableValues": true,
}

// bootWritable maps the writable Boot properties to their allowable values.
var bootWritable = map[string][]string{
	"BootSourceOverrideTarget":  targetValues,
	"BootSourceOverrideEnabled": enabledValues,
	"BootSourceOverrideMode":    modeValues,
}

// decodeSystemPatch decodes a PATCH of a ComputerSystem strictly: Boot's
// three override properties and the indicator (IndicatorLED,
// LocationIndicatorActive), each of the right type and among its
// allowable values; every other property is an error. All problems are
// reported together; nothing is applied unless there are none.
func decodeSystemPatch(data []byte) (systemPatch, *apiError) {
	var p systemPatch
	members, err := objectMembers(data)
	if err != nil {
		return p, malformed(err)
	}
	if len(members) == 0 {
		return p, newError(http.StatusBadRequest, msg("EmptyJSON"))
	}
	var errs []message
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.name] {
			errs = append(errs, msg("PropertyDuplicate", truncate(m.name)).related("#/"+truncate(m.name)))
			continue
		}
		seen[m.name] = true
		switch {
		case strings.HasPrefix(m.name, "@odata."):
			// OData annotations (a resource sent back whole) are not
			// properties to change: ignored, so that a body of nothing
			// else is NoOperation, as DSP0266 asks.
		case m.name == "Boot":
			errs = append(errs, decodeBoot(m.raw, &p.bootPatch)...)
		case m.name == "IndicatorLED" || m.name == "LocationIndicatorActive":
			errs = append(errs, decodeIndicator(m, &p.indicatorPatch)...)
		case systemReadOnly[m.name]:
			errs = append(errs, msg("PropertyNotWritable", m.name).related("#/"+m.name))
		default:
			errs = append(errs, msg("PropertyUnknown", truncate(m.name)).related("#/"+truncate(m.name)))
		}
	}
	errs = append(errs, p.indicatorPatch.conflict()...)
	if len(errs) == 0 && p.empty() {
		errs = append(errs, msg("NoOperation"))
	}
	if len(errs) > 0 {
		return systemPatch{}, newError(http.StatusBadRequest, errs...)
	}
	return p, nil
}

// decodeChassisPatch decodes a PATCH of a Chassis strictly: only the
// indicator may be set.
func decodeChassisPatch(data []byte) (indicatorPatch, *apiError) {
	var p indicatorPatch
	members, err := objectMembers(data)
	if err != nil {
		return p, malformed(err)
	}
	if len(members) == 0 {
		return p, newError(http.StatusBadRequest, msg("EmptyJSON"))
	}
	var errs []message
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.name] {
			errs = append(errs, msg("PropertyDuplicate", truncate(m.name)).related("#/"+truncate(m.name)))
			continue
		}
		seen[m.name] = true
		switch {
		case strings.HasPrefix(m.name, "@odata."):
		case m.name == "IndicatorLED" || m.name == "LocationIndicatorActive":
			errs = append(errs, decodeIndicator(m, &p)...)
		case chassisReadOnly[m.name]:
			errs = append(errs, msg("PropertyNotWritable", m.name).related("#/"+m.name))
		default:
			errs = append(errs, msg("PropertyUnknown", truncate(m.name)).related("#/"+truncate(m.name)))
		}
	}
	errs = append(errs, p.conflict()...)
	if len(errs) == 0 && p.empty() {
		errs = append(errs, msg("NoOperation"))
	}
	if len(errs) > 0 {
		return indicatorPatch{}, newError(http.StatusBadRequest, errs...)
	}
	return p, nil
}

// decodeIndicator decodes IndicatorLED (a string among indicatorValues) or
// LocationIndicatorActive (a boolean).
func decodeIndicator(m member, p *indicatorPatch) []message {
	ptr := "#/" + m.name
	if m.name == "LocationIndicatorActive" {
		var b bool
		if string(m.raw) != "true" && string(m.raw) != "false" {
			return []message{msg("PropertyValueTypeError", argValue(m.raw), m.name).related(ptr)}
		}
		b = string(m.raw) == "true"
		p.Locate = &b
		return nil
	}
	v, ok := jsonString(m.raw)
	if !ok {
		return []message{msg("PropertyValueTypeError", argValue(m.raw), m.name).related(ptr)}
	}
	if !contains(indicatorValues, v) {
		return []message{msg("PropertyValueNotInList", truncate(v), m.name).related(ptr)}
	}
	p.LED = &v
	return nil
}

// conflict reports IndicatorLED and LocationIndicatorActive asking for
// different things.
func (p indicatorPatch) conflict() []message {
	if p.LED == nil || p.Locate == nil || (*p.LED != "Off") == *p.Locate {
		return nil
	}
	return []message{msg("PropertyValueConflict", "LocationIndicatorActive", "IndicatorLED").
		related("#/LocationIndicatorActive", "#/IndicatorLED")}
}

// decodeClearLog decodes the body of LogService.ClearLog: no body, or an
// empty object (the action takes no parameter this service supports).
func decodeClearLog(data []byte) *apiError {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	members, err := objectMembers(data)
	if err != nil {
		return malformed(err)
	}
	var errs []message
	for _, m := range members {
		errs = append(errs, msg("ActionParameterUnknown", clearLogAction, truncate(m.name)).related("#/"+truncate(m.name)))
	}
	if len(errs) > 0 {
		return newError(http.StatusBadRequest, errs...)
	}
	return nil
}

func decodeBoot(raw json.RawMessage, p *bootPatch) []message {
	members, err := objectMembers(raw)
	if err != nil {
		return []message{msg("PropertyValueTypeError", argValue(raw), "Boot").related("#/Boot")}
	}
	var errs []message
	seen := map[string]bool{}
	for _, m := range members {
		path := "Boot/" + truncate(m.name)
		ptr := "#/" + path
		if seen[m.name] {
			errs = append(errs, msg("PropertyDuplicate", path).related(ptr))
			continue
		}
		seen[m.name] = true
		allowed, writable := bootWritable[m.name]
		if !writable {
			if _, known := bootWritable[stripAnnotation(m.name)]; known {
				errs = append(errs, msg("PropertyNotWritable", path).related(ptr))
			} else {
				errs = append(errs, msg("PropertyUnknown", path).related(ptr))
			}
			continue
		}
		v, ok := jsonString(m.raw)
		if !ok {
			errs = append(errs, msg("PropertyValueTypeError", argValue(m.raw), path).related(ptr))
			continue
		}
		if !contains(allowed, v) {
			errs = append(errs, msg("PropertyValueNotInList", truncate(v), path).related(ptr))
			continue
		}
		switch m.name {
		case "BootSourceOverrideTarget":
			p.Target = &v
		case "BootSourceOverrideEnabled":
			p.Enabled = &v
		case "BootSourceOverrideMode":
			p.Mode = &v
		}
	}
	return errs
}

// stripAnnotation turns "Prop@Redfish.AllowableValues" into "Prop".
func stripAnnotation(name string) string {
	if i := strings.IndexByte(name, '@'); i > 0 {
		return name[:i]
	}
	return name
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// resetAction is the action name used in messages.
const resetAction = "#ComputerSystem.Reset"

// decodeReset decodes the body of a ComputerSystem.Reset strictly: exactly
// the ResetType parameter, a string. Whether the value is one the node can
// honour is decided by the caller.
func decodeReset(data []byte) (string, *apiError) {
	members, err := objectMembers(data)
	if err != nil {
		return "", malformed(err)
	}
	var errs []message
	var resetType *string
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.name] {
			errs = append(errs, msg("ActionParameterDuplicate", resetAction, truncate(m.name)).related("#/"+truncate(m.name)))
			continue
		}
		seen[m.name] = true
		if m.name != "ResetType" {
			errs = append(errs, msg("ActionParameterUnknown", resetAction, truncate(m.name)).related("#/"+truncate(m.name)))
			continue
		}
		v, ok := jsonString(m.raw)
		if !ok {
			errs = append(errs, msg("ActionParameterValueTypeError", argValue(m.raw), "ResetType", resetAction).related("#/ResetType"))
			continue
		}
		resetType = &v
	}
	if resetType == nil && !seen["ResetType"] {
		errs = append(errs, msg("ActionParameterMissing", resetAction, "ResetType").related("#/ResetType"))
	}
	if len(errs) > 0 {
		return "", newError(http.StatusBadRequest, errs...)
	}
	return *resetType, nil
}

// loginRequest is a decoded session creation (POST to the Sessions collection).
type loginRequest struct {
	UserName, Password string
}

// decodeLogin decodes a session creation strictly: UserName and Password,
// both strings. The password is never echoed in a message.
func decodeLogin(data []byte) (loginRequest, *apiError) {
	var l loginRequest
	members, err := objectMembers(data)
	if err != nil {
		return l, malformed(err)
	}
	var errs []message
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.name] {
			errs = append(errs, msg("PropertyDuplicate", truncate(m.name)).related("#/"+truncate(m.name)))
			continue
		}
		seen[m.name] = true
		switch m.name {
		case "UserName", "Password":
			v, ok := jsonString(m.raw)
			if !ok {
				shown := argValue(m.raw)
				if m.name == "Password" {
					shown = "(hidden)"
				}
				errs = append(errs, msg("PropertyValueTypeError", shown, m.name).related("#/"+m.name))
				continue
			}
			if m.name == "UserName" {
				l.UserName = v
			} else {
				l.Password = v
			}
		default:
			errs = append(errs, msg("PropertyUnknown", truncate(m.name)).related("#/"+truncate(m.name)))
		}
	}
	for _, req := range []string{"UserName", "Password"} {
		if !seen[req] {
			errs = append(errs, msg("CreateFailedMissingReqProperties", req).related("#/"+req))
		}
	}
	if len(errs) > 0 {
		return loginRequest{}, newError(http.StatusBadRequest, errs...)
	}
	return l, nil
}

// readBody reads a request body of at most maxBody bytes and checks its
// media type: JSON, or unspecified.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		return nil, newError(http.StatusUnsupportedMediaType, msg("HeaderInvalid", "Content-Type")).
			withDetail(fmt.Sprintf("Content-Type %q is not supported: send application/json (curl: -H 'Content-Type: application/json').", truncate(ct)))
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newError(http.StatusRequestEntityTooLarge, msg("PayloadTooLarge")).
				withDetail(fmt.Sprintf("The request body exceeds %d bytes.", maxBody))
		}
		return nil, malformed(errors.New("the request body could not be read"))
	}
	return data, nil
}

func isJSONMediaType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}
