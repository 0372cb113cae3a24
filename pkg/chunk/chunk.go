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
// change, so that stored chunks are recomputed. Version 3 anchors the
// boundaries of long sections in their content (anchors) and cuts a block
// too long for one chunk into lines the section packs.
const Version = 3

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
	p := packer{d: d, units: units, opt: opt, heading: s.heading}
	p.anchor, p.hash = anchors(d, units, opt.Target)
	for i := 0; i < len(units); {
		i = p.next(i)
	}
	return p.out
}

// packer packs a section's units into chunks.
type packer struct {
	d       *doc
	units   []unit
	opt     Options
	heading string
	anchor  []bool   // a chunk ends after the unit
	hash    []uint64 // of each unit's text
	prev    []unit   // the last chunk's units, for the overlap of the next
	out     []Chunk
}

// next makes the chunk starting at unit i (after the overlap of the one
// before) and returns where the next starts: it holds the units that fit
// the target up to the next anchor, or up to bestCut when it is full first.
func (p *packer) next(i int) int {
	d, units, target := p.d, p.units, p.opt.Target
	if units[i].part != "" {
		p.emit([]unit{units[i]}, nil)
		return i + 1
	}
	cur := p.overlapBefore(units[i])
	size := 0
	for _, o := range cur {
		size += o.tokens
	}
	first := len(cur)
	j := i // units[i:j] are in the chunk
	for j < len(units) && units[j].part == "" {
		gap := 0
		if len(cur) > 0 {
			gap = tokensOf(d, cur[len(cur)-1].to, units[j].from)
		}
		if j > i && size+gap+units[j].tokens > target {
			break
		}
		cur = append(cur, units[j])
		size += gap + units[j].tokens
		j++
		if p.anchor != nil && p.anchor[j-1] {
			p.emit(cur, cur[first:])
			return j
		}
	}
	if p.anchor != nil && j < len(units) && units[j].part == "" {
		// Full before an anchor: end at the best cut past half the target.
		j = bestCut(units, p.hash, i, j, target)
		cur = cur[:first+j-i]
	}
	p.emit(cur, cur[first:])
	return j
}

// overlapBefore is the tail of the last chunk that starts the one with u,
// when there is room for it.
func (p *packer) overlapBefore(u unit) []unit {
	if len(p.prev) == 0 {
		return nil
	}
	cur := overlap(p.d, p.prev, u.from, p.opt.Overlap)
	size := 0
	for _, o := range cur {
		size += o.tokens
	}
	if len(cur) > 0 && size+tokensOf(p.d, cur[len(cur)-1].to, u.from)+u.tokens > p.opt.Target {
		return nil // no room for overlap before this unit
	}
	return append([]unit(nil), cur...)
}

// emit makes a chunk of us; own are its units past the overlap, whose tail
// may start the next (none after a part of a line).
func (p *packer) emit(us, own []unit) {
	p.out = append(p.out, makeChunk(p.d, p.heading, us))
	p.prev = own
	if len(us) > 0 && us[len(us)-1].part != "" {
		p.prev = us
	}
}

// anchors marks the units of a section after which a chunk ends whatever
// came before: those whose text hashes higher than every unit's within
// reach tokens on either side (a local maximum), and never within reach
// of the section's ends. Packing starts afresh after each, so a line
// inserted or deleted changes only the chunks between the anchors around
// it (and an anchor within reach of it), not every chunk after it, as
// packing from the top alone did. A section (or block) of at most cdcFrom
// chunks has none: nil, and no hashes.
func anchors(d *doc, units []unit, target int) ([]bool, []uint64) {
	mark := make([]bool, len(units))
	hash := make([]uint64, len(units))
	if len(units) < 2 {
		return mark, hash
	}
	reach := target
	pos := make([]int, len(units)) // tokens up to the end of each unit
	total := 0
	for i, u := range units {
		if i > 0 {
			total += tokensOf(d, units[i-1].to, u.from)
		}
		total += u.tokens
		pos[i] = total
		hash[i] = unitHash(d, u)
	}
	if total <= cdcFrom*target {
		return nil, nil // packed from the top, as always
	}
	for i := range units[:len(units)-1] {
		if pos[i] < reach || total-pos[i] < reach {
			continue
		}
		top := true
		for j := i - 1; top && j >= 0 && pos[i]-pos[j] <= reach; j-- {
			top = hash[j] < hash[i]
		}
		for j := i + 1; top && j < len(units) && pos[j]-pos[i] <= reach; j++ {
			top = hash[j] < hash[i]
		}
		mark[i] = top
	}
	return mark, hash
}

// cdcFrom is how many chunks' worth of text a section or block holds
// before its boundaries are anchored in its content: a shorter one is
// packed from the top as always (fullest chunks; an edit costs few of them
// anyway).
const cdcFrom = 4

// unitHash is FNV-1a of a unit's text: its lines, or its part of a line.
func unitHash(d *doc, u unit) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	add := func(s string) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
	}
	if u.part != "" {
		add(u.part)
		return h
	}
	for i := u.from; i < u.to; i++ {
		add(d.Lines[i].Text)
		h = (h ^ '\n') * prime
	}
	return h
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

// blockUnits cuts a block that does not fit into one chunk: between
// lines, packed up to the target and cut at its lines' anchors, and a line
// that does not fit between sentences.
func blockUnits(d *doc, b extract.Block, opt Options) []unit {
	total := tokensOf(d, b.Start, b.End)
	if total <= opt.Target {
		return []unit{{from: b.Start, to: b.End, tokens: total}}
	}
	lines := make([]unit, 0, b.End-b.Start)
	for i := b.Start; i < b.End; i++ {
		lines = append(lines, unit{from: i, to: i + 1, tokens: d.lineTokens(i) + 1})
	}
	anchor, hash := anchors(d, lines, opt.Target)
	var out []unit
	group := func(from, to int) { // lines[from:to]
		if from < to {
			size := 0
			for _, l := range lines[from:to] {
				size += l.tokens
			}
			out = append(out, unit{from: lines[from].from, to: lines[to-1].to, tokens: size})
		}
	}
	for i := 0; i < len(lines); {
		if lines[i].tokens > opt.Target {
			n := lines[i].from
			for _, p := range splitLine(d.Lines[n].Text, opt.Target) {
				out = append(out, unit{from: n, to: n + 1, tokens: EstimateTokens(p), part: p})
			}
			i++
			continue
		}
		size, j := 0, i
		for j < len(lines) && lines[j].tokens <= opt.Target && (j == i || size+lines[j].tokens <= opt.Target) {
			size += lines[j].tokens
			j++
			if anchor != nil && anchor[j-1] {
				break
			}
		}
		if anchor != nil && j < len(lines) && !anchor[j-1] && lines[j].tokens <= opt.Target {
			j = bestCut(lines, hash, i, j, opt.Target)
		}
		group(i, j)
		i = j
	}
	return out
}

// bestCut is where a chunk of units[i:j], full before an anchor, ends: after
// the unit that hashes highest once it holds half the target (the last,
// if none does). Where it ends then depends on the text around the cut,
// not on where it started, so that chunks after an edit soon end where
// they did.
func bestCut(units []unit, hash []uint64, i, j, target int) int {
	best, held := j-1, 0
	for k := i; k < j-1; k++ {
		held += units[k].tokens
		if held >= target/2 && hash[k] > hash[best] {
			best = k
		}
	}
	return best + 1
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
