package retrieve

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/lexical"
	"github.com/rag-cli/rag/pkg/store"
)

// DefaultContext is how many chunks `rag ask` gives the model: enough to
// answer from several places, few enough that a small model reads them all.
const DefaultContext = 4

// Floor is the relevance below which a result is not evidence.
type Floor struct {
	// MinDense is the lowest cosine similarity a result found by the dense
	// ranking may have.
	MinDense float32
	// MinRerank is the lowest probability of relevance a re-ranked result
	// may have.
	MinRerank float32
	// MinCoverage is the share of the query's attainable BM25 (Coverage)
	// the best result must reach for any of them to be evidence; it applies
	// when the results were ranked by keywords too (lexical, hybrid). It is
	// English's: CoverageFloor scales it for the question's language.
	MinCoverage float32
}

// Evidence keeps the results that can support an answer. Every result must
// share a content word with the query (after stemming): dense similarity
// alone scores unrelated text well above zero for most models, and this is
// what lets rag say "the documents do not answer this" reliably. A result
// the re-ranker judged must pass its floor; one only the dense ranking found
// must pass the similarity floor (a keyword match is evidence of its own).
func Evidence(query string, results []Result, f Floor) []Result {
	if f.MinCoverage > 0 && !Covered(results, CoverageFloor(query, f.MinCoverage)) {
		return nil // the documents do not hold what the question is about
	}
	q, an := contentTerms(query)
	var out []Result
	for _, r := range results {
		switch {
		case r.Rerank != nil && *r.Rerank < f.MinRerank:
			continue
		case r.Rerank == nil && r.Lexical == nil && r.Dense != nil && *r.Dense < f.MinDense:
			continue
		}
		if sharesTerm(q, an, r.Heading+"\n"+r.Text) {
			out = append(out, r)
		}
	}
	return out
}

// Unanswerable reports whether Evidence would keep nothing for query
// whatever the dense ranking finds, from the keyword index alone: no chunk
// the view sees shares a word with the query (Evidence wants a shared
// content word in every mode), or, when keywords rank too (lexical,
// hybrid), the best keyword match covers less of the query than
// f.MinCoverage. It needs no embedder, so `rag ask` refuses such a question
// without contacting the model server. An expansion is not looked at: the
// caller checks the query alone, before expanding it.
func Unanswerable(ctx context.Context, st store.Store, view store.View, query string, mode Mode, f Floor) (bool, error) {
	hits, err := st.SearchText(ctx, view, query, 1)
	if err != nil {
		return false, err
	}
	switch {
	case len(hits) == 0:
		return true, nil
	case mode == Dense:
		return false, nil // no coverage floor: the similarity decides
	}
	return f.MinCoverage > 0 && hits[0].Coverage < CoverageFloor(query, f.MinCoverage), nil
}

// questionWords are words of how a question is asked, not what it is about.
// It is built on first use, not at start-up: most commands never need it.
var questionWords = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, t := range (lexical.Analyzer{}).Terms(`tell explain describe please give show much many name
		list happen happened find mean meaning`) {
		set[t] = true
	}
	return set
})

// contentTerms returns the terms of query, analysed as its language, but
// for the words of how a question is asked, and that analyser, which the
// texts compared with it are analysed by too.
func contentTerms(query string) (map[string]bool, lexical.Analyzer) {
	an := lexical.For(query)
	set := map[string]bool{}
	for _, t := range an.Terms(query) {
		if !questionWords()[t] {
			set[t] = true
		}
	}
	return set, an
}

func sharesTerm(q map[string]bool, an lexical.Analyzer, text string) bool {
	for _, t := range an.Terms(text) {
		if q[t] {
			return true
		}
	}
	return false
}

// Context picks the final context from ranked results: at most n chunks,
// best first, with near-duplicates removed: a chunk whose text another
// already holds (a copied file) is dropped, and chunks of the same file
// that overlap or touch are merged into one, since the chunker's overlap
// would otherwise show the model the same lines twice.
func Context(results []Result, n int) []Result {
	var out []Result
	// Where to look, so that each result is checked against the kept ones
	// it may merge with, not all of them (k=10,000 took 15 s): the kept
	// results by their text and by their file, in order.
	byText := map[string][]int{}
	type file struct {
		root, path string
		page       int
	}
	byFile := map[file][]int{}
	for _, r := range results {
		f := file{r.Root, r.Path, r.Page}
		i, dup := first(byText[strings.TrimSpace(r.Text)], byFile[f], out, r)
		if i >= 0 {
			if !dup {
				k := &out[i]
				old := strings.TrimSpace(k.Text)
				merge(k, r)
				if t := strings.TrimSpace(k.Text); t != old {
					byText[old] = slices.DeleteFunc(byText[old], func(j int) bool { return j == i })
					byText[t] = insertSorted(byText[t], i)
				}
			}
			continue
		}
		if len(out) == n {
			continue // later results may still merge into the kept ones
		}
		out = append(out, r)
		t := strings.TrimSpace(r.Text)
		byText[t] = append(byText[t], len(out)-1)
		byFile[f] = append(byFile[f], len(out)-1)
	}
	return out
}

// first is the first kept result r merges into, as a walk of kept in
// order would find it: one of the same text (dup: r is dropped), or the
// first of its file it overlaps or touches. -1 when there is none.
func first(sameText, sameFile []int, kept []Result, r Result) (i int, dup bool) {
	i = -1
	if len(sameText) > 0 {
		i, dup = sameText[0], true
	}
	for _, j := range sameFile {
		if i >= 0 && j >= i {
			break
		}
		k := kept[j]
		if r.StartLine > k.EndLine+1 || k.StartLine > r.EndLine+1 {
			continue
		}
		return j, false
	}
	return i, dup
}

// insertSorted adds i to the sorted list is.
func insertSorted(is []int, i int) []int {
	at, _ := slices.BinarySearch(is, i)
	return slices.Insert(is, at, i)
}

// merge merges r into k, a kept result of the same file that it overlaps
// or touches.
func merge(k *Result, r Result) {
	first, second := *k, r
	if r.StartLine < k.StartLine {
		first, second = r, *k
	}
	if r.StartLine >= k.StartLine && r.EndLine <= k.EndLine && strings.Contains(k.Text, strings.TrimSpace(r.Text)) {
		return // inside the kept chunk
	}
	k.Text = joinOverlap(first, second)
	k.StartLine = min(k.StartLine, r.StartLine)
	k.EndLine = max(k.EndLine, r.EndLine)
	k.Heading = chunk.CommonHeading(k.Heading, r.Heading)
}

// joinOverlap joins the texts of two results of which the second
// continues the first, writing the lines they share (chunk.SharedLines)
// once.
func joinOverlap(a, b Result) string {
	al := strings.Split(strings.TrimRight(a.Text, "\n"), "\n")
	bl := strings.Split(strings.TrimRight(b.Text, "\n"), "\n")
	return strings.Join(append(al, bl[chunk.SharedLines(al, a.EndLine, bl, b.StartLine):]...), "\n")
}

// Covered reports whether the results can speak to the query at all: the
// best keyword coverage among them reaches min. Results with no lexical
// part (a dense-only search) are taken as covered: their floor is the
// similarity's.
func Covered(results []Result, min float32) bool {
	var best float32
	lexical := false
	for _, r := range results {
		if r.Lexical != nil {
			lexical = true
		}
		if r.Coverage != nil {
			best = max(best, *r.Coverage)
		}
	}
	return !lexical || best >= min
}
