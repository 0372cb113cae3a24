package store

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/filter"
)

// fixture100k writes the index BenchmarkOpen100k describes and returns its
// folder, with its cache segments unless RAG_BENCH_NO_CACHES is set.
func fixture100k(b *testing.B) (dir string, chunks int) {
	b.Helper()
	return fixture100kACL(b, false)
}

// fixture100kACL is fixture100k, with access control on when acl is set:
// file f is visible to group:gN (N = f mod 20), and every tenth file also
// to public.
func fixture100kACL(b *testing.B, acl bool) (dir string, chunks int) {
	b.Helper()
	return fixture100kWith(b, acl, false)
}

// fixture100kWith is fixture100kACL, with front matter on every file when
// meta is set: tags [tN, common] (N = f mod 50), a date spread over 2024
// and 2025 as text, and a priority f mod 10, as YAML decodes them.
func fixture100kWith(b *testing.B, acl, meta bool) (dir string, chunks int) {
	b.Helper()
	ctx := context.Background()
	const files, perFile, dims = 10_000, 10, 768
	dir = b.TempDir()
	s, err := Open(ctx, dir, Options{Write: true})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	vocab := make([]string, 20_000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%dq", i)
	}
	zipf := rand.NewZipf(r, 1.07, 2, uint64(len(vocab)-1))
	var tb strings.Builder
	entries := make([]FileEntry, 0, files)
	for f := 0; f < files; f++ {
		chunks := make([]Chunk, perFile)
		for i := range chunks {
			v := make([]float32, dims)
			var norm float64
			for j := range v {
				v[j] = r.Float32()*2 - 1
				norm += float64(v[j]) * float64(v[j])
			}
			for j := range v { // the indexer stores unit vectors
				v[j] /= float32(math.Sqrt(norm))
			}
			tb.Reset()
			for tb.Len() < 1000 {
				tb.WriteString(vocab[zipf.Uint64()])
				tb.WriteByte(' ')
			}
			chunks[i] = Chunk{StartLine: i*20 + 1, EndLine: i*20 + 20, Text: tb.String(), Vector: v}
		}
		if err := s.PutObject(ctx, key(f), chunks); err != nil {
			b.Fatal(err)
		}
		e := FileEntry{Root: "/docs", Path: fmt.Sprintf("dir%d/file%d.md", f%100, f), Hash: key(f), Key: key(f), Chunks: perFile}
		if meta {
			e.Meta = map[string]any{"tags": []any{fmt.Sprintf("t%d", f%50), "common"},
				"date": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, f%730).Format("2006-01-02"), "priority": f % 10}
		}
		if acl {
			e.Access = []string{fmt.Sprintf("group:g%d", f%20)}
			if f%10 == 0 {
				e.Access = append(e.Access, "public")
			}
		}
		entries = append(entries, e)
	}
	m := s.Manifest()
	m.EmbedModel, m.Dims, m.Files, m.AccessControl = "m", dims, entries, acl
	if err := s.Commit(ctx, m); err != nil {
		b.Fatal(err)
	}
	saveStart := time.Now()
	if err := s.SaveCaches(ctx); err != nil { // as rag index does after a run
		b.Fatal(err)
	}
	b.Logf("SaveCaches: %v", time.Since(saveStart))
	if os.Getenv("RAG_BENCH_NO_CACHES") != "" {
		if err := os.RemoveAll(filepath.Join(dir, segmentsDir)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, files * perFile
}

// BenchmarkOpen100k measures what a query pays before it can search an index
// of 100,000 chunks of 768 dimensions (10,000 files of 10 chunks, each
// chunk with ~1 KB of text): open the catalog and the cache segments and
// decide which serves what (RAG_BENCH_NO_CACHES=1: with no segments, read
// every object into segments in memory, as with an index written by an older
// rag). The texts are drawn from a vocabulary of 20,000 words with a Zipf
// spread, so the keyword index costs what real text does. It reports the
// peak resident memory of doing so (Linux), measured from a reset after the
// fixture is written.
func BenchmarkOpen100k(b *testing.B) {
	ctx := context.Background()
	dir, chunks := fixture100k(b)
	peak := startPeak()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		s, err := Open(ctx, dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		opened := time.Since(start)
		n, err := s.Count(ctx)
		if err != nil || n != chunks {
			b.Fatalf("Count = %d, %v", n, err)
		}
		peak.sample()
		b.ReportMetric(float64(opened.Milliseconds()), "ms-catalog")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
	}
	peak.report(b)
}

// peakMeter measures a benchmark's peak resident memory from where it
// started, after a garbage collection (Linux; elsewhere it reports nothing).
type peakMeter struct{ base, peak int64 }

func startPeak() *peakMeter {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	return &peakMeter{base: peakRSS()}
}

func (p *peakMeter) sample() { p.peak = max(p.peak, peakRSS()) }

func (p *peakMeter) report(b *testing.B) {
	if p.peak > 0 {
		b.ReportMetric(float64(p.peak)/(1<<20), "MB-peak-rss")
		b.ReportMetric(float64(p.peak-p.base)/(1<<20), "MB-peak-rss-added")
	}
}

// resetPeakRSS makes the kernel's high-water mark of this process start
// again from its current resident size (Linux 4.0+; elsewhere a no-op).
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // best effort: Linux only
}

// peakRSS is the process's peak resident memory in bytes, or 0 if unknown.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }() // read-only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// BenchmarkSearchTextCold100k is a cold `rag search --mode lexical` over the
// index of BenchmarkOpen100k: open the catalog and the segments, read the
// query's postings, rank, read the objects of the 10 hits. No vector is read.
func BenchmarkSearchTextCold100k(b *testing.B) {
	ctx := context.Background()
	dir, _ := fixture100k(b)
	peak := startPeak()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s, err := Open(ctx, dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		hits, err := s.SearchText(ctx, View{}, fmt.Sprintf("w%dq w%dq", 3+i%50, 100+i%500), 10)
		if err != nil || len(hits) != 10 {
			b.Fatalf("%d hits, %v", len(hits), err)
		}
		peak.sample()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	peak.report(b)
}

// BenchmarkSearchDenseCold100k is a cold `rag search --mode dense` over the
// index of BenchmarkOpen100k: open the catalog and the segments, scan their
// int8 rows for 100 candidates, rank those exactly with chromem-go on their
// float32 rows, read the objects of the 10 hits. It reports Recall@10
// against exact search (brute force over every vector) over 20 queries.
func BenchmarkSearchDenseCold100k(b *testing.B) {
	ctx := context.Background()
	dir, _ := fixture100k(b)
	r := rand.New(rand.NewPCG(9, 9))
	query := func() []float32 {
		v := make([]float32, 768)
		var n float64
		for j := range v {
			v[j] = r.Float32()*2 - 1
			n += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(n))
		}
		return v
	}
	found, total := 0, 0
	for range 20 {
		q := query()
		in := map[int]bool{}
		for _, h := range exact(b, dir, q, 10) {
			in[h.ID] = true
		}
		for _, h := range cold(b, dir, q, 10) {
			if in[h.ID] {
				found++
			}
		}
		total += 10
	}
	peak := startPeak()
	b.ResetTimer()
	for b.Loop() {
		s, err := Open(ctx, dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		hits, err := s.Search(ctx, View{}, query(), 10)
		if err != nil || len(hits) != 10 {
			b.Fatalf("%d hits, %v", len(hits), err)
		}
		peak.sample()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(found)/float64(total), "recall@10")
	peak.report(b)
}

// BenchmarkEdit100k is what an edited file costs the store in an index of
// BenchmarkOpen100k: its new chunks stored, the catalog committed, the caches
// saved (a small segment written, its old rows left dead) and garbage
// collected: no keyword index or vector file of the whole index is rebuilt.
func BenchmarkEdit100k(b *testing.B) {
	ctx := context.Background()
	dir, _ := fixture100k(b)
	r := rand.New(rand.NewPCG(5, 6))
	peak := startPeak()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s, err := Open(ctx, dir, Options{Write: true})
		if err != nil {
			b.Fatal(err)
		}
		m := s.Manifest()
		f := &m.Files[i%len(m.Files)]
		chunks := make([]Chunk, 12)
		for j := range chunks {
			v := make([]float32, 768)
			v[r.IntN(768)] = 1
			chunks[j] = Chunk{StartLine: j + 1, EndLine: j + 1, Text: fmt.Sprintf("edit %d chunk %d w%dq", i, j, r.IntN(20_000)), Vector: v}
		}
		f.Key, f.Chunks = key(1_000_000+i), len(chunks)
		if err := s.PutObject(ctx, f.Key, chunks); err != nil {
			b.Fatal(err)
		}
		if err := s.Commit(ctx, m); err != nil {
			b.Fatal(err)
		}
		if err := s.SaveCaches(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		peak.sample()
	}
	peak.report(b)
}

// BenchmarkSearchView100k is what filtering by who asks costs a search of
// the index of BenchmarkOpen100k, the store open (warm): "all" searches an
// index without access control, "user" one where each file is visible to
// one group of 20 and a tenth also to public, as a user in 3 groups (about
// 23,500 of the 100,000 chunks visible), "every-group" the same index as a
// user in all 20 groups: every chunk visible, so the difference from "all"
// is the filter's own cost (a visibility mark per file and per row). The
// view's rows are marked before the int8 scan and BM25, so the user's
// search scans and scores fewer rows.
func BenchmarkSearchView100k(b *testing.B) {
	var everyGroup []string
	for g := range 20 {
		everyGroup = append(everyGroup, fmt.Sprintf("group:g%d", g))
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	query := func() []float32 {
		v := make([]float32, 768)
		for j := range v {
			v[j] = r.Float32()*2 - 1
		}
		return v
	}
	for _, c := range []struct {
		name string
		acl  bool
		view View
	}{
		{"all", false, View{}},
		{"user", true, View{Principals: []string{"group:g1", "group:g7", "group:g13", "public", "user:u"}}},
		{"every-group", true, View{Principals: everyGroup}},
	} {
		dir, _ := fixture100kACL(b, c.acl)
		s, err := Open(ctx, dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.SearchText(ctx, c.view, "w3q", 10); err != nil { // the view loaded
			b.Fatal(err)
		}
		b.Run("dense/"+c.name, func(b *testing.B) {
			for b.Loop() {
				hits, err := s.Search(ctx, c.view, query(), 10)
				if err != nil || len(hits) != 10 {
					b.Fatalf("%d hits, %v", len(hits), err)
				}
			}
		})
		b.Run("lexical/"+c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				hits, err := s.SearchText(ctx, c.view, fmt.Sprintf("w%dq w%dq", 3+i%50, 100+i%500), 10)
				if err != nil || len(hits) != 10 {
					b.Fatalf("%d hits, %v", len(hits), err)
				}
			}
		})
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchFilter100k is what a metadata filter costs a search of
// the index of BenchmarkOpen100k whose files carry front matter (tags,
// date, priority), the store open (warm): "none" searches without a
// filter; "selective" keeps 2% of the files (tags=t7: 2,000 chunks),
// "unselective" keeps them all (tags=common), "dates" compares a date
// written as text in every file's front matter (date>=2024-06-01, 79%),
// "path" globs every path (path=dir7/**, 1%). The filter is evaluated once
// a file per search, before the int8 scan and BM25, so a selective one
// scans and scores fewer rows; "match-only" is that evaluation alone
// (Manifest.Visible): the cost of reading the field table, which an
// unselective filter adds to a search at most.
func BenchmarkSearchFilter100k(b *testing.B) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	query := func() []float32 {
		v := make([]float32, 768)
		for j := range v {
			v[j] = r.Float32()*2 - 1
		}
		return v
	}
	dir, _ := fixture100kWith(b, false, true)
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	}()
	if _, err := s.SearchText(ctx, View{}, "w3q", 10); err != nil { // the view loaded
		b.Fatal(err)
	}
	for _, c := range []struct{ name, expr string }{
		{"none", ""}, {"selective", "tags=t7"}, {"unselective", "tags=common"}, {"dates", "date>=2024-06-01"}, {"path", "path=dir7/**"},
	} {
		var view View
		if c.expr != "" {
			f, err := filter.ParseAll([]string{c.expr})
			if err != nil {
				b.Fatal(err)
			}
			view.Filter = f
		}
		b.Run("dense/"+c.name, func(b *testing.B) {
			for b.Loop() {
				hits, err := s.Search(ctx, view, query(), 10)
				if err != nil || len(hits) != 10 {
					b.Fatalf("%d hits, %v", len(hits), err)
				}
			}
		})
		b.Run("lexical/"+c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				// Common words: every file has some, so k is always full.
				if _, err := s.SearchText(ctx, view, fmt.Sprintf("w%dq w%dq", 2+i%5, 3+i%7), 10); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("match-only/"+c.name, func(b *testing.B) {
			m := s.Manifest()
			for b.Loop() {
				m.Visible(view)
			}
		})
	}
}
