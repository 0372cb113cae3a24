package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// aclFile is a file of the access tests: its tenant, who may see it, and
// the content it shares with another file (-1: its own).
type aclFile struct {
	tenant string
	access []string
	same   int
}

var aclFiles = []aclFile{
	{"", []string{"public"}, -1},
	{"", []string{"group:eng"}, -1},
	{"", []string{"group:hr"}, -1},
	{"", []string{"user:alice"}, -1},
	{"acme", []string{"public"}, -1},
	{"acme", []string{"group:eng"}, -1},
	{"", []string{"group:eng"}, 4}, // the content of acme's file 4
	{"", nil, -1},                  // nobody
}

// aclText is chunk i of file f: words every file has, and one of its own
// (secretF), so that a query of it matches that file alone.
func aclText(f, i int) string {
	return fmt.Sprintf("common report budget%d secret%d part%d", f%3, f, i)
}

// aclStore indexes the files of aclFiles whose index is in keep (all when
// keep is nil), with access control on or off, in a new store.
func aclStore(t *testing.T, control bool, keep []int) *Local {
	t.Helper()
	s, _ := newStore(t)
	var files []FileEntry
	for f, af := range aclFiles {
		if keep != nil && !slices.Contains(keep, f) {
			continue
		}
		content := f
		if af.same >= 0 {
			content = af.same
		}
		var chunks []Chunk
		for i := range 3 {
			chunks = append(chunks, Chunk{StartLine: i + 1, EndLine: i + 1, Text: aclText(content, i), Vector: angle(float64(content)*0.37 + float64(i)*0.11)})
		}
		k := key(content)
		if err := s.PutObject(context.Background(), k, chunks); err != nil {
			t.Fatal(err)
		}
		files = append(files, FileEntry{Root: "/r", Path: fmt.Sprintf("f%d.md", f), Key: k, Chunks: 3, ObjectSize: 1, Tenant: af.tenant, Access: af.access})
	}
	m := s.Manifest()
	m.EmbedModel, m.Dims, m.Files, m.AccessControl = "m", 4, files, control
	if err := s.Commit(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	saveCaches(t, s)
	return s
}

func aclPath(f int) string { return fmt.Sprintf("f%d.md", f) }

// TestViewFilters checks that every search sees exactly its view's files:
// no hit from another tenant or from a file whose access does not name who
// asks, in either ranking, and a full k for what is visible; with access
// control off every file of the tenant is visible.
func TestViewFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		control bool
		view    View
		sees    []int
	}{
		{"public", true, View{Principals: []string{"public"}}, []int{0}},
		{"alice in eng", true, View{Principals: []string{"group:eng", "public", "user:alice"}}, []int{0, 1, 3, 6}},
		{"hr", true, View{Principals: []string{"group:hr", "public"}}, []int{0, 2}},
		{"acme public", true, View{Tenant: "acme", Principals: []string{"public"}}, []int{4}},
		{"acme eng", true, View{Tenant: "acme", Principals: []string{"group:eng", "public"}}, []int{4, 5}},
		{"nobody named", true, View{}, []int{0}},
		{"other tenant", true, View{Tenant: "globex", Principals: []string{"group:eng", "public"}}, nil},
		{"control off", false, View{Principals: []string{"public"}}, []int{0, 1, 2, 3, 6, 7}},
		{"control off, acme", false, View{Tenant: "acme"}, []int{4, 5}},
	}
	stores := map[bool]*Local{true: aclStore(t, true, nil), false: aclStore(t, false, nil)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stores[tt.control]
			var want []string
			for _, f := range tt.sees {
				want = append(want, aclPath(f))
			}
			check := func(what string, hits []Hit, full int) {
				t.Helper()
				got := map[string]int{}
				for _, h := range hits {
					got[h.File.Path]++
					if !slices.Contains(want, h.File.Path) {
						t.Errorf("%s: hit of %s, which %v does not see", what, h.File.Path, tt.view)
					}
				}
				if len(hits) != full {
					t.Errorf("%s: %d hits, want %d (%v)", what, len(hits), full, got)
				}
			}
			// Every visible chunk has "common": a full k of them.
			hits, err := s.SearchText(ctx, tt.view, "common report", 100)
			if err != nil {
				t.Fatal(err)
			}
			check("lexical, all", hits, 3*len(tt.sees))
			hits, err = s.Search(ctx, tt.view, angle(1), 100)
			if err != nil {
				t.Fatal(err)
			}
			check("dense, all", hits, 3*len(tt.sees))
			if len(tt.sees) > 0 {
				hits, err = s.SearchText(ctx, tt.view, "common", 2)
				if err != nil {
					t.Fatal(err)
				}
				check("lexical, k=2", hits, 2)
				hits, err = s.Search(ctx, tt.view, angle(5), 2)
				if err != nil {
					t.Fatal(err)
				}
				check("dense, k=2", hits, 2)
			}
			// A query of words only one file has finds it when visible,
			// and nothing at all when not.
			for f, af := range aclFiles {
				content := f
				if af.same >= 0 {
					content = af.same
				}
				hits, err := s.SearchText(ctx, tt.view, fmt.Sprintf("secret%d", content), 10)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, g := range tt.sees {
					if g == content || aclFiles[g].same == content {
						n += 3
					}
				}
				check(fmt.Sprintf("lexical secret%d", content), hits, n)
			}
		})
	}
}

// TestViewStatistics checks that BM25 scores depend only on what the view
// sees: a search of one view scores exactly as a search of an index that
// holds only that view's files, so words in other tenants' or forbidden
// files change no score (and no order).
func TestViewStatistics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	all := aclStore(t, true, nil)
	for _, tt := range []struct {
		name string
		view View
		sees []int
	}{
		{"alice in eng", View{Principals: []string{"group:eng", "public", "user:alice"}}, []int{0, 1, 3, 6}},
		{"hr", View{Principals: []string{"group:hr", "public"}}, []int{0, 2}},
		{"acme eng", View{Tenant: "acme", Principals: []string{"group:eng", "public"}}, []int{4, 5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			alone := aclStore(t, false, tt.sees)
			aloneView := View{Tenant: tt.view.Tenant}
			for _, q := range []string{"common", "budget0 report", "budget1 secret1", "secret4 budget2 part1", "part2"} {
				got, err := all.SearchText(ctx, tt.view, q, 20)
				if err != nil {
					t.Fatal(err)
				}
				want, err := alone.SearchText(ctx, aloneView, q, 20)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := scoreLines(got), scoreLines(want); g != w {
					t.Errorf("%q: scores\n%s\nwant, as an index of the visible files alone,\n%s", q, g, w)
				}
			}
		})
	}
}

func scoreLines(hits []Hit) string {
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "%s:%d %.6f\n", h.File.Path, h.StartLine, h.Score)
	}
	return b.String()
}

// TestAccessControlSurvivesRecovery: once an index has had access control,
// a catalog read from its previous copy, older than access control, keeps
// it on: files that copy gives to nobody stay hidden rather than public.
func TestAccessControlSurvivesRecovery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	f := put(t, s, key(1), "alpha words")
	commitFiles(t, s, f) // access control off: public
	m := s.Manifest()
	m.AccessControl = true
	m.Files = []FileEntry{f}
	m.Files[0].Access = []string{"group:eng"}
	if err := s.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The current catalog damaged: readers fall back to the one before.
	p := filepath.Join(dir, catalogName)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := openRead(t, dir)
	if r.Recovered() == nil {
		t.Fatal("the damaged catalog was not recovered from its previous copy")
	}
	if hits, err := r.SearchText(ctx, View{Principals: []string{"public"}}, "alpha", 5); err != nil || len(hits) != 0 {
		t.Errorf("public sees %d hits of the recovered catalog (%v): its file is nobody's now", len(hits), err)
	}
}

// TestCollections: a file's collection is its source's name (--collection,
// else the folder's or file's base name), a file source before the folder
// it lies in, and Visible and Sees agree on what a view of collections sees.
func TestCollections(t *testing.T) {
	t.Parallel()
	m := Manifest{
		Sources: []Source{
			{Path: "/home/me/docs", Collection: "handbook"},
			{Path: "/srv/wiki"},
			{Path: "/home/me/docs/extra.md", File: true, Collection: "extra"},
			{Path: "/tmp/notes.txt", File: true},
		},
		Files: []FileEntry{
			{Root: "/home/me/docs", Path: "guide.md"},
			{Root: "/home/me/docs", Path: "sub/deep.md"},
			{Root: "/srv/wiki", Path: "index.md"},
			{Root: "/home/me/docs", Path: "extra.md"},
			{Root: "/tmp", Path: "notes.txt"},
			{Root: "/gone/folder", Path: "x.md"}, // no source recorded
		},
	}
	want := []string{"handbook", "handbook", "wiki", "extra", "notes.txt", "folder"}
	for i := range m.Files {
		if got := m.CollectionOf(&m.Files[i]); got != want[i] {
			t.Errorf("file %d: collection %q, want %q", i, got, want[i])
		}
	}
	for _, tc := range []struct {
		name  string
		names []string
		sees  string // the files seen, by index
	}{
		{"all", nil, "012345"},
		{"named", []string{"handbook"}, "01"},
		{"by folder name", []string{"wiki"}, "2"},
		{"a file source", []string{"extra", "notes.txt"}, "34"},
		{"unrecorded", []string{"folder"}, "5"},
		{"the folder's name when renamed", []string{"docs"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := View{Collections: tc.names}
			vis, n := m.Visible(v)
			var got strings.Builder
			for i := range m.Files {
				sees := m.Sees(v, &m.Files[i])
				if (vis == nil || vis[i]) != sees {
					t.Errorf("file %d: Visible %v, Sees %v", i, vis == nil || vis[i], sees)
				}
				if sees {
					fmt.Fprint(&got, i)
				}
			}
			if got.String() != tc.sees || n != len(tc.sees) {
				t.Errorf("sees %q (%d), want %q", got.String(), n, tc.sees)
			}
		})
	}
}
