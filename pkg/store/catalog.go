package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"
	"unsafe"

	"github.com/rag-cli/rag/pkg/filestat"
)

// The catalog of format version 8 is a little-endian binary file, written
// and read by hand as objects are (the JSON of versions 3 and 4 took 60 ms
// of every no-op `rag index` at 7,750 files to decode):
//
//	"RAGM" | format version u32
//	embed model | dims | chunk target | chunk overlap | generation | created | updated | flags (1 access control)
//	tenants: count × tenant
//	access lists: principals in all | count × ( count × principal )
//	sources: count × ( path | flags (1 file, 2 hidden, 4 collection, 8 inherits tenant, 16 allow, 32 collection,
//	                   64 walk) | [ collection ] | count × include glob |
//	                   count × exclude glob | tenant number | allow list number |
//	                   count × removed path )
//	roots: count × root
//	files: count × ( root number | tenant number | access list number | path | hash | key | size | chunks |
//	                 object size | indexed at | format | meta | seen? (0 or 1) [ size | mtime | ctime | inode | read at ] )
//	problems: count × ( root number | path | reason | failed (0 or 1) )
//	crc32-IEEE of all the above, u32
//
// Counts, string lengths, table numbers and inodes are uvarints; other
// integers are zig-zag varints; a string is its length and its bytes; a
// time is its seconds since 1970 (varint) and nanoseconds (uvarint), in UTC.
// Every folder files are indexed under is stored once, in the roots table,
// and named by its number. So are the tenants but the default one "" (tenant
// number 0 is "", n the nth of the table) and the distinct lists of
// principals, files' access and sources' --allow: most files share a handful
// (list number 0 is no list, nil; n the nth of the table, which may be
// empty). A file's metadata (front matter: any values) is kept as JSON,
// empty for none, and decoded only when present. Format 5 is the same
// without the flags, the tables of tenants and access lists and the tenant
// and list numbers; format 6 without collections (flag 4 of a source);
// format 7 without what a source inherits (flags 8 to 64) or its removed
// paths: its sources never nested (a folder took over the sources inside it), so each has
// settings of its own, which is what it reads as. Later
// versions keep the magic and version first and the
// CRC-32 of all before it last, so that a rag tells a newer catalog (refused
// with a hint to rebuild) from a damaged one (read from the previous
// catalog).
var catalogMagic = [4]byte{'R', 'A', 'G', 'M'}

// The catalog files of an index (see docs/index-format.md).
const (
	catalogName = "catalog"      // the current catalog: the one commit point
	prevName    = "catalog.prev" // the catalog before the last commit
	stagingName = "catalog.next" // the catalog of a rebuild in progress

	// The JSON catalogs of format versions 3 and 4: read as before, and
	// replaced by the binary ones at the first commit.
	legacyName        = "manifest.json"
	legacyPrevName    = "manifest.prev.json"
	legacyStagingName = "manifest.next.json"
)

// isLegacy reports whether a catalog file name is one of the JSON ones.
func isLegacy(name string) bool {
	return name == legacyName || name == legacyPrevName || name == legacyStagingName
}

// encodeCatalog returns the catalog file of m, of the current format version.
func encodeCatalog(m *Manifest) ([]byte, error) {
	w := catWriter{b: make([]byte, 0, 64+len(m.Files)*256)}
	w.b = append(w.b, catalogMagic[:]...)
	w.b = binary.LittleEndian.AppendUint32(w.b, FormatVersion)
	w.str(m.EmbedModel)
	w.int(int64(m.Dims))
	w.int(int64(m.ChunkTarget))
	w.int(int64(m.ChunkOverlap))
	w.str(m.Generation)
	w.time(m.Created)
	w.time(m.Updated)
	w.bool(m.AccessControl)

	t := newCatTables()
	for _, s := range m.Sources {
		t.tenant(s.Tenant)
		t.list(s.Allow)
	}
	for _, f := range m.Files {
		t.tenant(f.Tenant)
		t.list(f.Access)
	}
	w.tables(t)
	w.sources(m.Sources, t)
	roots := w.roots(m)
	if err := w.files(m.Files, roots, t); err != nil {
		return nil, err
	}
	w.count(len(m.Problems))
	for _, p := range m.Problems {
		w.count(roots[p.Root])
		w.str(p.Path)
		w.str(p.Reason)
		w.bool(p.Failed)
	}
	return binary.LittleEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b)), nil
}

// tables writes the tables of tenants and lists of principals.
func (w *catWriter) tables(t *catTables) {
	w.strs(t.tenantOrder)
	total := 0
	for _, l := range t.listOrder {
		total += len(l)
	}
	w.count(total)
	w.count(len(t.listOrder))
	for _, l := range t.listOrder {
		w.strs(l)
	}
}

// sources writes the sources, naming tenants and lists by their number in t.
func (w *catWriter) sources(sources []Source, t *catTables) {
	w.count(len(sources))
	for _, s := range sources {
		w.str(s.Path)
		var flags byte
		if s.File {
			flags |= 1
		}
		if s.Hidden {
			flags |= 2
		}
		if s.Collection != "" {
			flags |= 4
		}
		flags |= byte(s.Inherit&inheritAll) << 3
		w.b = append(w.b, flags)
		if s.Collection != "" {
			w.str(s.Collection)
		}
		w.strs(s.Include)
		w.strs(s.Exclude)
		w.count(t.tenant(s.Tenant))
		w.count(t.list(s.Allow))
		w.strs(s.Removed)
	}
}

// roots writes the table of the roots of m's files and problems, in the
// order they are first met, and returns their numbers.
func (w *catWriter) roots(m *Manifest) map[string]int {
	roots := map[string]int{}
	var order []string
	root := func(r string) {
		if _, ok := roots[r]; !ok {
			roots[r] = len(order)
			order = append(order, r)
		}
	}
	for _, f := range m.Files {
		root(f.Root)
	}
	for _, p := range m.Problems {
		root(p.Root)
	}
	w.strs(order)
	return roots
}

// files writes the files, naming roots, tenants and lists by their number.
func (w *catWriter) files(files []FileEntry, roots map[string]int, t *catTables) error {
	w.count(len(files))
	for _, f := range files {
		w.count(roots[f.Root])
		w.count(t.tenant(f.Tenant))
		w.count(t.list(f.Access))
		w.str(f.Path)
		w.str(f.Hash)
		w.str(f.Key)
		w.int(f.Size)
		w.int(int64(f.Chunks))
		w.int(f.ObjectSize)
		w.time(f.IndexedAt)
		w.str(f.Format)
		if len(f.Meta) == 0 {
			w.str("")
		} else {
			meta, err := json.Marshal(f.Meta)
			if err != nil {
				return fmt.Errorf("metadata of %s: %w", f.Path, err)
			}
			w.count(len(meta))
			w.b = append(w.b, meta...)
		}
		if f.Seen == nil {
			w.b = append(w.b, 0)
			continue
		}
		w.b = append(w.b, 1)
		w.int(f.Seen.Size)
		w.int(f.Seen.MTime)
		w.int(f.Seen.CTime)
		w.b = binary.AppendUvarint(w.b, f.Seen.Inode)
		w.int(f.Seen.ReadAt)
	}
	return nil
}

// catTables numbers the tenants and the distinct lists of principals of a
// catalog being written, in the order they are first met.
type catTables struct {
	tenants     map[string]int
	tenantOrder []string
	lists       map[string]int // by key (each principal's length and bytes)
	listOrder   [][]string
	key         []byte
	// last is the last list numbered: files in a row often share one.
	last  []string
	lastN int
}

func newCatTables() *catTables {
	return &catTables{tenants: map[string]int{}, lists: map[string]int{}}
}

// tenant returns the number of tenant name: 0 for the default tenant "".
func (t *catTables) tenant(name string) int {
	if name == "" {
		return 0
	}
	n, ok := t.tenants[name]
	if !ok {
		t.tenantOrder = append(t.tenantOrder, name)
		n = len(t.tenantOrder)
		t.tenants[name] = n
	}
	return n
}

// list returns the number of the list of principals l: 0 for nil, and the
// same number for every list of the same principals in the same order.
func (t *catTables) list(l []string) int {
	if l == nil {
		return 0
	}
	if t.lastN > 0 && len(l) == len(t.last) && (len(l) == 0 || &l[0] == &t.last[0]) {
		return t.lastN
	}
	t.key = t.key[:0]
	for _, p := range l {
		t.key = binary.AppendUvarint(t.key, uint64(len(p)))
		t.key = append(t.key, p...)
	}
	n, ok := t.lists[string(t.key)] // no allocation for the lookup
	if !ok {
		t.listOrder = append(t.listOrder, l)
		n = len(t.listOrder)
		t.lists[string(t.key)] = n
	}
	t.last, t.lastN = l, n
	return n
}

type catWriter struct{ b []byte }

func (w *catWriter) count(n int)  { w.b = binary.AppendUvarint(w.b, uint64(n)) }
func (w *catWriter) int(v int64)  { w.b = binary.AppendVarint(w.b, v) }
func (w *catWriter) str(s string) { w.count(len(s)); w.b = append(w.b, s...) }

func (w *catWriter) strs(ss []string) {
	w.count(len(ss))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *catWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *catWriter) time(t time.Time) {
	w.int(t.Unix())
	w.count(t.Nanosecond())
}

// decodeCatalog reads a catalog file (p names it in errors), which it keeps:
// the catalog's strings are parts of data, which must not change after.
// Damage is a CorruptError, a catalog of another format version a
// VersionError.
func decodeCatalog(p string, data []byte) (*Manifest, error) {
	corrupt := func(err error) error { return &CorruptError{Path: p, Err: err, Catalog: true} }
	if len(data) < 12 || !bytes.Equal(data[:4], catalogMagic[:]) {
		return nil, corrupt(errors.New("not a rag catalog"))
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, corrupt(errors.New("checksum mismatch"))
	}
	// Whole, so the version is what was written: a newer rag's catalog may
	// be laid out otherwise. Binary catalogs start at version 5.
	v := binary.LittleEndian.Uint32(data[4:])
	if v < firstBinaryVersion || v > FormatVersion {
		if v > FormatVersion && v <= math.MaxInt32 {
			return nil, &VersionError{Path: p, Got: int(v)}
		}
		return nil, corrupt(fmt.Errorf("format version %d", v))
	}
	// Every string of the catalog is a part of the file's bytes, which no
	// one changes after (readCatalogFile's buffer is the decoder's alone):
	// no copy of them, and none of each string. (The copy was 1.6 MB of
	// fresh memory at 7,750 files, which costs as much as decoding.)
	m, err := decodeCatalogBody(unsafe.String(unsafe.SliceData(body[8:]), len(body)-8), int(v))
	if err != nil {
		return nil, corrupt(err)
	}
	return m, nil
}

// firstBinaryVersion is the first format version whose catalog is binary.
const firstBinaryVersion = 5

// decodeCatalogBody decodes what follows the magic and version v (5 to
// 8), and checks it as checkManifest does. Every string is a part of b,
// which is the file's one copy: no allocation a string, nor a list of
// principals (the lists of the table share one array).
func decodeCatalogBody(b string, v int) (*Manifest, error) {
	d := catDecoder{catReader: catReader{b: b}, v: v}
	m := &Manifest{FormatVersion: v}
	m.EmbedModel = d.str()
	m.Dims = d.int()
	m.ChunkTarget = d.int()
	m.ChunkOverlap = d.int()
	m.Generation = d.str()
	m.Created = d.time()
	m.Updated = d.time()
	if v >= 6 {
		m.AccessControl = d.tables()
	}
	m.Sources = d.sources()
	d.roots = d.strs()
	var err error
	if m.Files, err = d.files(); err != nil {
		return nil, err
	}
	m.Problems = d.problems()
	if d.err == nil && d.off != len(d.b) {
		d.fail(errors.New("trailing bytes"))
	}
	if d.err != nil {
		return nil, d.err
	}
	if m.Generation == "" || m.Dims < 0 {
		return nil, errMissing
	}
	return m, nil
}

// catDecoder reads the parts of a catalog of format version v, and the
// tables they name tenants, lists of principals and roots by the number
// of.
type catDecoder struct {
	catReader
	v          int
	tenants    []string
	principals [][]string
	roots      []string
}

// tables reads the catalog's flags, which it returns (access control),
// and its tables of tenants and lists (version 6 on). Version 5 has no
// tenants nor access: every number of them is then 0, the default tenant
// and no list.
func (d *catDecoder) tables() (accessControl bool) {
	switch flags := d.byte(); flags {
	case 0:
	case 1:
		accessControl = true
	default:
		d.fail(fmt.Errorf("catalog flags %#x", flags))
	}
	d.tenants = d.strs()
	d.principals = d.lists()
	return accessControl
}

// tenant reads a tenant number.
func (d *catDecoder) tenant() string {
	if d.v < 6 {
		return ""
	}
	if n := d.number(len(d.tenants) + 1); n > 0 {
		return d.tenants[n-1]
	}
	return ""
}

// list reads a list number.
func (d *catDecoder) list() []string {
	if d.v < 6 {
		return nil
	}
	if n := d.number(len(d.principals) + 1); n > 0 {
		return d.principals[n-1]
	}
	return nil
}

// root reads a root number.
func (d *catDecoder) root() string {
	if n := d.number(len(d.roots)); n >= 0 {
		return d.roots[n]
	}
	return ""
}

// sources reads the sources: nil for none.
func (d *catDecoder) sources() []Source {
	n := d.count()
	if n <= 0 {
		return nil
	}
	known := byte(3)
	switch {
	case d.v >= 8:
		known = 0x7f // and what it inherits
	case d.v == 7:
		known = 7 // collections
	}
	sources := make([]Source, n)
	for i := range sources {
		s := &sources[i]
		s.Path = d.str()
		flags := d.byte()
		s.File, s.Hidden = flags&1 != 0, flags&2 != 0
		if flags&^known != 0 {
			d.fail(fmt.Errorf("source flags %#x", flags))
		}
		s.Inherit = Settings(flags>>3) & inheritAll
		if flags&4 != 0 {
			s.Collection = d.str()
		}
		s.Include = d.strs()
		s.Exclude = d.strs()
		s.Tenant = d.tenant()
		s.Allow = d.list()
		if d.v >= 8 {
			s.Removed = d.strs()
		}
	}
	return sources
}

// files reads the files, checking each: nil for none.
func (d *catDecoder) files() ([]FileEntry, error) {
	n := d.count()
	if n <= 0 {
		return nil, nil
	}
	files := make([]FileEntry, n)
	seen := make([]Seen, n) // one allocation for all
	for i := range files {
		if d.err != nil {
			return nil, d.err
		}
		f := &files[i]
		f.Root = d.root()
		f.Tenant = d.tenant()
		f.Access = d.list()
		f.Path = d.str()
		f.Hash = d.str()
		f.Key = d.str()
		f.Size = d.int64()
		f.Chunks = d.int()
		f.ObjectSize = d.int64()
		f.IndexedAt = d.time()
		f.Format = d.str()
		if meta := d.str(); meta != "" {
			if err := json.Unmarshal([]byte(meta), &f.Meta); err != nil {
				return nil, fmt.Errorf("metadata of %s: %w", f.Path, err)
			}
		}
		if err := checkFile(f); d.err == nil && err != nil {
			return nil, err
		}
		switch d.byte() {
		case 0:
		case 1:
			s := &seen[i]
			s.Size, s.MTime, s.CTime, s.Inode, s.ReadAt = d.int64(), d.int64(), d.int64(), d.uvarint(), d.int64()
			f.Seen = s
		default:
			d.fail(errors.New("bad seen flag"))
		}
	}
	return files, nil
}

// problems reads the problems: nil for none.
func (d *catDecoder) problems() []Problem {
	n := d.count()
	if n <= 0 {
		return nil
	}
	problems := make([]Problem, n)
	for i := range problems {
		p := &problems[i]
		p.Root = d.root()
		p.Path = d.str()
		p.Reason = d.str()
		switch d.byte() {
		case 0:
		case 1:
			p.Failed = true
		default:
			d.fail(errors.New("bad problem flag"))
		}
	}
	return problems
}

// catReader reads the catalog's fields from b, at off. The first error
// sticks (and moves off to the end, so that every later read is short and
// cheap); the caller checks err once in a while.
type catReader struct {
	b   string
	off int
	err error
}

func (r *catReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.off = len(r.b)
}

func (r *catReader) uvarint() uint64 {
	if r.off < len(r.b) && r.b[r.off] < 0x80 { // most numbers here are small
		r.off++
		return uint64(r.b[r.off-1])
	}
	var x uint64
	var s uint
	for i := r.off; i < len(r.b) && i-r.off < binary.MaxVarintLen64; i++ {
		c := r.b[i]
		if c < 0x80 {
			if i-r.off == binary.MaxVarintLen64-1 && c > 1 {
				break // overflows 64 bits
			}
			r.off = i + 1
			return x | uint64(c)<<s
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	r.fail(errShort)
	return 0
}

func (r *catReader) int64() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (r *catReader) int() int {
	v := r.int64()
	if int64(int(v)) != v {
		r.fail(fmt.Errorf("number %d out of range", v))
		return 0
	}
	return int(v)
}

// count reads a count or length: each counted thing takes at least a
// byte, so one larger than what is left is damage (and no huge
// allocation follows).
func (r *catReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)-r.off) {
		r.fail(errShort)
		return 0
	}
	return int(n)
}

// number reads the number of an entry of a table of n entries, -1 when
// there is no such entry. (Not a count: a number may well be larger than
// what is left of the file.)
func (r *catReader) number(n int) int {
	x := r.uvarint()
	if x >= uint64(n) {
		r.fail(fmt.Errorf("entry %d of a table of %d", x, n))
		return -1
	}
	return int(x)
}

func (r *catReader) str() string {
	n := r.count()
	r.off += n
	return r.b[r.off-n : r.off]
}

func (r *catReader) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.str()
	}
	return ss
}

// lists reads the table of lists of principals: each list is a part of
// one array, clipped (appending to one copies it), and an empty list is
// not nil. Two allocations in all, none when the table is empty.
func (r *catReader) lists() [][]string {
	total, n := r.count(), r.count()
	if n == 0 {
		if total != 0 {
			r.fail(errors.New("principals of no access list"))
		}
		return nil
	}
	all := make([]string, total) // not nil, even empty
	lists := make([][]string, n)
	k := 0
	for i := range lists {
		c := r.count()
		if c > total-k {
			r.fail(errors.New("access lists longer than said"))
			return nil
		}
		l := all[k : k+c : k+c]
		for j := range l {
			l[j] = r.str()
		}
		lists[i] = l
		k += c
	}
	if k != total {
		r.fail(errors.New("access lists shorter than said"))
		return nil
	}
	return lists
}

func (r *catReader) byte() byte {
	if r.off >= len(r.b) {
		r.fail(errShort)
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *catReader) time() time.Time {
	sec := r.int64()
	ns := r.uvarint()
	if ns >= 1e9 {
		r.fail(fmt.Errorf("%d nanoseconds", ns))
		return time.Time{}
	}
	return time.Unix(sec, int64(ns)).UTC()
}

// checkManifest checks what the rest of rag relies on: a generation, a
// vector size and, for every file, an object key that is a file name and
// counts that are not negative.
func checkManifest(m *Manifest) error {
	if m.Generation == "" || m.Dims < 0 {
		return errMissing
	}
	for i := range m.Files {
		if err := checkFile(&m.Files[i]); err != nil {
			return err
		}
	}
	return nil
}

var errMissing = errors.New("missing generation or bad vector size")

func checkFile(f *FileEntry) error {
	if !validKey(f.Key) || f.Chunks < 0 || f.ObjectSize <= 0 {
		return fmt.Errorf("bad entry for %s", f.Path)
	}
	return nil
}

// readCatalogFile reads the catalog file dir/name, binary or (by its
// name) JSON; it returns nil, nil when there is none.
func readCatalogFile(dir, name string) (*Manifest, error) {
	p := filepath.Join(dir, name)
	data, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("open index: %w", err)
	case isLegacy(name):
		return parseManifest(p, data)
	default:
		return decodeCatalog(p, data)
	}
}

// currentName is the name of dir's current catalog: the binary one, else
// the JSON one of format versions 3 and 4 (an index that no rag of version
// 5 or later has committed to yet); a reader finding both reads the binary
// one, which the commit that writes it makes durable before it removes the
// JSON files. The names are empty when dir holds neither.
func currentName(dir string) (cur, prev string) {
	if _, err := os.Lstat(filepath.Join(dir, catalogName)); err == nil {
		return catalogName, prevName
	}
	if _, err := os.Lstat(filepath.Join(dir, legacyName)); err == nil {
		return legacyName, legacyPrevName
	}
	return "", ""
}

// readCatalog reads the current catalog, or the previous one when the
// current one is damaged; it then returns that damage too. Only damage
// falls back: a catalog of another version is not the previous one's
// fault. It returns nil when dir holds no catalog.
func readCatalog(dir string) (*Manifest, *CorruptError, error) {
	cur, prevName := currentName(dir)
	if cur == "" {
		return nil, nil, nil
	}
	m, err := readCatalogFile(dir, cur)
	var c *CorruptError
	if !errors.As(err, &c) {
		return m, nil, err
	}
	prev, perr := readCatalogFile(dir, prevName)
	if perr != nil || prev == nil {
		return nil, nil, err
	}
	return prev, c, nil
}

// readStaging reads the catalog of an unfinished rebuild (nil if none):
// the binary one, else one an older rag left.
func readStaging(dir string) (*Manifest, error) {
	m, err := readCatalogFile(dir, stagingName)
	if m != nil || err != nil {
		return m, err
	}
	return readCatalogFile(dir, legacyStagingName)
}

// parseManifest parses a JSON catalog of format version 3 or 4.
func parseManifest(p string, data []byte) (*Manifest, error) {
	// One strict decode; only when it fails or names another version is the
	// version probed alone, to tell another version from damage.
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.FormatVersion < oldestReadable || m.FormatVersion > lastJSONVersion {
		var probe struct {
			FormatVersion int `json:"format_version"`
		}
		if perr := json.Unmarshal(data, &probe); perr != nil {
			return nil, &CorruptError{Path: p, Err: perr, Catalog: true}
		}
		if probe.FormatVersion < oldestReadable || probe.FormatVersion > FormatVersion {
			return nil, &VersionError{Path: p, Got: probe.FormatVersion}
		}
		if probe.FormatVersion > lastJSONVersion {
			err = fmt.Errorf("format version %d is not JSON", probe.FormatVersion)
		}
		return nil, &CorruptError{Path: p, Err: err, Catalog: true}
	}
	if err := checkManifest(&m); err != nil {
		return nil, &CorruptError{Path: p, Err: err, Catalog: true}
	}
	return &m, nil
}

// lastJSONVersion is the last format version whose catalog is JSON.
const lastJSONVersion = 4

// writeCatalog writes m as the catalog file name, atomically and durably;
// what names the write's points for the crash tests' hooks.
func (s *Local) writeCatalog(name string, m *Manifest, what string) error {
	data, err := encodeCatalog(m)
	if err != nil {
		return err
	}
	return s.writeFileAtomic(filepath.Join(s.dir, name), data, what, true)
}

// finishMigration, for a writer, notes whether the JSON catalog files of
// format versions 3 and 4 are there (legacy: the next commit replaces
// them), and removes those that a migration killed after its commit left
// beside the whole binary catalog that replaced them (whole says it is).
// An older rag's unfinished rebuild stays, unless a binary one replaced it.
func (s *Local) finishMigration(whole bool) error {
	there := func(name string) bool {
		_, err := os.Lstat(filepath.Join(s.dir, name))
		return err == nil
	}
	s.legacy = there(legacyName) || there(legacyPrevName) || there(legacyStagingName)
	if !s.legacy || !whole {
		return nil
	}
	stale := []string{legacyName, legacyPrevName}
	if there(stagingName) {
		stale = append(stale, legacyStagingName)
	}
	if err := s.removeLegacy(stale...); err != nil {
		return fmt.Errorf("open index: %w", err)
	}
	s.legacy = there(legacyStagingName)
	return nil
}

// removeLegacy removes the JSON catalog files of names once the binary
// catalog that replaces them is durable, and makes the removal durable.
func (s *Local) removeLegacy(names ...string) error {
	removed := false
	for _, n := range names {
		err := os.Remove(filepath.Join(s.dir, n))
		switch {
		case err == nil:
			removed = true
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("remove the JSON catalog: %w", err)
		}
	}
	if !removed {
		return nil
	}
	s.hook("legacy-removed")
	return filestat.SyncDir(s.dir)
}

// Equal reports whether m and o are the same catalog, as written: `rag
// index` writes none when nothing changed. (reflect.DeepEqual of 7,750
// files took 10 ms of a no-op run.) A list of principals and an empty one
// differ, as the catalog keeps them apart.
func (m *Manifest) Equal(o *Manifest) bool {
	if m.FormatVersion != o.FormatVersion || m.EmbedModel != o.EmbedModel || m.Dims != o.Dims ||
		m.ChunkTarget != o.ChunkTarget || m.ChunkOverlap != o.ChunkOverlap || m.Generation != o.Generation ||
		!m.Created.Equal(o.Created) || !m.Updated.Equal(o.Updated) || m.AccessControl != o.AccessControl ||
		!slices.EqualFunc(m.Sources, o.Sources, sameSource) || !slices.Equal(m.Problems, o.Problems) {
		return false
	}
	return slices.EqualFunc(m.Files, o.Files, sameFile)
}

func sameSource(a, b Source) bool {
	return a.Path == b.Path && a.File == b.File && a.Hidden == b.Hidden &&
		slices.Equal(a.Include, b.Include) && slices.Equal(a.Exclude, b.Exclude) &&
		a.Tenant == b.Tenant && samePrincipals(a.Allow, b.Allow) && a.Collection == b.Collection && a.Inherit == b.Inherit &&
		slices.Equal(a.Removed, b.Removed)
}

func sameFile(a, b FileEntry) bool {
	if a.Root != b.Root || a.Path != b.Path || a.Hash != b.Hash || a.Key != b.Key || a.Size != b.Size ||
		a.Chunks != b.Chunks || a.ObjectSize != b.ObjectSize || !a.IndexedAt.Equal(b.IndexedAt) || a.Format != b.Format ||
		a.Tenant != b.Tenant || !samePrincipals(a.Access, b.Access) {
		return false
	}
	if (a.Seen == nil) != (b.Seen == nil) || a.Seen != nil && *a.Seen != *b.Seen {
		return false
	}
	return len(a.Meta) == 0 && len(b.Meta) == 0 || reflect.DeepEqual(a.Meta, b.Meta)
}

// samePrincipals reports whether two lists of principals are the same, in
// the same order; nil (no list) is not the same as an empty list.
func samePrincipals(a, b []string) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}
