package render

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rivo/uniseg"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestSnippetWide cuts lines of wide characters, marks and emoji sequences
// to a terminal width: each line fits the width in cells, no character or
// grapheme cluster is cut, and the matches are marked. The cut lines are
// kept in testdata/snippet-wide.golden (go test -update writes it).
func TestSnippetWide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, query string
		width             int
	}{
		{"chinese", "超级碗 50 是一场美式橄榄球比赛，旨在决定 2015 赛季国家橄榄球联盟（NFL）的冠军。美国橄榄球联合会冠军丹佛野马队以 24–10 击败国家橄榄球联合会冠军卡罗莱纳黑豹队，赢得了第三个超级碗冠军。", "黑豹队", 30},
		{"japanese", "東京都は日本の首都であり、多くのカメラ店が秋葉原や新宿に集まっている。カメラの値段はとても高いです。", "カメラ", 24},
		{"korean", "한국어는 대한민국과 조선민주주의인민공화국의 공용어이며 사전에 많은 단어가 있습니다.", "사전", 26},
		{"arabic harakat", "كانَ دِفاعُ فريقِ برونكو الأفضلَ في الدوري هذا العامَ وفازَ الفريقُ بالبطولةِ بعدَ مباراةٍ صعبةٍ", "البطولة", 30},
		{"devanagari", "हिन्दी विश्व की एक प्रमुख भाषा है और भारत की राजभाषा है जिसे करोड़ों लोग बोलते हैं", "राजभाषा", 28},
		{"emoji sequences", "family 👨‍👩‍👧‍👦 and flags 🇩🇪🇫🇷 then the word target after some more text to cut away here", "target", 24},
		{"thai", "ภาษาไทยเป็นภาษาราชการของประเทศไทยและมีผู้พูดหลายล้านคนทั่วโลก", "ประเทศไทย", 20},
	}
	var golden strings.Builder
	for _, tt := range tests {
		lines := Snippet(tt.text, tt.query, 1, tt.width, Highlight{On: "[", Off: "]"})
		if len(lines) != 1 {
			t.Fatalf("%s: %d lines", tt.name, len(lines))
		}
		plain := strings.NewReplacer("[", "", "]", "").Replace(lines[0])
		if w := uniseg.StringWidth(plain); w > tt.width {
			t.Errorf("%s: %q is %d cells wide, more than %d", tt.name, plain, w, tt.width)
		}
		inner := strings.TrimSuffix(strings.TrimPrefix(plain, "…"), "…")
		if !strings.Contains(tt.text, inner) {
			t.Errorf("%s: %q is not a whole part of the text", tt.name, inner)
		}
		if g := uniseg.NewGraphemes(tt.text); true {
			starts := map[int]bool{len(tt.text): true}
			for g.Next() {
				from, _ := g.Positions()
				starts[from] = true
			}
			at := strings.Index(tt.text, inner)
			if !starts[at] || !starts[at+len(inner)] {
				t.Errorf("%s: %q cuts a grapheme cluster", tt.name, inner)
			}
		}
		golden.WriteString(tt.name + ": " + lines[0] + "\n")
	}
	path := filepath.Join("testdata", "snippet-wide.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if golden.String() != string(want) {
		t.Errorf("snippets:\n%s\nwant (%s):\n%s", golden.String(), path, want)
	}
}
