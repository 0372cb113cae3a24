package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLargeContentSpansSegments checks that a content of more chunks than
// a segment holds is written in parts over several segments, none much
// larger than segmentRows, that every hit then names its own chunk (text,
// lines and vector agree), and that searches answer as the objects alone
// do; a missing part leaves the content to its object, with the same
// answers.
func TestLargeContentSpansSegments(t *testing.T) {
	s, dir := newStore(t)
	n := 2*segmentRows + 100
	chunks := make([]Chunk, n)
	for i := range chunks {
		chunks[i] = Chunk{StartLine: i + 1, EndLine: i + 1, Text: fmt.Sprintf("big chunk%d common topic%d", i, i%7), Vector: angle(float64(i) * 0.0003)} // one turn: no two alike
	}
	ctx := context.Background()
	if err := s.PutObject(ctx, key(1), chunks); err != nil {
		t.Fatal(err)
	}
	small := putFiles(t, s, 1, 3)
	files := append([]FileEntry{{Root: "/r", Path: "big.txt", Key: key(1), Chunks: n}}, small...)
	commitFiles(t, s, files...)
	saveCaches(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := segmentNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 3 {
		t.Fatalf("%d segments, want the big content in 3 parts", len(segs))
	}
	for _, name := range segs {
		data, err := os.ReadFile(filepath.Join(dir, segmentsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		g, err := openSegmentData(name, data)
		if err != nil {
			t.Fatal(err)
		}
		if g.l.n > segmentRows+3 {
			t.Errorf("segment %s holds %d rows, more than a segment's worth", name, g.l.n)
		}
	}
	query := func() []string {
		r := openRead(t, dir)
		var out []string
		for i := range 5 {
			at := i * (n - 1) / 4
			hits, err := r.Search(ctx, View{}, chunks[at].Vector, 3)
			if err != nil {
				t.Fatal(err)
			}
			text, err := r.SearchText(ctx, View{}, fmt.Sprintf("chunk%d", at), 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range append(hits, text...) {
				if h.File.Path == "big.txt" && h.Text != chunks[h.StartLine-1].Text {
					t.Errorf("hit at line %d has the text %q of another chunk", h.StartLine, h.Text)
				}
				out = append(out, fmt.Sprintf("%d %s:%d %q %.6f", h.ID, h.File.Path, h.StartLine, h.Text, h.Score))
			}
			if d := hits[0].StartLine - (at + 1); d < -3 || d > 3 { // neighbours differ by float32's precision
				t.Errorf("the vector of chunk %d found line %d first", at, hits[0].StartLine)
			}
		}
		if !slices.ContainsFunc(out, func(s string) bool { return s != "" }) {
			t.Fatal("no hits")
		}
		return out
	}
	served := query()
	// The middle part gone: the object serves the big content.
	if err := os.Remove(filepath.Join(dir, segmentsDir, segs[1])); err != nil {
		t.Fatal(err)
	}
	if got := query(); !slices.Equal(got, served) {
		t.Errorf("with a part missing:\n%v\nwant\n%v", got, served)
	}
	if err := os.RemoveAll(filepath.Join(dir, segmentsDir)); err != nil {
		t.Fatal(err)
	}
	if got := query(); !slices.Equal(got, served) {
		t.Errorf("from the objects alone:\n%v\nwant\n%v", got, served)
	}
}
