//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAIProvider runs index, search, ask, chat, re-ranking and query
// expansion through an `openai` provider pointed at the real server's
// OpenAI-compatible API (Ollama serves /v1/embeddings and a streamed
// /v1/chat/completions for the shipped tiny model), with OLLAMA_HOST at
// an address where nothing listens: every call goes through the provider.
func TestOpenAIProvider(t *testing.T) {
	e := setup(t)
	cfg := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfg, "rag"), 0o755); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("providers:\n  local:\n    type: openai\n    base_url: http://%s/v1\n    api_key_env: E2E_LOCAL_KEY\n", e.host)
	if err := os.WriteFile(filepath.Join(cfg, "rag", "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	const key = "sk-e2e-not-shown"
	env := []string{"XDG_CONFIG_HOME=" + cfg, "OLLAMA_HOST=127.0.0.1:1", "E2E_LOCAL_KEY=" + key}
	model := "local:" + e.model
	run := func(t *testing.T, stdin string, args ...string) out {
		t.Helper()
		r := e.run(t, stdin, env, args...)
		if strings.Contains(r.stdout+r.stderr, key) {
			t.Fatalf("the API key is in the output: %s %s", r.stdout, r.stderr)
		}
		return r
	}
	t.Run("config", func(t *testing.T) {
		r := run(t, "", "config", "--json")
		var rep struct {
			Providers map[string]struct {
				Type   string `json:"type"`
				APIKey string `json:"api_key"`
			} `json:"providers"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil || rep.Providers["local"].Type != "openai" || rep.Providers["local"].APIKey != "set" {
			t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
		}
	})
	t.Run("index", func(t *testing.T) {
		r := run(t, "", "index", "--json", "--embed-model", model, e.docs)
		var rep struct {
			Indexed int    `json:"indexed"`
			Dims    int    `json:"dims"`
			Model   string `json:"model"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil || rep.Indexed != 3 || rep.Dims != 64 {
			t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
	})
	t.Run("search", func(t *testing.T) {
		r := run(t, "", "search", "--json", "--mode", "dense", "-k", "2", "duck in the pond")
		if r.code != 0 || strings.Count(r.stdout, `"path"`) != 2 || r.stderr != "" {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("ask", func(t *testing.T) {
		r := run(t, "", "ask", "--json", "--model", model, "--max-tokens", "20", "--min-score", "-1", "Where does the duck swim?")
		var rep struct {
			Answer  string            `json:"answer"`
			Sources []json.RawMessage `json:"sources"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil || rep.Answer == "" || len(rep.Sources) == 0 {
			t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		t.Logf("answer through the provider: %q", rep.Answer)
	})
	t.Run("chat", func(t *testing.T) {
		r := run(t, "Where does the duck swim?\nand the ball?\n", "chat", "--json", "--model", model, "--max-tokens", "20", "--min-score", "-1")
		if r.code != 0 || strings.Count(strings.TrimSpace(r.stdout), "\n") != 1 || !strings.Contains(r.stdout, `"turn": 2`) && !strings.Contains(r.stdout, `"turn":2`) {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("rerank and expansion", func(t *testing.T) {
		// Ollama has no /v1/rerank: the chat judgement, with the server's
		// log probabilities, stands in.
		r := run(t, "", "search", "--json", "--rerank", "--rerank-model", model, "--expand", "--expand-model", model, "-k", "2", "duck in the pond")
		if r.code != 0 || !strings.Contains(r.stdout, `"rerank_score"`) {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		r := run(t, "", "ask", "--model", "local:no-such-model", "--min-score", "-1", "Where does the duck swim?")
		if r.code != 6 || !strings.Contains(r.stderr, `model "local:no-such-model" is not available from provider local`) {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("pull checks and does not pull", func(t *testing.T) {
		r := run(t, "", "pull", model)
		if r.code != 0 || !strings.Contains(r.stdout, model+": already on the server") {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
}
