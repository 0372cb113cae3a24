package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func put(t testing.TB, s *Local, k string, texts ...string) FileEntry {
	t.Helper()
	var chunks []Chunk
	for i, txt := range texts {
		chunks = append(chunks, Chunk{StartLine: i + 1, EndLine: i + 1, Text: txt, Vector: vec(4, i%4)})
	}
	if err := s.PutObject(context.Background(), k, chunks); err != nil {
		t.Fatal(err)
	}
	return FileEntry{Root: "/r", Path: texts[0] + ".md", Key: k, Chunks: len(chunks)}
}

func TestWriterLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)

	_, err := Open(ctx, dir, Options{Write: true})
	var locked *LockedError
	if !errors.As(err, &locked) || !strings.Contains(locked.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second writer: %v, want LockedError naming this process", err)
	}

	t.Run("wait gives up with the context", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if _, err := Open(wctx, dir, Options{Write: true, Wait: true}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting writer: %v", err)
		}
	})

	t.Run("readers are not blocked", func(t *testing.T) {
		commitFiles(t, s, put(t, s, key(1), "a"))
		r := openRead(t, dir)
		if n, err := r.Count(ctx); err != nil || n != 1 {
			t.Fatalf("Count = %d, %v", n, err)
		}
	})

	t.Run("wait gets the lock once it is free", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			s2, err := Open(ctx, dir, Options{Write: true, Wait: true})
			if err == nil {
				err = s2.Close()
			}
			done <- err
		}()
		time.Sleep(100 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("waiting writer: %v", err)
		}
	})
}

// A reader that has read the catalog keeps every object it names until it
// closes (it reads the objects of its hits as it searches), even if a
// writer drops them meanwhile.
func TestReaderKeepsObjectsAlive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	a, b := put(t, s, key(1), "alpha"), put(t, s, key(2), "beta")
	commitFiles(t, s, a, b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	r := openRead(t, dir) // has read the catalog naming alpha and beta

	w, err := Open(ctx, dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	w.gcWait = 50 * time.Millisecond
	commitFiles(t, w, b)
	if err := w.Close(); err != nil { // cannot collect: the reader is loading
		t.Fatal(err)
	}
	if n, err := r.Count(ctx); err != nil || n != 2 {
		t.Fatalf("reader of the old catalog: Count = %d, %v", n, err)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = Open(ctx, dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // the reader has closed: now it goes
		t.Fatal(err)
	}
	if _, err := os.Stat(w.objectPath(key(1))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dropped object still there: %v", err)
	}
	if n, err := openRead(t, dir).Count(ctx); err != nil || n != 1 {
		t.Fatalf("new reader: Count = %d, %v", n, err)
	}
}

func TestRebuildSwapsOnPublish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	commitFiles(t, s, put(t, s, key(1), "old"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	oldGen := manifestOf(t, dir).Generation

	rb, err := Open(ctx, dir, Options{Write: true, Rebuild: true})
	if err != nil {
		t.Fatal(err)
	}
	if m := rb.Manifest(); len(m.Files) != 0 || m.Generation == oldGen {
		t.Fatalf("rebuild starts from %+v", m)
	}
	commitFiles(t, rb, put(t, rb, key(2), "new1"))
	if err := rb.Close(); err != nil { // interrupted before the end
		t.Fatal(err)
	}
	if m := manifestOf(t, dir); len(m.Files) != 1 || m.Files[0].Key != key(1) {
		t.Fatalf("readers see the rebuild before it is published: %+v", m.Files)
	}
	// A plain writer meanwhile must keep the rebuild's objects.
	w, err := Open(ctx, dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	rb, err = Open(ctx, dir, Options{Write: true, Rebuild: true})
	if err != nil {
		t.Fatal(err)
	}
	m := rb.Manifest()
	if len(m.Files) != 1 || m.Files[0].Key != key(2) {
		t.Fatalf("rebuild does not resume: %+v", m.Files)
	}
	m.Files = append(m.Files, put(t, rb, key(3), "new2"))
	if err := rb.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := rb.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rb.Close(); err != nil {
		t.Fatal(err)
	}
	r := openRead(t, dir)
	if n, err := r.Count(ctx); err != nil || n != 2 || r.Staging() {
		t.Fatalf("after publish: Count = %d, %v, staging %v", n, err, r.Staging())
	}
	if _, err := os.Stat(r.objectPath(key(1))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old index's object is left: %v", err)
	}
}

// TestReopen200k stores 200,000 chunks, closes the index, reopens it and
// counts every chunk, by load and by verification.
func TestReopen200k(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200,000 chunks")
	}
	t.Parallel()
	ctx := context.Background()
	const objects, perObject, dims = 2000, 100, 8
	s, dir := newStore(t)
	var files []FileEntry
	for o := 0; o < objects; o++ {
		chunks := make([]Chunk, perObject)
		for i := range chunks {
			v := make([]float32, dims)
			v[(o+i)%dims] = 1
			v[i%dims] += 0.5
			chunks[i] = Chunk{StartLine: i + 1, EndLine: i + 1, Text: fmt.Sprintf("o%d c%d", o, i), Vector: v}
		}
		if err := s.PutObject(ctx, key(o), chunks); err != nil {
			t.Fatal(err)
		}
		files = append(files, FileEntry{Root: "/r", Path: fmt.Sprintf("f%04d.md", o), Key: key(o), Chunks: perObject})
	}
	m := s.Manifest()
	m.EmbedModel, m.Dims, m.Files = "m", dims, files
	if err := s.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := openRead(t, dir)
	if m := r.Manifest(); m.Chunks() != objects*perObject {
		got := m.Chunks()
		t.Fatalf("catalog holds %d chunks", got)
	}
	n, damaged, err := r.Verify(ctx)
	if err != nil || len(damaged) > 0 || n != objects*perObject {
		t.Fatalf("Verify = %d, %v, %v", n, damaged, err)
	}
	if n, err := r.Count(ctx); err != nil || n != objects*perObject {
		t.Fatalf("Count = %d, %v, want %d", n, err, objects*perObject)
	}
	ents, err := filepath.Glob(filepath.Join(dir, "objects", "*", "*.chk"))
	if err != nil || len(ents) != objects {
		t.Fatalf("%d object files, %v", len(ents), err)
	}
}

// manifestOf reads the catalog as a reader does, and lets go of the index.
func manifestOf(t *testing.T, dir string) Manifest {
	t.Helper()
	r, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Manifest()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGarbageAfterCleanCollection checks that a writer that writes nothing
// skips the collection only while nothing changed since the last one: an
// object and a segment left by a killed run are still removed by the next
// run, even one that changes nothing.
func TestGarbageAfterCleanCollection(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	commitFiles(t, s, put(t, s, key(1), "alpha"))
	saveCaches(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopen := func() *Local { return openWrite(t, dir) }
	// The first collection created its mark, which changed the index folder
	// in the same clock tick or an earlier one, so the next run may or may
	// not collect again; the one after it must not.
	for i := range 2 {
		w := reopen()
		if i == 1 && !w.clean {
			t.Errorf("run %d: clean = %v", i, w.clean)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// A killed run: an object and a segment no catalog names.
	k := reopen()
	put(t, k, key(2), "beta")
	if err := k.flushSegment(); err != nil {
		t.Fatal(err)
	}
	orphan := k.objectPath(key(2))
	k.clean, k.dirty = false, false // as if killed: no collection of its own
	k.lock.Close()
	k.lock = nil
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("the killed run's object: %v", err)
	}
	w := reopen()
	if w.clean {
		t.Error("clean after a run that left garbage")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the orphan object is still there: %v", err)
	}
	if st, err := openRead(t, dir).CacheStats(); err != nil || st.Unused != 0 {
		t.Errorf("segments after the collection: %+v, %v", st, err)
	}
}

// openWrite opens the index in dir for writing, as the next `rag index`.
func openWrite(t *testing.T, dir string) *Local {
	t.Helper()
	w, err := Open(context.Background(), dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestNotWritable: a write the index folder refuses (read-only, immutable,
// another owner's; injected here, as root may write anywhere) is a
// NotWritableError wherever it fails, not only at the lock: a commit into
// an immutable folder was a plain error (exit 1, not 7).
func TestNotWritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := openWrite(t, dir)
	f := put(t, w, key(1), "alpha")
	w.createTemp = func(dir, _ string) (*os.File, error) {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(dir, ".tmp-1"), Err: syscall.EPERM}
	}
	var nw *NotWritableError
	m := w.Manifest()
	m.EmbedModel, m.Dims, m.Files = "m", 4, []FileEntry{f}
	if err := w.Commit(context.Background(), m); !errors.As(err, &nw) || nw.Dir != dir {
		t.Errorf("Commit: %v", err)
	}
	if err := w.PutObject(context.Background(), key(2), []Chunk{{Text: "beta", Vector: []float32{0, 1, 0, 0}}}); !errors.As(err, &nw) {
		t.Errorf("PutObject: %v", err)
	}
	w.createTemp = nil
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
