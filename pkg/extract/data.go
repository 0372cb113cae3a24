package extract

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/tailscale/hujson"
)

// CSV reads a table as records: the header line, then one line per row
// that names each value by its column ("name: Ada; year: 1815"), so that a
// row found alone still says what its values are. N is the row's line in
// the file.
func CSV(text string, tabs bool) (*Doc, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord, r.LazyQuotes, r.ReuseRecord = -1, true, false
	if tabs {
		r.Comma = '\t'
	}
	doc := &Doc{Format: "csv"}
	var header []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &FormatError{Format: "csv", Err: err}
		}
		line, _ := r.FieldPos(0)
		var text string
		kind := Record
		if header == nil {
			header, kind = rec, Para
			text = strings.Join(rec, " | ")
		} else {
			parts := make([]string, 0, len(rec))
			for i, v := range rec {
				if v = strings.TrimSpace(v); v == "" {
					continue
				}
				if i < len(header) && strings.TrimSpace(header[i]) != "" {
					v = strings.TrimSpace(header[i]) + ": " + v
				}
				parts = append(parts, v)
			}
			text = strings.Join(parts, "; ")
		}
		if text == "" {
			continue
		}
		start := len(doc.Lines)
		doc.Lines = append(doc.Lines, Line{Text: text, N: line})
		doc.Blocks = append(doc.Blocks, Block{Kind: kind, Start: start, End: start + 1})
	}
	return doc, nil
}

// JSONLines reads one JSON value a line, each a record; the lines are the
// file's own.
func JSONLines(text string) (*Doc, error) {
	lines := fileLines(text)
	doc := &Doc{Format: "jsonl", Lines: lines, SourceLines: true}
	for i, l := range lines {
		if blank(l.Text) {
			continue
		}
		if !json.Valid([]byte(l.Text)) {
			return nil, &FormatError{Format: "jsonl", Err: fmt.Errorf("line %d is not JSON", i+1)}
		}
		doc.Blocks = append(doc.Blocks, Block{Kind: Record, Start: i, End: i + 1})
	}
	return doc, nil
}

// JSON reads a file named .json, which is never a failure: standard JSON
// as records (jsonRecords); else JSON with comments and trailing commas
// (JWCC: tsconfig.json, VS Code's settings.json), made standard by
// hujson.Standardize, which blanks what it removes so that every record
// keeps its line; else JSON lines (one value a line) as JSONLines reads
// them; else, since it is still text, plain text.
func JSON(text string) *Doc {
	src := []byte(text)
	if json.Valid(src) {
		if doc, err := jsonRecords(src); err == nil {
			return doc
		}
	}
	if std, err := hujson.Standardize(bytes.Clone(src)); err == nil && json.Valid(std) {
		if doc, err := jsonRecords(std); err == nil {
			return doc
		}
	}
	if doc, err := JSONLines(text); err == nil && len(doc.Blocks) > 0 {
		return doc
	}
	return PlainText(text)
}

// jsonRecords reads valid JSON: the elements of a top-level array, or the
// members of a top-level object, are records, each as compact JSON on one
// line whose N is the line the record starts on.
func jsonRecords(src []byte) (*Doc, error) {
	fail := func(err error) (*Doc, error) { return nil, &FormatError{Format: "json", Err: err} }
	doc := &Doc{Format: "json"}
	lineAt := func(off int64) int { return bytes.Count(src[:off], []byte("\n")) + 1 }
	add := func(prefix string, raw json.RawMessage, off int64) error {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return err
		}
		start := len(doc.Lines)
		doc.Lines = append(doc.Lines, Line{Text: prefix + b.String(), N: lineAt(off + int64(leadingSpace(raw)))})
		doc.Blocks = append(doc.Blocks, Block{Kind: Record, Start: start, End: start + 1})
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	tok, err := dec.Token()
	if err != nil {
		return fail(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		if err := add("", src, 0); err != nil {
			return fail(err)
		}
		return doc, nil
	}
	for dec.More() {
		prefix := ""
		if delim == '{' {
			key, err := dec.Token()
			if err != nil {
				return fail(err)
			}
			prefix = fmt.Sprintf("%v: ", key)
		}
		off := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(err)
		}
		// InputOffset is before the separator; skip it to the value.
		rest := src[off:]
		skip := int64(len(rest) - len(bytes.TrimLeft(rest, " \t\r\n,:")))
		if err := add(prefix, raw, off+skip); err != nil {
			return fail(err)
		}
	}
	return doc, nil
}

func leadingSpace(b []byte) int { return len(b) - len(bytes.TrimLeft(b, " \t\r\n")) }
