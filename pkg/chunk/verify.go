package chunk

import (
	"fmt"
	"strings"

	"github.com/rag-cli/rag/pkg/extract"
)

// Verify checks what citations and retrieval depend on, for any document
// and its chunks; the tests and fuzz targets of every format use it:
//   - a chunk's text is exactly its lines of the document (for a piece of
//     a long line, a part of that one line), and StartLine, EndLine and
//     Page are those lines' positions;
//   - when the document is the file's own lines (source is the decoded
//     file), they are the file's lines StartLine..EndLine;
//   - no text is lost: every non-blank line is in a chunk, and the pieces
//     of a long line put together are the line;
//   - no chunk is far over the target.
func Verify(d *extract.Doc, source string, chunks []Chunk, opt Options) error {
	if opt.Target <= 0 {
		opt = DefaultOptions
	}
	var fileLines []string
	if d.SourceLines {
		fileLines = strings.Split(strings.TrimSuffix(source, "\n"), "\n")
	}
	covered := make([]bool, len(d.Lines))
	pieces := map[int]string{}
	for i, c := range chunks {
		if c.From < 0 || c.To > len(d.Lines) || c.From >= c.To {
			return fmt.Errorf("chunk %d covers lines [%d,%d) of %d", i, c.From, c.To, len(d.Lines))
		}
		first, last := d.Lines[c.From], d.Lines[c.To-1]
		if c.StartLine != first.N || c.EndLine != last.N || c.Page != first.Page || last.Page != first.Page {
			return fmt.Errorf("chunk %d says %d-%d page %d, its lines are %d-%d pages %d-%d", i, c.StartLine, c.EndLine, c.Page, first.N, last.N, first.Page, last.Page)
		}
		if c.Part {
			if c.To != c.From+1 || !strings.Contains(first.Text, c.Text) {
				return fmt.Errorf("chunk %d is not a piece of line %d: %q", i, c.StartLine, c.Text)
			}
			if EstimateTokens(c.Text) > opt.Target {
				return fmt.Errorf("piece %d has %d tokens, target %d", i, EstimateTokens(c.Text), opt.Target)
			}
			pieces[c.From] += c.Text
			continue
		}
		want := make([]string, 0, c.To-c.From)
		for _, l := range d.Lines[c.From:c.To] {
			want = append(want, l.Text)
		}
		if c.Text != strings.Join(want, "\n") {
			return fmt.Errorf("chunk %d text is not its lines:\n%q\nwant\n%q", i, c.Text, strings.Join(want, "\n"))
		}
		if fileLines != nil && (c.StartLine < 1 || c.EndLine > len(fileLines) || c.Text != strings.Join(fileLines[c.StartLine-1:c.EndLine], "\n")) {
			return fmt.Errorf("chunk %d text is not lines %d-%d of the file:\n%q", i, c.StartLine, c.EndLine, c.Text)
		}
		// Token counts are estimated per line, plus one a newline.
		if n := EstimateTokens(c.Text); n > opt.Target+opt.Target/2+c.To-c.From {
			return fmt.Errorf("chunk %d has %d tokens, target %d", i, n, opt.Target)
		}
		for j := c.From; j < c.To; j++ {
			covered[j] = true
		}
	}
	for i, l := range d.Lines {
		if p, ok := pieces[i]; ok && !covered[i] {
			if p != l.Text {
				return fmt.Errorf("the pieces of line %d do not make the line:\n%q\nwant\n%q", l.N, p, l.Text)
			}
			covered[i] = true
		}
		if !covered[i] && strings.TrimSpace(l.Text) != "" {
			return fmt.Errorf("line %d (%q) is in no chunk", l.N, l.Text)
		}
	}
	return nil
}
