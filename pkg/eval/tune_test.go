package eval

import (
	"context"
	"strings"
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

// TestTuneFolds: the floor is cross-validated in folds by the file that
// answers a question; one file is too few to split.
func TestTuneFolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files []string
		folds int
	}{
		{"four files, four folds", []string{"a.md", "b.md", "c.md", "d.md"}, 4},
		{"seven files, five folds", []string{"a.md", "b.md", "c.md", "d.md", "e.md", "f.md", "g.md"}, CVFolds},
		{"one file, none", []string{"a.md"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ch := func(_ context.Context, q string) ([]store.Hit, []store.Hit, error) {
				cov, path := float32(0.1), "a.md"
				if q != "retry galaxies" {
					cov, path = 0.5, strings.TrimPrefix(q, "retry policy ")
				}
				h := store.Hit{ID: 1, File: store.FileEntry{Path: path}, Score: 1, Coverage: cov, Text: "the retry policy"}
				return nil, []store.Hit{h}, nil
			}
			var qs []Query
			for _, f := range tt.files {
				qs = append(qs, Query{Text: "retry policy " + f, Relevant: []Target{{Path: f}}}, Query{Text: "retry galaxies", Unanswerable: true})
			}
			got, err := Tune(context.Background(), qs, ch, 0.5, retrieve.Floor{MinCoverage: 0.05})
			if err != nil {
				t.Fatal(err)
			}
			folds := got.MinCoverage.Folds
			if len(folds) != tt.folds {
				t.Fatalf("%d folds, want %d", len(folds), tt.folds)
			}
			ans, un := 0, 0
			for _, f := range folds {
				ans, un = ans+f.Answerable, un+f.Unanswerable
				if f.Floor <= 0.1 || f.Floor > 0.5 || f.Refused != 1 || f.WrongRefusals != 0 {
					t.Errorf("fold %+v", f)
				}
			}
			if tt.folds > 0 && (ans != len(tt.files) || un != len(tt.files)) {
				t.Errorf("folds hold %d answerable and %d unanswerable questions, want %d each", ans, un, len(tt.files))
			}
		})
	}
}
