package indexer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/rag-cli/rag/pkg/store"
)

// A run that stops (the server went away, Ctrl-C) in the middle of a file
// keeps the chunks of it that came back: they are stored as an object of
// their own, under partialKey, and the file's catalog entry names it with
// no stat (so the next run reads the file again) and a problem says it is
// partly indexed. The next run finds the entry by its key, takes the
// vectors of those chunks from the object and embeds only the rest.

// partialKey names the object of the first chunks of content stored under
// key: a partial object is never taken for the whole, and one of more
// chunks never for one of fewer.
func partialKey(key string, chunks int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00partial\x00%d", key, chunks))
	return hex.EncodeToString(h[:])
}

// keptPartial is a file kept in part: its entry, and how many of its
// chunks (as chunked, before any was cut to fit) were embedded.
type keptPartial struct {
	entry    store.FileEntry
	done, of int
	embedded int // of done, by this run (the others a run before kept)
}

// embeddedChunks are the first n chunks of p as stored: the pieces of a
// chunk cut to fit in its place, chunks not embedded left out.
func (p *pending) embeddedChunks(n int) []store.Chunk {
	out := make([]store.Chunk, 0, n+len(p.cut))
	for i, c := range p.chunks[:n] {
		if pieces, ok := p.cut[i]; ok {
			out = append(out, pieces...)
		} else if c.Vector != nil {
			out = append(out, c)
		}
	}
	return out
}

// keepPartial stores what came back of the files the run stopped in, once
// the requests are stopped and the answers kept; a file with a chunk the
// model refused is reported failed instead.
func (pl *pipeline) keepPartial() ([]keptPartial, error) {
	var kept []keptPartial
	for _, p := range pl.open {
		if p.failure != nil {
			pl.gaveUp(p)
			continue
		}
		if p.done == 0 || p.done == len(p.chunks) {
			continue
		}
		chunks := p.embeddedChunks(p.done)
		e := p.entry
		e.Key, e.Chunks, e.Seen = partialKey(p.entry.Key, len(chunks)), len(chunks), nil
		if err := pl.st.PutObject(context.WithoutCancel(pl.ctx), e.Key, chunks); err != nil {
			return kept, fmt.Errorf("store %s: %w", e.Path, err)
		}
		kept = append(kept, keptPartial{entry: e, done: p.done, of: len(p.chunks), embedded: p.done - p.resumed})
	}
	pl.open = nil
	return kept, nil
}

// chunkReader reads the stored chunks of a file (store.Local).
type chunkReader interface {
	FileChunks(ctx context.Context, f store.FileEntry) ([]store.Chunk, error)
}

// resume gives the chunks of p the vectors a stopped run kept for them in
// prev, its partial entry. An object that cannot be read is no loss: the
// chunks are embedded again.
func resume(ctx context.Context, st store.Store, prev store.FileEntry, p *pending) {
	cr, ok := st.(chunkReader)
	if !ok {
		return
	}
	kept, err := cr.FileChunks(ctx, prev)
	if err != nil {
		return // embedded again, as if never kept
	}
	type at struct {
		start, end, page int
		heading, text    string
	}
	vecs := make(map[at][]float32, len(kept))
	for _, c := range kept {
		vecs[at{c.StartLine, c.EndLine, c.Page, c.Heading, c.Text}] = c.Vector
	}
	for i, c := range p.chunks {
		if v, ok := vecs[at{c.StartLine, c.EndLine, c.Page, c.Heading, c.Text}]; ok && len(v) > 0 {
			p.chunks[i].Vector = v
			p.resumed++
		}
	}
}

// vectorReuser gives chunks the vectors a stored file holds for the same
// text (store.Local).
type vectorReuser interface {
	ReuseVectors(ctx context.Context, prev store.FileEntry, chunks []store.Chunk) (int, error)
}

// reuse gives the chunks of p, a file read again because its content
// changed, the vectors its last entry prev holds for the same heading and
// text: what an edit leaves as it was is not embedded again. An object
// that cannot be read is no loss: the chunks are embedded.
func reuse(ctx context.Context, st store.Store, prev store.FileEntry, p *pending) {
	vr, ok := st.(vectorReuser)
	if !ok {
		return
	}
	n, err := vr.ReuseVectors(ctx, prev, p.chunks)
	if err != nil {
		for i := range p.chunks {
			p.chunks[i].Vector = nil // embedded again, as if none were found
		}
		return
	}
	p.resumed += n
}

// withProblems is problems with those of add in place of any for the same
// files.
func withProblems(problems, add []store.Problem) []store.Problem {
	if len(add) == 0 {
		return problems
	}
	out := make([]store.Problem, 0, len(problems)+len(add))
	for _, p := range problems {
		replaced := false
		for _, a := range add {
			replaced = replaced || a.Root == p.Root && a.Path == p.Path
		}
		if !replaced {
			out = append(out, p)
		}
	}
	return append(out, add...)
}
