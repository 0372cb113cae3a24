package lexical

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version changes whenever analysis or scoring changes what an index holds;
// a saved index of another version is built again.
const Version = 1

var magic = [4]byte{'R', 'A', 'G', 'L'}

// Append appends the index in its saved form to b: magic, version,
// document lengths, then every term with its postings, little-endian.
func (x *Index) Append(b []byte) []byte {
	b = append(b, magic[:]...)
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = binary.LittleEndian.AppendUint64(b, uint64(x.docs))
	b = binary.LittleEndian.AppendUint64(b, x.totalLen)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(x.docLen)))
	for _, n := range x.docLen {
		b = binary.LittleEndian.AppendUint32(b, n)
	}
	terms := make([]string, len(x.postings))
	for t, id := range x.termIDs {
		terms[id] = t
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(terms)))
	for id, t := range terms {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
		ps := x.postings[id]
		b = binary.AppendUvarint(b, uint64(len(ps)))
		for _, p := range ps {
			b = binary.LittleEndian.AppendUint32(b, p.doc)
			b = binary.LittleEndian.AppendUint32(b, p.tf)
		}
	}
	return b
}

// ErrVersion means a saved index was written by another Version.
var ErrVersion = errors.New("keyword index of another version")

// Decode reads an index saved by Append, checking that it is consistent,
// since a damaged file must never make a search read out of bounds.
func Decode(b []byte) (*Index, error) {
	d := decoder{b: b}
	if len(b) < 8 || [4]byte(b[:4]) != magic {
		return nil, errors.New("not a keyword index")
	}
	d.b = b[4:]
	if v := d.u32(); v != Version {
		return nil, fmt.Errorf("%w (%d)", ErrVersion, v)
	}
	x := &Index{termIDs: map[string]uint32{}}
	x.docs = int(d.u64())
	x.totalLen = d.u64()
	n := d.u32()
	if d.err == nil && uint64(n)*4 > uint64(len(d.b)) {
		return nil, errors.New("keyword index: document table past the end")
	}
	x.docLen = make([]uint32, n)
	docs := 0
	for i := range x.docLen {
		x.docLen[i] = d.u32()
		if x.docLen[i] > 0 {
			docs++
		}
	}
	if d.err == nil && docs != x.docs {
		return nil, fmt.Errorf("keyword index: %d documents, header says %d", docs, x.docs)
	}
	terms := d.u32()
	for id := uint32(0); id < terms && d.err == nil; id++ {
		t := string(d.bytes(d.uvarint()))
		np := d.uvarint()
		if d.err == nil && np*8 > uint64(len(d.b)) {
			return nil, errors.New("keyword index: postings past the end")
		}
		ps := make([]posting, np)
		for i := range ps {
			ps[i] = posting{doc: d.u32(), tf: d.u32()}
			if d.err == nil && (ps[i].doc >= n || x.docLen[ps[i].doc] == 0 || ps[i].tf == 0) {
				return nil, errors.New("keyword index: posting of an unknown document")
			}
		}
		if _, dup := x.termIDs[t]; dup && d.err == nil {
			return nil, fmt.Errorf("keyword index: term %q twice", t)
		}
		x.termIDs[t] = id
		x.postings = append(x.postings, ps)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("keyword index: trailing bytes")
	}
	return x, nil
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("keyword index: truncated")

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

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte { return d.take(n) }
