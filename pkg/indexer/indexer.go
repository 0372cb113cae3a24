// Package indexer is the ingest pipeline behind `rag index`: it walks a
// folder, reads and hashes each file, chunks what is new or changed, embeds
// the chunks in batches, stores them and commits the catalog. Unchanged
// content (by hash, also under a new name) is never embedded again, and
// progress is committed as it goes so an interrupted run loses nothing
// (not even the first batches of a file it stopped in). A chunk the model
// refuses as too long is cut into pieces that fit; one it will not embed
// at all fails its file, and the run goes on.
package indexer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/extract"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/store"
)

// Embedder turns texts into vectors, one per text, in order. It is called
// from several goroutines at once, and the vectors it returns are the
// caller's own.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Options configures one run.
type Options struct {
	// Root is the absolute folder recorded for the files; FS is its content.
	Root string
	FS   fs.FS
	// Only, when set, limits the run to these paths (indexing single files);
	// nothing else under Root is added or removed. A path of Only that no
	// longer exists is removed from the index.
	Only []string
	// Source is recorded in the catalog so that a later run without
	// arguments refreshes it.
	Source store.Source
	// Nested are the sources inside Source (a folder), recorded with it:
	// the catalog's sources inside it are replaced by these. Their files
	// are held by Source, under Root, but each decides the settings of the
	// files it holds (the most specific one), and one that does not
	// inherit its walk options (store.InheritWalk) chooses its files with
	// its own. A file source among them is indexed even if the walk
	// leaves it out, as a file given alone is; one that is gone goes.
	Nested []store.Source
	// PruneOnly removes files that no longer exist (or are now skipped)
	// without reading or embedding anything.
	PruneOnly bool
	// Gone means Root (or the single file of Only) no longer exists: every
	// file of it and the source are removed without reading anything.
	Gone bool

	Model     string
	Chunk     chunk.Options
	BatchSize int
	// Requests is how many batches are at the embedder at once; 0 means
	// DefaultRequests.
	Requests int
	MaxSize  int64
	// CommitEvery is how many embedded files are committed at a time, at
	// least (a tenth of the catalog when that is more, so that writing the
	// catalog stays a small part of a large run), so an
	// interrupted run keeps its work.
	CommitEvery int
	Now         func() time.Time
	// Progress, if set, is called as files are read and their chunks
	// embedded: done of total bytes of the files to read (a file's bytes
	// count as its chunks are embedded). The total is known before any
	// file is read: files are read as the embedder takes their chunks,
	// not all first.
	Progress func(done, total int64)
	// Damaged, if set, names the objects (by key) found damaged: their
	// files are embedded again even though they have not changed. It is
	// called once the folder is walked, so that finding them (a stat of
	// every object) can overlap the walk.
	Damaged func() (map[string]bool, error)
	// IndexDir is the index being written (absolute): never indexed, like
	// any other folder holding a rag index.
	IndexDir string
}

// Failure is a file that could not be indexed.
type Failure struct {
	Path  string `json:"path"`
	Error string `json:"error"`
	// Err is the error, when it has a type to tell (a TooLongError).
	Err error `json:"-"`
}

// Summary says what a run did.
type Summary struct {
	New       int           `json:"new"`
	Changed   int           `json:"changed"`
	Unchanged int           `json:"unchanged"`
	Removed   int           `json:"removed"`
	Reused    int           `json:"reused"`
	Skipped   []ingest.Skip `json:"skipped"`
	// Ignored counts what ignore files and globs left out.
	Ignored  int       `json:"ignored"`
	Failed   []Failure `json:"failed"`
	Chunks   int       `json:"chunks_written"`
	Embedded int       `json:"chunks_embedded"`
	Repaired int       `json:"repaired"` // unchanged, embedded again: their chunks were damaged
	// FieldsOnly counts the changed files (in Changed) whose text was as
	// before: their front matter alone changed, so their fields were
	// indexed again and nothing embedded.
	FieldsOnly int `json:"fields_only"`
	// Cut counts the chunks too long for the model's context that were
	// cut into pieces that fit; FitTokens is then the size (in estimated
	// tokens) of the largest cut that fit, and ContextLength the model's
	// context as its server reports it (0 if it does not).
	Cut           int `json:"chunks_cut"`
	FitTokens     int `json:"-"`
	ContextLength int `json:"-"`
}

// Indexed is the number of files whose chunks were (re)written.
func (s *Summary) Indexed() int { return s.New + s.Changed + s.Repaired }

// EmptyFolderError means a folder had no file to index.
type EmptyFolderError struct {
	Root    string
	Skipped int
}

func (e *EmptyFolderError) Error() string {
	if e.Skipped > 0 {
		return fmt.Sprintf("%s has no file rag can index (%d skipped)", e.Root, e.Skipped)
	}
	return fmt.Sprintf("%s has no files", e.Root)
}

// DefaultRequests keeps one batch waiting at the server while it embeds
// another: it never waits for rag between batches.
const DefaultRequests = 2

// Run indexes opt.Root into st. It runs in stages, each a method of run
// or a type of its own: prepare the catalog (newRun), list the files
// (list), plan what to read (plan), read a few ahead of the embedder
// (reader), embed and store (pipeline, fed by index), commit the catalog
// as it goes (commit), and end, complete (complete) or stopped (stopped).
// Progress is reported through opt.Progress all along.
func Run(ctx context.Context, st store.Store, emb Embedder, opt Options) (*Summary, error) {
	r, err := newRun(ctx, st, emb, withDefaults(opt))
	if err != nil {
		return nil, err
	}
	walked, err := r.list(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.plan(ctx, walked.Files); err != nil {
		return nil, err
	}
	pipe := r.pipeline(ctx)
	defer pipe.stop()
	if err := r.index(ctx, pipe); err != nil {
		return r.stopped(ctx, pipe, err)
	}
	r.sum.FitTokens, r.sum.ContextLength = pipe.fitTokens, pipe.ctxLen
	return r.complete(ctx)
}

// run is one index run: what its stages share.
type run struct {
	st     store.Store
	emb    Embedder
	opt    Options
	keys   *keyer
	who    *decider
	nested []nestedSource

	// m is the catalog being written: its slices are replaced, never
	// changed in place. before is the catalog as the run found it, to skip
	// a commit that would change nothing.
	m, before store.Manifest
	sum       *Summary
	damaged   map[string]bool // object keys found damaged: their files are read again

	scope // the catalog's files, by where they stand to the run (plan)
	// current are the files of the run as they are now; untouched counts
	// those that are their catalog entry as it was, pendingPaths those
	// whose chunks went to the embedder.
	current      map[string]store.FileEntry
	untouched    int
	pendingPaths map[string]bool
	// toRead are the files to read (their stat is not as when they were
	// read), total their bytes, done the bytes read and decided or
	// embedded so far: what progress counts.
	toRead      []ingest.File
	total, done int64

	// Set once every file is read: a complete run's catalog.
	problems []store.Problem
	sources  []store.Source
}

func withDefaults(opt Options) Options {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 16
	}
	if opt.CommitEvery <= 0 {
		opt.CommitEvery = 64
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Chunk.Target <= 0 {
		opt.Chunk = chunk.DefaultOptions
	}
	return opt
}

// newRun prepares the catalog the run writes and reads the access
// settings of its sources: nothing is walked yet.
func newRun(ctx context.Context, st store.Store, emb Embedder, opt Options) (*run, error) {
	r := &run{st: st, emb: emb, opt: opt, m: st.Manifest()}
	r.before = r.m
	m := &r.m
	// The model and vector size are fixed by the first embedding that
	// succeeds, not by a run that failed before it (an unknown model,
	// Ollama down): until then the index takes any model.
	if _, mismatch := m.EmbedModelFor(opt.Model, opt.Model); mismatch != nil {
		return nil, mismatch
	}
	if m.Dims == 0 {
		m.EmbedModel = ""
	}
	if m.Generation == "" {
		m.Generation = store.NewManifest().Generation
	}
	m.ChunkTarget, m.ChunkOverlap = opt.Chunk.Target, opt.Chunk.Overlap
	// A catalog of an older format version is written again in this one's,
	// even by a run that changes nothing else.
	m.FormatVersion = store.FormatVersion
	r.keys = newKeyer(m.Generation, opt)
	var err error
	if r.who, err = newDecider(ctx, opt); err != nil {
		return nil, err
	}
	if r.who.control() {
		m.AccessControl = true // and it stays on
	}
	r.nested = nestedOf(opt)
	return r, nil
}

// report reports progress.
func (r *run) report() {
	if r.opt.Progress != nil {
		r.opt.Progress(r.done, r.total)
	}
}

func countNew(sum *Summary, had bool) {
	if had {
		sum.Changed++
	} else {
		sum.New++
	}
}

// keyer names the stored chunks of one content read as one format (its
// extension decides the reader) under one model, chunking and index
// generation, so that changing any of them never reuses stale chunks and a
// rebuild never overwrites the objects it replaces. The part made by the
// run's settings is formatted once, not once a file, and checking a key
// allocates nothing (a no-op run checks the key of every file).
type keyer struct {
	tail string
	buf  []byte
	hex  [2 * sha256.Size]byte
}

func newKeyer(generation string, opt Options) *keyer {
	return &keyer{tail: fmt.Sprintf("\x00%s\x00%d\x00%d\x00%d.%d\x00%s",
		opt.Model, opt.Chunk.Target, opt.Chunk.Overlap, extract.Version, chunk.Version, generation)}
}

func (k *keyer) sum(hash, name string) []byte {
	ext := extract.Ext(name) // ".md.gz" for a compressed one: read as its inner type
	k.buf = append(append(append(append(k.buf[:0], hash...), 0), ext...), k.tail...)
	if v := extract.FormatVersion(strings.TrimSuffix(ext, ".gz")); v > 0 {
		k.buf = strconv.AppendInt(append(k.buf, 0), int64(v), 10)
	}
	h := sha256.Sum256(k.buf)
	hex.Encode(k.hex[:], h[:])
	return k.hex[:]
}

// key is the object key of content hash read from a file named name.
func (k *keyer) key(hash, name string) string { return string(k.sum(hash, name)) }

// is reports whether key is that object key.
func (k *keyer) is(key, hash, name string) bool { return string(k.sum(hash, name)) == key }

func maxSize(opt Options) int64 {
	if opt.MaxSize > 0 {
		return opt.MaxSize
	}
	return ingest.DefaultMaxSize
}
