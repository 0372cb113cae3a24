package cli

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func decodeSearch(t *testing.T, r result) searchReport {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep searchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	return rep
}

func TestSearchModes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	tests := []struct {
		mode, query, top string
		dense, lexical   bool
	}{
		{"dense", "retry failed upload", "retry.txt", true, false},
		{"lexical", "retry failed upload", "retry.txt", false, true},
		{"hybrid", "retry failed upload", "retry.txt", true, true},
		// Stemming finds "retries" and "attempt" for other forms.
		{"lexical", "retrying attempts", "retry.txt", false, true},
		{"lexical", "installing homebrew", "install.md", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.query, func(t *testing.T) {
			rep := decodeSearch(t, h.run(runOpt{}, "search", "--json", "--mode", tt.mode, tt.query))
			if rep.Mode != tt.mode || len(rep.Results) == 0 || rep.Results[0].Path != tt.top {
				t.Fatalf("mode %s: %+v, want %s first", rep.Mode, rep.Results, tt.top)
			}
			r := rep.Results[0]
			if (r.Dense != nil) != tt.dense || (r.Lexical != nil) != tt.lexical || r.Rerank != nil {
				t.Errorf("score parts dense %v lexical %v rerank %v", r.Dense, r.Lexical, r.Rerank)
			}
		})
	}
	t.Run("lexical without Ollama", func(t *testing.T) {
		down := httptest.NewServer(nil)
		down.Close()
		h2 := &harness{t: t, srv: h.srv, index: h.index, docs: h.docs, env: map[string]string{"OLLAMA_HOST": down.URL, "RAG_INDEX": h.index}}
		rep := decodeSearch(t, h2.run(runOpt{}, "search", "--json", "--mode", "lexical", "retry upload"))
		if len(rep.Results) == 0 || rep.Results[0].Path != "retry.txt" {
			t.Errorf("results %+v", rep.Results)
		}
		if r := h2.run(runOpt{}, "search", "--fallback=false", "retry upload"); r.code != ExitOllama {
			t.Errorf("hybrid without Ollama nor fallback: exit %d, want %d", r.code, ExitOllama)
		}
	})
	t.Run("lexical finds nothing", func(t *testing.T) {
		r := h.run(runOpt{}, "search", "--mode", "lexical", "zebra xylophone")
		if r.code != 0 || r.stdout != "No results: no chunk shares a word with the query.\n" {
			t.Errorf("exit %d, stdout %q", r.code, r.stdout)
		}
	})
	t.Run("RAG_MODE sets the default", func(t *testing.T) {
		h2 := &harness{t: t, srv: h.srv, index: h.index, docs: h.docs, env: map[string]string{"OLLAMA_HOST": h.srv.URL, "RAG_INDEX": h.index, "RAG_MODE": "lexical"}}
		if rep := decodeSearch(t, h2.run(runOpt{}, "search", "--json", "retry")); rep.Mode != "lexical" {
			t.Errorf("mode %s", rep.Mode)
		}
	})
	for _, bad := range [][]string{{"--mode", "fuzzy"}, {"--fusion", "max"}, {"--candidates", "0"}} {
		t.Run("usage "+strings.Join(bad, " "), func(t *testing.T) {
			if r := h.run(runOpt{}, append([]string{"search"}, append(bad, "retry")...)...); r.code != ExitUsage {
				t.Errorf("exit %d, want %d: %s", r.code, ExitUsage, r.stderr)
			}
		})
	}
}

func TestRerank(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	before := h.srv.JudgeRequests()
	rep := decodeSearch(t, h.run(runOpt{}, "search", "--json", "--rerank", "--rerank-model", chatModel, "--candidates", "5", "-k", "3", "client retries upload"))
	if got := h.srv.JudgeRequests() - before; got != 4 {
		// 4 chunks in the index: all of them are candidates.
		t.Errorf("%d judgements, want 4", got)
	}
	if rep.RerankModel != chatModel || rep.Results[0].Path != "retry.txt" || rep.Results[0].Rerank == nil {
		t.Fatalf("report %+v", rep)
	}
	for i := 1; i < len(rep.Results); i++ {
		if *rep.Results[i].Rerank > *rep.Results[i-1].Rerank {
			t.Errorf("not ordered by judgement: %+v", rep.Results)
		}
	}
	t.Run("RAG_RERANK and RAG_RERANK_MODEL set the defaults", func(t *testing.T) {
		h2 := &harness{t: t, srv: h.srv, index: h.index, docs: h.docs, env: map[string]string{
			"OLLAMA_HOST": h.srv.URL, "RAG_INDEX": h.index, "RAG_RERANK": "1", "RAG_RERANK_MODEL": chatModel}}
		rep := decodeSearch(t, h2.run(runOpt{}, "search", "--json", "retry"))
		if rep.RerankModel != chatModel || rep.Results[0].Rerank == nil {
			t.Errorf("report %+v", rep)
		}
		if rep := decodeSearch(t, h2.run(runOpt{}, "search", "--json", "--rerank=false", "retry")); rep.RerankModel != "" {
			t.Errorf("--rerank=false still re-ranked: %+v", rep)
		}
	})
	t.Run("missing model", func(t *testing.T) {
		r := h.run(runOpt{}, "search", "--rerank", "--rerank-model", "nope", "retry")
		if r.code != ExitModel || !strings.Contains(r.stderr, "ollama pull nope") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("ask abstains below the relevance floor", func(t *testing.T) {
		chats := h.srv.ChatRequests()
		// "upload" shares a word with retry.txt, but only 1 of 3 query words
		// is found: the judge's yes probability is 1/3.
		r := h.run(runOpt{}, "ask", "--json", "--model", chatModel, "--rerank", "--rerank-model", chatModel, "upload quota billing")
		if r.code != ExitNoAnswer {
			t.Errorf("exit %d, want %d: %s %s", r.code, ExitNoAnswer, r.stdout, r.stderr)
		}
		if h.srv.ChatRequests() != chats {
			t.Error("the chat model was called below the floor")
		}
		// Only the re-ranker's floor lowered: the keyword coverage floor off.
		r = h.run(runOpt{}, "ask", "--json", "--model", chatModel, "--rerank", "--rerank-model", chatModel, "--min-relevance", "0.2", "--min-coverage", "0", "upload quota billing")
		if r.code != 0 {
			t.Errorf("with a lower floor: exit %d: %s", r.code, r.stderr)
		}
	})
}

func TestAskContext(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	r := h.run(runOpt{}, "ask", "--json", "--model", chatModel, "-k", "1", "retry failed upload")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Mode    string
		Sources []struct{ Path string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "hybrid" || len(rep.Sources) != 1 || rep.Sources[0].Path != "retry.txt" {
		t.Errorf("report %+v", rep)
	}
}

// TestCachesSaved checks that rag index saves the cache segments, that
// searches in every mode give the same results with them as without them
// (every chunk read from the objects), that status says when they are
// missing, and that the next rag index, even a no-op, saves them again.
func TestCachesSaved(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	if r := h.run(runOpt{}, "status", "--json"); !strings.Contains(r.stdout, `"vectors_saved": true`) || !strings.Contains(r.stdout, `"keywords_saved": true`) {
		t.Fatalf("after rag index: %s", r.stdout)
	}
	queries := []string{"retry upload", "install on linux", "owls"}
	with := map[string]string{}
	for _, mode := range []string{"dense", "hybrid", "lexical"} {
		for _, q := range queries {
			with[mode+q] = h.run(runOpt{}, "search", "--json", "--mode", mode, q).stdout
		}
	}
	if err := os.RemoveAll(filepath.Join(h.index, "segments")); err != nil {
		t.Fatal(err)
	}
	if r := h.run(runOpt{}, "status"); !strings.Contains(r.stdout, "incomplete: searches read") {
		t.Errorf("status without them: %s", r.stdout)
	}
	for _, mode := range []string{"dense", "hybrid", "lexical"} {
		for _, q := range queries {
			if got := h.run(runOpt{}, "search", "--json", "--mode", mode, q).stdout; got != with[mode+q] {
				t.Errorf("%s %q: from the objects\n%s\nfrom the segments\n%s", mode, q, got, with[mode+q])
			}
		}
	}
	h.run(runOpt{}, "index")
	if r := h.run(runOpt{}, "status", "--json"); !strings.Contains(r.stdout, `"vectors_saved": true`) {
		t.Errorf("a no-op rag index did not save it again: %s", r.stdout)
	}
}

// TestAskCitations: a citation of no source is removed from the answer,
// shown and --json, and named in a warning; an answer that cites nothing is
// flagged, a warning on stderr, and exits 10 with --strict; sources given
// but not cited are listed apart.
func TestAskCitations(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	tests := []struct {
		name, reply, want string
		uncited           bool
		invalid           []json.Number
	}{
		{"valid", "Retries back off [1].", "Retries back off [1].", false, []json.Number{}},
		{"invalid removed", "Retries back off [1][9]. And more [12].", "Retries back off [1]. And more.", false, []json.Number{"9", "12"}},
		{"uncited", "Retries back off.", "Retries back off.", true, []json.Number{}},
		{"zero, negative and huge removed", "Retries [-1] back off [0] at once [1000000000000000000000] [1].", "Retries back off at once [1].", false,
			[]json.Number{"-1", "0", "1000000000000000000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t, nil)
			h.srv.SetResponder(func(_, _ string) string { return tt.reply })
			for _, strict := range []bool{false, true} {
				args := []string{"ask", "--model", chatModel, "retry policy backoff"}
				if strict {
					args = append(args, "--strict")
				}
				r := h.run(runOpt{}, args...)
				wantCode := 0
				if strict && tt.uncited {
					wantCode = ExitUncited
				}
				if r.code != wantCode {
					t.Errorf("strict %v: exit %d, want %d: %s", strict, r.code, wantCode, r.stderr)
				}
				if !strings.HasPrefix(r.stdout, tt.want+"\n") {
					t.Errorf("shown %q, want %q first", r.stdout, tt.want)
				}
				if got := strings.Contains(r.stderr, "cites no source"); got != tt.uncited {
					t.Errorf("uncited warning %v: %s", got, r.stderr)
				}
				if got := strings.Contains(r.stderr, "removed:"); got != (len(tt.invalid) > 0) {
					t.Errorf("invalid citation warning %v: %s", got, r.stderr)
				}
				if tt.name == "valid" && !strings.Contains(r.stdout, "\nAlso given, not cited:\n") && strings.Count(r.stdout, "\n[") > 1 {
					t.Errorf("sources not cited are not listed apart: %s", r.stdout)
				}
			}
			r := h.run(runOpt{}, "ask", "--json", "--model", chatModel, "retry policy backoff")
			var rep struct {
				Answer           string        `json:"answer"`
				Uncited          bool          `json:"uncited"`
				InvalidCitations []json.Number `json:"invalid_citations"`
				NotCited         []int         `json:"not_cited"`
				Sources          []struct {
					N     int  `json:"n"`
					Cited bool `json:"cited"`
				} `json:"sources"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("%v: %s", err, r.stdout)
			}
			if rep.Answer != tt.want || rep.Uncited != tt.uncited || !slices.Equal(rep.InvalidCitations, tt.invalid) {
				t.Errorf("json %+v", rep)
			}
			for _, s := range rep.Sources {
				if s.Cited == slices.Contains(rep.NotCited, s.N) {
					t.Errorf("source %d cited %v, not_cited %v", s.N, s.Cited, rep.NotCited)
				}
			}
		})
	}
}
