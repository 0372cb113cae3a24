// Package retrieve finds the chunks that answer a query: dense (the query's
// embedding against the vectors), lexical (BM25 over the words) or both
// fused, optionally re-ranked by a model; then it picks the final context
// (near-duplicates merged, a relevance floor) so that `rag ask` can abstain
// instead of answering from unrelated text.
package retrieve

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// Result is one retrieved chunk.
type Result struct {
	Root string `json:"root"`
	Path string `json:"path"`
	// StartLine and EndLine are lines of the file; of the page for a PDF;
	// paragraph numbers for a Word document.
	StartLine int `json:"start_line"`
	EndLine   int `json:"end_line"`
	// Page is the page of a PDF, else 0.
	Page int `json:"page"`
	// Heading is the path of headings above the chunk, "" if none.
	Heading string `json:"heading"`
	// Score orders the results: the cosine similarity (dense), BM25
	// (lexical), the fused score (hybrid) or the re-ranker's probability of
	// relevance. The parts it was computed from follow, when known. With
	// an expansion the dense and lexical scores are merged over the query
	// and its expansion (mergeRankings), and Dense is the best similarity
	// to the query or a phrasing, which the similarity floor judges.
	Score   float32  `json:"score"`
	Dense   *float32 `json:"dense_score,omitempty"`
	Lexical *float32 `json:"lexical_score,omitempty"`
	Rerank  *float32 `json:"rerank_score,omitempty"`
	// Coverage, with a lexical score, is the share of the query's
	// attainable BM25 the chunk reaches (store.Hit.Coverage).
	Coverage *float32 `json:"coverage,omitempty"`
	// Known, with Coverage, is the share of the attainable BM25 carried by
	// the query's words some chunk holds (store.Hit.Known); the abstention
	// model reads it.
	Known float32 `json:"-"`
	Text  string  `json:"text"`
}

// Location says where a result is, the way a reader finds it:
// "guide.md:12-30", "manual.pdf p.3", "report.docx ¶4-7".
func (r Result) Location() string {
	p := r.Path
	if strings.ContainsFunc(p, unicode.IsControl) {
		p = strconv.Quote(p) // a newline in a name must not break the output's lines
	}
	switch {
	case r.Page > 0:
		return fmt.Sprintf("%s p.%d", p, r.Page)
	case strings.EqualFold(path.Ext(r.Path), ".docx"):
		return fmt.Sprintf("%s ¶%d-%d", p, r.StartLine, r.EndLine)
	}
	return fmt.Sprintf("%s:%d-%d", p, r.StartLine, r.EndLine)
}

// Cite is the location with the heading path, as citations show it.
func (r Result) Cite() string {
	if r.Heading == "" {
		return r.Location()
	}
	return fmt.Sprintf("%s (%s)", r.Location(), r.Heading)
}
