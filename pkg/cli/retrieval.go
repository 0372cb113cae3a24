package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/rerank"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/rewrite"
	"github.com/rag-cli/rag/pkg/store"
)

// RetrievalOptions are the retrieval flags of search, ask and eval.
type RetrievalOptions struct {
	// View says who asks, in which tenant (--as, --tenant).
	View   ViewOptions
	Mode   string
	Fusion string
	// FusionWeight is the dense share of a weighted fusion.
	FusionWeight float64
	Candidates   int
	Rerank       bool
	RerankModel  string
	// Expand asks the chat model ExpandModel for other phrasings of the
	// query and a passage that would answer it, searched beside it.
	Expand      bool
	ExpandModel string
	// Timeout bounds each call to the model server: the whole reply, or
	// for an answer the wait for each next piece; 0 means none.
	Timeout time.Duration
	// Fallback lets hybrid mode rank by keywords alone when the dense
	// ranking cannot run (denseUnavailable), with a warning.
	Fallback bool
}

// bindRetrieval adds the retrieval flags; their defaults are the settings
// (RAG_MODE, RAG_FUSION, RAG_RERANK, RAG_RERANK_MODEL or a config file), so
// a user configures them once.
func bindRetrieval(f *pflag.FlagSet, o *RetrievalOptions, cfg *config.Settings) {
	bindView(f, &o.View, cfg)
	f.StringVar(&o.Mode, "mode", cfg.String(config.KeyMode), "retrieval: dense (embeddings), lexical (BM25 keywords, no Ollama needed) or hybrid (both, fused); $RAG_MODE or mode: in a config file sets the default")
	bindSetting(f, "mode", config.KeyMode)
	f.StringVar(&o.Fusion, "fusion", cfg.String(config.KeyFusion), "how hybrid mode fuses its rankings: weighted (normalized scores) or rrf (reciprocal rank); $RAG_FUSION or fusion: sets the default")
	bindSetting(f, "fusion", config.KeyFusion)
	f.Float64Var(&o.FusionWeight, "fusion-weight", cfg.Float(config.KeyFusionWeight), "with weighted fusion: the dense ranking's share, above 0 and at most 1 (rag eval --tune finds the best); fusion_weight: sets the default")
	bindSetting(f, "fusion-weight", config.KeyFusionWeight)
	f.IntVar(&o.Candidates, "candidates", retrieve.DefaultCandidates, "with --rerank: how many of the best results the model judges")
	f.BoolVar(&o.Rerank, "rerank", cfg.Bool(config.KeyRerank), "re-rank the candidates with an Ollama model's yes/no judgement; $RAG_RERANK=1 or rerank: true sets the default")
	bindSetting(f, "rerank", config.KeyRerank)
	f.StringVar(&o.RerankModel, "rerank-model", cfg.String(config.KeyRerankModel), "Ollama model that re-ranks; $RAG_RERANK_MODEL or rerank_model: sets the default")
	bindSetting(f, "rerank-model", config.KeyRerankModel)
	f.BoolVar(&o.Expand, "expand", cfg.Bool(config.KeyExpand), "query expansion: a chat model writes 3 other phrasings of the query (searched in every channel) and a passage that would answer it (dense channel); the query itself counts double; $RAG_EXPAND=1 or expand: true sets the default")
	bindSetting(f, "expand", config.KeyExpand)
	f.StringVar(&o.ExpandModel, "expand-model", cfg.String(config.KeyExpandModel), "Ollama chat model that expands queries (default: the chat model, --model or model:); $RAG_EXPAND_MODEL or expand_model: sets the default")
	bindSetting(f, "expand-model", config.KeyExpandModel)
	f.DurationVar(&o.Timeout, "timeout", defaultModelTimeout, "give up on the model server when a reply takes longer (for an answer: when its next piece does); 0 waits for ever")
	f.BoolVar(&o.Fallback, "fallback", cfg.Bool(config.KeyFallback), "hybrid mode: when the dense ranking cannot run (Ollama down, the embedding model missing or not the index's), rank by keywords alone with a warning; --fallback=false makes it an error; $RAG_FALLBACK or fallback: sets the default")
	bindSetting(f, "fallback", config.KeyFallback)
}

// validate checks the flags and returns the mode.
func (o *RetrievalOptions) validate() (retrieve.Mode, error) {
	m, err := retrieve.ParseMode(o.Mode)
	if err != nil {
		return "", usagef("--mode: %v", err)
	}
	if o.Fusion != string(retrieve.RRF) && o.Fusion != string(retrieve.Weighted) {
		return "", usagef("--fusion: unknown fusion %q (want rrf or weighted)", o.Fusion)
	}
	if o.Candidates < 1 {
		return "", usagef("--candidates must be at least 1")
	}
	if !(o.FusionWeight > 0 && o.FusionWeight <= 1) { // NaN too
		return "", usagef("--fusion-weight must be above 0 and at most 1")
	}
	if o.Timeout < 0 {
		return "", usagef("--timeout must not be negative")
	}
	return m, nil
}

// options builds the retrieve options, with the re-ranker when asked for.
func (o *RetrievalOptions) options(q *queryDeps) (retrieve.Options, *rerank.Model) {
	opt := retrieve.Options{View: q.view, Mode: retrieve.Mode(o.Mode), Fusion: retrieve.Fusion(o.Fusion), DenseWeight: float32(o.FusionWeight), Candidates: o.Candidates}
	if !o.Rerank {
		return opt, nil
	}
	rr := &rerank.Model{Judge: q.client, Name: o.RerankModel}
	opt.Rerank = rr
	return opt, rr
}

// degraded says that a hybrid search ranked by keywords alone, and why
// (--json: "degraded").
type degraded struct {
	// Mode is the mode searched instead: lexical.
	Mode   string `json:"mode"`
	Reason string `json:"reason"`
}

// denseError is a failure of the dense ranking (Ollama down or failing,
// the embedding model missing or not the index's): classify adds to its
// hint that --mode lexical searches without it.
type denseError struct{ err error }

func (e *denseError) Error() string { return e.err.Error() }
func (e *denseError) Unwrap() error { return e.err }

// denseUnavailable reports whether err means that the dense ranking cannot
// run now, so that keywords alone can stand in for it; a missing
// embedding model only when it will not be pulled (pullable: --pull, or a
// terminal that offers to). An interruption or a bug is never that.
func denseUnavailable(err error, pullable bool) bool {
	var (
		unreach  *ollama.UnreachableError
		retries  *embed.RetryError
		missing  *ollama.ModelNotFoundError
		mismatch *store.ModelMismatchError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &missing):
		return !pullable
	}
	return errors.As(err, &unreach) || errors.As(err, &retries) || errors.As(err, &mismatch)
}

// search is retrieve.Search for q, where a failure of the dense ranking is
// handled in one place: hybrid mode with fallback on ranks by keywords
// alone and says so (the returned degraded, and a warning once per q);
// otherwise the error is a denseError, whose hint names --mode lexical.
func (q *queryDeps) search(ctx context.Context, a *App, query string, k int, ropt retrieve.Options, fallback bool) ([]retrieve.Result, *degraded, error) {
	err := q.denseErr
	var results []retrieve.Result
	if err == nil || ropt.Mode == retrieve.Lexical {
		results, err = retrieve.Search(ctx, q.store, q.embed, query, k, ropt)
		if err == nil || ropt.Mode == retrieve.Lexical {
			return results, nil, err
		}
	}
	pullable := q.pull || a.IO.IsStdinTTY() && a.IO.IsStderrTTY()
	if !denseUnavailable(err, pullable) {
		return nil, nil, err
	}
	if ropt.Mode != retrieve.Hybrid || !fallback {
		return nil, nil, &denseError{err: err}
	}
	ropt.Mode = retrieve.Lexical
	d := &degraded{Mode: string(retrieve.Lexical), Reason: err.Error()}
	if results, err = retrieve.Search(ctx, q.store, q.embed, query, k, ropt); err != nil {
		return nil, nil, err
	}
	if !q.warnedDegraded {
		q.warnedDegraded = true
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: ranked by keywords alone (as --mode lexical): the dense ranking is unavailable: %s; --fallback=false makes this an error\n", a.errText(d.Reason))
	}
	return results, d, nil
}

// expander runs query expansion for a command, with --expand-model or
// else chatModel; nil when it is off.
func (o *RetrievalOptions) expander(a *App, q *queryDeps, chatModel string) *expander {
	if !o.Expand {
		return nil
	}
	return &expander{a: a, model: &completer{client: q.client, model: cmp.Or(o.ExpandModel, chatModel), role: ollama.RoleExpand,
		maxTokens: 400, options: map[string]any{"temperature": 0}}}
}

// expander expands queries with a chat model, and counts its calls and
// the replies it could not use.
type expander struct {
	a     *App
	model rewrite.Completer
	// quiet counts unusable replies without a warning for each (eval
	// reports their share).
	quiet           bool
	calls, unusable atomic.Int64
}

// expand returns the expansion of query, or nil when e is nil or the
// model's reply is not usable: then a warning says so, and the query is
// searched alone.
func (e *expander) expand(ctx context.Context, query string) (*retrieve.Expansion, error) {
	if e == nil {
		return nil, nil
	}
	e.calls.Add(1)
	x, err := rewrite.Expand(ctx, e.model, query)
	var unusable *rewrite.UnusableError
	if errors.As(err, &unusable) {
		e.unusable.Add(1)
		if e.quiet {
			return nil, nil
		}
		fmt.Fprintf(e.a.IO.ErrOut, "rag: warning: query expansion: %v; searched with the query alone\n", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("expand the query: %w", err)
	}
	return &x, nil
}

// Calls is how many expansions were asked for so far.
func (e *expander) Calls() int64 { return e.calls.Load() }

// Unusable is how many of them could not be used.
func (e *expander) Unusable() int64 { return e.unusable.Load() }

// completer adapts the Ollama client to rewrite.Completer.
type completer struct {
	client    *ollama.Client
	model     string
	role      ollama.Role
	maxTokens int
	options   map[string]any
}

func (c *completer) Complete(ctx context.Context, req rewrite.Request) (string, error) {
	var b strings.Builder
	err := c.client.Chat(ctx, ollama.ChatRequest{Model: c.model, Role: c.role, Options: c.options, MaxTokens: c.maxTokens, Format: req.Format, Messages: []ollama.Message{
		{Role: "system", Content: req.System}, {Role: "user", Content: req.User},
	}}, func(s string) error {
		b.WriteString(s)
		return nil
	})
	if errors.Is(err, ollama.ErrCutOff) {
		return b.String(), nil // a reply cut short is judged as any other
	}
	return b.String(), err
}

// Thresholds are the relevance floor of ask and eval.
type Thresholds struct {
	MinScore, MinRelevance, MinCoverage float32
}

// floor is the retrieve floor of the thresholds.
func (t Thresholds) floor() retrieve.Floor {
	return retrieve.Floor{MinDense: t.MinScore, MinRerank: t.MinRelevance, MinCoverage: t.MinCoverage}
}

// check refuses a floor that is not a number: NaN compares false with
// every score, so it let everything through.
func (t Thresholds) check() error {
	for _, f := range []struct {
		flag string
		v    float32
	}{{"--min-score", t.MinScore}, {"--min-relevance", t.MinRelevance}, {"--min-coverage", t.MinCoverage}} {
		if math.IsNaN(float64(f.v)) || math.IsInf(float64(f.v), 0) {
			return usagef("%s must be a number", f.flag)
		}
	}
	return nil
}

// bindThresholds adds --min-score, --min-relevance and --min-coverage of
// ask and eval.
func bindThresholds(f *pflag.FlagSet, t *Thresholds, cfg *config.Settings) {
	minScore, minRelevance := &t.MinScore, &t.MinRelevance
	f.Float32Var(&t.MinCoverage, "min-coverage", float32(cfg.Float(config.KeyMinCoverage)), "with keyword ranking (lexical, hybrid): the share of the question's attainable BM25 the best chunk must reach, else rag says the documents do not answer it; min_coverage: sets the default")
	bindSetting(f, "min-coverage", config.KeyMinCoverage)
	f.Float32Var(minScore, "min-score", float32(cfg.Float(config.KeyMinScore)), "embedding similarity below which a chunk is not evidence; min_score: in a config file sets the default")
	bindSetting(f, "min-score", config.KeyMinScore)
	f.Float32Var(minRelevance, "min-relevance", float32(cfg.Float(config.KeyMinRelevance)), "with --rerank: judged probability of relevance below which a chunk is not evidence; min_relevance: sets the default")
	bindSetting(f, "min-relevance", config.KeyMinRelevance)
}
