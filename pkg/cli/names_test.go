package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestNameNotUTF8: a file whose name is not UTF-8 is indexed under its
// escape (caf\xe9.md as caf%E9.md), cited so, and shown by either name;
// before, every run failed on it (exit 3). A single file of such a name
// is a source like any other, and --remove takes its name on disk.
func TestNameNotUTF8(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("the file system keeps names in UTF-8")
	}
	h := newHarness(t)
	raw := filepath.Join(h.docs, "caf\xe9.md")
	write(t, raw, "# Cafe\n\nThe espresso machine is descaled monthly.\n")
	r := h.mustRun(runOpt{}, "index", "--json", "--embed-model", embedModel, h.docs)
	if rep := indexJSON(t, r); rep.Failed != 0 || rep.New != 5 {
		t.Fatalf("index: %+v\n%s", rep, r.stderr)
	}
	if rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json")); rep.Unchanged != 5 || rep.Indexed != 0 {
		t.Errorf("again: %+v", rep)
	}
	s := decodeSearch(t, h.run(runOpt{}, "search", "--json", "--mode", "lexical", "espresso descaled"))
	if len(s.Results) == 0 || s.Results[0].Path != "caf%E9.md" {
		t.Fatalf("search: %+v", s.Results)
	}
	if r := h.mustRun(runOpt{}, "search", "--files", "--mode", "lexical", "-k", "1", "espresso descaled"); r.stdout != raw+"\n" {
		t.Errorf("--files prints %q, want the name on disk", r.stdout)
	}
	h.srv.SetResponder(func(_, _ string) string { return "It is descaled monthly [1]." })
	if r := h.mustRun(runOpt{}, "ask", "--model", chatModel, "--mode", "lexical", "When is the espresso machine descaled?"); !strings.Contains(r.stdout, "[1] caf%E9.md:1-3") {
		t.Errorf("ask: %s", r.stdout)
	}
	for _, name := range []string{"caf%E9.md:3", raw, "caf\xe9.md"} {
		r := h.run(runOpt{}, "show", name)
		if r.code != 0 || !strings.Contains(r.stdout, "descaled monthly") || r.stderr != "" {
			t.Errorf("show %q: exit %d: %s%s", name, r.code, r.stdout, r.stderr)
		}
	}

	// A single file of such a name, and removing it by its name on disk.
	one := filepath.Join(t.TempDir(), "r\xe9sum\xe9.txt")
	write(t, one, "Kettle descaling happens every spring.\n")
	h.mustRun(runOpt{}, "index", one)
	st := h.status()
	if !slices.ContainsFunc(st.Sources, func(s statusSource) bool { return s.Collection == "r%E9sum%E9.txt" }) || len(st.Failed) != 0 {
		t.Errorf("status: %+v", st)
	}
	if s := decodeSearch(t, h.run(runOpt{}, "search", "--json", "--mode", "lexical", "-c", "r%E9sum%E9.txt", "kettle spring")); len(s.Results) != 1 || s.Results[0].Path != "r%E9sum%E9.txt" {
		t.Errorf("the file's collection: %+v", s.Results)
	}
	h.mustRun(runOpt{}, "index", "--remove", raw)
	if r := h.run(runOpt{}, "show", "caf%E9.md"); r.code != ExitUsage {
		t.Errorf("after --remove: exit %d", r.code)
	}
	if err := os.Remove(one); err != nil {
		t.Fatal(err)
	}
	if rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json")); rep.Removed != 1 || rep.Failed != 0 {
		t.Errorf("the single file deleted: %+v", rep)
	}
}
