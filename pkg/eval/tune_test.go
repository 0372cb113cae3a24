package eval

import (
	"context"
	"testing"

	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// TestTune: when the lexical ranking finds the answer and the dense one
// does not, the best weight is the lowest; the floor is the highest that
// keeps the answerable question.
func TestTune(t *testing.T) {
	t.Parallel()
	hit := func(id int, path string, score, coverage float32) store.Hit {
		return store.Hit{ID: id, File: store.FileEntry{Path: path}, Score: score, Coverage: coverage, Text: "the retry policy"}
	}
	ch := func(_ context.Context, q string) ([]store.Hit, []store.Hit, error) {
		if q == "retry galaxies" {
			return []store.Hit{hit(1, "wrong.md", 0.9, 0)}, []store.Hit{hit(1, "wrong.md", 1, 0.1)}, nil
		}
		return []store.Hit{hit(1, "wrong.md", 0.9, 0), hit(2, "right.md", 0.2, 0)},
			[]store.Hit{hit(2, "right.md", 3, 0.4), hit(1, "wrong.md", 2, 0.3)}, nil
	}
	qs := []Query{
		{Text: "retry policy", Relevant: []Target{{Path: "right.md"}}},
		{Text: "retry galaxies", Unanswerable: true},
	}
	got, err := Tune(context.Background(), qs, ch, 0.5, retrieve.Floor{MinCoverage: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if got.FusionWeight.Best != 0.1 || got.FusionWeight.BestNDCG != 1 || got.FusionWeight.CurrentNDCG >= 1 {
		t.Errorf("fusion weight %+v", got.FusionWeight)
	}
	mc := got.MinCoverage
	if mc == nil || mc.Best <= 0.1 || mc.Best > 0.4 || mc.Refused != 1 || mc.WrongRefusals != 0 || mc.CurrentRefused != 0 {
		t.Errorf("min coverage %+v", mc)
	}
}
