package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/store"
)

// caller is the request's caller (authenticate put it there; the public
// caller when no Authenticator did).
func caller(r *http.Request) Caller {
	c, _ := CallerFrom(r.Context())
	return c
}

// read runs fn on a reader of the index for the request's caller, as the
// index is now (readers.get), and answers fn's value as JSON (or the
// error): a commit by rag index in another process, or a changed groups
// file, counts at the next request, and no reader is shared between
// concurrent requests (a Reader is not safe for concurrent use).
func (s *server) read(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, rd *engine.Reader) (any, error)) {
	v, err := s.withReader(r, fn)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) withReader(r *http.Request, fn func(ctx context.Context, rd *engine.Reader) (any, error)) (v any, err error) {
	ctx := r.Context()
	who := caller(r).Who
	rd, err := s.readers.get(ctx, who)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			// A reader that failed is not kept: what failed may be its own.
			err = errors.Join(err, rd.Close())
			return
		}
		err = s.readers.put(who, rd)
	}()
	return fn(ctx, rd)
}

func (s *server) search(w http.ResponseWriter, r *http.Request) {
	var b searchBody
	if err := decode(r.Body, &b); err != nil {
		s.fail(w, err)
		return
	}
	q, err := checkText("query", b.Query, s.cfg.MaxQuery)
	if err != nil {
		s.fail(w, err)
		return
	}
	k, err := checkK(b.K, s.cfg.SearchK, s.cfg.MaxK)
	if err != nil {
		s.fail(w, err)
		return
	}
	rt := s.cfg.Ask.Retrieval
	f, err := b.apply(&rt)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.read(w, r, func(ctx context.Context, rd *engine.Reader) (any, error) {
		res, err := rd.Search(ctx, engine.SearchRequest{Query: q, K: k, Retrieval: rt, ChatModel: s.cfg.Ask.Model, Collections: b.Collections, Filter: f, StrictDamage: true})
		if err != nil {
			return nil, err
		}
		return engine.SearchReport{Query: q, Mode: string(rt.Mode), RerankModel: res.RerankModel, Results: res.Results, DamagedFiles: res.DamagedFiles,
			Expansion: res.Expansion, Degraded: res.Degraded, NoDenseSignal: res.NoDenseSignal}, nil
	})
}

// askRequest is a checked ask body as the engine takes it.
func (s *server) askRequest(b *askBody) (engine.AskRequest, error) {
	q, err := checkText("question", b.Question, s.cfg.MaxQuery)
	if err != nil {
		return engine.AskRequest{}, err
	}
	o := s.cfg.Ask
	if o.K, err = checkK(b.K, o.K, s.cfg.MaxK); err != nil {
		return engine.AskRequest{}, err
	}
	f, ferr := b.apply(&o.Retrieval)
	err = errors.Join(ferr,
		checkFloor("min_score", b.MinScore, &o.Floor.MinDense), checkFloor("min_relevance", b.MinRelevance, &o.Floor.MinRerank),
		checkFloor("min_coverage", b.MinCoverage, &o.Floor.MinCoverage))
	if err != nil {
		return engine.AskRequest{}, err
	}
	switch b.Stream {
	case "", "ndjson", "sse":
	default:
		return engine.AskRequest{}, badRequest(fmt.Sprintf("stream: want \"ndjson\", \"sse\" or none, not %q", b.Stream))
	}
	return engine.AskRequest{Question: q, AskOptions: o, Collections: b.Collections, Filter: f, StrictDamage: true}, nil
}

// askReport is the --json document of rag ask for res.
func askReport(req engine.AskRequest, res *engine.AskResult) engine.AskReport {
	return engine.AskReport{Question: req.Question, Model: req.Model, Mode: string(req.Mode), RerankModel: res.RerankModel, DamagedFiles: res.DamagedFiles,
		DroppedSources: res.DroppedSources, Expansion: res.Expansion, NoDenseSignal: res.NoDenseSignal, Degraded: res.Degraded, Result: res.Answer}
}

func (s *server) ask(w http.ResponseWriter, r *http.Request) {
	var b askBody
	if err := decode(r.Body, &b); err != nil {
		s.fail(w, err)
		return
	}
	req, err := s.askRequest(&b)
	if err != nil {
		s.fail(w, err)
		return
	}
	if b.Stream == "" {
		s.read(w, r, func(ctx context.Context, rd *engine.Reader) (any, error) {
			res, err := rd.Ask(ctx, req, nil)
			if err != nil {
				return nil, err
			}
			return askReport(req, res), nil
		})
		return
	}
	st := newStream(w, b.Stream)
	rep, err := s.withReader(r, func(ctx context.Context, rd *engine.Reader) (any, error) {
		res, err := rd.Ask(ctx, req, st.token)
		if err != nil {
			return nil, err
		}
		return askReport(req, res), nil
	})
	if err != nil {
		if !st.started {
			s.fail(w, err) // nothing sent yet: the error has its status
			return
		}
		_, code, msg, hint := s.describe(err)
		st.send("error", streamError{Type: "error", Error: errorObject{Code: code, Message: msg, Hint: hint}})
		return
	}
	st.send("result", streamResult{Type: "result", Result: rep})
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	var b getBody
	if err := decode(r.Body, &b); err != nil {
		s.fail(w, err)
		return
	}
	target, err := checkText("target", b.Target, s.cfg.MaxQuery)
	if err == nil {
		err = checkCollections(b.Collections)
	}
	var f filter.Filter
	if err == nil {
		f, err = parseFilter(b.Filter)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.read(w, r, func(ctx context.Context, rd *engine.Reader) (any, error) {
		n, err := narrow(rd, b.Collections, f)
		if err != nil {
			return nil, err
		}
		return n.Get(ctx, target)
	})
}

// narrow is rd narrowed to a request's collections and filter
// (Reader.NarrowBy: a request narrows, never widens).
func narrow(rd *engine.Reader, collections []string, f filter.Filter) (*engine.Reader, error) {
	v, err := rd.NarrowBy(collections, f)
	if err != nil {
		return nil, err
	}
	return rd.WithView(v)
}

func (s *server) multiGet(w http.ResponseWriter, r *http.Request) {
	var b multiGetBody
	if err := decode(r.Body, &b); err != nil {
		s.fail(w, err)
		return
	}
	f, err := parseFilter(b.Filter)
	if err == nil {
		err = checkCollections(b.Collections)
	}
	switch {
	case err != nil:
	case b.MaxBytes < 0 || b.MaxBytes > MaxMultiGetBytes:
		err = badRequest(fmt.Sprintf("max_bytes must be from 1 to %d (0: the default)", MaxMultiGetBytes))
	case len(b.Targets) > engine.MaxMultiGetFiles:
		err = badRequest(fmt.Sprintf("at most %d targets", engine.MaxMultiGetFiles))
	}
	for _, t := range b.Targets {
		if err == nil && len(t) > s.cfg.MaxQuery {
			err = badRequest(fmt.Sprintf("a target is longer than %d bytes", s.cfg.MaxQuery))
		}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.read(w, r, func(ctx context.Context, rd *engine.Reader) (any, error) {
		n, err := narrow(rd, b.Collections, f)
		if err != nil {
			return nil, err
		}
		return n.MultiGet(ctx, engine.MultiGetRequest{Targets: b.Targets, MaxBytes: b.MaxBytes})
	})
}

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	rep, err := s.cfg.Engine.Status(r.Context(), caller(r).Who, engine.StatusRequest{}, nil)
	var (
		damaged *engine.DamagedError
		corrupt *store.CorruptError
	)
	if err != nil && !(rep != nil && (errors.As(err, &damaged) || errors.As(err, &corrupt))) {
		s.fail(w, err)
		return
	}
	// A damaged index is a report (its health says so), as rag status
	// --json writes it: the caller learns which of its files are damaged.
	writeJSON(w, http.StatusOK, rep)
}

// collectionsReport is the answer of GET /v1/collections.
type collectionsReport struct {
	Collections []string `json:"collections"`
}

func (s *server) collections(w http.ResponseWriter, r *http.Request) {
	cs, err := s.cfg.Engine.Collections(r.Context(), caller(r).Who)
	if err != nil {
		s.fail(w, err)
		return
	}
	if cs == nil {
		cs = []string{}
	}
	writeJSON(w, http.StatusOK, collectionsReport{Collections: cs})
}

// index re-indexes the sources the index records, for an admin caller:
// a run whose files partly failed answers its report all the same (its
// failed_files say which).
func (s *server) index(w http.ResponseWriter, r *http.Request) {
	if !caller(r).Admin {
		s.fail(w, &httpError{status: http.StatusForbidden, code: "forbidden", msg: "re-indexing takes an admin token",
			hint: "rag token add NAME --admin makes one"})
		return
	}
	var b struct{}
	if err := decode(r.Body, &b); err != nil {
		s.fail(w, err)
		return
	}
	rep, err := s.cfg.Engine.Index(r.Context(), engine.IndexRequest{}, nil)
	var partial *engine.PartialError
	if err != nil && !(errors.As(err, &partial) && rep != nil) {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// Streams of ask: a token per piece of the answer, then the result (or
// an error once pieces were sent).
type (
	streamToken struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	streamResult struct {
		Type   string `json:"type"`
		Result any    `json:"result"`
	}
	streamError struct {
		Type  string      `json:"type"`
		Error errorObject `json:"error"`
	}
)
