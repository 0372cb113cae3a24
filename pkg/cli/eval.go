package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/eval"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// EvalOptions are the settings of `rag eval`.
type EvalOptions struct {
	AskOptions
	Path        string
	Modes       []string
	Limit       int
	Seed        uint64
	CorpusIndex string
	MinNDCG     float64
	MinRecall   float64
	MinMRR      float64
	MinF1       float64
	MinNoAns    float64
	// Tune reports the fusion weight and coverage floor that would have
	// done best on these questions.
	Tune bool
}

func newEvalCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &EvalOptions{AskOptions: AskOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "eval PATH",
		Short: "Measure retrieval and answer quality on a set of questions",
		Long: `Eval runs a set of questions and reports how well rag finds, and answers from,
the right passages: nDCG@10, Recall@1/5/10 and MRR@10 for each retrieval mode
side by side, with latency per query (p50, p95).

PATH is one of:
  a BEIR folder      corpus.jsonl, queries.jsonl, qrels/test.tsv
  a SQuAD JSON file  SQuAD 1.1 or 2.0 (unanswerable questions included)
  a questions file   .jsonl or .yaml, run against your index (--index):
                       {"question": "...", "file": "docs/guide.md", "lines": "12-30",
                        "answer": "..."}  or  {"question": "...", "unanswerable": true}

For BEIR and SQuAD, the corpus is indexed first, one file per document, into
a temporary index (or --corpus-index DIR, reused on the next run).

With --model, every question with a gold answer (or marked unanswerable) is
also asked the way rag ask does (in --mode): SQuAD exact match and F1, how
often unanswerable questions are refused and answerable ones wrongly refused,
how many answers cite only sources they were given, and the same model
closed book (no documents) for comparison.

--min-ndcg, --min-recall (Recall@10), --min-mrr, --min-f1 and --min-noans make
eval a gate: below any of them it exits with code 9.`,
		Example: `  rag eval ../datasets/squad2-dev-subset/beir
  rag eval --limit 200 --model llama3.2 dev-v2.0.json
  rag eval --json --min-ndcg 0.8 my-questions.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if _, err := opts.validate(); err != nil {
				return err
			}
			for _, m := range opts.Modes {
				if _, err := retrieve.ParseMode(m); err != nil {
					return usagef("--modes: %v", err)
				}
			}
			if opts.K < 1 {
				return usagef("-k must be at least 1")
			}
			if opts.Limit < 0 {
				return usagef("--limit must not be negative")
			}
			if err := opts.checkModel(); err != nil {
				return err
			}
			for _, m := range []struct {
				flag string
				v    float64
			}{{"--min-ndcg", opts.MinNDCG}, {"--min-recall", opts.MinRecall}, {"--min-mrr", opts.MinMRR}, {"--min-f1", opts.MinF1}, {"--min-noans", opts.MinNoAns}} {
				// Above 1 fails on purpose (a script's check of exit 9);
				// NaN compared false with every metric: it never failed.
				if math.IsNaN(m.v) || math.IsInf(m.v, 0) {
					return usagef("%s must be a number", m.flag)
				}
			}
			return evalRun(cmd.Context(), a, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Tune, "tune", false, "also find the fusion weight and the coverage floor that would have done best on these questions, and say how to set them")
	f.StringSliceVar(&opts.Modes, "modes", []string{"dense", "lexical", "hybrid"}, "retrieval modes to compare (--rerank adds MODE+rerank for --mode)")
	f.IntVar(&opts.Limit, "limit", 0, "run a random sample of this many questions (0: all)")
	f.Uint64Var(&opts.Seed, "seed", 1, "seed of the --limit sample")
	f.StringVar(&opts.CorpusIndex, "corpus-index", "", "folder for the corpus index of a BEIR or SQuAD set, kept and reused (default: a temporary one)")
	f.Float64Var(&opts.MinNDCG, "min-ndcg", 0, "exit 9 if any mode's nDCG@10 is below this")
	f.Float64Var(&opts.MinRecall, "min-recall", 0, "exit 9 if any mode's Recall@10 is below this")
	f.Float64Var(&opts.MinMRR, "min-mrr", 0, "exit 9 if any mode's MRR@10 is below this")
	f.Float64Var(&opts.MinF1, "min-f1", 0, "exit 9 if the answers' F1 is below this (needs --model)")
	f.Float64Var(&opts.MinNoAns, "min-noans", 0, "exit 9 if the share of unanswerable questions refused is below this (needs --model)")
	f.StringVar(&opts.Model, "model", "", "Ollama chat model; when set, answers are measured too")
	f.IntVarP(&opts.K, "k", "k", a.cfg.Int(config.KeyAskK), "chunks given to the model per question; ask_k: in a config file sets the default")
	bindSetting(f, "k", config.KeyAskK)
	bindThresholds(f, &opts.Thresholds, a.cfg)
	f.StringVar(&opts.SystemPrompt, "system-prompt", a.cfg.String(config.KeySystemPrompt), "with --model: file whose text replaces rag's system prompt (measure your own)")
	bindSetting(f, "system-prompt", config.KeySystemPrompt)
	f.StringVar(&opts.Examples, "examples", a.cfg.String(config.KeyExamples), "with --model: YAML file of example turns replacing rag's few-shot block; none for none")
	bindSetting(f, "examples", config.KeyExamples)
	f.IntVar(&opts.NumCtx, "num-ctx", 8192, "model context window in tokens")
	f.IntVar(&opts.MaxTokens, "max-tokens", 256, "longest answer in tokens")
	f.Float64Var(&opts.Temperature, "temperature", 0, "sampling temperature")
	bindRetrieval(f, &opts.RetrievalOptions, a.cfg)
	// eval measures the modes it names: a fallback would measure another.
	if err := f.MarkHidden("fallback"); err != nil {
		panic(err) // a flag misnamed in the code
	}
	return cmd
}

type evalReport struct {
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
	Failed      []string         `json:"failed_thresholds"`
}

// belowThresholdError is a finished eval that missed a --min-* bar.
type belowThresholdError struct{ failed []string }

func (e *belowThresholdError) Error() string {
	return "below threshold: " + strings.Join(e.failed, "; ")
}

func evalRun(ctx context.Context, a *App, opts *EvalOptions) (err error) {
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return err
	}
	ds, err := eval.Load(os.DirFS(filepath.Dir(abs)), filepath.Base(abs))
	if errors.Is(err, fs.ErrNotExist) {
		return usagef("%s: no such file or folder", opts.Path)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", opts.Path, err)
	}
	rep := &evalReport{Dataset: opts.Path, Format: ds.Format, Documents: len(ds.Docs), Failed: []string{}}
	g := opts.globalOptions
	if ds.Docs != nil {
		dir := opts.CorpusIndex
		hint := fmt.Sprintf("the corpus indexed so far is kept in %s; run the same command again to continue", dir)
		if dir == "" {
			hint = "the temporary corpus index was deleted, so nothing is kept; give --corpus-index DIR to keep the corpus index between runs"
		}
		defer func() { err = onInterrupt(err, hint) }()
		if dir == "" {
			tmp, err := os.MkdirTemp("", "rag-eval-")
			if err != nil {
				return err
			}
			defer func() {
				if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
					err = rerr
				}
			}()
			dir = tmp
		}
		view, err := a.view(ctx, g, opts.View)
		if err != nil {
			return err
		}
		if err := indexCorpus(ctx, a, g, dir, abs, ds.Docs, view); err != nil {
			return err
		}
		local := *g
		local.IndexDir = dir
		g = &local
	}
	q, err := openForQuery(ctx, a, g, &opts.RetrievalOptions)
	if err != nil {
		return err
	}
	defer closeWith(&err, q)
	opts.Fallback = false
	if q.DenseErr() != nil && evalNeedsDense(opts) {
		return &engine.DenseError{Err: q.DenseErr()}
	}
	rep.Index, rep.EmbedModel = q.Store().Dir(), q.EmbedModel().Name

	qs := eval.Sample(ds.Queries, opts.Limit, opts.Seed)
	rep.Questions = len(qs)
	prog := newProgress(a)
	modes := evalModes(a, q, opts)
	prog.start("retrieval")
	rep.Retrieval, err = eval.RunRetrieval(ctx, qs, modes, a.Now, prog.set)
	prog.done()
	if err != nil {
		return err
	}
	if opts.Rerank {
		rep.RerankModel = opts.RerankModel
	}
	if opts.Tune {
		ch := func(ctx context.Context, query string) (dense, lexical []store.Hit, err error) {
			vecs, err := q.EmbedModel().Embed(ctx, []string{query})
			if err != nil {
				return nil, nil, err
			}
			if dense, err = q.Store().Search(ctx, q.View(), vecs[0], retrieve.FusionDepth); err != nil {
				return nil, nil, err
			}
			lexical, err = q.Store().SearchText(ctx, q.View(), query, retrieve.FusionDepth)
			return dense, lexical, err
		}
		prog.start("tuning")
		rep.Tune, err = eval.Tune(ctx, qs, ch, opts.FusionWeight, opts.floor())
		prog.done()
		if err != nil {
			return err
		}
	}
	if opts.Model != "" {
		o, err := opts.askOptions(ctx)
		if err != nil {
			return err
		}
		ans := q.Answerer(o)
		if x := ans.Expander(); x != nil {
			x.Quiet = true // the retrieval table says how many were unusable
		}
		prog.start("answers")
		rep.Answers, err = eval.RunAnswers(ctx, qs, ans, a.Now, prog.set)
		prog.done()
		if err != nil {
			return err
		}
		rep.Answers.Mode, rep.Answers.Model = opts.Mode, opts.Model
		if opts.Expand {
			rep.Answers.Mode += "+expand"
		}
		if opts.Rerank {
			rep.Answers.Mode += "+rerank"
		}
	}
	rep.Failed = thresholds(opts, rep)
	if opts.JSON {
		err = writeJSON(a, rep)
	} else {
		err = writeEvalTable(a, rep)
	}
	if err != nil {
		return err
	}
	if len(rep.Failed) > 0 {
		return &belowThresholdError{failed: rep.Failed}
	}
	return nil
}

// evalModes are the searches to compare: each --modes entry, with --expand
// each also expanded (MODE+expand), plus --mode with re-ranking when
// --rerank is on.
// evalNeedsDense reports whether eval embeds queries: a mode or the
// answers' mode other than lexical, or --tune.
func evalNeedsDense(opts *EvalOptions) bool {
	if opts.Tune || (opts.Rerank || opts.Model != "") && opts.Mode != string(retrieve.Lexical) {
		return true
	}
	for _, m := range opts.Modes {
		if m != string(retrieve.Lexical) {
			return true
		}
	}
	return false
}

func evalModes(a *App, q *engine.Reader, opts *EvalOptions) []eval.Mode {
	// 20 chunks: documents split into several chunks still fill the 10
	// ranks the metrics read.
	const k = 20
	floor := opts.floor()
	mode := func(name string, ropt retrieve.Options, x *engine.Expander) eval.Mode {
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
			return retrieve.Search(ctx, q.Store(), q.EmbedModel(), query, k, ropt)
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
	var modes []eval.Mode
	for _, name := range opts.Modes {
		ropt := retrieve.Options{View: q.View(), Mode: retrieve.Mode(name), Fusion: retrieve.Fusion(opts.Fusion), DenseWeight: float32(opts.FusionWeight)}
		modes = append(modes, mode(name, ropt, nil))
		if x := q.Expander(opts.retrieval(), cmp.Or(opts.Model, a.cfg.String(config.KeyModel))); x != nil {
			modes = append(modes, mode(name+"+expand", ropt, x))
		}
	}
	if opts.Rerank {
		ropt, rr := q.Options(opts.retrieval())
		name := opts.Mode + "+rerank"
		x := q.Expander(opts.retrieval(), cmp.Or(opts.Model, a.cfg.String(config.KeyModel)))
		if x != nil {
			name = opts.Mode + "+expand+rerank"
		}
		m := mode(name, ropt, x)
		m.Calls = rr.Calls
		modes = append(modes, m)
	}
	return modes
}

// indexCorpus indexes a dataset's documents, one file each, under root
// (the dataset's path), into the index at dir. An index that already holds
// them is only checked: unchanged documents are not embedded again.
func indexCorpus(ctx context.Context, a *App, g *globalOptions, dir, root string, docs []eval.Doc, view store.View) error {
	if err := store.CheckDir(dir); err != nil {
		return err
	}
	// Never mix a corpus into an index of other documents (a user's own
	// index given as --corpus-index by mistake): later refreshes would walk
	// the dataset's folder as documents.
	check := func(m *store.Manifest) error {
		if !slices.ContainsFunc(m.Sources, func(s store.Source) bool { return s.Path != root }) {
			return nil
		}
		// A folder is named only if the asker sees it: not another's.
		what := "other documents"
		seen, _ := engine.ViewOf(*m, view)
		if i := slices.IndexFunc(seen.Sources, func(s store.Source) bool { return s.Path != root }); i >= 0 {
			what = fmt.Sprintf("other documents (%s)", seen.Sources[i].Path)
		}
		return &hintedError{err: usagef("%s holds %s, not only this corpus", dir, what),
			hint: "give --corpus-index an empty folder, or the one an earlier rag eval of this set used"}
	}
	req := engine.IndexRequest{Corpus: &engine.Corpus{Root: root, FS: eval.CorpusFS(docs)}, Check: check}
	_, err := a.indexEngine(dir, g, a.ollama).Index(ctx, req, a.indexEvents("indexing corpus"))
	var partial *engine.PartialError
	if errors.As(err, &partial) {
		return nil // the corpus is measured as far as it was indexed
	}
	return err
}

// thresholds lists the --min-* bars the report misses.
func thresholds(opts *EvalOptions, rep *evalReport) []string {
	failed := []string{}
	check := func(name string, got, bar float64) {
		if bar > 0 && got < bar {
			failed = append(failed, fmt.Sprintf("%s %.3f < %.3f", name, got, bar))
		}
	}
	for _, r := range rep.Retrieval {
		check(r.Mode+" nDCG@10", r.NDCG10, opts.MinNDCG)
		check(r.Mode+" Recall@10", r.Recall10, opts.MinRecall)
		check(r.Mode+" MRR@10", r.MRR10, opts.MinMRR)
	}
	if rep.Answers != nil {
		check("answer F1", rep.Answers.F1, opts.MinF1)
		check("NoAns accuracy", rep.Answers.NoAnsAccuracy, opts.MinNoAns)
	} else if opts.MinF1 > 0 || opts.MinNoAns > 0 {
		failed = append(failed, "--min-f1 and --min-noans need --model")
	}
	return failed
}

func writeEvalTable(a *App, rep *evalReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s", rep.Dataset, rep.Format, plural(rep.Questions, "question"))
	if rep.Documents > 0 {
		fmt.Fprintf(&b, ", %s", plural(rep.Documents, "document"))
	}
	fmt.Fprintf(&b, "; embeddings %s\n\n", rep.EmbedModel)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tjudged\tnDCG@10\tR@1\tR@5\tR@10\tMRR@10\tp50 ms\tp95 ms\tmodel calls/q\t")
	for _, r := range rep.Retrieval {
		calls := "-"
		if c := r.RerankCalls + r.ExpandCalls; c > 0 {
			calls = fmt.Sprintf("%.1f", c)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.1f\t%.1f\t%s\t\n",
			r.Mode, r.Questions, r.NDCG10, r.Recall1, r.Recall5, r.Recall10, r.MRR10, r.LatencyP50, r.LatencyP95, calls)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Retrieval {
		if r.ExpandUnusable > 0 {
			fmt.Fprintf(&b, "\n%s: %.1f%% of the expansions were not usable (not the JSON asked for, or empty); those questions were searched alone.\n", r.Mode, 100*r.ExpandUnusable)
		}
	}
	if rep.Retrieval != nil && rep.Retrieval[0].Abstention != nil {
		b.WriteString("\nRefused from the retrieved chunks alone, before any model is asked:\n\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "mode\tunanswerable\trefused\tanswerable\twrongly refused\t")
		for _, r := range rep.Retrieval {
			if ab := r.Abstention; ab != nil {
				fmt.Fprintf(tw, "%s\t%d\t%.3f\t%d\t%.3f\t\n", r.Mode, ab.Unanswerable, ab.Refused, ab.Answerable, ab.WrongRefusals)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if t := rep.Tune; t != nil {
		fw := t.FusionWeight
		fmt.Fprintf(&b, "\nTuned on these questions (hybrid, weighted fusion):\n\n")
		fmt.Fprintf(&b, "  fusion_weight  best %.1f (nDCG@10 %.3f); in use %.2f (%.3f)\n", fw.Best, fw.BestNDCG, fw.Current, fw.CurrentNDCG)
		set := []string{fmt.Sprintf("fusion_weight: %.1f", fw.Best)}
		if mc := t.MinCoverage; mc != nil {
			fmt.Fprintf(&b, "  min_coverage   best %.2f (refuses %.1f%% of unanswerable questions, %.1f%% of answerable ones); in use %.2f (%.1f%%, %.1f%%)\n",
				mc.Best, 100*mc.Refused, 100*mc.WrongRefusals, mc.Current, 100*mc.CurrentRefused, 100*mc.CurrentWrongRefusals)
			set = append(set, fmt.Sprintf("min_coverage: %.2f", mc.Best))
		}
		fmt.Fprintf(&b, "\nTo use them, put these lines in a config file (`rag config path` shows where):\n\n")
		for _, l := range set {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	if ans := rep.Answers; ans != nil {
		fmt.Fprintf(&b, "\nAnswers by %s (%s retrieval): %d answerable, %d unanswerable\n\n", ans.Model, ans.Mode, ans.Answerable, ans.Unanswerable)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tEM\tF1\tNoAns acc\twrong refusals\tvalid citations\tuncited\tp50 ms\tp95 ms\t")
		fmt.Fprintf(tw, "with documents\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%.0f\t\n", ans.ExactMatch, ans.F1, ans.NoAnsAccuracy, ans.WrongRefusals, ans.CitationValidity, ans.Uncited, ans.LatencyP50, ans.LatencyP95)
		cb := ans.ClosedBook
		fmt.Fprintf(tw, "closed book\t%.3f\t%.3f\t%.3f\t%.3f\t-\t-\t-\t-\t\n", cb.ExactMatch, cb.F1, cb.NoAnsAccuracy, cb.WrongRefusals)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprint(a.IO.Out, b.String())
	return err
}
