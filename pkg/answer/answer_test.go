package answer

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/retrieve"
)

func TestCitations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text    string
		n       int
		cited   []int
		invalid []int
	}{
		{"No citations.", 3, nil, []int{}},
		{"A [1]. B [2][3].", 3, []int{1, 2, 3}, []int{}},
		{"A [1] and [7], [0].", 2, []int{1}, []int{0, 7}},
		{"Array a[1] counts too [2].", 2, []int{1, 2}, []int{}},
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
	}{
		{"cites second", "C is a function [2].", false, []bool{false, true}},
		{"abstains", NoAnswer, true, []bool{false, false}},
		{"bad citation", "Alpha [3].", false, []bool{false, false}},
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
			if streamed.String() != tt.reply || res.Answer != tt.reply || res.Abstained != tt.abstained {
				t.Errorf("result = %+v, streamed %q", res, streamed.String())
			}
			for i, want := range tt.cited {
				if res.Sources[i].Cited != want {
					t.Errorf("source %d cited = %v", i+1, res.Sources[i].Cited)
				}
			}
			if chat.got[0].Role != "system" || chat.got[0].Content != SystemPrompt {
				t.Error("first message is not the system prompt")
			}
			user := chat.got[1].Content
			for _, want := range []string{"[1] a.md:1-4\nAlpha text.", "[2] b/c.go:10-20\nfunc C() {}", "Question: What is C?"} {
				if !strings.Contains(user, want) {
					t.Errorf("user message lacks %q:\n%s", want, user)
				}
			}
		})
	}
}
