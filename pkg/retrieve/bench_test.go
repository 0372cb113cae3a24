package retrieve

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/store"
)

// vocabulary is a made-up language of 30,000 words built from syllables,
// so that the stemmer sees word-like input; words are drawn with a Zipf
// spread like real text.
func vocabulary(r *rand.Rand) []string {
	syll := strings.Fields("ka to ri ne sa mu lo pe an ti ver con ing ed ly tion al is ment or")
	seen := map[string]bool{}
	var out []string
	for len(out) < 30_000 {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteString(syll[r.IntN(len(syll))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

type fixture struct {
	st      *store.Local
	queries []string
	dims    int
}

// benchIndex builds an index of n chunks of ~150 words and 768-dimensional
// unit vectors in dir, opened and loaded for searching; it is closed when b
// ends.
func benchIndex(b *testing.B, dir string, n int) *fixture {
	ctx := context.Background()
	const perFile, dims = 10, 768
	s, err := store.Open(ctx, dir, store.Options{Write: true})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	vocab := vocabulary(r)
	z := rand.NewZipf(r, 1.07, 2, uint64(len(vocab)-1))
	var entries []store.FileEntry
	for f := 0; f < n/perFile; f++ {
		chunks := make([]store.Chunk, perFile)
		for i := range chunks {
			var t strings.Builder
			for range 150 {
				t.WriteString(vocab[z.Uint64()])
				t.WriteByte(' ')
			}
			chunks[i] = store.Chunk{StartLine: i*20 + 1, EndLine: i*20 + 20, Text: t.String(), Vector: unit(r, dims)}
		}
		k := fmt.Sprintf("%064x", f)
		if err := s.PutObject(ctx, k, chunks); err != nil {
			b.Fatal(err)
		}
		entries = append(entries, store.FileEntry{Root: "/docs", Path: fmt.Sprintf("f%d.md", f), Hash: k, Key: k, Chunks: perFile})
	}
	m := s.Manifest()
	m.EmbedModel, m.Dims, m.Files = "m", dims, entries
	if err := s.Commit(ctx, m); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := st.Close(); err != nil {
			b.Error(err)
		}
	})
	if _, err := st.Count(ctx); err != nil { // load before timing
		b.Fatal(err)
	}
	fx := &fixture{st: st, dims: dims}
	for i := range 50 {
		// Questions of 4-6 words: a few common ones, the rest from the tail.
		var q []string
		for j := range 4 + i%3 {
			if j == 0 {
				q = append(q, vocab[r.IntN(20)])
			} else {
				q = append(q, vocab[20+r.IntN(3000)])
			}
		}
		fx.queries = append(fx.queries, strings.Join(q, " "))
	}
	return fx
}

func unit(r *rand.Rand, dims int) []float32 {
	v := make([]float32, dims)
	var norm float64
	for j := range v {
		v[j] = r.Float32()*2 - 1
		norm += float64(v[j]) * float64(v[j])
	}
	for j := range v {
		v[j] /= float32(math.Sqrt(norm))
	}
	return v
}

// fixedEmbedder returns a precomputed query vector: the benchmarks time
// searching, not Ollama.
type fixedEmbedder struct{ v []float32 }

func (e fixedEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = e.v
	}
	return out, nil
}

// BenchmarkQuery is the latency of one query (top 10) by mode, at 10,000
// and 100,000 chunks of 768 dimensions, index already loaded; +expand adds
// an expansion of 3 phrasings and a passage (the chat call aside).
func BenchmarkQuery(b *testing.B) {
	// Each index is built on first use by a sub-benchmark that runs, and
	// shared by the modes; it lives in this benchmark's folder.
	indexes := map[int]*fixture{}
	for _, n := range []int{10_000, 100_000} {
		for _, m := range []string{"dense", "lexical", "hybrid", "dense+expand", "lexical+expand", "hybrid+expand"} {
			mode, expand := Mode(strings.TrimSuffix(m, "+expand")), strings.HasSuffix(m, "+expand")
			b.Run(fmt.Sprintf("%dk/%s", n/1000, m), func(sub *testing.B) {
				fx, ok := indexes[n]
				if !ok {
					fx = benchIndex(b, b.TempDir(), n)
					indexes[n] = fx
				}
				b := sub
				emb := fixedEmbedder{v: unit(rand.New(rand.NewPCG(7, 8)), fx.dims)}
				ctx := context.Background()
				i := 0
				for b.Loop() {
					opt := Options{Mode: mode, Fusion: Weighted}
					if expand {
						q := func(j int) string { return fx.queries[(i+j)%len(fx.queries)] }
						opt.Expansion = &Expansion{Phrasings: []string{q(1), q(2), q(3)}, Passage: q(4) + " " + q(5)}
					}
					if _, err := Search(ctx, fx.st, emb, fx.queries[i%len(fx.queries)], 10, opt); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
