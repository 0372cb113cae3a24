package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for the rate limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type errJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Hint    string `json:"hint"`
	} `json:"error"`
}

func decodeErr(t *testing.T, body []byte) errJSON {
	t.Helper()
	var e errJSON
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if e.Error.Message == "" || e.Error.Hint == "" {
		t.Errorf("error body %q lacks message or hint", body)
	}
	return e
}

func ok(w http.ResponseWriter, _ *http.Request) {
	if _, err := io.WriteString(w, "ok"); err != nil {
		panic(err)
	}
}

// echoLen answers the body's length, to show what a route gets after the body limit.
func echoLen(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, err := io.WriteString(w, strings.Repeat("x", len(b))); err != nil {
		panic(err)
	}
}

// unsized is a body of unknown length (chunked), which only reading can find too large.
func unsized(s string) func(*http.Request) {
	return func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(s))
		r.ContentLength = -1
	}
}

func TestLimits(t *testing.T) {
	cases := []struct {
		name       string
		limits     Limits
		handler    http.HandlerFunc
		body       string
		prep       func(*http.Request)
		repeat     int // requests sent before the one checked
		wantStatus int
		wantCode   string
		wantRetry  string
		wantBody   string
	}{
		{name: "no limits", handler: ok, wantStatus: 200, wantBody: "ok"},
		{name: "body within limit", limits: Limits{MaxBody: 10}, handler: echoLen, body: "0123456789",
			wantStatus: 200, wantBody: "xxxxxxxxxx"},
		{name: "body over limit by length", limits: Limits{MaxBody: 10}, handler: echoLen, body: "0123456789a",
			wantStatus: 413, wantCode: "too_large"},
		{name: "body over limit unsized", limits: Limits{MaxBody: 10}, handler: echoLen,
			prep: unsized("0123456789abc"), wantStatus: 413, wantCode: "too_large"},
		{name: "unsized body within limit", limits: Limits{MaxBody: 10}, handler: echoLen,
			prep: unsized("012"), wantStatus: 200, wantBody: "xxx"},
		{name: "timeout, nothing written", limits: Limits{Timeout: 20 * time.Millisecond},
			handler:    func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			wantStatus: 504, wantCode: "timeout"},
		{name: "timeout, route writes late", limits: Limits{Timeout: 20 * time.Millisecond},
			handler: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
				time.Sleep(50 * time.Millisecond) // let the guard answer first (it runs as the deadline passes)
				w.Header().Set("X-Late", "1")
				if _, err := io.WriteString(w, "late"); !errors.Is(err, http.ErrHandlerTimeout) {
					panic("late write: " + errString(err))
				}
			},
			wantStatus: 504, wantCode: "timeout"},
		{name: "timeout after the answer began", limits: Limits{Timeout: 20 * time.Millisecond},
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				<-r.Context().Done()
			},
			wantStatus: 202},
		{name: "rate limited", limits: Limits{RatePerMin: 60, Burst: 2}, handler: ok, repeat: 2,
			wantStatus: 429, wantCode: "rate_limited", wantRetry: "1"},
		{name: "rate within burst", limits: Limits{RatePerMin: 60, Burst: 2}, handler: ok, repeat: 1,
			wantStatus: 200, wantBody: "ok"},
		{name: "slow rate waits longer", limits: Limits{RatePerMin: 1, Burst: 1}, handler: ok, repeat: 1,
			wantStatus: 429, wantCode: "rate_limited", wantRetry: "60"},
		{name: "panic", handler: func(http.ResponseWriter, *http.Request) { panic("boom") },
			wantStatus: 500, wantCode: "internal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			h := Chain(tc.limits, func(*http.Request) string { return "k" }, nil, &log, false,
				NewMetrics(nil), newClock().now)(tc.handler)
			var rec *httptest.ResponseRecorder
			for range tc.repeat + 1 {
				req := httptest.NewRequest(http.MethodPost, "/v1/search", strings.NewReader(tc.body))
				if tc.prep != nil {
					tc.prep(req)
				}
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, req)
			}
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tc.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tc.wantRetry)
			}
			if tc.wantCode != "" {
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if e := decodeErr(t, rec.Body.Bytes()); e.Error.Code != tc.wantCode {
					t.Errorf("code %q, want %q", e.Error.Code, tc.wantCode)
				}
				if rec.Header().Get("X-Late") != "" {
					t.Error("a late route's header leaked into the error answer")
				}
			} else if rec.Body.String() != tc.wantBody {
				t.Errorf("body %q, want %q", rec.Body, tc.wantBody)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestRatePerKeyIndependent(t *testing.T) {
	c := newClock()
	h := Chain(Limits{RatePerMin: 60, Burst: 1}, func(r *http.Request) string { return r.Header.Get("X-Key") },
		nil, nil, false, nil, c.now)(http.HandlerFunc(ok))
	send := func(key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		req.Header.Set("X-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	steps := []struct {
		key     string
		advance time.Duration
		want    int
	}{
		{"a", 0, 200}, {"a", 0, 429}, {"b", 0, 200}, {"b", 0, 429}, {"a", 0, 429},
		{"a", time.Second, 200}, {"b", 0, 200}, {"a", 0, 429},
	}
	for i, s := range steps {
		c.add(s.advance)
		if got := send(s.key).Code; got != s.want {
			t.Fatalf("step %d (key %s): status %d, want %d", i, s.key, got, s.want)
		}
	}
}

func TestLimitersBounded(t *testing.T) {
	c := newClock()
	l := newLimiters(60, 1, 3)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		l.allow(k, c.now())
	}
	if n := l.len(); n != 3 {
		t.Fatalf("%d buckets held, want at most 3", n)
	}
	// "e" was just used: its bucket is empty and must survive the newcomers' eviction.
	if _, allowed := l.allow("e", c.now()); allowed {
		t.Fatal("the most recent key lost its bucket")
	}
	c.add(2 * time.Second) // every bucket has refilled: all are dropped for a new key
	l.allow("f", c.now())
	if n := l.len(); n != 1 {
		t.Fatalf("%d buckets after refill, want 1", n)
	}
}

func TestConcurrencySaturated(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := Chain(Limits{MaxInFlight: 1}, nil, nil, nil, false, nil, nil)(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				entered <- struct{}{}
				<-release
			}
			ok(w, r)
		}))
	var wg sync.WaitGroup
	var blocked *httptest.ResponseRecorder
	wg.Go(func() {
		blocked = httptest.NewRecorder()
		h.ServeHTTP(blocked, httptest.NewRequest(http.MethodGet, "/block", nil))
	})
	<-entered
	start := time.Now()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/status", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("saturated: status %d Retry-After %q, want 503 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	if e := decodeErr(t, rec.Body.Bytes()); e.Error.Code != "busy" {
		t.Errorf("code %q, want busy", e.Error.Code)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %s: it must not queue", d)
	}
	close(release)
	wg.Wait()
	if blocked.Code != 200 {
		t.Errorf("blocked request: %d", blocked.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/status", nil))
	if rec.Code != 200 {
		t.Errorf("after release: status %d, want 200", rec.Code)
	}
}

func TestPanicServerContinues(t *testing.T) {
	var log syncBuffer
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("/half", func(w http.ResponseWriter, _ *http.Request) {
		if _, err := io.WriteString(w, strings.Repeat("x", 100)); err != nil {
			panic(err)
		}
		w.(http.Flusher).Flush()
		panic("half")
	})
	mux.HandleFunc("/ok", ok)
	srv := httptest.NewServer(Chain(Limits{}, nil, nil, &log, false, nil, nil)(mux))
	defer srv.Close()
	get := func(path string) (*http.Response, []byte, error) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			return nil, nil, err
		}
		defer func() {
			if cerr := resp.Body.Close(); cerr != nil {
				t.Error(cerr)
			}
		}()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	resp, body, err := get("/boom")
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("panic: %v %v", resp, err)
	}
	if e := decodeErr(t, body); e.Error.Code != "internal" {
		t.Errorf("code %q", e.Error.Code)
	}
	if _, _, err := get("/half"); err == nil {
		t.Error("a panic after the answer began must cut the connection, got a whole answer")
	}
	for range 2 {
		if resp, body, err := get("/ok"); err != nil || resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("after panics: %v %q %v", resp, body, err)
		}
	}
	out := log.String()
	if !strings.Contains(out, `"msg":"panic"`) || !strings.Contains(out, `"panic":"boom"`) {
		t.Errorf("panic not logged:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStreamingFlush(t *testing.T) {
	h := Chain(Limits{Timeout: time.Second}, nil, nil, nil, false, nil, nil)(http.HandlerFunc(
		func(w http.ResponseWriter, _ *http.Request) {
			if _, err := io.WriteString(w, "{\"type\":\"token\"}\n"); err != nil {
				panic(err)
			}
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/ask", nil))
	if !rec.Flushed || rec.Code != 200 {
		t.Errorf("flushed %v status %d", rec.Flushed, rec.Code)
	}
}

func TestCheckQueryAndK(t *testing.T) {
	l := Limits{MaxQuery: 3, MaxK: 10}
	if l.CheckQuery("héé") != nil || l.CheckQuery("four") == nil {
		t.Error("CheckQuery counts runes up to MaxQuery")
	}
	if l.CheckK(10) != nil || l.CheckK(11) == nil || l.CheckK(-1) == nil {
		t.Error("CheckK")
	}
	if (Limits{}).CheckQuery(strings.Repeat("x", 1e5)) != nil || (Limits{}).CheckK(1e6) != nil {
		t.Error("zero limits must not limit")
	}
}
