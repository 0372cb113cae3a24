package indexer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/store"
)

// longLines is a text file of n numbered lines of prose.
func longLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "Line %d tells of river%d and the mill by the old stone bridge.\n", i, i)
	}
	return b.String()
}

// A model whose context is shorter than rag's chunks: a chunk it refuses
// as too long is cut into pieces it takes, each citing its own lines; a
// file whose heading alone is too long fails, and the run goes on.
func TestRunCutsChunksToFit(t *testing.T) {
	t.Parallel()
	srv := ollamatest.New(t, "m")
	srv.LimitEmbedInput(60) // about 180 bytes
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	emb := &embed.Model{Client: ollama.New(u, srv.Client()), Name: "m", Whole: true, Backoff: time.Millisecond}
	long := longLines(12)
	fsys := fstest.MapFS{
		"a.md":       {Data: []byte("# Short\n\nA short note fits.\n")},
		"long.txt":   {Data: []byte(long)},
		"heading.md": {Data: []byte("# " + strings.Repeat("heading ", 80) + "\n\nThe body is short.\n")},
		"z.md":       {Data: []byte("# Last\n\nThe last file, read after the one that fails.\n")},
	}
	s := open(t)
	sum, err := Run(context.Background(), s, emb, Options{Root: "/r", FS: fsys, Model: "m", BatchSize: 4, Chunk: chunk.Options{Target: 120, Overlap: 10}})
	if err != nil {
		t.Fatalf("run stopped: %v", err)
	}
	if len(sum.Failed) != 1 || sum.Failed[0].Path != "heading.md" {
		t.Fatalf("failed = %+v, want heading.md", sum.Failed)
	}
	var tooLong *TooLongError
	if !errors.As(sum.Failed[0].Err, &tooLong) || !tooLong.Heading || tooLong.Context != 60 || !strings.Contains(sum.Failed[0].Error, "too long for the context of 60 tokens of m") {
		t.Errorf("failure = %q (%#v)", sum.Failed[0].Error, sum.Failed[0].Err)
	}
	if sum.Cut == 0 || sum.FitTokens == 0 || sum.ContextLength != 60 {
		t.Errorf("summary: %d cut, fit %d tokens, context %d", sum.Cut, sum.FitTokens, sum.ContextLength)
	}
	var paths []string
	for _, f := range s.Manifest().Files {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, " ") != "a.md long.txt z.md" {
		t.Fatalf("index holds %v", paths)
	}
	// Every line of long.txt is embedded, in pieces that fit and cite
	// exactly their own lines.
	var f store.FileEntry
	for _, e := range s.Manifest().Files {
		if e.Path == "long.txt" {
			f = e
		}
	}
	chunks, err := s.FileChunks(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(long, "\n"), "\n")
	covered := map[int]bool{}
	for _, c := range chunks {
		if ollamatest.Tokens(EmbedText(c)) > 60 {
			t.Errorf("lines %d-%d: %d tokens, more than the model's 60", c.StartLine, c.EndLine, ollamatest.Tokens(EmbedText(c)))
		}
		if want := strings.Join(lines[c.StartLine-1:c.EndLine], "\n"); c.Text != want {
			t.Errorf("chunk says lines %d-%d, its text is %q", c.StartLine, c.EndLine, c.Text)
		}
		for n := c.StartLine; n <= c.EndLine; n++ {
			covered[n] = true
		}
	}
	if len(covered) != len(lines) || f.Chunks != len(chunks) {
		t.Errorf("%d of %d lines embedded; entry says %d chunks, object holds %d", len(covered), len(lines), f.Chunks, len(chunks))
	}
	if srv.RefusedInputs() == 0 {
		t.Error("the model refused nothing: the test does not test cutting")
	}
}

// The model refuses a text for another reason than its length: its file
// fails with that reason, the others are indexed.
type refusingEmbedder struct {
	fakeEmbedder
	refuse string
}

func (r *refusingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	rej := &embed.RefusedError{Vectors: make([][]float32, len(texts)), Errs: make([]error, len(texts))}
	refused := false
	for i, t := range texts {
		if strings.TrimSpace(t) == strings.TrimSpace(r.refuse) {
			rej.Errs[i], refused = &ollama.StatusError{StatusCode: 400, Err: errors.New("invalid input")}, true
			continue
		}
		v, err := r.fakeEmbedder.Embed(ctx, []string{t})
		if err != nil {
			return nil, err
		}
		rej.Vectors[i] = v[0]
	}
	if !refused {
		return rej.Vectors, nil
	}
	return nil, rej
}

func TestRunRefusedTextFailsItsFile(t *testing.T) {
	t.Parallel()
	s := open(t)
	emb := &refusingEmbedder{refuse: chunkText(2)}
	sum, err := Run(context.Background(), s, emb, Options{Root: "/r", FS: docs(5), Model: "m", BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Failed) != 1 || sum.Failed[0].Path != "c.md" || sum.Failed[0].Error != "lines 1-1 cannot be embedded: ollama: invalid input" {
		t.Fatalf("failed = %+v", sum.Failed)
	}
	if got := len(s.Manifest().Files); got != 4 || sum.New != 4 || sum.Cut != 0 {
		t.Errorf("index holds %d files (summary %+v), want the 4 others", got, sum)
	}
}

// A folder where every chunk is too long for the model: once it refused
// one, chunks as long are cut without asking, rather than each batch
// bisected (which cost 195 requests for these 40 chunks).
func TestRunLearnsWhatIsTooLong(t *testing.T) {
	t.Parallel()
	srv := ollamatest.New(t, "m")
	srv.LimitEmbedInput(300)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	emb := &embed.Model{Client: ollama.New(u, srv.Client()), Name: "m", Whole: true, Backoff: time.Millisecond}
	fsys := fstest.MapFS{}
	for i := range 40 {
		fsys[fmt.Sprintf("f%02d.txt", i)] = &fstest.MapFile{Data: []byte(longLines(40))}
	}
	sum, err := Run(context.Background(), open(t), emb, Options{Root: "/r", FS: fsys, Model: "m", BatchSize: 16})
	if err != nil || sum.Cut != 40 || len(sum.Failed) != 0 {
		t.Fatalf("err %v, %d cut, %d failed", err, sum.Cut, len(sum.Failed))
	}
	if n := srv.EmbedRequests(); n > 3*sum.Cut {
		t.Errorf("%d requests for %d chunks cut to fit (%d refused)", n, sum.Cut, srv.RefusedInputs())
	}
	t.Logf("%d requests, %d refused, for %d chunks cut into %d", srv.EmbedRequests(), srv.RefusedInputs(), sum.Cut, sum.Chunks)
}
