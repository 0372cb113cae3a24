// Package chunk splits a document's text into overlapping chunks of about a
// target size, cutting only between lines and preferring blank lines, so that
// every chunk maps back to an exact line range of its file for citations.
package chunk

import (
	"strings"
	"unicode/utf8"
)

// Options sets the chunk size and overlap, both in estimated tokens. The
// overlap is capped at half the target.
type Options struct {
	Target  int
	Overlap int
}

// DefaultOptions gives chunks of about 500 tokens overlapping by about 15%.
var DefaultOptions = Options{Target: 500, Overlap: 75}

// Chunk is a run of whole lines of a document.
type Chunk struct {
	// StartLine and EndLine are 1-based and inclusive.
	StartLine int
	EndLine   int
	Text      string
}

// EstimateTokens estimates how many tokens a model's tokenizer makes of s:
// about four bytes of English text a token, the usual rule for BPE
// vocabularies.
func EstimateTokens(s string) int {
	n := utf8.RuneCountInString(s)
	return (n + 3) / 4
}

// Split cuts text into chunks. A line is never split, so a single line longer
// than the target becomes a chunk of its own. Lines are separated by "\n";
// a trailing "\r" stays part of its line's text.
func Split(text string, opt Options) []Chunk {
	if opt.Target <= 0 {
		opt = DefaultOptions
	}
	if opt.Overlap < 0 {
		opt.Overlap = opt.Target / 7
	}
	// More than half a chunk of overlap would make chunking quadratic in
	// the worst case and the index mostly duplicates.
	opt.Overlap = min(opt.Overlap, opt.Target/2)
	if strings.TrimSpace(text) == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	tokens := make([]int, len(lines))
	for i, l := range lines {
		tokens[i] = EstimateTokens(l) + 1 // the newline
	}

	var chunks []Chunk
	start := 0
	for start < len(lines) {
		// Skip leading blank lines: they carry nothing to embed.
		for start < len(lines) && strings.TrimSpace(lines[start]) == "" {
			start++
		}
		if start >= len(lines) {
			break
		}
		end, size := start, 0 // end is exclusive
		lastBreak := -1
		for end < len(lines) && (size+tokens[end] <= opt.Target || end == start) {
			size += tokens[end]
			if strings.TrimSpace(lines[end]) == "" {
				lastBreak = end
			}
			end++
		}
		// Prefer to end at a paragraph break in the second half of the chunk.
		if end < len(lines) && lastBreak > start {
			before := 0
			for i := start; i < lastBreak; i++ {
				before += tokens[i]
			}
			if before >= opt.Target/2 {
				end = lastBreak
			}
		}
		last := end - 1
		for last > start && strings.TrimSpace(lines[last]) == "" {
			last--
		}
		chunks = append(chunks, Chunk{
			StartLine: start + 1,
			EndLine:   last + 1,
			Text:      strings.Join(lines[start:last+1], "\n"),
		})
		if end >= len(lines) {
			break
		}
		// Step back over whole lines for the overlap, but always move forward.
		next, back := end, 0
		for next-1 > start && back+tokens[next-1] <= opt.Overlap {
			next--
			back += tokens[next]
		}
		start = next
	}
	return chunks
}
