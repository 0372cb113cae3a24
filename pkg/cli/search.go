package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/internal/render"
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

// queryDeps is what search and ask need: the index, the Ollama client and
// the embedder of the index's model.
type queryDeps struct {
	// view is who asks: every search and count sees its share alone.
	view store.View
	// as is who asks, as --as named it ("" public), for messages.
	as     string
	store  *store.Local
	client *ollama.Client
	embed  *embed.Model
	// denseErr, if set, is why the dense ranking cannot run before it is
	// tried: the embedding model asked for is not the index's. Lexical
	// search does not need it.
	denseErr error
	// pull is set when a missing model is pulled (--pull): the dense
	// ranking then waits for it rather than fall back.
	pull bool
	// warnedDegraded is set once a fallback to keywords was warned about.
	warnedDegraded bool
}

// openForQuery opens an existing index and the embedder of its model, for
// the view ro names, with its model server timeout.
func openForQuery(ctx context.Context, a *App, g *globalOptions, ro *RetrievalOptions) (*queryDeps, error) {
	view, note, err := a.resolveView(ctx, ro.View)
	if err != nil {
		return nil, err
	}
	m, model, mismatch, err := openIndex(ctx, a, g)
	if err != nil {
		return nil, err
	}
	man := m.Manifest()
	if err := errors.Join(checkTenant(&man, view), checkCollections(man, view)); err != nil {
		return nil, errors.Join(err, m.Close())
	}
	a.warnWho(note, &man)
	client, err := a.ollama()
	if err != nil {
		return nil, errors.Join(err, m.Close())
	}
	client.Timeout = ro.Timeout
	return &queryDeps{view: view, as: ro.View.As, store: m, client: client, embed: &embed.Model{Client: client, Name: model}, denseErr: mismatch}, nil
}

// openIndex opens the index read-only and names the embedding model its
// queries need. An embedding model asked for that is not the index's is
// mismatch, not an error: only the dense ranking needs the model.
func openIndex(ctx context.Context, a *App, g *globalOptions) (_ *store.Local, model string, mismatch, _ error) {
	dir, err := a.indexDir(g)
	if err != nil {
		return nil, "", nil, err
	}
	m, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		return nil, "", nil, err
	}
	man := m.Manifest()
	model, mismatch = man.EmbedModelFor(g.EmbedModel, config.DefaultEmbedModel)
	if c := m.Recovered(); c != nil {
		updated := "never"
		if !man.Updated.IsZero() {
			updated = man.Updated.Local().Format("2006-01-02 15:04:05 MST")
		}
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: the index catalog is damaged (%v); answering from the previous one (of %s): files the last `rag index` added or changed may be missing or stale; run `rag index` to repair it\n", a.errText(c.Err.Error()), updated)
	}
	return m, model, mismatch, nil
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
	q.view, q.as = view, vo.As
	if !q.store.Stale() {
		return nil
	}
	m, model, mismatch, err := openIndex(ctx, a, g)
	if err != nil {
		return err
	}
	old := q.store
	q.store, q.embed, q.denseErr = m, &embed.Model{Client: q.client, Name: model}, mismatch
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

// noneForDamage is the error of a query that found nothing while files
// the view sees were left out as damaged (missing or unreadable stored
// chunks): "no results" would then be a guess, so it is an index problem
// with the repair hint, and nil otherwise.
func (q *queryDeps) noneForDamage(found int) error {
	if found > 0 {
		return nil
	}
	m := q.store.Manifest()
	if d := m.SeenDamage(q.view, q.store.Damaged()); len(d) > 0 {
		return fmt.Errorf("nothing found, and %w", damageError(nil, d))
	}
	return nil
}

// emptyError says why the view has nothing to search: the index is
// empty (errEmptyIndex), or who asks sees none of it (emptyViewError).
func (q *queryDeps) emptyError() error {
	if len(q.store.Manifest().Files) == 0 {
		return errEmptyIndex
	}
	return &emptyViewError{as: q.as, tenant: q.view.Tenant}
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
	// Degraded is set when a hybrid search ranked by keywords alone.
	Degraded *degraded `json:"degraded,omitempty"`
	// NoDenseSignal is set when the query's embedding had no direction
	// and hybrid search ranked by keywords alone.
	NoDenseSignal bool `json:"no_dense_signal"`
}

// noDenseSignal is retrieve.Options.Degraded for a command: a warning on
// stderr, once, and *seen set for --json.
func noDenseSignal(a *App, seen *bool) func(error) {
	return func(err error) {
		if !*seen {
			fmt.Fprintf(a.IO.ErrOut, "rag: warning: %v; ranked by keywords alone (check the embedding model)\n", err)
		}
		*seen = true
	}
}

func searchRun(ctx context.Context, a *App, opts *SearchOptions) (err error) {
	q, err := openForQuery(ctx, a, opts.globalOptions, &opts.RetrievalOptions)
	if err != nil {
		return err
	}
	defer closeWith(&err, q.store)
	q.pull = opts.Pull
	ropt, rr := opts.options(q)
	var noDense bool
	ropt.Degraded = noDenseSignal(a, &noDense)
	var results []retrieve.Result
	var fellBack *degraded
	if !q.empty() { // nothing to search: Ollama is not needed
		if ropt.Expansion, err = opts.expander(a, q, a.cfg.String(config.KeyModel)).expand(ctx, opts.Query); err != nil {
			return err
		}
		if results, fellBack, err = q.search(ctx, a, opts.Query, opts.K, ropt, opts.Fallback); err != nil {
			return err
		}
	}
	if results == nil {
		results = []retrieve.Result{}
	}
	if err := q.noneForDamage(len(results)); err != nil {
		return err
	}
	damaged := warnDamaged(a, q)
	if opts.JSON {
		rep := searchReport{Query: opts.Query, Mode: opts.Mode, Results: results, DamagedFiles: damaged, Expansion: ropt.Expansion, NoDenseSignal: noDense, Degraded: fellBack}
		if rr != nil {
			rep.RerankModel = rr.Name
		}
		return writeJSON(a, rep)
	}
	if opts.Files {
		return writeFiles(a, results)
	}
	if len(results) == 0 {
		msg := "No results: no chunk shares a word with the query."
		var view *emptyViewError
		switch {
		case errors.As(q.emptyError(), &view) && q.empty():
			msg = "No results: " + view.Error() + "."
		case q.empty():
			msg = "No results: the index is empty."
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
