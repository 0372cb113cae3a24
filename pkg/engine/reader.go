package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rag-cli/rag/internal/english"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/store"
)

// Reader is one caller's open index: who asks, resolved once into the
// store's view, the index as it was opened and the embedder of its model.
// A long-lived face (chat, mcp) calls Refresh before each request. A
// Reader is not safe for concurrent use.
type Reader struct {
	e      *Engine
	asker  Asker
	store  store.Index
	embed  *embed.Model
	events Events
	// denseErr, if set, is why the dense ranking cannot run before it is
	// tried: the embedding model asked for is not the index's. Lexical
	// search does not need it.
	denseErr error
	// Pullable says that a missing model will be pulled (rag's --pull, or
	// a terminal that offers to): the dense ranking then waits for it
	// rather than fall back to keywords.
	Pullable bool
	// Host says that who asks runs rag on the host's command line, and
	// may learn what exists on its disk anyway: Get then says that a path
	// not in the index is a folder. A server's client never may.
	Host bool
	// warnedDegraded is set once a fallback to keywords was warned about,
	// warnedNoDense once a question's embedding with no direction was.
	warnedDegraded, warnedNoDense bool
	// folders are Folders of foldersOf, the store they were read from.
	folders   []Folder
	foldersOf store.Index
}

// Open opens the existing index read-only for w: who asks resolved once,
// and a tenant the index has never held or a collection the asker sees
// nothing of refused (UnknownTenantError, UnknownCollectionError). events
// receives warnings (a recovered catalog, a user in no group).
func (e *Engine) Open(ctx context.Context, w Who, events Events) (*Reader, error) {
	asker, err := e.Resolve(ctx, w)
	if err != nil {
		return nil, err
	}
	st, model, mismatch, err := e.openIndex(ctx, events)
	if err != nil {
		return nil, err
	}
	man := st.Manifest()
	if err := CheckView(&man, asker.View); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	if asker.Note != "" && man.AccessControl {
		events.warn(WarnNoGroups, asker.Note)
	}
	return &Reader{e: e, asker: asker, store: st, embed: &embed.Model{Client: e.cfg.Models, Name: model}, events: events, denseErr: mismatch}, nil
}

// openIndex opens the index read-only and names the embedding model its
// queries need. An embedding model asked for that is not the index's is
// mismatch, not an error: only the dense ranking needs the model.
func (e *Engine) openIndex(ctx context.Context, events Events) (_ store.Index, model string, mismatch, _ error) {
	st, err := e.openStore(ctx, store.Options{Resident: e.cfg.Resident})
	if err != nil {
		return nil, "", nil, err
	}
	man := st.Manifest()
	model, mismatch = man.EmbedModelFor(e.cfg.EmbedModel, config.DefaultEmbedModel)
	if c := st.Recovered(); c != nil {
		updated := "never"
		if !man.Updated.IsZero() {
			updated = man.Updated.Local().Format("2006-01-02 15:04:05 MST")
		}
		events.warn(WarnRecoveredCatalog, fmt.Sprintf("the index catalog is damaged (%v); answering from the previous one (of %s): files the last `rag index` added or changed may be missing or stale; run `rag index` to repair it", c.Err, updated))
	}
	return st, model, mismatch, nil
}

// Refresh makes a long-lived face answer its next request as a new run
// would: who asks is resolved again (a groups file changed meanwhile
// takes effect at once), and the index is opened again when `rag index`
// has committed since it was opened (store.Local.Stale).
func (r *Reader) Refresh(ctx context.Context, w Who) error {
	asker, err := r.e.Resolve(ctx, w)
	if err != nil {
		return err
	}
	r.asker = asker
	if !r.store.Stale() {
		return nil
	}
	st, model, mismatch, err := r.e.openIndex(ctx, r.events)
	if err != nil {
		return err
	}
	old := r.store
	r.store, r.embed, r.denseErr = st, &embed.Model{Client: r.e.cfg.Models, Name: model}, mismatch
	return old.Close()
}

// Close closes the index.
func (r *Reader) Close() error { return r.store.Close() }

// Store is the index as this reader opened it (or last refreshed it).
func (r *Reader) Store() store.Index { return r.store }

// View is who asks, as the store sees it.
func (r *Reader) View() store.View { return r.asker.View }

// As is who asks as the request named it ("" public).
func (r *Reader) As() string { return r.asker.As }

// WithView returns a reader of the same index for another view of the
// same asker (a narrower set of collections, checked as Open checks it;
// the tenant Open checked is not checked again, so that a call reads as
// before a commit that removed the tenant's last file).
func (r *Reader) WithView(v store.View) (*Reader, error) {
	man := r.store.Manifest()
	check := CheckView
	if v.Tenant == r.asker.View.Tenant {
		check = CheckCollections
	}
	if err := check(&man, v); err != nil {
		return nil, err
	}
	c := *r
	c.asker.View = v
	return &c, nil
}

// Empty reports whether the view sees no chunk, from the catalog alone:
// then there is nothing to search and no reason to contact the model
// server. A metadata filter does not count: a view whose filter matches
// nothing is not empty (filteredOut says so).
func (r *Reader) Empty() bool {
	v := r.asker.View
	v.Filter = filter.Filter{}
	return !sees(r.store.Manifest(), v)
}

// sees reports whether v sees a chunk of m.
func sees(m store.Manifest, v store.View) bool {
	for i := range m.Files {
		if m.Files[i].Chunks > 0 && m.Sees(v, &m.Files[i]) {
			return true
		}
	}
	return false
}

// filteredOut reports, for a view with a metadata filter, that no chunk
// it sees matches it (then nothing is searched and no model server
// contacted), and warns of it.
func (r *Reader) filteredOut(v store.View) bool {
	if v.Filter.IsZero() || sees(r.store.Manifest(), v) {
		return false
	}
	r.events.warn(WarnFilterNone, fmt.Sprintf("no document matches the filter %s: nothing was searched", v.Filter))
	return true
}

// NarrowBy is the reader's view narrowed to collections (Narrow) and to
// the files that also match f: a request narrows, never widens.
func (r *Reader) NarrowBy(collections []string, f filter.Filter) (store.View, error) {
	v, err := r.Narrow(collections)
	v.Filter = v.Filter.And(f)
	return v, err
}

// EmptyError says why the view has nothing to search: the index is empty
// (ErrEmptyIndex), or who asks sees none of it (EmptyViewError).
func (r *Reader) EmptyError() error {
	if len(r.store.Manifest().Files) == 0 {
		return ErrEmptyIndex
	}
	return &EmptyViewError{As: r.asker.As, Tenant: r.asker.View.Tenant}
}

// DamagedPaths are the files the view sees whose stored chunks a query
// could not read, as citations name them.
func (r *Reader) DamagedPaths() []string { return r.damagedPaths(r.asker.View) }

func (r *Reader) damagedPaths(v store.View) []string {
	m := r.store.Manifest()
	return store.DamagedPaths(m.SeenDamage(v, r.store.Damaged()))
}

func (r *Reader) reportDamaged(v store.View) []string {
	paths := r.damagedPaths(v)
	if len(paths) > 0 {
		r.events.warn(WarnDamaged, fmt.Sprintf("left out %s whose stored chunks are damaged: %s; run `rag index` to embed them again",
			english.Plural(len(paths), "file"), strings.Join(paths, ", ")))
	}
	return paths
}

// noneForDamage is the error of a query that found nothing while files
// v sees were left out as damaged (missing or unreadable stored chunks):
// "no results" would then be a guess, so it is an index problem with the
// repair hint, and nil otherwise.
func (r *Reader) noneForDamage(v store.View, found int) error {
	if found > 0 {
		return nil
	}
	m := r.store.Manifest()
	if d := m.SeenDamage(v, r.store.Damaged()); len(d) > 0 {
		return fmt.Errorf("nothing found, and %w", &DamagedError{Damaged: d})
	}
	return nil
}

// DamagedError is an index that still answers from what is intact: some
// stored files are damaged, or the catalog was (Recovered: the previous
// one was read).
type DamagedError struct {
	Recovered *store.CorruptError
	Damaged   []store.Damage
}

func (e *DamagedError) Error() string {
	var parts []string
	if e.Recovered != nil {
		parts = append(parts, fmt.Sprintf("the catalog is damaged (%v); the previous one was read", e.Recovered.Err))
	}
	if len(e.Damaged) > 0 {
		var why []string
		for _, d := range e.Damaged {
			for _, f := range d.Files {
				why = append(why, fmt.Sprintf("%s (%v)", f.Path, d.Err.Err))
			}
		}
		parts = append(parts, fmt.Sprintf("%s damaged in the index: %s", english.HowMany(len(why), "file is", "files are"), strings.Join(why, ", ")))
	}
	return strings.Join(parts, "; ")
}
