// Package indexer is the ingest pipeline behind `rag index`: it walks a
// folder, reads and hashes each file, chunks what is new or changed, embeds
// the chunks in batches, stores them and commits the catalog. Unchanged
// content (by hash, also under a new name) is never embedded again, and
// progress is committed as it goes so an interrupted run loses nothing.
package indexer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/extract"
	"github.com/rag-cli/rag/pkg/filestat"
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

type pending struct {
	entry  store.FileEntry
	chunks []store.Chunk
	isNew  bool
	repair bool  // unchanged, but its stored chunks are damaged
	done   int   // chunks embedded so far
	size   int64 // of the file, as walked: its share of progress
}

// Run indexes opt.Root into st.
func Run(ctx context.Context, st store.Store, emb Embedder, opt Options) (*Summary, error) {
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
	m := st.Manifest() // its slices are replaced below, never changed in place
	before := m        // to skip a commit that would change nothing
	// The model and vector size are fixed by the first embedding that
	// succeeds, not by a run that failed before it (an unknown model,
	// Ollama down): until then the index takes any model.
	if m.Dims > 0 && m.EmbedModel != opt.Model {
		return nil, &store.ModelMismatchError{IndexModel: m.EmbedModel, IndexDims: m.Dims, Model: opt.Model}
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
	keys := newKeyer(m.Generation, opt)
	who, err := newDecider(ctx, opt)
	if err != nil {
		return nil, err
	}
	if who.control() {
		m.AccessControl = true // and it stays on
	}

	walked := &ingest.Result{}
	if !opt.Gone {
		var err error
		if walked, err = listFiles(ctx, opt); err != nil {
			return nil, err
		}
	}
	var damaged map[string]bool
	if opt.Damaged != nil {
		var err error
		if damaged, err = opt.Damaged(); err != nil {
			return nil, err
		}
	}
	files := walked.Files
	sum := &Summary{Ignored: walked.Ignored}
	if who.unread != "" {
		sum.Failed = append(sum.Failed, Failure{Path: access.RulesFile, Error: who.unread})
	}
	for _, sk := range walked.Skips {
		if sk.Failed {
			sum.Failed = append(sum.Failed, Failure{Path: sk.Path, Error: sk.Reason})
		} else {
			sum.Skipped = append(sum.Skipped, sk)
		}
	}

	// The files of this root (or of Only) as the catalog has them now.
	inScope := func(p string) bool { return true }
	if opt.Only != nil {
		only := map[string]bool{}
		for _, p := range opt.Only {
			only[p] = true
		}
		inScope = func(p string) bool { return only[p] }
	}
	old := make(map[string]store.FileEntry, len(m.Files))
	var keep []store.FileEntry // files of other roots, untouched
	for _, f := range m.Files {
		if f.Root == opt.Root && inScope(f.Path) {
			old[f.Path] = f
		} else {
			keep = append(keep, f)
		}
	}

	current := make(map[string]store.FileEntry, len(files))
	untouched := 0 // files of current that are their catalog entry as it was
	pendingPaths := map[string]bool{}
	// Files whose stat is as when they were read are not read again; the
	// others are read below, a few ahead of the embedder: the run never
	// holds the chunks of the whole folder.
	var toRead []ingest.File
	var total int64 // their bytes: what progress counts
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if opt.PruneOnly {
			// Still there: keep it as it is, changed or not (who may see
			// it is decided again: that embeds nothing).
			if prev, ok := old[f.Path]; ok {
				if !who.decide(&prev, sum, &m) {
					untouched++
				}
				current[f.Path] = prev
				sum.Unchanged++
			}
			continue
		}
		prev, had := old[f.Path]
		if had && !damaged[prev.Key] && statClean(prev.Seen, f.Stat) && keys.is(prev.Key, prev.Hash, f.Path) {
			// Its stat is as when it was read: unchanged, and not read again.
			if !who.decide(&prev, sum, &m) {
				untouched++
			}
			current[f.Path] = prev
			sum.Unchanged++
			continue
		}
		toRead = append(toRead, f)
		total += f.Size
	}

	// stored finds an object the catalog names by its key: content stored
	// under any name is reused, never embedded again. Made only when a file
	// is to be read: a no-op run needs none.
	var stored map[string]store.FileEntry
	if len(toRead) > 0 {
		stored = make(map[string]store.FileEntry, len(m.Files))
		for _, f := range m.Files {
			if !damaged[f.Key] {
				stored[f.Key] = f
			}
		}
	}

	// read reads a file and says what it is now. It runs in a goroutine of
	// its own, a few files ahead of the embedder, and changes nothing the
	// run shares (it has a keyer of its own).
	rkeys := newKeyer(m.Generation, opt)
	read := func(f ingest.File) outcome {
		o := outcome{f: f}
		prev, had := old[f.Path]
		o.had = had
		readAt := opt.Now()
		data, err := ingest.Read(opt.FS, f.Path, maxSize(opt))
		if err != nil {
			o.failed = err.Error()
			return o
		}
		if len(bytes.TrimSpace(data)) == 0 {
			o.skipped = "empty"
			return o
		}
		h := sha256.Sum256(data)
		hash := hex.EncodeToString(h[:])
		entry := store.FileEntry{
			Root: opt.Root, Path: f.Path, Hash: hash, Key: rkeys.key(hash, f.Path),
			Size: int64(len(data)), IndexedAt: opt.Now().UTC(),
			Seen: &store.Seen{Size: f.Stat.Size, MTime: f.Stat.MTime, CTime: f.Stat.CTime, Inode: f.Stat.Inode, ReadAt: readAt.UnixNano()},
		}
		repair := had && prev.Key == entry.Key && damaged[prev.Key]
		if had && prev.Key == entry.Key && !repair {
			// Unchanged; what it was seen as now lets the next run skip it.
			prev.Seen = entry.Seen
			o.entry, o.unchanged = prev, true
			return o
		}
		if same, ok := stored[entry.Key]; ok {
			// Same content is stored already (a rename or a copy): reuse it.
			entry.Chunks, entry.Format, entry.Meta = same.Chunks, same.Format, same.Meta
			o.entry, o.reused = entry, true
			return o
		}
		doc, err := extract.Extract(f.Path, data)
		if err != nil {
			var fe *extract.FormatError
			if errors.As(err, &fe) {
				o.failed = err.Error()
			} else {
				o.skipped = err.Error()
			}
			return o
		}
		pieces := chunk.SplitDoc(doc, opt.Chunk)
		if len(pieces) == 0 {
			o.skipped = "no text"
			return o
		}
		entry.Format, entry.Meta = doc.Format, doc.Meta
		p := &pending{entry: entry, isNew: !had, repair: repair, size: f.Size}
		p.chunks = make([]store.Chunk, 0, len(pieces))
		for _, c := range pieces {
			p.chunks = append(p.chunks, store.Chunk{StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Heading: c.Heading, Text: c.Text})
		}
		p.entry.Chunks = len(p.chunks)
		o.p = p
		return o
	}

	// Set once every file is read: a complete run's catalog.
	var problems []store.Problem
	var sources []store.Source

	// commit writes the catalog: kept files, current files, and (when the run
	// completed) nothing of removed ones. Removed files are dropped only by
	// a complete run; an interrupted one keeps them, as it has not finished
	// looking.
	// commitCatalog commits m unless the run is complete and changed
	// nothing.
	commitCatalog := func(ctx context.Context, m, before *store.Manifest, complete bool) error {
		m.Updated = before.Updated
		if complete && m.Equal(before) {
			return nil // nothing changed: the catalog stays as it is
		}
		m.Updated = opt.Now().UTC()
		if err := st.Commit(ctx, *m); err != nil {
			return fmt.Errorf("commit index: %w", err)
		}
		return nil
	}
	byPath := func(a, b store.FileEntry) int {
		if c := strings.Compare(a.Root, b.Root); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	}
	commit := func(ctx context.Context, complete bool) error {
		if complete && untouched == len(old) && len(current) == len(old) && len(keep)+len(old) == len(before.Files) && slices.IsSortedFunc(before.Files, byPath) {
			// Every file is its catalog entry as it was (a no-op run): the
			// catalog's files, not a sorted copy of them.
			m.Files, m.Problems, m.Sources = before.Files, problems, sources
			sort.Slice(m.Sources, func(i, j int) bool { return m.Sources[i].Path < m.Sources[j].Path })
			return commitCatalog(ctx, &m, &before, complete)
		}
		files := make([]store.FileEntry, 0, len(keep)+len(current)+len(old))
		files = append(files, keep...)
		for _, f := range current {
			files = append(files, f)
		}
		if !complete {
			for p, f := range old {
				if _, ok := current[p]; !ok {
					files = append(files, f)
				}
			}
		} else {
			m.Problems, m.Sources = problems, sources
			sort.Slice(m.Sources, func(i, j int) bool { return m.Sources[i].Path < m.Sources[j].Path })
		}
		slices.SortFunc(files, byPath)
		m.Files = files
		return commitCatalog(ctx, &m, &before, complete)
	}

	var done int64 // bytes of the files read and decided or embedded
	report := func() {
		if opt.Progress != nil {
			opt.Progress(done, total)
		}
	}
	pipe := &pipeline{st: st, emb: emb, opt: opt, m: &m,
		embedded: func(p *pending) {
			// A file's bytes count as its chunks are embedded.
			n := int64(len(p.chunks))
			done += p.size*int64(p.done)/n - p.size*int64(p.done-1)/n
		},
		stored: func(p *pending) {
			current[p.entry.Path] = p.entry
			sum.Chunks += len(p.chunks)
			sum.Embedded += len(p.chunks)
			if p.repair {
				sum.Repaired++
			} else {
				countNew(sum, !p.isNew)
			}
		},
		received: report,
		commit: func(since int) (bool, error) {
			if since < max(opt.CommitEvery, (len(keep)+len(current))/10) {
				return false, nil
			}
			return true, commit(ctx, false)
		},
	}
	pipe.start(ctx)
	defer pipe.stop()
	// Files are read (and chunked) a few ahead, while the main goroutine
	// stores what comes back and sends what is read.
	outcomes := make(chan outcome, readAhead)
	rctx, stopReading := context.WithCancel(ctx)
	var reading sync.WaitGroup
	reading.Go(func() {
		defer close(outcomes)
		for _, f := range toRead {
			if rctx.Err() != nil {
				return
			}
			select {
			case outcomes <- read(f):
			case <-rctx.Done():
				return
			}
		}
	})
	defer func() {
		stopReading()
		reading.Wait()
	}()
	report()
	err = func() error {
		for o := range outcomes {
			if err := ctx.Err(); err != nil {
				return err
			}
			path := o.f.Path
			switch {
			case o.failed != "":
				sum.Failed = append(sum.Failed, Failure{Path: path, Error: o.failed})
			case o.skipped != "":
				sum.Skipped = append(sum.Skipped, ingest.Skip{Path: path, Reason: o.skipped})
			case o.unchanged:
				who.decide(&o.entry, sum, &m)
				current[path] = o.entry
				sum.Unchanged++
			case o.reused:
				who.decide(&o.entry, sum, &m)
				current[path] = o.entry
				sum.Reused++
				sum.Chunks += o.entry.Chunks
				countNew(sum, o.had)
			}
			if o.p == nil {
				done += o.f.Size
				report()
				continue
			}
			who.decide(&o.p.entry, sum, &m)
			pendingPaths[path] = true
			if err := pipe.add(o.p); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err // not every file was read
		}
		return pipe.flush()
	}()
	if err != nil {
		// Keep what was embedded: the next run resumes from there.
		pipe.stop()
		pipe.keep()
		if cerr := commit(context.WithoutCancel(ctx), false); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
		return sum, err
	}

	removed := 0
	for p := range old {
		if _, ok := current[p]; !ok && !pendingPaths[p] {
			removed++
		}
	}
	if len(current) == 0 && len(pendingPaths) == 0 && len(old) == 0 && len(sum.Failed) == 0 && opt.Only == nil && !opt.PruneOnly {
		return nil, &EmptyFolderError{Root: opt.Root, Skipped: len(sum.Skipped)}
	}
	problems = m.Problems[:0:0]
	for _, p := range m.Problems {
		if p.Root != opt.Root || !inScope(p.Path) || opt.PruneOnly && !opt.Gone {
			problems = append(problems, p)
		}
	}
	if !opt.PruneOnly {
		for _, sk := range sum.Skipped {
			problems = append(problems, store.Problem{Root: opt.Root, Path: sk.Path, Reason: sk.Reason})
		}
		for _, f := range sum.Failed {
			problems = append(problems, store.Problem{Root: opt.Root, Path: f.Path, Reason: f.Error, Failed: true})
		}
	}
	sources = m.Sources[:0:0]
	for _, src := range m.Sources {
		if !src.Same(opt.Source) {
			sources = append(sources, src)
		}
	}
	if !opt.Gone && opt.Source.Path != "" {
		sources = append(sources, opt.Source)
	}
	sum.Removed = removed
	if err := commit(ctx, true); err != nil {
		return nil, err
	}
	return sum, nil
}

// racyWindow is how close to being read a file may have changed and still
// be trusted by its stat. Closer, a write in the same tick of the file
// system's clock could leave the stat as it was (git calls such entries
// racily clean): the file is read again, and once it is older, trusted.
const racyWindow = 2 * time.Second

// statClean reports whether a file whose stat the walk found as st can be
// taken as unchanged since it was seen.
func statClean(seen *store.Seen, st filestat.Stat) bool {
	return seen != nil && seen.Size == st.Size && seen.MTime == st.MTime && seen.CTime == st.CTime && seen.Inode == st.Inode &&
		max(seen.MTime, seen.CTime) < seen.ReadAt-int64(racyWindow)
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
	ext := strings.ToLower(path.Ext(name))
	k.buf = append(append(append(append(k.buf[:0], hash...), 0), ext...), k.tail...)
	if v := extract.FormatVersion(ext); v > 0 {
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

func listFiles(ctx context.Context, opt Options) (*ingest.Result, error) {
	if opt.Only == nil {
		return ingest.Walk(ctx, opt.FS, ingest.Options{
			MaxSize: opt.MaxSize, Include: opt.Source.Include, Exclude: opt.Source.Exclude, Hidden: opt.Source.Hidden,
			SkipDir: func(dir string, names []string) bool {
				return opt.IndexDir != "" && filepath.Join(opt.Root, filepath.FromSlash(dir)) == opt.IndexDir ||
					store.IsCatalogDir(opt.FS, dir, names)
			},
		})
	}
	res := &ingest.Result{}
	for _, p := range opt.Only {
		info, err := fs.Stat(opt.FS, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted: its entry goes
		}
		if err != nil {
			res.Skips = append(res.Skips, ingest.Skip{Path: p, Reason: err.Error(), Failed: true})
			continue
		}
		switch {
		case !info.Mode().IsRegular():
			res.Skips = append(res.Skips, ingest.Skip{Path: p, Reason: "not a regular file"})
		case info.Size() > maxSize(opt):
			res.Skips = append(res.Skips, ingest.Skip{Path: p, Reason: fmt.Sprintf("larger than --max-size (%d > %d bytes)", info.Size(), maxSize(opt))})
		default:
			res.Files = append(res.Files, ingest.File{Path: path.Clean(p), Size: info.Size(), Stat: filestat.Of(info)})
		}
	}
	return res, nil
}

// pipeline embeds the chunks of files in batches that may span files and
// stores each file once all its chunks are embedded, offering commit the
// number of files stored since its last commit after every batch.
//
// Up to opt.Requests batches are at the embedder at once, each in its own
// goroutine, so that the server always has the next batch while rag
// reads and chunks the next files and stores the answer to the last one.
// Answers are stored in the order the batches were made: a failure stores
// nothing after the batch that failed, as if the batches had gone one at
// a time. Everything else happens in the caller's goroutine.
type pipeline struct {
	st  store.Store
	emb Embedder
	opt Options
	m   *store.Manifest
	// embedded is called as each chunk is embedded, stored as each file
	// is stored, received after each batch is.
	embedded func(*pending)
	stored   func(*pending)
	received func()
	commit   func(since int) (bool, error)

	ctx    context.Context // the run's
	ectx   context.Context // the requests': cancelled by stop
	cancel context.CancelFunc
	batch  []slot
	sent   []*request // out, oldest first
	since  int        // files stored since the last commit
	// failed is set once an answer could not be stored: nothing after it
	// may be, as if the batches had gone one at a time.
	failed bool
}

// outcome is what reading a file found: a reason it failed or was
// skipped, the entry of a file unchanged or of content already stored
// (reused), or chunks to embed.
type outcome struct {
	f                 ingest.File
	failed, skipped   string
	entry             store.FileEntry
	had               bool // the catalog had the path
	unchanged, reused bool
	p                 *pending
}

// readAhead is how many files are read ahead of the embedder: enough that
// one is always ready, few enough that memory does not grow with the
// folder.
const readAhead = 4

// slot is one chunk of a batch.
type slot struct {
	p *pending
	i int
}

// request is a batch at the embedder; done is closed when it answered.
type request struct {
	batch []slot
	vecs  [][]float32
	err   error
	done  chan struct{}
}

func (pl *pipeline) start(ctx context.Context) {
	pl.ctx = ctx
	pl.ectx, pl.cancel = context.WithCancel(ctx)
}

// stop cancels the requests still out and waits for them.
func (pl *pipeline) stop() {
	pl.cancel()
	for _, r := range pl.sent {
		<-r.done
	}
}

// keep stores, in order, the answers that came back before the run
// stopped, up to the first request that failed or was cancelled: an
// interrupted run keeps everything the embedder gave it.
func (pl *pipeline) keep() {
	for len(pl.sent) > 0 && !pl.failed {
		if pl.receive() != nil {
			break
		}
	}
	pl.sent = nil
}

// add queues a file's chunks, sending each batch they fill.
func (pl *pipeline) add(p *pending) error {
	for i := range p.chunks {
		pl.batch = append(pl.batch, slot{p, i})
		if len(pl.batch) == pl.opt.BatchSize {
			if err := pl.send(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush sends what is queued and stores every answer.
func (pl *pipeline) flush() error {
	if len(pl.batch) > 0 {
		if err := pl.send(); err != nil {
			return err
		}
	}
	for len(pl.sent) > 0 {
		if err := pl.receive(); err != nil {
			return err
		}
	}
	return pl.ctx.Err()
}

// send sends the queued batch, first storing the oldest answer when
// opt.Requests are out.
func (pl *pipeline) send() error {
	requests := pl.opt.Requests
	if requests <= 0 {
		requests = DefaultRequests
	}
	if len(pl.sent) >= requests {
		if err := pl.receive(); err != nil {
			return err
		}
	}
	r := &request{batch: pl.batch, done: make(chan struct{})}
	pl.batch = nil
	texts := make([]string, len(r.batch))
	for i, s := range r.batch {
		texts[i] = EmbedText(s.p.chunks[s.i])
	}
	pl.sent = append(pl.sent, r)
	go func() {
		defer close(r.done)
		r.vecs, r.err = pl.emb.Embed(pl.ectx, texts)
	}()
	return nil
}

// receive stores the answer to the oldest request.
func (pl *pipeline) receive() (err error) {
	defer func() {
		if err != nil {
			pl.failed = true
		}
	}()
	r := pl.sent[0]
	<-r.done
	pl.sent = pl.sent[1:]
	if r.err != nil {
		return r.err
	}
	if len(r.vecs) != len(r.batch) {
		return fmt.Errorf("embedder returned %d vectors for %d texts", len(r.vecs), len(r.batch))
	}
	m, opt := pl.m, pl.opt
	for i, s := range r.batch {
		v := r.vecs[i]
		if m.Dims == 0 {
			m.Dims, m.EmbedModel = len(v), opt.Model
			if m.Created.IsZero() {
				m.Created = opt.Now().UTC()
			}
		}
		if len(v) != m.Dims {
			return &store.ModelMismatchError{IndexModel: m.EmbedModel, IndexDims: m.Dims, Model: opt.Model, Dims: len(v)}
		}
		s.p.chunks[s.i].Vector = normalize(v)
		s.p.done++
		pl.embedded(s.p)
		if s.p.done == len(s.p.chunks) {
			// What was embedded is stored even if the run was just
			// interrupted: the next run would embed it again.
			if err := pl.st.PutObject(context.WithoutCancel(pl.ctx), s.p.entry.Key, s.p.chunks); err != nil {
				return fmt.Errorf("store %s: %w", s.p.entry.Path, err)
			}
			pl.stored(s.p)
			s.p.chunks = nil // stored: its text and vectors are garbage now
			pl.since++
		}
	}
	pl.received()
	committed, err := pl.commit(pl.since)
	if committed {
		pl.since = 0
	}
	return err
}

// normalize scales v to unit length in place (the embedder's vectors are
// the indexer's to keep).
func normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return v
	}
	n := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= n
	}
	return v
}

// Forget drops a source from the catalog because another source now covers
// it (a folder around it was indexed). With entries, its files and problems
// go too; without, only the record of the source does (a single file in the
// covering folder's own root shares its catalog entry).
func Forget(ctx context.Context, st store.Store, src store.Source, entries bool, now time.Time) error {
	m := st.Manifest()
	root, inScope := src.Path, func(string) bool { return true }
	if src.File {
		root = filepath.Dir(src.Path)
		base := filepath.ToSlash(filepath.Base(src.Path))
		inScope = func(p string) bool { return p == base }
	}
	dropEntries(&m, func(r, p string) bool { return entries && r == root && inScope(p) })
	sources := m.Sources[:0:0]
	for _, s := range m.Sources {
		if !s.Same(src) {
			sources = append(sources, s)
		}
	}
	m.Sources, m.Updated = sources, now.UTC()
	if err := st.Commit(ctx, m); err != nil {
		return fmt.Errorf("commit index: %w", err)
	}
	return nil
}

// EmbedText is what is embedded for a chunk: its heading path, then its
// text, so that a passage deep in a section is still found by what the
// section is about.
func EmbedText(c store.Chunk) string {
	if c.Heading == "" {
		return c.Text
	}
	return c.Heading + "\n\n" + c.Text
}
