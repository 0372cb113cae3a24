package weaviate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/weaviatetest"
	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/store/weaviate"
)

const dims = 32

// vec is a hashed bag of words of s, so that texts sharing words are close.
func vec(s string) []float32 {
	v := make([]float32, dims)
	for _, w := range strings.Fields(strings.ToLower(s)) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(w)) // a hash never fails
		v[h.Sum32()%dims]++
	}
	var n float64
	for _, x := range v {
		n += float64(x * x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func chunks(texts ...string) []store.Chunk {
	out := make([]store.Chunk, len(texts))
	for i, s := range texts {
		out[i] = store.Chunk{StartLine: i*10 + 1, EndLine: i*10 + 9, Text: s, Vector: vec(s)}
	}
	return out
}

// key is a content key of the store's form (hex) for a name.
func key(name string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name)) // a hash never fails
	return fmt.Sprintf("%016x%016x", h.Sum64(), h.Sum64()^0x5a5a)
}

func newManifest() store.Manifest {
	m := store.NewManifest()
	m.EmbedModel, m.Dims = "fake", dims
	return m
}

func open(t *testing.T, node *weaviatetest.Node, index string, write bool) *weaviate.Store {
	t.Helper()
	st, err := weaviate.New(weaviate.Config{Host: node.Addr, Index: index}).Open(context.Background(), store.Options{Write: write})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st.(*weaviate.Store)
}

// count is how many objects a Weaviate collection holds in a tenant.
func count(t *testing.T, addr, class, tenant string) int {
	t.Helper()
	q := fmt.Sprintf(`{Aggregate{%s(tenant:%q){meta{count}}}}`, class, tenant)
	body, err := json.Marshal(map[string]string{"query": q})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post("http://"+addr+"/v1/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := res.Body.Close(); err != nil {
			t.Error(err)
		}
	}()
	var out struct {
		Data struct {
			Aggregate map[string][]struct {
				Meta struct{ Count int } `json:"meta"`
			}
		}
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) > 0 {
		if strings.Contains(out.Errors[0].Message, "not found") {
			return 0
		}
		t.Fatalf("count %s/%s: %s", class, tenant, out.Errors[0].Message)
	}
	rows := out.Data.Aggregate[class]
	if len(rows) == 0 {
		return 0
	}
	return rows[0].Meta.Count
}

// TestStore runs the store's tests against one real Weaviate node, each
// on an index of its own.
func TestStore(t *testing.T) {
	node := weaviatetest.Start(t, weaviatetest.Options{})[0]
	t.Run("commit, reopen, search", func(t *testing.T) { testCommit(t, node) })
	t.Run("no index", func(t *testing.T) { testNoIndex(t, node) })
	t.Run("access and tenants never leak, top-k full", func(t *testing.T) { testLeak(t, node) })
	t.Run("incompatible schema", func(t *testing.T) { testSchema(t, node) })
	t.Run("concurrent writer", func(t *testing.T) { testConcurrentWriter(t, node) })
}

func testCommit(t *testing.T, node *weaviatetest.Node) {
	ctx := context.Background()
	st := open(t, node, "Commit", true)
	m := newManifest()
	files := map[string][]string{
		"install.md": {"install the tool with the package manager", "upgrade the tool later"},
		"retry.md":   {"the retry policy backs off exponentially", "a retry gives up after five attempts"},
		"cats.md":    {"cats sleep most of the day"},
	}
	for _, name := range []string{"cats.md", "install.md", "retry.md"} {
		k := key(name)
		if err := st.PutObject(ctx, k, chunks(files[name]...)); err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, store.FileEntry{Root: "/docs", Path: name, Key: k, Chunks: len(files[name])})
	}
	if err := st.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if n := count(t, node.Addr, "CommitChunks", "d"); n != 5 {
		t.Fatalf("%d chunk objects, want 5", n)
	}
	// A run that writes the same chunks again converges: no duplicates.
	if err := st.PutObject(ctx, key("retry.md"), chunks(files["retry.md"]...)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if n := count(t, node.Addr, "CommitChunks", "d"); n != 5 {
		t.Fatalf("%d chunk objects after writing again, want 5", n)
	}

	r := open(t, node, "Commit", false)
	if got := r.Manifest(); len(got.Files) != 3 || got.Dims != dims || got.Generation != m.Generation {
		t.Fatalf("reopened catalog: %+v", got)
	}
	lex, err := r.SearchText(ctx, store.View{}, "retries policy", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(lex) != 2 || lex[0].File.Path != "retry.md" || lex[0].Coverage <= 0 {
		t.Fatalf("lexical hits: %+v", lex)
	}
	dense, err := r.Search(ctx, store.View{}, vec("cats sleep"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(dense) != 1 || dense[0].File.Path != "cats.md" || dense[0].Score < 0.5 {
		t.Fatalf("dense hits: %+v", dense)
	}
	got, err := r.FileChunks(ctx, m.Files[1])
	if err != nil || len(got) != 2 || got[1].Text != files["install.md"][1] {
		t.Fatalf("FileChunks = %+v, %v", got, err)
	}

	// A rename changes the catalog alone; a deletion deletes the chunks.
	m2 := m.Clone()
	m2.Files[1].Path = "setup.md"
	m2.Files = slices.Delete(m2.Files, 0, 1) // cats.md
	if err := st.Commit(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if n := count(t, node.Addr, "CommitChunks", "d"); n != 4 {
		t.Fatalf("%d chunk objects after deleting cats.md, want 4", n)
	}
	if !r.Stale() {
		t.Fatal("a reader does not see the commit after it opened")
	}
	r2 := open(t, node, "Commit", false)
	hits, err := r2.SearchText(ctx, store.View{}, "install", 5)
	if err != nil || len(hits) != 1 || hits[0].File.Path != "setup.md" {
		t.Fatalf("after the rename: %+v, %v", hits, err)
	}
	if hits, err := r2.SearchText(ctx, store.View{}, "cats", 5); err != nil || len(hits) != 0 {
		t.Fatalf("after the deletion: %+v, %v", hits, err)
	}
}

func testNoIndex(t *testing.T, node *weaviatetest.Node) {
	_, err := weaviate.New(weaviate.Config{Host: node.Addr, Index: "Nothing"}).Open(context.Background(), store.Options{})
	if !errors.Is(err, store.ErrNoIndex) {
		t.Fatalf("read-only open of no index: %v, want ErrNoIndex", err)
	}
}

// testLeak indexes two tenants of files of two users and a group, in two
// collections, all about the same words, then searches as each: every
// hit is one the asker may see, and there are k of them.
func testLeak(t *testing.T, node *weaviatetest.Node) {
	ctx := context.Background()
	st := open(t, node, "Leak", true)
	m := newManifest()
	m.AccessControl = true
	owners := [][]string{{"user:alice"}, {"user:bob"}, {"group:eng"}, {access.Public}}
	for _, tenant := range []string{"", "acme"} {
		for i := range 40 {
			root := "/docs"
			if i%5 == 0 {
				root = "/notes"
			}
			name := fmt.Sprintf("%s/f%02d.md", tenant, i)
			k := key(name)
			text := fmt.Sprintf("deploy the service to production step %d of the runbook", i)
			if err := st.PutObject(ctx, k, chunks(text, text+" again")); err != nil {
				t.Fatal(err)
			}
			m.Files = append(m.Files, store.FileEntry{Root: root, Path: name, Key: k, Chunks: 2, Tenant: tenant, Access: owners[i%len(owners)]})
		}
	}
	if err := st.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	views := []store.View{
		{Principals: []string{"user:alice"}},
		{Principals: []string{"user:bob", "group:eng"}},
		{},
		{Tenant: "acme", Principals: []string{"user:alice"}},
		{Tenant: "acme", Principals: []string{"user:bob"}, Collections: []string{"notes"}},
	}
	for _, v := range views {
		want := 0
		for i := range m.Files {
			if m.Sees(v, &m.Files[i]) {
				want += m.Files[i].Chunks
			}
		}
		const k = 10
		lex, err := st.SearchText(ctx, v, "deploy production runbook", k)
		if err != nil {
			t.Fatal(err)
		}
		dense, err := st.Search(ctx, v, vec("deploy the service to production"), k)
		if err != nil {
			t.Fatal(err)
		}
		for mode, hits := range map[string][]store.Hit{"lexical": lex, "dense": dense} {
			if len(hits) != min(k, want) {
				t.Errorf("%+v %s: %d hits, want %d", v, mode, len(hits), min(k, want))
			}
			for _, h := range hits {
				if !m.Sees(v, &h.File) || h.File.Tenant != v.Tenant {
					t.Errorf("%+v %s: leaked %s (tenant %q, %v)", v, mode, h.File.Path, h.File.Tenant, h.File.Access)
				}
			}
		}
	}
	// A file of one tenant's content added to another is copied there,
	// not embedded again (nothing is put for it).
	m2 := m.Clone()
	f := m.Files[0]
	f.Tenant, f.Path = "other", "copied.md"
	m2.Files = append(m2.Files, f)
	if err := st.Commit(ctx, m2); err != nil {
		t.Fatal(err)
	}
	hits, err := st.SearchText(ctx, store.View{Tenant: "other", Principals: f.Access}, "deploy", 5)
	if err != nil || len(hits) != 2 || hits[0].File.Path != "copied.md" {
		t.Fatalf("copied tenant: %+v, %v", hits, err)
	}
}

func testSchema(t *testing.T, node *weaviatetest.Node) {
	// A collection of the same name that rag did not make.
	body := `{"class":"ForeignChunks","vectorizer":"none","properties":[{"name":"title","dataType":["text"]}]}`
	res, err := http.Post("http://"+node.Addr+"/v1/schema", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("create a foreign collection: %s", res.Status)
	}
	_, err = weaviate.New(weaviate.Config{Host: node.Addr, Index: "Foreign"}).Open(context.Background(), store.Options{Write: true})
	var se *store.SchemaError
	if !errors.As(err, &se) || se.Class != "ForeignChunks" {
		t.Fatalf("open over a foreign collection: %v, want a SchemaError", err)
	}
}

func testConcurrentWriter(t *testing.T, node *weaviatetest.Node) {
	ctx := context.Background()
	a := open(t, node, "Twice", true)
	b := open(t, node, "Twice", true)
	if err := a.Commit(ctx, newManifest()); err != nil {
		t.Fatal(err)
	}
	var le *store.LockedError
	if err := b.Commit(ctx, newManifest()); !errors.As(err, &le) {
		t.Fatalf("a commit over another's: %v, want a LockedError", err)
	}
}

func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = weaviate.New(weaviate.Config{Host: addr}).Open(context.Background(), store.Options{})
	var ue *store.UnavailableError
	if !errors.As(err, &ue) || ue.Addr != addr {
		t.Fatalf("open with no server: %v, want an UnavailableError", err)
	}
}

func TestUnauthorized(t *testing.T) {
	node := weaviatetest.Start(t, weaviatetest.Options{APIKey: "right-key"})[0]
	for _, key := range []string{"", "wrong-key"} {
		_, err := weaviate.New(weaviate.Config{Host: node.Addr, APIKey: key}).Open(context.Background(), store.Options{Write: true})
		var ue *store.UnauthorizedError
		if !errors.As(err, &ue) || ue.KeySet != (key != "") {
			t.Fatalf("key %q: %v, want an UnauthorizedError", key, err)
		}
	}
	st, err := weaviate.New(weaviate.Config{Host: node.Addr, APIKey: "right-key"}).Open(context.Background(), store.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}
