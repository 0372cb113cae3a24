package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	testToken = "rag_test-secret-token"
	// evil is document text that would run if the page parsed it as HTML:
	// each part sets window.pwned.
	evil = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">`
)

// findBrowser is the first Chromium-like browser on PATH, or "".
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactsDir is where the screenshot goes: $RAG_TEST_ARTIFACTS when set
// (CI keeps it), else the test's temporary directory.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("RAG_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// fakeAPI stands in for internal/server's /v1 routes with the contract's
// shapes. Every route wants the test token; ask streams its tokens one at
// a time, each after the test releases it, so the test can see the answer
// grow.
type fakeAPI struct {
	t       *testing.T
	release chan struct{}

	mu    sync.Mutex
	auths []string // Authorization of every /v1 request, in order
	colls [][]string
	gets  []string
}

func (f *fakeAPI) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/collections", f.auth(func(w http.ResponseWriter, _ *http.Request) {
		f.json(w, map[string]any{"collections": []string{"docs", "notes"}})
	}))
	mux.HandleFunc("POST /v1/search", f.auth(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Query       string   `json:"query"`
			Collections []string `json:"collections"`
		}
		if !f.decode(w, r, &req) {
			return
		}
		f.mu.Lock()
		f.colls = append(f.colls, req.Collections)
		f.mu.Unlock()
		f.json(w, map[string]any{"query": req.Query, "mode": "hybrid", "results": results(), "damaged_files": []string{}})
	}))
	mux.HandleFunc("POST /v1/ask", f.auth(f.ask))
	mux.HandleFunc("POST /v1/get", f.auth(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Target string `json:"target"`
		}
		if !f.decode(w, r, &req) {
			return
		}
		f.mu.Lock()
		f.gets = append(f.gets, req.Target)
		f.mu.Unlock()
		if req.Target != "guide.md:3-5" {
			f.fail(w, http.StatusNotFound, "not_found", "no "+req.Target, "")
			return
		}
		f.json(w, map[string]any{
			"path": "guide.md", "root": "/docs", "file": "/docs/guide.md", "on_disk": "unchanged",
			"sections": []map[string]any{{"start_line": 3, "end_line": 5, "page": 0, "heading": "Install", "text": "line three\n" + evil + "\nline five"}},
		})
	}))
}

func results() []map[string]any {
	return []map[string]any{
		{"root": "/docs", "path": "guide.md", "start_line": 3, "end_line": 5, "page": 0, "heading": "Install", "score": 0.91, "text": "line three " + evil},
		{"root": "/docs", "path": "notes.md", "start_line": 10, "end_line": 12, "page": 0, "heading": evil, "score": 0.5, "text": "other text"},
	}
}

func (f *fakeAPI) ask(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Question string `json:"question"`
		Stream   string `json:"stream"`
	}
	if !f.decode(w, r, &req) {
		return
	}
	if req.Stream != "ndjson" {
		f.fail(w, http.StatusBadRequest, "bad_request", "stream "+req.Stream, "the page asks for ndjson")
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(v any) bool {
		if err := enc.Encode(v); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	wait := func() bool {
		select {
		case <-f.release:
			return true
		case <-r.Context().Done():
			return false
		case <-time.After(30 * time.Second):
			f.t.Error("fake ask: the test never released the next token")
			return false
		}
	}
	for _, tok := range []string{"The answer ", "is 42 [1]."} {
		if !send(map[string]any{"type": "token", "text": tok}) || !wait() {
			return
		}
	}
	var sources []map[string]any
	for i, res := range results() {
		res["n"], res["cited"] = i+1, i == 0
		sources = append(sources, res)
	}
	send(map[string]any{"type": "result", "result": map[string]any{
		"question": req.Question, "model": "m", "mode": "hybrid", "damaged_files": []string{}, "dropped_sources": []any{},
		"answer": "The answer is 42 [1].", "abstained": false, "sources": sources, "invalid_citations": []string{},
		"uncited": false, "not_cited": []int{2}, "truncated": false,
	}})
}

func (f *fakeAPI) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := r.Header.Get("Authorization")
		f.mu.Lock()
		f.auths = append(f.auths, a)
		f.mu.Unlock()
		if a != "Bearer "+testToken {
			f.fail(w, http.StatusUnauthorized, "unauthorized", "a token is required", "paste a token from rag token add")
			return
		}
		next(w, r)
	}
}

func (f *fakeAPI) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		f.fail(w, http.StatusBadRequest, "bad_request", err.Error(), "")
		return false
	}
	return true
}

func (f *fakeAPI) json(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("fake api: %v", err)
	}
}

func (f *fakeAPI) fail(w http.ResponseWriter, status int, code, msg, hint string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg, "hint": hint}}); err != nil {
		f.t.Errorf("fake api: %v", err)
	}
}

// TestPageInBrowser drives the page in headless Chromium against a fake of
// the /v1 routes: the token, the collection picker, search, a streamed
// answer, opening a source, and document text that must stay text.
func TestPageInBrowser(t *testing.T) {
	bin := findBrowser()
	if bin == "" {
		t.Skip("no browser: install Debian's chromium (apt-get install chromium) to test the page; looked for chromium, chromium-browser, google-chrome on PATH")
	}
	api := &fakeAPI{t: t, release: make(chan struct{})}
	mux := http.NewServeMux()
	api.routes(mux)
	mux.Handle("/", Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, consoleProblems := startBrowser(t, bin)

	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	poll := func(step, js string) {
		t.Helper()
		do(step, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(15*time.Second)))
	}
	text := func(sel string) string {
		t.Helper()
		return evalJS[string](t, ctx, fmt.Sprintf("document.querySelector(%q).textContent", sel))
	}
	countSources := func() int {
		t.Helper()
		return evalJS[int](t, ctx, `document.querySelectorAll("#sources li").length`)
	}

	// Without a token the server's error shows, message and hint.
	do("open the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("q")))
	poll("error shown", `document.getElementById("error").textContent.includes("a token is required")`)
	if got := text("#error"); !strings.Contains(got, "paste a token from rag token add") {
		t.Errorf("error box %q lacks the hint", got)
	}

	// The token fills the collection picker.
	do("enter the token", chromedp.SendKeys(chromedp.ID("token"), testToken), chromedp.Click(chromedp.CSS("#token-form button")))
	poll("collections listed", `document.querySelectorAll("#collections option").length === 2`)
	names := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll("#collections option"), o => o.value)`)
	if !slices.Equal(names, []string{"docs", "notes"}) {
		t.Errorf("collections %q", names)
	}
	if got := evalJS[string](t, ctx, `sessionStorage.getItem("rag.token")`); got != testToken {
		t.Errorf("sessionStorage holds %q, want the token", got)
	}
	if local := evalJS[string](t, ctx, `JSON.stringify(Object.assign({}, localStorage))`); strings.Contains(local, testToken) {
		t.Errorf("localStorage holds the token: %s", local)
	}

	// Search in one collection; document text is shown as text.
	evalJS[bool](t, ctx, `document.querySelector('#collections option[value="docs"]').selected = true`)
	do("search", chromedp.SendKeys(chromedp.ID("q"), "install"), chromedp.Click(chromedp.CSS(`#query-form button[value="search"]`)))
	poll("results shown", `document.querySelectorAll("#sources li").length === 2`)
	if got := text("#sources"); !strings.Contains(got, "guide.md:3-5 (Install)") || !strings.Contains(got, evil) {
		t.Errorf("results %q lack the location or the document's text as text", got)
	}
	api.mu.Lock()
	if len(api.colls) != 1 || !slices.Equal(api.colls[0], []string{"docs"}) {
		t.Errorf("search asked for collections %q, want [docs]", api.colls)
	}
	api.mu.Unlock()

	// Ask, submitted from the keyboard (Enter): the answer grows token by
	// token (the fake waits for the test between them), then the sources
	// come.
	evalJS[string](t, ctx, `document.getElementById("q").value = ""`)
	do("ask", chromedp.SendKeys(chromedp.ID("q"), "what is the answer?\r"))
	poll("first token", `document.getElementById("answer").textContent === "The answer "`)
	if n := countSources(); n != 0 {
		t.Errorf("%d sources before the answer ended", n)
	}
	api.release <- struct{}{}
	poll("second token", `document.getElementById("answer").textContent === "The answer is 42 [1]."`)
	if n := countSources(); n != 0 {
		t.Errorf("%d sources before the answer ended", n)
	}
	api.release <- struct{}{}
	poll("sources after the answer", `document.querySelectorAll("#sources li").length === 2`)
	if got := evalJS[string](t, ctx, `Array.from(document.querySelectorAll("#answer button.cite"), b => b.textContent + "=" + b.title).join()`); got != "[1]=guide.md:3-5 (Install)" {
		t.Errorf("citations in the answer: %q, want [1] as a link to source 1", got)
	}
	if got := text("#answer"); got != "The answer is 42 [1]." {
		t.Errorf("final answer %q", got)
	}

	// A source opens its cited lines.
	do("open source 1", chromedp.Click(chromedp.CSS(`#sources li:first-child button.loc`)), chromedp.WaitVisible(chromedp.ID("doc")))
	poll("cited lines shown", `document.getElementById("doc-body").textContent.includes("line five")`)
	if got := text("#doc-body"); !strings.Contains(got, "lines 3-5 · Install") || !strings.Contains(got, evil) {
		t.Errorf("document panel %q", got)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactsDir(t), "webui.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	// Nothing from the documents ran or became an element.
	if evalJS[bool](t, ctx, `typeof window.pwned !== "undefined"`) {
		t.Error("document text ran: window.pwned is set")
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("main img, main script").length`); n != 0 {
		t.Errorf("document text became markup: %d img/script elements", n)
	}

	api.mu.Lock()
	defer api.mu.Unlock()
	if !slices.Equal(api.gets, []string{"guide.md:3-5"}) {
		t.Errorf("get targets %q", api.gets)
	}
	// The first request (on load) had no token; every later one had it.
	if len(api.auths) < 5 || api.auths[0] != "" {
		t.Errorf("authorization headers %q", api.auths)
	}
	for _, a := range api.auths[1:] {
		if a != "Bearer "+testToken {
			t.Errorf("a request had Authorization %q", a)
		}
	}
	for _, p := range consoleProblems() {
		t.Errorf("browser console: %s", p)
	}
}

// startBrowser starts the browser at bin, stopped when the test ends or
// after a minute and a half. consoleProblems, called once at the end, is
// what the page reported of uncaught exceptions and CSP violations (its own
// script blocked, or anything injected).
func startBrowser(t *testing.T, bin string) (ctx context.Context, consoleProblems func() []string) {
	t.Helper()
	// One deadline for the whole run; it stops the browser with it.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1100, 900))
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)

	consoleCtx, stop := context.WithCancel(ctx)
	var problems []string
	done := make(chan struct{})
	messages := chromedp.Console(consoleCtx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				problems = append(problems, m.String())
			}
		}
	}()
	return ctx, func() []string {
		stop()
		<-done
		return problems
	}
}

// evalJS is the value of a JavaScript expression in the page.
func evalJS[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}
