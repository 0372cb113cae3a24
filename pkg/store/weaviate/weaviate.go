// Package weaviate keeps a rag index in a Weaviate database (one node or a
// replicated cluster) behind the store.Index interface, so that the
// engine, retrieval and every face of rag work on it unchanged.
//
// Layout: an index named INDEX (Config.Index) is two Weaviate collections.
// INDEXChunks holds the chunks, with rag's own vectors (no vectorizer
// module), one Weaviate tenant per rag tenant, and as properties what a
// search filters on inside the query: the principals and the collections
// of the files holding each chunk. INDEXCatalog holds rag's catalog (the
// store.Manifest) as a compressed JSON document in parts, and a head
// object naming the current parts: a commit writes new parts, then the
// head, so that readers see one catalog or the next, never half of one.
//
// Object ids are UUIDv5 of tenant, content key and chunk number: writing
// the same chunks again overwrites them, so an interrupted run leaves no
// duplicates and a rerun converges. Searches keep only chunks whose key
// the reader's catalog sees (the filter inside the query makes that the
// rare case of a concurrent commit, when the search asks for more).
package weaviate

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/weaviate/weaviate-go-client/v5/weaviate"

	"github.com/rag-cli/rag/pkg/store"
)

// SchemaVersion is the version of the collections' layout this code
// writes and reads. The collections' descriptions and the catalog's head
// carry it: a newer one is refused (store.SchemaError); an older one
// would be migrated here.
const SchemaVersion = 1

// Backend opens rag indexes in a Weaviate server (store.Backend).
type Backend struct{ cfg Config }

// New returns the backend of cfg.
func New(cfg Config) *Backend {
	if cfg.Index == "" {
		cfg.Index = "Rag"
	}
	if cfg.Consistency == "" {
		cfg.Consistency = "QUORUM"
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "http"
	}
	return &Backend{cfg: cfg}
}

func (b *Backend) String() string { return b.cfg.String() }

var _ store.Backend = (*Backend)(nil)

// Store is an open rag index in Weaviate.
type Store struct {
	cfg    Config
	client *weaviate.Client
	write  bool

	mu  sync.Mutex
	man store.Manifest
	// head is the commit of the catalog read (its head's commit id).
	head string
	// byKey lists, for each tenant and content key, the files of the
	// catalog holding it (indexes into man.Files).
	byKey map[tenantKey][]int
	// ids numbers the chunks hit so far (store.Hit.ID).
	ids map[chunkRef]int
	// pending are chunks put but not yet written: a chunk's properties
	// (tenant, principals, collections) are known only at Commit.
	pending map[string][]store.Chunk
	// tenants are the Weaviate tenants known to exist.
	tenants map[string]bool
}

type tenantKey struct{ tenant, key string }

type chunkRef struct {
	tenant, key string
	n           int
}

var _ store.Index = (*Store)(nil)

// Open opens the index; with opt.Write it creates the collections when
// there are none. A rebuild beside the index is not supported yet.
func (b *Backend) Open(ctx context.Context, opt store.Options) (store.Index, error) {
	if opt.Rebuild {
		return nil, fmt.Errorf("rebuild an index in Weaviate: %w; remove it and index again", store.ErrUnsupported)
	}
	s, err := b.open(ctx, opt.Write)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b *Backend) open(ctx context.Context, write bool) (*Store, error) {
	timeout := b.cfg.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	headers := map[string]string{}
	if b.cfg.APIKey != "" {
		headers["Authorization"] = "Bearer " + b.cfg.APIKey
	}
	client, err := weaviate.NewClient(weaviate.Config{Host: b.cfg.Host, Scheme: b.cfg.Scheme, Headers: headers, Timeout: timeout,
		ConnectionClient: &http.Client{Timeout: timeout}})
	if err != nil {
		return nil, fmt.Errorf("weaviate client: %w", err)
	}
	s := &Store{cfg: b.cfg, client: client, write: write, ids: map[chunkRef]int{}, pending: map[string][]store.Chunk{}}
	exists, err := s.checkSchema(ctx)
	if err != nil {
		return nil, err
	}
	if !exists {
		if !write {
			return nil, store.ErrNoIndex
		}
		if err := s.createSchema(ctx); err != nil {
			return nil, err
		}
	}
	m, head, err := s.readCatalog(ctx)
	if err != nil {
		return nil, err
	}
	if m == nil {
		if !write {
			return nil, store.ErrNoIndex
		}
		fresh := store.NewManifest()
		m = &fresh
	}
	if err := s.loadTenants(ctx); err != nil {
		return nil, err
	}
	s.setManifest(*m, head)
	return s, nil
}

// Dir is the store's URL, without its API key.
func (s *Store) Dir() string { return s.cfg.String() }

// Manifest implements store.Store.
func (s *Store) Manifest() store.Manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.man
}

func (s *Store) setManifest(m store.Manifest, head string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.man, s.head = m, head
	s.byKey = make(map[tenantKey][]int, len(m.Files))
	for i, f := range m.Files {
		k := tenantKey{f.Tenant, f.Key}
		s.byKey[k] = append(s.byKey[k], i)
	}
}

// Stale reports whether another commit replaced the catalog read. A
// server that cannot be asked says nothing new: the next search says why.
func (s *Store) Stale() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := s.readHead(ctx)
	if err != nil || h == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return h.commit != s.head
}

// Recovered implements store.Index: a catalog in Weaviate is whole or
// unreadable, never recovered.
func (s *Store) Recovered() *store.CorruptError { return nil }

// Damaged implements store.Index: Weaviate's replication, not rag, repairs
// what a server loses.
func (s *Store) Damaged() []store.Damage { return nil }

// CheckObjects implements store.Index.
func (s *Store) CheckObjects(context.Context) ([]store.Damage, error) { return nil, nil }

// Reset implements store.Index (rebuilds are refused at Open).
func (s *Store) Reset() {}

// Publish implements store.Index (rebuilds are refused at Open).
func (s *Store) Publish(context.Context) error { return nil }

// SaveCaches implements store.Index: Weaviate keeps its own indexes.
func (s *Store) SaveCaches(context.Context) error { return nil }

// CollectGarbage implements store.Index: each commit deletes the chunks
// the catalog it replaces no longer references.
func (s *Store) CollectGarbage(context.Context) error { return nil }

// Close implements store.Store. Chunks put but never committed are
// dropped, as a local store's are once collected.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = nil
	return nil
}

func (s *Store) chunkClass() string   { return s.cfg.Index + "Chunks" }
func (s *Store) catalogClass() string { return s.cfg.Index + "Catalog" }

// space is the namespace of rag's object ids.
var space = uuid.MustParse("5f0f5a52-7ad1-4c55-9a0e-1f6f1d0e2a61")

// chunkID is the object id of chunk n of content key in a tenant.
func chunkID(tenant, key string, n int) string {
	return uuid.NewSHA1(space, fmt.Appendf(nil, "chunk\x00%s\x00%s\x00%d", tenant, key, n)).String()
}
