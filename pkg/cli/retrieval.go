package cli

import (
	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/rerank"
	"github.com/rag-cli/rag/pkg/retrieve"
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
	if o.FusionWeight <= 0 || o.FusionWeight > 1 {
		return "", usagef("--fusion-weight must be above 0 and at most 1")
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

// Thresholds are the relevance floor of ask and eval.
type Thresholds struct {
	MinScore, MinRelevance, MinCoverage float32
}

// floor is the retrieve floor of the thresholds.
func (t Thresholds) floor() retrieve.Floor {
	return retrieve.Floor{MinDense: t.MinScore, MinRerank: t.MinRelevance, MinCoverage: t.MinCoverage}
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
