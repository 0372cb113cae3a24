// Package lexical is rag's keyword index: BM25 over the chunk texts, kept in
// memory beside the vectors and built while an index loads. It finds what
// embeddings miss (names, numbers, rare terms) and works with no Ollama at
// all, so `rag search --mode lexical` runs offline.
//
// It is hand-written over a well-kept English stemmer (Snowball) rather than
// bleve: bleve's in-memory index takes 14 s to build for 10,000 chunks here
// (140 s for 100,000), so it could only be kept on disk as a second commit
// point beside rag's catalog; this index builds from the loaded chunks in a
// fraction of the vector load time and can never disagree with the catalog.
package lexical

import (
	"container/heap"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
)

// BM25 parameters. k1 0.9 and b 0.4 are Anserini's defaults, tuned on
// passage collections like the ones rag indexes (chunks of ~500 tokens).
const (
	K1 = 0.9
	B  = 0.4
)

// Analyzer turns text into index terms: lower-cased words of letters and
// digits, English stopwords dropped, Snowball (Porter2) stems.
type Analyzer struct{}

// Terms returns the terms of s in order, repeats kept.
func (Analyzer) Terms(s string) []string {
	var out []string
	words(s, func(w string, _, _ int) {
		if t := stem(w); t != "" {
			out = append(out, t)
		}
	})
	return out
}

// Span is where a word of a text is, and its term.
type Span struct {
	Start, End int // byte offsets in the text
	Term       string
}

// Spans returns the words of s that have a term (stopwords have none),
// with their places, so that a caller can mark the words that match a
// query the way the index matched them ("installing" matches
// "installation").
func (Analyzer) Spans(s string) []Span {
	var out []Span
	words(s, func(w string, start, end int) {
		if t := stem(w); t != "" {
			out = append(out, Span{Start: start, End: end, Term: t})
		}
	})
	return out
}

// words calls fn with every lower-cased word of s and its byte offsets.
func words(s string, fn func(w string, start, end int)) {
	start := -1
	ascii := true
	flush := func(end int) {
		w := s[start:end]
		if !ascii || hasUpper(w) {
			w = strings.ToLower(w)
		}
		fn(w, start, end)
		start, ascii = -1, true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				if start < 0 {
					start = i
				}
			} else if start >= 0 {
				flush(i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) {
			if start < 0 {
				start = i
			}
			ascii = false
		} else if start >= 0 {
			flush(i)
		}
		i += size
	}
	if start >= 0 {
		flush(len(s))
	}
}

func hasUpper(w string) bool {
	for i := 0; i < len(w); i++ {
		if 'A' <= w[i] && w[i] <= 'Z' {
			return true
		}
	}
	return false
}

// stem maps a lower-cased word to its index term, "" for a stopword.
func stem(w string) string {
	switch {
	case english.IsStopWord(w):
		return ""
	case len(w) > 40:
		return w // not a word (a hash, a base64 run): keep it whole
	}
	return english.Stem(w, false)
}

// Builder indexes documents on one goroutine. Loading runs one builder a
// worker, without locks, and merges them into an Index at the end. Each
// builder caches the term of every word it has seen: a corpus has far fewer
// distinct words than words, and stemming is the costly step.
type Builder struct {
	words    map[string]int32 // word -> local term id, -1 for a stopword
	terms    []string         // local term id -> term
	termIDs  map[string]int32 // term -> local term id
	postings [][]posting
	lens     []docLen
	// last is, per term, the document of its last posting plus one, so a
	// repeated term bumps that posting's count without sorting or a map.
	last []uint32
}

type posting struct {
	doc uint32
	tf  uint32
}

type docLen struct {
	doc uint32
	n   uint32
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder {
	return &Builder{words: map[string]int32{}, termIDs: map[string]int32{}}
}

// Add indexes text as document id. Ids are small integers chosen by the
// caller, unique across all builders that are merged together.
func (b *Builder) Add(id int, text string) {
	doc := uint32(id)
	n := uint32(0)
	words(text, func(w string, _, _ int) {
		tid, ok := b.words[w]
		if !ok {
			tid = b.intern(w)
		}
		if tid < 0 {
			return
		}
		n++
		ps := b.postings[tid]
		if b.last[tid] == doc+1 {
			ps[len(ps)-1].tf++
			return
		}
		b.postings[tid] = append(ps, posting{doc: doc, tf: 1})
		b.last[tid] = doc + 1
	})
	b.lens = append(b.lens, docLen{doc: doc, n: n})
}

// intern records a new word and returns its term id.
func (b *Builder) intern(w string) int32 {
	w = strings.Clone(w) // the key must not pin the text it was cut from
	t := stem(w)
	if t == "" {
		b.words[w] = -1
		return -1
	}
	tid, ok := b.termIDs[t]
	if !ok {
		tid = int32(len(b.terms))
		b.terms = append(b.terms, t)
		b.termIDs[t] = tid
		b.postings = append(b.postings, nil)
		b.last = append(b.last, 0)
	}
	b.words[w] = tid
	return tid
}

// Index is a BM25 index of numbered documents (rag's chunks), read-only
// once built, safe for concurrent searches.
type Index struct {
	termIDs  map[string]uint32
	postings [][]posting
	docLen   []uint32 // by document id; 0 for ids never added
	docs     int
	totalLen uint64
}

// Merge builds the index of every document added to the builders.
func Merge(builders ...*Builder) *Index {
	x := &Index{termIDs: map[string]uint32{}}
	maxID := -1
	for _, b := range builders {
		for _, l := range b.lens {
			maxID = max(maxID, int(l.doc))
		}
	}
	x.docLen = make([]uint32, maxID+1)
	for _, b := range builders {
		for _, l := range b.lens {
			x.docLen[l.doc] = max(l.n, 1)
			x.totalLen += uint64(l.n)
			x.docs++
		}
		for local, t := range b.terms {
			tid, ok := x.termIDs[t]
			if !ok {
				tid = uint32(len(x.postings))
				x.termIDs[t] = tid
				x.postings = append(x.postings, nil)
			}
			if x.postings[tid] == nil {
				x.postings[tid] = b.postings[local]
			} else {
				x.postings[tid] = append(x.postings[tid], b.postings[local]...)
			}
		}
	}
	return x
}

// Hit is a document and its BM25 score.
type Hit struct {
	ID    int
	Score float32
}

// Searcher is a BM25 index that can be searched: an Index built in memory,
// or a Reader over a saved one.
type Searcher interface {
	// Search returns the k documents that score best for query, best
	// first; documents sharing no term with the query are never returned.
	Search(query string, k int) ([]Hit, error)
}

// Search implements Searcher; an Index in memory never fails.
func (x *Index) Search(query string, k int) ([]Hit, error) {
	return search(query, k, x.docs, x.totalLen, x.docLen, func(t string) ([]posting, error) {
		if tid, ok := x.termIDs[t]; ok {
			return x.postings[tid], nil
		}
		return nil, nil
	})
}

// queryTerms returns the distinct terms of a query, in order.
func queryTerms(query string) []string {
	seen := map[string]bool{}
	var out []string
	words(query, func(w string, _, _ int) {
		if t := stem(w); t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	})
	return out
}

// search scores the documents of the query's terms, whose postings lookup
// gives (nil for a term the index lacks), by BM25.
func search(query string, k, docs int, totalLen uint64, docLen []uint32, lookup func(term string) ([]posting, error)) ([]Hit, error) {
	if k <= 0 || docs == 0 {
		return nil, nil
	}
	var lists [][]posting
	for _, t := range queryTerms(query) {
		ps, err := lookup(t)
		if err != nil {
			return nil, err
		}
		if len(ps) > 0 {
			lists = append(lists, ps)
		}
	}
	if len(lists) == 0 {
		return nil, nil
	}
	n := float64(docs)
	avg := float64(totalLen) / n
	// Dense accumulators: a common term touches a large share of the
	// documents, where a map costs several times more.
	scores := make([]float32, len(docLen))
	var touched []uint32
	for _, ps := range lists {
		df := float64(len(ps))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for _, p := range ps {
			tf := float64(p.tf)
			norm := K1 * (1 - B + B*float64(docLen[p.doc])/avg)
			if scores[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			scores[p.doc] += float32(idf * tf * (K1 + 1) / (tf + norm))
		}
	}
	h := &topK{}
	for _, d := range touched {
		s := scores[d]
		if h.Len() < k {
			heap.Push(h, Hit{ID: int(d), Score: s})
		} else if better(Hit{ID: int(d), Score: s}, (*h)[0]) {
			(*h)[0] = Hit{ID: int(d), Score: s}
			heap.Fix(h, 0)
		}
	}
	out := make([]Hit, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(Hit)
	}
	return out, nil
}

// better orders hits by score, then by id so that ties are stable.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.ID < b.ID
}

// topK is a min-heap: the worst kept hit on top.
type topK []Hit

func (h topK) Len() int           { return len(h) }
func (h topK) Less(i, j int) bool { return better(h[j], h[i]) }
func (h topK) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topK) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *topK) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
