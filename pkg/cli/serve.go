package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/guard"
	"github.com/rag-cli/rag/internal/mcpserver"
	"github.com/rag-cli/rag/internal/server"
	"github.com/rag-cli/rag/internal/tokens"
	"github.com/rag-cli/rag/internal/webui"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/store"
)

// ServeOptions are the settings of `rag serve`: ask's, for the ask route
// and the retrieval of every route, the default k of search, and who may
// call.
type ServeOptions struct {
	AskOptions
	SearchK int
	// Addr is host:port to listen on.
	Addr string
	// RequireToken refuses requests without a token (401); TokensFile
	// names the tokens.
	RequireToken bool
	TokensFile   string
	// AllowOrigins and AllowHosts widen the Origin and Host checks.
	AllowOrigins, AllowHosts []string
	// LogQueries puts query text in the access log.
	LogQueries bool
	// Limits are the guard's: time per request, requests in flight,
	// requests a minute per caller.
	RequestTimeout time.Duration
	MaxInFlight    int
	RatePerMin     int
	// VectorCacheMB bounds the memory that keeps the index's scanned
	// vectors between searches (0: none).
	VectorCacheMB int
}

// Shutdown bounds how long rag serve waits for the requests in flight
// when it is told to stop.
const serveShutdown = 30 * time.Second

// serveHeadroom is the memory a server may take beyond --vector-cache
// before its collector works harder (a soft limit, GOMEMLIMIT's): the
// requests in flight and the readers kept between them.
const serveHeadroom = 512 << 20

// tokensLookup is the tokens file as the server looks tokens up.
type tokensLookup struct{ f *tokens.File }

func (t tokensLookup) Lookup(secret string, now time.Time) (principal, tenant string, admin bool, id string, err error) {
	tok, err := t.f.Lookup(secret, now)
	if err != nil {
		return "", "", false, "", err
	}
	return tok.Principal, tok.Tenant, tok.Admin, tok.ID, nil
}

func newServeCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &ServeOptions{AskOptions: AskOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the index over HTTP to many callers, each seeing only their documents",
		Long: `Serve answers search, ask, get and status over HTTP, as JSON (the documents
of --json), for every caller its token allows:

  POST /v1/search       {"query", "k", "mode", "fusion", "collections", "filter", "expand", "rerank"}
  POST /v1/ask          {"question", ..., "min_score", "min_relevance", "min_coverage",
                         "stream": "ndjson" or "sse" to get the answer as it is written}
  POST /v1/get          {"target", "collections", "filter"}
  POST /v1/multi-get    {"targets", "max_bytes", "collections", "filter"}
  GET  /v1/status, GET /v1/collections, GET /healthz
  POST /v1/index        re-index the recorded folders (admin tokens only)
  /mcp                  the tools of rag mcp over MCP's streamable HTTP transport
  GET  /metrics         Prometheus metrics (admin tokens only)
  GET  /                a page to search and ask from a browser

A caller sends its token as Authorization: Bearer TOKEN (rag token add makes
one); who asks, the tenant and the admin right come from the token, never
from the request. Without a token a caller sees public documents only, or is
refused (401) with --require-token; a wrong token is always refused. Each
request reads the index as it is then: what rag index commits meanwhile
counts at the next request, without a restart.

It listens on 127.0.0.1:8181 unless --addr says otherwise, and answers only
requests addressed to that address (Host) from pages of its own origin:
--allow-host and --allow-origin widen that on purpose. Errors are
{"error": {"code", "message", "hint"}} with an HTTP status. SIGINT or SIGTERM
stops it once the requests in flight are answered (exit 0).`,
		Example: `  rag serve
  rag serve --addr 0.0.0.0:8181 --tokens ~/.config/rag/tokens --require-token --allow-host rag.example.org
  curl -s localhost:8181/v1/search -d '{"query": "retry policy", "k": 3}' | jq -r '.results[].path'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("as") || cmd.Flags().Changed("tenant") {
				return usagef("rag serve takes who asks from each request's token: --as and --tenant are not for it")
			}
			if opts.K < 1 || opts.SearchK < 1 {
				return usagef("-k and --search-k must be at least 1")
			}
			if opts.VectorCacheMB < 0 {
				return usagef("--vector-cache must be 0 (none) or more")
			}
			if err := opts.check(); err != nil {
				return err
			}
			return serveRun(cmd.Context(), a, opts)
		},
	}
	bindAnswer(cmd.Flags(), a, &opts.AskOptions)
	f := cmd.Flags()
	f.IntVar(&opts.SearchK, "search-k", a.cfg.Int(config.KeySearchK), "results of a search that gives no k; search_k: in a config file sets the default")
	bindSetting(f, "search-k", config.KeySearchK)
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:8181", "HOST:PORT to listen on")
	f.BoolVar(&opts.RequireToken, "require-token", false, "refuse requests without a token (401) rather than serve them public documents")
	f.StringVar(&opts.TokensFile, "tokens", a.cfg.String(config.KeyTokensFile), "the tokens file (rag token add writes it); $RAG_TOKENS_FILE or tokens_file: sets the default")
	bindSetting(f, "tokens", config.KeyTokensFile)
	f.DurationVar(&opts.RequestTimeout, "request-timeout", 5*time.Minute, "answer 504 to a request that has written nothing by then (a streamed answer writes as it goes)")
	f.IntVar(&opts.MaxInFlight, "max-in-flight", 16, "requests served at once; more are refused at once with 503 and Retry-After, never queued")
	f.IntVar(&opts.RatePerMin, "rate", 600, "requests a minute per caller (a token, or an address without one); more get 429 and Retry-After; 0 for no limit")
	f.StringSliceVar(&opts.AllowOrigins, "allow-origin", nil, "an origin (https://app.example.org) whose pages may call the server, with CORS (repeatable)")
	f.StringSliceVar(&opts.AllowHosts, "allow-host", nil, "a host name (or name:port) requests may be addressed to besides --addr, as behind a proxy (repeatable)")
	f.BoolVar(&opts.LogQueries, "log-queries", false, "put the text of queries and questions in the access log")
	f.IntVar(&opts.VectorCacheMB, "vector-cache", 1024, "MiB of memory that keep the index's vectors (5 bytes a dimension a chunk: 385 MiB for 100,000 chunks of 768) and the texts of recent hits between searches, so a warm search reads few files; 0 for none")
	return cmd
}

// serveRun serves until ctx ends (SIGINT, SIGTERM), then waits for the
// requests in flight.
func serveRun(ctx context.Context, a *App, opts *ServeOptions) (err error) {
	h, mcp, dir, err := serveHandler(ctx, a, opts)
	if err != nil {
		return err
	}
	defer closeWith(&err, mcp) // its sessions' readers, once the server stopped
	if opts.VectorCacheMB > 0 && (a.Env == nil || a.Env("GOMEMLIMIT") == "") {
		// The cache is most of the heap and never garbage: without a limit
		// the collector would let the heap grow to twice it before it ran.
		debug.SetMemoryLimit(int64(opts.VectorCacheMB)<<20 + serveHeadroom)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return &hintedError{err: fmt.Errorf("serve: %w", err), hint: "choose another --addr HOST:PORT"}
	}
	addr := ln.Addr().String()
	handler := h(addr)
	defer closeWith(&err, handler) // the readers kept between requests
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: log.New(a.IO.ErrOut, "rag: serve: ", 0)}
	fmt.Fprintf(a.IO.ErrOut, "rag: serving %s on http://%s\n", a.errText(dir), addr)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Told to stop: no new connection, the requests in flight answered.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: stopping: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// serveHandler checks the index and the flags, and returns the server's
// handler for the address it listens on, and the index folder.
func serveHandler(ctx context.Context, a *App, opts *ServeOptions) (func(addr string) *server.Handler, io.Closer, string, error) {
	client, err := a.models(opts.Timeout)
	if err != nil {
		return nil, nil, "", err
	}
	dir, err := a.indexDir(opts.globalOptions)
	if err != nil {
		return nil, nil, "", err
	}
	cfg, err := a.engineConfig(dir, opts.globalOptions)
	if err != nil {
		return nil, nil, "", err
	}
	cfg.Models = client
	if opts.VectorCacheMB > 0 {
		cfg.Resident = store.NewResident(int64(opts.VectorCacheMB) << 20)
	}
	e := engine.New(cfg)
	// No index is a mistake of the command, not of each request.
	r, err := e.Open(ctx, engine.Who{}, a.events())
	if err != nil {
		return nil, nil, "", err
	}
	if err := r.Close(); err != nil {
		return nil, nil, "", err
	}
	o, err := opts.askOptions(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	var lookup server.TokenLookup
	if opts.TokensFile != "" {
		lookup = tokensLookup{tokens.Open(opts.TokensFile)}
	}
	auth := server.BearerAuth(lookup, opts.RequireToken, a.Now)
	if cols := opts.View.Collections; len(cols) > 0 {
		// --collection narrows what every caller is served.
		inner := auth
		auth = func(r *http.Request) (server.Caller, error) {
			c, err := inner(r)
			c.Who.Collections = cols
			return c, err
		}
	}
	metrics := guard.NewMetrics(indexSize(e.Config().Dir))
	limits := guard.Limits{MaxBody: server.MaxBody, MaxQuery: server.DefaultMaxQuery, MaxK: server.DefaultMaxK,
		Timeout: opts.RequestTimeout, RatePerMin: opts.RatePerMin, MaxInFlight: opts.MaxInFlight}
	mcp := mcpserver.HTTPHandler(e, mcpserver.Options{Version: a.versionInfo().Version, Ask: o, SearchK: opts.SearchK, ErrorText: mcpErrorText}, server.CallerWho)
	return func(addr string) *server.Handler {
		return server.New(server.Config{Engine: e, Auth: auth, Addr: addr, AllowOrigins: opts.AllowOrigins, AllowHosts: opts.AllowHosts,
			Ask: o, SearchK: opts.SearchK, ErrorText: serveErrorText, Now: a.Now,
			// A request in flight returns its reader for the next: with
			// fewer kept, a busy server opens the index for most requests.
			IdleReaders: opts.MaxInFlight,
			Guard:       guard.Chain(limits, server.RateKey, server.Principal, a.IO.ErrOut, opts.LogQueries, metrics, a.Now),
			Metrics:     server.AdminOnly(metrics.Handler()),
			MCP:         noEventStream(mcp),
			Page:        webui.Handler(),
		})
	}, mcp, e.Config().Dir, nil
}

// noEventStream answers 405 to MCP's optional GET event stream, as the
// streamable HTTP transport lets a server do: rag's tools send nothing
// unasked, and a stream held open by every client would take a place of
// --max-in-flight each and end at --request-timeout.
func noEventStream(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Allow", "POST, DELETE")
			http.Error(w, "rag serves no event stream at /mcp: POST requests", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// indexSize counts the files and chunks of the index at dir, from its
// catalog, at each scrape of /metrics (0, 0 when it cannot be read).
func indexSize(dir string) func() (files, chunks int) {
	return func() (int, int) {
		m, err := store.ReadManifest(dir)
		if err != nil {
			return 0, 0
		}
		return len(m.Files), m.Chunks()
	}
}

// serveErrorText adds to an error of the HTTP API the hint rag's users
// get (classify's), but for a collection not served, named with the
// flag that serves it; the status is the server's.
func serveErrorText(err error) (status int, code string, msg, hint string) {
	var ns *engine.NotServedError
	if errors.As(err, &ns) {
		msg = fmt.Sprintf("collection %q is not served here (rag serve --collection %s)", ns.Name, strings.Join(ns.Served, ","))
	}
	_, hint = classify(err)
	if hint == hintUsage {
		hint = ""
	}
	return 0, "", msg, hint
}
