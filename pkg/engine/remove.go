package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/store"
)

// NotHeldError is a path to remove that the index does not hold, neither
// as a source nor inside one.
type NotHeldError struct{ Path string }

func (e *NotHeldError) Error() string { return fmt.Sprintf("%s is not in the index", e.Path) }

// Remove drops folders and files (paths) from the index in one commit,
// embedding nothing and touching no file on disk. A recorded folder or
// file goes with its source; a folder or file inside a recorded folder is
// recorded as removed from that folder, so that refreshing the folder
// leaves it out; a folder that holds recorded sources drops them all.
// wait waits for another writer rather than fail.
func (e *Engine) Remove(ctx context.Context, paths []string, wait bool) (_ *IndexReport, err error) {
	dir := e.Location()
	// Removing from no index must not create one.
	if _, err := e.readManifest(ctx); errors.Is(err, store.ErrNoIndex) {
		return nil, err
	}
	st, err := e.openStore(ctx, store.Options{Write: true, Wait: wait, Hook: e.cfg.Fault})
	if err != nil {
		return nil, err
	}
	defer closeWith(&err, st)

	m := st.Manifest()
	before := len(m.Files)
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		var ok bool
		if m, ok = indexer.RemovePath(m, abs); !ok {
			return nil, &NotHeldError{Path: p}
		}
	}
	m.Updated = e.cfg.Now().UTC()
	if err := st.Commit(ctx, m); err != nil {
		return nil, fmt.Errorf("commit index: %w", err)
	}
	// Searches then read the keyword index instead of building it.
	if err := st.SaveCaches(ctx); err != nil {
		return nil, err
	}
	return &IndexReport{Index: dir, EmbedModel: m.EmbedModel, Dims: m.Dims, Removed: before - len(m.Files),
		TotalFiles: len(m.Files), TotalChunks: m.Chunks(), SkippedFiles: []ingest.Skip{}, FailedFiles: []indexer.Failure{}}, nil
}
