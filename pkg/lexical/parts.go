package lexical

import (
	"container/heap"
	"fmt"
	"math"
)

// Part is one of several saved indexes searched as one: rag keeps a keyword
// index per cache segment, each over the chunks of some file contents, so
// that an edit writes a small segment instead of rebuilding one index of
// everything. Live says which of the part's documents count (nil: all):
// a segment also holds chunks of contents that were changed or deleted
// since, or that another segment holds too.
type Part struct {
	R    *Reader
	Live []bool
}

func (p Part) live(doc uint32) bool {
	return p.Live == nil || int(doc) < len(p.Live) && p.Live[doc]
}

// PartHit is a document of one part and its BM25 score.
type PartHit struct {
	Part  int
	Doc   uint32
	Score float32
}

// PartError is a part whose saved index failed a check where a search
// read it; the caller sets it aside (builds what it held again).
type PartError struct {
	Part int
	Err  error
}

func (e *PartError) Error() string { return fmt.Sprintf("keyword index part %d: %v", e.Part, e.Err) }
func (e *PartError) Unwrap() error { return e.Err }

// SearchParts returns the k live documents of parts that score best for
// query, best first; id numbers documents for the order of equal scores.
// The statistics BM25 needs (document count, average
// length, each term's document frequency) are those of the live documents
// of all parts together, so scores are those one index of them would give:
// a dead or duplicate document changes no score.
func SearchParts(query string, k int, parts []Part, id func(part int, doc uint32) int) ([]PartHit, error) {
	hits, _, err := SearchPartsAttainable(query, k, parts, id)
	return hits, err
}

// SearchPartsAttainable is SearchParts, and also the score the query could
// attain at most over these documents: each of its terms' IDF (a term no
// live document holds counts as one held by none, the highest IDF there
// is) times K1+1, what a document reaches as its count of the term grows;
// a bigram no document holds that spans a grammatical character (junction)
// is not counted.
// A hit's score over it says how much of what the query asks about, weighed
// by rarity, the document holds: a question about something the documents
// never mention attains a small share, however common its other words are.
func SearchPartsAttainable(query string, k int, parts []Part, id func(part int, doc uint32) int) ([]PartHit, float32, error) {
	hits, att, err := SearchPartsKnown(query, k, parts, id)
	return hits, att.All, err
}

// Attainable is the most a query can score over some documents (All, as
// SearchPartsAttainable), and the part of it its terms that some document
// holds carry (Known): All less Known is what its words no document has
// (a name the documents never mention, an unsplit compound) weigh.
type Attainable struct {
	All, Known float32
}

// SearchPartsKnown is SearchPartsAttainable with the attainable score's
// known part.
func SearchPartsKnown(query string, k int, parts []Part, id func(part int, doc uint32) int) ([]PartHit, Attainable, error) {
	if k <= 0 {
		return nil, Attainable{}, nil
	}
	var docs int
	var total uint64
	for _, p := range parts {
		for d, n := range p.R.docLen {
			if n > 0 && p.live(uint32(d)) {
				docs++
				total += uint64(n)
			}
		}
	}
	if docs == 0 {
		return nil, Attainable{}, nil
	}
	type list struct {
		part int
		ps   []posting
	}
	var terms [][]list
	n := float64(docs)
	var attainable, known float64
	var present [numLangs]uint64
	for _, p := range parts {
		for l, n := range p.R.langs {
			present[l] += n
		}
	}
	for _, t := range queryTerms(query, &present) {
		var ls []list
		df := 0
		for i, p := range parts {
			ps, err := p.R.postings(t)
			if err != nil {
				return nil, Attainable{}, &PartError{Part: i, Err: err}
			}
			// Dead documents are dropped here, before the frequency counts.
			kept := ps[:0]
			for _, x := range ps {
				if p.live(x.doc) {
					kept = append(kept, x)
				}
			}
			if len(kept) > 0 {
				ls = append(ls, list{part: i, ps: kept})
				df += len(kept)
			}
		}
		if df > 0 || !junction(t) {
			idf := math.Log(1+(n-float64(df)+0.5)/(float64(df)+0.5)) * (K1 + 1)
			attainable += idf
			if df > 0 {
				known += idf
			}
		}
		if len(ls) > 0 {
			terms = append(terms, ls)
		}
	}
	if len(terms) == 0 {
		return nil, Attainable{float32(attainable), float32(known)}, nil
	}
	avg := float64(total) / n
	scores := make([][]float32, len(parts))
	type touch struct {
		part int
		doc  uint32
	}
	// Sized for every posting, so that it never grows: a query of common
	// words touches most documents, and growing it cost more than scoring.
	most := 0
	for _, ls := range terms {
		for _, l := range ls {
			most += len(l.ps)
		}
	}
	touched := make([]touch, 0, most)
	for _, ls := range terms {
		df := 0
		for _, l := range ls {
			df += len(l.ps)
		}
		idf := math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
		for _, l := range ls {
			if scores[l.part] == nil {
				scores[l.part] = make([]float32, len(parts[l.part].R.docLen))
			}
			sc, lens := scores[l.part], parts[l.part].R.docLen
			for _, p := range l.ps {
				tf := float64(p.tf)
				norm := K1 * (1 - B + B*float64(lens[p.doc])/avg)
				if sc[p.doc] == 0 {
					touched = append(touched, touch{l.part, p.doc})
				}
				sc[p.doc] += float32(idf * tf * (K1 + 1) / (tf + norm))
			}
		}
	}
	// Equal scores are ordered by the caller's id, so that which of them
	// make the cut does not depend on how documents are split into parts.
	h := &partTop{id: id}
	for _, t := range touched {
		hit := PartHit{Part: t.part, Doc: t.doc, Score: scores[t.part][t.doc]}
		if h.Len() < k {
			heap.Push(h, hit)
		} else if h.better(hit, h.hits[0]) {
			h.hits[0] = hit
			heap.Fix(h, 0)
		}
	}
	out := make([]PartHit, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(PartHit)
	}
	return out, Attainable{float32(attainable), float32(known)}, nil
}

// partTop is a min-heap of hits: the worst kept on top.
type partTop struct {
	hits []PartHit
	id   func(part int, doc uint32) int
}

func (h *partTop) better(a, b PartHit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return h.id(a.Part, a.Doc) < h.id(b.Part, b.Doc)
}

func (h *partTop) Len() int           { return len(h.hits) }
func (h *partTop) Less(i, j int) bool { return h.better(h.hits[j], h.hits[i]) }
func (h *partTop) Swap(i, j int)      { h.hits[i], h.hits[j] = h.hits[j], h.hits[i] }
func (h *partTop) Push(x any)         { h.hits = append(h.hits, x.(PartHit)) }
func (h *partTop) Pop() any {
	v := h.hits[len(h.hits)-1]
	h.hits = h.hits[:len(h.hits)-1]
	return v
}

// Renumber builds one index of the documents of several saved ones,
// numbered anew by to (false drops a document), from their stored postings:
// merging segments analyses no text. A damaged entry is a PartError.
func Renumber(parts []*Reader, to func(part int, doc uint32) (uint32, bool)) (*Index, error) {
	x := &Index{termIDs: map[string]uint32{}}
	// The languages are counted over whole parts, dropped documents too:
	// they only choose how queries are analysed.
	for _, r := range parts {
		for l, n := range r.langs {
			x.langs[l] += n
		}
	}
	maxID := -1
	type mapped struct {
		doc uint32
		ok  bool
	}
	maps := make([][]mapped, len(parts))
	for i, r := range parts {
		maps[i] = make([]mapped, len(r.docLen))
		for d, n := range r.docLen {
			if n == 0 {
				continue
			}
			nd, ok := to(i, uint32(d))
			if !ok {
				continue
			}
			maps[i][d] = mapped{nd, true}
			maxID = max(maxID, int(nd))
		}
	}
	x.docLen = make([]uint32, maxID+1)
	for i, r := range parts {
		for d, m := range maps[i] {
			if m.ok {
				x.docLen[m.doc] = r.docLen[d]
				x.totalLen += uint64(r.docLen[d])
				x.docs++
			}
		}
		for e := range r.terms {
			ent, err := r.entry(e)
			if err != nil {
				return nil, &PartError{Part: i, Err: err}
			}
			t, err := r.term(ent)
			if err != nil {
				return nil, &PartError{Part: i, Err: err}
			}
			ps, err := r.read(ent)
			if err != nil {
				return nil, &PartError{Part: i, Err: err}
			}
			var kept []posting
			for _, p := range ps {
				if m := maps[i][p.doc]; m.ok {
					kept = append(kept, posting{doc: m.doc, tf: p.tf})
				}
			}
			if len(kept) == 0 {
				continue
			}
			tid, ok := x.termIDs[string(t)]
			if !ok {
				tid = uint32(len(x.postings))
				x.termIDs[string(t)] = tid
				x.postings = append(x.postings, nil)
			}
			x.postings[tid] = append(x.postings[tid], kept...)
		}
	}
	return x, nil
}

// Langs returns the documents of each language the saved index holds, by
// code ("" for languages the analyser does not tell apart).
func (r *Reader) Langs() map[string]uint64 { return langMap(&r.langs) }

// Docs is the number of document numbers r spans (added or not).
func (r *Reader) Docs() int { return len(r.docLen) }

// Verify reads and checks every entry of a saved index: what a writer does
// to a changed cache segment before trusting it.
func (r *Reader) Verify() error {
	for e := range r.terms {
		ent, err := r.entry(e)
		if err != nil {
			return err
		}
		if _, err := r.read(ent); err != nil {
			return err
		}
	}
	return nil
}
