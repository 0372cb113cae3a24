// Package extract turns a file's bytes into text rag can chunk: lines, each
// knowing where it came from in the file (line, or page and line for PDF,
// paragraph for Word), and blocks that say what the structure is (headings
// with their level, paragraphs, code declarations, records). Formats that
// are text (Markdown, plain text, source code, reStructuredText, Org) keep
// the file's own lines; HTML, PDF, DOCX, CSV and JSON are converted, and
// their lines point back into the source. A gzip-compressed file is read
// as the file it holds. Metadata such as Markdown front matter is kept
// apart from the text.
package extract

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Version changes whenever the text or structure extracted from the same
// bytes changes, so that stored chunks are recomputed.
const Version = 1

// FormatVersion is the version of the reader of one extension (".md"),
// beside Version: it changes when that reader alone changes, so that
// files of the other formats keep their chunks. 0 for a reader that has
// not changed since Version.
func FormatVersion(ext string) int {
	switch ext {
	case ".md", ".markdown", ".mdx":
		// 1: TOML front matter, and front matter below blank lines, go
		// to Meta (access control must see them).
		return 1
	}
	return 0
}

// Line is one line of extracted text.
type Line struct {
	Text string
	// N is where the line is in the source: its line number for text
	// formats, HTML, CSV and JSON; the line within its page for PDF; the
	// paragraph number for DOCX. 1-based.
	N int
	// Page is the 1-based page for paged formats (PDF), else 0.
	Page int
}

// Kind is what a block is.
type Kind int

const (
	// Para is prose, a list, a table or anything else that reads as text.
	Para Kind = iota
	// Heading starts a section; Level says how deep.
	Heading
	// Code is source code or a code block; split it only between lines.
	Code
	// Record is one record of a data file (a CSV row, a JSON object).
	Record
)

// Block is a run of lines with one role.
type Block struct {
	Kind Kind
	// Level is a heading's depth, 1 for the top.
	Level int
	// Title is a heading's text without markup.
	Title string
	// Start and End index Doc.Lines: the block is Lines[Start:End].
	Start, End int
}

// Doc is an extracted file.
type Doc struct {
	// Format names the parser that read the file ("markdown", "pdf", ...).
	Format string
	Lines  []Line
	Blocks []Block
	// Meta holds metadata that is not indexed as text (front matter,
	// document properties).
	Meta map[string]any
	// Paged is true when lines carry pages and citations should show them.
	Paged bool
	// SourceLines is true when Lines are exactly the file's lines at N, so
	// that a chunk's text can be checked against the file.
	SourceLines bool
	// FrontMatter is how many lines at the top are front matter (Meta),
	// kept out of the text.
	FrontMatter int
}

// Text is the extracted text: the lines joined by newlines.
func (d *Doc) Text() string {
	var b strings.Builder
	for i, l := range d.Lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.Text)
	}
	return b.String()
}

// FormatError means a file of a known format is damaged, encrypted or
// otherwise unreadable: the file fails (and the run exits partial).
type FormatError struct {
	Format string
	Err    error
}

func (e *FormatError) Error() string { return fmt.Sprintf("%s: %v", e.Format, e.Err) }
func (e *FormatError) Unwrap() error { return e.Err }

// DefaultMaxSize bounds what a compressed file may expand to when Extract
// is not told otherwise: the largest file rag reads by default.
const DefaultMaxSize = 64 << 20

// Extract reads data, the content of the file at name (slash-separated),
// with the reader its extension calls for; files without a known binary
// format are read as text if they are text. A gzip-compressed file
// (name.gz) is read as name, expanded to at most DefaultMaxSize bytes.
func Extract(name string, data []byte) (*Doc, error) {
	return ExtractMax(name, data, DefaultMaxSize)
}

// ExtractMax is Extract with max bounding what a compressed file may
// expand to (rag's --max-size: a gzip bomb must not exhaust memory).
func ExtractMax(name string, data []byte, max int64) (*Doc, error) {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".gz":
		return gunzip(name, data, max)
	case ".pdf":
		return PDF(data)
	case ".docx":
		return DOCX(data)
	case ".html", ".htm", ".xhtml":
		text, err := decodeHTML(data)
		if err != nil {
			return nil, err
		}
		return HTML(text), nil
	}
	text, err := Decode(data)
	if err != nil {
		return nil, err
	}
	switch {
	case ext == ".md" || ext == ".markdown" || ext == ".mdx":
		return Markdown(text), nil
	case ext == ".csv" || ext == ".tsv":
		return CSV(text, ext == ".tsv")
	case ext == ".jsonl" || ext == ".ndjson":
		return JSONLines(text)
	case ext == ".json":
		return JSON(text), nil
	case ext == ".rst":
		return RST(text), nil
	case ext == ".org":
		return Org(text), nil
	case isCode(ext):
		return SourceCode(text), nil
	}
	return PlainText(text), nil
}

// Ext is the extension that decides how a file is read, in lower case:
// ".md" for guide.md, ".md.gz" for a compressed guide.md.gz.
func Ext(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == ".gz" {
		return strings.ToLower(path.Ext(name[:len(name)-len(ext)])) + ext
	}
	return ext
}

// gunzip reads a gzip-compressed file as the file it holds, named by its
// name without ".gz" (changelog.Debian.gz is text, README.md.gz Markdown),
// expanded to at most max bytes. Damage is a FormatError; a file that
// expands beyond max, or holds another compressed file or an archive, is
// not read.
func gunzip(name string, data []byte, max int64) (*Doc, error) {
	inner, out, err := expand(name, data, max)
	if err != nil {
		return nil, err
	}
	return ExtractMax(inner, out, max)
}

// expand uncompresses the gzip-compressed file name, at most max bytes of
// it, and names what it holds.
func expand(name string, data []byte, max int64) (string, []byte, error) {
	inner := name[:len(name)-len(".gz")]
	switch strings.ToLower(path.Ext(inner)) {
	case ".gz":
		return "", nil, fmt.Errorf("%w: gzip inside gzip", ErrNotText)
	case ".tar":
		return "", nil, fmt.Errorf("%w: a compressed tar archive", ErrNotText)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return "", nil, &FormatError{Format: "gzip", Err: err}
	}
	out, err := io.ReadAll(io.LimitReader(zr, max+1))
	if err != nil {
		return "", nil, &FormatError{Format: "gzip", Err: err}
	}
	if int64(len(out)) > max {
		return "", nil, fmt.Errorf("%w (more than %d bytes uncompressed)", ErrTooLarge, max)
	}
	return inner, out, nil
}

// ErrNoSource means a file's line numbers do not count lines of text that
// Source could return: PDF (lines of pages) and DOCX (paragraphs).
var ErrNoSource = errors.New("no lines of text: its positions are pages or paragraphs")

// Source returns the text whose lines a file's Line.N count: the decoded
// file (uncompressed, in the charset an HTML page declares), markup and
// all, as ExtractMax read it.
func Source(name string, data []byte, max int64) (string, error) {
	switch strings.ToLower(path.Ext(name)) {
	case ".gz":
		inner, out, err := expand(name, data, max)
		if err != nil {
			return "", err
		}
		return Source(inner, out, max)
	case ".pdf", ".docx":
		return "", ErrNoSource
	case ".html", ".htm", ".xhtml":
		return decodeHTML(data)
	}
	return Decode(data)
}

// ErrTooLarge marks a compressed file that expands beyond the size limit.
var ErrTooLarge = errors.New("larger than --max-size when uncompressed")
