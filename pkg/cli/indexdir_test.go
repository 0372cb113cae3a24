package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
)

// TestFailedFirstRun: a first run that embeds nothing (an unknown model,
// Ollama down) fixes neither model nor vector size; status says the index
// is empty, and the next run with a model that works builds it.
func TestFailedFirstRun(t *testing.T) {
	t.Parallel()
	down := ollamatest.Start()
	down.Close()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"unknown model", nil, []string{"--embed-model", "nope"}, ExitModel},
		{"ollama down", map[string]string{"OLLAMA_HOST": down.URL}, nil, ExitOllama},
		{"ollama down with a model", map[string]string{"OLLAMA_HOST": down.URL}, []string{"--embed-model", embedModel2}, ExitOllama},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			good := h.env
			h.env = map[string]string{}
			for k, v := range good {
				h.env[k] = v
			}
			for k, v := range tt.env {
				h.env[k] = v
			}
			if r := h.run(runOpt{}, append(append([]string{"index"}, tt.args...), h.docs)...); r.code != tt.code {
				t.Fatalf("failed run: exit %d, want %d: %s", r.code, tt.code, r.stderr)
			}
			h.env = good
			r := h.run(runOpt{}, "status", "--json")
			var st statusReport
			if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 || st.Health != "empty" || st.EmbedModel != "" || st.Dims != 0 || st.Files != 0 {
				t.Errorf("status --json after the failed run: exit %d, %v, %s", r.code, err, r.stdout)
			}
			r = h.run(runOpt{}, "status")
			if r.code != 0 || !strings.Contains(r.stdout, "Health:       empty") || !strings.Contains(r.stdout, "Model:        none yet") || strings.Contains(r.stdout, "nope") {
				t.Errorf("status after the failed run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			r = h.run(runOpt{}, "index", "--embed-model", embedModel, h.docs)
			if r.code != 0 || strings.Contains(r.stderr, "--embed-model nope") {
				t.Fatalf("next run: exit %d: %s", r.code, r.stderr)
			}
			if st := h.status(); st.Health != "ok" || st.EmbedModel != embedModel || st.Dims != 128 || st.Files != 4 {
				t.Errorf("status after the good run: %+v", st)
			}
		})
	}
}

// TestIndexNeverIndexesAnIndex: an index folder inside the documents (the
// current one or any other) is skipped, and naming one is refused.
func TestIndexNeverIndexesAnIndex(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	inside := filepath.Join(h.docs, "ragidx")
	other := filepath.Join(h.docs, "notes", "old-index")
	h.mustRun(runOpt{}, "--index", other, "index", "--embed-model", embedModel, filepath.Join(h.docs, "src"))

	h.mustRun(runOpt{}, "--index", inside, "index", "--embed-model", embedModel, h.docs)
	before := h.srv.EmbeddedTexts()
	rep := indexJSON(t, h.mustRun(runOpt{}, "--index", inside, "index", "--json", h.docs))
	// Nothing removed: the first run, before its index had a catalog, did
	// not index the index's lock either.
	if rep.Indexed != 0 || rep.Removed != 0 || rep.TotalFiles != 4 || h.srv.EmbeddedTexts() != before {
		t.Errorf("second run: %+v, %d embedded", rep, h.srv.EmbeddedTexts()-before)
	}
	skipped := map[string]string{}
	for _, s := range rep.SkippedFiles {
		skipped[s.Path] = s.Reason
	}
	if skipped[inside] != "a rag index folder" || skipped[other] != "a rag index folder" {
		t.Errorf("skipped = %v", skipped)
	}
	for _, q := range []string{"pid", "format_version generation"} {
		r := h.mustRun(runOpt{}, "--index", inside, "search", "--json", "--mode", "lexical", q)
		if s := decodeSearch(t, r); len(s.Results) != 0 {
			t.Errorf("search %q found the index's own files: %+v", q, s.Results)
		}
	}

	for _, tt := range []struct{ name, path string }{
		{"the index", inside},
		{"inside the index", filepath.Join(inside, "objects")},
		{"another index", other},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(runOpt{}, "--index", inside, "index", tt.path)
			if r.code != ExitUsage || !strings.Contains(r.stderr, "never indexed") || !strings.Contains(r.stderr, "rag: hint: ") {
				t.Errorf("exit %d: %s", r.code, r.stderr)
			}
		})
	}
}

// TestIndexFolderMustBeAnIndex: --index naming a folder of other files or
// a file is refused with a hint, before anything is written to it.
func TestIndexFolderMustBeAnIndex(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	file := filepath.Join(t.TempDir(), "notes.txt")
	write(t, file, "not an index\n")
	tests := []struct {
		name, index string
		args        []string
		err, hint   string
	}{
		{"documents folder, index", h.docs, []string{"index", h.docs}, "is not a rag index", "at an existing index, or at a new or empty folder"},
		{"documents folder, search", h.docs, []string{"search", "retry"}, "is not a rag index", "at an existing index, or at a new or empty folder"},
		{"documents folder, status", h.docs, []string{"status"}, "is not a rag index", "at an existing index, or at a new or empty folder"},
		{"a file, index", file, []string{"index", h.docs}, "is a file, not a folder", "point --index (or RAG_INDEX) at a folder"},
		{"a file, ask", file, []string{"ask", "retry"}, "is a file, not a folder", "point --index (or RAG_INDEX) at a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := os.ReadDir(h.docs)
			if err != nil {
				t.Fatal(err)
			}
			r := h.run(runOpt{}, append([]string{"--index", tt.index}, tt.args...)...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != ExitUsage || len(lines) != 2 || !strings.Contains(lines[0], tt.err) || !strings.HasPrefix(lines[1], "rag: hint: ") || !strings.Contains(lines[1], tt.hint) {
				t.Errorf("exit %d: %q", r.code, r.stderr)
			}
			if after, _ := os.ReadDir(h.docs); len(after) != len(before) {
				t.Errorf("the folder was written to: %d entries, before %d", len(after), len(before))
			}
		})
	}
	t.Run("an empty folder becomes an index", func(t *testing.T) {
		if r := h.run(runOpt{}, "--index", t.TempDir(), "index", "--embed-model", embedModel, h.docs); r.code != 0 {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
}

// TestReadOnlyIndex: rag index on an index it cannot write says so and how
// to go on; reading it still works.
func TestReadOnlyIndex(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	if os.Geteuid() != 0 {
		if err := os.Chmod(h.index, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(h.index, 0o755) })
	} else {
		// Root writes through permissions: the writer lock is made a link
		// into a read-only file system (/sys), which fails the same way.
		if _, err := os.Stat("/sys/kernel"); err != nil {
			t.Skip("running as root without /sys: cannot make the index read-only")
		}
		lock := filepath.Join(h.index, "lock")
		if err := os.Remove(lock); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/sys/rag-test-read-only-lock", lock); err != nil {
			t.Fatal(err)
		}
	}
	r := h.run(runOpt{}, "index", h.docs)
	if r.code != ExitIndex || !strings.Contains(r.stderr, "rag: error: lock index: cannot write to the index folder") ||
		!strings.Contains(r.stderr, "rag: hint: rag index must write to the index folder "+h.index+": make it writable") ||
		!strings.Contains(r.stderr, "--index DIR") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	h.mustRun(runOpt{}, "search", "retry")
}

// TestFailsEveryRefresh: a file that fails again on the next run gets the
// hint to leave it out.
func TestFailsEveryRefresh(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	broken := filepath.Join(h.docs, "broken.pdf")
	write(t, broken, "%PDF-1.4\nnot really a pdf\n")
	r := h.run(runOpt{}, "index", "--embed-model", embedModel, h.docs)
	if r.code != ExitPartial || !strings.Contains(r.stderr, "rag: hint: the files above were not indexed; fix them and run rag index again") {
		t.Fatalf("first run: exit %d: %s", r.code, r.stderr)
	}
	r = h.run(runOpt{}, "index")
	if r.code != ExitPartial || !strings.Contains(r.stderr, broken+" failed on the last run too") ||
		!strings.Contains(r.stderr, ".ragignore") || !strings.Contains(r.stderr, "--exclude") {
		t.Fatalf("second run: exit %d: %s", r.code, r.stderr)
	}
	write(t, filepath.Join(h.docs, ".ragignore"), "broken.pdf\n")
	h.mustRun(runOpt{}, "index")
}
