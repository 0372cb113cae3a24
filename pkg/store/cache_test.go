package store

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// words gives file f's chunk i a text of its own and words shared with
// other files, so that BM25 statistics depend on which files are live.
func words(f, i int) string {
	return fmt.Sprintf("file%d chunk%d common shared%d topic%d", f, i, f%3, (f+i)%5)
}

// putFiles stores files f in fs with three chunks each (vectors from
// their words' positions) and returns their catalog entries.
func putFiles(t *testing.T, s *Local, gen int, fs ...int) []FileEntry {
	t.Helper()
	var out []FileEntry
	for _, f := range fs {
		var chunks []Chunk
		for i := range 3 {
			chunks = append(chunks, Chunk{StartLine: i + 1, EndLine: i + 1, Text: words(f, i) + fmt.Sprintf(" gen%d", gen), Vector: angle(float64(f)*0.37 + float64(i)*0.11 + float64(gen)*0.05)})
		}
		k := key(1000*gen + f)
		if err := s.PutObject(context.Background(), k, chunks); err != nil {
			t.Fatal(err)
		}
		out = append(out, FileEntry{Root: "/r", Path: fmt.Sprintf("f%02d.md", f), Key: k, Chunks: 3})
	}
	return out
}

// angle is a unit vector of its own for each a: no two chunks tie.
func angle(a float64) []float32 {
	v := []float64{math.Cos(a), math.Sin(a), 0.3 * math.Cos(3*a), 0.3 * math.Sin(5*a)}
	var n float64
	for _, x := range v {
		n += x * x
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x / math.Sqrt(n))
	}
	return out
}

func saveCaches(t *testing.T, s *Local) {
	t.Helper()
	if err := s.SaveCaches(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// segmentFiles lists the segment files with their sizes and times.
func segmentFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	names, err := segmentNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		info, err := os.Stat(filepath.Join(dir, segmentsDir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = fmt.Sprint(info.Size(), info.ModTime().UnixNano())
	}
	return out
}

// searches runs the same queries in both modes on a fresh reader of dir
// and returns their hits, a line each.
func searches(t *testing.T, dir string) []string {
	t.Helper()
	r := openRead(t, dir)
	defer func() {
		if err := r.Close(); err != nil { // let the writer collect garbage
			t.Error(err)
		}
	}()
	var all []Hit
	for _, q := range []string{"common shared1", "file7 topic3", "chunk2 gen1", "file3 gen2"} {
		hits, err := r.SearchText(context.Background(), View{}, q, 5)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, hits...)
	}
	for i := range 4 {
		hits, err := r.Search(context.Background(), View{}, angle(float64(i)), 5)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, hits...)
	}
	if r.cache == nil || !r.cache.covered() {
		t.Error("the searches read objects: the segments did not serve the catalog")
	}
	var out []string
	for _, h := range all {
		out = append(out, fmt.Sprintf("%d %s:%d %q %.6f", h.ID, h.File.Path, h.StartLine, h.Text, h.Score))
	}
	return out
}

// fresh builds an index of files from scratch, one segment, and returns
// its folder: what an index with dead rows and many segments must answer
// like, scores included.
func fresh(t *testing.T, files []FileEntry, gens map[string]int) string {
	t.Helper()
	s, dir := newStore(t)
	for _, f := range files {
		var n int
		fmt.Sscanf(f.Path, "f%02d.md", &n)
		putFiles(t, s, gens[f.Key], n)
	}
	commitFiles(t, s, files...)
	saveCaches(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEditWritesOnlyWhatChanged checks that an edit, a deletion and an
// addition write one small segment and leave the others as they were,
// that searches then answer exactly as an index built from scratch would
// (BM25 statistics of the live chunks only), and that small segments are
// merged once there are four of them, with the same answers.
func TestEditWritesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	gens := map[string]int{}
	files := putFiles(t, s, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	for _, f := range files {
		gens[f.Key] = 1
	}
	commitFiles(t, s, files...)
	saveCaches(t, s)
	first := segmentFiles(t, dir)
	if len(first) != 1 {
		t.Fatalf("segments after the first run: %v", first)
	}

	for run := 2; run <= 6; run++ {
		// Edit file run, delete file run+1, add file 10+run.
		edited := putFiles(t, s, run, run, 10+run)
		for _, f := range edited {
			gens[f.Key] = run
		}
		var next []FileEntry
		for _, f := range files {
			switch f.Path {
			case fmt.Sprintf("f%02d.md", run):
				next = append(next, edited[0])
			case fmt.Sprintf("f%02d.md", run+1):
			default:
				next = append(next, f)
			}
		}
		files = append(next, edited[1])
		commitFiles(t, s, files...)
		saveCaches(t, s)
		if err := s.CollectGarbage(context.Background()); err != nil {
			t.Fatal(err)
		}
		segs := segmentFiles(t, dir)
		for n, v := range first {
			if run < 4 && segs[n] != v {
				t.Errorf("run %d rewrote the first segment %s", run, n)
			}
		}
		st, err := s.CacheStats()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: %+v", run, st)
		if !st.Covered || st.Unused > 0 {
			t.Errorf("run %d: %+v", run, st)
		}
		if got, want := searches(t, dir), searches(t, fresh(t, files, gens)); !reflect.DeepEqual(got, want) {
			t.Errorf("run %d: with %d segments\n%s\nfrom scratch\n%s", run, len(segs), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if run == 4 && len(segs) != 1 {
			// Four small segments (runs 1 to 4) are merged into one.
			t.Errorf("run 4: %d segments, want the small ones merged: %v", len(segs), slices.Collect(mapsKeys(segs)))
		}
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestSparseSegmentRewritten checks that a segment most of whose rows are
// dead is rewritten with its live rows alone, answering the same.
func TestSparseSegmentRewritten(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	files := putFiles(t, s, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	commitFiles(t, s, files...)
	saveCaches(t, s)
	commitFiles(t, s, files[:3]...)
	before := searches(t, dir)
	saveCaches(t, s)
	if err := s.CollectGarbage(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := s.CacheStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Segments != 1 || st.Rows != 9 || st.LiveRows != 9 {
		t.Errorf("after deleting 7 of 10 files: %+v, want one segment of their 9 rows", st)
	}
	if after := searches(t, dir); !reflect.DeepEqual(after, before) {
		t.Errorf("after the rewrite\n%s\nbefore\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

// TestDamagedSegmentRepaired checks that the next writer finds a segment
// changed since the catalog was written, reads it whole, and replaces a damaged one
// from the objects, so that searches read no object again.
func TestDamagedSegmentRepaired(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	files := putFiles(t, s, 1, 0, 1, 2, 3, 4, 5)
	commitFiles(t, s, files...)
	saveCaches(t, s)
	want := searches(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if names, err := segmentNames(dir); err != nil || len(names) != 1 {
		t.Fatalf("segments: %v, %v", names, err)
	}
	p := damageSegment(t, dir)
	s, err := Open(context.Background(), dir, Options{Write: true}) // the next run
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }() // the test's checks are above
	saveCaches(t, s)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the damaged segment is still there: %v", err)
	}
	if st, err := s.CacheStats(); err != nil || !st.Covered || st.Unused != 0 {
		t.Errorf("after the repair: %+v, %v", st, err)
	}
	if got := searches(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("after the repair\n%s\nbefore\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCleanRunSkipsCaches checks that a writer that writes nothing leaves
// the caches unopened once a collection found them complete, and that
// what could make them stale still makes it open them: damage in place
// (a changed segment file in an unchanged folder), and a run that wrote
// without saving the caches.
func TestCleanRunSkipsCaches(t *testing.T) {
	t.Parallel()
	s, dir := newStore(t)
	files := putFiles(t, s, 1, 0, 1, 2, 3, 4, 5, 6, 7)
	commitFiles(t, s, files...)
	saveCaches(t, s)
	want := searches(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopen := func() *Local { return openWrite(t, dir) }
	// run opens a writer that writes nothing, as a no-op `rag index` does,
	// and reports whether the caches needed no opening.
	run := func() bool {
		t.Helper()
		w := reopen()
		current := w.cachesCurrent()
		saveCaches(t, w)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return current
	}
	// The segments written after the catalog are checked once, and the
	// marks the first runs create change the folder: a few runs settle it.
	settled := false
	for range 5 {
		if settled = run(); settled {
			break
		}
	}
	if !settled {
		t.Fatal("no run skipped the caches of an unchanged index")
	}
	if !run() {
		t.Error("a settled index: the next run opened the caches")
	}

	p := damageSegment(t, dir)
	if run() {
		t.Error("a segment damaged in place was not checked")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the damaged segment is still there: %v", err)
	}
	if got := searches(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("after the repair\n%s\nbefore\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A run that removes most files and stops before saving the caches
	// (which would merge away the rows it left dead).
	w := reopen()
	commitFiles(t, w, files[0])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Its changes came before its collection's mark, in an earlier tick
	// of the clock: the folder is clean, and only the mark tells that the
	// caches were left incomplete.
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{dir, filepath.Join(dir, segmentsDir), filepath.Join(dir, "objects")} {
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chtimes(p, old, old)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// And every segment predates the catalog, as after a run that wrote
	// none: nothing is left to check.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(dir, catalogName), later, later); err != nil {
		t.Fatal(err)
	}
	if run() {
		t.Error("the caches were skipped after a run that did not save them")
	}
	if st, err := openRead(t, dir).CacheStats(); err != nil || !st.Covered || 2*st.LiveRows < st.Rows {
		t.Errorf("after the next run: %+v, %v", st, err)
	}
}

// damageSegment flips a byte of the first float row of the newest segment
// of dir, in place (the folder is unchanged; the segment's table and header
// stay intact), and returns the segment's path.
func damageSegment(t *testing.T, dir string) string {
	t.Helper()
	names, err := segmentNames(dir)
	if err != nil || len(names) == 0 {
		t.Fatalf("segments: %v, %v", names, err)
	}
	p := filepath.Join(dir, segmentsDir, names[0])
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	g, err := openSegmentData("", data)
	if err != nil {
		t.Fatal(err)
	}
	data[g.l.floats+7] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCraftedSegmentHeader: a segment header (its checksum made to match)
// that claims billions of objects is refused before the table is
// allocated for them: it was, 32 bytes each.
func TestCraftedSegmentHeader(t *testing.T) {
	dir := t.TempDir()
	s := openWrite(t, dir)
	files := putFiles(t, s, 0, 1, 2)
	if err := s.Commit(context.Background(), Manifest{EmbedModel: "m", Dims: 4, Files: files}); err != nil {
		t.Fatal(err)
	}
	saveCaches(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := segmentNames(dir)
	if err != nil || len(names) == 0 {
		t.Fatalf("segments: %v, %v", names, err)
	}
	good, err := os.ReadFile(filepath.Join(dir, segmentsDir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openSegmentData("", good); err != nil {
		t.Fatal(err)
	}
	data := slices.Clone(good)
	le.PutUint32(data[16:], 1<<24) // objects: 512 MB of table entries
	le.PutUint32(data[56:], crc32.ChecksumIEEE(data[:56]))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = openSegmentData("", data)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errSegmentDamaged) {
		t.Errorf("open: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("allocated %d MB for a crafted header", grew>>20)
	}
}
