package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/rag-cli/rag/internal/english"
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// AskOptions say how questions are answered: the retrieval, how many
// sources, the floor below which a chunk is not evidence, the chat model
// and its prompt.
type AskOptions struct {
	Retrieval
	// K is how many sources the model gets, at most.
	K     int
	Floor retrieve.Floor
	// Model is the chat model; it also expands queries when
	// Retrieval.ExpandModel is empty.
	Model string
	// NumCtx is the model's context window in tokens, MaxTokens the
	// longest answer; NumCtx must be larger.
	NumCtx, MaxTokens int
	Temperature       float64
	// Prompt is the system prompt and few-shot block (LoadPrompt).
	Prompt answer.Prompt
}

// AskRequest is a question for Reader.Ask.
type AskRequest struct {
	Question string
	AskOptions
	// Collections narrow the reader's view for this question (Narrow),
	// Filter to the files whose fields match it (NarrowBy).
	Collections []string
	Filter      filter.Filter
	// DryRun stops before the model is called: the result's DryRun holds
	// the messages that would be sent.
	DryRun bool
	// StrictDamage makes an ask that found no evidence while files the
	// view sees were left out as damaged a DamagedError ("the documents
	// do not answer" would be a guess), and warns of the damaged files
	// (WarnDamaged) when there are some: rag ask's rule.
	StrictDamage bool
}

// AskResult is what an ask found and answered.
type AskResult struct {
	// Answer is the model's answer, citations checked, or the abstention
	// when no chunk was evidence (NoEvidence); nil for a dry run that had
	// evidence.
	Answer *answer.Result
	// NoEvidence is set when no chunk was evidence: the model was not
	// called.
	NoEvidence bool
	// DroppedSources were evidence but did not fit in the model's context
	// (the lowest ranked go first, whole); never nil.
	DroppedSources []answer.Source
	// Expansion is what was searched beside the question.
	Expansion *retrieve.Expansion
	// Degraded is set when hybrid retrieval ranked by keywords alone.
	Degraded *Degraded
	// NoDenseSignal is set when the question's embedding had no direction
	// and hybrid retrieval ranked by keywords alone.
	NoDenseSignal bool
	// DamagedFiles were left out: their stored chunks are damaged.
	DamagedFiles []string
	// RerankModel is the model that re-ranked ("" none).
	RerankModel string
	// DryRun is what would be sent, for a DryRun request with evidence.
	DryRun *DryRun
	// Warnings are about the answer (citations, a cut-off): for a face to
	// show after the answer, whose streaming they would interrupt.
	Warnings []Warning
}

// DryRun is what an ask would send to the model.
type DryRun struct {
	Messages []answer.Message
	Sources  []answer.Source
}

// Ask answers a question from the documents of the reader's view (of
// req.Collections when set): retrieval (expansion, fallback, re-ranking
// and floor as req says), the evidence fitted to the model's context,
// the answer streamed to onToken (nil: not streamed) with its citations
// checked. With no evidence it abstains without calling the model; a
// view that sees no chunk is an error (EmptyError). Events say which
// stage runs (Stage), what is sent (Sending) and what was left out.
func (r *Reader) Ask(ctx context.Context, req AskRequest, onToken func(string) error) (*AskResult, error) {
	r.events.emit(Stage{Step: StepRetrieve})
	if r.Empty() {
		return nil, r.EmptyError()
	}
	view, err := r.NarrowBy(req.Collections, req.Filter)
	if err != nil {
		return nil, err
	}
	p := r.pipeline(req.AskOptions)
	res := &AskResult{DroppedSources: []answer.Source{}}
	if r.filteredOut(view) {
		r.events.emit(Stage{Step: StepDone})
		res.NoEvidence, res.Answer, res.DamagedFiles = true, answer.Abstain(), []string{}
		return res, nil
	}
	ropt, rr := r.options(req.Retrieval)
	ropt.View = view
	if rr != nil {
		res.RerankModel = rr.Name
	}
	ropt.Degraded = func(err error) {
		res.NoDenseSignal = true
		if !r.warnedNoDense {
			r.warnedNoDense = true
			r.events.warn(WarnNoDenseSignal, noDenseText(err))
		}
	}
	evidence, err := p.evidence(ctx, req.Question, ropt, res)
	r.events.emit(Stage{Step: StepDone})
	if err != nil {
		return nil, err
	}
	if res.DamagedFiles, err = r.damage(view, len(evidence), req.StrictDamage); err != nil {
		return nil, err
	}
	if len(evidence) == 0 {
		res.NoEvidence, res.Answer = true, answer.Abstain()
		return res, nil
	}
	sources, dropped, err := p.fit(ctx, req.Question, answer.Number(evidence))
	if err != nil {
		return nil, err
	}
	if len(dropped) > 0 {
		res.DroppedSources = dropped
		r.events.emit(Warning{Kind: NoteDropped, Text: droppedText(dropped), Note: true})
	}
	msgs := req.Prompt.Messages(req.Question, sources)
	if req.DryRun {
		res.DryRun = &DryRun{Messages: msgs, Sources: sources}
		return res, nil
	}
	r.events.emit(Sending{Expansion: res.Expansion, Messages: msgs})
	r.events.emit(Stage{Step: StepAnswer, Model: req.Model})
	ans, err := req.Prompt.Ask(ctx, p.chat, req.Question, sources, onToken)
	r.events.emit(Stage{Step: StepDone})
	if err != nil {
		return nil, err
	}
	res.Answer, res.Warnings = ans, answerWarnings(ans, req.MaxTokens)
	return res, nil
}

// damage lists the damaged files of view; strict, an ask that found
// nothing while there are some fails, and they are warned of.
func (r *Reader) damage(view store.View, found int, strict bool) ([]string, error) {
	if !strict {
		return r.damagedPaths(view), nil
	}
	if err := r.noneForDamage(view, found); err != nil {
		return nil, err
	}
	return r.reportDamaged(view), nil
}

func noDenseText(err error) string {
	return fmt.Sprintf("%v; ranked by keywords alone (check the embedding model)", err)
}

func droppedText(dropped []answer.Source) string {
	names := make([]string, len(dropped))
	for i, s := range dropped {
		names[i] = s.Cite()
	}
	return "left out, as they did not fit in the model's context (the lowest ranked first): " + strings.Join(names, ", ")
}

// answerWarnings are the warnings about an answer: citations of no
// source (removed), no citation at all, a cut-off.
func answerWarnings(res *answer.Result, maxTokens int) []Warning {
	var ws []Warning
	if len(res.InvalidCitations) > 0 {
		ws = append(ws, Warning{Kind: WarnInvalidCitations, Text: fmt.Sprintf("the answer cited %s that no source has; removed: %s",
			english.HowMany(len(res.InvalidCitations), "number", "numbers"), numberList(res.InvalidCitations))})
	}
	if res.Uncited {
		ws = append(ws, Warning{Kind: WarnUncited, Text: "the answer cites no source: nothing in it is traced to the documents; check it against the sources"})
	}
	if res.Truncated {
		ws = append(ws, Warning{Kind: WarnTruncated, Text: fmt.Sprintf("the answer was cut off at --max-tokens %d: it may end mid-sentence; raise --max-tokens for the rest", maxTokens)})
	}
	return ws
}

// numberList is "1, 7 and 9".
func numberList(ns []json.Number) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// Narrow is the reader's view narrowed to collections (the reader's own
// when none): a request narrows, never widens, so each must be one the
// reader serves when it serves some (NotServedError), and one the asker
// sees a file of (UnknownCollectionError).
func (r *Reader) Narrow(collections []string) (store.View, error) {
	v := r.asker.View
	var cols []string
	for _, c := range collections {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	if len(cols) == 0 {
		return v, nil
	}
	for _, c := range cols {
		if len(v.Collections) > 0 && !slices.Contains(v.Collections, c) {
			return v, &NotServedError{Name: c, Served: v.Collections}
		}
	}
	v.Collections = cols
	m := r.store.Manifest()
	return v, CheckCollections(&m, v)
}

// NotServedError is a request for a collection outside those its reader
// was opened for.
type NotServedError struct {
	Name   string
	Served []string
}

func (e *NotServedError) Error() string {
	return fmt.Sprintf("collection %q is not among those served (%s)", e.Name, strings.Join(e.Served, ", "))
}

// pipeline is what answering a question takes: its options, the chat
// model and the expander.
type pipeline struct {
	r      *Reader
	o      AskOptions
	chat   *chatter
	expand *Expander
}

func (r *Reader) pipeline(o AskOptions) *pipeline {
	return &pipeline{r: r, o: o, chat: newChatter(r.e.cfg.Models, &o), expand: r.expander(o.Retrieval, o.Model)}
}

// evidence retrieves the chunks the model gets: evidence only, overlaps
// merged, at most K; res gets what was searched beside the question and
// whether hybrid retrieval fell back to keywords. A question the floor
// refuses whatever the embeddings say (retrieve.Unanswerable) is refused
// before anything is embedded, so that the refusal needs no model server.
func (p *pipeline) evidence(ctx context.Context, question string, ropt retrieve.Options, res *AskResult) ([]retrieve.Result, error) {
	if p.expand == nil {
		refused, err := retrieve.Unanswerable(ctx, p.r.store, ropt.View, question, ropt.Mode, p.o.Floor)
		if err != nil || refused {
			return nil, err
		}
	}
	var err error
	if ropt.Expansion, err = p.expand.Expand(ctx, question); err != nil {
		return nil, err
	}
	res.Expansion = ropt.Expansion
	// More results than K: merging overlaps and dropping what is not
	// evidence must still leave K.
	results, fellBack, err := p.r.searchRanked(ctx, question, max(3*p.o.K, 10), ropt, p.o.Fallback)
	if err != nil {
		return nil, err
	}
	res.Degraded = fellBack
	return retrieve.Context(retrieve.Evidence(retrieve.EvidenceQuery(question, ropt.Expansion), results, p.o.Floor), p.o.K), nil
}

// Answerer answers questions with fixed options and no streaming, as
// rag eval measures them: no events of its own, and one expander whose
// calls are counted. It answers from the reader's view.
type Answerer struct {
	p *pipeline
}

// Answerer returns an answerer of o for the reader.
func (r *Reader) Answerer(o AskOptions) *Answerer {
	return &Answerer{p: r.pipeline(o)}
}

// Expander is the answerer's query expander (nil when expansion is off).
func (a *Answerer) Expander() *Expander { return a.p.expand }

// Ask answers question; with no evidence it abstains without calling the
// model.
func (a *Answerer) Ask(ctx context.Context, question string) (*answer.Result, error) {
	ropt, _ := a.p.r.options(a.p.o.Retrieval)
	var res AskResult
	evidence, err := a.p.evidence(ctx, question, ropt, &res)
	if err != nil {
		return nil, err
	}
	if len(evidence) == 0 {
		return answer.Abstain(), nil
	}
	sources, _, err := a.p.fit(ctx, question, answer.Number(evidence))
	if err != nil {
		return nil, err
	}
	return a.p.o.Prompt.Ask(ctx, a.p.chat, question, sources, nil)
}

// ClosedBook answers with the same model and no documents.
func (a *Answerer) ClosedBook(ctx context.Context, question string) (*answer.Result, error) {
	return answer.ClosedBook(ctx, a.p.chat, question)
}
