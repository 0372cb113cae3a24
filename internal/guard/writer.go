package guard

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// writer records what a route wrote (status, bytes) and lets the guard answer instead of the route
// (timeout, panic) when the route has written nothing. The route's headers live in a map of the
// writer's own until it writes, so the timeout answer from another goroutine never races with them.
type writer struct {
	w      http.ResponseWriter
	header http.Header

	mu       sync.Mutex
	wrote    bool // the status line is out
	status   int
	bytes    int64
	finished bool // the guard answered; the route's writes are dropped
}

func newWriter(w http.ResponseWriter) *writer {
	return &writer{w: w, header: make(http.Header)}
}

func (rw *writer) Header() http.Header { return rw.header }

// writeHeaderLocked sends the route's headers and status; rw.mu is held.
func (rw *writer) writeHeaderLocked(code int) {
	rw.wrote = true
	rw.status = code
	dst := rw.w.Header()
	for k, v := range rw.header {
		dst[k] = v
	}
	rw.w.WriteHeader(code)
}

func (rw *writer) WriteHeader(code int) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.finished || rw.wrote {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational headers (103 Early Hints) go out now; the real status comes later.
		dst := rw.w.Header()
		for k, v := range rw.header {
			dst[k] = v
		}
		rw.w.WriteHeader(code)
		return
	}
	rw.writeHeaderLocked(code)
}

func (rw *writer) Write(p []byte) (int, error) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.finished {
		return 0, http.ErrHandlerTimeout
	}
	if !rw.wrote {
		rw.writeHeaderLocked(http.StatusOK)
	}
	n, err := rw.w.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// FlushError lets streaming routes (ask over NDJSON/SSE, MCP) push what they wrote; found first by
// http.ResponseController, so the flush is serialised with a timeout answer.
func (rw *writer) FlushError() error {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.finished {
		return http.ErrHandlerTimeout
	}
	if !rw.wrote {
		rw.writeHeaderLocked(http.StatusOK)
	}
	return http.NewResponseController(rw.w).Flush()
}

// Flush is http.Flusher for routes that assert it; the error has nowhere to go (the next write fails).
func (rw *writer) Flush() {
	_ = rw.FlushError() // see above
}

// Unwrap gives http.ResponseController the connection for deadlines and full duplex.
func (rw *writer) Unwrap() http.ResponseWriter { return rw.w }

// fail answers status with the error JSON (and Retry-After when retryAfter > 0) if nothing was
// written yet; it reports whether it did. After it, the route's writes are dropped. It reads none of
// the route's headers: it may run on another goroutine than the route's.
func (rw *writer) fail(status, retryAfter int, code, msg, hint string) bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.wrote || rw.finished {
		return false
	}
	rw.finished = true
	body := errorBody(code, msg, hint)
	h := rw.w.Header()
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rw.wrote = true
	rw.status = status
	rw.w.WriteHeader(status)
	n, err := rw.w.Write(body)
	rw.bytes += int64(n)
	if err == nil {
		// Best effort: a timeout answer should reach the client even while the route still runs.
		_ = http.NewResponseController(rw.w).Flush() // the client may be gone
	}
	return true
}

// result is the status and body size sent; 200 if the route returned without writing.
func (rw *writer) result() (status int, n int64) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if !rw.wrote {
		return http.StatusOK, rw.bytes
	}
	return rw.status, rw.bytes
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// errorBody is the error JSON every route answers: {"error":{"code","message","hint"}}.
func errorBody(code, msg, hint string) []byte {
	b, err := json.Marshal(struct {
		Error errorDetail `json:"error"`
	}{errorDetail{Code: code, Message: msg, Hint: hint}})
	if err != nil { // strings always marshal
		panic(err)
	}
	return append(b, '\n')
}
