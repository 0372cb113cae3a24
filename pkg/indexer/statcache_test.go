package indexer

import (
	"context"
	"io/fs"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/store"
)

// countFS counts the files opened for reading (not stats or folders).
type countFS struct {
	fstest.MapFS
	mu     sync.Mutex
	opened map[string]int
}

func (c *countFS) Open(name string) (fs.File, error) {
	f, err := c.MapFS.Open(name)
	if err == nil {
		if info, serr := f.Stat(); serr == nil && info.Mode().IsRegular() {
			c.mu.Lock()
			c.opened[name]++
			c.mu.Unlock()
		}
	}
	return f, err
}

func (c *countFS) reads() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.opened
	c.opened = map[string]int{}
	return out
}

// commitCounter counts the catalog commits of a store.
type commitCounter struct {
	*store.Local
	commits int
}

func (c *commitCounter) Commit(ctx context.Context, m store.Manifest) error {
	c.commits++
	return c.Local.Commit(ctx, m)
}

// TestStatCache checks that a file whose stat is as when it was read is not
// read again, that one changed (or changed too close to being read to tell)
// is, and that a run that changes nothing writes no catalog.
func TestStatCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	old := start.Add(-time.Hour)
	fsys := &countFS{opened: map[string]int{}, MapFS: fstest.MapFS{
		"a.md": {Data: []byte("alpha text\n"), ModTime: old},
		"b.md": {Data: []byte("beta text\n"), ModTime: old},
		"c.md": {Data: []byte("gamma text\n"), ModTime: start.Add(-time.Second)}, // changed just before the run
	}}
	st := &commitCounter{Local: open(t)}
	clock := start
	run := func() *Summary {
		t.Helper()
		sum, err := Run(ctx, st, &fakeEmbedder{}, Options{Root: "/r", FS: fsys, Model: "m", Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	run()
	if got := fsys.reads(); len(got) != 3 {
		t.Fatalf("first run read %v", got)
	}

	tests := []struct {
		name    string
		change  func()
		reads   []string
		commits int
		sum     Summary
	}{
		{"only the racily clean file is read again", func() { clock = clock.Add(time.Minute) }, []string{"c.md"}, 1, Summary{Unchanged: 3}},
		{"nothing read, no commit", func() { clock = clock.Add(time.Minute) }, nil, 0, Summary{Unchanged: 3}},
		{"an edit with a new time is read", func() {
			fsys.MapFS["a.md"] = &fstest.MapFile{Data: []byte("alpha text, edited\n"), ModTime: old.Add(time.Minute)}
		}, []string{"a.md"}, 1, Summary{Changed: 1, Unchanged: 2, Chunks: 1, Embedded: 1}},
		{"a touch is read, found unchanged, and recorded", func() {
			fsys.MapFS["b.md"].ModTime = old.Add(2 * time.Minute)
		}, []string{"b.md"}, 1, Summary{Unchanged: 3}},
		{"then nothing again", func() {}, nil, 0, Summary{Unchanged: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			st.commits = 0
			sum := run()
			got := fsys.reads()
			if len(got) != len(tt.reads) {
				t.Errorf("read %v, want %v", got, tt.reads)
			}
			for _, p := range tt.reads {
				if got[p] != 1 {
					t.Errorf("read %v, want %v", got, tt.reads)
				}
			}
			if st.commits != tt.commits {
				t.Errorf("%d commits, want %d", st.commits, tt.commits)
			}
			if sum.New != tt.sum.New || sum.Changed != tt.sum.Changed || sum.Unchanged != tt.sum.Unchanged || sum.Embedded != tt.sum.Embedded {
				t.Errorf("summary %+v, want %+v", *sum, tt.sum)
			}
		})
	}

	t.Run("other chunk settings read everything", func(t *testing.T) {
		_, err := Run(ctx, st, &fakeEmbedder{}, Options{Root: "/r", FS: fsys, Model: "m", Now: func() time.Time { return clock }, Chunk: chunk.Options{Target: 100, Overlap: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if got := fsys.reads(); len(got) != 3 {
			t.Errorf("read %v, want every file", got)
		}
	})
}
