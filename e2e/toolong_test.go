//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChunksLongerThanContext indexes, with the tiny model (num_ctx 512),
// chunks longer than its context: a file of long prose, cut to fit and
// cited by its own lines, and a file whose heading alone does not fit,
// which fails by name while the run goes on (exit 3, not 5), the other
// files kept for status and for the next run.
func TestChunksLongerThanContext(t *testing.T) {
	e := setup(t)
	docs := t.TempDir()
	var long strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&long, "Line %d: the miller walked along the river to the old stone bridge, where the children fed the ducks.\n", i)
	}
	files := map[string]string{
		"long.txt":   long.String(),
		"heading.md": "# " + strings.Repeat("A heading that goes on and on ", 60) + "\n\nThe body is short.\n",
		"cat.txt":    "Once upon a time a cat named Tom lived in a small house.\n",
		"school.md":  "# School\n\nLily goes to school by bus. Her teacher reads stories.\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type report struct {
		New            int `json:"new"`
		Unchanged      int `json:"unchanged"`
		Failed         int `json:"failed"`
		ChunksEmbedded int `json:"chunks_embedded"`
		ChunksCut      int `json:"chunks_cut"`
		FailedFiles    []struct {
			Path  string `json:"path"`
			Error string `json:"error"`
		} `json:"failed_files"`
	}
	failed := filepath.Join(docs, "heading.md")
	index := func(t *testing.T, args ...string) (report, out) {
		t.Helper()
		r := e.run(t, "", nil, append([]string{"index", "--json"}, args...)...)
		var rep report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("exit %d, stdout is not a report: %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
		}
		t.Logf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		if r.code != 3 || strings.Contains(r.stderr, "failed 3 times") {
			t.Fatalf("exit %d, want 3 (partial): %s", r.code, r.stderr)
		}
		if rep.Failed != 1 || len(rep.FailedFiles) != 1 || rep.FailedFiles[0].Path != failed || !strings.Contains(rep.FailedFiles[0].Error, "too long for the context") {
			t.Fatalf("failed files: %+v", rep.FailedFiles)
		}
		if !strings.Contains(r.stderr, "rag: warning: cannot index "+failed+": ") || !strings.Contains(r.stderr, "rag: hint: "+failed+" holds text too long") || !strings.Contains(r.stderr, "--chunk-tokens") {
			t.Fatalf("the file and the hint are not named: %s", r.stderr)
		}
		return rep, r
	}

	t.Run("the run goes on", func(t *testing.T) {
		rep, r := index(t, "--embed-model", e.model, docs)
		if rep.New != 3 || rep.ChunksCut == 0 {
			t.Fatalf("report: %+v", rep)
		}
		if !strings.Contains(r.stderr, "cut into pieces that fit; --chunk-tokens ") {
			t.Errorf("no warning about the chunks cut: %s", r.stderr)
		}
	})
	t.Run("status shows the kept files", func(t *testing.T) {
		r := e.run(t, "", nil, "status", "--json")
		var st struct {
			Files  int `json:"files"`
			Failed []struct {
				Path string `json:"path"`
			} `json:"failed"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || st.Files != 3 || len(st.Failed) != 1 || st.Failed[0].Path != failed {
			t.Fatalf("status: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
	})
	t.Run("the pieces cite their own lines", func(t *testing.T) {
		r := e.run(t, "", nil, "search", "--json", "--mode", "lexical", "-k", "20", "miller river bridge ducks")
		var res struct {
			Results []struct {
				Path      string `json:"path"`
				StartLine int    `json:"start_line"`
				EndLine   int    `json:"end_line"`
				Text      string `json:"text"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); r.code != 0 || err != nil || len(res.Results) < 2 {
			t.Fatalf("search: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		lines := strings.Split(strings.TrimSuffix(long.String(), "\n"), "\n")
		for _, h := range res.Results {
			if !strings.HasSuffix(h.Path, "long.txt") {
				continue
			}
			want := strings.Join(lines[h.StartLine-1:h.EndLine], "\n")
			if strings.TrimSpace(h.Text) != strings.TrimSpace(want) {
				t.Errorf("lines %d-%d: text %q, the file's %q", h.StartLine, h.EndLine, h.Text, want)
			}
		}
	})
	t.Run("the next run keeps them and fails the same file only", func(t *testing.T) {
		rep, _ := index(t, docs)
		if rep.Unchanged != 3 || rep.New != 0 || rep.ChunksEmbedded != 0 {
			t.Fatalf("again: %+v", rep)
		}
	})
}
