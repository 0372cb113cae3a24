package engine

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

const (
	testEmbed = "fake-embed"
	testChat  = "fake-chat"
)

var testNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// models starts a fake model server with the test's models, and its
// client.
func models(t *testing.T) (*ollamatest.Server, *ollama.Client) {
	t.Helper()
	srv := ollamatest.New(t, testEmbed, testChat)
	host, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, ollama.New(host, nil)
}

// writeFile writes s to p, with the folders around it.
func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, p, s)
}

// indexDocs writes files (name: text) into a new folder and indexes it,
// public, into a new index; it returns the folder and the index.
func indexDocs(t *testing.T, client *ollama.Client, files map[string]string) (docs, dir string) {
	t.Helper()
	docs = t.TempDir()
	for name, text := range files {
		writeFile(t, filepath.Join(docs, name), text)
	}
	dir = filepath.Join(t.TempDir(), "index")
	indexSources(t, client, dir, store.Source{Path: docs})
	return docs, dir
}

// indexSources indexes each source (a folder: its Path, tenant, access,
// collection) into the index at dir, as `rag index` does.
func indexSources(t *testing.T, client *ollama.Client, dir string, sources ...store.Source) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range sources {
		_, err := indexer.Run(ctx, st, &embed.Model{Client: client, Name: testEmbed}, indexer.Options{
			Root: src.Path, FS: os.DirFS(src.Path), Source: src, Model: testEmbed, Chunk: chunk.DefaultOptions, Now: testNow,
		})
		if err != nil {
			t.Fatalf("index %s: %v", src.Path, err)
		}
	}
	if err := st.SaveCaches(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// open opens the index at dir for w, its events kept in *events.
func open(t *testing.T, client *ollama.Client, dir, groups string, w Who, events *[]Event) (*Reader, error) {
	t.Helper()
	e := New(Config{Dir: dir, Models: client, GroupsFile: groups, Now: testNow})
	r, err := e.Open(context.Background(), w, func(ev Event) {
		if events != nil {
			*events = append(*events, ev)
		}
	})
	if err == nil {
		t.Cleanup(func() {
			if err := r.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	return r, err
}

// askOptions are rag ask's defaults in mode.
func askOptions(mode retrieve.Mode) AskOptions {
	return AskOptions{Retrieval: Retrieval{Mode: mode, Fusion: retrieve.RRF, FusionWeight: 0.5, Candidates: retrieve.DefaultCandidates},
		K: 5, Model: testChat, NumCtx: 8192, MaxTokens: 256, Prompt: answer.DefaultPrompt()}
}
