package extract

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/ledongthuc/pdf"
)

// PDF reads the text of every page with github.com/ledongthuc/pdf, a pure
// Go reader (a maintained fork of rsc.io/pdf with text extraction): lines
// carry their page, so citations say "page 3". Encrypted and damaged files
// are a FormatError; the reader's panics on malformed input are turned into
// errors too.
func PDF(data []byte) (doc *Doc, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, &FormatError{Format: "pdf", Err: fmt.Errorf("damaged: %v", r)}
		}
	}()
	if !bytes.HasPrefix(bytes.TrimLeft(data[:min(len(data), 1024)], "\x00\t\r\n "), []byte("%PDF-")) {
		return nil, &FormatError{Format: "pdf", Err: errors.New("not a PDF file (no %PDF- header)")}
	}
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if errors.Is(err, pdf.ErrInvalidPassword) || bytes.Contains(data, []byte("/Encrypt")) {
			return nil, &FormatError{Format: "pdf", Err: errors.New("encrypted (password-protected) PDF")}
		}
		return nil, &FormatError{Format: "pdf", Err: fmt.Errorf("damaged: %w", err)}
	}
	doc = &Doc{Format: "pdf", Paged: true}
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		var lines []Line
		for n, l := range pageLines(p.Content().Text) {
			lines = append(lines, Line{Text: l, N: n + 1, Page: i})
		}
		start := len(doc.Lines)
		doc.Lines = append(doc.Lines, lines...)
		doc.Blocks = append(doc.Blocks, paragraphs(doc.Lines, start, len(doc.Lines), Para)...)
	}
	if len(doc.Blocks) == 0 {
		return nil, &FormatError{Format: "pdf", Err: errors.New("no text (a scanned PDF needs OCR first)")}
	}
	return doc, nil
}

// pageLines rebuilds a page's lines from its glyphs: glyphs on the same
// baseline form a line, read left to right, with a space where the gap
// between two glyphs is wider than a fifth of the font size. Lines run top
// to bottom.
func pageLines(glyphs []pdf.Text) []string {
	type row struct {
		y  float64
		gs []pdf.Text
	}
	var rows []*row
	for _, g := range glyphs {
		var r *row
		for _, cand := range rows {
			if math.Abs(cand.y-g.Y) < max(g.FontSize, 1)*0.3 {
				r = cand
				break
			}
		}
		if r == nil {
			r = &row{y: g.Y}
			rows = append(rows, r)
		}
		r.gs = append(r.gs, g)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].y > rows[j].y })
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		sort.SliceStable(r.gs, func(i, j int) bool { return r.gs[i].X < r.gs[j].X })
		var b strings.Builder
		end := math.Inf(-1)
		for _, g := range r.gs {
			if b.Len() > 0 && g.X-end > max(g.FontSize, 1)*0.2 && !strings.HasSuffix(b.String(), " ") && !strings.HasPrefix(g.S, " ") {
				b.WriteByte(' ')
			}
			b.WriteString(g.S)
			end = g.X + g.W
		}
		if l := strings.TrimSpace(b.String()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
