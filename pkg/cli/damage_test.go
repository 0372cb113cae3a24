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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/store/storetest"
)

// objectOf is the object file holding the chunks of the indexed file p.
func (h *harness) objectOf(p string) string {
	h.t.Helper()
	obj, _, err := storetest.Object(h.index, p)
	if err != nil {
		h.t.Fatal(err)
	}
	return obj
}

// TestDamagedObjects damages the stored chunks of retry.txt the ways a
// crash or a bad disk does: search (every mode) and ask answer from the
// rest and name the file, status tells what it can see, and rag index
// embeds exactly that file again.
func TestDamagedObjects(t *testing.T) {
	t.Parallel()
	const damagedFile = "retry.txt"
	for _, tt := range storetest.ObjectDamages {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mustIndex()
			if err := tt.Damage(h.objectOf(damagedFile)); err != nil {
				t.Fatal(err)
			}

			st := h.run(runOpt{}, "status", "--json")
			var rep statusReport
			if err := json.Unmarshal([]byte(st.stdout), &rep); err != nil {
				t.Fatalf("status --json: %v\n%s", err, st.stdout)
			}
			if tt.BySize {
				if st.code != ExitIndex || rep.Health != "damaged" || !slices.Equal(rep.DamagedFiles, []string{damagedFile}) {
					t.Errorf("status: exit %d, %+v", st.code, rep)
				}
				r := h.run(runOpt{}, "status")
				if r.code != ExitIndex || !strings.Contains(r.stdout, "Health:       damaged") || !strings.Contains(r.stdout, "  "+damagedFile+"\n") ||
					!strings.Contains(r.stderr, "rag: hint: run `rag index` to embed the damaged files again") {
					t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
				}
			} else if st.code != 0 || rep.Health != "ok" || len(rep.DamagedFiles) != 0 {
				t.Errorf("status (a checksum is not read): exit %d, %+v", st.code, rep)
			}
			r := h.run(runOpt{}, "status", "--verify")
			if r.code != ExitIndex || !strings.Contains(r.stdout, "Verified:     3 chunks read back, 1 damaged file\n") || !strings.Contains(r.stderr, damagedFile) ||
				strings.Contains(r.stdout+r.stderr, ".chk") || !strings.Contains(r.stderr, "rag: hint: run `rag index`") {
				t.Errorf("status --verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = h.run(runOpt{}, "status", "--verify", "--json")
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != ExitIndex || rep.Verified == nil ||
				!slices.Equal(rep.Verified.Damaged, []string{damagedFile}) || !slices.Equal(rep.DamagedFiles, []string{damagedFile}) {
				t.Errorf("status --verify --json: exit %d, %v\n%s", r.code, err, r.stdout)
			}

			for _, mode := range []string{"hybrid", "dense", "lexical"} {
				r := h.run(runOpt{}, "search", "--json", "--mode", mode, "client retries a failed upload, server port")
				s := decodeSearch(t, r)
				if r.code != 0 || !slices.Equal(s.DamagedFiles, []string{damagedFile}) || len(s.Results) == 0 {
					t.Errorf("search --mode %s: exit %d, %+v, %s", mode, r.code, s, r.stderr)
				}
				for _, res := range s.Results {
					if res.Path == damagedFile {
						t.Errorf("search --mode %s returned the damaged file", mode)
					}
				}
				if !strings.Contains(r.stderr, "rag: warning: left out 1 file whose stored chunks are damaged: "+damagedFile+"; run `rag index`") {
					t.Errorf("search --mode %s: stderr %q", mode, r.stderr)
				}
			}
			r = h.run(runOpt{}, "ask", "--json", "--model", chatModel, "Which port does the HTTP server listen on?")
			var ask askReport
			if err := json.Unmarshal([]byte(r.stdout), &ask); err != nil || r.code != 0 || ask.Abstained || !slices.Equal(ask.DamagedFiles, []string{damagedFile}) ||
				!strings.Contains(r.stderr, damagedFile) {
				t.Errorf("ask: exit %d, %v, %s\n%s", r.code, err, r.stdout, r.stderr)
			}

			before := h.srv.EmbeddedTexts()
			r = h.mustRun(runOpt{}, "index", "--json")
			if rep := indexJSON(t, r); rep.Repaired != 1 || rep.Unchanged != 3 || rep.ChunksEmbedded != 1 || h.srv.EmbeddedTexts()-before != 1 {
				t.Errorf("repair: %+v, %d texts embedded", rep, h.srv.EmbeddedTexts()-before)
			}
			if r := h.mustRun(runOpt{}, "status", "--verify", "--json"); !strings.Contains(r.stdout, `"damaged": []`) || !strings.Contains(r.stdout, `"health": "ok"`) {
				t.Errorf("verify after repair: %s", r.stdout)
			}
			r = h.mustRun(runOpt{}, "search", "--json", "--mode", "lexical", "client retries a failed upload")
			if s := decodeSearch(t, r); len(s.Results) == 0 || s.Results[0].Path != damagedFile || len(s.DamagedFiles) != 0 || r.stderr != "" {
				t.Errorf("search after repair: %+v, %q", s, r.stderr)
			}
			before = h.srv.EmbeddedTexts()
			if r := h.mustRun(runOpt{}, "index"); h.srv.EmbeddedTexts() != before || !strings.HasPrefix(r.stdout, "Indexed 0 files (0 new, 0 changed; 0 chunks embedded), 4 unchanged") {
				t.Errorf("second run after repair: %q", r.stdout)
			}
		})
	}
}

// TestRepairReport: the human summary counts repaired files; damage in a
// source the run does not walk is left, and said so.
func TestRepairReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	single := filepath.Join(t.TempDir(), "faq.md")
	write(t, single, "# FAQ\n\nThe office opens at nine.\n")
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, h.docs, single)
	for _, p := range []string{"install.md", "faq.md"} {
		if err := os.Remove(h.objectOf(p)); err != nil {
			t.Fatal(err)
		}
	}
	r := h.mustRun(runOpt{}, "index", h.docs)
	if !strings.Contains(r.stdout, " (0 new, 0 changed, 1 repaired; ") || !strings.Contains(r.stdout, "), 3 unchanged, ") {
		t.Errorf("summary = %q", r.stdout)
	}
	if r.stderr != "rag: warning: 1 file is still damaged (not in this run): faq.md; `rag index` without paths embeds them again\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	if rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json")); rep.Repaired != 1 || rep.Unchanged != 4 {
		t.Errorf("refresh: %+v", rep)
	}
}

// TestStillDamagedKept: flipped bytes in the stored chunks of a source the
// runs do not walk, which a stat does not see, stay known once a run found
// them, whatever catalogs the runs write: each run names the file, status
// reports it meanwhile, and `rag index` without paths embeds it again.
func TestStillDamagedKept(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	single := filepath.Join(t.TempDir(), "faq.md")
	write(t, single, "# FAQ\n\nThe office opens at nine.\n")
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, h.docs, single)
	i := slices.IndexFunc(storetest.ObjectDamages, func(d storetest.ObjectDamage) bool { return !d.BySize })
	if err := storetest.ObjectDamages[i].Damage(h.objectOf("faq.md")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // past the file system's clock tick: the runs' commits are later
	for run := range 2 {
		// A change: each run writes a catalog.
		write(t, filepath.Join(h.docs, "new.md"), fmt.Sprintf("# New\n\nRun %d.\n", run))
		r := h.mustRun(runOpt{}, "index", h.docs)
		if r.stderr != "rag: warning: 1 file is still damaged (not in this run): faq.md; `rag index` without paths embeds them again\n" {
			t.Errorf("run %d: stderr = %q", run+1, r.stderr)
		}
		st := h.run(runOpt{}, "status", "--json")
		var rep statusReport
		if err := json.Unmarshal([]byte(st.stdout), &rep); err != nil || st.code != ExitIndex || rep.Health != "damaged" ||
			!slices.Equal(rep.DamagedFiles, []string{"faq.md"}) {
			t.Errorf("status after run %d: exit %d, %v, %+v", run+1, st.code, err, rep)
		}
	}
	if rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json")); rep.Repaired != 1 || rep.ChunksEmbedded != 1 {
		t.Errorf("every source: %+v", rep)
	}
	if r := h.mustRun(runOpt{}, "status", "--verify", "--json"); !strings.Contains(r.stdout, `"damaged": []`) || !strings.Contains(r.stdout, `"health": "ok"`) {
		t.Errorf("verify after the repair: %s", r.stdout)
	}
}

// TestDamagedCatalog damages the catalog: with a previous catalog kept
// by the commit before, readers use it and say what may be missing, status
// reports it with a hint that works, and rag index writes a new catalog;
// without one (a single run so far), the hint names a rebuild with folders.
func TestDamagedCatalog(t *testing.T) {
	t.Parallel()
	damage := func(h *harness) {
		p := filepath.Join(h.index, "catalog")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		write(t, p, string(data[:len(data)/2]))
	}
	t.Run("recovered from the previous catalog", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.mustIndex()
		write(t, filepath.Join(h.docs, "added.md"), "# Penguins\n\nPenguins live in the south.\n")
		h.mustRun(runOpt{}, "index")
		damage(h)

		r := h.run(runOpt{}, "search", "--json", "--mode", "lexical", "client retries a failed upload")
		if s := decodeSearch(t, r); r.code != 0 || len(s.Results) == 0 || !strings.Contains(r.stderr, "catalog is damaged") ||
			!strings.Contains(r.stderr, "may be missing") || !strings.Contains(r.stderr, "run `rag index`") {
			t.Errorf("search: exit %d, %+v, %q", r.code, s, r.stderr)
		}
		r = h.run(runOpt{}, "status", "--json")
		var rep statusReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != ExitIndex || rep.Health != "damaged" || !rep.CatalogRecovered || rep.Files != 4 {
			t.Errorf("status --json: exit %d, %v, %s", r.code, err, r.stdout)
		}
		r = h.run(runOpt{}, "status")
		if r.code != ExitIndex || !strings.Contains(r.stdout, "Catalog:      damaged; shown is the previous catalog") || !strings.Contains(r.stdout, "Contents:     4 files") ||
			!strings.Contains(r.stderr, "rag: hint: run `rag index` to write a new catalog") {
			t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}

		before := h.srv.EmbeddedTexts()
		r = h.mustRun(runOpt{}, "index", "--json")
		if rep := indexJSON(t, r); rep.New != 1 || rep.Unchanged != 4 || h.srv.EmbeddedTexts()-before != 1 || !strings.Contains(r.stderr, "catalog is damaged") {
			t.Errorf("index: %+v, %d embedded, %q", rep, h.srv.EmbeddedTexts()-before, r.stderr)
		}
		if st := h.status(); st.Health != "ok" || st.CatalogRecovered || st.Files != 5 {
			t.Errorf("status after index: %+v", st)
		}
	})
	t.Run("no previous catalog", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.mustIndex()
		// One commit so far: nothing before it to keep.
		if _, err := os.Stat(filepath.Join(h.index, "catalog.prev")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a previous catalog after the first run: %v", err)
		}
		damage(h)
		const hint = "rag: hint: the catalog has no intact previous copy: rebuild the index with `rag index --rebuild DIR...`"
		for _, args := range [][]string{{"search", "retry"}, {"index"}} {
			if r := h.run(runOpt{}, args...); r.code != ExitIndex || !strings.Contains(r.stderr, hint) {
				t.Errorf("rag %s: exit %d, %q", strings.Join(args, " "), r.code, r.stderr)
			}
		}
		r := h.run(runOpt{}, "status")
		if r.code != ExitIndex || !strings.Contains(r.stdout, "Health:       damaged") || !strings.Contains(r.stderr, hint) {
			t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := h.run(runOpt{}, "status", "--json"); r.code != ExitIndex || !strings.Contains(r.stdout, `"health": "damaged"`) {
			t.Errorf("status --json: exit %d\n%s", r.code, r.stdout)
		}
		if r := h.run(runOpt{}, "index", "--rebuild"); r.code != ExitUsage || !strings.Contains(r.stderr, "rag index --rebuild DIR") {
			t.Errorf("rebuild without folders: exit %d, %q", r.code, r.stderr)
		}
		h.mustRun(runOpt{}, "index", "--rebuild", "--embed-model", embedModel, h.docs)
		if st := h.status(); st.Health != "ok" || st.Files != 4 {
			t.Errorf("after rebuild: %+v", st)
		}
	})
}

// TestCraftedObjectHeader: an object whose header claims more dimensions
// and chunks than its file can hold, its checksum made to match, is
// damage (exit 7 with the repair hint), never a panic: count × dims
// overflowed into a negative capacity.
func TestCraftedObjectHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		dims, count uint32
	}{
		{"both huge: count*dims overflows", 0xffffffff, 0xffffffff},
		{"huge dimensions", 0x40000000, 3},
		{"huge count", 8, 0x7fffffff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mustIndex()
			p := h.objectOf("retry.txt")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			binary.LittleEndian.PutUint32(data[6:], tc.dims)
			binary.LittleEndian.PutUint32(data[10:], tc.count)
			binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.ChecksumIEEE(data[:len(data)-4]))
			write(t, p, string(data))
			for _, args := range [][]string{{"status", "--verify"}, {"show", "retry.txt"}} {
				r := h.run(runOpt{}, args...)
				if r.code != ExitIndex || !strings.Contains(r.stderr, "retry.txt") || !strings.Contains(r.stderr, "rag: hint: run `rag index`") {
					t.Errorf("rag %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
				}
			}
		})
	}
}

// TestIndexVanished deletes the index folder, or replaces it with another
// index, while a query reads it: an error with exit 7 and nothing on
// stdout, never "no results" with exit 0.
func TestIndexVanished(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"search", []string{"search", "retry"}},
		{"search --files", []string{"search", "--files", "retry"}},
		{"search --json", []string{"search", "--json", "retry"}},
		{"search --mode dense", []string{"search", "--mode", "dense", "retry"}},
		{"ask", []string{"ask", "--model", chatModel, "How does the client retry a failed upload?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+", deleted", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mustIndex()
			// The query's embedding is asked for once the catalog is read.
			h.srv.OnEmbed(func() {
				if err := os.RemoveAll(h.index); err != nil {
					t.Error(err)
				}
			})
			r := h.run(runOpt{}, tt.args...)
			if r.code != ExitIndex || !noDataOut(r, ExitIndex) || !strings.HasPrefix(r.stderr, "rag: error: the index at "+h.index+" was deleted while rag read it\nrag: hint: build it again with `rag index DIR`") {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
		t.Run(tt.name+", replaced", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mustIndex()
			other := filepath.Join(t.TempDir(), "other")
			h.mustRun(runOpt{}, "index", "--index", other, "--embed-model", embedModel, filepath.Join(h.docs, "notes"))
			h.srv.OnEmbed(func() {
				if err := errors.Join(os.RemoveAll(h.index), os.CopyFS(h.index, os.DirFS(other))); err != nil {
					t.Error(err)
				}
			})
			r := h.run(runOpt{}, tt.args...)
			if r.code != ExitIndex || !noDataOut(r, ExitIndex) || !strings.HasPrefix(r.stderr, "rag: error: the index at "+h.index+" was replaced while rag read it\nrag: hint: run the command again") {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestNothingFoundForDamage: a query that finds nothing because the files
// that match are damaged is an index problem (exit 7, the repair hint),
// not "no results" nor "the documents do not answer".
func TestNothingFoundForDamage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	if err := os.Remove(h.objectOf("retry.txt")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"search", "--mode", "lexical", "doubles the wait"},
		{"search", "--mode", "lexical", "--files", "doubles the wait"},
		{"search", "--mode", "lexical", "--json", "doubles the wait"},
		{"ask", "--model", chatModel, "How many times does the client retry a failed upload?"},
	} {
		r := h.run(runOpt{}, args...)
		if r.code != ExitIndex || !noDataOut(r, ExitIndex) || !strings.Contains(r.stderr, "rag: error: nothing found, and 1 file is damaged in the index: retry.txt (missing)\n") ||
			!strings.Contains(r.stderr, "rag: hint: run `rag index` to embed the damaged files again") {
			t.Errorf("rag %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	// A query the damaged file does not hide still finds nothing, plainly.
	if r := h.run(runOpt{}, "search", "--mode", "lexical", "xylophone"); r.code != 0 || r.stdout != "No results: no chunk shares a word with the query.\n" {
		t.Errorf("no match: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
}

// TestCatalogDeleted: an index folder whose catalog is gone is no index,
// exit 7, and the error says the catalog is what is missing.
func TestCatalogDeleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	if err := os.Remove(filepath.Join(h.index, "catalog")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"search", "--mode", "lexical", "retry"}, {"search", "--files", "retry"}, {"status"}} {
		r := h.run(runOpt{}, args...)
		if r.code != ExitIndex || !noDataOut(r, ExitIndex) || !strings.HasPrefix(r.stderr, "rag: error: no index at "+h.index+": its catalog is missing") {
			t.Errorf("rag %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

// TestStillDamagedEscaped: the warning that names damaged files a run
// did not walk shows their names escaped on a terminal, as every message
// with a file name does (it wrote them raw before the engine's events),
// and piped as they are.
func TestStillDamagedEscaped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const name = "evil\x1b[2Jname.md"
	single := filepath.Join(t.TempDir(), name)
	write(t, single, "# FAQ\n\nThe office opens at nine.\n")
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, h.docs, single)
	if err := os.Remove(h.objectOf(name)); err != nil {
		t.Fatal(err)
	}
	for _, tty := range []bool{true, false} {
		r := h.mustRun(runOpt{tty: tty}, "index", h.docs)
		want := "rag: warning: 1 file is still damaged (not in this run): " + name
		if tty {
			want = `rag: warning: 1 file is still damaged (not in this run): evil\x1b[2Jname.md`
		}
		if !strings.Contains(r.stderr, want) || tty && strings.Contains(r.stderr, "\x1b[2J") {
			t.Errorf("tty %v: stderr %q", tty, r.stderr)
		}
	}
}
