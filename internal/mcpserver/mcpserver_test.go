package mcpserver

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rag-cli/rag/internal/mcptest"
	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/store/storetest"
)

const (
	testEmbed = "fake-embed"
	testChat  = "fake-chat"
)

// fixture is an index of two folders, each its own collection: handbook
// (retry.md, and salaries.md that only user:alice may see) and wiki
// (uploads.md, kettle.md), open to everyone else, built through the engine with the fake model
// server.
type fixture struct {
	e   *engine.Engine
	srv *ollamatest.Server
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

// newFixtureWith is newFixture with more files (path under docs: text).
func newFixtureWith(t *testing.T, more map[string]string) *fixture {
	t.Helper()
	srv := ollamatest.New(t, testEmbed, testChat)
	host, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	files := map[string]string{
		"handbook/retry.md":    "# Retries\n\nThe client retries a failed upload three times, doubling the wait.\n",
		"handbook/salaries.md": "---\naccess: [user:alice]\n---\n# Salaries\n\nThe quarterly bonus pool is nine percent.\n",
		"wiki/uploads.md":      "# Uploads\n\nLarge uploads are split into parts; a failed part is sent again.\n",
		"wiki/kettle.md":       "# Kettle\n\nThe kettle boils water in two minutes.\n",
	}
	maps.Copy(files, more)
	for path, text := range files {
		p := filepath.Join(tmp, "docs", path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{srv: srv, dir: filepath.Join(tmp, "index")}
	f.e = engine.New(engine.Config{Dir: f.dir, Models: ollama.New(host, nil), EmbedModel: testEmbed,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	docs := filepath.Join(tmp, "docs")
	if _, err := f.e.Index(context.Background(), engine.IndexRequest{Paths: []string{filepath.Join(docs, "handbook"), filepath.Join(docs, "wiki")},
		Allow: []string{"public"}, Given: store.InheritAllow}, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// options are rag mcp's defaults in lexical mode (the fake embeddings
// rank every chunk), with errors marked so that a test sees ErrorText.
func options() Options {
	return Options{Version: "test", SearchK: 5, ErrorText: func(err error) string { return "text: " + err.Error() },
		Ask: engine.AskOptions{Retrieval: engine.Retrieval{Mode: retrieve.Lexical, Fusion: retrieve.RRF, FusionWeight: 0.5, Candidates: retrieve.DefaultCandidates},
			K: 5, Model: testChat, NumCtx: 8192, MaxTokens: 256, Prompt: answer.DefaultPrompt()}}
}

// connect opens a session for w and connects a client to its server over
// the SDK's in-memory transport.
func (f *fixture) connect(t *testing.T, o Options, w engine.Who) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	r, err := f.e.Open(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess := NewSession(r, w)
	t.Cleanup(func() {
		if err := sess.Close(); err != nil {
			t.Error(err)
		}
	})
	st, ct := mcp.NewInMemoryTransports()
	ss, err := New(o, sess).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cs.Close(); err != nil {
			t.Error(err)
		}
		if err := ss.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	})
	return cs
}

// call calls a tool (mcptest.Call).
var call = mcptest.Call

// paths are the files a tool's structured result names: search's
// results, ask's sources, get's document, multi_get's documents.
type paths struct {
	Path    string `json:"path"`
	Results []struct {
		Path string `json:"path"`
	} `json:"results"`
	Sources []struct {
		Path string `json:"path"`
	} `json:"sources"`
	Items []struct {
		Document *struct {
			Path string `json:"path"`
		} `json:"document"`
	} `json:"items"`
	DamagedFiles []string `json:"damaged_files"`
}

func (p paths) all() []string {
	var all []string
	if p.Path != "" {
		all = append(all, p.Path)
	}
	for _, r := range p.Results {
		all = append(all, r.Path)
	}
	for _, s := range p.Sources {
		all = append(all, s.Path)
	}
	for _, it := range p.Items {
		if it.Document != nil {
			all = append(all, it.Document.Path)
		}
	}
	return all
}

// TestTools: every tool answers through a real MCP client, from the
// session's view.
func TestTools(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cs := f.connect(t, options(), engine.Who{})
	// Each tool is described, with the schemas of what it takes and gives.
	var names []string
	for tl, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		if names = append(names, tl.Name); tl.Description == "" || tl.InputSchema == nil || tl.OutputSchema == nil {
			t.Errorf("%s: %+v", tl.Name, tl)
		}
	}
	if got := strings.Join(names, ","); got != "ask,get,multi_get,search,status" {
		t.Errorf("tools %s", got)
	}
	var p paths
	if text, isErr := call(t, cs, "search", map[string]any{"query": "failed upload retries"}, &p); isErr || !strings.HasPrefix(text, Quoted) || !slices.Contains(p.all(), "retry.md") {
		t.Errorf("search: error %v, %v: %s", isErr, p.all(), text)
	}
	p = paths{}
	if text, isErr := call(t, cs, "get", map[string]any{"citation": "kettle.md"}, &p); isErr || p.Path != "kettle.md" || !strings.Contains(text, "two minutes") {
		t.Errorf("get: error %v, %v: %s", isErr, p.all(), text)
	}
	p = paths{}
	if text, isErr := call(t, cs, "multi_get", map[string]any{"targets": []string{"*.md", "nope.md"}}, &p); isErr || len(p.all()) != 3 ||
		!strings.Contains(text, "(nope.md: text: nope.md is not in the index.)") {
		t.Errorf("multi_get: error %v, %v: %s", isErr, p.all(), text)
	}
	p = paths{}
	if text, isErr := call(t, cs, "ask", map[string]any{"question": "How many times does the client retry a failed upload?"}, &p); isErr ||
		!slices.Contains(p.all(), "retry.md") || !strings.Contains(text, "\nSources:\n[1] retry.md:1-3") {
		t.Errorf("ask: error %v, %v: %s", isErr, p.all(), text)
	}
	var st Status
	if text, isErr := call(t, cs, "status", map[string]any{}, &st); isErr || st.Files != 3 || len(st.Collections) != 2 || st.ChatModel != testChat || st.Mode != "lexical" ||
		!strings.HasPrefix(text, "3 files, 3 chunks in ") {
		t.Errorf("status: error %v, %+v: %s", isErr, st, text)
	}
	// Errors read as the face words them.
	for tool, args := range map[string]map[string]any{
		"search":    {"query": " "},
		"get":       {"citation": "nope.md"},
		"multi_get": {"targets": []string{"a.md"}, "max_bytes": MaxBytes + 1},
		"ask":       {"question": "retries?", "collection": "nope"},
	} {
		if text, isErr := call(t, cs, tool, args, nil); !isErr || !strings.HasPrefix(text, "text: ") {
			t.Errorf("%s: error %v, %q", tool, isErr, text)
		}
	}
}

// TestNarrowsNeverWidens: a call's collection narrows what its session
// serves, never widens it, for every tool: nothing of wiki is read by a
// session that serves handbook, whatever a call names, commas alone
// included (they widened to every collection before the engine's Narrow
// was the one rule).
func TestNarrowsNeverWidens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cs := f.connect(t, options(), engine.Who{Collections: []string{"handbook"}})
	for _, col := range []string{"", ",", " , ", "handbook", "handbook,", "wiki", "handbook,wiki", "nope"} {
		for tool, args := range map[string]map[string]any{
			"search":    {"query": "kettle boils water uploads parts retries", "k": 10},
			"get":       {"citation": "kettle.md"},
			"multi_get": {"targets": []string{"*.md", "uploads.md"}},
			"ask":       {"question": "How long does the kettle take to boil water?"},
		} {
			args["collection"] = col
			var p paths
			text, isErr := call(t, cs, tool, args, &p)
			if strings.Contains(text, "kettle boils") || strings.Contains(text, "split into parts") ||
				slices.Contains(p.all(), "kettle.md") || slices.Contains(p.all(), "uploads.md") {
				t.Errorf("%s in %q read wiki: %v: %s", tool, col, p.all(), text)
			}
			if strings.Contains(col, "wiki") && (!isErr || !strings.Contains(text, `collection "wiki" is not among those served`)) {
				t.Errorf("%s in %q: error %v, %q", tool, col, isErr, text)
			}
		}
	}
}

// TestDamageOfTheCallsView: search and ask list the damaged files of the
// collections a call asked about, not of all the session serves (the
// files a lexical search finds are read, and kettle.md's chunks are
// found missing).
func TestDamageOfTheCallsView(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	obj, _, err := storetest.Object(f.dir, "kettle.md")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(obj); err != nil {
		t.Fatal(err)
	}
	cs := f.connect(t, options(), engine.Who{})
	for _, tc := range []struct {
		collection string
		want       string
	}{{"", "kettle.md"}, {"wiki", "kettle.md"}, {"handbook", ""}} {
		for tool, args := range map[string]map[string]any{
			"search": {"query": "failed upload retries kettle water"},
			"ask":    {"question": "How many times does the client retry a failed upload, and how long does the kettle boil water?"},
		} {
			args["collection"] = tc.collection
			var p paths
			if text, isErr := call(t, cs, tool, args, &p); isErr || strings.Join(p.DamagedFiles, ",") != tc.want {
				t.Errorf("%s in %q: error %v, damaged files %q, want %q: %s", tool, tc.collection, isErr, p.DamagedFiles, tc.want, text)
			}
		}
	}
}

// TestSessionsApart: sessions of different askers on one engine each see
// their own share, call after call, interleaved: nothing of who asks is
// the server's.
func TestSessionsApart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.connect(t, options(), engine.Who{As: "user:alice"})
	public := f.connect(t, options(), engine.Who{})
	for range 2 {
		for _, s := range []struct {
			cs   *mcp.ClientSession
			sees bool
		}{{alice, true}, {public, false}} {
			var p paths
			call(t, s.cs, "search", map[string]any{"query": "quarterly bonus pool salaries"}, &p)
			if got := slices.Contains(p.all(), "salaries.md"); got != s.sees {
				t.Errorf("search sees salaries.md: %v, want %v", got, s.sees)
			}
			if text, isErr := call(t, s.cs, "get", map[string]any{"citation": "salaries.md"}, nil); isErr == s.sees || strings.Contains(text, "nine percent") != s.sees {
				t.Errorf("get: error %v, %q", isErr, text)
			}
			var st Status
			if call(t, s.cs, "status", map[string]any{}, &st); st.Files != map[bool]int{true: 4, false: 3}[s.sees] {
				t.Errorf("status: %d files", st.Files)
			}
		}
	}
}

// TestErrorTextUnset: without ErrorText a tool's error is the error's own
// text.
func TestErrorTextUnset(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := options()
	o.ErrorText = nil
	cs := f.connect(t, o, engine.Who{})
	if text, isErr := call(t, cs, "get", map[string]any{"citation": "nope.md"}, nil); !isErr || text != "nope.md is not in the index" {
		t.Errorf("error %v, %q", isErr, text)
	}
}

// TestFilterTools: every tool takes a filter that narrows the call as
// --filter does, within what the session serves (a served filter stays:
// a call's filter narrows it further); a malformed one is the call's
// error, naming the character.
func TestFilterTools(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	served, err := filter.ParseAll([]string{"path!=kettle.md"})
	if err != nil {
		t.Fatal(err)
	}
	cs := f.connect(t, options(), engine.Who{Filter: served})
	for tool, args := range map[string]map[string]any{
		"search":    {"query": "kettle boils water uploads parts retries", "k": 10},
		"get":       {"citation": "uploads.md"},
		"multi_get": {"targets": []string{"*.md"}},
		"ask":       {"question": "How are large uploads sent?"},
	} {
		args["filter"] = []string{"collection=wiki"}
		var p paths
		text, isErr := call(t, cs, tool, args, &p)
		for _, got := range p.all() {
			if got != "uploads.md" {
				t.Errorf("%s filtered to wiki but not kettle.md: %s: %s", tool, got, text)
			}
		}
		if isErr || tool != "ask" && !slices.Contains(p.all(), "uploads.md") {
			t.Errorf("%s: %v, %v: %s", tool, isErr, p.all(), text)
		}
		args["filter"] = []string{"size>big"}
		if text, isErr := call(t, cs, tool, args, &p); !isErr || !strings.Contains(text, "at character 6") {
			t.Errorf("%s with a malformed filter: %v %q", tool, isErr, text)
		}
	}
}
