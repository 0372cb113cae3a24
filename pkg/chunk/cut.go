package chunk

import "strings"

// Piece is part of a chunk's text and the source lines it spans.
type Piece struct {
	Text string
	// Lines are the source positions of the lines of Text, one each (a
	// piece of one long line has that line's).
	Lines []int
}

// StartLine and EndLine are the piece's first and last line, for citations.
func (p Piece) StartLine() int { return p.Lines[0] }
func (p Piece) EndLine() int   { return p.Lines[len(p.Lines)-1] }

// Cut cuts a chunk's text into pieces of at most target estimated tokens,
// for a model whose context is shorter than the chunk: whole lines while
// they fit, a line too long on its own cut as SplitDoc cuts one. text is
// lines joined by "\n" and lines are their source positions (a chunk of
// one part of a long line has one line, its own). The pieces do not
// overlap, and put together (with a newline between pieces of whole
// lines, and but for blank lines between them) they are the text, so
// every line is still embedded and cited.
// If lines does not number the text's lines, every piece cites them all.
func Cut(text string, lines []int, target int) []Piece {
	if target < 1 {
		target = 1
	}
	parts := strings.Split(text, "\n")
	if len(lines) == 0 {
		lines = []int{0}
	}
	at := func(i int, n int) []int { return lines[i : i+n] }
	if len(parts) != len(lines) {
		// Lines unknown: the whole range for every piece.
		whole := []int{lines[0], lines[len(lines)-1]}
		parts, lines = []string{text}, nil
		at = func(int, int) []int { return whole }
	}
	var out []Piece
	from, tokens := 0, 0 // the piece being gathered: parts[from:i]
	flush := func(to int) {
		if to > from && strings.TrimSpace(strings.Join(parts[from:to], "")) != "" {
			out = append(out, Piece{Text: strings.Join(parts[from:to], "\n"), Lines: at(from, to-from)})
		}
		from, tokens = to, 0
	}
	for i, line := range parts {
		n := EstimateTokens(line) + 1 // +1: the newline
		if n-1 > target {
			flush(i)
			for _, s := range splitLine(line, target) {
				out = append(out, Piece{Text: s, Lines: at(i, 1)})
			}
			from = i + 1
			continue
		}
		if tokens+n > target+1 && i > from {
			flush(i)
		}
		tokens += n
	}
	flush(len(parts))
	return out
}
