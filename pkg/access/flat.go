package access

import (
	"bytes"
	"strings"
)

// parseFlat reads a membership file written in the flat form nearly every
// groups file has, one user a line (NAME: [G, G], NAME: G or NAME: []),
// with blank and comment lines, in one pass: a YAML decoder takes 1.5 to
// 2.3 s and 108 MB for 100,000 users, and a one-shot rag search reads the
// file at every run. ok is false for anything else (quotes, anchors,
// indentation, comments after a value, a repeated user, a bad name, a
// value YAML reads as null), which ParseMembership then decodes as YAML:
// FuzzParseFlat checks that whatever this accepts, YAML reads the same.
func parseFlat(data []byte) (m Membership, ok bool) {
	if !plainText(data) {
		return nil, false
	}
	m = Membership{}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimRight(line, " ")) == 0 || line[0] == '#' {
			continue
		}
		user, groups, ok := flatLine(string(line))
		if !ok {
			return nil, false
		}
		if _, dup := m[user]; dup {
			return nil, false
		}
		m[user] = groups
	}
	return m, true
}

// plainText reports whether data is printable ASCII lines: YAML refuses
// some bytes even in a comment, and reads a lone CR as a line break.
func plainText(data []byte) bool {
	for i, c := range data {
		switch {
		case c == '\n' || c == '\t':
		case c == '\r':
			if i+1 >= len(data) || data[i+1] != '\n' {
				return false
			}
		case c < 0x20 || c >= 0x7f:
			return false
		}
	}
	return true
}

// flatLine reads NAME: [G, G], NAME: G or NAME: [].
func flatLine(line string) (user string, groups []string, ok bool) {
	user, value, found := strings.Cut(line, ": ")
	if !found || !flatToken(user) {
		return "", nil, false
	}
	value = strings.TrimRight(value, " ")
	if list, isList := strings.CutPrefix(value, "["); isList {
		list, closed := strings.CutSuffix(list, "]")
		if !closed {
			return "", nil, false
		}
		if strings.TrimSpace(list) != "" {
			for _, g := range strings.Split(list, ",") {
				if g = strings.Trim(g, " "); !flatToken(g) {
					return "", nil, false
				}
				groups = append(groups, g)
			}
		}
	} else {
		if !flatToken(value) {
			return "", nil, false
		}
		groups = []string{value}
	}
	groups = Normalize(groups)
	if groups == nil {
		groups = []string{}
	}
	return user, groups, true
}

// flatToken reports whether s is a NAME that YAML reads as the string it
// is: name bytes, starting with a letter, digit or underscore (YAML gives
// "-", ".", "@" and "+" first other meanings or none), not null, within
// MaxName.
func flatToken(s string) bool {
	if s == "" || len(s) > MaxName || s == "null" || s == "Null" || s == "NULL" {
		return false
	}
	c := s[0]
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return false
		}
	}
	return true
}
