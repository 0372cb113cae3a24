package engine_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// Example indexes a folder, searches it and asks a question through the
// engine, with a fake model server standing in for Ollama.
func Example() {
	srv := ollamatest.Start("fake-embed", "fake-chat")
	defer srv.Close()
	host, err := url.Parse(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "rag-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := os.RemoveAll(tmp); err != nil {
			log.Print(err)
		}
	}()
	docs := filepath.Join(tmp, "docs")
	for name, text := range map[string]string{
		"retry.md":  "# Retries\n\nThe client retries a failed upload three times, doubling the wait.\n",
		"server.md": "# Server\n\nThe server listens on port 8080.\n",
	} {
		if err := os.MkdirAll(docs, 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}

	ctx := context.Background()
	e := engine.New(engine.Config{Dir: filepath.Join(tmp, "index"), Models: ollama.New(host, nil), EmbedModel: "fake-embed"})
	rep, err := e.Index(ctx, engine.IndexRequest{Paths: []string{docs}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("indexed %d files, %d chunks, with %s\n", rep.Indexed, rep.TotalChunks, rep.EmbedModel)

	r, err := e.Open(ctx, engine.Who{}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := r.Close(); err != nil {
			log.Print(err)
		}
	}()
	res, err := r.Search(ctx, engine.SearchRequest{Query: "which port does the server listen on", K: 1,
		Retrieval: engine.Retrieval{Mode: retrieve.Hybrid, Fusion: retrieve.Weighted, FusionWeight: 0.5}})
	if err != nil {
		log.Fatal(err)
	}
	for _, hit := range res.Results {
		fmt.Printf("%s:%d-%d\n", hit.Path, hit.StartLine, hit.EndLine)
	}

	ask := engine.AskOptions{Retrieval: engine.Retrieval{Mode: retrieve.Hybrid, Fusion: retrieve.Weighted, FusionWeight: 0.5, Candidates: retrieve.DefaultCandidates},
		K: 3, Model: "fake-chat", NumCtx: 4096, MaxTokens: 256, Prompt: answer.DefaultPrompt()}
	ans, err := r.Ask(ctx, engine.AskRequest{Question: "How many times does the client retry an upload?", AskOptions: ask}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ans.Answer.Answer)
	for _, src := range ans.Answer.Sources {
		if src.Cited {
			fmt.Printf("[%d] %s\n", src.N, src.Cite())
		}
	}
	// Output:
	// indexed 2 files, 2 chunks, with fake-embed
	// server.md:1-3
	// According to the documents, The client retries a failed upload three times, doubling the wait [1].
	// [1] retry.md:1-3 (Retries)
}
