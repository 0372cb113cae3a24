package retrieve

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// mergeInto merges r into the kept result it duplicates or overlaps, and
// reports whether it did: Context as it was, walking every kept result.
func mergeInto(kept []Result, r Result) bool {
	for i := range kept {
		k := &kept[i]
		if strings.TrimSpace(k.Text) == strings.TrimSpace(r.Text) {
			return true
		}
		if k.Root != r.Root || k.Path != r.Path || k.Page != r.Page {
			continue
		}
		if r.StartLine > k.EndLine+1 || k.StartLine > r.EndLine+1 {
			continue
		}
		merge(k, r)
		return true
	}
	return false
}

// contextOneByOne is Context as it was, quadratic.
func contextOneByOne(results []Result, n int) []Result {
	var out []Result
	for _, r := range results {
		if mergeInto(out, r) {
			continue
		}
		if len(out) == n {
			continue
		}
		out = append(out, r)
	}
	return out
}

// TestContextAsOneByOne: Context keeps and merges exactly what checking
// each result against every kept one did, over results with copies in
// other files, overlapping and touching chunks, and chunks inside others.
func TestContextAsOneByOne(t *testing.T) {
	t.Parallel()
	lines := make([]string, 60)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d", i%17)
	}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 7))
		var results []Result
		for range 5 + r.IntN(40) {
			start := 1 + r.IntN(50)
			end := start + r.IntN(8)
			results = append(results, Result{Path: fmt.Sprintf("f%d.md", r.IntN(4)), Page: r.IntN(2), StartLine: start, EndLine: end,
				Heading: fmt.Sprintf("h%d", r.IntN(2)), Text: strings.Join(lines[start-1:end], "\n")})
		}
		n := 1 + r.IntN(12)
		want := contextOneByOne(cloneResults(results), n)
		if got := Context(cloneResults(results), n); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d, n %d:\n got %+v\nwant %+v", seed, n, got, want)
		}
	}
}

func cloneResults(rs []Result) []Result { return append([]Result(nil), rs...) }

// BenchmarkContext picks 10,000 chunks from 30,000 results of as many
// files, as rag ask -k 10000 does.
func BenchmarkContext(b *testing.B) {
	text := strings.Repeat("The retry policy waits twice as long after each failure. ", 10)
	for _, k := range []int{1000, 10000} {
		rs := make([]Result, 3*k)
		for i := range rs {
			rs[i] = Result{Path: fmt.Sprintf("f%d.md", i), StartLine: 1, EndLine: 9, Text: fmt.Sprint(i) + text}
		}
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			for b.Loop() {
				if got := Context(rs, k); len(got) != k {
					b.Fatalf("%d kept", len(got))
				}
			}
		})
	}
}
