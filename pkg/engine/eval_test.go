package engine

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// The datasets of pkg/eval's tests: a BEIR folder of 4 documents and 2
// judged questions, a SQuAD file, questions about docs of one's own.
const (
	beirSet      = "../eval/testdata/beir"
	squadSet     = "../eval/testdata/squad.json"
	questionsSet = "../eval/testdata/questions.yaml"
)

// TestEval: an eval indexes a dataset's corpus (or asks against the
// engine's index), measures each mode, tunes and answers as asked, and
// checks the bars; what it cannot run is a typed error.
func TestEval(t *testing.T) {
	t.Parallel()
	_, client := models(t)
	// The engine's index: the docs the questions file asks about.
	docs, own := indexDocs(t, client, map[string]string{
		"retry.txt":  "The client retries a failed upload three times, and doubles the wait each time.\n",
		"install.md": "# Install\n\nRun the installer, then restart the machine.\n",
	})
	// Corpus indexes given by mistake: a user's, of other documents, for
	// bob only (one for each case that writes to it).
	other := func() string {
		dir := filepath.Join(t.TempDir(), "other")
		indexSources(t, client, dir, store.Source{Path: docs, Allow: []string{"user:bob"}})
		return dir
	}
	otherBob, otherCarol := other(), other()
	reused := filepath.Join(t.TempDir(), "corpus")

	lexical := func(req *EvalRequest) { req.Modes = []retrieve.Mode{retrieve.Lexical} }
	tests := []struct {
		name    string
		dataset string
		req     func(req *EvalRequest) // nil: every mode, hybrid answers off
		embed   string                 // the embedding model asked for ("": the test's)
		// modes are the rows of the retrieval table, nil for no report.
		modes  []string
		failed []string
		// corpus is the EvalCorpus event's Kept, "-" none sent.
		corpus string
		check  func(t *testing.T, rep *EvalReport, err error)
	}{
		{name: "beir into a temporary index", dataset: beirSet, modes: []string{"dense", "lexical", "hybrid"}, failed: []string{},
			check: func(t *testing.T, rep *EvalReport, _ error) {
				if rep.Format != "beir" || rep.Documents != 4 || rep.Questions != 2 || rep.Retrieval[1].NDCG10 != 1 || rep.EmbedModel != testEmbed {
					t.Errorf("report %+v", rep)
				}
			}},
		{name: "corpus index kept", dataset: beirSet, req: func(req *EvalRequest) { lexical(req); req.CorpusIndex = reused },
			modes: []string{"lexical"}, failed: []string{}, corpus: reused,
			check: func(t *testing.T, rep *EvalReport, _ error) {
				if rep.Index != reused {
					t.Errorf("index %s, want %s", rep.Index, reused)
				}
			}},
		{name: "bars missed", dataset: beirSet, req: func(req *EvalRequest) { lexical(req); req.Bars = EvalBars{NDCG: 1.01, MRR: 0.5} },
			modes: []string{"lexical"}, failed: []string{"lexical nDCG@10 1.000 < 1.010"},
			check: func(t *testing.T, _ *EvalReport, err error) {
				var below *BelowThresholdError
				if !errors.As(err, &below) || err.Error() != "below threshold: lexical nDCG@10 1.000 < 1.010" {
					t.Errorf("error %v, want a BelowThresholdError", err)
				}
			}},
		{name: "answer bars need a model", dataset: beirSet, req: func(req *EvalRequest) { lexical(req); req.Bars.F1 = 0.1 },
			modes: []string{"lexical"}, failed: []string{"--min-f1 and --min-noans need --model"}},
		{name: "re-ranked and expanded", dataset: beirSet, req: func(req *EvalRequest) {
			lexical(req)
			req.Ask.Rerank, req.Ask.RerankModel, req.Ask.Candidates = true, testChat, 3
			req.Ask.Expand, req.ChatModel = true, testChat
		}, modes: []string{"lexical", "lexical+expand", "hybrid+expand+rerank"}, failed: []string{},
			check: func(t *testing.T, rep *EvalReport, _ error) {
				if rep.RerankModel != testChat || rep.Retrieval[2].RerankCalls == 0 || rep.Retrieval[1].ExpandCalls != 1 {
					t.Errorf("report %+v", rep.Retrieval)
				}
			}},
		{name: "answers", dataset: squadSet, req: func(req *EvalRequest) { lexical(req); req.Ask.Model = testChat },
			modes: []string{"lexical"}, failed: []string{},
			check: func(t *testing.T, rep *EvalReport, _ error) {
				if a := rep.Answers; a == nil || a.Mode != "hybrid" || a.Model != testChat || a.Answerable != 2 || a.Unanswerable != 1 {
					t.Errorf("answers %+v", a)
				}
			}},
		{name: "tuned", dataset: beirSet, req: func(req *EvalRequest) { lexical(req); req.Tune = true },
			modes: []string{"lexical"}, failed: []string{},
			check: func(t *testing.T, rep *EvalReport, _ error) {
				if rep.Tune == nil || rep.Tune.FusionWeight.Current != 0.5 {
					t.Errorf("tune %+v", rep.Tune)
				}
			}},
		{name: "questions against the engine's index", dataset: questionsSet, req: lexical, modes: []string{"lexical"}, failed: []string{}, corpus: "-",
			check: func(t *testing.T, rep *EvalReport, _ error) {
				if rep.Format != "questions" || rep.Documents != 0 || rep.Index != own || rep.Retrieval[0].Recall1 != 1 {
					t.Errorf("report %+v", rep)
				}
			}},
		{name: "no such dataset", dataset: "nope.yaml", corpus: "-",
			check: func(t *testing.T, _ *EvalReport, err error) {
				var nd *NoDatasetError
				if !errors.As(err, &nd) || err.Error() != "nope.yaml: no such file or folder" {
					t.Errorf("error %v", err)
				}
			}},
		{name: "corpus index of other documents the asker sees", dataset: beirSet, req: func(req *EvalRequest) { req.CorpusIndex, req.Who.As = otherBob, "user:bob" },
			corpus: otherBob,
			check: func(t *testing.T, _ *EvalReport, err error) {
				var fe *ForeignCorpusError
				if !errors.As(err, &fe) || fe.Other != docs {
					t.Errorf("error %v, want a ForeignCorpusError naming %s", err, docs)
				}
			}},
		{name: "corpus index of other documents the asker does not see", dataset: beirSet, req: func(req *EvalRequest) { req.CorpusIndex, req.Who.As = otherCarol, "user:carol" },
			corpus: otherCarol,
			check: func(t *testing.T, _ *EvalReport, err error) {
				var fe *ForeignCorpusError
				if !errors.As(err, &fe) || err.Error() != otherCarol+" holds other documents, not only this corpus" {
					t.Errorf("error %v", err)
				}
			}},
		{name: "another embedding model, dense", dataset: questionsSet, embed: "other-embed", corpus: "-",
			check: func(t *testing.T, _ *EvalReport, err error) {
				var dense *DenseError
				var mismatch *store.ModelMismatchError
				if !errors.As(err, &dense) || !errors.As(err, &mismatch) {
					t.Errorf("error %v, want a DenseError of the mismatch", err)
				}
			}},
		{name: "another embedding model, keywords only", dataset: questionsSet, req: lexical, embed: "other-embed",
			modes: []string{"lexical"}, failed: []string{}, corpus: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := EvalRequest{Dataset: tt.dataset, Modes: []retrieve.Mode{retrieve.Dense, retrieve.Lexical, retrieve.Hybrid}, Seed: 1, Ask: askOptions(retrieve.Hybrid)}
			req.Ask.Model = ""
			if tt.req != nil {
				tt.req(&req)
			}
			e := New(Config{Dir: own, Models: client, EmbedModel: cmp.Or(tt.embed, testEmbed), Now: testNow})
			var mu sync.Mutex
			var evs []Event
			rep, err := e.Eval(context.Background(), req, func(ev Event) {
				mu.Lock()
				defer mu.Unlock()
				evs = append(evs, ev)
			})
			var below *BelowThresholdError
			switch {
			case tt.modes == nil && rep != nil:
				t.Errorf("a report %+v with %v", rep, err)
			case tt.modes == nil:
			case err != nil && !errors.As(err, &below):
				t.Fatalf("eval: %v", err)
			default:
				var modes []string
				for _, r := range rep.Retrieval {
					modes = append(modes, r.Mode)
				}
				if !slices.Equal(modes, tt.modes) || !slices.Equal(rep.Failed, tt.failed) {
					t.Errorf("modes %q, failed %q; want %q, %q", modes, rep.Failed, tt.modes, tt.failed)
				}
				if !slices.Contains(evs, Event(EvalProgress{Step: EvalRetrieval, End: true})) {
					t.Errorf("no end of the retrieval step in %v", evs)
				}
			}
			corpus := "-"
			for _, ev := range evs {
				if c, ok := ev.(EvalCorpus); ok {
					corpus = c.Kept
				}
			}
			if corpus != tt.corpus {
				t.Errorf("corpus event %q, want %q", corpus, tt.corpus)
			}
			if tt.check != nil {
				tt.check(t, rep, err)
			}
		})
	}
}

// TestEvalTemporaryIndex: without a corpus index, a dataset's corpus is
// indexed into a temporary one, deleted at the end.
func TestEvalTemporaryIndex(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // os.MkdirTemp's folder; no t.Parallel with it
	_, client := models(t)
	e := New(Config{Models: client, EmbedModel: testEmbed, Now: testNow})
	req := EvalRequest{Dataset: beirSet, Modes: []retrieve.Mode{retrieve.Lexical}, Ask: askOptions(retrieve.Hybrid)}
	req.Ask.Model = ""
	rep, err := e.Eval(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(rep.Index) != tmp {
		t.Errorf("indexed into %s, not a temporary folder in %s", rep.Index, tmp)
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) > 0 {
		t.Errorf("left %v behind (%v)", left, err)
	}
}

// TestEvalTemporaryIndexNotDeleted: a temporary corpus index that cannot
// be deleted fails the eval, after its report (the error was dropped).
func TestEvalTemporaryIndexNotDeleted(t *testing.T) {
	failure := errors.New("cannot delete")
	removeAll = func(string) error { return failure }
	t.Cleanup(func() { removeAll = os.RemoveAll })
	_, client := models(t)
	e := New(Config{Models: client, EmbedModel: testEmbed, Now: testNow})
	req := EvalRequest{Dataset: beirSet, Modes: []retrieve.Mode{retrieve.Lexical}, Ask: askOptions(retrieve.Hybrid)}
	req.Ask.Model = ""
	rep, err := e.Eval(context.Background(), req, nil)
	t.Cleanup(func() {
		if rep != nil {
			if err := os.RemoveAll(rep.Index); err != nil {
				t.Error(err)
			}
		}
	})
	if rep == nil || !errors.Is(err, failure) {
		t.Errorf("report %v, error %v; want a report and %v", rep, err, failure)
	}
}
