package main

import (
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/powerjockey/powerjockey/pkg/config"
)

// locator finds where a key path ("nodes[2].ipmi.listen") sits in a
// configuration file, so that findings only the runtime can make are
// reported like the configuration's own errors: file:line:col: key: message.
type locator struct {
	file string
	root *yaml.Node
}

func newLocator(file string) *locator {
	l := &locator{file: file}
	data, err := os.ReadFile(file)
	if err != nil {
		return l
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
		l.root = doc.Content[0]
	}
	return l
}

// finding returns an error located at key, or at the closest enclosing key
// present in the file (a default value has no line of its own).
func (l *locator) finding(key, msg string) *config.Error {
	e := &config.Error{File: l.file, Key: key, Msg: msg}
	for p := key; p != ""; p = parentKey(p) {
		if line, col, ok := l.pos(p); ok {
			e.Line, e.Col = line, col
			break
		}
	}
	return e
}

// pos returns the position of the last key of path (its key, not its value,
// as the configuration's errors do), or of the list item for "x[3]".
func (l *locator) pos(path string) (line, col int, ok bool) {
	n := l.root
	if n == nil {
		return 0, 0, false
	}
	var at *yaml.Node
	for _, part := range splitKeyPath(path) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if idx, isIndex := part.(int); isIndex {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return 0, 0, false
			}
			n = n.Content[idx]
			at = n
			continue
		}
		if n.Kind != yaml.MappingNode {
			return 0, 0, false
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part.(string) {
				at, n, found = n.Content[i], n.Content[i+1], true
				break
			}
		}
		if !found {
			return 0, 0, false
		}
	}
	if at == nil {
		return 0, 0, false
	}
	return at.Line, at.Column, true
}

// splitKeyPath turns "nodes[2].ipmi.listen" into "nodes", 2, "ipmi", "listen".
func splitKeyPath(path string) []any {
	var parts []any
	for _, seg := range strings.Split(path, ".") {
		for seg != "" {
			i := strings.IndexByte(seg, '[')
			if i < 0 {
				parts = append(parts, seg)
				break
			}
			if i > 0 {
				parts = append(parts, seg[:i])
			}
			j := strings.IndexByte(seg[i:], ']')
			if j < 0 {
				parts = append(parts, seg[i:])
				break
			}
			idx, err := strconv.Atoi(seg[i+1 : i+j])
			if err != nil {
				parts = append(parts, seg[i:i+j+1])
			} else {
				parts = append(parts, idx)
			}
			seg = seg[i+j+1:]
		}
	}
	return parts
}

func parentKey(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
