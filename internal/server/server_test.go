package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/store"
)

func TestServeRoutes(t *testing.T) {
	f := newFixture(t, nil)
	var health map[string]bool
	f.ok("GET", "/healthz", "", "", &health)
	if !health["ok"] {
		t.Errorf("healthz: %v", health)
	}

	var rep engine.SearchReport
	f.ok("POST", "/v1/search", "", `{"query":"retry policy","k":3,"mode":"lexical"}`, &rep)
	if rep.Mode != "lexical" || rep.Query != "retry policy" || len(rep.Results) != 1 || !strings.HasSuffix(rep.Results[0].Path, "guide.md") {
		t.Errorf("search: %+v", rep)
	}

	var ask engine.AskReport
	f.ok("POST", "/v1/ask", "rag_alice", `{"question":"When is the zebracorn bonus paid?","mode":"lexical"}`, &ask)
	if ask.Result == nil || ask.Abstained || !strings.Contains(ask.Answer, "March") || len(ask.Sources) == 0 || ask.Model != testChat {
		t.Errorf("ask: %+v", ask)
	}

	var doc engine.Document
	f.ok("POST", "/v1/get", "", `{"target":"guide.md:3"}`, &doc)
	if doc.Path != "guide.md" || len(doc.Sections) == 0 {
		t.Errorf("get: %+v", doc)
	}

	var mg engine.MultiGetResult
	f.ok("POST", "/v1/multi-get", "rag_alice", `{"targets":["guide.md","salaries.md","nothing.md"],"max_bytes":10000}`, &mg)
	if len(mg.Items) != 3 || mg.Items[0].Document == nil || mg.Items[1].Document == nil || mg.Items[2].Error == "" || mg.MaxBytes != 10000 {
		t.Errorf("multi-get: %+v", mg)
	}

	var st engine.StatusReport
	f.ok("GET", "/v1/status", "", "", &st)
	if st.Files != 1 {
		t.Errorf("status of a public caller: %d files, want 1", st.Files)
	}
	f.ok("GET", "/v1/status", "rag_alice", "", &st)
	if st.Files != 2 {
		t.Errorf("status of alice: %d files, want 2", st.Files)
	}

	var cols collectionsReport
	f.ok("GET", "/v1/collections", "", "", &cols)
	if !slices.Equal(cols.Collections, []string{"pub"}) {
		t.Errorf("collections of a public caller: %v", cols.Collections)
	}
	f.ok("GET", "/v1/collections", "rag_alice", "", &cols)
	if !slices.Equal(cols.Collections, []string{"private", "pub"}) {
		t.Errorf("collections of alice: %v", cols.Collections)
	}

	f.fails(http.StatusForbidden, "forbidden", "POST", "/v1/index", "rag_alice", "")
	f.fails(http.StatusForbidden, "forbidden", "POST", "/v1/index", "", "")
	var ix engine.IndexReport
	f.ok("POST", "/v1/index", "rag_admin", "", &ix)
	if ix.TotalFiles != 2 || ix.Unchanged != 2 {
		t.Errorf("index: %+v", ix)
	}

	f.fails(http.StatusNotFound, "not_found", "GET", "/v1/nothing", "", "")
	f.fails(http.StatusMethodNotAllowed, "method_not_allowed", "GET", "/v1/search", "", "")
}

// TestServeCallerSeesOwn: each caller sees its documents alone, whatever
// it asks for.
func TestServeCallerSeesOwn(t *testing.T) {
	f := newFixture(t, nil)
	for _, mode := range []string{"lexical", "dense", "hybrid"} {
		for _, tc := range []struct {
			token   string
			private bool
		}{{"", false}, {"rag_bob", false}, {"rag_alice", true}} {
			var rep engine.SearchReport
			f.ok("POST", "/v1/search", tc.token, `{"query":"zebracorn bonus","k":10,"mode":"`+mode+`"}`, &rep)
			if got := slices.Contains(paths(rep), "salaries.md"); got != tc.private {
				t.Errorf("%s, token %q: results %v", mode, tc.token, paths(rep))
			}
		}
	}
	f.fails(http.StatusNotFound, "not_found", "POST", "/v1/get", "rag_bob", `{"target":"salaries.md"}`)
	f.fails(http.StatusBadRequest, "bad_request", "POST", "/v1/search", "rag_bob", `{"query":"bonus","collections":["private"]}`)
	var ask engine.AskReport
	f.ok("POST", "/v1/ask", "rag_bob", `{"question":"When is the zebracorn bonus paid?","mode":"lexical"}`, &ask)
	if !ask.Abstained {
		t.Errorf("bob's ask: %+v", ask)
	}
	var rep engine.SearchReport
	f.ok("POST", "/v1/search", "rag_alice", `{"query":"zebracorn","mode":"lexical","collections":["pub"]}`, &rep)
	if len(rep.Results) != 0 {
		t.Errorf("alice narrowed to pub: %v", paths(rep))
	}
}

func TestServeAuth(t *testing.T) {
	f := newFixture(t, nil)
	msg := f.fails(http.StatusUnauthorized, "unauthorized", "POST", "/v1/search", "rag_nobody", `{"query":"retry"}`)
	if strings.Contains(msg, "rag_nobody") {
		t.Errorf("the secret is in the error: %s", msg)
	}
	f.fails(http.StatusUnauthorized, "unauthorized", "GET", "/v1/status", "", "", "Authorization", "Basic YTpi")
	// A wrong token is never served as public, on any route.
	f.fails(http.StatusUnauthorized, "unauthorized", "GET", "/v1/collections", "wrong", "")

	r := newFixture(t, func(c *Config) { c.Auth = BearerAuth(tokens, true, testNow) })
	r.fails(http.StatusUnauthorized, "unauthorized", "POST", "/v1/search", "", `{"query":"retry"}`)
	r.ok("POST", "/v1/search", "rag_bob", `{"query":"retry"}`, nil)
	r.ok("GET", "/healthz", "", "", nil)

	// No tokens file: public callers only; a token is refused.
	n := newFixture(t, func(c *Config) { c.Auth = BearerAuth(nil, false, testNow) })
	n.ok("POST", "/v1/search", "", `{"query":"retry"}`, nil)
	n.fails(http.StatusUnauthorized, "unauthorized", "POST", "/v1/search", "rag_alice", `{"query":"retry"}`)
}

func TestServeBadRequests(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/search", `{"query":"retry","as":"user:alice"}`, `field "as" is refused`},
		{"/v1/search", `{"query":"retry","tenant":"acme"}`, `field "tenant" is refused`},
		{"/v1/ask", `{"question":"q","as":"user:alice"}`, `field "as" is refused`},
		{"/v1/search", `{"query":"retry","colour":"red"}`, `unknown field "colour"`},
		{"/v1/search", `{"query":"retry"`, "malformed JSON"},
		{"/v1/search", `{"query":retry}`, "malformed JSON"},
		{"/v1/search", `{"query":"a"} {"query":"b"}`, "more than one JSON object"},
		{"/v1/search", `["retry"]`, "must be a JSON object"},
		{"/v1/search", `{"query":7}`, `field "query"`},
		{"/v1/search", `{"query":"  "}`, "query is empty"},
		{"/v1/search", `{}`, "query is empty"},
		{"/v1/search", `{"query":"retry","k":-1}`, "k must be from 1 to 50"},
		{"/v1/search", `{"query":"retry","k":51}`, "k must be from 1 to 50"},
		{"/v1/search", `{"query":"retry","mode":"fuzzy"}`, "mode:"},
		{"/v1/search", `{"query":"retry","fusion":"max"}`, "fusion:"},
		{"/v1/search", `{"query":"` + strings.Repeat("x", DefaultMaxQuery+1) + `"}`, "longer than"},
		{"/v1/ask", `{"question":"q","stream":"websocket"}`, "stream:"},
		{"/v1/ask", `{"question":"q","min_score":"high"}`, `field "min_score"`},
		{"/v1/get", `{"target":""}`, "target is empty"},
		{"/v1/multi-get", `{"targets":["a"],"max_bytes":-1}`, "max_bytes"},
		{"/v1/search", `{"query":"retry","collections":[""]}`, "collections"},
		{"/v1/index", `{"paths":["/etc"]}`, `unknown field "paths"`},
	} {
		token := ""
		if tc.path == "/v1/index" {
			token = "rag_admin"
		}
		if msg := f.fails(http.StatusBadRequest, "bad_request", "POST", tc.path, token, tc.body); !strings.Contains(msg, tc.want) {
			t.Errorf("%s %.60s: %q, want %q", tc.path, tc.body, msg, tc.want)
		}
	}
	f.fails(http.StatusBadRequest, "bad_request", "POST", "/v1/search", "", `{"query":"retry","collections":["nope"]}`)
	f.fails(http.StatusRequestEntityTooLarge, "too_large", "POST", "/v1/search", "", `{"query":"`+strings.Repeat("x", MaxBody)+`"}`)
	f.fails(http.StatusNotFound, "not_found", "POST", "/v1/get", "", `{"target":"nothing.md"}`)
}

func TestServeStream(t *testing.T) {
	f := newFixture(t, nil)
	status, h, b := f.do("POST", "/v1/ask", "", `{"question":"What does the retry policy wait?","mode":"lexical","stream":"ndjson"}`)
	if status != http.StatusOK || h.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("ndjson: %d %s: %s", status, h.Get("Content-Type"), b)
	}
	var types []string
	var text strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	var last map[string]json.RawMessage
	for sc.Scan() {
		last = nil
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		var typ, tok string
		if err := json.Unmarshal(last["type"], &typ); err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
		if typ == "token" {
			if err := json.Unmarshal(last["text"], &tok); err != nil {
				t.Fatal(err)
			}
			text.WriteString(tok)
		}
	}
	if len(types) < 3 || types[len(types)-1] != "result" || slices.Contains(types[:len(types)-1], "result") || slices.ContainsFunc(types[:len(types)-1], func(s string) bool { return s != "token" }) {
		t.Fatalf("ndjson types: %v", types)
	}
	var rep engine.AskReport
	if err := json.Unmarshal(last["result"], &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Result == nil || rep.Answer != text.String() || len(rep.Sources) == 0 {
		t.Errorf("the tokens %q are not the result's answer %+v", text.String(), rep)
	}

	status, h, b = f.do("POST", "/v1/ask", "", `{"question":"What does the retry policy wait?","mode":"lexical","stream":"sse"}`)
	if status != http.StatusOK || h.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("sse: %d %s: %s", status, h.Get("Content-Type"), b)
	}
	events := strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n")
	for i, ev := range events {
		name, data, ok := strings.Cut(ev, "\n")
		want := "event: token"
		if i == len(events)-1 {
			want = "event: result"
		}
		if !ok || name != want || !strings.HasPrefix(data, "data: {") || !json.Valid([]byte(strings.TrimPrefix(data, "data: "))) {
			t.Fatalf("sse event %d: %q", i, ev)
		}
	}
	if len(events) < 3 {
		t.Errorf("sse: %d events", len(events))
	}
	// An error before any piece is sent has its status.
	f.fails(http.StatusBadRequest, "bad_request", "POST", "/v1/ask", "", `{"question":"q","stream":"ndjson","collections":["nope"]}`)
}

func TestServeHostOrigin(t *testing.T) {
	f := newFixture(t, nil)
	port := f.cfg.Addr[strings.LastIndex(f.cfg.Addr, ":"):]
	for _, host := range []string{"localhost" + port, "LOCALHOST" + port, "[::1]" + port, f.cfg.Addr} {
		f.ok("GET", "/healthz", "", "", nil)
		if status, _, b := f.do("GET", "/v1/collections", "", "", "Host", host); status != http.StatusOK {
			t.Errorf("host %s: %d %s", host, status, b)
		}
	}
	for _, host := range []string{"evil.example" + port, "evil.example", "localhost:1", "127.0.0.1", "attacker.com:80"} {
		f.fails(http.StatusForbidden, "forbidden", "GET", "/v1/collections", "", "", "Host", host)
	}
	f.fails(http.StatusForbidden, "forbidden", "POST", "/v1/search", "", `{"query":"retry"}`, "Origin", "http://evil.example")
	f.fails(http.StatusForbidden, "forbidden", "POST", "/v1/search", "", `{"query":"retry"}`, "Origin", "null")
	f.fails(http.StatusForbidden, "forbidden", "POST", "/v1/search", "", `{"query":"retry"}`, "Origin", "http://localhost:1")
	status, h, _ := f.do("POST", "/v1/search", "", `{"query":"retry"}`, "Origin", "http://"+f.cfg.Addr)
	if status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same origin: %d, CORS %q", status, h.Get("Access-Control-Allow-Origin"))
	}

	a := newFixture(t, func(c *Config) {
		c.AllowHosts = []string{"rag.example.org"}
		c.AllowOrigins = []string{"https://app.example.org"}
	})
	a.ok("GET", "/healthz", "", "", nil)
	if status, _, b := a.do("GET", "/v1/collections", "", "", "Host", "rag.example.org"); status != http.StatusOK {
		t.Errorf("allowed host: %d %s", status, b)
	}
	status, h, _ = a.do("POST", "/v1/search", "", `{"query":"retry"}`, "Origin", "https://app.example.org")
	if status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "https://app.example.org" {
		t.Errorf("allowed origin: %d, CORS %q", status, h.Get("Access-Control-Allow-Origin"))
	}
	status, h, _ = a.do("OPTIONS", "/v1/search", "", "", "Origin", "https://app.example.org", "Access-Control-Request-Method", "POST")
	if status != http.StatusNoContent || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", status, h)
	}
	a.fails(http.StatusForbidden, "forbidden", "POST", "/v1/search", "", `{"query":"retry"}`, "Origin", "https://evil.example.org")
}

// TestServeSeesCommit: a commit by another writer between two requests
// is what the second one reads.
func TestServeSeesCommit(t *testing.T) {
	for _, idle := range []int{0, -1} {
		t.Run(fmt.Sprintf("idle readers %d", idle), func(t *testing.T) {
			seesCommit(t, newFixture(t, func(c *Config) { c.IdleReaders = idle }))
		})
	}
}

func seesCommit(t *testing.T, f *fixture) {
	var rep engine.SearchReport
	f.ok("POST", "/v1/search", "", `{"query":"quokka","mode":"lexical"}`, &rep)
	if len(rep.Results) != 0 {
		t.Fatalf("before: %v", paths(rep))
	}
	more := filepath.Join(f.docs, "more")
	writeFile(t, filepath.Join(more, "animals.md"), "# Animals\n\nThe quokka smiles.\n")
	indexSources(t, f.client, f.dir, store.Source{Path: more, Allow: []string{"public"}})
	f.ok("POST", "/v1/search", "", `{"query":"quokka","mode":"lexical"}`, &rep)
	if !slices.Contains(paths(rep), "animals.md") {
		t.Errorf("after the commit: %v", paths(rep))
	}
}

func TestServeMounts(t *testing.T) {
	mount := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := CallerFrom(r.Context())
			w.Header().Set("X-Mount", name+" "+c.Who.As)
		})
	}
	guarded := 0
	f := newFixture(t, func(c *Config) {
		c.MCP, c.Metrics, c.Page = mount("mcp"), mount("metrics"), mount("page")
		c.Guard = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				guarded++
				next.ServeHTTP(w, r)
			})
		}
	})
	// The page is the root alone: /app.js is no route (the error JSON).
	for path, want := range map[string]string{"/mcp": "mcp user:alice", "/metrics": "metrics user:alice", "/": "page user:alice", "/app.js": ""} {
		method := "GET"
		if path == "/mcp" {
			method = "POST"
		}
		if _, h, _ := f.do(method, path, "rag_alice", ""); h.Get("X-Mount") != want {
			t.Errorf("%s: %q, want %q", path, h.Get("X-Mount"), want)
		}
	}
	f.fails(http.StatusUnauthorized, "unauthorized", "POST", "/mcp", "wrong", "")
	if guarded != 5 {
		t.Errorf("the guard saw %d requests, want 5", guarded)
	}
}

// TestServeConcurrent: concurrent callers each get their own reader (run
// with -race), and each sees its own documents.
func TestServeConcurrent(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IdleReaders = 2 })
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			token := []string{"", "rag_alice", "rag_bob"}[i%3]
			var rep engine.SearchReport
			status, _, b := f.do("POST", "/v1/search", token, `{"query":"zebracorn bonus","mode":"lexical"}`)
			if err := json.Unmarshal(b, &rep); status != http.StatusOK || err != nil {
				t.Errorf("%d %v: %s", status, err, b)
				return
			}
			if got := slices.Contains(paths(rep), "salaries.md"); got != (token == "rag_alice") {
				t.Errorf("token %q: %v", token, paths(rep))
			}
		})
	}
	wg.Wait()
}
