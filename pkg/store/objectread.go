package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
)

// objectFile reads the chunks of a version 3 object one at a time: its
// header and trailer, rows of its table and single records, each record
// checked by its own checksum. A version 2 object has no table: open
// returns errNoTable and the caller reads it whole.
type objectFile struct {
	f        *os.File
	path     string
	dims     int
	count    int
	tableOff int64
	tableSum uint32
}

var errNoTable = errors.New("object of version 2: no table")

// tableRow is an entry of an object's table.
type tableRow struct {
	off              int64
	start, end, page int
	usable           bool
	hash             uint64
}

// openObjectFile opens the object at p, which the catalog says holds
// chunks chunks (its size is the stat check's to compare). Damage (a missing or short file, a header
// or trailer that does not fit) is a CorruptError.
func openObjectFile(p string, chunks int) (_ *objectFile, err error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &CorruptError{Path: p, Err: errObjectMissing}
	}
	if err != nil {
		return nil, err
	}
	o := &objectFile{f: f, path: p}
	defer func() {
		if err != nil {
			_ = f.Close() // the error says what went wrong
		}
	}()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := info.Size() // the catalog's, when it differs, is the stat check's to report
	var hdr [objectHeader]byte
	if err := o.readAt(hdr[:], 0); err != nil {
		return nil, err
	}
	if string(hdr[:4]) != string(objectMagic[:]) {
		return nil, o.corrupt(errors.New("not a rag object file"))
	}
	switch v := binary.LittleEndian.Uint16(hdr[4:]); v {
	case objectVersion:
	case objectVersion2:
		return nil, errNoTable
	default:
		return nil, o.corrupt(fmt.Errorf("object version %d, want %d", v, objectVersion))
	}
	o.dims = int(binary.LittleEndian.Uint32(hdr[6:]))
	o.count = int(binary.LittleEndian.Uint32(hdr[10:]))
	if o.count != chunks {
		return nil, o.corrupt(fmt.Errorf("%d chunks, catalog says %d", o.count, chunks))
	}
	var tail [objectTailBytes]byte
	if size < objectHeader+objectTrailer {
		return nil, o.corrupt(errShort)
	}
	if err := o.readAt(tail[:], size-objectTrailer); err != nil {
		return nil, err
	}
	o.tableOff = int64(binary.LittleEndian.Uint64(tail[:]))
	o.tableSum = binary.LittleEndian.Uint32(tail[8:])
	if o.tableOff < objectHeader || o.tableOff+int64(o.count)*tableEntry != size-objectTrailer {
		return nil, o.corrupt(errors.New("table out of place"))
	}
	return o, nil
}

func (o *objectFile) close() error { return o.f.Close() }

func (o *objectFile) corrupt(err error) *CorruptError { return &CorruptError{Path: o.path, Err: err} }

// readAt fills b from off; a short read is damage.
func (o *objectFile) readAt(b []byte, off int64) error {
	_, err := o.f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		return o.corrupt(errShort)
	}
	return err
}

// rows reads the table's rows from..to; the whole table is checked
// against its checksum, a part of it by the records it leads to.
func (o *objectFile) rows(from, to int) ([]tableRow, error) {
	buf := make([]byte, (to-from)*tableEntry)
	if err := o.readAt(buf, o.tableOff+int64(from)*tableEntry); err != nil {
		return nil, err
	}
	if from == 0 && to == o.count && crc32.ChecksumIEEE(buf) != o.tableSum {
		return nil, o.corrupt(errors.New("table checksum mismatch"))
	}
	out := make([]tableRow, to-from)
	for i := range out {
		b := buf[i*tableEntry:]
		out[i] = tableRow{
			off:    int64(binary.LittleEndian.Uint64(b)),
			start:  int(binary.LittleEndian.Uint32(b[8:])),
			end:    int(binary.LittleEndian.Uint32(b[12:])),
			page:   int(binary.LittleEndian.Uint32(b[16:])),
			usable: binary.LittleEndian.Uint32(b[20:])&flagUsable != 0,
			hash:   binary.LittleEndian.Uint64(b[24:]),
		}
	}
	return out, nil
}

// chunk reads record i, whose row is r and which ends where next starts
// (-1: the table), with its vector when vector is set.
func (o *objectFile) chunk(i int, r tableRow, next int64, vector bool) (Chunk, error) {
	if next < 0 {
		next = o.tableOff
	}
	if r.off < objectHeader || next > o.tableOff || next-r.off < minChunkBytes+4+4*int64(o.dims) || next-r.off > math.MaxInt32 {
		return Chunk{}, o.corrupt(fmt.Errorf("chunk %d out of place", i))
	}
	buf := make([]byte, next-r.off)
	if err := o.readAt(buf, r.off); err != nil {
		return Chunk{}, err
	}
	body := buf[:len(buf)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(buf[len(buf)-4:]) {
		return Chunk{}, o.corrupt(fmt.Errorf("chunk %d: checksum mismatch", i))
	}
	c, err := decodeRecord(body, o.dims, vector)
	if err != nil {
		return Chunk{}, o.corrupt(fmt.Errorf("chunk %d: %w", i, err))
	}
	if c.StartLine != r.start || c.EndLine != r.end || c.Page != r.page {
		return Chunk{}, o.corrupt(fmt.Errorf("chunk %d does not match its table row", i))
	}
	return c, nil
}

// decodeRecord decodes one record without its checksum.
func decodeRecord(r []byte, dims int, vector bool) (Chunk, error) {
	uvarint := func() (int, error) {
		x, n := binary.Uvarint(r)
		if n <= 0 || x > math.MaxInt32 {
			return 0, errShort
		}
		r = r[n:]
		return int(x), nil
	}
	var v [3]int
	for k := range v {
		x, err := uvarint()
		if err != nil {
			return Chunk{}, err
		}
		v[k] = x
	}
	c := Chunk{StartLine: v[0], EndLine: v[1], Page: v[2]}
	for _, field := range []*string{&c.Heading, &c.Text} {
		n, err := uvarint()
		if err != nil {
			return Chunk{}, err
		}
		if len(r) < n {
			return Chunk{}, errShort
		}
		*field, r = string(r[:n]), r[n:]
	}
	if len(r) != 4*dims {
		return Chunk{}, errors.New("record of the wrong size")
	}
	if vector {
		c.Vector = make([]float32, dims)
		for j := range c.Vector {
			c.Vector[j] = math.Float32frombits(binary.LittleEndian.Uint32(r[4*j:]))
		}
	}
	return c, nil
}

// openObject opens the object of f for reading chunk by chunk; errNoTable
// for an object of version 2.
func (s *Local) openObject(f FileEntry) (*objectFile, error) {
	o, err := openObjectFile(s.objectPath(f.Key), f.Chunks)
	return o, s.goneIfMissing(err)
}

// chunkAt reads chunk i of f's object (without its vector) and whether
// its vector has a direction.
func (s *Local) chunkAt(f FileEntry, i int) (_ Chunk, usable bool, err error) {
	o, err := s.openObject(f)
	if err != nil {
		return Chunk{}, false, err
	}
	defer func() {
		if cerr := o.close(); err == nil {
			err = cerr
		}
	}()
	to := min(i+2, o.count)
	rows, err := o.rows(i, to)
	if err != nil {
		return Chunk{}, false, err
	}
	next := int64(-1)
	if len(rows) > 1 {
		next = rows[1].off
	}
	c, err := o.chunk(i, rows[0], next, false)
	return c, rows[0].usable && o.dims == s.manifest.Dims, err
}

// FileChunksPicked reads the chunks of one file of the catalog, in
// document order, as FileChunks does, but with the heading and text only
// of those pick chooses from their lines and pages (the others have
// neither): `rag show FILE:A-B` of a large file reads its table and a
// few records, not the whole object. pick must not change its outline,
// which becomes the result. An object of version 2 is read whole, every
// chunk with its text.
func (s *Local) FileChunksPicked(ctx context.Context, f FileEntry, pick func(outline []Chunk) []int) (_ []Chunk, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !validKey(f.Key) {
		return nil, &CorruptError{Path: s.dir, Err: fmt.Errorf("bad entry for %s", f.Path)}
	}
	o, err := s.openObject(f)
	if errors.Is(err, errNoTable) {
		return s.FileChunks(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := o.close(); err == nil {
			err = cerr
		}
	}()
	rows, err := o.rows(0, o.count)
	if err != nil {
		return nil, err
	}
	out := make([]Chunk, len(rows))
	for i, r := range rows {
		out[i] = Chunk{StartLine: r.start, EndLine: r.end, Page: r.page}
	}
	done := make([]bool, len(rows))
	// pick reads the outline, and the picked chunks are filled in after:
	// no copy of it (a large file's outline is a slice of 100,000 chunks,
	// and copying it was most of `rag show`'s time).
	for _, i := range pick(out) {
		if i < 0 || i >= len(rows) || done[i] {
			continue
		}
		done[i] = true
		next := int64(-1)
		if i+1 < len(rows) {
			next = rows[i+1].off
		}
		if out[i], err = o.chunk(i, rows[i], next, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReuseVectors gives the chunks of a file being indexed again the vectors
// that prev, its last entry, holds for chunks of the same heading and
// text (what is embedded, under the index's one model): an edited file
// costs the embedding of its new chunks alone. It returns how many it
// gave. An object that cannot be read is no loss: the chunks are embedded.
func (s *Local) ReuseVectors(ctx context.Context, prev FileEntry, chunks []Chunk) (n int, err error) {
	if !validKey(prev.Key) || prev.Chunks == 0 {
		return 0, nil
	}
	o, err := s.openObject(prev)
	if errors.Is(err, errNoTable) {
		return s.reuseWhole(ctx, prev, chunks)
	}
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := o.close(); err == nil {
			err = cerr
		}
	}()
	rows, err := o.rows(0, o.count)
	if err != nil {
		return 0, err
	}
	at := make(map[uint64]int, len(rows))
	for i, r := range rows {
		if r.usable {
			at[r.hash] = i
		}
	}
	for j := range chunks {
		c := &chunks[j]
		i, ok := at[chunkHash(c.Heading, c.Text)]
		if !ok || c.Vector != nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		next := int64(-1)
		if i+1 < len(rows) {
			next = rows[i+1].off
		}
		old, err := o.chunk(i, rows[i], next, true)
		if err != nil {
			return n, err
		}
		if old.Heading == c.Heading && old.Text == c.Text {
			c.Vector = old.Vector
			n++
		}
	}
	return n, nil
}

// reuseWhole is ReuseVectors from an object of version 2, read whole.
func (s *Local) reuseWhole(ctx context.Context, prev FileEntry, chunks []Chunk) (int, error) {
	old, err := s.FileChunks(ctx, prev)
	if err != nil {
		return 0, err
	}
	type text struct{ heading, text string }
	vecs := make(map[text][]float32, len(old))
	for _, c := range old {
		if !zero(c.Vector) {
			vecs[text{c.Heading, c.Text}] = c.Vector
		}
	}
	n := 0
	for j := range chunks {
		if v, ok := vecs[text{chunks[j].Heading, chunks[j].Text}]; ok && chunks[j].Vector == nil {
			chunks[j].Vector = v
			n++
		}
	}
	return n, nil
}
