package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/eval"
)

// squadDir is the shared SQuAD 2.0 subset CI places beside the checkout.
const squadDir = "../../../shared/datasets/squad2-dev-subset"

func needSquad(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(squadDir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have the shared datasets: %v", err)
		}
		t.Skipf("no shared datasets: %v", err)
	}
}

type evalJSON struct {
	Format    string           `json:"format"`
	Documents int              `json:"documents"`
	Questions int              `json:"questions"`
	Retrieval []eval.Retrieval `json:"retrieval"`
	Answers   *eval.Answers    `json:"answers"`
	Failed    []string         `json:"failed_thresholds"`
}

func decodeEval(t *testing.T, r result) evalJSON {
	t.Helper()
	var rep evalJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("eval --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	return rep
}

// TestEvalSquadBars holds the retrieval bars of the SQuAD 2.0 subset: BM25
// at nDCG@10 >= 0.88, and hybrid with the hashed bag-of-words embedder not
// worse than lexical alone.
func TestEvalSquadBars(t *testing.T) {
	t.Parallel()
	needSquad(t)
	h := newHarness(t)
	h.srv.SetDims(768)
	r := h.run(runOpt{now: time.Now}, "eval", "--json", "--embed-model", embedModel, "--modes", "dense,lexical,hybrid",
		"--corpus-index", filepath.Join(t.TempDir(), "corpus"), "--min-ndcg", "0.5", squadDir+"/beir")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rep := decodeEval(t, r)
	by := map[string]eval.Retrieval{}
	for _, m := range rep.Retrieval {
		by[m.Mode] = m
		t.Logf("%-8s nDCG@10 %.4f R@1 %.4f R@5 %.4f R@10 %.4f MRR@10 %.4f p50 %.2f ms p95 %.2f ms",
			m.Mode, m.NDCG10, m.Recall1, m.Recall5, m.Recall10, m.MRR10, m.LatencyP50, m.LatencyP95)
	}
	if rep.Documents != 646 || by["lexical"].Questions != 2910 {
		t.Errorf("read %d documents, %d judged questions; want 646, 2910", rep.Documents, by["lexical"].Questions)
	}
	if got := by["lexical"].NDCG10; got < 0.88 {
		t.Errorf("lexical nDCG@10 = %.4f, want >= 0.88", got)
	}
	if by["hybrid"].NDCG10 < by["lexical"].NDCG10 {
		t.Errorf("hybrid nDCG@10 %.4f < lexical %.4f", by["hybrid"].NDCG10, by["lexical"].NDCG10)
	}
}
