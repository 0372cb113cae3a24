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
	doc := &Doc{Format: "html"}
	scoped := hasMain(src)
	z := html.NewTokenizer(strings.NewReader(src))
	line := 1
	// Dropped elements and the main content element are tracked by their
	// own tag only, so unclosed <p> or <li> (common in real pages) never
	// throw the count off.
	var (
		skipTag   atom.Atom // the dropped element we are in, if skipDepth > 0
		skipDepth int
		mainTag   atom.Atom // the main content element, if mainDepth > 0
		mainDepth int
		pre       int
		heading   int
		cur       strings.Builder
		curLine   int
		cells     []string
	)
	emit := func(kind Kind, level int, text string, n int) {
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
	flush := func() {
		text := cur.String()
		cur.Reset()
		switch {
		case pre > 0:
			if strings.TrimSpace(text) != "" {
				emit(Code, 0, text, curLine)
			}
			return
		}
		text = strings.Join(strings.Fields(text), " ")
		if text == "" {
			return
		}
		if heading > 0 {
			emit(Heading, heading, text, curLine)
			return
		}
		emit(Para, 0, text, curLine)
	}
	for {
		tt := z.Next()
		raw := z.Raw()
		tokLine := line
		line += bytes.Count(raw, []byte("\n"))
		if tt == html.ErrorToken {
			flush()
			break
		}
		name, hasAttr := z.TagName()
		a := atom.Lookup(name)
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			if skipDepth > 0 {
				if a == skipTag && tt == html.StartTagToken {
					skipDepth++
				}
				continue
			}
			mainHere := a == atom.Main || a == atom.Article || hasAttr && attr(z, hasAttr, "role") == "main"
			if dropped(a) && tt == html.StartTagToken && !voidElement(a) {
				flush()
				skipTag, skipDepth = a, 1
				continue
			}
			if scoped {
				switch {
				case mainDepth == 0 && mainHere && tt == html.StartTagToken:
					mainTag, mainDepth = a, 1
				case mainDepth > 0 && a == mainTag && tt == html.StartTagToken:
					mainDepth++
				case mainDepth == 0:
					continue
				}
			}
			switch {
			case a == atom.Pre:
				flush()
				pre++
			case headingLevel(a) > 0:
				flush()
				heading = headingLevel(a)
			case a == atom.Br:
				if pre > 0 {
					cur.WriteByte('\n')
				} else {
					flush()
				}
			case a == atom.Td || a == atom.Th:
				flush()
			case blockElement(a):
				flush()
			}
		case html.EndTagToken:
			if skipDepth > 0 {
				if a == skipTag {
					skipDepth--
				}
				continue
			}
			if scoped {
				if mainDepth == 0 {
					continue
				}
				if a == mainTag {
					if mainDepth--; mainDepth == 0 {
						flush()
						continue
					}
				}
			}
			switch {
			case a == atom.Pre:
				flush()
				if pre > 0 {
					pre--
				}
			case headingLevel(a) > 0:
				flush()
				heading = 0
			case a == atom.Td || a == atom.Th:
				cells = append(cells, strings.Join(strings.Fields(cur.String()), " "))
				cur.Reset()
			case a == atom.Tr:
				if row := strings.Join(nonEmpty(cells), " | "); row != "" {
					cur.WriteString(row)
					flush()
				}
				cells = cells[:0]
			case blockElement(a):
				flush()
			}
		case html.TextToken:
			if skipDepth > 0 || scoped && mainDepth == 0 {
				continue
			}
			t := string(z.Text())
			if strings.TrimSpace(t) == "" && pre == 0 {
				if cur.Len() > 0 {
					cur.WriteByte(' ')
				}
				continue
			}
			if cur.Len() == 0 {
				if pre > 0 && strings.HasPrefix(t, "\n") {
					// A newline right after <pre> is not content (HTML spec).
					t, tokLine = t[1:], tokLine+1
				}
				curLine = tokLine + leadingNewlines(t, pre > 0)
			}
			cur.WriteString(t)
		}
	}
	return doc
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
