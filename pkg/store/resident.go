package store

import "sync"

// Resident keeps the checked int8 blocks of cache segments in memory, for
// a process that searches again and again (rag serve, rag mcp, rag chat):
// a warm dense search then reads and checks no file, where a cold one reads
// every block of the index. One Resident is shared by every store opened
// with it (Options.Resident), so the readers of many callers hold one copy.
//
// A segment file is never rewritten (a merge writes a new one), so a block
// checked once stays right for as long as the file is there; the key holds
// the file's status-change time, so damage written in place (which changes
// it) is read and found again.
type Resident struct {
	mu     sync.Mutex
	max    int64
	size   int64
	blocks map[residentKey][]byte
	// floats are blocks of float32 rows, each row checked once: the exact
	// ranking reads those of the int8 scan's candidates. A whole block is
	// read at the first row asked for, so that the cache is full after a
	// few searches and memory stays flat from then on.
	floats map[residentKey]*floatBlock
	// texts are the texts of the contents searches found, most recent
	// kept, in a quarter of the budget besides the vectors'.
	texts *textCache
}

// floatBlock is the float32 rows of a block, and which of them checked out.
type floatBlock struct {
	v  []float32
	ok []bool
}

// residentKey is a block of a segment.
type residentKey struct {
	seg residentSeg
	n   int
}

// residentSeg names one segment file of one index.
type residentSeg struct {
	dir, name string
	ctime     int64
}

// NewResident returns a cache that holds at most maxBytes: three quarters
// for vectors, which once full are read from their files as without it,
// and a quarter for the texts of the contents searches found lately.
func NewResident(maxBytes int64) *Resident {
	return &Resident{max: maxBytes - maxBytes/4, blocks: map[residentKey][]byte{}, floats: map[residentKey]*floatBlock{},
		texts: newTextCache(0, maxBytes/4)}
}

func (r *Resident) get(k residentKey) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blocks[k]
	return b, ok
}

// put keeps b, which its caller never changes again, if there is room.
func (r *Resident) put(k residentKey, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.blocks[k]; ok || r.size+int64(len(b)) > r.max {
		return
	}
	r.blocks[k] = b
	r.size += int64(len(b))
}

func (r *Resident) floatBlock(k residentKey) (*floatBlock, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.floats[k]
	return f, ok
}

// room reports whether n more bytes fit.
func (r *Resident) room(n int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size+n <= r.max
}

// putFloats keeps f, which its caller never changes again, if there is
// room.
func (r *Resident) putFloats(k residentKey, f *floatBlock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.floats[k]; ok || r.size+4*int64(len(f.v)) > r.max {
		return
	}
	r.floats[k] = f
	r.size += 4 * int64(len(f.v))
}

// retain drops the blocks of dir's segments that are not in segs: merged
// away, or replaced.
func (r *Resident) retain(dir string, segs []*segment) {
	keep := map[residentSeg]bool{}
	for _, g := range segs {
		keep[g.resident.seg] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, b := range r.blocks {
		if k.seg.dir == dir && !keep[k.seg] {
			delete(r.blocks, k)
			r.size -= int64(len(b))
		}
	}
	for k, f := range r.floats {
		if k.seg.dir == dir && !keep[k.seg] {
			delete(r.floats, k)
			r.size -= 4 * int64(len(f.v))
		}
	}
}

// Size is how many bytes of vectors and texts it holds.
func (r *Resident) Size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.texts.mu.Lock()
	defer r.texts.mu.Unlock()
	return r.size + r.texts.size
}

// segResident is a segment's place in a Resident (cache nil: none).
type segResident struct {
	cache *Resident
	seg   residentSeg
}
