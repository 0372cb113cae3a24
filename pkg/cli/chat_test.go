package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/rewrite"
)

// lastQuestion is the question of the latest chat request's user turn.
func lastQuestion(h *harness) string {
	msgs := h.srv.LastChat()
	if len(msgs) == 0 {
		return ""
	}
	_, q, _ := strings.Cut(msgs[len(msgs)-1]["content"], "\nQuestion: ")
	return strings.TrimSpace(q)
}

// TestChatPiped runs a conversation through a pipe, as a script would:
// follow-ups rewritten and shown before retrieval, sources kept per turn,
// /sources, /save (Markdown and JSON), /clear and /exit.
func TestChatPiped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	dir := t.TempDir()
	md, js := filepath.Join(dir, "chat.md"), filepath.Join(dir, "chat.json")
	var answered []string
	h.srv.SetResponder(func(system, user string) string {
		if system != rewrite.StandalonePrompt {
			_, q, _ := strings.Cut(user, "\nQuestion: ")
			answered = append(answered, strings.TrimSpace(q))
		}
		return ollamatest.DefaultAnswer(system, user)
	})
	input := strings.Join([]string{
		"How many times does the client retry a failed upload?",
		"/sources",
		"and the wait between them?",
		"/sources 1",
		"/save " + md,
		"/save " + js,
		"/clear",
		"How do I install on Linux?",
		"/nonsense",
		"/exit",
		"What is never asked?",
	}, "\n")
	r := h.run(runOpt{stdin: input}, "chat", "--model", chatModel)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := []string{
		"How many times does the client retry a failed upload?",
		// The fake model's rewrite: the follow-up and the previous question's words.
		"and the wait between them? many times client retry failed upload",
		"How do I install on Linux?", // after /clear: as typed
	}
	if strings.Join(answered, "|") != strings.Join(want, "|") {
		t.Errorf("questions answered:\n%q\nwant\n%q", answered, want)
	}
	for _, s := range []string{
		"> How many times does the client retry a failed upload?\nAccording to the documents, Retry policy [1].\n\nSources:\n[1] retry.txt:1-4\n",
		"> and the wait between them?\n",
		"\n[1] retry.txt:1-4 (cited)\n    Retry policy\n", // /sources: the text the model read
		"> How do I install on Linux?\n",
	} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "never asked") {
		t.Errorf("a line after /exit was answered:\n%s", r.stdout)
	}
	for _, s := range []string{
		"rag: searching for: and the wait between them? many times client retry failed upload\n",
		"rag: saved 2 turns to " + md + "\n",
		"rag: unknown command /nonsense",
	} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
	if strings.Count(r.stderr, "searching for:") != 1 {
		t.Errorf("the first question, or the one after /clear, was rewritten:\n%s", r.stderr)
	}
	saved, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## 1. How many times does the client retry a failed upload?\n", "## 2. and the wait between them?\n\n*Searched for:* and the wait between them? many times client retry failed upload\n", "- [1] `retry.txt:1-4`\n"} {
		if !strings.Contains(string(saved), s) {
			t.Errorf("%s lacks %q:\n%s", md, s, saved)
		}
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var turns []struct {
		Turn      int    `json:"turn"`
		Typed     string `json:"typed"`
		Question  string `json:"question"`
		Rewritten bool   `json:"rewritten"`
		Sources   []struct {
			Path string `json:"path"`
		} `json:"sources"`
	}
	if err := json.Unmarshal(data, &turns); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	if len(turns) != 2 || !turns[1].Rewritten || turns[1].Typed != "and the wait between them?" || len(turns[0].Sources) == 0 {
		t.Errorf("saved turns %+v", turns)
	}
}

// TestChatJSON: --json writes one object per turn and line, a refusal
// included, and the session still ends with 0.
func TestChatJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	r := h.run(runOpt{stdin: "How many times does the client retry a failed upload?\nWho won the 1966 World Cup?\n"}, "chat", "--json", "--model", chatModel)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per turn:\n%s", len(lines), r.stdout)
	}
	for i, l := range lines {
		var turn struct {
			Turn      int    `json:"turn"`
			Question  string `json:"question"`
			Answer    string `json:"answer"`
			Abstained bool   `json:"abstained"`
			Sources   []any  `json:"sources"`
		}
		if err := json.Unmarshal([]byte(l), &turn); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, l)
		}
		if turn.Turn != i+1 || turn.Abstained != (i == 1) || (len(turn.Sources) > 0) == (i == 1) {
			t.Errorf("line %d: %+v", i+1, turn)
		}
	}
}

// TestChatTerminal: on a terminal the chat greets on stderr, prompts
// before each line, does not echo the question on stdout, and a rewrite
// the model makes up (not drawn from the conversation) is not searched.
func TestChatTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	h.srv.SetResponder(func(system, user string) string {
		if system == rewrite.StandalonePrompt {
			return `{"question": "Once upon a time a dragon sang."}`
		}
		return ollamatest.DefaultAnswer(system, user)
	})
	r := h.run(runOpt{tty: true, stdin: "How many times does the client retry a failed upload?\nretry policy wait?\n"}, "chat", "--model", chatModel)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "rag chat: fake-chat answers from ") || strings.Count(r.stderr, "> ") != 3 {
		t.Errorf("greeting and 3 prompts wanted on stderr:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "rag: note: the model's reply is not usable (its words are not the conversation's); searching for the question as typed") {
		t.Errorf("no note on the unused rewrite:\n%s", r.stderr)
	}
	if q := lastQuestion(h); q != "retry policy wait?" {
		t.Errorf("answered %q, want the follow-up as typed", q)
	}
	if strings.Contains(r.stdout, "> How many") || !strings.Contains(r.stdout, "Sources") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

func TestChatCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, name, arg string
		ok              bool
	}{
		{"/save notes.md", "save", "notes.md", true},
		{"/sources  2 ", "sources", "2", true},
		{"/exit", "exit", "", true},
		{"/bogus", "bogus", "", true},
		{"/etc/hosts: what is it for?", "", "", false},
		{"/", "", "", false},
		{"what is /save?", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			name, arg, ok := chatCommand(tt.line)
			if name != tt.name || arg != tt.arg || ok != tt.ok {
				t.Errorf("chatCommand(%q) = %q, %q, %v", tt.line, name, arg, ok)
			}
		})
	}
}

// TestChatOnTerminal runs rag chat on a real pseudo-terminal: the line
// editor reads a question typed with a correction, the answer is drawn,
// and Ctrl-D ends the chat with 0.
func TestChatOnTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	s := startPTY(t, h, "chat", "--model", chatModel)
	if _, ok := s.waitFor("> ", 10*time.Second); !ok {
		t.Fatalf("no prompt: %q", s.output())
	}
	// "retyr" corrected with two backspaces (DEL) before Enter.
	if _, err := s.tty.WriteString("How many times does the client retyr\x7f\x7fry a failed upload?\r"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.waitFor("Retry policy [", 10*time.Second); !ok {
		t.Fatalf("no answer: %q", s.output())
	}
	if q := lastQuestion(h); q != "How many times does the client retry a failed upload?" {
		t.Errorf("asked %q", q)
	}
	if _, ok := s.waitFor("retry.txt", 10*time.Second); !ok {
		t.Fatalf("no sources: %q", s.output())
	}
	time.Sleep(100 * time.Millisecond) // the next prompt
	if _, err := s.tty.WriteString("\x04"); err != nil {
		t.Fatal(err)
	}
	code, out := s.wait()
	if code != 0 {
		t.Errorf("Ctrl-D: exit %d: %q", code, out)
	}
	// The prompt's line is ended, so the shell's prompt starts its own.
	if !strings.HasSuffix(out, "> \r\n") {
		t.Errorf("Ctrl-D left the prompt's line open: ends %q", out[max(0, len(out)-20):])
	}
}

// TestChatCancelledWhileWaiting: SIGTERM (the root context cancelled) ends
// a chat that waits for its pipe's next line, with 130.
func TestChatCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.WriteString(pw, "How many times does the client retry a failed upload?\n")
		for h.srv.ChatRequests() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		cancel() // rag waits for the next line
	}()
	r := h.run(runOpt{ctx: ctx, setup: func(a *App) { a.IO.In = pr }}, "chat", "--model", chatModel)
	if r.code != ExitInterrupted || !strings.Contains(r.stdout, "Retry policy [1]") {
		t.Errorf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

// TestChatSeesReindex: a file `rag index` adds while a chat runs answers
// the chat's next question, and one it removes is no longer cited: the
// chat opens the index again after a commit.
func TestChatSeesReindex(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	write(t, filepath.Join(h.docs, "kettle.txt"), "Kettle\n\nThe kettle boils water in two minutes.\n")
	h.mustIndex()
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	errs := make(chan error, 1)
	go func() {
		errs <- func() error {
			if _, err := io.WriteString(pw, "How many times does the client retry a failed upload?\n"); err != nil {
				return err
			}
			// Once the first turn has asked the model, its sources are
			// searched: the documents change.
			for h.srv.ChatRequests() == 0 {
				time.Sleep(time.Millisecond)
			}
			if err := os.WriteFile(filepath.Join(h.docs, "descale.txt"), []byte("Descaling\n\nDescale the kettle with vinegar: fill it, boil, wait an hour.\n"), 0o644); err != nil {
				return err
			}
			if err := os.Remove(filepath.Join(h.docs, "kettle.txt")); err != nil {
				return err
			}
			if r := h.run(runOpt{}, "index", h.docs); r.code != 0 {
				return fmt.Errorf("index exit %d: %s", r.code, r.stderr)
			}
			// /clear: each question is searched as typed.
			if _, err := io.WriteString(pw, "/clear\nHow do I descale the kettle with vinegar?\n/clear\nHow long does the kettle take to boil water?\n"); err != nil {
				return err
			}
			return pw.Close()
		}()
	}()
	r := h.run(runOpt{setup: func(a *App) { a.IO.In = pr }}, "chat", "--json", "--model", chatModel)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	type turn struct {
		Sources []struct {
			Path string `json:"path"`
		} `json:"sources"`
	}
	var turns []turn
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var turn turn
		if err := json.Unmarshal([]byte(l), &turn); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		turns = append(turns, turn)
	}
	paths := func(i int) string {
		var ps []string
		for _, s := range turns[i].Sources {
			ps = append(ps, s.Path)
		}
		return strings.Join(ps, ",")
	}
	if len(turns) != 3 {
		t.Fatalf("%d turns, want 3:\n%s", len(turns), r.stdout)
	}
	if got := paths(0); !strings.Contains(got, "retry.txt") {
		t.Errorf("turn 1 has sources %q", got)
	}
	if got := paths(1); !strings.Contains(got, "descale.txt") {
		t.Errorf("turn 2 (after rag index added descale.txt) has sources %q", got)
	}
	if got := paths(2); strings.Contains(got, "kettle.txt") {
		t.Errorf("turn 3 (after rag index removed kettle.txt) cites it: %q", got)
	}
}

// TestChatSession: --session keeps a conversation between runs: the next
// run's follow-up is rewritten against it, /sources reaches its turns, and
// /clear is kept too; a damaged session file is an error with a hint.
func TestChatSession(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	h := newHarness(t).with(t, map[string]string{"XDG_STATE_HOME": state})
	h.mustIndex()
	file := filepath.Join(state, "rag", "chats", "work.json")

	r := h.run(runOpt{stdin: "How many times does the client retry a failed upload?\n"}, "chat", "--session", "work", "--model", chatModel)
	if r.code != 0 || strings.Contains(r.stderr, "going on") {
		t.Fatalf("first run: exit %d: %s", r.code, r.stderr)
	}
	r = h.run(runOpt{stdin: "and the wait between them?\n/sources 1\n"}, "chat", "--session", "work", "--model", chatModel)
	if r.code != 0 {
		t.Fatalf("second run: exit %d: %s", r.code, r.stderr)
	}
	for _, s := range []string{
		"rag: going on with chat session work (1 turn so far)\n",
		"rag: searching for: and the wait between them? many times client retry failed upload\n",
	} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "[1] retry.txt:1-4 (cited)") {
		t.Errorf("/sources 1 does not reach the first run's turn:\n%s", r.stdout)
	}
	var f sessionFile
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f); err != nil || f.Version != 1 || len(f.Turns) != 2 || f.Turns[1].Typed != "and the wait between them?" || !f.Turns[1].Rewritten {
		t.Fatalf("session file: %v: %s", err, data)
	}

	// Another asker does not go on with it: its sources are the first's.
	for _, args := range [][]string{{"--as", "user:bob"}, {"--as", "group:eng"}} {
		r := h.run(runOpt{stdin: "and the wait?\n"}, append([]string{"chat", "--session", "work", "--model", chatModel}, args...)...)
		if r.code != ExitError || r.stderr != "rag: error: chat session work belongs to someone else\n"+
			"rag: hint: its sources are what its asker may see: chat under another --session name\n" {
			t.Errorf("another asker %v: exit %d: %s", args, r.code, r.stderr)
		}
	}

	// /clear is kept: the next run takes its question as it stands.
	h.mustRun(runOpt{stdin: "/clear\n"}, "chat", "--session", "work", "--model", chatModel)
	r = h.run(runOpt{stdin: "How do I install on Linux?\n"}, "chat", "--session", "work", "--model", chatModel)
	if r.code != 0 || strings.Contains(r.stderr, "searching for:") {
		t.Errorf("after /clear the question was rewritten: exit %d: %s", r.code, r.stderr)
	}

	write(t, file, `{"version": 9, "turns": []}`)
	r = h.run(runOpt{stdin: "hello\n"}, "chat", "--session", "work", "--model", chatModel)
	if r.code != ExitError || !strings.Contains(r.stderr, "rag: hint: move the file away, or chat under another --session name") {
		t.Errorf("damaged session: exit %d: %s", r.code, r.stderr)
	}
	if r := h.run(runOpt{stdin: "hello\n"}, "chat", "--session", "../x"); r.code != ExitUsage {
		t.Errorf("a session name with a slash: exit %d: %s", r.code, r.stderr)
	}
}
