package store_test

// The migration of indexes of format version 5, tested from outside the
// package: the catalogs of that version come from storetest, which the
// package's own tests cannot import.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/store/storetest"
)

// TestCatalog5Frozen: storetest writes a version 5 catalog byte for byte
// as rag of that version did (testdata/catalog-v5 is its output), and
// refuses what that version cannot hold rather than drop it.
func TestCatalog5Frozen(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile(filepath.Join("testdata", "catalog-v5"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "catalog"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := store.ReadManifest(dir)
	if err != nil || m.FormatVersion != 5 || len(m.Files) == 0 {
		t.Fatalf("ReadManifest = version %d, %d files, %v", m.FormatVersion, len(m.Files), err)
	}
	got, err := storetest.Catalog5(&m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("storetest.Catalog5 differs from what rag of format version 5 wrote")
	}
	for name, change := range map[string]func(m *store.Manifest){
		"access control": func(m *store.Manifest) { m.AccessControl = true },
		"file tenant":    func(m *store.Manifest) { m.Files[0].Tenant = "acme" },
		"file access":    func(m *store.Manifest) { m.Files[0].Access = []string{} },
		"source tenant":  func(m *store.Manifest) { m.Sources[0].Tenant = "acme" },
		"source allow":   func(m *store.Manifest) { m.Sources[0].Allow = []string{"public"} },
	} {
		c := m.Clone()
		change(&c)
		if _, err := storetest.Catalog5(&c); err == nil {
			t.Errorf("%s: written as version 5", name)
		}
	}
}

func objectKey(i int) string { return fmt.Sprintf("%064x", i+1) }

// newIndex5 writes an index of three files, one chunk each, as rag of
// format version 5 left it, and returns its catalog.
func newIndex5(t *testing.T) (string, store.Manifest) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w, err := store.Open(ctx, dir, store.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	m := w.Manifest()
	m.EmbedModel, m.Dims = "m", 4
	m.Created = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	m.Updated = m.Created
	m.Sources = []store.Source{{Path: "/docs", Include: []string{"*.md"}}}
	m.Problems = []store.Problem{{Root: "/docs", Path: "big.pdf", Reason: "larger than --max-size"}}
	for i, text := range []string{"alpha apples", "beta bananas", "gamma grapes"} {
		v := make([]float32, 4)
		v[i] = 1
		if err := w.PutObject(ctx, objectKey(i), []store.Chunk{{StartLine: 1, EndLine: 1, Text: text, Vector: v}}); err != nil {
			t.Fatal(err)
		}
		f := store.FileEntry{Root: "/docs", Path: fmt.Sprintf("%d.md", i), Hash: strings.Repeat("cd", 32), Key: objectKey(i),
			Size: 12, Chunks: 1, IndexedAt: m.Created, Format: "markdown",
			Seen: &store.Seen{Size: 12, MTime: 100, CTime: 100, Inode: uint64(50 + i), ReadAt: 5000}}
		if i == 1 {
			f.Meta = map[string]any{"title": "Beta"}
		}
		m.Files = append(m.Files, f)
	}
	if err := errors.Join(w.Commit(ctx, m), w.Close()); err != nil {
		t.Fatal(err)
	}
	old, err := storetest.ToFormat5(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, old
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

// TestMigrateCatalog5 opens an index of format version 5: it is read and
// searched as it is (no tenant, no access, no access control), and the
// first commit writes version 6, with the fields it adds, in one atomic
// step: a crash at any point of it leaves the old catalog or the new one.
// The version 5 catalog is kept as the previous one, whole.
func TestMigrateCatalog5(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, old := newIndex5(t)
	v5, err := os.ReadFile(filepath.Join(dir, "catalog"))
	if err != nil {
		t.Fatal(err)
	}

	r, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Manifest()
	if !reflect.DeepEqual(got, old) || got.FormatVersion != 5 || got.AccessControl || got.Files[0].Access != nil || got.Files[0].Tenant != "" {
		t.Errorf("read\n%+v\nwant\n%+v", got, old)
	}
	hits, err := r.SearchText(ctx, store.View{}, "bananas", 1)
	if err := errors.Join(err, r.Close()); err != nil || len(hits) != 1 || hits[0].File.Meta["title"] != "Beta" {
		t.Fatalf("SearchText = %+v, %v", hits, err)
	}

	crashes := map[string]string{}
	w, err := store.Open(ctx, dir, store.Options{Write: true, Hook: func(p string) {
		if strings.HasPrefix(p, "catalog-") || strings.HasPrefix(p, "previous catalog-") {
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
	m = m.Clone()
	m.Updated = m.Updated.Add(time.Minute)
	m.AccessControl = true
	m.Sources = []store.Source{{Path: "/docs", Include: []string{"*.md"}, Tenant: "acme", Allow: []string{"group:eng"}}}
	m.Files[0].Tenant, m.Files[0].Access = "acme", []string{"group:eng"}
	m.Files[1].Tenant, m.Files[1].Access = "acme", []string{}
	m.Files[2].Tenant, m.Files[2].Access = "acme", []string{"public"}
	if err := errors.Join(w.Commit(ctx, m), w.Close()); err != nil {
		t.Fatal(err)
	}

	for point, want := range map[string]int{"catalog-half-written": 5, "catalog-written": 5, "catalog-committed": store.FormatVersion} {
		snap, ok := crashes[point]
		if !ok {
			t.Fatalf("no %s", point)
		}
		got, err := store.ReadManifest(snap)
		if err != nil || got.FormatVersion != want || len(got.Files) != 3 {
			t.Errorf("crash at %s: read version %d (%d files), %v; want version %d", point, got.FormatVersion, len(got.Files), err, want)
		}
	}
	if len(crashes) != 3 {
		t.Errorf("commit points %v, want the catalog's three", crashes)
	}

	got, err = store.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.FormatVersion = store.FormatVersion
	m.Files[0].ObjectSize, m.Files[1].ObjectSize, m.Files[2].ObjectSize = old.Files[0].ObjectSize, old.Files[1].ObjectSize, old.Files[2].ObjectSize
	if !reflect.DeepEqual(got, m) {
		t.Errorf("after the commit\n%+v\nwant\n%+v", got, m)
	}
	data, err := os.ReadFile(filepath.Join(dir, "catalog"))
	if err != nil {
		t.Fatal(err)
	}
	// A rag of version 5 reads the version before all else and refuses a
	// later one as such (VersionError: exit 7, the hint to rebuild).
	if v := binary.LittleEndian.Uint32(data[4:]); v != store.FormatVersion {
		t.Errorf("catalog of version %d", v)
	}
	if prev, err := os.ReadFile(filepath.Join(dir, "catalog.prev")); err != nil || !bytes.Equal(prev, v5) {
		t.Errorf("the previous catalog is not the version 5 one (%v)", err)
	}

	r, err = store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hits, err = r.Search(ctx, store.View{Tenant: "acme"}, []float32{0, 0, 1, 0}, 1)
	if err := errors.Join(err, r.Close()); err != nil || len(hits) != 1 || hits[0].File.Path != "2.md" ||
		hits[0].File.Tenant != "acme" || !reflect.DeepEqual(hits[0].File.Access, []string{"public"}) {
		t.Fatalf("Search after the migration = %+v, %v", hits, err)
	}
}

// TestMigrateUnfinishedRebuild5: the unfinished rebuild of a rag of format
// version 5 (catalog.next of that version) is resumed by the next rebuild,
// whose commit writes it in version 6.
func TestMigrateUnfinishedRebuild5(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, old := newIndex5(t)
	staged := old.Clone()
	staged.Generation = "fedcba9876543210"
	staged.Files = staged.Files[2:]
	data, err := storetest.Catalog5(&staged)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "catalog.next"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rb, err := store.Open(ctx, dir, store.Options{Write: true, Rebuild: true})
	if err != nil {
		t.Fatal(err)
	}
	if m := rb.Manifest(); !rb.Staging() || m.Generation != staged.Generation || m.FormatVersion != 5 {
		t.Fatalf("the rebuild did not resume: generation %s, version %d", m.Generation, m.FormatVersion)
	}
	m := rb.Manifest()
	m.AccessControl = true
	if err := errors.Join(rb.Commit(ctx, m), rb.Publish(ctx), rb.Close()); err != nil {
		t.Fatal(err)
	}
	got, err := store.ReadManifest(dir)
	if err != nil || got.Generation != staged.Generation || got.FormatVersion != store.FormatVersion || !got.AccessControl || len(got.Files) != 1 {
		t.Fatalf("published: %+v, %v", got, err)
	}
}
