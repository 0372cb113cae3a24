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

type pending struct {
	entry  store.FileEntry
	chunks []store.Chunk
	// lines are the source lines of each chunk's lines of text, to cut a
	// chunk too long for the model into pieces that cite their own.
	lines [][]int
	// cut holds the pieces (embedded) of the chunks that were cut to fit,
	// by chunk; failure is why a chunk could not be embedded at all, and
	// then the file is not stored.
	cut     map[int][]store.Chunk
	failure error
	// resumed counts the chunks a stopped run kept, not embedded again.
	resumed int
	isNew   bool
	repair  bool  // unchanged, but its stored chunks are damaged
	done    int   // chunks embedded so far
	size    int64 // of the file, as walked: its share of progress
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

	nested := nestedOf(opt)
	walked := &ingest.Result{}
	if !opt.Gone {
		var err error
		if walked, err = listFiles(ctx, opt, nested); err != nil {
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
	sum.Failed = append(sum.Failed, who.unread()...)
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
	// Files recorded under a folder inside the root, by a source there
	// that was indexed alone before the root was: the root holds them now,
	// under its own paths. Until the run completes they stay as they were.
	var held []store.FileEntry
	for _, f := range m.Files {
		switch {
		case f.Root == opt.Root && inScope(f.Path):
			old[f.Path] = f
		case opt.Only == nil && store.Within(f.Root, opt.Root):
			held = append(held, f)
		default:
			keep = append(keep, f)
		}
	}
	heldAs := make([]string, len(held)) // their paths under the root
	moved := map[string]bool{}
	for i, f := range held {
		// Its stat, key and access carry over: an unchanged file is not
		// read again.
		rel, err := filepath.Rel(opt.Root, f.Root)
		if err != nil {
			return nil, err
		}
		heldAs[i] = path.Join(filepath.ToSlash(rel), f.Path)
		if _, ok := old[heldAs[i]]; !ok {
			f.Root, f.Path = opt.Root, heldAs[i]
			old[heldAs[i]], moved[heldAs[i]] = f, true
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
		doc, err := extract.ExtractMax(f.Path, data, maxSize(opt))
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
		p.lines = make([][]int, 0, len(pieces))
		for _, c := range pieces {
			p.chunks = append(p.chunks, store.Chunk{StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Heading: c.Heading, Text: c.Text})
			ns := make([]int, c.To-c.From)
			for i := range ns {
				ns[i] = doc.Lines[c.From+i].N
			}
			p.lines = append(p.lines, ns)
		}
		p.entry.Chunks = len(p.chunks)
		if had && prev.Key == partialKey(entry.Key, prev.Chunks) {
			resume(ctx, st, prev, p) // a stopped run kept some of it
		}
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
		if complete && len(held) == 0 && untouched == len(old) && len(current) == len(old) && len(keep)+len(old) == len(before.Files) && slices.IsSortedFunc(before.Files, byPath) {
			// Every file is its catalog entry as it was (a no-op run): the
			// catalog's files, not a sorted copy of them.
			m.Files, m.Problems, m.Sources = before.Files, problems, sources
			sort.Slice(m.Sources, func(i, j int) bool { return m.Sources[i].Path < m.Sources[j].Path })
			return commitCatalog(ctx, &m, &before, complete)
		}
		files := make([]store.FileEntry, 0, len(keep)+len(current)+len(old)+len(held))
		files = append(files, keep...)
		for _, f := range current {
			files = append(files, f)
		}
		if !complete {
			for p, f := range old {
				if _, ok := current[p]; !ok && !moved[p] {
					files = append(files, f)
				}
			}
			for i, f := range held {
				if _, ok := current[heldAs[i]]; !ok {
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
			sum.Chunks += p.entry.Chunks
			sum.Embedded += p.entry.Chunks - p.resumed
			sum.Cut += len(p.cut)
			if p.repair {
				sum.Repaired++
			} else {
				countNew(sum, !p.isNew)
			}
		},
		gaveUp: func(p *pending) {
			sum.Failed = append(sum.Failed, Failure{Path: p.entry.Path, Error: p.failure.Error(), Err: p.failure})
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
		sum.FitTokens, sum.ContextLength = pipe.fitTokens, pipe.ctxLen
		// Files the run stopped in the middle of keep the chunks that came
		// back: searchable, shown by status, and not embedded again.
		kept, kerr := pipe.keepPartial()
		var partly []store.Problem
		for _, pk := range kept {
			current[pk.entry.Path] = pk.entry
			sum.Embedded += pk.embedded
			partly = append(partly, store.Problem{Root: opt.Root, Path: pk.entry.Path, Failed: true,
				Reason: fmt.Sprintf("partly indexed: %d of %d chunks were embedded when the run stopped; run rag index again to finish it", pk.done, pk.of)})
		}
		m.Problems = withProblems(m.Problems, partly)
		if cerr := commit(context.WithoutCancel(ctx), false); cerr != nil || kerr != nil {
			return nil, errors.Join(err, kerr, cerr)
		}
		return sum, err
	}
	sum.FitTokens, sum.ContextLength = pipe.fitTokens, pipe.ctxLen

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
		if opt.Only == nil && p.Root != opt.Root && store.Within(p.Root, opt.Root) {
			continue // a source inside the root, indexed alone before: held now
		}
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
		// The sources inside a folder are those of the run (Nested).
		if !src.Same(opt.Source) && (opt.Source.File || opt.Source.Path == "" || !store.Within(src.Path, opt.Source.Path)) {
			sources = append(sources, src)
		}
	}
	if !opt.Gone && opt.Source.Path != "" {
		sources = append(sources, opt.Source)
		for _, n := range nested {
			if !n.gone {
				sources = append(sources, n.src)
			}
		}
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

func listFiles(ctx context.Context, opt Options, nested []nestedSource) (*ingest.Result, error) {
	if opt.Only == nil {
		return walkNested(ctx, opt, nested)
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

// nestedSource is a source inside the run's folder: where it is,
// relative to the root, and whether it is there still.
type nestedSource struct {
	src  store.Source
	rel  string
	gone bool
}

// nestedOf places opt.Nested under the root; a source that is gone (or
// is no longer a folder, or a file) is marked so, to be dropped.
func nestedOf(opt Options) []nestedSource {
	var out []nestedSource
	for _, src := range opt.Nested {
		rel, err := filepath.Rel(opt.Root, src.Path)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue // not inside: newDecider reports it
		}
		n := nestedSource{src: src, rel: filepath.ToSlash(rel)}
		if opt.Gone || opt.FS == nil {
			n.gone = true
		} else if info, err := fs.Stat(opt.FS, n.rel); err != nil || info.IsDir() == src.File {
			n.gone = true
		}
		out = append(out, n)
	}
	return out
}

// walkNested walks the root with the source's walk options, leaving out
// the folders of sources inside it that have walk options of their own
// (walked with those, their files under their path), and adds the files
// given as sources inside it that the walks left out.
func walkNested(ctx context.Context, opt Options, nested []nestedSource) (*ingest.Result, error) {
	own := map[string]bool{}
	for _, n := range nested {
		if !n.src.File && !n.gone && n.src.Inherit&store.InheritWalk == 0 {
			own[n.rel] = true
		}
	}
	walk := func(fsys fs.FS, prefix string, src store.Source) (*ingest.Result, error) {
		return ingest.Walk(ctx, fsys, ingest.Options{
			MaxSize: opt.MaxSize, Include: src.Include, Hidden: src.Hidden,
			Exclude: append(slices.Clip(src.Exclude), removedGlobs(src)...),
			SkipDir: func(dir string, names []string) bool {
				return opt.IndexDir != "" && filepath.Join(opt.Root, filepath.FromSlash(path.Join(prefix, dir))) == opt.IndexDir ||
					store.IsCatalogDir(fsys, dir, names)
			},
			Leave: func(dir string) bool { return len(own) > 0 && own[path.Join(prefix, dir)] },
		})
	}
	res, err := walk(opt.FS, "", opt.Source)
	if err != nil || len(nested) == 0 {
		return res, err
	}
	for _, n := range nested {
		if !own[n.rel] {
			continue
		}
		sub, err := fs.Sub(opt.FS, n.rel)
		if err != nil {
			return nil, err
		}
		r, err := walk(sub, n.rel, n.src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.src.Path, err)
		}
		for _, f := range r.Files {
			f.Path = path.Join(n.rel, f.Path)
			res.Files = append(res.Files, f)
		}
		for _, sk := range r.Skips {
			sk.Path = path.Join(n.rel, sk.Path)
			res.Skips = append(res.Skips, sk)
		}
		res.Ignored += r.Ignored
	}
	// A file given is indexed, whatever the walks chose.
	have := make(map[string]bool, len(res.Files))
	for _, f := range res.Files {
		have[f.Path] = true
	}
	for _, sk := range res.Skips {
		have[sk.Path] = true
	}
	var only []string
	for _, n := range nested {
		if n.src.File && !n.gone && !have[n.rel] {
			only = append(only, n.rel)
		}
	}
	if len(only) > 0 {
		o := opt
		o.Only = only
		r, err := listFiles(ctx, o, nil)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, r.Files...)
		res.Skips = append(res.Skips, r.Skips...)
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Path < res.Files[j].Path })
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
	// is stored, gaveUp as a file with a chunk the model refused is done
	// (and not stored), received after each batch is.
	embedded func(*pending)
	stored   func(*pending)
	gaveUp   func(*pending)
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
	// open are the files added whose chunks are not all embedded.
	open []*pending

	// Fitting chunks to the model, from the requests' goroutines.
	mu        sync.Mutex
	ctxLen    int  // the model's context length, 0 if unknown
	ctxAsked  bool // ctxLen was asked for
	fitTokens int  // the largest cut that fit
	// minRefused is the smallest text (estimated tokens) the model refused
	// as too long, 0 if none.
	minRefused int
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
// A chunk the model refused has its pieces in cut, or why it cannot be
// embedded in failures, by index in the batch.
type request struct {
	batch    []slot
	vecs     [][]float32
	cut      map[int][]store.Chunk
	failures map[int]error
	err      error
	done     chan struct{}
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

// add queues a file's chunks, sending each batch they fill; chunks a
// stopped run kept (resumed) are not sent again.
func (pl *pipeline) add(p *pending) error {
	pl.open = append(pl.open, p)
	for i := range p.chunks {
		if p.chunks[i].Vector != nil {
			p.done++
			pl.embedded(p)
			if p.done == len(p.chunks) {
				return pl.finish(p)
			}
			continue
		}
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
	chunks := make([]store.Chunk, len(r.batch)) // what the goroutine may cut
	lines := make([][]int, len(r.batch))
	var long []int // chunks surely too long for the model: cut without asking
	limit := pl.tooLong()
	for i, s := range r.batch {
		chunks[i], lines[i] = s.p.chunks[s.i], s.p.lines[s.i]
		texts[i] = EmbedText(chunks[i])
		if limit > 0 && chunk.EstimateTokens(texts[i]) >= limit {
			long = append(long, i)
		}
	}
	pl.sent = append(pl.sent, r)
	go func() {
		defer close(r.done)
		var refused []error
		r.vecs, refused, r.err = pl.embedBatch(pl.ectx, texts, long)
		if r.err != nil {
			return
		}
		// The model took the others: a chunk it refused is cut to fit, or
		// fails its file, and the run goes on.
		r.cut, r.failures = map[int][]store.Chunk{}, map[int]error{}
		for i, why := range refused {
			if why == nil {
				continue
			}
			pieces, failure, err := pl.fit(pl.ectx, chunks[i], lines[i], why)
			switch {
			case err != nil:
				r.err = err
				return
			case failure != nil:
				r.failures[i] = failure
			default:
				r.cut[i] = pieces
			}
		}
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
	for i, s := range r.batch {
		if err := pl.take(r, i); err != nil {
			return err
		}
		s.p.done++
		pl.embedded(s.p)
		if s.p.done == len(s.p.chunks) {
			if err := pl.finish(s.p); err != nil {
				return err
			}
		}
	}
	pl.received()
	committed, err := pl.commit(pl.since)
	if committed {
		pl.since = 0
	}
	return err
}

// take keeps what the embedder made of the i-th chunk of r: its vector,
// the pieces it was cut into, or why it could not be embedded.
func (pl *pipeline) take(r *request, i int) error {
	s := r.batch[i]
	if f := r.failures[i]; f != nil {
		if s.p.failure == nil {
			s.p.failure = f
		}
		return nil
	}
	if pieces, ok := r.cut[i]; ok {
		for j := range pieces {
			if err := pl.vector(&pieces[j].Vector); err != nil {
				return err
			}
		}
		if s.p.cut == nil {
			s.p.cut = map[int][]store.Chunk{}
		}
		s.p.cut[s.i] = pieces
		return nil
	}
	s.p.chunks[s.i].Vector = r.vecs[i]
	return pl.vector(&s.p.chunks[s.i].Vector)
}

// vector checks a vector's size against the index's (the first one sets
// it) and normalizes it.
func (pl *pipeline) vector(v *[]float32) error {
	m, opt := pl.m, pl.opt
	if m.Dims == 0 {
		m.Dims, m.EmbedModel = len(*v), opt.Model
		if m.Created.IsZero() {
			m.Created = opt.Now().UTC()
		}
	}
	if len(*v) != m.Dims {
		return &store.ModelMismatchError{IndexModel: m.EmbedModel, IndexDims: m.Dims, Model: opt.Model, Dims: len(*v)}
	}
	*v = normalize(*v)
	return nil
}

// finish stores a file whose chunks are all embedded, with the pieces of
// those cut to fit in their place; a file with a chunk the model refused
// is reported failed instead.
func (pl *pipeline) finish(p *pending) error {
	if i := slices.Index(pl.open, p); i >= 0 {
		pl.open = slices.Delete(pl.open, i, i+1)
	}
	if p.failure != nil {
		pl.gaveUp(p)
		p.chunks, p.lines, p.cut = nil, nil, nil
		return nil
	}
	chunks := p.embeddedChunks(len(p.chunks))
	p.entry.Chunks = len(chunks)
	// What was embedded is stored even if the run was just interrupted:
	// the next run would embed it again.
	if err := pl.st.PutObject(context.WithoutCancel(pl.ctx), p.entry.Key, chunks); err != nil {
		return fmt.Errorf("store %s: %w", p.entry.Path, err)
	}
	pl.stored(p)
	p.chunks, p.lines, p.cut = nil, nil, nil // stored: its text and vectors are garbage now
	pl.since++
	return nil
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

// EmbedText is what is embedded for a chunk: its heading path, then its
// text, so that a passage deep in a section is still found by what the
// section is about.
func EmbedText(c store.Chunk) string {
	if c.Heading == "" {
		return c.Text
	}
	return c.Heading + "\n\n" + c.Text
}
