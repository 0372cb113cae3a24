package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// SearchOptions are the settings of `rag search`.
type SearchOptions struct {
	*globalOptions
	RetrievalOptions
	Query string
	K     int
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
from stdin.`,
		Example: `  rag search "install on linux"
  rag search --mode lexical "ERR_CONN_RESET"
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
			return searchRun(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().IntVarP(&opts.K, "k", "k", config.DefaultSearchK, "number of results")
	bindRetrieval(cmd.Flags(), &opts.RetrievalOptions, a.Env)
	return cmd
}

// queryDeps is what search and ask need: the index, the Ollama client and
// the embedder of the index's model.
type queryDeps struct {
	store  *store.Local
	client *ollama.Client
	embed  *embed.Model
}

// openForQuery opens an existing index and the embedder of its model.
func openForQuery(ctx context.Context, a *App, g *globalOptions) (*queryDeps, error) {
	dir, err := a.indexDir(g)
	if err != nil {
		return nil, err
	}
	m, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		return nil, err
	}
	man := m.Manifest()
	if g.EmbedModel != "" && man.Dims > 0 && g.EmbedModel != man.EmbedModel {
		return nil, errors.Join(&store.ModelMismatchError{IndexModel: man.EmbedModel, IndexDims: man.Dims, Model: g.EmbedModel}, m.Close())
	}
	client, err := a.ollama()
	if err != nil {
		return nil, errors.Join(err, m.Close())
	}
	if c := m.Recovered(); c != nil {
		updated := "never"
		if !man.Updated.IsZero() {
			updated = man.Updated.Local().Format("2006-01-02 15:04:05 MST")
		}
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: the index catalog is damaged (%v); answering from the previous one (of %s): files the last `rag index` added or changed may be missing or stale; run `rag index` to repair it\n", c.Err, updated)
	}
	model := man.EmbedModel
	if man.Dims == 0 && g.EmbedModel != "" {
		model = g.EmbedModel
	}
	return &queryDeps{store: m, client: client, embed: &embed.Model{Client: client, Name: model}}, nil
}

// warnDamaged names on stderr the files a query could not read (their
// stored chunks are damaged) and returns their paths, as citations show
// them, for --json.
func warnDamaged(a *App, st *store.Local) []string {
	paths := store.DamagedPaths(st.Damaged())
	if len(paths) > 0 {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: left out %s whose stored chunks are damaged: %s; run `rag index` to embed them again\n",
			howMany(len(paths), "file", "files"), strings.Join(paths, ", "))
	}
	return paths
}

type searchReport struct {
	Query       string            `json:"query"`
	Mode        string            `json:"mode"`
	RerankModel string            `json:"rerank_model,omitempty"`
	Results     []retrieve.Result `json:"results"`
	// DamagedFiles were left out: their stored chunks are damaged.
	DamagedFiles []string `json:"damaged_files"`
}

func searchRun(ctx context.Context, a *App, opts *SearchOptions) (err error) {
	q, err := openForQuery(ctx, a, opts.globalOptions)
	if err != nil {
		return err
	}
	defer closeWith(&err, q.store)
	ropt, rr := opts.options(q)
	results, err := retrieve.Search(ctx, q.store, q.embed, opts.Query, opts.K, ropt)
	if err != nil {
		return err
	}
	if results == nil {
		results = []retrieve.Result{}
	}
	damaged := warnDamaged(a, q.store)
	if opts.JSON {
		rep := searchReport{Query: opts.Query, Mode: opts.Mode, Results: results, DamagedFiles: damaged}
		if rr != nil {
			rep.RerankModel = rr.Name
		}
		return writeJSON(a, rep)
	}
	if len(results) == 0 {
		msg := "No results: the index is empty."
		if n, err := q.store.Count(ctx); err != nil {
			return err
		} else if n > 0 {
			msg = "No results: no chunk shares a word with the query."
		}
		_, err := fmt.Fprintln(a.IO.Out, msg)
		return err
	}
	var b strings.Builder
	for i, r := range results {
		head := fmt.Sprintf("%d. %s", i+1, r.Cite())
		if a.IO.ColorEnabled() {
			head = "\x1b[1m" + head + "\x1b[0m"
		}
		fmt.Fprintf(&b, "%s  (score %.3f)\n", head, r.Score)
		for _, l := range strings.Split(r.Text, "\n") {
			b.WriteString("    " + l + "\n")
		}
		b.WriteString("\n")
	}
	_, err = fmt.Fprint(a.IO.Out, b.String())
	return err
}
