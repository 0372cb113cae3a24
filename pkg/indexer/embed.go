package indexer

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/store"
)

// index reads the files to read (reader) and sends the chunks of each to
// the embedder (pipe), until every file is read and its answers stored.
// An error stops it where it is: the caller keeps what was embedded.
func (r *run) index(ctx context.Context, pipe *pipeline) error {
	outcomes, stop := r.reader().start(ctx, r.toRead)
	defer stop()
	r.report()
	for o := range outcomes {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.record(o)
		if o.p == nil {
			r.done += o.f.Size
			r.report()
			continue
		}
		r.who.decide(&o.p.entry, r.sum, &r.m)
		r.pendingPaths[o.f.Path] = true
		if err := pipe.add(o.p); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err // not every file was read
	}
	return pipe.flush()
}

// record counts what reading a file found, keeping it when it is final
// (unchanged, or content already stored).
func (r *run) record(o outcome) {
	path, sum := o.f.Path, r.sum
	switch {
	case o.failed != "":
		sum.Failed = append(sum.Failed, Failure{Path: path, Error: o.failed})
	case o.skipped != "":
		sum.Skipped = append(sum.Skipped, ingest.Skip{Path: path, Reason: o.skipped})
	case o.unchanged:
		r.who.decide(&o.entry, sum, &r.m)
		r.current[path] = o.entry
		sum.Unchanged++
	case o.reused:
		r.who.decide(&o.entry, sum, &r.m)
		r.current[path] = o.entry
		sum.Reused++
		sum.Chunks += o.entry.Chunks
		countNew(sum, o.had)
	}
}

// pipeline makes the run's pipeline, started: what it embeds and stores
// is counted in the run's summary and progress, and committed as it goes.
func (r *run) pipeline(ctx context.Context) *pipeline {
	pl := &pipeline{st: r.st, emb: r.emb, opt: r.opt, m: &r.m,
		embedded: r.embedded, stored: r.stored, gaveUp: r.gaveUp, received: r.report,
		commit: func(since int) (bool, error) { return r.commitSome(ctx, since) },
	}
	pl.start(ctx)
	return pl
}

// embedded counts a file's share of its bytes as each chunk is embedded.
func (r *run) embedded(p *pending) {
	n := int64(len(p.chunks))
	r.done += p.size*int64(p.done)/n - p.size*int64(p.done-1)/n
}

// stored keeps a file whose chunks are stored.
func (r *run) stored(p *pending) {
	sum := r.sum
	r.current[p.entry.Path] = p.entry
	sum.Chunks += p.entry.Chunks
	sum.Embedded += p.entry.Chunks - p.resumed
	sum.Cut += len(p.cut)
	if p.repair {
		sum.Repaired++
	} else {
		countNew(sum, !p.isNew)
	}
	if p.fieldsOnly {
		sum.FieldsOnly++
	}
}

// gaveUp reports a file with a chunk the model would not embed.
func (r *run) gaveUp(p *pending) {
	r.sum.Failed = append(r.sum.Failed, Failure{Path: p.entry.Path, Error: p.failure.Error(), Err: p.failure})
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
// interrupted run keeps everything the embedder gave it. It commits
// nothing: the run's context may be done, and the caller commits once
// they are kept.
func (pl *pipeline) keep() {
	for len(pl.sent) > 0 && !pl.failed {
		if pl.answer() != nil {
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

// receive stores the answer to the oldest request, and commits when it
// is time to.
func (pl *pipeline) receive() error {
	if err := pl.answer(); err != nil {
		return err
	}
	committed, err := pl.commit(pl.since)
	if committed {
		pl.since = 0
	}
	return err
}

// answer stores the answer to the oldest request. One that cannot be
// stored fails the pipeline (a commit that fails does not: what is
// stored is no less so).
func (pl *pipeline) answer() (err error) {
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
	return nil
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
