package render

import (
	"strings"
	"unicode/utf8"

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
	return mark(text, spansOf(text, queryTerms(query)), hl)
}

// Snippet returns the few lines of text that best match query, for a
// terminal width wide: the window of up to maxLines non-blank lines with
// the most distinct query terms (the first lines when none match), each
// cut around its first match to fit, escaped and highlighted like Marked.
func Snippet(text, query string, maxLines, width int, hl Highlight) []string {
	terms := queryTerms(query)
	type line struct {
		text  string
		spans []lexical.Span
	}
	var lines []line
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l != "" {
			lines = append(lines, line{l, spansOf(l, terms)})
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

// cut shortens a line longer than width runes to a window around its first
// match, with "…" where text was left out; spans are moved to match.
func cut(text string, spans []lexical.Span, width int) (string, []lexical.Span) {
	if utf8.RuneCountInString(text) <= width {
		return text, spans
	}
	from := 0
	if len(spans) > 0 {
		from = spans[0].Start
		// Some context before the match: back up a third of the width.
		for back := width / 3; back > 0 && from > 0; back-- {
			_, size := utf8.DecodeLastRuneInString(text[:from])
			from -= size
		}
	}
	to, runes := from, 0
	for to < len(text) && runes < width-2 {
		_, size := utf8.DecodeRuneInString(text[to:])
		to += size
		runes++
	}
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

func queryTerms(query string) map[string]bool {
	terms := map[string]bool{}
	for _, t := range (lexical.Analyzer{}).Terms(query) {
		terms[t] = true
	}
	return terms
}

// spansOf returns the words of text whose terms are in terms.
func spansOf(text string, terms map[string]bool) []lexical.Span {
	var out []lexical.Span
	for _, sp := range (lexical.Analyzer{}).Spans(text) {
		if terms[sp.Term] {
			out = append(out, sp)
		}
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
