package extract

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxPart bounds how much of one part of a DOCX is inflated, against zip
// bombs.
const maxPart = 256 << 20

// DOCX reads a Word document's paragraphs in order, headings (styles whose
// name is "heading N" or "Title", or that carry an outline level) as
// headings. A line is a paragraph, and its N the paragraph's number, which
// is what citations show. archive/zip and encoding/xml from the standard
// library do the reading: the format is a zip of XML parts, and the Go
// DOCX libraries add little but dependencies for reading text.
func DOCX(data []byte) (*Doc, error) {
	fail := func(err error) (*Doc, error) { return nil, &FormatError{Format: "docx", Err: err} }
	if bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}) {
		return fail(errors.New("password-protected, or an old .doc file renamed (not a zip)"))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fail(fmt.Errorf("not a DOCX file (not a zip): %w", err))
	}
	part := func(name string) ([]byte, error) {
		f, err := zr.Open(name)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(f, maxPart+1))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && len(b) > maxPart {
			err = fmt.Errorf("%s inflates to more than %d bytes", name, maxPart)
		}
		return b, err
	}
	body, err := part("word/document.xml")
	if err != nil {
		return fail(fmt.Errorf("no readable word/document.xml, so not a Word document: %w", err))
	}
	levels := map[string]int{}
	if styles, err := part("word/styles.xml"); err == nil {
		levels = headingStyles(styles)
	}
	doc := &Doc{Format: "docx"}
	dec := xml.NewDecoder(bytes.NewReader(body))
	var (
		text    strings.Builder
		inPara  bool
		inText  bool
		style   string
		outline = -1
		n       int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("word/document.xml: %w", err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "p":
				inPara, style, outline = true, "", -1
				text.Reset()
			case "pStyle":
				style = xmlAttr(t, "val")
			case "outlineLvl":
				if v, err := strconv.Atoi(xmlAttr(t, "val")); err == nil {
					outline = v
				}
			case "t":
				inText = true
			case "tab":
				text.WriteByte('\t')
			case "br", "cr":
				text.WriteByte(' ')
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				inPara = false
				line := strings.TrimSpace(text.String())
				if line == "" {
					continue
				}
				n++
				start := len(doc.Lines)
				doc.Lines = append(doc.Lines, Line{Text: line, N: n})
				b := Block{Kind: Para, Start: start, End: start + 1}
				lvl := levels[style]
				if outline >= 0 && outline < 9 {
					lvl = outline + 1
				}
				if lvl > 0 {
					b.Kind, b.Level, b.Title = Heading, lvl, line
				}
				doc.Blocks = append(doc.Blocks, b)
			}
		case xml.CharData:
			if inPara && inText {
				text.Write(t)
			}
		}
	}
	return doc, nil
}

func xmlAttr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// headingStyles maps style ids to heading levels from word/styles.xml.
// Ids are localised ("Heading1", "berschrift1"), names are not.
func headingStyles(data []byte) map[string]int {
	var styles struct {
		Style []struct {
			ID   string `xml:"styleId,attr"`
			Name struct {
				Val string `xml:"val,attr"`
			} `xml:"name"`
			PPr struct {
				Outline *struct {
					Val int `xml:"val,attr"`
				} `xml:"outlineLvl"`
			} `xml:"pPr"`
		} `xml:"style"`
	}
	out := map[string]int{}
	if err := xml.Unmarshal(data, &styles); err != nil {
		return out // headings are a nicety: without styles, paragraphs remain
	}
	for _, s := range styles.Style {
		name := strings.ToLower(s.Name.Val)
		switch {
		case name == "title":
			out[s.ID] = 1
		case strings.HasPrefix(name, "heading "):
			if v, err := strconv.Atoi(strings.TrimPrefix(name, "heading ")); err == nil && v > 0 {
				out[s.ID] = v
			}
		case s.PPr.Outline != nil && s.PPr.Outline.Val < 9:
			out[s.ID] = s.PPr.Outline.Val + 1
		}
	}
	return out
}
