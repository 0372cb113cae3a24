package indexer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/store"
)

// fakeEmbedder embeds with the hashed bag of words and counts calls.
type fakeEmbedder struct {
	mu           sync.Mutex
	calls, texts int
	failOn       string // fail a call with this text; "" never
	dims         int
}

var errEmbed = errors.New("embed failed")

func (f *fakeEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failOn != "" && slices.Contains(texts, f.failOn) {
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

// text is the content of file i of docs.
func text(i int) string { return chunkText(i) + "\n" }

// chunkText is what is embedded for file i of docs.
func chunkText(i int) string { return strings.Repeat("word ", i+1) }

func docs(n int) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i < n; i++ {
		m[string(rune('a'+i))+".md"] = &fstest.MapFile{Data: []byte(text(i))}
	}
	return m
}

func open(t *testing.T) *store.Local {
	t.Helper()
	s, err := store.Open(context.Background(), t.TempDir(), store.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
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
		{"embedder fails mid-run keeps earlier files", docs(5), &fakeEmbedder{failOn: chunkText(2)}, errEmbed, 0, 2},
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
	emb := &fakeEmbedder{failOn: chunkText(2)}
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
	emb := &cancellingEmbedder{cancel: cancel, on: chunkText(2)}
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
	on     string // the text whose request is interrupted
}

func (c *cancellingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if slices.Contains(texts, c.on) {
		c.cancel()
		return nil, ctx.Err()
	}
	return c.fakeEmbedder.Embed(ctx, texts)
}

// A run interrupted while answers were out keeps every one that came
// back, even when storing the first makes it time to commit: that commit,
// with the run's context done, cannot be written, and the answers after
// it were lost with it.
func TestRunCancelledKeepsEveryAnswer(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	emb := &lateCancelEmbedder{cancel: cancel, first: chunkText(0), last: chunkText(1), answered: make(chan struct{})}
	sum, err := Run(ctx, s, emb, Options{Root: "/r", FS: docs(3), Model: "m", BatchSize: 1, Requests: 2, CommitEvery: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := paths(s.Manifest()); sum == nil || got != "a.md b.md" {
		t.Fatalf("kept %q, want a.md b.md: both were embedded before the run stopped", got)
	}
}

// lateCancelEmbedder answers the request of text first only once the one
// of text last is answered, which cancels the run as it answers.
type lateCancelEmbedder struct {
	fakeEmbedder
	cancel      func()
	first, last string
	answered    chan struct{}
}

func (l *lateCancelEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	switch {
	case slices.Contains(texts, l.first):
		<-l.answered
	case slices.Contains(texts, l.last):
		defer close(l.answered)
		l.cancel()
	}
	return l.fakeEmbedder.Embed(ctx, texts)
}

// overlapEmbedder holds every request until want are in flight at once
// (the first time), and notes how many ever were.
type overlapEmbedder struct {
	fakeEmbedder
	want         int
	full         chan struct{}
	now, maxSeen int
}

func (o *overlapEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	o.mu.Lock()
	o.now++
	o.maxSeen = max(o.maxSeen, o.now)
	if o.now == o.want && o.full != nil {
		close(o.full)
		o.full = nil
	}
	full := o.full
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.now--
		o.mu.Unlock()
	}()
	if full != nil {
		select {
		case <-full:
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("never %d requests in flight", o.want)
		}
	}
	return o.fakeEmbedder.Embed(ctx, texts)
}

// The next batch goes out while the answer to the last one is awaited,
// never more than Requests at once, and answers that come back out of
// order are stored in order.
func TestRunRequestsInFlight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		requests int
		want     int
	}{{"default", 0, DefaultRequests}, {"three", 3, 3}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			emb := &overlapEmbedder{want: tt.want, full: make(chan struct{})}
			var order []string
			sum, err := Run(context.Background(), s, emb, Options{Root: "/r", FS: docs(8), Model: "m", BatchSize: 1, Requests: tt.requests,
				Progress: func(done, total int64) { order = append(order, fmt.Sprintf("%d/%d", done, total)) }})
			if err != nil {
				t.Fatal(err)
			}
			if sum.New != 8 || emb.texts != 8 {
				t.Errorf("summary %+v, embedded %d", sum, emb.texts)
			}
			if emb.maxSeen != tt.want {
				t.Errorf("at most %d requests at once, want %d", emb.maxSeen, tt.want)
			}
			// Bytes of the files, in order: file i has 5(i+1)+1.
			if got, want := strings.Join(order, " "), "0/188 6/188 17/188 33/188 54/188 80/188 111/188 147/188 188/188"; got != want {
				t.Errorf("progress %s, want %s", got, want)
			}
		})
	}
}

// countingFS counts the documents opened.
type countingFS struct {
	fstest.MapFS
	mu     sync.Mutex
	opened int
}

func (c *countingFS) Open(name string) (fs.File, error) {
	f, err := c.MapFS.Open(name)
	if err == nil && strings.HasSuffix(name, ".md") {
		c.mu.Lock()
		c.opened++
		c.mu.Unlock()
	}
	return f, err
}

// readingEmbedder notes, for each file's text, how many files had been
// read when it was asked to embed it.
type readingEmbedder struct {
	fakeEmbedder
	fsys   *countingFS
	readAt map[string]int
}

func (r *readingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	r.fsys.mu.Lock()
	opened := r.fsys.opened
	r.fsys.mu.Unlock()
	r.mu.Lock()
	for _, t := range texts {
		r.readAt[t] = opened
	}
	r.mu.Unlock()
	return r.fakeEmbedder.Embed(ctx, texts)
}

// Files are read as the embedder takes their chunks, not all first: the
// run never holds more than the batches out, the files read ahead and
// the file being read.
func TestRunStreams(t *testing.T) {
	t.Parallel()
	fsys := &countingFS{MapFS: docs(20)}
	emb := &readingEmbedder{fsys: fsys, readAt: map[string]int{}}
	if _, err := Run(context.Background(), open(t), emb, Options{Root: "/r", FS: fsys, Model: "m", BatchSize: 1, Requests: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		// Asked for file i: files 0..i are read, and at most readAhead
		// waiting, one more that took the place of file i, and one more
		// being read.
		if got := emb.readAt[chunkText(i)]; got < i+1 || got > min(20, i+3+readAhead) {
			t.Errorf("file %d was embedded with %d files read, want %d to %d", i, got, i+1, min(20, i+3+readAhead))
		}
	}
}

// Progress counts the bytes of the files to read: a file's as its chunks
// are embedded, at once for one that needs no embedding; files not read
// at all (unchanged stat) are not in the total.
func TestRunProgress(t *testing.T) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	long := strings.Repeat("A sentence of several words to fill the chunk. ", 300) // several chunks
	fsys := fstest.MapFS{
		"a.md":     {Data: []byte(long)},
		"b.md":     {Data: []byte("bee\n")},
		"empty.md": {Data: []byte("  \n")},
	}
	check := func(name string, want int64, steps func([]int64) bool) {
		t.Helper()
		var got []int64
		if _, err := Run(ctx, s, &fakeEmbedder{}, Options{Root: "/r", FS: fsys, Model: "m", BatchSize: 1,
			Progress: func(done, total int64) {
				if total != want {
					t.Errorf("%s: total %d, want %d", name, total, want)
				}
				got = append(got, done)
			}}); err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(got) || got[0] != 0 || got[len(got)-1] != want || !steps(got) {
			t.Errorf("%s: progress %v", name, got)
		}
	}
	size := int64(len(long) + 4 + 3)
	check("first run", size, func(got []int64) bool { return len(got) > 4 }) // a.md in steps
	// Unchanged by their stat: only the empty file (never cataloged) is
	// read again.
	check("second run", 3, func(got []int64) bool { return len(got) == 2 })
}

func TestEmptyFolder(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), open(t), &fakeEmbedder{}, Options{Root: "/r", FS: fstest.MapFS{"bin": {Data: []byte{0, 1}}}, Model: "m"})
	var e *EmptyFolderError
	if !errors.As(err, &e) || e.Skipped != 1 {
		t.Fatalf("err = %v", err)
	}
}

func paths(m store.Manifest) string {
	var ps []string
	for _, f := range m.Files {
		ps = append(ps, f.Path)
	}
	return strings.Join(ps, " ")
}

// TestIncremental edits a folder step by step; each step must embed exactly
// the new content and leave the catalog matching the folder.
func TestIncremental(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	fsys := fstest.MapFS{
		"a.md": {Data: []byte("alpha apples\n")},
		"b.md": {Data: []byte("beta bananas\n")},
		"c.md": {Data: []byte("gamma grapes\n")},
	}
	steps := []struct {
		name   string
		edit   func()
		want   Summary
		embeds int
		files  string
	}{
		{"first run", func() {}, Summary{New: 3}, 3, "a.md b.md c.md"},
		{"nothing changed", func() {}, Summary{Unchanged: 3}, 0, "a.md b.md c.md"},
		{"touched, same content", func() { fsys["a.md"] = &fstest.MapFile{Data: []byte("alpha apples\n"), ModTime: time.Now()} },
			Summary{Unchanged: 3}, 0, "a.md b.md c.md"},
		{"one edited", func() { fsys["b.md"] = &fstest.MapFile{Data: []byte("beta blueberries\n")} },
			Summary{Changed: 1, Unchanged: 2}, 1, "a.md b.md c.md"},
		{"renamed", func() { fsys["d.md"] = fsys["c.md"]; delete(fsys, "c.md") },
			Summary{New: 1, Reused: 1, Unchanged: 2, Removed: 1}, 0, "a.md b.md d.md"},
		{"copied", func() { fsys["e.md"] = fsys["a.md"] },
			Summary{New: 1, Reused: 1, Unchanged: 3}, 0, "a.md b.md d.md e.md"},
		{"deleted", func() { delete(fsys, "a.md") },
			Summary{Unchanged: 3, Removed: 1}, 0, "b.md d.md e.md"},
		{"now hidden", func() { fsys[".e.md"] = fsys["e.md"]; delete(fsys, "e.md") },
			Summary{Unchanged: 2, Removed: 1}, 0, "b.md d.md"},
		{"added", func() { fsys["f.md"] = &fstest.MapFile{Data: []byte("phi figs\n")} },
			Summary{New: 1, Unchanged: 2}, 1, "b.md d.md f.md"},
	}
	for _, st := range steps {
		st.edit()
		emb := &fakeEmbedder{}
		sum, err := Run(ctx, s, emb, Options{Root: "/r", FS: fsys, Model: "m"})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		counts := func(s *Summary) [5]int { return [5]int{s.New, s.Changed, s.Unchanged, s.Removed, s.Reused} }
		if got := counts(sum); got != counts(&st.want) {
			t.Errorf("%s: new, changed, unchanged, removed, reused = %v, want %v", st.name, got, counts(&st.want))
		}
		if emb.texts != st.embeds {
			t.Errorf("%s: embedded %d chunks, want %d", st.name, emb.texts, st.embeds)
		}
		if got := paths(s.Manifest()); got != st.files {
			t.Errorf("%s: index holds %q, want %q", st.name, got, st.files)
		}
	}
}

func TestPruneOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	fsys := docs(3) // a.md b.md c.md
	if _, err := Run(ctx, s, &fakeEmbedder{}, Options{Root: "/r", FS: fsys, Model: "m", Source: store.Source{Path: "/r"}}); err != nil {
		t.Fatal(err)
	}
	delete(fsys, "a.md")
	fsys["b.md"] = &fstest.MapFile{Data: []byte("edited\n")}
	fsys["z.md"] = &fstest.MapFile{Data: []byte("new\n")}
	emb := &fakeEmbedder{}
	sum, err := Run(ctx, s, emb, Options{Root: "/r", FS: fsys, Model: "m", PruneOnly: true, Source: store.Source{Path: "/r"}})
	if err != nil {
		t.Fatal(err)
	}
	if emb.calls != 0 || sum.Removed != 1 || paths(s.Manifest()) != "b.md c.md" {
		t.Fatalf("prune: %d embed calls, %+v, index %q", emb.calls, sum, paths(s.Manifest()))
	}
	if h := s.Manifest().Files[0].Hash; h == "" {
		t.Fatal("no hash")
	}

	// The whole root is gone: its files and its source go with it.
	sum, err = Run(ctx, s, emb, Options{Root: "/r", Model: "m", PruneOnly: true, Gone: true, Source: store.Source{Path: "/r"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := s.Manifest(); len(m.Files) != 0 || len(m.Sources) != 0 || sum.Removed != 2 {
		t.Fatalf("gone root: %+v, catalog %+v", sum, m)
	}
}

func TestSourcesAndProblemsRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	fsys := brokenFS{docs(3), "b.md"}
	fsys.MapFS["bin.dat"] = &fstest.MapFile{Data: []byte{0, 1, 2}}
	src := store.Source{Path: "/r"}
	if _, err := Run(ctx, s, &fakeEmbedder{}, Options{Root: "/r", FS: fsys, Model: "m", Source: src}); err != nil {
		t.Fatal(err)
	}
	m := s.Manifest()
	if len(m.Sources) != 1 || !m.Sources[0].Same(src) {
		t.Errorf("sources = %+v", m.Sources)
	}
	var got []string
	for _, p := range m.Problems {
		got = append(got, fmt.Sprintf("%s failed=%v", p.Path, p.Failed))
	}
	if strings.Join(got, ", ") != "bin.dat failed=false, b.md failed=true" {
		t.Errorf("problems = %v", got)
	}

	// A file indexed on its own: a second source; a run of it leaves the
	// folder's problems alone. Fixed files drop their problem.
	if _, err := Run(ctx, s, &fakeEmbedder{}, Options{Root: "/other", FS: docs(1), Only: []string{"a.md"}, Model: "m", Source: store.Source{Path: "/other/a.md", File: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, s, &fakeEmbedder{}, Options{Root: "/r", FS: docs(3), Model: "m", Source: src}); err != nil {
		t.Fatal(err)
	}
	m = s.Manifest()
	if len(m.Sources) != 2 || len(m.Problems) != 0 || len(m.Files) != 4 {
		t.Errorf("after fix: sources %+v, problems %+v, %d files", m.Sources, m.Problems, len(m.Files))
	}

	// The single file is deleted: a run of it removes it.
	sum, err := Run(ctx, s, &fakeEmbedder{}, Options{Root: "/other", FS: fstest.MapFS{}, Only: []string{"a.md"}, Model: "m", Source: store.Source{Path: "/other/a.md", File: true}})
	if err != nil || sum.Removed != 1 || len(s.Manifest().Files) != 3 {
		t.Fatalf("deleted single file: %+v, %v, %d files", sum, err, len(s.Manifest().Files))
	}
}

// TestEditEmbedsNewChunks: a long file edited (a line inserted near the
// top, a line appended) embeds only the chunks whose text is new; the
// others take their vectors from its last object, and searches find the
// same as a fresh index of the edited file.
func TestEditEmbedsNewChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "line %d of the log: request %d served, %s\n", i, i*7919%1000, strings.Repeat("ok ", i*31%9))
	}
	lines := strings.SplitAfter(b.String(), "\n")
	s := open(t)
	fsys := fstest.MapFS{"log.txt": {Data: []byte(b.String())}}
	first := &fakeEmbedder{}
	sum, err := Run(ctx, s, first, Options{Root: "/r", FS: fsys, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	all := sum.Chunks
	for _, tt := range []struct{ name, text string }{
		{"inserted near the top", strings.Join(lines[:20], "") + "an inserted line\n" + strings.Join(lines[20:], "")},
		{"appended", strings.Join(lines[:20], "") + "an inserted line\n" + strings.Join(lines[20:], "") + "one more line\n"},
	} {
		fsys["log.txt"] = &fstest.MapFile{Data: []byte(tt.text)}
		emb := &fakeEmbedder{}
		sum, err := Run(ctx, s, emb, Options{Root: "/r", FS: fsys, Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if emb.texts > 3 || sum.Embedded != emb.texts || sum.Changed != 1 {
			t.Errorf("%s: embedded %d of %d chunks (summary: %d, changed %d), want at most 3", tt.name, emb.texts, all, sum.Embedded, sum.Changed)
		}
		fresh := open(t)
		if _, err := Run(ctx, fresh, &fakeEmbedder{}, Options{Root: "/r", FS: fsys, Model: "m"}); err != nil {
			t.Fatal(err)
		}
		q := ollamatest.Embed("request 17 served", 32)
		got, err := s.Search(ctx, store.View{}, q, 5)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fresh.Search(ctx, store.View{}, q, 5)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if i >= len(got) || got[i].Text != want[i].Text || got[i].Score != want[i].Score {
				t.Errorf("%s: hit %d differs from a fresh index's", tt.name, i)
			}
		}
	}
}
