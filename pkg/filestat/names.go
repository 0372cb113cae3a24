package filestat

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A file name need not be UTF-8, but an fs.FS path, a catalog entry, a
// citation and JSON must be. A name that is not UTF-8 is therefore shown,
// recorded and cited escaped: each byte that is not part of a UTF-8
// character as %XX (hex, upper case) and, in such a name only, each % as
// %25, so that the escape is undone exactly ("caf\xe9.md" is
// "caf%E9.md"). A UTF-8 name, "100%.md" say, is always itself.

// EscapeName is name as rag records and shows it.
func EscapeName(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "%%%02X", name[i])
		case r == '%':
			b.WriteString("%25")
		default:
			b.WriteString(name[i : i+n])
		}
		i += n
	}
	return b.String()
}

// EscapePath escapes each element of the path p (of the system's
// separators).
func EscapePath(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	elems := strings.Split(p, string(filepath.Separator))
	for i, e := range elems {
		elems[i] = EscapeName(e)
	}
	return strings.Join(elems, string(filepath.Separator))
}

// unescapeName returns the name EscapeName made name of, if name is such
// an escape: a name that is not UTF-8 (and so no "." or "..", and no
// slash, which no escape holds).
func unescapeName(name string) (string, bool) {
	if !strings.Contains(name, "%") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '%' {
			b.WriteByte(name[i])
			continue
		}
		if i+2 >= len(name) {
			return "", false
		}
		c, err := strconv.ParseUint(name[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(c))
		i += 2
	}
	raw := b.String()
	if utf8.ValidString(raw) || EscapeName(raw) != name {
		return "", false
	}
	return raw, true
}

// HostPath is the path on disk of rel (slash-separated, as recorded:
// escaped) under the folder root.
func HostPath(root, rel string) string {
	p := root
	for _, e := range strings.Split(rel, "/") {
		p = filepath.Join(p, hostName(p, e))
	}
	return p
}

// hostName is the name on disk of the entry of dir recorded as e: the
// escape undone, unless a file is named as the escape itself (it is then
// that file: the other is refused by ReadDir).
func hostName(dir, e string) string {
	raw, ok := unescapeName(e)
	if !ok {
		return e
	}
	if _, err := os.Lstat(filepath.Join(dir, e)); err == nil {
		return e
	}
	return raw
}

// escapeEntries gives the entries whose names are not UTF-8 their
// escaped names; one whose escape is another entry's name cannot be
// told apart from it, and says so when its Info is asked.
func escapeEntries(ents []fs.DirEntry) {
	var names map[string]bool
	for i, e := range ents {
		esc := EscapeName(e.Name())
		if esc == e.Name() {
			continue
		}
		if names == nil {
			names = map[string]bool{}
			for _, o := range ents {
				names[o.Name()] = true
			}
		}
		ee := escapedEntry{DirEntry: e, name: esc}
		if names[esc] {
			ee.err = fmt.Errorf("its name is not UTF-8 and its escaped name %s is another file's: rename one of them", esc)
		}
		ents[i] = ee
	}
}

// escapedEntry is a folder entry under its escaped name.
type escapedEntry struct {
	fs.DirEntry
	name string
	err  error
}

func (e escapedEntry) Name() string { return e.name }

func (e escapedEntry) Info() (fs.FileInfo, error) {
	if e.err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: e.name, Err: e.err}
	}
	info, err := e.DirEntry.Info()
	if err != nil {
		return nil, err
	}
	return namedInfo{FileInfo: info, name: e.name}, nil
}

// namedInfo is a FileInfo under the escaped name.
type namedInfo struct {
	fs.FileInfo
	name string
}

func (i namedInfo) Name() string { return i.name }

// stat keeps what Of reads of the entry's own stat.
func (i namedInfo) stat() Stat { return Of(i.FileInfo) }
