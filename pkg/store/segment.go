package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/rag-cli/rag/pkg/lexical"
)

// Cache segments are what searches read instead of the objects: derived
// data, never a commit point. Each holds, for the chunks of some file
// contents (named by their object keys), every vector contiguous as float32
// and int8 and a keyword index, so that a search maps them and reads only
// what it ranks. A run writes a segment for what it embedded (one every
// segmentRows chunks, so a run of any size holds at most one segment in
// memory); contents changed or deleted since leave dead rows behind, which
// searches pass over and later runs merge away. The objects stay the truth:
// a content no valid segment holds is read from its object.
const segmentsDir = "segments"

// segmentMagic starts a segment file. The layout, little-endian:
//
//	header (64 bytes): magic [8] dims u32 rows u32 objects u32 tableLen u32
//	                   vecOff u64 lexOff u64 lexLen u64 size u64
//	                   crc u32 (of the 56 bytes before it), zeros
//	table:  objects × {keyLen u8, key, first row u32, chunks u32,
//	                   from u32, total u32}, crc u32 (of the table)
//	zeros to vecOff (a multiple of 64, so float rows can be used in place)
//	floats: rows × dims float32 (unit vectors; zeros for a chunk with none)
//	rowCRC: rows × u32 (CRC-32 of each float row)
//	scales: rows × float32 (int8 row × scale ≈ float row; 0 for a chunk with none)
//	int8s:  rows × dims int8
//	blockCRC: ⌈rows / vectorBlock⌉ × u32 (CRC-32 of a block's int8 rows, then its scales)
//	lex:    the rows' keyword index (pkg/lexical's saved form; document = row)
//
// A table entry is a part of a content: its chunks from..from+chunks of
// total, so that a content of any size spans several segments and a
// writer holds at most segmentRows of its rows. Segments of the first
// layout (RAGS0001: no from and total, each content whole) are still read.
var segmentMagic = []byte("RAGS0002")

// segmentMagic1 starts a segment of the first layout.
var segmentMagic1 = []byte("RAGS0001")

const (
	segmentHeader = 64
	// vectorBlock is how many int8 rows one CRC covers: checked as they
	// are scanned, at little cost.
	vectorBlock = 4096
	// segmentRows is how many chunks a writer gathers before it writes a
	// segment: what bounds a run's memory (about 5 bytes a dimension a
	// chunk, plus its terms), and what merging one costs.
	segmentRows = 8192
)

// nativeLittleEndian: float rows are used in place where the machine is
// little-endian, and copied elsewhere.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// errSegmentDamaged means a segment failed a check; searches set it aside
// and read what it held from the objects.
var errSegmentDamaged = errors.New("cache segment damaged")

// segmentError names the segment that failed a check where a search read it.
type segmentError struct {
	seg int
	err error
}

func (e *segmentError) Error() string { return e.err.Error() }
func (e *segmentError) Unwrap() error { return e.err }

// vectorLayout is where each part of a segment's vectors starts.
type vectorLayout struct {
	dims, n                                 int
	floats, rowCRC, scales, int8s, blockCRC int64
	end                                     int64
}

func layoutAt(base int64, dims, n int) vectorLayout {
	l := vectorLayout{dims: dims, n: n, floats: base}
	l.rowCRC = l.floats + int64(n)*int64(dims)*4
	l.scales = l.rowCRC + int64(n)*4
	l.int8s = l.scales + int64(n)*4
	l.blockCRC = l.int8s + int64(n)*int64(dims)
	l.end = l.blockCRC + int64((n+vectorBlock-1)/vectorBlock)*4
	return l
}

// segObject is the rows of one content, or of a part of it, in a
// segment: its chunks from..from+chunks of total, at rows first...
type segObject struct {
	key         string
	first       int
	chunks      int
	from, total int
}

// errSegmentOutdated is a segment whose keyword index another version of
// the analysis wrote.
var errSegmentOutdated = errors.New("cache segment of another keyword analysis")

// chunk is the index in its content of the chunk at row.
func (o segObject) chunk(row int) int { return row - o.first + o.from }

// segment is a segment file open (or one built in memory, name ""). Its
// header, table, checksums and scales are read at open; vector rows are
// read as a search needs them, through src, into memory of the search's
// own: a mapping would count whole large folios of the page cache as the
// process's memory for every row touched.
type segment struct {
	name   string
	src    io.ReaderAt
	closer io.Closer
	l      vectorLayout
	objs   []segObject
	lex    *lexical.Reader
	rowCRC []byte // rows × u32
	scales []byte // rows × float32
	blocks []byte // blocks × u32
	// live marks the rows this segment serves for the catalog in use: of
	// contents the catalog names, not damaged, and not served by a newer
	// segment (see cover).
	live []bool
	// ctime is the file's status-change time (0 in memory or unknown).
	ctime int64
	// resident, if its cache is set, keeps checked blocks in memory.
	resident segResident
}

// verify reads the whole segment and checks every part of it.
func (g *segment) verify(ctx context.Context) error {
	var buf []byte
	for b := 0; b*vectorBlock < g.l.n; b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var ok bool
		if buf, ok = g.readBlock(b, buf); !ok {
			return fmt.Errorf("%w: %s: block %d", errSegmentDamaged, g.name, b)
		}
		lo, hi := g.blockRows(b)
		for i := lo; i < hi; i++ {
			if _, ok := g.readFloat(i); !ok {
				return fmt.Errorf("%w: %s: row %d", errSegmentDamaged, g.name, i)
			}
		}
	}
	if err := g.lex.Verify(); err != nil {
		return fmt.Errorf("%w: %s: %w", errSegmentDamaged, g.name, err)
	}
	return nil
}

// float reads row i as float32, checked against its CRC.
//
// With a Resident cache, the row comes from its block in memory, the block
// read and checked whole at its first use; callers never change the rows
// they get.
func (g *segment) float(i int) ([]float32, bool) {
	rc := g.resident.cache
	if rc == nil {
		return g.readFloat(i)
	}
	b := i / vectorBlock
	k := residentKey{g.resident.seg, b}
	f, ok := rc.floatBlock(k)
	if !ok {
		lo, hi := g.blockRows(b)
		if !rc.room(int64(hi-lo) * int64(g.l.dims) * 4) {
			return g.readFloat(i)
		}
		if f, ok = g.readFloatBlock(b); !ok {
			return g.readFloat(i)
		}
		rc.putFloats(k, f)
	}
	r := i - b*vectorBlock
	if !f.ok[r] {
		return nil, false
	}
	d := g.l.dims
	return f.v[r*d : (r+1)*d : (r+1)*d], true
}

// readFloatBlock reads block b's float32 rows in one read and checks each
// row against its CRC.
func (g *segment) readFloatBlock(b int) (*floatBlock, bool) {
	lo, hi := g.blockRows(b)
	d := g.l.dims
	f := &floatBlock{v: make([]float32, (hi-lo)*d), ok: make([]bool, hi-lo)}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f.v))), 4*len(f.v))
	if _, err := g.src.ReadAt(raw, g.l.floats+int64(lo)*int64(d)*4); err != nil {
		return nil, false
	}
	for r := range hi - lo {
		row := raw[4*r*d : 4*(r+1)*d]
		f.ok[r] = crc32.ChecksumIEEE(row) == binary.LittleEndian.Uint32(g.rowCRC[4*(lo+r):])
		if !nativeLittleEndian {
			for j := range d {
				f.v[r*d+j] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*j:]))
			}
		}
	}
	return f, true
}

// readFloat reads row i's float32 vector, checked against its CRC.
func (g *segment) readFloat(i int) ([]float32, bool) {
	v := make([]float32, g.l.dims)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
	if _, err := g.src.ReadAt(b, g.l.floats+int64(i)*int64(g.l.dims)*4); err != nil {
		return nil, false
	}
	if crc32.ChecksumIEEE(b) != binary.LittleEndian.Uint32(g.rowCRC[4*i:]) {
		return nil, false
	}
	if !nativeLittleEndian {
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
	}
	return v, true
}

func (g *segment) scale(i int) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(g.scales[4*i:]))
}

// blockRows returns the rows of block b.
func (g *segment) blockRows(b int) (lo, hi int) {
	return b * vectorBlock, min((b+1)*vectorBlock, g.l.n)
}

// readBlock reads block b's int8 rows into buf (grown as needed), checked
// with its scales against the block's CRC.
//
// With a Resident cache, the block comes from memory once checked, and buf
// is left alone: it may be an earlier block the cache holds.
func (g *segment) readBlock(b int, buf []byte) ([]byte, bool) {
	rc := g.resident.cache
	k := residentKey{g.resident.seg, b}
	if rc != nil {
		if data, ok := rc.get(k); ok {
			return data, true
		}
		buf = nil
	}
	lo, hi := g.blockRows(b)
	n := (hi - lo) * g.l.dims
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := g.src.ReadAt(buf, g.l.int8s+int64(lo)*int64(g.l.dims)); err != nil {
		return buf, false
	}
	h := crc32.NewIEEE()
	_, _ = h.Write(buf) // a hash never fails
	_, _ = h.Write(g.scales[4*lo : 4*hi])
	ok := h.Sum32() == binary.LittleEndian.Uint32(g.blocks[4*b:])
	if ok && rc != nil {
		rc.put(k, buf)
	}
	return buf, ok
}

// object returns the index of the content that holds row.
func (g *segment) object(row int) int {
	i, _ := slices.BinarySearchFunc(g.objs, row, func(o segObject, r int) int {
		switch {
		case o.first+o.chunks <= r:
			return -1
		case o.first > r:
			return 1
		}
		return 0
	})
	return i
}

func (g *segment) close() error {
	if g.closer != nil {
		c := g.closer
		g.closer = nil
		return c.Close()
	}
	return nil
}

// openSegment reads and checks a segment's header, table, checksums and
// scales, and its keyword index's header; rows are checked where read.
func openSegment(name string, src io.ReaderAt, size int64) (*segment, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s: %s", errSegmentDamaged, name, why) }
	head := make([]byte, segmentHeader)
	if size < segmentHeader {
		return nil, bad("not a segment")
	}
	if _, err := src.ReadAt(head, 0); err != nil {
		return nil, bad(err.Error())
	}
	parts := bytes.Equal(head[:8], segmentMagic)
	if !parts && !bytes.Equal(head[:8], segmentMagic1) {
		return nil, bad("not a segment")
	}
	if crc32.ChecksumIEEE(head[:56]) != binary.LittleEndian.Uint32(head[56:]) {
		return nil, bad("header checksum")
	}
	le := binary.LittleEndian
	dims, rows, nobj, tableLen := int(le.Uint32(head[8:])), int(le.Uint32(head[12:])), int(le.Uint32(head[16:])), int64(le.Uint32(head[20:]))
	vecOff, lexOff, lexLen, fileSize := le.Uint64(head[24:]), le.Uint64(head[32:]), le.Uint64(head[40:]), le.Uint64(head[48:])
	// Each object takes at least 9 bytes of the table (17 with its part):
	// a count claiming more is refused before anything is allocated for it.
	entry := 9
	if parts {
		entry = 17
	}
	if fileSize != uint64(size) || segmentHeader+uint64(tableLen)+4 > vecOff || vecOff%64 != 0 || dims <= 0 || dims > 1<<16 || rows > 1<<28 || int64(nobj) > tableLen/int64(entry) {
		return nil, bad("sizes")
	}
	l := layoutAt(int64(vecOff), dims, rows)
	if uint64(l.end) != lexOff || lexOff > fileSize || lexLen != fileSize-lexOff {
		return nil, bad("sizes")
	}
	table := make([]byte, tableLen+4)
	if _, err := src.ReadAt(table, segmentHeader); err != nil {
		return nil, bad(err.Error())
	}
	if crc32.ChecksumIEEE(table[:tableLen]) != le.Uint32(table[tableLen:]) {
		return nil, bad("table checksum")
	}
	table = table[:tableLen]
	g := &segment{name: name, src: src, l: l, objs: make([]segObject, 0, nobj)}
	next := 0
	for range nobj {
		if len(table) < 1 || len(table) < int(table[0])+entry {
			return nil, bad("table")
		}
		kl := int(table[0])
		o := segObject{key: string(table[1 : 1+kl]), first: int(le.Uint32(table[1+kl:])), chunks: int(le.Uint32(table[5+kl:]))}
		o.total = o.chunks
		if parts {
			o.from, o.total = int(le.Uint32(table[9+kl:])), int(le.Uint32(table[13+kl:]))
		}
		table = table[entry+kl:]
		if o.first != next || o.chunks > rows-next || o.from > o.total || o.chunks > o.total-o.from {
			return nil, bad("table")
		}
		next += o.chunks
		g.objs = append(g.objs, o)
	}
	if next != rows || len(table) != 0 {
		return nil, bad("table")
	}
	// The row checksums and scales lie together; the block checksums follow
	// the int8 rows.
	g.rowCRC = make([]byte, 8*rows)
	if _, err := src.ReadAt(g.rowCRC, l.rowCRC); err != nil {
		return nil, bad(err.Error())
	}
	g.rowCRC, g.scales = g.rowCRC[:4*rows], g.rowCRC[4*rows:]
	g.blocks = make([]byte, l.end-l.blockCRC)
	if _, err := src.ReadAt(g.blocks, l.blockCRC); err != nil {
		return nil, bad(err.Error())
	}
	lex, err := lexical.OpenAt(io.NewSectionReader(src, int64(lexOff), int64(lexLen)), int64(lexLen))
	if errors.Is(err, lexical.ErrVersion) {
		// Written by a rag that analysed text otherwise: its contents are
		// analysed again from their objects, never searched mixed.
		return nil, fmt.Errorf("%w: %s: %w", errSegmentOutdated, name, err)
	}
	if err != nil || lex.Docs() > rows {
		return nil, bad("keyword index")
	}
	g.lex = lex
	return g, nil
}

// openSegmentData opens a segment held in memory.
func openSegmentData(name string, data []byte) (*segment, error) {
	return openSegment(name, bytes.NewReader(data), int64(len(data)))
}

// segmentBuilder gathers the chunks of contents into a segment.
type segmentBuilder struct {
	dims   int
	objs   []segObject
	floats []float32
	lex    *lexical.Builder
	rows   int
}

func newSegmentBuilder(dims int) *segmentBuilder {
	return &segmentBuilder{dims: dims, lex: lexical.NewBuilder()}
}

// addPart appends chunks, the chunks from..from+len(chunks) of the content
// key, which has total. A chunk with no vector of the builder's size (or a
// zero one) is kept as a row that no search returns, as loading the
// objects always did.
func (b *segmentBuilder) addPart(key string, from, total int, chunks []Chunk) {
	if b.floats == nil {
		// Grown once to a segment's worth, not doubled as it fills.
		b.floats = make([]float32, 0, max(segmentRows, len(chunks))*b.dims)
	}
	for j, c := range chunks {
		if len(c.Vector) != b.dims || zero(c.Vector) {
			b.floats = append(b.floats, make([]float32, b.dims)...)
			continue
		}
		b.floats = append(b.floats, c.Vector...)
		// The heading path is searched with the text, as it is embedded with it.
		b.lex.Add(b.rows+j, c.Heading+"\n"+c.Text)
	}
	b.objs = append(b.objs, segObject{key: key, first: b.rows, chunks: len(chunks), from: from, total: total})
	b.rows += len(chunks)
}

// encode returns the segment file.
func (b *segmentBuilder) encode() []byte {
	w := newSegmentWriter(b.dims, b.objs, b.rows, lexical.Merge(b.lex).Append(nil))
	for i := range b.rows {
		w.putFloats(i, b.floats[i*b.dims:(i+1)*b.dims])
	}
	return w.finish()
}

// segmentWriter lays out a segment of known rows, filled row by row.
type segmentWriter struct {
	l    vectorLayout
	data []byte
}

func newSegmentWriter(dims int, objs []segObject, rows int, lex []byte) *segmentWriter {
	var table []byte
	for _, o := range objs {
		table = append(table, byte(len(o.key)))
		table = append(table, o.key...)
		table = binary.LittleEndian.AppendUint32(table, uint32(o.first))
		table = binary.LittleEndian.AppendUint32(table, uint32(o.chunks))
		table = binary.LittleEndian.AppendUint32(table, uint32(o.from))
		table = binary.LittleEndian.AppendUint32(table, uint32(o.total))
	}
	vecOff := (int64(segmentHeader+len(table)+4) + 63) / 64 * 64
	l := layoutAt(vecOff, dims, rows)
	data := make([]byte, l.end+int64(len(lex)))
	le := binary.LittleEndian
	copy(data, segmentMagic)
	le.PutUint32(data[8:], uint32(dims))
	le.PutUint32(data[12:], uint32(rows))
	le.PutUint32(data[16:], uint32(len(objs)))
	le.PutUint32(data[20:], uint32(len(table)))
	le.PutUint64(data[24:], uint64(vecOff))
	le.PutUint64(data[32:], uint64(l.end))
	le.PutUint64(data[40:], uint64(len(lex)))
	le.PutUint64(data[48:], uint64(len(data)))
	le.PutUint32(data[56:], crc32.ChecksumIEEE(data[:56]))
	copy(data[segmentHeader:], table)
	le.PutUint32(data[segmentHeader+len(table):], crc32.ChecksumIEEE(table))
	copy(data[l.end:], lex)
	return &segmentWriter{l: l, data: data}
}

// putFloats writes row i from its float vector: the float row, its CRC,
// and its int8 quantization and scale.
func (w *segmentWriter) putFloats(i int, v []float32) {
	le := binary.LittleEndian
	row := w.data[w.l.floats+int64(i)*int64(w.l.dims)*4:][:w.l.dims*4]
	for j, x := range v {
		le.PutUint32(row[4*j:], math.Float32bits(x))
	}
	le.PutUint32(w.data[w.l.rowCRC+int64(i)*4:], crc32.ChecksumIEEE(row))
	scale := quantizeInto(w.data[w.l.int8s+int64(i)*int64(w.l.dims):][:w.l.dims], v)
	le.PutUint32(w.data[w.l.scales+int64(i)*4:], math.Float32bits(scale))
}

// copyRow copies row j of g, checked, as row i: merging re-quantizes
// nothing. ok is false when the row fails its checks.
func (w *segmentWriter) copyRow(i int, g *segment, j int) (bool, error) {
	fl := w.data[w.l.floats+int64(i)*int64(w.l.dims)*4:][:w.l.dims*4]
	if _, err := g.src.ReadAt(fl, g.l.floats+int64(j)*int64(g.l.dims)*4); err != nil {
		return false, err
	}
	if crc32.ChecksumIEEE(fl) != binary.LittleEndian.Uint32(g.rowCRC[4*j:]) {
		return false, nil
	}
	if _, err := g.src.ReadAt(w.data[w.l.int8s+int64(i)*int64(w.l.dims):][:w.l.dims], g.l.int8s+int64(j)*int64(g.l.dims)); err != nil {
		return false, err
	}
	copy(w.data[w.l.rowCRC+int64(i)*4:][:4], g.rowCRC[4*j:])
	copy(w.data[w.l.scales+int64(i)*4:][:4], g.scales[4*j:])
	return true, nil
}

// finish writes the block checksums and returns the file.
func (w *segmentWriter) finish() []byte {
	for b := 0; b*vectorBlock < w.l.n; b++ {
		lo, hi := b*vectorBlock, min((b+1)*vectorBlock, w.l.n)
		h := crc32.NewIEEE()
		_, _ = h.Write(w.data[w.l.int8s+int64(lo)*int64(w.l.dims) : w.l.int8s+int64(hi)*int64(w.l.dims)]) // a hash never fails
		_, _ = h.Write(w.data[w.l.scales+int64(lo)*4 : w.l.scales+int64(hi)*4])
		binary.LittleEndian.PutUint32(w.data[w.l.blockCRC+int64(b)*4:], h.Sum32())
	}
	return w.data
}

// quantizeInto maps v to int8 in q with one scale: v ≈ q × scale. A zero
// vector has scale 0, which marks a chunk with no vector.
func quantizeInto(q []byte, v []float32) float32 {
	var maxAbs float32
	for _, x := range v {
		maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
	}
	if maxAbs == 0 || math.IsNaN(float64(maxAbs)) || math.IsInf(float64(maxAbs), 0) {
		clear(q)
		return 0
	}
	scale := maxAbs / 127
	for i, x := range v {
		q[i] = byte(int8(math.Round(float64(x / scale))))
	}
	return scale
}

func quantize(v []float32) ([]int8, float32) {
	q := make([]byte, len(v))
	scale := quantizeInto(q, v)
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(q))), len(q)), scale
}

// newSegmentName names a segment file by its time of writing, so that
// names sort by age (a newer copy of a content is preferred), plus a
// random part.
func newSegmentName() string {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand never fails
	return fmt.Sprintf("%016x-%s.seg", time.Now().UnixNano(), hex.EncodeToString(r[:]))
}

// segmentNames lists the segment files, newest first.
func segmentNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, segmentsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".seg") && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	slices.Reverse(names)
	return names, nil
}
