package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rag-cli/rag/pkg/engine"
)

// tokens are the test server's: a token says who calls.
var tokens = map[string]engine.Who{"alice-token": {As: "user:alice"}, "bob-token": {As: "user:bob"}}

var errToken = errors.New("unknown token")

// whoOf is the test server's token check: no token is the public, an
// unknown one an error.
func whoOf(r *http.Request) (engine.Who, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return engine.Who{}, nil
	}
	w, ok := tokens[strings.TrimPrefix(h, "Bearer ")]
	if !ok {
		return engine.Who{}, errToken
	}
	return w, nil
}

// bearer adds a token to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.base.RoundTrip(r)
}

// httpFixture serves the fixture's index (with bob's roadmap.md beside
// alice's salaries.md) over HTTP.
type httpFixture struct {
	*fixture
	h   *Handler
	url string
}

func newHTTPFixture(t *testing.T) *httpFixture {
	t.Helper()
	f := newFixtureWith(t, map[string]string{
		"handbook/roadmap.md": "---\naccess: [user:bob]\n---\n# Roadmap\n\nThe quarterly roadmap ships the bonus calculator in spring.\n",
	})
	h := HTTPHandler(f.e, options(), whoOf)
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.Close()
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return &httpFixture{fixture: f, h: h, url: ts.URL}
}

// dial connects a client to the server with token ("" none).
func (f *httpFixture) dial(t *testing.T, token string) (*mcp.ClientSession, error) {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: f.url, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token: token, base: http.DefaultTransport}}}
	return mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), tr, nil)
}

func (f *httpFixture) connect(t *testing.T, token string) *mcp.ClientSession {
	t.Helper()
	cs, err := f.dial(t, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cs.Close(); err != nil {
			t.Error(err)
		}
	})
	return cs
}

// TestHTTPPrincipals: over HTTP every tool answers from the share of who
// the token says calls: alice sees her salaries.md and not bob's
// roadmap.md, bob the other way round, a caller without a token neither.
func TestHTTPPrincipals(t *testing.T) {
	t.Parallel()
	f := newHTTPFixture(t)
	for _, c := range []struct {
		token        string
		own, foreign []string
		files        int
	}{
		{"alice-token", []string{"salaries.md"}, []string{"roadmap.md"}, 4},
		{"bob-token", []string{"roadmap.md"}, []string{"salaries.md"}, 4},
		{"", nil, []string{"salaries.md", "roadmap.md"}, 3},
	} {
		cs := f.connect(t, c.token)
		var names []string
		for tl, err := range cs.Tools(context.Background(), nil) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, tl.Name)
		}
		if got := strings.Join(names, ","); got != "ask,get,multi_get,search,status" {
			t.Errorf("%q: tools %s", c.token, got)
		}
		secret := func(tool, text string, p paths) {
			t.Helper()
			for _, path := range c.foreign {
				if slices.Contains(p.all(), path) || strings.Contains(text, "nine percent") && path == "salaries.md" ||
					strings.Contains(text, "in spring") && path == "roadmap.md" {
					t.Errorf("%q: %s read %s: %v: %s", c.token, tool, path, p.all(), text)
				}
			}
		}
		query := map[string]any{"query": "quarterly bonus pool roadmap calculator salaries", "k": 10}
		var p paths
		text, isErr := call(t, cs, "search", query, &p)
		secret("search", text, p)
		for _, path := range c.own {
			if isErr || !slices.Contains(p.all(), path) {
				t.Errorf("%q: search misses %s: error %v, %v", c.token, path, isErr, p.all())
			}
		}
		for _, path := range []string{"salaries.md", "roadmap.md"} {
			p = paths{}
			text, isErr := call(t, cs, "get", map[string]any{"citation": path}, &p)
			secret("get", text, p)
			if own := slices.Contains(c.own, path); isErr == own {
				t.Errorf("%q: get %s: error %v: %s", c.token, path, isErr, text)
			}
		}
		p = paths{}
		text, _ = call(t, cs, "multi_get", map[string]any{"targets": []string{"*.md"}}, &p)
		secret("multi_get", text, p)
		if len(p.all()) != c.files {
			t.Errorf("%q: multi_get %v", c.token, p.all())
		}
		for _, q := range []string{"How large is the quarterly bonus pool?", "What does the quarterly roadmap ship in spring?"} {
			p = paths{}
			text, isErr = call(t, cs, "ask", map[string]any{"question": q}, &p)
			secret("ask", text, p)
			if isErr {
				t.Errorf("%q: ask: %s", c.token, text)
			}
		}
		var st Status
		if call(t, cs, "status", map[string]any{}, &st); st.Files != c.files {
			t.Errorf("%q: status: %d files", c.token, st.Files)
		}
	}
}

// post sends one JSON-RPC message to the server as a client of the
// protocol would, with token and session id ("" none).
func (f *httpFixture) post(t *testing.T, token, session, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set(sessionHeader, session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	return resp, string(data)
}

const searchSalaries = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search","arguments":{"query":"quarterly bonus pool salaries"}}}`

// TestHTTPSessionBound: a session is served to the caller that opened it
// alone: its id sent with another's token, or none, is 403 and reads
// nothing, whoever opened it (the public's session too: the SDK's own
// check would let any token use it); with the opener's token it serves.
func TestHTTPSessionBound(t *testing.T) {
	t.Parallel()
	f := newHTTPFixture(t)
	for opener, others := range map[string][]string{"alice-token": {"bob-token", ""}, "": {"alice-token", "bob-token"}} {
		cs := f.connect(t, opener)
		id := cs.ID()
		if id == "" {
			t.Fatal("no session id")
		}
		for _, other := range others {
			resp, body := f.post(t, other, id, searchSalaries)
			if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "nine percent") || !strings.Contains(body, `"code":"forbidden"`) {
				t.Errorf("session of %q with %q: %s: %s", opener, other, resp.Status, body)
			}
		}
		resp, body := f.post(t, opener, id, searchSalaries)
		if resp.StatusCode != http.StatusOK || strings.Contains(body, "nine percent") != (opener == "alice-token") {
			t.Errorf("session of %q with its own token: %s: %s", opener, resp.Status, body)
		}
	}
	// A session id the server never gave is the SDK's 404.
	if resp, body := f.post(t, "alice-token", "nope", searchSalaries); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown session: %s: %s", resp.Status, body)
	}
}

// TestHTTPUnauthorized: a token who refuses is 401 before the SDK reads
// the request, on opening a session as on using one, and a client cannot
// connect with it.
func TestHTTPUnauthorized(t *testing.T) {
	t.Parallel()
	f := newHTTPFixture(t)
	if _, err := f.dial(t, "wrong"); err == nil {
		t.Error("connected with a wrong token")
	}
	cs := f.connect(t, "alice-token")
	for _, session := range []string{"", cs.ID()} {
		resp, body := f.post(t, "wrong", session, searchSalaries)
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != http.StatusUnauthorized || e.Error.Code != "unauthorized" ||
			e.Error.Message != errToken.Error() || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("session %q: %s: %s", session, resp.Status, body)
		}
	}
	f.h.mu.Lock()
	n := len(f.h.sessions)
	f.h.mu.Unlock()
	if n != 1 {
		t.Errorf("%d sessions, want alice's alone", n)
	}
}

// TestHTTPSessionsEnd: a session's reader opens at its first call and
// closes when the client ends the session; Close ends the others, and a
// session opened after it is refused.
func TestHTTPSessionsEnd(t *testing.T) {
	t.Parallel()
	f := newHTTPFixture(t)
	sessions := func() []*httpSession {
		f.h.mu.Lock()
		defer f.h.mu.Unlock()
		return slices.Collect(maps.Values(f.h.sessions))
	}
	ended, err := f.dial(t, "alice-token")
	if err != nil {
		t.Fatal(err)
	}
	kept := f.connect(t, "bob-token")
	call(t, ended, "status", map[string]any{}, nil)
	call(t, kept, "status", map[string]any{}, nil)
	if got := sessions(); len(got) != 2 || got[0].s.r == nil || got[1].s.r == nil {
		t.Fatalf("sessions %v", got)
	}
	if err := ended.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(sessions()) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the ended session stays: %d sessions", len(sessions()))
		}
	}
	s := sessions()[0]
	if err := f.h.Close(); err != nil {
		t.Fatal(err)
	}
	if len(sessions()) != 0 || s.s.r == nil {
		t.Errorf("after Close: %d sessions", len(sessions()))
	}
	if resp, body := f.post(t, "bob-token", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %s: %s", resp.Status, body)
	}
}
