package extract

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"gopkg.in/yaml.v3"
)

// Markdown reads CommonMark (with GitHub tables): goldmark finds the
// headings and the extent of every block, so that a "#" in a code block is
// never a heading. YAML front matter between "---" lines at the top (or
// TOML between "+++" lines) goes to Meta, not into the text.
func Markdown(src string) *Doc {
	lines := fileLines(src)
	doc := &Doc{Format: "markdown", SourceLines: true}
	body := 0 // index of the first line after front matter
	if meta, n := frontMatter(lines); n > 0 {
		doc.Meta, body, doc.FrontMatter = meta, n, n
	}
	// Front matter is metadata, not text: its lines are left out (the
	// others keep their line numbers).
	doc.Lines = lines[body:]
	// Parse the body alone, then shift its line numbers.
	n := 0
	for i := body; i < len(lines); i++ {
		n += len(lines[i].Text) + 1
	}
	source := make([]byte, 0, n)
	for i := body; i < len(lines); i++ {
		source = append(append(source, lines[i].Text...), '\n')
	}
	starts := lineStarts(source, len(lines)-body)
	lineOf := func(off int) int { // 0-based line in the body
		return sort.Search(len(starts), func(i int) bool { return starts[i] > off }) - 1
	}
	// Blocks only: inline markup is not needed to find structure, and
	// goldmark's link parsing is quadratic on some inputs ("[a](" repeated
	// takes seconds for 80 KB), which a folder of untrusted files must not
	// be able to exploit. Heading titles are cleaned of markup below.
	p := parser.NewParser(
		parser.WithBlockParsers(parser.DefaultBlockParsers()...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
	)
	root := p.Parse(text.NewReader(source))

	bodyLen := len(lines) - body
	covered := make([]bool, bodyLen)
	type span struct {
		first, last int // 0-based body lines, inclusive
		block       Block
	}
	spans := make([]span, 0, root.ChildCount())
	for n := root.FirstChild(); n != nil; n = n.NextSibling() {
		lo, hi, ok := extent(n, lineOf)
		if !ok {
			continue // no text of its own (a thematic break): kept as a gap below
		}
		blk := Block{Kind: Para}
		switch v := n.(type) {
		case *ast.Heading:
			blk.Kind, blk.Level, blk.Title = Heading, v.Level, cleanTitle(string(plainText(v, source)))
			if hi+1 < bodyLen && setextUnderline(lines[body+hi+1].Text) {
				hi++ // the underline of a setext heading
			}
		case *ast.FencedCodeBlock:
			blk.Kind = Code
			if lo > 0 {
				lo-- // the opening fence
			}
			if hi+1 < bodyLen && isFence(lines[body+hi+1].Text) {
				hi++
			}
		case *ast.CodeBlock:
			blk.Kind = Code
		}
		if len(spans) > 0 && lo <= spans[len(spans)-1].last {
			lo = spans[len(spans)-1].last + 1 // never overlap the previous block
		}
		if lo > hi {
			continue
		}
		for i := lo; i <= hi; i++ {
			covered[i] = true
		}
		spans = append(spans, span{lo, hi, blk})
	}
	// Lines no block claims (thematic breaks, HTML comments, link
	// definitions) are kept as paragraphs of their own: no text is lost.
	// (Each run of non-blank lines no block covers.)
	for i := 0; i < bodyLen; i++ {
		if covered[i] || blank(lines[body+i].Text) {
			continue
		}
		j := i
		for j < bodyLen && !covered[j] && !blank(lines[body+j].Text) {
			j++
		}
		spans = append(spans, span{i, j - 1, Block{Kind: Para}})
		i = j
	}
	// Spans start on different lines: any sort orders them alike.
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.first, b.first) })
	doc.Blocks = make([]Block, 0, len(spans))
	for _, s := range spans {
		s.block.Start, s.block.End = s.first, s.last+1
		doc.Blocks = append(doc.Blocks, s.block)
	}
	return doc
}

// extent is the first and last line a node's text is on: the lines of its
// first and last byte (lineOf only grows with the offset).
func extent(n ast.Node, lineOf func(int) int) (lo, hi int, ok bool) {
	first, last := -1, -1 // byte offsets
	add := func(s text.Segment) {
		if s.Stop <= s.Start {
			return
		}
		if first < 0 || s.Start < first {
			first = s.Start
		}
		if s.Stop-1 > last {
			last = s.Stop - 1
		}
	}
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		if c.Type() == ast.TypeBlock {
			ls := c.Lines()
			for i := 0; i < ls.Len(); i++ {
				add(ls.At(i))
			}
		} else if t, isText := c.(*ast.Text); isText {
			add(t.Segment)
		}
		return ast.WalkContinue, nil
	}) // the walker never fails
	if first < 0 {
		return -1, -1, false
	}
	return lineOf(first), lineOf(last), true
}

// plainText is a node's text without markup.
func plainText(n ast.Node, source []byte) []byte {
	var b bytes.Buffer
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			switch t := c.(type) {
			case *ast.Text:
				b.Write(t.Segment.Value(source))
				if t.SoftLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(t.Value)
			}
		}
		return ast.WalkContinue, nil
	}) // the walker never fails
	return b.Bytes()
}

var (
	mdLink     = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdEmphasis = regexp.MustCompile("[*_`~]+")
)

// cleanTitle turns a heading's source into its text: links to their text,
// emphasis and code marks dropped, closing #s of ATX headings removed.
func cleanTitle(s string) string {
	if strings.Contains(s, "](") { // no link without it
		s = mdLink.ReplaceAllString(s, "$1")
	}
	if strings.ContainsAny(s, "*_`~") {
		s = mdEmphasis.ReplaceAllString(s, "")
	}
	s = strings.TrimSpace(s)
	if t := strings.TrimRight(s, "#"); t != s && (t == "" || strings.HasSuffix(t, " ")) {
		s = strings.TrimSpace(t)
	}
	return s
}

// lineStarts are the offsets of the lines of b, which has about n.
func lineStarts(b []byte, n int) []int {
	starts := make([]int, 1, n+1)
	for i, c := range b {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func setextUnderline(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && (strings.Trim(s, "=") == "" || strings.Trim(s, "-") == "")
}

func isFence(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "```") || strings.HasPrefix(s, "~~~")
}

// frontMatter reads a YAML block between "---" lines, or a TOML block
// between "+++" lines (as Hugo writes), at the very top and returns it
// with the number of lines it takes. Front matter that does not parse is
// still taken out of the text, as most tools would render it, and Meta
// says why under front_matter_error; so does a block that would be front
// matter but for blank lines above it, which no tool reads as front
// matter: access control must not take its access key for text.
func frontMatter(lines []Line) (map[string]any, int) {
	first := 0
	for first < len(lines) && blank(lines[first].Text) {
		first++
	}
	if first == len(lines) {
		return nil, 0
	}
	fence := strings.TrimRight(lines[first].Text, " ")
	if fence != "---" && fence != "+++" {
		return nil, 0
	}
	end := -1
	for i := first + 1; i < len(lines); i++ {
		if t := strings.TrimRight(lines[i].Text, " "); t == fence || fence == "---" && t == "..." {
			end = i
			break
		}
	}
	if end < 0 {
		return nil, 0
	}
	var b strings.Builder
	for _, l := range lines[first+1 : end] {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	meta := map[string]any{}
	var err error
	if fence == "+++" {
		err = toml.Unmarshal([]byte(b.String()), &meta)
	} else {
		err = yaml.Unmarshal([]byte(b.String()), &meta)
	}
	switch {
	case first > 0 && (err != nil || len(meta) == 0):
		return nil, 0 // a rule and text below blank lines, not front matter
	case first > 0:
		return map[string]any{frontMatterError: fmt.Sprintf("front matter must start on the first line, not after %d blank %s", first, plural(first, "line", "lines"))}, end + 1
	case err != nil:
		return map[string]any{frontMatterError: err.Error()}, end + 1
	}
	return meta, end + 1
}

// frontMatterError is the Meta key that says why front matter could not
// be read.
const frontMatterError = "front_matter_error"

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
