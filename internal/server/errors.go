package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/store"
)

// httpError is an error the server words itself (a bad request, a
// refused caller).
type httpError struct {
	status    int
	code, msg string
	hint      string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(msg string) error {
	return &httpError{status: http.StatusBadRequest, code: "bad_request", msg: msg}
}

// errorBody is the JSON of an error: the CLI's --json error object, with
// a string code.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Classify is the one place that maps an error to an HTTP status and the
// error JSON's code. A face's ErrorText may call it and add its hints.
func Classify(err error) (status int, code string) {
	var (
		he         *httpError
		req        *engine.RequestError
		unknownCol *engine.UnknownCollectionError
		unknownTen *engine.UnknownTenantError
		notServed  *engine.NotServedError
		emptyView  *engine.EmptyViewError
		locked     *store.LockedError
		mismatch   *store.ModelMismatchError
		missing    *ollama.ModelNotFoundError
		unreach    *ollama.UnreachableError
		timeout    *ollama.TimeoutError
		dropped    *ollama.DroppedError
		tooLarge   *ollama.ReplyTooLargeError
		statusErr  *ollama.StatusError
	)
	switch {
	case errors.As(err, &he):
		return he.status, he.code
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &timeout):
		return http.StatusGatewayTimeout, "timeout"
	case errors.Is(err, context.Canceled):
		// The client went away: nobody reads the status.
		return 499, "canceled"
	case errors.As(err, &req), errors.As(err, &unknownCol), errors.As(err, &notServed):
		return http.StatusBadRequest, "bad_request"
	case engine.IsNotFound(err):
		return http.StatusNotFound, "not_found"
	case errors.As(err, &emptyView), errors.As(err, &unknownTen), errors.Is(err, engine.ErrEmptyIndex), errors.Is(err, store.ErrNoIndex):
		// Nothing to search for this caller (a tenant with no document
		// yet too): not found, not a fault.
		return http.StatusNotFound, "empty"
	case errors.As(err, &locked):
		return http.StatusConflict, "busy"
	case errors.As(err, &missing), errors.As(err, &unreach):
		return http.StatusServiceUnavailable, "model_server"
	case errors.As(err, &dropped), errors.As(err, &tooLarge), errors.As(err, &statusErr), errors.Is(err, ollama.ErrTooLong):
		return http.StatusBadGateway, "model_server"
	case errors.As(err, &mismatch), indexError(err):
		return http.StatusInternalServerError, "index"
	}
	return http.StatusInternalServerError, "internal"
}

// indexError reports whether err is the index's fault: damaged, gone,
// of another version.
func indexError(err error) bool {
	var (
		damaged *engine.DamagedError
		corrupt *store.CorruptError
		gone    *store.GoneError
		version *store.VersionError
		empty   *indexer.EmptyFolderError
	)
	return errors.As(err, &damaged) || errors.As(err, &corrupt) || errors.As(err, &gone) || errors.As(err, &version) ||
		errors.As(err, &empty) || errors.Is(err, answer.ErrCutOff)
}

// fail answers err with its status and the error JSON.
func (s *server) fail(w http.ResponseWriter, err error) {
	status, code, msg, hint := s.describe(err)
	writeJSON(w, status, errorBody{Error: errorObject{Code: code, Message: msg, Hint: hint}})
}

// describe is err as the client reads it: Classify's status and code,
// the message, and ErrorText's words where it has some.
func (s *server) describe(err error) (status int, code, msg, hint string) {
	status, code = Classify(err)
	msg = err.Error()
	var he *httpError
	if errors.As(err, &he) {
		hint = he.hint
	}
	if s.cfg.ErrorText != nil && !errors.As(err, &he) {
		st, c, m, h := s.cfg.ErrorText(err)
		if st != 0 {
			status = st
		}
		if c != "" {
			code = c
		}
		if m != "" {
			msg = m
		}
		if h != "" {
			hint = h
		}
	}
	return status, code, msg, hint
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"the answer could not be encoded"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// A client gone mid-answer is no error of the server's.
	_, _ = w.Write(append(b, '\n'))
}
