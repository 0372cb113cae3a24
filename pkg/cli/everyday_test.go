package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEverydayFiles indexes what a JavaScript repository and Debian's
// documentation folder hold: JSON with comments, JSON lines named .json, a
// .json that is not JSON, gzipped text and an HTML page in ISO-8859-1.
// Nothing fails (exit 0), every file is searchable, and citations name the
// .gz file; a gzip bomb is skipped at --max-size.
func TestEverydayFiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	copyFixture(t, "tsconfig.json", filepath.Join(dir, "tsconfig.json"))
	copyFixture(t, "latin1.html", filepath.Join(dir, "latin1.html"))
	write(t, filepath.Join(dir, ".vscode", "settings.json"), "{\n  // tabs\n  \"editor.insertSpaces\": false, /* kestrel */\n}\n")
	write(t, filepath.Join(dir, "events.json"), "{\"event\": \"osprey sighted\"}\n{\"event\": \"heron nested\"}\n")
	write(t, filepath.Join(dir, "notes.json"), "TODO: the pelican schema\n{ not json\n")
	files := map[string][]byte{
		"changelog.Debian.gz": gzipped(t, "widget (1.0-1) unstable; urgency=low\n\n  * Initial release, closes the cormorant bug.\n"),
		"README.md.gz":        gzipped(t, "# Widget\n\nThe widget counts flamingos.\n"),
		"bomb.txt.gz":         gzipped(t, strings.Repeat("a", 300000)),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := h.run(runOpt{}, "index", "--json", "--hidden", "--max-size", "200000", "--embed-model", embedModel, dir)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep := indexJSON(t, r)
	if rep.Failed != 0 || rep.TotalFiles != 7 || len(rep.SkippedFiles) != 1 ||
		filepath.Base(rep.SkippedFiles[0].Path) != "bomb.txt.gz" || !strings.HasPrefix(rep.SkippedFiles[0].Reason, "larger than --max-size when uncompressed") {
		t.Errorf("report %+v", rep)
	}
	for q, want := range map[string]string{
		"strict ES2022 compilerOptions": "tsconfig.json:3-13",
		"insertSpaces kestrel":          ".vscode/settings.json:3-3",
		"heron nested":                  "events.json:1-2",
		"pelican schema":                "notes.json:1-2",
		"cormorant bug release":         "changelog.Debian.gz:1-3",
		"widget counts flamingos":       "README.md.gz:1-3 (Widget)",
		"naïve garçon café":             "latin1.html:8-9 (Café crème)",
	} {
		r := h.mustRun(runOpt{}, "search", "-k", "1", q)
		if !strings.Contains(r.stdout, "1. "+want) {
			t.Errorf("search %q: %s", q, r.stdout)
		}
	}
	r = h.mustRun(runOpt{}, "show", "README.md.gz:3")
	if !strings.Contains(r.stdout, "The widget counts flamingos.") {
		t.Errorf("show README.md.gz:3: %s", r.stdout)
	}
}

// TestStatusGroupsSkipped: status counts skipped files by reason, lists
// them with -v, and --json has every one beside the counts.
func TestStatusGroupsSkipped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ok.md"), "# Fine\n\nA file rag reads.\n")
	for i, name := range []string{"a.bin", "b.bin", "c.bin"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte{'x', 0, byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, ".hidden.md"), "hidden\n")
	write(t, filepath.Join(dir, "big1.txt"), strings.Repeat("big ", 300))
	write(t, filepath.Join(dir, "big2.txt"), strings.Repeat("big ", 400))
	h.mustRun(runOpt{}, "index", "--max-size", "1000", "--embed-model", embedModel, dir)

	r := h.mustRun(runOpt{}, "status")
	want := "Skipped:      6 (rag status -v lists them)\n" +
		"  3  not a text file: binary content\n" +
		"  2  larger than --max-size\n" +
		"  1  hidden\n"
	if !strings.HasSuffix(r.stdout, want) {
		t.Errorf("status ends\n%s\nwant\n%s", r.stdout, want)
	}
	if strings.Contains(r.stdout, "a.bin") {
		t.Errorf("status lists the files without -v:\n%s", r.stdout)
	}
	r = h.mustRun(runOpt{}, "status", "-v")
	for _, f := range []string{"a.bin", "b.bin", "c.bin", ".hidden.md", "big1.txt", "big2.txt"} {
		if !strings.Contains(r.stdout, filepath.Join(dir, f)+": ") {
			t.Errorf("status -v does not list %s:\n%s", f, r.stdout)
		}
	}
	if i, j := strings.Index(r.stdout, "c.bin"), strings.Index(r.stdout, "  2  larger"); i < 0 || j < 0 || i > j {
		t.Errorf("status -v does not list each file under its reason:\n%s", r.stdout)
	}

	r = h.mustRun(runOpt{}, "status", "--json")
	var rep struct {
		Skipped         []statusProblem `json:"skipped"`
		SkippedByReason []reasonCount   `json:"skipped_by_reason"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	wantGroups := []reasonCount{{Reason: "not a text file: binary content", Count: 3}, {Reason: "larger than --max-size", Count: 2}, {Reason: "hidden", Count: 1}}
	if len(rep.Skipped) != 6 || !equalGroups(rep.SkippedByReason, wantGroups) {
		t.Errorf("status --json: skipped %+v, by reason %+v", rep.Skipped, rep.SkippedByReason)
	}
}

func equalGroups(a, b []reasonCount) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestChunkOverlapChecked: an overlap the chunker would not honour (more
// than half the chunk size, as the flags and the index make it) is a usage
// error with a hint, before anything is embedded.
func TestChunkOverlapChecked(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
		hint    string
	}{
		{"overlap of the whole chunk", []string{"--chunk-tokens", "100", "--chunk-overlap", "100"}, ExitUsage,
			"--chunk-overlap 100 is more than half the chunk size (--chunk-tokens 100)", "give --chunk-overlap 50 or less"},
		{"overlap larger than the default chunk", []string{"--chunk-overlap", "600"}, ExitUsage,
			"--chunk-overlap 600 is more than half the chunk size (500 tokens, the default; --chunk-tokens changes it)", "give --chunk-overlap 250 or less (the default is 15% of the chunk size: 75)"},
		{"half is fine", []string{"--chunk-tokens", "40", "--chunk-overlap", "20"}, 0, "", ""},
		{"more than half of the index's", []string{"--chunk-overlap", "21"}, ExitUsage,
			"--chunk-overlap 21 is more than half the chunk size (40 tokens, the index's", "give --chunk-overlap 20 or less"},
	}
	for _, tt := range tests {
		before := h.srv.EmbedRequests()
		r := h.run(runOpt{}, append(append([]string{"index", "--embed-model", embedModel}, tt.args...), h.docs)...)
		if r.code != tt.code {
			t.Fatalf("%s: exit %d, want %d\n%s", tt.name, r.code, tt.code, r.stderr)
		}
		if tt.code == 0 {
			continue
		}
		if !strings.Contains(r.stderr, "rag: error: "+tt.message) || !strings.Contains(r.stderr, "rag: hint: "+tt.hint) {
			t.Errorf("%s: stderr %q", tt.name, r.stderr)
		}
		if h.srv.EmbedRequests() != before {
			t.Errorf("%s: embedded before refusing", tt.name)
		}
	}
}
