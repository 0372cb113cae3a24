package store

import (
	"context"
	"errors"
	"fmt"
)

// Index is an open index as rag's engine uses it, whatever holds it: the
// embedded store in a folder (Local) or a database server's
// (pkg/store/weaviate). It is Store with the upkeep an index run and a
// long-lived reader ask of it; a store with nothing to do for a step
// (caches, garbage, damage found by reading files) does nothing.
type Index interface {
	Store
	// Dir says where the index is: its folder, or its server's address
	// (without credentials).
	Dir() string
	// Stale reports whether another process has committed since the index
	// was opened: a long-lived reader then opens it again.
	Stale() bool
	// Recovered is the damage of a catalog that could not be read, when
	// the previous one was read instead; nil when none.
	Recovered() *CorruptError
	// Damaged lists the damaged objects found so far; CheckObjects looks
	// for all of them.
	Damaged() []Damage
	CheckObjects(ctx context.Context) ([]Damage, error)
	// FileChunks returns the stored chunks of f, in order.
	FileChunks(ctx context.Context, f FileEntry) ([]Chunk, error)
	// Reset drops an unfinished rebuild, Publish makes a finished one the
	// index (Options.Rebuild).
	Reset()
	Publish(ctx context.Context) error
	// SaveCaches saves what makes later searches fast; CollectGarbage
	// drops what no catalog references any more.
	SaveCaches(ctx context.Context) error
	CollectGarbage(ctx context.Context) error
}

// Backend opens indexes held elsewhere than in a folder of the embedded
// store: a database server's (rag's --store). The engine opens through
// it when one is configured.
type Backend interface {
	// Open opens the index; with opt.Write for writing, creating it when
	// there is none. A read-only open of no index is ErrNoIndex.
	Open(ctx context.Context, opt Options) (Index, error)
	// String is where the indexes are, as Index.Dir says it.
	String() string
}

var _ Index = (*Local)(nil)

// ErrUnsupported means the store cannot do what was asked (a rebuild
// beside the current index on a server's store, for now).
var ErrUnsupported = errors.New("not supported by this store")

// UnavailableError means a server-backed store could not be reached: the
// server is down, or the address is wrong.
type UnavailableError struct {
	Addr string
	Err  error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("cannot reach the index server at %s: %v", e.Addr, e.Err)
}
func (e *UnavailableError) Unwrap() error { return e.Err }

// UnauthorizedError means a server-backed store refused rag's credentials
// (none, or a wrong API key).
type UnauthorizedError struct {
	Addr string
	// Status is the server's HTTP status (401 or 403).
	Status int
	// KeySet says whether an API key was sent.
	KeySet bool
}

func (e *UnauthorizedError) Error() string {
	what := "without an API key"
	if e.KeySet {
		what = "with the API key given"
	}
	return fmt.Sprintf("the index server at %s refused rag %s (HTTP %d)", e.Addr, what, e.Status)
}

// SchemaError means a server-backed store holds data rag cannot use: a
// collection of another shape, or of a newer schema version than this rag
// knows.
type SchemaError struct {
	Addr string
	// Class is the server's collection at fault.
	Class  string
	Reason string
	// Got is the schema version found (0: none readable); Want this rag's.
	Got, Want int
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("the index server at %s holds %s in a form this rag cannot use: %s", e.Addr, e.Class, e.Reason)
}
