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

// bootPatch is a decoded PATCH of a ComputerSystem: the Boot properties to
// change (nil: unchanged), as Redfish enumeration values.
type bootPatch struct {
	Target, Enabled, Mode *string
}

// empty reports whether the patch changes nothing.
func (p bootPatch) empty() bool { return p.Target == nil && p.Enabled == nil && p.Mode == nil }

// systemReadOnly are ComputerSystem properties this service reports and a
// PATCH may not set.
var systemReadOnly = map[string]bool{
	"@odata.id": true, "@odata.type": true, "@odata.etag": true, "@odata.context": true,
	"Id": true, "Name": true, "Description": true, "UUID": true, "SystemType": true,
	"PowerState": true, "Status": true, "Actions": true, "Links": true,
}

// bootWritable maps the writable Boot properties to their allowable values.
var bootWritable = map[string][]string{
	"BootSourceOverrideTarget":  targetValues,
	"BootSourceOverrideEnabled": enabledValues,
	"BootSourceOverrideMode":    modeValues,
}

// decodeSystemPatch decodes a PATCH of a ComputerSystem strictly: only
// Boot's three override properties, each a string among its allowable
// values; every other property is an error. All problems are reported
// together; nothing is applied unless there are none.
func decodeSystemPatch(data []byte) (bootPatch, *apiError) {
	var p bootPatch
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
		case m.name == "Boot":
			errs = append(errs, decodeBoot(m.raw, &p)...)
		case systemReadOnly[m.name]:
			errs = append(errs, msg("PropertyNotWritable", m.name).related("#/"+m.name))
		default:
			errs = append(errs, msg("PropertyUnknown", truncate(m.name)).related("#/"+truncate(m.name)))
		}
	}
	if len(errs) == 0 && p.empty() {
		errs = append(errs, msg("NoOperation"))
	}
	if len(errs) > 0 {
		return bootPatch{}, newError(http.StatusBadRequest, errs...)
	}
	return p, nil
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
