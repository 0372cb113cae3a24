// Package retrieve finds the chunks that answer a query: it embeds the query
// with the index's model, searches the store, and decides which results are
// evidence at all, so that `rag ask` can abstain instead of answering from
// unrelated text.
package retrieve

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/rag-cli/rag/pkg/store"
)

// Embedder turns texts into vectors.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

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
	Heading string  `json:"heading"`
	Score   float32 `json:"score"`
	Text    string  `json:"text"`
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

// Search embeds query and returns the k best chunks, best first.
func Search(ctx context.Context, st store.Store, emb Embedder, query string, k int) ([]Result, error) {
	vecs, err := emb.Embed(ctx, []string{query})
	if err != nil {
		return nil, err
	}
	if len(vecs) != 1 {
		return nil, errors.New("embedder returned no vector for the query")
	}
	hits, err := st.Search(ctx, vecs[0], k)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(hits))
	for i, h := range hits {
		out[i] = Result{
			Root: h.File.Root, Path: h.File.Path, StartLine: h.StartLine, EndLine: h.EndLine,
			Page: h.Page, Heading: h.Heading, Score: h.Score, Text: h.Text,
		}
	}
	return out, nil
}

// Evidence keeps the results that can support an answer: a similarity of at
// least minScore and at least one content word in common with the query
// (after folding case and common suffixes). Dense similarity alone scores
// unrelated text well above zero for most models; the shared-word test is
// what lets rag say "the documents do not answer this" reliably.
func Evidence(query string, results []Result, minScore float32) []Result {
	q := Terms(query)
	var out []Result
	for _, r := range results {
		if r.Score < minScore {
			continue
		}
		if sharesTerm(q, Terms(r.Text)) {
			out = append(out, r)
		}
	}
	return out
}

var stopwords = wordSet(`a about above after again all also am an and any are as at be because been
	before being below between both but by can could did do does doing done down during each few for from
	further had has have having he her here hers him his how i if in into is it its itself just me more most
	my no nor not now of off on once only or other our ours out over own same she should so some such than
	that the their theirs them then there these they this those through to too under until up very was we
	were what when where which while who whom why will with would you your yours tell explain describe
	please give show much many`)

func wordSet(list string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(list) {
		set[w] = true
	}
	return set
}

// Terms lists the content words of s: lower-cased letters and digits, at
// least three characters, stopwords dropped.
func Terms(s string) []string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := words[:0]
	for _, w := range words {
		if len([]rune(w)) >= 3 && !stopwords[w] {
			out = append(out, w)
		}
	}
	return out
}

// sharesTerm matches words on a common prefix of up to five characters, a
// crude stemmer that folds "install", "installing" and "installation".
func sharesTerm(q, doc []string) bool {
	set := make(map[string]bool, len(doc))
	for _, w := range doc {
		set[stem(w)] = true
	}
	for _, w := range q {
		if set[stem(w)] {
			return true
		}
	}
	return false
}

func stem(w string) string {
	r := []rune(w)
	if len(r) > 5 {
		r = r[:5]
	}
	return string(r)
}
