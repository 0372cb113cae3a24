package extract

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// decodeHTML returns a page's text. UTF-8 (and UTF-16 or UTF-32 with a
// byte-order mark) is read as Decode reads it; a page that is not UTF-8 is
// read in the charset it declares (<meta charset=...> or http-equiv
// Content-Type in its first 1024 bytes, as browsers look for it), and one
// that declares none in windows-1252, the default of browsers for pages
// without one. charset.DetermineEncoding is the HTML standard's algorithm
// and htmlindex's table of encodings (ISO-8859-1 is windows-1252 there).
func decodeHTML(data []byte) (string, error) {
	text, err := Decode(data)
	if !errors.Is(err, errNotUTF8) {
		return text, err
	}
	enc, name, _ := charset.DetermineEncoding(data, "")
	if name == "utf-8" {
		return "", fmt.Errorf("%w; the page declares UTF-8", err)
	}
	out, derr := enc.NewDecoder().Bytes(data)
	if derr != nil {
		return "", fmt.Errorf("%w: not %s: %v", ErrNotText, name, derr)
	}
	return checkUTF8(out)
}

// HTML reads a web page's main content as text: scripts, styles,
// navigation, headers, footers, asides and forms are dropped, and when the
// page marks its main content (<main>, <article> or role="main") only that
// is read. Headings h1-h6 become headings, <pre> stays code, table rows
// become one line each. Every line knows the source line its text starts
// on, so citations point into the HTML file. The tokenizer of
// golang.org/x/net/html reads any real-world markup the way browsers do.
func HTML(src string) *Doc {
	r := &htmlReader{doc: &Doc{Format: "html"}, scoped: hasMain(src), z: html.NewTokenizer(strings.NewReader(src))}
	line := 1
	for {
		tt := r.z.Next()
		tokLine := line
		line += bytes.Count(r.z.Raw(), []byte("\n"))
		switch tt {
		case html.ErrorToken:
			r.flush()
			return r.doc
		case html.StartTagToken, html.SelfClosingTagToken:
			r.start(tt == html.StartTagToken)
		case html.EndTagToken:
			r.end()
		case html.TextToken:
			r.text(tokLine)
		}
	}
}

// htmlReader makes a Doc of a page's tokens, one at a time.
type htmlReader struct {
	doc    *Doc
	z      *html.Tokenizer
	scoped bool // the page marks its main content: only that is read
	// Dropped elements and the main content element are tracked by their
	// own tag only, so unclosed <p> or <li> (common in real pages) never
	// throw the count off.
	skipTag   atom.Atom // the dropped element we are in, if skipDepth > 0
	skipDepth int
	mainTag   atom.Atom // the main content element, if mainDepth > 0
	mainDepth int
	pre       int // <pre> elements we are in
	heading   int // the level of the heading we are in, 0 if none
	// cur is the text of the block being read, which starts on source
	// line curLine; cells are those of the table row being read.
	cur     strings.Builder
	curLine int
	cells   []string
}

// start reads a start tag (open) or a self-closing one.
func (r *htmlReader) start(open bool) {
	name, hasAttr := r.z.TagName()
	a := atom.Lookup(name)
	if r.skipDepth > 0 {
		if a == r.skipTag && open {
			r.skipDepth++
		}
		return
	}
	mainHere := a == atom.Main || a == atom.Article || hasAttr && attr(r.z, hasAttr, "role") == "main"
	if dropped(a) && open && !voidElement(a) {
		r.flush()
		r.skipTag, r.skipDepth = a, 1
		return
	}
	if r.scoped {
		switch {
		case r.mainDepth == 0 && mainHere && open:
			r.mainTag, r.mainDepth = a, 1
		case r.mainDepth > 0 && a == r.mainTag && open:
			r.mainDepth++
		case r.mainDepth == 0:
			return // outside the main content
		}
	}
	switch {
	case a == atom.Pre:
		r.flush()
		r.pre++
	case headingLevel(a) > 0:
		r.flush()
		r.heading = headingLevel(a)
	case a == atom.Br:
		if r.pre > 0 {
			r.cur.WriteByte('\n')
		} else {
			r.flush()
		}
	case a == atom.Td || a == atom.Th:
		r.flush()
	case blockElement(a):
		r.flush()
	}
}

// end reads an end tag.
func (r *htmlReader) end() {
	name, _ := r.z.TagName()
	a := atom.Lookup(name)
	if r.skipDepth > 0 {
		if a == r.skipTag {
			r.skipDepth--
		}
		return
	}
	if r.scoped {
		if r.mainDepth == 0 {
			return
		}
		if a == r.mainTag {
			if r.mainDepth--; r.mainDepth == 0 {
				r.flush()
				return
			}
		}
	}
	switch {
	case a == atom.Pre:
		r.flush()
		if r.pre > 0 {
			r.pre--
		}
	case headingLevel(a) > 0:
		r.flush()
		r.heading = 0
	case a == atom.Td || a == atom.Th:
		r.cells = append(r.cells, strings.Join(strings.Fields(r.cur.String()), " "))
		r.cur.Reset()
	case a == atom.Tr:
		if row := strings.Join(nonEmpty(r.cells), " | "); row != "" {
			r.cur.WriteString(row)
			r.flush()
		}
		r.cells = r.cells[:0]
	case blockElement(a):
		r.flush()
	}
}

// text reads a text token that starts on source line tokLine.
func (r *htmlReader) text(tokLine int) {
	if r.skipDepth > 0 || r.scoped && r.mainDepth == 0 {
		return
	}
	t := string(r.z.Text())
	if strings.TrimSpace(t) == "" && r.pre == 0 {
		if r.cur.Len() > 0 {
			r.cur.WriteByte(' ')
		}
		return
	}
	if r.cur.Len() == 0 {
		if r.pre > 0 && strings.HasPrefix(t, "\n") {
			// A newline right after <pre> is not content (HTML spec).
			t, tokLine = t[1:], tokLine+1
		}
		r.curLine = tokLine + leadingNewlines(t, r.pre > 0)
	}
	r.cur.WriteString(t)
}

// flush ends the block being read: code in <pre>, else a heading or a
// paragraph of its words.
func (r *htmlReader) flush() {
	text := r.cur.String()
	r.cur.Reset()
	if r.pre > 0 {
		if strings.TrimSpace(text) != "" {
			r.emit(Code, 0, text, r.curLine)
		}
		return
	}
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return
	}
	if r.heading > 0 {
		r.emit(Heading, r.heading, text, r.curLine)
		return
	}
	r.emit(Para, 0, text, r.curLine)
}

// emit adds a block of text starting on source line n (code: a line of
// the Doc per line of text).
func (r *htmlReader) emit(kind Kind, level int, text string, n int) {
	doc := r.doc
	start := len(doc.Lines)
	if kind == Code {
		for i, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			doc.Lines = append(doc.Lines, Line{Text: l, N: n + i})
		}
	} else {
		doc.Lines = append(doc.Lines, Line{Text: text, N: n})
	}
	b := Block{Kind: kind, Level: level, Start: start, End: len(doc.Lines)}
	if kind == Heading {
		b.Title = text
	}
	doc.Blocks = append(doc.Blocks, b)
}

// leadingNewlines is how many lines into a text token its first
// non-space character is (in <pre> the text starts where it starts).
func leadingNewlines(t string, pre bool) int {
	if pre {
		return 0
	}
	i := strings.IndexFunc(t, func(r rune) bool { return r != ' ' && r != '\t' && r != '\n' && r != '\r' })
	if i < 0 {
		return 0
	}
	return strings.Count(t[:i], "\n")
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func attr(z *html.Tokenizer, more bool, want string) string {
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		if string(k) == want {
			return string(v)
		}
	}
	return ""
}

// hasMain reports whether the page marks its main content.
func hasMain(src string) bool {
	z := html.NewTokenizer(strings.NewReader(src))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.StartTagToken:
			name, more := z.TagName()
			a := atom.Lookup(name)
			if a == atom.Main || a == atom.Article || attr(z, more, "role") == "main" {
				return true
			}
		}
	}
}

func dropped(a atom.Atom) bool {
	switch a {
	case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Nav, atom.Header, atom.Footer,
		atom.Aside, atom.Form, atom.Svg, atom.Iframe, atom.Head, atom.Button, atom.Select, atom.Object, atom.Canvas:
		return true
	}
	return false
}

func voidElement(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Base, atom.Br, atom.Col, atom.Embed, atom.Hr, atom.Img, atom.Input, atom.Link,
		atom.Meta, atom.Source, atom.Track, atom.Wbr:
		return true
	}
	return false
}

func headingLevel(a atom.Atom) int {
	switch a {
	case atom.H1:
		return 1
	case atom.H2:
		return 2
	case atom.H3:
		return 3
	case atom.H4:
		return 4
	case atom.H5:
		return 5
	case atom.H6:
		return 6
	}
	return 0
}

func blockElement(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Section, atom.Article, atom.Main, atom.Li, atom.Ul, atom.Ol, atom.Dl, atom.Dt,
		atom.Dd, atom.Blockquote, atom.Table, atom.Tr, atom.Hr, atom.Figure, atom.Figcaption, atom.Details,
		atom.Summary, atom.Body, atom.Html, atom.Address, atom.Caption:
		return true
	}
	return false
}
