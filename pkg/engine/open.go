package engine

import (
	"context"

	"github.com/rag-cli/rag/pkg/store"
)

// openStore opens the index: in the configured backend (a server's,
// Config.Store), else the embedded store in Dir.
func (e *Engine) openStore(ctx context.Context, opt store.Options) (store.Index, error) {
	if e.cfg.Store != nil {
		return e.cfg.Store.Open(ctx, opt)
	}
	st, err := store.Open(ctx, e.cfg.Dir, opt)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return st, nil
}

// readManifest reads the current catalog: the embedded store's without
// opening it (no lock), a backend's by opening it read-only.
func (e *Engine) readManifest(ctx context.Context) (_ store.Manifest, err error) {
	if e.cfg.Store == nil {
		return store.ReadManifest(e.cfg.Dir)
	}
	st, err := e.cfg.Store.Open(ctx, store.Options{})
	if err != nil {
		return store.Manifest{}, err
	}
	defer closeWith(&err, st)
	return st.Manifest(), nil
}

// Location is where the index is, as reports name it: its folder, or
// the store URL of its server (without credentials).
func (e *Engine) Location() string {
	if e.cfg.Store != nil {
		return e.cfg.Store.String()
	}
	return e.cfg.Dir
}
