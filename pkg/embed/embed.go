// Package embed binds an embedding model to a client and makes its calls
// resilient: transient failures (a 5xx, a dropped connection, a request
// that takes longer than Timeout) are retried a bounded number of times with
// back-off, while errors a retry cannot fix (server down, model missing,
// cancellation) return at once.
package embed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rag-cli/rag/pkg/ollama"
)

// Client is the part of an Ollama client that embeds.
type Client interface {
	Embed(ctx context.Context, model string, inputs []string) ([][]float32, error)
}

// Model embeds texts with one named model.
type Model struct {
	Client Client
	Name   string
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

// ErrTimeout is an attempt that ran out of time, told apart from the
// caller's own deadline.
var ErrTimeout = errors.New("no answer")

// Embed implements indexer.Embedder.
func (m *Model) Embed(ctx context.Context, texts []string) ([][]float32, error) {
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
	if m.Timeout <= 0 {
		return m.Client.Embed(ctx, m.Name, texts)
	}
	actx, cancel := context.WithTimeoutCause(ctx, m.Timeout, ErrTimeout)
	defer cancel()
	vecs, err := m.Client.Embed(actx, m.Name, texts)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), ErrTimeout) {
		return nil, fmt.Errorf("%w within %s", ErrTimeout, m.Timeout)
	}
	return vecs, err
}

func permanent(err error) bool {
	var unreachable *ollama.UnreachableError
	var missing *ollama.ModelNotFoundError
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &unreachable) || errors.As(err, &missing)
}
