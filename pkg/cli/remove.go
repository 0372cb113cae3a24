package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/store"
)

// removeRun is `rag index --remove PATH...`: it drops folders and files
// from the catalog in one commit, embedding nothing and touching no file on
// disk. A recorded folder or file goes with its source; a folder or file
// inside a recorded folder is recorded as removed from that folder, so
// that refreshing the folder leaves it out; a folder that holds recorded
// sources drops them all.
func removeRun(ctx context.Context, a *App, opts *IndexOptions) (err error) {
	dir, err := a.indexDir(opts.globalOptions)
	if err != nil {
		return err
	}
	// Removing from no index must not create one.
	if _, err := store.ReadManifest(dir); errors.Is(err, store.ErrNoIndex) {
		return err
	}
	st, err := store.Open(ctx, dir, store.Options{Write: true, Wait: opts.Wait, Hook: a.Fault})
	if err != nil {
		return err
	}
	defer closeWith(&err, st)

	m := st.Manifest()
	before := len(m.Files)
	for _, p := range opts.Remove {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		var ok bool
		if m, ok = indexer.RemovePath(m, abs); !ok {
			return &hintedError{err: usagef("%s is not in the index", p),
				hint: "`rag status` lists the folders and files the index holds; give one of them, or a folder or file inside one"}
		}
	}
	m.Updated = a.Now().UTC()
	if err := st.Commit(ctx, m); err != nil {
		return fmt.Errorf("commit index: %w", err)
	}
	// Searches then read the keyword index instead of building it.
	if err := st.SaveCaches(ctx); err != nil {
		return err
	}
	rep := &indexReport{Index: dir, EmbedModel: m.EmbedModel, Dims: m.Dims, Removed: before - len(m.Files),
		TotalFiles: len(m.Files), TotalChunks: m.Chunks(), SkippedFiles: []ingest.Skip{}, FailedFiles: []indexer.Failure{}}
	if opts.JSON {
		return writeJSON(a, rep)
	}
	_, err = fmt.Fprintf(a.IO.Out, "Removed %s from the index (nothing embedded, no file on disk touched).\nIndex %s: %s, %s, %s (%s).\n",
		plural(rep.Removed, "file"), rep.Index, plural(rep.TotalFiles, "file"), plural(rep.TotalChunks, "chunk"), rep.EmbedModel, plural(rep.Dims, "dimension"))
	return err
}
