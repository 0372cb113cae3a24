package store

import (
	"encoding/json"
	"fmt"
	"github.com/rag-cli/rag/pkg/filestat"
	"path"
	"path/filepath"
	"strings"
)

// Sources may nest: a folder or file inside an indexed folder keeps the
// settings given for it (tenant, --allow, collection, walk options), as a
// .ragaccess line does for its files, while its files are held once, by
// the outermost folder. Every setting of a file is that of the most
// specific source holding it; a source inside another takes the settings
// no run gave for it from the source around it (Source.Inherit).

var settingNames = []struct {
	s    Settings
	name string
}{{InheritTenant, "tenant"}, {InheritAllow, "allow"}, {InheritCollection, "collection"}, {InheritWalk, "walk"}}

// Names are the settings of the set, in a fixed order.
func (s Settings) Names() []string {
	var out []string
	for _, n := range settingNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// MarshalJSON writes the set as the list of its names.
func (s Settings) MarshalJSON() ([]byte, error) {
	names := s.Names()
	if names == nil {
		names = []string{}
	}
	return json.Marshal(names)
}

// UnmarshalJSON reads a list of names.
func (s *Settings) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	*s = 0
next:
	for _, name := range names {
		for _, n := range settingNames {
			if n.name == name {
				*s |= n.s
				continue next
			}
		}
		return fmt.Errorf("unknown setting %q", name)
	}
	return nil
}

// Within reports whether path is dir or inside it (absolute, clean paths).
func Within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator)) ||
		dir == string(filepath.Separator) && strings.HasPrefix(path, dir)
}

// inside reports whether path is strictly inside dir.
func inside(path, dir string) bool { return path != dir && Within(path, dir) }

// Enclosing is the most specific folder source of sources that holds p
// (absolute) strictly inside it.
func Enclosing(sources []Source, p string) (Source, bool) {
	var best Source
	found := false
	for _, s := range sources {
		if !s.File && inside(p, s.Path) && (!found || len(s.Path) > len(best.Path)) {
			best, found = s, true
		}
	}
	return best, found
}

// Holder is the outermost folder source of sources that holds p strictly
// inside it: the one whose root p's files are recorded under.
func Holder(sources []Source, p string) (Source, bool) {
	var best Source
	found := false
	for _, s := range sources {
		if !s.File && inside(p, s.Path) && (!found || len(s.Path) < len(best.Path)) {
			best, found = s, true
		}
	}
	return best, found
}

// Effective is s with the settings it inherits (Inherit) taken from the
// sources around it, the nearest first, and its collection named
// (Collection is Name()). A source with nothing around it inherits the
// defaults: the default tenant, no --allow, its own name. The walk options
// are left as they are: they are relative to the folder that walks.
func Effective(sources []Source, s Source) Source {
	return effective(sources, s, 0)
}

func effective(sources []Source, s Source, depth int) Source {
	var up Source
	if e, ok := Enclosing(sources, s.Path); ok && depth < 64 {
		up = effective(sources, e, depth+1)
	} else {
		up = Source{Collection: s.Name()}
	}
	if s.Inherit&InheritTenant != 0 {
		s.Tenant = up.Tenant
	}
	if s.Inherit&InheritAllow != 0 {
		s.Allow = up.Allow
	}
	if s.Inherit&InheritCollection != 0 {
		s.Collection = up.Collection
	}
	s.Collection = s.Name()
	return s
}

// SourceOf is the source that decides f's settings: the file source that
// is f, else the most specific folder source holding it.
func (m *Manifest) SourceOf(f *FileEntry) (Source, bool) {
	p := filepath.Join(f.Root, filepath.FromSlash(f.Path))
	for _, s := range m.Sources {
		if s.File && citedFile(s) == p {
			return s, true
		}
	}
	return Enclosing(m.Sources, p)
}

// citedFile is the path of a file source as its catalog entry names it:
// a name that is not UTF-8 is recorded escaped (filestat.EscapeName).
func citedFile(s Source) string {
	return filepath.Join(filepath.Dir(s.Path), filestat.EscapeName(filepath.Base(s.Path)))
}

// collectionResolver returns the collection of a file (CollectionOf),
// remembering what it found for each folder: a search's filter asks for
// every file.
func (m *Manifest) collectionResolver() func(*FileEntry) string {
	folders := map[string]Source{}
	files := map[string]Source{}
	for _, s := range m.Sources {
		if s.File {
			files[citedFile(s)] = s
		} else {
			folders[s.Path] = s
		}
	}
	names := map[string]string{} // effective name by source path
	name := func(s Source) string {
		n, ok := names[s.Path]
		if !ok {
			n = Effective(m.Sources, s).Name()
			names[s.Path] = n
		}
		return n
	}
	byDir := map[string]string{} // root and folder of a file: its collection
	return func(f *FileEntry) string {
		if len(files) > 0 {
			if s, ok := files[filepath.Join(f.Root, filepath.FromSlash(f.Path))]; ok {
				return name(s)
			}
		}
		key := f.Root + "\x00" + path.Dir(f.Path)
		if n, ok := byDir[key]; ok {
			return n
		}
		n := filepath.Base(f.Root)
		for dir := filepath.Join(f.Root, filepath.FromSlash(path.Dir(f.Path))); ; {
			if s, ok := folders[dir]; ok {
				n = name(s)
				break
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
		byDir[key] = n
		return n
	}
}
