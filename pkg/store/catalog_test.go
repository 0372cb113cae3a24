package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fullManifest has every field of a catalog set, with files under two
// roots, problems under a third, metadata of several JSON types, tenants
// and lists of principals: nil, empty, and shared by files and sources,
// and sources inside another that inherit some of their settings.
func fullManifest() Manifest {
	m := fullManifest7()
	m.FormatVersion = FormatVersion
	m.Sources[0].Removed = []string{"old", "drafts/ünï.md"}
	m.Sources[2].Removed = []string{"vendor"}
	m.Sources = append(m.Sources,
		Source{Path: "/docs/api", Allow: []string{"user:bob"}, Inherit: InheritTenant | InheritCollection | InheritWalk},
		Source{Path: "/docs/api/x.md", File: true, Tenant: "acme", Inherit: InheritAllow | InheritCollection | InheritWalk},
		Source{Path: "/src/internal", Tenant: "ünï corp", Collection: "inner", Exclude: []string{"*.tmp"}, Inherit: InheritAllow})
	return m
}

// fullManifest7 is fullManifest without what format version 8 added: the
// catalog of testdata/catalog-v7, which rag of format version 7 wrote.
func fullManifest7() Manifest {
	m := fullManifest6()
	m.FormatVersion = 7
	m.Sources[0].Collection = "handbook"
	m.Sources[2].Collection = "ünï code"
	return m
}

// fullManifest6 is fullManifest without what format version 7 added: the
// catalog of testdata/catalog-v6, which rag of format version 6 wrote.
func fullManifest6() Manifest {
	m := fullManifest5()
	m.FormatVersion, m.AccessControl = 6, true
	eng := []string{"group:eng", "user:ann"}
	m.Sources[0].Allow = eng
	m.Sources[1].Tenant, m.Sources[1].Allow = "acme", []string{}
	m.Sources[2].Tenant, m.Sources[2].Allow = "ünï corp", []string{"public"}
	m.Files[0].Access = append([]string(nil), eng...) // the same list, another array
	m.Files[1].Tenant, m.Files[1].Access = "ünï corp", []string{"public"}
	m.Files[2].Access = []string{}
	m.Files[3].Tenant, m.Files[3].Access = "acme", []string{"user:ann", "group:eng"}
	return m
}

// fullManifest5 is fullManifest without what format version 6 added: the
// catalog of testdata/catalog-v5, which rag of format version 5 wrote.
func fullManifest5() Manifest {
	at := time.Date(2026, 11, 29, 13, 15, 45, 910413303, time.UTC)
	m := Manifest{
		FormatVersion: 5, EmbedModel: "nomic-embed-text", Dims: 768, ChunkTarget: 500, ChunkOverlap: 75,
		Generation: "95b72727d459f4d7", Created: at, Updated: at.Add(time.Hour),
		Sources: []Source{
			{Path: "/docs"},
			{Path: "/notes/todo.md", File: true},
			{Path: "/src", Include: []string{"**/*.go", "*.md"}, Exclude: []string{"vendor/**"}, Hidden: true},
		},
		Problems: []Problem{
			{Root: "/docs", Path: "big.pdf", Reason: "larger than --max-size"},
			{Root: "/gone", Path: "x.md", Reason: "permission denied", Failed: true},
		},
	}
	for i := range 5 {
		f := FileEntry{
			Root: "/docs", Path: fmt.Sprintf("d/ünï %d.md", i), Hash: strings.Repeat("ab", 32), Key: key(i),
			Size: int64(1000 * i), Chunks: i, ObjectSize: int64(100 + i), IndexedAt: at.Add(time.Duration(i) * time.Second), Format: "markdown",
		}
		switch i {
		case 1:
			f.Root = "/src"
			f.Meta = map[string]any{"title": "Install", "tags": []any{"linux", "mac"}, "draft": false, "weight": 3.5, "nested": map[string]any{"a": nil}}
		case 2:
			f.Seen = &Seen{Size: 2000, MTime: 1795958145724689382, CTime: -5, Inode: 1<<64 - 1, ReadAt: 1795958158224114356}
		case 3:
			f.Root, f.Path = "/notes", "todo.md"
			f.Seen = &Seen{Size: 3000, MTime: 7, ReadAt: 9}
		}
		m.Files = append(m.Files, f)
	}
	return m
}

// accessFiles is a catalog of n files under one root whose tenant and
// access file i gets from tenant(i) and access(i).
func accessFiles(n int, tenant func(int) string, access func(int) []string) Manifest {
	m := Manifest{FormatVersion: FormatVersion, Generation: "g", AccessControl: true}
	for i := range n {
		m.Files = append(m.Files, FileEntry{Root: "/r", Path: fmt.Sprintf("%d.md", i), Key: key(i), ObjectSize: 1,
			Tenant: tenant(i), Access: access(i)})
	}
	return m
}

func TestCatalogRoundTrip(t *testing.T) {
	t.Parallel()
	noTenant := func(int) string { return "" }
	// Every list a new array, as a run that resolves each file's access
	// makes them: the catalog shares equal lists all the same.
	cycle := func(lists ...[]string) func(int) []string {
		return func(i int) []string {
			l := lists[i%len(lists)]
			if l == nil {
				return nil
			}
			return append([]string{}, l...)
		}
	}
	manyRoots := Manifest{FormatVersion: FormatVersion, Generation: "g"}
	for i := range 300 {
		manyRoots.Files = append(manyRoots.Files, FileEntry{Root: fmt.Sprintf("/r%03d/", i), Path: "a", Key: key(i), ObjectSize: 1})
	}
	// Its number is larger than what follows it in the file.
	manyRoots.Problems = []Problem{{Root: "/r299/", Path: "x", Reason: "y"}}
	withSources := func(m Manifest, sources ...Source) Manifest { m.Sources = sources; return m }

	tests := []struct {
		name string
		m    Manifest
	}{
		{"every field", fullManifest()},
		{"what format 5 holds", func() Manifest { m := fullManifest5(); m.FormatVersion = FormatVersion; return m }()},
		{"what format 6 holds", func() Manifest { m := fullManifest6(); m.FormatVersion = FormatVersion; return m }()},
		{"what format 7 holds", func() Manifest { m := fullManifest7(); m.FormatVersion = FormatVersion; return m }()},
		{"empty index", NewManifest()},
		{"zero times", Manifest{FormatVersion: FormatVersion, Generation: "g", Files: []FileEntry{{Root: "/r", Path: "a", Key: key(1), ObjectSize: 1}}}},
		{"nil and empty access", accessFiles(4, noTenant, cycle(nil, []string{}, []string{"public"}, []string{}))},
		{"nil and empty allow", withSources(accessFiles(1, noTenant, cycle(nil)),
			Source{Path: "/a"}, Source{Path: "/b", Allow: []string{}}, Source{Path: "/c", Allow: []string{"group:eng"}})},
		{"many files share a few lists", accessFiles(1000, func(i int) string { return []string{"", "acme", "globex"}[i%3] },
			cycle([]string{"group:eng"}, []string{"group:eng", "user:ann"}, []string{"public"}, nil, []string{}))},
		{"same principals, another order", accessFiles(2, noTenant, cycle([]string{"user:a", "user:b"}, []string{"user:b", "user:a"}))},
		{"a list repeats a principal", accessFiles(1, noTenant, cycle([]string{"user:a", "user:a"}))},
		{"access kept while access control is off", func() Manifest {
			m := accessFiles(2, noTenant, cycle([]string{"public"}))
			m.AccessControl = false
			return m
		}()},
		{"tenants only", withSources(accessFiles(3, func(i int) string { return fmt.Sprint("t", i%2) }, cycle(nil)),
			Source{Path: "/r", Tenant: "t0"}, Source{Path: "/s", Tenant: "t1"})},
		{"odd principals", accessFiles(3, func(i int) string { return []string{"", "\x00", strings.Repeat("t", 300)}[i] },
			cycle([]string{""}, []string{"user:\x00\xff", strings.Repeat("g", 200)}, []string{"", ""}))},
		{"tables past one byte numbers", accessFiles(300, func(i int) string { return fmt.Sprint("tenant", i) },
			func(i int) []string { return []string{fmt.Sprint("user:", i)} })},
		{"many roots, a problem under the last", manyRoots},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := encodeCatalog(&tt.m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeCatalog("catalog", data)
			if err != nil {
				t.Fatal(err)
			}
			// DeepEqual also tells a nil list from an empty one.
			if !reflect.DeepEqual(*got, tt.m) || !got.Equal(&tt.m) || !tt.m.Equal(got) {
				t.Errorf("decoded\n%+v\nwant\n%+v", *got, tt.m)
			}
			// The lists share an array: appending to one must not change another.
			for i, f := range got.Files {
				if cap(f.Access) != len(f.Access) {
					t.Fatalf("file %d: access list of capacity %d, length %d", i, cap(f.Access), len(f.Access))
				}
			}
			for i, s := range got.Sources {
				if cap(s.Allow) != len(s.Allow) {
					t.Fatalf("source %d: allow list of capacity %d, length %d", i, cap(s.Allow), len(s.Allow))
				}
			}
			// Every root is stored once (sources aside, which name some).
			noSources := tt.m
			noSources.Sources = nil
			data, err = encodeCatalog(&noSources)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.m.Files {
				if n := bytes.Count(data, []byte(f.Root)); n != 1 {
					t.Errorf("root %s stored %d times", f.Root, n)
				}
			}
		})
	}
}

// TestCatalogTables: tenants and lists of principals are stored once each,
// however many files name them: a file pays two bytes for them.
func TestCatalogTables(t *testing.T) {
	t.Parallel()
	lists := [][]string{{"group:engineering"}, {"group:engineering", "user:annabelle"}, {"public"}, {"group:support", "user:bartholomew"}}
	tenants := []string{"", "acme-corporation", "globex-corporation"}
	const n = 5000
	m := accessFiles(n, func(i int) string { return tenants[i%len(tenants)] },
		func(i int) []string { return append([]string(nil), lists[i%len(lists)]...) })
	plain := m
	plain.Files = slices.Clone(m.Files)
	for i := range plain.Files {
		plain.Files[i].Tenant, plain.Files[i].Access = "", nil
	}
	data, err := encodeCatalog(&m)
	if err != nil {
		t.Fatal(err)
	}
	without, err := encodeCatalog(&plain)
	if err != nil {
		t.Fatal(err)
	}
	if extra := len(data) - len(without); extra > 2*n+200 {
		t.Errorf("tenants and access took %d bytes more for %d files", extra, n)
	}
	for _, s := range []string{"acme-corporation", "globex-corporation", "user:annabelle", "group:support", "public"} {
		if c := bytes.Count(data, []byte(s)); c != 1 {
			t.Errorf("%s stored %d times", s, c)
		}
	}
	if c := bytes.Count(data, []byte("group:engineering")); c != 2 { // in two lists
		t.Errorf("group:engineering stored %d times, want 2", c)
	}
}

// TestReadCatalogVersion5 reads the catalog that rag of format version 5
// wrote (testdata/catalog-v5): all it holds, with no tenant, access or
// access control, and its version, so that the next run writes it again.
func TestReadCatalogVersion5(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "catalog-v5"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCatalog("catalog", data)
	if err != nil {
		t.Fatal(err)
	}
	if want := fullManifest5(); !reflect.DeepEqual(*got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", *got, want)
	}
	if cur := fullManifest(); got.Equal(&cur) {
		t.Error("the version 5 catalog is equal to the current one: a run would not write it again")
	}
	// Its layout is version 5's: read as version 6, or version 6 read as
	// 5, it is damage (what a version field and the checksum guard).
	if _, err := decodeCatalogBody(string(data[8:len(data)-4]), 6); err == nil {
		t.Error("a version 5 body read as version 6")
	}
	m := fullManifest()
	cur, err := encodeCatalog(&m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeCatalogBody(string(cur[8:len(cur)-4]), 5); err == nil {
		t.Error("a version 6 body read as version 5")
	}
}

// TestCatalogDamage: every truncation and every changed byte of a catalog
// is found (the checksum), never read as something else.
func TestCatalogDamage(t *testing.T) {
	t.Parallel()
	m := fullManifest()
	data, err := encodeCatalog(&m)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, err := decodeCatalog("catalog", data[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
	for i := range data {
		b := append([]byte(nil), data...)
		b[i] ^= 0x10
		_, err := decodeCatalog("catalog", b)
		var c *CorruptError
		if !errors.As(err, &c) || !c.Catalog {
			t.Fatalf("byte %d changed: %v, want a CorruptError of the catalog", i, err)
		}
	}
}

func TestManifestEqual(t *testing.T) {
	t.Parallel()
	changes := map[string]func(m *Manifest){
		"version":      func(m *Manifest) { m.FormatVersion = 4 },
		"model":        func(m *Manifest) { m.EmbedModel = "other" },
		"updated":      func(m *Manifest) { m.Updated = m.Updated.Add(1) },
		"source glob":  func(m *Manifest) { m.Sources[2].Exclude = nil },
		"problem":      func(m *Manifest) { m.Problems[1].Failed = false },
		"file key":     func(m *Manifest) { m.Files[0].Key = key(9) },
		"file seen":    func(m *Manifest) { m.Files[2].Seen = &Seen{Size: 2000} },
		"seen dropped": func(m *Manifest) { m.Files[3].Seen = nil },
		"meta":         func(m *Manifest) { m.Files[1].Meta = map[string]any{"title": "Other"} },
		"indexed at":   func(m *Manifest) { m.Files[4].IndexedAt = time.Time{} },
		"file dropped": func(m *Manifest) { m.Files = m.Files[1:] },
		// A run that changes only access or tenants must commit.
		"access control":         func(m *Manifest) { m.AccessControl = false },
		"file tenant":            func(m *Manifest) { m.Files[3].Tenant = "globex" },
		"file tenant to default": func(m *Manifest) { m.Files[1].Tenant = "" },
		"file access":            func(m *Manifest) { m.Files[0].Access = []string{"group:eng"} },
		"file access order":      func(m *Manifest) { m.Files[0].Access = []string{"user:ann", "group:eng"} },
		"file access to empty":   func(m *Manifest) { m.Files[4].Access = []string{} },
		"file access to nil":     func(m *Manifest) { m.Files[2].Access = nil },
		"file access added":      func(m *Manifest) { m.Files[4].Access = []string{"public"} },
		"source tenant":          func(m *Manifest) { m.Sources[0].Tenant = "acme" },
		"source allow":           func(m *Manifest) { m.Sources[2].Allow = []string{"public", "group:eng"} },
		"source allow to nil":    func(m *Manifest) { m.Sources[1].Allow = nil },
		"source allow dropped":   func(m *Manifest) { m.Sources[0].Allow = nil },
		"source inherits":        func(m *Manifest) { m.Sources[3].Inherit &^= InheritTenant },
		"source inherits none":   func(m *Manifest) { m.Sources[5].Inherit = 0 },
		"source removed":         func(m *Manifest) { m.Sources[0].Removed = m.Sources[0].Removed[1:] },
		"source removed added":   func(m *Manifest) { m.Sources[1].Removed = []string{"x"} },
	}
	a := fullManifest()
	if b := fullManifest(); !a.Equal(&b) {
		t.Fatal("equal catalogs differ")
	}
	for name, change := range changes {
		b := fullManifest()
		change(&b)
		if a.Equal(&b) || b.Equal(&a) {
			t.Errorf("%s: still equal", name)
		}
	}
}

// writeJSONIndex writes an index as rag of format version v (3 or 4) left
// it: its objects, and its catalog in manifest.json (and the one before in
// manifest.prev.json) as that rag wrote them, encoding/json's output of
// the Manifest. The previous catalog lacks the last file.
func writeJSONIndex(t *testing.T, dir string, v int) Manifest {
	t.Helper()
	m := fullManifest5()
	m.FormatVersion, m.Dims = v, 4
	m.Files = nil
	for i, text := range []string{"alpha apples", "beta bananas", "gamma grapes"} {
		var buf bytes.Buffer
		if err := encodeObject(&buf, []Chunk{{StartLine: 1, EndLine: 1, Text: text, Vector: vec(4, i)}}); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "objects", key(i)[:2], key(i)+".chk")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		f := FileEntry{Root: "/docs", Path: fmt.Sprintf("%d.md", i), Hash: strings.Repeat("cd", 32), Key: key(i), Size: 12, Chunks: 1,
			ObjectSize: int64(buf.Len()), IndexedAt: m.Created, Format: "markdown"}
		if i == 1 {
			f.Meta = map[string]any{"title": "Beta", "tags": []any{"fruit"}}
		}
		if v >= 4 {
			f.Seen = &Seen{Size: 12, MTime: 100 + int64(i), CTime: 100 + int64(i), Inode: uint64(50 + i), ReadAt: 5000}
		}
		m.Files = append(m.Files, f)
	}
	prev := m
	prev.Files = m.Files[:2]
	for name, c := range map[string]Manifest{legacyName: m, legacyPrevName: prev} {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// snapshot copies the files of an index folder (not its objects) to a new
// folder, as a crash at that moment would leave them.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

func exists(t *testing.T, dir, name string) bool {
	t.Helper()
	_, err := os.Lstat(filepath.Join(dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestMigrateJSONCatalog opens indexes of format versions 3 and 4 (JSON
// catalogs): they are read as before, and the first commit writes the
// binary catalog, durable before the JSON files go: a crash between the two
// leaves both, and the binary one is read.
func TestMigrateJSONCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, v := range []int{3, 4} {
		t.Run(fmt.Sprintf("version %d", v), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			old := writeJSONIndex(t, dir, v)

			r := openRead(t, dir)
			if got := r.Manifest(); !reflect.DeepEqual(got, old) {
				t.Fatalf("read\n%+v\nwant\n%+v", got, old)
			}
			if hits, err := r.SearchText(ctx, View{}, "bananas", 1); err != nil || len(hits) != 1 || hits[0].File.Meta["title"] != "Beta" {
				t.Fatalf("SearchText = %+v, %v", hits, err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}

			// What a crash at each point of the commit leaves, and which
			// catalog a reader then finds (by its update time).
			crashes := map[string]string{}
			w, err := Open(ctx, dir, Options{Write: true, Hook: func(p string) {
				if p == "catalog-written" || p == "catalog-committed" || p == "legacy-removed" {
					crashes[p] = snapshot(t, dir)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if ds, err := w.CheckObjects(ctx); err != nil || len(ds) != 0 {
				t.Fatalf("CheckObjects = %v, %v", ds, err)
			}
			m := w.Manifest()
			m.Updated = m.Updated.Add(time.Minute)
			if err := errors.Join(w.Commit(ctx, m), w.Close()); err != nil {
				t.Fatal(err)
			}
			for point, want := range map[string]time.Time{"catalog-written": old.Updated, "catalog-committed": m.Updated, "legacy-removed": m.Updated} {
				snap, ok := crashes[point]
				if !ok {
					t.Fatalf("no %s", point)
				}
				got, err := ReadManifest(snap)
				if err != nil || !got.Updated.Equal(want) || len(got.Files) != 3 {
					t.Errorf("crash at %s: read %v (%d files), %v; want the catalog of %v", point, got.Updated, len(got.Files), err, want)
				}
			}
			if snap := crashes["catalog-committed"]; !exists(t, snap, legacyName) || !exists(t, snap, catalogName) {
				t.Error("the binary catalog was not durable before the JSON one went")
			} else {
				// The next writer finishes the migration: the JSON files go.
				w, err := Open(ctx, snap, Options{Write: true})
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if exists(t, snap, legacyName) || exists(t, snap, legacyPrevName) || !exists(t, snap, catalogName) {
					t.Error("a writer after the crash left the JSON catalog")
				}
			}

			for _, n := range []string{legacyName, legacyPrevName} {
				if exists(t, dir, n) {
					t.Errorf("%s left after the first commit", n)
				}
			}
			got, err := ReadManifest(dir)
			if err != nil || got.FormatVersion != FormatVersion || !got.Updated.Equal(m.Updated) {
				t.Fatalf("after the commit: version %d, updated %v, %v", got.FormatVersion, got.Updated, err)
			}
			got.FormatVersion, got.Updated = old.FormatVersion, old.Updated
			if !reflect.DeepEqual(got, old) {
				t.Errorf("migrated\n%+v\nwant\n%+v", got, old)
			}
			// The JSON catalog it replaced is kept as the previous one, converted.
			prev, err := readCatalogFile(dir, prevName)
			if err != nil || prev == nil || len(prev.Files) != 3 || !prev.Updated.Equal(old.Updated) {
				t.Fatalf("previous catalog = %+v, %v", prev, err)
			}
			r = openRead(t, dir)
			if hits, err := r.Search(ctx, View{}, vec(4, 2), 1); err != nil || len(hits) != 1 || hits[0].File.Path != "2.md" {
				t.Fatalf("Search after the migration = %+v, %v", hits, err)
			}
		})
	}
}

// TestMigrateDamagedJSONCatalog: a damaged manifest.json is read from
// manifest.prev.json as before, and it is that good catalog that the
// migration keeps as the previous one.
func TestMigrateDamagedJSONCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	writeJSONIndex(t, dir, 4)
	if err := os.WriteFile(filepath.Join(dir, legacyName), []byte(`{"format_version":4,"files":[{"pa`), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Open(ctx, dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	if w.Recovered() == nil || len(w.Manifest().Files) != 2 {
		t.Fatalf("recovered %v, %d files", w.Recovered(), len(w.Manifest().Files))
	}
	m := w.Manifest()
	m.Files = m.Files[:1]
	if err := errors.Join(w.Commit(ctx, m), w.Close()); err != nil {
		t.Fatal(err)
	}
	if prev, err := readCatalogFile(dir, prevName); err != nil || prev == nil || len(prev.Files) != 2 {
		t.Fatalf("previous catalog = %+v, %v", prev, err)
	}
	if got, err := ReadManifest(dir); err != nil || len(got.Files) != 1 || exists(t, dir, legacyName) || exists(t, dir, legacyPrevName) {
		t.Fatalf("after the commit: %d files, %v", len(got.Files), err)
	}
}

// TestMigrateUnfinishedRebuild: an older rag's unfinished rebuild
// (manifest.next.json) keeps its objects through other runs and is resumed
// by the next rebuild, which writes catalog.next and, once published,
// leaves no JSON catalog.
func TestMigrateUnfinishedRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	old := writeJSONIndex(t, dir, 4)
	staged := old
	staged.Generation = "fedcba9876543210"
	staged.Files = old.Files[2:]
	data, err := json.Marshal(staged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, legacyStagingName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Only the rebuild names object 2 from now on.
	w, err := Open(ctx, dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	m := w.Manifest()
	m.Files = m.Files[:2]
	if err := errors.Join(w.Commit(ctx, m), w.Close()); err != nil {
		t.Fatal(err)
	}
	if !exists(t, dir, legacyStagingName) || exists(t, dir, legacyName) || !exists(t, dir, filepath.Join("objects", key(2)[:2], key(2)+".chk")) {
		t.Fatal("the unfinished rebuild or its object is gone")
	}
	rb, err := Open(ctx, dir, Options{Write: true, Rebuild: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rb.Staging() || rb.Manifest().Generation != staged.Generation {
		t.Fatalf("the rebuild did not resume: generation %s", rb.Manifest().Generation)
	}
	if err := rb.Commit(ctx, rb.Manifest()); err != nil {
		t.Fatal(err)
	}
	if !exists(t, dir, stagingName) || exists(t, dir, legacyStagingName) {
		t.Fatal("the rebuild's commit did not replace manifest.next.json")
	}
	if err := errors.Join(rb.Publish(ctx), rb.Close()); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil || got.Generation != staged.Generation || len(got.Files) != 1 {
		t.Fatalf("published: %+v, %v", got, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") || e.Name() == stagingName {
			t.Errorf("%s left after the rebuild", e.Name())
		}
	}
}

// TestNewerCatalogRefused: a catalog of a later format version is refused
// as such (not read as damage from the previous catalog).
func TestNewerCatalogRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	commitFiles(t, s)
	commitFiles(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, catalogName)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	body := data[:len(data)-4]
	le.PutUint32(body[4:], FormatVersion+1)
	if err := os.WriteFile(p, le.AppendUint32(body, crc32.ChecksumIEEE(body)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, opt := range []Options{{}, {Write: true}} {
		var v *VersionError
		if _, err := Open(ctx, dir, opt); !errors.As(err, &v) || v.Got != FormatVersion+1 {
			t.Errorf("Open(%+v) = %v, want a VersionError", opt, err)
		}
	}
}

func FuzzDecodeCatalog(f *testing.F) {
	m := fullManifest()
	data, err := encodeCatalog(&m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)-4]) // no checksum
	f.Add([]byte("RAGM\x05\x00\x00\x00"))
	f.Add([]byte("RAGM\x06\x00\x00\x00"))
	v5, err := os.ReadFile(filepath.Join("testdata", "catalog-v5"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v5)
	for _, v := range []string{"catalog-v6", "catalog-v7"} {
		data, err := os.ReadFile(filepath.Join("testdata", v))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	shared := accessFiles(20, func(i int) string { return fmt.Sprint("t", i%3) },
		func(i int) []string { return [][]string{nil, {}, {"public"}, {"group:eng", "user:ann"}}[i%4] })
	if data, err = encodeCatalog(&shared); err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Must not panic, whatever the bytes; what it accepts is whole.
		if m, err := decodeCatalog("catalog", data); err == nil {
			if err := checkManifest(m); err != nil {
				t.Fatalf("accepted: %v", err)
			}
		}
		// The body alone, past the checksum, as damage the checksum
		// missed, in the layout of each binary version.
		if len(data) > 0 {
			for v := firstBinaryVersion; v <= FormatVersion; v++ {
				_, _ = decodeCatalogBody(string(data), v)
			}
		}
	})
}

// BenchmarkDecodeCatalog decodes a catalog of 7,750 files (issue 11's
// corpus), as every command that opens an index does: the binary catalog
// of a single user's index (no tenants or access), of an index with access
// control (three tenants, six lists of principals), and the JSON one of
// format version 4 the binary one replaced.
func BenchmarkDecodeCatalog(b *testing.B) {
	m := Manifest{FormatVersion: FormatVersion, EmbedModel: "m", Dims: 768, Generation: "95b72727d459f4d7", Sources: []Source{{Path: "/corpus"}}}
	for i := range 7750 {
		m.Files = append(m.Files, FileEntry{Root: "/root/.cache/rag-bench/run/corpus", Path: fmt.Sprintf("d%03d/doc%05d.md", i/100, i),
			Hash: key(i + 1e6), Key: key(i), Size: 38890, Chunks: 22, ObjectSize: 113053, IndexedAt: time.Now().UTC(), Format: "markdown",
			Seen: &Seen{Size: 38890, MTime: 1795958145724689382, CTime: 1795958145724689382, Inode: 10225971, ReadAt: 1795958158224114356}})
	}
	access := m
	access.AccessControl = true
	access.Files = slices.Clone(m.Files)
	lists := [][]string{{"group:eng"}, {"group:eng", "user:ann"}, {"public"}, {"group:support"}, {"group:eng", "group:support"}, {}}
	for i := range access.Files {
		access.Files[i].Tenant = []string{"", "acme", "globex"}[i%3]
		access.Files[i].Access = append([]string(nil), lists[i%len(lists)]...)
	}
	for _, c := range []struct {
		name string
		m    *Manifest
	}{{"binary", &m}, {"binary with access", &access}} {
		data, err := encodeCatalog(c.m)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := decodeCatalog("catalog", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	m.FormatVersion = 4
	js, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			if _, err := parseManifest(legacyName, js); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCatalog6Readable: a catalog rag of format version 6 wrote
// (testdata/catalog-v6) reads as it was, with no collection named.
func TestCatalog6Readable(t *testing.T) {
	t.Parallel()
	got := readTestCatalog(t, "catalog-v6")
	want := fullManifest6()
	if !got.Equal(&want) {
		t.Errorf("read %+v\nwant %+v", got, want)
	}
	// A source flag of version 7 in a version 6 catalog is damage.
	if !refusedAs(t, 6) {
		t.Error("a version 6 catalog with collections was read")
	}
}

// readTestCatalog reads testdata/NAME, a catalog an older rag wrote, as
// Open reads a catalog.
func readTestCatalog(t *testing.T, name string) Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, catalogName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// refusedAs reports whether fullManifest, which uses what every version
// added, is refused when its catalog says it is of version v.
func refusedAs(t *testing.T, v uint32) bool {
	t.Helper()
	m := fullManifest()
	b, err := encodeCatalog(&m)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[4:], v)
	body := b[:len(b)-4]
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(body))
	_, err = decodeCatalog("catalog", b)
	return err != nil
}

// TestCatalog7Readable: a catalog rag of format version 7 wrote
// (testdata/catalog-v7) reads as it was: its sources never nested, so each
// has settings of its own and inherits none, and nothing was removed from
// any folder; the first commit writes version 8. What version 8 added is
// damage in a version 7 catalog.
func TestCatalog7Readable(t *testing.T) {
	t.Parallel()
	got := readTestCatalog(t, "catalog-v7")
	want := fullManifest7()
	if !got.Equal(&want) {
		t.Errorf("read %+v\nwant %+v", got, want)
	}
	for _, s := range got.Sources {
		if s.Inherit != 0 {
			t.Errorf("%s inherits %v", s.Path, s.Inherit.Names())
		}
	}
	b, err := encodeCatalog(&got)
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != FormatVersion {
		t.Errorf("written as version %d", v)
	}
	again, err := decodeCatalog("catalog", b)
	if err != nil {
		t.Fatal(err)
	}
	want.FormatVersion = FormatVersion
	if !again.Equal(&want) {
		t.Errorf("after migration %+v\nwant %+v", again, want)
	}
	if !refusedAs(t, 7) {
		t.Error("a version 7 catalog with inherited settings was read")
	}
}

func TestSourceRemoved(t *testing.T) {
	t.Parallel()
	s := Source{Path: "/docs", Removed: []string{"notes", "src/old.go"}}
	for p, want := range map[string]bool{
		"/docs/notes": true, "/docs/notes/a.md": true, "/docs/src/old.go": true,
		"/docs/notes2": false, "/docs/src": false, "/docs": false, "/docs/src/new.go": false,
	} {
		if got := s.Leaves(p); got != want {
			t.Errorf("Leaves(%s) = %v", p, got)
		}
	}
	for p, want := range map[string][]string{
		"/docs/notes":      {"src/old.go"},
		"/docs/src":        {"notes"},
		"/docs/notes/a.md": {"notes", "src/old.go"}, // inside: the rest stays out
		"/docs/src/old.go": {"notes"},
		"/docs/other":      {"notes", "src/old.go"},
	} {
		if got := s.Readd(p).Removed; !slices.Equal(got, want) {
			t.Errorf("Readd(%s) leaves %q, want %q", p, got, want)
		}
	}
	if len(s.Removed) != 2 {
		t.Error("Readd changed its source")
	}
}
