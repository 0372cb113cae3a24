package store

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"github.com/philippgille/chromem-go"

	vecdot "github.com/rag-cli/rag/internal/vec"
)

// candidate is a row of a segment and its approximate score.
type candidate struct {
	seg, row int
	score    float32
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

// candidates scans the live int8 rows of every segment for the c best
// approximate scores, one worker a CPU over blocks of rows. A block that
// fails its check is a segmentError.
func (v *cacheView) candidates(ctx context.Context, sc *scope, q []int8, c int) ([]candidate, error) {
	type block struct{ seg, b int }
	var blocks []block
	for i, g := range v.segs {
		for b := 0; b*vectorBlock < g.l.n; b++ {
			blocks = append(blocks, block{i, b})
		}
	}
	workers := min(runtime.GOMAXPROCS(0), max(len(blocks), 1))
	heaps := make([]candHeap, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &heaps[w]
			var buf []byte // one block of int8 rows, reused
			for bi := w; bi < len(blocks); bi += workers {
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				g := v.segs[blocks[bi].seg]
				live := sc.live(v, blocks[bi].seg)
				b := blocks[bi].b
				var ok bool
				if buf, ok = g.readBlock(b, buf); !ok {
					errs[w] = &segmentError{seg: blocks[bi].seg, err: fmt.Errorf("%w: %s: block %d", errSegmentDamaged, g.name, b)}
					return
				}
				lo, hi := g.blockRows(b)
				rows := unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(buf))), len(buf))
				for i := lo; i < hi; i++ {
					if !live[i] {
						continue
					}
					sc := g.scale(i)
					if sc == 0 {
						continue
					}
					s := float32(vecdot.DotInt8(rows[(i-lo)*g.l.dims:(i-lo+1)*g.l.dims], q)) * sc
					if h.Len() < c {
						heap.Push(h, candidate{blocks[bi].seg, i, s})
					} else if s > (*h)[0].score {
						(*h)[0] = candidate{blocks[bi].seg, i, s}
						heap.Fix(h, 0)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		var se *segmentError
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, err
	}
	var all []candidate
	for _, h := range heaps {
		all = append(all, h...)
	}
	return all, nil
}

// searchVectors ranks over the segments: int8 candidates (many more than
// k), then chromem-go's exact cosine over their float32 rows, read alone. Hits come from the objects of the rows alone.
func (s *Local) searchVectors(ctx context.Context, v *cacheView, sc *scope, vec []float32, k int) ([]Hit, error) {
	q, _ := quantize(vec)
	want := k
	read := map[string]objectText{}
	for {
		// Four candidates a result (100 at least) keep Recall@10 and @50 at
		// 1.000 against exact search over random 768-dimension vectors
		// (TestSavedVectorsDeep); ten cost a hybrid search's 50 twice as
		// many float rows for chromem-go to rank.
		c := min(max(4*want, 100), sc.n)
		cands, err := v.candidates(ctx, sc, q, c)
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
			g := v.segs[cd.seg]
			row, ok := g.float(cd.row)
			if !ok {
				return nil, &segmentError{seg: cd.seg, err: fmt.Errorf("%w: %s: row %d", errSegmentDamaged, g.name, cd.row)}
			}
			// The stored rows are unit vectors: chromem-go keeps the slice as
			// it is, without another copy.
			if err := coll.AddDocument(ctx, chromem.Document{ID: strconv.Itoa(cd.seg<<32 | cd.row), Embedding: row}); err != nil {
				return nil, fmt.Errorf("vector search: %w", err)
			}
		}
		res, err := coll.QueryEmbedding(ctx, vec, min(want, len(cands)), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("vector search: %w", err)
		}
		var hits []Hit
		for _, r := range res {
			if math.IsNaN(float64(r.Similarity)) || math.IsInf(float64(r.Similarity), 0) {
				continue // no row that ranks may score NaN: never a hit
			}
			n, err := strconv.Atoi(r.ID)
			if err != nil {
				return nil, fmt.Errorf("vector search returned unknown id %q", r.ID)
			}
			more, err := s.rowHits(ctx, v, sc, n>>32, n&(1<<32-1), r.Similarity, read)
			if err != nil {
				return nil, err
			}
			hits = append(hits, more...)
		}
		if len(hits) >= k || len(res) < want || want >= sc.n {
			sortHits(hits)
			return hits[:min(k, len(hits))], nil
		}
		want *= 2 // some hits were damaged: ask for more
	}
}
