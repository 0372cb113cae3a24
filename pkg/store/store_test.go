package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var le = binary.LittleEndian

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
	hits, err := s.Search(ctx, View{}, vec(4, 1), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 || hits[0].Text != "beta ünïcode" || hits[0].StartLine != 3 || hits[0].EndLine != 9 || hits[0].Score < 0.99 {
		t.Fatalf("hits = %+v", hits)
	}
	if hits[1].Text != "beta ünïcode" || hits[0].File.Path == hits[1].File.Path {
		t.Errorf("the shared object is not found under both paths: %+v", hits)
	}
	if hits, err := s.Search(ctx, View{}, vec(4, 2), 100); err != nil || len(hits) != 5 || hits[0].File.Path != "c.md" {
		t.Errorf("k larger than the index: %+v, %v", hits, err)
	}
}

func TestSearchEmptyIndex(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	commitFiles(t, s)
	hits, err := s.Search(context.Background(), View{}, vec(8, 1), 3)
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
	good, err := encodeCatalog(&Manifest{Generation: "g", Files: []FileEntry{{Root: "/r", Path: "a", Key: key(1), ObjectSize: 9}}})
	if err != nil {
		t.Fatal(err)
	}
	// binary makes a catalog file of a whole one, changed by edit, with its
	// checksum made right again when fix.
	binary := func(edit func([]byte) []byte, fix bool) string {
		b := edit(append([]byte(nil), good...))
		if fix {
			b = b[:len(b)-4]
			b = le.AppendUint32(b, crc32.ChecksumIEEE(b))
		}
		return string(b)
	}
	setVersion := func(v uint32) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint32(b[4:], v); return b }
	}
	corrupt := func(err error) bool { var c *CorruptError; return errors.As(err, &c) && c.Catalog }
	catalog5, err := os.ReadFile(filepath.Join("testdata", "catalog-v5"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		manifest string
		check    func(error) bool
		binary   bool // the binary catalog, else the JSON one of versions 3 and 4
	}{
		{"missing", "", func(err error) bool { return errors.Is(err, ErrNoIndex) }, false},
		{"binary", binary(func(b []byte) []byte { return b }, false), func(err error) bool { return err == nil }, true},
		{"binary truncated", binary(func(b []byte) []byte { return b[:len(b)/2] }, false), corrupt, true},
		{"binary flipped bit", binary(func(b []byte) []byte { b[20] ^= 4; return b }, false), corrupt, true},
		{"binary empty", "", corrupt, true},
		{"binary, not a catalog", "{\"format_version\": 5}", corrupt, true},
		{"binary newer version", binary(setVersion(FormatVersion+1), true), func(err error) bool {
			var v *VersionError
			return errors.As(err, &v) && v.Got == FormatVersion+1 && strings.Contains(v.Error(), fmt.Sprintf("reads versions 3 to %d", FormatVersion))
		}, true},
		{"binary newer version, damaged", binary(setVersion(FormatVersion+1), false), corrupt, true},
		{"binary version 4", binary(setVersion(4), true), corrupt, true},
		{"binary version 5, as rag of that version wrote it", string(catalog5), func(err error) bool { return err == nil }, true},
		{"binary version 5 in version 6's layout", binary(setVersion(5), true), corrupt, true},
		{"binary bad key", binary(func(b []byte) []byte {
			i := bytes.Index(b, []byte(key(1)))
			b[i] = 'x'
			return b
		}, true), corrupt, true},
		{"truncated", `{"format_version": 3, "files": [`, func(err error) bool { var c *CorruptError; return errors.As(err, &c) }, false},
		{"bad key", `{"format_version": 3, "generation": "g", "files": [{"path": "a", "key": "../x", "object_size": 9}]}`, func(err error) bool { var c *CorruptError; return errors.As(err, &c) }, false},
		{"version 2", `{"format_version": 2, "files": []}`, func(err error) bool { var v *VersionError; return errors.As(err, &v) }, false},
		{"not json", "\x00\x01garbage", func(err error) bool { var c *CorruptError; return errors.As(err, &c) }, false},
		{"future version", `{"format_version": 99}`, func(err error) bool { var v *VersionError; return errors.As(err, &v) }, false},
		{"version 5 is not JSON", `{"format_version": 5, "generation": "g", "files": []}`, corrupt, false},
		{"version 3 is read", `{"format_version": 3, "generation": "g", "files": []}`, func(err error) bool { return err == nil }, false},
		{"version 4 with what a file was seen as", `{"format_version": 4, "generation": "g", "files": [{"root": "/r", "path": "a", "key": "` + key(1) + `", "chunks": 0, "object_size": 9, "seen": {"size": 3, "mtime": 5, "ctime": 6, "inode": 7, "read_at": 8}}]}`, func(err error) bool { return err == nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			name := legacyName
			if tt.binary {
				name = catalogName
			}
			if tt.manifest != "" || tt.binary {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(tt.manifest), 0o644); err != nil {
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

// TestCorruptObject damages one of two objects: the index still opens and
// answers from the other, and names the damaged one (by its files) at open
// when a size check sees it, else once the vectors are read, and always to
// CheckObjects and Verify.
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
		{"deleted", nil, true},
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
			if err := s.PutObject(ctx, key(7), []Chunk{{StartLine: 1, EndLine: 2, Text: "some damaged text", Vector: vec(4, 3)}}); err != nil {
				t.Fatal(err)
			}
			if err := s.PutObject(ctx, key(8), []Chunk{{StartLine: 1, EndLine: 2, Text: "some good text", Vector: vec(4, 2)}}); err != nil {
				t.Fatal(err)
			}
			commitFiles(t, s, FileEntry{Path: "a.md", Key: key(7), Chunks: 1}, FileEntry{Path: "copy/a.md", Key: key(7), Chunks: 1},
				FileEntry{Path: "b.md", Key: key(8), Chunks: 1})
			if err := s.SaveCaches(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			p := s.objectPath(key(7))
			if tt.damage == nil {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			} else {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, tt.damage(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{"a.md", "copy/a.md"}
			s2 := openRead(t, dir)
			if err := s2.CheckSizes(); err != nil {
				t.Fatal(err)
			}
			if got := DamagedPaths(s2.Damaged()); tt.onOpen != (len(got) > 0) {
				t.Errorf("damaged by size = %v, want found %v", got, tt.onOpen)
			}
			hits, err := s2.Search(ctx, View{}, vec(4, 3), 3)
			if err != nil || len(hits) != 1 || hits[0].File.Path != "b.md" {
				t.Fatalf("Search = %+v, %v; want only b.md", hits, err)
			}
			hits, err = s2.SearchText(ctx, View{}, "some text", 3)
			if err != nil || len(hits) != 1 || hits[0].File.Path != "b.md" {
				t.Fatalf("SearchText = %+v, %v; want only b.md", hits, err)
			}
			if got := DamagedPaths(s2.Damaged()); !slices.Equal(got, want) {
				t.Errorf("damaged after search = %v, want %v", got, want)
			}
			v := openRead(t, dir)
			if _, damaged, err := v.Verify(ctx); err != nil || !slices.Equal(DamagedPaths(damaged), want) {
				t.Errorf("Verify = %v, %v; want %v", damaged, err, want)
			}
			// Closed now: an open reader that has not loaded holds off
			// the writer's garbage collection.
			if err := errors.Join(v.Close(), s2.Close()); err != nil {
				t.Fatal(err)
			}
			w, err := Open(ctx, dir, Options{Write: true})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = w.Close() }()
			ds, err := w.CheckObjects(ctx)
			if err != nil || len(ds) != 1 || ds[0].Key != key(7) || !strings.Contains(ds[0].Err.Path, key(7)) {
				t.Fatalf("CheckObjects = %+v, %v", ds, err)
			}
			// Written again under its key, the object is whole.
			if err := w.PutObject(ctx, key(7), []Chunk{{StartLine: 1, EndLine: 2, Text: "some damaged text", Vector: vec(4, 3)}}); err != nil {
				t.Fatal(err)
			}
			if ds := w.Damaged(); len(ds) != 0 {
				t.Errorf("damaged after rewrite: %+v", ds)
			}
		})
	}
}

// TestRecoverCatalog damages manifest.json: the catalog kept at the commit
// before is read instead and said so, and the next commit replaces the
// damaged one without keeping it as the previous catalog.
func TestRecoverCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	a, b := put(t, s, key(1), "alpha"), put(t, s, key(2), "beta")
	a.Path, b.Path = "a.md", "b.md"
	commitFiles(t, s, a)
	if _, err := os.Stat(filepath.Join(dir, prevName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a first commit has no previous catalog: %v", err)
	}
	commitFiles(t, s, a, b)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, catalogName), []byte("RAGM\x05\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := openRead(t, dir)
	if r.Recovered() == nil || len(r.Manifest().Files) != 1 {
		t.Fatalf("recovered %v, files %+v", r.Recovered(), r.Manifest().Files)
	}
	if m, err := ReadManifest(dir); err != nil || len(m.Files) != 1 {
		t.Fatalf("ReadManifest = %+v, %v", m, err)
	}
	// A reader that has not loaded holds off the writer's garbage collection.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := Open(ctx, dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	commitFiles(t, w, a, b)
	if w.Recovered() != nil {
		t.Error("still recovered after a commit")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The previous catalog is still the good one, not the damaged file.
	if prev, err := readCatalogFile(dir, prevName); err != nil || len(prev.Files) != 1 {
		t.Fatalf("previous catalog = %+v, %v", prev, err)
	}
	r = openRead(t, dir)
	if r.Recovered() != nil || len(r.Manifest().Files) != 2 {
		t.Fatalf("after the commit: recovered %v, %d files", r.Recovered(), len(r.Manifest().Files))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("a rebuild keeps the good previous catalog", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, catalogName), []byte("RAGM"), 0o644); err != nil {
			t.Fatal(err)
		}
		rb, err := Open(ctx, dir, Options{Write: true, Rebuild: true})
		if err != nil {
			t.Fatal(err)
		}
		commitFiles(t, rb, a)
		if err := errors.Join(rb.Publish(ctx), rb.Close()); err != nil {
			t.Fatal(err)
		}
		if prev, err := readCatalogFile(dir, prevName); err != nil || len(prev.Files) != 1 {
			t.Fatalf("previous catalog after the rebuild = %+v, %v", prev, err)
		}
	})
	t.Run("no previous catalog", func(t *testing.T) {
		s, dir := newStore(t)
		commitFiles(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, catalogName), []byte("RAGM"), 0o644); err != nil {
			t.Fatal(err)
		}
		var c *CorruptError
		if _, err := Open(ctx, dir, Options{}); !errors.As(err, &c) || !c.Catalog {
			t.Fatalf("Open = %v, want a CorruptError of the catalog", err)
		}
	})
}

func TestCheckDir(t *testing.T) {
	t.Parallel()
	s, index := newStore(t)
	commitFiles(t, s)
	root := t.TempDir()
	file := filepath.Join(root, "file")
	docs := filepath.Join(root, "docs")
	stopped := filepath.Join(root, "stopped") // a first run that stopped before its commit
	hidden := filepath.Join(root, "hidden")
	old := filepath.Join(root, "old") // an index of format version 4
	for _, d := range []string{docs, stopped, hidden, old} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{file, filepath.Join(docs, "manifest.json"), filepath.Join(docs, "catalog"), filepath.Join(docs, "notes.md"), filepath.Join(stopped, lockName), filepath.Join(hidden, ".DS_Store")} {
		if err := os.WriteFile(f, []byte(`{"name": "app"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(old, legacyName), []byte(`{"format_version":4,"embed_model":"m"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir string
		file, bad bool
	}{
		{"index", index, false, false},
		{"index of format version 4", old, false, false},
		{"new", filepath.Join(root, "new"), false, false},
		{"empty", t.TempDir(), false, false},
		{"only index files", stopped, false, false},
		{"only hidden files", hidden, false, false},
		{"file", file, true, true},
		{"documents", docs, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDir(tt.dir)
			var n *NotIndexError
			if got := errors.As(err, &n); got != tt.bad || got && n.File != tt.file {
				t.Errorf("CheckDir = %v, want refused %v (file %v)", err, tt.bad, tt.file)
			}
		})
	}
	if !HoldsCatalog(index) || !HoldsCatalog(old) || HoldsCatalog(docs) {
		t.Error("HoldsCatalog is wrong")
	}
}

func FuzzDecodeObject(f *testing.F) {
	var b strings.Builder
	if err := encodeObject(&b, []Chunk{{StartLine: 1, EndLine: 2, Text: "hi", Vector: []float32{1, 0}}}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(b.String()))
	b.Reset()
	nan := float32(math.NaN())
	if err := encodeObject(&b, []Chunk{{Text: "zero", Vector: []float32{0, float32(math.Copysign(0, -1))}}, {Text: "nan", Vector: []float32{nan, 0}}, {Text: "tiny", Vector: []float32{0, 1e-45}},
		{Text: "nan and one", Vector: []float32{nan, 1}}, {Text: "inf", Vector: []float32{float32(math.Inf(-1)), 1}}}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(b.String()))
	f.Add([]byte("RAGC"))
	// Headers that claim more than the file holds, their checksum made to
	// match: count × dims overflowed into a negative capacity (a panic).
	for _, h := range [][2]uint32{{0xffffffff, 0xffffffff}, {0x40000000, 1}, {2, 0x7fffffff}, {0x80000000, 0x80000000}} {
		f.Add(craftHeader([]byte(b.String()), h[0], h[1]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Must not panic, whatever the bytes; the text-only decoding
		// searches use agrees with the whole one.
		chunks, err := decodeObject(data)
		text, terr := decodeObjectText(data)
		if (err == nil) != (terr == nil) {
			t.Fatalf("decodeObject: %v, decodeObjectText: %v", err, terr)
		}
		if err != nil {
			return
		}
		if len(text.chunks) != len(chunks) || len(text.usable) != len(chunks) {
			t.Fatalf("%d chunks, %d without vectors, %d usable flags", len(chunks), len(text.chunks), len(text.usable))
		}
		for i, c := range chunks {
			if text.usable[i] == zero(c.Vector) || len(c.Vector) != text.dims || text.chunks[i].Text != c.Text || text.chunks[i].Vector != nil {
				t.Fatalf("chunk %d: usable %v, vector %v (dims %d)", i, text.usable[i], c.Vector, text.dims)
			}
		}
	})
}

// craftHeader is object data with its header's dims and count replaced
// and its checksum computed again, as a crafted file would have them.
func craftHeader(data []byte, dims, count uint32) []byte {
	data = bytes.Clone(data)
	binary.LittleEndian.PutUint32(data[6:], dims)
	binary.LittleEndian.PutUint32(data[10:], count)
	binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.ChecksumIEEE(data[:len(data)-4]))
	return data
}

// TestCraftedObjectHeader: a header that claims more chunks or dimensions
// than the file holds is damage, found before anything is allocated for it.
func TestCraftedObjectHeader(t *testing.T) {
	var b bytes.Buffer
	if err := encodeObject(&b, []Chunk{{Text: "a", Vector: []float32{1, 0}}, {Text: "b", Vector: []float32{0, 1}}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name        string
		dims, count uint32
		ok          bool
	}{
		{"as written", 2, 2, true},
		{"count*dims overflows", 0xffffffff, 0xffffffff, false},
		{"more dimensions than bytes", 0x40000000, 2, false},
		{"more chunks than bytes", 2, 0x7fffffff, false},
		{"one chunk too many", 2, 3, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := craftHeader(b.Bytes(), tt.dims, tt.count)
			_, err := decodeObject(data)
			_, terr := decodeObjectText(data)
			if (err == nil) != tt.ok || (terr == nil) != tt.ok {
				t.Errorf("decodeObject: %v; decodeObjectText: %v", err, terr)
			}
		})
	}
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
	if _, err := s.Search(ctx, View{}, q, 5); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Search(ctx, View{}, q, 5); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"format_version": 3, "generation": "g", "files": [{"path": "a", "key": "` + key(1) + `", "chunks": 1, "object_size": 9}]}`))
	f.Add([]byte(`{"format_version": 3`))
	f.Add([]byte(`{"format_version": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(legacyName, data) // must not panic, and never accept a bad key
		if err == nil && m != nil {
			for _, f := range m.Files {
				if !validKey(f.Key) {
					t.Fatalf("accepted key %q", f.Key)
				}
			}
		}
	})
}

// TestCheckObjectsReadsOnlyChanged checks that rag index's damage check reads
// only the objects that changed after the catalog was written (or after
// their last check), and still finds damage a write made.
func TestCheckObjectsReadsOnlyChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	for i := 1; i <= 3; i++ {
		if err := s.PutObject(ctx, key(i), []Chunk{{StartLine: 1, EndLine: 1, Text: fmt.Sprintf("text %d", i), Vector: vec(4, i%4)}}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // past the file system's clock tick
	commitFiles(t, s, FileEntry{Path: "a.md", Key: key(1), Chunks: 1}, FileEntry{Path: "b.md", Key: key(2), Chunks: 1}, FileEntry{Path: "c.md", Key: key(3), Chunks: 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check := func() (reads int, damaged []Damage) {
		t.Helper()
		var mu sync.Mutex
		w, err := Open(ctx, dir, Options{Write: true, Hook: func(p string) {
			if p == "check-object" {
				mu.Lock()
				reads++
				mu.Unlock()
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		}()
		damaged, err = w.CheckObjects(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return reads, damaged
	}
	if n, d := check(); n != 0 || len(d) != 0 {
		t.Fatalf("objects older than the catalog: %d read, damage %v", n, d)
	}
	time.Sleep(20 * time.Millisecond)
	p := s.objectPath(key(2))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if n, d := check(); n != 1 || len(d) != 1 || d[0].Key != key(2) {
		t.Fatalf("one object written after the catalog: %d read, damage %v", n, d)
	}
	// Rewritten whole (as a repair does, before its commit) it is checked
	// once, then trusted.
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if n, d := check(); n != 1 || len(d) != 0 {
		t.Fatalf("the object made whole: %d read, damage %v", n, d)
	}
	if n, d := check(); n != 0 || len(d) != 0 {
		t.Fatalf("after it passed: %d read, damage %v", n, d)
	}
}

// TestKnownDamageOutlivesCommits: an object a check found damaged (bytes
// flipped, which no stat sees) stays damaged to every later check and
// status, though the commits of runs that neither repair nor drop it, with
// a check or without, make it older than the catalog; a repair ends it, as
// does a catalog that no longer names it.
func TestKnownDamageOutlivesCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	a, b, c := put(t, s, key(1), "alpha"), put(t, s, key(2), "beta"), put(t, s, key(3), "gamma")
	commitFiles(t, s, a, b, c)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	flip := func(k string) {
		t.Helper()
		time.Sleep(20 * time.Millisecond) // past the file system's clock tick
		p := s.objectPath(k)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the next commit is later: it makes the object look trusted
	}
	// run opens a writer, checks the objects unless told not to, and
	// commits the files (none: no commit); it returns the damage found.
	run := func(check bool, files ...FileEntry) []string {
		t.Helper()
		w, err := Open(ctx, dir, Options{Write: true})
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		if check {
			ds, err := w.CheckObjects(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found = DamagedPaths(ds)
		}
		if files != nil {
			commitFiles(t, w, files...)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return found
	}
	status := func() []string {
		t.Helper()
		r, err := Open(ctx, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := r.Close(); err != nil {
				t.Error(err)
			}
		}()
		if err := r.CheckSizes(); err != nil {
			t.Fatal(err)
		}
		return DamagedPaths(r.Damaged())
	}
	flip(key(2))
	beta := []string{"beta.md"}
	if got := status(); len(got) != 0 {
		t.Fatalf("status before any check = %v; a stat sees no flipped bytes", got)
	}
	if got := run(true, a, b, c); !slices.Equal(got, beta) {
		t.Fatalf("first check = %v, want %v", got, beta)
	}
	for i, check := range []bool{true, false, true} {
		if got := status(); !slices.Equal(got, beta) {
			t.Errorf("status after commit %d = %v, want %v", i+1, got, beta)
		}
		if got := run(check, a, b, c); check && !slices.Equal(got, beta) {
			t.Errorf("check %d after a commit = %v, want %v", i+2, got, beta)
		}
	}
	// Repaired: written again under its key.
	w, err := Open(ctx, dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := w.CheckObjects(ctx); err != nil || !slices.Equal(DamagedPaths(ds), beta) {
		t.Fatalf("check before the repair = %v, %v", ds, err)
	}
	put(t, w, key(2), "beta")
	commitFiles(t, w, a, b, c)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, damagedName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the list of damage after the repair: %v", err)
	}
	if got, st := run(true), status(); len(got) != 0 || len(st) != 0 {
		t.Errorf("after the repair: check %v, status %v", got, st)
	}
	// Dropped: a catalog that no longer names it.
	flip(key(1))
	if got := run(true, b, c); !slices.Equal(got, []string{"alpha.md"}) {
		t.Fatalf("check = %v, want alpha.md", got)
	}
	if _, err := os.Stat(filepath.Join(dir, damagedName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the list of damage once no catalog names it: %v", err)
	}
}

// TestStale: a reader learns that a commit replaced the catalog it opened,
// and only then; a writer never calls its own catalog stale.
func TestStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, dir := newStore(t)
	if err := w.PutObject(ctx, key(1), []Chunk{{StartLine: 1, EndLine: 1, Text: "alpha", Vector: vec(4, 0)}}); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, w, FileEntry{Root: "/r", Path: "a.md", Key: key(1), Chunks: 1})
	r := openRead(t, dir)
	if r.Stale() || w.Stale() {
		t.Fatalf("stale right after opening: reader %v, writer %v", r.Stale(), w.Stale())
	}
	commitFiles(t, w, FileEntry{Root: "/r", Path: "a.md", Key: key(1), Chunks: 1}, FileEntry{Root: "/r", Path: "b.md", Key: key(1), Chunks: 1})
	if !r.Stale() {
		t.Error("a commit went unnoticed")
	}
	if w.Stale() {
		t.Error("the writer calls its own commit stale")
	}
	if r2 := openRead(t, dir); r2.Stale() || len(r2.Manifest().Files) != 2 {
		t.Errorf("reopened: stale %v, %d files", r2.Stale(), len(r2.Manifest().Files))
	}
}

// TestVectorsWithoutDirection: a stored vector with no direction (all
// zeros, or with a NaN or an infinity) is never a dense hit, and a query
// vector without one finds nothing; a tiny query (whose float32 sum of
// squares is 0) is scaled in float64. No score is ever NaN.
func TestVectorsWithoutDirection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := newStore(t)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	chunks := []Chunk{
		{StartLine: 1, EndLine: 1, Text: "good", Vector: []float32{1, 1, 0, 0}},
		{StartLine: 2, EndLine: 2, Text: "zero", Vector: []float32{0, 0, 0, 0}},
		{StartLine: 3, EndLine: 3, Text: "nan", Vector: []float32{1, nan, 0, 0}},
		{StartLine: 4, EndLine: 4, Text: "inf", Vector: []float32{1, inf, 0, 0}},
	}
	if err := s.PutObject(ctx, key(1), chunks); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, s, FileEntry{Root: "/r", Path: "a.md", Key: key(1), Chunks: len(chunks)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openRead(t, dir)
	tests := []struct {
		name  string
		query []float32
		want  string
	}{
		{"a query", []float32{1, 0, 0, 0}, "good"},
		{"a tiny query", []float32{1e-44, 1e-44, 0, 0}, "good"},
		{"a zero query", []float32{0, 0, 0, 0}, ""},
		{"a NaN query", []float32{nan, 1, 0, 0}, ""},
		{"an infinite query", []float32{inf, 1, 0, 0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits, err := s.Search(ctx, View{}, tt.query, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hits {
				if math.IsNaN(float64(h.Score)) || math.IsInf(float64(h.Score), 0) {
					t.Errorf("%s scored %v", h.Text, h.Score)
				}
				got = append(got, h.Text)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("hits %v, want %q", got, tt.want)
			}
		})
	}
}

// TestIndexGone deletes, or replaces, the index folder under an open
// reader: every read that finds an object missing then says the index is
// gone (GoneError), rather than noting damage and finding nothing.
func TestIndexGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reads := []struct {
		name string
		read func(s *Local) error
	}{
		{"Search", func(s *Local) error { _, err := s.Search(ctx, View{}, vec(4, 0), 3); return err }},
		{"SearchText", func(s *Local) error { _, err := s.SearchText(ctx, View{}, "owls", 3); return err }},
		{"CheckSizes", func(s *Local) error { return s.CheckSizes() }},
		{"Verify", func(s *Local) error { _, _, err := s.Verify(ctx); return err }},
		{"FileChunks", func(s *Local) error { _, err := s.FileChunks(ctx, s.Manifest().Files[0]); return err }},
	}
	build := func(t *testing.T, dir string, texts ...string) {
		t.Helper()
		w, err := Open(ctx, dir, Options{Write: true})
		if err != nil {
			t.Fatal(err)
		}
		commitFiles(t, w, put(t, w, key(len(texts)), texts...))
		if err := errors.Join(w.SaveCaches(ctx), w.Close()); err != nil {
			t.Fatal(err)
		}
	}
	for _, rd := range reads {
		for _, replaced := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, replaced %v", rd.name, replaced), func(t *testing.T) {
				t.Parallel()
				dir := filepath.Join(t.TempDir(), "index")
				build(t, dir, "owls", "owls sleep")
				s := openRead(t, dir)
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if replaced {
					build(t, dir, "bees")
				}
				err := rd.read(s)
				var g *GoneError
				if !errors.As(err, &g) || g.Dir != dir || g.Replaced != replaced {
					t.Errorf("err = %v, want a GoneError (replaced %v)", err, replaced)
				}
				if d := s.Damaged(); len(d) != 0 {
					t.Errorf("damage noted: %+v", d)
				}
			})
		}
	}
}

// TestEachKeyAllFail: when every worker fails at once (a deleted index
// fails every read), eachKey returns the first error and does not hang.
// Not parallel: it sets GOMAXPROCS for more workers.
func TestEachKeyAllFail(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = key(i)
	}
	boom := errors.New("boom")
	for i := range 1000 {
		done := make(chan error, 1)
		go func() {
			done <- eachKey(context.Background(), keys, func(w int, _ string) error {
				// The workers fail at about the same time, in varying order.
				time.Sleep(time.Duration((i*7+w*13)%50) * time.Microsecond)
				return boom
			})
		}()
		select {
		case err := <-done:
			if !errors.Is(err, boom) {
				t.Fatalf("eachKey = %v, want boom", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("eachKey hangs when every worker fails")
		}
	}
}
