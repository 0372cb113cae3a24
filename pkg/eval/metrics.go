package eval

import (
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/rag-cli/rag/pkg/retrieve"
)

// Found says, for each rank of results, which relevant target it finds
// first (-1 for none): a target counts once, at the first result that
// matches it, so that two chunks of one document are not two hits.
func Found(q Query, results []retrieve.Result) []int {
	seen := make([]bool, len(q.Relevant))
	out := make([]int, len(results))
	for i, r := range results {
		out[i] = -1
		for j, t := range q.Relevant {
			if !seen[j] && matches(t, r) {
				seen[j] = true
				out[i] = j
				break
			}
		}
	}
	return out
}

// matches reports whether r is (in) the target: the same file, named by
// its path relative to the indexed folder or by a longer path ending in
// it, and, when the target has lines, overlapping them.
func matches(t Target, r retrieve.Result) bool {
	if r.Path != t.Path && !strings.HasSuffix(path.Join(r.Root, r.Path), "/"+t.Path) {
		return false
	}
	if t.StartLine == 0 {
		return true
	}
	return r.StartLine <= t.EndLine && t.StartLine <= r.EndLine
}

// Unique drops results that repeat a file already ranked when targets are
// whole files, so a cut-off of 10 means 10 documents.
func Unique(q Query, results []retrieve.Result) []retrieve.Result {
	for _, t := range q.Relevant {
		if t.StartLine != 0 {
			return results
		}
	}
	seen := map[string]bool{}
	var out []retrieve.Result
	for _, r := range results {
		key := r.Root + "\x00" + r.Path
		if !seen[key] {
			seen[key] = true
			out = append(out, r)
		}
	}
	return out
}

// Scores are the retrieval metrics of one question.
type Scores struct {
	NDCG10   float64
	Recall1  float64
	Recall5  float64
	Recall10 float64
	MRR10    float64
}

// Score computes the metrics of one question from Found's output, with
// binary relevance.
func Score(found []int, relevant int) Scores {
	if relevant == 0 {
		return Scores{}
	}
	var s Scores
	var dcg, idcg float64
	hits := 0
	for i, f := range found {
		if i >= 10 {
			break
		}
		if f < 0 {
			continue
		}
		hits++
		dcg += 1 / math.Log2(float64(i)+2)
		if s.MRR10 == 0 {
			s.MRR10 = 1 / float64(i+1)
		}
		if i < 1 {
			s.Recall1++
		}
		if i < 5 {
			s.Recall5++
		}
		s.Recall10++
	}
	for i := range min(relevant, 10) {
		idcg += 1 / math.Log2(float64(i)+2)
	}
	s.NDCG10 = dcg / idcg
	r := float64(relevant)
	s.Recall1, s.Recall5, s.Recall10 = s.Recall1/r, s.Recall5/r, s.Recall10/r
	return s
}

// Retrieval is the mean of the metrics over the questions of one mode.
type Retrieval struct {
	Mode      string  `json:"mode"`
	Questions int     `json:"questions"`
	NDCG10    float64 `json:"ndcg@10"`
	Recall1   float64 `json:"recall@1"`
	Recall5   float64 `json:"recall@5"`
	Recall10  float64 `json:"recall@10"`
	MRR10     float64 `json:"mrr@10"`
	// LatencyP50 and LatencyP95 are per query, in milliseconds: expanding
	// and embedding the query, searching and re-ranking.
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP95 float64 `json:"latency_p95_ms"`
	// RerankCalls is the mean number of model judgements per query.
	RerankCalls float64 `json:"rerank_calls_per_query,omitempty"`
	// ExpandCalls is the mean number of query expansions per query.
	ExpandCalls float64 `json:"expand_calls_per_query,omitempty"`
	// ExpandUnusable is the share of expansions whose reply could not be
	// used (the query was searched alone).
	ExpandUnusable float64 `json:"expand_unusable,omitempty"`
	// Abstention is how the relevance floor decided, before any model
	// would be asked: set when the questions include unanswerable ones.
	Abstention *Abstention `json:"abstention,omitempty"`
}

// Abstention counts the questions the relevance floor refuses from the
// retrieved chunks alone, before a chat model is called: rightly (the
// documents do not hold the answer) and wrongly (they do).
type Abstention struct {
	Unanswerable int `json:"unanswerable"`
	// Refused is the share of unanswerable questions refused.
	Refused    float64 `json:"refused"`
	Answerable int     `json:"answerable"`
	// WrongRefusals is the share of answerable questions refused.
	WrongRefusals float64 `json:"wrong_refusals"`
}

// add accumulates one question.
func (r *Retrieval) add(s Scores) {
	r.Questions++
	r.NDCG10 += s.NDCG10
	r.Recall1 += s.Recall1
	r.Recall5 += s.Recall5
	r.Recall10 += s.Recall10
	r.MRR10 += s.MRR10
}

// finish turns sums into means and sets the latency percentiles.
func (r *Retrieval) finish(lat []time.Duration, rerankCalls, expandCalls int64) {
	if r.Questions > 0 {
		n := float64(r.Questions)
		r.NDCG10 /= n
		r.Recall1 /= n
		r.Recall5 /= n
		r.Recall10 /= n
		r.MRR10 /= n
		r.RerankCalls = float64(rerankCalls) / n
		r.ExpandCalls = float64(expandCalls) / n
	}
	r.LatencyP50 = percentile(lat, 0.50)
	r.LatencyP95 = percentile(lat, 0.95)
}

// percentile is the nearest-rank percentile, in milliseconds.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return float64(s[max(i, 0)].Microseconds()) / 1000
}

// SQuAD's answer normalisation: lower case, no punctuation, no articles,
// single spaces (the official evaluation script's normalize_answer).
var articles = regexp.MustCompile(`\b(a|an|the)\b`)

func normalize(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsPunct(r) || unicode.IsSymbol(r) {
			return -1
		}
		return r
	}, s)
	s = articles.ReplaceAllString(s, " ")
	return strings.Join(strings.Fields(s), " ")
}

// ExactMatch is 1 when the prediction equals a gold answer after
// normalisation.
func ExactMatch(pred string, gold []string) float64 {
	p := normalize(pred)
	for _, g := range gold {
		if normalize(g) == p {
			return 1
		}
	}
	return 0
}

// F1 is the best token-overlap F1 of the prediction against the gold
// answers.
func F1(pred string, gold []string) float64 {
	best := 0.0
	pt := strings.Fields(normalize(pred))
	for _, g := range gold {
		gt := strings.Fields(normalize(g))
		best = max(best, tokenF1(pt, gt))
	}
	return best
}

func tokenF1(pred, gold []string) float64 {
	if len(pred) == 0 || len(gold) == 0 {
		if len(pred) == len(gold) {
			return 1
		}
		return 0
	}
	count := map[string]int{}
	for _, t := range gold {
		count[t]++
	}
	common := 0
	for _, t := range pred {
		if count[t] > 0 {
			count[t]--
			common++
		}
	}
	if common == 0 {
		return 0
	}
	p := float64(common) / float64(len(pred))
	r := float64(common) / float64(len(gold))
	return 2 * p * r / (p + r)
}

var citationRE = regexp.MustCompile(`\s*\[\d+\]`)

// StripCitations removes [n] markers, so that an answer is scored on its
// words.
func StripCitations(s string) string {
	return strings.TrimSpace(citationRE.ReplaceAllString(s, ""))
}
