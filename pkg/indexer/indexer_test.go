package indexer

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rag-cli/rag/pkg/ollamatest"
	"github.com/rag-cli/rag/pkg/store"
)

// fakeEmbedder embeds with the hashed bag of words and counts calls.
type fakeEmbedder struct {
	calls, texts int
	failAt       int // fail the call with this number (1-based); 0 never
	dims         int
}

var errEmbed = errors.New("embed failed")

func (f *fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	f.calls++
	if f.failAt == f.calls {
		return nil, errEmbed
	}
	f.texts += len(texts)
	dims := f.dims
	if dims == 0 {
		dims = 32
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = ollamatest.Embed(t, dims)
	}
	return out, nil
}

// brokenFS fails to open one file.
type brokenFS struct {
	fstest.MapFS
	broken string
}

func (b brokenFS) Open(name string) (fs.File, error) {
	if name == b.broken {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return b.MapFS.Open(name)
}

func docs(n int) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i < n; i++ {
		m[string(rune('a'+i))+".md"] = &fstest.MapFile{Data: []byte(strings.Repeat("word ", i+1) + "\n")}
	}
	return m
}

func open(t *testing.T) *store.Local {
	t.Helper()
	s, err := store.Open(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fsys       fs.FS
		emb        *fakeEmbedder
		wantErr    error
		wantFailed int
		wantFiles  int
	}{
		{"all good", docs(5), &fakeEmbedder{}, nil, 0, 5},
		{"unreadable file", brokenFS{docs(5), "c.md"}, &fakeEmbedder{}, nil, 1, 4},
		{"embedder fails mid-run keeps earlier files", docs(5), &fakeEmbedder{failAt: 3}, errEmbed, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			sum, err := Run(context.Background(), s, tt.emb, Options{Root: "/r", FS: tt.fsys, Model: "m", BatchSize: 1, CommitEvery: 1})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if sum != nil && len(sum.Failed) != tt.wantFailed {
				t.Errorf("failed = %+v", sum.Failed)
			}
			if got := len(s.Manifest().Files); got != tt.wantFiles {
				t.Errorf("index holds %d files, want %d", got, tt.wantFiles)
			}
		})
	}
}

func TestRunResumesAndRefusesOtherModel(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	emb := &fakeEmbedder{failAt: 3}
	if _, err := Run(ctx, s, emb, Options{Root: "/r", FS: docs(6), Model: "m", BatchSize: 1, CommitEvery: 1}); !errors.Is(err, errEmbed) {
		t.Fatalf("err = %v", err)
	}
	emb2 := &fakeEmbedder{}
	sum, err := Run(ctx, s, emb2, Options{Root: "/r", FS: docs(6), Model: "m", BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Unchanged != 2 || sum.New != 4 || emb2.texts != 4 {
		t.Errorf("resume: %+v, embedded %d", sum, emb2.texts)
	}
	_, err = Run(ctx, s, &fakeEmbedder{}, Options{Root: "/r", FS: docs(6), Model: "other"})
	var mm *store.ModelMismatchError
	if !errors.As(err, &mm) || mm.IndexModel != "m" {
		t.Fatalf("other model: err = %v", err)
	}
	// Same model name, other vector size: refused too.
	changed := docs(6)
	changed["new.md"] = &fstest.MapFile{Data: []byte("fresh text\n")}
	_, err = Run(ctx, s, &fakeEmbedder{dims: 16}, Options{Root: "/r", FS: changed, Model: "m"})
	if !errors.As(err, &mm) || mm.Dims != 16 {
		t.Fatalf("other dims: err = %v", err)
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	emb := &cancellingEmbedder{cancel: cancel, after: 2}
	sum, err := Run(ctx, s, emb, Options{Root: "/r", FS: docs(6), Model: "m", BatchSize: 1, CommitEvery: 100})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if sum == nil || len(s.Manifest().Files) != 2 {
		t.Fatalf("kept %d files, want the 2 embedded before the cancel", len(s.Manifest().Files))
	}
}

type cancellingEmbedder struct {
	fakeEmbedder
	cancel func()
	after  int
}

func (c *cancellingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if c.calls == c.after {
		c.cancel()
		return nil, ctx.Err()
	}
	return c.fakeEmbedder.Embed(ctx, texts)
}

func TestEmptyFolder(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), open(t), &fakeEmbedder{}, Options{Root: "/r", FS: fstest.MapFS{"bin": {Data: []byte{0, 1}}}, Model: "m"})
	var e *EmptyFolderError
	if !errors.As(err, &e) || e.Skipped != 1 {
		t.Fatalf("err = %v", err)
	}
}
