package store

import (
	"path/filepath"
	"slices"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/filestat"
)

// View is whose share of the index a search sees: one tenant's files, and
// of those (once the catalog's AccessControl is on) only the files whose
// Access names one of the principals of whoever asks. Searches filter by
// it before they rank and before they cut to k, so an allowed principal
// still gets k results and BM25's statistics are those of the visible
// chunks alone: what one principal sees does not depend on what others
// may see.
type View struct {
	// Tenant is the namespace searched; "" is the default one.
	Tenant string
	// Principals are who asks (a user or group, the user's groups, and
	// public). Public files are everybody's; the zero View, naming
	// nobody, sees only them (a caller that forgets to say who asks leaks
	// nothing).
	Principals []string
	// Collections, if any, narrow the view to the files of sources of
	// those collections (Source.Name).
	Collections []string
}

// Sees reports whether the view sees file f of catalog m.
func (m *Manifest) Sees(v View, f *FileEntry) bool {
	if f.Tenant != v.Tenant {
		return false
	}
	if len(v.Collections) > 0 && !slices.Contains(v.Collections, m.CollectionOf(f)) {
		return false
	}
	if !m.AccessControl {
		return true
	}
	for _, p := range f.Access {
		if p == access.Public || slices.Contains(v.Principals, p) {
			return true
		}
	}
	return false
}

// SeenDamage keeps, of damaged objects, the files the view sees: a
// warning or a report never names a file its reader may not see.
func (m *Manifest) SeenDamage(v View, ds []Damage) []Damage {
	var out []Damage
	for _, d := range ds {
		var files []FileEntry
		for i := range d.Files {
			if m.Sees(v, &d.Files[i]) {
				files = append(files, d.Files[i])
			}
		}
		if len(files) > 0 {
			d.Files = files
			out = append(out, d)
		}
	}
	return out
}

// Visible returns which of m's files the view sees, by index, and how
// many; nil when it sees them all.
func (m *Manifest) Visible(v View) ([]bool, int) {
	// Most files share a few access lists (the catalog keeps one copy of
	// each): decide each list once.
	type list struct {
		first *string
		n     int
	}
	lists := map[list]bool{}
	in := m.collections(v.Collections)
	sees := func(f *FileEntry) bool {
		if f.Tenant != v.Tenant || !in(f) {
			return false
		}
		if !m.AccessControl {
			return true
		}
		if len(f.Access) == 0 {
			return false
		}
		k := list{&f.Access[0], len(f.Access)}
		ok, known := lists[k]
		if !known {
			ok = m.Sees(v, f)
			lists[k] = ok
		}
		return ok
	}
	vis := make([]bool, len(m.Files))
	n := 0
	for i := range m.Files {
		if vis[i] = sees(&m.Files[i]); vis[i] {
			n++
		}
	}
	if n == len(m.Files) {
		return nil, n
	}
	return vis, n
}

// CollectionOf is the collection of f: the name of the source that holds
// it (Source.Name), a file source before the folder it is in; for a file
// no source records, its folder's name.
func (m *Manifest) CollectionOf(f *FileEntry) string {
	for _, s := range m.Sources {
		if s.File && filepath.Dir(s.Path) == f.Root && filestat.EscapeName(filepath.Base(s.Path)) == f.Path {
			return s.Name()
		}
	}
	for _, s := range m.Sources {
		if !s.File && s.Path == f.Root {
			return s.Name()
		}
	}
	return filepath.Base(f.Root)
}

// collections returns whether a file is in one of names (all files when
// names is empty): CollectionOf with the sources looked up once.
func (m *Manifest) collections(names []string) func(*FileEntry) bool {
	if len(names) == 0 {
		return func(*FileEntry) bool { return true }
	}
	folders := map[string]bool{} // root: in names
	files := map[string]bool{}   // root and path of a file source: in names
	for _, s := range m.Sources {
		in := slices.Contains(names, s.Name())
		if s.File {
			files[filepath.Dir(s.Path)+"\x00"+filestat.EscapeName(filepath.Base(s.Path))] = in
		} else {
			folders[s.Path] = in
		}
	}
	return func(f *FileEntry) bool {
		if len(files) > 0 {
			if in, ok := files[f.Root+"\x00"+f.Path]; ok {
				return in
			}
		}
		in, ok := folders[f.Root]
		if !ok {
			return slices.Contains(names, filepath.Base(f.Root))
		}
		return in
	}
}

// scope is what one search sees of the cache view: which catalog files
// may be hits (files; nil: all) and which rows of each segment count
// (rows[seg]; nil: the segment's live rows), rows in all.
type scope struct {
	files []bool
	rows  [][]bool
	n     int
}

// fileVisible reports whether catalog file fi may be a hit.
func (sc *scope) fileVisible(fi int) bool { return sc.files == nil || sc.files[fi] }

// live is the row mask of segment seg.
func (sc *scope) live(v *cacheView, seg int) []bool {
	if sc.rows == nil || sc.rows[seg] == nil {
		return v.segs[seg].live
	}
	return sc.rows[seg]
}

// scopeOf narrows the cache view to what view sees: a live row counts
// when one of the files of its content is visible.
func (s *Local) scopeOf(v *cacheView, view View) scope {
	vis, _ := s.manifest.Visible(view)
	if vis == nil {
		return scope{n: v.liveRows}
	}
	sc := scope{files: vis, rows: make([][]bool, len(v.segs))}
	seen := func(key string) bool {
		for _, fi := range v.files[key] {
			if vis[fi] {
				return true
			}
		}
		return false
	}
	for si, g := range v.segs {
		rows := make([]bool, len(g.live))
		for _, o := range g.objs {
			if !seen(o.key) {
				continue
			}
			for r := o.first; r < o.first+o.chunks; r++ {
				if g.live[r] {
					rows[r] = true
					sc.n++
				}
			}
		}
		sc.rows[si] = rows
	}
	return sc
}
