package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/engine"
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

// tokenTable is a TokenLookup of fixed secrets.
type tokenTable map[string]struct {
	principal, tenant string
	admin             bool
}

var errUnknownToken = errors.New("unknown token")

func (tt tokenTable) Lookup(secret string, _ time.Time) (string, string, bool, string, error) {
	t, ok := tt[secret]
	if !ok {
		return "", "", false, "", errUnknownToken
	}
	return t.principal, t.tenant, t.admin, "id-" + t.principal, nil
}

var tokens = tokenTable{
	"rag_alice": {principal: "alice"},
	"rag_bob":   {principal: "bob"},
	"rag_admin": {principal: "root", admin: true},
}

// fixture is a server over an index of two folders: pub (public, the
// collection "pub") and private (allowed to user:alice alone, the
// collection "private").
type fixture struct {
	t      *testing.T
	models *ollamatest.Server
	client *ollama.Client
	dir    string
	docs   string
	srv    *httptest.Server
	cfg    Config
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// indexSources indexes each source into the index at dir, as `rag index`
// does (another writer than the server).
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

func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, models: ollamatest.New(t, testEmbed, testChat)}
	host, err := url.Parse(f.models.URL)
	if err != nil {
		t.Fatal(err)
	}
	f.client = ollama.New(host, nil)
	f.docs = t.TempDir()
	writeFile(t, filepath.Join(f.docs, "pub", "guide.md"), "# Guide\n\nThe retry policy waits five seconds between attempts.\n")
	writeFile(t, filepath.Join(f.docs, "private", "salaries.md"), "# Salaries\n\nThe zebracorn bonus is paid in March.\n")
	f.dir = filepath.Join(t.TempDir(), "index")
	indexSources(t, f.client, f.dir,
		store.Source{Path: filepath.Join(f.docs, "pub"), Allow: []string{"public"}, Collection: "pub"},
		store.Source{Path: filepath.Join(f.docs, "private"), Allow: []string{"user:alice"}, Collection: "private"})
	f.srv = httptest.NewUnstartedServer(nil)
	f.cfg = Config{
		Engine: engine.New(engine.Config{Dir: f.dir, Models: f.client, Now: testNow}),
		Auth:   BearerAuth(tokens, false, testNow),
		Addr:   f.srv.Listener.Addr().String(),
		Ask: engine.AskOptions{Retrieval: engine.Retrieval{Mode: retrieve.Hybrid, Fusion: retrieve.RRF, FusionWeight: 0.5, Candidates: retrieve.DefaultCandidates},
			K: 5, Model: testChat, NumCtx: 8192, MaxTokens: 256, Prompt: answer.DefaultPrompt()},
		SearchK: 5,
	}
	if edit != nil {
		edit(&f.cfg)
	}
	h := New(f.cfg)
	f.srv.Config.Handler = h
	f.srv.Start()
	t.Cleanup(func() {
		f.srv.Close()
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// do sends a request with token (none when "") and returns the status,
// headers and body.
func (f *fixture) do(method, path, token, body string, header ...string) (int, http.Header, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer func() {
		if err := resp.Body.Close(); err != nil {
			f.t.Error(err)
		}
	}()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// ok sends a request that must answer 200, and decodes its JSON into v.
func (f *fixture) ok(method, path, token, body string, v any) {
	f.t.Helper()
	status, _, b := f.do(method, path, token, body)
	if status != http.StatusOK {
		f.t.Fatalf("%s %s: status %d, want 200: %s", method, path, status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			f.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// fails sends a request that must answer status with the error JSON of
// code, and returns its message.
func (f *fixture) fails(status int, code, method, path, token, body string, header ...string) string {
	f.t.Helper()
	got, h, b := f.do(method, path, token, body, header...)
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		f.t.Fatalf("%s %s: not the error JSON (%v): %s", method, path, err, b)
	}
	if got != status || e.Error.Code != code || e.Error.Message == "" {
		f.t.Fatalf("%s %s: status %d code %q, want %d %q: %s", method, path, got, e.Error.Code, status, code, b)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return e.Error.Message
}

// paths are the paths of a search's results.
func paths(rep engine.SearchReport) []string {
	var ps []string
	for _, r := range rep.Results {
		ps = append(ps, r.Path)
	}
	return ps
}
