package chunk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/extract"
)

// Check fails t unless Verify accepts the chunks.
func Check(t testing.TB, d *extract.Doc, file string, chunks []Chunk, opt Options) {
	t.Helper()
	if err := Verify(d, file, chunks, opt); err != nil {
		t.Fatal(err)
	}
}

func fixture(t testing.TB, name string) (*extract.Doc, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "extract", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := extract.Extract(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return d, string(data)
}

type view struct {
	lines   string
	page    int
	heading string
	first   string
}

func views(cs []Chunk) []view {
	var out []view
	for _, c := range cs {
		first, _, _ := strings.Cut(c.Text, "\n")
		out = append(out, view{fmt.Sprintf("%d-%d", c.StartLine, c.EndLine), c.Page, c.Heading, first})
	}
	return out
}

// TestStructure: small targets make every section its own chunk, so the
// headings, pages and boundaries can be read off.
func TestStructure(t *testing.T) {
	t.Parallel()
	small := Options{Target: 20, Overlap: 0}
	tests := []struct {
		file string
		opt  Options
		want []view
	}{
		{"manual.md", small, []view{
			{"6-6", 0, "Widget manual", "# Widget manual"},
			{"8-9", 0, "Widget manual", "Widgets turn input into output. This manual covers installing and"},
			{"11-15", 0, "Widget manual > Install > Linux", "## Install"}, // "## Install" has nothing of its own
			{"17-18", 0, "Widget manual > Install > Linux", "```sh"},      // the "#" in the code is no heading
			{"19-20", 0, "Widget manual > Install > Linux", "sudo dpkg -i widget.deb"},
			{"22-24", 0, "Widget manual > Install > macOS", "### macOS"},
			{"26-27", 0, "Widget manual > Configuration", "Configuration"}, // a setext heading
			{"29-30", 0, "Widget manual > Configuration", "| key | default | meaning |"},
			{"31-32", 0, "Widget manual > Configuration", "| size | 3 | how many widgets |"},
			{"34-37", 0, "Widget manual > Configuration", "- Lists stay together."},
			{"39-39", 0, "Widget manual > Configuration", "Closing words after a thematic break."},
		}},
		// Front matter (lines 1-5) is metadata, in no chunk.
		{"manual.md", DefaultOptions, []view{{"6-39", 0, "Widget manual", "# Widget manual"}}},
		{"manual.pdf", DefaultOptions, []view{
			{"1-4", 1, "", "Widget Handbook"}, {"1-2", 2, "", "2. Cleaning"}, {"1-2", 3, "", "3. Warranty"},
		}},
		{"report.docx", Options{Target: 30}, []view{
			{"1-2", 0, "Quarterly report", "Quarterly report"},
			{"3-5", 0, "Quarterly report > Regions", "Regions"},
			{"6-7", 0, "Quarterly report > Outlook", "Outlook"},
		}},
		{"server.go", Options{Target: 60}, []view{
			{"1-9", 0, "", "// Package server answers widget requests."},
			{"11-17", 0, "", "// ServeHTTP writes the widget."}, // too long: cut between lines
			{"18-23", 0, "", "\tw.WriteHeader(http.StatusOK)"},
		}},
		{"tool.py", Options{Target: 40}, []view{
			{"1-3", 0, "", `"""Widget tools."""`},
			{"6-12", 0, "", "def count(widgets):"},
			{"15-21", 0, "", "class Painter:"},
		}},
		{"guide.rst", small, []view{
			{"1-3", 0, "Widget guide", "============="},
			{"5-5", 0, "Widget guide", "An introduction to widgets."},
			{"7-10", 0, "Widget guide > Setup", "Setup"},
			{"12-15", 0, "Widget guide > Setup > Tuning", "Tuning"},
			{"17-20", 0, "Widget guide > Usage", "Usage"},
		}},
		// Lines of HTML point into the page's source.
		{"page.html", small, []view{
			{"12-13", 0, "Widget news", "Widget news"},
			{"15-18", 0, "Widget news > Prices", "Prices"},
			{"21-24", 0, "Widget news > Prices", "widget --size 3"},
			{"25-25", 0, "Widget news > Prices", "Another one & more."},
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.file, tt.opt.Target), func(t *testing.T) {
			t.Parallel()
			d, file := fixture(t, tt.file)
			cs := SplitDoc(d, tt.opt)
			Check(t, d, file, cs, tt.opt)
			got := views(cs)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("chunks:\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

// TestEveryFixture holds the properties for every fixture and several sizes.
func TestEveryFixture(t *testing.T) {
	t.Parallel()
	ents, err := os.ReadDir(filepath.Join("..", "extract", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("..", "extract", "testdata", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		d, err := extract.Extract(e.Name(), data)
		if err != nil {
			continue // the bad inputs are extract's tests
		}
		text := string(data)
		if d.SourceLines {
			if text, err = extract.Decode(data); err != nil {
				t.Fatal(err)
			}
		}
		for _, opt := range []Options{{Target: 5, Overlap: 2}, {Target: 20, Overlap: 5}, DefaultOptions} {
			Check(t, d, text, SplitDoc(d, opt), opt)
		}
	}
}

func prose(paras, sentences int) string {
	var b strings.Builder
	for p := 0; p < paras; p++ {
		for s := 0; s < sentences; s++ {
			fmt.Fprintf(&b, "Sentence %d of paragraph %d talks about widget number %d. ", s, p, p*s)
			if s%3 == 2 {
				b.WriteString("\n")
			}
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

func TestSizeAndOverlap(t *testing.T) {
	t.Parallel()
	text := prose(40, 12)
	d := extract.PlainText(text)
	cs := SplitDoc(d, DefaultOptions)
	Check(t, d, text, cs, DefaultOptions)
	if len(cs) < 10 {
		t.Fatalf("%d chunks", len(cs))
	}
	overlapping, total := 0, 0
	for i, c := range cs {
		// A long section's chunks end at its anchors or at content-defined
		// cuts past half the target: smaller than packing from the top.
		n := EstimateTokens(c.Text)
		total += n
		if i < len(cs)-1 && (n < 100 || n > 575) {
			t.Errorf("chunk %d has %d tokens, want 100 to about 500", i, n)
		}
		if i > 0 && c.From < cs[i-1].To {
			overlapping++
			shared := tokensOf(newDoc(d), c.From, cs[i-1].To)
			if shared > DefaultOptions.Overlap+5 {
				t.Errorf("chunks %d and %d share %d tokens, want at most %d", i-1, i, shared, DefaultOptions.Overlap)
			}
		}
	}
	if mean := total / len(cs); mean < 300 {
		t.Errorf("chunks hold %d tokens on average, want at least 300", mean)
	}
	if overlapping < len(cs)/2 {
		t.Errorf("only %d of %d chunks overlap the previous one", overlapping, len(cs))
	}
}

// TestEditsMoveFewChunks: a line inserted anywhere in a long text, or
// appended, leaves all but a few chunks as they were (content-defined
// boundaries), in prose of paragraphs and in a log of lines without one
// blank line.
func TestEditsMoveFewChunks(t *testing.T) {
	t.Parallel()
	var log strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&log, "2026-12-08T00:%02d:%02d INFO request %d served from cache %s\n", i/60%60, i%60, i*7919%1000, strings.Repeat("ok ", i*31%9))
	}
	for _, tt := range []struct{ name, text string }{{"prose", prose(200, 12)}, {"log", log.String()}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := map[string]bool{}
			for _, c := range SplitDoc(extract.PlainText(tt.text), DefaultOptions) {
				before[c.Text] = true
			}
			lines := strings.SplitAfter(tt.text, "\n")
			worst, sum, edits := 0, 0, 0
			for at := 1; at < len(lines); at += len(lines)/40 + 1 {
				edited := strings.Join(lines[:at], "") + "An inserted line about something else entirely.\n" + strings.Join(lines[at:], "")
				n := 0
				for _, c := range SplitDoc(extract.PlainText(edited), DefaultOptions) {
					if !before[c.Text] {
						n++
					}
				}
				worst, sum, edits = max(worst, n), sum+n, edits+1
			}
			if mean := float64(sum) / float64(edits); worst > 6 || mean > 2.5 {
				t.Errorf("an inserted line changes up to %d chunks, %.2f on average; want few", worst, mean)
			}
			n := 0
			for _, c := range SplitDoc(extract.PlainText(tt.text+"One more line.\n"), DefaultOptions) {
				if !before[c.Text] {
					n++
				}
			}
			if n > 2 {
				t.Errorf("an appended line changes %d chunks", n)
			}
		})
	}
}

func TestLongLines(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, line string }{
		{"sentences", strings.Repeat("This is one sentence of a long paragraph on one line. ", 200)},
		{"words", strings.Repeat("word ", 3000)},
		{"no spaces", strings.Repeat("x", 9000)},
		{"multibyte", strings.Repeat("日本語の文です。", 600)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := "Title\n\n" + tt.line + "\n\nAfter.\n"
			d := extract.PlainText(text)
			cs := SplitDoc(d, DefaultOptions)
			Check(t, d, text, cs, DefaultOptions)
			parts := 0
			for _, c := range cs {
				if c.Part {
					parts++
					if EstimateTokens(c.Text) > DefaultOptions.Target {
						t.Errorf("piece of %d tokens", EstimateTokens(c.Text))
					}
					if c.StartLine != 3 {
						t.Errorf("piece cites line %d, want 3", c.StartLine)
					}
				}
			}
			if parts < 2 {
				t.Errorf("long line cut into %d pieces", parts)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	for _, name := range []string{"manual.md", "notes.txt", "server.go", "guide.rst", "todo.org"} {
		data, err := os.ReadFile(filepath.Join("..", "extract", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data), 20, 5, name)
	}
	f.Add(prose(3, 40), 50, 10, "x.txt")
	f.Fuzz(func(t *testing.T, text string, target, overlap int, name string) {
		if target < 1 || target > 2000 || overlap < 0 || overlap > 2000 {
			return
		}
		d, err := extract.Extract(name, []byte(text))
		if err != nil {
			return
		}
		if d.SourceLines {
			if text, err = extract.Decode([]byte(text)); err != nil {
				t.Fatal(err)
			}
		}
		opt := Options{Target: target, Overlap: overlap}
		Check(t, d, text, SplitDoc(d, opt), opt)
	})
}

func BenchmarkSplit(b *testing.B) {
	text := prose(500, 12)
	d := extract.PlainText(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		SplitDoc(d, DefaultOptions)
	}
}

func BenchmarkSplitMarkdown(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "extract", "testdata", "manual.md"))
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat(string(data[strings.Index(string(data), "# Widget"):]), 200)
	d := extract.Markdown(text)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		SplitDoc(d, DefaultOptions)
	}
}

func TestOptionsCheck(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		opt Options
		ok  bool
	}{
		{DefaultOptions, true},
		{Options{Target: 100, Overlap: 50}, true},
		{Options{Target: 100, Overlap: 51}, false},
		{Options{Target: 500, Overlap: 600}, false},
		{Options{Target: 16}, true},
	} {
		if err := tt.opt.Check(); (err == nil) != tt.ok {
			t.Errorf("%+v: Check() = %v", tt.opt, err)
		}
	}
}

// TestCommonHeading: the one rule for the heading of chunks joined into
// one (small sections here, merged results in retrieve, a citation's
// chunks in rag show): the headings they share, whole, from the top.
func TestCommonHeading(t *testing.T) {
	t.Parallel()
	tests := []struct{ a, b, want string }{
		{"Install > Linux", "Install > Linux", "Install > Linux"},
		{"Install > Linux", "Install > macOS", "Install"},
		{"Install > Linux > apt", "Install > Linux", "Install > Linux"},
		{"Install", "Install > Linux", "Install"},
		{"Install", "Usage", ""},
		{"", "Install", ""},
		{"", "", ""},
		{"Install > Linux", "Install > Lin", "Install"}, // whole headings, not a prefix of one
		{"A > B > C", "A > X > C", "A"},                 // from the top: C is under another B
	}
	for _, tt := range tests {
		if got := CommonHeading(tt.a, tt.b); got != tt.want {
			t.Errorf("CommonHeading(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
		if got := CommonHeading(tt.b, tt.a); got != tt.want {
			t.Errorf("CommonHeading(%q, %q) = %q, want %q", tt.b, tt.a, got, tt.want)
		}
	}
}

// TestSharedLines: the one rule for the lines two neighbouring chunks
// both hold, which whoever joins them writes once.
func TestSharedLines(t *testing.T) {
	t.Parallel()
	lines := func(s string) []string { return strings.Split(s, "\n") }
	tests := []struct {
		name            string
		prev            string
		prevEnd         int
		next            string
		nextStart, want int
	}{
		{"overlap of two lines", "l1\nl2\nl3\nl4", 4, "l3\nl4\nl5", 3, 2},
		{"the longest run", "a\n}\n}", 3, "}\n}\nb", 2, 2},
		{"next inside prev", "l1\nl2\nl3", 3, "l2\nl3", 2, 2},
		{"same chunk", "l1\nl2", 2, "l1\nl2", 1, 2},
		{"overlapping lines, texts that differ", "l1\nl2", 2, "x2\nx3", 2, 0},
		{"touching: an equal line at the seam is two lines", "a\n}", 2, "}\nb", 3, 0},
		{"apart", "l1", 1, "l1", 5, 0},
		{"pieces of one long line", "aaaa", 7, "bbbb", 7, 0},
		{"a piece equal to the one before", "aaaa", 7, "aaaa", 7, 1},
		{"empty", "", 1, "", 1, 1},
	}
	for _, tt := range tests {
		if got := SharedLines(lines(tt.prev), tt.prevEnd, lines(tt.next), tt.nextStart); got != tt.want {
			t.Errorf("%s: SharedLines = %d, want %d", tt.name, got, tt.want)
		}
	}
}
