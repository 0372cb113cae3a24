package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// misbehaving starts a model server that answers path with handler and
// passes every other request to h's fake server, and returns h pointed
// at it.
func misbehaving(t *testing.T, h *harness, path string, handler http.HandlerFunc) *harness {
	t.Helper()
	u, err := url.Parse(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			handler(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return h.with(t, map[string]string{"OLLAMA_HOST": srv.URL})
}

// endless writes s until the client goes away, paced so that a client
// that does not stop grows by some 50 MB a second, not by all it can.
func endless(w http.ResponseWriter, r *http.Request, s string) {
	block := strings.Repeat(s, max(1, (1<<20)/len(s)))
	for {
		if _, err := io.WriteString(w, block); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func chatPiece(content string, done bool, reason string) string {
	return fmt.Sprintf(`{"model":%q,"message":{"role":"assistant","content":%q},"done":%v,"done_reason":%q}`+"\n", chatModel, content, done, reason)
}

// TestMisbehavingServer: a model server that sends too much, too slowly,
// or stops mid-answer ends the command with exit 5 and a hint, soon.
func TestMisbehavingServer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	tests := []struct {
		name    string
		path    string
		handler http.HandlerFunc
		args    []string
		stderr  []string
	}{
		{"an embedding reply announcing 10 GB", "/api/embed", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(int64(10)<<30))
			endless(w, r, "0.125,")
		}, []string{"search", "--fallback=false", "retry policy"}, []string{"announced a reply of 10.0 GiB", "rag: hint: check that OLLAMA_HOST"}},
		{"an endless embedding reply", "/api/embed", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"embeddings":[[`)
			endless(w, r, "0.125,")
		}, []string{"search", "--fallback=false", "retry policy"}, []string{"longer than it can hold", "rag: hint: check that OLLAMA_HOST"}},
		{"a slow-loris embedding reply", "/api/embed", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; ; i++ {
				if _, err := io.WriteString(w, " "); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}, []string{"search", "--timeout", "500ms", "retry policy"}, []string{"did not answer within 500ms", "rag: hint: the model server is stuck or too slow", "raise --timeout (it was 500ms)"}},
		{"an answer that stops coming", "/api/chat", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, chatPiece("Retries ", false, ""))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, []string{"ask", "--model", chatModel, "--timeout", "2s", "What is the retry policy?"}, []string{"sent nothing more for 2s", "raise --timeout (it was 2s)"}},
		{"a connection closed mid-answer", "/api/chat", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, chatPiece("Retries ", false, ""))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}, []string{"ask", "--model", chatModel, "What is the retry policy?"}, []string{"closed the connection mid-answer", "rag: hint: the model server may have crashed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := misbehaving(t, h, tt.path, tt.handler)
			start := time.Now()
			r := bad.run(runOpt{}, tt.args...)
			took := time.Since(start)
			if r.code != ExitOllama || took > 20*time.Second {
				t.Fatalf("exit %d after %s, want %d soon: %s", r.code, took.Round(time.Millisecond), ExitOllama, r.stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}

// TestAnswerCutOff: an answer that reaches --max-tokens says so, on
// stderr and in --json, whether the server stops it (done_reason
// "length") or rag stops reading a server that does not.
func TestAnswerCutOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	endlessChat := misbehaving(t, h, "/api/chat", func(w http.ResponseWriter, r *http.Request) {
		endless(w, r, chatPiece("more ", false, ""))
	})
	for name, hh := range map[string]*harness{"server stops": h, "server never stops": endlessChat} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := hh.run(runOpt{}, "ask", "--model", chatModel, "--max-tokens", "3", "What is the retry policy?")
			if r.code != 0 || !strings.Contains(r.stderr, "rag: warning: the answer was cut off at --max-tokens 3") {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			r = hh.run(runOpt{}, "ask", "--model", chatModel, "--json", "--max-tokens", "3", "What is the retry policy?")
			var rep struct {
				Answer    string `json:"answer"`
				Truncated bool   `json:"truncated"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || !rep.Truncated || len(strings.Fields(rep.Answer)) != 3 {
				t.Fatalf("exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
			}
			r = hh.run(runOpt{}, "ask", "--model", chatModel, "--json", "What is the retry policy?")
			if name == "server stops" && (r.code != 0 || !strings.Contains(r.stdout, `"truncated": false`) || strings.Contains(r.stderr, "cut off")) {
				t.Fatalf("a whole answer: exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// zeroVectors answers every embedding request with vectors whose numbers
// are all 0 but the first, first.
func zeroVectors(h *harness, first string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input []string `json:"input"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		vec := "[" + first + strings.Repeat(",0", h.srv.Dims-1) + "]"
		vecs := strings.TrimSuffix(strings.Repeat(vec+",", len(req.Input)), ",")
		_, _ = io.WriteString(w, `{"model":"`+embedModel+`","embeddings":[`+vecs+`]}`)
	}
}

// TestZeroQueryVector: an embedding model that gives the query a vector
// with no direction (all zeros) leaves hybrid search its keywords, with a
// warning and no_dense_signal; dense search says there is no dense signal.
// No score is NaN: plain search printed "score NaN", --json and mcp
// failed to encode them. (JSON carries no NaN or infinity: those are
// retrieve's and store's tests.)
func TestZeroQueryVector(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	bad := misbehaving(t, h, "/api/embed", zeroVectors(h, "0"))
	r := bad.run(runOpt{}, "search", "--json", "retry policy")
	var rep struct {
		Results []struct {
			Path  string  `json:"path"`
			Score float64 `json:"score"`
		} `json:"results"`
		NoDenseSignal bool `json:"no_dense_signal"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
	}
	if !rep.NoDenseSignal || len(rep.Results) == 0 || !strings.Contains(r.stderr, "no dense signal; ranked by keywords alone") {
		t.Fatalf("no_dense_signal %v, %d results: %s", rep.NoDenseSignal, len(rep.Results), r.stderr)
	}
	r = bad.run(runOpt{}, "search", "retry policy")
	if r.code != 0 || strings.Contains(r.stdout, "NaN") || !strings.Contains(r.stdout, "score") {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	r = bad.run(runOpt{}, "search", "--mode", "dense", "retry policy")
	if r.code != ExitOllama || !strings.Contains(r.stderr, "no dense signal") || !strings.Contains(r.stderr, "rag: hint: the embedding model is broken") {
		t.Fatalf("dense: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	r = bad.run(runOpt{}, "ask", "--model", chatModel, "--json", "What is the retry policy?")
	if r.code != 0 || !strings.Contains(r.stdout, `"no_dense_signal": true`) || strings.Contains(r.stdout, "NaN") {
		t.Fatalf("ask: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	cs, _ := mcpSession(t, bad)
	var out struct {
		mcpSearchOut
		NoDenseSignal bool `json:"no_dense_signal"`
	}
	text, isErr := callTool(t, cs, "search", map[string]any{"query": "retry policy"}, &out)
	if isErr || !out.NoDenseSignal || len(out.Results) == 0 || strings.Contains(text, "NaN") || !strings.Contains(text, "ranked by keywords alone") {
		t.Fatalf("mcp search: error %v, no_dense_signal %v, %d results: %s", isErr, out.NoDenseSignal, len(out.Results), text)
	}

	// A tiny vector has a direction, but a float32 sum of its squares is
	// 0: its similarities were NaN too.
	tiny := misbehaving(t, h, "/api/embed", zeroVectors(h, "1e-44"))
	r = tiny.run(runOpt{}, "search", "--json", "--mode", "dense", "retry policy")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.NoDenseSignal || len(rep.Results) == 0 {
		t.Fatalf("tiny: exit %d, %v: %s%s", r.code, err, r.stdout, r.stderr)
	}
}
