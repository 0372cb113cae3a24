package lexical

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/clipperhouse/uax29/v2/words"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// token is a word of a text (letters, digits and the marks inside them),
// or one character (with its marks) of a script written without spaces.
type token struct {
	text       string // as the text has it
	start, end int    // byte offsets in the text
	kind       script // the script of its first letter; cjk and sea for characters
}

// scan calls fn with the tokens of s, in order. Words are UAX #29 words
// (github.com/clipperhouse/uax29) split again at the punctuation a UAX #29
// word may hold ("don't", "3.14", "pkg.Name", "foo_bar" give two tokens
// each, as rag always split them, so that a part of a name finds it);
// combining marks and format characters stay inside their words. Han,
// kana and Hangul, and Thai, Lao, Khmer and Myanmar letters, are a token a
// character. Text of ASCII alone takes a shorter path with the same tokens.
func scan(s string, fn func(token)) {
	if isASCII(s) {
		asciiWords(s, 0, fn)
		return
	}
	it := words.FromString(s)
	for it.Next() {
		seg, at := it.Value(), it.Start()
		if isASCII(seg) {
			asciiWords(seg, at, fn)
			continue
		}
		segment(seg, at, fn)
	}
}

// asciiWords calls fn with the runs of ASCII letters and digits of s,
// whose offsets are counted from at.
func asciiWords(s string, at int, fn func(token)) {
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			c := s[i]
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				if start < 0 {
					start = i
				}
				continue
			}
		}
		if start >= 0 {
			fn(token{text: s[start:i], start: at + start, end: at + i, kind: latin})
			start = -1
		}
	}
}

// segment splits one non-ASCII UAX #29 segment into tokens.
func segment(s string, at int, fn func(token)) {
	start := -1
	var kind script
	flush := func(end int) {
		if start >= 0 {
			fn(token{text: s[start:end], start: at + start, end: at + end, kind: kind})
			start = -1
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if k := charScript(r); k != otherScript {
			flush(i)
			end := i + size
			for end < len(s) { // the marks that go with it
				m, n := utf8.DecodeRuneInString(s[end:])
				if !isMark(m) {
					break
				}
				end += n
			}
			fn(token{text: s[i:end], start: at + i, end: at + end, kind: k})
			i = end
			continue
		}
		if unicode.IsLetter(r) || unicode.IsNumber(r) || isMark(r) || unicode.Is(unicode.Cf, r) {
			if start < 0 {
				start = i
				kind = wordScript(r)
			} else if kind == otherScript && unicode.IsLetter(r) {
				kind = wordScript(r)
			}
		} else {
			flush(i)
		}
		i += size
	}
	flush(len(s))
}

// isMark reports whether r is a combining mark, or the half-width sound
// marks of katakana that NFKC combines.
func isMark(r rune) bool {
	return unicode.IsMark(r) || r == 0xFF9E || r == 0xFF9F
}

// charScript is cjk or sea for a character that is a token of its own,
// otherScript for the rest.
func charScript(r rune) script {
	switch {
	case r < 0x0E00:
		return otherScript
	case unicode.Is(unicode.Han, r), unicode.Is(unicode.Hiragana, r), unicode.Is(unicode.Katakana, r),
		unicode.Is(unicode.Hangul, r), r == 0x30FC, r == 0xFF70, r == 0x3005: // ー, ｰ, 々
		return cjk
	case (unicode.Is(unicode.Thai, r) || unicode.Is(unicode.Lao, r) || unicode.Is(unicode.Khmer, r) ||
		unicode.Is(unicode.Myanmar, r)) && unicode.IsLetter(r):
		return sea
	}
	return otherScript
}

// wordScript is the script of a word starting with r.
func wordScript(r rune) script {
	switch {
	case r < utf8.RuneSelf:
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return latin
		}
		return otherScript
	case unicode.Is(unicode.Latin, r):
		return latin
	case unicode.Is(unicode.Cyrillic, r):
		return cyrillic
	case unicode.Is(unicode.Arabic, r):
		return arabicScript
	case unicode.Is(unicode.Tamil, r):
		return tamilScript
	}
	return otherScript
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Casers keep state, so each goroutine takes its own from a pool.
var (
	folders      = sync.Pool{New: func() any { c := cases.Fold(); return &c }}
	turkishLower = sync.Pool{New: func() any { c := cases.Lower(language.Turkish); return &c }}
)

// fold normalises a word for l: format characters (soft hyphens, joiners)
// removed, NFKC, full case folding (Turkish: İ→i and I→ı, as Turkish
// writes them; elsewhere İ→i), and what l's stemmer expects (Arabic
// without harakat or tatweel and with one alef, Russian ё as е).
func fold(w string, l Lang) string {
	if isASCII(w) {
		if l == Turkish && strings.IndexByte(w, 'I') >= 0 {
			return turkishFold(w)
		}
		if hasUpper(w) {
			return strings.ToLower(w)
		}
		return w
	}
	w = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, w)
	w = norm.NFKC.String(w)
	if l == Turkish {
		w = turkishFold(w)
	} else {
		w = strings.ReplaceAll(w, "İ", "i")
		c := folders.Get().(*cases.Caser)
		w = c.String(w)
		folders.Put(c)
	}
	switch l {
	case Arabic:
		w = strings.Map(arabicNorm, w)
	case Russian:
		w = strings.ReplaceAll(w, "ё", "е")
	}
	return w
}

func turkishFold(w string) string {
	c := turkishLower.Get().(*cases.Caser)
	w = c.String(w)
	turkishLower.Put(c)
	return w
}

// arabicNorm drops harakat and tatweel and makes every alef a bare one, as
// Lucene's Arabic normalisation does, so that a word matches however fully
// it is vowelled.
func arabicNorm(r rune) rune {
	switch {
	case r >= 0x064B && r <= 0x065F, r == 0x0670, r == 0x0640:
		return -1
	case r == 'أ', r == 'إ', r == 'آ', r == 'ٱ':
		return 'ا'
	case r == 'ى':
		return 'ي'
	}
	return r
}

func hasUpper(w string) bool {
	for i := 0; i < len(w); i++ {
		if 'A' <= w[i] && w[i] <= 'Z' {
			return true
		}
	}
	return false
}

// wordLang is the language a word of script k is analysed as in a text of
// language l: l for a word of l's script; a Latin word in a text of another
// script (an English name in a Chinese text) as English, since English is
// what such words mostly are; else Unknown (normalised, not stemmed).
func wordLang(k script, l Lang) Lang {
	switch {
	case langs[l].script == k:
		return l
	case k == latin:
		return English
	}
	return Unknown
}

// wordTerm is the index term of a word of script k in a text of language
// l, "" for a stop word.
func wordTerm(raw string, k script, l Lang) string {
	wl := wordLang(k, l)
	w := fold(raw, wl)
	switch {
	case w == "":
		return ""
	case isStop(w, wl):
		return ""
	case len(w) > 40:
		return w // not a word (a hash, a base64 run): keep it whole
	}
	if stem := langs[wl].stem; stem != nil {
		return stem(w)
	}
	return w
}

// charTerm is the normalised form of a character token.
func charTerm(raw string) string {
	if len(raw) <= 3 && utf8.RuneCountInString(raw) == 1 && norm.NFKC.IsNormalString(raw) {
		return raw
	}
	return fold(raw, Unknown)
}

// analyse calls word with every word token of s and chars with every term
// of the characters of scripts written without spaces, and where its text
// lies. Those characters become overlapping bigrams, as Lucene's CJK
// analyser makes them: "東京都" gives "東京" and "京都"; a character with
// no neighbour of its kind is a term alone.
func analyse(s string, word func(token), chars func(t string, start, end int)) {
	var prev token
	var prevTerm string
	run := 0 // characters in the current run
	endRun := func() {
		if run == 1 {
			chars(prevTerm, prev.start, prev.end)
		}
		run = 0
	}
	scan(s, func(t token) {
		if t.kind != cjk && t.kind != sea {
			endRun()
			word(t)
			return
		}
		ct := charTerm(t.text)
		if run > 0 && (prev.end != t.start || prev.kind != t.kind) {
			endRun()
		}
		if run > 0 {
			chars(prevTerm+ct, prev.start, t.end)
		}
		prev, prevTerm = t, ct
		run++
	})
	endRun()
}

// terms calls fn with every term of s analysed as l and where its text
// lies.
func terms(s string, l Lang, fn func(t string, start, end int)) {
	analyse(s, func(t token) {
		if w := wordTerm(t.text, t.kind, l); w != "" {
			fn(w, t.start, t.end)
		}
	}, fn)
}
