// Package cli wires rag's commands: one file a command, each binding its
// flags into an options struct and running with injected dependencies (IO
// streams, environment, HTTP client, clock), so every command can be tested
// in-process. Errors are printed and mapped to exit codes in one place, Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/iostreams"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/store"
)

// App holds what every command depends on.
type App struct {
	IO   *iostreams.IOStreams
	Env  func(string) string
	HTTP *http.Client
	Now  func() time.Time
	// Version is printed by `rag --version`.
	Version string
	// Fault, if set, is called at named points of index writes; the crash
	// tests' build of rag kills itself there.
	Fault func(point string)
	// watchReady, if set, is called once `rag index --watch` is watching.
	watchReady func()
}

// NewHTTPClient is the client rag uses for Ollama: a short connect timeout
// so that a server that is down is reported at once, and no overall timeout
// because answers stream for as long as the model writes.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

// Run executes rag with args (without the program name) and returns the
// exit code. It is the only place that prints errors.
func (a *App) Run(ctx context.Context, args []string) int {
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(a.IO.In)
	root.SetOut(a.IO.Out)
	root.SetErr(a.IO.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	code, hint := classify(err)
	var silent *silentError
	if errors.As(err, &silent) {
		return code
	}
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	fmt.Fprintf(a.IO.ErrOut, "rag: error: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(a.IO.ErrOut, "rag: hint: %s\n", hint)
	}
	return code
}

// globalOptions are the flags every command takes.
type globalOptions struct {
	IndexDir   string
	JSON       bool
	EmbedModel string
}

// indexDir is the index folder, refused when it is a file or a folder of
// other files: rag would write its index among them (and index itself).
func (a *App) indexDir(g *globalOptions) (string, error) {
	dir, err := config.IndexDir(g.IndexDir, a.Env)
	if err != nil {
		return "", err
	}
	if err := store.CheckDir(dir); err != nil {
		return "", err
	}
	return dir, nil
}

func (a *App) ollama() (*ollama.Client, error) {
	host, err := config.OllamaHost(a.Env("OLLAMA_HOST"))
	if err != nil {
		return nil, &hintedError{err: &usageError{err: err}, hint: "set OLLAMA_HOST to host:port, e.g. 127.0.0.1:11434"}
	}
	return ollama.New(host, a.HTTP), nil
}

func newRootCmd(a *App) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "rag",
		Short: "Answers from your own documents, with sources",
		Long: `rag indexes folders of documents on your machine and answers questions from
them with a local Ollama model, citing the file and lines of every source.

  rag index ./docs                 index a folder (again: only changes are embedded)
  rag search "query"               the best matching chunks, no LLM
  rag ask "question"               a cited answer from the documents
  rag status                       what the index holds, and its health
  rag eval SET                     measure retrieval and answers on a question set

The index lives in --index, else $RAG_INDEX, else ~/.local/share/rag/index.
Ollama is reached at $OLLAMA_HOST (default 127.0.0.1:11434).
Every command takes --json for scripts; see 'rag help exit-codes'.`,
		Version:       a.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.IndexDir, "index", "", "index folder (default $RAG_INDEX or ~/.local/share/rag/index)")
	pf.BoolVar(&g.JSON, "json", false, "print one JSON document on stdout")
	pf.StringVar(&g.EmbedModel, "embed-model", "", "Ollama embedding model (default: the index's model, or "+config.DefaultEmbedModel+" for a new index)")

	root.AddCommand(newIndexCmd(a, g), newSearchCmd(a, g), newAskCmd(a, g), newStatusCmd(a, g), newEvalCmd(a, g), &cobra.Command{
		Use:   "exit-codes",
		Short: "What rag's exit codes mean",
		Long:  exitCodesHelp,
	})
	root.SetVersionTemplate("rag {{.Version}}\n")
	return root
}

// readQuery takes a query from the arguments, or from stdin when it is "-"
// or missing while stdin is not a terminal.
func (a *App) readQuery(args []string, what string) (string, error) {
	fromStdin := len(args) == 1 && args[0] == "-" || len(args) == 0 && !a.IO.IsStdinTTY()
	if !fromStdin {
		if len(args) == 0 {
			return "", usagef("no %s given", what)
		}
		return strings.Join(args, " "), nil
	}
	data, err := io.ReadAll(io.LimitReader(a.IO.In, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read %s from standard input: %w", what, err)
	}
	q := strings.TrimSpace(string(data))
	if q == "" {
		return "", usagef("no %s on standard input", what)
	}
	return q, nil
}

// closeWith closes c and keeps its error if nothing failed before.
func closeWith(err *error, c io.Closer) {
	if cerr := c.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}
