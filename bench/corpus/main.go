// Command corpus writes the benchmark corpus for bench/cli.sh: N Markdown
// files of English-like prose (headings, paragraphs of varied length, a few
// lists), the same bytes on every run for the same flags, so timings of
// different revisions of rag compare like with like.
//
//	go run ./bench/corpus -n 10000 -size 38000 -o DIR
//
// Words come from a fixed vocabulary of common English words plus generated
// rarer ones, drawn with a Zipf-like skew, so the keyword index and the
// hashed stand-in embeddings see realistic term statistics rather than one
// repeated sentence.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// common holds frequent English words; the generated vocabulary adds the long
// tail that makes documents distinguishable.
var common = strings.Fields(`the of and to a in is that for it as was with be by on not he this are or
his from at which but have an they you were her she there been one all we their has would when if so
no will more can about out up what its into than them only other new some could time these two may
then do first any my now such like our over man me even most made after also did many before must
through back years where much your way well down should because each just those people how too little
state good very make world still own see men work long get here between both life being under never
day same another know while last might us great old year off come since against go came right used
take three index search vector query file folder chunk model server answer source memory disk page
cache scan batch stream token word text line heading paragraph section report measure speed cost
limit machine core thread network request response result score rank order merge segment catalog
object layout format version crash lock reader writer change edit rename delete update build test
river mountain forest city harbour garden market winter summer autumn spring morning evening light
shadow stone water fire wind cloud rain snow bridge road tower window door table chair letter book
story history science music painting theory method system process design problem question reason
example number value figure table chart signal noise pattern structure function energy matter field`)

const (
	seed      = 20261129 // fixed: the corpus is part of the benchmark's definition
	rareWords = 6000
)

func main() {
	n := flag.Int("n", 10000, "number of files")
	size := flag.Int("size", 38000, "approximate bytes per file")
	out := flag.String("o", "corpus", "folder to write (created; existing files are overwritten)")
	flag.Parse()
	if err := run(*n, *size, *out); err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}

func run(n, size int, out string) error {
	if n < 1 || size < 100 {
		return errors.New("-n must be at least 1 and -size at least 100")
	}
	r := rand.New(rand.NewPCG(seed, 1))
	vocab := vocabulary(r)
	zipf := rand.NewZipf(r, 1.1, 40, uint64(len(vocab)-1))
	for i := 0; i < n; i++ {
		// 100 files a folder, as a user's notes or a docs tree would be spread.
		dir := filepath.Join(out, fmt.Sprintf("d%03d", i/100))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		path := filepath.Join(dir, fmt.Sprintf("doc%05d.md", i))
		if err := writeDoc(path, i, size, r, vocab, zipf); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// vocabulary is the common words followed by generated ones, most frequent
// first (the Zipf draw favours low indexes).
func vocabulary(r *rand.Rand) []string {
	const consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
	v := append([]string(nil), common...)
	seen := make(map[string]bool, rareWords)
	for len(v) < len(common)+rareWords {
		var b strings.Builder
		for s := 2 + r.IntN(2); s > 0; s-- {
			b.WriteByte(consonants[r.IntN(len(consonants))])
			b.WriteByte(vowels[r.IntN(len(vowels))])
			if r.IntN(3) == 0 {
				b.WriteByte(consonants[r.IntN(len(consonants))])
			}
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			v = append(v, w)
		}
	}
	return v
}

func writeDoc(path string, i, size int, r *rand.Rand, vocab []string, zipf *rand.Zipf) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	word := func() string { return vocab[zipf.Uint64()] }
	sentence := func() string {
		ws := make([]string, 6+r.IntN(18))
		for j := range ws {
			ws[j] = word()
		}
		if r.IntN(4) == 0 {
			ws[len(ws)/2] += ","
		}
		s := strings.Join(ws, " ")
		return strings.ToUpper(s[:1]) + s[1:] + "."
	}
	title := func() string {
		ws := make([]string, 2+r.IntN(4))
		for j := range ws {
			ws[j] = word()
		}
		return strings.ToUpper(ws[0][:1]) + strings.Join(ws, " ")[1:]
	}
	written := 0
	put := func(s string) {
		written += len(s)
		_, _ = w.WriteString(s) // bufio keeps the first error; Flush reports it
	}
	put(fmt.Sprintf("# Document %d: %s\n\n", i, title()))
	for written < size {
		put("## " + title() + "\n\n")
		for p := 10 + r.IntN(20); p > 0 && written < size; p-- {
			if r.IntN(8) == 0 {
				for k := 2 + r.IntN(4); k > 0; k-- {
					put("- " + sentence() + "\n")
				}
				put("\n")
				continue
			}
			ss := make([]string, 2+r.IntN(5))
			for k := range ss {
				ss[k] = sentence()
			}
			put(wrap(strings.Join(ss, " "), 80) + "\n\n")
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// wrap breaks a paragraph into lines of at most width bytes where it can, as
// Markdown written in an editor is.
func wrap(p string, width int) string {
	var b strings.Builder
	line := 0
	for i, w := range strings.Fields(p) {
		switch {
		case i == 0:
		case line+1+len(w) > width:
			b.WriteByte('\n')
			line = 0
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}
