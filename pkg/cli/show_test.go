package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
)

// showHarness indexes the test documents with small chunks, so that a file
// has many overlapping ones, plus a PDF, a Word file, a file of short lines
// and one long line.
func showHarness(t *testing.T) (*harness, map[string]string) {
	t.Helper()
	h := newHarness(t)
	files := map[string]string{}
	var b strings.Builder
	// Paragraphs of two short lines: chunks of a few paragraphs, each
	// starting with the last line of the one before.
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&b, "Line %d names topic %d.\n", i, i)
		if i%2 == 0 {
			b.WriteString("\n")
		}
	}
	files["lines.md"] = b.String()
	b.Reset()
	for i := 1; i <= 120; i++ {
		fmt.Fprintf(&b, "Sentence %d of one long line goes on. ", i)
	}
	files["longline.txt"] = strings.TrimSpace(b.String()) + "\n"
	for name, text := range files {
		write(t, filepath.Join(h.docs, name), text)
	}
	copyFixture(t, "manual.pdf", filepath.Join(h.docs, "manual.pdf"))
	copyFixture(t, "report.docx", filepath.Join(h.docs, "report.docx"))
	r := h.run(runOpt{}, "index", "--embed-model", embedModel, "--chunk-tokens", "40", "--chunk-overlap", "15", h.docs)
	if r.code != 0 {
		t.Fatalf("index: exit %d: %s", r.code, r.stderr)
	}
	return h, files
}

// fileLines is lines from..to (1-based) of text.
func fileLines(text string, from, to int) string {
	ls := strings.Split(text, "\n")
	return strings.Join(ls[from-1:to], "\n")
}

func TestShow(t *testing.T) {
	t.Parallel()
	h, files := showHarness(t)
	tests := []struct {
		name   string
		args   []string
		header string
		text   string // the whole text, when set
		has    string // a part of the text, when set
	}{
		{"plain path", []string{"install.md"}, "install.md:1-8 (Installation)", strings.TrimSuffix(mustRead(t, filepath.Join(h.docs, "install.md")), "\n"), ""},
		{"line range", []string{"lines.md:10-20"}, "lines.md:10-20", fileLines(files["lines.md"], 10, 20), ""},
		{"one line", []string{"lines.md:22"}, "lines.md:22-22", "Line 15 names topic 15.", ""},
		{"citation pasted whole", []string{"install.md:1-8 (Installation)"}, "install.md:1-8 (Installation)", "", "brew install rag"},
		{"citation of a section", []string{"install.md:6-8 (Installation > macOS)"}, "install.md:6-8 (Installation > macOS)", "## macOS\n\nOn macOS, install rag with Homebrew: `brew install rag`.", ""},
		{"whole file, overlaps once", []string{"lines.md"}, "lines.md:1-89", strings.TrimSpace(files["lines.md"]), ""},
		{"long line put together", []string{"longline.txt"}, "longline.txt:1-1", strings.TrimSuffix(files["longline.txt"], "\n"), ""},
		{"pdf page", []string{"manual.pdf p.3"}, "manual.pdf p.3", "", "warranty lasts two years"},
		{"pdf page unquoted", []string{"manual.pdf", "p.3"}, "manual.pdf p.3", "", "warranty lasts two years"},
		{"docx paragraphs", []string{"report.docx ¶4-5 (Quarterly report > Regions)"}, "report.docx ¶4-5 (Quarterly report > Regions)",
			"The north region sold the most widgets.\nThe south region opened two stores.", ""},
		{"absolute path", []string{filepath.Join(h.docs, "retry.txt")}, "retry.txt:1-4", "", "three times"},
		{"absolute path and lines", []string{filepath.Join(h.docs, "lines.md") + ":3-4"}, "lines.md:3-4", fileLines(files["lines.md"], 3, 4), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := h.run(runOpt{}, append([]string{"show"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			head, text, _ := strings.Cut(r.stdout, "\n")
			text = strings.TrimSuffix(text, "\n")
			if head != tt.header {
				t.Errorf("header = %q, want %q", head, tt.header)
			}
			if tt.text != "" && text != tt.text {
				t.Errorf("text:\n%s\nwant:\n%s", text, tt.text)
			}
			if !strings.Contains(text, tt.has) {
				t.Errorf("text lacks %q:\n%s", tt.has, text)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q", r.stderr)
			}
		})
	}
	t.Run("a page a section", func(t *testing.T) {
		t.Parallel()
		r := h.run(runOpt{}, "show", "manual.pdf")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "manual.pdf p.1\n") || !strings.Contains(r.stdout, "\n\nmanual.pdf p.3\n") {
			t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
		}
	})
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestShowErrors(t *testing.T) {
	t.Parallel()
	h, _ := showHarness(t)
	other := t.TempDir()
	write(t, filepath.Join(other, "install.md"), "# Other install\n\nAnother install guide.\n")
	if r := h.run(runOpt{}, "index", other); r.code != 0 {
		t.Fatalf("index: exit %d: %s", r.code, r.stderr)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		err  string
		hint string
	}{
		{"not in the index", nil, []string{"nope.md:1-3"}, ExitUsage, "nope.md is not in the index", "rag index nope.md"},
		{"lines outside", nil, []string{"retry.txt:100-120"}, ExitUsage, "lines 100-120 of retry.txt are outside what the index holds (lines 1-4)", "rag show retry.txt"},
		{"page outside", nil, []string{"manual.pdf p.9"}, ExitUsage, "no text of page 9 of manual.pdf (it holds pages 1-3)", "rag show manual.pdf"},
		{"lines of a paged file", nil, []string{"manual.pdf:1-3"}, ExitUsage, "manual.pdf has pages", "'manual.pdf p.1'"},
		{"same path under two folders", nil, []string{"install.md:1-3"}, ExitUsage,
			"install.md is in the index under 2 folders: " + filepath.Join(h.docs, "install.md") + ", " + filepath.Join(other, "install.md"), "absolute path"},
		{"a folder", nil, []string{h.docs}, ExitUsage, "is a folder", "name a file in it"},
		{"no index", map[string]string{"RAG_INDEX": filepath.Join(t.TempDir(), "none")}, []string{"install.md"}, ExitIndex, "no index at", "rag index DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h2 := h.with(t, tt.env)
			r := h2.run(runOpt{}, append([]string{"show"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "rag: error: "+tt.err) && !(strings.HasPrefix(r.stderr, "rag: error: ") && strings.Contains(r.stderr, tt.err)) {
				t.Errorf("stderr = %q, want the error %q", r.stderr, tt.err)
			}
			if hint := hintLine(r.stderr); !strings.Contains(hint, tt.hint) {
				t.Errorf("hint = %q, want it to contain %q", hint, tt.hint)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q", r.stdout)
			}
		})
	}
}

func TestShowOutput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	// Show reads the index only: no Ollama is needed.
	down := ollamatest.Start()
	down.Close()
	h.env["OLLAMA_HOST"] = down.URL

	t.Run("piped", func(t *testing.T) {
		r := h.run(runOpt{}, "show", "install.md")
		if r.code != 0 || strings.Contains(r.stdout, "\x1b[") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		golden(t, "show-plain", r.stdout)
	})
	t.Run("terminal", func(t *testing.T) {
		r := h.run(runOpt{tty: true}, "show", "install.md")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "\x1b[1minstall.md:1-8 (Installation)\x1b[0m\n# Installation\n") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := h.run(runOpt{}, "show", "--json", "retry.txt:1-4")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep showReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		want := showReport{Path: "retry.txt", Root: h.docs, File: filepath.Join(h.docs, "retry.txt"), Format: rep.Format, OnDisk: "unchanged",
			Sections: []showSection{{StartLine: 1, EndLine: 4, Text: strings.TrimSuffix(mustRead(t, filepath.Join(h.docs, "retry.txt")), "\n")}}}
		if !reflect.DeepEqual(rep, want) {
			t.Errorf("report = %+v\nwant %+v", rep, want)
		}
	})
	t.Run("changed on disk", func(t *testing.T) {
		write(t, filepath.Join(h.docs, "retry.txt"), "Retry policy\n\nNo retries any more.\n")
		r := h.run(runOpt{}, "show", "--json", "retry.txt")
		if r.code != 0 || !strings.Contains(r.stdout, `"on_disk": "changed"`) || !strings.Contains(r.stdout, "three times") {
			t.Fatalf("exit %d, stdout %s", r.code, r.stdout)
		}
		if !strings.Contains(r.stderr, "rag: note: retry.txt changed since it was indexed") {
			t.Errorf("stderr = %q", r.stderr)
		}
	})
}

// TestShowBetweenChunks: lines no chunk holds (front matter, blank lines,
// markup between two chunks, after the last) show the nearest indexed
// lines, with a note that says exactly why the lines asked for are not
// indexed; lines past the file's end are an error that says where it ends.
func TestShowBetweenChunks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "fm.md"), "---\ntitle: Owls\n---\n# Owls\n\nBarn owls nest in old barns.\n")
	write(t, filepath.Join(dir, "gaps.md"), "# A\n\ntext a\n\n\n# B\n\ntext b\n")
	page := "<html><body>\n<h1>Owls</h1>\n<p>Barn owls nest in old barns.</p>\n<div class=\"ad\">\n</div>\n<h1>Bats</h1>\n<p>Bats sleep by day.</p>\n</body></html>\n"
	write(t, filepath.Join(dir, "page.html"), page)
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, dir)

	tests := []struct {
		target, header, note, markup string
	}{
		{"fm.md:1-3", "fm.md:4-6 (Owls)", "lines 1-3 of fm.md are front matter, not indexed; the first indexed lines are 4-6, shown instead", ""},
		{"gaps.md:4-5", "gaps.md:6-8 (B)", "lines 4-5 of gaps.md are blank; the nearest indexed lines are 6-8, shown instead", ""},
		{"page.html:4", "page.html:2-3 (Owls)", "line 4 of page.html holds markup only, no text; the nearest indexed lines are 2-3, shown instead", `<div class="ad">`},
		{"page.html:5", "page.html:6-7 (Bats)", "line 5 of page.html holds markup only, no text; the nearest indexed lines are 6-7, shown instead", "</div>"},
		{"page.html:8", "page.html:6-7 (Bats)", "line 8 of page.html holds markup only, no text; the nearest indexed lines are 6-7, shown instead", "</body></html>"},
		{"page.html:1", "page.html:2-3 (Owls)", "line 1 of page.html holds markup only, no text; the first indexed lines are 2-3, shown instead", "<html><body>"},
	}
	for _, tt := range tests {
		r := h.run(runOpt{}, "show", tt.target)
		if r.code != 0 {
			t.Errorf("show %s: exit %d: %s", tt.target, r.code, r.stderr)
			continue
		}
		if head, _, _ := strings.Cut(r.stdout, "\n"); head != tt.header {
			t.Errorf("show %s: header %q, want %q", tt.target, head, tt.header)
		}
		want := "rag: note: " + tt.note + "\n"
		if tt.markup != "" {
			want += "rag: note: the file holds there: " + fmt.Sprintf("%q", tt.markup) + "\n"
		}
		if r.stderr != want {
			t.Errorf("show %s: stderr\n%s\nwant\n%s", tt.target, r.stderr, want)
		}
		r = h.mustRun(runOpt{}, "show", "--json", tt.target)
		var rep showReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Note != tt.note || rep.Markup != tt.markup || len(rep.Sections) != 1 {
			t.Errorf("show --json %s: %v %+v", tt.target, err, rep)
		}
	}

	r := h.run(runOpt{}, "show", "page.html:9-10")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "lines 9-10 of page.html are outside what the index holds (lines 2-7): the file has 8 lines") {
		t.Errorf("past the end: exit %d, stderr %q", r.code, r.stderr)
	}
	write(t, filepath.Join(dir, "page.html"), strings.Replace(page, "ad", "banner", 1))
	r = h.run(runOpt{}, "show", "page.html:4")
	if r.code != 0 || !strings.Contains(r.stderr, "rag: note: line 4 of page.html holds no indexed text, and the file changed since it was indexed; the nearest indexed lines are 2-3, shown instead\n") {
		t.Errorf("changed file: exit %d, stderr %q", r.code, r.stderr)
	}
}
