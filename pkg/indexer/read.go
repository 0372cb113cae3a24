package indexer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/extract"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/store"
)

// pending is a file read whose chunks are to be embedded.
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
	// fieldsOnly is set when the file's text is as before: only its
	// fields (front matter) changed, and it took no embedding.
	fieldsOnly bool
	isNew      bool
	repair     bool  // unchanged, but its stored chunks are damaged
	done       int   // chunks embedded so far
	size       int64 // of the file, as walked: its share of progress
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

// reader reads the files of a run and says what each is now. It runs in
// a goroutine of its own, a few files ahead of the embedder, and changes
// nothing the run shares (it has a keyer of its own).
type reader struct {
	st      store.Store
	opt     Options
	keys    *keyer
	old     map[string]store.FileEntry // the run's scope.old
	damaged map[string]bool
	// stored finds an object the catalog names by its key: content stored
	// under any name is reused, never embedded again.
	stored map[string]store.FileEntry
}

// reader makes the reader of the files to read.
func (r *run) reader() *reader {
	rd := &reader{st: r.st, opt: r.opt, keys: newKeyer(r.m.Generation, r.opt), old: r.old, damaged: r.damaged}
	if len(r.toRead) > 0 { // a no-op run needs no index of the objects
		rd.stored = make(map[string]store.FileEntry, len(r.m.Files))
		for _, f := range r.m.Files {
			if !r.damaged[f.Key] {
				rd.stored[f.Key] = f
			}
		}
	}
	return rd
}

// start reads files in a goroutine, readAhead ahead of the one taking the
// outcomes; stop stops it and waits for it.
func (rd *reader) start(ctx context.Context, files []ingest.File) (outcomes <-chan outcome, stop func()) {
	out := make(chan outcome, readAhead)
	rctx, stopReading := context.WithCancel(ctx)
	var reading sync.WaitGroup
	reading.Go(func() {
		defer close(out)
		for _, f := range files {
			if rctx.Err() != nil {
				return
			}
			select {
			case out <- rd.read(ctx, f):
			case <-rctx.Done():
				return
			}
		}
	})
	return out, func() {
		stopReading()
		reading.Wait()
	}
}

// read reads a file: unchanged, content already stored, or chunks to
// embed (with the vectors a stopped run kept for them).
func (rd *reader) read(ctx context.Context, f ingest.File) outcome {
	opt := rd.opt
	o := outcome{f: f}
	prev, had := rd.old[f.Path]
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
		Root: opt.Root, Path: f.Path, Hash: hash, Key: rd.keys.key(hash, f.Path),
		Size: int64(len(data)), IndexedAt: opt.Now().UTC(),
		Seen: &store.Seen{Size: f.Stat.Size, MTime: f.Stat.MTime, CTime: f.Stat.CTime, Inode: f.Stat.Inode, ReadAt: readAt.UnixNano()},
	}
	repair := had && prev.Key == entry.Key && rd.damaged[prev.Key]
	if had && prev.Key == entry.Key && !repair {
		// Unchanged; what it was seen as now lets the next run skip it.
		prev.Seen = entry.Seen
		o.entry, o.unchanged = prev, true
		return o
	}
	if same, ok := rd.stored[entry.Key]; ok {
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
	o.p = newPending(entry, doc, pieces)
	o.p.isNew, o.p.repair, o.p.size = !had, repair, f.Size
	switch {
	case had && prev.Key == partialKey(entry.Key, prev.Chunks):
		resume(ctx, rd.st, prev, o.p) // a stopped run kept some of it
	case had && prev.Key != entry.Key && !rd.damaged[prev.Key]:
		reuse(ctx, rd.st, prev, o.p) // edited: its unchanged chunks keep their vectors
		// Every chunk kept its vector and front matter was or is there: only
		// the fields changed, which a run counts apart.
		o.p.fieldsOnly = (doc.FrontMatter > 0 || len(prev.Meta) > 0) && len(o.p.chunks) > 0 && o.p.resumed == len(o.p.chunks)
	}
	return o
}

// newPending is the file of entry, read as doc and chunked into pieces,
// to embed.
func newPending(entry store.FileEntry, doc *extract.Doc, pieces []chunk.Chunk) *pending {
	p := &pending{entry: entry}
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
	return p
}
