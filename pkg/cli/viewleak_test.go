package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNamesAndTimesOfOthers: what the asker may not see is not named nor
// dated anywhere around the view: not by completion, not by rag eval's
// refusal of a corpus index, not by the updated time of status and of
// the MCP status tool, and the MCP get answers a host folder as it does a
// missing path. (A chat session's owner is checked in TestChatSession.)
func TestNamesAndTimesOfOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	at := func(hour int) func() time.Time {
		return func() time.Time { return time.Date(2026, 3, 1, hour, 0, 0, 0, time.UTC) }
	}
	for _, src := range []struct {
		name string
		args []string
		hour int
	}{
		{"alicedocs", []string{"--allow", "user:alice"}, 9},
		{"bobdocs", []string{"--allow", "user:bob"}, 10},
		{"acmedocs", []string{"--tenant", "acme", "--allow", "public"}, 11},
	} {
		dir := filepath.Join(root, src.name)
		write(t, filepath.Join(dir, "n.md"), "# Notes of "+src.name+"\n\nThe quarterly budget review is on Monday.\n")
		h.mustRun(runOpt{now: at(src.hour)}, append(append([]string{"index", "--embed-model", embedModel}, src.args...), dir)...)
	}

	t.Run("completion", func(t *testing.T) {
		for _, tc := range []struct {
			env  map[string]string
			args []string
			want string
		}{
			{nil, []string{"search", "--as", "user:bob"}, "bobdocs\n"},
			{nil, []string{"ask", "--as", "user:alice"}, "alicedocs\n"},
			{map[string]string{"RAG_AS": "user:alice"}, []string{"show"}, "alicedocs\n"},
			{nil, []string{"status", "--tenant", "acme"}, "acmedocs\n"},
			{nil, []string{"search"}, ""}, // public sees nothing in the default tenant
			{nil, []string{"index"}, ""},
			{nil, []string{"search", "--as", "nobody"}, ""}, // not a principal
		} {
			r := h.with(t, tc.env).mustRun(runOpt{}, append(append([]string{"__complete"}, tc.args...), "--collection", "")...)
			if r.stdout != tc.want+":4\n" {
				t.Errorf("%v %v: %q", tc.env, tc.args, r.stdout)
			}
		}
	})

	t.Run("status updated", func(t *testing.T) {
		for as, hour := range map[string]int{"user:alice": 9, "user:bob": 10} {
			var rep statusReport
			if err := json.Unmarshal([]byte(h.mustRun(runOpt{}, "status", "--json", "--as", as).stdout), &rep); err != nil {
				t.Fatal(err)
			}
			if !rep.Updated.Equal(at(hour)()) {
				t.Errorf("status --as %s: updated %s, want %s", as, rep.Updated, at(hour)())
			}
		}
		if r := h.mustRun(runOpt{}, "status", "--as", "user:alice"); !strings.Contains(r.stdout, "Last indexed: "+at(9)().Local().Format("2006-01-02 15:04:05 MST")) {
			t.Errorf("status --as user:alice:\n%s", r.stdout)
		}
		var all statusReport
		if err := json.Unmarshal([]byte(h.mustRun(runOpt{}, "status", "--json", "--all").stdout), &all); err != nil || !all.Updated.Equal(at(11)()) {
			t.Errorf("status --all: updated %s, %v", all.Updated, err)
		}
	})

	t.Run("mcp", func(t *testing.T) {
		cs, stop := mcpSession(t, h, "--as", "user:alice", "--model", chatModel)
		defer stop()
		var st mcpStatus
		if text, isErr := callTool(t, cs, "status", nil, &st); isErr || !st.Updated.Equal(at(9)()) || !strings.Contains(text, "updated 2026-03-01T09:00:00Z") {
			t.Errorf("status: error %v, updated %s: %s", isErr, st.Updated, text)
		}
		missing := filepath.Join(root, "nothing-here")
		want, _ := callTool(t, cs, "get", map[string]any{"citation": missing}, nil)
		for _, p := range []string{root, filepath.Join(root, "bobdocs"), t.TempDir()} {
			text, isErr := callTool(t, cs, "get", map[string]any{"citation": p}, nil)
			if !isErr || strings.ReplaceAll(text, p, "PATH") != strings.ReplaceAll(want, missing, "PATH") {
				t.Errorf("get %s: %q; a missing path: %q", p, text, want)
			}
		}
	})

	t.Run("eval corpus index", func(t *testing.T) {
		beir := "../eval/testdata/beir"
		for as, want := range map[string]string{
			"user:bob":   "holds other documents (" + filepath.Join(root, "bobdocs") + "), not only this corpus",
			"user:carol": "holds other documents, not only this corpus",
		} {
			r := h.run(runOpt{}, "eval", "--as", as, "--corpus-index", h.index, beir)
			if r.code != ExitUsage || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "alicedocs") || strings.Contains(r.stderr, "acmedocs") {
				t.Errorf("eval --as %s: exit %d: %s", as, r.code, r.stderr)
			}
		}
	})
}
