package cli

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
)

func copyFixture(t testing.TB, name, to string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "extract", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBadInput indexes a folder of good files and every kind of bad one:
// each bad one is reported with its reason in the index report and in
// status, the run exits partial (3), and every good file is searchable.
func TestBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	for _, f := range []string{"manual.md", "manual.pdf", "report.docx", "page.html", "utf16.txt", "data.csv",
		"latin1.txt", "encrypted.pdf", "truncated.pdf", "zip-not-word.docx"} {
		copyFixture(t, f, filepath.Join(dir, f))
	}
	for name, text := range map[string]string{
		"name with spaces.md": "Spaces in names are fine: kestrels hover.\n",
		"new\nline.md":        "A newline in a name: ospreys dive.\n",
		"日本語 ñ.md":            "Non-ASCII names: herons wait.\n",
		"empty.md":            "",
		"blank.txt":           "\n  \n\t\n",
		"unreadable.md":       "secret\n",
	} {
		write(t, filepath.Join(dir, name), text)
	}
	if err := os.Chmod(filepath.Join(dir, "unreadable.md"), 0); err != nil {
		t.Fatal(err)
	}
	asRoot := os.Geteuid() == 0 // root reads it anyway: then it is just indexed
	huge, err := os.Create(filepath.Join(dir, "huge.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := errorsJoin(huge.Truncate(200<<20), huge.Close()); err != nil { // 200 MB, sparse
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}

	r := h.run(runOpt{}, "index", "--json", "--embed-model", embedModel, dir)
	wantFailed := 3
	if !asRoot {
		wantFailed++
	}
	if r.code != ExitPartial {
		t.Fatalf("exit %d, want %d (partial)\n%s", r.code, ExitPartial, r.stderr)
	}
	rep := indexJSON(t, r)
	reasons := map[string]string{}
	for _, s := range rep.SkippedFiles {
		reasons[filepath.Base(s.Path)] = "skipped: " + s.Reason
	}
	for _, f := range rep.FailedFiles {
		reasons[filepath.Base(f.Path)] = "failed: " + f.Error
	}
	for name, want := range map[string]string{
		"latin1.txt":        "skipped: not a text file: not UTF-8",
		"empty.md":          "skipped: empty",
		"blank.txt":         "skipped: empty",
		"huge.txt":          "skipped: larger than --max-size",
		"loop":              "skipped: symbolic link loop",
		"encrypted.pdf":     "failed: pdf: encrypted (password-protected) PDF",
		"truncated.pdf":     "failed: pdf: damaged",
		"zip-not-word.docx": "failed: docx: no readable word/document.xml, so not a Word document",
	} {
		if !strings.HasPrefix(reasons[name], want) {
			t.Errorf("%s: %q, want %q...", name, reasons[name], want)
		}
	}
	if !asRoot && !strings.HasPrefix(reasons["unreadable.md"], "failed: ") {
		t.Errorf("unreadable.md: %q", reasons["unreadable.md"])
	}
	if rep.Failed != wantFailed || !strings.Contains(r.stderr, "rag: warning: cannot index") {
		t.Errorf("failed %d, want %d; stderr %q", rep.Failed, wantFailed, r.stderr)
	}
	good := 9
	if asRoot {
		good++
	}
	if rep.TotalFiles != good {
		t.Errorf("%d files indexed, want %d", rep.TotalFiles, good)
	}

	// status lists the same problems.
	st := h.status()
	if len(st.Failed) != wantFailed || len(st.Skipped) != 5 {
		t.Errorf("status: failed %+v, skipped %+v", st.Failed, st.Skipped)
	}

	// Every good file answers, with a citation that leads to the place.
	for q, want := range map[string]string{
		"kestrels hover":                "name with spaces.md:1-1",
		"ospreys dive":                  `"new\nline.md":1-1`,
		"herons wait":                   "日本語 ñ.md:1-1",
		"capacitor stores a charge":     "manual.pdf p.1",
		"warranty two years purchase":   "manual.pdf p.3",
		"south region opened stores":    "report.docx ¶1-7 (Quarterly report)",
		"widget ships April early":      "page.html:12-25 (Widget news)",
		"Grace Hopper computer science": "data.csv:1-4",
		"dpkg install widget deb":       "manual.md:",
		"Unicode text café naïve":       "utf16.txt:1-2",
	} {
		r := h.mustRun(runOpt{}, "search", "-k", "1", q)
		if !strings.Contains(r.stdout, "1. "+want) {
			t.Errorf("search %q: %s", q, r.stdout)
		}
	}
	r = h.mustRun(runOpt{}, "search", "--json", "-k", "1", "warranty two years purchase")
	var res struct {
		Results []struct {
			Path    string
			Page    int
			Heading string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Results) != 1 || res.Results[0].Page != 3 {
		t.Errorf("search --json: %v %s", err, r.stdout)
	}
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// mixedCorpus writes n files of the formats rag reads, each distinct.
func mixedCorpus(t testing.TB, dir string, n int) (bytes int64) {
	t.Helper()
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%02d", i%20))
		var name string
		var data []byte
		topic := fmt.Sprintf("topic%d", i)
		para := strings.Repeat(fmt.Sprintf("The %s widget number %d handles case %d well. ", topic, i, i%13), 12)
		switch i % 8 {
		case 0, 1:
			name, data = "note.md", []byte(fmt.Sprintf("---\ntitle: Note %d\n---\n# Note %d\n\n%s\n\n## Details\n\n%s\n\n```go\nfmt.Println(%d)\n```\n", i, i, para, para, i))
		case 2:
			name, data = "text.txt", []byte(para+"\n\n"+para+"\n")
		case 3:
			name, data = "code.go", []byte(fmt.Sprintf("package p\n\n// F%d handles %s.\nfunc F%d() int {\n\treturn %d\n}\n\n// G%d is another.\nfunc G%d() {}\n", i, topic, i, i, i, i))
		case 4:
			name, data = "page.html", []byte(fmt.Sprintf("<html><body><nav>menu</nav><main><h1>Page %d</h1><p>%s</p><h2>More</h2><p>%s</p></main></body></html>", i, para, para))
		case 5:
			name, data = "table.csv", []byte(fmt.Sprintf("id,topic,text\n%d,%s,%s\n%d,%s,second row\n", i, topic, para, i+1, topic))
		case 6:
			name, data = "doc.docx", docx(t, fmt.Sprintf("Report %d", i), para, para)
		case 7:
			name, data = "paper.pdf", pdf(t, fmt.Sprintf("Paper %d", i), para[:80], para[80:160])
		}
		p := filepath.Join(sub, fmt.Sprintf("%04d-%s", i, name))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		bytes += int64(len(data))
	}
	return bytes
}

// docx writes a minimal Word document: a title heading and paragraphs.
func docx(t testing.TB, title string, paras ...string) []byte {
	t.Helper()
	var body strings.Builder
	fmt.Fprintf(&body, `<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>%s</w:t></w:r></w:p>`, title)
	for _, p := range paras {
		fmt.Fprintf(&body, `<w:p><w:r><w:t>%s</w:t></w:r></w:p>`, p)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range map[string]string{
		"[Content_Types].xml": `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"word/document.xml": `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			body.String() + `</w:body></w:document>`,
		"word/styles.xml": `<?xml version="1.0"?><w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:style w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>`,
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pdf writes a one-page PDF with a line of text each, in Helvetica.
func pdf(t testing.TB, lines ...string) []byte {
	t.Helper()
	var content strings.Builder
	content.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
	for _, l := range lines {
		fmt.Fprintf(&content, "(%s) Tj T*\n", strings.NewReplacer("(", `\(`, ")", `\)`, `\`, `\\`).Replace(l))
	}
	content.WriteString("ET")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func TestMixedCorpus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	mixedCorpus(t, dir, 40)
	rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json", "--embed-model", embedModel, dir))
	if rep.Indexed != 40 || rep.Failed != 0 || rep.Skipped != 0 {
		t.Fatalf("report %+v", rep)
	}
	for q, want := range map[string]string{"topic31 widget": "0031-paper.pdf p.1", "topic30 widget": "0030-doc.docx ¶1-3 (Report 30)"} {
		if r := h.mustRun(runOpt{}, "search", "-k", "1", q); !strings.Contains(r.stdout, want) {
			t.Errorf("search %q: %s", q, r.stdout)
		}
	}
}

// BenchmarkIndexMixed1000 is rag's own cost of indexing a mixed folder of
// 1,000 files (Markdown, text, Go, HTML, CSV, DOCX, PDF): the whole
// `rag index` command with the embedder replaced by the in-process fake.
func BenchmarkIndexMixed1000(b *testing.B) {
	dir := b.TempDir()
	size := mixedCorpus(b, dir, 1000)
	srv := ollamatest.Start(embedModel)
	defer srv.Close()
	b.SetBytes(size)
	var chunks int
	for b.Loop() {
		index := filepath.Join(b.TempDir(), "index")
		start := time.Now()
		benchIndex(b, srv, index, "--embed-model", embedModel, dir)
		b.ReportMetric(1000/time.Since(start).Seconds(), "files/s")
		chunks = srv.EmbeddedTexts()
	}
	b.ReportMetric(float64(chunks)/float64(b.N), "chunks/op")
}
