package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rag-cli/rag/pkg/engine"
)

// DefaultIdleTimeout closes an HTTP session no request has used for that
// long, and its reader with it: a client that went away without ending
// its session holds no index open for ever. A client that comes back gets
// 404 and, as the protocol has it, starts a new session.
const DefaultIdleTimeout = 30 * time.Minute

// sessionHeader is the protocol's header naming a session over HTTP.
const sessionHeader = "Mcp-Session-Id"

// Handler serves rag's tools over the protocol's streamable HTTP
// transport (the official SDK's handler): one session per client, each
// on a reader of its own for the Who it was opened for. Who asks is the
// server's to say, from the request (its token), never the client's: a
// request who refuses is 401 before the SDK reads it, and a session is
// served to the Who that opened it alone (403 to any other, whose request
// would otherwise read it with a copied session id).
type Handler struct {
	e   *engine.Engine
	o   Options
	who func(*http.Request) (engine.Who, error)
	sdk *mcp.StreamableHTTPHandler

	mu       sync.Mutex
	sessions map[string]*httpSession // by session id
	closed   bool
	errs     []error // of readers closed
	wg       sync.WaitGroup
}

// httpSession is a session over HTTP: the Who it belongs to, its reader,
// and the SDK's session once it exists.
type httpSession struct {
	id  string
	who engine.Who
	s   *Session
	ss  *mcp.ServerSession
}

// serverKey carries the server of the session a request opens to the
// SDK's getServer.
type serverKey struct{}

// HTTPHandler returns the handler of rag's tools over HTTP, on e, for
// whoever who says a request is (an error: 401, its text the message).
// Mounted at /mcp by rag serve, behind the server's Host and Origin
// checks: the SDK's own check of the Host of loopback requests is off, so
// that the server's --allow-host holds for /mcp too. Close ends every
// session and closes their readers.
func HTTPHandler(e *engine.Engine, o Options, who func(*http.Request) (engine.Who, error)) *Handler {
	h := &Handler{e: e, o: o, who: who, sessions: map[string]*httpSession{}}
	h.sdk = mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		// Called for every request; only one that opens a session gets a
		// server (the others are read by the session they name).
		srv, _ := r.Context().Value(serverKey{}).(*mcp.Server)
		return srv
	}, &mcp.StreamableHTTPOptions{SessionTimeout: DefaultIdleTimeout, DisableLocalhostProtection: true})
	return h
}

// ServeHTTP serves a request of the protocol for who the request is.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	who, err := h.who(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rag"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", err.Error())
		return
	}
	if id := r.Header.Get(sessionHeader); id != "" {
		h.mu.Lock()
		s := h.sessions[id]
		h.mu.Unlock()
		if s != nil && !sameWho(s.who, who) {
			writeError(w, http.StatusForbidden, "forbidden", "this MCP session was opened by another caller; open one of your own")
			return
		}
		// A session unknown here is unknown to the SDK too: its 404.
		h.sdk.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodPost {
		// The SDK's answer: a GET or DELETE names a session.
		h.sdk.ServeHTTP(w, r)
		return
	}
	h.open(w, r, who)
}

// open serves a request that opens a session (an initialize): a server of
// its own over a session for who, whose reader opens at the first call
// and closes when the session ends.
func (h *Handler) open(w http.ResponseWriter, r *http.Request, who engine.Who) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "busy", "the server is shutting down")
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	s := &httpSession{who: who}
	s.s = &Session{who: who, open: func(ctx context.Context) (*engine.Reader, error) { return h.e.Open(ctx, who, nil) }}
	srv := newServer(h.o, s.s, func() string {
		s.id = rand.Text()
		h.mu.Lock()
		defer h.mu.Unlock()
		h.sessions[s.id] = s
		return s.id
	})
	h.sdk.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), serverKey{}, srv)))
	// The SDK has now kept the session (initialized) or closed it.
	var ss *mcp.ServerSession
	for x := range srv.Sessions() {
		ss = x
	}
	if ss == nil {
		h.end(s)
		return
	}
	h.mu.Lock()
	s.ss = ss
	closed := h.closed
	h.mu.Unlock()
	if closed {
		// Close ran meanwhile and could not see this session. Close's
		// error is the connection's as it ends, which ending it makes
		// moot.
		_ = ss.Close()
	}
	go func() {
		// Wait's error is why the session ended; every way ends it.
		_ = ss.Wait()
		h.end(s)
	}()
}

// end forgets an ended session and closes its reader.
func (h *Handler) end(s *httpSession) {
	err := s.s.Close()
	h.mu.Lock()
	if s.id != "" {
		delete(h.sessions, s.id)
	}
	if err != nil {
		h.errs = append(h.errs, err)
	}
	h.mu.Unlock()
	h.wg.Done()
}

// Close ends every session, once its calls have returned, and closes
// their readers (on the server's shutdown, after the HTTP server's:
// a session opened later is refused). It returns the errors of closing
// readers.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	var open []*mcp.ServerSession
	for _, s := range h.sessions {
		if s.ss != nil {
			open = append(open, s.ss)
		}
	}
	h.mu.Unlock()
	for _, ss := range open {
		// Its error is the connection's as it ends (see open).
		_ = ss.Close()
	}
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return errors.Join(h.errs...)
}

// sameWho says whether a and b are one caller: the same principal,
// tenant and collections served.
func sameWho(a, b engine.Who) bool {
	return a.As == b.As && a.Tenant == b.Tenant && slices.Equal(a.Collections, b.Collections) && a.Filter.String() == b.Filter.String()
}

// writeError writes rag serve's error object: {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]map[string]string{"error": {"code": code, "message": msg}}
	// The status is sent: a client gone meanwhile is no error of ours.
	_ = json.NewEncoder(w).Encode(body)
}
