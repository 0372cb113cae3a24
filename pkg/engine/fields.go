package engine

import (
	"cmp"
	"context"
	"slices"

	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/store"
)

// FieldCount is a field a metadata filter can name, as rag status
// --fields shows it: its name, the types its values have (text, number,
// date, bool, list; the built-ins' own), how many of the files seen
// carry it, and whether every file has it (a built-in).
type FieldCount struct {
	Name    string   `json:"name"`
	Types   []string `json:"types"`
	Files   int      `json:"files"`
	Builtin bool     `json:"builtin"`
}

// frontMatterErrorKey is the key pkg/extract sets for front matter it
// could not read: rag's, not the document's.
const frontMatterErrorKey = "front_matter_error"

// FieldCounts are the fields of files: the built-ins first, then the
// front matter keys, the most common first (by name when as common).
func FieldCounts(files []store.FileEntry) []FieldCount {
	out := make([]FieldCount, 0, len(filter.Builtins))
	for _, b := range filter.Builtins {
		out = append(out, FieldCount{Name: b.Name, Types: []string{string(b.Kind)}, Files: len(files), Builtin: true})
	}
	type seen struct {
		files int
		types map[string]bool
	}
	keys := map[string]*seen{}
	for i := range files {
		for k, v := range files[i].Meta {
			kind := filter.KindOf(v)
			if k == frontMatterErrorKey || k == "title" || kind == "" { // title: the built-in reads it
				continue
			}
			s := keys[k]
			if s == nil {
				s = &seen{types: map[string]bool{}}
				keys[k] = s
			}
			s.files++
			s.types[string(kind)] = true
		}
	}
	var meta []FieldCount
	for k, s := range keys {
		name := k
		if filter.IsBuiltin(k) {
			name = "meta." + k // the built-in shadows it
		}
		types := make([]string, 0, len(s.types))
		for t := range s.types {
			types = append(types, t)
		}
		slices.Sort(types)
		meta = append(meta, FieldCount{Name: name, Types: types, Files: s.files})
	}
	slices.SortFunc(meta, func(a, b FieldCount) int { return cmp.Or(b.Files-a.Files, cmp.Compare(a.Name, b.Name)) })
	return append(out, meta...)
}

// Fields are the names of the fields of the files w sees, read from the
// catalog alone (no lock, nothing opened): what a shell completion of
// --filter may offer.
func (e *Engine) Fields(ctx context.Context, w Who) ([]string, error) {
	asker, err := e.Resolve(ctx, w)
	if err != nil {
		return nil, err
	}
	m, err := store.ReadManifest(e.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var files []store.FileEntry
	for i := range m.Files {
		if m.Sees(asker.View, &m.Files[i]) {
			files = append(files, m.Files[i])
		}
	}
	var names []string
	for _, f := range FieldCounts(files) {
		names = append(names, f.Name)
	}
	return names, nil
}
