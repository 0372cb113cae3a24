package retrieve

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/rag-cli/rag/pkg/store"
)

func ptr(f float32) *float32 { return &f }

func TestEvidence(t *testing.T) {
	t.Parallel()
	results := []Result{
		{Path: "install.md", Score: 0.6, Dense: ptr(0.6), Text: "Installation on Linux: make install."},
		{Path: "cooking.md", Score: 0.5, Dense: ptr(0.5), Text: "Boil the pasta."},
		{Path: "low.md", Score: 0.1, Dense: ptr(0.1), Text: "install install install"},
		{Path: "lexical.md", Score: 3.2, Lexical: ptr(3.2), Text: "How to install."},
		{Path: "judged-no.md", Score: 0.2, Dense: ptr(0.9), Rerank: ptr(0.2), Text: "install"},
		{Path: "judged-yes.md", Score: 0.9, Dense: ptr(0.1), Rerank: ptr(0.9), Text: "installing"},
		{Path: "heading.md", Score: 0.6, Dense: ptr(0.6), Heading: "Install", Text: "Run the script."},
		{Path: "both.md", Score: 0.5, Dense: ptr(0.1), Lexical: ptr(2), Text: "install it"},
	}
	tests := []struct {
		name  string
		query string
		floor Floor
		want  []string
	}{
		{"shared stem", "installing rag", Floor{}, []string{"install.md", "low.md", "lexical.md", "judged-no.md", "judged-yes.md", "heading.md", "both.md"}},
		{"dense floor spares keyword matches", "install", Floor{MinDense: 0.3}, []string{"install.md", "lexical.md", "judged-no.md", "judged-yes.md", "heading.md", "both.md"}},
		{"rerank floor wins over dense", "install", Floor{MinDense: 0.3, MinRerank: 0.5}, []string{"install.md", "lexical.md", "judged-yes.md", "heading.md", "both.md"}},
		{"nothing shared", "who won the world cup", Floor{}, nil},
		{"stopwords only", "what is the", Floor{}, nil},
		{"question words only", "please explain", Floor{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, r := range Evidence(tt.query, results, tt.floor) {
				got = append(got, r.Path)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Evidence = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEvidenceCoverage: with keyword ranking, no result is evidence when
// the best one reaches too small a share of what the query could attain;
// dense-only results keep their own floor.
func TestEvidenceCoverage(t *testing.T) {
	t.Parallel()
	lex := func(path string, coverage float32) Result {
		return Result{Path: path, Score: 1, Lexical: ptr(1), Coverage: ptr(coverage), Text: "the boiling point of water"}
	}
	dense := Result{Path: "dense.md", Score: 0.8, Dense: ptr(0.8), Text: "the boiling point of water"}
	tests := []struct {
		name    string
		results []Result
		floor   float32
		want    int
	}{
		{"best reaches the floor", []Result{lex("a.md", 0.1), lex("b.md", 0.5)}, 0.23, 2},
		{"none reaches it", []Result{lex("a.md", 0.1), lex("b.md", 0.2)}, 0.23, 0},
		{"no coverage known is none", []Result{{Path: "c.md", Lexical: ptr(1), Text: "boiling point"}}, 0.23, 0},
		{"floor off", []Result{lex("a.md", 0.1)}, 0, 1},
		{"dense only: its own floor", []Result{dense}, 0.23, 1},
		{"hybrid: the keyword part decides", []Result{dense, lex("a.md", 0.1)}, 0.23, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Evidence("boiling point of tungsten", tt.results, Floor{MinCoverage: tt.floor}); len(got) != tt.want {
				t.Errorf("%d results are evidence, want %d", len(got), tt.want)
			}
		})
	}
}

// TestUnanswerable: the keyword index alone tells a question the floor
// refuses in every mode (no shared word) or where keywords rank (too little
// coverage), and nothing else; it never embeds.
func TestUnanswerable(t *testing.T) {
	t.Parallel()
	none := &fakeStore{}
	weak := &fakeStore{lexical: []store.Hit{hit(0, 1, 0.1)}}
	strong := &fakeStore{lexical: []store.Hit{hit(0, 5, 0.6), hit(1, 1, 0.1)}}
	floor := Floor{MinCoverage: 0.23}
	tests := []struct {
		name  string
		st    store.Store
		mode  Mode
		floor Floor
		want  bool
	}{
		{"no shared word, hybrid", none, Hybrid, floor, true},
		{"no shared word, dense", none, Dense, floor, true},
		{"no shared word, floor off", none, Lexical, Floor{}, true},
		{"too little coverage, hybrid", weak, Hybrid, floor, true},
		{"too little coverage, lexical", weak, Lexical, floor, true},
		{"too little coverage, dense: the similarity decides", weak, Dense, floor, false},
		{"coverage floor off", weak, Hybrid, Floor{}, false},
		{"enough coverage", strong, Hybrid, floor, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Unanswerable(context.Background(), tt.st, store.View{}, "q", tt.mode, tt.floor)
			if err != nil || got != tt.want {
				t.Errorf("Unanswerable = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	a := Result{Root: "/d", Path: "a.md", StartLine: 1, EndLine: 4, Text: "l1\nl2\nl3\nl4", Score: 0.9}
	aNext := Result{Root: "/d", Path: "a.md", StartLine: 3, EndLine: 6, Text: "l3\nl4\nl5\nl6", Score: 0.8}
	aTouch := Result{Root: "/d", Path: "a.md", StartLine: 7, EndLine: 8, Text: "l7\nl8", Score: 0.7}
	aFar := Result{Root: "/d", Path: "a.md", StartLine: 20, EndLine: 22, Text: "l20\nl21\nl22", Score: 0.6}
	copyOfA := Result{Root: "/d", Path: "copy.md", StartLine: 1, EndLine: 4, Text: "l1\nl2\nl3\nl4", Score: 0.85}
	b := Result{Root: "/d", Path: "b.md", StartLine: 1, EndLine: 2, Text: "b1\nb2", Score: 0.5}
	before := Result{Root: "/d", Path: "a.md", StartLine: 1, EndLine: 2, Text: "l1\nl2", Score: 0.95}
	otherPage := Result{Root: "/d", Path: "a.md", Page: 2, StartLine: 1, EndLine: 4, Text: "p2", Score: 0.4}
	braces := Result{Root: "/d", Path: "c.go", StartLine: 1, EndLine: 3, Text: "f() {\nif x {\n}", Score: 0.9}
	bracesNext := Result{Root: "/d", Path: "c.go", StartLine: 4, EndLine: 5, Text: "}\nnext", Score: 0.8}
	tests := []struct {
		name string
		in   []Result
		n    int
		want []Result
	}{
		{"overlap merged", []Result{a, aNext, b}, 4, []Result{{Root: "/d", Path: "a.md", StartLine: 1, EndLine: 6, Text: "l1\nl2\nl3\nl4\nl5\nl6", Score: 0.9}, b}},
		{"touching merged", []Result{aNext, aTouch}, 4, []Result{{Root: "/d", Path: "a.md", StartLine: 3, EndLine: 8, Text: "l3\nl4\nl5\nl6\nl7\nl8", Score: 0.8}}},
		// Chunks that touch share no line: the closing braces at the seam are two lines, not one written twice.
		{"touching merged, equal lines at the seam kept", []Result{braces, bracesNext}, 4, []Result{{Root: "/d", Path: "c.go", StartLine: 1, EndLine: 5, Text: "f() {\nif x {\n}\n}\nnext", Score: 0.9}}},
		{"earlier lines go first", []Result{aNext, a}, 4, []Result{{Root: "/d", Path: "a.md", StartLine: 1, EndLine: 6, Text: "l1\nl2\nl3\nl4\nl5\nl6", Score: 0.8}}},
		{"inside dropped", []Result{a, before}, 4, []Result{a}},
		{"far apart kept", []Result{a, aFar}, 4, []Result{a, aFar}},
		{"copy dropped", []Result{a, copyOfA, b}, 4, []Result{a, b}},
		{"other page kept", []Result{a, otherPage}, 4, []Result{a, otherPage}},
		{"cut at n, later overlap still merges", []Result{a, b, aNext}, 2, []Result{{Root: "/d", Path: "a.md", StartLine: 1, EndLine: 6, Text: "l1\nl2\nl3\nl4\nl5\nl6", Score: 0.9}, b}},
		{"cut at n", []Result{a, b, aFar}, 2, []Result{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Context(tt.in, tt.n); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Context =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func hits(scores ...float32) []store.Hit {
	out := make([]store.Hit, len(scores))
	for i, s := range scores {
		out[i] = store.Hit{ID: i, Score: s, File: store.FileEntry{Path: string(rune('a' + i))}}
	}
	return out
}

func TestFuse(t *testing.T) {
	t.Parallel()
	// Dense ranks a > b > d > c (flat scores), lexical c > b (c far ahead).
	h := hits(0.52, 0.51, 0.49, 0.50)
	dense := []store.Hit{h[0], h[1], h[3], h[2]}
	lexical := []store.Hit{hits(0, 0, 9)[2], hits(0, 3)[1]}
	tests := []struct {
		fusion Fusion
		want   []string
	}{
		// RRF counts ranks only: b is second in both, c first and fourth.
		{RRF, []string{"b", "c", "a", "d"}},
		// Weighted sees that c is far ahead lexically and dense is flat.
		{Weighted, []string{"c", "b", "a", "d"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.fusion), func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, r := range Fuse(dense, lexical, tt.fusion) {
				got = append(got, r.Path)
				if r.Path == "c" && (r.Dense == nil || r.Lexical == nil) {
					t.Errorf("c lost a part: %+v", r)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Fuse = %v, want %v", got, tt.want)
			}
		})
	}
}

type judge map[string]float32

func (j judge) Rerank(_ context.Context, _ string, rs []Result) ([]float32, error) {
	out := make([]float32, len(rs))
	for i, r := range rs {
		out[i] = j[r.Path]
	}
	return out, nil
}

type fakeStore struct {
	store.Store
	dense, lexical []store.Hit
}

func (f *fakeStore) Search(_ context.Context, _ store.View, _ []float32, k int) ([]store.Hit, error) {
	return f.dense[:min(k, len(f.dense))], nil
}

func (f *fakeStore) SearchText(_ context.Context, _ store.View, _ string, k int) ([]store.Hit, error) {
	return f.lexical[:min(k, len(f.lexical))], nil
}

type oneVec struct{}

func (oneVec) Embed(context.Context, []string) ([][]float32, error) { return [][]float32{{1}}, nil }

func TestSearchModes(t *testing.T) {
	t.Parallel()
	st := &fakeStore{dense: hits(0.9, 0.8, 0.7), lexical: []store.Hit{hits(0, 0, 5)[2], hits(0, 2)[1]}}
	tests := []struct {
		name string
		emb  Embedder
		k    int
		opt  Options
		want []string
	}{
		{"dense", oneVec{}, 2, Options{Mode: Dense}, []string{"a", "b"}},
		{"lexical needs no embedder", nil, 5, Options{Mode: Lexical}, []string{"c", "b"}},
		{"hybrid", oneVec{}, 3, Options{Mode: Hybrid, Fusion: Weighted}, []string{"c", "b", "a"}},
		{"rerank reorders the candidates", oneVec{}, 2, Options{Mode: Dense, Rerank: judge{"c": 0.9, "a": 0.5, "b": 0.1}}, []string{"c", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, err := Search(context.Background(), st, tt.emb, "q", tt.k, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.Path)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Search = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := Search(context.Background(), st, nil, "q", 2, Options{Mode: Dense}); err == nil {
		t.Error("dense search without an embedder did not fail")
	}
}

// byQuery is a store whose rankings depend on the query: each text's
// dense ranking is found by its vector (its number in texts, from 1).
type byQuery struct {
	store.Store
	texts   []string
	dense   map[string][]store.Hit
	lexical map[string][]store.Hit
	asked   []string
}

func (b *byQuery) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(slices.Index(b.texts, t) + 1)} // never 0: a zero vector ranks nothing
	}
	return out, nil
}

func (b *byQuery) Search(_ context.Context, _ store.View, v []float32, k int) ([]store.Hit, error) {
	t := b.texts[int(v[0])-1]
	b.asked = append(b.asked, "dense:"+t)
	return b.dense[t][:min(k, len(b.dense[t]))], nil
}

func (b *byQuery) SearchText(_ context.Context, _ store.View, q string, k int) ([]store.Hit, error) {
	b.asked = append(b.asked, "lexical:"+q)
	return b.lexical[q][:min(k, len(b.lexical[q]))], nil
}

func hit(id int, score, coverage float32) store.Hit {
	return store.Hit{ID: id, Score: score, Coverage: coverage, File: store.FileEntry{Path: string(rune('a' + id))}}
}

// TestSearchExpansion: the query's own ranking counts twice as much as
// each phrasing's; BM25 is normalised per ranking; the passage searches the
// dense channel only; a chunk only a phrasing finds (the user's words are
// not the documents') is found, with that phrasing's coverage.
func TestSearchExpansion(t *testing.T) {
	t.Parallel()
	x := &Expansion{Phrasings: []string{"p1", "p2"}, Passage: "hypo"}
	st := &byQuery{
		texts: []string{"q", "p1", "p2", "hypo"},
		dense: map[string][]store.Hit{
			"q":    {hit(0, 0.8, 0), hit(1, 0.7, 0)},
			"p1":   {hit(1, 0.9, 0)},
			"p2":   {hit(1, 0.9, 0), hit(0, 0.1, 0)},
			"hypo": {hit(2, 0.95, 0)},
		},
		lexical: map[string][]store.Hit{
			"q":  {hit(0, 4, 0.3)},
			"p1": {hit(3, 20, 0.9), hit(0, 10, 0.2)},
			"p2": {},
		},
	}
	tests := []struct {
		name  string
		mode  Mode
		x     *Expansion
		want  []string
		score []float32
		cover []float32
		dense []float32
		asked []string
	}{
		{
			name: "lexical", mode: Lexical, x: x,
			// a: (2·4/4 + 10/20)/4 = 0.625, d: (20/20)/4 = 0.25
			want: []string{"a", "d"}, score: []float32{0.625, 0.25}, cover: []float32{0.3, 0.9},
			asked: []string{"lexical:q", "lexical:p1", "lexical:p2"},
		},
		{
			name: "dense", mode: Dense, x: x,
			// b: (2·0.7 + 0.9 + 0.9)/5 = 0.64, a: (2·0.8 + 0.1)/5 = 0.34, c: 0.95/5 = 0.19
			want: []string{"b", "a", "c"}, score: []float32{0.64, 0.34, 0.19}, cover: []float32{0, 0, 0},
			// The floor judges the best similarity to the query or a
			// phrasing; a chunk only the passage finds keeps its merged score.
			dense: []float32{0.9, 0.8, 0.19},
			asked: []string{"dense:q", "dense:p1", "dense:p2", "dense:hypo"},
		},
		{
			name: "no expansion: the query alone, its own scores", mode: Lexical,
			want: []string{"a"}, score: []float32{4}, cover: []float32{0.3}, asked: []string{"lexical:q"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := *st
			st.asked = nil
			rs, err := Search(context.Background(), &st, &st, "q", 5, Options{Mode: tt.mode, Expansion: tt.x})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, r := range rs {
				got = append(got, r.Path)
				if i < len(tt.score) && math.Abs(float64(r.Score-tt.score[i])) > 1e-6 {
					t.Errorf("%s scores %v, want %v", r.Path, r.Score, tt.score[i])
				}
				var c float32
				if r.Coverage != nil {
					c = *r.Coverage
				}
				if i < len(tt.cover) && c != tt.cover[i] {
					t.Errorf("%s covers %v, want %v", r.Path, c, tt.cover[i])
				}
				if i < len(tt.dense) && (r.Dense == nil || math.Abs(float64(*r.Dense-tt.dense[i])) > 1e-6) {
					t.Errorf("%s dense score %v, want %v", r.Path, r.Dense, tt.dense[i])
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Search = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(st.asked, tt.asked) {
				t.Errorf("searched %v, want %v", st.asked, tt.asked)
			}
		})
	}
}

func TestEvidenceQuery(t *testing.T) {
	t.Parallel()
	x := &Expansion{Phrasings: []string{"kettle boils water"}, Passage: "tea leaves"}
	rs := []Result{{Path: "k.md", Text: "The kettle heats."}, {Path: "t.md", Text: "Tea leaves."}}
	got := Evidence(EvidenceQuery("how to warm liquid", x), rs, Floor{})
	if len(got) != 1 || got[0].Path != "k.md" {
		t.Errorf("evidence %+v: a phrasing's words count, the passage's never", got)
	}
}

// vecOf embeds every text as v.
type vecOf []float32

func (v vecOf) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = v
	}
	return out, nil
}

// TestNoDenseSignal: a query embedding with no direction ranks nothing
// (the store is not asked: its similarities would be NaN); hybrid ranks
// by keywords and says so, dense fails with ErrNoDenseSignal.
func TestNoDenseSignal(t *testing.T) {
	t.Parallel()
	// A store whose dense hits score NaN, as chromem-go's cosine of a zero
	// query did.
	nan := float32(math.NaN())
	st := &fakeStore{dense: hits(nan, nan, nan), lexical: []store.Hit{hits(0, 0, 5)[2], hits(0, 2)[1]}}
	for name, v := range map[string]vecOf{
		"zero": {0, 0, 0}, "NaN": {1, nan, 0}, "infinity": {float32(math.Inf(1)), 0, 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var told []error
			rs, err := Search(context.Background(), st, v, "q", 3, Options{Mode: Hybrid, Fusion: Weighted, Degraded: func(err error) { told = append(told, err) }})
			if err != nil || len(told) != 1 || !errors.Is(told[0], ErrNoDenseSignal) {
				t.Fatalf("hybrid: %v, told %v", err, told)
			}
			var got []string
			for _, r := range rs {
				if math.IsNaN(float64(r.Score)) || r.Dense != nil {
					t.Errorf("%s scored %v (dense %v)", r.Path, r.Score, r.Dense)
				}
				got = append(got, r.Path)
			}
			if !reflect.DeepEqual(got, []string{"c", "b"}) {
				t.Errorf("hybrid = %v, want the keyword ranking c, b", got)
			}
			if _, err := Search(context.Background(), st, v, "q", 3, Options{Mode: Dense}); !errors.Is(err, ErrNoDenseSignal) {
				t.Errorf("dense: %v", err)
			}
		})
	}
}
