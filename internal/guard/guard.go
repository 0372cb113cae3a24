// Package guard is the middleware chain in front of every route of `rag serve`: it bounds what one
// request may cost (body size, time, concurrency, per-key rate), recovers panics, writes one JSON
// access-log line per request and records Prometheus metrics. It knows nothing of routes, tokens or
// the engine: the server passes in how to key rate limits and how to name the caller.
package guard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// Limits bounds the cost of one request. A zero field means no limit for it.
type Limits struct {
	MaxBody     int64         // bytes of request body; larger is 413
	MaxQuery    int           // runes of query text; checked by the routes (CheckQuery)
	MaxK        int           // results asked for; checked by the routes (CheckK)
	Timeout     time.Duration // time per request; a handler that overruns having written nothing is 504
	RatePerMin  int           // requests per minute per key; beyond it 429 with Retry-After
	Burst       int           // token-bucket size; 0 means max(1, RatePerMin/6), ten seconds' worth
	MaxInFlight int           // requests served at once; beyond it 503 at once with Retry-After, no queue
}

// Rejection reasons, the reason label of rag_http_rejected_total.
const (
	reasonRate     = "rate"
	reasonBusy     = "busy"
	reasonTooLarge = "too_large"
	reasonTimeout  = "timeout"
)

// busyRetryAfter is what a 503 tells the client: slots free up as fast as requests finish.
const busyRetryAfter = 1

type guard struct {
	next       http.Handler
	l          Limits
	key        func(*http.Request) string
	principal  func(*http.Request) string
	log        slog.Handler
	logQueries bool
	m          *Metrics
	now        func() time.Time
	sem        chan struct{}
	rates      *limiters
}

// Chain returns the middleware: next runs only if the request is within l, and every request,
// rejected or not, is logged on log (one JSON line; nil: no log) and counted in m (nil: no metrics).
// key names the rate-limit bucket of a request (token id or remote address; nil: one bucket for all).
// principal names the caller in the log (nil or "": the value a route set with WithPrincipal, else
// "-"). The query text is logged only with logQueries, and only when a route set it with WithQuery.
// now is the clock (nil: time.Now).
func Chain(l Limits, key func(*http.Request) string, principal func(*http.Request) string,
	log io.Writer, logQueries bool, m *Metrics, now func() time.Time) func(http.Handler) http.Handler {
	if now == nil {
		now = time.Now
	}
	if key == nil {
		key = func(*http.Request) string { return "" }
	}
	var lh slog.Handler
	if log != nil {
		lh = slog.NewJSONHandler(log, nil)
	}
	var sem chan struct{}
	if l.MaxInFlight > 0 {
		sem = make(chan struct{}, l.MaxInFlight)
	}
	var rates *limiters
	if l.RatePerMin > 0 {
		burst := l.Burst
		if burst <= 0 {
			burst = max(1, l.RatePerMin/6)
		}
		rates = newLimiters(l.RatePerMin, burst, maxKeys)
	}
	return func(next http.Handler) http.Handler {
		return &guard{next: next, l: l, key: key, principal: principal, log: lh, logQueries: logQueries,
			m: m, now: now, sem: sem, rates: rates}
	}
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	info := &reqInfo{}
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	rw := newWriter(w)
	g.m.inFlight(1)
	defer func() {
		g.m.inFlight(-1)
		p := recover()
		if p == nil {
			g.finish(r, rw, info, start)
			return
		}
		if p != http.ErrAbortHandler { // the sentinel is compared by identity, as net/http does
			g.logPanic(r, p)
			if rw.fail(http.StatusInternalServerError, 0, "internal", "internal server error",
				"the server logged the details; try again or report it") {
				g.finish(r, rw, info, start)
				return
			}
		}
		// Part of an answer went out: abort the connection so the client sees it cut short rather
		// than a truncated answer that looks whole (net/http drops ErrAbortHandler quietly).
		g.finish(r, rw, info, start)
		panic(http.ErrAbortHandler)
	}()
	g.serve(rw, r, info)
}

// serve applies the limits in order of cost to refuse: rate, then a free slot, then the body.
func (g *guard) serve(rw *writer, r *http.Request, info *reqInfo) {
	if g.rates != nil {
		if wait, ok := g.rates.allow(g.key(r), g.now()); !ok {
			secs := retrySeconds(wait)
			g.reject(rw, info, reasonRate, http.StatusTooManyRequests, secs, "rate_limited",
				"too many requests", fmt.Sprintf("retry after %d second(s)", secs))
			return
		}
	}
	if g.sem != nil {
		select {
		case g.sem <- struct{}{}:
			defer func() { <-g.sem }()
		default:
			g.reject(rw, info, reasonBusy, http.StatusServiceUnavailable, busyRetryAfter, "busy",
				"the server is busy", fmt.Sprintf("retry after %d second(s)", busyRetryAfter))
			return
		}
	}
	ctx := r.Context()
	if g.l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.l.Timeout)
		defer cancel()
		stop := g.onTimeout(ctx, rw, info)
		defer stop()
		r = r.WithContext(ctx)
	}
	if !g.readBody(rw, r, info) {
		return
	}
	g.call(rw, r, info)
}

// call runs the route and keeps the mux pattern it matched (set on this very request) for metrics.
func (g *guard) call(rw *writer, r *http.Request, info *reqInfo) {
	defer func() { info.pattern = r.Pattern }()
	g.next.ServeHTTP(rw, r)
}

// onTimeout answers 504 when the deadline passes before the handler wrote anything; the handler
// sees its context done and its later writes fail. The returned stop waits for a running answer.
func (g *guard) onTimeout(ctx context.Context, rw *writer, info *reqInfo) (stop func()) {
	answer := func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return // the client went away, or the route finished in time: nothing to answer
		}
		if rw.fail(http.StatusGatewayTimeout, 0, "timeout",
			fmt.Sprintf("the request took longer than %s", g.l.Timeout),
			"narrow the request (smaller k, fewer collections) or try again later") {
			info.setRejected(reasonTimeout)
			g.m.rejected(reasonTimeout)
		}
	}
	done := make(chan struct{})
	stopFn := context.AfterFunc(ctx, func() {
		defer close(done)
		answer()
	})
	return func() {
		if !stopFn() {
			<-done
			return
		}
		// The route can see its context done and return before the AfterFunc starts; answer here.
		answer()
	}
}

// readBody reads the body up to MaxBody into memory, so that a body too large is a 413 from here
// rather than a decoding error in whichever route reads it. Memory is bounded: this runs only
// after a slot is taken, so at most MaxInFlight bodies are held at once.
func (g *guard) readBody(rw *writer, r *http.Request, info *reqInfo) bool {
	if g.l.MaxBody <= 0 || r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.ContentLength > g.l.MaxBody {
		g.tooLarge(rw, info)
		return false
	}
	if g.l.Timeout > 0 {
		// A slow sender must not hold a slot past the request's time; the server clears the
		// deadline before reading the next request on the connection.
		err := http.NewResponseController(rw.w).SetReadDeadline(g.now().Add(g.l.Timeout))
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			g.logError(r, "set read deadline", err)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, g.l.MaxBody))
	if cerr := r.Body.Close(); err == nil && cerr != nil {
		err = cerr
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		g.tooLarge(rw, info)
		return false
	case err != nil:
		rw.fail(http.StatusBadRequest, 0, "bad_request", "reading the request body: "+err.Error(),
			"send the whole body within the request's time")
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

func (g *guard) tooLarge(rw *writer, info *reqInfo) {
	g.reject(rw, info, reasonTooLarge, http.StatusRequestEntityTooLarge, 0, "too_large",
		fmt.Sprintf("the request body is larger than %d bytes", g.l.MaxBody), "send a smaller request")
}

// reject answers an error the guard decided on, counted by reason; retryAfter > 0 sets Retry-After.
func (g *guard) reject(rw *writer, info *reqInfo, reason string, status, retryAfter int, code, msg, hint string) {
	rw.fail(status, retryAfter, code, msg, hint)
	info.setRejected(reason)
	g.m.rejected(reason)
}

// retrySeconds rounds a wait up to whole seconds, the unit of Retry-After.
func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(1, s)
}

// finish writes the access-log line and records the request's metrics.
func (g *guard) finish(r *http.Request, rw *writer, info *reqInfo, start time.Time) {
	status, n := rw.result()
	elapsed := g.now().Sub(start)
	g.m.observe(g.m.route(info.pattern, r.URL.Path), status, elapsed)
	g.accessLog(r, info, status, n, start, elapsed)
}

func (g *guard) principalOf(r *http.Request, info *reqInfo) string {
	if p := info.principal(); p != "" {
		return p
	}
	if g.principal != nil {
		if p := g.principal(r); p != "" {
			return p
		}
	}
	return "-"
}

// accessLog writes one line; never headers or body, the query only when asked for.
func (g *guard) accessLog(r *http.Request, info *reqInfo, status int, n int64, start time.Time, elapsed time.Duration) {
	if g.log == nil {
		return
	}
	rec := slog.NewRecord(start, slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("route", r.URL.Path),
		slog.String("principal", g.principalOf(r, info)),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
		slog.Int64("bytes", n),
	)
	if reason := info.rejectedReason(); reason != "" {
		rec.AddAttrs(slog.String("rejected", reason))
	}
	if g.logQueries {
		if q, ok := info.queryText(); ok {
			rec.AddAttrs(slog.String("query", q))
		}
	}
	g.write(r.Context(), rec)
}

func (g *guard) logPanic(r *http.Request, p any) {
	if g.log == nil {
		return
	}
	rec := slog.NewRecord(g.now(), slog.LevelError, "panic", 0)
	rec.AddAttrs(slog.String("method", r.Method), slog.String("route", r.URL.Path),
		slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
	g.write(r.Context(), rec)
}

func (g *guard) logError(r *http.Request, what string, err error) {
	if g.log == nil {
		return
	}
	rec := slog.NewRecord(g.now(), slog.LevelWarn, what, 0)
	rec.AddAttrs(slog.String("route", r.URL.Path), slog.String("error", err.Error()))
	g.write(r.Context(), rec)
}

// write drops a log line that cannot be written: the log must never fail a request, and there is
// nowhere else to report it.
func (g *guard) write(ctx context.Context, rec slog.Record) {
	_ = g.log.Handle(context.WithoutCancel(ctx), rec) // see above
}
