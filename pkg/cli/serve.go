package cli

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/server"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
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
}

// Shutdown bounds how long rag serve waits for the requests in flight
// when it is told to stop.
const serveShutdown = 30 * time.Second

// openTokens opens the tokens file of --tokens as the server looks
// tokens up.
//
// TODO(merger): plug internal/tokens here, e.g.
//
//	openTokens = func(p string) (server.TokenLookup, error) { return tokensLookup{tokens.Open(p)}, nil }
//
// with an adapter whose Lookup returns t.Principal, t.Tenant, t.Admin,
// t.ID; and read tokens_file: from the config when --tokens is not given.
// Until then --tokens is refused, and rag serve serves public callers only
// (with --require-token: nobody, 401).
var openTokens func(path string) (server.TokenLookup, error)

func newServeCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &ServeOptions{AskOptions: AskOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the index over HTTP to many callers, each seeing only their documents",
		Long: `Serve answers search, ask, get and status over HTTP, as JSON (the documents
of --json), for every caller its token allows:

  POST /v1/search       {"query", "k", "mode", "fusion", "collections", "expand", "rerank"}
  POST /v1/ask          {"question", ..., "min_score", "min_relevance", "min_coverage",
                         "stream": "ndjson" or "sse" to get the answer as it is written}
  POST /v1/get          {"target", "collections"}
  POST /v1/multi-get    {"targets", "max_bytes", "collections"}
  GET  /v1/status, GET /v1/collections, GET /healthz
  POST /v1/index        re-index the recorded folders (admin tokens only)

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
	f.StringVar(&opts.TokensFile, "tokens", "", "the tokens file (rag token add writes it)")
	f.StringSliceVar(&opts.AllowOrigins, "allow-origin", nil, "an origin (https://app.example.org) whose pages may call the server, with CORS (repeatable)")
	f.StringSliceVar(&opts.AllowHosts, "allow-host", nil, "a host name (or name:port) requests may be addressed to besides --addr, as behind a proxy (repeatable)")
	f.BoolVar(&opts.LogQueries, "log-queries", false, "put the text of queries and questions in the access log")
	return cmd
}

// serveRun serves until ctx ends (SIGINT, SIGTERM), then waits for the
// requests in flight.
func serveRun(ctx context.Context, a *App, opts *ServeOptions) (err error) {
	h, dir, err := serveHandler(ctx, a, opts)
	if err != nil {
		return err
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
func serveHandler(ctx context.Context, a *App, opts *ServeOptions) (func(addr string) *server.Handler, string, error) {
	client, err := a.ollama()
	if err != nil {
		return nil, "", err
	}
	client.Timeout = opts.Timeout
	e, err := a.engine(opts.globalOptions, client)
	if err != nil {
		return nil, "", err
	}
	// No index is a mistake of the command, not of each request.
	r, err := e.Open(ctx, engine.Who{}, a.events())
	if err != nil {
		return nil, "", err
	}
	if err := r.Close(); err != nil {
		return nil, "", err
	}
	o, err := opts.askOptions(ctx)
	if err != nil {
		return nil, "", err
	}
	var tokens server.TokenLookup
	if opts.TokensFile != "" {
		if openTokens == nil {
			return nil, "", usagef("--tokens: this build of rag cannot read tokens files yet")
		}
		if tokens, err = openTokens(opts.TokensFile); err != nil {
			return nil, "", err
		}
	}
	auth := server.BearerAuth(tokens, opts.RequireToken, a.Now)
	if cols := opts.View.Collections; len(cols) > 0 {
		// --collection narrows what every caller is served.
		inner := auth
		auth = func(r *http.Request) (server.Caller, error) {
			c, err := inner(r)
			c.Who.Collections = cols
			return c, err
		}
	}
	// TODO(merger): Guard = guard.Chain(limits, server.RateKey, a.IO.ErrOut, opts.LogQueries, metrics, a.Now)
	// with Principal from server.Principal; Metrics = metrics.Handler(); MCP =
	// mcpserver.HTTPHandler(e, ..., who from server.CallerFrom); Page = webui.Handler().
	return func(addr string) *server.Handler {
		return server.New(server.Config{Engine: e, Auth: auth, Addr: addr, AllowOrigins: opts.AllowOrigins, AllowHosts: opts.AllowHosts,
			Ask: o, SearchK: opts.SearchK, ErrorText: serveErrorText, Now: a.Now})
	}, e.Config().Dir, nil
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
