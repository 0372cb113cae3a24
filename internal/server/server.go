// Package server is rag's HTTP face (rag serve): the engine's search,
// ask, get, multi-get, status, collections and index runs as JSON routes
// under /v1, for callers whom an Authenticator names (a token, never a
// request field). Each request reads the index as it is then, with a
// reader of its own for its caller (kept between requests and refreshed,
// see readers), so that a commit by rag index in another process counts
// at the next request. Requests whose Host or Origin the server was not
// bound to are refused (DNS rebinding). Limits, rate limits, the access
// log and metrics are the Guard middleware's (another package), MCP over
// HTTP and the page are handlers mounted beside the routes. Nothing here
// reads flags or the environment, or prints.
package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/engine"
)

// Caller is who sends a request, as its token says: Who is the engine's
// asker (principal and tenant), Admin may re-index, TokenID names the
// token ("" anonymous), for rate limits and logs.
type Caller struct {
	Who     engine.Who
	Admin   bool
	TokenID string
}

// Authenticator names the caller of a request: an error is 401 (a wrong,
// expired or revoked token, or none where one is required); no token is
// the public Caller.
type Authenticator func(r *http.Request) (Caller, error)

// Config is what a server serves, and to whom.
type Config struct {
	Engine *engine.Engine
	// Auth names each request's caller (nil: every caller is public).
	Auth Authenticator
	// Addr is the address the server is bound to (host:port): a request's
	// Host must name it (or a loopback form of it), or be in AllowHosts.
	Addr string
	// AllowOrigins are the origins (scheme://host[:port]) besides the
	// server's own whose pages may call it; set, CORS headers answer them.
	// AllowHosts are Host values accepted besides Addr (host or host:port).
	AllowOrigins, AllowHosts []string
	// Ask is how ask answers, and its Retrieval how every route retrieves
	// when a request does not say; SearchK is search's k when a request
	// gives none.
	Ask     engine.AskOptions
	SearchK int
	// MaxK bounds a request's k (DefaultMaxK when 0), MaxQuery the bytes
	// of a query or question (DefaultMaxQuery when 0).
	MaxK, MaxQuery int
	// MCP, Metrics and Page are mounted at /mcp, /metrics and / when set.
	MCP, Metrics, Page http.Handler
	// Guard wraps the routes (limits, rate limits, access log, metrics);
	// the Caller is in the request's context when it runs (CallerFrom).
	Guard func(http.Handler) http.Handler
	// ErrorText, if set, words an error as the server's users read it:
	// a status, code, message or hint it returns replaces the server's
	// own (Classify, err.Error(), none) where not zero.
	ErrorText func(error) (status int, code string, msg, hint string)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// IdleReaders is how many open readers are kept between requests
	// (DefaultIdleReaders when 0; below 0 none: each request opens the
	// index and closes it).
	IdleReaders int
}

// Bounds of a request when Config leaves them zero.
const (
	DefaultMaxK     = 50
	DefaultMaxQuery = 4096
	// MaxBody bounds a request's body, whatever Guard allows.
	MaxBody = 1 << 20
	// MaxMultiGetBytes bounds a multi-get's max_bytes.
	MaxMultiGetBytes = 1 << 20
)

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom is the caller ctx carries, if any.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Principal is the caller of r as an access log names it: the asker
// ("public" when anonymous), for Guard's log.
func Principal(r *http.Request) string {
	c, ok := CallerFrom(r.Context())
	if !ok || c.Who.As == "" {
		return "public"
	}
	return c.Who.As
}

// RateKey is what Guard's rate limits count r against: its token, or
// for an anonymous or refused caller its remote address.
func RateKey(r *http.Request) string {
	if c, ok := CallerFrom(r.Context()); ok && c.TokenID != "" {
		return "token:" + c.TokenID
	}
	return "addr:" + remoteHost(r)
}

// server holds a Config's routes.
type server struct {
	cfg     Config
	mux     *http.ServeMux
	readers *readers
	// patterns are the mux's, in the order routes registered them.
	patterns []string
}

// Handler is the server's http.Handler. Close it once the http.Server
// serving it has shut down: it closes the readers kept between requests.
type Handler struct {
	http.Handler
	s *server
}

// Close closes the readers kept between requests.
func (h *Handler) Close() error { return h.s.readers.close() }

// Routes are the routes the handler serves, as http.ServeMux patterns
// ("POST /v1/search"): what docs/openapi.yaml must describe.
func (h *Handler) Routes() []string {
	rs := slices.Clone(h.s.patterns)
	for i, r := range rs {
		rs[i] = strings.TrimSuffix(r, "{$}") // the root alone is OpenAPI's "/"
	}
	return rs
}

// New returns the handler of cfg: the Host and Origin checks, then the
// caller named (401 on failure, but for /healthz), then Guard, then the
// routes.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxK <= 0 {
		cfg.MaxK = DefaultMaxK
	}
	if cfg.MaxQuery <= 0 {
		cfg.MaxQuery = DefaultMaxQuery
	}
	if cfg.SearchK <= 0 {
		cfg.SearchK = 5
	}
	if cfg.IdleReaders == 0 {
		cfg.IdleReaders = DefaultIdleReaders
	}
	s := &server{cfg: cfg, mux: http.NewServeMux(), readers: &readers{e: cfg.Engine, max: max(cfg.IdleReaders, 0), idle: map[string][]*engine.Reader{}}}
	s.routes()
	var h http.Handler = http.HandlerFunc(s.dispatch)
	h = s.hidePaths(h)
	h = s.requireCaller(h)
	if cfg.Guard != nil {
		h = cfg.Guard(h)
	}
	h = s.authenticate(h)
	return &Handler{Handler: s.checkOrigin(h), s: s}
}

func (s *server) routes() {
	handle := func(pattern string, h http.Handler) {
		s.patterns = append(s.patterns, pattern)
		s.mux.Handle(pattern, h)
	}
	handle("POST /v1/search", http.HandlerFunc(s.search))
	handle("POST /v1/ask", http.HandlerFunc(s.ask))
	handle("POST /v1/get", http.HandlerFunc(s.get))
	handle("POST /v1/multi-get", http.HandlerFunc(s.multiGet))
	handle("GET /v1/status", http.HandlerFunc(s.status))
	handle("GET /v1/collections", http.HandlerFunc(s.collections))
	handle("POST /v1/index", http.HandlerFunc(s.index))
	handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}))
	if s.cfg.MCP != nil {
		// The methods of MCP's streamable HTTP transport, each its own
		// pattern so that the page's GET / can sit beside them.
		for _, method := range []string{"GET", "POST", "DELETE"} {
			handle(method+" /mcp", s.cfg.MCP)
		}
	}
	if s.cfg.Metrics != nil {
		handle("GET /metrics", s.cfg.Metrics)
	}
	if s.cfg.Page != nil {
		handle("GET /{$}", s.cfg.Page) // the root alone: other paths get the error JSON
	}
}

// dispatch serves r by its route; a path no route serves, or a method it
// does not take, is answered with the error JSON.
func (s *server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		h.ServeHTTP(w, r)
		return
	}
	// The mux's own 404 or 405 (with its Allow header), in our shape.
	cw := &statusOnly{header: w.Header()}
	h.ServeHTTP(cw, r)
	if cw.status == http.StatusMethodNotAllowed {
		s.fail(w, &httpError{status: cw.status, code: "method_not_allowed", msg: r.Method + " is not allowed on " + r.URL.Path})
		return
	}
	s.fail(w, &httpError{status: http.StatusNotFound, code: "not_found", msg: "no route " + r.URL.Path})
}

// statusOnly keeps the status a handler writes and drops its body.
type statusOnly struct {
	header http.Header
	status int
}

func (c *statusOnly) Header() http.Header         { return c.header }
func (c *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (c *statusOnly) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

type authErrKey struct{}

// authenticate puts the caller in the request's context, or why there is
// none: requireCaller refuses it once Guard has counted the request (so
// that guessing tokens is rate-limited and logged).
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Caller{}, error(nil)
		if s.cfg.Auth != nil {
			c, err = s.cfg.Auth(r)
		}
		ctx := r.Context()
		if err != nil {
			ctx = context.WithValue(ctx, authErrKey{}, err)
		} else {
			ctx = WithCaller(ctx, c)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireCaller answers 401 to a request whose caller could not be
// named; /healthz answers anyone.
func (s *server) requireCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err, ok := r.Context().Value(authErrKey{}).(error); ok && r.URL.Path != "/healthz" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rag"`)
			s.fail(w, &httpError{status: http.StatusUnauthorized, code: "unauthorized", msg: err.Error()})
			return
		}
		next.ServeHTTP(w, r)
	})
}
