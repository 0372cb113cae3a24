package retrieve

import (
	"cmp"
	"math"
	"slices"

	"github.com/rag-cli/rag/pkg/lexical"
	"github.com/rag-cli/rag/pkg/store"
)

// JudgeDepth is how many of the best keyword matches the abstention model
// reads.
const JudgeDepth = 10

// coverageScale is, per language of the question, its coverage floor as a
// share of English's (Floor.MinCoverage): fitted by bench/abstainfit
// (cross-validated by article over the SQuAD 2.0 subset and XQuAD) so that
// each language refuses at most 3.5% of its answerable questions, as
// English does at 0.23. Inflections, compounds and the phrasing of
// questions leave more of a question's words unmatched in these languages,
// so a question the documents answer covers less of its attainable BM25.
// A language not listed was not measured and keeps English's floor.
var coverageScale = map[lexical.Lang]float32{
	lexical.German: 0.64, lexical.Spanish: 0.97, lexical.Russian: 0.74,
	lexical.Chinese: 0.54, lexical.Arabic: 0.68,
}

// CoverageFloor is the coverage floor for query, min (English's) scaled
// for the query's language.
func CoverageFloor(query string, min float32) float32 {
	if s, ok := coverageScale[lexical.For(query).Lang]; ok {
		return min * s
	}
	return min
}

// Signals is the passage-level evidence that the documents hold what a
// question asks about, read from its best keyword matches. bench/abstainfit
// fits a logistic model of them; on the SQuAD subset and XQuAD it refused
// no more off-corpus questions at the same wrong refusals than Coverage
// alone with a floor per language (CoverageFloor), which rag uses.
type Signals struct {
	// Coverage is the best match's share of the question's attainable BM25
	// (store.Hit.Coverage): low when no passage holds its rarest words.
	Coverage float64
	// KnownCoverage is Coverage of the part of the attainable BM25 the
	// question's words some chunk holds carry (Coverage when the store
	// does not say), and Unknown the rest's share: inflections and
	// compounds a question has and no passage has then weigh less.
	KnownCoverage, Unknown float64
	// Margin is the best match's coverage less the second's, over the
	// best's: one passage that stands out, rather than several that each
	// hold a few common words.
	Margin float64
	// Best is the share of the question's content terms the best match
	// holds; Most, the most any of the matches read holds.
	Best, Most float64
	// Known is the share of the question's content terms that any of the
	// matches holds: a word no match has (a compound, an inflection, a
	// name the documents lack) then weighs less on Best and Most.
	Known float64
	// Near is how close together the passage holding the most terms holds
	// them: the number of distinct terms over the span of the shortest run
	// of its words holding them all (1: side by side).
	Near float64
	// Terms is log(1 + the number of the question's content terms).
	Terms float64
}

// Vector is s as a model reads it: 1 (an intercept's) then Coverage,
// KnownCoverage, Unknown, Margin, Best, Most, Known, Most/Known, Near and
// Terms, for bench/abstainfit.
func (s Signals) Vector() []float64 {
	known := 0.0
	if s.Known > 0 {
		known = s.Most / s.Known
	}
	return []float64{1, s.Coverage, s.KnownCoverage, s.Unknown, s.Margin, s.Best, s.Most, s.Known, known, s.Near, s.Terms}
}

// JudgeHits is Judge of a keyword search's hits (SearchText), best first.
func JudgeHits(query string, hits []store.Hit) (Signals, bool) {
	return Judge(query, fromHits(hits, setLexical))
}

// Judge reads the signals of query from results: those ranked by keywords
// (Lexical set), best first by their keyword score, at most JudgeDepth.
// ok is false when no result was ranked by keywords.
func Judge(query string, results []Result) (s Signals, ok bool) {
	var lex []Result
	for _, r := range results {
		if r.Lexical != nil {
			lex = append(lex, r)
		}
	}
	if len(lex) == 0 {
		return s, false
	}
	slices.SortStableFunc(lex, func(a, b Result) int { return cmp.Compare(*b.Lexical, *a.Lexical) })
	lex = lex[:min(len(lex), JudgeDepth)]
	cov := func(r Result) float64 {
		if r.Coverage == nil {
			return 0
		}
		return float64(*r.Coverage)
	}
	s.Coverage = cov(lex[0])
	s.KnownCoverage = s.Coverage
	if k := float64(lex[0].Known); k > 0 {
		s.KnownCoverage, s.Unknown = min(s.Coverage/k, 1), 1-k
	}
	if len(lex) > 1 && s.Coverage > 0 {
		s.Margin = (s.Coverage - cov(lex[1])) / s.Coverage
	} else if len(lex) == 1 {
		s.Margin = 1
	}
	q, an := contentTerms(query)
	if len(q) == 0 {
		return s, true
	}
	s.Terms = math.Log1p(float64(len(q)))
	known := map[string]bool{}
	mostAt := -1
	for i, r := range lex {
		terms := an.Terms(r.Heading + "\n" + r.Text)
		held := map[string]bool{}
		for _, t := range terms {
			if q[t] {
				held[t], known[t] = true, true
			}
		}
		share := float64(len(held)) / float64(len(q))
		if i == 0 {
			s.Best = share
		}
		if share > s.Most || mostAt < 0 {
			s.Most, mostAt = share, i
			s.Near = nearness(terms, held)
		}
	}
	s.Known = float64(len(known)) / float64(len(q))
	return s, true
}

// nearness is the number of distinct terms of held over the length of the
// shortest run of terms holding every one of them (0 when held is empty).
func nearness(terms []string, held map[string]bool) float64 {
	if len(held) == 0 {
		return 0
	}
	count := map[string]int{}
	have, best, lo := 0, len(terms)+1, 0
	for hi, t := range terms {
		if !held[t] {
			continue
		}
		if count[t]++; count[t] == 1 {
			have++
		}
		for have == len(held) {
			if l := terms[lo]; held[l] {
				best = min(best, hi-lo+1)
				if count[l]--; count[l] == 0 {
					have--
				}
			}
			lo++
		}
	}
	return float64(len(held)) / float64(best)
}
