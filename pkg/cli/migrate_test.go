package cli

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/store/storetest"
)

// toJSONIndex turns the index of h into one as rag of format version 4
// left it: its catalog in manifest.json, written as that rag wrote it
// (encoding/json's output of the Manifest), and no binary catalog.
func toJSONIndex(t *testing.T, h *harness) store.Manifest {
	t.Helper()
	m, err := store.ReadManifest(h.index)
	if err != nil {
		t.Fatal(err)
	}
	m.FormatVersion = 4
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(h.index, "manifest.json"), string(data))
	for _, n := range []string{"catalog", "catalog.prev"} {
		if err := os.Remove(filepath.Join(h.index, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return m
}

// TestMigrateJSONIndex: an index of format version 4 is read and searched
// as before; the first `rag index`, though it changes nothing else, writes
// the binary catalog in its place; the next one writes nothing. A version 4
// index among the documents is still skipped as an index.
func TestMigrateJSONIndex(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	const q = "client retries a failed upload"
	want := decodeSearch(t, h.run(runOpt{}, "search", "--json", q))
	old := toJSONIndex(t, h)
	write(t, filepath.Join(h.docs, "old-index", "manifest.json"), `{"format_version":4,"generation":"g","files":[]}`)

	if st := h.status(); st.FormatVersion != 4 || st.Files != 4 || st.Health != "ok" {
		t.Fatalf("status of the version 4 index: %+v", st)
	}
	if got := decodeSearch(t, h.run(runOpt{}, "search", "--json", q)); !reflect.DeepEqual(got, want) {
		t.Errorf("search of the version 4 index:\n%+v\nwant\n%+v", got, want)
	}

	before := h.srv.EmbeddedTexts()
	rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json"))
	if rep.Indexed != 0 || rep.Unchanged != 4 || rep.Removed != 0 || h.srv.EmbeddedTexts() != before {
		t.Errorf("the migrating run did work: %+v, %d embedded", rep, h.srv.EmbeddedTexts()-before)
	}
	skipped := false
	for _, s := range rep.SkippedFiles {
		skipped = skipped || s.Path == filepath.Join(h.docs, "old-index") && s.Reason == "a rag index folder"
	}
	if !skipped {
		t.Errorf("the version 4 index in the documents was not skipped: %+v", rep.SkippedFiles)
	}
	if _, err := os.Stat(filepath.Join(h.index, "manifest.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("manifest.json left: %v", err)
	}
	m, err := store.ReadManifest(h.index)
	if err != nil || m.FormatVersion != store.FormatVersion {
		t.Fatalf("after the run: version %d, %v", m.FormatVersion, err)
	}
	if len(m.Files) != len(old.Files) || !m.Files[0].IndexedAt.Equal(old.Files[0].IndexedAt) || *m.Files[0].Seen != *old.Files[0].Seen {
		t.Errorf("files changed by the migration:\n%+v\nwant\n%+v", m.Files, old.Files)
	}
	if st := h.status(); st.FormatVersion != store.FormatVersion || st.Files != 4 || st.Health != "ok" {
		t.Errorf("status after the migration: %+v", st)
	}
	if got := decodeSearch(t, h.run(runOpt{}, "search", "--json", q)); !reflect.DeepEqual(got, want) {
		t.Errorf("search after the migration:\n%+v\nwant\n%+v", got, want)
	}

	p := filepath.Join(h.index, "catalog")
	first, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h.mustRun(runOpt{}, "index")
	if again, err := os.ReadFile(p); err != nil || string(again) != string(first) {
		t.Errorf("a run after the migration wrote the catalog again (%v)", err)
	}
}

// TestMigrateIndex5: an index of format version 5 (the binary catalog
// before tenants and access) is read and searched as before; the first
// `rag index`, though it changes nothing else, writes the catalog of the
// current version, keeping the old one as catalog.prev; the next writes
// nothing.
func TestMigrateIndex5(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	const q = "client retries a failed upload"
	want := decodeSearch(t, h.run(runOpt{}, "search", "--json", q))
	old, err := storetest.ToFormat5(h.index)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(h.index, "catalog")
	v5, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}

	if st := h.status(); st.FormatVersion != 5 || st.Files != 4 || st.Health != "ok" {
		t.Fatalf("status of the version 5 index: %+v", st)
	}
	if got := decodeSearch(t, h.run(runOpt{}, "search", "--json", q)); !reflect.DeepEqual(got, want) {
		t.Errorf("search of the version 5 index:\n%+v\nwant\n%+v", got, want)
	}

	before := h.srv.EmbeddedTexts()
	rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json"))
	if rep.Indexed != 0 || rep.Unchanged != 4 || rep.Removed != 0 || h.srv.EmbeddedTexts() != before {
		t.Errorf("the migrating run did work: %+v, %d embedded", rep, h.srv.EmbeddedTexts()-before)
	}
	m, err := store.ReadManifest(h.index)
	if err != nil || m.FormatVersion != store.FormatVersion {
		t.Fatalf("after the run: version %d, %v", m.FormatVersion, err)
	}
	if len(m.Files) != len(old.Files) || !m.Files[0].IndexedAt.Equal(old.Files[0].IndexedAt) || *m.Files[0].Seen != *old.Files[0].Seen {
		t.Errorf("files changed by the migration:\n%+v\nwant\n%+v", m.Files, old.Files)
	}
	if prev, err := os.ReadFile(filepath.Join(h.index, "catalog.prev")); err != nil || string(prev) != string(v5) {
		t.Errorf("catalog.prev is not the version 5 catalog (%v)", err)
	}
	if st := h.status(); st.FormatVersion != store.FormatVersion || st.Files != 4 || st.Health != "ok" {
		t.Errorf("status after the migration: %+v", st)
	}
	if got := decodeSearch(t, h.run(runOpt{}, "search", "--json", q)); !reflect.DeepEqual(got, want) {
		t.Errorf("search after the migration:\n%+v\nwant\n%+v", got, want)
	}

	first, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h.mustRun(runOpt{}, "index")
	if again, err := os.ReadFile(p); err != nil || string(again) != string(first) {
		t.Errorf("a run after the migration wrote the catalog again (%v)", err)
	}
}

// TestNewerIndexRefused: a catalog of a later format version is refused
// by every command with exit 7 and the hint to rebuild.
func TestNewerIndexRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	p := filepath.Join(h.index, "catalog")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	body := data[:len(data)-4]
	binary.LittleEndian.PutUint32(body[4:], store.FormatVersion+1)
	write(t, p, string(binary.LittleEndian.AppendUint32(body, crc32.ChecksumIEEE(body))))
	for _, args := range [][]string{{"search", "retry"}, {"status"}, {"index"}, {"index", h.docs}} {
		r := h.run(runOpt{}, args...)
		if r.code != ExitIndex || !strings.Contains(r.stderr, fmt.Sprintf("format version %d; this rag reads versions 3 to %d", store.FormatVersion+1, store.FormatVersion)) || !strings.Contains(hintLine(r.stderr), "rag index --rebuild DIR...") {
			t.Errorf("rag %s: exit %d, %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}
