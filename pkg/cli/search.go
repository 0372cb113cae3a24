package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/render"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
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
with an embedding ranking; --mode lexical needs no Ollama at all. --rerank has
an Ollama model judge the candidates. Use - (or pipe the query) to read it
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
			q, err := a.readQuery(args, "query")
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

// queryDeps is what search and ask need: the index, the Ollama client and
// the embedder of the index's model.
type queryDeps struct {
	// view is who asks: every search and count sees its share alone.
	view   store.View
	store  *store.Local
	client *ollama.Client
	embed  *embed.Model
}

// openForQuery opens an existing index and the embedder of its model, for
// the view vo names.
func openForQuery(ctx context.Context, a *App, g *globalOptions, vo ViewOptions) (*queryDeps, error) {
	view, err := a.view(ctx, vo)
	if err != nil {
		return nil, err
	}
	m, model, err := openIndex(ctx, a, g)
	if err != nil {
		return nil, err
	}
	if err := checkCollections(m.Manifest(), view); err != nil {
		return nil, errors.Join(err, m.Close())
	}
	client, err := a.ollama()
	if err != nil {
		return nil, errors.Join(err, m.Close())
	}
	return &queryDeps{view: view, store: m, client: client, embed: &embed.Model{Client: client, Name: model}}, nil
}

// openIndex opens the index read-only and names the embedding model its
// queries need.
func openIndex(ctx context.Context, a *App, g *globalOptions) (*store.Local, string, error) {
	dir, err := a.indexDir(g)
	if err != nil {
		return nil, "", err
	}
	m, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		return nil, "", err
	}
	man := m.Manifest()
	if g.EmbedModel != "" && man.Dims > 0 && g.EmbedModel != man.EmbedModel {
		return nil, "", errors.Join(&store.ModelMismatchError{IndexModel: man.EmbedModel, IndexDims: man.Dims, Model: g.EmbedModel}, m.Close())
	}
	if c := m.Recovered(); c != nil {
		updated := "never"
		if !man.Updated.IsZero() {
			updated = man.Updated.Local().Format("2006-01-02 15:04:05 MST")
		}
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: the index catalog is damaged (%v); answering from the previous one (of %s): files the last `rag index` added or changed may be missing or stale; run `rag index` to repair it\n", a.errText(c.Err.Error()), updated)
	}
	model := man.EmbedModel
	if man.Dims == 0 && g.EmbedModel != "" {
		model = g.EmbedModel
	}
	return m, model, nil
}

// refresh makes a long-lived command (rag chat, rag mcp) answer its next
// question as a new run would: who asks is resolved again (a groups file
// changed meanwhile takes effect at once, as for other commands), and the
// index is opened again when `rag index` has committed since it was
// opened (store.Local.Stale).
func (q *queryDeps) refresh(ctx context.Context, a *App, g *globalOptions, vo ViewOptions) error {
	view, err := a.view(ctx, vo)
	if err != nil {
		return err
	}
	q.view = view
	if !q.store.Stale() {
		return nil
	}
	m, model, err := openIndex(ctx, a, g)
	if err != nil {
		return err
	}
	old := q.store
	q.store, q.embed = m, &embed.Model{Client: q.client, Name: model}
	return old.Close()
}

// warnDamaged names on stderr the files a query could not read (their
// stored chunks are damaged) and returns their paths, as citations show
// them, for --json.
func warnDamaged(a *App, q *queryDeps) []string {
	paths := damagedPaths(q)
	if len(paths) > 0 {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: left out %s whose stored chunks are damaged: %s; run `rag index` to embed them again\n",
			plural(len(paths), "file"), a.errText(strings.Join(paths, ", ")))
	}
	return paths
}

// empty reports whether the view sees no chunk, from the catalog alone:
// then there is nothing to search and no reason to contact Ollama.
func (q *queryDeps) empty() bool {
	m := q.store.Manifest()
	for i := range m.Files {
		if m.Files[i].Chunks > 0 && m.Sees(q.view, &m.Files[i]) {
			return false
		}
	}
	return true
}

type searchReport struct {
	Query       string            `json:"query"`
	Mode        string            `json:"mode"`
	RerankModel string            `json:"rerank_model,omitempty"`
	Results     []retrieve.Result `json:"results"`
	// DamagedFiles were left out: their stored chunks are damaged.
	DamagedFiles []string `json:"damaged_files"`
	// Expansion is what was searched beside the query (--expand).
	Expansion *retrieve.Expansion `json:"expansion,omitempty"`
}

func searchRun(ctx context.Context, a *App, opts *SearchOptions) (err error) {
	q, err := openForQuery(ctx, a, opts.globalOptions, opts.View)
	if err != nil {
		return err
	}
	defer closeWith(&err, q.store)
	ropt, rr := opts.options(q)
	var results []retrieve.Result
	if !q.empty() { // nothing to search: Ollama is not needed
		if ropt.Expansion, err = opts.expander(a, q, a.cfg.String(config.KeyModel)).expand(ctx, opts.Query); err != nil {
			return err
		}
		if results, err = retrieve.Search(ctx, q.store, q.embed, opts.Query, opts.K, ropt); err != nil {
			return err
		}
	}
	if results == nil {
		results = []retrieve.Result{}
	}
	damaged := warnDamaged(a, q)
	if opts.JSON {
		rep := searchReport{Query: opts.Query, Mode: opts.Mode, Results: results, DamagedFiles: damaged, Expansion: ropt.Expansion}
		if rr != nil {
			rep.RerankModel = rr.Name
		}
		return writeJSON(a, rep)
	}
	if opts.Files {
		return writeFiles(a, results)
	}
	if len(results) == 0 {
		msg := "No results: the index is empty."
		if !q.empty() {
			msg = "No results: no chunk shares a word with the query."
		}
		_, err := fmt.Fprintln(a.IO.Out, msg)
		return err
	}
	_, err = fmt.Fprint(a.IO.Out, formatResults(a, opts, results))
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
			p = filepath.Join(r.Root, filepath.FromSlash(r.Path))
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
