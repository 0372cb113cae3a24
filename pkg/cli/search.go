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
	Query string
	K     int
}

func newSearchCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &SearchOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Show the chunks that best match a query, without an LLM",
		Long: `Search embeds the query and prints the closest chunks of the index: path, line
range, similarity score and text. Use - (or pipe the query) to read it from stdin.`,
		Example: `  rag search "install on linux"
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
			return searchRun(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().IntVarP(&opts.K, "k", "k", config.DefaultSearchK, "number of results")
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
	if g.EmbedModel != "" && g.EmbedModel != man.EmbedModel {
		return nil, errors.Join(&store.ModelMismatchError{IndexModel: man.EmbedModel, IndexDims: man.Dims, Model: g.EmbedModel}, m.Close())
	}
	client, err := a.ollama()
	if err != nil {
		return nil, errors.Join(err, m.Close())
	}
	return &queryDeps{store: m, client: client, embed: &embed.Model{Client: client, Name: man.EmbedModel}}, nil
}

type searchReport struct {
	Query   string            `json:"query"`
	Results []retrieve.Result `json:"results"`
}

func searchRun(ctx context.Context, a *App, opts *SearchOptions) (err error) {
	q, err := openForQuery(ctx, a, opts.globalOptions)
	if err != nil {
		return err
	}
	defer closeWith(&err, q.store)
	results, err := retrieve.Search(ctx, q.store, q.embed, opts.Query, opts.K)
	if err != nil {
		return err
	}
	if results == nil {
		results = []retrieve.Result{}
	}
	if opts.JSON {
		return writeJSON(a, searchReport{Query: opts.Query, Results: results})
	}
	if len(results) == 0 {
		_, err := fmt.Fprintln(a.IO.Out, "No results: the index is empty.")
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
