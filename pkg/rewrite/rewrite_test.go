package rewrite

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rag-cli/rag/pkg/retrieve"
)

// model replies with reply and keeps what it was asked.
type model struct {
	reply string
	err   error
	got   Request
}

func (m *model) Complete(_ context.Context, req Request) (string, error) {
	m.got = req
	return m.reply, m.err
}

func TestExpand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		reply  string
		want   retrieve.Expansion
		reason string // of the *UnusableError, if one is expected
	}{
		{
			name:  "phrasings and passage",
			reply: `{"phrasings": ["How is water heated?", "What warms the water?"], "passage": "The kettle heats water to boiling."}`,
			want:  retrieve.Expansion{Phrasings: []string{"How is water heated?", "What warms the water?"}, Passage: "The kettle heats water to boiling."},
		},
		{
			name:  "copies of the question and of each other dropped, at most three kept",
			reply: `{"phrasings": ["how do I warm up liquid?", "a", "A", "b", "", "  ", "c", "d"], "passage": ""}`,
			want:  retrieve.Expansion{Phrasings: []string{"a", "b", "c"}},
		},
		{
			name:  "lines and spaces made one line",
			reply: "{\"phrasings\": [\"  heat\\n\\twater \"], \"passage\": \"one\\ntwo\"}",
			want:  retrieve.Expansion{Phrasings: []string{"heat water"}, Passage: "one two"},
		},
		{name: "a story, not JSON", reply: "Once upon a time there was a kettle.", reason: "not the JSON asked for"},
		{name: "JSON cut off by the token limit", reply: `{"phrasings": ["heat wat`, reason: "not the JSON asked for"},
		{name: "nothing in it", reply: `{"phrasings": [], "passage": " "}`, reason: "no phrasing and no passage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := &model{reply: tt.reply}
			got, err := Expand(context.Background(), m, " how do I warm up liquid? ")
			if m.got.System != ExpandPrompt || m.got.User != "Question: how do I warm up liquid?" || len(m.got.Format) == 0 {
				t.Errorf("asked %+v", m.got)
			}
			var unusable *UnusableError
			switch {
			case tt.reason != "":
				if !errors.As(err, &unusable) || unusable.Reason != tt.reason || unusable.Reply != tt.reply {
					t.Fatalf("err = %v, want unusable (%s)", err, tt.reason)
				}
			case err != nil:
				t.Fatal(err)
			case !reflect.DeepEqual(got, tt.want):
				t.Errorf("Expand = %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("the model's error", func(t *testing.T) {
		t.Parallel()
		down := errors.New("connection refused")
		if _, err := Expand(context.Background(), &model{err: down}, "q"); !errors.Is(err, down) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestStandalone(t *testing.T) {
	t.Parallel()
	history := []Turn{
		{Question: "Who wrote the parser?", Answer: "Ada wrote it [1]."},
		{Question: "How fast is the kettle?", Answer: "It boils water in 3 minutes [2]."},
	}
	tests := []struct {
		name    string
		reply   string
		want    string
		unusing bool
	}{
		{name: "a rewrite from the conversation's words", reply: `{"question": "How long does the kettle take to boil water?"}`, want: "How long does the kettle take to boil water?"},
		{name: "kept on one line", reply: "{\"question\": \"kettle\\nwater\"}", want: "kettle water"},
		{name: "a story is not searched for", reply: `{"question": "Once upon a time a little girl found a dragon in the forest."}`, unusing: true},
		{name: "not JSON", reply: "How long does the kettle take?", unusing: true},
		{name: "empty", reply: `{"question": ""}`, unusing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := &model{reply: tt.reply}
			got, err := Standalone(context.Background(), m, history, "and how long does it take?")
			for _, s := range []string{"User: Who wrote the parser?", "Assistant: It boils water in 3 minutes [2].", "Last message: and how long does it take?"} {
				if !strings.Contains(m.got.User, s) {
					t.Errorf("the conversation sent lacks %q:\n%s", s, m.got.User)
				}
			}
			var unusable *UnusableError
			switch {
			case tt.unusing:
				if !errors.As(err, &unusable) {
					t.Fatalf("Standalone = %q, %v; want unusable", got, err)
				}
			case err != nil:
				t.Fatal(err)
			case got != tt.want:
				t.Errorf("Standalone = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("only the latest turns, answers clipped", func(t *testing.T) {
		t.Parallel()
		long := []Turn{{Question: "first?", Answer: "a"}, {Question: "second?", Answer: "b"}, {Question: "third?", Answer: "c"},
			{Question: "fourth?", Answer: strings.Repeat("word ", 500)}}
		m := &model{reply: `{"question": "fourth"}`}
		if _, err := Standalone(context.Background(), m, long, "and?"); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.got.User, "first?") || !strings.Contains(m.got.User, "second?") {
			t.Errorf("turns sent:\n%s", m.got.User)
		}
		if len(m.got.User) > 1000 {
			t.Errorf("the conversation sent is %d bytes: a long answer was not clipped", len(m.got.User))
		}
	})
}

// FuzzParseExpansion: whatever a model replies, what is searched is at
// most Phrasings one-line phrasings of bounded length, in valid UTF-8 when
// the reply was.
func FuzzParseExpansion(f *testing.F) {
	f.Add("q", `{"phrasings": ["a", "b"], "passage": "p"}`)
	f.Add("q", `{"phrasings": ["\u00e9\u00e9\u00e9"], "passage": "\n"}`)
	f.Add("Q", `{"phrasings": ["q", "Q "], "passage": ""}`)
	f.Fuzz(func(t *testing.T, question, reply string) {
		x, err := ParseExpansion(question, reply)
		if err != nil {
			var unusable *UnusableError
			if !errors.As(err, &unusable) {
				t.Fatalf("err = %v", err)
			}
			return
		}
		if len(x.Phrasings) > Phrasings || len(x.Phrasings) == 0 && x.Passage == "" {
			t.Fatalf("expansion %+v", x)
		}
		for _, p := range append(slices.Clone(x.Phrasings), x.Passage) {
			if strings.ContainsAny(p, "\n\r") || len(p) > maxPassage || utf8.ValidString(reply) && !utf8.ValidString(p) {
				t.Fatalf("text %q", p)
			}
		}
		for _, p := range x.Phrasings {
			if p == "" || len(p) > maxPhrasing || strings.EqualFold(p, oneLine(question)) {
				t.Fatalf("phrasing %q of %q", p, question)
			}
		}
	})
}
