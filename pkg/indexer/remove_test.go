package indexer

import (
	"slices"
	"testing"

	"github.com/rag-cli/rag/pkg/store"
)

// TestRemovePathRecords: a path inside a recorded folder is recorded as
// removed from it, once, in place of the paths inside it; the folder's
// --exclude globs stay as they were.
func TestRemovePathRecords(t *testing.T) {
	t.Parallel()
	m := store.Manifest{
		Sources: []store.Source{{Path: "/docs", Exclude: []string{"*.log"}}},
		Files: []store.FileEntry{
			{Root: "/docs", Path: "a.md"}, {Root: "/docs", Path: "notes/b.md"}, {Root: "/docs", Path: "notes/old/c.md"},
			{Root: "/docs", Path: "x[1].md"},
		},
	}
	steps := []struct {
		abs  string
		want []string
	}{
		{"/docs/notes/old", []string{"notes/old"}},
		{"/docs/x[1].md", []string{"notes/old", "x[1].md"}},
		{"/docs/notes", []string{"notes", "x[1].md"}},
	}
	for _, s := range steps {
		var ok bool
		if m, ok = RemovePath(m, s.abs); !ok {
			t.Fatalf("%s: not in the index", s.abs)
		}
		if got := m.Sources[0].Removed; !slices.Equal(got, s.want) {
			t.Errorf("after removing %s: %q, want %q", s.abs, got, s.want)
		}
	}
	if !slices.Equal(m.Sources[0].Exclude, []string{"*.log"}) || len(m.Files) != 1 {
		t.Errorf("catalog %+v", m)
	}
	if got := removedGlobs(m.Sources[0]); !slices.Equal(got, []string{"notes", `x\[1\].md`}) {
		t.Errorf("globs %q", got)
	}
}
