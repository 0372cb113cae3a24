package chunk

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

// TestEstimateAgainstTokenizer checks EstimateTokens against a real BPE
// tokenizer (OpenAI's cl100k_base, which is close to what Llama 3 and most
// embedding models' tokenizers make of English) on English prose (SQuAD
// paragraphs from Wikipedia, when ../shared is there), Markdown and code.
func TestEstimateAgainstTokenizer(t *testing.T) {
	t.Parallel()
	enc, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string][]string{}
	for _, name := range []string{"manual.md", "notes.txt", "guide.rst"} {
		data, err := os.ReadFile(filepath.Join("..", "extract", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		samples["markup"] = append(samples["markup"], string(data))
	}
	for _, name := range []string{"chunk.go", "verify.go"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		samples["code"] = append(samples["code"], string(data))
	}
	if f, err := os.Open(filepath.Join("..", "..", "..", "shared", "datasets", "squad2-dev-subset", "beir", "corpus.jsonl")); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var doc struct{ Text string }
			if json.Unmarshal(sc.Bytes(), &doc) == nil {
				samples["prose"] = append(samples["prose"], doc.Text)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// XQuAD's paragraphs, when ../shared is there: Chinese is about a token
	// a character, not a token a run of letters.
	for _, lang := range []string{"zh", "de", "ru", "ar"} {
		f, err := os.Open(filepath.Join("..", "..", "..", "shared", "datasets", "xquad", "beir", lang, "corpus.jsonl"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var doc struct{ Text string }
			if json.Unmarshal(sc.Bytes(), &doc) == nil {
				samples["xquad-"+lang] = append(samples["xquad-"+lang], doc.Text)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	bounds := map[string][2]float64{"prose": {0.85, 1.15}, "markup": {0.85, 1.15}, "code": {0.85, 1.15},
		"xquad-zh": {0.85, 1.15}, "xquad-de": {0.5, 1.15}, "xquad-ru": {0.3, 1.15}, "xquad-ar": {0.3, 1.15}}
	for kind, texts := range samples {
		est, real := 0, 0
		for _, s := range texts {
			n, err := enc.Count(s)
			if err != nil {
				t.Fatal(err)
			}
			est += EstimateTokens(s)
			real += n
		}
		ratio := float64(est) / float64(real)
		t.Logf("%s: %d texts, estimate %d tokens, cl100k_base %d, ratio %.3f", kind, len(texts), est, real, ratio)
		if b := bounds[kind]; ratio < b[0] || ratio > b[1] {
			t.Errorf("%s: estimate/real = %.3f, outside [%.2f, %.2f]", kind, ratio, b[0], b[1])
		}
	}
}

// addString, which skips decoding ASCII, estimates as add does one
// character at a time.
func TestAddString(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aZ9 \n\t\r.,;==--__**##\x00\x7fé世界\u00a0\u2003Ω😀")
	for range 20000 {
		var b []byte
		for range r.IntN(40) {
			if r.IntN(20) == 0 {
				b = append(b, byte(0x80+r.IntN(0x80))) // not UTF-8
				continue
			}
			b = utf8.AppendRune(b, alphabet[r.IntN(len(alphabet))])
		}
		s := string(b)
		var want, got estimator
		for _, c := range s {
			want.add(c)
		}
		got.addString(s)
		if got != want {
			t.Fatalf("addString(%q) = %+v, add gives %+v", s, got, want)
		}
	}
}

func BenchmarkEstimateTokens(b *testing.B) {
	text := prose(500, 12)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		EstimateTokens(text)
	}
}
