package weaviate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-openapi/strfmt"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/rag-cli/rag/pkg/lexical"
	"github.com/rag-cli/rag/pkg/store"
)

func strfmtUUID(s string) strfmt.UUID { return strfmt.UUID(s) }

// errReadOnly is a write to an index opened without store.Options.Write.
var errReadOnly = errors.New("weaviate: the index is open read-only")

// PutObject implements store.Store. The chunks wait in memory for the
// Commit that references them: only the catalog says which tenants,
// principals and collections they belong to, which are their properties.
func (s *Store) PutObject(ctx context.Context, key string, chunks []store.Chunk) error {
	if !s.write {
		return errReadOnly
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		return errors.New("weaviate: the index is closed")
	}
	s.pending[key] = slices.Clone(chunks)
	return nil
}

// want is what the chunks of one content key in one tenant should carry:
// the principals and collections of the files holding it there.
type want struct {
	access, collections []string
	chunks              int
}

func (w *want) same(o *want) bool {
	return slices.Equal(w.access, o.access) && slices.Equal(w.collections, o.collections) && w.chunks == o.chunks
}

// wants are the chunk sets catalog m references, by tenant and key.
func wants(m *store.Manifest) map[tenantKey]*want {
	out := map[tenantKey]*want{}
	for i := range m.Files {
		f := &m.Files[i]
		if f.Chunks == 0 {
			continue
		}
		k := tenantKey{f.Tenant, f.Key}
		w := out[k]
		if w == nil {
			w = &want{chunks: f.Chunks}
			out[k] = w
		}
		w.access = append(w.access, f.Access...)
		w.collections = append(w.collections, m.CollectionOf(f))
	}
	for _, w := range out {
		slices.Sort(w.access)
		w.access = slices.Compact(w.access)
		slices.Sort(w.collections)
		w.collections = slices.Compact(w.collections)
	}
	return out
}

// Commit implements store.Store. It writes the chunks the new catalog
// references in a tenant that did not hold them (put since, or copied
// from another tenant: a file moved between tenants is not embedded
// again), rewrites those whose principals or collections changed, writes
// the catalog, then deletes the chunks no longer referenced. A commit by
// another writer since this one opened the index is a store.LockedError.
func (s *Store) Commit(ctx context.Context, m store.Manifest) error {
	if !s.write {
		return errReadOnly
	}
	s.mu.Lock()
	old, head := s.man, s.head
	pending := maps.Clone(s.pending)
	s.mu.Unlock()
	if h, err := s.readHead(ctx); err != nil {
		return err
	} else if h != nil && h.commit != head {
		return &store.LockedError{Dir: s.Dir(), Holder: "another rag committed to it since this run began"}
	}
	before, after := wants(&old), wants(&m)
	tenants := map[string]bool{}
	for k := range after {
		tenants[k.tenant] = true
	}
	if err := s.ensureTenants(ctx, tenants); err != nil {
		return err
	}
	if err := s.writeChunks(ctx, before, after, pending); err != nil {
		return err
	}
	commit, err := s.writeCatalog(ctx, &m, head)
	if err != nil {
		return err
	}
	s.setManifest(m, commit)
	s.mu.Lock()
	for k := range after {
		delete(s.pending, k.key)
	}
	s.mu.Unlock()
	return s.deleteUnreferenced(ctx, before, after)
}

// writeChunks writes the chunk sets of after that are new in their
// tenant, put again, or of other principals or collections than before.
func (s *Store) writeChunks(ctx context.Context, before, after map[tenantKey]*want, pending map[string][]store.Chunk) error {
	keys := slices.SortedFunc(maps.Keys(after), func(a, b tenantKey) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.key, b.key))
	})
	var objs []*models.Object
	flush := func(force bool) error {
		if len(objs) < 500 && !force {
			return nil
		}
		err := s.putObjects(ctx, objs, "write chunks")
		objs = objs[:0]
		return err
	}
	for _, k := range keys {
		w := after[k]
		chunks, put := pending[k.key]
		if !put {
			prev, had := before[k]
			if had && prev.same(w) {
				continue
			}
			from, ok := source(k, before)
			if !ok {
				return fmt.Errorf("weaviate: the catalog references chunks %s that were never stored", k.key)
			}
			var err error
			if chunks, err = s.fetchChunks(ctx, from, k.key, w.chunks, true); err != nil {
				return err
			}
		}
		if len(chunks) != w.chunks {
			return fmt.Errorf("weaviate: chunks %s: %d stored, the catalog says %d", k.key, len(chunks), w.chunks)
		}
		objs = append(objs, s.objects(k, chunks, w)...)
		if err := flush(false); err != nil {
			return err
		}
	}
	return flush(true)
}

// source is a tenant that holds the chunks of k.key before the commit:
// k's own when it has them, else any other (the first, for a stable
// choice).
func source(k tenantKey, before map[tenantKey]*want) (string, bool) {
	if _, ok := before[k]; ok {
		return k.tenant, true
	}
	var ts []string
	for o := range before {
		if o.key == k.key {
			ts = append(ts, o.tenant)
		}
	}
	if len(ts) == 0 {
		return "", false
	}
	return slices.Min(ts), true
}

// objects are the Weaviate objects of chunks of k, carrying w's
// principals and collections.
func (s *Store) objects(k tenantKey, chunks []store.Chunk, w *want) []*models.Object {
	out := make([]*models.Object, len(chunks))
	access, colls := nonNil(w.access), nonNil(w.collections)
	for i, c := range chunks {
		o := &models.Object{
			Class: s.chunkClass(), ID: strfmtUUID(chunkID(k.tenant, k.key, i)), Tenant: tenantName(k.tenant),
			Properties: map[string]any{
				propKey: k.key, propN: i, propText: c.Text, propHeading: c.Heading,
				propTerms: strings.Join(lexical.Analyzer{}.Terms(c.Heading+"\n"+c.Text), " "),
				propStart: c.StartLine, propEnd: c.EndLine, propPage: c.Page,
				propAccess: access, propCollections: colls,
			},
		}
		// A vector with no direction has no cosine: the chunk is found by
		// its words alone, as in the embedded store.
		if store.HasDirection(c.Vector) {
			o.Vector = models.C11yVector(c.Vector)
		}
		out[i] = o
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// deleteUnreferenced deletes the chunk sets of before that after no
// longer references in their tenant.
func (s *Store) deleteUnreferenced(ctx context.Context, before, after map[tenantKey]*want) error {
	gone := map[string][]string{}
	for k := range before {
		if _, ok := after[k]; !ok {
			gone[k.tenant] = append(gone[k.tenant], k.key)
		}
	}
	for t, keys := range gone {
		slices.Sort(keys)
		for len(keys) > 0 {
			n := min(100, len(keys))
			where := filters.Where().WithPath([]string{propKey}).WithOperator(filters.ContainsAny).WithValueText(keys[:n]...)
			if err := s.deleteWhere(ctx, s.chunkClass(), tenantName(t), where); err != nil {
				return err
			}
			keys = keys[n:]
		}
	}
	return nil
}
