package lexical

import (
	"bufio"
	"embed"
	"strings"
	"sync"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/arabic"
	"github.com/blevesearch/snowballstem/danish"
	"github.com/blevesearch/snowballstem/dutch"
	"github.com/blevesearch/snowballstem/finnish"
	"github.com/blevesearch/snowballstem/french"
	"github.com/blevesearch/snowballstem/german"
	"github.com/blevesearch/snowballstem/hungarian"
	"github.com/blevesearch/snowballstem/irish"
	"github.com/blevesearch/snowballstem/italian"
	"github.com/blevesearch/snowballstem/norwegian"
	"github.com/blevesearch/snowballstem/portuguese"
	"github.com/blevesearch/snowballstem/romanian"
	"github.com/blevesearch/snowballstem/russian"
	"github.com/blevesearch/snowballstem/spanish"
	"github.com/blevesearch/snowballstem/swedish"
	"github.com/blevesearch/snowballstem/tamil"
	"github.com/blevesearch/snowballstem/turkish"
	"github.com/kljensen/snowball/english"
)

// Lang is a language the analyser tells apart: one with a Snowball
// stemmer, or one whose script is analysed in its own way (written without
// spaces). Other languages are Unknown: their words are segmented,
// normalised and folded, neither stemmed nor stopped.
type Lang uint8

// The languages, by ISO 639-1 code. The order is not saved anywhere (a
// saved index names languages by code), so it may change.
const (
	Unknown Lang = iota
	English
	Danish
	Dutch
	Finnish
	French
	German
	Hungarian
	Irish
	Italian
	Norwegian
	Portuguese
	Romanian
	Spanish
	Swedish
	Turkish
	Russian
	Arabic
	Tamil
	Chinese
	Japanese
	Korean
	Thai
	Lao
	Khmer
	Burmese
	numLangs
)

// script is the writing system of a word or a language.
type script uint8

const (
	otherScript script = iota
	latin
	cyrillic
	arabicScript
	tamilScript
	cjk // Han, kana, Hangul: overlapping bigrams
	sea // Thai, Lao, Khmer, Myanmar: overlapping bigrams of letters
)

type langInfo struct {
	code   string
	script script
	stem   func(string) string // nil: words are kept as they are
}

// snowball runs one of the Snowball project's generated stemmers.
func snowball(f func(*snowballstem.Env) bool) func(string) string {
	return func(w string) string {
		env := snowballstem.NewEnv(w)
		f(env)
		return env.Current()
	}
}

var langs = [numLangs]langInfo{
	Unknown: {code: "", script: otherScript},
	// English keeps the stemmer rag always used (Porter2 by kljensen), so
	// that English indexes rank as they did.
	English:    {"en", latin, func(w string) string { return english.Stem(w, false) }},
	Danish:     {"da", latin, snowball(danish.Stem)},
	Dutch:      {"nl", latin, snowball(dutch.Stem)},
	Finnish:    {"fi", latin, snowball(finnish.Stem)},
	French:     {"fr", latin, snowball(french.Stem)},
	German:     {"de", latin, snowball(german.Stem)},
	Hungarian:  {"hu", latin, snowball(hungarian.Stem)},
	Irish:      {"ga", latin, snowball(irish.Stem)},
	Italian:    {"it", latin, snowball(italian.Stem)},
	Norwegian:  {"no", latin, snowball(norwegian.Stem)},
	Portuguese: {"pt", latin, snowball(portuguese.Stem)},
	Romanian:   {"ro", latin, snowball(romanian.Stem)},
	Spanish:    {"es", latin, snowball(spanish.Stem)},
	Swedish:    {"sv", latin, snowball(swedish.Stem)},
	Turkish:    {"tr", latin, snowball(turkish.Stem)},
	Russian:    {"ru", cyrillic, snowball(russian.Stem)},
	Arabic:     {"ar", arabicScript, snowball(arabic.Stem)},
	Tamil:      {"ta", tamilScript, snowball(tamil.Stem)},
	Chinese:    {"zh", cjk, nil},
	Japanese:   {"ja", cjk, nil},
	Korean:     {"ko", cjk, nil},
	Thai:       {"th", sea, nil},
	Lao:        {"lo", sea, nil},
	Khmer:      {"km", sea, nil},
	Burmese:    {"my", sea, nil},
}

// String is the language's ISO 639-1 code, "" for Unknown.
func (l Lang) String() string {
	if l < numLangs {
		return langs[l].code
	}
	return ""
}

// LangOf returns the language of an ISO 639-1 code, Unknown for a code the
// analyser does not know.
func LangOf(code string) Lang {
	for l := Lang(1); l < numLangs; l++ {
		if langs[l].code == code {
			return l
		}
	}
	return Unknown
}

//go:embed stop/*.txt
var stopFiles embed.FS

// stops maps a folded stop word to the languages whose stop word it is (a
// bit per Lang); filter has the bit of stopHash set for each. English
// words are stopped by english.IsStopWord as they always were; its entries
// here only tell languages apart.
type stops struct {
	table  map[string]uint32
	filter [1 << 14 / 64]uint64
}

// stopHash hashes an ASCII word by its length and first and last letters:
// most words are not stop words, and this tells so without a map lookup.
func stopHash(w string) uint32 {
	return uint32(len(w)&15)<<10 | uint32(w[0]|0x20)&31<<5 | uint32(w[len(w)-1]|0x20)&31
}

// stopTable is read on first use, not at start-up.
var stopTable = sync.OnceValue(func() *stops {
	st := &stops{table: map[string]uint32{}}
	t := st.table
	for l := Lang(1); l < numLangs; l++ {
		f, err := stopFiles.Open("stop/" + langs[l].code + ".txt")
		if err != nil {
			continue // a language without a list
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			w := strings.TrimSpace(sc.Text())
			if w == "" || strings.HasPrefix(w, "#") {
				continue
			}
			w = fold(w, l)
			t[w] |= 1 << l
			if isASCII(w) && len(w) <= 15 {
				h := stopHash(w)
				st.filter[h/64] |= 1 << (h % 64)
			}
		}
		_ = f.Close() // an embedded file: closing cannot fail
	}
	return st
})

// isStop reports whether the folded word w is a stop word of l.
func isStop(w string, l Lang) bool {
	if l == English {
		return english.IsStopWord(w)
	}
	return stopTable().table[w]&(1<<l) != 0
}
