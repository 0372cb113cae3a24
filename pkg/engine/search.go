package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/provider"
	"github.com/rag-cli/rag/pkg/rerank"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/rewrite"
	"github.com/rag-cli/rag/pkg/store"
)

// Retrieval says how a query is searched: the mode and fusion, the
// re-ranker and query expansion, and whether hybrid mode may fall back
// to keywords.
type Retrieval struct {
	Mode   retrieve.Mode
	Fusion retrieve.Fusion
	// FusionWeight is the dense share of a weighted fusion.
	FusionWeight float64
	// Candidates is how many of the best results the re-ranker judges.
	Candidates  int
	Rerank      bool
	RerankModel string
	// Expand asks the chat model ExpandModel for other phrasings of the
	// query and a passage that would answer it, searched beside it.
	Expand      bool
	ExpandModel string
	// Fallback lets hybrid mode rank by keywords alone when the dense
	// ranking cannot run (DenseUnavailable), with a warning.
	Fallback bool
}

// options are the retrieve options of rt for this reader's view, with the
// re-ranker when asked for (nil otherwise).
func (r *Reader) options(rt Retrieval) (retrieve.Options, *rerank.Model) {
	opt := retrieve.Options{View: r.asker.View, Mode: rt.Mode, Fusion: rt.Fusion, DenseWeight: float32(rt.FusionWeight), Candidates: rt.Candidates}
	if !rt.Rerank {
		return opt, nil
	}
	rr := &rerank.Model{Judge: r.e.cfg.Models, Name: rt.RerankModel}
	opt.Rerank = rr
	return opt, rr
}

// SearchRequest is a search: the query, how many results, how.
type SearchRequest struct {
	Query string
	K     int
	Retrieval
	// ChatModel expands the query when Retrieval.ExpandModel is empty.
	ChatModel string
	// Collections narrow the reader's view for this search (Narrow),
	// Filter to the files whose fields match it (NarrowBy).
	Collections []string
	Filter      filter.Filter
	// StrictDamage makes a search that found nothing while files the view
	// sees were left out as damaged a DamagedError ("no results" would be
	// a guess), and warns of the damaged files (WarnDamaged) when there
	// are some: rag search's rule, as AskRequest's for rag ask.
	StrictDamage bool
}

// SearchResult is what a search found.
type SearchResult struct {
	Results []retrieve.Result
	// RerankModel is the model that re-ranked ("" none).
	RerankModel string
	// DamagedFiles were left out: their stored chunks are damaged.
	DamagedFiles []string
	// Expansion is what was searched beside the query.
	Expansion *retrieve.Expansion
	// Degraded is set when a hybrid search ranked by keywords alone.
	Degraded *Degraded
	// NoDenseSignal is set when the query's embedding had no direction
	// and hybrid search ranked by keywords alone.
	NoDenseSignal bool
	// Empty is set when the view sees no chunk at all: nothing was
	// searched (EmptyError says why).
	Empty bool
}

// Search runs a search for the reader's view (of req.Collections when
// set): nothing is searched, and no model server contacted, when the view
// sees no chunk.
func (r *Reader) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	view, err := r.NarrowBy(req.Collections, req.Filter)
	if err != nil {
		return nil, err
	}
	ropt, rr := r.options(req.Retrieval)
	ropt.View = view
	res := &SearchResult{Results: []retrieve.Result{}, Empty: r.Empty()}
	if rr != nil {
		res.RerankModel = rr.Name
	}
	ropt.Degraded = r.noDenseSignal(&res.NoDenseSignal)
	if !res.Empty && !r.filteredOut(view) {
		if ropt.Expansion, err = r.expander(req.Retrieval, req.ChatModel).Expand(ctx, req.Query); err != nil {
			return nil, err
		}
		res.Expansion = ropt.Expansion
		results, fellBack, err := r.searchRanked(ctx, req.Query, req.K, ropt, req.Fallback)
		if err != nil {
			return nil, err
		}
		if results != nil {
			res.Results = results
		}
		res.Degraded = fellBack
	}
	if res.DamagedFiles, err = r.damage(view, len(res.Results), req.StrictDamage); err != nil {
		return nil, err
	}
	return res, nil
}

// noDenseSignal is retrieve.Options.Degraded: a warning, once, and *seen
// set.
func (r *Reader) noDenseSignal(seen *bool) func(error) {
	return func(err error) {
		if !*seen {
			r.events.warn(WarnNoDenseSignal, noDenseText(err))
		}
		*seen = true
	}
}

// Degraded says that a hybrid search ranked by keywords alone, and why.
type Degraded struct {
	// Mode is the mode searched instead: lexical.
	Mode   string `json:"mode"`
	Reason string `json:"reason"`
}

// DenseError is a failure of the dense ranking (the model server down or
// failing, the embedding model missing or not the index's): keyword
// search would work without it.
type DenseError struct{ Err error }

func (e *DenseError) Error() string { return e.Err.Error() }
func (e *DenseError) Unwrap() error { return e.Err }

// DenseUnavailable reports whether err means that the dense ranking cannot
// run now, so that keywords alone can stand in for it; a missing
// embedding model only when it will not be pulled. An interruption or a
// bug is never that.
func DenseUnavailable(err error, pullable bool) bool {
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

// searchRanked is retrieve.Search for the reader, where a failure of the
// dense ranking is handled in one place: hybrid mode with fallback on
// ranks by keywords alone and says so (the returned Degraded, and a
// warning once per reader); otherwise the error is a DenseError.
func (r *Reader) searchRanked(ctx context.Context, query string, k int, ropt retrieve.Options, fallback bool) ([]retrieve.Result, *Degraded, error) {
	err := r.denseErr
	var results []retrieve.Result
	if err == nil || ropt.Mode == retrieve.Lexical {
		results, err = retrieve.Search(ctx, r.store, r.embed, query, k, ropt)
		if err == nil || ropt.Mode == retrieve.Lexical {
			return results, nil, err
		}
	}
	if !DenseUnavailable(err, r.Pullable) {
		return nil, nil, err
	}
	if ropt.Mode != retrieve.Hybrid || !fallback {
		return nil, nil, &DenseError{Err: err}
	}
	ropt.Mode = retrieve.Lexical
	d := &Degraded{Mode: string(retrieve.Lexical), Reason: err.Error()}
	if results, err = retrieve.Search(ctx, r.store, r.embed, query, k, ropt); err != nil {
		return nil, nil, err
	}
	if !r.warnedDegraded {
		r.warnedDegraded = true
		r.events.warn(WarnDegraded, fmt.Sprintf("ranked by keywords alone (as --mode lexical): the dense ranking is unavailable: %s; --fallback=false makes this an error", d.Reason))
	}
	return results, d, nil
}

// expander runs query expansion for rt, with rt.ExpandModel or else
// chatModel; nil when expansion is off.
func (r *Reader) expander(rt Retrieval, chatModel string) *Expander {
	if !rt.Expand {
		return nil
	}
	return &Expander{events: r.events, model: &Completer{Client: r.e.cfg.Models, Model: rt.expandModel(chatModel), Role: ollama.RoleExpand,
		MaxTokens: 400, Options: map[string]any{"temperature": 0}}}
}

// Expander expands queries with a chat model, and counts its calls and
// the replies it could not use.
type Expander struct {
	events Events
	model  rewrite.Completer
	// Quiet counts unusable replies without a warning for each (eval
	// reports their share).
	Quiet           bool
	calls, unusable atomic.Int64
}

// Expand returns the expansion of query, or nil when e is nil or the
// model's reply is not usable: then a warning says so, and the query is
// searched alone.
func (e *Expander) Expand(ctx context.Context, query string) (*retrieve.Expansion, error) {
	if e == nil {
		return nil, nil
	}
	e.calls.Add(1)
	x, err := rewrite.Expand(ctx, e.model, query)
	var unusable *rewrite.UnusableError
	if errors.As(err, &unusable) {
		e.unusable.Add(1)
		if !e.Quiet {
			e.events.warn(WarnExpansion, fmt.Sprintf("query expansion: %v; searched with the query alone", err))
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("expand the query: %w", err)
	}
	return &x, nil
}

// Calls is how many expansions were asked for so far.
func (e *Expander) Calls() int64 { return e.calls.Load() }

// Unusable is how many of them could not be used.
func (e *Expander) Unusable() int64 { return e.unusable.Load() }

// Completer adapts the model server's client to rewrite.Completer.
type Completer struct {
	Client    provider.Client
	Model     string
	Role      ollama.Role
	MaxTokens int
	Options   map[string]any
}

// Complete asks the model for one reply; a reply cut short is returned as
// any other.
func (c *Completer) Complete(ctx context.Context, req rewrite.Request) (string, error) {
	var b strings.Builder
	err := c.Client.Chat(ctx, ollama.ChatRequest{Model: c.Model, Role: c.Role, Options: c.Options, MaxTokens: c.MaxTokens, Format: req.Format, Messages: []ollama.Message{
		{Role: "system", Content: req.System}, {Role: "user", Content: req.User},
	}}, func(s string) error {
		b.WriteString(s)
		return nil
	})
	if errors.Is(err, ollama.ErrCutOff) {
		return b.String(), nil
	}
	return b.String(), err
}
