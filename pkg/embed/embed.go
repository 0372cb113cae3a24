// Package embed binds an embedding model to a client and makes its calls
// resilient: transient failures (a 5xx, a 429, a dropped connection, a
// request that takes longer than Timeout) are retried a bounded number of
// times with back-off, while errors a retry cannot fix (server down, model
// missing, any other 4xx, cancellation) return at once. A batch the model
// refuses (a 4xx about its input) is bisected, so that one input it will
// not embed does not fail the others: the call reports which it refused,
// and why (RefusedError).
package embed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rag-cli/rag/pkg/ollama"
)

// Client is the part of an Ollama client that embeds.
type Client interface {
	Embed(ctx context.Context, model string, inputs []string) ([][]float32, error)
}

// wholeClient embeds without truncating: an input longer than the
// model's context is refused (ErrTooLong).
type wholeClient interface {
	EmbedWhole(ctx context.Context, model string, inputs []string) ([][]float32, error)
}

// contextClient says how many tokens the model embeds at once.
type contextClient interface {
	EmbedContextLength(ctx context.Context, model string) (int, error)
}

// ErrTooLong is the error of an input longer than the model's context
// (in a RefusedError).
var ErrTooLong = ollama.ErrTooLong

// Model embeds texts with one named model.
type Model struct {
	Client Client
	Name   string
	// Whole refuses to truncate: a text longer than the model's context
	// is refused with ErrTooLong rather than embedded by its beginning
	// (when the client can refuse; otherwise it truncates).
	Whole bool
	// Attempts is how many times a request is tried; 0 means 3.
	Attempts int
	// Backoff is the first wait between attempts, doubled each time; 0 means 500ms.
	Backoff time.Duration
	// Timeout bounds one request; 0 means none. A request that times out
	// is retried like any transient failure.
	Timeout time.Duration
}

// RetryError means every attempt of a request failed.
type RetryError struct {
	Model    string
	Attempts int
	Err      error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("embed with %s failed %d times: %v", e.Model, e.Attempts, e.Err)
}
func (e *RetryError) Unwrap() error { return e.Err }

// RefusedError means the model would not embed some texts of a call, each
// for a reason of its own that asking again cannot fix (one longer than its
// context, say); it embedded the others.
type RefusedError struct {
	// Vectors has one vector per text, nil for a refused one.
	Vectors [][]float32
	// Errs has one error per text: why it was refused, nil if it was not.
	Errs []error
}

func (e *RefusedError) Error() string {
	errs := e.Unwrap()
	if len(errs) == 0 {
		return "no text refused"
	}
	if len(e.Errs) == 1 {
		return errs[0].Error()
	}
	return fmt.Sprintf("%d of %d texts refused: %v", len(errs), len(e.Errs), errs[0])
}

// Unwrap is the reasons, so that errors.Is(err, ErrTooLong) asks whether
// any text was refused as too long.
func (e *RefusedError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// ErrTimeout is an attempt that ran out of time, told apart from the
// caller's own deadline.
var ErrTimeout = errors.New("no answer")

// Embed implements indexer.Embedder: one vector per text, or a
// RefusedError with the vectors of the texts the model took.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	vecs, err := m.retry(ctx, texts)
	if err == nil || !refused(err) {
		return vecs, err
	}
	// Which of them? Halves are asked apart until every refused text is
	// alone: a batch with one text the model refuses costs about two
	// requests per halving, and the others are embedded.
	rej := &RefusedError{Vectors: make([][]float32, len(texts)), Errs: make([]error, len(texts))}
	if len(texts) == 1 {
		rej.Errs[0] = err
		return nil, rej
	}
	half := len(texts) / 2
	for _, part := range [][2]int{{0, half}, {half, len(texts)}} {
		vecs, err := m.Embed(ctx, texts[part[0]:part[1]])
		var sub *RefusedError
		switch {
		case errors.As(err, &sub):
			copy(rej.Vectors[part[0]:], sub.Vectors)
			copy(rej.Errs[part[0]:], sub.Errs)
		case err != nil:
			return nil, err
		default:
			copy(rej.Vectors[part[0]:], vecs)
		}
	}
	return nil, rej
}

// ContextLength is the most tokens the model embeds at once, as its
// server reports it; 0 when it does not say.
func (m *Model) ContextLength(ctx context.Context) (int, error) {
	if c, ok := m.Client.(contextClient); ok {
		return c.EmbedContextLength(ctx, m.Name)
	}
	return 0, nil
}

// retry makes one request, again while it fails in a way that may pass.
func (m *Model) retry(ctx context.Context, texts []string) ([][]float32, error) {
	attempts := m.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	wait := m.Backoff
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	var err error
	for i := 0; i < attempts; i++ {
		var vecs [][]float32
		vecs, err = m.attempt(ctx, texts)
		if err == nil {
			return vecs, nil
		}
		if permanent(err) || i == attempts-1 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
	if permanent(err) {
		return nil, err
	}
	return nil, &RetryError{Model: m.Name, Attempts: attempts, Err: err}
}

func (m *Model) attempt(ctx context.Context, texts []string) ([][]float32, error) {
	embed := m.Client.Embed
	if c, ok := m.Client.(wholeClient); ok && m.Whole {
		embed = c.EmbedWhole
	}
	if m.Timeout <= 0 {
		return embed(ctx, m.Name, texts)
	}
	actx, cancel := context.WithTimeoutCause(ctx, m.Timeout, ErrTimeout)
	defer cancel()
	vecs, err := embed(actx, m.Name, texts)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), ErrTimeout) {
		return nil, fmt.Errorf("%w within %s", ErrTimeout, m.Timeout)
	}
	return vecs, err
}

// permanent reports whether asking again cannot help: the server is down,
// the model missing, the request refused (a 4xx other than 408 and 429),
// or the caller gave up. Anything else (a 5xx, a dropped connection, a
// timeout, an odd answer) may pass.
func permanent(err error) bool {
	var unreachable *ollama.UnreachableError
	var missing *ollama.ModelNotFoundError
	var status *ollama.StatusError
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &unreachable) || errors.As(err, &missing) ||
		errors.As(err, &status) && !status.Temporary()
}

// refused reports whether the model refused the request for its input
// (400 Bad Request, 413 Content Too Large, 422 Unprocessable Content):
// some text of it, alone, may be the cause.
func refused(err error) bool {
	var status *ollama.StatusError
	if !errors.As(err, &status) {
		return false
	}
	switch status.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}
