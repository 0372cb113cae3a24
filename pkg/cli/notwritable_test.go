package cli

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImmutableIndex: an index folder that cannot be written exits 7
// with the hint, as documented, wherever the write fails: in an immutable
// folder (chattr +i, which binds root too) the lock file is written but
// the catalog is not, and that was exit 1. (The store's TestNotWritable
// injects the error where chattr is not available.)
func TestImmutableIndex(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	if out, err := exec.Command("chattr", "+i", h.index).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", h.index).CombinedOutput(); err != nil {
			t.Errorf("chattr -i: %v %s", err, out)
		}
	})
	write(t, filepath.Join(h.docs, "new.md"), "# Kettles\n\nA kettle boils water.\n")
	for _, args := range [][]string{{"index"}, {"index", "--rebuild"}} {
		r := h.run(runOpt{}, args...)
		if r.code != ExitIndex || !strings.Contains(r.stderr, "cannot write to the index folder "+h.index+": ") ||
			!strings.Contains(r.stderr, "rag: hint: rag index must write to the index folder") {
			t.Errorf("rag %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := h.mustRun(runOpt{}, "search", "--mode", "lexical", "retries"); !strings.Contains(r.stdout, "retry.txt") {
		t.Errorf("search of the immutable index: %s", r.stdout)
	}
}
