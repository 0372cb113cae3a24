package weaviate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/internal/weaviatetest"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store/weaviate"
)

// envSQuAD names the folder of the SQuAD subset in BEIR layout
// (corpus.jsonl, queries.jsonl) that TestOverlap reads.
const envSQuAD = "RAG_SQUAD_BEIR"

// TestOverlap indexes the SQuAD subset (one file a paragraph) into the
// embedded store and into Weaviate with the same embeddings, and reports
// how much of each question's top 10 the two share, per mode. The floors
// only catch a store that ranks something else altogether: the figures
// are in the log (go test -v).
func TestOverlap(t *testing.T) {
	dir := os.Getenv(envSQuAD)
	if dir == "" {
		t.Skipf("set %s to the SQuAD subset's beir folder (/work/shared/datasets/squad2-dev-subset/beir)", envSQuAD)
	}
	// RAG_WEAVIATE_ENV adds server settings (USE_INVERTED_SEARCHABLE=false
	// turns BlockMax WAND off, server-wide).
	node := weaviatetest.Start(t, weaviatetest.Options{Env: strings.Fields(os.Getenv("RAG_WEAVIATE_ENV"))})[0]
	ctx := context.Background()
	docs := t.TempDir()
	for _, p := range readJSONL(t, filepath.Join(dir, "corpus.jsonl")) {
		text := fmt.Sprintf("# %s\n\n%s\n", p["title"], p["text"])
		if err := os.WriteFile(filepath.Join(docs, p["_id"].(string)+".md"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var questions []string
	for _, q := range readJSONL(t, filepath.Join(dir, "queries.jsonl")) {
		questions = append(questions, q["text"].(string))
	}
	questions = questions[:min(len(questions), 500)]

	srv := ollamatest.New(t, "fake-embed")
	host, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	models := ollama.New(host, nil)
	engines := []*engine.Engine{
		engine.New(engine.Config{Dir: filepath.Join(t.TempDir(), "index"), Models: models, EmbedModel: "fake-embed"}),
		engine.New(engine.Config{Store: weaviate.New(weaviate.Config{Host: node.Addr, Index: "Squad"}), Models: models, EmbedModel: "fake-embed"}),
	}
	readers := make([]*engine.Reader, len(engines))
	for i, e := range engines {
		if _, err := e.Index(ctx, engine.IndexRequest{Paths: []string{docs}}, nil); err != nil {
			t.Fatal(err)
		}
		if readers[i], err = e.Open(ctx, engine.Who{}, nil); err != nil {
			t.Fatal(err)
		}
		r := readers[i]
		t.Cleanup(func() {
			if err := r.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	floors := map[retrieve.Mode]float64{retrieve.Lexical: 0.85, retrieve.Dense: 0.95, retrieve.Hybrid: 0.85}
	for _, mode := range retrieve.Modes {
		shared, top1 := 0, 0
		for _, q := range questions {
			var tops [2][]string
			for i, r := range readers {
				res, err := r.Search(ctx, engine.SearchRequest{Query: q, K: 10, Retrieval: engine.Retrieval{Mode: mode}})
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range res.Results {
					tops[i] = append(tops[i], fmt.Sprintf("%s:%d", x.Path, x.StartLine))
				}
			}
			in := map[string]bool{}
			for _, id := range tops[0] {
				in[id] = true
			}
			for _, id := range tops[1] {
				if in[id] {
					shared++
				}
			}
			if len(tops[0]) > 0 && len(tops[1]) > 0 && tops[0][0] == tops[1][0] {
				top1++
			}
		}
		overlap := float64(shared) / float64(10*len(questions))
		t.Logf("%-7s mean overlap of the top 10: %.3f; same first result: %.3f (%d questions)", mode, overlap, float64(top1)/float64(len(questions)), len(questions))
		if overlap < floors[mode] {
			t.Errorf("%s: overlap %.3f below %.2f", mode, overlap, floors[mode])
		}
	}
}

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
