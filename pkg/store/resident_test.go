package store

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestResident checks that stores sharing a Resident cache search as a
// store without it does, that the cache fills and is then read instead of
// the segment files, and that damage written in place is still found.
func TestResident(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, query := randomIndex(t, 40, 25, 64) // 1,000 chunks
	res := NewResident(64 << 20)
	queries := make([][]float32, 20)
	for i := range queries {
		queries[i] = query()
	}
	search := func(opt Options, q []float32) []Hit {
		t.Helper()
		s, err := Open(ctx, dir, opt)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}()
		hits, err := s.Search(ctx, View{}, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		text, err := s.SearchText(ctx, View{}, "file chunk 3", 10)
		if err != nil {
			t.Fatal(err)
		}
		return append(hits, text...)
	}
	for i, q := range queries {
		want := search(Options{}, q)
		if got := search(Options{Resident: res}, q); !reflect.DeepEqual(got, want) {
			t.Fatalf("query %d: with a Resident cache\n%+v\nwant\n%+v", i, got, want)
		}
	}
	if res.Size() == 0 {
		t.Fatal("the cache holds nothing after 20 searches")
	}

	// Damage written in place: the cache must not answer for the damaged
	// file from what it read of the sound one.
	segs, err := filepath.Glob(filepath.Join(dir, segmentsDir, "*.seg"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v, %v", segs, err)
	}
	s, err := Open(ctx, dir, Options{Resident: res})
	if err != nil {
		t.Fatal(err)
	}
	var before int64
	for k := range res.blocks {
		if k.seg.name == filepath.Base(segs[0]) {
			before = k.seg.ctime
		}
	}
	if before == 0 {
		t.Fatal("no block of the first segment cached")
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	zeroed := make([]byte, len(data))
	copy(zeroed, data[:4096]) // header and table kept: only rows unreadable
	if err := os.WriteFile(segs[0]+".tmp", zeroed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(segs[0]+".tmp", segs[0]); err != nil {
		t.Fatal(err)
	}
	// An open store with its file open keeps reading the old inode; a new
	// store sees new damage: its status-change time is another key.
	hits, err := s.Search(ctx, View{}, queries[0], 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 10 {
		t.Errorf("open store: %d hits, want 10", len(hits))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fresh := search(Options{}, queries[0])
	if got := search(Options{Resident: res}, queries[0]); !reflect.DeepEqual(got, fresh) {
		t.Errorf("after damage in place, the cache answered otherwise than the files:\n%+v\nwant\n%+v", got, fresh)
	}
	name := filepath.Base(segs[0])
	for k := range res.blocks {
		if k.seg.name == name && k.seg.ctime == before {
			t.Errorf("block %d of the file as it was before the damage is still cached", k.n)
		}
	}
}

// TestResidentRetain checks that a segment no longer in the index folder
// leaves the cache.
func TestResidentRetain(t *testing.T) {
	t.Parallel()
	res := NewResident(1 << 20)
	a := &segment{resident: segResident{res, residentSeg{"/i", "a", 1}}}
	b := &segment{resident: segResident{res, residentSeg{"/i", "b", 1}}}
	other := residentSeg{"/j", "a", 1}
	res.put(residentKey{a.resident.seg, 0}, make([]byte, 100))
	res.put(residentKey{b.resident.seg, 0}, make([]byte, 100))
	res.put(residentKey{other, 0}, make([]byte, 100))
	res.putFloats(residentKey{b.resident.seg, 0}, &floatBlock{v: make([]float32, 10), ok: make([]bool, 1)})
	res.retain("/i", []*segment{a})
	if _, ok := res.get(residentKey{a.resident.seg, 0}); !ok {
		t.Error("a's block was dropped")
	}
	if _, ok := res.get(residentKey{b.resident.seg, 0}); ok {
		t.Error("b's block was kept")
	}
	if _, ok := res.floatBlock(residentKey{b.resident.seg, 0}); ok {
		t.Error("b's floats were kept")
	}
	if _, ok := res.get(residentKey{other, 0}); !ok {
		t.Error("another index's block was dropped")
	}
	if got := res.Size(); got != 200 {
		t.Errorf("Size = %d, want 200", got)
	}
}
