package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// collectionHarness indexes the test documents as collection "handbook"
// and a second folder, wiki, under its own name.
func collectionHarness(t *testing.T) (h *harness, wiki string) {
	t.Helper()
	h = newHarness(t)
	wiki = filepath.Join(t.TempDir(), "wiki")
	if err := os.MkdirAll(wiki, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"uploads.md": "# Uploads\n\nLarge uploads are split into parts; a failed part is sent again.\n",
		"kettle.md":  "# Kettle\n\nThe kettle boils water in two minutes.\n",
	} {
		write(t, filepath.Join(wiki, name), text)
	}
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, "--collection", "handbook", h.docs)
	h.mustRun(runOpt{}, "index", wiki)
	return h, wiki
}

func searchPaths(t *testing.T, r result) []string {
	t.Helper()
	var rep searchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	var ps []string
	for _, res := range rep.Results {
		if !slices.Contains(ps, res.Path) {
			ps = append(ps, res.Path)
		}
	}
	slices.Sort(ps)
	return ps
}

// TestCollections: --collection narrows every query to the files of the
// collections named, a typo is an error that names the collections there
// are, and a source keeps its collection until a run names another.
func TestCollections(t *testing.T) {
	t.Parallel()
	h, wiki := collectionHarness(t)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, "install.md,kettle.md,notes/cooking.md,retry.txt,src/server.go,uploads.md"},
		{"one", []string{"-c", "wiki"}, "kettle.md,uploads.md"},
		{"named at index time", []string{"--collection", "handbook"}, "install.md,notes/cooking.md,retry.txt,src/server.go"},
		{"comma-separated", []string{"-c", "wiki,handbook"}, "install.md,kettle.md,notes/cooking.md,retry.txt,src/server.go,uploads.md"},
		{"repeated", []string{"-c", "wiki", "-c", "handbook"}, "install.md,kettle.md,notes/cooking.md,retry.txt,src/server.go,uploads.md"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const q = "failed upload part kettle boils water pasta retries"
			// Dense ranks every chunk in the view: k 20 returns them all.
			r := h.mustRun(runOpt{}, append(append([]string{"search", "--json", "-k", "20", "--mode", "dense"}, tc.args...), q)...)
			if got := strings.Join(searchPaths(t, r), ","); got != tc.want {
				t.Errorf("dense: %s, want %s", got, tc.want)
			}
			// BM25 of the view's chunks alone: what shares a word.
			r = h.mustRun(runOpt{}, append(append([]string{"search", "--json", "-k", "20", "--mode", "lexical"}, tc.args...), q)...)
			got := searchPaths(t, r)
			for _, p := range got {
				if !slices.Contains(strings.Split(tc.want, ","), p) {
					t.Errorf("lexical: %s is not in the collections searched (%s)", p, strings.Join(got, ","))
				}
			}
			if len(got) == 0 {
				t.Error("lexical: no result")
			}
		})
	}

	t.Run("unknown", func(t *testing.T) {
		r := h.run(runOpt{}, "search", "-c", "wikki", "kettle")
		if r.code != ExitUsage || !strings.Contains(r.stderr, `rag: error: no collection "wikki" in the index`) ||
			!strings.Contains(r.stderr, "rag: hint: the index has handbook, wiki") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("ask and show", func(t *testing.T) {
		r := h.run(runOpt{}, "ask", "-c", "wiki", "--model", chatModel, "How many times does the client retry a failed upload?")
		if r.code != ExitNoAnswer {
			t.Errorf("ask in wiki answered from the handbook: exit %d: %s", r.code, r.stdout)
		}
		if r := h.run(runOpt{}, "show", "-c", "wiki", "retry.txt"); r.code != ExitUsage || !strings.Contains(r.stderr, "retry.txt is not in the index") {
			t.Errorf("show of another collection's file: exit %d: %s", r.code, r.stderr)
		}
		h.mustRun(runOpt{}, "show", "-c", "handbook", "retry.txt")
	})
	t.Run("status", func(t *testing.T) {
		r := h.mustRun(runOpt{}, "status", "--json", "-c", "wiki")
		var rep statusReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Files != 2 || len(rep.Sources) != 1 || rep.Sources[0].Collection != "wiki" || rep.Sources[0].Path != wiki {
			t.Errorf("status -c wiki: %d files, sources %+v", rep.Files, rep.Sources)
		}
		text := h.mustRun(runOpt{}, "status").stdout
		for _, s := range []string{h.docs + " (folder; collection handbook)", wiki + " (folder; collection wiki)"} {
			if !strings.Contains(text, s) {
				t.Errorf("status lacks %q:\n%s", s, text)
			}
		}
	})
	t.Run("mcp", func(t *testing.T) {
		cs, stop := mcpSession(t, h, "--model", chatModel)
		defer stop()
		var out mcpSearchOut
		if _, isErr := callTool(t, cs, "search", map[string]any{"query": "failed upload retries", "k": 20, "mode": "dense", "collection": "wiki"}, &out); isErr || out.paths() != "kettle.md,uploads.md" && out.paths() != "uploads.md,kettle.md" {
			t.Errorf("search in wiki: error %v, %s", isErr, out.paths())
		}
		if text, isErr := callTool(t, cs, "search", map[string]any{"query": "x", "collection": "wikki"}, nil); !isErr || !strings.Contains(text, "the index has handbook, wiki") {
			t.Errorf("unknown collection: error %v, %q", isErr, text)
		}
		var ask struct {
			Abstained bool `json:"abstained"`
		}
		if _, isErr := callTool(t, cs, "ask", map[string]any{"question": "How many times does the client retry a failed upload?", "collection": "wiki"}, &ask); isErr || !ask.Abstained {
			t.Errorf("ask in wiki: error %v, abstained %v", isErr, ask.Abstained)
		}
		if _, isErr := callTool(t, cs, "get", map[string]any{"citation": "retry.txt", "collection": "wiki"}, nil); !isErr {
			t.Error("get read a file of another collection")
		}
		var st struct {
			Collections []struct {
				Name  string `json:"name"`
				Files int    `json:"files"`
			} `json:"collections"`
		}
		if text, _ := callTool(t, cs, "status", map[string]any{}, &st); len(st.Collections) != 2 || !strings.Contains(text, "wiki (2 files)") {
			t.Errorf("status: %+v, %q", st, text)
		}
	})
	t.Run("mcp started with a collection", func(t *testing.T) {
		cs, stop := mcpSession(t, h, "--model", chatModel, "-c", "wiki")
		defer stop()
		var out mcpSearchOut
		if _, isErr := callTool(t, cs, "search", map[string]any{"query": "retries failed upload", "k": 20, "mode": "dense"}, &out); isErr || strings.Contains(out.paths(), "retry.txt") {
			t.Errorf("the server's collection is not kept: error %v, %s", isErr, out.paths())
		}
		if text, isErr := callTool(t, cs, "search", map[string]any{"query": "retries", "collection": "handbook"}, nil); !isErr || !strings.Contains(text, `collection "handbook" is not served here`) {
			t.Errorf("a call widened the server's collections: error %v, %q", isErr, text)
		}
		if _, isErr := callTool(t, cs, "get", map[string]any{"citation": "retry.txt", "collection": "wiki,handbook"}, nil); !isErr {
			t.Error("get widened the server's collections")
		}
	})
	t.Run("completion", func(t *testing.T) {
		r := h.mustRun(runOpt{}, "__complete", "search", "--collection", "")
		if r.stdout != "handbook\nwiki\n:4\n" {
			t.Errorf("completions %q", r.stdout)
		}
	})
	t.Run("kept, renamed, reset", func(t *testing.T) {
		h.mustRun(runOpt{}, "index") // every recorded source, no --collection
		if got := strings.Join(searchPaths(t, h.mustRun(runOpt{}, "search", "--json", "-c", "handbook", "--mode", "lexical", "retries")), ","); got != "retry.txt" {
			t.Errorf("a plain run lost the collection: %s", got)
		}
		h.mustRun(runOpt{}, "index", "-c", "manual", h.docs)
		if r := h.run(runOpt{}, "search", "-c", "handbook", "retries"); r.code != ExitUsage {
			t.Errorf("the old name still searches: exit %d", r.code)
		}
		h.mustRun(runOpt{}, "search", "-c", "manual", "retries")
		h.mustRun(runOpt{}, "index", "--collection", "", h.docs)
		h.mustRun(runOpt{}, "search", "-c", filepath.Base(h.docs), "retries")
		if r := h.run(runOpt{}, "index", "-c", "a b", h.docs); r.code != ExitUsage || !strings.Contains(r.stderr, "--collection") {
			t.Errorf("a name with a space: exit %d: %s", r.code, r.stderr)
		}
	})
}

// TestRebuildKeepsSourceSettings: `rag index --rebuild DIR` keeps what DIR
// was recorded with: its tenant, who may see it, its collection. Before,
// the new catalog did not know them yet, and the folder moved into the
// default tenant, open to its askers.
func TestRebuildKeepsSourceSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, "--tenant", "acme", "--allow", "group:eng", "-c", "handbook", h.docs)
	h.mustRun(runOpt{}, "index", "--rebuild", h.docs)
	var rep statusReport
	if err := json.Unmarshal([]byte(h.mustRun(runOpt{}, "status", "--json", "--all").stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Sources) != 1 || rep.Sources[0].Tenant != "acme" || strings.Join(rep.Sources[0].Allow, ",") != "group:eng" || rep.Sources[0].Collection != "handbook" {
		t.Fatalf("after the rebuild: %+v", rep.Sources)
	}
	if r := h.mustRun(runOpt{}, "search", "--json", "--mode", "lexical", "retries"); len(searchPaths(t, r)) != 0 {
		t.Errorf("the default tenant sees the rebuilt folder: %s", r.stdout)
	}
	if r := h.mustRun(runOpt{}, "search", "--json", "--mode", "lexical", "--tenant", "acme", "--as", "group:eng", "retries"); strings.Join(searchPaths(t, r), ",") != "retry.txt" {
		t.Errorf("acme's engineers lost it: %s", r.stdout)
	}
}
