package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/lexical"
)

// cacheView is what the searches of one catalog read: the cache segments
// that serve its contents, newest first, then segments built in memory from
// the objects of contents no segment on disk serves.
type cacheView struct {
	segs []*segment
	// where are the segments and table entries serving each key: its
	// parts, which together hold every chunk of it once.
	where map[string][]part
	// files lists, by key, the catalog files of that content.
	files    map[string][]int
	liveRows int
	// onDisk is how many of segs are files; the rest were built in memory.
	onDisk int
}

func (v *cacheView) close() error {
	var errs []error
	for _, g := range v.segs {
		errs = append(errs, g.close())
	}
	return errors.Join(errs...)
}

// covered reports whether every content was served from disk.
func (v *cacheView) covered() bool { return v.onDisk == len(v.segs) }

// openSegments maps every segment file that checks out, newest first,
// leaving out those named in skip and those of another vector size.
func (s *Local) openSegments(dims int, skip map[string]bool) ([]*segment, error) {
	names, err := segmentNames(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list cache segments: %w", err)
	}
	var segs []*segment
	for _, n := range names {
		if skip[n] {
			continue
		}
		f, err := os.Open(filepath.Join(s.dir, segmentsDir, n))
		if err != nil {
			continue // gone (merged away) or unreadable: the objects serve it
		}
		var g *segment
		info, err := f.Stat()
		if err == nil {
			g, err = openSegment(n, f, info.Size())
		}
		if errors.Is(err, errSegmentOutdated) {
			s.outdated.Store(true) // callers may hold s.mu
		}
		if err != nil || g.l.dims != dims {
			if err := f.Close(); err != nil {
				return nil, err
			}
			continue
		}
		g.closer, g.ctime = f, filestat.Of(info).CTime
		g.resident = segResident{s.opt.Resident, residentSeg{s.dir, n, g.ctime}}
		segs = append(segs, g)
	}
	if s.opt.Resident != nil {
		s.opt.Resident.retain(s.dir, segs)
	}
	return segs, nil
}

// part is a content's rows (or some of them) in a segment: the segment's
// index and the table entry's.
type part struct{ seg, obj int }

// cover decides which segments serve each content: the newest that hold
// its parts (of the chunk count the catalog says), each chunk once. A
// content whose parts do not hold all its chunks is served by none. It
// sets each segment's live rows and returns where each key is served;
// keys served nowhere are left out of it.
func cover(segs []*segment, need map[string]int) (map[string][]part, int) {
	where := make(map[string][]part, len(need))
	got := make(map[string]int, len(need))
	for si, g := range segs {
		g.live = make([]bool, g.l.n)
		for oi, o := range g.objs {
			n, ok := need[o.key]
			if !ok || n != o.total || got[o.key] == n && where[o.key] != nil {
				continue
			}
			if overlaps(segs, where[o.key], o) {
				continue // that part of it is served by a newer segment
			}
			where[o.key] = append(where[o.key], part{si, oi})
			got[o.key] += o.chunks
		}
	}
	rows := 0
	for key, ps := range where {
		if got[key] != need[key] {
			delete(where, key) // a part is missing: the object serves it
			continue
		}
		for _, p := range ps {
			g := segs[p.seg]
			o := g.objs[p.obj]
			for r := o.first; r < o.first+o.chunks; r++ {
				g.live[r] = true
			}
			rows += o.chunks
		}
	}
	return where, rows
}

// overlaps reports whether o holds a chunk of the parts ps.
func overlaps(segs []*segment, ps []part, o segObject) bool {
	for _, p := range ps {
		q := segs[p.seg].objs[p.obj]
		if o.from < q.from+q.chunks && q.from < o.from+o.chunks {
			return true
		}
	}
	return false
}

// needed returns the chunk count of every content of m that is not known
// damaged.
func (s *Local) needed(m *Manifest) map[string]int {
	need := make(map[string]int, len(m.Files))
	for _, f := range m.Files {
		if !s.isDamaged(f.Key) {
			need[f.Key] = f.Chunks
		}
	}
	return need
}

// view returns the catalog's cache view, building it on first use: segments
// on disk are mapped, and the contents none of them serves are read from
// their objects into segments in memory (all of them, for an index whose
// caches are gone: what loading the index used to be).
func (s *Local) view(ctx context.Context) (*cacheView, error) {
	if s.cache != nil {
		return s.cache, nil
	}
	m := &s.manifest
	segs, err := s.openSegments(m.Dims, s.setAside)
	if err != nil {
		return nil, err
	}
	v := &cacheView{segs: segs, onDisk: len(segs), files: map[string][]int{}}
	for i, f := range m.Files {
		v.files[f.Key] = append(v.files[f.Key], i)
	}
	need := s.needed(m)
	v.where, _ = cover(segs, need)
	var missing []string
	for _, f := range m.Files {
		if _, ok := v.where[f.Key]; !ok && need[f.Key] > 0 {
			missing = append(missing, f.Key)
			need[f.Key] = -1 // listed once
		}
	}
	if len(missing) > 0 {
		mem, err := s.buildSegments(ctx, missing, m.Dims, 0, nil)
		if err != nil {
			return nil, errors.Join(err, v.close())
		}
		v.segs = append(v.segs, mem...)
	}
	v.where, v.liveRows = cover(v.segs, s.needed(m))
	s.cache = v
	return v, nil
}

// dropView forgets the view (the catalog changed, or a segment was set
// aside), unmapping its segments.
func (s *Local) dropView() error {
	v := s.cache
	s.cache = nil
	if v != nil {
		return v.close()
	}
	return nil
}

// buildSegments reads the objects of keys, one worker a CPU, into segments
// of at most segmentRows rows each. With write, each full segment is
// written to disk and nothing returned (a writer filling the caches); else
// they are returned, in memory. A damaged object is noted and left out.
func (s *Local) buildSegments(ctx context.Context, keys []string, dims int, rows int, write func(*segmentBuilder) error) ([]*segment, error) {
	if rows <= 0 {
		rows = segmentRows
	}
	var mu sync.Mutex
	var out []*segment
	s.chunksOf("") // computed before the workers read it
	builders := make([]*segmentBuilder, runtime.GOMAXPROCS(0))
	finish := func(b *segmentBuilder) error {
		if write != nil {
			return write(b)
		}
		g, err := openSegmentData("", b.encode())
		if err != nil {
			return err
		}
		mu.Lock()
		out = append(out, g)
		mu.Unlock()
		return nil
	}
	err := eachKey(ctx, keys, func(w int, key string) error {
		chunks, err := s.readObject(key)
		var c *CorruptError
		switch {
		case errors.As(err, &c):
			s.noteDamage(key, c) // left out; the rest still answers
			return nil
		case err != nil:
			return err
		}
		if want := s.chunksOf(key); want >= 0 && len(chunks) != want {
			s.noteDamage(key, &CorruptError{Path: s.objectPath(key), Err: fmt.Errorf("%d chunks, catalog says %d", len(chunks), want)})
			return nil
		}
		return fill(&builders[w], dims, key, chunks, rows, finish)
	})
	if err != nil {
		return nil, err
	}
	for _, b := range builders {
		if b != nil && b.rows > 0 {
			if err := finish(b); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// chunksOf returns the chunk count the catalog gives the content key, or
// -1 when it names no such content.
func (s *Local) chunksOf(key string) int {
	if s.keyChunks == nil {
		s.keyChunks = map[string]int{}
		for _, f := range s.manifest.Files {
			s.keyChunks[f.Key] = f.Chunks
		}
	}
	if n, ok := s.keyChunks[key]; ok {
		return n
	}
	return -1
}

// rowHits makes row of segment seg into hits: one for every catalog file
// of its content (files with the same content share it), read from the
// object (kept in read for the query's other hits).
func (s *Local) rowHits(ctx context.Context, v *cacheView, sc *scope, seg, row int, score float32, read map[string]objectText) ([]Hit, error) {
	g := v.segs[seg]
	o := g.objs[g.object(row)]
	var hits []Hit
	for _, fi := range v.files[o.key] {
		if !sc.fileVisible(fi) {
			continue // the same content in a file this view does not see
		}
		h, ok, err := s.lazyHit(ctx, s.bases()[fi]+o.chunk(row), score, read)
		if err != nil {
			return nil, err
		}
		if ok {
			hits = append(hits, h)
		}
	}
	return hits, nil
}

// rowID is the chunk id of row of segment seg in the first catalog file of
// its content the view sees: what orders equal scores, as in one index of
// the visible catalog.
func (s *Local) rowID(v *cacheView, sc *scope, seg, row int) int {
	g := v.segs[seg]
	o := g.objs[g.object(row)]
	for _, fi := range v.files[o.key] {
		if sc.fileVisible(fi) {
			return s.bases()[fi] + o.chunk(row)
		}
	}
	return math.MaxInt
}

// withView runs search on the catalog's view. A segment that fails a check
// where search read it is set aside for this store's life, and search runs
// again with the objects serving what it held.
func (s *Local) withView(ctx context.Context, search func(v *cacheView) ([]Hit, error)) ([]Hit, error) {
	for {
		v, err := s.view(ctx)
		if err != nil {
			return nil, err
		}
		hits, err := search(v)
		seg := -1
		var se *segmentError
		var pe *lexical.PartError
		switch {
		case errors.As(err, &se):
			seg = se.seg
		case errors.As(err, &pe):
			seg = pe.Part
		}
		if seg < 0 || seg >= v.onDisk {
			return hits, err
		}
		if s.setAside == nil {
			s.setAside = map[string]bool{}
		}
		s.setAside[v.segs[seg].name] = true
		if err := s.dropView(); err != nil {
			return nil, err
		}
	}
}

// Count returns how many chunks the index holds that searches can return.
func (s *Local) Count(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.view(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range s.manifest.Files {
		if s.isDamaged(f.Key) {
			continue
		}
		for _, at := range v.where[f.Key] {
			g := v.segs[at.seg]
			o := g.objs[at.obj]
			for r := o.first; r < o.first+o.chunks; r++ {
				if g.scale(r) != 0 {
					n++
				}
			}
		}
	}
	return n, nil
}

// CacheStats describes the cache segments on disk as the catalog uses them.
type CacheStats struct {
	// Segments is the number of segment files that check out; Unused of
	// them serve no content of the catalog (garbage collection removes them).
	Segments int `json:"segments"`
	Unused   int `json:"unused"`
	// Rows is the chunks they hold, LiveRows those the catalog uses: the
	// rest are of changed or deleted files, until merged away.
	Rows     int `json:"rows"`
	LiveRows int `json:"live_rows"`
	// Covered is true when they serve every content of the catalog, so that
	// searches read no object but their hits'.
	Covered bool `json:"covered"`
}

// CacheStats returns what the cache segments on disk hold for the catalog.
func (s *Local) CacheStats() (CacheStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &s.manifest
	var st CacheStats
	if m.Dims == 0 {
		return st, nil
	}
	segs, err := s.openSegments(m.Dims, nil)
	if err != nil {
		return st, err
	}
	need := s.needed(m)
	where, live := cover(segs, need)
	st.Segments, st.LiveRows, st.Covered = len(segs), live, len(where) == len(need)
	var errs []error
	for _, g := range segs {
		st.Rows += g.l.n
		if !slices.Contains(g.live, true) {
			st.Unused++
		}
		errs = append(errs, g.close())
	}
	return st, errors.Join(errs...)
}

// segJob is a content for the writer's segment, or (flush set) a request
// to write what is gathered and say how that went.
type segJob struct {
	key    string
	chunks []Chunk
	flush  chan error
}

// addToSegment hands the chunks PutObject stored to the segment worker:
// analysing their text for the keyword index costs as much as the rest of
// storing them, and would otherwise hold up the run's one goroutine that
// stores answers while the embedder waits.
func (s *Local) addToSegment(key string, chunks []Chunk) error {
	s.segMu.Lock()
	if err := s.segErr; err != nil {
		s.segMu.Unlock()
		return err
	}
	if s.segJobs == nil {
		s.segJobs = make(chan segJob, 16)
		s.segDone = make(chan struct{})
		go s.segWorker(s.segJobs)
	}
	jobs := s.segJobs
	s.segMu.Unlock() // the worker takes segMu too
	jobs <- segJob{key: key, chunks: chunks}
	return nil
}

// segWorker gathers the contents it is sent into a segment, writing it
// every segmentRows chunks and when asked to flush. The first error is
// kept: PutObject and SaveCaches return it.
func (s *Local) segWorker(jobs chan segJob) {
	defer close(s.segDone)
	var b *segmentBuilder
	var failed error
	for j := range jobs {
		if j.flush != nil {
			if failed == nil {
				failed = s.writeSegment(b)
			}
			b = nil
			j.flush <- failed
			continue
		}
		if failed != nil {
			continue
		}
		dims := 0
		for _, c := range j.chunks {
			if len(c.Vector) > 0 {
				dims = len(c.Vector)
				break
			}
		}
		if dims == 0 {
			continue // nothing to search in it
		}
		if b != nil && b.dims != dims {
			b = nil // a model change within one run is refused elsewhere; never mix
		}
		failed = fill(&b, dims, j.key, j.chunks, segmentRows, s.writeSegment)
		if failed != nil {
			s.segMu.Lock()
			s.segErr = failed
			s.segMu.Unlock()
		}
	}
}

// fill adds the chunks of the content key to *b (a new builder if nil),
// handing it to full and starting another each time it holds rows rows:
// a content of more than rows chunks goes in parts of rows (from its first
// chunk, so that every writer splits it alike), and no builder holds much
// more than rows rows whatever one file's size.
func fill(b **segmentBuilder, dims int, key string, chunks []Chunk, rows int, full func(*segmentBuilder) error) error {
	for from := 0; ; {
		to := len(chunks)
		if to-from > rows {
			to = from + rows
		}
		if *b == nil {
			*b = newSegmentBuilder(dims)
		}
		(*b).addPart(key, from, len(chunks), chunks[from:to])
		from = to
		if (*b).rows >= rows {
			g := *b
			*b = nil
			if err := full(g); err != nil {
				return err
			}
		}
		if from == len(chunks) {
			return nil
		}
	}
}

// flushSegment writes what the segment worker has gathered, and returns
// its first error.
func (s *Local) flushSegment() error {
	s.segMu.Lock()
	jobs := s.segJobs
	s.segMu.Unlock()
	if jobs == nil {
		return nil
	}
	done := make(chan error, 1)
	jobs <- segJob{flush: done}
	return <-done
}

// stopSegments flushes and stops the segment worker.
func (s *Local) stopSegments() error {
	err := s.flushSegment()
	s.segMu.Lock()
	jobs := s.segJobs
	s.segJobs = nil
	s.segMu.Unlock()
	if jobs != nil {
		close(jobs)
		<-s.segDone
	}
	return err
}

// writeSegment writes a gathered segment to its file: not synced, since a
// torn segment fails its checks and the objects serve its contents.
func (s *Local) writeSegment(b *segmentBuilder) error {
	if b == nil || b.rows == 0 {
		return nil
	}
	return s.writeSegmentData(b.encode())
}

func (s *Local) writeSegmentData(data []byte) error {
	dir := filepath.Join(s.dir, segmentsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write cache segment: %w", err)
	}
	name := newSegmentName()
	if err := s.writeFileAtomic(filepath.Join(dir, name), data, "segment", false); err != nil {
		return fmt.Errorf("write cache segment: %w", err)
	}
	s.segMu.Lock()
	if s.wrote == nil {
		s.wrote = map[string]bool{}
	}
	s.wrote[name] = true
	s.segMu.Unlock()
	s.mu.Lock()
	s.dirty, s.cachesSaved = true, false
	s.mu.Unlock()
	return nil
}

// SaveCaches makes the cache segments serve the whole catalog, at the end
// of a run: it writes what the run gathered, then segments for any content
// still served by no segment (caches deleted, damaged, or written by an
// older rag), then merges small and mostly dead segments (see merge). It
// reads only the objects of contents no segment serves.
func (s *Local) SaveCaches(ctx context.Context) (err error) {
	defer s.wrapWritable(&err)
	if s.lock == nil {
		return errors.New("save search caches: the index is not open for writing")
	}
	if err := s.flushSegment(); err != nil {
		return err
	}
	m := s.Manifest()
	if len(m.Files) == 0 || m.Dims == 0 || s.Staging() {
		return nil
	}
	if s.cachesCurrent() {
		return nil
	}
	segs, err := s.openSegments(m.Dims, nil)
	if err != nil {
		return err
	}
	defer func() {
		for _, g := range segs {
			err = errors.Join(err, g.close())
		}
	}()
	if segs, err = s.checkSegments(ctx, segs); err != nil {
		return err
	}
	need := s.needed(&m)
	where, _ := cover(segs, need)
	var missing []string
	for _, f := range m.Files {
		if _, ok := where[f.Key]; !ok && need[f.Key] > 0 {
			missing = append(missing, f.Key)
			need[f.Key] = -1
		}
	}
	if len(missing) > 0 {
		if _, err := s.buildSegments(ctx, missing, m.Dims, 0, s.writeSegment); err != nil {
			return fmt.Errorf("save search caches: %w", err)
		}
		s.mu.Lock()
		if s.outdated.Load() {
			// Segments of an older analysis were set aside: what they
			// served is analysed again from the objects' text, not embedded.
			for _, k := range missing {
				s.reanalysed += chunksOf(&m, k)
			}
		}
		s.mu.Unlock()
	}
	if err := s.merge(ctx, segs); err != nil {
		return fmt.Errorf("merge cache segments: %w", err)
	}
	s.mu.Lock()
	s.cachesSaved = true
	s.mu.Unlock()
	return err
}

// chunksOf is the chunk count of content key in m.
func chunksOf(m *Manifest, key string) int {
	for _, f := range m.Files {
		if f.Key == key {
			return f.Chunks
		}
	}
	return 0
}

// Reanalysed is how many chunks SaveCaches analysed again for the keyword
// index from their stored text because the segments holding them were
// written by another version of the analysis (none were embedded again).
func (s *Local) Reanalysed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reanalysed
}

// cachesCurrent reports whether the caches are still as a finished
// SaveCaches left them, so that a run that wrote nothing need not open
// them: nothing in the index folder changed since the last collection,
// which found them complete, and no segment file changed since it was last
// trusted (damage in place changes a file, not its folder).
func (s *Local) cachesCurrent() bool {
	s.mu.Lock()
	ok := s.clean && s.cachesAtMark && !s.dirty
	s.mu.Unlock()
	if !ok {
		return false
	}
	trusted := s.segmentsTrusted()
	names, err := segmentNames(s.dir)
	if err != nil {
		return false
	}
	for _, n := range names {
		info, err := os.Stat(filepath.Join(s.dir, segmentsDir, n))
		if err != nil {
			return false
		}
		if c := filestat.Of(info).CTime; c == 0 || c >= trusted {
			return false
		}
	}
	s.mu.Lock()
	s.cachesSaved = true
	s.mu.Unlock()
	return true
}

// segmentsTrusted is the time until which segment files are known good:
// the catalog this writer opened, or the last checkSegments that passed.
func (s *Local) segmentsTrusted() int64 {
	trusted := s.trustAtOpen
	if info, err := os.Stat(filepath.Join(s.dir, segmentsDir, segmentsChecked)); err == nil {
		trusted = max(trusted, info.ModTime().UnixNano())
	}
	return trusted
}

// segmentsChecked is a file whose modification time says until when changed
// segments have passed checkSegments.
const segmentsChecked = "checked"

// checkSegments reads whole, and checks, the segments whose status changed
// since the catalog this writer opened was written, or since they last
// passed, other than those it wrote itself (segments are written once and
// never changed, so only damage, or the run that wrote them, changes one):
// a damaged one is deleted, so that the contents it held
// are served from their objects and written to a new segment. It returns
// the segments left.
func (s *Local) checkSegments(ctx context.Context, segs []*segment) ([]*segment, error) {
	trusted := s.segmentsTrusted()
	p := filepath.Join(s.dir, segmentsDir, segmentsChecked)
	kept := segs[:0]
	var latest int64
	for _, g := range segs {
		if s.wrote[g.name] || g.ctime != 0 && g.ctime < trusted {
			kept = append(kept, g)
			continue
		}
		err := g.verify(ctx)
		switch {
		case errors.Is(err, errSegmentDamaged):
			if err := errors.Join(g.close(), os.Remove(filepath.Join(s.dir, segmentsDir, g.name))); err != nil {
				return nil, fmt.Errorf("remove damaged cache segment: %w", err)
			}
			continue
		case err != nil:
			return nil, err
		}
		latest = max(latest, g.ctime)
		kept = append(kept, g)
	}
	if latest > 0 {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return nil, fmt.Errorf("record checked segments: %w", err)
		}
		t := time.Unix(0, latest+1)
		if err := os.Chtimes(p, t, t); err != nil {
			return nil, fmt.Errorf("record checked segments: %w", err)
		}
	}
	return kept, nil
}

// merge rewrites, into one segment, the live rows of segments that are
// small (a quarter of segmentRows or less, once there are four of them) or
// mostly dead (under half their rows live), up to segmentRows rows: so an
// edit's small segments and the dead rows it leaves cost later searches
// little, and no merge costs more than one segment's rows. Rows are copied
// as they are (checked), keyword postings renumbered: nothing is embedded
// or analysed again. The merged segments are deleted by the next garbage
// collection, when no reader maps them.
func (s *Local) merge(ctx context.Context, segs []*segment) error {
	type pick struct {
		g    *segment
		live int
	}
	var small, sparse []pick
	for _, g := range segs {
		live := 0
		for _, l := range g.live {
			if l {
				live++
			}
		}
		switch {
		case live == 0:
		case 2*live < g.l.n:
			sparse = append(sparse, pick{g, live})
		case g.l.n <= segmentRows/4:
			small = append(small, pick{g, live})
		}
	}
	if len(small) < 4 {
		small = nil
	}
	picks := append(sparse, small...)
	// The fewest live rows first, so that a bounded merge removes the most segments.
	sort.SliceStable(picks, func(i, j int) bool { return picks[i].live < picks[j].live })
	var use []*segment
	rows := 0
	for _, p := range picks {
		if len(use) > 0 && rows+p.live > segmentRows {
			break
		}
		use = append(use, p.g)
		rows += p.live
	}
	if len(use) == 0 || len(use) == 1 && 2*rows >= use[0].l.n {
		return nil // nothing worth a rewrite
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// New row numbers: each segment's live contents in order.
	var objs []segObject
	newRow := make([][]int32, len(use))
	n := 0
	for i, g := range use {
		newRow[i] = make([]int32, g.l.n)
		for r := range newRow[i] {
			newRow[i][r] = -1
		}
		for _, o := range g.objs {
			if o.chunks == 0 || !g.live[o.first] {
				continue
			}
			objs = append(objs, segObject{key: o.key, first: n, chunks: o.chunks, from: o.from, total: o.total})
			for r := o.first; r < o.first+o.chunks; r++ {
				newRow[i][r] = int32(n)
				n++
			}
		}
	}
	readers := make([]*lexical.Reader, len(use))
	for i, g := range use {
		readers[i] = g.lex
	}
	x, err := lexical.Renumber(readers, func(part int, doc uint32) (uint32, bool) {
		r := newRow[part][doc]
		return uint32(r), r >= 0
	})
	if err != nil {
		return nil // a damaged segment: the objects will serve it, left as is
	}
	w := newSegmentWriter(use[0].l.dims, objs, n, x.Append(nil))
	for i, g := range use {
		for r, nr := range newRow[i] {
			if nr < 0 {
				continue
			}
			if ok, err := w.copyRow(int(nr), g, r); err != nil || !ok {
				return err // damaged: not merged, the objects serve it
			}
		}
	}
	s.hook("merge")
	return s.writeSegmentData(w.finish())
}

// collectSegments deletes the segments that serve no content of the
// catalogs live (the current one and a rebuild's), and the caches of older
// rag versions. The caller holds the readers lock exclusively.
func (s *Local) collectSegments(live []*Manifest) error {
	for _, old := range []string{"keywords.idx", "vectors.idx"} {
		if err := os.Remove(filepath.Join(s.dir, old)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	dir := filepath.Join(s.dir, segmentsDir)
	if err := removeTemps(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	names, err := segmentNames(s.dir)
	if err != nil || len(names) == 0 {
		return err
	}
	used := map[string]bool{}
	for _, m := range live {
		if m == nil {
			continue
		}
		segs, err := s.openSegments(m.Dims, nil)
		if err != nil {
			return err
		}
		need := map[string]int{}
		for _, f := range m.Files {
			need[f.Key] = f.Chunks
		}
		cover(segs, need)
		for _, g := range segs {
			for _, l := range g.live {
				if l {
					used[g.name] = true
					break
				}
			}
			if err := g.close(); err != nil {
				return err
			}
		}
	}
	for _, n := range names {
		if used[n] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
