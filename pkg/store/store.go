// Package store keeps what rag has indexed: a catalog of indexed files and,
// for each distinct file content, its chunks and their embeddings. Search
// runs over the vectors in a chromem-go collection. The Store interface is
// small on purpose so that a server-backed store (Weaviate) can stand in for
// the local one.
package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/filestat"
)

// FormatVersion is the version of the on-disk layout this code reads and
// writes. Version 2 added sources, problems, generations and object sizes;
// version 3 pages and heading paths of chunks, source walk options and file
// metadata; version 4 what a file's stat was when it was read (Seen);
// version 5 made the catalog binary (catalog.go); version 6 added tenants
// and access control (FileEntry.Tenant and Access, Source.Tenant and Allow,
// Manifest.AccessControl); version 7 named collections (Source.Collection);
// version 8 sources inside other sources, each with its own settings
// (Source.Inherit: which of them it takes from the folder around it), and
// kept what `rag index --remove` took out of a folder (Source.Removed);
// version 9 objects of version 3 (a table of their chunks, each chunk
// checked on its own: object.go), which a rag of version 8 would take for
// damage. The catalog itself is as in version 8.
const FormatVersion = 9

// oldestReadable is the oldest format version Open still reads: versions 3
// and 4 (JSON catalogs) and 5 (binary) hold the same but for what the later
// versions added, read as empty (a version 3 file unseen, every file of the
// default tenant, no access control) and filled in by a run; the first
// commit writes the current version.
const oldestReadable = 3

// Chunk is one embedded piece of a file.
type Chunk struct {
	StartLine int
	EndLine   int
	// Page is the page of a paged document (PDF), else 0; the lines are
	// then lines of that page.
	Page int
	// Heading is the path of headings above the chunk ("Install > Linux").
	Heading string
	Text    string
	Vector  []float32
}

// FileEntry records one indexed file.
type FileEntry struct {
	// Root is the absolute folder the file was indexed under.
	Root string `json:"root"`
	// Path is slash-separated and relative to Root: what citations show.
	Path string `json:"path"`
	// Hash is the SHA-256 of the file's content.
	Hash string `json:"hash"`
	// Key names the stored chunks of this content; files with the same
	// content and chunking share it.
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	Chunks int    `json:"chunks"`
	// ObjectSize is the size of the object file, checked on open so that a
	// truncated object is found before it is read.
	ObjectSize int64     `json:"object_size"`
	IndexedAt  time.Time `json:"indexed_at"`
	// Format is the reader that extracted the text ("markdown", "pdf").
	Format string `json:"format,omitempty"`
	// Meta is metadata not indexed as text, such as Markdown front matter.
	Meta map[string]any `json:"meta,omitempty"`
	// Seen is the file's stat when it was last read, so that a later run
	// can tell it unchanged without reading it; nil when not known.
	Seen *Seen `json:"seen,omitempty"`
	// Tenant is the namespace of the file's source ("" the default one):
	// a search of one tenant never sees another's files or statistics.
	Tenant string `json:"tenant,omitempty"`
	// Access lists the principals who may see the file (public,
	// user:NAME, group:NAME), as the last `rag index` resolved them from
	// its front matter, its root's .ragaccess and its source's --allow;
	// empty: nobody. It counts only when the catalog's AccessControl is on.
	Access []string `json:"access,omitempty"`
}

// Seen is what the file system said of a file when rag read it, and when:
// size, modification and status-change times (Unix nanoseconds; CTime 0
// where unknown) and inode, which any write or replacement changes, as
// git's index relies on.
type Seen struct {
	Size   int64  `json:"size"`
	MTime  int64  `json:"mtime"`
	CTime  int64  `json:"ctime,omitempty"`
	Inode  uint64 `json:"inode,omitempty"`
	ReadAt int64  `json:"read_at"`
}

// Source is a folder or a single file given to `rag index`, recorded with
// the choices of files made for it so that a later run without arguments
// refreshes it the same way.
type Source struct {
	// Path is absolute.
	Path string `json:"path"`
	// File is true when a single file, not a folder, was given.
	File bool `json:"file,omitempty"`
	// Include and Exclude are glob patterns (relative to Path) that choose
	// files; Hidden includes hidden files and folders.
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	Hidden  bool     `json:"hidden,omitempty"`
	// Tenant is the namespace the source's files belong to (--tenant).
	Tenant string `json:"tenant,omitempty"`
	// Allow lists the principals who may see the source's files that no
	// front matter or .ragaccess rule covers (--allow).
	Allow []string `json:"allow,omitempty"`
	// Collection names the collection the source's files belong to
	// (--collection); "" for the one named after the folder (Name).
	Collection string `json:"collection,omitempty"`
	// Inherit, for a source inside another folder source, names the
	// settings it takes from the source around it (Effective), the ones
	// no run gave for it; the others are its own, which the folder around
	// it never changes. Its files are held once, by the outermost folder.
	Inherit Settings `json:"inherit,omitempty"`
	// Removed are the folders and files inside the folder (relative to
	// Path, slash-separated) that `rag index --remove` took out: every run
	// leaves them out until one is indexed again by name. Kept apart from
	// Exclude, which each run's --exclude replaces.
	Removed []string `json:"removed,omitempty"`
}

// Leaves reports whether the source, a folder, leaves out abs (a path
// inside it) because abs is or is inside a path it has Removed.
func (s Source) Leaves(abs string) bool {
	for _, r := range s.Removed {
		if within(abs, filepath.Join(s.Path, filepath.FromSlash(r))) {
			return true
		}
	}
	return false
}

// Readd returns s without the removed paths that abs (a folder or file
// inside it, given to `rag index` by name) is or holds: indexing a path
// that was removed brings it back. A path inside one that was removed
// does not bring back the rest of it: the source is s as it was.
func (s Source) Readd(abs string) Source {
	var kept []string
	for _, r := range s.Removed {
		if !within(filepath.Join(s.Path, filepath.FromSlash(r)), abs) {
			kept = append(kept, r)
		}
	}
	s.Removed = kept
	return s
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// Settings is a set of a source's settings.
type Settings uint8

// The settings a source inside another may inherit.
const (
	InheritTenant     Settings = 1 << iota // Tenant
	InheritAllow                           // Allow
	InheritCollection                      // Collection
	InheritWalk                            // Include, Exclude and Hidden
	inheritAll        = InheritTenant | InheritAllow | InheritCollection | InheritWalk
)

// Name is the collection of the source: as --collection named it, else
// the folder's (or file's) base name.
func (s Source) Name() string {
	if s.Collection != "" {
		return s.Collection
	}
	return filestat.EscapeName(filepath.Base(s.Path))
}

// Same reports whether s and o are the same folder or file.
func (s Source) Same(o Source) bool { return s.Path == o.Path && s.File == o.File }

// Problem is a file that was skipped or could not be indexed at its last
// run, and why.
type Problem struct {
	Root   string `json:"root"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
	// Failed is true for errors (the run exited partial); false for files
	// skipped on purpose (hidden, too large, not text).
	Failed bool `json:"failed,omitempty"`
}

// Manifest is the durable catalog of an index.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	EmbedModel    string `json:"embed_model"`
	Dims          int    `json:"dims"`
	ChunkTarget   int    `json:"chunk_target"`
	ChunkOverlap  int    `json:"chunk_overlap"`
	// Generation is random per build of an index and part of every object
	// key, so a rebuild never overwrites the objects of the index it replaces.
	Generation string      `json:"generation"`
	Created    time.Time   `json:"created"`
	Updated    time.Time   `json:"updated"`
	Sources    []Source    `json:"sources"`
	Files      []FileEntry `json:"files"`
	Problems   []Problem   `json:"problems"`
	// AccessControl is set once any source has an --allow, a .ragaccess
	// file or front matter naming access, and stays set: from then on a
	// file is visible only to the principals of its Access. Until then the
	// index is a single user's, every file public.
	AccessControl bool `json:"access_control,omitempty"`
}

// Chunks is the number of chunks the manifest's files hold.
func (m *Manifest) Chunks() int {
	n := 0
	for _, f := range m.Files {
		n += f.Chunks
	}
	return n
}

// Clone returns a deep copy of m.
func (m *Manifest) Clone() Manifest {
	c := *m
	c.Sources = append([]Source(nil), m.Sources...)
	c.Files = append([]FileEntry(nil), m.Files...)
	c.Problems = append([]Problem(nil), m.Problems...)
	return c
}

// Hit is a search result.
type Hit struct {
	// ID names the chunk within the open store, so that the results of
	// Search and SearchText can be fused.
	ID        int
	File      FileEntry
	StartLine int
	EndLine   int
	Page      int
	Heading   string
	Text      string
	// Score is the cosine similarity of the query and the chunk (Search),
	// or its BM25 score (SearchText).
	Score float32
	// Coverage (SearchText) is the share of the BM25 score the query could
	// attain over the searched chunks that this one reaches (0 to 1): low
	// when the chunk lacks the query's rarest words, or when no chunk has
	// them. rag's abstention floor reads it.
	Coverage float32
	// Known (SearchText) is the share of that attainable score carried by
	// the query's words some searched chunk holds (0 to 1; 0 when the store
	// does not say): what is left is words no chunk has. The abstention
	// model (retrieve.Confidence) reads the coverage of the known part.
	Known float32
}

// Store is an index's storage.
type Store interface {
	// Manifest returns the current catalog. Its slices are shared: replace
	// them, never change their elements in place (Clone makes a copy to
	// change).
	Manifest() Manifest
	// PutObject stores the chunks of one file content under key. Stored
	// chunks are invisible to Search until a Commit references them.
	PutObject(ctx context.Context, key string, chunks []Chunk) error
	// Commit makes m the current catalog, atomically.
	Commit(ctx context.Context, m Manifest) error
	// Search returns the k chunks closest to vec that view sees, best
	// first.
	Search(ctx context.Context, view View, vec []float32, k int) ([]Hit, error)
	// SearchText returns the k chunks view sees that best match query's
	// words (BM25 over what view sees), best first; chunks sharing no word
	// are never returned.
	SearchText(ctx context.Context, view View, query string, k int) ([]Hit, error)
	Close() error
}

// ErrNoIndex means there is no index at the location.
var ErrNoIndex = errors.New("no index")

// GoneError means the index was deleted, or replaced, while it was read:
// its files are missing because the index is, not because they are
// damaged, so what a search found is no answer and not a short one either.
type GoneError struct {
	Dir string
	// Replaced is set when a catalog is there again, another than the one
	// read (the index was built again, or rewritten by a writer that could
	// not see this reader).
	Replaced bool
}

func (e *GoneError) Error() string {
	if e.Replaced {
		return fmt.Sprintf("the index at %s was replaced while rag read it", e.Dir)
	}
	return fmt.Sprintf("the index at %s was deleted while rag read it", e.Dir)
}

// CorruptError means an index file cannot be read back.
type CorruptError struct {
	Path string
	Err  error
	// Catalog is true when the file is a catalog, not an object.
	Catalog bool
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("index file %s is damaged: %v", e.Path, e.Err)
}
func (e *CorruptError) Unwrap() error { return e.Err }

// VersionError means the index was written by another version of rag.
type VersionError struct {
	Path string
	Got  int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("index %s has format version %d; this rag reads versions %d to %d", e.Path, e.Got, oldestReadable, FormatVersion)
}

// ModelMismatchError means the index was built with another embedding model
// or vector size than the one asked for; vectors of two models never mix.
type ModelMismatchError struct {
	IndexModel string
	IndexDims  int
	Model      string
	Dims       int
}

// LockedError means another process is writing to the index.
type LockedError struct {
	Dir string
	// Holder describes the other process, if it could be read.
	Holder string
}

func (e *LockedError) Error() string {
	if e.Holder != "" {
		return fmt.Sprintf("another rag index (%s) is writing to %s", e.Holder, e.Dir)
	}
	return fmt.Sprintf("another rag index is writing to %s", e.Dir)
}

func (e *ModelMismatchError) Error() string {
	if e.Dims != 0 && e.Model == e.IndexModel {
		return fmt.Sprintf("the index holds %d-dimensional vectors but %s now returns %d", e.IndexDims, e.Model, e.Dims)
	}
	return fmt.Sprintf("the index was built with embedding model %s (%d dimensions), not %s", e.IndexModel, e.IndexDims, e.Model)
}
