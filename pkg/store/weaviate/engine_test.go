package weaviate_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/internal/weaviatetest"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store/weaviate"
)

// TestEngine runs rag's index runs and searches on a Weaviate store as
// the CLI does, through the engine: a first run, an incremental one, a
// rename that embeds nothing, a deletion, and a search in every mode.
func TestEngine(t *testing.T) {
	node := weaviatetest.Start(t, weaviatetest.Options{})[0]
	ctx := context.Background()
	srv := ollamatest.New(t, "fake-embed")
	host, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.Config{Store: weaviate.New(weaviate.Config{Host: node.Addr, Index: "Engine"}),
		Models: ollama.New(host, nil), EmbedModel: "fake-embed", Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	docs := t.TempDir()
	put := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("install.md", "# Install\n\nInstall the tool with the package manager, then check the version.\n")
	put("retry.md", "# Retries\n\nThe retry policy backs off exponentially and gives up after five attempts.\n")
	put("cats.md", "# Cats\n\nCats sleep most of the day and hunt at night.\n")

	index := func(paths ...string) *engine.IndexReport {
		t.Helper()
		rep, err := e.Index(ctx, engine.IndexRequest{Paths: paths}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	search := func(mode retrieve.Mode, q string) []retrieve.Result {
		t.Helper()
		r, err := e.Open(ctx, engine.Who{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := r.Close(); err != nil {
				t.Error(err)
			}
		}()
		res, err := r.Search(ctx, engine.SearchRequest{Query: q, K: 3, Retrieval: engine.Retrieval{Mode: mode}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Results
	}

	rep := index(docs)
	if rep.New != 3 || rep.TotalFiles != 3 {
		t.Fatalf("first run: %+v", rep)
	}
	for _, mode := range retrieve.Modes {
		res := search(mode, "retry policy attempts")
		if len(res) == 0 || res[0].Path != "retry.md" {
			t.Fatalf("%s search: %+v", mode, res)
		}
	}

	put("cats.md", "# Cats\n\nCats sleep most of the day; kittens play with string.\n")
	before := srv.EmbeddedTexts()
	if rep := index(); rep.Changed != 1 || rep.Unchanged != 2 {
		t.Fatalf("incremental run: %+v", rep)
	}
	if res := search(retrieve.Lexical, "kittens string"); len(res) == 0 || res[0].Path != "cats.md" {
		t.Fatalf("after the change: %+v", res)
	}

	if err := os.Rename(filepath.Join(docs, "install.md"), filepath.Join(docs, "setup.md")); err != nil {
		t.Fatal(err)
	}
	embedded := srv.EmbeddedTexts()
	index()
	if srv.EmbeddedTexts() != embedded {
		t.Fatalf("a rename embedded %d texts", srv.EmbeddedTexts()-embedded)
	}
	if embedded == before {
		t.Fatal("the changed file was not embedded again")
	}
	if res := search(retrieve.Dense, "install the tool with the package manager"); len(res) == 0 || res[0].Path != "setup.md" {
		t.Fatalf("after the rename: %+v", res)
	}

	if err := os.Remove(filepath.Join(docs, "retry.md")); err != nil {
		t.Fatal(err)
	}
	if rep := index(); rep.Removed != 1 || rep.TotalFiles != 2 {
		t.Fatalf("run after a deletion: %+v", rep)
	}
	for _, r := range search(retrieve.Hybrid, "retry policy attempts") {
		if r.Path == "retry.md" {
			t.Fatalf("a deleted file is found: %+v", r)
		}
	}
	st, err := e.Status(ctx, engine.Who{}, engine.StatusRequest{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2 || st.Health != "ok" {
		t.Fatalf("status: %+v", st)
	}
	if n, want := count(t, node.Addr, "EngineChunks", "d"), st.Chunks; n != want {
		t.Fatalf("%d chunk objects, the catalog says %d", n, want)
	}
}
