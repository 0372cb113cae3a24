package eval

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// Sample returns n questions chosen at random with a fixed seed, in their
// original order, so that a sampled run is the same run every time; all of
// them when n is 0 or more than there are.
func Sample(qs []Query, n int, seed uint64) []Query {
	if n <= 0 || n >= len(qs) {
		return qs
	}
	idx := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Perm(len(qs))[:n]
	slices.Sort(idx)
	out := make([]Query, n)
	for i, j := range idx {
		out[i] = qs[j]
	}
	return out
}

// Mode is one retrieval configuration to measure.
type Mode struct {
	Name string
	// Search returns the ranked chunks for a question.
	Search func(ctx context.Context, query string) ([]retrieve.Result, error)
	// Calls, if set, counts the re-ranker's judgements so far.
	Calls func() int64
	// ExpandCalls, if set, counts the query expansions so far, and
	// ExpandUnusable those whose reply could not be used.
	ExpandCalls, ExpandUnusable func() int64
	// Refuses, if set, says whether rag would refuse the question from its
	// results, before any chat: the relevance floor.
	Refuses func(query string, results []retrieve.Result) bool
}

// Progress reports how many of total steps are done.
type Progress func(done, total int)

// RunRetrieval scores every mode on the questions that name relevant
// places; modes run one after another so their latencies do not mix.
func RunRetrieval(ctx context.Context, qs []Query, modes []Mode, now func() time.Time, progress Progress) ([]Retrieval, error) {
	var judged, unanswerable []Query
	for _, q := range qs {
		if len(q.Relevant) > 0 {
			judged = append(judged, q)
		}
		if q.Unanswerable {
			unanswerable = append(unanswerable, q)
		}
	}
	out := make([]Retrieval, len(modes))
	total := len(judged) * len(modes)
	if len(unanswerable) > 0 {
		total += len(unanswerable) * len(modes)
	}
	for mi, m := range modes {
		r := Retrieval{Mode: m.Name}
		lat := make([]time.Duration, 0, len(judged))
		count := func(f func() int64) int64 {
			if f == nil {
				return 0
			}
			return f()
		}
		calls0, expands0, unusable0 := count(m.Calls), count(m.ExpandCalls), count(m.ExpandUnusable)
		for qi, q := range judged {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			start := now()
			results, err := m.Search(ctx, q.Text)
			if err != nil {
				return nil, err
			}
			lat = append(lat, now().Sub(start))
			if len(unanswerable) > 0 && m.Refuses != nil {
				if r.Abstention == nil {
					r.Abstention = &Abstention{}
				}
				r.Abstention.Answerable++
				if m.Refuses(q.Text, results) {
					r.Abstention.WrongRefusals++
				}
			}
			results = Unique(q, results)
			r.add(Score(Found(q, results), len(q.Relevant)))
			if progress != nil {
				progress(mi*len(judged)+qi+1, total)
			}
		}
		// Model calls are per judged question, as the latencies are.
		calls, expands := count(m.Calls)-calls0, count(m.ExpandCalls)-expands0
		if expands > 0 {
			r.ExpandUnusable = float64(count(m.ExpandUnusable)-unusable0) / float64(expands)
		}
		// Unanswerable questions count toward the floor's figures alone.
		for qi, q := range unanswerable {
			if m.Refuses == nil {
				break
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			results, err := m.Search(ctx, q.Text)
			if err != nil {
				return nil, err
			}
			if r.Abstention == nil {
				r.Abstention = &Abstention{}
			}
			r.Abstention.Unanswerable++
			if m.Refuses(q.Text, results) {
				r.Abstention.Refused++
			}
			if progress != nil {
				progress(len(modes)*len(judged)+mi*len(unanswerable)+qi+1, total)
			}
		}
		if a := r.Abstention; a != nil {
			if a.Answerable > 0 {
				a.WrongRefusals /= float64(a.Answerable)
			}
			if a.Unanswerable > 0 {
				a.Refused /= float64(a.Unanswerable)
			}
		}
		r.finish(lat, calls, expands)
		out[mi] = r
	}
	return out, nil
}

// AnswerScores are answer metrics over a set of questions.
type AnswerScores struct {
	// ExactMatch and F1 are SQuAD's, over the answerable questions; a
	// refusal scores 0.
	ExactMatch float64 `json:"exact_match"`
	F1         float64 `json:"f1"`
	// NoAnsAccuracy is the share of unanswerable questions refused.
	NoAnsAccuracy float64 `json:"noans_accuracy"`
	// WrongRefusals is the share of answerable questions refused.
	WrongRefusals float64 `json:"wrong_refusals"`
}

// Answers are the answer metrics of a chat model with retrieval, and
// without it (closed book) for comparison.
type Answers struct {
	Mode         string `json:"mode"`
	Model        string `json:"model"`
	Answerable   int    `json:"answerable"`
	Unanswerable int    `json:"unanswerable"`
	AnswerScores
	// CitationValidity is the share of given answers that cite at least
	// one source and only numbers of sources they were given.
	CitationValidity float64 `json:"citation_validity"`
	// Uncited is the share of given answers that cite no source at all.
	Uncited    float64      `json:"uncited"`
	ClosedBook AnswerScores `json:"closed_book"`
	LatencyP50 float64      `json:"latency_p50_ms"`
	LatencyP95 float64      `json:"latency_p95_ms"`
}

// Asker answers questions the way `rag ask` does, and closed book.
type Asker interface {
	Ask(ctx context.Context, question string) (*answer.Result, error)
	ClosedBook(ctx context.Context, question string) (*answer.Result, error)
}

// RunAnswers asks every question that has gold answers or is marked
// unanswerable, with retrieval and closed book.
func RunAnswers(ctx context.Context, qs []Query, asker Asker, now func() time.Time, progress Progress) (*Answers, error) {
	var asked []Query
	for _, q := range qs {
		if len(q.Answers) > 0 || q.Unanswerable {
			asked = append(asked, q)
		}
	}
	out := &Answers{}
	var lat []time.Duration
	given, cited, uncited := 0, 0, 0
	var open, closed sums
	for i, q := range asked {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start := now()
		res, err := asker.Ask(ctx, q.Text)
		if err != nil {
			return nil, err
		}
		lat = append(lat, now().Sub(start))
		open.add(q, res)
		if !res.Abstained {
			given++
			valid := len(res.InvalidCitations) == 0
			anyCited := false
			for _, s := range res.Sources {
				anyCited = anyCited || s.Cited
			}
			if valid && anyCited {
				cited++
			}
			if res.Uncited {
				uncited++
			}
		}
		cb, err := asker.ClosedBook(ctx, q.Text)
		if err != nil {
			return nil, err
		}
		closed.add(q, cb)
		if progress != nil {
			progress(i+1, len(asked))
		}
	}
	out.Answerable, out.Unanswerable = open.answerable, open.unanswerable
	out.AnswerScores = open.scores()
	out.ClosedBook = closed.scores()
	if given > 0 {
		out.CitationValidity = float64(cited) / float64(given)
		out.Uncited = float64(uncited) / float64(given)
	}
	out.LatencyP50 = percentile(lat, 0.5)
	out.LatencyP95 = percentile(lat, 0.95)
	return out, nil
}

type sums struct {
	answerable, unanswerable int
	em, f1                   float64
	refusedNoAns, refusedAns int
}

func (s *sums) add(q Query, res *answer.Result) {
	if q.Unanswerable {
		s.unanswerable++
		if res.Abstained {
			s.refusedNoAns++
		}
		return
	}
	s.answerable++
	if res.Abstained {
		s.refusedAns++
		return
	}
	pred := StripCitations(res.Answer)
	s.em += ExactMatch(pred, q.Answers)
	s.f1 += F1(pred, q.Answers)
}

func (s *sums) scores() AnswerScores {
	var out AnswerScores
	if s.answerable > 0 {
		n := float64(s.answerable)
		out.ExactMatch, out.F1, out.WrongRefusals = s.em/n, s.f1/n, float64(s.refusedAns)/n
	}
	if s.unanswerable > 0 {
		out.NoAnsAccuracy = float64(s.refusedNoAns) / float64(s.unanswerable)
	}
	return out
}
