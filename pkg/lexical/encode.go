package lexical

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
)

// Version changes whenever analysis, scoring or the saved form changes what
// an index holds; a saved index of another version is built again. Version
// 2 sorted the terms into a table, so that a search reads only the postings
// of its own terms; version 3 leaves the table out of the header checksum
// (each entry is checked with its term and postings when read), so that
// opening an index reads its header alone, not a table of every term.
// Version 4 analyses each document as its language (UAX #29 words, NFKC
// and case folding, Snowball stemmers and stop words by language, bigrams
// of scripts written without spaces) and records how many documents of
// each language it holds, which choose how a query is analysed.
const Version = 4

var magic = [4]byte{'R', 'A', 'G', 'L'}

// The saved form, little-endian:
//
//	"RAGL" version:u32 docs:u64 totalLen:u64 n:u32 docLen:[n]u32
//	langs:u32 [langs]{codeLen:u8 code docs:u64}
//	terms:u32 blobLen:u64 crc:u32 (of everything above)
//	table:[terms]{off:u64 termLen:u32 postings:u32 crc:u32}
//	blob: for each term, its bytes then its postings ([postings]{doc:u32 tf:u32})
//
// The table is sorted by term, so a term is found by binary search; each
// entry's crc covers its term and postings, checked when they are read: a
// damaged entry points at bytes that fail it.
const entrySize = 8 + 4 + 4 + 4

// Append appends the index in its saved form to b.
func (x *Index) Append(b []byte) []byte {
	// Grown once to its size, not doubled as it fills: 8% of a full
	// index's CPU went to growing it.
	size := 64 + 4*len(x.docLen)
	for t, id := range x.termIDs {
		size += entrySize + len(t) + 8*len(x.postings[id])
	}
	b = slices.Grow(b, size)
	start := len(b)
	b = append(b, magic[:]...)
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = binary.LittleEndian.AppendUint64(b, uint64(x.docs))
	b = binary.LittleEndian.AppendUint64(b, x.totalLen)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(x.docLen)))
	for _, n := range x.docLen {
		b = binary.LittleEndian.AppendUint32(b, n)
	}
	b = appendLangs(b, &x.langs)
	terms := make([]string, 0, len(x.termIDs))
	blobLen := uint64(0)
	for t, id := range x.termIDs {
		terms = append(terms, t)
		blobLen += uint64(len(t)) + 8*uint64(len(x.postings[id]))
	}
	slices.Sort(terms)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(terms)))
	b = binary.LittleEndian.AppendUint64(b, blobLen)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
	head := len(b)
	off := uint64(0)
	for _, t := range terms {
		ps := x.postings[x.termIDs[t]]
		b = binary.LittleEndian.AppendUint64(b, off)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(ps)))
		b = binary.LittleEndian.AppendUint32(b, 0) // the crc, filled in below
		off += uint64(len(t)) + 8*uint64(len(ps))
	}
	for i, t := range terms {
		at := len(b)
		b = append(b, t...)
		for _, p := range x.postings[x.termIDs[t]] {
			b = binary.LittleEndian.AppendUint32(b, p.doc)
			b = binary.LittleEndian.AppendUint32(b, p.tf)
		}
		binary.LittleEndian.PutUint32(b[head+i*entrySize+16:], crc32.ChecksumIEEE(b[at:]))
	}
	return b
}

// ErrVersion means a saved index was written by another Version.
var ErrVersion = errors.New("keyword index of another version")

// ErrDamaged means a saved index fails a check: its header, or the entry
// of a term a search read.
var ErrDamaged = errors.New("keyword index damaged")

// Reader searches a saved index where it lies, through an io.ReaderAt:
// opening it reads and checks the header and the document lengths; a
// search then reads and checks only the table entries its binary search
// visits and its own terms' postings. Reading copies just those bytes, so a
// search of a large index on disk holds few of its pages (a mapping would
// count whole large folios of the page cache as the process's memory).
type Reader struct {
	src      io.ReaderAt
	langs    [numLangs]uint64
	docs     int
	totalLen uint64
	docLen   []uint32
	terms    int
	tableOff int64
	blobOff  int64
	blobLen  uint64
}

// Open reads the header of a saved index held in b, which must not change
// while the Reader is used.
func Open(b []byte) (*Reader, error) { return OpenAt(bytes.NewReader(b), int64(len(b))) }

// OpenAt reads the header of the saved index of size bytes that src holds.
func OpenAt(src io.ReaderAt, size int64) (*Reader, error) {
	fixed := make([]byte, 4+4+8+8+4)
	if size < int64(len(fixed)) {
		return nil, fmt.Errorf("%w: not a keyword index", ErrDamaged)
	}
	if _, err := src.ReadAt(fixed, 0); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if [4]byte(fixed[:4]) != magic {
		return nil, fmt.Errorf("%w: not a keyword index", ErrDamaged)
	}
	if v := binary.LittleEndian.Uint32(fixed[4:]); v != Version {
		return nil, fmt.Errorf("%w (%d)", ErrVersion, v)
	}
	n := int64(binary.LittleEndian.Uint32(fixed[24:]))
	// The language table follows the document lengths: its size is read
	// before the rest of the header.
	langsAt := int64(len(fixed)) + 4*n
	langsLen, err := langTableLen(src, langsAt, size)
	if err != nil {
		return nil, err
	}
	headLen := langsAt + langsLen + 4 + 8
	if headLen+4 > size {
		return nil, fmt.Errorf("%w: truncated", ErrDamaged)
	}
	head := make([]byte, headLen+4)
	if _, err := src.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if crc32.ChecksumIEEE(head[:headLen]) != binary.LittleEndian.Uint32(head[headLen:]) {
		return nil, fmt.Errorf("%w: header checksum", ErrDamaged)
	}
	d := decoder{b: head[4+4:]}
	r := &Reader{src: src, docs: int(d.u64()), totalLen: d.u64()}
	d.u32()
	lens := d.take(4 * uint64(n))
	r.langs = readLangs(d.take(uint64(langsLen)))
	r.terms = int(d.u32())
	r.blobLen = d.u64()
	r.tableOff = headLen + 4
	r.blobOff = r.tableOff + entrySize*int64(r.terms)
	if r.blobOff < r.tableOff || r.blobOff > size || uint64(size-r.blobOff) != r.blobLen {
		return nil, fmt.Errorf("%w: %d bytes, header says otherwise", ErrDamaged, size)
	}
	r.docLen = make([]uint32, n)
	docs := 0
	for i := range r.docLen {
		r.docLen[i] = binary.LittleEndian.Uint32(lens[4*i:])
		if r.docLen[i] > 0 {
			docs++
		}
	}
	if docs != r.docs {
		return nil, fmt.Errorf("%w: %d documents, header says %d", ErrDamaged, docs, r.docs)
	}
	return r, nil
}

// Search implements Searcher. A term whose entry fails its checks is
// ErrDamaged: the caller builds the index again rather than rank wrongly.
func (r *Reader) Search(query string, k int) ([]Hit, error) {
	return search(queryTerms(query, &r.langs), k, r.docs, r.totalLen, r.docLen, r.postings)
}

// postings finds term in the sorted table and reads its postings; a term
// the index lacks has none.
func (r *Reader) postings(term string) ([]posting, error) {
	lo, hi := 0, r.terms
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e, err := r.entry(mid)
		if err != nil {
			return nil, err
		}
		t, err := r.term(e)
		if err != nil {
			return nil, err
		}
		switch c := strings.Compare(string(t), term); {
		case c < 0:
			lo = mid + 1
		case c > 0:
			hi = mid
		default:
			return r.read(e)
		}
	}
	return nil, nil
}

// tableEntry is where a term's bytes and postings lie, and their crc.
type tableEntry struct {
	off, termLen, postings uint64
	crc                    uint32
}

// entry reads table entry i, checked to point inside the index.
func (r *Reader) entry(i int) (tableEntry, error) {
	var b [entrySize]byte
	if _, err := r.src.ReadAt(b[:], r.tableOff+int64(i)*entrySize); err != nil {
		return tableEntry{}, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	e := tableEntry{
		off:      binary.LittleEndian.Uint64(b[:]),
		termLen:  uint64(binary.LittleEndian.Uint32(b[8:])),
		postings: uint64(binary.LittleEndian.Uint32(b[12:])),
		crc:      binary.LittleEndian.Uint32(b[16:]),
	}
	// off is checked first, so the sum cannot overflow.
	if e.off > r.blobLen || e.off+e.termLen+8*e.postings > r.blobLen {
		return tableEntry{}, fmt.Errorf("%w: term %d past the end", ErrDamaged, i)
	}
	return e, nil
}

// term reads the bytes of an entry's term.
func (r *Reader) term(e tableEntry) ([]byte, error) {
	t := make([]byte, e.termLen)
	if _, err := r.src.ReadAt(t, r.blobOff+int64(e.off)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return t, nil
}

// read checks an entry's term and postings and decodes the postings.
func (r *Reader) read(e tableEntry) ([]posting, error) {
	whole := make([]byte, e.termLen+8*e.postings)
	if _, err := r.src.ReadAt(whole, r.blobOff+int64(e.off)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	if crc32.ChecksumIEEE(whole) != e.crc {
		return nil, fmt.Errorf("%w: postings of %q", ErrDamaged, whole[:e.termLen])
	}
	raw := whole[e.termLen:]
	ps := make([]posting, len(raw)/8)
	for j := range ps {
		p := posting{doc: binary.LittleEndian.Uint32(raw[8*j:]), tf: binary.LittleEndian.Uint32(raw[8*j+4:])}
		if int64(p.doc) >= int64(len(r.docLen)) || r.docLen[p.doc] == 0 || p.tf == 0 {
			return nil, fmt.Errorf("%w: posting of an unknown document", ErrDamaged)
		}
		ps[j] = p
	}
	return ps, nil
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) take(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// appendLangs appends the language table: the documents of each language
// by its code, languages without documents left out.
func appendLangs(b []byte, c *[numLangs]uint64) []byte {
	at := len(b)
	b = binary.LittleEndian.AppendUint32(b, 0)
	count := uint32(0)
	for l, n := range c {
		if n == 0 {
			continue
		}
		code := Lang(l).String()
		b = append(b, byte(len(code)))
		b = append(b, code...)
		b = binary.LittleEndian.AppendUint64(b, n)
		count++
	}
	binary.LittleEndian.PutUint32(b[at:], count)
	return b
}

// langTableLen reads how long the language table at off is.
func langTableLen(src io.ReaderAt, off, size int64) (int64, error) {
	var b [4]byte
	if off+4 > size {
		return 0, fmt.Errorf("%w: truncated", ErrDamaged)
	}
	if _, err := src.ReadAt(b[:], off); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	at := off + 4
	for range binary.LittleEndian.Uint32(b[:]) {
		if at+1 > size {
			return 0, fmt.Errorf("%w: truncated", ErrDamaged)
		}
		if _, err := src.ReadAt(b[:1], at); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrDamaged, err)
		}
		at += 1 + int64(b[0]) + 8
	}
	return at - off, nil
}

// readLangs decodes a language table (checked by the header's CRC);
// codes this rag does not know count as Unknown.
func readLangs(b []byte) [numLangs]uint64 {
	var c [numLangs]uint64
	d := decoder{b: b}
	for range d.u32() {
		n := d.take(1)
		if d.err != nil {
			break
		}
		code := d.take(uint64(n[0]))
		docs := d.u64()
		if d.err != nil {
			break
		}
		c[LangOf(string(code))] += docs
	}
	return c
}
