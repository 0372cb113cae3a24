package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/filter"
)

// fieldFiles are the front matter of the files of the filter tests, by
// file (as aclFiles: the same tenants, access and shared contents).
var fieldFiles = []map[string]any{
	{"tags": []any{"prod", "db"}, "date": "2025-02-01", "priority": 3},
	{"tags": []any{"staging"}, "date": "2024-11-30", "author": "alice"},
	{"tags": "prod", "priority": 1.5, "author": "bob"},
	{"author": "alice", "date": time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
	{"tags": []any{"prod"}},
	{"date": "2025-03-03"},
	{"tags": []any{"prod", "x"}, "priority": 9},
	{"title": "Runbook"},
}

// fieldStore is aclStore with fieldFiles' front matter, reopened so that
// the fields are read back from the catalog as a search reads them.
func fieldStore(t *testing.T, control bool, keep []int) *Local {
	t.Helper()
	s := aclStore(t, control, keep)
	m := s.Manifest()
	files := slices.Clone(m.Files)
	for i := range files {
		var f int
		if _, err := fmt.Sscanf(files[i].Path, "f%d.md", &f); err != nil {
			t.Fatal(err)
		}
		files[i].Meta = fieldFiles[f]
		files[i].Size = int64(1000 * (f + 1))
	}
	m.Files = files
	if err := s.Commit(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	saveCaches(t, s)
	dir := s.Dir()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestFilterEqualsSmallerIndex: a filtered search, in either ranking and
// with access control, gives exactly what a search of an index holding
// only the matching files the asker sees gives: the same hits and the
// same scores (BM25's statistics are those of the matching chunks), and
// a full k of them.
func TestFilterEqualsSmallerIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stores := map[bool]*Local{true: fieldStore(t, true, nil), false: fieldStore(t, false, nil)}
	eng := []string{"group:eng", "public", "user:alice"}
	for _, tt := range []struct {
		name    string
		filters []string
		view    View
		sees    []int
	}{
		{"tags=prod", []string{"tags=prod"}, View{Principals: eng}, []int{0, 6}},
		{"tags=prod, all files", []string{"tags=prod"}, View{}, []int{0, 2, 6}},
		{"date and priority", []string{"date>=2025-01-01", "priority>=2|priority missing"}, View{Principals: eng}, []int{0, 3}},
		{"author or path", []string{"author=alice|path=f6.md"}, View{}, []int{1, 3, 6}},
		{"size", []string{"size<=3KB"}, View{}, []int{0, 1, 2}},
		{"not prod", []string{"tags!=prod"}, View{}, []int{1, 3, 7}},
		{"title", []string{"title=Runbook|title=f1"}, View{}, []int{1, 7}},
		{"acme", []string{"tags=prod"}, View{Tenant: "acme", Principals: eng}, []int{4}},
		{"nothing", []string{"author=nobody"}, View{Principals: eng}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := filter.ParseAll(tt.filters)
			if err != nil {
				t.Fatal(err)
			}
			view := tt.view
			view.Filter = f
			all := stores[len(view.Principals) > 0]
			alone := fieldStore(t, false, append([]int{}, tt.sees...)) // none: an empty index
			aloneView := View{Tenant: tt.view.Tenant}
			m := all.Manifest()
			var seen []int
			for i := range m.Files {
				if m.Sees(view, &m.Files[i]) {
					var n int
					_, _ = fmt.Sscanf(m.Files[i].Path, "f%d.md", &n)
					seen = append(seen, n)
				}
			}
			if !slices.Equal(seen, tt.sees) {
				t.Errorf("Sees: %v, want %v", seen, tt.sees)
			}
			for _, q := range []string{"common", "budget0 report", "budget1 secret1", "secret4 budget2 part1", "part2"} {
				for _, k := range []int{2, 20} {
					got, err := all.SearchText(ctx, view, q, k)
					if err != nil {
						t.Fatal(err)
					}
					want, err := alone.SearchText(ctx, aloneView, q, k)
					if err != nil {
						t.Fatal(err)
					}
					if g, w := scoreLines(got), scoreLines(want); g != w {
						t.Errorf("lexical %q k=%d: scores\n%s\nwant, as an index of the matching files alone,\n%s", q, k, g, w)
					}
				}
			}
			for _, a := range []float64{0, 1, 2.5} {
				got, err := all.Search(ctx, view, angle(a), 4)
				if err != nil {
					t.Fatal(err)
				}
				want, err := alone.Search(ctx, aloneView, angle(a), 4)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := scoreLines(got), scoreLines(want); g != w {
					t.Errorf("dense %v: hits\n%s\nwant\n%s", a, g, w)
				}
			}
		})
	}
}

func TestFileFields(t *testing.T) {
	t.Parallel()
	f := &FileEntry{Path: "docs/Guide.MD", Format: "markdown", Size: 10, IndexedAt: time.Unix(100, 0),
		Seen: &Seen{MTime: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()},
		Meta: map[string]any{"path": "shadowed", "team": map[string]any{"lead": "ann"}}}
	r := FileFields{File: f, Collection: func(*FileEntry) string { return "docs" }}
	for _, tt := range []struct {
		name string
		want string
	}{
		{"path", "docs/Guide.MD"}, {"type", "md"}, {"format", "markdown"}, {"size", "10"},
		{"modified", "2025-01-02 03:04:05 +0000 UTC"}, {"collection", "docs"}, {"title", "Guide"},
		{"meta.path", "shadowed"}, {"team.lead", "ann"}, {"nothing", "<missing>"},
	} {
		v, ok := r.Field(tt.name)
		got := fmt.Sprint(v)
		if !ok {
			got = "<missing>"
		}
		if !strings.EqualFold(got, tt.want) {
			t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
		}
	}
}
