package render

import (
	"strings"

	"github.com/rivo/uniseg"

	"github.com/rag-cli/rag/pkg/lexical"
)

// Highlight marks the words of a text that match a query: the codes
// written before and after each match ("" for none).
type Highlight struct{ On, Off string }

// Bold is how matches are marked when colour is on: bold yellow.
var Bold = Highlight{On: "\x1b[1;33m", Off: "\x1b[0m"}

// Marked returns text for a terminal with its control characters escaped
// and the words that match query (compared as the keyword index compares
// them, by stem) wrapped in hl.
func Marked(text, query string, hl Highlight) string {
	terms, an := queryTerms(query)
	return mark(text, spansOf(an, text, terms), hl)
}

// Snippet returns the few lines of text that best match query, for a
// terminal width wide: the window of up to maxLines non-blank lines with
// the most distinct query terms (the first lines when none match), each
// cut around its first match to fit, escaped and highlighted like Marked.
func Snippet(text, query string, maxLines, width int, hl Highlight) []string {
	terms, an := queryTerms(query)
	type line struct {
		text  string
		spans []lexical.Span
	}
	var lines []line
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l != "" {
			lines = append(lines, line{l, spansOf(an, l, terms)})
		}
	}
	if len(lines) == 0 {
		return nil
	}
	n := min(maxLines, len(lines))
	// The window with the most distinct query terms, then the most
	// matches, then the most matches in its middle line (a match with
	// context on both sides reads best).
	best, bestScore := 0, [3]int{-1, -1, -1}
	for i := 0; i+n <= len(lines); i++ {
		seen := map[string]bool{}
		hits := 0
		for _, l := range lines[i : i+n] {
			for _, sp := range l.spans {
				seen[sp.Term] = true
				hits++
			}
		}
		score := [3]int{len(seen), hits, len(lines[i+n/2].spans)}
		if score[0] > bestScore[0] || score[0] == bestScore[0] && (score[1] > bestScore[1] || score[1] == bestScore[1] && score[2] > bestScore[2]) {
			best, bestScore = i, score
		}
	}
	out := make([]string, 0, n)
	for _, l := range lines[best : best+n] {
		text, spans := cut(l.text, l.spans, max(20, width))
		out = append(out, mark(text, spans, hl))
	}
	return out
}

// cut shortens a line wider than width terminal cells to a window around
// its first match, with "…" where text was left out; spans are moved to
// match. It cuts between grapheme clusters, never inside a character or a
// cluster (a letter and its marks, an emoji sequence), and counts an East
// Asian wide character as the two cells it takes.
func cut(text string, spans []lexical.Span, width int) (string, []lexical.Span) {
	if uniseg.StringWidth(text) <= width {
		return text, spans
	}
	// at[i] is where cluster i starts, cells[i] the cells before it.
	var at, cells []int
	w := 0
	state := -1
	for rest, pos := text, 0; rest != ""; {
		var cluster string
		var cw int
		cluster, rest, cw, state = uniseg.FirstGraphemeClusterInString(rest, state)
		at, cells = append(at, pos), append(cells, w)
		pos += len(cluster)
		w += cw
	}
	at, cells = append(at, len(text)), append(cells, w)
	first := 0 // the cluster the window starts at
	if len(spans) > 0 {
		for first+1 < len(at) && at[first+1] <= spans[0].Start {
			first++
		}
		// Some context before the match: back up a third of the width.
		match := first
		for first > 0 && cells[match]-cells[first-1] <= width/3 {
			first--
		}
	}
	last := first
	for last+1 < len(at) && cells[last+1]-cells[first] <= width-2 {
		last++
	}
	from, to := at[first], at[last]
	var kept []lexical.Span
	for _, sp := range spans {
		if sp.Start >= from && sp.End <= to {
			sp.Start -= from
			sp.End -= from
			kept = append(kept, sp)
		}
	}
	out := text[from:to]
	if from > 0 {
		out = "…" + out
		for i := range kept {
			kept[i].Start += len("…")
			kept[i].End += len("…")
		}
	}
	if to < len(text) {
		out += "…"
	}
	return out, kept
}

// queryTerms returns the terms of query and the analyser of its language,
// which the texts it marks are analysed by too.
func queryTerms(query string) (map[string]bool, lexical.Analyzer) {
	an := lexical.For(query)
	terms := map[string]bool{}
	for _, t := range an.Terms(query) {
		terms[t] = true
	}
	return terms, an
}

// spansOf returns the words of text whose terms are in terms; overlapping
// ones (bigrams of Chinese, say) are joined into one span.
func spansOf(an lexical.Analyzer, text string, terms map[string]bool) []lexical.Span {
	var out []lexical.Span
	for _, sp := range an.Spans(text) {
		if !terms[sp.Term] {
			continue
		}
		if n := len(out); n > 0 && sp.Start <= out[n-1].End && sp.Start >= out[n-1].Start {
			if out[n-1].End < sp.End && sp.Start < out[n-1].End {
				out[n-1].End = sp.End
				continue
			}
		}
		out = append(out, sp)
	}
	return out
}

// mark escapes text and wraps spans (in order, not overlapping) in hl.
func mark(text string, spans []lexical.Span, hl Highlight) string {
	if hl.On == "" {
		return Escape(text)
	}
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		b.WriteString(Escape(text[at:sp.Start]))
		b.WriteString(hl.On)
		b.WriteString(Escape(text[sp.Start:sp.End]))
		b.WriteString(hl.Off)
		at = sp.End
	}
	b.WriteString(Escape(text[at:]))
	return b.String()
}
