package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/ollama"
)

// A folder with a chunk longer than the embedding model's context (cut to
// fit) and a file whose heading alone is (it cannot be): the run goes on,
// exits 3 naming the file with a hint, keeps every other file for status
// and the next run, which embeds none of them again.
func TestIndexChunkTooLongForModel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	docs := t.TempDir()
	var long strings.Builder
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&long, "Line %d tells of river%d and the mill by the old stone bridge.\n", i, i)
	}
	files := map[string]string{
		"a.md":       "# Short\n\nA short note fits.\n",
		"b.md":       "# Also short\n\nAnother note that fits.\n",
		"long.txt":   long.String(),
		"heading.md": "# " + strings.Repeat("heading ", 80) + "\n\nThe body is short.\n",
		"z.md":       "# Last\n\nThe last file, read after the one that fails.\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.srv.LimitEmbedInput(60)
	r := h.run(runOpt{}, "index", "--json", "--embed-model", embedModel, "--chunk-tokens", "120", "--batch-size", "2", docs)
	failed := filepath.Join(docs, "heading.md")
	if r.code != ExitPartial {
		t.Fatalf("exit %d, want %d (partial)\n%s", r.code, ExitPartial, r.stderr)
	}
	for _, want := range []string{
		"rag: warning: cannot index " + failed + ": the heading of lines 1-3 is too long for the context of 60 tokens of " + embedModel,
		"rag: error: 1 of 5 files could not be indexed",
		"rag: hint: " + failed + " holds text too long for the embedding model even cut in pieces (the other files were indexed): lower --chunk-tokens",
		"longer than the context of " + embedModel + " (60 tokens), and cut into pieces that fit; --chunk-tokens ",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "failed 3 times") {
		t.Errorf("a refused request was retried:\n%s", r.stderr)
	}
	rep := indexJSON(t, r)
	if rep.New != 4 || rep.Failed != 1 || rep.ChunksCut == 0 || len(rep.FailedFiles) != 1 || rep.FailedFiles[0].Path != failed {
		t.Errorf("report: %+v", rep)
	}
	st := h.status()
	if st.Files != 4 || len(st.Failed) != 1 || st.Failed[0].Path != failed {
		t.Errorf("status: %d files, failed %+v; want the 4 others kept and %s failed", st.Files, st.Failed, failed)
	}

	// Again: the kept files are unchanged and nothing of them is embedded
	// again; the file that cannot fit fails the same way, named.
	before := h.srv.EmbeddedTexts()
	again := h.run(runOpt{}, "index", "--json", docs)
	rep = indexJSON(t, again)
	if again.code != ExitPartial || rep.Unchanged != 4 || rep.New != 0 || rep.ChunksEmbedded != 0 || rep.Failed != 1 {
		t.Errorf("again: exit %d, %+v\n%s", again.code, rep, again.stderr)
	}
	// Only heading.md's one chunk was sent (and refused): its neighbours
	// in no batch.
	if n := h.srv.EmbeddedTexts() - before; n != 0 {
		t.Errorf("again: %d texts embedded, want none", n)
	}
}

// Ollama failing for good in the middle of a file: exit 5, and the
// batches of it that came back are kept, shown by status, and not
// embedded again by the next run.
func TestIndexKeepsBatchesWhenOllamaStops(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	docs := t.TempDir()
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "Paragraph %d of the river, the mill and the old stone bridge.\n\n", i+1)
	}
	big := filepath.Join(docs, "big.txt")
	if err := os.WriteFile(big, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	h.srv.FailEmbedsFrom(4, ollamatest.Status500) // HTTP 500 from the fourth request on
	r := h.run(runOpt{}, "index", "--embed-model", embedModel, "--chunk-tokens", "16", "--batch-size", "2", "--parallel", "1", "--timeout", "1s", docs)
	if r.code != ExitOllama || !strings.Contains(r.stderr, "failed 3 times") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	st := h.status()
	if st.Files != 1 || st.Chunks != 6 || len(st.Failed) != 1 || st.Failed[0].Path != big || !strings.HasPrefix(st.Failed[0].Reason, "partly indexed: 6 of ") {
		t.Fatalf("status: %d files, %d chunks, failed %+v; want big.txt with the 6 chunks of 3 batches", st.Files, st.Chunks, st.Failed)
	}
	if s := h.mustRun(runOpt{}, "search", "--mode", "lexical", "--json", "river mill"); !strings.Contains(s.stdout, "big.txt") {
		t.Errorf("the kept chunks are not searchable: %s", s.stdout)
	}
	h.srv.FailEmbedsFrom(0, ollamatest.Status500)
	before := h.srv.EmbeddedTexts()
	rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json", docs))
	if st := h.status(); rep.ChunksEmbedded != rep.ChunksWritten-6 || h.srv.EmbeddedTexts()-before != rep.ChunksWritten-6 || len(st.Failed) != 0 || st.Chunks != rep.ChunksWritten {
		t.Errorf("resumed: %+v, %d texts embedded; status %+v", rep, h.srv.EmbeddedTexts()-before, st)
	}
}

// A request Ollama refuses for good is Ollama's failure (exit 5) with a
// hint, whether it was an embedding or a search's query, never retried.
func TestRefusedRequestExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		wantHint string
	}{
		{"unauthorized", &ollama.StatusError{StatusCode: 401, Err: errors.New("unauthorized")}, "asks for authorization"},
		{"bad request", &ollama.StatusError{StatusCode: 400, Err: errors.New("invalid input type")}, "Ollama refused the request (HTTP 400)"},
		{"a query refused", &embed.RefusedError{Errs: []error{&ollama.StatusError{StatusCode: 400, Err: errors.New("invalid input type")}}, Vectors: make([][]float32, 1)}, "Ollama refused the request (HTTP 400)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, hint := classify(tt.err)
			if code != ExitOllama || !strings.Contains(hint, tt.wantHint) {
				t.Errorf("exit %d, hint %q", code, hint)
			}
		})
	}
	// A server error may pass: not this case (rag index retries it).
	if code, _ := classify(&ollama.StatusError{StatusCode: 500, Err: errors.New("boom")}); code == ExitOllama {
		t.Errorf("a 500 alone is exit %d", code)
	}
}
