package extract_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/extract"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type heading struct {
	level int
	title string
}

// TestFormats reads each fixture: its reader, its headings, what must be
// in the text (with its position) and what must not.
func TestFormats(t *testing.T) {
	t.Parallel()
	type at struct {
		text    string
		n, page int
	}
	tests := []struct {
		file     string
		format   string
		headings []heading
		has      []at
		hasNot   []string
		meta     map[string]string
	}{
		{"manual.md", "markdown",
			[]heading{{1, "Widget manual"}, {2, "Install"}, {3, "Linux"}, {3, "macOS"}, {2, "Configuration"}},
			[]at{{"# this is a comment, not a heading", 18, 0}, {"| size | 3 | how many widgets |", 31, 0}},
			[]string{"title: Widget manual", "draft: false"},
			map[string]string{"title": "Widget manual", "draft": "false"}},
		{"notes.txt", "text", nil, []at{{"Everyone should review the manual before Friday.", 4, 0}}, nil, nil},
		{"server.go", "code", nil, []at{{"func helper() int {", 21, 0}}, nil, nil},
		{"tool.py", "code", nil, []at{{"class Painter:", 15, 0}}, nil, nil},
		{"guide.rst", "rst", []heading{{1, "Widget guide"}, {2, "Setup"}, {3, "Tuning"}, {2, "Usage"}},
			[]at{{"Turn the knob slowly.", 15, 0}}, nil, nil},
		{"todo.org", "org", []heading{{1, "Goals"}, {2, "Stretch goals"}, {1, "Risks"}},
			[]at{{"The knob may break.", 8, 0}}, nil, nil},
		{"page.html", "html", []heading{{1, "Widget news"}, {2, "Prices"}},
			[]at{{"The new widget ships in April, two weeks early.", 13, 0}, {"Small | 10 €", 18, 0},
				{"widget --size 3", 21, 0}, {"Another one & more.", 25, 0}},
			[]string{"tracking", "Menu item", "Home", "Copyright", "Related", "color: red", "console.log"}, nil},
		{"manual.pdf", "pdf", nil,
			[]at{{"Widget Handbook", 1, 1}, {"The capacitor stores a charge.", 4, 1}, {"Wipe the widget with a dry cloth once a week.", 2, 2},
				{"The warranty lasts two years from the date of purchase.", 2, 3}}, nil, nil},
		{"report.docx", "docx", []heading{{1, "Quarterly report"}, {2, "Regions"}, {2, "Outlook"}},
			[]at{{"The south region opened two stores.", 5, 0}}, nil, nil},
		{"data.csv", "csv", nil,
			[]at{{"name: Grace Hopper; year: 1906; field: computer science, navy", 3, 0}, {"name: Alan Turing; year: 1912", 4, 0}}, nil, nil},
		{"records.jsonl", "jsonl", nil, []at{{`{"id": 3, "title": "Third widget"}`, 4, 0}}, nil, nil},
		{"config.json", "json", nil,
			[]at{{`sizes: [1,2,3]`, 3, 0}, {`owner: {"team":"hardware","email":"hw@example.com"}`, 4, 0}}, nil, nil},
		{"utf16.txt", "text", nil, []at{{"Unicode text: café, naïve, 日本語.", 1, 0}, {"Second line.", 2, 0}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			d, err := extract.Extract(tt.file, read(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if d.Format != tt.format {
				t.Errorf("format %q, want %q", d.Format, tt.format)
			}
			var hs []heading
			for _, b := range d.Blocks {
				if b.Kind == extract.Heading {
					hs = append(hs, heading{b.Level, b.Title})
				}
			}
			if len(hs) != len(tt.headings) || len(hs) > 0 && !equal(hs, tt.headings) {
				t.Errorf("headings %v, want %v", hs, tt.headings)
			}
			for _, want := range tt.has {
				found := false
				for _, l := range d.Lines {
					if l.Text == want.text {
						found = true
						if l.N != want.n || l.Page != want.page {
							t.Errorf("%q is at %d page %d, want %d page %d", want.text, l.N, l.Page, want.n, want.page)
						}
					}
				}
				if !found {
					t.Errorf("no line %q", want.text)
				}
			}
			text := d.Text()
			for _, bad := range tt.hasNot {
				if strings.Contains(text, bad) {
					t.Errorf("text has %q", bad)
				}
			}
			for k, v := range tt.meta {
				if got, ok := d.Meta[k]; !ok || strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(toString(got), "[", ""), "]", "")) != v {
					t.Errorf("meta %s = %v, want %s", k, got, v)
				}
			}
			for _, opt := range []chunk.Options{{Target: 8, Overlap: 2}, chunk.DefaultOptions} {
				source := ""
				if d.SourceLines {
					source, _ = extract.Decode(read(t, tt.file))
				}
				if err := chunk.Verify(d, source, chunk.SplitDoc(d, opt), opt); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func equal(a, b []heading) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return ""
}

// TestBadInput: what cannot be read is refused with a reason, never a
// panic: ErrNotText to skip, a FormatError to report as failed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	zipOf := func() []byte { return read(t, "zip-not-word.docx") }
	tests := []struct {
		name    string
		file    string
		data    []byte
		failed  bool // FormatError, else ErrNotText
		message string
	}{
		{"latin-1", "latin1.txt", nil, false, "not UTF-8 (first bad byte on line 1"},
		{"binary", "blob.txt", []byte("ab\x00cd"), false, "binary content"},
		{"encrypted pdf", "encrypted.pdf", nil, true, "encrypted (password-protected) PDF"},
		{"truncated pdf", "truncated.pdf", nil, true, "pdf: damaged"},
		{"garbage pdf", "garbage.pdf", nil, true, "pdf: damaged"},
		{"not a pdf at all", "x.pdf", []byte("hello"), true, "not a PDF file"},
		{"zip named .docx", "zip-not-word.docx", zipOf(), true, "not a Word document"},
		{"text named .docx", "x.docx", []byte("hello"), true, "not a DOCX file"},
		{"old .doc renamed", "x.docx", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest"), true, "password-protected, or an old .doc"},
		{"broken jsonl", "x.jsonl", []byte("{}\n{nope}\n"), true, "line 2 is not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.data
			if data == nil {
				data = read(t, tt.file)
			}
			_, err := extract.Extract(tt.file, data)
			var fe *extract.FormatError
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.failed && !errors.As(err, &fe):
				t.Fatalf("%v is not a FormatError", err)
			case !tt.failed && !errors.Is(err, extract.ErrNotText):
				t.Fatalf("%v is not ErrNotText", err)
			case !strings.Contains(err.Error(), tt.message):
				t.Fatalf("error %q does not say %q", err, tt.message)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	utf16be := []byte{0xFE, 0xFF, 0, 'h', 0, 'i', 0, '\n'}
	utf32le := []byte{0xFF, 0xFE, 0, 0, 'o', 0, 0, 0, 'k', 0, 0, 0}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf-8", []byte("héllo\n"), "héllo\n"},
		{"utf-8 bom", []byte("\xEF\xBB\xBFhi"), "hi"},
		{"crlf", []byte("a\r\nb\r\n"), "a\nb\n"},
		{"utf-16le bom", read(t, "utf16.txt"), "Unicode text: café, naïve, 日本語.\nSecond line.\n"},
		{"utf-16be bom", utf16be, "hi\n"},
		{"utf-32le bom", utf32le, "ok"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		got, err := extract.Decode(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: Decode = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// fuzzFormat checks, for any input a reader accepts, that chunking it keeps
// every property of chunk.Verify, and for text formats that every
// non-blank line of the file is in a block. Readers must never panic.
func fuzzFormat(f *testing.F, name string, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := extract.Extract(name, data)
		if err != nil {
			return
		}
		source := ""
		if d.SourceLines {
			if source, err = extract.Decode(data); err != nil {
				t.Fatal(err)
			}
			inBlock := make([]bool, len(d.Lines))
			for _, b := range d.Blocks {
				if b.Start < 0 || b.End > len(d.Lines) || b.Start > b.End {
					t.Fatalf("block [%d,%d) of %d lines", b.Start, b.End, len(d.Lines))
				}
				for i := b.Start; i < b.End; i++ {
					inBlock[i] = true
				}
			}
			for i, l := range d.Lines {
				if !inBlock[i] && strings.TrimSpace(l.Text) != "" {
					t.Fatalf("line %d %q is in no block", l.N, l.Text)
				}
			}
		}
		opt := chunk.Options{Target: 16, Overlap: 4}
		if err := chunk.Verify(d, source, chunk.SplitDoc(d, opt), opt); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzMarkdown(f *testing.F) {
	fuzzFormat(f, "x.md", read(f, "manual.md"), []byte("---\na: [\n---\n# T\n```\n# no\n"), []byte("Title\n===\n\n> quote\n> more\n\n1. a\n\n   b\n"),
		[]byte("+++\naccess = [\"user:a\"]\n+++\n# T\n"), []byte("+++\na = [\n+++\nx\n"), []byte("\n\n---\naccess: [user:a]\n---\n# T\n"))
}

// TestFrontMatter: YAML and TOML front matter go to Meta and out of the
// text; front matter that does not parse, or that starts below blank
// lines, is out of the text too and Meta says why (front_matter_error),
// so that its access key is never read as text while the file goes public.
func TestFrontMatter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     string
		meta    map[string]string // key: value as fmt prints it
		metaErr string            // substring of front_matter_error
		firstN  int               // line number of the first line of text
		noMeta  bool
		textHas string
	}{
		{name: "yaml", src: "---\naccess: [user:alice]\ntitle: T\n---\n# H\n", meta: map[string]string{"access": "[user:alice]", "title": "T"}, firstN: 5},
		{name: "yaml key in capitals kept as written", src: "---\nAccess: [user:alice]\n---\n# H\n", meta: map[string]string{"Access": "[user:alice]"}, firstN: 4},
		{name: "toml", src: "+++\naccess = [\"user:alice\"]\ntitle = \"T\"\ndate = 2024-01-02\n+++\n# H\n", meta: map[string]string{"access": "[user:alice]", "title": "T"}, firstN: 6},
		{name: "toml that does not parse", src: "+++\naccess = [user:alice]\n+++\n# H\n", metaErr: "toml", firstN: 4},
		{name: "yaml that does not parse", src: "---\naccess: [user:alice\n---\n# H\n", metaErr: "yaml", firstN: 4},
		{name: "blank line before ---", src: "\n---\naccess: [user:alice]\n---\n# H\n", metaErr: "front matter must start on the first line, not after 1 blank line", firstN: 5},
		{name: "blank lines before +++", src: "\n  \n+++\naccess = [\"user:alice\"]\n+++\n# H\n", metaErr: "not after 2 blank lines", firstN: 6},
		{name: "a rule and text below a blank line", src: "\n---\nJust some text.\n---\n# H\n", noMeta: true, textHas: "Just some text."},
		{name: "no closing fence", src: "---\naccess: [user:alice]\n# H\n", noMeta: true, textHas: "access: [user:alice]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := extract.Extract("x.md", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if tt.noMeta {
				if d.Meta != nil {
					t.Errorf("meta %v, want none", d.Meta)
				}
				if !strings.Contains(d.Text(), tt.textHas) {
					t.Errorf("text %q lacks %q", d.Text(), tt.textHas)
				}
				return
			}
			if strings.Contains(d.Text(), "access") {
				t.Errorf("front matter in the text: %q", d.Text())
			}
			if len(d.Lines) == 0 || d.Lines[0].N != tt.firstN {
				t.Errorf("lines %v: want the first at line %d", d.Lines, tt.firstN)
			}
			if tt.metaErr != "" {
				e, _ := d.Meta["front_matter_error"].(string)
				if !strings.Contains(strings.ToLower(e), tt.metaErr) || len(d.Meta) != 1 {
					t.Errorf("meta %v, want front_matter_error with %q", d.Meta, tt.metaErr)
				}
				return
			}
			for k, v := range tt.meta {
				if got := fmt.Sprint(d.Meta[k]); got != v {
					t.Errorf("meta %s = %s, want %s", k, got, v)
				}
			}
		})
	}
}
func FuzzHTML(f *testing.F) {
	fuzzFormat(f, "x.html", read(f, "page.html"), []byte("<main><p>a<nav>b</main>c<pre>\nx\n</pre>"), read(f, "latin1.html"))
}
func FuzzPDF(f *testing.F) {
	fuzzFormat(f, "x.pdf", read(f, "manual.pdf"), read(f, "truncated.pdf"))
}
func FuzzDOCX(f *testing.F) {
	fuzzFormat(f, "x.docx", read(f, "report.docx"), read(f, "zip-not-word.docx"))
}
func FuzzCSV(f *testing.F) { fuzzFormat(f, "x.csv", read(f, "data.csv")) }
func FuzzJSON(f *testing.F) {
	fuzzFormat(f, "x.json", read(f, "config.json"), []byte("[1, {\"a\": 2}]"), read(f, "tsconfig.json"), read(f, "records.jsonl"), []byte("{\n\"a\": [1,\n"))
}
func FuzzJSONL(f *testing.F) { fuzzFormat(f, "x.jsonl", read(f, "records.jsonl")) }
func FuzzRST(f *testing.F)   { fuzzFormat(f, "x.rst", read(f, "guide.rst")) }
func FuzzOrg(f *testing.F)   { fuzzFormat(f, "x.org", read(f, "todo.org")) }
func FuzzCode(f *testing.F)  { fuzzFormat(f, "x.go", read(f, "server.go"), read(f, "tool.py")) }
func FuzzText(f *testing.F)  { fuzzFormat(f, "x.txt", read(f, "notes.txt"), read(f, "utf16.txt")) }

// Benchmarks: each reader on its fixture, repeated to about 1 MB where
// the format allows (MB/s is the figure).
func benchFormat(b *testing.B, name string, data []byte) {
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := extract.Extract(name, data); err != nil {
			b.Fatal(err)
		}
	}
}

func repeat(b *testing.B, name string, skipLines int) []byte {
	data := read(b, name)
	if skipLines > 0 {
		data = []byte(strings.SplitN(string(data), "\n", skipLines+1)[skipLines])
	}
	return bytes.Repeat(data, (1<<20)/len(data)+1)
}

func BenchmarkMarkdown(b *testing.B) { benchFormat(b, "x.md", repeat(b, "manual.md", 5)) }
func BenchmarkText(b *testing.B)     { benchFormat(b, "x.txt", repeat(b, "notes.txt", 0)) }
func BenchmarkCode(b *testing.B)     { benchFormat(b, "x.go", repeat(b, "server.go", 0)) }
func BenchmarkHTML(b *testing.B) {
	page := string(read(b, "page.html"))
	body := page[strings.Index(page, "<main>"):strings.Index(page, "</main>")]
	benchFormat(b, "x.html", []byte("<html><body><main>"+strings.Repeat(body, (1<<20)/len(body))+"</main></body></html>"))
}
func BenchmarkCSV(b *testing.B) {
	data := read(b, "data.csv")
	head, rows, _ := bytes.Cut(data, []byte("\n"))
	benchFormat(b, "x.csv", append(append(head, '\n'), bytes.Repeat(rows, (1<<20)/len(rows))...))
}
func BenchmarkJSONL(b *testing.B) { benchFormat(b, "x.jsonl", repeat(b, "records.jsonl", 0)) }
func BenchmarkPDF(b *testing.B)   { benchFormat(b, "x.pdf", read(b, "manual.pdf")) }
func BenchmarkDOCX(b *testing.B)  { benchFormat(b, "x.docx", read(b, "report.docx")) }

func TestMarkdownTitles(t *testing.T) {
	t.Parallel()
	d := extract.Markdown("# Install **now** [here](http://x) `code` ##\n\ntext\n\nSetext *title*\n---\n")
	var got []string
	for _, b := range d.Blocks {
		if b.Kind == extract.Heading {
			got = append(got, b.Title)
		}
	}
	if strings.Join(got, "|") != "Install now here code|Setext title" {
		t.Errorf("titles %q", got)
	}
}

// BenchmarkHostile reads inputs that are slow in naive parsers: a 1 MB
// line of "[a](" (quadratic in goldmark's link parser, which rag does not
// run) and 1 MB of one line of words (the chunker cuts it in one pass).
func BenchmarkHostile(b *testing.B) {
	for name, src := range map[string]string{
		"links":     strings.Repeat("[a](", 250000),
		"long-line": strings.Repeat("word ", 200000),
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				d := extract.Markdown(src)
				chunk.SplitDoc(d, chunk.DefaultOptions)
			}
		})
	}
}

// FuzzDOCXBody fuzzes what is inside the zip: the document and styles XML.
func FuzzDOCXBody(f *testing.F) {
	f.Add([]byte(`<w:document xmlns:w="w"><w:body><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Title</w:t></w:r></w:p><w:p><w:r><w:t>Text</w:t><w:tab/><w:t>more</w:t></w:r></w:p></w:body></w:document>`),
		[]byte(`<w:styles xmlns:w="w"><w:style w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>`))
	f.Fuzz(func(t *testing.T, document, styles []byte) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, data := range map[string][]byte{"word/document.xml": document, "word/styles.xml": styles} {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		d, err := extract.DOCX(buf.Bytes())
		if err != nil {
			return
		}
		opt := chunk.Options{Target: 16, Overlap: 4}
		if err := chunk.Verify(d, "", chunk.SplitDoc(d, opt), opt); err != nil {
			t.Fatal(err)
		}
	})
}
