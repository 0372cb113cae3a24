package store

import (
	"path/filepath"
	"slices"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/filter"
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
	// Filter, if not zero, narrows the view to the files whose fields
	// (front matter and built-ins, FileFields) match it: applied with
	// the above, before anything is ranked. A store on a server
	// translates it (an And of Ors of conditions) into its own query.
	Filter filter.Filter
}

// Sees reports whether the view sees file f of catalog m.
func (m *Manifest) Sees(v View, f *FileEntry) bool {
	if f.Tenant != v.Tenant {
		return false
	}
	if len(v.Collections) > 0 && !slices.Contains(v.Collections, m.CollectionOf(f)) {
		return false
	}
	if !v.Filter.IsZero() && !v.Filter.Match(FileFields{File: f, Collection: m.CollectionOf}) {
		return false
	}
	return m.allowed(v, f)
}

// allowed reports whether access control lets the view see f.
func (m *Manifest) allowed(v View, f *FileEntry) bool {
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
	match := m.matcher(v.Filter)
	sees := func(f *FileEntry) bool {
		if f.Tenant != v.Tenant || !in(f) || !match(f) {
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
			ok = m.allowed(v, f)
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

// CollectionOf is the collection of f: that of the source that decides
// its settings (SourceOf: a file source, else the most specific folder
// holding it), inherited from the folders around it when no run named
// it; for a file no source holds, its root's name.
func (m *Manifest) CollectionOf(f *FileEntry) string {
	if s, ok := m.SourceOf(f); ok {
		return Effective(m.Sources, s).Name()
	}
	return filepath.Base(f.Root)
}

// collections returns whether a file is in one of names (all files when
// names is empty): CollectionOf with the sources looked up once a folder.
func (m *Manifest) collections(names []string) func(*FileEntry) bool {
	if len(names) == 0 {
		return func(*FileEntry) bool { return true }
	}
	of := m.collectionResolver()
	return func(f *FileEntry) bool { return slices.Contains(names, of(f)) }
}

// matcher returns whether a file matches f (all files when f is zero),
// with collections looked up once a folder.
func (m *Manifest) matcher(f filter.Filter) func(*FileEntry) bool {
	if f.IsZero() {
		return func(*FileEntry) bool { return true }
	}
	var of func(*FileEntry) string
	collection := func(fe *FileEntry) string {
		if of == nil { // only a filter of collections needs it
			of = m.collectionResolver()
		}
		return of(fe)
	}
	return func(fe *FileEntry) bool { return f.Match(FileFields{File: fe, Collection: collection}) }
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
