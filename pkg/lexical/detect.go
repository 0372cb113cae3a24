package lexical

import (
	"unicode"
	"unicode/utf8"
)

// detectBytes is how much of a text Detect reads: a chunk's language shows
// in its first hundred words or so, and reading no more keeps detection a
// small part of analysing a text.
const detectBytes = 512

// votes is what detection counts in a text.
type votes struct {
	scripts   [sea + 1]int // tokens by script
	kana      int          // of the cjk tokens, kana
	hangul    int
	seaLang   [4]int // Thai, Lao, Khmer, Myanmar letters
	stop      [numLangs]int
	persian   int // Arabic-script letters only Persian and Urdu use
	arabic    int // and those Arabic uses in their place
	otherCyr  int // Cyrillic letters Russian does not use
	cyrLetter int
}

func count(s string) *votes { return countWith(s, stopMask) }

// stopMask returns the languages (a bit per Lang) word token t is a stop
// word of. It is on the path of every document indexed: an ASCII word is
// lower-cased on the stack and looked up only when the filter lets it.
func stopMask(t token) uint32 {
	st := stopTable()
	if isASCII(t.text) {
		if len(t.text) > 15 {
			return 0
		}
		if h := stopHash(t.text); st.filter[h/64]&(1<<(h%64)) == 0 {
			return 0
		}
		var buf [15]byte
		for i := 0; i < len(t.text); i++ {
			c := t.text[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		return st.table[string(buf[:len(t.text)])]
	}
	switch t.kind {
	case latin, cyrillic:
		return st.table[fold(t.text, Unknown)]
	case arabicScript:
		return st.table[fold(t.text, Arabic)]
	}
	return 0
}

// countWith counts the votes of s, with mask giving each word's stop
// word languages.
func countWith(s string, mask func(token) uint32) *votes {
	if len(s) > detectBytes {
		n := detectBytes
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	v := &votes{}
	scan(s, func(t token) {
		v.scripts[t.kind]++
		r, _ := utf8.DecodeRuneInString(t.text)
		switch t.kind {
		case cjk:
			if unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || r == 0x30FC {
				v.kana++
			} else if unicode.Is(unicode.Hangul, r) {
				v.hangul++
			}
			return
		case sea:
			switch {
			case unicode.Is(unicode.Thai, r):
				v.seaLang[0]++
			case unicode.Is(unicode.Lao, r):
				v.seaLang[1]++
			case unicode.Is(unicode.Khmer, r):
				v.seaLang[2]++
			default:
				v.seaLang[3]++
			}
			return
		case arabicScript:
			for _, r := range t.text {
				switch r {
				case 'پ', 'چ', 'ژ', 'گ', 'ک', 'ی', 'ے', 'ٹ', 'ڈ', 'ڑ', 'ں':
					v.persian++
				case 'ي', 'ك', 'ة':
					v.arabic++
				}
			}
		case cyrillic:
			for _, r := range t.text {
				switch r {
				case 'і', 'ї', 'є', 'ґ', 'ў', 'ђ', 'ј', 'љ', 'њ', 'ћ', 'џ', 'ѓ', 'ќ', 'ѕ', 'І', 'Ї', 'Є', 'Ґ', 'Ў', 'Ђ', 'Ј', 'Љ', 'Њ', 'Ћ', 'Џ':
					v.otherCyr++
				}
				v.cyrLetter++
			}
		}
		m := mask(t)
		for l := Lang(1); m != 0 && l < numLangs; l++ {
			if m&(1<<l) != 0 {
				v.stop[l]++
			}
		}
	})
	return v
}

// Detect returns the language of a text: by its script where one language
// of those the analyser knows writes it (Arabic, unless the letters of
// Persian or Urdu show; Russian, unless letters Russian lacks show; Tamil;
// Han alone is Chinese, with kana Japanese, Hangul Korean), else by which
// language's stop words it holds most of. Latin text with too few stop
// words to tell is English, as rag always analysed it.
//
// Detection is hand-written rather than a library's: lingua-go adds 132 MB
// to the binary and 93 ms to start a detector of 7 languages, and
// whatlanggo (unmaintained since 2019) takes 1 ms a paragraph; this reads
// the tokens the analyser makes anyway and tells apart exactly the
// languages whose analysis differs.
func Detect(text string) Lang {
	return count(text).decide(nil)
}

// decide picks the language the counts show. With present (the documents
// of each language an index holds), only those languages are candidates,
// and a text that shows none (a short query) is taken as the one of its
// script with the most documents.
func (v *votes) decide(present *[numLangs]uint64) Lang {
	best := otherScript
	for k := latin; k <= sea; k++ {
		if v.scripts[k] > v.scripts[best] {
			best = k
		}
	}
	if v.scripts[best] == 0 {
		return Unknown
	}
	switch best {
	case cjk:
		switch {
		case v.hangul*2 > v.scripts[cjk]:
			return Korean
		case v.kana*10 >= v.scripts[cjk]:
			return Japanese
		}
		return Chinese
	case sea:
		i := 0
		for j := range v.seaLang {
			if v.seaLang[j] > v.seaLang[i] {
				i = j
			}
		}
		return [4]Lang{Thai, Lao, Khmer, Burmese}[i]
	case tamilScript:
		return Tamil
	case arabicScript:
		if v.persian > v.arabic {
			return Unknown
		}
		return Arabic
	case cyrillic:
		if v.otherCyr*100 > v.cyrLetter {
			return Unknown
		}
		return Russian
	case latin:
		return v.latin(present)
	}
	return Unknown
}

// latin picks among the Latin-script languages by stop words.
func (v *votes) latin(present *[numLangs]uint64) Lang {
	best, bestVotes := English, -1
	for l := Lang(1); l < numLangs; l++ {
		if langs[l].script != latin || present != nil && present[l] == 0 {
			continue
		}
		// Ties go to the language with more documents (English first).
		if n := v.stop[l]; n > bestVotes || n == bestVotes && present != nil && present[l] > present[best] {
			best, bestVotes = l, n
		}
	}
	if present != nil {
		if bestVotes <= 0 {
			return mostDocs(present, latin)
		}
		return best
	}
	// A text names its language only with enough of its stop words: a
	// tenth of its words, two at least, twice as many as English has (an
	// English text of French names holds many of "de", "la", "du").
	if bestVotes >= 2 && bestVotes*10 >= v.scripts[latin] && bestVotes > 2*v.stop[English] {
		return best
	}
	return English
}

// mostDocs is the language of script k with the most documents, English
// when none of k has any.
func mostDocs(present *[numLangs]uint64, k script) Lang {
	best := Unknown
	for l := Lang(1); l < numLangs; l++ {
		if langs[l].script == k && present[l] > 0 && (best == Unknown || present[l] > present[best]) {
			best = l
		}
	}
	if best == Unknown && k == latin {
		return English
	}
	return best
}

// QueryLang is the language to analyse query as, over documents of the
// languages present counts (documents by Lang): the query's own language
// among those, so that its words are stemmed as the documents' were; a
// query too short to show its language is taken as the documents' most
// common language of its script. A query in a language the documents lack
// is analysed as detected.
func QueryLang(query string, present *[numLangs]uint64) Lang {
	v := count(query)
	if l := v.decide(present); l != Unknown && present[l] > 0 {
		return l
	}
	return v.decide(nil)
}
