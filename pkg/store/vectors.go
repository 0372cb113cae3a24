package store

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"github.com/philippgille/chromem-go"
)

// vectorsName is the saved vector index: like keywords.idx, derived data
// named by its catalog's fingerprint, a cache that is never trusted when
// stale or damaged. It holds every chunk's vector contiguously in chunk id
// order, as float32 and quantized to int8, so that a search maps it instead
// of reading every object: it scans the int8 rows (a quarter of the bytes)
// for candidates and has chromem-go rank those exactly on their float32
// rows, mapped in place.
const vectorsName = "vectors.idx"

// vectorsMagic starts the file. The layout, little-endian, each part at an
// offset the header implies:
//
//	header (64 bytes): magic [8] fingerprint [32] dims u32 n u32 crc u32 (of the 48 bytes before it), zeros
//	floats:  n × dims float32     (the vectors, unit length; zeros for a chunk with none)
//	rowCRC:  n × u32              (CRC-32 of each float row)
//	scales:  n × float32          (int8 row × scale ≈ float row; 0 for a chunk with none)
//	int8s:   n × dims int8
//	blockCRC: ⌈n / vectorBlock⌉ × u32 (CRC-32 of a block's int8 rows, then its scales)
var vectorsMagic = []byte("RAGV0001")

const (
	vectorsHeader = 64
	// vectorBlock is how many int8 rows one CRC covers: checked as they
	// are scanned, at little cost.
	vectorBlock = 4096
)

// nativeLittleEndian: the file is mapped and read in place, which needs a
// little-endian machine; elsewhere searches load the objects instead.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// vectorLayout is where each part of the file starts.
type vectorLayout struct {
	dims, n                                 int
	floats, rowCRC, scales, int8s, blockCRC int64
	size                                    int64
}

func layoutOf(dims, n int) vectorLayout {
	l := vectorLayout{dims: dims, n: n, floats: vectorsHeader}
	l.rowCRC = l.floats + int64(n)*int64(dims)*4
	l.scales = l.rowCRC + int64(n)*4
	l.int8s = l.scales + int64(n)*4
	l.blockCRC = l.int8s + int64(n)*int64(dims)
	l.size = l.blockCRC + int64((n+vectorBlock-1)/vectorBlock)*4
	return l
}

// savedVectors is a mapped vectors.idx.
type savedVectors struct {
	l       vectorLayout
	data    []byte
	release func() error
}

func (v *savedVectors) float(i int) []float32 {
	off := v.l.floats + int64(i)*int64(v.l.dims)*4
	return unsafe.Slice((*float32)(unsafe.Pointer(&v.data[off])), v.l.dims)
}

func (v *savedVectors) rowOK(i int) bool {
	row := v.data[v.l.floats+int64(i)*int64(v.l.dims)*4:][:v.l.dims*4]
	return crc32.ChecksumIEEE(row) == binary.LittleEndian.Uint32(v.data[v.l.rowCRC+int64(i)*4:])
}

func (v *savedVectors) scale(i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(v.data[v.l.scales+int64(i)*4:]))
}

func (v *savedVectors) int8Row(i int) []int8 {
	off := v.l.int8s + int64(i)*int64(v.l.dims)
	return unsafe.Slice((*int8)(unsafe.Pointer(&v.data[off])), v.l.dims)
}

// blockOK checks the CRC of block b's int8 rows and scales.
func (v *savedVectors) blockOK(b int) bool {
	lo, hi := b*vectorBlock, min((b+1)*vectorBlock, v.l.n)
	h := crc32.NewIEEE()
	_, _ = h.Write(v.data[v.l.int8s+int64(lo)*int64(v.l.dims) : v.l.int8s+int64(hi)*int64(v.l.dims)]) // a hash never fails
	_, _ = h.Write(v.data[v.l.scales+int64(lo)*4 : v.l.scales+int64(hi)*4])
	return h.Sum32() == binary.LittleEndian.Uint32(v.data[v.l.blockCRC+int64(b)*4:])
}

// readVectors maps the saved vector index of m, or returns nil when there
// is none, it is of another catalog or its header does not check out.
func (s *Local) readVectors(m Manifest) (*savedVectors, error) {
	if !nativeLittleEndian || m.Dims == 0 {
		return nil, nil
	}
	data, release, err := mapFile(filepath.Join(s.dir, vectorsName))
	if err != nil {
		return nil, nil // none saved, or unreadable: load the objects
	}
	if len(data) >= vectorsHeader && isVectorsHeaderOf(data, m) {
		dims, n := int(binary.LittleEndian.Uint32(data[40:])), int(binary.LittleEndian.Uint32(data[44:]))
		if l := layoutOf(dims, n); dims == m.Dims && n == m.Chunks() && l.size == int64(len(data)) {
			return &savedVectors{l: l, data: data, release: release}, nil
		}
	}
	return nil, release()
}

func isVectorsHeaderOf(data []byte, m Manifest) bool {
	fp := fingerprint(m)
	return bytes.Equal(data[:8], vectorsMagic) && bytes.Equal(data[8:40], fp[:]) &&
		crc32.ChecksumIEEE(data[:48]) == binary.LittleEndian.Uint32(data[48:])
}

// vectorsFresh reports whether the saved vector index is m's, by its header.
func (s *Local) vectorsFresh(m Manifest) bool {
	f, err := os.Open(filepath.Join(s.dir, vectorsName))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }() // read-only
	head := make([]byte, vectorsHeader)
	if _, err := f.ReadAt(head, 0); err != nil {
		return false
	}
	return isVectorsHeaderOf(head, m)
}

// VectorsSaved reports whether the vector index saved beside the catalog is
// the current catalog's, so that dense searches map it instead of loading
// every object.
func (s *Local) VectorsSaved() bool {
	m := s.Manifest()
	return nativeLittleEndian && s.vectorsFresh(m)
}

// vectorWriter writes vectors.idx as objects are scanned: each chunk's
// rows go to their place by id, so no vector is held beyond its object.
type vectorWriter struct {
	f *os.File
	l vectorLayout
}

func (w *vectorWriter) add(id int, v []float32) error {
	dims := w.l.dims
	row := make([]byte, dims*4)
	for i, x := range v {
		binary.LittleEndian.PutUint32(row[4*i:], math.Float32bits(x))
	}
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], crc32.ChecksumIEEE(row))
	q, scale := quantize(v)
	var sc [4]byte
	binary.LittleEndian.PutUint32(sc[:], math.Float32bits(scale))
	for _, part := range []struct {
		off  int64
		data []byte
	}{
		{w.l.floats + int64(id)*int64(dims)*4, row},
		{w.l.rowCRC + int64(id)*4, crc[:]},
		{w.l.scales + int64(id)*4, sc[:]},
		{w.l.int8s + int64(id)*int64(dims), unsafe.Slice((*byte)(unsafe.Pointer(&q[0])), dims)},
	} {
		if _, err := w.f.WriteAt(part.data, part.off); err != nil {
			return err
		}
	}
	return nil
}

// finish writes the header and the block checksums once every row is in.
func (w *vectorWriter) finish(m Manifest) error {
	int8s := make([]byte, vectorBlock*w.l.dims)
	scales := make([]byte, vectorBlock*4)
	sums := make([]byte, 0, (w.l.n+vectorBlock-1)/vectorBlock*4)
	for lo := 0; lo < w.l.n; lo += vectorBlock {
		hi := min(lo+vectorBlock, w.l.n)
		a, b := int8s[:(hi-lo)*w.l.dims], scales[:(hi-lo)*4]
		if _, err := w.f.ReadAt(a, w.l.int8s+int64(lo)*int64(w.l.dims)); err != nil {
			return err
		}
		if _, err := w.f.ReadAt(b, w.l.scales+int64(lo)*4); err != nil {
			return err
		}
		h := crc32.NewIEEE()
		_, _ = h.Write(a) // a hash never fails
		_, _ = h.Write(b)
		sums = binary.LittleEndian.AppendUint32(sums, h.Sum32())
	}
	if _, err := w.f.WriteAt(sums, w.l.blockCRC); err != nil {
		return err
	}
	fp := fingerprint(m)
	head := append(append(make([]byte, 0, vectorsHeader), vectorsMagic...), fp[:]...)
	head = binary.LittleEndian.AppendUint32(head, uint32(w.l.dims))
	head = binary.LittleEndian.AppendUint32(head, uint32(w.l.n))
	head = binary.LittleEndian.AppendUint32(head, crc32.ChecksumIEEE(head))
	head = append(head, make([]byte, vectorsHeader-len(head))...)
	_, err := w.f.WriteAt(head, 0)
	return err
}

// quantize maps v to int8 with one scale: v ≈ q × scale. A zero vector has
// scale 0, which marks a chunk with no vector.
func quantize(v []float32) ([]int8, float32) {
	var maxAbs float32
	for _, x := range v {
		maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
	}
	q := make([]int8, len(v))
	if maxAbs == 0 || math.IsNaN(float64(maxAbs)) {
		return q, 0
	}
	scale := maxAbs / 127
	for i, x := range v {
		q[i] = int8(math.Round(float64(x / scale)))
	}
	return q, scale
}

// dotInt8 is the dot product of two int8 rows; four sums let the CPU
// overlap the multiplications.
func dotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

// candidate is a chunk id and its approximate score.
type candidate struct {
	id    int
	score float32
}

type candHeap []candidate // a min-heap: the worst kept candidate on top

func (h candHeap) Len() int           { return len(h) }
func (h candHeap) Less(i, j int) bool { return h[i].score < h[j].score }
func (h candHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)        { *h = append(*h, x.(candidate)) }
func (h *candHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// errVectorsDamaged means a block or row of the saved vectors failed its
// check: the search loads the objects instead.
var errVectorsDamaged = errors.New("saved vectors damaged")

// candidates scans the int8 rows for the c best approximate scores, one
// worker a CPU over contiguous blocks, skipping the ids skip names.
func (v *savedVectors) candidates(ctx context.Context, q []int8, c int, skip func(int) bool) ([]candidate, error) {
	blocks := (v.l.n + vectorBlock - 1) / vectorBlock
	workers := min(runtime.GOMAXPROCS(0), max(blocks, 1))
	heaps := make([]candHeap, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &heaps[w]
			for b := w; b < blocks; b += workers {
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				if !v.blockOK(b) {
					errs[w] = fmt.Errorf("%w: block %d", errVectorsDamaged, b)
					return
				}
				for i := b * vectorBlock; i < min((b+1)*vectorBlock, v.l.n); i++ {
					sc := v.scale(i)
					if sc == 0 || skip(i) {
						continue
					}
					s := float32(dotInt8(v.int8Row(i), q)) * sc
					if h.Len() < c {
						heap.Push(h, candidate{i, s})
					} else if s > (*h)[0].score {
						(*h)[0] = candidate{i, s}
						heap.Fix(h, 0)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var all []candidate
	for _, h := range heaps {
		all = append(all, h...)
	}
	return all, nil
}

// searchVectors ranks with the saved vectors: int8 candidates (many more
// than k), then chromem-go's exact cosine over their float32 rows, mapped
// in place. Hits come from the objects of the ids alone.
func (s *Local) searchVectors(ctx context.Context, v *savedVectors, vec []float32, k int) ([]Hit, error) {
	q, _ := quantize(vec)
	skip := s.skipDamaged()
	want := k
	read := map[string][]Chunk{}
	for {
		c := min(max(10*want, 100), v.l.n)
		cands, err := v.candidates(ctx, q, c, skip)
		if err != nil {
			return nil, err
		}
		if len(cands) == 0 {
			return nil, nil
		}
		coll, err := chromem.NewDB().CreateCollection("candidates", nil, func(context.Context, string) ([]float32, error) {
			return nil, errors.New("rag stores precomputed embeddings only")
		})
		if err != nil {
			return nil, err
		}
		for _, cd := range cands {
			if !v.rowOK(cd.id) {
				return nil, fmt.Errorf("%w: row %d", errVectorsDamaged, cd.id)
			}
			// The stored rows are unit vectors: chromem-go keeps the slice as
			// it is, without a copy.
			if err := coll.AddDocument(ctx, chromem.Document{ID: strconv.Itoa(cd.id), Embedding: v.float(cd.id)}); err != nil {
				return nil, fmt.Errorf("vector search: %w", err)
			}
		}
		res, err := coll.QueryEmbedding(ctx, vec, min(want, len(cands)), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("vector search: %w", err)
		}
		var hits []Hit
		for _, r := range res {
			id, err := strconv.Atoi(r.ID)
			if err != nil {
				return nil, fmt.Errorf("vector search returned unknown id %q", r.ID)
			}
			h, ok, err := s.lazyHit(ctx, id, r.Similarity, read)
			if err != nil {
				return nil, err
			}
			if ok {
				hits = append(hits, h)
			}
			if len(hits) == k {
				sortHits(hits)
				return hits, nil
			}
		}
		if len(res) < want || want >= v.l.n {
			sortHits(hits)
			return hits, nil
		}
		want *= 2 // some hits were damaged: ask for more
	}
}

// skipDamaged returns whether a chunk id belongs to an object known damaged.
func (s *Local) skipDamaged() func(int) bool {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if len(s.damaged) == 0 {
		return func(int) bool { return false }
	}
	bad := make([]bool, s.manifest.Chunks())
	for i, f := range s.manifest.Files {
		if _, ok := s.damaged[f.Key]; ok {
			for j := range f.Chunks {
				bad[s.bases()[i]+j] = true
			}
		}
	}
	return func(id int) bool { return bad[id] }
}

// vectors returns the saved vector index of the catalog, mapped on first
// use; nil when none is saved for it.
func (s *Local) vectors() (*savedVectors, error) {
	if s.vec != nil {
		return s.vec, nil
	}
	v, err := s.readVectors(s.manifest)
	if err != nil || v == nil {
		return nil, err
	}
	s.vec = v
	return v, nil
}

// dropVectors unmaps the saved vector index, if mapped.
func (s *Local) dropVectors() error {
	v := s.vec
	s.vec = nil
	if v != nil {
		return v.release()
	}
	return nil
}
