package embed

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/ollama"
)

type flaky struct {
	fails int
	err   error
	calls int
}

func (f *flaky) Embed(context.Context, string, []string) ([][]float32, error) {
	f.calls++
	if f.calls <= f.fails {
		return nil, f.err
	}
	return [][]float32{{1}}, nil
}

func TestRetries(t *testing.T) {
	t.Parallel()
	transient := errors.New("ollama: 500")
	tests := []struct {
		name      string
		fails     int
		err       error
		wantCalls int
		wantErr   bool
	}{
		{"succeeds", 0, nil, 1, false},
		{"recovers from two failures", 2, transient, 3, false},
		{"gives up after three", 5, transient, 3, true},
		{"no retry when model missing", 5, &ollama.ModelNotFoundError{Model: "m"}, 1, true},
		{"no retry when server down", 5, &ollama.UnreachableError{Host: "h", Err: errors.New("refused")}, 1, true},
		{"no retry of a refused request (400)", 5, &ollama.StatusError{StatusCode: 400, Err: errors.New("the input length exceeds the context length")}, 1, true},
		{"no retry when unauthorized (401)", 5, &ollama.StatusError{StatusCode: 401, Err: errors.New("unauthorized")}, 1, true},
		{"retries too many requests (429)", 2, &ollama.StatusError{StatusCode: 429, Err: errors.New("busy")}, 3, false},
		{"retries a request timeout (408)", 2, &ollama.StatusError{StatusCode: 408, Err: errors.New("timeout")}, 3, false},
		{"retries a server error (503)", 5, &ollama.StatusError{StatusCode: 503, Err: errors.New("busy")}, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &flaky{fails: tt.fails, err: tt.err}
			m := &Model{Client: f, Name: "m", Backoff: time.Millisecond}
			_, err := m.Embed(context.Background(), []string{"x"})
			if (err != nil) != tt.wantErr || f.calls != tt.wantCalls {
				t.Fatalf("err = %v after %d calls", err, f.calls)
			}
			if tt.err != nil && tt.wantErr && !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap %v", err, tt.err)
			}
		})
	}
}

// TestServerFaults runs the real client against a fake server that fails
// in the ways a real one does mid-run.
func TestServerFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   ollamatest.Fault
		fails   int
		wantErr bool
	}{
		{"500 then recovers", ollamatest.Status500, 2, false},
		{"dropped connection then recovers", ollamatest.Drop, 2, false},
		{"timeout then recovers", ollamatest.Hang, 1, false},
		{"500 every time", ollamatest.Status500, 10, true},
		{"dropped every time", ollamatest.Drop, 10, true},
		{"timeout every time", ollamatest.Hang, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := ollamatest.New(t, "m")
			srv.FailEmbedsWith(tt.fails, tt.fault)
			u, err := url.Parse(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			m := &Model{Client: ollama.New(u, srv.Client()), Name: "m", Backoff: time.Millisecond, Timeout: 200 * time.Millisecond}
			vecs, err := m.Embed(context.Background(), []string{"a", "b"})
			if !tt.wantErr {
				if err != nil || len(vecs) != 2 {
					t.Fatalf("Embed = %d vectors, %v", len(vecs), err)
				}
				return
			}
			var re *RetryError
			if !errors.As(err, &re) || re.Attempts != 3 {
				t.Fatalf("err = %v, want a RetryError after 3 attempts", err)
			}
			if got := srv.EmbedRequests(); got != 3 {
				t.Errorf("%d requests, want 3", got)
			}
		})
	}
}

// A batch the model refuses because one text is too long for its context
// is asked again in halves, never as it was: the other texts are embedded
// and the call says which one was refused, and why.
func TestRefusedTextsFound(t *testing.T) {
	t.Parallel()
	srv := ollamatest.New(t, "m")
	srv.LimitEmbedInput(30)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"one", "two", "three", "four", "five", strings.Repeat("long ", 40), "seven", "eight"}
	m := &Model{Client: ollama.New(u, srv.Client()), Name: "m", Whole: true, Backoff: time.Millisecond}
	_, err = m.Embed(context.Background(), texts)
	var rej *RefusedError
	if !errors.As(err, &rej) || !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v, want a RefusedError of a text too long", err)
	}
	for i := range texts {
		if refused := i == 5; (rej.Errs[i] != nil) != refused || (rej.Vectors[i] == nil) != refused {
			t.Errorf("text %d: err %v, vector %v", i, rej.Errs[i], rej.Vectors[i] != nil)
		}
	}
	// 8, then 4 and 4, then 2 and 2 of the second half, then 1 and 1.
	if got := srv.EmbedRequests(); got != 7 {
		t.Errorf("%d requests, want 7 (bisected, none retried)", got)
	}
	if !strings.Contains(err.Error(), "1 of 8 texts refused: ollama: the input length exceeds the context length") {
		t.Errorf("message %q", err)
	}
	// Without Whole, the server truncates it: no error.
	m.Whole = false
	if vecs, err := m.Embed(context.Background(), texts); err != nil || len(vecs) != len(texts) {
		t.Fatalf("truncating: %d vectors, %v", len(vecs), err)
	}
}
