package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// Damage is an object that is missing or cannot be read back, with the
// catalog's files whose content it holds: what a reader leaves out and
// `rag index` embeds again.
type Damage struct {
	Key   string
	Files []FileEntry
	Err   *CorruptError
}

// noteDamage records a damaged object; readers then skip it.
func (s *Local) noteDamage(key string, err *CorruptError) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if _, ok := s.damaged[key]; !ok {
		s.damaged[key] = err
	}
}

func (s *Local) isDamaged(key string) bool {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	_, ok := s.damaged[key]
	return ok
}

// Damaged lists the damaged objects found so far, by the first path of
// their files: at open, missing and truncated ones (by size); once vectors
// are loaded, those that fail their checksum too; after CheckObjects or
// Verify, all of them.
func (s *Local) Damaged() []Damage {
	if s.sized != nil {
		<-s.sized // its error goes to CheckObjects or Close
	}
	m := s.Manifest()
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return damageOf(m, s.damaged)
}

func damageOf(m Manifest, damaged map[string]*CorruptError) []Damage {
	if len(damaged) == 0 {
		return nil
	}
	byKey := map[string]*Damage{}
	var out []*Damage
	for _, f := range m.Files {
		err, ok := damaged[f.Key]
		if !ok {
			continue
		}
		d := byKey[f.Key]
		if d == nil {
			d = &Damage{Key: f.Key, Err: err}
			byKey[f.Key] = d
			out = append(out, d)
		}
		d.Files = append(d.Files, f)
	}
	res := make([]Damage, len(out))
	for i, d := range out {
		res[i] = *d
	}
	return res
}

// DamagedPaths are the paths (as citations show them) of the files whose
// content is damaged, sorted and without repeats.
func DamagedPaths(ds []Damage) []string {
	seen := map[string]bool{}
	paths := []string{}
	for _, d := range ds {
		for _, f := range d.Files {
			if !seen[f.Path] {
				seen[f.Path] = true
				paths = append(paths, f.Path)
			}
		}
	}
	sort.Strings(paths)
	return paths
}

// CheckObjects finds damaged objects before `rag index` decides what to
// embed: a missing or truncated one by its size (found at open), any other
// damage by the checksum. Objects are written once, before the catalog that
// names them, and never changed: so only those whose status changed after
// the catalog was written (or after they last passed this check) are read
// and checked, one worker a CPU; a damaging write always changes it. Damage
// that no write made (the disk's own) is found when the object is read, and
// by `rag status --verify`, which reads every object. Objects found damaged
// before (the list of damagedName) are read whatever their time, and what
// is found damaged is listed before the next commit makes it look older
// than the catalog.
func (s *Local) CheckObjects(ctx context.Context) (_ []Damage, err error) {
	defer s.wrapWritable(&err)
	if err := s.waitSizes(); err != nil {
		return nil, err
	}
	m := s.Manifest()
	trusted := s.trustedUntil()
	s.dmu.Lock()
	suspect := maps.Clone(s.suspect)
	s.dmu.Unlock()
	want := map[string]FileEntry{}
	var keys []string
	for _, f := range m.Files {
		if _, ok := want[f.Key]; ok || s.isDamaged(f.Key) {
			continue
		}
		// Strictly before: file times are coarse (a clock tick of a few ms),
		// so a change in the tick the catalog was written may follow it.
		if c, ok := s.changed[f.Key]; ok && c != 0 && c < trusted && !suspect[f.Key] {
			continue
		}
		want[f.Key] = f
		keys = append(keys, f.Key)
	}
	bufs := make([][]byte, runtime.GOMAXPROCS(0)) // one a worker, reused: objects are read one at a time
	err = eachKey(ctx, keys, func(w int, key string) error {
		s.hook("check-object")
		var err error
		bufs[w], err = s.readBackObject(key, want[key], m.Dims, bufs[w])
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.recordDamage(&m); err != nil {
		return nil, err
	}
	damaged := s.Damaged()
	if len(damaged) == 0 && len(keys) > 0 {
		// All passed: they need no check again until they change.
		if err := s.markChecked(keys); err != nil {
			return nil, err
		}
	}
	return damaged, nil
}

// checkedName is a file whose modification time says until when objects
// that changed after the catalog was written have passed CheckObjects (an
// index copied with its times, say, whose objects all look changed).
const checkedName = "checked"

// trustedUntil is the time (Unix nanoseconds) up to which a change to an
// object is known not to be damage: the catalog's writing, or the last
// check that passed; 0 when not known (a recovered catalog).
func (s *Local) trustedUntil() int64 {
	if s.recovered != nil {
		return 0
	}
	cur, _ := currentName(s.dir)
	var t int64
	for _, name := range []string{cur, checkedName} {
		if name == "" {
			continue
		}
		if info, err := os.Stat(filepath.Join(s.dir, name)); err == nil {
			t = max(t, info.ModTime().UnixNano())
		}
	}
	return t
}

// markChecked records that the objects of keys passed their check: the
// checked file's time becomes just after the latest change among them.
func (s *Local) markChecked(keys []string) error {
	var latest int64
	for _, k := range keys {
		latest = max(latest, s.changed[k])
	}
	if latest == 0 || s.lock == nil {
		return nil
	}
	p := filepath.Join(s.dir, checkedName)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		return fmt.Errorf("record checked objects: %w", err)
	}
	t := time.Unix(0, latest+1)
	if err := os.Chtimes(p, t, t); err != nil {
		return fmt.Errorf("record checked objects: %w", err)
	}
	return nil
}

// readSized reads the object at p, of the size the catalog says (open
// checked it by stat), into buf: one open, one read and one close, which is
// most of what checking costs. A missing or short file is a CorruptError.
func readSized(p string, size int64, buf []byte) ([]byte, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return buf, &CorruptError{Path: p, Err: errObjectMissing}
	}
	if err != nil {
		return buf, err
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	_, err = io.ReadFull(f, buf)
	if cerr := f.Close(); err == nil && cerr != nil {
		return buf, cerr
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return buf, &CorruptError{Path: p, Err: errShort}
	}
	return buf, err
}

// checkObject checks an object's header and checksum against the catalog
// without decoding its chunks.
func checkObject(data []byte, chunks, dims int) error {
	if len(data) < 18 {
		return errShort
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if !bytes.Equal(body[:4], objectMagic[:]) {
		return errors.New("not a rag object file")
	}
	if v := binary.LittleEndian.Uint16(body[4:]); v != objectVersion && v != objectVersion2 {
		return fmt.Errorf("object version %d, want %d", v, objectVersion)
	}
	if crc32.ChecksumIEEE(body) != sum {
		return errors.New("checksum mismatch")
	}
	if n := int(binary.LittleEndian.Uint32(body[10:])); n != chunks {
		return fmt.Errorf("%d chunks, catalog says %d", n, chunks)
	}
	if d := int(binary.LittleEndian.Uint32(body[6:])); chunks > 0 && d != dims {
		return fmt.Errorf("vectors of %d dimensions, want %d", d, dims)
	}
	return nil
}

// catalogNames are the files that make a folder a rag index, the JSON
// ones of format versions 3 and 4 too.
var catalogNames = []string{catalogName, prevName, stagingName, legacyName, legacyPrevName, legacyStagingName}

// indexNames are every name an index folder holds.
var indexNames = map[string]bool{catalogName: true, prevName: true, stagingName: true, legacyName: true, legacyPrevName: true,
	legacyStagingName: true, lockName: true, readersName: true, "keywords.idx": true, "vectors.idx": true, checkedName: true,
	"objects": true, segmentsDir: true, collectedName: true, accessMarkName: true, damagedName: true}

// IsCatalogDir reports whether the folder dir of fsys, holding the entries
// names, is a rag index: it holds a catalog (of any format version). The
// ingest walk uses it so that an index is never indexed.
func IsCatalogDir(fsys fs.FS, dir string, names []string) bool {
	for _, n := range names {
		if slices.Contains(catalogNames, n) {
			if f, err := fsys.Open(path.Join(dir, n)); err == nil && startsCatalog(f, n) {
				return true
			}
		}
	}
	return false
}

// HoldsCatalog reports whether the folder dir holds a rag catalog.
func HoldsCatalog(dir string) bool {
	for _, c := range catalogNames {
		if f, err := os.Open(filepath.Join(dir, c)); err == nil && startsCatalog(f, c) {
			return true
		}
	}
	return false
}

// startsCatalog reports whether f, the catalog file name, starts as a
// catalog of some version does, and closes it: the binary catalog starts
// with its magic, and rag wrote format_version first in the JSON ones, so
// the first bytes tell, also of a damaged catalog, without reading (or
// parsing) the rest.
func startsCatalog(f fs.File, name string) bool {
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head) // a short file is judged by what it has
	if err := f.Close(); err != nil {
		return false
	}
	if !isLegacy(name) {
		return bytes.HasPrefix(head[:n], catalogMagic[:])
	}
	rest, ok := bytes.CutPrefix(bytes.TrimLeft(head[:n], " \t\r\n"), []byte("{"))
	return ok && bytes.HasPrefix(bytes.TrimLeft(rest, " \t\r\n"), []byte(`"format_version"`))
}

// NotIndexError means a folder given as an index is something else: a file,
// or a folder holding other files, which rag would otherwise write into.
type NotIndexError struct {
	Dir string
	// File is true when Dir is a file.
	File bool
}

func (e *NotIndexError) Error() string {
	if e.File {
		return fmt.Sprintf("index folder %s is a file, not a folder", e.Dir)
	}
	return fmt.Sprintf("%s is not a rag index: it holds other files", e.Dir)
}

// CheckDir reports whether dir can be an index folder: one that does not
// exist yet, an empty one, or one holding an index (a catalog, or only the
// files an index holds, as a first run that stopped early leaves). Anything
// else is a NotIndexError.
func CheckDir(dir string) error {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("open index: %w", err)
	case !info.IsDir():
		return &NotIndexError{Dir: dir, File: true}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil // Open says what is wrong
		}
		return fmt.Errorf("open index: %w", err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	if IsCatalogDir(os.DirFS(dir), ".", names) {
		return nil
	}
	for _, n := range names {
		// Hidden files are a file manager's (.DS_Store) or rag's own temporary files.
		if !indexNames[n] && !strings.HasPrefix(n, ".") {
			return &NotIndexError{Dir: dir}
		}
	}
	return nil
}

// NotWritableError means the index folder cannot be written: read-only
// media or permissions.
type NotWritableError struct {
	Dir string
	Err error
}

func (e *NotWritableError) Error() string {
	return fmt.Sprintf("cannot write to the index folder %s: %v", e.Dir, e.Err)
}
func (e *NotWritableError) Unwrap() error { return e.Err }

// writable wraps a permission or read-only error of the index folder.
func (s *Local) writable(err error) error {
	var nw *NotWritableError
	if errors.As(err, &nw) {
		return err
	}
	if errors.Is(err, fs.ErrPermission) || isReadOnlyFS(err) {
		return &NotWritableError{Dir: s.dir, Err: err}
	}
	return err
}

// wrapWritable makes *err a NotWritableError when it is a permission or
// read-only error: deferred by every method that writes the index folder,
// so that a folder that cannot be written (read-only, immutable, another
// owner's) is exit 7 with its hint wherever the write failed, not only at
// the lock.
func (s *Local) wrapWritable(err *error) {
	if *err != nil {
		*err = s.writable(*err)
	}
}
