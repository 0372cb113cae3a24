package cli

import (
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
)

func TestCompletion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	down := ollamatest.Start()
	down.Close()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"mode", nil, []string{"__complete", "search", "--mode", ""}, []string{"dense", "lexical", "hybrid"}},
		{"eval mode", nil, []string{"__complete", "eval", "--mode", ""}, []string{"dense", "lexical", "hybrid"}},
		{"fusion", nil, []string{"__complete", "ask", "--fusion", ""}, []string{"weighted", "rrf"}},
		{"chat model from the server", nil, []string{"__complete", "ask", "--model", "fake-c"}, []string{"fake-chat:latest", "fake-chat"}},
		{"re-rank model", nil, []string{"__complete", "search", "--rerank-model", ""},
			[]string{"fake-chat:latest", "fake-chat", "fake-embed-2:latest", "fake-embed-2", "fake-embed:latest", "fake-embed"}},
		{"embedding model, a global flag", nil, []string{"__complete", "index", "--embed-model", "fake-embed-"}, []string{"fake-embed-2:latest", "fake-embed-2"}},
		{"server down: nothing", map[string]string{"OLLAMA_HOST": down.URL}, []string{"__complete", "ask", "--model", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h2 := h.with(t, tt.env)
			r := h2.run(runOpt{}, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			got, directive := lines[:len(lines)-1], lines[len(lines)-1]
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("completions %q, want %q", got, tt.want)
			}
			if directive != ":4" { // no file names for these flags
				t.Errorf("directive %q", directive)
			}
			if strings.Contains(r.stderr, "rag: error") || strings.Contains(r.stderr, "Error") {
				t.Errorf("stderr = %q", r.stderr)
			}
		})
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run("script "+shell, func(t *testing.T) {
			t.Parallel()
			r := h.run(runOpt{}, "completion", shell)
			if r.code != 0 || !strings.Contains(r.stdout, "rag") || len(r.stdout) < 500 {
				t.Errorf("exit %d, %d bytes: %s", r.code, len(r.stdout), r.stderr)
			}
		})
	}
}
