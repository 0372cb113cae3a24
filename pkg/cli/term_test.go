package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// hostileDoc is a document that tries to take over the terminal of whoever
// searches it: clipboard write (OSC 52), title set, colour, clear screen,
// 8-bit CSI, bidi override, carriage return.
const hostileDoc = "# Hostile \x1b]0;owned title\x07heading\n\nThe retry policy \x1b]52;c;ZXZpbA==\x07 says \x1b[31mred\x1b[0m and \x1b[2J\u009b2J then \u202eevil\r.\n"

// hostileAnswer is what a hostile model could write.
const hostileAnswer = "Retry policy \x1b]52;c;ZXZpbA==\x07 \u009b31m bad \x1b]0;t\x07 [1]."

func TestHostileText(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	write(t, filepath.Join(h.docs, "hostile.md"), hostileDoc)
	write(t, filepath.Join(h.docs, "evil\x1b[2Jname.md"), "Retry policy for evil names.\n")
	write(t, filepath.Join(h.docs, "bin\x1b]0;t\x07.png"), "\x89PNG\r\n\x1a\n\x00\x00")
	h.mustIndex()
	h.srv.SetResponder(func(_, _ string) string { return hostileAnswer })
	t.Run("status on a terminal shows names escaped", func(t *testing.T) {
		r := h.run(runOpt{tty: true}, "status", "-v")
		got := screen(t, r.stdout)
		if r.code != 0 || !strings.Contains(got, `bin\x1b]0;t\x07.png`) {
			t.Errorf("exit %d:\n%s", r.code, got)
		}
		if p := h.run(runOpt{}, "status", "-v"); !strings.Contains(p.stdout, "bin\x1b]0;t\x07.png") {
			t.Errorf("piped status changed the name: %q", p.stdout)
		}
	})
	raw := []string{"\x1b]52", "\x1b]0;", "\x1b[2J", "\u009b", "\u202e", "\x07", "\x1b[31mred"}

	for _, args := range [][]string{
		{"search", "--mode", "lexical", "-k", "3", "retry policy hostile"},
		{"search", "--mode", "lexical", "-k", "3", "--full", "retry policy hostile"},
		{"search", "--mode", "lexical", "-k", "3", "--files", "retry policy hostile"},
		{"ask", "--model", chatModel, "--mode", "lexical", "What does the retry policy say?"},
		{"show", "hostile.md"},
	} {
		name := strings.Join(args[:len(args)-1], " ")
		t.Run(name+" on a terminal shows it escaped", func(t *testing.T) {
			r := h.run(runOpt{tty: true}, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for _, bad := range raw {
				if strings.Contains(r.stdout, bad) || strings.Contains(r.stderr, bad) {
					t.Errorf("%q reached the terminal: %q", bad, r.stdout)
				}
			}
			got := screen(t, r.stdout) // fails on any control that is not rag's own
			screen(t, r.stderr)
			want := `\x1b]52;c;ZXZpbA==\x07`
			if args[0] == "search" && strings.Contains(name, "--files") {
				want = `evil\x1b[2Jname.md`
			}
			if !strings.Contains(sgr.ReplaceAllString(got, ""), want) {
				t.Errorf("the sequence is not shown escaped (%s):\n%s", want, got)
			}
		})
		t.Run(name+" piped keeps the text as stored", func(t *testing.T) {
			r := h.run(runOpt{}, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if !strings.Contains(name, "--files") && !strings.Contains(r.stdout, "\x1b]52;c;ZXZpbA==\x07") {
				t.Errorf("piped output changed the text: %q", r.stdout)
			}
		})
	}
	for _, args := range [][]string{
		{"search", "--json", "--mode", "lexical", "retry policy hostile"},
		{"ask", "--json", "--model", chatModel, "--mode", "lexical", "What does the retry policy say?"},
	} {
		t.Run(args[0]+" --json escapes it", func(t *testing.T) {
			r := h.run(runOpt{tty: true}, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for _, bad := range append(raw, "\x1b") {
				if strings.Contains(r.stdout, bad) {
					t.Errorf("%q raw in JSON: %s", bad, r.stdout)
				}
			}
			var doc struct {
				Answer  string `json:"answer"`
				Results []struct {
					Text string `json:"text"`
				} `json:"results"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatal(err)
			}
			if args[0] == "ask" && doc.Answer != hostileAnswer {
				t.Errorf("answer = %q, want it as the model wrote it", doc.Answer)
			}
			if args[0] == "search" && !strings.Contains(doc.Results[0].Text+doc.Results[len(doc.Results)-1].Text, "\u009b2J then \u202eevil") {
				t.Errorf("results do not decode to the stored text: %q", doc.Results)
			}
		})
	}
}

func TestSearchOnTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	long := "Intro line without the words.\n" + strings.Repeat("Filler text about nothing much.\n", 15) +
		"Before installing the zorblax, read this. The zorblax installation takes a minute and " + strings.Repeat("goes on and on ", 20) + "\n" +
		strings.Repeat("More filler.\n", 5)
	write(t, filepath.Join(h.docs, "long.md"), long)
	h.mustIndex()

	t.Run("snippet with highlighted terms", func(t *testing.T) {
		r := h.run(runOpt{tty: true}, "search", "--mode", "lexical", "-k", "1", "installing zorblax")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		got := screen(t, r.stdout)
		t.Logf("terminal output:\n%s", got)
		if !strings.Contains(got, "\x1b[1;33minstallation\x1b[0m") || !strings.Contains(got, "\x1b[1;33minstalling\x1b[0m") {
			t.Errorf("stemmed query terms not highlighted:\n%s", got)
		}
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) > 4 || strings.Contains(got, "Intro line") {
			t.Errorf("not a snippet (%d lines):\n%s", len(lines), got)
		}
		for _, l := range lines {
			if w := len([]rune(sgr.ReplaceAllString(l, ""))); w > 80 {
				t.Errorf("line of %d columns on an 80-column terminal: %q", w, l)
			}
		}
	})
	t.Run("no colour: no highlight codes", func(t *testing.T) {
		h2 := *h
		h2.env = map[string]string{"OLLAMA_HOST": h.env["OLLAMA_HOST"], "RAG_INDEX": h.index, "NO_COLOR": "1"}
		r := h2.run(runOpt{tty: true}, "search", "--mode", "lexical", "-k", "1", "installing zorblax")
		if r.code != 0 || strings.Contains(r.stdout, "\x1b") || !strings.Contains(r.stdout, "installation") {
			t.Errorf("exit %d: %q", r.code, r.stdout)
		}
	})
	t.Run("--full prints the whole chunk", func(t *testing.T) {
		r := h.run(runOpt{tty: true}, "search", "--mode", "lexical", "-k", "1", "--full", "installing zorblax")
		got := screen(t, r.stdout)
		if r.code != 0 || !strings.Contains(got, "Intro line") || !strings.Contains(got, "More filler.") {
			t.Errorf("exit %d, not the whole chunk:\n%s", r.code, got)
		}
	})
	t.Run("--files prints distinct paths, piped too", func(t *testing.T) {
		for _, tty := range []bool{true, false} {
			r := h.run(runOpt{tty: tty}, "search", "--mode", "lexical", "-k", "5", "--files", "install rag on linux macos")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			seen := map[string]bool{}
			for _, l := range lines {
				if seen[l] || !filepath.IsAbs(l) {
					t.Errorf("tty %v: line %q repeated or not absolute: %q", tty, l, r.stdout)
				}
				seen[l] = true
				if _, err := os.Stat(l); err != nil {
					t.Errorf("tty %v: %v", tty, err)
				}
			}
			if lines[0] != filepath.Join(h.docs, "install.md") {
				t.Errorf("tty %v: first = %q", tty, lines[0])
			}
		}
	})
	t.Run("--files with --json keeps the JSON", func(t *testing.T) {
		r := h.run(runOpt{}, "search", "--json", "--files", "--mode", "lexical", "install")
		var rep searchReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Results) == 0 {
			t.Errorf("%v: %s", err, r.stdout)
		}
	})
	t.Run("piped without flags is unchanged", func(t *testing.T) {
		r := h.run(runOpt{}, "search", "--mode", "lexical", "-k", "1", "installing zorblax")
		if !strings.Contains(r.stdout, "    "+strings.ReplaceAll(strings.TrimSuffix(long, "\n"), "\n", "\n    ")+"\n") {
			t.Errorf("piped output is not the whole chunk: %q", r.stdout)
		}
	})
}

func TestEmptyIndex(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	if err := os.RemoveAll(h.docs); err != nil {
		t.Fatal(err)
	}
	if r := h.run(runOpt{}, "index", "--prune-only"); r.code != 0 {
		t.Fatalf("prune: exit %d: %s", r.code, r.stderr)
	}
	embeds, chats := h.srv.EmbedRequests(), h.srv.ChatRequests()
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"search", []string{"search", "retry"}, 0, "No results: the index is empty.\n", ""},
		{"search json", []string{"search", "--json", "retry"}, 0, `"results": []`, ""},
		{"search files", []string{"search", "--files", "retry"}, 0, "", ""},
		{"ask", []string{"ask", "--model", chatModel, "What is the retry policy?"}, ExitIndex, "", "rag: error: the index is empty: it holds no documents\nrag: hint: add documents with `rag index DIR`"},
		{"ask json", []string{"ask", "--json", "--model", chatModel, "What is the retry policy?"}, ExitIndex, `"code": 7`, "rag: error: the index is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(runOpt{}, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tt.code, r.stderr)
			}
			if tt.stdout == "" && r.stdout != "" || !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.stdout)
			}
			if tt.stderr == "" && r.stderr != "" || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.stderr)
			}
		})
	}
	if h.srv.EmbedRequests() != embeds || h.srv.ChatRequests() != chats {
		t.Errorf("Ollama was asked: %d embed, %d chat requests", h.srv.EmbedRequests()-embeds, h.srv.ChatRequests()-chats)
	}
}

func TestIndexInterruptedOnTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := 0; i < 20; i++ {
		write(t, filepath.Join(h.docs, "many", "f"+string(rune('a'+i))+".txt"), "note number "+strings.Repeat("word ", i+1)+"\n")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	h.srv.OnEmbed(func() {
		if calls.Add(1) == 3 {
			cancel()
		}
	})
	r := h.run(runOpt{ctx: ctx, tty: true}, "index", "--embed-model", embedModel, "--batch-size", "2", h.docs)
	if r.code != ExitInterrupted {
		t.Fatalf("exit %d, want %d: %q", r.code, ExitInterrupted, r.stderr)
	}
	if !strings.Contains(r.stderr, "indexing") {
		t.Fatalf("no progress bar was drawn: %q", r.stderr)
	}
	// The terminal echoes ^C where the cursor is, after the bar, before
	// rag clears it.
	at := strings.LastIndex(r.stderr, clearLine)
	if at < 0 {
		t.Fatalf("the bar was not cleared: %q", r.stderr)
	}
	got := screen(t, r.stderr[:at]+"^C"+r.stderr[at:])
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if lines[0] != "rag: error: interrupted" {
		t.Errorf("bar left behind the error:\n%q", got)
	}
}
