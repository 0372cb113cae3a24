package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rag-cli/rag/internal/english"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/extract"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/store"
)

// Section is a run of text of one file: the stored chunks of a range of
// lines of one page, overlaps merged.
type Section struct {
	StartLine int    `json:"start_line"`
	EndLine   int    `json:"end_line"`
	Page      int    `json:"page"`
	Heading   string `json:"heading"`
	Text      string `json:"text"`
}

// Document is what the index holds for a file or a citation's lines (the
// --json document of rag show).
type Document struct {
	Path string `json:"path"`
	Root string `json:"root"`
	// File is the absolute path of the file.
	File   string `json:"file"`
	Format string `json:"format,omitempty"`
	// OnDisk compares the file on disk with what was indexed: "unchanged",
	// "changed" or "missing".
	OnDisk   string    `json:"on_disk"`
	Sections []Section `json:"sections"`
	// Note says why the lines asked for are not what Sections show: the
	// index holds no text of them (front matter, blank lines, markup), so
	// the nearest indexed lines are shown instead.
	Note string `json:"note,omitempty"`
	// Markup is what the file holds at those lines when it is markup only
	// (its first non-blank line, cut short): document text, not rag's.
	Markup string `json:"markup,omitempty"`
}

// Bytes is the size of the document's text.
func (d *Document) Bytes() int {
	n := 0
	for _, s := range d.Sections {
		n += len(s.Text)
	}
	return n
}

// NotIndexedError is a path the asker sees nothing of: another's file is
// "not in the index", exactly as one that is not. Folder is set only for
// a reader on the host's command line (Reader.Host) when the path is a
// folder on disk.
type NotIndexedError struct {
	Path   string
	Folder bool
}

func (e *NotIndexedError) Error() string {
	if e.Folder {
		return fmt.Sprintf("%s is a folder: rag show takes a file or a citation", e.Path)
	}
	return fmt.Sprintf("%s is not in the index", e.Path)
}

// AmbiguousPathError is a path relative to an indexed folder that names
// files under several: Files are their absolute paths, Rest what the
// target has after the path (the lines of a citation). Host says that
// who asked runs rag on the host's command line (Reader.Host).
type AmbiguousPathError struct {
	Path  string
	Files []string
	Rest  string
	Host  bool
}

func (e *AmbiguousPathError) Error() string {
	return fmt.Sprintf("%s is in the index under %d folders: %s", e.Path, len(e.Files), strings.Join(e.Files, ", "))
}

// PagedError is a range of lines asked of a file with pages, whose lines
// are counted per page.
type PagedError struct{ Path string }

func (e *PagedError) Error() string {
	return fmt.Sprintf("%s has pages: its lines are counted per page", e.Path)
}

// NoTextError is a file the index holds no text of (it was indexed
// empty).
type NoTextError struct{ Path string }

func (e *NoTextError) Error() string { return fmt.Sprintf("the index holds no text of %s", e.Path) }

// OutsideError is a page or a range of lines the index holds no text for.
type OutsideError struct {
	Path string
	// Page is the page asked for (0: lines were); FirstPage and LastPage
	// those the index holds.
	Page, FirstPage, LastPage int
	// What is "lines", or "paragraphs" for a DOCX file; Start and End are
	// those asked for, First and Last those the index holds.
	What                    string
	Start, End, First, Last int
	// FileLines, when not 0, is how many lines the file has: the range is
	// past its end.
	FileLines int
}

func (e *OutsideError) Error() string {
	if e.Page > 0 {
		return fmt.Sprintf("the index holds no text of page %d of %s (it holds pages %d-%d)", e.Page, e.Path, e.FirstPage, e.LastPage)
	}
	s := fmt.Sprintf("%s %d-%d of %s are outside what the index holds (%s %d-%d)", e.What, e.Start, e.End, e.Path, e.What, e.First, e.Last)
	if e.FileLines > 0 {
		s += ": the file has " + english.Plural(e.FileLines, "line")
	}
	return s
}

// citeRef is a parsed citation: a path and what of it to show.
type citeRef struct {
	path       string
	start, end int // lines (paragraphs of a DOCX); 0: all
	page       int // 0: all
}

func (c citeRef) lines() bool { return c.start > 0 }

var (
	citePage  = regexp.MustCompile(`^(.+) p\.(\d+)$`)
	citePara  = regexp.MustCompile(`^(.+) ¶(\d+)(?:-(\d+))?$`)
	citeLines = regexp.MustCompile(`^(.+):(\d+)(?:-(\d+))?$`)
)

// parseCitation returns the readings of s, most likely first: with the
// heading split off at each " (" when s ends in ")", then s whole; each
// location as path and range, then as a path alone (a file may be named
// "a:1").
func parseCitation(s string) []citeRef {
	var locs []string
	if strings.HasSuffix(s, ")") {
		for i := 0; i+2 <= len(s); i++ {
			if s[i:i+2] == " (" {
				locs = append(locs, s[:i])
			}
		}
	}
	locs = append(locs, s)
	var refs []citeRef
	for _, loc := range locs {
		if m := citePage.FindStringSubmatch(loc); m != nil {
			if n, err := strconv.Atoi(m[2]); err == nil && n > 0 {
				refs = append(refs, citeRef{path: unquotePath(m[1]), page: n})
			}
		}
		for _, re := range []*regexp.Regexp{citePara, citeLines} {
			m := re.FindStringSubmatch(loc)
			if m == nil {
				continue
			}
			start, err1 := strconv.Atoi(m[2])
			end, err2 := start, error(nil)
			if m[3] != "" {
				end, err2 = strconv.Atoi(m[3])
			}
			if err1 == nil && err2 == nil && start > 0 && end >= start {
				refs = append(refs, citeRef{path: unquotePath(m[1]), start: start, end: end})
			}
		}
		refs = append(refs, citeRef{path: unquotePath(loc)})
	}
	return refs
}

// unquotePath undoes the quoting citations use for a name with a control
// character in it.
func unquotePath(p string) string {
	if strings.HasPrefix(p, `"`) {
		if u, err := strconv.Unquote(p); err == nil {
			return u
		}
	}
	return p
}

// matchFiles finds the indexed files p names: an absolute path, a path
// relative to the working directory, or a path relative to an indexed
// folder as citations show it (which may name files under several roots).
func matchFiles(m store.Manifest, p string) []store.FileEntry {
	// Compared escaped: a name that is not UTF-8 is recorded so
	// (filestat.EscapeName), and may be given either way.
	full := func(f store.FileEntry) string {
		return filestat.EscapePath(filepath.Join(f.Root, filepath.FromSlash(f.Path)))
	}
	var out []store.FileEntry
	if abs, err := filepath.Abs(p); err == nil {
		abs = filestat.EscapePath(abs)
		for _, f := range m.Files {
			if full(f) == abs {
				return []store.FileEntry{f}
			}
		}
	}
	if filepath.IsAbs(p) {
		return nil
	}
	rel := filepath.ToSlash(filestat.EscapePath(filepath.Clean(p)))
	for _, f := range m.Files {
		if f.Path == rel {
			out = append(out, f)
		}
	}
	return out
}

// Get finds what target (a path or a citation, as ask and search print
// it, also pasted whole with its heading) names among the files the
// reader sees, and reads its text from the index: the stored chunks,
// overlaps shown once, a section a page. Lines the index holds no text of
// show the nearest indexed lines, with Document.Note saying why. A file
// the reader may not see is not in the index (NotIndexedError); its
// damaged stored chunks are a DamagedError naming it; the other failures
// are AmbiguousPathError, PagedError, NoTextError and OutsideError.
func (r *Reader) Get(ctx context.Context, target string) (*Document, error) {
	m := r.store.Manifest()
	// Only what the view sees can be named: another's file is "not in the
	// index", exactly as one that is not.
	seen := m.Files[:0:0]
	for i := range m.Files {
		if m.Sees(r.asker.View, &m.Files[i]) {
			seen = append(seen, m.Files[i])
		}
	}
	m.Files = seen

	refs := parseCitation(target)
	var ref citeRef
	var files []store.FileEntry
	for _, c := range refs {
		if files = matchFiles(m, c.path); len(files) > 0 {
			ref = c
			break
		}
	}
	switch {
	case len(files) == 0:
		return nil, r.notIndexed(refs[0].path)
	case len(files) > 1:
		var cands []string
		for _, f := range files {
			cands = append(cands, filepath.Join(f.Root, filepath.FromSlash(f.Path)))
		}
		return nil, &AmbiguousPathError{Path: ref.path, Files: cands, Rest: strings.TrimPrefix(target, ref.path), Host: r.Host}
	}
	return r.read(ctx, files[0], ref)
}

// read reads what ref asks of the file f.
func (r *Reader) read(ctx context.Context, f store.FileEntry, ref citeRef) (*Document, error) {
	chunks, err := fileChunks(ctx, r.store, f, ref)
	var corrupt *store.CorruptError
	if errors.As(err, &corrupt) && !corrupt.Catalog {
		// Named by the file it holds, as status names damage, not by the
		// object's path.
		return nil, &DamagedError{Damaged: []store.Damage{{Key: f.Key, Files: []store.FileEntry{f}, Err: corrupt}}}
	}
	if err != nil {
		return nil, err
	}
	rep := &Document{Path: f.Path, Root: f.Root, File: filepath.Join(f.Root, filepath.FromSlash(f.Path)), Format: f.Format}
	host := filestat.HostPath(f.Root, f.Path) // the name on disk, for a name that is not UTF-8
	rep.OnDisk = onDisk(host, f)
	rep.Sections, err = selectSections(f, chunks, ref)
	if errors.Is(err, errNoTextThere) {
		rep.Sections, rep.Note, rep.Markup, err = nearest(f, chunks, ref, host, rep.OnDisk)
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// notIndexed is the error for a path the asker sees nothing of. Only on
// the host's command line (Reader.Host), whose user can list its folders
// anyway, does it say that the path is a folder: to a client of a server
// a host folder, a host file and a missing path are all "not in the
// index", so that it learns nothing of what exists on the host.
func (r *Reader) notIndexed(p string) error {
	if r.Host {
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			return &NotIndexedError{Path: p, Folder: true}
		}
	}
	return &NotIndexedError{Path: p}
}

// onDisk compares the file with the content hash the catalog recorded:
// without reading it when its stat is the one it was indexed with (as
// rag index trusts it), else by hashing it in pieces, so that a citation
// of a large file costs no more than its lines.
func onDisk(path string, f store.FileEntry) string {
	if info, err := os.Stat(path); err == nil && f.Seen != nil && f.Seen.ReadAt-f.Seen.MTime > int64(2*time.Second) &&
		filestat.Of(info) == (filestat.Stat{Size: f.Seen.Size, MTime: f.Seen.MTime, CTime: f.Seen.CTime, Inode: f.Seen.Inode}) {
		return "unchanged"
	}
	file, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case err != nil:
		return "changed" // unreadable: what is shown cannot be checked against it
	}
	h := sha256.New()
	_, err = io.Copy(h, file)
	if cerr := file.Close(); err != nil || cerr != nil || hex.EncodeToString(h.Sum(nil)) != f.Hash {
		return "changed"
	}
	return "unchanged"
}

// fileChunks reads the chunks of f that ref needs: every chunk's lines and
// page, and the text of those in its range and of the nearest on either
// side (for nearest); all of them when ref names no lines or page.
func fileChunks(ctx context.Context, st store.Index, f store.FileEntry, ref citeRef) ([]store.Chunk, error) {
	l, ok := st.(*store.Local)
	if !ok {
		return st.FileChunks(ctx, f) // every chunk with its text: a superset of the picked
	}
	return l.FileChunksPicked(ctx, f, func(outline []store.Chunk) []int {
		var pick []int
		prev, next := -1, -1
		for i, c := range outline {
			switch {
			case !ref.lines() && ref.page == 0:
			case ref.page > 0 && c.Page != ref.page:
				continue
			case ref.lines() && c.EndLine < ref.start:
				if prev < 0 || c.EndLine > outline[prev].EndLine {
					prev = i
				}
				continue
			case ref.lines() && c.StartLine > ref.end:
				if next < 0 || c.StartLine < outline[next].StartLine {
					next = i
				}
				continue
			}
			pick = append(pick, i)
		}
		return append(pick, prev, next)
	})
}

// selectSections picks the chunks ref asks for and merges them: one
// section a page (one for an unpaged file).
func selectSections(f store.FileEntry, chunks []store.Chunk, ref citeRef) ([]Section, error) {
	paged := slices.ContainsFunc(chunks, func(c store.Chunk) bool { return c.Page > 0 })
	if paged && ref.lines() {
		return nil, &PagedError{Path: f.Path}
	}
	var picked []store.Chunk
	for _, c := range chunks {
		if ref.page > 0 && c.Page != ref.page {
			continue
		}
		if ref.lines() && (c.EndLine < ref.start || c.StartLine > ref.end) {
			continue
		}
		picked = append(picked, c)
	}
	if len(picked) == 0 {
		if ref.lines() && len(chunks) > 0 {
			return nil, errNoTextThere // nearest says why, and what is near
		}
		return nil, outside(f, chunks, ref)
	}
	var out []Section
	for start := 0; start < len(picked); {
		end := start + 1
		for end < len(picked) && picked[end].Page == picked[start].Page {
			end++
		}
		out = append(out, mergeChunks(picked[start:end], ref))
		start = end
	}
	return out, nil
}

// errNoTextThere is selectSections' answer to lines of a file no chunk
// holds, though others do.
var errNoTextThere = errors.New("no indexed text at these lines")

// nearest answers lines of a file that no chunk holds (the file has
// others): it shows the nearest indexed lines and says exactly why those
// asked for are not indexed: front matter, blank lines or markup only, as
// the file shows when it is as indexed; lines past its end are an error.
func nearest(f store.FileEntry, chunks []store.Chunk, ref citeRef, file, disk string) (sections []Section, note, markup string, err error) {
	var src []string // the file's lines, when it is as indexed and has lines
	frontMatter := 0
	if disk == "unchanged" {
		src, frontMatter = sourceLines(f, file)
	}
	var prev, next *store.Chunk
	for i := range chunks {
		c := &chunks[i]
		if c.EndLine < ref.start && (prev == nil || c.EndLine > prev.EndLine) {
			prev = c
		}
		if c.StartLine > ref.end && (next == nil || c.StartLine < next.StartLine) {
			next = c
		}
	}
	if next == nil && (src == nil || ref.start > len(src)) {
		err = outside(f, chunks, ref)
		var oe *OutsideError
		if src != nil && errors.As(err, &oe) {
			oe.FileLines = len(src)
		}
		return nil, "", "", err
	}
	near := next
	if prev != nil && (next == nil || ref.start-prev.EndLine < next.StartLine-ref.end) {
		near = prev
	}
	what, one := unitOf(f), ref.start == ref.end
	span, are, hold := fmt.Sprintf("%s %d-%d of %s", what, ref.start, ref.end, f.Path), "are", "hold"
	if one {
		span, are, hold = fmt.Sprintf("%s %d of %s", strings.TrimSuffix(what, "s"), ref.start, f.Path), "is", "holds"
	}
	var why string
	switch {
	case ref.end <= frontMatter:
		why = fmt.Sprintf("%s %s front matter, not indexed", span, are)
	case src != nil && blankLines(src, ref.start, ref.end):
		why = fmt.Sprintf("%s %s blank", span, are)
	case src != nil:
		why, markup = fmt.Sprintf("%s %s markup only, no text", span, hold), firstText(src, ref.start, ref.end)
	case disk == "unchanged":
		why = fmt.Sprintf("%s %s no text", span, hold)
	default:
		why = fmt.Sprintf("%s %s no indexed text, and the file %s since it was indexed", span, hold, map[string]string{"changed": "changed", "missing": "is gone"}[disk])
	}
	which := "nearest"
	if near == next && prev == nil {
		which = "first"
	}
	note = fmt.Sprintf("%s; the %s indexed %s are %d-%d, shown instead", why, which, what, near.StartLine, near.EndLine)
	return []Section{mergeChunks([]store.Chunk{*near}, citeRef{})}, note, markup, nil
}

// unitOf is what a citation of f counts: lines, or paragraphs of a DOCX
// file.
func unitOf(f store.FileEntry) string {
	if strings.EqualFold(filepath.Ext(f.Path), ".docx") {
		return "paragraphs"
	}
	return "lines"
}

// sourceLines are the lines of the file as rag counts them (decoded,
// uncompressed, markup and all; none for PDF and DOCX) and how many at the
// top are front matter.
func sourceLines(f store.FileEntry, file string) ([]string, int) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, 0
	}
	frontMatter := 0
	if f.Format == "markdown" {
		if doc, err := extract.ExtractMax(f.Path, data, extract.DefaultMaxSize); err == nil {
			frontMatter = doc.FrontMatter
		}
	}
	text, err := extract.Source(f.Path, data, extract.DefaultMaxSize)
	if err != nil {
		return nil, frontMatter
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n"), frontMatter
}

// blankLines reports whether lines from..to (1-based; those the file has)
// are blank.
func blankLines(src []string, from, to int) bool {
	for n := from; n <= to && n <= len(src); n++ {
		if strings.TrimSpace(src[n-1]) != "" {
			return false
		}
	}
	return true
}

// firstText is the first non-blank line of lines from..to, cut to a
// glance.
func firstText(src []string, from, to int) string {
	for n := from; n <= to && n <= len(src); n++ {
		if t := strings.TrimSpace(src[n-1]); t != "" {
			if r := []rune(t); len(r) > 60 {
				t = string(r[:60]) + "…"
			}
			return t
		}
	}
	return ""
}

// outside explains a range the index holds no text for.
func outside(f store.FileEntry, chunks []store.Chunk, ref citeRef) error {
	if len(chunks) == 0 {
		return &NoTextError{Path: f.Path}
	}
	lo, hi := chunks[0], chunks[0]
	for _, c := range chunks {
		if c.Page < lo.Page || c.Page == lo.Page && c.StartLine < lo.StartLine {
			lo = c
		}
		if c.Page > hi.Page || c.Page == hi.Page && c.EndLine > hi.EndLine {
			hi = c
		}
	}
	if ref.page > 0 {
		return &OutsideError{Path: f.Path, Page: ref.page, FirstPage: lo.Page, LastPage: hi.Page}
	}
	return &OutsideError{Path: f.Path, What: unitOf(f), Start: ref.start, End: ref.end, First: lo.StartLine, Last: hi.EndLine}
}

// showLine is a line of merged text and its line number (0: not known, as
// for HTML, whose text lines do not map one to one to the source's).
type showLine struct {
	n    int
	text string
}

// mergeChunks joins chunks of one page in document order. Chunks overlap
// by design (the next starts with the tail of the previous): the common
// lines are shown once. A long line cut into pieces is put back together.
// When every chunk's text is its lines one to one, the text is cut to the
// range asked for.
func mergeChunks(cs []store.Chunk, ref citeRef) Section {
	var lines []showLine
	exact := true
	var prev store.Chunk
	for i, c := range cs {
		cl := strings.Split(c.Text, "\n")
		one := len(cl) == c.EndLine-c.StartLine+1
		number := func(j int) int {
			if one {
				return c.StartLine + j
			}
			return 0
		}
		switch {
		case i == 0:
		case len(cl) == 1 && prev.StartLine == prev.EndLine && c.StartLine == c.EndLine && c.StartLine == prev.EndLine &&
			!strings.Contains(prev.Text, "\n") && prev.Text != c.Text:
			// The next piece of a line too long for one chunk.
			lines[len(lines)-1].text += c.Text
			prev = c
			continue
		case c.StartLine <= prev.EndLine:
			k := chunk.SharedLines(lineTexts(lines[max(0, len(lines)-len(cl)):]), prev.EndLine, cl, c.StartLine)
			cl = cl[k:]
			for j, t := range cl {
				lines = append(lines, showLine{n: number(j + k), text: t})
			}
			exact = exact && one
			prev = c
			continue
		default:
			// Lines between chunks are blank: every other line is in one.
			gap := c.StartLine - prev.EndLine - 1
			if !(exact && one) {
				gap = min(gap, 1)
			}
			for j := 0; j < gap; j++ {
				lines = append(lines, showLine{n: prev.EndLine + 1 + j})
			}
		}
		for j, t := range cl {
			lines = append(lines, showLine{n: number(j), text: t})
		}
		exact = exact && one
		prev = c
	}
	sec := Section{StartLine: cs[0].StartLine, Page: cs[0].Page, Heading: cs[0].Heading}
	for _, c := range cs {
		sec.EndLine = max(sec.EndLine, c.EndLine)
		sec.Heading = chunk.CommonHeading(sec.Heading, c.Heading)
	}
	if exact && ref.lines() {
		kept := lines[:0:0]
		for _, l := range lines {
			if l.n >= ref.start && l.n <= ref.end {
				kept = append(kept, l)
			}
		}
		if len(kept) > 0 {
			lines = kept
			sec.StartLine, sec.EndLine = kept[0].n, kept[len(kept)-1].n
		}
	}
	sec.Text = strings.Join(lineTexts(lines), "\n")
	return sec
}

// lineTexts are the texts of ls.
func lineTexts(ls []showLine) []string {
	texts := make([]string, len(ls))
	for i, l := range ls {
		texts[i] = l.text
	}
	return texts
}

// IsNotFound reports whether err is a get that found nothing to show: a
// path not in the index (or not the asker's), one that names two files,
// a paged file asked by lines, a file with no text, lines outside it, or
// a glob that matched nothing.
func IsNotFound(err error) bool {
	var (
		notIndexed *NotIndexedError
		ambiguous  *AmbiguousPathError
		paged      *PagedError
		noText     *NoTextError
		outside    *OutsideError
		noMatch    *NoMatchError
	)
	return errors.As(err, &notIndexed) || errors.As(err, &ambiguous) || errors.As(err, &paged) ||
		errors.As(err, &noText) || errors.As(err, &outside) || errors.As(err, &noMatch)
}
