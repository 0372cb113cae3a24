package lexical

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAnalyzerLanguages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lang Lang // Unknown: detected
		text string
		want []string
	}{
		{"english as before", Unknown, "The installers were installing it", []string{"instal", "instal"}},
		{"english apostrophe and dots split", Unknown, "don't use pkg.Name", []string{"use", "pkg", "name"}},
		{"german stemmed and stopped", Unknown, "Die Verteidigung der Broncos war stärker als die der anderen Mannschaften",
			[]string{"verteid", "broncos", "stark", "mannschaft"}},
		{"german question words are stop words", German, "Wer schickte zuerst Funkwellen?", []string{"schickt", "zuerst", "funkwell"}},
		{"spanish", Unknown, "Los jugadores de los equipos ganaron las finales", []string{"jugador", "equip", "gan", "final"}},
		{"russian with ё folded", Unknown, "Её защитники играли в этом сезоне лучше всех", []string{"защитник", "игра", "сезон"}},
		{"arabic harakat stay in the word and are normalised away", Arabic, "الْمَكْتَبَةُ الكبيرة", []string{"مكتب", "كبير"}},
		{"arabic detected", Unknown, "ذهب الطالب إلى المكتبة في المدينة", []string{"ذهب", "طالب", "مكتب", "مدين"}},
		{"devanagari vowel signs kept", Unknown, "नमस्ते दुनिया", []string{"नमस्ते", "दुनिया"}},
		{"turkish dotted and dotless i", Turkish, "İstanbul ILIK", []string{"istanbul", "ılık"}},
		{"dotted capital i elsewhere", English, "İstanbul", []string{"istanbul"}},
		{"chinese bigrams", Unknown, "黑豹队的防守", []string{"黑豹", "豹队", "队的", "的防", "防守"}},
		{"a lone han character is a term", Unknown, "第 5 章", []string{"第", "5", "章"}},
		{"japanese kana and kanji bigrams", Unknown, "東京都のカメラ", []string{"東京", "京都", "都の", "のカ", "カメ", "メラ"}},
		{"half-width katakana folded by NFKC", Unknown, "ｶﾒﾗ", []string{"カメ", "メラ"}},
		{"korean syllable bigrams", Unknown, "한국어 사전", []string{"한국", "국어", "사전"}},
		{"thai letters with their marks", Unknown, "ภาษาไทย", []string{"ภา", "าษ", "ษา", "าไ", "ไท", "ทย"}},
		{"latin words in chinese text are english", Unknown, "我们 running 测试", []string{"我们", "run", "测试"}},
		{"fullwidth latin folded", Unknown, "ＡＢＣ123", []string{"abc123"}},
		{"german sharp s folds", German, "Straße STRASSE", []string{"strass", "strass"}},
		{"soft hyphen removed", English, "hy\u00adphen", []string{"hyphen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Analyzer{Lang: tt.lang}.Terms(tt.text)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Terms(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		want Lang
	}{
		{"The defence of the Broncos was the best in the league this year.", English},
		{"func main() { fmt.Println(x) }", English}, // too few stop words: English as always
		{"Die Verteidigung der Broncos war in diesem Jahr die beste der Liga.", German},
		{"La defensa de los Broncos fue la mejor de la liga este año.", Spanish},
		{"La défense des Broncos était la meilleure de la ligue cette année.", French},
		{"Защита «Бронкос» была лучшей в лиге в этом году.", Russian},
		{"Захист «Бронкос» був найкращим у лізі цього року, і це відомо.", Unknown}, // Ukrainian
		{"كان دفاع فريق برونكو الأفضل في الدوري هذا العام.", Arabic},
		{"دفاع تیم برونکو بهترین در لیگ در این سال بود.", Unknown}, // Persian
		{"黑豹队的防守只丢了308分。", Chinese},
		{"東京都のカメラはとても高いです。", Japanese},
		{"한국어 사전을 찾았습니다.", Korean},
		{"ภาษาไทยเป็นภาษาราชการ", Thai},
		{"தமிழ் ஒரு மொழி", Tamil},
		{"", Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.want.String()+"/"+tt.text, func(t *testing.T) {
			t.Parallel()
			if got := Detect(tt.text); got != tt.want {
				t.Errorf("Detect(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// A short query shows no language of its own: it takes the index's.
func TestQueryLang(t *testing.T) {
	t.Parallel()
	var de, mixed [numLangs]uint64
	de[German] = 10
	mixed[German], mixed[English], mixed[Spanish] = 10, 20, 5
	tests := []struct {
		name    string
		query   string
		present *[numLangs]uint64
		want    Lang
	}{
		{"short query over german", "Marconis Funkdemonstration", &de, German},
		{"short query over a mixed index takes its most common language", "Marconi radio", &mixed, English},
		{"a query that shows its language", "Wer hat die Funkwellen gesendet?", &mixed, German},
		{"spanish query", "¿Quién ganó la final de los equipos?", &mixed, Spanish},
		{"a language the index lacks is detected", "Кто выиграл финал?", &de, Russian},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := QueryLang(tt.query, tt.present); got != tt.want {
				t.Errorf("QueryLang(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

// Spans point at the text their terms come from.
func TestSpansCJK(t *testing.T) {
	t.Parallel()
	text := "今天 黑豹队"
	var got []string
	for _, sp := range (Analyzer{}).Spans(text) {
		got = append(got, text[sp.Start:sp.End]+"="+sp.Term)
	}
	want := []string{"今天=今天", "黑豹=黑豹", "豹队=豹队"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Spans = %q, want %q", got, want)
	}
}

// A search in Chinese finds the Chinese document (today's word splitting
// made whole clauses single terms).
func TestSearchChinese(t *testing.T) {
	t.Parallel()
	b := NewBuilder()
	b.Add(0, "黑豹队的防守只丢了308分，在联赛中排名第六。")
	b.Add(1, "野马队在超级碗中击败了黑豹队。")
	b.Add(2, "The Broncos defeated the Panthers.")
	x := Merge(b)
	hits, err := x.Search("黑豹队的防守丢了多少分？", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].ID != 0 {
		t.Fatalf("hits = %v, want document 0 first", hits)
	}
	if got := x.Langs(); got["zh"] != 2 || got["en"] != 1 {
		t.Errorf("Langs = %v", got)
	}
}

func FuzzAnalyzer(f *testing.F) {
	for _, s := range []string{"The installers", "黑豹队的防守", "الْمَكْتَبَةُ", "İstanbul ILIK", "ภาษาไทย", "ｶﾞ\u0301x", "a\u200db", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, l := range []Lang{Unknown, English, German, Turkish, Arabic, Russian, Chinese} {
			an := Analyzer{Lang: l}
			terms := an.Terms(s)
			spans := an.Spans(s)
			if len(terms) != len(spans) {
				t.Fatalf("%d terms but %d spans", len(terms), len(spans))
			}
			for i, sp := range spans {
				if sp.Start < 0 || sp.End > len(s) || sp.Start >= sp.End {
					t.Fatalf("span %v out of %d bytes", sp, len(s))
				}
				if sp.Term != terms[i] || sp.Term == "" {
					t.Fatalf("span term %q, term %q", sp.Term, terms[i])
				}
				if utf8.ValidString(s) && (!utf8.ValidString(s[sp.Start:sp.End]) || strings.TrimSpace(s[sp.Start:sp.End]) == "") {
					t.Fatalf("span %q cuts a character or holds no word", s[sp.Start:sp.End])
				}
			}
		}
		_ = QueryLang(s, &[numLangs]uint64{English: 1, German: 1})
	})
}
