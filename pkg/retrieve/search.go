package retrieve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rag-cli/rag/pkg/store"
)

// Embedder turns texts into vectors.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Reranker judges how relevant each result is to the query, as a
// probability in [0, 1], one per result in order.
type Reranker interface {
	Rerank(ctx context.Context, query string, results []Result) ([]float32, error)
}

// Mode is how candidates are found.
type Mode string

// The modes of `--mode`.
const (
	Dense   Mode = "dense"
	Lexical Mode = "lexical"
	Hybrid  Mode = "hybrid"
)

// Modes lists the modes in the order tables show them.
var Modes = []Mode{Dense, Lexical, Hybrid}

// ParseMode checks a --mode value.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown mode %q (want dense, lexical or hybrid)", s)
}

// Fusion is how hybrid mode merges the dense and lexical rankings.
type Fusion string

const (
	// RRF is reciprocal rank fusion: the sum of 1/(60+rank) over the two
	// rankings. It ignores score scales, so a weak ranking pulls a strong
	// one down as much as it helps (SQuAD subset: 0.816 nDCG@10 against
	// 0.903 weighted).
	RRF Fusion = "rrf"
	// Weighted adds the two rankings' scores, each normalised to [0, 1],
	// with equal weight.
	Weighted Fusion = "weighted"
)

// rrfK is the constant of reciprocal rank fusion (Cormack et al. 2009).
const rrfK = 60

// DefaultCandidates is how many results the re-ranker judges.
const DefaultCandidates = 30

// FusionDepth is how deep hybrid mode reads each ranking. At 30 weighted
// fusion scored 0.9006 nDCG@10 on the SQuAD subset, at 100 0.9033.
const FusionDepth = 100

// Options say how Search works.
type Options struct {
	// View is whose share of the index is searched (tenant and the
	// principals of who asks): every ranking, the fusion and the
	// re-ranker see only its chunks.
	View   store.View
	Mode   Mode
	Fusion Fusion
	// DenseWeight is the dense share of a weighted fusion, above 0 and at
	// most 1 (0: DefaultDenseWeight).
	DenseWeight float32
	// Candidates is how many of the best results the re-ranker judges; at
	// least k.
	Candidates int
	// Rerank, if set, re-orders the best Candidates results.
	Rerank Reranker
	// Expansion, if set, adds other ways of asking the query to the
	// rankings (query expansion, from rewrite.Expand).
	Expansion *Expansion
	// Degraded, if set, is told of a channel that could not rank when
	// the search went on without it: ErrNoDenseSignal in hybrid mode,
	// which then ranks by keywords alone.
	Degraded func(error)
}

// ErrNoDenseSignal is a query whose embedding has no direction (every
// number zero, or one NaN or infinite: a broken embedding model): it ranks
// nothing by similarity. Dense mode fails with it; hybrid mode ranks by
// keywords alone and tells Options.Degraded.
var ErrNoDenseSignal = errors.New("the embedding model gave the query a vector with no direction (all zeros, NaN or infinity): it has no dense signal")

// Expansion is more ways to ask a query, written by a chat model: its
// phrasings search both channels, the passage (a guess at how an answer
// would read) the dense one only. Each ranks on its own; the original query
// counts twice as much as any of them.
type Expansion struct {
	Phrasings []string `json:"phrasings"`
	Passage   string   `json:"passage,omitempty"`
}

// EvidenceQuery is what results are judged against as evidence (Evidence):
// the query, and with an expansion its phrasings too, never the passage.
func EvidenceQuery(query string, x *Expansion) string {
	return strings.Join(lexicalQueries(query, x), "\n")
}

// OriginalWeight is the weight of the query a user asked, against 1 for
// each text of its expansion.
const OriginalWeight = 2

// Search returns the k best chunks for query, best first. Lexical mode does
// not call emb, so it works without Ollama; emb may then be nil.
func Search(ctx context.Context, st store.Store, emb Embedder, query string, k int, opt Options) ([]Result, error) {
	if k <= 0 {
		return nil, nil
	}
	n := k
	if opt.Rerank != nil {
		n = max(k, cmp.Or(opt.Candidates, DefaultCandidates))
	}
	pool := n
	if opt.Mode == Hybrid {
		// Fusion sees a deeper pool than it returns: a chunk missing from
		// one ranking counts as scoring nothing there, which is only close
		// to the truth below that ranking's depth.
		pool = max(n, FusionDepth)
	}
	var dense, lexical []store.Hit
	var best map[int]float32
	var err error
	if opt.Mode == Dense || opt.Mode == Hybrid {
		dense, best, err = searchDense(ctx, st, opt.View, emb, denseQueries(query, opt.Expansion), pool)
		switch {
		case errors.Is(err, ErrNoDenseSignal) && opt.Mode == Hybrid:
			if opt.Degraded != nil {
				opt.Degraded(err)
			}
		case err != nil:
			return nil, err
		}
	}
	if opt.Mode == Lexical || opt.Mode == Hybrid {
		if lexical, err = searchLexical(ctx, st, opt.View, lexicalQueries(query, opt.Expansion), pool); err != nil {
			return nil, err
		}
	}
	var results []Result
	switch opt.Mode {
	case Dense:
		results = fromHits(dense, bestDense(best))
	case Lexical:
		results = fromHits(lexical, setLexical)
	case Hybrid:
		results = fuse(dense, lexical, opt.Fusion, opt.DenseWeight, best)
	default:
		return nil, fmt.Errorf("unknown mode %q", opt.Mode)
	}
	if len(results) > n {
		results = results[:n]
	}
	if opt.Rerank != nil && len(results) > 0 {
		if results, err = rerank(ctx, opt.Rerank, query, results); err != nil {
			return nil, err
		}
	}
	if len(results) > k {
		results = results[:k]
	}
	return results, nil
}

// denseQueries are the texts the dense channel embeds: the query, then
// its phrasings and passage.
func denseQueries(query string, x *Expansion) []string {
	qs := lexicalQueries(query, x)
	if x != nil && strings.TrimSpace(x.Passage) != "" {
		qs = append(qs, x.Passage)
	}
	return qs
}

// lexicalQueries are the query and its phrasings.
func lexicalQueries(query string, x *Expansion) []string {
	qs := []string{query}
	if x != nil {
		for _, p := range x.Phrasings {
			if strings.TrimSpace(p) != "" {
				qs = append(qs, p)
			}
		}
	}
	return qs
}

// searchDense ranks by the first of queries, or by all of them merged
// (mergeRankings) when there are more: one embedding call for all. With
// more, best holds each chunk's highest similarity to the query or a
// phrasing, which the similarity floor judges.
func searchDense(ctx context.Context, st store.Store, view store.View, emb Embedder, queries []string, k int) (hits []store.Hit, best map[int]float32, err error) {
	if emb == nil {
		return nil, nil, errors.New("dense search needs an embedding model")
	}
	vecs, err := emb.Embed(ctx, queries)
	if err != nil {
		return nil, nil, err
	}
	if len(vecs) != len(queries) {
		return nil, nil, fmt.Errorf("embedder returned %d vectors for %d queries", len(vecs), len(queries))
	}
	lists := make([][]store.Hit, len(queries))
	signal := false
	for i, v := range vecs {
		if !store.HasDirection(v) {
			continue // it ranks nothing; the other texts still may
		}
		signal = true
		if lists[i], err = st.Search(ctx, view, v, k); err != nil {
			return nil, nil, err
		}
	}
	if !signal {
		return nil, nil, ErrNoDenseSignal
	}
	if len(lists) > 1 {
		best = map[int]float32{}
		for _, hits := range lists[:len(lists)-1] { // the passage is a guess, not a question
			for _, h := range hits {
				if b, ok := best[h.ID]; !ok || h.Score > b {
					best[h.ID] = h.Score
				}
			}
		}
	}
	return mergeRankings(lists, k, false), best, nil
}

// searchLexical is searchDense's counterpart for BM25.
func searchLexical(ctx context.Context, st store.Store, view store.View, queries []string, k int) ([]store.Hit, error) {
	lists := make([][]store.Hit, len(queries))
	for i, q := range queries {
		var err error
		if lists[i], err = st.SearchText(ctx, view, q, k); err != nil {
			return nil, err
		}
	}
	return mergeRankings(lists, k, true), nil
}

// mergeRankings merges the rankings of a query (first) and of its
// expansion into one: a chunk scores the weighted mean of its scores in
// each, 0 where it is missing, the query weighing OriginalWeight and each
// other text 1. Cosine similarities are comparable across queries and are
// averaged as they are; BM25 is not (it grows with the query's length and
// rare words), so with normalize each ranking is divided by its best score
// first. A chunk's coverage is the best any of the texts gives it: a
// phrasing in the documents' own words is how expansion finds what the
// user's words miss, and the phrasings of a question the documents do not
// hold hit as little as the question (the passage, a model's guess at an
// answer, searches the dense channel only, which has no coverage).
func mergeRankings(lists [][]store.Hit, k int, normalize bool) []store.Hit {
	if len(lists) == 1 {
		return lists[0]
	}
	total := float32(OriginalWeight + len(lists) - 1)
	byID := map[int]*store.Hit{}
	var order []int
	for i, hits := range lists {
		w := float32(1)
		if i == 0 {
			w = OriginalWeight
		}
		top := float32(1)
		if normalize && len(hits) > 0 && hits[0].Score > 0 {
			top = hits[0].Score
		}
		for _, h := range hits {
			m, ok := byID[h.ID]
			if !ok {
				c := h
				c.Score, c.Coverage = 0, 0
				m = &c
				byID[h.ID] = m
				order = append(order, h.ID)
			}
			m.Coverage = max(m.Coverage, h.Coverage)
			m.Score += w * h.Score / top / total
		}
	}
	out := make([]store.Hit, len(order))
	for i, id := range order {
		out[i] = *byID[id]
	}
	slices.SortStableFunc(out, func(a, b store.Hit) int { return cmp.Compare(b.Score, a.Score) })
	if len(out) > k {
		out = out[:k]
	}
	return out
}

func fromHit(h store.Hit) Result {
	return Result{
		Root: h.File.Root, Path: h.File.Path, StartLine: h.StartLine, EndLine: h.EndLine,
		Page: h.Page, Heading: h.Heading, Score: h.Score, Text: h.Text,
	}
}

func fromHits(hits []store.Hit, part func(*Result, store.Hit)) []Result {
	out := make([]Result, len(hits))
	for i, h := range hits {
		out[i] = fromHit(h)
		part(&out[i], h)
		setCoverage(&out[i], h)
	}
	return out
}

// setCoverage records a lexical hit's coverage of the query.
func setCoverage(r *Result, h store.Hit) {
	if h.Coverage > 0 {
		c := h.Coverage
		r.Coverage = &c
		r.Known = h.Known
	}
}

// Fuse merges a dense and a lexical ranking into one, best first.
func Fuse(dense, lexical []store.Hit, f Fusion) []Result {
	return FuseWeighted(dense, lexical, f, DefaultDenseWeight)
}

// FuseWeighted is Fuse with w the dense share of a weighted fusion (0:
// DefaultDenseWeight).
func FuseWeighted(dense, lexical []store.Hit, f Fusion, w float32) []Result {
	return fuse(dense, lexical, f, w, nil)
}

// bestDense records a dense hit's score, or its entry in best when there
// is one: the similarity an expanded search's floor judges (searchDense).
func bestDense(best map[int]float32) func(*Result, store.Hit) {
	return func(r *Result, h store.Hit) {
		s, ok := best[h.ID]
		if !ok {
			s = h.Score
		}
		r.Dense = &s
	}
}

func fuse(dense, lexical []store.Hit, f Fusion, w float32, best map[int]float32) []Result {
	if w <= 0 {
		w = DefaultDenseWeight
	}
	byID := map[int]*Result{}
	var order []int
	add := func(hits []store.Hit, part func(*Result, store.Hit), score func(rank int, s float32) float32) {
		for rank, h := range hits {
			r, ok := byID[h.ID]
			if !ok {
				res := fromHit(h)
				res.Score = 0
				r = &res
				byID[h.ID] = r
				order = append(order, h.ID)
			}
			part(r, h)
			setCoverage(r, h)
			r.Score += score(rank, h.Score)
		}
	}
	if f == Weighted {
		// Theoretical min-max (Bruch et al. 2023, "An Analysis of Fusion
		// Functions for Hybrid Retrieval"): cosine is already on [0, 1] for
		// the candidates that matter, BM25 has a floor of 0 and is divided
		// by the best score. Unlike min-max over the candidates, this does
		// not stretch the small differences of a flat ranking into large ones.
		top := float32(0)
		for _, h := range lexical {
			top = max(top, h.Score)
		}
		add(dense, bestDense(best), func(_ int, s float32) float32 { return w * max(s, 0) })
		add(lexical, setLexical, func(_ int, s float32) float32 { return (1 - w) * s / top })
	} else {
		rrf := func(rank int, _ float32) float32 { return 1 / float32(rrfK+rank+1) }
		add(dense, bestDense(best), rrf)
		add(lexical, setLexical, rrf)
	}
	out := make([]Result, len(order))
	for i, id := range order {
		out[i] = *byID[id]
	}
	// Stable: ties keep dense-then-lexical order.
	slices.SortStableFunc(out, func(a, b Result) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

// DefaultDenseWeight is the dense share of a weighted fusion. On the SQuAD
// subset with the hashed bag-of-words test embedder 0.5 scored best (0.3
// and 0.7 less), so the two rankings count equally; `rag eval --tune` finds
// the best for one's own questions and model.
const DefaultDenseWeight = 0.5

func setLexical(r *Result, h store.Hit) {
	s := h.Score
	r.Lexical = &s
}

// rerank orders results by the re-ranker's judgement; equal judgements keep
// the first stage's order.
func rerank(ctx context.Context, rr Reranker, query string, results []Result) ([]Result, error) {
	scores, err := rr.Rerank(ctx, query, results)
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	if len(scores) != len(results) {
		return nil, fmt.Errorf("rerank: %d judgements for %d results", len(scores), len(results))
	}
	out := slices.Clone(results)
	for i := range out {
		s := scores[i]
		out[i].Rerank = &s
		out[i].Score = s
	}
	slices.SortStableFunc(out, func(a, b Result) int { return cmp.Compare(b.Score, a.Score) })
	return out, nil
}
