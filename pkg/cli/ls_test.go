package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kitchenHarness indexes the test documents as collection docs, open to
// the public, but for notes/cooking.md, moved to a folder of its own,
// notes, indexed as collection kitchen for user:bob alone.
func kitchenHarness(t *testing.T) (h *harness, notes string) {
	t.Helper()
	h = newHarness(t)
	notes = t.TempDir()
	if err := os.Rename(filepath.Join(h.docs, "notes", "cooking.md"), filepath.Join(notes, "cooking.md")); err != nil {
		t.Fatal(err)
	}
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, "--allow", "public", "-c", "docs", h.docs)
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, "--allow", "user:bob", "-c", "kitchen", notes)
	return h, notes
}

// TestLs lists what the index holds, by collection, as the asker sees it.
func TestLs(t *testing.T) {
	t.Parallel()
	h, notes := kitchenHarness(t)

	tests := []struct {
		name string
		tty  bool
		args []string
		want string // stdout
	}{
		{"piped", false, []string{"ls"}, "docs\tinstall.md\t1\ndocs\tretry.txt\t1\ndocs\tsrc/server.go\t1\n"},
		{"a folder", false, []string{"ls", "src"}, "docs\tsrc/server.go\t1\n"},
		{"a collection", false, []string{"ls", "-c", "docs", filepath.Join(h.docs, "retry.txt")}, "docs\tretry.txt\t1\n"},
		{"as bob", false, []string{"ls", "--as", "user:bob", "-c", "kitchen"}, "kitchen\tcooking.md\t1\n"},
		{"terminal", true, []string{"ls", "--as", "user:bob"}, "docs (3 files, 3 chunks)\n  1  install.md\n  1  retry.txt\n  1  src/server.go\nkitchen (1 file, 1 chunk)\n  1  cooking.md\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.with(t, nil)
			r := h.mustRun(runOpt{tty: tt.tty}, tt.args...)
			if r.stdout != tt.want {
				t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tt.want)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		h := h.with(t, nil)
		var rep lsReport
		r := h.mustRun(runOpt{}, "ls", "--json", "--as", "user:bob")
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Files) != 4 || len(rep.Collections) != 2 || rep.Collections[1].Name != "kitchen" || rep.Files[3].Root != notes {
			t.Errorf("ls --json: %+v", rep)
		}
	})
	t.Run("nothing the asker sees", func(t *testing.T) {
		h := h.with(t, nil)
		r := h.run(runOpt{}, "ls", "--as", "user:eve", "cooking.md")
		if r.code != ExitUsage || strings.Contains(r.stdout+r.stderr, "kitchen") {
			t.Errorf("exit %d, %s%s", r.code, r.stdout, r.stderr)
		}
	})
}
