package eval

import (
	"context"
	"slices"

	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// Channels returns a question's dense and lexical rankings, each deep
// enough to fuse (retrieve.FusionDepth).
type Channels func(ctx context.Context, query string) (dense, lexical []store.Hit, err error)

// Tuning is what `rag eval --tune` found on a set of questions: the dense
// share of a weighted fusion that ranks them best, and the coverage floor
// that refuses the most unanswerable ones while refusing few answerable
// ones; each beside the value in use.
type Tuning struct {
	FusionWeight WeightTuning `json:"fusion_weight"`
	// MinCoverage is set when the questions include unanswerable ones.
	MinCoverage *FloorTuning `json:"min_coverage,omitempty"`
}

// WeightTuning is the best fusion weight and its nDCG@10, and the current.
type WeightTuning struct {
	Best        float64 `json:"best"`
	BestNDCG    float64 `json:"best_ndcg@10"`
	Current     float64 `json:"current"`
	CurrentNDCG float64 `json:"current_ndcg@10"`
}

// FloorTuning is the best coverage floor, and the current one, with the
// shares of unanswerable questions each refuses and of answerable ones.
type FloorTuning struct {
	Best                 float64 `json:"best"`
	Refused              float64 `json:"refused"`
	WrongRefusals        float64 `json:"wrong_refusals"`
	Current              float64 `json:"current"`
	CurrentRefused       float64 `json:"current_refused"`
	CurrentWrongRefusals float64 `json:"current_wrong_refusals"`
	// Folds are the figures of cross-validation (crossValidate): in each,
	// the floor best on the others and what it does on the fold's
	// questions. Nil when fewer than two files answer the questions.
	Folds []FoldTuning `json:"folds,omitempty"`
}

// FoldTuning is one fold of the floor's cross-validation.
type FoldTuning struct {
	Floor         float64 `json:"floor"`
	Unanswerable  int     `json:"unanswerable"`
	Refused       float64 `json:"refused"`
	Answerable    int     `json:"answerable"`
	WrongRefusals float64 `json:"wrong_refusals"`
}

// MaxWrongRefusals is the share of answerable questions a tuned floor may
// refuse.
const MaxWrongRefusals = 0.05

// Tune tries dense weights 0.1 to 1 in steps of 0.1 on the questions that
// name their places, and coverage floors 0 to 0.6 in steps of 0.01 on
// those and the unanswerable ones; floor is the rest of the relevance
// floor in use.
func Tune(ctx context.Context, qs []Query, ch Channels, weight float64, floor retrieve.Floor) (*Tuning, error) {
	const steps = 10
	ndcg := make([]float64, steps+1) // by weight*10
	judged := 0
	var answerable, unanswerable [][]retrieve.Result
	var texts, unTexts, groups []string
	for _, q := range qs {
		if len(q.Relevant) == 0 && !q.Unanswerable {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dense, lexical, err := ch(ctx, q.Text)
		if err != nil {
			return nil, err
		}
		if q.Unanswerable {
			unanswerable = append(unanswerable, cut(retrieve.FuseWeighted(dense, lexical, retrieve.Weighted, float32(weight))))
			unTexts = append(unTexts, q.Text)
			continue
		}
		judged++
		for i := 1; i <= steps; i++ {
			res := Unique(q, cut(retrieve.FuseWeighted(dense, lexical, retrieve.Weighted, float32(i)/steps)))
			ndcg[i] += Score(Found(q, res), len(q.Relevant)).NDCG10
		}
		answerable = append(answerable, cut(retrieve.FuseWeighted(dense, lexical, retrieve.Weighted, float32(weight))))
		texts = append(texts, q.Text)
		groups = append(groups, q.Relevant[0].Path)
	}
	t := &Tuning{FusionWeight: WeightTuning{Current: weight}}
	if judged > 0 {
		best := 1
		for i := 1; i <= steps; i++ {
			ndcg[i] /= float64(judged)
			if ndcg[i] > ndcg[best]+1e-9 {
				best = i
			}
		}
		t.FusionWeight.Best, t.FusionWeight.BestNDCG = float64(best)/steps, ndcg[best]
		// The current weight scored as the grid's nearest when it is off it.
		t.FusionWeight.CurrentNDCG = ndcg[max(1, min(steps, int(weight*steps+0.5)))]
	}
	if len(unanswerable) == 0 || len(answerable) == 0 {
		return t, nil
	}
	var items []tuneItem
	for i, r := range answerable {
		items = append(items, tuneItem{text: texts[i], res: r, group: groups[i]})
	}
	for i, r := range unanswerable {
		items = append(items, tuneItem{text: unTexts[i], res: r, unanswerable: true})
	}
	ft := &FloorTuning{Current: float64(floor.MinCoverage)}
	ft.CurrentRefused, ft.CurrentWrongRefusals, _, _ = refusedAt(items, floor, ft.Current)
	ft.Best, ft.Refused, ft.WrongRefusals = bestFloor(items, floor)
	ft.Folds = crossValidate(items, floor)
	t.MinCoverage = ft
	return t, nil
}

// tuneItem is a question's results, for the floor's tuning: its text, the
// group it is cross-validated in (the file that answers it), and whether
// the documents answer it.
type tuneItem struct {
	text, group  string
	res          []retrieve.Result
	unanswerable bool
}

// refusedAt is the share of unanswerable questions of items the floor
// refuses with min as its coverage floor, the share of answerable ones,
// and how many of each there are.
func refusedAt(items []tuneItem, floor retrieve.Floor, min float64) (refused, wrong float64, un, ans int) {
	f := floor
	f.MinCoverage = float32(min)
	for _, q := range items {
		no := len(retrieve.Evidence(q.text, q.res, f)) == 0
		switch {
		case q.unanswerable:
			un++
			if no {
				refused++
			}
		default:
			ans++
			if no {
				wrong++
			}
		}
	}
	return refused / float64(max(un, 1)), wrong / float64(max(ans, 1)), un, ans
}

// bestFloor tries coverage floors 0 to 0.6 in steps of 0.01: the one that
// refuses the most unanswerable questions of items while refusing at most
// MaxWrongRefusals of the answerable ones.
func bestFloor(items []tuneItem, floor retrieve.Floor) (best, refused, wrong float64) {
	for i := 0; i <= 60; i++ {
		th := float64(i) / 100
		r, w, _, _ := refusedAt(items, floor, th)
		if w <= MaxWrongRefusals && r > refused+1e-9 {
			best, refused, wrong = th, r, w
		}
	}
	return best, refused, wrong
}

// CVFolds is how many folds the floor is cross-validated in, fewer when
// fewer files answer the questions.
const CVFolds = 5

// crossValidate splits items into folds by the file that answers them
// (never questions of one file on both sides; unanswerable questions in
// turn), picks the best floor on the other folds and measures it on each:
// what a floor tuned on some questions does on others. Nil with fewer
// than two files.
func crossValidate(items []tuneItem, floor retrieve.Floor) []FoldTuning {
	var files []string
	for _, q := range items {
		if !q.unanswerable && !slices.Contains(files, q.group) {
			files = append(files, q.group)
		}
	}
	k := min(CVFolds, len(files))
	if k < 2 {
		return nil
	}
	slices.Sort(files)
	fold := make([]int, len(items))
	n := 0
	for i, q := range items {
		if q.unanswerable {
			fold[i], n = n%k, n+1
		} else {
			fold[i] = slices.Index(files, q.group) % k
		}
	}
	out := make([]FoldTuning, k)
	for f := range out {
		var train, test []tuneItem
		for i, q := range items {
			if fold[i] == f {
				test = append(test, q)
			} else {
				train = append(train, q)
			}
		}
		ft := &out[f]
		ft.Floor, _, _ = bestFloor(train, floor)
		ft.Refused, ft.WrongRefusals, ft.Unanswerable, ft.Answerable = refusedAt(test, floor, ft.Floor)
	}
	return out
}

// cut keeps the ranks the metrics read.
func cut(rs []retrieve.Result) []retrieve.Result { return rs[:min(len(rs), 20)] }
