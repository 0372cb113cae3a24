package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/mcpserver"
	"github.com/rag-cli/rag/internal/mcpstdio"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
)

// MCPOptions are the settings of `rag mcp`: ask's, for its ask tool and
// the retrieval of all tools, and the default -k of its search tool.
type MCPOptions struct {
	AskOptions
	SearchK int
}

func newMCPCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &MCPOptions{AskOptions: AskOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve search, ask and show to AI assistants over the Model Context Protocol",
		Long: `Mcp serves the index to an AI assistant (Claude Desktop, Claude Code,
Cursor, Zed, any MCP client) over the Model Context Protocol, on stdin and
stdout: the client starts rag mcp and talks JSON-RPC with it. Its tools:

  search     the chunks that best match a query, with their citations,
             as rag search finds them (query, k, mode, collection)
  get        what the index holds for a file or a citation's lines, as
             rag show prints it (citation, collection)
  multi_get  several files, citations or globs (docs/**/*.md) at once,
             as get reads each, up to max_bytes of text together (64 KiB
             unless set); a target that gives nothing says why beside
             the others, documents past the bound are listed as omitted
             (targets, collection, max_bytes)
  ask        an answer written by the Ollama chat model from the
             documents only, with numbered sources, or a refusal, as rag
             ask gives it (question, collection)
  status     what the index holds: files, chunks, collections, models

Every tool sees what --as, --tenant and --collection let it see, and
nothing else; a call's collection narrows it further, never wider. Each
call resolves who asks again (a changed groups file counts at once) and
opens the index again when rag index has changed it, so it answers from
the documents and rules as they are. The flags are ask's and set how
every call retrieves; a call's own k and mode replace -k and --mode for
that search. Calls are served one at a time. Nothing but the protocol is
written to stdout; errors go to stderr. Each line of stdin is one
JSON-RPC message of at most 4 MiB; a line that is not one (not JSON, not
UTF-8, nested over 64 levels, longer, a batch, no "jsonrpc": "2.0", an id
neither a string nor a number) is answered with JSON-RPC's -32700 (parse
error) or -32600 (invalid request), id null when it has no usable one, and
the server goes on. Ids come back exactly as sent. The server ends when
its client closes stdin, once every request read has been answered
(exit 0), or on SIGINT/SIGTERM (exit 130).

A client's configuration names the command, for example:

  {"mcpServers": {"docs": {"command": "rag", "args": ["mcp", "--index", "/home/me/.local/share/rag/index"]}}}`,
		Example: `  rag mcp
  rag mcp --mode lexical          # no embedding model needed
  claude mcp add docs -- rag mcp --as user:alice`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{stdoutProtocol: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.K < 1 || opts.SearchK < 1 {
				return usagef("-k and --search-k must be at least 1")
			}
			if _, err := opts.validate(); err != nil {
				return err
			}
			return a.withPull(cmd.Context(), opts.Pull, func() error { return mcpRun(cmd.Context(), a, opts) })
		},
	}
	bindAnswer(cmd.Flags(), a, &opts.AskOptions)
	cmd.Flags().IntVar(&opts.SearchK, "search-k", a.cfg.Int(config.KeySearchK), "results of the search tool when a call gives no k; search_k: in a config file sets the default")
	bindSetting(cmd.Flags(), "search-k", config.KeySearchK)
	return cmd
}

// mcpRun serves one client on stdin and stdout: one session, of who the
// flags say asks.
func mcpRun(ctx context.Context, a *App, opts *MCPOptions) (err error) {
	q, err := openForQueryWith(ctx, a, opts.globalOptions, &opts.RetrievalOptions, a.mcpEvents())
	if err != nil {
		return err
	}
	q.Pullable = a.pullable(opts.Pull)
	sess := mcpserver.NewSession(q, opts.View.who())
	defer closeWith(&err, sess) // the index as the last call's refresh opened it
	o, err := opts.askOptions(ctx)
	if err != nil {
		return err
	}
	srv := mcpserver.New(mcpserver.Options{Version: a.versionInfo().Version, Ask: o, SearchK: opts.SearchK, ErrorText: mcpErrorText}, sess)
	// The transport answers lines that are not JSON-RPC messages itself,
	// echoes ids as sent, closes stdin when the session ends (so that its
	// reader returns) and, at the end of input, waits for the answers to
	// what was asked before it (printf requests | rag mcp).
	t := &mcpstdio.Transport{In: a.IO.In, Out: a.IO.Out}
	if err := srv.Run(ctx, t); err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("mcp: %w", err)
	}
	return nil
}

// mcpEvents prints the engine's warnings on stderr, but for what each
// call's answer carries already (no dense signal) and the notes of an
// answer's sources.
func (a *App) mcpEvents() engine.Events {
	warn := a.events()
	return func(ev engine.Event) {
		if w, ok := ev.(engine.Warning); ok && (w.Note || w.Kind == engine.WarnNoDenseSignal) {
			return
		}
		warn(ev)
	}
}

// mcpErrorText is a tool's error as rag mcp's client reads it: with the
// hint a user would get (classify's), and a collection the server does
// not serve named with the flag that serves it.
func mcpErrorText(err error) string {
	msg := err.Error()
	var ns *engine.NotServedError
	if errors.As(err, &ns) {
		msg = fmt.Sprintf("collection %q is not served here (rag mcp --collection %s)", ns.Name, strings.Join(ns.Served, ","))
	}
	if _, hint := classify(err); hint != "" {
		msg += " (hint: " + hint + ")"
	}
	return msg
}
