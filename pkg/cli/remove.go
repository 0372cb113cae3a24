package cli

import (
	"context"
	"fmt"
)

// removeRun is `rag index --remove PATH...`: the engine drops folders and
// files from the catalog in one commit, embedding nothing and touching no
// file on disk (engine.Remove says how).
func removeRun(ctx context.Context, a *App, opts *IndexOptions) error {
	dir, err := a.indexDir(opts.globalOptions)
	if err != nil {
		return err
	}
	e, err := a.indexEngine(dir, opts.globalOptions, nil)
	if err != nil {
		return err
	}
	rep, err := e.Remove(ctx, opts.Remove, opts.Wait)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(a, rep)
	}
	_, err = fmt.Fprintf(a.IO.Out, "Removed %s from the index (nothing embedded, no file on disk touched).\nIndex %s: %s, %s, %s (%s).\n",
		plural(rep.Removed, "file"), rep.Index, plural(rep.TotalFiles, "file"), plural(rep.TotalChunks, "chunk"), rep.EmbedModel, plural(rep.Dims, "dimension"))
	return err
}
