package rerank

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/provider"
	"github.com/rag-cli/rag/pkg/retrieve"
)

type tp = ollama.TokenProb

func TestScore(t *testing.T) {
	t.Parallel()
	lp := math.Log
	tests := []struct {
		name string
		toks []ollama.TokenProb
		want float32
	}{
		{"yes likely", []tp{{Token: "yes", Logprob: lp(0.8)}, {Token: "no", Logprob: lp(0.2)}}, 0.8},
		{"forms folded", []tp{{Token: "Yes", Logprob: lp(0.3)}, {Token: " yes", Logprob: lp(0.3)}, {Token: "No.", Logprob: lp(0.2)}}, 0.75},
		{"other tokens ignored", []tp{{Token: "The", Logprob: lp(0.9)}, {Token: "no", Logprob: lp(0.05)}, {Token: "yes", Logprob: lp(0.05)}}, 0.5},
		{"neither", []tp{{Token: "maybe", Logprob: lp(1)}}, 0},
		{"only no", []tp{{Token: "no", Logprob: lp(0.6)}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Score(tt.toks); math.Abs(float64(got-tt.want)) > 1e-6 {
				t.Errorf("Score = %v, want %v", got, tt.want)
			}
		})
	}
}

// wordJudge says yes in proportion to how many query words the passage has.
type wordJudge struct {
	mu    sync.Mutex
	calls int
	fail  error
	block chan struct{}
}

func (j *wordJudge) NextToken(ctx context.Context, req ollama.ChatRequest, _ int) ([]ollama.TokenProb, error) {
	j.mu.Lock()
	j.calls++
	j.mu.Unlock()
	if j.block != nil {
		select {
		case <-j.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if j.fail != nil {
		return nil, j.fail
	}
	user := req.Messages[len(req.Messages)-1].Content
	q, passage, _ := strings.Cut(strings.TrimPrefix(user, "Query: "), "\n\nPassage")
	words := strings.Fields(q)
	n := 0
	for _, w := range words {
		if strings.Contains(passage, w) {
			n++
		}
	}
	p := (float64(n) + 0.5) / (float64(len(words)) + 1)
	return []tp{{Token: "yes", Logprob: math.Log(p)}, {Token: "no", Logprob: math.Log(1 - p)}}, nil
}

func TestRerank(t *testing.T) {
	t.Parallel()
	results := []retrieve.Result{
		{Path: "a", Text: "nothing here"},
		{Path: "b", Text: "alpha beta gamma"},
		{Path: "c", Heading: "Alpha", Text: "alpha"},
	}
	j := &wordJudge{}
	m := &Model{Judge: j, Name: "judge", Parallel: 2}
	scores, err := m.Rerank(context.Background(), "alpha beta gamma", results)
	if err != nil {
		t.Fatal(err)
	}
	if !(scores[1] > scores[2] && scores[2] > scores[0]) {
		t.Errorf("scores %v, want b > c > a", scores)
	}
	if m.Calls() != 3 || j.calls != 3 {
		t.Errorf("%d calls counted, %d made; want 3", m.Calls(), j.calls)
	}
	if p := Prompt("q", results[2]); !strings.Contains(p, "Passage (Alpha):\nalpha") {
		t.Errorf("prompt lacks the heading: %q", p)
	}

	failing := &Model{Judge: &wordJudge{fail: errors.New("boom")}, Name: "judge"}
	if _, err := failing.Rerank(context.Background(), "q", results); err == nil || err.Error() != "boom" {
		t.Errorf("error %v, want boom", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	blocked := &Model{Judge: &wordJudge{block: make(chan struct{})}, Name: "judge", Parallel: 1}
	done := make(chan error)
	go func() {
		_, err := blocked.Rerank(ctx, "q", results)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled rerank returned %v", err)
	}
}

// rankJudge has a re-ranking endpoint, or says it has none (ErrNoRank).
type rankJudge struct {
	wordJudge
	none  bool
	ranks int
	docs  []string
}

func (j *rankJudge) Rank(_ context.Context, model, query string, docs []string) ([]float32, error) {
	j.ranks++
	if j.none {
		return nil, provider.ErrNoRank
	}
	j.docs = docs
	out := make([]float32, len(docs))
	for i := range docs {
		out[i] = float32(i) / 10
	}
	return out, nil
}

// TestRerankEndpoint: a judge with a re-ranking endpoint scores every
// passage in one call; one without falls back to a judgement a passage.
func TestRerankEndpoint(t *testing.T) {
	t.Parallel()
	results := []retrieve.Result{{Path: "a", Heading: "A", Text: " alpha "}, {Path: "b", Text: "beta"}}
	j := &rankJudge{}
	scores, err := (&Model{Judge: j, Name: "r"}).Rerank(context.Background(), "alpha", results)
	if err != nil || len(scores) != 2 || scores[1] != 0.1 || j.ranks != 1 || j.calls != 0 {
		t.Fatalf("scores %v, err %v, %d ranks, %d judgements", scores, err, j.ranks, j.calls)
	}
	if j.docs[0] != "A\nalpha" || j.docs[1] != "beta" {
		t.Fatalf("passages sent: %q", j.docs)
	}
	none := &rankJudge{none: true}
	m := &Model{Judge: none, Name: "r"}
	if _, err := m.Rerank(context.Background(), "alpha", results); err != nil || none.calls != 2 || m.Calls() != 2 {
		t.Fatalf("fallback: err %v, %d judgements, Calls %d", err, none.calls, m.Calls())
	}
}
