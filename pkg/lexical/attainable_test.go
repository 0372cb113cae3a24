package lexical

import (
	"math"
	"testing"
)

// TestAttainable checks the score a query could attain: each of its terms'
// IDF (a term no document holds at the highest IDF) times K1+1; and that a
// document holding the query's rare terms reaches more of it than one
// holding only its common ones.
func TestAttainable(t *testing.T) {
	t.Parallel()
	b := NewBuilder()
	docs := []string{
		"tungsten boils at a very high temperature",
		"the temperature of the oven",
		"the oven and the kitchen",
		"kitchen knives",
	}
	for i, d := range docs {
		b.Add(i, d)
	}
	r, err := Open(Merge(b).Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	parts := []Part{{R: r}}
	id := func(_ int, doc uint32) int { return int(doc) }
	n := float64(len(docs))
	idf := func(df float64) float64 { return math.Log(1 + (n-df+0.5)/(df+0.5)) }
	tests := []struct {
		name      string
		query     string
		want      float64 // attainable
		known     float64 // its part the terms some document holds carry
		bestAbove float64 // the best hit's share of it is above
		bestBelow float64 // and below
	}{
		{"all terms held, rare one too", "tungsten temperature", (idf(1) + idf(2)) * (K1 + 1), (idf(1) + idf(2)) * (K1 + 1), 0.45, 1},
		{"a term nobody holds", "sistine temperature", (idf(0) + idf(2)) * (K1 + 1), idf(2) * (K1 + 1), 0, 0.3},
		{"no term held", "sistine chapel", (idf(0) + idf(0)) * (K1 + 1), 0, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hits, both, err := SearchPartsKnown(tt.query, 3, parts, id)
			if err != nil {
				t.Fatal(err)
			}
			att := both.All
			if math.Abs(float64(both.Known)-tt.known) > 1e-4 {
				t.Errorf("known part %.5f, want %.5f", both.Known, tt.known)
			}
			if math.Abs(float64(att)-tt.want) > 1e-4 {
				t.Errorf("attainable %.5f, want %.5f", att, tt.want)
			}
			share := 0.0
			if len(hits) > 0 {
				share = float64(hits[0].Score / att)
			}
			if share <= tt.bestAbove || share > tt.bestBelow {
				t.Errorf("best share %.3f, want in (%.2f, %.2f]", share, tt.bestAbove, tt.bestBelow)
			}
		})
	}
}
