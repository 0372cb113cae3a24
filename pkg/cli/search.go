package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// SearchOptions are the settings of `rag search`.
type SearchOptions struct {
	*globalOptions
	RetrievalOptions
	Query string
	K     int
	Pull  bool
	// Full prints whole chunks on a terminal instead of snippets.
	Full bool
	// Files prints only the distinct paths of the results.
	Files bool
}

func newSearchCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &SearchOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Show the chunks that best match a query, without an LLM",
		Long: `Search prints the chunks of the index that best match the query: path, line
range, score and text. Hybrid mode (the default) fuses a keyword ranking (BM25)
with an embedding ranking; --mode lexical needs no Ollama at all. When the
embedding ranking cannot run (Ollama down, the embedding model missing or not
the index's), hybrid ranks by keywords alone with a warning (--json:
"degraded"); --fallback=false makes that an error. --rerank has an Ollama
model judge the candidates. Use - (or pipe the query) to read it
from stdin.

On a terminal each result shows a snippet, the few lines that match best,
with the query's words highlighted (also other forms of them: "installing"
marks "installation"); --full shows whole chunks. Piped, whole chunks are
printed as stored. --files prints only the paths of the matching files, one
per line, on a terminal and piped. Control characters and escape sequences in
documents are shown escaped (as \x1b) on a terminal, never sent to it. On an
empty index search says so and exits 0 without contacting Ollama.`,
		Example: `  rag search "install on linux"
  rag search --mode lexical "ERR_CONN_RESET"
  rag search --files "retry policy" | xargs grep -n retry
  rag search -k 10 --json "retry policy" | jq -r '.results[].path'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := a.readQuery(args, "query", `rag search "retry policy"`)
			if err != nil {
				return err
			}
			opts.Query = q
			if opts.K < 1 {
				return usagef("-k must be at least 1")
			}
			if _, err := opts.validate(); err != nil {
				return err
			}
			return a.withPull(cmd.Context(), opts.Pull, func() error { return searchRun(cmd.Context(), a, opts) })
		},
	}
	cmd.Flags().IntVarP(&opts.K, "k", "k", a.cfg.Int(config.KeySearchK), "number of results; search_k: in a config file sets the default")
	bindSetting(cmd.Flags(), "k", config.KeySearchK)
	bindRetrieval(cmd.Flags(), &opts.RetrievalOptions, a.cfg)
	cmd.Flags().BoolVar(&opts.Full, "full", false, "on a terminal, print whole chunks instead of snippets")
	cmd.Flags().BoolVar(&opts.Files, "files", false, "print only the absolute paths of the files the -k best chunks are from, one per line")
	cmd.Flags().BoolVar(&opts.Pull, "pull", false, "pull a model the Ollama server does not have, then go on")
	return cmd
}

// openForQuery opens an existing index and the embedder of its model,
// for the view ro names, with its model server timeout; warnings go to
// stderr.
func openForQuery(ctx context.Context, a *App, g *globalOptions, ro *RetrievalOptions) (*engine.Reader, error) {
	return openForQueryWith(ctx, a, g, ro, a.events())
}

// openForQueryWith is openForQuery whose reader reports to events.
func openForQueryWith(ctx context.Context, a *App, g *globalOptions, ro *RetrievalOptions, events engine.Events) (*engine.Reader, error) {
	client, err := a.models(ro.Timeout)
	if err != nil {
		return nil, err
	}
	e, err := a.engine(g, client)
	if err != nil {
		return nil, err
	}
	r, err := e.Open(ctx, ro.View.who(), events)
	if err != nil {
		return nil, flagErr(err)
	}
	return r, nil
}

// pullable says that a missing model will be pulled: --pull, or a
// terminal that offers to.
func (a *App) pullable(pull bool) bool {
	return pull || a.IO.IsStdinTTY() && a.IO.IsStderrTTY()
}

// searchReport is the --json document of `rag search`.
type searchReport = engine.SearchReport

func searchRun(ctx context.Context, a *App, opts *SearchOptions) (err error) {
	q, err := openForQuery(ctx, a, opts.globalOptions, &opts.RetrievalOptions)
	if err != nil {
		return err
	}
	defer closeWith(&err, q)
	q.Pullable = a.pullable(opts.Pull)
	res, err := q.Search(ctx, engine.SearchRequest{Query: opts.Query, K: opts.K, Retrieval: opts.retrieval(), ChatModel: a.cfg.String(config.KeyModel), StrictDamage: true})
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(a, searchReport{Query: opts.Query, Mode: string(opts.Mode), Results: res.Results, DamagedFiles: res.DamagedFiles, Expansion: res.Expansion,
			NoDenseSignal: res.NoDenseSignal, Degraded: res.Degraded, RerankModel: res.RerankModel})
	}
	if opts.Files {
		return writeFiles(a, res.Results)
	}
	if len(res.Results) == 0 {
		msg := "No results: no chunk shares a word with the query."
		var view *engine.EmptyViewError
		switch {
		case res.Empty && errors.As(q.EmptyError(), &view):
			msg = "No results: " + view.Error() + "."
		case res.Empty:
			msg = "No results: the index is empty."
		}
		_, err := fmt.Fprintln(a.IO.Out, msg)
		return err
	}
	_, err = fmt.Fprint(a.IO.Out, formatResults(a, opts, res.Results))
	return err
}

// formatResults lays out search results. Piped, whole chunks as stored (the
// format scripts have relied on); on a terminal, snippets unless --full,
// with the query's words highlighted when colour is on and untrusted text
// escaped.
func formatResults(a *App, opts *SearchOptions, results []retrieve.Result) string {
	escape := a.IO.EscapeUntrusted()
	snippet := a.IO.IsStdoutTTY() && !opts.Full
	hl := render.Highlight{}
	if a.IO.ColorEnabled() {
		hl = render.Bold
	}
	var b strings.Builder
	for i, r := range results {
		cite := r.Cite()
		if escape {
			cite = render.EscapeLine(cite)
		}
		head := fmt.Sprintf("%d. %s", i+1, cite)
		if a.IO.ColorEnabled() {
			head = "\x1b[1m" + head + "\x1b[0m"
		}
		fmt.Fprintf(&b, "%s  (score %.3f)\n", head, r.Score)
		var lines []string
		switch {
		case snippet:
			lines = render.Snippet(r.Text, opts.Query, 3, a.IO.TerminalWidth()-4, hl)
		case escape:
			lines = strings.Split(render.Marked(r.Text, opts.Query, hl), "\n")
		default:
			lines = strings.Split(r.Text, "\n")
		}
		for _, l := range lines {
			b.WriteString("    " + l + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// writeFiles prints the distinct files of the results, best first, as
// absolute paths so that they can be handed to other tools.
func writeFiles(a *App, results []retrieve.Result) error {
	var b strings.Builder
	seen := map[string]bool{}
	for _, r := range results {
		p := r.Path
		if r.Root != "" {
			// The file on disk: a name that is not UTF-8 as it is there.
			p = filestat.HostPath(r.Root, r.Path)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		switch {
		case a.IO.EscapeUntrusted():
			p = render.EscapeLine(p)
		case strings.ContainsFunc(p, unicode.IsControl):
			p = strconv.Quote(p) // a newline in a name must not break the one-path-a-line output
		}
		b.WriteString(p + "\n")
	}
	_, err := fmt.Fprint(a.IO.Out, b.String())
	return err
}
