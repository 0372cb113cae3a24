// Package engine is rag's application layer: what every face of rag (the
// CLI commands, rag chat, rag mcp, a server) does with an index, with no
// flags, terminal or printing. It resolves who asks once into the store's
// view, opens the index for that reader, and runs searches, answers,
// lookups, status and index runs over the domain packages (store,
// retrieve, answer, indexer, ...). Warnings and progress are events;
// failures are typed errors, which each face turns into its own exit
// codes, hints or HTTP statuses.
//
// A program uses it as the CLI does:
//
//	e := engine.New(engine.Config{Dir: dir, Models: ollama.New(host, nil)})
//	r, err := e.Open(ctx, engine.Who{}, nil)
//	...
//	res, err := r.Search(ctx, engine.SearchRequest{Query: "retry policy", K: 5, ...})
//
// Models is any provider.Client: an Ollama client, an OpenAI-compatible
// one, or a provider.Router that sends each model to its provider.
package engine

import (
	"time"

	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/provider"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// Config is what an Engine works with.
type Config struct {
	// Dir is the index folder.
	Dir string
	// Models is the client of the model servers (embeddings, answers,
	// re-ranking, expansion): every model role goes through it, with the
	// model's name as configured; nil when no command of this engine
	// needs one (lexical search only).
	Models provider.Client
	// EmbedModel is the embedding model asked for ("" the index's, or the
	// default for a new index).
	EmbedModel string
	// GroupsFile names the groups file: which groups each user is in (""
	// none: users are in no group).
	GroupsFile string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Dial, if set, makes the model server's client where Models is nil,
	// when a run first needs it (an index run: once planned), so that a
	// malformed address fails no earlier than the run did without it.
	Dial func() (provider.Client, error)
	// Store, if set, holds the index instead of the embedded store in Dir:
	// a database server's (rag's --store, pkg/store/weaviate).
	Store store.Backend
	// Fault, if set, is called at named points of index writes
	// (store.Options.Hook): the crash tests' build of rag kills itself
	// there.
	Fault func(point string)
	// Resident, if set, keeps the vectors a search scans in memory for
	// every reader of this engine: for faces that search again and again
	// (rag serve), never for one command's single search.
	Resident *store.Resident
}

// Engine runs rag's work for every face. It is safe for concurrent use:
// each reader (Open) is one caller's.
type Engine struct {
	cfg    Config
	groups groupsCache
}

// New returns an engine over cfg.
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{cfg: cfg}
}

// Config is the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Event is what the engine reports while it works: a Warning (or note),
// the Stage a request is at, the prompt it is Sending, the progress of a
// long task.
type Event interface{ event() }

// Warning is something the user should know that is no failure.
type Warning struct {
	Kind WarningKind
	// Text is one sentence, without a "warning:" prefix; file names and
	// server replies in it are as they are (a face escapes them).
	Text string
	// Note is set for what is less than a warning: how a request was
	// served (a face says "note").
	Note bool
	// Path and Count, where set, are what the warning is about (a
	// source, how many files), for faces that word it themselves.
	Path  string
	Count int
}

func (Warning) event() {}

// WarningKind names what a warning is about, for faces that count or
// filter them.
type WarningKind string

// The kinds of warnings.
const (
	// WarnRecoveredCatalog: the catalog was damaged and the previous one
	// is read.
	WarnRecoveredCatalog WarningKind = "recovered_catalog"
	// WarnNoGroups: a user's groups could not be known (no groups file, or
	// the user is not in it) while the index controls access.
	WarnNoGroups WarningKind = "no_groups"
	// WarnDamaged: files were left out as their stored chunks are damaged.
	WarnDamaged WarningKind = "damaged"
	// WarnDegraded: a hybrid search ranked by keywords alone.
	WarnDegraded WarningKind = "degraded"
	// WarnNoDenseSignal: the query's embedding had no direction.
	WarnNoDenseSignal WarningKind = "no_dense_signal"
	// WarnExpansion: query expansion gave nothing usable.
	WarnExpansion WarningKind = "expansion"
	// WarnInvalidCitations: the answer cited numbers no source has
	// (removed from it).
	WarnInvalidCitations WarningKind = "invalid_citations"
	// WarnUncited: the answer cites no source.
	WarnUncited WarningKind = "uncited"
	// WarnTruncated: the answer was cut off at its length limit.
	WarnTruncated WarningKind = "truncated"
	// WarnFilterNone: no document the asker sees matches the metadata
	// filter: nothing was searched.
	WarnFilterNone WarningKind = "filter_none"

	// Notes:

	// NoteDropped: sources were left out as they did not fit in the
	// model's context.
	NoteDropped WarningKind = "dropped_sources"
	// NoteRewriteUnusable: a follow-up's rewrite was not usable; the
	// question is searched as typed.
	NoteRewriteUnusable WarningKind = "rewrite_unusable"
)

// Stage says which step of a request starts, for a face that shows what
// it waits for; StepDone ends the step before.
type Stage struct {
	Step Step
	// Model is the model waited for (StepAnswer).
	Model string
}

func (Stage) event() {}

// Step is a step of a request.
type Step string

// The steps.
const (
	StepRewrite  Step = "rewrite"
	StepRetrieve Step = "retrieve"
	StepAnswer   Step = "answer"
	StepDone     Step = "done"
)

// Sending is the messages an ask sends to the chat model, just before it
// does, with what was searched beside the question.
type Sending struct {
	Expansion *retrieve.Expansion
	Messages  []answer.Message
}

func (Sending) event() {}

// Events receives events; a nil Events drops them.
type Events func(Event)

func (f Events) warn(kind WarningKind, text string) {
	f.emit(Warning{Kind: kind, Text: text})
}

func (f Events) emit(ev Event) {
	if f != nil {
		f(ev)
	}
}
