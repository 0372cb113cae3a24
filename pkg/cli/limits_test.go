package cli

import (
	"context"
	"strings"
	"testing"
	"time"
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

// TestNumericFlags: a number a flag cannot mean is a usage error (exit 2)
// naming the flag, before anything is read or asked: --num-ctx 0 used to
// report sources that "do not fit in the -1024 tokens", --max-tokens 0
// and -1 were sent to the model, --max-size 0 meant 64 MiB, and NaN
// passed every check that compares.
func TestNumericFlags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	before := h.srv.ChatRequests()
	q := "How many times does the client retry a failed upload?"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ask", "--num-ctx", "0", q}, "--num-ctx 0 leaves no room for the sources: it must be larger than --max-tokens (1024)"},
		{[]string{"ask", "--num-ctx", "-5", q}, "--num-ctx -5 leaves no room"},
		{[]string{"ask", "--num-ctx", "1024", q}, "--num-ctx 1024 leaves no room"},
		{[]string{"ask", "--max-tokens", "0", q}, "--max-tokens must be at least 1 (it is 0)"},
		{[]string{"ask", "--max-tokens", "-1", q}, "--max-tokens must be at least 1 (it is -1)"},
		{[]string{"ask", "--temperature", "-0.5", q}, "--temperature must be a number of at least 0"},
		{[]string{"ask", "--temperature", "NaN", q}, "--temperature must be a number"},
		{[]string{"ask", "--min-score", "NaN", q}, "--min-score must be a number"},
		{[]string{"ask", "--fusion-weight", "NaN", q}, "--fusion-weight must be above 0"},
		{[]string{"chat", "--max-tokens", "0"}, "--max-tokens must be at least 1"},
		{[]string{"chat", "--num-ctx", "0"}, "--num-ctx 0 leaves no room"},
		{[]string{"eval", "--max-tokens", "-1", "x.yaml"}, "--max-tokens must be at least 1"},
		{[]string{"eval", "--num-ctx", "0", "x.yaml"}, "--num-ctx 0 leaves no room"},
		{[]string{"eval", "--min-ndcg", "NaN", "x.yaml"}, "--min-ndcg must be a number"},
		{[]string{"search", "--fusion-weight", "NaN", "retry"}, "--fusion-weight must be above 0"},
		{[]string{"index", "--max-size", "0", h.docs}, "--max-size must be at least 1"},
		{[]string{"index", "--max-size", "-1", h.docs}, "--max-size must be at least 1"},
		{[]string{"index", "--watch", "--watch-delay", "-1s", h.docs}, "--watch-delay must not be negative"},
	} {
		t.Run(strings.Join(tc.args[:3], " "), func(t *testing.T) {
			// Not refused, index --watch would run until interrupted.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r := h.run(runOpt{stdin: q, ctx: ctx}, tc.args...)
			if r.code != ExitUsage || !strings.HasPrefix(r.stderr, "rag: error: "+tc.want) {
				t.Errorf("exit %d: %s", r.code, r.stderr)
			}
		})
	}
	if n := h.srv.ChatRequests() - before; n != 0 {
		t.Errorf("%d chat requests", n)
	}
	// Within the flags, the server's context can still be the smaller.
	h.srv.SetContextLength(512)
	r := h.run(runOpt{}, "ask", "--model", chatModel, q)
	if r.code != ExitError || !strings.Contains(r.stderr, "rag: error: --max-tokens 1024 leaves no room for the sources: "+chatModel+"'s context holds 512 tokens\nrag: hint: lower --max-tokens below 512") {
		t.Errorf("a server context smaller than --max-tokens: exit %d: %s", r.code, r.stderr)
	}
}
