package ollama

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unsafe"

	"github.com/ollama/ollama/api"
)

// decodeEmbed reads the vectors of an /api/embed answer without
// reflection: decoding them with encoding/json was a third of rag's CPU in
// a full index. It knows the plain shape Ollama writes and nothing more;
// for anything else, valid or not, it returns ok false and the caller
// decodes the body with encoding/json, so that every odd answer and every
// error reads exactly as the library's. When ok, the vectors are those
// encoding/json would give, bit for bit (each number goes through
// strconv.ParseFloat at 32 bits, as encoding/json does for a float32).
//
// scratch is reused for the numbers; the vectors share one new backing
// array of exactly their size.
func decodeEmbed(body []byte, scratch *[]float32) (vecs [][]float32, ok bool) {
	s := scanner{b: body}
	s.space()
	if !s.eat('{') {
		return nil, false
	}
	start, end := -1, -1
	var ends []int // where each vector ends in flat
	flat := (*scratch)[:0]
	for {
		s.space()
		key, ok := s.key()
		if !ok {
			return nil, false
		}
		s.space()
		if !s.eat(':') {
			return nil, false
		}
		s.space()
		switch {
		case string(key) == "embeddings":
			if start >= 0 {
				return nil, false // twice
			}
			start = s.i
			if flat, ends, ok = s.vectors(flat); !ok {
				return nil, false
			}
			end = s.i
		case bytes.EqualFold(key, []byte("embeddings")):
			return nil, false // encoding/json would take it, folded
		default:
			if !s.skip() {
				return nil, false
			}
		}
		s.space()
		if s.eat('}') {
			break
		}
		if !s.eat(',') {
			return nil, false
		}
	}
	*scratch = flat
	if start < 0 {
		return nil, false
	}
	// The rest of the answer (the model, the durations, anything new) is
	// small: encoding/json checks it, as it would have, with the vectors
	// replaced by null.
	rest := make([]byte, 0, len(body)-(end-start)+4)
	rest = append(append(append(rest, body[:start]...), "null"...), body[end:]...)
	var r api.EmbedResponse
	if err := json.Unmarshal(rest, &r); err != nil || r.Embeddings != nil {
		return nil, false
	}
	own := make([]float32, len(flat))
	copy(own, flat)
	vecs = make([][]float32, len(ends))
	from := 0
	for i, to := range ends {
		vecs[i] = own[from:to:to]
		from = to
	}
	return vecs, true
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// key reads an object key without escapes (a key with one is left to
// encoding/json).
func (s *scanner) key() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	from := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[from : s.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// skip passes over one value without checking it: encoding/json checks
// every byte of it when it decodes the rest. A scalar runs to the comma or
// brace after it.
func (s *scanner) skip() bool {
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			if !s.skipString() {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return true
			}
			if depth--; depth == 0 {
				s.i++
				return true
			}
		case ',':
			if depth == 0 {
				return true
			}
		}
		s.i++
	}
	return false
}

// skipString passes over a string, from its opening quote.
func (s *scanner) skipString() bool {
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return true
		}
	}
	return false
}

// vectors reads an array of arrays of numbers, appending the numbers to
// flat and noting where each array ends.
func (s *scanner) vectors(flat []float32) (_ []float32, ends []int, ok bool) {
	if !s.eat('[') {
		return nil, nil, false
	}
	ends = []int{}
	s.space()
	if s.eat(']') {
		return flat, ends, true
	}
	for {
		s.space()
		if !s.eat('[') {
			return nil, nil, false
		}
		s.space()
		if !s.eat(']') {
			for {
				s.space()
				f, ok := s.number()
				if !ok {
					return nil, nil, false
				}
				flat = append(flat, f)
				s.space()
				if s.eat(']') {
					break
				}
				if !s.eat(',') {
					return nil, nil, false
				}
			}
		}
		ends = append(ends, len(flat))
		s.space()
		if s.eat(']') {
			return flat, ends, true
		}
		if !s.eat(',') {
			return nil, nil, false
		}
	}
}

// number reads a JSON number (its grammar, stricter than ParseFloat's) as
// a float32, rounded as strconv.ParseFloat rounds it at 32 bits.
//
// Most numbers take Clinger's fast path: a mantissa of at most 2^53 and a
// power of ten up to 22 are exact float64s, so one multiplication or
// division rounds correctly to float64; rounding that to float32 is then
// correct too unless it lands exactly halfway between two float32s (the
// one case where rounding twice can differ from rounding once), which
// goes to ParseFloat with every other number, as does a longer mantissa
// or a larger power.
func (s *scanner) number() (float32, bool) {
	b, i := s.b, s.i
	from := i
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	var m uint64 // the digits, up to 19 of them
	nd, exp := 0, 0
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			m = m*10 + uint64(b[i]-'0')
			nd++
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		at := i
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			if m != 0 || b[i] != '0' {
				m = m*10 + uint64(b[i]-'0')
				nd++
			}
			exp--
		}
		if i == at {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		at, e := i, 0
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			if e < 10000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if i == at {
			return 0, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	s.i = i
	if nd <= 19 && m <= 1<<53 && -22 <= exp && exp <= 22 {
		f := float64(m)
		if exp < 0 {
			f /= pow10[-exp]
		} else {
			f *= pow10[exp]
		}
		if math.Float64bits(f)&(1<<29-1) != 1<<28 {
			if neg {
				f = -f
			}
			return float32(f), true
		}
	}
	num := b[from:i]
	// ParseFloat keeps no reference to its argument (its errors copy it),
	// so the bytes need not be copied into a string.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 32)
	if err != nil {
		return 0, false // out of range: encoding/json says how
	}
	return float32(f), true
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}
