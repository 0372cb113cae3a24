package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"

	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/lexical"
)

// The local store's layout under its folder (docs/index-format.md):
//
//	catalog                the catalog (binary, catalog.go), replaced
//	                       atomically on every commit
//	catalog.prev           the catalog before the last commit, read when
//	                       catalog is damaged
//	catalog.next           the catalog of a rebuild in progress
//	objects/ab/abcd….chk   one object file a distinct file content, named
//	                       by its full key, written atomically, never changed
//	damaged                the objects found damaged and not yet repaired
//	                       (knowndamage.go): read again whatever their time
//	lock                   held (flock) by the one process writing the index
//	readers.lock           shared by readers while they load, exclusive
//	                       while unused objects are deleted
//
// Objects are written before the catalog that names them, so a crash at
// any point leaves the previous catalog with all of its objects; objects
// that no catalog names are removed at a later commit. Vectors are loaded
// into an in-memory chromem-go collection for search.
const (
	lockName    = "lock"
	readersName = "readers.lock"
)

// Options says how to open an index.
type Options struct {
	// Write takes the index's writer lock (creating the index folder): only
	// one process writes at a time. Without it the index is read-only.
	Write bool
	// Wait makes Open wait for another writer to finish instead of failing
	// with a LockedError.
	Wait bool
	// Rebuild starts a new catalog beside the current one, or resumes an
	// unfinished one. Commits go to the new catalog, which replaces the
	// current one only at Publish: readers see the old index until then.
	Rebuild bool
	// Hook, if set, is called at named points of a write (see hookPoints in
	// the tests); crash tests kill the process there.
	Hook func(point string)
	// Resident, if set, keeps the checked int8 rows of the cache segments
	// in memory across searches and stores: for processes that search
	// again and again. Read-only stores only.
	Resident *Resident
}

// Local is the embedded, single-machine store.
type Local struct {
	dir  string
	opt  Options
	lock *flock.Flock // writer lock, when writing
	// createTemp, if set, replaces os.CreateTemp for the files written
	// atomically: the tests' way to a permission error as root.
	createTemp func(dir, pattern string) (*os.File, error)

	mu       sync.Mutex
	manifest Manifest
	sizes    map[string]int64 // object sizes written by this process
	unsynced []string         // objects written since the last commit
	// recovered is the damage of the catalog when the previous catalog
	// was read instead; the next commit replaces it.
	recovered *CorruptError
	// badCatalog is set while the current catalog is known to be damaged:
	// it is then never kept as the previous catalog.
	badCatalog bool
	// legacy is set while the index folder holds the JSON catalog files of
	// format versions 3 and 4: the next commit replaces them.
	legacy bool

	objects string // the objects folder, ending in a separator

	dmu     sync.Mutex               // guards damaged, filled by loading workers
	damaged map[string]*CorruptError // damaged objects by key
	// changed holds the status-change time of each object as Open found it:
	// an object changed after the catalog was written, or after its last
	// check, may be damaged; one changed before is trusted (CheckObjects).
	changed map[string]int64
	// suspect are the objects the list of known damage (damagedName)
	// names that no check of this process has read yet; knownListed is
	// that list as on disk (sorted), knownRead whether it was read.
	suspect     map[string]bool
	knownListed []string
	knownRead   bool
	// sized is closed when the size check a writer's Open began is done
	// (changed and the damage it found are set then); sizeErr is its error.
	sized   chan struct{}
	sizeErr error

	// ready is set once Open has read the catalog: only then may Close
	// delete what the catalog does not name.
	ready bool
	// gcWait bounds how long garbage collection waits for readers: one
	// that reads objects as it searches holds them for its life, so a
	// writer leaves the garbage for a later run rather than wait.
	gcWait  time.Duration
	readers *flock.Flock // shared lock held by a reader from Open to Close
	base    []int        // first chunk id of each catalog file, once computed
	// cache is what searches of the catalog read (segments mapped, or built
	// from objects); setAside names segments found damaged while reading.
	cache *cacheView
	texts *textCache // objects' texts searches read lately
	// textKey is what names a content's key in texts: the key, or the
	// index folder and the key in a Resident's cache that many indexes
	// share.
	textKey   func(key string) string
	setAside  map[string]bool
	keyChunks map[string]int // chunk count by content key, once computed

	// segJobs feeds the segment worker (segWorker) the contents a writer
	// stores; segErr is its first error. Both and wrote are guarded by segMu.
	segMu   sync.Mutex
	segJobs chan segJob
	segDone chan struct{}
	segErr  error
	wrote   map[string]bool // segments this writer wrote
	// listed is closed once the object files (listing, or listErr) have
	// been listed, in the background from a writer's Open.
	listed  chan struct{}
	listing []string
	listErr error
	// clean is set when the index folder held no garbage at a writer's
	// Open (collectedClean); dirty once the writer has written anything.
	clean, dirty bool
	// cachesAtMark is set when the last collection also found the caches
	// serving the whole catalog (SaveCaches, nothing written after it);
	// cachesSaved is that state for this writer, as its collection records.
	cachesAtMark, cachesSaved bool
	// outdated is set when a segment of another keyword analysis was
	// found; reanalysed counts the chunks analysed again in its place.
	outdated   atomic.Bool
	reanalysed int
	// trustAtOpen is trustedUntil when a writer opened the index, before
	// its own commits: what changed after it may be damage (checkSegments).
	trustAtOpen int64
	// opened is the catalog file as a reader's Open found it, before
	// reading it (Stale).
	opened os.FileInfo
}

// Open opens the index in dir. Read-only, a missing index is ErrNoIndex;
// for writing it is an empty index written at the first Commit. A damaged
// catalog is read from its previous version (see Recovered), else it is a
// CorruptError. Missing and truncated objects are found here by their size
// and recorded (see Damaged): readers leave them out, `rag index` embeds
// their files again.
func Open(ctx context.Context, dir string, opt Options) (_ *Local, err error) {
	s := &Local{dir: dir, opt: opt, sizes: map[string]int64{}, gcWait: 2 * time.Second, damaged: map[string]*CorruptError{}, texts: newTextCache(textCacheSize, 0),
		objects: filepath.Join(dir, "objects") + string(filepath.Separator), textKey: func(k string) string { return k }}
	if opt.Resident != nil && !opt.Write {
		s.texts = opt.Resident.texts
		s.textKey = func(k string) string { return dir + "\x00" + k }
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	if opt.Write {
		// Opening writes too (an unfinished migration is finished).
		defer s.wrapWritable(&err)
		if err := s.lockWriter(ctx); err != nil {
			return nil, err
		}
	} else if cur, _ := currentName(dir); cur != "" {
		if err := s.lockReaders(); err != nil {
			return nil, err
		}
	}
	if opt.Rebuild {
		var c *CorruptError
		cur, _ := currentName(dir)
		if cur != "" {
			if _, err := readCatalogFile(dir, cur); errors.As(err, &c) {
				s.badCatalog = true
			}
		}
		if err := s.finishMigration(cur == catalogName && !s.badCatalog); err != nil {
			return nil, err
		}
		m, err := readStaging(dir)
		if err != nil {
			// An unreadable unfinished rebuild is started again.
			m = nil
		}
		if m == nil {
			s.manifest = NewManifest()
		} else {
			s.manifest = *m
		}
		s.ready = true
		return s, nil
	}
	if !opt.Write {
		// Before the read: a commit in between makes Stale report a change
		// that was already read, never miss one.
		if cur, _ := currentName(dir); cur != "" {
			s.opened, _ = os.Stat(filepath.Join(dir, cur)) // nil: Stale says changed
		}
	}
	m, recovered, err := readCatalog(dir)
	if err != nil {
		return nil, err
	}
	s.recovered, s.badCatalog = recovered, recovered != nil
	if opt.Write {
		cur, _ := currentName(dir)
		if err := s.finishMigration(cur == catalogName && recovered == nil); err != nil {
			return nil, err
		}
	}
	if m == nil {
		if !opt.Write {
			return nil, noIndex(dir)
		}
		s.manifest = NewManifest()
		s.ready = true
		return s, nil
	}
	s.manifest = *m
	s.keepAccessControl()
	// A writer checks sizes (and takes the times CheckObjects needs) from
	// now on, in the background: `rag index` walks its folders meanwhile
	// (the stats and the walk were a third of a no-op run each), and
	// whatever needs the result waits for it (waitSizes). A search finds a
	// missing or short object when it reads it, so it pays for no stat of
	// the others (CheckSizes, for status).
	if opt.Write {
		s.sized = make(chan struct{})
		files := s.manifest.Files // a commit meanwhile replaces the catalog, not its files
		go func() {
			defer close(s.sized)
			s.sizeErr = s.checkObjects(files)
		}()
		s.trustAtOpen = s.trustedUntil()
		// The object folders are listed for garbage collection now too, in
		// the background, rather than at the end of the run (where reading
		// 256 folders was a sixth of a no-op run).
		// A folder left clean by the last collection (nothing written since)
		// is not listed: a run that then writes nothing collects nothing.
		if s.clean, s.cachesAtMark = s.collectedClean(); !s.clean {
			s.listed = make(chan struct{})
			go func() {
				defer close(s.listed)
				s.listing, s.listErr = listObjects(filepath.Join(s.dir, "objects"))
			}()
		}
	}
	s.ready = true
	return s, nil
}

// collectedName is a small file written when a garbage collection
// finished: its time says until when the index folder held no garbage, and
// its text whether the caches then served the whole catalog
// (collectedCaches) or not (a line of its own).
const collectedName = "collected"

// collectedCaches is the text of collectedName when SaveCaches had left
// the caches complete and nothing was written after it. It names the
// keyword analysis (lexical.Version) the caches were written with, so
// that the first run of a rag that analyses otherwise opens the caches and
// analyses again what outdated segments held (an older rag's "caches"
// alone never matches).
var collectedCaches = "caches " + strconv.Itoa(lexical.Version) + "\n"

// collectedClean reports whether nothing in the index folder changed since
// the last garbage collection finished: no folder that could hold garbage
// (the index folder, its segments, the objects and each of their folders)
// was changed at or after the time of collectedName. Both times come from
// the file system's own clock, and a change in the same tick counts. It
// also says whether the caches were complete at that collection.
func (s *Local) collectedClean() (clean, caches bool) {
	f, err := os.Open(filepath.Join(s.dir, collectedName))
	if err != nil {
		return false, false
	}
	info, err := f.Stat()
	var text [16]byte
	n, rerr := f.Read(text[:])
	if err := errors.Join(err, f.Close()); err != nil || rerr != nil && !errors.Is(rerr, io.EOF) {
		return false, false
	}
	mark := info.ModTime()
	objects := filepath.Join(s.dir, "objects")
	dirs := []string{s.dir, filepath.Join(s.dir, segmentsDir), objects}
	ents, err := os.ReadDir(objects)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, false
	}
	for _, e := range ents {
		dirs = append(dirs, filepath.Join(objects, e.Name()))
	}
	for _, d := range dirs {
		info, err := os.Stat(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || !info.ModTime().Before(mark) {
			return false, false
		}
	}
	return true, string(text[:n]) == collectedCaches
}

// markCollected records that a collection finished with no garbage left,
// and whether the caches were complete (cachesSaved). The file is written,
// not given a time, so that its time comes from the same clock as the
// folders' it is compared with; it is written in place (created only the
// first time, which the next run sees as a change).
func (s *Local) markCollected() error {
	s.mu.Lock()
	text := "\n"
	if s.cachesSaved {
		text = collectedCaches
	}
	s.mu.Unlock()
	return os.WriteFile(filepath.Join(s.dir, collectedName), []byte(text), 0o644)
}

// listObjects returns the paths of the files under the objects folder.
func listObjects(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// objectFiles returns the object files that may be garbage: those listed
// when the writer opened the index (listed anew if it did not) and those it
// has written since.
func (s *Local) objectFiles() ([]string, error) {
	var paths []string
	if s.listed != nil {
		<-s.listed
		if s.listErr != nil {
			return nil, s.listErr
		}
		paths = s.listing
	} else {
		var err error
		if paths, err = listObjects(filepath.Join(s.dir, "objects")); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	for key := range s.sizes {
		paths = append(paths, s.objectPath(key))
	}
	s.mu.Unlock()
	return paths, nil
}

// CheckSizes finds missing and truncated objects by their size, one stat
// each, as a writer's Open does, and reads back those a writer found
// damaged and has not repaired (damagedName); Damaged then names them. It
// is what `rag status` reports without reading every object.
func (s *Local) CheckSizes() error {
	switch {
	case s.sized != nil:
		if err := s.waitSizes(); err != nil { // begun at open
			return err
		}
	case s.changed != nil:
		return nil
	default:
		if err := s.checkObjects(s.Manifest().Files); err != nil {
			return err
		}
	}
	return s.checkSuspects()
}

// waitSizes waits for the size check a writer's Open began, if any, and
// returns its error to the first caller (the others have had it).
func (s *Local) waitSizes() error {
	if s.sized == nil {
		return nil
	}
	<-s.sized
	s.dmu.Lock()
	defer s.dmu.Unlock()
	err := s.sizeErr
	s.sizeErr = nil
	return err
}

// noIndex is the ErrNoIndex of dir; it says so when dir still holds
// stored chunks: an index that lost its catalog, not a folder never
// indexed.
func noIndex(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "objects")); err == nil {
		return fmt.Errorf("%w at %s: its catalog is missing (the stored chunks are there)", ErrNoIndex, dir)
	}
	return fmt.Errorf("%w at %s", ErrNoIndex, dir)
}

// NewManifest is the catalog of an empty index with a fresh generation.
func NewManifest() Manifest {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return Manifest{FormatVersion: FormatVersion, Generation: hex.EncodeToString(b[:])}
}

// ReadManifest reads the current catalog of the index in dir (the previous
// one when it is damaged) without locking or checking objects: what
// `rag index --rebuild` needs to know which sources to rebuild. A missing
// index is ErrNoIndex.
func ReadManifest(dir string) (Manifest, error) {
	m, _, err := readCatalog(dir)
	if err != nil {
		return Manifest{}, err
	}
	if m == nil {
		return Manifest{}, noIndex(dir)
	}
	return *m, nil
}

// Recovered returns the damage of the catalog when the previous catalog
// (catalog.prev) was read instead, else nil. What the last commit added or
// changed is then missing; `rag index` writes a new catalog.
func (s *Local) Recovered() *CorruptError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

// checkObjects finds missing and truncated objects of the catalog's files
// by their size: one stat
// per object, far cheaper than reading them. They are recorded as damaged,
// not fatal: the rest of the index is still good. The stats are made on one
// worker a CPU (they were a sixth of a no-op `rag index`).
func (s *Local) checkObjects(files []FileEntry) error {
	changed := make(map[string]int64, len(files))
	objs := make([]int, 0, len(files)) // one file of each distinct object
	for i, f := range files {
		if _, ok := changed[f.Key]; !ok {
			changed[f.Key] = 0 // set below when the object is whole
			objs = append(objs, i)
		}
	}
	type result struct {
		size, ctime int64
		err         error
	}
	// By folder (the key's first two digits, a counting sort), so that
	// each folder is opened once and its objects statted relative to it.
	var start [257]int
	for _, i := range objs {
		start[folderOf(files[i].Key)+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	byFolder := make([]int, len(objs))
	for _, i := range objs {
		b := folderOf(files[i].Key)
		byFolder[start[b]] = i
		start[b]++
	}
	objs = byFolder
	res := make([]result, len(objs))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(objs)/256))
	closeErrs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var d *filestat.Dir
			var derr error
			prefix := ""
			for i := w * len(objs) / workers; i < (w+1)*len(objs)/workers; i++ {
				key := files[objs[i]].Key
				if key[:2] != prefix {
					if d != nil {
						closeErrs[w] = errors.Join(closeErrs[w], d.Close())
					}
					prefix = key[:2]
					d, derr = filestat.OpenDir(s.objects + prefix)
				}
				if derr != nil {
					res[i] = result{err: derr} // a missing folder: its objects are missing
					continue
				}
				st, err := d.Stat(key + ".chk")
				res[i] = result{size: st.Size, ctime: st.CTime, err: err}
			}
			if d != nil {
				closeErrs[w] = errors.Join(closeErrs[w], d.Close())
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(closeErrs...); err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	for i, fi := range objs {
		f, r := &files[fi], res[i]
		switch {
		case errors.Is(r.err, fs.ErrNotExist):
			if g := s.gone(); g != nil {
				return g
			}
			delete(changed, f.Key)
			s.noteDamage(f.Key, &CorruptError{Path: s.objectPath(f.Key), Err: errObjectMissing})
		case r.err != nil:
			return fmt.Errorf("open index: %w", r.err)
		case r.size != f.ObjectSize:
			delete(changed, f.Key)
			s.noteDamage(f.Key, &CorruptError{Path: s.objectPath(f.Key), Err: fmt.Errorf("%d bytes, want %d", r.size, f.ObjectSize)})
		default:
			changed[f.Key] = r.ctime
		}
	}
	if err := s.loadKnownDamage(changed); err != nil {
		return err
	}
	s.changed = changed
	return nil
}

func (s *Local) lockWriter(ctx context.Context) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("create index folder: %w", s.writable(err))
	}
	p := filepath.Join(s.dir, lockName)
	l := flock.New(p, flock.SetPermissions(0o644))
	var ok bool
	var err error
	if s.opt.Wait {
		ok, err = l.TryLockContext(ctx, 200*time.Millisecond)
	} else {
		ok, err = l.TryLock()
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("lock index: %w", s.writable(err))
	}
	if !ok {
		holder, _ := os.ReadFile(p) // best effort: only for the message
		return &LockedError{Dir: s.dir, Holder: strings.TrimSpace(string(holder))}
	}
	s.lock = l
	// Written in place, not renamed: the lock belongs to the file's inode.
	host, _ := os.Hostname() // best effort: only for the message
	who := fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().Format(time.RFC3339))
	if err := os.WriteFile(p, []byte(who+"\n"), 0o644); err != nil {
		return fmt.Errorf("lock index: %w", s.writable(err))
	}
	return nil
}

// lockReaders takes the shared readers lock so that no writer deletes the
// objects of the manifest being read before they are loaded. An index a
// reader cannot write to (read-only media) needs no lock: nothing can
// change it.
func (s *Local) lockReaders() error {
	l := flock.New(filepath.Join(s.dir, readersName), flock.SetPermissions(0o644))
	if err := l.RLock(); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || isReadOnlyFS(err) {
			return nil
		}
		return fmt.Errorf("lock index for reading: %w", err)
	}
	s.readers = l
	return nil
}

func (s *Local) unlockReaders() error {
	if s.readers == nil {
		return nil
	}
	err := s.readers.Close()
	s.readers = nil
	return err
}

// Dir is the index folder.
func (s *Local) Dir() string { return s.dir }

// Manifest implements Store. It copies no file entry: a copy of 7,750 was
// 1.1 MB of fresh memory, a millisecond or more, and a run took several.
// A commit replaces the catalog, never changes it in place; the slices are
// clipped, so appending to one copies it.
func (s *Local) Manifest() Manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.manifest
	m.Sources, m.Files, m.Problems = slices.Clip(m.Sources), slices.Clip(m.Files), slices.Clip(m.Problems)
	return m
}

// Reset drops an unfinished rebuild's catalog (made for another model) and
// starts an empty one.
func (s *Local) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manifest, s.base = NewManifest(), nil
}

// Staging reports whether an unfinished rebuild exists beside the index.
func (s *Local) Staging() bool {
	for _, n := range []string{stagingName, legacyStagingName} {
		if _, err := os.Stat(filepath.Join(s.dir, n)); err == nil {
			return true
		}
	}
	return false
}

func validKey(key string) bool {
	if len(key) < 8 || len(key) > 128 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if hexDigit[key[i]] == 0 {
			return false
		}
	}
	return true
}

// hexDigit is 1 + the value of each lowercase hex digit, 0 for any other
// byte: a table, as the catalog checks the key of every file it reads.
var hexDigit = func() (t [256]byte) {
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i + 1)
	}
	return t
}()

// folderOf is the number of the objects folder of a key (0-255; 0 for
// an invalid key, which the catalog never holds).
func folderOf(key string) int {
	if len(key) < 2 || hexDigit[key[0]] == 0 || hexDigit[key[1]] == 0 {
		return 0
	}
	return int(hexDigit[key[0]]-1)<<4 | int(hexDigit[key[1]]-1)
}

func (s *Local) objectPath(key string) string {
	// Concatenated, not joined: the folder is clean, the key a valid one.
	return s.objects + key[:2] + string(filepath.Separator) + key + ".chk"
}

func (s *Local) hook(point string) {
	if s.opt.Hook != nil {
		s.opt.Hook(point)
	}
}

// PutObject implements Store.
func (s *Local) PutObject(ctx context.Context, key string, chunks []Chunk) (err error) {
	defer s.wrapWritable(&err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.opt.Write {
		return errors.New("index opened read-only")
	}
	if !validKey(key) {
		return fmt.Errorf("invalid object key %q", key)
	}
	p := s.objectPath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	// Objects are not synced one by one (two fsyncs per file made the first
	// index of 10,000 files spend most of its time waiting on the disk);
	// Commit syncs them all before the catalog that names them. An object
	// is encoded into its temporary file as it goes, never held whole: a
	// large file's is as large as its text and vectors.
	size := objectSize(chunks)
	a := filestat.Atomic{Temp: ".tmp-*", NoSync: true, CreateTemp: s.createTemp, Written: func() { s.hook("object-written") }}
	err = a.WriteFile(p, func(w io.Writer) error {
		hw := &halfHook{w: w, half: size / 2, hook: func() { s.hook("object-half-written") }}
		if err := encodeObject(hw, chunks); err != nil {
			return fmt.Errorf("encode object %s: %w", key, err)
		}
		if hw.n != size {
			return fmt.Errorf("encode object %s: %d bytes, want %d", key, hw.n, size)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.dirty, s.cachesSaved = true, false
	s.sizes[key] = size
	s.unsynced = append(s.unsynced, p)
	s.mu.Unlock()
	if s.sized != nil {
		<-s.sized // so that the check at open does not find it damaged after this
	}
	s.dmu.Lock()
	delete(s.damaged, key) // written again: repaired
	delete(s.suspect, key)
	s.dmu.Unlock()
	return s.addToSegment(key, chunks)
}

// halfHook passes writes to w, calling hook once when half bytes are
// written (a write that crosses half is split there): where the crash
// tests tear an object.
type halfHook struct {
	w    io.Writer
	n    int64
	half int64
	hook func()
}

func (h *halfHook) Write(b []byte) (int, error) {
	written := 0
	if h.n <= h.half && h.n+int64(len(b)) > h.half {
		k := int(h.half - h.n)
		m, err := h.w.Write(b[:k])
		h.n += int64(m)
		if err != nil {
			return m, err
		}
		h.hook()
		b, written = b[k:], k
		h.half = -1 // once
	}
	m, err := h.w.Write(b)
	h.n += int64(m)
	return written + m, err
}

func (s *Local) readObject(key string) ([]Chunk, error) {
	chunks, err := readObjectAs(s.objectPath(key), decodeObject)
	return chunks, s.goneIfMissing(err)
}

// readObjectText reads an object's chunks without their vectors.
func (s *Local) readObjectText(key string) (objectText, error) {
	obj, err := readObjectAs(s.objectPath(key), decodeObjectText)
	return obj, s.goneIfMissing(err)
}

// errObjectMissing is the damage of an object file that is not there.
var errObjectMissing = errors.New("missing")

// goneIfMissing turns err, when it is a missing object, into a GoneError if
// the index itself is gone or was replaced since it was opened: a deleted
// index must not read as a damaged one whose searches find nothing.
func (s *Local) goneIfMissing(err error) error {
	if !errors.Is(err, errObjectMissing) {
		return err
	}
	if g := s.gone(); g != nil {
		return g
	}
	return err
}

// gone returns a GoneError when the index folder has no catalog any more,
// or (for a reader) another one than it read; nil while it is as opened.
func (s *Local) gone() *GoneError {
	if cur, _ := currentName(s.dir); cur == "" {
		return &GoneError{Dir: s.dir}
	}
	if s.Stale() {
		return &GoneError{Dir: s.dir, Replaced: true}
	}
	return nil
}

// readObjectAs reads the object file at p with decode; a missing or
// undecodable file is a CorruptError.
func readObjectAs[T any](p string, decode func([]byte) (T, error)) (T, error) {
	var zero T
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return zero, &CorruptError{Path: p, Err: errObjectMissing}
		}
		return zero, err
	}
	v, err := decode(data)
	if err != nil {
		return zero, &CorruptError{Path: p, Err: err}
	}
	return v, nil
}

// Commit implements Store. It fills in object sizes and writes the catalog
// atomically (the rebuild catalog when rebuilding). Objects it no longer
// names are removed at Close, once per run rather than at every commit.
func (s *Local) Commit(ctx context.Context, m Manifest) (err error) {
	defer s.wrapWritable(&err)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.opt.Write {
		return errors.New("index opened read-only")
	}
	m = m.Clone()
	m.FormatVersion = FormatVersion
	if m.Generation == "" {
		m.Generation = s.Manifest().Generation
	}
	s.mu.Lock()
	for i, f := range m.Files {
		if f.ObjectSize <= 0 {
			m.Files[i].ObjectSize = s.sizes[f.Key]
		}
	}
	s.mu.Unlock()
	for i, f := range m.Files {
		if f.ObjectSize > 0 {
			continue
		}
		info, err := os.Stat(s.objectPath(f.Key))
		if err != nil {
			return fmt.Errorf("commit %s: object: %w", f.Path, err)
		}
		m.Files[i].ObjectSize = info.Size()
	}
	if err := s.syncObjects(); err != nil {
		return fmt.Errorf("commit: sync objects: %w", err)
	}
	if m.AccessControl {
		if err := s.markAccessControl(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	name := catalogName
	if s.opt.Rebuild {
		name = stagingName
	} else {
		// The new catalog trusts every object older than itself: what is
		// known damaged is listed first (and kept listed, see damagedName).
		old := s.Manifest()
		if err := s.recordDamage(&m, &old); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if err := s.keepPrevious(); err != nil {
			return fmt.Errorf("commit: keep previous catalog: %w", err)
		}
	}
	if err := s.writeCatalog(name, &m, "catalog"); err != nil {
		return fmt.Errorf("write catalog: %w", err)
	}
	s.hook("catalog-committed")
	// The binary catalog is durable: the JSON one it replaces goes. (An
	// older rag's unfinished rebuild stays until a rebuild replaces it.)
	if s.legacy {
		legacy := []string{legacyName, legacyPrevName}
		if s.opt.Rebuild {
			legacy = []string{legacyStagingName}
		}
		if err := s.removeLegacy(legacy...); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	s.mu.Lock()
	s.manifest, s.dirty, s.cachesSaved = m, true, false
	if !s.opt.Rebuild {
		s.recovered, s.badCatalog = nil, false
	}
	s.base, s.keyChunks = nil, nil
	err = s.dropView()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if !s.opt.Rebuild {
		// What the old catalog alone named is no longer the index's.
		if err := s.recordDamage(&m); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
}

// Publish makes a finished rebuild the index: the rebuild catalog is
// renamed over the current one in one step, then the old objects go.
func (s *Local) Publish(ctx context.Context) (err error) {
	defer s.wrapWritable(&err)
	if !s.opt.Rebuild {
		return errors.New("publish: not rebuilding")
	}
	if err := s.keepPrevious(); err != nil {
		return fmt.Errorf("publish rebuilt index: keep previous catalog: %w", err)
	}
	s.mu.Lock()
	s.recovered, s.badCatalog, s.dirty, s.cachesSaved = nil, false, true, false
	s.mu.Unlock()
	if err := os.Rename(filepath.Join(s.dir, stagingName), filepath.Join(s.dir, catalogName)); err != nil {
		return fmt.Errorf("publish rebuilt index: %w", err)
	}
	if err := filestat.SyncDir(s.dir); err != nil {
		return fmt.Errorf("publish rebuilt index: %w", err)
	}
	s.hook("published")
	if s.legacy {
		if err := s.removeLegacy(legacyName, legacyPrevName, legacyStagingName); err != nil {
			return fmt.Errorf("publish rebuilt index: %w", err)
		}
	}
	s.opt.Rebuild = false
	// The damage listed was of the replaced catalog's objects, which go.
	if err := os.Remove(filepath.Join(s.dir, damagedName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("publish rebuilt index: %w", err)
	}
	return s.collectGarbage(ctx)
}

// CollectGarbage removes what no catalog names now; a writer that stays
// open for long (rag index --watch) calls it after each pass, as Close does.
func (s *Local) CollectGarbage(ctx context.Context) (err error) {
	defer s.wrapWritable(&err)
	if s.lock == nil || !s.ready || s.opt.Rebuild {
		return nil
	}
	return s.collectGarbage(ctx)
}

// collectGarbage removes objects that neither the current nor a rebuild
// catalog names, and temporary files left by a crash. Readers that are
// loading hold the readers lock; garbage is then left for a later run.
func (s *Local) collectGarbage(ctx context.Context) (err error) {
	s.mu.Lock()
	skip := s.clean && !s.dirty
	remark := skip && s.cachesSaved && !s.cachesAtMark
	s.mu.Unlock()
	if remark {
		// Still no garbage, and now complete caches: say so in place (no
		// folder changes), so that later runs need not open them.
		if err := s.markCollected(); err != nil {
			return fmt.Errorf("record the collection: %w", err)
		}
	}
	if skip {
		return nil // nothing written since the last collection: no garbage
	}
	l := flock.New(filepath.Join(s.dir, readersName), flock.SetPermissions(0o644))
	wctx, cancel := context.WithTimeout(ctx, s.gcWait)
	ok, err := l.TryLockContext(wctx, 50*time.Millisecond)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil // readers are slow: leave the garbage for next time
		}
		return fmt.Errorf("lock index readers: %w", err)
	}
	if !ok {
		return nil
	}
	defer func() { err = errors.Join(err, l.Close()) }()

	live := map[string]bool{}
	for _, f := range s.Manifest().Files {
		live[f.Key+".chk"] = true
	}
	staged, err := readStaging(s.dir)
	if err != nil {
		return nil // an unreadable catalog may name anything: delete nothing
	}
	if staged != nil {
		for _, f := range staged.Files {
			live[f.Key+".chk"] = true
		}
	}
	if err := removeTemps(s.dir); err != nil {
		return err
	}
	paths, err := s.objectFiles()
	if err != nil {
		return fmt.Errorf("remove unused objects: %w", err)
	}
	first := true
	for _, p := range paths {
		if live[filepath.Base(p)] {
			continue
		}
		if err := os.Remove(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed by an earlier collection of this writer
			}
			return fmt.Errorf("remove unused objects: %w", err)
		}
		if first {
			first = false
			s.hook("gc")
		}
	}
	m := s.Manifest()
	if err := s.collectSegments([]*Manifest{&m, staged}); err != nil {
		return fmt.Errorf("remove unused cache segments: %w", err)
	}
	if staged == nil {
		// Clean until the next write (a rebuild's catalog keeps objects
		// that the current one does not name: never clean then).
		if err := s.markCollected(); err != nil {
			return fmt.Errorf("record the collection: %w", err)
		}
	}
	return nil
}

// keepPrevious keeps the current catalog as catalog.prev before a new one
// replaces it, so that a damaged catalog can be recovered: a hard link to
// it under a temporary name renamed into place (a copy where links are not
// supported), so the previous catalog is always whole. A damaged catalog is
// not kept over the good previous one it was read from. A JSON catalog (of
// format version 3 or 4) is kept converted: the one read from it, or from
// its previous copy when it is damaged.
func (s *Local) keepPrevious() error {
	s.mu.Lock()
	bad := s.badCatalog
	s.mu.Unlock()
	name, _ := currentName(s.dir)
	if name == legacyName {
		m, _, err := readCatalog(s.dir)
		var c *CorruptError
		switch {
		case errors.As(err, &c) || err == nil && m == nil:
			return nil // nothing whole to keep
		case err != nil:
			return err
		}
		return s.writeCatalog(prevName, m, "previous catalog")
	}
	cur := filepath.Join(s.dir, catalogName)
	if bad || name == "" {
		return nil
	}
	prev := filepath.Join(s.dir, prevName)
	tmp := filepath.Join(s.dir, ".tmp-prev")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Link(cur, tmp); err == nil {
		return os.Rename(tmp, prev)
	}
	data, err := os.ReadFile(cur)
	if err != nil {
		return err
	}
	return s.writeFileAtomic(prev, data, "previous catalog", true)
}

func removeTemps(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// bases returns the id of the first chunk of each catalog file: chunks are
// numbered in catalog order, so an id names a file and a chunk of it
// without loading anything.
func (s *Local) bases() []int {
	if s.base == nil {
		s.base = make([]int, len(s.manifest.Files))
		total := 0
		for i, f := range s.manifest.Files {
			s.base[i] = total
			total += f.Chunks
		}
	}
	return s.base
}

// eachKey calls fn for every key, on one worker a CPU (w numbers the
// worker, for state of its own). The first error stops the rest; after
// waiting for the workers it returns that error, or ctx.Err(), so a
// cancelled pass never reports success.
func eachKey(ctx context.Context, keys []string, fn func(w int, key string) error) error {
	work := make(chan string)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for w := range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range work {
				if err := fn(w, key); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	// The error taken here is kept, not put back: another worker may fill
	// the channel meanwhile, and a send would then block for good.
	var first error
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		case first = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first != nil {
		return first
	}
	select {
	case err := <-errs:
		return err
	default:
	}
	return ctx.Err()
}

// zero reports whether v has no direction (HasDirection): it is no
// vector at all to search.
func zero(v []float32) bool { return !HasDirection(v) }

// unit is v scaled to length 1, worked out in float64 (chromem-go's own
// float32 sum of squares of a tiny vector is 0, and its quotients NaN);
// ok is false when v has no direction.
func unit(v []float32) ([]float32, bool) {
	if !HasDirection(v) {
		return nil, false
	}
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	n := 1 / math.Sqrt(sum)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * n)
	}
	return out, HasDirection(out)
}

// HasDirection reports whether v can be compared by cosine similarity:
// every number finite, not all of them zero. An embedding without one (a
// broken model's) ranks nothing: its similarities would be NaN.
func HasDirection(v []float32) bool {
	some := false
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
		some = some || x != 0
	}
	return some
}

// FileChunks reads the chunks stored for one file of the catalog, in
// document order, without loading the index: `rag show` needs no more.
func (s *Local) FileChunks(ctx context.Context, f FileEntry) ([]Chunk, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validKey(f.Key) {
		return nil, &CorruptError{Path: filepath.Join(s.dir, catalogName), Err: fmt.Errorf("bad entry for %s", f.Path)}
	}
	chunks, err := s.readObject(f.Key)
	if err != nil {
		return nil, err
	}
	if len(chunks) != f.Chunks {
		return nil, &CorruptError{Path: s.objectPath(f.Key), Err: fmt.Errorf("%d chunks, catalog says %d", len(chunks), f.Chunks)}
	}
	return chunks, nil
}

// Verify reads every object the catalog names and checks it against the
// catalog; it returns the damaged ones with the files they hold. It is
// `rag status --verify`.
func (s *Local) Verify(ctx context.Context) (chunks int, damaged []Damage, err error) {
	m := s.Manifest()
	seen := map[string]int{}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		n, ok := seen[f.Key]
		if !ok {
			n = -1
			cs, err := s.readObject(f.Key)
			var c *CorruptError
			switch {
			case errors.As(err, &c):
				s.noteDamage(f.Key, c)
			case err != nil:
				return 0, nil, err
			default:
				n = len(cs)
				for _, ch := range cs {
					if len(ch.Vector) != m.Dims {
						s.noteDamage(f.Key, &CorruptError{Path: s.objectPath(f.Key), Err: fmt.Errorf("vector of %d dimensions, want %d", len(ch.Vector), m.Dims)})
						n = -1
						break
					}
				}
				if n >= 0 && n != f.Chunks {
					s.noteDamage(f.Key, &CorruptError{Path: s.objectPath(f.Key), Err: fmt.Errorf("%d chunks, catalog says %d", n, f.Chunks)})
					n = -1
				}
			}
			seen[f.Key] = n
		}
		if n > 0 {
			chunks += n
		}
	}
	return chunks, s.Damaged(), nil
}

// DiskUsage is the number of bytes the index folder takes.
func (s *Local) DiskUsage() (int64, error) {
	var n int64
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// Search implements Store.
func (s *Local) Search(ctx context.Context, view View, vec []float32, k int) ([]Hit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k <= 0 || s.manifest.Chunks() == 0 {
		return nil, nil
	}
	if len(vec) != s.manifest.Dims {
		return nil, &ModelMismatchError{IndexModel: s.manifest.EmbedModel, IndexDims: s.manifest.Dims, Model: s.manifest.EmbedModel, Dims: len(vec)}
	}
	vec, ok := unit(vec)
	if !ok {
		return nil, nil // every similarity would be NaN
	}
	return s.withView(ctx, func(v *cacheView) ([]Hit, error) {
		sc := s.scopeOf(v, view)
		if sc.n == 0 {
			return nil, nil
		}
		return s.searchVectors(ctx, v, &sc, vec, k)
	})
}

// sortHits orders hits best first, ties by id: chromem-go leaves the order
// of equal scores to its workers, and results must not change from run to
// run, or between a search that loaded the vectors and one that did not.
func sortHits(hits []Hit) {
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
}

// SearchText implements Store: BM25 over the chunk texts and headings,
// the keyword indexes of the cache segments searched as one. It loads no
// vector: it reads the index pages of the query's terms and the objects of
// the hits alone, so a cold lexical search costs a small part of a load.
func (s *Local) SearchText(ctx context.Context, view View, query string, k int) ([]Hit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k <= 0 {
		return nil, nil
	}
	return s.withView(ctx, func(v *cacheView) ([]Hit, error) {
		sc := s.scopeOf(v, view)
		if sc.n == 0 {
			return nil, nil
		}
		return s.searchText(ctx, v, &sc, query, k)
	})
}

// searchText ranks over the segments' keyword indexes and turns the best
// rows into hits. Chunks of damaged objects are passed over, so it asks
// for more until k are found or there are no more.
func (s *Local) searchText(ctx context.Context, v *cacheView, sc *scope, query string, k int) ([]Hit, error) {
	parts := make([]lexical.Part, len(v.segs))
	for i, g := range v.segs {
		parts[i] = lexical.Part{R: g.lex, Live: sc.live(v, i)}
	}
	read := map[string]objectText{} // objects read for this query
	for n := k; ; n *= 2 {
		found, att, err := lexical.SearchPartsKnown(query, n, parts, func(part int, doc uint32) int { return s.rowID(v, sc, part, int(doc)) })
		if err != nil {
			return nil, err
		}
		var hits []Hit
		for _, h := range found {
			more, err := s.rowHits(ctx, v, sc, h.Part, int(h.Doc), h.Score, read)
			if err != nil {
				return nil, err
			}
			if att.All > 0 {
				for i := range more {
					more[i].Coverage = min(more[i].Score/att.All, 1)
					more[i].Known = att.Known / att.All
				}
			}
			hits = append(hits, more...)
		}
		if len(hits) >= k || len(found) < n {
			sortHits(hits)
			return hits[:min(k, len(hits))], nil
		}
	}
}

// lazyHit makes chunk id, scored, into a Hit: from the loaded chunks, or by
// reading its object (kept in read for the query's other hits). ok is false
// for a chunk that cannot be read (its object is damaged, which is noted)
// or that holds no vector.
func (s *Local) lazyHit(ctx context.Context, id int, score float32, read map[string]objectText) (Hit, bool, error) {
	h := lexical.Hit{ID: id, Score: score}
	if err := ctx.Err(); err != nil {
		return Hit{}, false, err
	}
	base := s.bases()
	fi := sort.SearchInts(base, h.ID+1) - 1
	if h.ID < 0 || fi < 0 || h.ID-base[fi] >= s.manifest.Files[fi].Chunks {
		return Hit{}, false, nil // past the catalog's chunks: a damaged index
	}
	f := s.manifest.Files[fi]
	if s.isDamaged(f.Key) {
		return Hit{}, false, nil
	}
	obj, ok := read[f.Key]
	if !ok {
		obj, ok = s.texts.get(s.textKey(f.Key))
	}
	i := h.ID - base[fi]
	if !ok {
		// A version 3 object: the hit's own record, not the whole object.
		one, err := s.cachedChunk(f, i)
		var corrupt *CorruptError
		switch {
		case err == nil && !one.usable[0]:
			return Hit{}, false, nil
		case err == nil:
			c := one.chunks[0]
			return Hit{ID: h.ID, File: f, StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Heading: c.Heading, Text: c.Text, Score: h.Score}, true, nil
		case errors.As(err, &corrupt):
			s.noteDamage(f.Key, corrupt)
			return Hit{}, false, nil
		case !errors.Is(err, errNoTable):
			return Hit{}, false, err
		}
	}
	if !ok {
		var err error
		obj, err = s.readObjectText(f.Key)
		var c *CorruptError
		switch {
		case errors.As(err, &c):
			s.noteDamage(f.Key, c)
			return Hit{}, false, nil
		case err != nil:
			return Hit{}, false, err
		case len(obj.chunks) != f.Chunks:
			s.noteDamage(f.Key, &CorruptError{Path: s.objectPath(f.Key), Err: fmt.Errorf("%d chunks, catalog says %d", len(obj.chunks), f.Chunks)})
			return Hit{}, false, nil
		}
		s.texts.put(s.textKey(f.Key), obj)
	}
	read[f.Key] = obj
	c := obj.chunks[i]
	if obj.dims != s.manifest.Dims || !obj.usable[i] {
		return Hit{}, false, nil
	}
	return Hit{ID: h.ID, File: f, StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Heading: c.Heading, Text: c.Text, Score: h.Score}, true, nil
}

// cachedChunk is chunk i of f's object (version 3) as one chunk's
// objectText, kept as objects' texts are for the store's later searches.
func (s *Local) cachedChunk(f FileEntry, i int) (objectText, error) {
	ck := s.textKey(f.Key + "#" + strconv.Itoa(i))
	if one, ok := s.texts.get(ck); ok {
		return one, nil
	}
	c, usable, err := s.chunkAt(f, i)
	if err != nil {
		return objectText{}, err
	}
	one := objectText{chunks: []Chunk{c}, usable: []bool{usable}, dims: s.manifest.Dims}
	s.texts.put(ck, one)
	return one, nil
}

// Close implements Store. A writer removes the objects no catalog names
// (left by changed and deleted files, or by a crashed run), then releases
// its lock.
func (s *Local) Close() (err error) {
	defer s.wrapWritable(&err)
	sizeErr := s.waitSizes() // no stat outlives the store
	if s.listed != nil {
		<-s.listed // nor the listing of the objects
	}
	// What an interrupted run gathered is written too: its contents are
	// stored, and the next run's catalog may name them.
	segErr := s.stopSegments()
	s.mu.Lock()
	s.base = nil
	errs := []error{sizeErr, segErr, s.dropView()}
	s.mu.Unlock()
	if s.lock != nil {
		if s.ready && !s.opt.Rebuild {
			// Damage found after the last commit (reading objects into
			// the caches) stays known too.
			m := s.Manifest()
			errs = append(errs, s.recordDamage(&m), s.collectGarbage(context.Background()))
		}
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	errs = append(errs, s.unlockReaders())
	return errors.Join(errs...)
}

// syncObjects makes the objects written since the last commit durable, so
// that no catalog ever names an object a crash could lose.
func (s *Local) syncObjects() error {
	s.mu.Lock()
	paths := s.unsynced
	s.unsynced = nil
	s.mu.Unlock()
	if len(paths) == 0 {
		return nil
	}
	if done, err := syncFS(s.dir); done || err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return err
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if err := filestat.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it over path, so readers see the old or the new file, never a torn one.
// With durable, the file and its folder are synced too. Fault tests stop
// it half written (what+"-half-written") and before the rename
// (what+"-written").
func (s *Local) writeFileAtomic(path string, data []byte, what string, durable bool) error {
	a := filestat.Atomic{Temp: ".tmp-*", NoSync: !durable, CreateTemp: s.createTemp, Written: func() { s.hook(what + "-written") }}
	return a.WriteFile(path, func(w io.Writer) error {
		if _, err := w.Write(data[:len(data)/2]); err != nil {
			return err
		}
		s.hook(what + "-half-written")
		_, err := w.Write(data[len(data)/2:])
		return err
	})
}

// Stale reports whether a commit has replaced the catalog this reader
// opened: a long-lived reader (rag chat, rag mcp) opens the index again
// then, so that its next query sees what `rag index` changed. Every commit
// renames a new file over the catalog, so the file is another one; its
// time and size tell it apart should it reuse the old file's inode.
func (s *Local) Stale() bool {
	if s.opt.Write || s.opt.Rebuild {
		return false // a writer's catalog is the one it commits
	}
	cur, _ := currentName(s.dir)
	if cur == "" || s.opened == nil {
		return true
	}
	fi, err := os.Stat(filepath.Join(s.dir, cur))
	return err != nil || !os.SameFile(fi, s.opened) || !fi.ModTime().Equal(s.opened.ModTime()) || fi.Size() != s.opened.Size()
}
