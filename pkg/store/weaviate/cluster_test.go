package weaviate_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/internal/weaviatetest"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/store/weaviate"
)

// TestCluster indexes into a three-node cluster with replication factor 3
// at QUORUM while one node is killed (SIGKILL): nothing is lost, queries
// keep answering, and the node, restarted, catches up (every chunk object
// is read on every node).
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node Weaviate cluster takes minutes on a busy machine")
	}
	nodes := weaviatetest.Start(t, weaviatetest.Options{Nodes: 3})
	ctx := context.Background()
	srv := ollamatest.New(t, "fake-embed")
	host, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	be := weaviate.New(weaviate.Config{Host: nodes[0].Addr, Index: "Cluster", Replicas: 3})
	e := engine.New(engine.Config{Store: be, Models: ollama.New(host, nil), EmbedModel: "fake-embed"})
	docs := t.TempDir()
	const files = 40
	for i := range files {
		text := fmt.Sprintf("# Note %d\n\nThe deployment runbook, step %d: check the replicas and the quorum.\n", i, i)
		if err := os.WriteFile(filepath.Join(docs, fmt.Sprintf("n%02d.md", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	var calls atomic.Int32
	srv.OnEmbed(func() {
		if calls.Add(1) == files/2 {
			once.Do(func() { nodes[2].Kill(t) })
		}
	})
	rep, err := e.Index(ctx, engine.IndexRequest{Paths: []string{docs}, BatchSize: 1, Parallel: 1}, nil)
	if err != nil {
		t.Fatalf("index with a node killed: %v", err)
	}
	if rep.TotalFiles != files {
		t.Fatalf("indexed %d files of %d", rep.TotalFiles, files)
	}
	for _, nd := range nodes[:2] {
		e2 := engine.New(engine.Config{Store: weaviate.New(weaviate.Config{Host: nd.Addr, Index: "Cluster"}), Models: ollama.New(host, nil)})
		r, err := e2.Open(ctx, engine.Who{}, nil)
		if err != nil {
			t.Fatalf("open through %s: %v", nd.Name, err)
		}
		res, err := r.Search(ctx, engine.SearchRequest{Query: "runbook step 7", K: 5, Retrieval: engine.Retrieval{Mode: retrieve.Hybrid}})
		if err != nil || len(res.Results) != 5 {
			t.Fatalf("search through %s with a node down: %+v, %v", nd.Name, res, err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := be.Open(ctx, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := st.Manifest()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range m.Files {
		for n := range f.Chunks {
			ids = append(ids, weaviate.ChunkID(f.Tenant, f.Key, n))
		}
	}
	for _, nd := range nodes[:2] {
		if missing := missingOn(t, nodes[0].Addr, nd.Name, ids); missing > 0 {
			t.Fatalf("%d of %d chunks missing on %s", missing, len(ids), nd.Name)
		}
	}
	// With a replica down, a write at ALL fails: Weaviate answers the
	// batch with 200 and each object's error, which the store reads.
	all, err := weaviate.New(weaviate.Config{Host: nodes[0].Addr, Index: "Cluster", Consistency: "ALL"}).Open(ctx, store.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	m2 := m.Clone()
	f := m2.Files[0]
	f.Key, f.Path = "00ff00ff00ff00ff", "extra.md"
	m2.Files = append(m2.Files, f)
	if err := all.PutObject(ctx, f.Key, make([]store.Chunk, f.Chunks)); err != nil {
		t.Fatal(err)
	}
	if err := all.Commit(ctx, m2); err == nil {
		t.Fatal("a write at consistency ALL succeeded with a replica down")
	} else {
		t.Logf("a write at ALL with a replica down: %v", err)
	}
	if err := all.Close(); err != nil {
		t.Fatal(err)
	}
	nodes[2].Restart(t)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		missing := missingOn(t, nodes[0].Addr, nodes[2].Name, ids)
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted node still lacks %d of %d chunks", missing, len(ids))
		}
		time.Sleep(2 * time.Second)
	}
}

// missingOn counts the chunk objects (of the default tenant) that node
// does not hold, asked through the node at addr.
func missingOn(t *testing.T, addr, node string, ids []string) int {
	t.Helper()
	missing := 0
	for _, id := range ids {
		u := fmt.Sprintf("http://%s/v1/objects/ClusterChunks/%s?tenant=%s&node_name=%s", addr, id, weaviate.TenantName(""), node)
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Body.Close(); err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			missing++
		}
	}
	return missing
}
