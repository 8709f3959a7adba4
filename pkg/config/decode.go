package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	errNotEUI48         = errors.New("want a 6-byte address like aa:bb:cc:dd:ee:ff")
	errNegativeDuration = errors.New("duration must not be negative")
)

// Error is one configuration problem, located in the file.
type Error struct {
	File string
	Line int
	Col  int
	// Key is the path of the offending key, e.g. "nodes[2].ipmi.listen".
	Key string
	Msg string
}

// Error is "file:line:col: key: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file; Load returns it so an operator
// fixes the whole file in one pass rather than one error per restart.
type Errors []*Error

// Error is every problem, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// position is where a key path's value sits in the file.
type position struct{ line, col int }

// decoder turns a yaml.Node tree into Go structs by reflection, strictly:
// it knows every key's path and line, which yaml.v3's own decoder does not
// report for unknown keys or custom types.
type decoder struct {
	file string
	pos  map[string]position
	errs Errors
	// key is the mapping key whose value is being decoded, at keyPath:
	// errors about a value point at its key, as the validator's do.
	key     *yaml.Node
	keyPath string
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Key: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

var textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

// decode fills v from n; path names v for errors.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[path] = position{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an explicit null leaves the default in place
	}
	if reflect.PointerTo(v.Type()).Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "want a scalar value, got a %s", d.kindName(n, path, v.Type()))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			var choice *choiceError
			if holdsSecret(path) {
				// Neither the value nor the parser's error (which quotes
				// it) may reach a log.
				d.errorf(n, path, "invalid value (not shown: it is a secret)")
			} else if errors.As(err, &choice) {
				at := n
				if d.key != nil && d.keyPath == path {
					at = d.key
				}
				d.errorf(at, path, "%v", err)
			} else {
				d.errorf(n, path, "invalid value %q: %v", n.Value, err)
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(n, elem.Elem(), path)
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "want a list, got a %s", d.kindName(n, path, v.Type()))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "want a string, got a %s", d.kindName(n, path, v.Type()))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "want a %s, got a %s", v.Kind(), d.kindName(n, path, v.Type()))
			return
		}
		d.decodeScalar(n, v, path)
	default:
		d.errorf(n, path, "unsupported configuration type %s", v.Type())
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	shown := strconv.Quote(n.Value)
	if holdsSecret(path) {
		shown = secretNotShown
	}
	switch v.Kind() {
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil || (n.Tag != "!!bool") {
			d.errorf(n, path, "want true or false, got %s", shown)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || n.Tag != "!!int" {
			d.errorf(n, path, "want an integer, got %s", shown)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || (n.Tag != "!!float" && n.Tag != "!!int") {
			d.errorf(n, path, "want a number, got %s", shown)
			return
		}
		v.SetFloat(f)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of keys, got a %s", d.kindName(n, path, v.Type()))
		return
	}
	fields := yamlFields(v.Type())
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		keyPath := join(path, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			if isNull(val) && mayHoldSecret(v.Type()) {
				// A bare word where keys belong ("snmp: {public}") is
				// more likely a secret in the wrong place than a key:
				// neither it nor a path ending in it is shown.
				d.errorf(k, path, "a key without a value (not shown: it may be a misplaced secret)")
				continue
			}
			d.errorf(k, keyPath, "unknown key %q%s", k.Value, suggest(k.Value, fields))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, keyPath, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		d.key, d.keyPath = k, keyPath
		d.decode(val, v.Field(idx), keyPath)
		// Record the key's own line: errors about a value point there.
		d.pos[keyPath] = position{k.Line, k.Column}
	}
}

// secretNotShown stands in an error for the value of a secret's key.
const secretNotShown = "a value (not shown: it is a secret)"

// holdsSecret reports whether the key at path holds a secret, whose value
// must not appear in error messages (they end up in logs). Keys naming a
// secret's file (password_file) are paths, shown like any other value, but
// only where a message about them quotes the path, never the content.
func holdsSecret(path string) bool {
	key := path[strings.LastIndex(path, ".")+1:]
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i] // a list of secrets: each item is one
	}
	return isSecretKey(key)
}

func isSecretKey(key string) bool {
	key = strings.ToLower(key)
	if strings.HasSuffix(key, "_file") {
		return false
	}
	for _, s := range []string{"password", "passphrase", "community", "secret", "token"} {
		if strings.Contains(key, s) {
			return true
		}
	}
	return false
}

// mayHoldSecret reports whether a value of type t holds a secret somewhere
// inside (snmp, a node's ipmi, wol; and so a node, the node list, the
// whole file): a scalar written where such a mapping belongs ("snmp:
// public") is most likely that secret, and is not echoed either.
func mayHoldSecret(t reflect.Type) bool {
	return secretTypes(t, map[reflect.Type]bool{})
}

func secretTypes(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return false
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		if isSecretKey(tag) || secretTypes(f.Type, seen) {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "")
}

// yamlFields maps YAML key names to struct field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
	}
	return m
}

// suggest offers the closest known key for a typo.
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3
	for f := range fields {
		if dist := levenshtein(key, f); dist < bestDist || (dist == bestDist && best != "" && f < best) {
			best, bestDist = f, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// kindName names what n is for an error about the key at path, of type t;
// a scalar's value is quoted unless it may be a secret.
func (d *decoder) kindName(n *yaml.Node, path string, t reflect.Type) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if holdsSecret(path) {
			return "scalar (not shown: it is a secret)"
		}
		if mayHoldSecret(t) {
			return "scalar (not shown: it may be a misplaced secret)"
		}
		return fmt.Sprintf("scalar %q", n.Value)
	default:
		return "value"
	}
}
