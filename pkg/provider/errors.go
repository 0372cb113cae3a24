package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Every error below names the server's provider (Provider) when it is a
// configured one, and is worded as it always was for the default Ollama
// server (Provider ""), so that output without providers stays the same.

// UnreachableError means no server answered at Host.
type UnreachableError struct {
	Host string
	Err  error
	// Provider is the configured provider's name, "" for Ollama at
	// OLLAMA_HOST.
	Provider string
}

func (e *UnreachableError) Error() string {
	reason := e.Err
	var op *net.OpError
	if errors.As(e.Err, &op) {
		reason = op.Err // "connection refused", not the whole request line
	}
	if e.Provider != "" {
		return fmt.Sprintf("cannot reach provider %s at %s: %v", e.Provider, e.Host, reason)
	}
	return fmt.Sprintf("cannot reach Ollama at %s: %v", e.Host, reason)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ModelNotFoundError means the server answered but does not have the model.
type ModelNotFoundError struct {
	// Model is the name as the user gave it (with its provider's prefix).
	Model string
	Role  Role
	// Provider is the configured provider's name, "" for Ollama at
	// OLLAMA_HOST.
	Provider string
	// NoPull is set when the provider's server cannot pull models.
	NoPull bool
}

func (e *ModelNotFoundError) Error() string {
	if e.Provider != "" {
		return fmt.Sprintf("model %q is not available from provider %s", e.Model, e.Provider)
	}
	return fmt.Sprintf("model %q is not available on the Ollama server", e.Model)
}

// StatusError is an error answer of the server: its HTTP status says
// whether asking again can help (Temporary).
type StatusError struct {
	StatusCode int
	Err        error // the server's message
	// Provider is the configured provider's name, "" for Ollama at
	// OLLAMA_HOST.
	Provider string
	// KeyEnv names the environment variable of the provider's API key
	// (never the key), for the hint of a 401 or 403; KeySet says whether
	// it held one.
	KeyEnv string
	KeySet bool
	// TooLong is set when the server said an input is longer than the
	// model's context in words tooLong does not know (a code).
	TooLong bool
}

func (e *StatusError) Error() string {
	if e.Provider != "" {
		return fmt.Sprintf("provider %s: %v", e.Provider, e.Err)
	}
	return "ollama: " + e.Err.Error()
}

func (e *StatusError) Unwrap() error { return e.Err }

// Temporary reports whether the same request may succeed later: a server
// error (5xx), too many requests (429) or a request timeout (408). Any
// other client error (4xx) is permanent: the request itself is refused.
func (e *StatusError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout
}

// Is makes an answer that an input is too long for the model's context
// ErrTooLong.
func (e *StatusError) Is(target error) bool {
	return target == ErrTooLong && e.StatusCode == http.StatusBadRequest && (e.TooLong || IsTooLong(e.Err.Error()))
}

// ErrTooLong means an input is longer than the model's context and was
// not truncated.
var ErrTooLong = errors.New("input longer than the model's context")

// IsTooLong recognizes servers' messages for an input longer than the
// context: Ollama's runner's "the input length exceeds the context
// length", its server's "input exceeds maximum context length and cannot
// be truncated further" and "input after truncation exceeds maximum
// context length" (server/routes.go and runner/*/runner.go of v0.17.4);
// OpenAI's and vLLM's "This model's maximum context length is N tokens",
// llama.cpp's "the request exceeds the available context size".
func IsTooLong(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "exceeds the context length") || strings.Contains(msg, "exceeds maximum context length") ||
		strings.Contains(msg, "maximum context length is") || strings.Contains(msg, "exceeds the available context size")
}

// ReplyTooLargeError is a reply longer than it can legitimately be.
type ReplyTooLargeError struct {
	Host  string
	Path  string // the endpoint, /api/embed
	Limit int64
	// Announced is the size the server announced (Content-Length), or
	// -1 when it sent more than Limit without announcing it.
	Announced int64
}

func (e *ReplyTooLargeError) Error() string {
	if e.Announced >= 0 {
		return fmt.Sprintf("the model server at %s announced a reply of %s to %s, more than it can hold (at most %s): not read",
			e.Host, byteSize(e.Announced), e.Path, byteSize(e.Limit))
	}
	return fmt.Sprintf("the model server at %s sent a reply to %s longer than it can hold (at most %s): stopped reading", e.Host, e.Path, byteSize(e.Limit))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// TimeoutError is a call the server did not finish within the client's
// Timeout: a reply that never came or came too slowly, or a stream that
// stopped moving. It is a context.DeadlineExceeded: retrying it as soon
// does not help.
type TimeoutError struct {
	Host  string
	After time.Duration
	// Stream is set when a streamed reply (an answer, a pull) went
	// silent for After; otherwise the whole call took longer.
	Stream bool
}

func (e *TimeoutError) Error() string {
	if e.Stream {
		return fmt.Sprintf("the model server at %s sent nothing more for %s", e.Host, e.After)
	}
	return fmt.Sprintf("the model server at %s did not answer within %s", e.Host, e.After)
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// DroppedError is a connection the server closed (or lost) before its
// reply was whole: the server crashed, ran out of memory or was restarted.
type DroppedError struct {
	Host string
	// Answer is set when it was an answer being streamed.
	Answer bool
	Err    error
}

func (e *DroppedError) Error() string {
	what := "request"
	if e.Answer {
		what = "answer"
	}
	return fmt.Sprintf("the model server at %s closed the connection mid-%s: %v", e.Host, what, e.Err)
}

func (e *DroppedError) Unwrap() error { return e.Err }

// PullError means the server could not pull a model (it is not in the
// registry, or the registry is out of reach).
type PullError struct {
	Model string
	Err   error
}

func (e *PullError) Error() string { return fmt.Sprintf("pull %s: %v", e.Model, e.Err) }
func (e *PullError) Unwrap() error { return e.Err }

// NoPullError means a model was to be pulled from a provider whose server
// cannot pull: it serves the models it was started with.
type NoPullError struct {
	Model    string
	Provider string
	Type     string
}

func (e *NoPullError) Error() string {
	return fmt.Sprintf("cannot pull %s: provider %s (type %s) serves the models its server was started with", e.Model, e.Provider, e.Type)
}
