package cli

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/engine"
)

// resultPaths are the paths of a search's results, in order.
func resultPaths(s searchReport) []string {
	var out []string
	for _, r := range s.Results {
		out = append(out, r.Path)
	}
	return out
}

// TestWithoutModelServer: lexical search, status, show and the floor's
// refusal need no model server nor the index's embedding model; hybrid
// retrieval falls back to keywords when the dense ranking cannot run, says
// so, and --fallback=false (or fallback: false) makes that an error whose
// hint names --mode lexical.
func TestWithoutModelServer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	down := ollamatest.Start()
	down.Close()
	isDown := map[string]string{"OLLAMA_HOST": down.URL}
	otherModel := map[string]string{"RAG_EMBED_MODEL": "foo"}
	const query = "client retries a failed upload"
	lexical := decodeSearch(t, h.mustRun(runOpt{}, "search", "--json", "--mode", "lexical", query))
	if len(lexical.Results) == 0 {
		t.Fatal("no lexical results")
	}

	t.Run("no model needed", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			name string
			env  map[string]string
			args []string
		}{
			{"lexical search, Ollama down", isDown, []string{"search", "--mode", "lexical", query}},
			{"lexical search, another embedding model", otherModel, []string{"search", "--mode", "lexical", query}},
			{"lexical search, --embed-model", nil, []string{"search", "--mode", "lexical", "--embed-model", "foo", query}},
			{"status, Ollama down", isDown, []string{"status"}},
			{"show, Ollama down", isDown, []string{"show", "retry.txt"}},
			{"status, another embedding model", otherModel, []string{"status"}},
			{"show, another embedding model", otherModel, []string{"show", "retry.txt"}},
			{"refused question, Ollama down", isDown, []string{"ask", "--model", chatModel, "What is the boiling point of mercury?"}},
			{"refused question, another embedding model", otherModel, []string{"ask", "--model", chatModel, "What is the boiling point of mercury?"}},
		} {
			h2 := h.with(t, tt.env)
			r := h2.run(runOpt{}, tt.args...)
			want := 0
			if tt.args[0] == "ask" {
				want = ExitNoAnswer
			}
			if r.code != want || r.stdout == "" || r.stderr != "" {
				t.Errorf("%s: exit %d (want %d), stdout %q, stderr %q", tt.name, r.code, want, r.stdout, r.stderr)
			}
		}
	})

	t.Run("the floor refuses before embedding", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t) // its own server: embed requests are counted
		h.mustIndex()
		for _, tt := range []struct{ mode, question string }{
			// Too little of the question in the documents ("boil" is).
			{"hybrid", "What is the boiling point of mercury?"},
			{"lexical", "What is the boiling point of mercury?"},
			// No word of it in the documents.
			{"hybrid", "What is the capital of Mongolia?"},
			{"dense", "What is the capital of Mongolia?"},
		} {
			before := h.srv.EmbedRequests()
			r := h.run(runOpt{}, "ask", "--model", chatModel, "--mode", tt.mode, tt.question)
			if r.code != ExitNoAnswer || h.srv.EmbedRequests() != before {
				t.Errorf("--mode %s %q: exit %d, %d embed requests", tt.mode, tt.question, r.code, h.srv.EmbedRequests()-before)
			}
		}
	})

	t.Run("hybrid falls back", func(t *testing.T) {
		t.Parallel()
		missing := newHarness(t)
		missing.mustIndex()
		missing.srv.Remove(embedModel)
		for _, tt := range []struct {
			name   string
			h      *harness
			reason string
		}{
			{"Ollama down", h.with(t, isDown), "cannot reach Ollama at " + down.URL},
			{"another embedding model", h.with(t, otherModel), "the index was built with embedding model fake-embed (128 dimensions), not foo"},
			{"embedding model missing", missing, `model "fake-embed" is not available on the Ollama server`},
		} {
			r := tt.h.run(runOpt{}, "search", "--json", query)
			s := decodeSearch(t, r)
			if s.Degraded == nil || s.Degraded.Mode != "lexical" || !strings.Contains(s.Degraded.Reason, tt.reason) || s.Mode != "hybrid" ||
				!slices.Equal(resultPaths(s), resultPaths(lexical)) {
				t.Errorf("%s: search --json: %+v, degraded %+v", tt.name, s, s.Degraded)
			}
			if !strings.HasPrefix(r.stderr, "rag: warning: ranked by keywords alone (as --mode lexical): the dense ranking is unavailable: ") ||
				!strings.Contains(r.stderr, tt.reason) || !strings.HasSuffix(r.stderr, "; --fallback=false makes this an error\n") {
				t.Errorf("%s: stderr %q", tt.name, r.stderr)
			}
			r = tt.h.run(runOpt{}, "search", "--files", query)
			if r.code != 0 || !strings.Contains(r.stdout, "retry.txt") || r.stderr == "" {
				t.Errorf("%s: search --files: exit %d, %q, %q", tt.name, r.code, r.stdout, r.stderr)
			}
		}
		// ask answers from what the keywords found, and says how it searched.
		r := missing.run(runOpt{}, "ask", "--json", "--model", chatModel, "How often does the client retry a failed upload?")
		var rep askReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Abstained || rep.Degraded == nil || rep.Degraded.Mode != "lexical" ||
			!strings.Contains(r.stderr, "ranked by keywords alone") {
			t.Errorf("ask: exit %d, %v, %s, %q", r.code, err, r.stdout, r.stderr)
		}
		// A search that needs no embedding says nothing.
		if r := h.run(runOpt{}, "search", "--json", query); strings.Contains(r.stdout, "degraded") || r.stderr != "" {
			t.Errorf("with Ollama up: %s, %q", r.stdout, r.stderr)
		}
	})

	t.Run("mcp falls back", func(t *testing.T) {
		t.Parallel()
		cs, stop := mcpSession(t, h.with(t, isDown))
		var out struct {
			Results  []struct{ Path string } `json:"results"`
			Degraded *engine.Degraded        `json:"degraded"`
		}
		if text, isErr := callTool(t, cs, "search", map[string]any{"query": query}, &out); isErr || len(out.Results) == 0 ||
			out.Degraded == nil || out.Degraded.Mode != "lexical" || !strings.Contains(out.Degraded.Reason, "cannot reach Ollama") {
			t.Errorf("search: %q, %+v", text, out)
		}
		if r := stop(); !strings.Contains(r.stderr, "ranked by keywords alone") {
			t.Errorf("mcp: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("no fallback", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		write(t, filepath.Join(dir, ".rag.yaml"), "fallback: false\n")
		const hint = "; or rank by keywords alone with --mode lexical, which needs no embedding model"
		for _, tt := range []struct {
			name string
			env  map[string]string
			o    runOpt
			args []string
			code int
		}{
			{"--fallback=false", isDown, runOpt{}, []string{"search", "--fallback=false", query}, ExitOllama},
			{"RAG_FALLBACK=0", map[string]string{"OLLAMA_HOST": down.URL, "RAG_FALLBACK": "0"}, runOpt{}, []string{"search", query}, ExitOllama},
			{"fallback: false", isDown, runOpt{dir: dir}, []string{"search", "--json", query}, ExitOllama},
			{"ask --fallback=false", isDown, runOpt{}, []string{"ask", "--fallback=false", "--model", chatModel, "How often does the client retry a failed upload?"}, ExitOllama},
			{"dense mode", isDown, runOpt{}, []string{"search", "--mode", "dense", query}, ExitOllama},
			{"dense mode, another embedding model", otherModel, runOpt{}, []string{"search", "--mode", "dense", query}, ExitIndex},
			{"--fallback=false, another embedding model", otherModel, runOpt{}, []string{"search", "--fallback=false", query}, ExitIndex},
		} {
			r := h.with(t, tt.env).run(tt.o, tt.args...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != tt.code || !noDataOut(r, tt.code) || len(lines) != 2 || !strings.HasPrefix(lines[1], "rag: hint: ") || !strings.Contains(lines[1], hint) {
				t.Errorf("%s: exit %d (want %d), stdout %q, stderr %q", tt.name, r.code, tt.code, r.stdout, r.stderr)
			}
		}
	})
}
