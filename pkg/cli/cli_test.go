package cli

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/iostreams"
	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/internal/render/termtest"
	"github.com/rag-cli/rag/pkg/answer"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const embedModel = "fake-embed"
const chatModel = "fake-chat"
const embedModel2 = "fake-embed-2"

type harness struct {
	t     testing.TB
	srv   *ollamatest.Server
	index string
	docs  string
	env   map[string]string
}

// newHarness copies testdata/docs to a temporary folder and starts a fake
// Ollama that knows the test models.
func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, srv: ollamatest.New(t, embedModel, embedModel2, chatModel), index: filepath.Join(t.TempDir(), "index"), docs: t.TempDir()}
	if err := os.CopyFS(h.docs, os.DirFS("testdata/docs")); err != nil {
		t.Fatal(err)
	}
	h.env = map[string]string{"OLLAMA_HOST": h.srv.URL, "RAG_INDEX": h.index, "TERM": "xterm-256color"}
	return h
}

type result struct {
	stdout, stderr string
	code           int
}

type runOpt struct {
	stdin string
	tty   bool
	ctx   context.Context
	// ready is called once `rag index --watch` watches.
	ready func()
	// now replaces the fixed test clock (for latencies).
	now func() time.Time
	// dir is the working directory, where .rag.yaml is looked for.
	dir string
	// setup changes the App before it runs.
	setup func(*App)
}

func (h *harness) run(o runOpt, args ...string) result {
	h.t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(o.stdin)
	env := func(k string) string { return h.env[k] }
	ios.SetTTY(o.tty, o.tty, o.tty, env)
	now := o.now
	if now == nil {
		now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	}
	app := &App{IO: ios, Env: env, HTTP: NewHTTPClient(), Now: now, Dir: o.dir, Version: "test", watchReady: o.ready}
	if o.setup != nil {
		o.setup(app)
	}
	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := app.Run(ctx, args)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// with returns a copy of h for subtest t, its environment overlaid with env.
func (h *harness) with(t testing.TB, env map[string]string) *harness {
	h2 := *h
	h2.t = t
	h2.env = map[string]string{}
	for k, v := range h.env {
		h2.env[k] = v
	}
	for k, v := range env {
		h2.env[k] = v
	}
	return &h2
}

func (h *harness) mustIndex() {
	h.t.Helper()
	r := h.run(runOpt{}, "index", "--embed-model", embedModel, h.docs)
	if r.code != 0 {
		h.t.Fatalf("index exit %d: %s", r.code, r.stderr)
	}
}

// sgr matches a colour code.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// screen is what a terminal shows after out; it fails the test if out
// holds a control that rag must not write.
func screen(t *testing.T, out string) string {
	t.Helper()
	s, err := termtest.Screen(out)
	if err != nil {
		t.Fatalf("%v\noutput: %q", err, out)
	}
	return s
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

func TestIndexReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run(runOpt{}, "index", "--json", "--embed-model", embedModel, h.docs)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep indexReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	if rep.Indexed != 4 || rep.New != 4 || rep.Skipped != 2 || rep.Failed != 0 || rep.ChunksWritten != 4 || rep.Dims != 128 {
		t.Errorf("report = %+v", rep)
	}
	if r.stderr != "" {
		t.Errorf("stderr not empty when piped: %q", r.stderr)
	}

	t.Run("unchanged folder embeds nothing", func(t *testing.T) {
		before := h.srv.EmbedRequests()
		r := h.run(runOpt{}, "index", h.docs)
		if r.code != 0 || h.srv.EmbedRequests() != before {
			t.Fatalf("exit %d, %d embed calls: %s", r.code, h.srv.EmbedRequests()-before, r.stderr)
		}
		if !strings.HasPrefix(r.stdout, "Indexed 0 files (0 new, 0 changed; 0 chunks embedded), 4 unchanged, 0 removed, 2 skipped, 0 failed.") {
			t.Errorf("summary = %q", r.stdout)
		}
	})
	t.Run("changed, renamed and deleted files", func(t *testing.T) {
		write(t, filepath.Join(h.docs, "retry.txt"), "Retry policy\n\nUploads are retried five times.\n")
		if err := os.Rename(filepath.Join(h.docs, "install.md"), filepath.Join(h.docs, "setup.md")); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(h.docs, "notes", "cooking.md")); err != nil {
			t.Fatal(err)
		}
		before := h.srv.EmbeddedTexts()
		r := h.run(runOpt{}, "index", "--json", h.docs)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep indexReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if got := h.srv.EmbeddedTexts() - before; got != 1 {
			t.Errorf("embedded %d texts, want 1 (only the changed file; the rename reuses)", got)
		}
		if rep.Changed != 1 || rep.New != 1 || rep.Reused != 1 || rep.Removed != 2 || rep.TotalFiles != 3 {
			t.Errorf("report = %+v", rep)
		}
		s := h.run(runOpt{}, "search", "--json", "-k", "10", "spaghetti pasta")
		if strings.Contains(s.stdout, "cooking.md") || strings.Contains(s.stdout, "install.md") {
			t.Errorf("deleted or renamed file still found: %s", s.stdout)
		}
		if !strings.Contains(s.stdout, "setup.md") {
			t.Errorf("renamed file not found: %s", s.stdout)
		}
	})
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIndexProgressOnTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run(runOpt{tty: true}, "index", "--embed-model", embedModel, "--batch-size", "1", h.docs)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The bar counts the bytes of the files read.
	if !regexp.MustCompile(`indexing .*\(\s*\d+/\d+ B\)`).MatchString(r.stderr) {
		t.Errorf("no progress bar on a terminal: %q", r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "Indexed 4 files") {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	tests := []struct {
		query string
		top   string
	}{
		{"how do I install rag on linux", "install.md"},
		{"retry failed upload wait", "retry.txt"},
		{"spaghetti garlic parmesan", "notes/cooking.md"},
		{"HTTP server port", "src/server.go"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := h.run(runOpt{}, "search", "--json", "-k", "2", tt.query)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var rep searchReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != 2 || rep.Results[0].Path != tt.top {
				t.Fatalf("results = %+v, want %s first", rep.Results, tt.top)
			}
			if rep.Results[0].Score <= rep.Results[1].Score {
				t.Errorf("results not ordered by score: %+v", rep.Results)
			}
			if rep.Results[0].StartLine != 1 || rep.Results[0].EndLine < 2 || rep.Results[0].Text == "" {
				t.Errorf("result lacks lines or text: %+v", rep.Results[0])
			}
		})
	}
	t.Run("plain output", func(t *testing.T) {
		r := h.run(runOpt{}, "search", "-k", "1", "retry failed upload")
		golden(t, "search-plain", r.stdout)
	})
	t.Run("terminal output", func(t *testing.T) {
		r := h.run(runOpt{tty: true}, "search", "-k", "1", "retry failed upload")
		if r.code != 0 || !strings.Contains(r.stdout, "\x1b[1m1. retry.txt:1-4\x1b[0m  (score ") || r.stderr != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("query from stdin", func(t *testing.T) {
		r := h.run(runOpt{stdin: "spaghetti\n"}, "search", "-k", "1", "--json", "-")
		if r.code != 0 || !strings.Contains(r.stdout, `"path": "notes/cooking.md"`) {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
}

func TestAsk(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()

	t.Run("piped is plain text with sources", func(t *testing.T) {
		r := h.run(runOpt{}, "ask", "--model", chatModel, "How many times does the client retry a failed upload?")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("escape codes in piped output: %q", r.stdout)
		}
		golden(t, "ask-plain", r.stdout)
		msgs := h.srv.LastChat()
		last := msgs[len(msgs)-1]
		if len(msgs) != 2+len(answer.DefaultExamples) || msgs[0]["role"] != "system" || last["role"] != "user" || !strings.Contains(last["content"], "[1] retry.txt:1-4") {
			t.Errorf("chat messages = %v", msgs)
		}
	})
	t.Run("terminal is rendered markdown", func(t *testing.T) {
		r := h.run(runOpt{tty: true}, "ask", "--model", chatModel, "How many times does the client retry a failed upload?")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if !sgr.MatchString(r.stdout) || !strings.Contains(r.stdout, "retry.txt:1-4") {
			t.Errorf("terminal output not styled or lacks sources: %q", r.stdout)
		}
		// The answer is redrawn as it streams; what stays on the screen
		// is the glamour rendering of the whole answer and its sources.
		golden(t, "ask-tty", screen(t, r.stdout))
	})
	t.Run("terminal status line is erased", func(t *testing.T) {
		for _, args := range [][]string{
			{"ask", "--model", chatModel, "How many times does the client retry a failed upload?"},
			{"ask", "--json", "--model", chatModel, "How many times does the client retry a failed upload?"},
			{"ask", "--model", chatModel, "Who won the football world cup in 1954?"},
		} {
			r := h.run(runOpt{tty: true}, args...)
			if r.code != 0 && r.code != ExitNoAnswer {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "retrieving…") {
				t.Errorf("%v: no status shown: %q", args, r.stderr)
			}
			if got := screen(t, r.stderr); got != "" {
				t.Errorf("%v: status left on the screen: %q", args, got)
			}
			if args[1] == "--json" && !json.Valid([]byte(r.stdout)) {
				t.Errorf("--json output is not JSON: %q", r.stdout)
			}
		}
	})
	for _, tt := range []struct {
		name string
		env  map[string]string
		// redraw: the answer may be redrawn in place (cursor moves).
		redraw bool
	}{
		{"NO_COLOR terminal", map[string]string{"NO_COLOR": "1", "TERM": "xterm-256color"}, true},
		{"dumb terminal", map[string]string{"TERM": "dumb"}, false},
	} {
		t.Run(tt.name+" is plain text without markers", func(t *testing.T) {
			h2 := *h
			h2.env = map[string]string{"OLLAMA_HOST": h.env["OLLAMA_HOST"], "RAG_INDEX": h.index}
			for k, v := range tt.env {
				h2.env[k] = v
			}
			r := h2.run(runOpt{tty: true}, "ask", "--model", chatModel, "How many times does the client retry a failed upload?")
			if r.code != 0 || sgr.MatchString(r.stdout) {
				t.Fatalf("exit %d, colour in output %q", r.code, r.stdout)
			}
			if !tt.redraw && strings.Contains(r.stdout, "\x1b") {
				t.Errorf("escape sequence on a dumb terminal: %q", r.stdout)
			}
			got := screen(t, r.stdout)
			for _, marker := range []string{"**", "`"} {
				if strings.Contains(got, marker) {
					t.Errorf("markdown marker %q shown:\n%s", marker, got)
				}
			}
			for _, want := range []string{"According to the documents, Retry policy [1].", "Sources", "• [1] retry.txt:1-4"} {
				if !strings.Contains(got, want) {
					t.Errorf("screen lacks %q:\n%s", want, got)
				}
			}
		})
	}
	t.Run("json from stdin", func(t *testing.T) {
		r := h.run(runOpt{stdin: "Which port does the HTTP server listen on?\n"}, "ask", "--json", "--model", chatModel, "-")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep struct {
			Answer    string `json:"answer"`
			Abstained bool   `json:"abstained"`
			Sources   []struct {
				N         int    `json:"n"`
				Path      string `json:"path"`
				StartLine int    `json:"start_line"`
				EndLine   int    `json:"end_line"`
				Cited     bool   `json:"cited"`
			} `json:"sources"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		if rep.Abstained || len(rep.Sources) == 0 || rep.Sources[0].Path != "src/server.go" || !rep.Sources[0].Cited || rep.Sources[0].N != 1 {
			t.Errorf("report = %+v", rep)
		}
		if !strings.Contains(rep.Answer, "[1]") {
			t.Errorf("answer cites nothing: %q", rep.Answer)
		}
	})
	t.Run("abstains without calling the model", func(t *testing.T) {
		before := h.srv.ChatRequests()
		r := h.run(runOpt{}, "ask", "--json", "--model", chatModel, "Who won the football world cup in 1954?")
		if r.code != ExitNoAnswer {
			t.Fatalf("exit %d, want %d: %s", r.code, ExitNoAnswer, r.stderr)
		}
		if h.srv.ChatRequests() != before {
			t.Error("the chat model was called")
		}
		if !strings.Contains(r.stdout, `"abstained": true`) || !strings.Contains(r.stdout, "do not answer") {
			t.Errorf("stdout = %s", r.stdout)
		}
		if r.stderr != "" {
			t.Errorf("stderr = %q", r.stderr)
		}
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	down := ollamatest.Start()
	down.Close()
	empty := t.TempDir()
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		err      string
		hint     string
		noStdout bool
	}{
		{"ollama down", map[string]string{"OLLAMA_HOST": down.URL}, []string{"search", "--fallback=false", "retry"}, ExitOllama, "cannot reach Ollama at " + down.URL, "ollama serve", true},
		{"embed model missing", nil, []string{"index", "--index", filepath.Join(t.TempDir(), "i"), "--embed-model", "nomic-embed-text", h.docs}, ExitModel, `model "nomic-embed-text" is not available`, "ollama pull nomic-embed-text", true},
		{"chat model missing", nil, []string{"ask", "--model", "llama3.2", "retry failed upload"}, ExitModel, `model "llama3.2"`, "ollama pull llama3.2", false},
		{"other embedding model", nil, []string{"search", "--mode", "dense", "--embed-model", "other", "retry"}, ExitIndex, "built with embedding model fake-embed", "--embed-model fake-embed", true},
		{"other model into index", nil, []string{"index", "--embed-model", "other", h.docs}, ExitIndex, "built with embedding model fake-embed", "--embed-model fake-embed", true},
		{"no index", map[string]string{"RAG_INDEX": filepath.Join(t.TempDir(), "none")}, []string{"ask", "anything"}, ExitIndex, "no index at", "rag index DIR", true},
		{"path does not exist", nil, []string{"index", filepath.Join(empty, "missing")}, ExitUsage, "does not exist", "check the path", true},
		{"empty folder", map[string]string{"RAG_INDEX": filepath.Join(t.TempDir(), "i")}, []string{"index", empty}, ExitUsage, "has no files", "folder of text", true},
		{"unknown command", nil, []string{"frobnicate"}, ExitUsage, `unknown command "frobnicate"`, "rag --help", true},
		{"unknown flag", nil, []string{"search", "--nope", "x"}, ExitUsage, "unknown flag: --nope", "rag search --help", true},
		{"no query", nil, []string{"search"}, ExitUsage, "no query on standard input", "", true},
		{"empty query", nil, []string{"search", ""}, ExitUsage, "the query is empty", "`rag search \"retry policy\"`", true},
		{"blank query", nil, []string{"search", "--json", " \t", " "}, ExitUsage, "the query is empty", "or - to read it from standard input", true},
		{"blank question", nil, []string{"ask", "  "}, ExitUsage, "the question is empty", "`rag ask \"How do I install on Linux?\"`", true},
		{"bad k", nil, []string{"ask", "-k", "0", "x"}, ExitUsage, "-k: want a whole number of at least 1", "", true},
		{"bad parallel", nil, []string{"index", "--parallel", "0", h.docs}, ExitUsage, "--parallel must be at least 1", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h2 := h.with(t, tt.env)
			r := h2.run(runOpt{}, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if !strings.HasPrefix(lines[0], "rag: error: ") || !strings.Contains(lines[0], tt.err) {
				t.Errorf("error line = %q, want it to contain %q", lines[0], tt.err)
			}
			if tt.hint != "" && (len(lines) < 2 || !strings.HasPrefix(lines[1], "rag: hint: ") || !strings.Contains(lines[1], tt.hint)) {
				t.Errorf("hint = %q, want it to contain %q", lines, tt.hint)
			}
			if tt.noStdout && !noDataOut(r, tt.code) {
				t.Errorf("stdout = %q", r.stdout)
			}
		})
	}
}

func TestIndexInterrupted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Many files, one chunk each; cancel during the third embed request.
	for i := 0; i < 40; i++ {
		write(t, filepath.Join(h.docs, "many", "f"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))+".txt"),
			"note number "+strings.Repeat("word ", i+1)+"\n")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	h.srv.OnEmbed(func() {
		if calls.Add(1) == 3 {
			cancel()
		}
	})
	r := h.run(runOpt{ctx: ctx}, "index", "--embed-model", embedModel, "--batch-size", "4", h.docs)
	if r.code != ExitInterrupted {
		t.Fatalf("exit %d, want %d: %s", r.code, ExitInterrupted, r.stderr)
	}
	if !strings.Contains(r.stderr, "rag: error: interrupted") {
		t.Errorf("stderr = %q", r.stderr)
	}
	h.srv.OnEmbed(nil)
	// The index is usable, and the next run finishes the job without
	// embedding again what was kept.
	if s := h.run(runOpt{}, "search", "--json", "retry"); s.code != 0 {
		t.Fatalf("search after interrupt: exit %d: %s", s.code, s.stderr)
	}
	before := h.srv.EmbeddedTexts()
	r = h.run(runOpt{}, "index", "--json", h.docs)
	if r.code != 0 {
		t.Fatalf("resume: exit %d: %s", r.code, r.stderr)
	}
	var rep indexReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.TotalFiles != 44 || rep.Unchanged == 0 || h.srv.EmbeddedTexts()-before != rep.ChunksEmbedded || rep.ChunksEmbedded >= 44 {
		t.Errorf("resume report = %+v (embedded %d)", rep, h.srv.EmbeddedTexts()-before)
	}
}

func TestExitCodesHelp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run(runOpt{}, "help", "exit-codes")
	if r.code != 0 || !strings.Contains(r.stdout, "130  interrupted") {
		t.Fatalf("exit %d: %s", r.code, r.stdout)
	}
}

// noDataOut reports whether a failed run wrote no data on stdout: nothing,
// or with --json only the error object of its exit code.
func noDataOut(r result, code int) bool {
	if r.stdout == "" {
		return true
	}
	var e jsonError
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	return dec.Decode(&e) == nil && !dec.More() && e.Error.Code == code && e.Error.Message != ""
}
