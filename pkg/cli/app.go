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
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/internal/iostreams"
	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/provider"
	"github.com/rag-cli/rag/pkg/store"
)

// App holds what every command depends on.
type App struct {
	IO   *iostreams.IOStreams
	Env  func(string) string
	HTTP *http.Client
	Now  func() time.Time
	// Dir is the working directory, where the search for a project's
	// .rag.yaml starts; "" reads no project file.
	Dir string
	// Version, if set (with -ldflags), replaces the module version that
	// `rag version` reads from the build info.
	Version string
	// BuildInfo reads the binary's build info; nil means debug.ReadBuildInfo.
	BuildInfo func() (*debug.BuildInfo, bool)
	// Fault, if set, is called at named points of index writes; the crash
	// tests' build of rag kills itself there.
	Fault func(point string)
	// watchReady, if set, is called once `rag index --watch` is watching.
	watchReady func()
	// cfg are the settings of this run, before flags.
	cfg *config.Settings
	// wroteJSON and wroteJSONLines record that this run wrote a JSON
	// document, or JSON Lines, on stdout: an error after a whole document
	// is reported in it already (a partial index, an eval below its
	// threshold), one after lines gets a line of its own.
	wroteJSON, wroteJSONLines bool
	// quiet is --quiet: no progress lines on a stderr that is not a terminal.
	quiet bool
}

// jsonError is what --json writes on stdout when a command fails, so that
// a script reading stdout sees why: the exit code, the message and the hint
// that stderr shows.
type jsonError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Hint    string `json:"hint,omitempty"`
	} `json:"error"`
}

// writeErrorJSON writes the error object unless stdout carries a protocol
// (rag mcp) or a whole JSON document already; writing is best effort, as
// the error itself is what is being reported.
func (a *App) writeErrorJSON(cmd *cobra.Command, code int, msg, hint string) {
	if a.wroteJSON || cmd != nil && cmd.Annotations[stdoutProtocol] != "" {
		return
	}
	var e jsonError
	e.Error.Code, e.Error.Message, e.Error.Hint = code, msg, hint
	if a.wroteJSONLines {
		_ = writeJSONLine(a, e)
		return
	}
	_ = writeJSON(a, e)
}

// stdoutProtocol marks a command whose stdout carries a protocol (rag mcp):
// nothing else may be written there.
const stdoutProtocol = "rag-stdout-protocol"

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
	start := time.Now()
	root, g := newRootCmd(ctx, a)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	code := a.report(ctx, cmd, g, err)
	if g.Verbose {
		fmt.Fprintf(a.IO.ErrOut, "rag: took %s\n", time.Since(start).Round(time.Millisecond))
	}
	return code
}

// report prints err, if any, and returns the exit code for it. cmd is the
// command that ran (or failed to parse), so that a usage hint names its help.
func (a *App) report(ctx context.Context, cmd *cobra.Command, g *globalOptions, err error) int {
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
	if hint == hintUsage && cmd != nil {
		hint = fmt.Sprintf("run `%s --help` for usage", cmd.CommandPath())
	}
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	if g.JSON {
		a.writeErrorJSON(cmd, code, msg, hint)
	}
	msg, hint = a.errText(msg), a.errText(hint)
	fmt.Fprintf(a.IO.ErrOut, "rag: error: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(a.IO.ErrOut, "rag: hint: %s\n", hint)
	}
	return code
}

// errText makes a message for stderr safe for a terminal: messages carry
// file names and server replies, whose control characters are shown
// escaped when stderr is a terminal and kept as they are when it is not.
func (a *App) errText(s string) string {
	if a.IO.EscapeUntrustedErr() {
		return render.Escape(s)
	}
	return s
}

// globalOptions are the flags every command takes.
type globalOptions struct {
	IndexDir string
	// Store is the store URL of an index a server holds (--store); ""
	// the embedded store in IndexDir.
	Store      string
	JSON       bool
	EmbedModel string
	Verbose    bool
	// Quiet turns off the progress lines written when stderr is not a
	// terminal (a terminal's bar is redrawn in place and stays).
	Quiet bool
}

// indexDir is the index folder, refused when it is a file or a folder of
// other files: rag would write its index among them (and index itself).
func (a *App) indexDir(g *globalOptions) (string, error) {
	if g.Store != "" {
		return g.IndexDir, nil // a server holds the index: the folder is not used
	}
	if g.IndexDir == "" {
		return "", &hintedError{err: &usageError{err: config.ErrNoIndexDir}, hint: "set --index, RAG_INDEX or index: in a config file (see `rag config`)"}
	}
	if err := store.CheckDir(g.IndexDir); err != nil {
		return "", err
	}
	return g.IndexDir, nil
}

// defaultModelTimeout is how long rag waits for the model server's reply
// (for a streamed one, its next message) where no --timeout says: long
// enough for Ollama to load a large model.
const defaultModelTimeout = 5 * time.Minute

// ollama is the client of the model server, with defaultModelTimeout;
// commands with --timeout set theirs.
func (a *App) ollama() (*ollama.Client, error) {
	host, err := config.OllamaHost(a.cfg.String(config.KeyOllamaHost))
	if err != nil {
		return nil, &hintedError{err: &usageError{err: err}, hint: "set OLLAMA_HOST to host:port, e.g. 127.0.0.1:11434"}
	}
	c := ollama.New(host, a.HTTP)
	c.Timeout = defaultModelTimeout
	return c, nil
}

// dial makes the client of the model servers with timeout when an engine
// first needs it, so that a malformed OLLAMA_HOST fails no earlier than
// the run would.
func (a *App) dial(timeout time.Duration) func() (provider.Client, error) {
	return func() (provider.Client, error) { return a.models(timeout) }
}

// loadSettings finds and reads the config files and resolves the settings
// they and the environment give; flags are laid on top by each command.
// A config file is read only when it is a regular file (a link to one is
// followed), at most config.MaxFileSize, and until ctx is done: a
// repository can carry a .rag.yaml that is a link to /dev/zero.
func (a *App) loadSettings(ctx context.Context) (*config.Settings, config.Files, error) {
	files, err := config.Locate(a.Env, a.Dir, os.Stat)
	if err != nil {
		return nil, files, err
	}
	s, err := config.Load(a.Env, files, func(p string) ([]byte, error) { return filestat.ReadFile(ctx, p, config.MaxFileSize) })
	return s, files, err
}

// settingAnnotation marks a flag that overrides a setting, so that `rag
// config` and -v can say the flag set it.
const settingAnnotation = "rag-setting"

func bindSetting(f *pflag.FlagSet, flag string, key config.Key) {
	if err := f.SetAnnotation(flag, settingAnnotation, []string{string(key)}); err != nil {
		panic(err) // a flag misnamed in the code
	}
}

// applyFlags records the flags the user set as the origin of their settings.
func applyFlags(cmd *cobra.Command, s *config.Settings) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		keys := f.Annotations[settingAnnotation]
		if len(keys) != 1 || err != nil {
			return
		}
		if serr := s.Set(config.Key(keys[0]), f.Value.String(), config.Origin{Kind: config.FromFlag, Name: f.Name}); serr != nil {
			name := "--" + f.Name
			if f.Shorthand != "" {
				name = "-" + f.Shorthand
			}
			err = usagef("%s: %v", name, errors.Unwrap(serr))
		}
	})
	return err
}

// noConfig marks commands that work with a broken config file, so that a
// user can still find and fix it.
const noConfig = "rag-no-config"

// needsConfig reports whether cmd uses the settings: help, completion,
// version and `config path` do not.
func needsConfig(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[noConfig] != "" && c.HasParent() || c.Name() == "help" || c.Name() == "completion" {
			return false
		}
	}
	return cmd.HasParent() // the root only prints help
}

func newRootCmd(ctx context.Context, a *App) (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	cfg, files, cfgErr := a.loadSettings(ctx)
	if cfgErr != nil {
		// Commands fail with cfgErr; help and `rag config path` still work.
		cfg, _ = config.Resolve(func(string) string { return "" })
	}
	a.cfg = cfg
	root := &cobra.Command{
		Use:   "rag",
		Short: "Answers from your own documents, with sources",
		Long: `rag indexes folders of documents on your machine and answers questions from
them with a local Ollama model, citing the file and lines of every source.

  rag index ./docs                 index a folder (again: only changes are embedded)
  rag search "query"               the best matching chunks, no LLM
  rag ask "question"               a cited answer from the documents
  rag show guide.md:12-30          what the index holds for a file or a citation
  rag status                       what the index holds, and its health
  rag ls                           the indexed files, by collection
  rag eval SET                     measure retrieval and answers on a question set
  rag pull                         pull the models the index and settings need
  rag config                       the settings in effect, and where each comes from

The index lives in --index, else $RAG_INDEX, else index: in .rag.yaml or
~/.config/rag/config.yaml, else $XDG_DATA_HOME/rag/index, else
~/.local/share/rag/index.
Ollama is reached at $OLLAMA_HOST (default 127.0.0.1:11434).
Every command takes --json for scripts; see 'rag help exit-codes'.`,
		Version:       a.versionInfo().String(),
		Annotations:   map[string]string{noConfig: "yes"},
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.quiet = g.Quiet
			if !needsConfig(cmd) {
				return nil
			}
			if cfgErr != nil {
				return cfgErr
			}
			if err := applyFlags(cmd, cfg); err != nil {
				return err
			}
			if g.Verbose {
				verboseSettings(a, cfg)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: flagError(err)}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&g.IndexDir, "index", cfg.String(config.KeyIndex), "index folder; $RAG_INDEX or index: in a config file sets the default")
	bindSetting(pf, "index", config.KeyIndex)
	pf.StringVar(&g.Store, "store", cfg.String(config.KeyStore), "keep the index in a Weaviate server, not in the --index folder: weaviate://HOST:PORT[?index=NAME&consistency=QUORUM&replicas=N&tls=true]; an API key from $RAG_WEAVIATE_API_KEY; $RAG_STORE or store: sets the default")
	bindSetting(pf, "store", config.KeyStore)
	pf.BoolVar(&g.JSON, "json", false, "print one JSON document on stdout")
	pf.StringVar(&g.EmbedModel, "embed-model", cfg.String(config.KeyEmbedModel), "Ollama embedding model (default: the index's model, or "+config.DefaultEmbedModel+" for a new index); $RAG_EMBED_MODEL or embed_model: in a config file sets it")
	bindSetting(pf, "embed-model", config.KeyEmbedModel)
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "say more on stderr: the settings used, timings, skipped files")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "no progress lines on stderr when it is not a terminal (a log)")

	root.AddCommand(newIndexCmd(a, g), newSearchCmd(a, g), newAskCmd(a, g), newChatCmd(a, g), newMCPCmd(a, g), newServeCmd(a, g), newShowCmd(a, g), newStatusCmd(a, g), newLsCmd(a, g), newEvalCmd(a, g),
		newConfigCmd(a, g, files, cfgErr), newVersionCmd(a, g), newPullCmd(a, g), newTokenCmd(a, g), &cobra.Command{
			Use:         "exit-codes",
			Short:       "What rag's exit codes mean",
			Long:        exitCodesHelp,
			Annotations: map[string]string{noConfig: "yes"},
		})
	root.SetIn(a.IO.In)
	root.SetOut(a.IO.Out)
	root.SetErr(a.IO.ErrOut)
	// Created now rather than when run, so its flags are registered and it
	// writes to the streams set above.
	root.InitDefaultCompletionCmd()
	registerCompletions(a, root, g)
	root.SetVersionTemplate("rag {{.Version}}\n")
	return root, g
}

// verboseSettings prints the settings of this run on stderr, for -v.
func verboseSettings(a *App, cfg *config.Settings) {
	for _, s := range cfg.All() {
		fmt.Fprintf(a.IO.ErrOut, "rag: %s = %s (%s)\n", s.Key, orDash(s.Value), s.Origin)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// maxQuery is the longest question or query rag takes, in bytes: more is
// a document, not a question.
const maxQuery = 1 << 20

// readQuery takes a query from the arguments, or from stdin when it is "-"
// or missing while stdin is not a terminal. One longer than maxQuery is
// refused whole rather than cut (mid-word, silently, it was). An empty or
// blank query is a usage error: searched, it would match anything, and an
// arbitrary result must not read as an answer; example is a command line
// that shows how.
func (a *App) readQuery(args []string, what, example string) (string, error) {
	fromStdin := len(args) == 1 && args[0] == "-" || len(args) == 0 && !a.IO.IsStdinTTY()
	if !fromStdin {
		if len(args) == 0 {
			return "", usagef("no %s given", what)
		}
		q := strings.Join(args, " ")
		if len(q) > maxQuery {
			return "", tooLong(what, "")
		}
		if strings.TrimSpace(q) == "" {
			return "", &hintedError{err: usagef("the %s is empty", what),
				hint: fmt.Sprintf("give the %s in words, as in `%s`, or - to read it from standard input", what, example)}
		}
		return q, nil
	}
	data, err := io.ReadAll(io.LimitReader(a.IO.In, maxQuery+1))
	if err != nil {
		return "", fmt.Errorf("read %s from standard input: %w", what, err)
	}
	if len(data) > maxQuery {
		return "", tooLong(what, " on standard input")
	}
	q := strings.TrimSpace(string(data))
	if q == "" {
		return "", usagef("no %s on standard input", what)
	}
	return q, nil
}

func tooLong(what, where string) error {
	return &hintedError{err: usagef("the %s%s is longer than 1 MiB, the most rag takes", what, where),
		hint: "ask a shorter " + what + "; to search or ask about a long text, index it with `rag index FILE`"}
}

// closeWith closes c and keeps its error if nothing failed before.
func closeWith(err *error, c io.Closer) {
	if cerr := c.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}
