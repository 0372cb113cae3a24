package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/store"
)

// indexedPaths are the absolute paths of the files the index holds.
func indexedPaths(t *testing.T, dir string) []string {
	t.Helper()
	m, err := store.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range m.Files {
		out = append(out, filepath.Join(f.Root, filepath.FromSlash(f.Path)))
	}
	return out
}

func TestIndexRemove(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := t.TempDir()
	write(t, filepath.Join(other, "a.md"), "# A\n\nAlpacas graze on hills.\n")
	write(t, filepath.Join(other, "b.md"), "# B\n\nBadgers dig setts.\n")
	single := filepath.Join(t.TempDir(), "single.md")
	write(t, single, "# Single\n\nA single file about kestrels.\n")
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, h.docs, other, single)
	cooking := filepath.Join(h.docs, "notes", "cooking.md")

	// Every step embeds nothing and leaves the files on disk alone.
	steps := []struct {
		name    string
		args    []string
		removed int
		gone    []string
	}{
		{"a file inside a folder", []string{"--remove", cooking}, 1, []string{cooking}},
		{"a folder inside a folder", []string{"--remove", filepath.Join(h.docs, "src")}, 1, []string{filepath.Join(h.docs, "src", "server.go")}},
		{"a recorded single file", []string{"--remove", single}, 1, []string{single}},
		{"two folders at once", []string{"--remove", other, "--remove", h.docs}, 4, []string{filepath.Join(other, "a.md"), filepath.Join(h.docs, "install.md")}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			h := *h
			h.t = t
			before := h.srv.EmbeddedTexts()
			rep := indexJSON(t, h.mustRun(runOpt{}, append([]string{"index", "--json"}, s.args...)...))
			if got := h.srv.EmbeddedTexts() - before; got != 0 {
				t.Errorf("embedded %d texts, want 0", got)
			}
			if rep.Removed != s.removed || rep.ChunksEmbedded != 0 || rep.TotalFiles != len(indexedPaths(t, h.index)) {
				t.Errorf("report = %+v", rep)
			}
			held := indexedPaths(t, h.index)
			for _, g := range s.gone {
				if slices.Contains(held, g) {
					t.Errorf("%s is still in the index", g)
				}
				if _, err := os.Stat(g); err != nil {
					t.Errorf("the file on disk was touched: %v", err)
				}
			}
		})
		if t.Failed() {
			return
		}
		if s.name == "a folder inside a folder" {
			// A refresh of the folder leaves out what was removed from it,
			// and embeds nothing.
			t.Run("refresh keeps them out", func(t *testing.T) {
				h := *h
				h.t = t
				before := h.srv.EmbeddedTexts()
				h.mustRun(runOpt{}, "index")
				held := indexedPaths(t, h.index)
				if slices.Contains(held, cooking) || slices.Contains(held, filepath.Join(h.docs, "src", "server.go")) || h.srv.EmbeddedTexts() != before {
					t.Errorf("after refresh the index holds %v (embedded %d)", held, h.srv.EmbeddedTexts()-before)
				}
				st := h.status()
				if i := slices.IndexFunc(st.Sources, func(s statusSource) bool { return s.Path == h.docs }); i < 0 || !slices.Equal(st.Sources[i].Removed, []string{"notes/cooking.md", "src"}) || st.Sources[i].Exclude != nil {
					t.Errorf("sources = %+v", st.Sources)
				}
				if r := h.mustRun(runOpt{}, "search", "--mode", "lexical", "spaghetti garlic"); strings.Contains(r.stdout, "cooking.md") {
					t.Errorf("removed file still found: %s", r.stdout)
				}
			})
		}
	}
	if st := h.status(); len(st.Sources) != 0 || st.Files != 0 {
		t.Errorf("status after removing everything: %+v", st)
	}
}

func TestIndexRemoveOutput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	r := h.mustRun(runOpt{}, "index", "--remove", filepath.Join(h.docs, "retry.txt"))
	if want := "Removed 1 file from the index (nothing embedded, no file on disk touched).\nIndex " + h.index + ": 3 files, 3 chunks, fake-embed (128 dimensions).\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
}

func TestIndexRemoveErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	none := filepath.Join(t.TempDir(), "none")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		err  string
		hint string
	}{
		{"not in the index", nil, []string{"--remove", t.TempDir()}, ExitUsage, "is not in the index", "rag status"},
		{"a path beside a removal", nil, []string{"--remove", h.docs, h.docs}, ExitUsage, "--remove takes its paths alone", "rag index --help"},
		{"no index", map[string]string{"RAG_INDEX": none}, []string{"--remove", h.docs}, ExitIndex, "no index at", "rag index DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h2 := h.with(t, tt.env)
			r := h2.run(runOpt{}, append([]string{"index"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.err) || !strings.Contains(hintLine(r.stderr), tt.hint) {
				t.Errorf("exit %d (want %d), stderr %q", r.code, tt.code, r.stderr)
			}
		})
	}
	if _, err := os.Stat(none); err == nil {
		t.Error("--remove on no index created one")
	}
	t.Run("busy", func(t *testing.T) {
		st, err := store.Open(context.Background(), h.index, store.Options{Write: true})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := st.Close(); err != nil {
				t.Error(err)
			}
		}()
		r := h.run(runOpt{}, "index", "--remove", h.docs)
		if r.code != ExitBusy {
			t.Errorf("exit %d, want %d: %s", r.code, ExitBusy, r.stderr)
		}
	})
	if len(indexedPaths(t, h.index)) != 4 {
		t.Error("a failed --remove changed the index")
	}
}

// TestRemovedStaysRemoved: what `rag index --remove` took out of a folder
// stays out when the folder is indexed again by name, with other walk
// flags or rebuilt, and status shows it; indexing it by name brings it
// back, and a file inside a removed folder is indexed alone.
func TestRemovedStaysRemoved(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	notes := filepath.Join(h.docs, "notes")
	cooking := filepath.Join(notes, "cooking.md")
	baking := filepath.Join(notes, "baking.md")
	write(t, baking, "# Baking\n\nSourdough needs a starter.\n")
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, h.docs)
	h.mustRun(runOpt{}, "index", "--remove", notes)

	removedOf := func(t *testing.T) []string {
		t.Helper()
		for _, s := range h.status().Sources {
			if s.Path == h.docs {
				return s.Removed
			}
		}
		t.Fatalf("no source %s", h.docs)
		return nil
	}
	for _, run := range [][]string{
		{"index", h.docs},
		{"index", "--exclude", "*.txt", h.docs},
		{"index", "--rebuild", h.docs},
		{"index"},
	} {
		before := h.srv.EmbeddedTexts()
		h.mustRun(runOpt{}, run...)
		held := indexedPaths(t, h.index)
		if slices.Contains(held, cooking) || slices.Contains(held, baking) {
			t.Errorf("rag %s brought back the removed folder: %v", strings.Join(run, " "), held)
		}
		if run[len(run)-1] == h.docs && run[1] != "--rebuild" && h.srv.EmbeddedTexts() != before {
			t.Errorf("rag %s embedded %d texts", strings.Join(run, " "), h.srv.EmbeddedTexts()-before)
		}
		if got := removedOf(t); !slices.Equal(got, []string{"notes"}) {
			t.Errorf("after rag %s, removed = %q", strings.Join(run, " "), got)
		}
	}
	r := h.mustRun(runOpt{}, "status")
	if !strings.Contains(r.stdout, "  "+h.docs+" (folder; collection "+filepath.Base(h.docs)+")\n    removed: notes (rag index PATH brings one back)\n") {
		t.Errorf("status does not show what was removed:\n%s", r.stdout)
	}

	// A file inside the removed folder, named: indexed alone, the rest
	// stays out, and a refresh of the folder does not drop it.
	r = h.mustRun(runOpt{}, "index", baking)
	h.mustRun(runOpt{}, "index", h.docs)
	held := indexedPaths(t, h.index)
	if !slices.Contains(held, baking) || slices.Contains(held, cooking) || !slices.Equal(removedOf(t), []string{"notes"}) {
		t.Errorf("after indexing %s: %v, removed %q (%s)", baking, held, removedOf(t), r.stderr)
	}

	// The removed folder, named: back in the folder.
	r = h.mustRun(runOpt{}, "index", notes)
	if !strings.Contains(r.stderr, "rag: note: "+notes+" was removed from "+h.docs+" (rag index --remove); indexing it by name brings it back") {
		t.Errorf("stderr %q", r.stderr)
	}
	held = indexedPaths(t, h.index)
	if !slices.Contains(held, cooking) || !slices.Contains(held, baking) || removedOf(t) != nil {
		t.Errorf("after indexing %s: %v, removed %q", notes, held, removedOf(t))
	}
	// The file named before stays a source of its own, inside the folder
	// that holds its entry (sources nest; its settings are its own).
	if srcs := h.status().Sources; len(srcs) != 2 || srcs[1].Path != baking || srcs[1].Inside != h.docs {
		t.Errorf("sources %+v, want the folder and %s inside it", srcs, baking)
	}
}

// TestRemovedUnderAccessControl: under access control a view that does not
// see the whole index is not told what was removed (names of files whose
// access no run decides, as skipped ones); --all is.
func TestRemovedUnderAccessControl(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := t.TempDir()
	write(t, filepath.Join(other, "b.md"), "# B\n\nBadgers dig setts.\n")
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, "--allow", "user:ann", h.docs)
	h.mustRun(runOpt{}, "index", "--allow", "user:bob", other)
	h.mustRun(runOpt{}, "index", "--remove", filepath.Join(h.docs, "notes"))
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--as", "user:ann"}, nil},
		{[]string{"--all"}, []string{"notes"}},
	} {
		r := h.mustRun(runOpt{}, append([]string{"status", "--json"}, tt.args...)...)
		var rep statusReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(rep.Sources, func(s statusSource) bool { return s.Path == h.docs })
		if i < 0 || !slices.Equal(rep.Sources[i].Removed, tt.want) {
			t.Errorf("status %v: sources %+v, want %s removed %q", tt.args, rep.Sources, h.docs, tt.want)
		}
	}
}
