package store

import (
	"path"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/filter"
)

// FileFields is a file's fields as a metadata filter reads them
// (filter.Record): the built-ins from its catalog entry, the rest from
// its front matter (Meta); meta.NAME reaches a front matter key a
// built-in shadows.
type FileFields struct {
	File *FileEntry
	// Collection names the collection of a file (Manifest.CollectionOf).
	Collection func(*FileEntry) string
}

var _ filter.Record = FileFields{}

// Field returns the value of the field name, and whether the file has it.
func (r FileFields) Field(name string) (any, bool) {
	f := r.File
	switch name {
	case "path":
		return f.Path, true
	case "type":
		ext := strings.ToLower(path.Ext(f.Path))
		return strings.TrimPrefix(ext, "."), ext != ""
	case "format":
		return f.Format, f.Format != ""
	case "size":
		return f.Size, true
	case "modified":
		if f.Seen == nil || f.Seen.MTime == 0 {
			return nil, false
		}
		return time.Unix(0, f.Seen.MTime).UTC(), true
	case "indexed":
		return f.IndexedAt, !f.IndexedAt.IsZero()
	case "collection":
		if r.Collection == nil {
			return nil, false
		}
		return r.Collection(f), true
	case "title":
		if t, ok := f.Meta["title"].(string); ok && strings.TrimSpace(t) != "" {
			return t, true
		}
		base := path.Base(f.Path)
		return strings.TrimSuffix(base, path.Ext(base)), true
	}
	if v, ok := filter.Lookup(f.Meta, name); ok {
		return v, true
	}
	if rest, ok := strings.CutPrefix(name, "meta."); ok {
		return filter.Lookup(f.Meta, rest)
	}
	return nil, false
}
