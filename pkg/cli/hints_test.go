package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// hintLine is the `rag: hint:` line of stderr, or "".
func hintLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "rag: hint: ") {
			return l
		}
	}
	return ""
}

// TestHintNamesTheMissingModelsFlag: the hint for a model the server lacks
// names the flag that chose it, and the pull command.
func TestHintNamesTheMissingModelsFlag(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	tests := []struct {
		name string
		args []string
		want []string
		not  string
	}{
		{"embedding model", []string{"index", "--index", filepath.Join(t.TempDir(), "i"), "--embed-model", "nope", h.docs},
			[]string{"ollama pull nope", "--embed-model"}, "--rerank-model"},
		{"chat model", []string{"ask", "--model", "nope", "retry failed upload"},
			[]string{"ollama pull nope", "--model"}, "--embed-model"},
		{"re-ranking model", []string{"search", "--rerank", "--rerank-model", "nope", "retry failed upload"},
			[]string{"ollama pull nope", "--rerank-model"}, "--embed-model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(runOpt{}, tt.args...)
			if r.code != ExitModel {
				t.Fatalf("exit %d, want %d: %s", r.code, ExitModel, r.stderr)
			}
			hint := hintLine(r.stderr)
			for _, w := range tt.want {
				if !strings.Contains(hint, w) {
					t.Errorf("hint %q lacks %q", hint, w)
				}
			}
			if strings.Contains(hint, tt.not) {
				t.Errorf("hint %q names %s, which did not choose the missing model", hint, tt.not)
			}
		})
	}
}

// TestHintAfterInterrupt: each command's hint after Ctrl-C says truly what
// was kept.
func TestHintAfterInterrupt(t *testing.T) {
	t.Parallel()
	beir := "../eval/testdata/beir"
	corpus := filepath.Join(t.TempDir(), "corpus")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"index keeps its work", []string{"index", "--rebuild"}, "embedded so far are kept"},
		{"ask has nothing to keep", []string{"ask", "--model", chatModel, "retry failed upload"}, "nothing was changed"},
		{"search has nothing to keep", []string{"search", "retry failed upload"}, "nothing was changed"},
		{"eval deletes its temporary index", []string{"eval", "--embed-model", embedModel, beir}, "nothing is kept; give --corpus-index DIR"},
		{"eval keeps --corpus-index", []string{"eval", "--embed-model", embedModel, "--corpus-index", corpus, beir}, "kept in " + corpus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mustIndex()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h.srv.OnEmbed(cancel)
			r := h.run(runOpt{ctx: ctx}, tt.args...)
			if r.code != ExitInterrupted {
				t.Fatalf("exit %d, want %d: %s", r.code, ExitInterrupted, r.stderr)
			}
			if hint := hintLine(r.stderr); !strings.Contains(hint, tt.want) {
				t.Errorf("hint = %q, want it to say %q", hint, tt.want)
			}
		})
	}
}

// TestAskJSONInvalidCitations: invalid_citations is always in ask --json,
// an empty list when every citation names a source (README lists it).
func TestAskJSONInvalidCitations(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	tests := []struct {
		name     string
		question string
		code     int
	}{
		{"answered", "How many times does the client retry a failed upload?", 0},
		{"abstained", "Who won the football world cup in 1954?", ExitNoAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(runOpt{}, "ask", "--json", "--model", chatModel, tt.question)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tt.code, r.stderr)
			}
			var rep map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			if got := string(rep["invalid_citations"]); got != "[]" {
				t.Errorf("invalid_citations = %q, want []", got)
			}
		})
	}
}

// TestPlurals: counts of one are singular in human output.
func TestPlurals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	one := t.TempDir()
	write(t, filepath.Join(one, "a.md"), "# A\n\nOne small file.\n")
	r := h.run(runOpt{}, "index", "--embed-model", embedModel, one)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"Indexed 1 file (1 new, 0 changed; 1 chunk embedded)", ": 1 file, 1 chunk, fake-embed (128 dimensions)."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("index output lacks %q:\n%s", want, r.stdout)
		}
	}
	s := h.run(runOpt{}, "status")
	if !strings.Contains(s.stdout, "Contents:     1 file, 1 chunk,") {
		t.Errorf("status:\n%s", s.stdout)
	}
	for n, want := range map[int]string{0: "0 files", 1: "1 file", 2: "2 files"} {
		if got := plural(n, "file"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestHelpTexts: the help says what README says about formats, the index
// location and the commands.
func TestHelpTexts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"$XDG_DATA_HOME/rag/index", "~/.local/share/rag/index", "rag show"}},
		{[]string{"index", "--help"}, []string{"Markdown", "plain text", "source code", "reStructuredText", "Org", "HTML", "PDF", "DOCX", "CSV/TSV", "JSON/JSONL", "--remove", ".ragignore"}},
		{[]string{"show", "--help"}, []string{"guide.md:12-30", "manual.pdf p.3", "report.docx ¶4-7", "needs no Ollama"}},
		{[]string{"help", "exit-codes"}, []string{"not in the index", "rag index keeps the work"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := h.run(runOpt{}, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			out := strings.Join(strings.Fields(r.stdout), " ")
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q", w)
				}
			}
		})
	}
}
