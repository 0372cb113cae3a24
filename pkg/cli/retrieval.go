package cli

import (
	"math"
	"time"

	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// RetrievalOptions are the retrieval flags of search, ask and eval.
type RetrievalOptions struct {
	// View says who asks, in which tenant (--as, --tenant).
	View ViewOptions
	// Retrieval is how the engine searches: --mode, --fusion, --rerank,
	// --expand, --fallback and the rest.
	engine.Retrieval
	// Timeout bounds each call to the model server: the whole reply, or
	// for an answer the wait for each next piece; 0 means none.
	Timeout time.Duration
}

// bindRetrieval adds the retrieval flags; their defaults are the settings
// (RAG_MODE, RAG_FUSION, RAG_RERANK, RAG_RERANK_MODEL or a config file), so
// a user configures them once.
func bindRetrieval(f *pflag.FlagSet, o *RetrievalOptions, cfg *config.Settings) {
	bindView(f, &o.View, cfg)
	bindFilter(f, &o.View)
	f.StringVar((*string)(&o.Mode), "mode", cfg.String(config.KeyMode), "retrieval: dense (embeddings), lexical (BM25 keywords, no Ollama needed) or hybrid (both, fused); $RAG_MODE or mode: in a config file sets the default")
	bindSetting(f, "mode", config.KeyMode)
	f.StringVar((*string)(&o.Fusion), "fusion", cfg.String(config.KeyFusion), "how hybrid mode fuses its rankings: weighted (normalized scores) or rrf (reciprocal rank); $RAG_FUSION or fusion: sets the default")
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
	if err := o.View.checkFilter(); err != nil {
		return "", err
	}
	m, err := retrieve.ParseMode(string(o.Mode))
	if err != nil {
		return "", usagef("--mode: %v", err)
	}
	if o.Fusion != retrieve.RRF && o.Fusion != retrieve.Weighted {
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

// retrieval is the engine's Retrieval of the flags (validated).
func (o *RetrievalOptions) retrieval() engine.Retrieval { return o.Retrieval }

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
