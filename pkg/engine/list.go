package engine

import (
	"cmp"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/store"
)

// ListedFile is an indexed file as a listing shows it.
type ListedFile struct {
	Collection string    `json:"collection"`
	Path       string    `json:"path"`
	Root       string    `json:"root"`
	Format     string    `json:"format,omitempty"`
	Chunks     int       `json:"chunks"`
	Size       int64     `json:"size"`
	IndexedAt  time.Time `json:"indexed_at"`
}

// ListedCollection sums a collection's files in a listing.
type ListedCollection struct {
	Name   string `json:"name"`
	Files  int    `json:"files"`
	Chunks int    `json:"chunks"`
}

// Listing is what the index holds that a reader sees (the --json document
// of rag ls).
type Listing struct {
	Collections []ListedCollection `json:"collections"`
	Files       []ListedFile       `json:"files"`
}

// List lists the files the reader sees, under paths if any (as citations
// name them, or as paths on disk), sorted by collection and path, with
// each collection's sums.
func (r *Reader) List(paths []string) Listing {
	m := r.store.Manifest()
	rep := Listing{Collections: []ListedCollection{}, Files: []ListedFile{}}
	vis, _ := m.Visible(r.asker.View)
	for i := range m.Files {
		f := &m.Files[i]
		if vis != nil && !vis[i] || !underAny(f, paths) {
			continue
		}
		rep.Files = append(rep.Files, ListedFile{Collection: m.CollectionOf(f), Path: f.Path, Root: f.Root,
			Format: f.Format, Chunks: f.Chunks, Size: f.Size, IndexedAt: f.IndexedAt})
	}
	slices.SortFunc(rep.Files, func(x, y ListedFile) int {
		return cmp.Or(strings.Compare(x.Collection, y.Collection), strings.Compare(x.Path, y.Path))
	})
	for _, f := range rep.Files {
		if n := len(rep.Collections); n == 0 || rep.Collections[n-1].Name != f.Collection {
			rep.Collections = append(rep.Collections, ListedCollection{Name: f.Collection})
		}
		c := &rep.Collections[len(rep.Collections)-1]
		c.Files++
		c.Chunks += f.Chunks
	}
	return rep
}

// underAny reports whether f is one of paths or lies under one, by the
// path citations show or by its path on disk; no paths holds every file.
func underAny(f *store.FileEntry, paths []string) bool {
	if len(paths) == 0 {
		return true
	}
	disk := filepath.Join(f.Root, filepath.FromSlash(f.Path))
	for _, p := range paths {
		cited := strings.TrimSuffix(filepath.ToSlash(filepath.Clean(p)), "/")
		if cited == "." || f.Path == cited || strings.HasPrefix(f.Path, cited+"/") {
			return true
		}
		if abs, err := filepath.Abs(p); err == nil && (disk == abs || strings.HasPrefix(disk, abs+string(filepath.Separator))) {
			return true
		}
	}
	return false
}
