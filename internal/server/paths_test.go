package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/engine"
)

// TestServeHidesPaths: no answer to a caller without the admin right
// names a folder of the server's disk, streams and mounts (MCP) included;
// the folders read as their names, and an admin sees them.
func TestServeHidesPaths(t *testing.T) {
	var f *fixture
	f = newFixture(t, func(c *Config) {
		// A mount that names the folders, as MCP's answers do.
		c.MCP = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := json.Marshal(map[string]string{"index": f.dir, "file": f.docs + "/pub/guide.md"})
			if err != nil {
				t.Error(err)
			}
			_, _ = w.Write(b)
		})
	})
	requests := []struct{ method, path, body string }{
		{"POST", "/v1/search", `{"query":"zebracorn retry policy","k":5,"mode":"lexical"}`},
		{"POST", "/v1/search", `{"query":"zebracorn retry policy","k":5,"mode":"dense"}`},
		{"POST", "/v1/search", `{"query":"zebracorn retry policy","k":5,"mode":"hybrid"}`},
		{"POST", "/v1/ask", `{"question":"When is the zebracorn bonus paid?","mode":"lexical"}`},
		{"POST", "/v1/ask", `{"question":"When is the zebracorn bonus paid?","mode":"lexical","stream":"ndjson"}`},
		{"POST", "/v1/ask", `{"question":"When is the zebracorn bonus paid?","mode":"lexical","stream":"sse"}`},
		{"POST", "/v1/get", `{"target":"guide.md"}`},
		{"POST", "/v1/multi-get", `{"targets":["guide.md","salaries.md"]}`},
		{"GET", "/v1/status", ""},
		{"GET", "/v1/collections", ""},
		{"POST", "/mcp", ""},
	}
	for _, token := range []string{"", "rag_alice"} {
		for _, rq := range requests {
			t.Run(fmt.Sprintf("%s %s %s by %q", rq.method, rq.path, rq.body, token), func(t *testing.T) {
				status, _, b := f.do(rq.method, rq.path, token, rq.body)
				if status != http.StatusOK {
					t.Fatalf("status %d: %s", status, b)
				}
				for _, p := range []string{f.docs, f.dir} {
					if strings.Contains(string(b), p) {
						t.Errorf("the answer names %s:\n%s", p, b)
					}
				}
			})
		}
	}
	var rep engine.SearchReport
	f.ok("POST", "/v1/search", "rag_alice", `{"query":"zebracorn","mode":"lexical"}`, &rep)
	if len(rep.Results) != 1 || rep.Results[0].Root != "private" {
		t.Errorf("alice's search: %+v, want the root named private", rep.Results)
	}
	var st engine.StatusReport
	f.ok("GET", "/v1/status", "rag_admin", "", &st)
	if st.Index != f.dir {
		t.Errorf("the admin's status names the index %q, want %q", st.Index, f.dir)
	}
}
