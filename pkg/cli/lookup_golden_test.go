package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runsText is what each of runs printed (exit code, stdout, stderr), one
// after another under its command line, paths and times made stable: a
// golden file of several runs.
func runsText(t *testing.T, h *harness, runs [][]string, replace map[string]string) string {
	t.Helper()
	var b strings.Builder
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	size := regexp.MustCompile(`"(size_bytes|size)": \d+`)
	took := regexp.MustCompile(`rag: took .*`)
	for _, args := range runs {
		r := h.run(runOpt{}, args...)
		fmt.Fprintf(&b, "$ rag %s\nexit %d\n--- stdout\n%s--- stderr\n%s\n", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	out := b.String()
	for from, to := range replace {
		out = strings.ReplaceAll(out, from, to)
	}
	out = stamp.ReplaceAllString(out, "TIME")
	out = took.ReplaceAllString(out, "rag: took TIME")
	out = size.ReplaceAllString(out, `"$1": SIZE`)
	out = sizeRE.ReplaceAllString(out, "SIZE on disk")
	return timeRE.ReplaceAllString(out, "Last indexed: TIME")
}

// TestStatusViewGolden fixes what status says of a share of an index
// under access control, with a damaged file and skipped ones: as text
// (-v) and JSON, for the whole index and for one asker.
func TestStatusViewGolden(t *testing.T) {
	t.Parallel()
	h, notes := kitchenHarness(t)
	if err := os.Remove(h.objectOf("retry.txt")); err != nil {
		t.Fatal(err)
	}
	out := runsText(t, h, [][]string{
		{"status", "-v", "--all"},
		{"status", "-v", "--as", "user:bob"},
		{"status", "--as", "user:eve", "-c", "docs"},
		{"status", "--json", "--as", "user:bob", "-c", "kitchen"},
		{"status", "--verify", "--json"},
		{"status", "-c", "nope"},
	}, map[string]string{h.index: "INDEX", h.docs: "DOCS", notes: "NOTES", h.srv.URL: "OLLAMA"})
	golden(t, "status-view", out)
}

// TestShowGolden fixes what show prints of citations of every kind, and
// its errors, as text and JSON.
func TestShowGolden(t *testing.T) {
	t.Parallel()
	h, _ := showHarness(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "fm.md"), "---\ntitle: Owls\n---\n# Owls\n\nBarn owls nest in old barns.\n")
	write(t, filepath.Join(dir, "install.md"), "# Other install\n\nAnother install guide.\n")
	h.mustRun(runOpt{}, "index", dir)
	out := runsText(t, h, [][]string{
		{"show", "manual.pdf"},
		{"show", "--json", "report.docx ¶4-5 (Quarterly report > Regions)"},
		{"show", "lines.md:10-14"},
		{"show", "--json", "fm.md:1-2"},
		{"show", "retry.txt:100-120"},
		{"show", "manual.pdf:1-3"},
		{"show", "nope.md"},
		{"show", "install.md:1-3"},
		{"show", dir},
		{"get", "--as", "user:bob", "retry.txt"},
	}, map[string]string{h.index: "INDEX", h.docs: "DOCS", dir: "DIR"})
	golden(t, "show-more", out)
}

// TestRulesFileTooLarge: a rules file over access.MaxRulesSize gets the
// hint that says so. It got the hint of a bad line: the case looked for
// the model server's too-large reply, not a file's.
func TestRulesFileTooLarge(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	write(t, filepath.Join(h.docs, ".ragaccess"), strings.Repeat("# a comment line of a rules file\n", 40000))
	r := h.run(runOpt{}, "index", "--embed-model", embedModel, h.docs)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "rag: hint: a rules file is a few lines: rag reads one of at most 1 MiB; its folder was left as it was") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}
