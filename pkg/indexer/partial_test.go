package indexer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rag-cli/rag/pkg/chunk"
)

// stoppingEmbedder fails every call after the first good ones, as a
// server that went away.
type stoppingEmbedder struct {
	fakeEmbedder
	good int
}

func (s *stoppingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	s.mu.Lock()
	stop := s.calls >= s.good
	if stop {
		s.calls++
	}
	s.mu.Unlock()
	if stop {
		return nil, errEmbed
	}
	return s.fakeEmbedder.Embed(ctx, texts)
}

// A run that stops in the middle of a file keeps the batches of it that
// came back: the file is in the catalog with those chunks, searchable and
// marked partly indexed, and the next run embeds only the rest.
func TestRunKeepsBatchesOfAFileItStoppedIn(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 40 {
		b.WriteString(strings.Repeat("river mill bridge ", 3+i%3) + "\n\n")
	}
	fsys := fstest.MapFS{"big.txt": {Data: []byte(b.String())}}
	opt := Options{Root: "/r", FS: fsys, Model: "m", BatchSize: 2, Requests: 1, Chunk: chunk.Options{Target: 20}}
	s := open(t)
	ctx := context.Background()
	sum, err := Run(ctx, s, &stoppingEmbedder{good: 3}, opt)
	if !errors.Is(err, errEmbed) {
		t.Fatalf("err = %v", err)
	}
	m := s.Manifest()
	if len(m.Files) != 1 || m.Files[0].Chunks != 6 || m.Files[0].Seen != nil || sum.Embedded != 6 {
		t.Fatalf("kept %+v (summary %+v), want big.txt with the 6 chunks of 3 batches", m.Files, sum)
	}
	chunks, err := s.FileChunks(ctx, m.Files[0])
	if err != nil || len(chunks) != 6 || chunks[0].StartLine != 1 || chunks[0].Vector == nil {
		t.Fatalf("stored %d chunks, %v", len(chunks), err)
	}
	if len(m.Problems) != 1 || !m.Problems[0].Failed || !strings.HasPrefix(m.Problems[0].Reason, "partly indexed: 6 of ") {
		t.Errorf("problems = %+v", m.Problems)
	}

	emb := &fakeEmbedder{}
	sum, err = Run(ctx, s, emb, opt)
	if err != nil {
		t.Fatal(err)
	}
	m = s.Manifest()
	if len(m.Files) != 1 || m.Files[0].Seen == nil || len(m.Problems) != 0 {
		t.Fatalf("after resuming: %+v, problems %+v", m.Files, m.Problems)
	}
	all := m.Files[0].Chunks
	if emb.texts != all-6 || sum.Embedded != all-6 || sum.Chunks != all {
		t.Errorf("resumed: embedded %d texts (summary %d of %d), want all but the 6 kept of %d", emb.texts, sum.Embedded, sum.Chunks, all)
	}
	// The same as a run that never stopped.
	whole := open(t)
	if _, err := Run(ctx, whole, &fakeEmbedder{}, opt); err != nil {
		t.Fatal(err)
	}
	want, err := whole.FileChunks(ctx, whole.Manifest().Files[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.FileChunks(ctx, m.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d chunks, a whole run makes %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Text != want[i].Text || got[i].StartLine != want[i].StartLine || !slices.Equal(got[i].Vector, want[i].Vector) {
			t.Errorf("chunk %d differs from a whole run's", i)
		}
	}
}
