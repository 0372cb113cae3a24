package extract_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/extract"
)

// TestJSONForms: a file named .json is read whatever JSON it holds, and
// never fails: JSON with comments and trailing commas (tsconfig.json,
// VS Code's settings.json) as records on their own lines, JSON lines as
// JSONL, and anything else as plain text.
func TestJSONForms(t *testing.T) {
	t.Parallel()
	type at struct {
		text string
		n    int
	}
	tests := []struct {
		name, file string
		data       []byte
		format     string
		has        []at
	}{
		{"tsconfig", "tsconfig.json", read(t, "tsconfig.json"), "json", []at{
			{`compilerOptions: {"target":"ES2022","strict":true,"paths":{"@widgets/*":["src/widgets/*"]}}`, 3},
			{`include: ["src","test"]`, 13}}},
		{"vscode settings", ".vscode/settings.json",
			[]byte("// Editor settings.\n{\n  \"editor.tabSize\": 2, // two\n  \"files.exclude\": {\"**/.git\": true,},\n}\n"), "json", []at{
				{`editor.tabSize: 2`, 3}, {`files.exclude: {"**/.git":true}`, 4}}},
		{"json lines named .json", "events.json", read(t, "records.jsonl"), "jsonl", []at{
			{`{"id": 3, "title": "Third widget"}`, 4}}},
		{"standard json", "config.json", read(t, "config.json"), "json", []at{{`sizes: [1,2,3]`, 3}}},
		{"not json", "broken.json", []byte("{\n\"a\": [1,\nsee the docs\n"), "text", []at{{`see the docs`, 3}}},
		{"text", "notes.json", []byte("TODO: write the schema\n"), "text", []at{{"TODO: write the schema", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := extract.Extract(tt.file, tt.data)
			if err != nil {
				t.Fatalf("%s fails: %v", tt.file, err)
			}
			if d.Format != tt.format {
				t.Errorf("format %q, want %q", d.Format, tt.format)
			}
			for _, want := range tt.has {
				if !hasLine(d, want.text, want.n) {
					t.Errorf("no line %q at %d in %+v", want.text, want.n, d.Lines)
				}
			}
			source := ""
			if d.SourceLines {
				source = string(tt.data)
			}
			opt := chunk.Options{Target: 16, Overlap: 4}
			if err := chunk.Verify(d, source, chunk.SplitDoc(d, opt), opt); err != nil {
				t.Error(err)
			}
		})
	}
}

func hasLine(d *extract.Doc, text string, n int) bool {
	for _, l := range d.Lines {
		if l.Text == text && l.N == n {
			return true
		}
	}
	return false
}

// TestHTMLCharset: a page in another charset than UTF-8 is read in the one
// it declares, in a <meta charset> or an http-equiv Content-Type, and one
// that declares none as browsers read it (windows-1252); a page that is
// UTF-8 stays UTF-8 whatever it declares.
func TestHTMLCharset(t *testing.T) {
	t.Parallel()
	latin1 := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r))
		}
		return b
	}
	koi8 := []byte("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=KOI8-R\">\n<p>\xf0\xd2\xc9\xd7\xc5\xd4</p>\n")
	tests := []struct {
		name string
		data []byte
		want at
	}{
		{"meta charset", read(t, "latin1.html"), at{"Le naïve garçon sert le café.", 9}},
		{"meta charset heading", read(t, "latin1.html"), at{"Café crème", 8}},
		{"http-equiv", koi8, at{"Привет", 2}},
		{"http-equiv latin-1", latin1("<html><head><meta http-equiv=content-type content='text/html;charset=iso-8859-1'></head>\n<body><p>Déjà vu</p></body></html>"), at{"Déjà vu", 2}},
		{"none declared", latin1("<p>Gruß</p>"), at{"Gruß", 1}},
		{"utf-8 declared latin-1", []byte("<meta charset=iso-8859-1><p>naïve</p>"), at{"naïve", 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := extract.Extract("page.html", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if !hasLine(d, tt.want.text, tt.want.n) {
				t.Errorf("no line %q at %d in %+v", tt.want.text, tt.want.n, d.Lines)
			}
		})
	}
	t.Run("declares utf-8 but is not", func(t *testing.T) {
		t.Parallel()
		_, err := extract.Extract("page.html", []byte("<meta charset=utf-8><p>caf\xe9</p>"))
		if !errors.Is(err, extract.ErrNotText) || !strings.Contains(err.Error(), "declares UTF-8") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("binary", func(t *testing.T) {
		t.Parallel()
		if _, err := extract.Extract("page.html", []byte("<p>\x00\xff</p>")); !errors.Is(err, extract.ErrNotText) {
			t.Errorf("error %v", err)
		}
	})
}

type at struct {
	text string
	n    int
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGzip: a compressed file is read as the file it holds, by that
// file's name; damage fails, and what expands beyond the limit, holds an
// archive or more gzip is not read.
func TestGzip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"manual.md", "page.html", "config.json", "notes.txt"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := extract.Extract(name, read(t, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := extract.Extract(name+".gz", gz(t, read(t, name)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s.gz reads as\n%+v\nwant\n%+v", name, got, want)
			}
		})
	}
	t.Run("changelog.Debian.gz", func(t *testing.T) {
		t.Parallel()
		d, err := extract.Extract("usr/share/doc/x/changelog.Debian.gz", gz(t, []byte("x (1.0-1) unstable; urgency=low\n\n  * Initial release.\n")))
		if err != nil {
			t.Fatal(err)
		}
		if d.Format != "text" || !hasLine(d, "  * Initial release.", 3) {
			t.Errorf("read %+v", d)
		}
	})
	tests := []struct {
		name, file string
		data       []byte
		max        int64
		failed     bool
		is         error
		message    string
	}{
		{"over the limit", "big.txt.gz", gz(t, bytes.Repeat([]byte("a"), 2001)), 2000, false, extract.ErrTooLarge, "more than 2000 bytes uncompressed"},
		{"damaged", "x.txt.gz", gz(t, []byte("hello"))[:12], 1 << 20, true, nil, "gzip: "},
		{"not gzip", "x.txt.gz", []byte("hello"), 1 << 20, true, nil, "gzip: "},
		{"tar", "x.tar.gz", gz(t, []byte("x")), 1 << 20, false, extract.ErrNotText, "tar archive"},
		{"nested", "x.md.gz.gz", gz(t, gz(t, []byte("x"))), 1 << 20, false, extract.ErrNotText, "gzip inside gzip"},
		{"binary inside", "x.bin.gz", gz(t, []byte("a\x00b")), 1 << 20, false, extract.ErrNotText, "binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := extract.ExtractMax(tt.file, tt.data, tt.max)
			var fe *extract.FormatError
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.failed != errors.As(err, &fe):
				t.Fatalf("%v: FormatError is %v, want %v", err, !tt.failed, tt.failed)
			case tt.is != nil && !errors.Is(err, tt.is):
				t.Fatalf("%v is not %v", err, tt.is)
			case !strings.Contains(err.Error(), tt.message):
				t.Fatalf("error %q does not say %q", err, tt.message)
			}
		})
	}
}

// TestGzipBomb: 100 MB of text in 100 KB of gzip (a hundred members of a
// megabyte each) is refused at the limit, without expanding all of it.
func TestGzipBomb(t *testing.T) {
	member := gz(t, bytes.Repeat([]byte("a"), 1<<20))
	bomb := bytes.Repeat(member, 100)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := extract.ExtractMax("bomb.txt.gz", bomb, 4<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, extract.ErrTooLarge) {
		t.Fatalf("error %v", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a bomb of %d KB (100 MB of text) refused at 4 MB: %.1f MB allocated", len(bomb)>>10, float64(alloc)/(1<<20))
	if alloc > 32<<20 {
		t.Errorf("refusing the bomb allocated %d MB", alloc>>20)
	}
}

func TestExt(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{"a/Guide.MD": ".md", "README.md.gz": ".md.gz", "changelog.Debian.gz": ".debian.gz", "x.GZ": ".gz", "Makefile": ""} {
		if got := extract.Ext(name); got != want {
			t.Errorf("Ext(%q) = %q, want %q", name, got, want)
		}
	}
}

// FuzzGzip: a compressed file reads as the file it holds, and any bytes
// named .gz are refused or read, never a panic nor more than the limit.
func FuzzGzip(f *testing.F) {
	f.Add(read(f, "manual.md"), false)
	f.Add(gz(f, read(f, "notes.txt")), true)
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"), true)
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		if raw {
			d, err := extract.ExtractMax("x.md.gz", data, 1<<16)
			if err == nil && len(d.Text()) > 1<<16 {
				t.Fatalf("read %d bytes of text, limit %d", len(d.Text()), 1<<16)
			}
			return
		}
		want, werr := extract.Extract("x.md", data)
		got, gerr := extract.Extract("x.md.gz", gz(t, data))
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Fatalf("errors %v and %v", gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("x.md.gz reads as %+v, x.md as %+v", got, want)
		}
	})
}

// TestSource: the text a file's line numbers count, markup and all.
func TestSource(t *testing.T) {
	t.Parallel()
	page := read(t, "latin1.html")
	tests := []struct {
		name, file string
		data       []byte
		line       int
		want       string
		err        error
	}{
		{"html in latin-1", "latin1.html", page, 8, "<h1>Café crème</h1>", nil},
		{"gzipped html", "latin1.html.gz", gz(t, page), 4, "<meta charset=ISO-8859-1>", nil},
		{"markdown, front matter and all", "manual.md", read(t, "manual.md"), 1, "---", nil},
		{"pdf", "manual.pdf", read(t, "manual.pdf"), 0, "", extract.ErrNoSource},
		{"docx", "report.docx", read(t, "report.docx"), 0, "", extract.ErrNoSource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text, err := extract.Source(tt.file, tt.data, 1<<20)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			if lines := strings.Split(text, "\n"); len(lines) < tt.line || lines[tt.line-1] != tt.want {
				t.Errorf("line %d is not %q:\n%s", tt.line, tt.want, text)
			}
		})
	}
	d, err := extract.Extract("manual.md", read(t, "manual.md"))
	if err != nil {
		t.Fatal(err)
	}
	if d.FrontMatter != 5 || d.Lines[0].N != 6 {
		t.Errorf("front matter %d lines, text from line %d", d.FrontMatter, d.Lines[0].N)
	}
}
