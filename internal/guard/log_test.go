package guard

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAccessLog(t *testing.T) {
	const secret = "Bearer x-sekret-token"
	for _, logQueries := range []bool{false, true} {
		var log bytes.Buffer
		mux := http.NewServeMux()
		mux.HandleFunc("POST /v1/search", func(w http.ResponseWriter, r *http.Request) {
			WithQuery(r.Context(), "what is hybrid search")
			WithPrincipal(r.Context(), "alice")
			ok(w, r)
		})
		h := Chain(Limits{MaxBody: 1 << 10, RatePerMin: 60, Burst: 1},
			func(r *http.Request) string { return r.Header.Get("Authorization") },
			func(*http.Request) string { return "anonymous" }, &log, logQueries, nil, newClock().now)(mux)
		for _, path := range []string{"/v1/search?token=x-sekret-token", "/v1/search"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"query":"body-sekret"}`))
			req.Header.Set("Authorization", secret)
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/nowhere", nil))

		out := log.String()
		if strings.Contains(out, "sekret") {
			t.Fatalf("the log holds a secret:\n%s", out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d lines, want one per request:\n%s", len(lines), out)
		}
		want := []struct {
			principal, reason string
			status            float64
		}{{"alice", "", 200}, {"anonymous", "rate", 429}, {"anonymous", "", 404}}
		for i, line := range lines {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
			}
			for _, f := range []string{"time", "method", "route", "principal", "status", "duration_ms", "bytes"} {
				if _, ok := e[f]; !ok {
					t.Errorf("line %d lacks %s: %s", i, f, line)
				}
			}
			if e["principal"] != want[i].principal || e["status"] != want[i].status {
				t.Errorf("line %d: principal %v status %v, want %v", i, e["principal"], e["status"], want[i])
			}
			if r, _ := e["rejected"].(string); r != want[i].reason { // absent is ""
				t.Errorf("line %d: rejected %q, want %q", i, r, want[i].reason)
			}
			if strings.Contains(e["route"].(string), "?") { // checked present above
				t.Errorf("line %d: the route carries the query string: %s", i, line)
			}
			q, hasQ := e["query"]
			if wantQ := logQueries && i == 0; hasQ != wantQ || (wantQ && q != "what is hybrid search") {
				t.Errorf("logQueries=%v line %d: query %v", logQueries, i, q)
			}
		}
	}
}

func TestMetrics(t *testing.T) {
	m := NewMetrics(func() (int, int) { return 3, 42 })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/search", ok)
	mux.HandleFunc("GET /v1/docs/{id}", ok)
	h := Chain(Limits{RatePerMin: 60, Burst: 3, MaxBody: 4}, nil, nil, nil, false, m, newClock().now)(mux)
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/v1/search", nil),
		httptest.NewRequest(http.MethodGet, "/v1/docs/a1?x=1", strings.NewReader("too large")),
		httptest.NewRequest(http.MethodGet, "/v1/docs/b2", nil),
		httptest.NewRequest(http.MethodPost, "/v1/search", nil), // past the burst: 429, before routing
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{
		`rag_http_requests_total{route="/v1/search",status="200"} 1`,
		`rag_http_requests_total{route="/v1/docs/a1",status="413"} 1`,
		`rag_http_requests_total{route="/v1/search",status="429"} 1`,
		`rag_http_request_duration_seconds_bucket{route="/v1/search",le="0.005"}`,
		`rag_http_request_duration_seconds_count{route="/v1/search"} 2`,
		`rag_http_requests_total{route="/v1/docs/{id}",status="200"} 1`,
		"rag_http_in_flight 0",
		"rag_index_files 3",
		"rag_index_chunks 42",
		`rag_http_rejected_total{reason="too_large"} 1`,
		`rag_http_rejected_total{reason="rate"} 1`,
		`rag_http_rejected_total{reason="busy"} 0`,
		`rag_http_rejected_total{reason="timeout"} 0`,
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, "b2") {
		t.Error("a matched route is labelled by its path, not its pattern")
	}
}

func TestRouteLabelBounded(t *testing.T) {
	m := NewMetrics(nil)
	for i := range maxRoutes + 10 {
		m.route("", "/x"+strings.Repeat("y", i))
	}
	if got := m.route("", "/new"); got != "other" {
		t.Errorf("route %q past the bound, want other", got)
	}
	if got := m.route("GET /v1/docs/{id}", "/v1/docs/1"); got != "/v1/docs/{id}" {
		t.Errorf("pattern label %q", got)
	}
}

func BenchmarkChain(b *testing.B) {
	m := NewMetrics(func() (int, int) { return 1, 1 })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/search", ok)
	limits := Limits{MaxBody: 1 << 20, Timeout: time.Minute, RatePerMin: 1e9, Burst: 1e9, MaxInFlight: 64}
	key := func(*http.Request) string { return "k" }
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"chain", Chain(limits, key, nil, io.Discard, false, m, nil)(mux)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/search", strings.NewReader(`{"query":"q","k":10}`))
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
