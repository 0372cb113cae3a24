package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// randomIndex writes an index of files×perFile random unit vectors of dims
// and saves its caches; it returns the folder and a query generator.
func randomIndex(t testing.TB, files, perFile, dims int) (string, func() []float32) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	unit := func() []float32 {
		v := make([]float32, dims)
		var n float64
		for i := range v {
			v[i] = float32(r.NormFloat64())
			n += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(n))
		}
		return v
	}
	var entries []FileEntry
	for f := range files {
		chunks := make([]Chunk, perFile)
		for i := range chunks {
			chunks[i] = Chunk{StartLine: i + 1, EndLine: i + 1, Text: fmt.Sprintf("file %d chunk %d", f, i), Vector: unit()}
		}
		if err := s.PutObject(ctx, key(f), chunks); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, FileEntry{Root: "/r", Path: fmt.Sprintf("f%d.md", f), Key: key(f), Chunks: perFile})
	}
	m := s.Manifest()
	m.EmbedModel, m.Dims, m.Files = "m", dims, entries
	if err := s.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCaches(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, unit
}

// exact ranks every chunk by brute force over the vectors in the objects:
// the reference a search over the cache segments is measured against.
func exact(t testing.TB, dir string, q []float32, k int) []Hit {
	t.Helper()
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }() // read-only
	var hits []Hit
	id := 0
	for _, f := range s.Manifest().Files {
		chunks, err := s.FileChunks(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks {
			var dot float32
			for i := range q {
				dot += q[i] * c.Vector[i]
			}
			hits = append(hits, Hit{ID: id, File: f, StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Heading: c.Heading, Text: c.Text, Score: dot})
			id++
		}
	}
	sortHits(hits)
	return hits[:min(k, len(hits))]
}

// cold searches a freshly opened index.
func cold(t testing.TB, dir string, q []float32, k int) []Hit {
	t.Helper()
	hits, _ := coldLoaded(t, dir, q, k)
	return hits
}

// coldLoaded is cold, and says whether the search read objects to build
// segments in memory (what no segment on disk served).
func coldLoaded(t testing.TB, dir string, q []float32, k int) ([]Hit, bool) {
	t.Helper()
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }() // read-only
	hits, err := s.Search(context.Background(), View{}, q, k)
	if err != nil {
		t.Fatal(err)
	}
	return hits, s.cache == nil || !s.cache.covered() || len(s.setAside) > 0
}

func ids(hits []Hit) []int {
	out := make([]int, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// TestSavedVectors checks that a cold dense search ranks with the cache
// segments as an exact search would (Recall@10 >= 0.99 over random vectors,
// the hardest case for int8), returns the same hits, and reads the objects
// of a segment that is damaged instead.
func TestSavedVectors(t *testing.T) {
	t.Parallel()
	dir, query := randomIndex(t, 200, 25, 64) // 5,000 chunks
	segs, err := filepath.Glob(filepath.Join(dir, segmentsDir, "*.seg"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("cache segments: %v, %v; want 1 (5,000 chunks)", segs, err)
	}
	recall := savedRecall(t, dir, query, 50, 10)
	t.Logf("Recall@10 of the saved vectors against exact search: %.4f", recall)
	if recall < 0.99 {
		t.Errorf("Recall@10 = %.4f, want >= 0.99", recall)
	}

	q := query()
	want := ids(exact(t, dir, q, 10))
	p := segs[0]
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	g, err := openSegmentData("", good)
	if err != nil {
		t.Fatal(err)
	}
	l := g.l
	for _, tt := range []struct {
		name string
		at   int64
	}{
		{"a float row", l.floats + 4*64*int64(want[0]) + 5},
		{"an int8 block", l.int8s + 100},
		{"the header", 20},
		{"the table", segmentHeader + 3},
		{"the keyword index", l.end + 30},
	} {
		t.Run("damaged "+tt.name, func(t *testing.T) {
			data := append([]byte(nil), good...)
			data[tt.at] ^= 0xff
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, loaded := coldLoaded(t, dir, q, 10)
			if !reflect.DeepEqual(ids(got), want) || !loaded {
				t.Errorf("with a damaged segment: %v (loaded: %v), want %v from the objects", ids(got), loaded, want)
			}
		})
	}
	if err := os.WriteFile(p, good, 0o644); err != nil {
		t.Fatal(err)
	}
	// A hit reads its own chunk of an object (version 3), checked by its
	// own checksum: a damaged one is left out.
	t.Run("a damaged object is left out", func(t *testing.T) {
		file := want[0] / 25
		op := filepath.Join(dir, "objects", key(file)[:2], key(file)+".chk")
		data, err := os.ReadFile(op)
		if err != nil {
			t.Fatal(err)
		}
		o, err := openObjectFile(op, 25)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := o.rows(0, 25)
		if cerr := o.close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}
		data[rows[want[0]%25].off+3] ^= 0xff
		if err := os.WriteFile(op, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, loaded := coldLoaded(t, dir, q, 10)
		if len(got) != 10 || loaded {
			t.Fatalf("%d hits (loaded: %v), want 10 from the rest of the segment", len(got), loaded)
		}
		for _, h := range got {
			if h.ID == want[0] {
				t.Errorf("the damaged chunk: %+v", h)
			}
		}
	})
}

// sameHit compares hits but for the score, which an exact search computes
// in another order of additions.
func sameHit(a, b Hit) bool {
	a.Score, b.Score = 0, 0
	return reflect.DeepEqual(a, b)
}

// TestSavedVectorsDeep checks the int8 scan's candidates for a deep
// ranking (hybrid search fuses 50 of each channel) at the dimensions of
// real embedding models: Recall@50 >= 0.99 against exact search.
func TestSavedVectorsDeep(t *testing.T) {
	t.Parallel()
	dir, query := randomIndex(t, 100, 25, 768) // 2,500 chunks
	recall := savedRecall(t, dir, query, 20, 50)
	t.Logf("Recall@50 against exact search: %.4f", recall)
	if recall < 0.99 {
		t.Errorf("Recall@50 = %.4f, want >= 0.99", recall)
	}
}

// savedRecall is the share of the exact top k that cold searches over the
// saved vectors find, over n queries; a best hit both find must be the
// same hit.
func savedRecall(t *testing.T, dir string, query func() []float32, n, k int) float64 {
	t.Helper()
	found, total := 0, 0
	for range n {
		q := query()
		want := exact(t, dir, q, k)
		got, loaded := coldLoaded(t, dir, q, k)
		if loaded {
			t.Fatal("the saved vectors were not used")
		}
		in := map[int]bool{}
		for _, h := range want {
			in[h.ID] = true
		}
		for _, h := range got {
			if in[h.ID] {
				found++
			}
		}
		total += len(want)
		if len(got) > 0 && got[0].ID == want[0].ID && !sameHit(got[0], want[0]) {
			t.Errorf("same chunk, other hit: %+v, want %+v", got[0], want[0])
		}
	}
	return float64(found) / float64(total)
}
