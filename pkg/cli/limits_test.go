package cli

import (
	"strings"
	"testing"
)

// TestQueryTooLong: a question longer than 1 MiB is refused whole, with a
// hint, rather than cut mid-word; one of exactly 1 MiB is taken.
func TestQueryTooLong(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	word := "spaghetti "
	atLimit := strings.Repeat(word, maxQuery/len(word)) + strings.Repeat("x", maxQuery%len(word))
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"search, stdin", atLimit + "x", []string{"search", "--mode", "lexical", "-"}},
		{"ask, stdin piped", atLimit + " spaghetti", []string{"ask", "--model", chatModel}},
		{"ask, arguments", "", []string{"ask", "--model", chatModel, atLimit, "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run(runOpt{stdin: tc.stdin}, tc.args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, "rag: error: the ") || !strings.Contains(r.stderr, " is longer than 1 MiB, the most rag takes\n") ||
				!strings.Contains(r.stderr, "rag: hint: ") || r.stdout != "" {
				t.Errorf("exit %d\n%s", r.code, r.stderr)
			}
		})
	}
	r := h.run(runOpt{stdin: atLimit}, "search", "--json", "--mode", "lexical", "-k", "1", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "notes/cooking.md") {
		t.Errorf("a query of exactly 1 MiB: exit %d: %s", r.code, r.stderr)
	}
}
