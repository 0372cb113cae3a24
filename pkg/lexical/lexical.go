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
)

// BM25 parameters. k1 0.9 and b 0.4 are Anserini's defaults, tuned on
// passage collections like the ones rag indexes (chunks of ~500 tokens).
const (
	K1 = 0.9
	B  = 0.4
)

// Analyzer turns text into index terms (see analyse): UAX #29 words,
// normalised (NFKC, case folded), stop words of their language dropped and
// the rest stemmed by its Snowball stemmer; characters of scripts written
// without spaces (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar) as
// overlapping bigrams.
type Analyzer struct {
	// Lang is the language texts are analysed as; Unknown: each text's
	// own, detected (Detect).
	Lang Lang
}

// For returns the analyser of text's language, to analyse with it the
// texts it is compared with (a query and the chunks it found), so that both
// sides are stemmed alike.
func For(text string) Analyzer { return Analyzer{Lang: Detect(text)} }

func (a Analyzer) lang(s string) Lang {
	if a.Lang != Unknown {
		return a.Lang
	}
	return Detect(s)
}

// Terms returns the terms of s in order, repeats kept.
func (a Analyzer) Terms(s string) []string {
	var out []string
	terms(s, a.lang(s), func(t string, _, _ int) {
		out = append(out, t)
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
// "installation"). The spans of overlapping bigrams overlap.
func (a Analyzer) Spans(s string) []Span {
	var out []Span
	terms(s, a.lang(s), func(t string, start, end int) {
		out = append(out, Span{Start: start, End: end, Term: t})
	})
	return out
}

// Builder indexes documents on one goroutine. Loading runs one builder a
// worker, without locks, and merges them into an Index at the end. Each
// builder caches the term of every word it has seen in each language: a
// corpus has far fewer distinct words than words, and stemming is the
// costly step.
type Builder struct {
	words    [numLangs]map[string]int32 // by language, word -> local term id, -1 for a stopword
	terms    []string                   // local term id -> term
	termIDs  map[string]int32           // term -> local term id
	postings [][]posting
	lens     []docLen
	// last is, per term, the document of its last posting plus one, so a
	// repeated term bumps that posting's count without sorting or a map.
	last []uint32
	// langs counts the documents of each language.
	langs [numLangs]uint64
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
	return &Builder{termIDs: map[string]int32{}}
}

// Add indexes text as document id, analysed as its language (Detect).
// Ids are small integers chosen by the caller, unique across all builders
// that are merged together.
func (b *Builder) Add(id int, text string) {
	doc := uint32(id)
	n := uint32(0)
	l := Detect(text)
	b.langs[l]++
	post := func(tid int32) {
		n++
		ps := b.postings[tid]
		if b.last[tid] == doc+1 {
			ps[len(ps)-1].tf++
			return
		}
		b.postings[tid] = append(ps, posting{doc: doc, tf: 1})
		b.last[tid] = doc + 1
	}
	if b.words[l] == nil {
		b.words[l] = map[string]int32{}
	}
	words := b.words[l]
	analyse(text, func(t token) {
		if tid := b.wordID(words, t, l); tid >= 0 {
			post(tid)
		}
	}, func(t string, _, _ int) {
		post(b.termID(t))
	})
	b.lens = append(b.lens, docLen{doc: doc, n: n})
}

// wordID is the local term id of a word in a text of language l, -1 for
// a stop word, remembered in words (l's; a word's script is its text's).
func (b *Builder) wordID(words map[string]int32, t token, l Lang) int32 {
	if tid, ok := words[t.text]; ok {
		return tid
	}
	tid := int32(-1)
	if w := wordTerm(t.text, t.kind, l); w != "" {
		tid = b.termID(w)
	}
	words[strings.Clone(t.text)] = tid // the key must not pin the text it was cut from
	return tid
}

// termID returns the local id of term t, recording a new one.
func (b *Builder) termID(t string) int32 {
	tid, ok := b.termIDs[t]
	if !ok {
		t = strings.Clone(t)
		tid = int32(len(b.terms))
		b.terms = append(b.terms, t)
		b.termIDs[t] = tid
		b.postings = append(b.postings, nil)
		b.last = append(b.last, 0)
	}
	return tid
}

// Index is a BM25 index of numbered documents (rag's chunks), read-only
// once built, safe for concurrent searches.
type Index struct {
	langs    [numLangs]uint64 // documents by language
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
		for l, n := range b.langs {
			x.langs[l] += n
		}
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
	return search(queryTerms(query, &x.langs), k, x.docs, x.totalLen, x.docLen, func(t string) ([]posting, error) {
		if tid, ok := x.termIDs[t]; ok {
			return x.postings[tid], nil
		}
		return nil, nil
	})
}

// queryTerms returns the distinct terms of a query over documents of the
// languages present counts, in order.
func queryTerms(query string, present *[numLangs]uint64) []string {
	seen := map[string]bool{}
	var out []string
	terms(query, QueryLang(query, present), func(t string, _, _ int) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	})
	return out
}

// junction reports whether term is a bigram of characters that spans a
// grammatical word (的, 是, 谁; a hiragana particle; a Hangul particle):
// in a question, "季谁" of "本赛季谁" joins two words rather than being
// one, and the documents never holding it says nothing about whether they
// answer the question.
func junction(term string) bool {
	n := 0
	stop := false
	for _, r := range term {
		if charScript(r) != cjk {
			return false
		}
		n++
		stop = stop || cjkFunction(r)
	}
	return n == 2 && stop
}

// cjkFunction reports whether r is a character of Chinese, Japanese or
// Korean grammar (particles, pronouns, question words) rather than of a
// content word.
func cjkFunction(r rune) bool {
	if unicode.Is(unicode.Hiragana, r) {
		return true
	}
	return strings.ContainsRune(cjkFunctionChars, r)
}

const cjkFunctionChars = "的了是在和与及把被为有个这那些谁什么哪几多少吗呢吧也都就而或其之于以从到对由将该此每各怎何如曾已又还让给向" +
	"은는이가을를에의도와과로으서까지만"

// Langs returns the documents of each language the index holds, by code
// ("" for languages the analyser does not tell apart).
func (x *Index) Langs() map[string]uint64 { return langMap(&x.langs) }

func langMap(c *[numLangs]uint64) map[string]uint64 {
	m := map[string]uint64{}
	for l, n := range c {
		if n > 0 {
			m[Lang(l).String()] = n
		}
	}
	return m
}

// search scores the documents of the query's terms, whose postings lookup
// gives (nil for a term the index lacks), by BM25.
func search(terms []string, k, docs int, totalLen uint64, docLen []uint32, lookup func(term string) ([]posting, error)) ([]Hit, error) {
	if k <= 0 || docs == 0 {
		return nil, nil
	}
	var lists [][]posting
	for _, t := range terms {
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
