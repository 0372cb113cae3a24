package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// FuzzDecode: no body panics the decoding and checking of a request, and
// every refusal is a 400 with a message.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"query":"retry","k":3,"mode":"lexical","collections":["a"],"expand":true,"rerank":false}`,
		`{"question":"q","stream":"sse","min_score":0.3,"min_relevance":0.5,"min_coverage":0.1}`,
		`{"target":"guide.md:1-3"}`, `{"targets":["a","b/**"],"max_bytes":100}`,
		`{"as":"user:alice"}`, `{"query":"a"} x`, `[1,2]`, `null`, `"s"`, `{"k":1e400}`, `{"k":-0}`, "\xff", `{"query":"\ud800"}`, ``,
	} {
		f.Add(s)
	}
	s := &server{cfg: Config{MaxK: DefaultMaxK, MaxQuery: DefaultMaxQuery, SearchK: 5,
		Ask: engine.AskOptions{K: 5, Retrieval: engine.Retrieval{Mode: retrieve.Hybrid, Fusion: retrieve.RRF}}}}
	f.Fuzz(func(t *testing.T, body string) {
		check := func(err error) {
			if err == nil {
				return
			}
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusBadRequest || he.msg == "" {
				t.Fatalf("%q: %v", body, err)
			}
		}
		var sb searchBody
		if err := decode(strings.NewReader(body), &sb); err == nil {
			rt := s.cfg.Ask.Retrieval
			_, err := checkK(sb.K, s.cfg.SearchK, s.cfg.MaxK)
			_, aerr := sb.apply(&rt)
			check(errors.Join(err, aerr))
			_, err = checkText("query", sb.Query, s.cfg.MaxQuery)
			check(err)
		} else {
			check(err)
		}
		var ab askBody
		if err := decode(strings.NewReader(body), &ab); err == nil {
			_, err := s.askRequest(&ab)
			check(err)
		} else {
			check(err)
		}
		check(decode(strings.NewReader(body), &getBody{}))
		check(decode(strings.NewReader(body), &multiGetBody{}))
	})
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{&engine.UnknownCollectionError{}, 400, "bad_request"},
		{&engine.RequestError{Field: "as", Err: errors.New("x")}, 400, "bad_request"},
		{&engine.NotIndexedError{Path: "a"}, 404, "not_found"},
		{&engine.EmptyViewError{}, 404, "empty"},
		{engine.ErrEmptyIndex, 404, "empty"},
		{&engine.UnknownTenantError{Tenant: "x"}, 404, "empty"},
		{&store.LockedError{}, 409, "busy"},
		{fmt.Errorf("search: %w", context.DeadlineExceeded), 504, "timeout"},
		{&ollama.TimeoutError{}, 504, "timeout"},
		{&ollama.UnreachableError{}, 503, "model_server"},
		{&ollama.ModelNotFoundError{}, 503, "model_server"},
		{&ollama.StatusError{StatusCode: 500, Err: errors.New("boom")}, 502, "model_server"},
		{&engine.DamagedError{}, 500, "index"},
		{errors.New("other"), 500, "internal"},
	} {
		if status, code := Classify(tc.err); status != tc.status || code != tc.code {
			t.Errorf("%T: %d %q, want %d %q", tc.err, status, code, tc.status, tc.code)
		}
	}
}
