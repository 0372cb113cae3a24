package filestat

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// within runs read and fails the test if it has not returned in 5s: a read
// that blocks (a named pipe) or never ends (/dev/zero) must not hang the
// test run.
func within(t *testing.T, read func() ([]byte, error)) ([]byte, error) {
	t.Helper()
	type res struct {
		data []byte
		err  error
	}
	done := make(chan res, 1)
	go func() {
		data, err := read()
		done <- res{data, err}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not return in 5s")
		return nil, nil
	}
}

// TestReadFileCancel: a done context stops a read before it starts and
// between its pieces.
func TestReadFileCancel(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadFile(ctx, p, 1000); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadFile with a done context: %v", err)
	}
	if _, err := ReadFileFS(ctx, DirFS(filepath.Dir(p)), "f", 1000); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadFileFS with a done context: %v", err)
	}

	// A reader that never ends (as /dev/zero) and is cancelled after its
	// first piece: readAll stops at the next.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r := &endless{after: cancel}
	if _, err := within(t, func() ([]byte, error) { return readAll(ctx, r, 1<<40, 0) }); !errors.Is(err, context.Canceled) {
		t.Errorf("readAll cancelled mid-way: %v", err)
	}
	if r.reads > 2 {
		t.Errorf("%d reads after the cancel", r.reads-1)
	}
	// Without a cancel, the limit stops it.
	var tl *TooLargeError
	if _, err := readAll(context.Background(), &endless{}, 1<<20, 0); !errors.As(err, &tl) {
		t.Errorf("readAll of an endless reader: %v", err)
	}
}

// endless reads zeros forever, calling after once it has been read.
type endless struct {
	after func()
	reads int
}

func (e *endless) Read(p []byte) (int, error) {
	e.reads++
	clear(p)
	if e.after != nil {
		e.after()
	}
	return len(p), nil
}

var _ io.Reader = (*endless)(nil)
