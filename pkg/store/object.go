package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// An object file holds the chunks of one file content:
//
//	"RAGC" | version u16 | dims u32 | count u32
//	count × ( start uvarint | end uvarint | page uvarint |
//	          len uvarint | heading | len uvarint | text | dims × f32 |
//	          crc32-IEEE of the record, u32 )
//	count × ( offset u64 | start u32 | end u32 | page u32 | flags u32 | hash u64 )
//	table offset u64 | crc32-IEEE of the table, u32
//	crc32-IEEE of all the above, u32
//
// All integers are little-endian. The checksum turns a torn or damaged file
// into a clear error instead of wrong vectors. Version 3 added the record
// checksums and the table at the end (where each record starts, its lines
// and page, flag 1 when its vector has a direction, and a hash of its
// heading and text: chunkHash), so that a hit reads its own chunk, and a
// citation the table and its chunks, never the whole object of a large
// file; and an edited file's chunks find their unchanged text's vectors.
// Version 2 (no record checksums, no table) is still read.
var objectMagic = [4]byte{'R', 'A', 'G', 'C'}

const (
	objectVersion   = 3
	objectVersion2  = 2
	objectHeader    = 14
	tableEntry      = 32
	objectTrailer   = 16 // table offset, its checksum and the file's
	flagUsable      = 1
	objectTailBytes = objectTrailer - 4 // the trailer before the file's checksum
)

// chunkHash names a chunk's heading and text, what its vector is made of
// (with the index's model): FNV-1a, 64 bits. A match is checked against
// the text itself before its vector is reused.
func chunkHash(heading, text string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(heading); i++ {
		h = (h ^ uint64(heading[i])) * prime
	}
	h *= prime // a zero byte between heading and text (h ^ 0 is h)
	for i := 0; i < len(text); i++ {
		h = (h ^ uint64(text[i])) * prime
	}
	return h
}

func encodeObject(w io.Writer, chunks []Chunk) error {
	dims := 0
	if len(chunks) > 0 {
		dims = len(chunks[0].Vector)
	}
	crc := crc32.NewIEEE()
	bw := bufio.NewWriter(io.MultiWriter(w, crc))
	var hdr [objectHeader]byte
	copy(hdr[:4], objectMagic[:])
	binary.LittleEndian.PutUint16(hdr[4:], objectVersion)
	binary.LittleEndian.PutUint32(hdr[6:], uint32(dims))
	binary.LittleEndian.PutUint32(hdr[10:], uint32(len(chunks)))
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	table := make([]byte, 0, tableEntry*len(chunks))
	off := uint64(objectHeader)
	var rec []byte
	for i, c := range chunks {
		if len(c.Vector) != dims {
			return fmt.Errorf("chunk %d has %d dimensions, want %d", i, len(c.Vector), dims)
		}
		rec = appendRecord(rec[:0], c)
		if _, err := bw.Write(rec); err != nil {
			return err
		}
		var flags uint32
		if !zero(c.Vector) {
			flags = flagUsable
		}
		table = binary.LittleEndian.AppendUint64(table, off)
		table = binary.LittleEndian.AppendUint32(table, uint32(c.StartLine))
		table = binary.LittleEndian.AppendUint32(table, uint32(c.EndLine))
		table = binary.LittleEndian.AppendUint32(table, uint32(c.Page))
		table = binary.LittleEndian.AppendUint32(table, flags)
		table = binary.LittleEndian.AppendUint64(table, chunkHash(c.Heading, c.Text))
		off += uint64(len(rec))
	}
	if _, err := bw.Write(table); err != nil {
		return err
	}
	var tail [objectTailBytes]byte
	binary.LittleEndian.PutUint64(tail[:], off)
	binary.LittleEndian.PutUint32(tail[8:], crc32.ChecksumIEEE(table))
	if _, err := bw.Write(tail[:]); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	var f [4]byte
	binary.LittleEndian.PutUint32(f[:], crc.Sum32())
	_, err := w.Write(f[:])
	return err
}

// objectSize is the size of the object encodeObject writes for chunks.
func objectSize(chunks []Chunk) int64 {
	size := int64(objectHeader + objectTrailer)
	for _, c := range chunks {
		size += int64(uvarintLen(c.StartLine) + uvarintLen(c.EndLine) + uvarintLen(c.Page) +
			uvarintLen(len(c.Heading)) + len(c.Heading) + uvarintLen(len(c.Text)) + len(c.Text) +
			4*len(c.Vector) + 4 + tableEntry)
	}
	return size
}

func uvarintLen(x int) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// appendRecord appends the record of c, its checksum last.
func appendRecord(b []byte, c Chunk) []byte {
	at := len(b)
	b = binary.AppendUvarint(b, uint64(c.StartLine))
	b = binary.AppendUvarint(b, uint64(c.EndLine))
	b = binary.AppendUvarint(b, uint64(c.Page))
	b = binary.AppendUvarint(b, uint64(len(c.Heading)))
	b = append(b, c.Heading...)
	b = binary.AppendUvarint(b, uint64(len(c.Text)))
	b = append(b, c.Text...)
	for _, x := range c.Vector {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b[at:]))
}

var errShort = errors.New("truncated")

// minChunkBytes is the least a chunk takes in an object besides its
// vector: five uvarints of one byte each (start, end, page and the two
// lengths).
const minChunkBytes = 5

func decodeObject(data []byte) ([]Chunk, error) {
	chunks, _, _, err := parseObject(data, true)
	return chunks, err
}

// objectText is what a search needs of an object: its chunks without their
// vectors (converting every float was a fifth of a hybrid query's CPU),
// whether each has a usable vector (one with a direction: zero), and their
// size.
type objectText struct {
	chunks []Chunk
	usable []bool
	dims   int
}

func decodeObjectText(data []byte) (objectText, error) {
	chunks, usable, dims, err := parseObject(data, false)
	return objectText{chunks: chunks, usable: usable, dims: dims}, err
}

// parseObject checks and decodes an object file: with vectors, each
// chunk's Vector; without, which chunks have a usable one.
func parseObject(data []byte, vectors bool) (chunks []Chunk, usable []bool, dims int, err error) {
	if len(data) < 18 {
		return nil, nil, 0, errShort
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if !bytes.Equal(body[:4], objectMagic[:]) {
		return nil, nil, 0, errors.New("not a rag object file")
	}
	version := binary.LittleEndian.Uint16(body[4:])
	if version != objectVersion && version != objectVersion2 {
		return nil, nil, 0, fmt.Errorf("object version %d, want %d", version, objectVersion)
	}
	if crc32.ChecksumIEEE(body) != sum {
		return nil, nil, 0, errors.New("checksum mismatch")
	}
	dims = int(binary.LittleEndian.Uint32(body[6:]))
	count := int(binary.LittleEndian.Uint32(body[10:]))
	r := body[objectHeader:]
	record := 0 // the bytes each record ends with (its checksum)
	if version == objectVersion {
		// The table and trailer follow the records: the file's checksum
		// covers them, and the records are decoded in order without them.
		if len(r) < objectTailBytes || count > (len(r)-objectTailBytes)/tableEntry {
			return nil, nil, 0, errShort
		}
		r = r[:len(r)-objectTailBytes-count*tableEntry]
		record = 4
	}
	// The header is checked against the file before anything is allocated
	// for it: a crafted one (its checksum made to match) claimed billions
	// of chunks and dimensions, and count × dims overflowed into a negative
	// capacity (a panic). A chunk takes at least its five lengths and its
	// vector, so neither can exceed what the file holds, and then neither
	// can their product.
	if count > 0 && (dims > len(r)/4 || count > len(r)/(minChunkBytes+4*dims)) {
		return nil, nil, 0, fmt.Errorf("header claims %d chunks of %d dimensions, more than its %d bytes hold", count, dims, len(data))
	}
	chunks = make([]Chunk, 0, count)
	uvarint := func() (int, error) {
		v, n := binary.Uvarint(r)
		if n <= 0 || v > math.MaxInt32 {
			return 0, errShort
		}
		r = r[n:]
		return int(v), nil
	}
	// One backing array for all vectors: fewer, larger allocations.
	var floats []float32
	if vectors {
		floats = make([]float32, 0, count*dims)
	} else {
		usable = make([]bool, 0, count)
	}
	for i := 0; i < count; i++ {
		start, err := uvarint()
		if err != nil {
			return nil, nil, 0, err
		}
		end, err := uvarint()
		if err != nil {
			return nil, nil, 0, err
		}
		page, err := uvarint()
		if err != nil {
			return nil, nil, 0, err
		}
		hn, err := uvarint()
		if err != nil {
			return nil, nil, 0, err
		}
		if len(r) < hn {
			return nil, nil, 0, errShort
		}
		heading := string(r[:hn])
		r = r[hn:]
		n, err := uvarint()
		if err != nil {
			return nil, nil, 0, err
		}
		if len(r) < n+4*dims+record {
			return nil, nil, 0, errShort
		}
		c := Chunk{StartLine: start, EndLine: end, Page: page, Heading: heading, Text: string(r[:n])}
		r = r[n:]
		if vectors {
			at := len(floats)
			for j := 0; j < dims; j++ {
				floats = append(floats, math.Float32frombits(binary.LittleEndian.Uint32(r[4*j:])))
			}
			c.Vector = floats[at:len(floats):len(floats)]
		} else {
			usable = append(usable, !zeroBits(r[:4*dims]))
		}
		r = r[4*dims+record:]
		chunks = append(chunks, c)
	}
	if len(r) != 0 {
		return nil, nil, 0, errors.New("trailing bytes")
	}
	return chunks, usable, dims, nil
}

// zeroBits is zero for little-endian float32 bits: true when a value is
// NaN or infinite, or every value is 0 or -0.
func zeroBits(b []byte) bool {
	some := false
	for i := 0; i+4 <= len(b); i += 4 {
		w := binary.LittleEndian.Uint32(b[i:])
		if w&0x7f800000 == 0x7f800000 {
			return true // NaN or infinity
		}
		some = some || w&0x7fffffff != 0
	}
	return !some
}
