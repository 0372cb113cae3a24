// Package chunk splits an extracted document into overlapping chunks of
// about a target size, following its structure: a chunk never spans two
// sections (a heading starts one) or two pages, paragraphs and code
// declarations are kept whole when they fit, a paragraph too long for one
// chunk is cut between lines, and a line too long is cut between sentences.
// Every chunk carries its heading path ("Install > Linux") and maps back to
// an exact range of lines (and a page) for citations.
package chunk

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rag-cli/rag/pkg/extract"
)

// Version changes whenever chunk boundaries for the same input and options
// change, so that stored chunks are recomputed.
const Version = 2

// Options sets the chunk size and overlap, both in estimated tokens. The
// overlap is capped at half the target.
type Options struct {
	Target  int
	Overlap int
}

// DefaultOptions gives chunks of about 500 tokens overlapping by about 15%.
var DefaultOptions = Options{Target: 500, Overlap: 75}

// MaxOverlap is the largest overlap SplitDoc honours for chunks of target
// tokens: half of them, so that every chunk holds as much new text as it
// repeats.
func MaxOverlap(target int) int { return target / 2 }

// Check reports an overlap SplitDoc would not honour (more than
// MaxOverlap), which only changes how chunks are keyed: settings that
// would re-embed everything for nothing.
func (o Options) Check() error {
	if o.Target > 0 && o.Overlap > MaxOverlap(o.Target) {
		return fmt.Errorf("an overlap of %d tokens is more than half the chunk size of %d", o.Overlap, o.Target)
	}
	return nil
}

// Chunk is a run of lines of a document, or part of one long line.
type Chunk struct {
	// StartLine and EndLine are the source positions (extract.Line.N) of
	// the first and last line, inclusive.
	StartLine int
	EndLine   int
	// Page is the page of a paged document, else 0.
	Page int
	// Heading is the path of headings above the chunk, " > " between them.
	Heading string
	Text    string
	// From and To index the document's lines: the chunk is Lines[From:To]
	// (or part of the one line Lines[From] when Part is set).
	From, To int
	Part     bool
}

// EstimateTokens estimates how many tokens a model's tokenizer makes of s,
// without a vocabulary: BPE tokenizers make about one token of a common
// word, more of a long one (a token per 8 letters here), and most
// punctuation and symbols are tokens of their own. Calibrated against
// OpenAI's cl100k_base (close to Llama 3's and most embedding models'
// tokenizers), TestEstimateAgainstTokenizer keeps it within 15% on English
// prose, Markdown and code; "four characters a token" was 23% high on
// Wikipedia prose and 15% low on code.
func EstimateTokens(s string) int {
	var e estimator
	e.addString(s)
	return e.tokens()
}

// estimator is EstimateTokens one character at a time.
type estimator struct {
	units int  // tenths of a token
	run   int  // letters in the current word, 0 outside words
	prev  rune // the previous symbol: a run of one symbol ("=====") is few tokens
}

func (e *estimator) add(r rune) {
	switch {
	case r >= 0x0E00 && wide(r):
		// Scripts written without spaces: a model's tokenizer makes about a
		// token of each character, not of each run of them (cl100k_base
		// 1.23 a character of XQuAD's Chinese).
		e.units += 12
		e.run, e.prev = 0, 0
	case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') ||
		r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		if e.run == 0 || e.run == 8 {
			e.units += 10
			e.run = 0
		}
		e.run++
		e.prev = 0
	case r == ' ' || r == '\n' || r == '\t' || r == '\r' || r >= utf8.RuneSelf && unicode.IsSpace(r):
		e.run, e.prev = 0, 0
	case r == e.prev:
		e.units += 2
		e.run = 0
	default:
		e.units += 6
		e.run, e.prev = 0, r
	}
}

// wide reports whether r is a character of a script written without
// spaces: Han, kana, Hangul, Thai, Lao, Khmer, Myanmar.
func wide(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul,
		unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// ascii classes the bytes below utf8.RuneSelf as add does.
var ascii = func() (t [utf8.RuneSelf]byte) {
	for c := range t {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			t[c] = 'w' // word
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			t[c] = ' '
		}
	}
	return t
}()

// addString is add of every character of s, ASCII without decoding.
func (e *estimator) addString(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			e.add(r)
			i += n
			continue
		}
		i++
		switch ascii[c] {
		case 'w':
			if e.run == 0 || e.run == 8 {
				e.units += 10
				e.run = 0
			}
			e.run++
			e.prev = 0
		case ' ':
			e.run, e.prev = 0, 0
		default:
			if rune(c) == e.prev {
				e.units += 2
			} else {
				e.units += 6
				e.prev = rune(c)
			}
			e.run = 0
		}
	}
}

func (e *estimator) tokens() int { return tokensOfUnits(e.units) }

func tokensOfUnits(units int) int { return (units*108/100 + 9) / 10 }

// doc is a document being split, with each line's estimate worked out
// once: packing, overlap and merging ask for the same lines again and
// again. A newline leaves the estimator as it starts, so the estimate of
// lines joined is worked out from theirs (units adds up).
type doc struct {
	*extract.Doc
	units []int // of each line, -1 until asked
}

func newDoc(d *extract.Doc) *doc {
	units := make([]int, len(d.Lines))
	for i := range units {
		units[i] = -1
	}
	return &doc{Doc: d, units: units}
}

// lineUnits is EstimateTokens(d.Lines[i].Text) in tenths, before rounding.
func (d *doc) lineUnits(i int) int {
	if d.units[i] < 0 {
		var e estimator
		e.addString(d.Lines[i].Text)
		d.units[i] = e.units
	}
	return d.units[i]
}

// lineTokens is EstimateTokens(d.Lines[i].Text).
func (d *doc) lineTokens(i int) int { return tokensOfUnits(d.lineUnits(i)) }

// textTokens is EstimateTokens of lines from..to joined by newlines.
func (d *doc) textTokens(from, to int) int {
	u := 0
	for i := from; i < to; i++ {
		u += d.lineUnits(i)
	}
	return tokensOfUnits(u)
}

// section is a heading and the blocks under it, up to the next heading, on
// one page.
type section struct {
	heading string
	blocks  []extract.Block
}

// SplitDoc chunks an extracted document.
func SplitDoc(ed *extract.Doc, opt Options) []Chunk {
	if opt.Target <= 0 {
		opt = DefaultOptions
	}
	opt.Overlap = max(0, min(opt.Overlap, MaxOverlap(opt.Target)))
	d := newDoc(ed)
	var out []Chunk
	for _, s := range sections(ed) {
		out = append(out, splitSection(d, s, opt)...)
	}
	return mergeSmall(d, out, opt)
}

func sections(d *extract.Doc) []section {
	var out []section
	var path []extract.Block // open headings
	cur := section{}
	page := -1
	flush := func() {
		if len(cur.blocks) > 0 {
			out = append(out, cur)
		}
		cur = section{heading: headingPath(path)}
	}
	for _, b := range d.Blocks {
		if b.End <= b.Start {
			continue
		}
		p := d.Lines[b.Start].Page
		if b.Kind == extract.Heading {
			// A heading with nothing under it yet but a deeper heading
			// ("## Install" then "### Linux") opens the same section.
			onlyHeadings := len(cur.blocks) > 0 && p == page
			for _, cb := range cur.blocks {
				onlyHeadings = onlyHeadings && cb.Kind == extract.Heading
			}
			deeper := len(path) > 0 && b.Level > path[len(path)-1].Level
			for len(path) > 0 && path[len(path)-1].Level >= b.Level {
				path = path[:len(path)-1]
			}
			path = append(path, b)
			if onlyHeadings && deeper {
				cur.heading = headingPath(path)
			} else {
				flush()
			}
		} else if p != page && page >= 0 {
			flush()
		}
		page = p
		cur.blocks = append(cur.blocks, b)
	}
	flush()
	return out
}

func headingPath(path []extract.Block) string {
	titles := make([]string, 0, len(path))
	for _, h := range path {
		if t := strings.TrimSpace(h.Title); t != "" {
			titles = append(titles, t)
		}
	}
	return strings.Join(titles, " > ")
}

// unit is what packing works with: a whole block, some lines of a block
// too long for one chunk, or a piece of a line too long for one chunk.
type unit struct {
	from, to int // doc lines
	tokens   int
	part     string // set for a piece of one line
}

func splitSection(d *doc, s section, opt Options) []Chunk {
	var units []unit
	for _, b := range s.blocks {
		units = append(units, blockUnits(d, b, opt)...)
	}
	var out []Chunk
	var cur []unit
	size := 0
	emit := func() {
		if len(cur) == 0 {
			return
		}
		out = append(out, makeChunk(d, s.heading, cur))
		cur, size = nil, 0
	}
	for _, u := range units {
		if u.part != "" {
			emit()
			cur = []unit{u}
			emit()
			continue
		}
		// The gap of blank lines joins a chunk too.
		gap := 0
		if len(cur) > 0 {
			gap = tokensOf(d, cur[len(cur)-1].to, u.from)
		}
		if len(cur) > 0 && size+gap+u.tokens > opt.Target {
			prev := cur
			emit()
			cur = overlap(d, prev, u.from, opt.Overlap)
			for _, o := range cur {
				size += o.tokens
			}
			if len(cur) > 0 && size+tokensOf(d, cur[len(cur)-1].to, u.from)+u.tokens > opt.Target {
				cur, size = nil, 0 // no room for overlap before this unit
			}
		}
		if len(cur) > 0 {
			gap = tokensOf(d, cur[len(cur)-1].to, u.from)
		} else {
			gap = 0
		}
		cur = append(cur, u)
		size += gap + u.tokens
	}
	emit()
	return out
}

// overlap is the tail of the previous chunk's lines, at most budget tokens,
// that starts the next chunk.
func overlap(d *doc, prev []unit, next int, budget int) []unit {
	if budget <= 0 {
		return nil
	}
	last := prev[len(prev)-1]
	if last.part != "" {
		return nil
	}
	from := last.to
	used := 0
	for from > prev[0].from {
		t := d.lineTokens(from-1) + 1
		if used+t > budget {
			break
		}
		used += t
		from--
	}
	for from < last.to && strings.TrimSpace(d.Lines[from].Text) == "" {
		from++
	}
	if from >= last.to || from >= next {
		return nil
	}
	return []unit{{from: from, to: last.to, tokens: used}}
}

// blockUnits cuts a block that does not fit into one chunk: between lines,
// and a line that does not fit between sentences.
func blockUnits(d *doc, b extract.Block, opt Options) []unit {
	total := tokensOf(d, b.Start, b.End)
	if total <= opt.Target {
		return []unit{{from: b.Start, to: b.End, tokens: total}}
	}
	var out []unit
	start, size := b.Start, 0
	for i := b.Start; i < b.End; i++ {
		t := d.lineTokens(i) + 1
		if t > opt.Target {
			if i > start {
				out = append(out, unit{from: start, to: i, tokens: size})
			}
			for _, p := range splitLine(d.Lines[i].Text, opt.Target) {
				out = append(out, unit{from: i, to: i + 1, tokens: EstimateTokens(p), part: p})
			}
			start, size = i+1, 0
			continue
		}
		if size+t > opt.Target && i > start {
			out = append(out, unit{from: start, to: i, tokens: size})
			start, size = i, 0
		}
		size += t
	}
	if start < b.End {
		out = append(out, unit{from: start, to: b.End, tokens: size})
	}
	return out
}

// splitLine cuts a long line into pieces of at most target tokens, at the
// end of a sentence where it can, else after a space, else anywhere between
// characters. The pieces joined are the line. One pass over the line: a
// megabyte on one line is as cheap as a megabyte of short lines.
func splitLine(line string, target int) []string {
	var out []string
	for start := 0; start < len(line); {
		var e estimator
		sentence, space := -1, -1 // cut candidates after start
		var prev rune
		at := len(line)
	scan:
		for i := start; i < len(line); {
			r, n := utf8.DecodeRuneInString(line[i:])
			e.add(r)
			if e.tokens() > target {
				switch {
				case sentence > start:
					at = sentence
				case space > start:
					at = space
				case i > start:
					at = i
				default:
					at = i + n // one character over the target on its own
				}
				break scan
			}
			i += n
			switch {
			case unicode.IsSpace(r) && (prev == '.' || prev == '!' || prev == '?'):
				sentence, space = i, i
			case r == '。' || r == '！' || r == '？':
				sentence = i
			case unicode.IsSpace(r):
				space = i
			}
			prev = r
		}
		out = append(out, line[start:at])
		start = at
	}
	return out
}

func tokensOf(d *doc, from, to int) int {
	n := 0
	for i := from; i < to; i++ {
		n += d.lineTokens(i) + 1 // +1: the newline
	}
	return n
}

func makeChunk(d *doc, heading string, us []unit) Chunk {
	from, to := us[0].from, us[len(us)-1].to
	c := Chunk{
		StartLine: d.Lines[from].N, EndLine: d.Lines[to-1].N, Page: d.Lines[from].Page,
		Heading: heading, From: from, To: to,
	}
	if us[0].part != "" {
		c.Text, c.Part = us[0].part, true
		return c
	}
	n := to - from - 1
	for i := from; i < to; i++ {
		n += len(d.Lines[i].Text)
	}
	var b strings.Builder
	b.Grow(n)
	for i := from; i < to; i++ {
		if i > from {
			b.WriteByte('\n')
		}
		b.WriteString(d.Lines[i].Text)
	}
	c.Text = b.String()
	return c
}

// mergeSmall joins neighbouring chunks of small sibling sections (such as
// a list of short FAQ entries) while they fit the target, under their
// common heading, so that the index does not fill with fragments.
func mergeSmall(d *doc, cs []Chunk, opt Options) []Chunk {
	var out []Chunk
	for _, c := range cs {
		if len(out) > 0 {
			p := &out[len(out)-1]
			common := CommonHeading(p.Heading, c.Heading)
			if !p.Part && !c.Part && p.Page == c.Page && p.To <= c.From && common != "" &&
				d.textTokens(p.From, p.To)+tokensOf(d, p.To, c.To) <= opt.Target/2 {
				next := makeChunk(d, common, []unit{{from: p.From, to: c.To}})
				*p = next
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// CommonHeading is the heading path two chunks share (" > " separated):
// the heading of chunks joined into one, here (small sections), in the
// results retrieve merges and in what rag show prints for a citation.
func CommonHeading(a, b string) string {
	if a == b {
		return a
	}
	pa, pb := strings.Split(a, " > "), strings.Split(b, " > ")
	n := 0
	for n < len(pa) && n < len(pb) && pa[n] == pb[n] {
		n++
	}
	return strings.Join(pa[:n], " > ")
}

// SharedLines is how many lines a chunk repeats of the one before it in
// its document: next and prev are their texts' lines, nextStart the first
// line of the one and prevEnd the last of the other. Chunks are cut at
// line boundaries and overlap by whole lines, so it is the longest run of
// lines prev ends with and next starts with; chunks that only touch
// (nextStart after prevEnd) share none, even when the lines at the seam
// are equal (two closing braces). Whoever joins chunks (merged results in
// retrieve, a citation in rag show) writes those lines once.
func SharedLines(prev []string, prevEnd int, next []string, nextStart int) int {
	if nextStart > prevEnd {
		return 0
	}
	for n := min(len(prev), len(next)); n > 0; n-- {
		if slices.Equal(prev[len(prev)-n:], next[:n]) {
			return n
		}
	}
	return 0
}
