package ollama

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/ollama/ollama/api"
)

// answer is an /api/embed answer as Ollama writes it: n vectors of dims
// unit-length float32s.
func answer(t testing.TB, n, dims int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	resp := api.EmbedResponse{Model: "nomic-embed-text:latest", TotalDuration: 123456789, LoadDuration: 2345678, PromptEvalCount: 8000}
	for range n {
		v := make([]float32, dims)
		var sum float64
		for i := range v {
			v[i] = float32(r.NormFloat64())
			sum += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(sum))
		}
		resp.Embeddings = append(resp.Embeddings, v)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameAsLibrary checks decodeEmbed against encoding/json on body: when it
// decodes, encoding/json must succeed with the same bits.
func sameAsLibrary(t *testing.T, body []byte) (ok bool) {
	t.Helper()
	var scratch []float32
	got, ok := decodeEmbed(body, &scratch)
	var want api.EmbedResponse
	err := json.Unmarshal(body, &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("decoded %q, which encoding/json refuses: %v", body, err)
	}
	if (got == nil) != (want.Embeddings == nil) || len(got) != len(want.Embeddings) {
		t.Fatalf("decoded %d vectors (nil %v), encoding/json %d (nil %v), from %q", len(got), got == nil, len(want.Embeddings), want.Embeddings == nil, body)
	}
	for i := range got {
		if (got[i] == nil) != (want.Embeddings[i] == nil) || len(got[i]) != len(want.Embeddings[i]) {
			t.Fatalf("vector %d: %v, encoding/json %v, from %q", i, got[i], want.Embeddings[i], body)
		}
		for j := range got[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want.Embeddings[i][j]) {
				t.Fatalf("vector %d[%d] = %v, encoding/json %v, from %q", i, j, got[i][j], want.Embeddings[i][j], body)
			}
		}
	}
	return true
}

func TestDecodeEmbed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		ok   bool // decoded here, not left to encoding/json
	}{
		{"ollama's shape", string(answer(t, 3, 8, 1)), true},
		{"a batch of 16 x 768", string(answer(t, 16, 768, 2)), true},
		{"spaces everywhere", " \n{ \"model\" : \"m\" ,\t\"embeddings\" :\r[ [ 1 , -2.5e-3 ] ,[0,-0, 1E+2] ] , \"total_duration\": 5 } \n", true},
		{"embeddings first", `{"embeddings":[[0.1]],"model":"m"}`, true},
		{"no other field", `{"embeddings":[[1e-45, 3.4028234e38, 123456789012345678901234567890]]}`, true},
		{"no vector", `{"model":"m","embeddings":[]}`, true},
		{"an empty vector", `{"embeddings":[[],[1]]}`, true},
		{"unknown fields of every kind", `{"x":{"a":[1,{"b":"]}\"["}]},"y":[],"z":null,"w":true,"embeddings":[[2]],"v":"\u00e9\\"}`, true},

		{"null embeddings", `{"embeddings":null}`, false},
		{"a null vector", `{"embeddings":[null]}`, false},
		{"a null number", `{"embeddings":[[null]]}`, false},
		{"a string number", `{"embeddings":[["1"]]}`, false},
		{"no embeddings", `{"model":"m"}`, false},
		{"a folded key", `{"Embeddings":[[1]]}`, false},
		{"an escaped key", `{"embedding\u0073":[[1]]}`, false},
		{"embeddings twice", `{"embeddings":[[1]],"embeddings":[[2]]}`, false},
		{"out of float32's range", `{"embeddings":[[1e39]]}`, false},
		{"a number with a plus", `{"embeddings":[[+1]]}`, false},
		{"a leading zero", `{"embeddings":[[01]]}`, false},
		{"a bare point", `{"embeddings":[[1.]]}`, false},
		{"hex", `{"embeddings":[[0x10]]}`, false},
		{"infinity", `{"embeddings":[[Infinity]]}`, false},
		{"a trailing comma", `{"embeddings":[[1,]]}`, false},
		{"unclosed", `{"embeddings":[[1]]`, false},
		{"garbage after", `{"embeddings":[[1]]}x`, false},
		{"a bad field after", `{"embeddings":[[1]],"total_duration":"soon"}`, false},
		{"a broken field before", `{"model":tru,"embeddings":[[1]]}`, false},
		{"a control character in a field", "{\"model\":\"a\x01\",\"embeddings\":[[1]]}", false},
		{"an error", `{"error":"model \"x\" not found, try pulling it first"}`, false},
		{"empty", ``, false},
		{"an array", `[[1]]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sameAsLibrary(t, []byte(tt.body)); got != tt.ok {
				t.Errorf("decoded = %v, want %v", got, tt.ok)
			}
		})
	}
}

// The vectors share nothing with the scratch space, which the next answer
// overwrites.
func TestDecodeEmbedOwnsVectors(t *testing.T) {
	t.Parallel()
	var scratch []float32
	first, ok := decodeEmbed([]byte(`{"embeddings":[[1,2],[3]]}`), &scratch)
	if !ok {
		t.Fatal("not decoded")
	}
	if _, ok := decodeEmbed([]byte(`{"embeddings":[[7,7,7]]}`), &scratch); !ok {
		t.Fatal("not decoded")
	}
	if fmt.Sprint(first) != "[[1 2] [3]]" {
		t.Errorf("first answer now reads %v", first)
	}
	if cap(first[0]) != 2 {
		t.Errorf("appending to a vector would overwrite the next: cap %d", cap(first[0]))
	}
}

func FuzzDecodeEmbed(f *testing.F) {
	f.Add(answer(f, 2, 4, 3))
	f.Add([]byte(`{"model":"m","embeddings":[[1,-0,2.5e-3],[]],"total_duration":1,"load_duration":2,"prompt_eval_count":3}`))
	f.Add([]byte(`{"x":{"a":[1,{"b":"]}\"["}]},"embeddings":[[2]],"v":"\u00e9"}`))
	f.Add([]byte(`{"embeddings":[[1e39]]}`))
	f.Add([]byte(`{"Embeddings":[[1]]}`))
	f.Add([]byte(`{"error":"boom"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsLibrary(t, body)
	})
}

// BenchmarkDecodeEmbed decodes one answer of a batch of 16 chunks of 768
// dimensions, as the library did and as decodeEmbed does.
func BenchmarkDecodeEmbed(b *testing.B) {
	body := answer(b, 16, 768, 4)
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var r api.EmbedResponse
			if err := json.Unmarshal(body, &r); err != nil || len(r.Embeddings) != 16 {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeEmbed", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		var scratch []float32
		for b.Loop() {
			if v, ok := decodeEmbed(body, &scratch); !ok || len(v) != 16 {
				b.Fatal("not decoded")
			}
		}
	})
}

// Every number reads as strconv.ParseFloat reads it at 32 bits, also the
// ones the fast path leaves to it: long mantissas, large powers, and
// decimals that fall near or on the midpoint between two float32s.
func TestNumber(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	var nums []string
	for range 200000 {
		f := math.Float32frombits(r.Uint32())
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		nums = append(nums, string(b), strconv.FormatFloat(float64(f), 'e', -1, 32))
		// Halfway to the next float32, and just either side of it.
		next := math.Nextafter32(f, float32(math.Inf(1)))
		mid := (float64(f) + float64(next)) / 2
		for _, x := range []float64{mid, math.Nextafter(mid, 0), math.Nextafter(mid, math.Inf(1))} {
			nums = append(nums, strconv.FormatFloat(x, 'g', -1, 64), strconv.FormatFloat(x, 'e', 25, 64))
		}
		// Unit-vector sized values as Ollama writes them.
		nums = append(nums, string(must(json.Marshal(float32(r.NormFloat64()/28)))))
	}
	for range 100000 { // random digit strings
		var b []byte
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, r.Uint64N(1e6), 10)
		if r.IntN(2) == 0 {
			b = append(b, '.')
			b = strconv.AppendUint(b, r.Uint64()>>r.IntN(64), 10)
		}
		if r.IntN(2) == 0 {
			b = append(b, 'e')
			b = strconv.AppendInt(b, int64(r.IntN(90)-45), 10)
		}
		nums = append(nums, string(b))
	}
	nums = append(nums, "0", "-0", "0.0", "-0.000", "1e22", "1e23", "9007199254740992", "9007199254740993",
		"3.4028235e38", "3.4028236e38", "1e-45", "7e-46", "1.401298464324817e-45", "0.000000000000000000000000000001")
	for _, n := range nums {
		want, werr := strconv.ParseFloat(n, 32)
		s := scanner{b: []byte(n)}
		got, ok := s.number()
		if ok != (werr == nil) || ok && math.Float32bits(got) != math.Float32bits(float32(want)) || ok && s.i != len(n) {
			t.Fatalf("number(%q) = %v (%#x), %v, read %d; ParseFloat %v (%#x), %v", n, got, math.Float32bits(got), ok, s.i, float32(want), math.Float32bits(float32(want)), werr)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
