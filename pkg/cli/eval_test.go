package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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

func decodeEval(t *testing.T, r result) *evalReport {
	t.Helper()
	var rep *evalReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep == nil {
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

func TestEval(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	corpus := filepath.Join(t.TempDir(), "corpus")
	beir := "../eval/testdata/beir"
	t.Run("beir table", func(t *testing.T) {
		r := h.run(runOpt{}, "eval", "--embed-model", embedModel, "--corpus-index", corpus, beir)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		golden(t, "eval-beir", r.stdout)
		if r.stderr != "" {
			t.Errorf("stderr not empty when piped: %q", r.stderr)
		}
	})
	t.Run("corpus index reused", func(t *testing.T) {
		before := h.srv.EmbeddedTexts()
		rep := decodeEval(t, h.run(runOpt{}, "eval", "--json", "--embed-model", embedModel, "--corpus-index", corpus, "--modes", "lexical", beir))
		if got := h.srv.EmbeddedTexts() - before; got != 0 {
			t.Errorf("embedded %d texts again", got)
		}
		if rep.Format != "beir" || rep.Documents != 4 || len(rep.Retrieval) != 1 || rep.Retrieval[0].Questions != 2 || rep.Retrieval[0].NDCG10 != 1 {
			t.Errorf("report %+v", rep)
		}
	})
	t.Run("threshold fails with exit 9", func(t *testing.T) {
		r := h.run(runOpt{}, "eval", "--json", "--embed-model", embedModel, "--corpus-index", corpus, "--min-ndcg", "1.01", beir)
		if r.code != ExitBelow {
			t.Fatalf("exit %d, want %d: %s", r.code, ExitBelow, r.stderr)
		}
		rep := decodeEval(t, r)
		if len(rep.Failed) != 3 || !strings.Contains(r.stderr, "rag: error: below threshold: dense nDCG@10 1.000 < 1.010") {
			t.Errorf("failed %v, stderr %q", rep.Failed, r.stderr)
		}
	})
	t.Run("rerank row", func(t *testing.T) {
		rep := decodeEval(t, h.run(runOpt{}, "eval", "--json", "--embed-model", embedModel, "--corpus-index", corpus,
			"--modes", "hybrid", "--rerank", "--rerank-model", chatModel, "--candidates", "3", beir))
		if len(rep.Retrieval) != 2 || rep.Retrieval[1].Mode != "hybrid+rerank" || rep.Retrieval[1].RerankCalls != 4 { // every chunk of the 4-document corpus
			t.Errorf("report %+v", rep.Retrieval)
		}
	})
	t.Run("squad with answers", func(t *testing.T) {
		chats := h.srv.ChatRequests()
		rep := decodeEval(t, h.run(runOpt{}, "eval", "--json", "--embed-model", embedModel, "--corpus-index", filepath.Join(t.TempDir(), "sq"),
			"--model", chatModel, "../eval/testdata/squad.json"))
		a := rep.Answers
		if a == nil || a.Answerable != 2 || a.Unanswerable != 1 {
			t.Fatalf("answers %+v", a)
		}
		// The fake answers with the first line of source 1, cited: right
		// source, so valid citations, but never the exact span; closed book
		// it always refuses.
		if a.CitationValidity != 1 || a.ExactMatch != 0 || a.F1 <= 0 || a.ClosedBook.NoAnsAccuracy != 1 || a.ClosedBook.WrongRefusals != 1 {
			t.Errorf("answers %+v", a)
		}
		if got := h.srv.ChatRequests() - chats; got < 3 {
			t.Errorf("%d chats for 3 questions with closed book", got)
		}
	})
	t.Run("own questions against the index", func(t *testing.T) {
		h.mustIndex()
		r := h.run(runOpt{}, "eval", "--json", "--modes", "lexical,hybrid", "../eval/testdata/questions.yaml")
		rep := decodeEval(t, r)
		if rep.Format != "questions" || len(rep.Retrieval) != 2 || rep.Retrieval[0].Questions != 2 || rep.Retrieval[0].Recall1 != 1 {
			t.Errorf("report %+v", rep)
		}
	})
	t.Run("tty table", func(t *testing.T) {
		r := h.run(runOpt{tty: true}, "eval", "--embed-model", embedModel, "--corpus-index", corpus, "--modes", "lexical", beir)
		if r.code != 0 || !strings.Contains(r.stdout, "nDCG@10") || !strings.Contains(r.stdout, "lexical") {
			t.Errorf("exit %d: %s", r.code, r.stdout)
		}
	})
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"missing path", []string{"nope.jsonl"}, ExitUsage, "nope.jsonl: no such file or folder"},
		{"bad mode", []string{"--modes", "dense,fuzzy", beir}, ExitUsage, `unknown mode "fuzzy"`},
		{"not a set", []string{"testdata/docs/retry.txt"}, ExitError, "not an evaluation set"},
		{"corpus index of other documents", []string{"--corpus-index", h.index, beir}, ExitUsage, "holds other documents"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(runOpt{}, append([]string{"eval"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, want %d with %q: %s", r.code, tt.code, tt.stderr, r.stderr)
			}
		})
	}
}
