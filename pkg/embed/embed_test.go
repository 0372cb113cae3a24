package embed

import (
	"context"
	"errors"
	"testing"
	"time"

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
