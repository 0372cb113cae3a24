package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/engine"
)

// TestServeFilter: a request's filter narrows search, ask, get and
// multi-get as --filter does, within what the caller may see, and a
// malformed one is a bad request that names the bad character.
func TestServeFilter(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		token, filter string
		want          []string
	}{
		{"rag_alice", `["path=guide.md"]`, []string{"guide.md"}},
		{"rag_alice", `["collection=private"]`, []string{"salaries.md"}},
		{"rag_alice", `["collection=private|path=g*"]`, []string{"guide.md", "salaries.md"}},
		{"rag_alice", `["collection=private", "path=g*"]`, nil},
		{"rag_bob", `["collection=private"]`, nil},
		{"", `["type=md", "size<1KB"]`, []string{"guide.md"}},
	} {
		for _, mode := range []string{"lexical", "hybrid"} {
			var rep engine.SearchReport
			f.ok("POST", "/v1/search", tc.token, `{"query":"zebracorn bonus retry policy","k":10,"mode":"`+mode+`","filter":`+tc.filter+`}`, &rep)
			got := paths(rep)
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s, token %q, filter %s: results %v, want %v", mode, tc.token, tc.filter, got, tc.want)
			}
		}
	}
	var ask engine.AskReport
	f.ok("POST", "/v1/ask", "rag_alice", `{"question":"When is the zebracorn bonus paid?","mode":"lexical","filter":["path=guide.md"]}`, &ask)
	for _, s := range ask.Sources {
		if s.Path != "guide.md" {
			t.Errorf("ask filtered to guide.md has source %s", s.Path)
		}
	}
	f.fails(http.StatusNotFound, "not_found", "POST", "/v1/get", "rag_alice", `{"target":"salaries.md","filter":["path=guide.md"]}`)
	f.ok("POST", "/v1/get", "rag_alice", `{"target":"salaries.md","filter":["collection=private"]}`, nil)
	var mg engine.MultiGetResult
	f.ok("POST", "/v1/multi-get", "rag_alice", `{"targets":["*.md"],"filter":["title=Salaries|title=salaries"]}`, &mg)
	for _, it := range mg.Items {
		if it.Document != nil && it.Document.Path != "salaries.md" {
			t.Errorf("multi-get filtered to salaries: %s", it.Document.Path)
		}
	}
	for _, path := range []string{"/v1/search", "/v1/ask", "/v1/get", "/v1/multi-get"} {
		body := `{"query":"x","question":"x","target":"x","filter":["tags~prod"]}`
		switch path {
		case "/v1/search":
			body = `{"query":"x","filter":["tags~prod"]}`
		case "/v1/ask":
			body = `{"question":"x","filter":["tags~prod"]}`
		case "/v1/get":
			body = `{"target":"x","filter":["tags~prod"]}`
		case "/v1/multi-get":
			body = `{"targets":["x"],"filter":["tags~prod"]}`
		}
		if msg := f.fails(http.StatusBadRequest, "bad_request", "POST", path, "", body); !strings.Contains(msg, "at character 5") {
			t.Errorf("%s: %q, want the character", path, msg)
		}
	}
}
