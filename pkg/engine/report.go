package engine

import (
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// SearchReport is the JSON document of a search, the same for every face
// that gives one (rag search --json, the MCP search tool): the query and
// mode beside what the search found.
type SearchReport struct {
	Query       string            `json:"query"`
	Mode        string            `json:"mode"`
	RerankModel string            `json:"rerank_model,omitempty"`
	Results     []retrieve.Result `json:"results"`
	// DamagedFiles were left out: their stored chunks are damaged.
	DamagedFiles []string `json:"damaged_files"`
	// Expansion is what was searched beside the query (--expand).
	Expansion *retrieve.Expansion `json:"expansion,omitempty"`
	// Degraded is set when a hybrid search ranked by keywords alone.
	Degraded *Degraded `json:"degraded,omitempty"`
	// NoDenseSignal is set when the query's embedding had no direction
	// and hybrid search ranked by keywords alone.
	NoDenseSignal bool `json:"no_dense_signal"`
}

// AskReport is the JSON document of an answer, the same for every face
// that gives one (rag ask --json, the MCP ask tool).
type AskReport struct {
	Question    string `json:"question"`
	Model       string `json:"model"`
	Mode        string `json:"mode"`
	RerankModel string `json:"rerank_model,omitempty"`
	// DamagedFiles were left out: their stored chunks are damaged.
	DamagedFiles []string `json:"damaged_files"`
	// DroppedSources were evidence but did not fit in the model's context
	// (the lowest ranked go first, whole).
	DroppedSources []answer.Source `json:"dropped_sources"`
	// Expansion is what was searched beside the question (--expand).
	Expansion *retrieve.Expansion `json:"expansion,omitempty"`
	// NoDenseSignal: see SearchReport.
	NoDenseSignal bool `json:"no_dense_signal"`
	// Degraded is set when hybrid retrieval ranked by keywords alone.
	Degraded *Degraded `json:"degraded,omitempty"`
	*answer.Result
}
