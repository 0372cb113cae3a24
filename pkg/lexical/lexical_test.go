package lexical

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
	}{
		{"stopwords and case", "The Normans were in France", []string{"norman", "franc"}},
		{"stems fold forms", "install installing installation", []string{"instal", "instal", "instal"}},
		{"digits kept", "retry 3 times in 2024", []string{"retri", "3", "time", "2024"}},
		{"punctuation splits", "client.retry(upload); x-ray", []string{"client", "retri", "upload", "x", "ray"}},
		{"non-ascii", "Ünïcode Café naïve 東京", []string{"ünïcode", "café", "naïv", "東京"}},
		{"possessive", "Normandy's duke", []string{"normandi", "duke"}},
		{"empty", " \n\t ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (Analyzer{}).Terms(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Terms(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// build indexes docs with two builders, as loading does with two workers.
func build(docs []string) *Index {
	b1, b2 := NewBuilder(), NewBuilder()
	for i, d := range docs {
		if i%2 == 0 {
			b1.Add(i, d)
		} else {
			b2.Add(i, d)
		}
	}
	return Merge(b1, b2)
}

func TestSearch(t *testing.T) {
	t.Parallel()
	docs := []string{
		0: "The client retries a failed upload three times with exponential backoff.",
		1: "Install the package on Linux with apt, or build it from source.",
		2: "Uploads larger than 5 GB are split into parts. Each part is retried on its own.",
		3: "The server logs every request. Logs rotate daily.",
		4: "Linux install linux install linux install: a document that repeats words over and over again so that it is long, times two.",
	}
	x := build(docs)
	tests := []struct {
		query string
		want  []int
	}{
		{"how many times does the client retry a failed upload", []int{0, 2, 4}},
		{"installing on linux", []int{4, 1}},
		{"log rotation", []int{3}},
		{"nothing matches zebra", nil},
		{"the of and", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			hits := must(t, x, tt.query, 3)
			var got []int
			for i, h := range hits {
				got = append(got, h.ID)
				if i > 0 && h.Score > hits[i-1].Score {
					t.Errorf("not sorted: %v", hits)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Search(%q) = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

func TestSearchK(t *testing.T) {
	t.Parallel()
	var docs []string
	for i := range 50 {
		docs = append(docs, fmt.Sprintf("word%d common", i%7))
	}
	x := build(docs)
	if got := len(must(t, x, "common", 10)); got != 10 {
		t.Errorf("k=10 gave %d hits", got)
	}
	if got := must(t, x, "common", 0); got != nil {
		t.Errorf("k=0 gave %v", got)
	}
	// Ties are broken by id, so results are the same on every run.
	hits := must(t, x, "common", 3)
	if hits[0].ID >= hits[1].ID || hits[1].ID >= hits[2].ID {
		t.Errorf("ties not ordered by id: %v", hits)
	}
}

// corpus makes n chunks of ~150 words from a vocabulary with a Zipf-like
// spread, like real text: a few very common words, a long tail.
func corpus(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 20000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%dx", i)
	}
	z := rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1))
	out := make([]string, n)
	var b strings.Builder
	for i := range out {
		b.Reset()
		for range 150 {
			b.WriteString(vocab[z.Uint64()])
			b.WriteByte(' ')
		}
		out[i] = b.String()
	}
	return out
}

func benchmarkSearch(b *testing.B, n int) {
	docs := corpus(n)
	x := build(docs)
	queries := []string{"w1x w250x w3000x", "w12x w13x w14x w15x w16x", "w19000x w7x"}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := x.Search(queries[i%len(queries)], 30); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSearch10k(b *testing.B)  { benchmarkSearch(b, 10_000) }
func BenchmarkSearch100k(b *testing.B) { benchmarkSearch(b, 100_000) }

// BenchmarkBuild10k indexes 10,000 chunks as loading does: stemming each
// distinct word once, then map lookups.
func BenchmarkBuild10k(b *testing.B) {
	docs := corpus(10_000)
	size := 0
	for _, d := range docs {
		size += len(d)
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		build(docs)
	}
}

func FuzzTerms(f *testing.F) {
	f.Add("The Normans' café, 2024 — x-ray")
	f.Add("\xff\xfe broken utf-8")
	f.Fuzz(func(t *testing.T, s string) {
		for _, term := range (Analyzer{}).Terms(s) {
			if term == "" || strings.ToLower(term) != term {
				t.Fatalf("bad term %q from %q", term, s)
			}
		}
	})
}

// must searches s and fails the test on an error.
func must(t testing.TB, s Searcher, query string, k int) []Hit {
	t.Helper()
	hits, err := s.Search(query, k)
	if err != nil {
		t.Fatalf("Search(%q): %v", query, err)
	}
	return hits
}

func TestEncode(t *testing.T) {
	t.Parallel()
	x := build(corpus(200))
	b := x.Append(nil)
	y, err := Open(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"w1x w250x w3000x", "w12x", "nothing", "w0x w1x w2x w3x"} {
		if got, want := must(t, y, q, 20), must(t, x, q, 20); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: saved index gives %v, want %v", q, got, want)
		}
	}
	t.Run("after a prefix", func(t *testing.T) {
		prefixed := x.Append([]byte("a header of the caller's"))
		if _, err := Open(prefixed[len("a header of the caller's"):]); err != nil {
			t.Error(err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{0, 3, 7, 40, len(b) / 3} {
			if _, err := Open(b[:n]); !errors.Is(err, ErrDamaged) {
				t.Errorf("truncated to %d bytes: %v", n, err)
			}
		}
	})
	t.Run("other version", func(t *testing.T) {
		old := append([]byte(nil), b...)
		old[4] = Version + 1
		if _, err := Open(old); !errors.Is(err, ErrVersion) {
			t.Errorf("other version: %v", err)
		}
	})
	t.Run("damaged postings are found when read", func(t *testing.T) {
		bad := append([]byte(nil), b...)
		bad[len(bad)-3] ^= 0xff // in the last term's postings
		r, err := Open(bad)
		if err != nil {
			t.Fatalf("the header is intact: %v", err)
		}
		last := build(corpus(200))
		var worst string
		for term := range last.termIDs {
			worst = max(worst, term)
		}
		if _, err := r.Search(worst, 5); !errors.Is(err, ErrDamaged) {
			t.Errorf("search of %q over damaged postings: %v", worst, err)
		}
		if _, err := r.Search("w12x", 5); err != nil {
			t.Errorf("another term: %v", err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	f.Add(build([]string{"alpha beta", "beta gamma gamma", ""}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Open(b)
		if err != nil {
			return
		}
		// Whatever opens must search without panicking or reading out of bounds.
		_, _ = r.Search("alpha beta gamma", 5) // errors are expected: only panics fail
	})
}

func TestSpans(t *testing.T) {
	t.Parallel()
	text := "Installing the Server: installation takes 5 minutes."
	var got []string
	for _, sp := range (Analyzer{}).Spans(text) {
		got = append(got, text[sp.Start:sp.End]+"="+sp.Term)
	}
	want := []string{"Installing=instal", "Server=server", "installation=instal", "takes=take", "5=5", "minutes=minut"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Spans = %v, want %v", got, want)
	}
}
