package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func vec(dims int, hot ...int) []float32 {
	v := make([]float32, dims)
	for _, h := range hot {
		v[h] = 1
	}
	return v
}

func key(i int) string { return fmt.Sprintf("%064x", i+1) }

func commitFiles(t testing.TB, s *Local, files ...FileEntry) {
	t.Helper()
	m := s.Manifest()
	m.EmbedModel, m.Dims, m.Files = "m", 4, files
	if err := s.Commit(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// newStore opens a new, empty index in a temporary folder.
func newStore(t *testing.T) (*Local, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() }) // closing twice is harmless
	return s, dir
}

func openRead(t *testing.T, dir string) *Local {
	t.Helper()
	s, err := Open(context.Background(), dir, Options{})
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

func TestRoundTripAndSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	chunks := []Chunk{
		{StartLine: 1, EndLine: 3, Text: "alpha", Vector: vec(4, 0)},
		{StartLine: 3, EndLine: 9, Text: "beta ünïcode", Vector: vec(4, 1)},
	}
	if err := s.PutObject(ctx, key(1), chunks); err != nil {
		t.Fatal(err)
	}
	if err := s.PutObject(ctx, key(2), []Chunk{{StartLine: 1, EndLine: 1, Text: "gamma", Vector: vec(4, 2)}}); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, s,
		FileEntry{Root: "/r", Path: "a.md", Key: key(1), Chunks: 2},
		FileEntry{Root: "/r", Path: "copy-of-a.md", Key: key(1), Chunks: 2},
		FileEntry{Root: "/r", Path: "c.md", Key: key(2), Chunks: 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openRead(t, dir)
	hits, err := s.Search(ctx, vec(4, 1), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 || hits[0].Text != "beta ünïcode" || hits[0].StartLine != 3 || hits[0].EndLine != 9 || hits[0].Score < 0.99 {
		t.Fatalf("hits = %+v", hits)
	}
	if hits[1].Text != "beta ünïcode" || hits[0].File.Path == hits[1].File.Path {
		t.Errorf("the shared object is not found under both paths: %+v", hits)
	}
	if hits, err := s.Search(ctx, vec(4, 2), 100); err != nil || len(hits) != 5 || hits[0].File.Path != "c.md" {
		t.Errorf("k larger than the index: %+v, %v", hits, err)
	}
}

func TestSearchEmptyIndex(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	commitFiles(t, s)
	hits, err := s.Search(context.Background(), vec(8, 1), 3)
	if err != nil || len(hits) != 0 {
		t.Fatalf("Search on an empty index = %v, %v", hits, err)
	}
}

func TestGarbageCollection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	for i := 0; i < 3; i++ {
		if err := s.PutObject(ctx, key(i), []Chunk{{StartLine: 1, EndLine: 1, Text: "x", Vector: vec(4, i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// A temporary file left by a crash.
	if err := os.WriteFile(filepath.Join(dir, "objects", key(0)[:2], ".tmp-123"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, s, FileEntry{Path: "keep.md", Key: key(1), Chunks: 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects", key(0)[:2], ".tmp-123")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
	for i, want := range []bool{false, true, false} {
		_, err := os.Stat(s.objectPath(key(i)))
		if present := err == nil; present != want {
			t.Errorf("object %d present = %v (%v), want %v", i, present, err, want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		manifest string
		check    func(error) bool
	}{
		{"missing", "", func(err error) bool { return errors.Is(err, ErrNoIndex) }},
		{"truncated", `{"format_version": 3, "files": [`, func(err error) bool { var c *CorruptError; return errors.As(err, &c) }},
		{"bad key", `{"format_version": 3, "generation": "g", "files": [{"path": "a", "key": "../x", "object_size": 9}]}`, func(err error) bool { var c *CorruptError; return errors.As(err, &c) }},
		{"missing object", `{"format_version": 3, "generation": "g", "files": [{"path": "a", "key": "` + key(3) + `", "chunks": 1, "object_size": 9}]}`, func(err error) bool {
			var c *CorruptError
			return errors.As(err, &c) && strings.Contains(c.Error(), "missing")
		}},
		{"version 2", `{"format_version": 2, "files": []}`, func(err error) bool { var v *VersionError; return errors.As(err, &v) }},
		{"not json", "\x00\x01garbage", func(err error) bool { var c *CorruptError; return errors.As(err, &c) }},
		{"future version", `{"format_version": 99}`, func(err error) bool { var v *VersionError; return errors.As(err, &v) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.manifest != "" {
				if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(tt.manifest), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Open(context.Background(), dir, Options{})
			if !tt.check(err) {
				t.Fatalf("Open error = %v", err)
			}
		})
	}
}

func TestCorruptObject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		damage func([]byte) []byte
		// onOpen: found by the size check on open; otherwise by the
		// checksum when the vectors are read.
		onOpen bool
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, true},
		{"empty", func([]byte) []byte { return nil }, true},
		{"flipped bit", func(b []byte) []byte { b[20] ^= 1; return b }, false},
		{"zeroed tail", func(b []byte) []byte {
			for i := len(b) - 8; i < len(b); i++ {
				b[i] = 0
			}
			return b
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, dir := newStore(t)
			if err := s.PutObject(ctx, key(7), []Chunk{{StartLine: 1, EndLine: 2, Text: "some text", Vector: vec(4, 3)}}); err != nil {
				t.Fatal(err)
			}
			commitFiles(t, s, FileEntry{Path: "a.md", Key: key(7), Chunks: 1})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			p := s.objectPath(key(7))
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, tt.damage(data), 0o644); err != nil {
				t.Fatal(err)
			}
			var c *CorruptError
			s2, err := Open(ctx, dir, Options{})
			if tt.onOpen {
				if !errors.As(err, &c) || !strings.Contains(c.Path, key(7)) {
					t.Fatalf("Open error = %v, want CorruptError naming the object", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s2.Close(); err != nil {
					t.Error(err)
				}
			}()
			if _, damaged, err := s2.Verify(ctx); err != nil || len(damaged) != 1 {
				t.Errorf("Verify = %v, %v; want one damaged object", damaged, err)
			}
			_, err = s2.Search(ctx, vec(4, 3), 1)
			if !errors.As(err, &c) || !strings.Contains(c.Path, key(7)) {
				t.Fatalf("Search error = %v, want CorruptError naming the object", err)
			}
		})
	}
}

func FuzzDecodeObject(f *testing.F) {
	var b strings.Builder
	if err := encodeObject(&b, []Chunk{{StartLine: 1, EndLine: 2, Text: "hi", Vector: []float32{1, 0}}}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(b.String()))
	f.Add([]byte("RAGC"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeObject(data) // must not panic, whatever the bytes
	})
}

// BenchmarkSearch10k measures a query over 10,000 chunks of 768 dimensions
// (the first Search also loads the vectors; it is outside the timer).
func BenchmarkSearch10k(b *testing.B) {
	ctx := context.Background()
	const n, dims, perFile = 10_000, 768, 10
	s, err := Open(ctx, b.TempDir(), Options{Write: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	random := func() []float32 {
		v := make([]float32, dims)
		for i := range v {
			v[i] = r.Float32()*2 - 1
		}
		return v
	}
	var files []FileEntry
	for f := 0; f < n/perFile; f++ {
		chunks := make([]Chunk, perFile)
		for i := range chunks {
			chunks[i] = Chunk{StartLine: i*10 + 1, EndLine: i*10 + 10, Text: "chunk text", Vector: random()}
		}
		if err := s.PutObject(ctx, key(f), chunks); err != nil {
			b.Fatal(err)
		}
		files = append(files, FileEntry{Path: fmt.Sprintf("f%d.md", f), Key: key(f), Chunks: perFile})
	}
	m := s.Manifest()
	m.EmbedModel, m.Dims, m.Files = "m", dims, files
	if err := s.Commit(ctx, m); err != nil {
		b.Fatal(err)
	}
	q := random()
	if _, err := s.Search(ctx, q, 5); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Search(ctx, q, 5); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"format_version": 3, "generation": "g", "files": [{"path": "a", "key": "` + key(1) + `", "chunks": 1, "object_size": 9}]}`))
	f.Add([]byte(`{"format_version": 3`))
	f.Add([]byte(`{"format_version": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(manifestName, data) // must not panic, and never accept a bad key
		if err == nil && m != nil {
			for _, f := range m.Files {
				if !validKey(f.Key) {
					t.Fatalf("accepted key %q", f.Key)
				}
			}
		}
	})
}
