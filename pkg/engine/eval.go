package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rag-cli/rag/pkg/eval"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// An eval, as steps: load the dataset; index a BEIR or SQuAD set's corpus
// (one file a document) into an index of its own; open the index for who
// asks; measure every retrieval mode, tune, answer; check the bars.

// EvalRequest is one run of rag eval.
type EvalRequest struct {
	// Dataset is the set of questions: a BEIR folder, a SQuAD JSON file,
	// or a questions file (.jsonl, .yaml) run against the engine's index.
	// The report names it as given.
	Dataset string
	// CorpusIndex is the folder a BEIR or SQuAD set's corpus is indexed
	// into, kept and reused by the next run; "" a temporary one, deleted
	// at the end.
	CorpusIndex string
	Who         Who
	// Modes are the retrieval modes compared, each also expanded when
	// Ask.Expand is set; Ask.Rerank adds Ask.Mode re-ranked.
	Modes []retrieve.Mode
	// Limit, if above 0, measures a random sample of that many questions,
	// drawn with Seed.
	Limit int
	Seed  uint64
	// Ask says how questions are searched (Ask.Retrieval, Ask.Floor) and,
	// when Ask.Model is set, answered as Reader.Ask does; Ask.Fallback is
	// not used (eval measures the modes it names) and Ask.Prompt is
	// LoadPrompt(SystemPrompt, Examples), read when answers are measured.
	Ask                    AskOptions
	SystemPrompt, Examples string
	// ChatModel expands the modes' queries when neither Ask.ExpandModel
	// nor Ask.Model names a model.
	ChatModel string
	// Tune finds the fusion weight and the coverage floor that would have
	// done best on these questions.
	Tune bool
	// Bars are the metrics' lowest acceptable values (0: none).
	Bars EvalBars
}

// EvalBars are the lowest acceptable metrics of an eval: nDCG@10,
// Recall@10 and MRR@10 of every mode, the answers' F1 and share of
// unanswerable questions refused.
type EvalBars struct {
	NDCG, Recall, MRR, F1, NoAns float64
}

// EvalReport is what an eval measured. Its JSON form is `rag eval
// --json`'s.
type EvalReport struct {
	Dataset     string           `json:"dataset"`
	Format      string           `json:"format"`
	Documents   int              `json:"documents"`
	Questions   int              `json:"questions"`
	Index       string           `json:"index"`
	EmbedModel  string           `json:"embed_model"`
	RerankModel string           `json:"rerank_model,omitempty"`
	Retrieval   []eval.Retrieval `json:"retrieval"`
	Answers     *eval.Answers    `json:"answers,omitempty"`
	Tune        *eval.Tuning     `json:"tune,omitempty"`
	// Failed are the bars missed; never nil.
	Failed []string `json:"failed_thresholds"`
}

// EvalCorpus says that an eval indexes its dataset's corpus: into Kept,
// or, when Kept is "", into a temporary index deleted at the end (what an
// interruption keeps).
type EvalCorpus struct{ Kept string }

func (EvalCorpus) event() {}

// EvalProgress is how far a step of an eval is: Done of Total questions
// (Total 0: not known). A step ends with an event whose End is set.
type EvalProgress struct {
	Step        EvalStep
	Done, Total int
	End         bool
}

func (EvalProgress) event() {}

// EvalStep is a step of an eval that reports its progress.
type EvalStep string

// The steps of an eval.
const (
	EvalRetrieval EvalStep = "retrieval"
	EvalTuning    EvalStep = "tuning"
	EvalAnswers   EvalStep = "answers"
)

// BelowThresholdError is a finished eval that missed a bar: its report
// comes with it.
type BelowThresholdError struct{ Failed []string }

func (e *BelowThresholdError) Error() string {
	return "below threshold: " + strings.Join(e.Failed, "; ")
}

// NoDatasetError is a dataset path that does not exist.
type NoDatasetError struct{ Path string }

func (e *NoDatasetError) Error() string { return e.Path + ": no such file or folder" }

// ForeignCorpusError is a corpus index that holds other documents than
// the dataset's (a user's own index given by mistake): later refreshes
// would walk the dataset's folder as documents.
type ForeignCorpusError struct {
	Dir string
	// Other is a folder of other documents, when who asks sees one.
	Other string
}

func (e *ForeignCorpusError) Error() string {
	what := "other documents"
	if e.Other != "" {
		what = fmt.Sprintf("other documents (%s)", e.Other)
	}
	return fmt.Sprintf("%s holds %s, not only this corpus", e.Dir, what)
}

// Eval measures how well questions are searched and answered: a BEIR or
// SQuAD set's corpus indexed first (EvalCorpus, then the index run's
// events), a questions file against the engine's index. A report comes
// with an error only for a finished eval: a BelowThresholdError, or a
// failure to close or delete the corpus index after it.
func (e *Engine) Eval(ctx context.Context, req EvalRequest, events Events) (rep *EvalReport, err error) {
	abs, err := filepath.Abs(req.Dataset)
	if err != nil {
		return nil, err
	}
	ds, err := eval.Load(os.DirFS(filepath.Dir(abs)), filepath.Base(abs))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NoDatasetError{Path: req.Dataset}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", req.Dataset, err)
	}
	qe := e
	if ds.Docs != nil {
		events.emit(EvalCorpus{Kept: req.CorpusIndex})
		var dir string
		var remove func() error
		if dir, remove, err = corpusDir(req.CorpusIndex); err != nil {
			return nil, err
		}
		defer func() {
			if rerr := remove(); rerr != nil && err == nil {
				err = rerr
			}
		}()
		if qe, err = e.indexCorpus(ctx, dir, abs, ds.Docs, req, events); err != nil {
			return nil, err
		}
	}
	r, err := qe.openEval(ctx, req, events)
	if err != nil {
		return nil, err
	}
	defer closeWith(&err, r)
	rep = &EvalReport{Dataset: req.Dataset, Format: ds.Format, Documents: len(ds.Docs), Failed: []string{}}
	if err := r.eval(ctx, eval.Sample(ds.Queries, req.Limit, req.Seed), req, rep); err != nil {
		return nil, err
	}
	if rep.Failed = req.Bars.missed(rep); len(rep.Failed) > 0 {
		return rep, &BelowThresholdError{Failed: rep.Failed}
	}
	return rep, nil
}

// removeAll deletes a temporary corpus index (a test makes it fail).
var removeAll = os.RemoveAll

// corpusDir is the folder of a corpus index: kept, or a temporary one that
// remove deletes.
func corpusDir(kept string) (dir string, remove func() error, err error) {
	if kept != "" {
		return kept, func() error { return nil }, nil
	}
	if dir, err = os.MkdirTemp("", "rag-eval-"); err != nil {
		return "", nil, err
	}
	return dir, func() error { return removeAll(dir) }, nil
}

// indexCorpus indexes a dataset's documents, one file each, under root
// (the dataset's path), into the index at dir, and returns the engine of
// that index. An index that already holds them is only checked: unchanged
// documents are not embedded again; files that failed are measured as
// far as they were indexed.
func (e *Engine) indexCorpus(ctx context.Context, dir, root string, docs []eval.Doc, req EvalRequest, events Events) (*Engine, error) {
	asker, err := e.Resolve(ctx, req.Who)
	if err != nil {
		return nil, err
	}
	check := func(m *store.Manifest) error {
		if !slices.ContainsFunc(m.Sources, func(s store.Source) bool { return s.Path != root }) {
			return nil
		}
		// A folder is named only if the asker sees it: not another's.
		fe := &ForeignCorpusError{Dir: dir}
		seen, _ := ViewOf(*m, asker.View)
		if i := slices.IndexFunc(seen.Sources, func(s store.Source) bool { return s.Path != root }); i >= 0 {
			fe.Other = seen.Sources[i].Path
		}
		return fe
	}
	cfg := e.cfg
	cfg.Dir = dir
	cfg.Store = nil // the dataset's own index, in its folder
	ce := New(cfg)
	_, err = ce.Index(ctx, IndexRequest{Corpus: &Corpus{Root: root, FS: eval.CorpusFS(docs)}, Check: check}, events)
	var partial *PartialError
	if err != nil && !errors.As(err, &partial) {
		return nil, err
	}
	return ce, nil
}

// openEval opens the index for the eval's questions, with the model
// server's client; an eval that embeds queries needs the index's model.
func (e *Engine) openEval(ctx context.Context, req EvalRequest, events Events) (*Reader, error) {
	client, err := e.models()
	if err != nil {
		return nil, err
	}
	if err := e.checkDir(); err != nil {
		return nil, err
	}
	cfg := e.cfg
	cfg.Models = client
	r, err := New(cfg).Open(ctx, req.Who, events)
	if err != nil {
		return nil, err
	}
	if r.denseErr != nil && req.needsDense() {
		return nil, errors.Join(&DenseError{Err: r.denseErr}, r.Close())
	}
	return r, nil
}

// needsDense reports whether the eval embeds queries: a mode or the
// answers' mode other than lexical, or tuning.
func (req *EvalRequest) needsDense() bool {
	if req.Tune || (req.Ask.Rerank || req.Ask.Model != "") && req.Ask.Mode != retrieve.Lexical {
		return true
	}
	return slices.ContainsFunc(req.Modes, func(m retrieve.Mode) bool { return m != retrieve.Lexical })
}

// eval measures the questions qs into rep: retrieval, tuning, answers.
func (r *Reader) eval(ctx context.Context, qs []eval.Query, req EvalRequest, rep *EvalReport) error {
	req.Ask.Fallback = false // eval measures the modes it names
	rep.Index, rep.EmbedModel, rep.Questions = r.store.Dir(), r.embed.Name, len(qs)
	var err error
	r.events.emit(EvalProgress{Step: EvalRetrieval})
	rep.Retrieval, err = eval.RunRetrieval(ctx, qs, r.evalModes(req), r.e.cfg.Now, r.evalProgress(EvalRetrieval))
	r.events.emit(EvalProgress{Step: EvalRetrieval, End: true})
	if err != nil {
		return err
	}
	if req.Ask.Rerank {
		rep.RerankModel = req.Ask.RerankModel
	}
	if req.Tune {
		r.events.emit(EvalProgress{Step: EvalTuning})
		rep.Tune, err = eval.Tune(ctx, qs, r.channels, req.Ask.FusionWeight, req.Ask.Floor)
		r.events.emit(EvalProgress{Step: EvalTuning, End: true})
		if err != nil {
			return err
		}
	}
	if req.Ask.Model != "" {
		rep.Answers, err = r.evalAnswers(ctx, qs, req)
	}
	return err
}

func (r *Reader) evalProgress(step EvalStep) eval.Progress {
	return func(done, total int) {
		r.events.emit(EvalProgress{Step: step, Done: done, Total: total})
	}
}

// channels are the dense and lexical rankings of query that tuning fuses.
func (r *Reader) channels(ctx context.Context, query string) (dense, lexical []store.Hit, err error) {
	vecs, err := r.embed.Embed(ctx, []string{query})
	if err != nil {
		return nil, nil, err
	}
	if dense, err = r.store.Search(ctx, r.asker.View, vecs[0], retrieve.FusionDepth); err != nil {
		return nil, nil, err
	}
	lexical, err = r.store.SearchText(ctx, r.asker.View, query, retrieve.FusionDepth)
	return dense, lexical, err
}

// evalAnswers asks every question with an answer (or none) as Reader.Ask
// does, and closed book.
func (r *Reader) evalAnswers(ctx context.Context, qs []eval.Query, req EvalRequest) (*eval.Answers, error) {
	o := req.Ask
	var err error
	if o.Prompt, err = LoadPrompt(ctx, req.SystemPrompt, req.Examples); err != nil {
		return nil, err
	}
	ans := r.Answerer(o)
	if x := ans.Expander(); x != nil {
		x.Quiet = true // the retrieval table says how many were unusable
	}
	r.events.emit(EvalProgress{Step: EvalAnswers})
	res, err := eval.RunAnswers(ctx, qs, ans, r.e.cfg.Now, r.evalProgress(EvalAnswers))
	r.events.emit(EvalProgress{Step: EvalAnswers, End: true})
	if err != nil {
		return nil, err
	}
	res.Mode, res.Model = string(o.Mode), o.Model
	if o.Expand {
		res.Mode += "+expand"
	}
	if o.Rerank {
		res.Mode += "+rerank"
	}
	return res, nil
}

// evalModes are the searches to compare: each mode, with expansion each
// also expanded (MODE+expand), plus Ask.Mode re-ranked when Ask.Rerank is
// on.
func (r *Reader) evalModes(req EvalRequest) []eval.Mode {
	rt, floor := req.Ask.Retrieval, req.Ask.Floor
	var modes []eval.Mode
	for _, m := range req.Modes {
		ropt := retrieve.Options{View: r.asker.View, Mode: m, Fusion: rt.Fusion, DenseWeight: float32(rt.FusionWeight)}
		modes = append(modes, r.evalMode(string(m), ropt, nil, floor))
		if x := r.expander(rt, expandWith(req)); x != nil {
			modes = append(modes, r.evalMode(string(m)+"+expand", ropt, x, floor))
		}
	}
	if rt.Rerank {
		ropt, rr := r.options(rt)
		name := string(rt.Mode) + "+rerank"
		x := r.expander(rt, expandWith(req))
		if x != nil {
			name = string(rt.Mode) + "+expand+rerank"
		}
		m := r.evalMode(name, ropt, x, floor)
		m.Calls = rr.Calls
		modes = append(modes, m)
	}
	return modes
}

// expandWith is the chat model that expands the modes' queries where no
// expansion model is named.
func expandWith(req EvalRequest) string {
	if req.Ask.Model != "" {
		return req.Ask.Model
	}
	return req.ChatModel
}

// evalMode is one search to measure, expanded by x (nil: not expanded),
// refusing what floor refuses.
func (r *Reader) evalMode(name string, ropt retrieve.Options, x *Expander, floor retrieve.Floor) eval.Mode {
	// 20 chunks: documents split into several chunks still fill the 10
	// ranks the metrics read.
	const k = 20
	// The expansion of the latest search: RunRetrieval asks whether the
	// floor refuses a question right after searching for it.
	var last struct {
		query string
		x     *retrieve.Expansion
	}
	m := eval.Mode{Name: name, Search: func(ctx context.Context, query string) ([]retrieve.Result, error) {
		ropt := ropt
		var err error
		if ropt.Expansion, err = x.Expand(ctx, query); err != nil {
			return nil, err
		}
		last.query, last.x = query, ropt.Expansion
		return retrieve.Search(ctx, r.store, r.embed, query, k, ropt)
	}, Refuses: func(query string, results []retrieve.Result) bool {
		var x *retrieve.Expansion
		if last.query == query {
			x = last.x
		}
		return len(retrieve.Evidence(retrieve.EvidenceQuery(query, x), results, floor)) == 0
	}}
	if x != nil {
		x.Quiet = true // the table says how many replies were unusable
		m.ExpandCalls, m.ExpandUnusable = x.Calls, x.Unusable
	}
	return m
}

// missed lists the bars the report misses.
func (b EvalBars) missed(rep *EvalReport) []string {
	failed := []string{}
	check := func(name string, got, bar float64) {
		if bar > 0 && got < bar {
			failed = append(failed, fmt.Sprintf("%s %.3f < %.3f", name, got, bar))
		}
	}
	for _, r := range rep.Retrieval {
		check(r.Mode+" nDCG@10", r.NDCG10, b.NDCG)
		check(r.Mode+" Recall@10", r.Recall10, b.Recall)
		check(r.Mode+" MRR@10", r.MRR10, b.MRR)
	}
	if rep.Answers != nil {
		check("answer F1", rep.Answers.F1, b.F1)
		check("NoAns accuracy", rep.Answers.NoAnsAccuracy, b.NoAns)
	} else if b.F1 > 0 || b.NoAns > 0 {
		failed = append(failed, "--min-f1 and --min-noans need --model")
	}
	return failed
}
