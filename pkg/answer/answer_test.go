package answer

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/retrieve"
)

func TestCitations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text    string
		n       int
		cited   []int
		invalid []json.Number
	}{
		{"No citations.", 3, nil, []json.Number{}},
		{"A [1]. B [2][3].", 3, []int{1, 2, 3}, []json.Number{}},
		{"A [1] and [7], [0].", 2, []int{1}, []json.Number{"0", "7"}},
		{"Array a[1] counts too [2].", 2, []int{1, 2}, []json.Number{}},
		{"None [-1], [0], [1000000000000000000000] or [-99999999999999999999] and [3][03][-1].", 2, nil,
			[]json.Number{"-99999999999999999999", "-1", "0", "3", "1000000000000000000000"}},
		{"Leading zeros [01] name [2] too.", 2, []int{1, 2}, []json.Number{}},
		{"Not markers: [--1] [-] [1-] [+1] [- 1].", 2, nil, []json.Number{}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			cited, invalid := Citations(tt.text, tt.n)
			var got []int
			for i := 0; i <= tt.n; i++ {
				if cited[i] {
					got = append(got, i)
				}
			}
			if !reflect.DeepEqual(got, tt.cited) || !reflect.DeepEqual(invalid, tt.invalid) {
				t.Errorf("cited %v invalid %v, want %v %v", got, invalid, tt.cited, tt.invalid)
			}
		})
	}
}

type scripted struct {
	reply string
	got   []Message
}

func (s *scripted) Chat(_ context.Context, msgs []Message, fn func(string) error) error {
	s.got = msgs
	for _, w := range strings.SplitAfter(s.reply, " ") {
		if err := fn(w); err != nil {
			return err
		}
	}
	return nil
}

func TestAsk(t *testing.T) {
	t.Parallel()
	sources := Number([]retrieve.Result{
		{Path: "a.md", StartLine: 1, EndLine: 4, Text: "Alpha text."},
		{Path: "b/c.go", StartLine: 10, EndLine: 20, Text: "func C() {}"},
	})
	tests := []struct {
		name      string
		reply     string
		abstained bool
		cited     []bool
		want      string // shown and kept ("": the reply)
		uncited   bool
		invalid   []json.Number
	}{
		{"cites second", "C is a function [2].", false, []bool{false, true}, "", false, []json.Number{}},
		{"abstains", NoAnswer, true, []bool{false, false}, "", false, []json.Number{}},
		{"bad citation", "Alpha [3].", false, []bool{false, false}, "Alpha.", true, []json.Number{"3"}},
		{"no citation", "C is a function.", false, []bool{false, false}, "", true, []json.Number{}},
		{"citations of no source", "Alpha [-1], beta [0] and gamma [1000000000000000000000] [2].", false, []bool{false, true},
			"Alpha, beta and gamma [2].", false, []json.Number{"-1", "0", "1000000000000000000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chat := &scripted{reply: tt.reply}
			var streamed strings.Builder
			res, err := Ask(context.Background(), chat, " What is C? ", append([]Source(nil), sources...), func(s string) error {
				streamed.WriteString(s)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.reply
			}
			if streamed.String() != want || res.Answer != want || res.Abstained != tt.abstained || res.Uncited != tt.uncited ||
				!slices.Equal(res.InvalidCitations, tt.invalid) {
				t.Errorf("result = %+v, streamed %q", res, streamed.String())
			}
			var notCited []int
			for i, c := range tt.cited {
				if !c {
					notCited = append(notCited, i+1)
				}
			}
			if !tt.abstained && !slices.Equal(res.NotCited, notCited) {
				t.Errorf("not cited %v, want %v", res.NotCited, notCited)
			}
			for i, want := range tt.cited {
				if res.Sources[i].Cited != want {
					t.Errorf("source %d cited = %v", i+1, res.Sources[i].Cited)
				}
			}
			if chat.got[0].Role != "system" || chat.got[0].Content != SystemPrompt {
				t.Error("first message is not the system prompt")
			}
			// The system prompt, the few-shot block, then the question.
			if len(chat.got) != 2+len(DefaultExamples) || !slices.Equal(chat.got[1:1+len(DefaultExamples)], DefaultExamples) {
				t.Errorf("messages %v: want the system prompt, the examples and the question", chat.got)
			}
			user := chat.got[len(chat.got)-1].Content
			for _, want := range []string{"[1] a.md:1-4\nAlpha text.", "[2] b/c.go:10-20\nfunc C() {}", "Question: What is C?"} {
				if !strings.Contains(user, want) {
					t.Errorf("user message lacks %q:\n%s", want, user)
				}
			}
		})
	}
}

// TestCiteFilter: markers that name no source are dropped from the stream
// with the space before them, whatever the pieces the model sends; valid
// ones and other brackets pass unchanged.
func TestCiteFilter(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"valid", "A fact [1]. Another [2][1].", "A fact [1]. Another [2][1]."},
		{"invalid dropped with its space", "A fact [3]. Another [0], and [12] more.", "A fact. Another, and more."},
		{"mixed", "Both [1][7] say so [2].", "Both [1] say so [2]."},
		{"not markers", "Use a[i] or [x] or [ 1] or [] or [1a].", "Use a[i] or [x] or [ 1] or [] or [1a]."},
		{"at the end", "Ends here [5]", "Ends here"},
		{"unclosed at the end", "Ends with [1", "Ends with [1"},
		{"newline after", "Line [4]\nNext [1]\n", "Line\nNext [1]\n"},
		{"spaces kept", "a  b\tc [1] d", "a  b\tc [1] d"},
		{"other scripts kept", "Ünïcode [1] 日本 [5]. \u009b", "Ünïcode [1] 日本. \u009b"},
		{"negative, zero, huge", "A [-1]. B [0], C [1000000000000000000000] D [-0] [2].", "A. B, C D [2]."},
		{"minus not a marker", "a [-] b [--1] c [1-] d [-x] [-", "a [-] b [--1] c [1-] d [-x] [-"},
		{"text around a dropped one", "[-[9]1] [[-1]2]", "[-1 [2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{1, 2, 3, 100} { // the pieces the model streams
				f := &citeFilter{n: 2}
				var out strings.Builder
				for i := 0; i < len(tt.in); i += size {
					out.WriteString(f.write(tt.in[i:min(i+size, len(tt.in))]))
				}
				out.WriteString(f.flush())
				if out.String() != tt.want {
					t.Errorf("pieces of %d: %q, want %q", size, out.String(), tt.want)
				}
			}
		})
	}
}

// FuzzCiteFilter: whatever the model streams, in whatever pieces, no marker
// naming no source is shown, every valid one is, and the pieces do not
// change the result.
func FuzzCiteFilter(f *testing.F) {
	for _, s := range []string{"A [1] b [3].", "[[1]] [2 [10]", "x[0]y [1][2][99]\n", "[", "]", "[-1] [-[2]1] [1000000000000000000000]", "[-0][-01]"} {
		f.Add(s, uint8(2), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in string, n, size uint8) {
		run := func(size int) string {
			c := &citeFilter{n: int(n % 8)}
			var out strings.Builder
			for i := 0; i < len(in); i += size {
				out.WriteString(c.write(in[i:min(i+size, len(in))]))
			}
			out.WriteString(c.flush())
			return out.String()
		}
		whole := run(len(in) + 1)
		if !strings.Contains(in, "[") && whole != in {
			t.Fatalf("%q without any marker came out as %q", in, whole)
		}
		if got := run(int(size%7) + 1); got != whole {
			t.Fatalf("in pieces %q, whole %q", got, whole)
		}
		cited, invalid := Citations(whole, int(n%8))
		if len(invalid) > 0 {
			t.Fatalf("%q shows invalid citations %v", whole, invalid)
		}
		want, _ := Citations(in, int(n%8))
		if len(cited) != len(want) {
			t.Fatalf("%q cites %v, the answer cited %v", whole, cited, want)
		}
	})
}

func TestParseExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		turns    int
		err      string
	}{
		{"two turns", "- role: user\n  content: Q?\n- role: assistant\n  content: A [1].\n", 2, ""},
		{"empty file: no examples", "\n", 0, ""},
		{"assistant first", "- role: assistant\n  content: A\n- role: user\n  content: Q\n", 0, `turn 1: role "assistant", want user`},
		{"ends with a user", "- role: user\n  content: Q\n", 0, "the last turn is a user's"},
		{"empty content", "- role: user\n  content: ''\n- role: assistant\n  content: A\n", 0, "turn 1: empty content"},
		{"unknown field", "- role: user\n  text: Q\n", 0, "field text not found"},
		{"not a list", "role: user\n", 0, "want a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseExamples(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(got) != tt.turns {
				t.Fatalf("%d turns, %v; want %d", len(got), err, tt.turns)
			}
		})
	}
}

// TestFit: sources are dropped whole, the lowest ranked first, until the
// messages fit; the kept ones keep their numbers 1..n.
func TestFit(t *testing.T) {
	t.Parallel()
	var sources []Source
	for i := range 5 {
		sources = append(sources, Source{N: i + 1, Result: retrieve.Result{Path: fmt.Sprintf("s%d.md", i+1), Text: strings.Repeat("word ", 100)}})
	}
	p := Prompt{System: "Answer from the sources."}
	words := func(s string) int { return len(strings.Fields(s)) }
	all := 0
	for _, m := range p.Messages("q?", sources) {
		all += words(m.Content) + 4
	}
	tests := []struct {
		name   string
		budget int
		kept   int
	}{
		{"all fit", all, 5},
		{"one too many", all - 1, 4},
		{"room for two", all - 3*102, 2},
		{"none fits", 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kept, dropped := p.Fit("q?", sources, tt.budget, words)
			if len(kept) != tt.kept || len(kept)+len(dropped) != 5 {
				t.Fatalf("kept %d, dropped %d; want %d kept", len(kept), len(dropped), tt.kept)
			}
			for i, s := range kept {
				if s.N != i+1 {
					t.Errorf("kept source %d numbered %d", i+1, s.N)
				}
			}
			for i, s := range dropped {
				if s.N != tt.kept+i+1 {
					t.Errorf("dropped %v, want the lowest ranked", dropped)
				}
			}
		})
	}
}

// TestDefaultPrompt holds rag's own prompt to what it promises: the rules
// that keep a model to the sources, and examples that follow them.
func TestDefaultPrompt(t *testing.T) {
	t.Parallel()
	p := DefaultPrompt()
	for _, want := range []string{"only facts stated in the sources", "cite its source number in square brackets", NoAnswer, "Never add facts from your own knowledge"} {
		if !strings.Contains(p.System, want) {
			t.Errorf("the system prompt lacks %q", want)
		}
	}
	if len(p.Examples)%2 != 0 || len(p.Examples) == 0 {
		t.Fatalf("%d example turns", len(p.Examples))
	}
	for i := 0; i < len(p.Examples); i += 2 {
		q, a := p.Examples[i], p.Examples[i+1]
		if q.Role != "user" || a.Role != "assistant" {
			t.Errorf("turns %d and %d are %s and %s", i+1, i+2, q.Role, a.Role)
		}
		n := strings.Count(q.Content, "<<<source ")
		cited, invalid := Citations(a.Content, n)
		if len(invalid) > 0 || len(cited) == 0 && !abstained(a.Content) {
			t.Errorf("example answer %q neither cites its %d sources nor refuses", a.Content, n)
		}
	}
}

// TestFitAsOneByOne: Fit keeps exactly what dropping the lowest ranked
// source one at a time until the prompt fits keeps (what it did before it
// was made linear), for counts that add up over lines and counts that do
// not.
func TestFitAsOneByOne(t *testing.T) {
	t.Parallel()
	var sources []Source
	for i := range 40 {
		text := strings.Repeat(fmt.Sprintf("word%d ", i), 1+i*7%23) + strings.Repeat("x", i%5)
		sources = append(sources, Source{N: i + 1, Result: retrieve.Result{Path: fmt.Sprintf("s%d.md", i+1), Text: text}})
	}
	p := DefaultPrompt()
	counts := map[string]func(string) int{
		"estimate": chunk.EstimateTokens,
		"words":    func(s string) int { return len(strings.Fields(s)) },
		"bytes/7":  func(s string) int { return (len(s) + 6) / 7 },
		"sqrt":     func(s string) int { return int(math.Sqrt(float64(len(s))) * 10) },
	}
	for name, count := range counts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			total := func(kept []Source) int {
				n := 0
				for _, m := range p.Messages("q?", kept) {
					n += count(m.Content) + 4
				}
				return n
			}
			all := total(sources)
			for budget := total(nil) - 3; budget <= all+3; budget += max(1, (all-total(nil))/97) {
				want := sources
				for len(want) > 0 && total(want) > budget {
					want = want[:len(want)-1]
				}
				kept, dropped := p.Fit("q?", sources, budget, count)
				if len(kept) != len(want) || len(kept)+len(dropped) != len(sources) {
					t.Fatalf("budget %d: kept %d, dropped %d; want %d kept", budget, len(kept), len(dropped), len(want))
				}
			}
		})
	}
}
