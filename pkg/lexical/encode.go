package lexical

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
)

// Version changes whenever analysis, scoring or the saved form changes what
// an index holds; a saved index of another version is built again. Version
// 2 sorts the terms into a table, so that a search reads only the postings
// of its own terms from a mapped file instead of decoding the whole index.
const Version = 2

var magic = [4]byte{'R', 'A', 'G', 'L'}

// The saved form, little-endian:
//
//	"RAGL" version:u32 docs:u64 totalLen:u64 n:u32 docLen:[n]u32
//	terms:u32 table:[terms]{off:u64 termLen:u32 postings:u32 crc:u32}
//	crc:u32 (of everything above)
//	blob: for each term, its bytes then its postings ([postings]{doc:u32 tf:u32})
//
// The table is sorted by term, so a term is found by binary search; each
// entry's crc covers its term and postings, checked when they are read.
const entrySize = 8 + 4 + 4 + 4

// Append appends the index in its saved form to b.
func (x *Index) Append(b []byte) []byte {
	start := len(b)
	b = append(b, magic[:]...)
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = binary.LittleEndian.AppendUint64(b, uint64(x.docs))
	b = binary.LittleEndian.AppendUint64(b, x.totalLen)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(x.docLen)))
	for _, n := range x.docLen {
		b = binary.LittleEndian.AppendUint32(b, n)
	}
	terms := make([]string, 0, len(x.termIDs))
	for t := range x.termIDs {
		terms = append(terms, t)
	}
	slices.Sort(terms)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(terms)))
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
	b = binary.LittleEndian.AppendUint32(b, 0) // the header crc, filled in below
	blob := len(b)
	for i, t := range terms {
		at := len(b)
		b = append(b, t...)
		for _, p := range x.postings[x.termIDs[t]] {
			b = binary.LittleEndian.AppendUint32(b, p.doc)
			b = binary.LittleEndian.AppendUint32(b, p.tf)
		}
		binary.LittleEndian.PutUint32(b[head+i*entrySize+16:], crc32.ChecksumIEEE(b[at:]))
	}
	binary.LittleEndian.PutUint32(b[blob-4:], crc32.ChecksumIEEE(b[start:blob-4]))
	return b
}

// ErrVersion means a saved index was written by another Version.
var ErrVersion = errors.New("keyword index of another version")

// ErrDamaged means a saved index fails a check: its header, or the entry
// of a term a search read.
var ErrDamaged = errors.New("keyword index damaged")

// Reader searches a saved index in place: opening it checks the header,
// the document lengths and the term table; a search then reads and checks
// only its own terms' postings. b may be a mapped file: nothing else is
// read, so a search of a large index touches few of its pages.
type Reader struct {
	docs     int
	totalLen uint64
	docLen   []uint32
	table    []byte // terms × entrySize
	blob     []byte
}

// Open reads the header of a saved index. It keeps b, which must not change
// while the Reader is used.
func Open(b []byte) (*Reader, error) {
	d := decoder{b: b}
	if len(b) < 8 || [4]byte(b[:4]) != magic {
		return nil, fmt.Errorf("%w: not a keyword index", ErrDamaged)
	}
	d.b = b[4:]
	if v := d.u32(); v != Version {
		return nil, fmt.Errorf("%w (%d)", ErrVersion, v)
	}
	r := &Reader{docs: int(d.u64()), totalLen: d.u64()}
	n := d.u32()
	lens := d.take(4 * uint64(n))
	terms := d.u32()
	r.table = d.take(entrySize * uint64(terms))
	sum := d.u32()
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, d.err)
	}
	headLen := len(b) - len(d.b) - 4
	if crc32.ChecksumIEEE(b[:headLen]) != sum {
		return nil, fmt.Errorf("%w: header checksum", ErrDamaged)
	}
	r.blob = d.b
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
	return search(query, k, r.docs, r.totalLen, r.docLen, r.postings)
}

// postings finds term in the sorted table and reads its postings; a term
// the index lacks has none.
func (r *Reader) postings(term string) ([]posting, error) {
	lo, hi := 0, len(r.table)/entrySize
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		t, _, err := r.entry(mid)
		if err != nil {
			return nil, err
		}
		switch c := strings.Compare(string(t), term); {
		case c < 0:
			lo = mid + 1
		case c > 0:
			hi = mid
		default:
			return r.read(mid)
		}
	}
	return nil, nil
}

// entry returns term i and the whole of its stored bytes (term, then
// postings), checked to lie inside the index.
func (r *Reader) entry(i int) (term, whole []byte, err error) {
	e := r.table[i*entrySize:]
	off := binary.LittleEndian.Uint64(e)
	tl := uint64(binary.LittleEndian.Uint32(e[8:]))
	np := uint64(binary.LittleEndian.Uint32(e[12:]))
	// off is checked first, so the sum cannot overflow.
	if off > uint64(len(r.blob)) || off+tl+8*np > uint64(len(r.blob)) {
		return nil, nil, fmt.Errorf("%w: term %d past the end", ErrDamaged, i)
	}
	whole = r.blob[off : off+tl+8*np]
	return whole[:tl], whole, nil
}

// read checks term i's entry and decodes its postings.
func (r *Reader) read(i int) ([]posting, error) {
	t, whole, err := r.entry(i)
	if err != nil {
		return nil, err
	}
	if crc32.ChecksumIEEE(whole) != binary.LittleEndian.Uint32(r.table[i*entrySize+16:]) {
		return nil, fmt.Errorf("%w: postings of %q", ErrDamaged, t)
	}
	raw := whole[len(t):]
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
