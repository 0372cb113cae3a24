package cli

import (
	"context"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/retrieve"
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

// evalReport is the --json document of `rag eval`.
type evalReport = engine.EvalReport

func evalRun(ctx context.Context, a *App, opts *EvalOptions) error {
	modes := make([]retrieve.Mode, len(opts.Modes))
	for i, m := range opts.Modes {
		modes[i] = retrieve.Mode(m)
	}
	req := engine.EvalRequest{Dataset: opts.Path, CorpusIndex: opts.CorpusIndex, Who: opts.View.who(), Modes: modes, Limit: opts.Limit, Seed: opts.Seed,
		Ask: engine.AskOptions{Retrieval: opts.retrieval(), K: opts.K, Floor: opts.floor(), Model: opts.Model,
			NumCtx: opts.NumCtx, MaxTokens: opts.MaxTokens, Temperature: opts.Temperature},
		SystemPrompt: opts.SystemPrompt, Examples: opts.Examples, ChatModel: a.cfg.String(config.KeyModel), Tune: opts.Tune,
		Bars: engine.EvalBars{NDCG: opts.MinNDCG, Recall: opts.MinRecall, MRR: opts.MinMRR, F1: opts.MinF1, NoAns: opts.MinNoAns}}
	e := engine.New(engine.Config{Dir: opts.IndexDir, EmbedModel: opts.EmbedModel, GroupsFile: a.cfg.String(config.KeyGroupsFile), Now: a.Now, Fault: a.Fault,
		Dial: a.dial(opts.Timeout)})
	var corpus *engine.EvalCorpus
	rep, err := e.Eval(ctx, req, a.evalEvents(&corpus))
	if err = flagErr(err); rep != nil {
		err = writeEval(a, opts, rep, err)
	}
	if corpus != nil {
		// What an interruption keeps: the corpus indexed so far, or nothing.
		hint := fmt.Sprintf("the corpus indexed so far is kept in %s; run the same command again to continue", corpus.Kept)
		if corpus.Kept == "" {
			hint = "the temporary corpus index was deleted, so nothing is kept; give --corpus-index DIR to keep the corpus index between runs"
		}
		err = onInterrupt(err, hint)
	}
	return err
}

// writeEval writes the report of an eval that ended with err (nil, or a
// bar it missed), and returns err unless writing fails.
func writeEval(a *App, opts *EvalOptions, rep *evalReport, err error) error {
	var werr error
	if opts.JSON {
		werr = writeJSON(a, rep)
	} else {
		werr = writeEvalTable(a, rep)
	}
	if werr != nil {
		return werr
	}
	return err
}

// evalEvents shows an eval's events on stderr: the corpus's index run as
// rag index does, and a progress bar (or log lines) for each step; *corpus
// is set when the dataset's corpus is indexed.
func (a *App) evalEvents(corpus **engine.EvalCorpus) engine.Events {
	index := a.indexEvents("indexing corpus")
	prog := newProgress(a)
	return func(ev engine.Event) {
		switch ev := ev.(type) {
		case engine.EvalCorpus:
			*corpus = &ev
		case engine.EvalProgress:
			if ev.End {
				prog.done()
				return
			}
			prog.start(string(ev.Step))
			prog.set(ev.Done, ev.Total)
		default:
			index(ev)
		}
	}
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
			// Cross-validation: each fold's floor, tuned on the other folds,
			// and what it refuses of the fold's questions.
			if len(mc.Folds) > 0 {
				fmt.Fprintf(&b, "  cross-validated in %d folds by file (floor tuned on the other folds; unanswerable refused, answerable refused):\n", len(mc.Folds))
				worstRefused, worstWrong := 1.0, 0.0
				for i, f := range mc.Folds {
					fmt.Fprintf(&b, "    fold %d  %.2f  %.1f%% of %d, %.1f%% of %d\n", i+1, f.Floor, 100*f.Refused, f.Unanswerable, 100*f.WrongRefusals, f.Answerable)
					worstRefused, worstWrong = min(worstRefused, f.Refused), max(worstWrong, f.WrongRefusals)
				}
				fmt.Fprintf(&b, "    worst         %.1f%%, %.1f%%\n", 100*worstRefused, 100*worstWrong)
			}
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
