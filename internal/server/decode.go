package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// retrievalBody is how a search or an ask retrieves, as the CLI's flags
// say it: k, mode, fusion, collections, metadata filters, expansion and
// re-ranking.
type retrievalBody struct {
	K           int      `json:"k"`
	Mode        string   `json:"mode"`
	Fusion      string   `json:"fusion"`
	Collections []string `json:"collections"`
	// Filter are --filter expressions, all of which must hold.
	Filter []string `json:"filter"`
	Expand *bool    `json:"expand"`
	Rerank *bool    `json:"rerank"`
}

// searchBody is the request of POST /v1/search.
type searchBody struct {
	Query string `json:"query"`
	retrievalBody
}

// askBody is the request of POST /v1/ask.
type askBody struct {
	Question string `json:"question"`
	retrievalBody
	MinScore     *float32 `json:"min_score"`
	MinRelevance *float32 `json:"min_relevance"`
	MinCoverage  *float32 `json:"min_coverage"`
	// Stream is "" (the whole answer), "ndjson" or "sse".
	Stream string `json:"stream"`
}

// getBody is the request of POST /v1/get.
type getBody struct {
	Target      string   `json:"target"`
	Collections []string `json:"collections"`
	Filter      []string `json:"filter"`
}

// multiGetBody is the request of POST /v1/multi-get.
type multiGetBody struct {
	Targets     []string `json:"targets"`
	MaxBytes    int      `json:"max_bytes"`
	Collections []string `json:"collections"`
	Filter      []string `json:"filter"`
}

// whoFields are fields a client might send to say who it is: who asks
// comes from its token alone.
var whoFields = map[string]bool{"as": true, "tenant": true, "principal": true, "admin": true}

// decode reads the one JSON object of body into v, strictly: unknown
// fields, trailing data, another type than v's are errors, worded for
// the client. An empty body is an empty object.
func decode(body io.Reader, v any) error {
	// The guard bounds bodies; this bound holds without one.
	data, err := io.ReadAll(io.LimitReader(body, MaxBody+1))
	if err == nil && len(data) > MaxBody {
		err = &http.MaxBytesError{Limit: MaxBody}
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)}
		}
		return badRequest("the request body could not be read: " + err.Error())
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	if !utf8.Valid(data) {
		return badRequest("the request body is not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(decodeMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("the request body holds more than one JSON object")
	}
	return nil
}

// decodeMessage words a decoding error: which field is wrong, where.
func decodeMessage(err error) string {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		if whoFields[strings.ToLower(name)] {
			return fmt.Sprintf("field %q is refused: who asks comes from the token (Authorization: Bearer), never from the request", name)
		}
		return fmt.Sprintf("unknown field %q", name)
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(msg, "json: "))
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %q: want %s, not JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("the request must be a JSON object, not %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the body ends before the object does"
	}
	return "malformed JSON: " + strings.TrimPrefix(msg, "json: ")
}

// checkText checks a query or question: not empty, at most max bytes.
func checkText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", badRequest(field + " is empty")
	case len(s) > max:
		return "", badRequest(fmt.Sprintf("%s is longer than %d bytes", field, max))
	}
	return s, nil
}

// checkK is k, or def when 0, checked against 1..max.
func checkK(k, def, max int) (int, error) {
	if k == 0 {
		k = def
	}
	if k < 1 || k > max {
		return 0, badRequest(fmt.Sprintf("k must be from 1 to %d", max))
	}
	return k, nil
}

// apply lays a request's mode, fusion, expand and rerank over the
// server's retrieval (ParseMode's rule, as --mode's), checks its
// collections and returns its filter, parsed.
func (b *retrievalBody) apply(rt *engine.Retrieval) (filter.Filter, error) {
	f, err := parseFilter(b.Filter)
	if err != nil {
		return f, err
	}
	return f, b.applyRetrieval(rt)
}

// parseFilter parses a request's filter expressions (--filter's grammar):
// a malformed one is a bad request that says at which character.
func parseFilter(exprs []string) (filter.Filter, error) {
	f, err := filter.ParseAll(exprs)
	if err != nil {
		return f, badRequest("filter: " + err.Error())
	}
	return f, nil
}

func (b *retrievalBody) applyRetrieval(rt *engine.Retrieval) error {
	if b.Mode != "" {
		m, err := retrieve.ParseMode(b.Mode)
		if err != nil {
			return badRequest("mode: " + err.Error())
		}
		rt.Mode = m
	}
	if b.Fusion != "" {
		f := retrieve.Fusion(b.Fusion)
		if f != retrieve.RRF && f != retrieve.Weighted {
			return badRequest(fmt.Sprintf("fusion: unknown fusion %q (want rrf or weighted)", b.Fusion))
		}
		rt.Fusion = f
	}
	if b.Expand != nil {
		rt.Expand = *b.Expand
	}
	if b.Rerank != nil {
		rt.Rerank = *b.Rerank
	}
	return checkCollections(b.Collections)
}

// checkFloor checks a floor a request gives (JSON has no NaN, but a
// floor must be a finite number all the same).
func checkFloor(field string, v *float32, into *float32) error {
	if v == nil {
		return nil
	}
	if math.IsNaN(float64(*v)) || math.IsInf(float64(*v), 0) {
		return badRequest(field + " must be a number")
	}
	*into = *v
	return nil
}

// checkCollections refuses empty collection names.
func checkCollections(cs []string) error {
	for _, c := range cs {
		if strings.TrimSpace(c) == "" {
			return badRequest("collections: a name is empty")
		}
	}
	return nil
}
