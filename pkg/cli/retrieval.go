package cli

import (
	"strconv"

	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/rerank"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// RetrievalOptions are the retrieval flags of search, ask and eval.
type RetrievalOptions struct {
	Mode        string
	Fusion      string
	Candidates  int
	Rerank      bool
	RerankModel string
}

// bindRetrieval adds the retrieval flags; RAG_MODE, RAG_RERANK and
// RAG_RERANK_MODEL set their defaults, so a user configures them once.
func bindRetrieval(f *pflag.FlagSet, o *RetrievalOptions, env func(string) string) {
	mode := env("RAG_MODE")
	if mode == "" {
		mode = string(config.DefaultMode)
	}
	on, _ := strconv.ParseBool(env("RAG_RERANK"))
	model := env("RAG_RERANK_MODEL")
	if model == "" {
		model = config.DefaultChatModel
	}
	f.StringVar(&o.Mode, "mode", mode, "retrieval: dense (embeddings), lexical (BM25 keywords, no Ollama needed) or hybrid (both, fused); $RAG_MODE sets the default")
	f.StringVar(&o.Fusion, "fusion", string(retrieve.Weighted), "how hybrid mode fuses its rankings: weighted (normalized scores) or rrf (reciprocal rank)")
	f.IntVar(&o.Candidates, "candidates", retrieve.DefaultCandidates, "with --rerank: how many of the best results the model judges")
	f.BoolVar(&o.Rerank, "rerank", on, "re-rank the candidates with an Ollama model's yes/no judgement; $RAG_RERANK=1 sets the default")
	f.StringVar(&o.RerankModel, "rerank-model", model, "Ollama model that re-ranks; $RAG_RERANK_MODEL sets the default")
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
	return m, nil
}

// options builds the retrieve options, with the re-ranker when asked for.
func (o *RetrievalOptions) options(q *queryDeps) (retrieve.Options, *rerank.Model) {
	opt := retrieve.Options{Mode: retrieve.Mode(o.Mode), Fusion: retrieve.Fusion(o.Fusion), Candidates: o.Candidates}
	if !o.Rerank {
		return opt, nil
	}
	rr := &rerank.Model{Judge: q.client, Name: o.RerankModel}
	opt.Rerank = rr
	return opt, rr
}
