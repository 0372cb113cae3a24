package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
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

// openForQuery opens an existing index and the embedder of its model.
func openForQuery(a *App, g *globalOptions) (*store.Local, *embed.Model, error) {
	dir, err := a.indexDir(g)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(dir, false)
	if err != nil {
		return nil, nil, err
	}
	m := st.Manifest()
	model := m.EmbedModel
	if g.EmbedModel != "" && g.EmbedModel != model {
		return nil, nil, &store.ModelMismatchError{IndexModel: m.EmbedModel, IndexDims: m.Dims, Model: g.EmbedModel}
	}
	client, err := a.ollama()
	if err != nil {
		return nil, nil, err
	}
	return st, &embed.Model{Client: client, Name: model}, nil
}

type searchReport struct {
	Query   string            `json:"query"`
	Results []retrieve.Result `json:"results"`
}

func searchRun(ctx context.Context, a *App, opts *SearchOptions) (err error) {
	st, emb, err := openForQuery(a, opts.globalOptions)
	if err != nil {
		return err
	}
	defer closeWith(&err, st)
	results, err := retrieve.Search(ctx, st, emb, opts.Query, opts.K)
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
		head := fmt.Sprintf("%d. %s:%d-%d", i+1, r.Path, r.StartLine, r.EndLine)
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
