package eval

import (
	"context"

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
	var texts, unTexts []string
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
	refusedAt := func(min float64) (refused, wrong float64) {
		f := floor
		f.MinCoverage = float32(min)
		for i, r := range unanswerable {
			if len(retrieve.Evidence(unTexts[i], r, f)) == 0 {
				refused++
			}
		}
		for i, r := range answerable {
			if len(retrieve.Evidence(texts[i], r, f)) == 0 {
				wrong++
			}
		}
		return refused / float64(len(unanswerable)), wrong / float64(len(answerable))
	}
	ft := &FloorTuning{Current: float64(floor.MinCoverage)}
	ft.CurrentRefused, ft.CurrentWrongRefusals = refusedAt(ft.Current)
	for i := 0; i <= 60; i++ {
		th := float64(i) / 100
		refused, wrong := refusedAt(th)
		if wrong <= MaxWrongRefusals && refused > ft.Refused+1e-9 {
			ft.Best, ft.Refused, ft.WrongRefusals = th, refused, wrong
		}
	}
	t.MinCoverage = ft
	return t, nil
}

// cut keeps the ranks the metrics read.
func cut(rs []retrieve.Result) []retrieve.Result { return rs[:min(len(rs), 20)] }
