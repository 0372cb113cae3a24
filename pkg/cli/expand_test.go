package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
)

// expandHarness indexes documents whose words a question can miss: the
// question says "warm up liquid", the document "kettle heats water".
func expandHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.docs = t.TempDir()
	for name, text := range map[string]string{
		"kettle.md": "# Kettle\n\nThe kettle heats water until it boils, in about three minutes.\n",
		"garden.md": "# Garden\n\nRoses need sun, rain and a little patience.\n",
		"taxes.md":  "# Taxes\n\nThe tax return is due at the end of April.\n",
	} {
		write(t, filepath.Join(h.docs, name), text)
	}
	h.mustIndex()
	// A model that knows kettles: it phrases the question in the
	// documents' words and guesses an answer.
	h.srv.SetResponder(func(system, user string) string {
		if strings.HasPrefix(system, "You help a search engine") {
			return `{"phrasings": ["how does a kettle heat water", "warm up liquid quickly", "boil water"], "passage": "A kettle heats water to boiling."}`
		}
		return ollamatest.DefaultAnswer(system, user)
	})
	return h
}

// TestExpand: a question in other words than the documents' is refused
// without expansion and answered from the right file with it, in every
// mode; search and ask report what was searched; an unusable expansion
// warns and searches the question alone.
func TestExpand(t *testing.T) {
	t.Parallel()
	const question = "How do I warm up liquid?"
	for _, mode := range []string{"lexical", "dense", "hybrid"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			h := expandHarness(t)
			if r := h.run(runOpt{}, "ask", "--mode", mode, "--model", chatModel, question); r.code != ExitNoAnswer {
				t.Errorf("without --expand: exit %d, want %d (no document has these words): %s%s", r.code, ExitNoAnswer, r.stdout, r.stderr)
			}
			chats := h.srv.ChatRequests()
			r := h.run(runOpt{}, "ask", "--json", "--expand", "--mode", mode, "--model", chatModel, question)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := h.srv.ChatRequests() - chats; got != 2 {
				t.Errorf("%d chats, want 2: the expansion and the answer", got)
			}
			var rep struct {
				Answer    string `json:"answer"`
				Expansion struct {
					Phrasings []string `json:"phrasings"`
					Passage   string   `json:"passage"`
				} `json:"expansion"`
				Sources []struct {
					Path string `json:"path"`
				} `json:"sources"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("%v: %s", err, r.stdout)
			}
			if len(rep.Sources) == 0 || rep.Sources[0].Path != "kettle.md" || !strings.Contains(rep.Answer, "kettle heats water") {
				t.Errorf("answer %q from %+v, want kettle.md first", rep.Answer, rep.Sources)
			}
			if len(rep.Expansion.Phrasings) != 3 || rep.Expansion.Passage == "" {
				t.Errorf("expansion reported %+v", rep.Expansion)
			}
			r = h.run(runOpt{}, "search", "--json", "--expand", "--expand-model", chatModel, "--mode", mode, question)
			var srep struct {
				Results []struct {
					Path string `json:"path"`
				} `json:"results"`
				Expansion *struct{} `json:"expansion"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &srep); err != nil || r.code != 0 {
				t.Fatalf("search exit %d %v: %s%s", r.code, err, r.stdout, r.stderr)
			}
			if len(srep.Results) == 0 || srep.Results[0].Path != "kettle.md" || srep.Expansion == nil {
				t.Errorf("search found %+v (expansion %v)", srep.Results, srep.Expansion)
			}
		})
	}
	t.Run("dry run shows what was searched", func(t *testing.T) {
		t.Parallel()
		h := expandHarness(t)
		r := h.run(runOpt{}, "ask", "--dry-run", "--expand", "--model", chatModel, question)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "--- searched beside the question (--expand) ---\nphrasing: how does a kettle heat water\n") ||
			!strings.Contains(r.stdout, "passage: A kettle heats water to boiling.\n--- system ---\n") {
			t.Errorf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("an unusable reply warns and searches the question alone", func(t *testing.T) {
		t.Parallel()
		h := expandHarness(t)
		h.srv.SetResponder(func(system, user string) string {
			if strings.HasPrefix(system, "You help a search engine") {
				return "Once upon a time, there was a kettle."
			}
			return ollamatest.DefaultAnswer(system, user)
		})
		r := h.run(runOpt{}, "ask", "--expand", "--model", chatModel, "How does the kettle heat water?")
		if r.code != 0 || !strings.Contains(r.stderr, "rag: warning: query expansion: the model's reply is not usable (not the JSON asked for); searched with the query alone") {
			t.Errorf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "kettle.md") {
			t.Errorf("the question alone did not find kettle.md: %s", r.stdout)
		}
	})
	t.Run("set in the config", func(t *testing.T) {
		t.Parallel()
		h := expandHarness(t)
		h = h.with(t, map[string]string{"RAG_EXPAND": "1", "RAG_EXPAND_MODEL": "no-such-model"})
		r := h.run(runOpt{}, "search", question)
		if r.code != ExitModel || !strings.Contains(r.stderr, "no-such-model") {
			t.Errorf("exit %d, want the expansion model missing: %s", r.code, r.stderr)
		}
	})
}
