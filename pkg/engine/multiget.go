package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/rag-cli/rag/internal/english"
	"github.com/rag-cli/rag/pkg/store"
)

// The bounds of a multi-get: what one answer may hold, so that a glob
// over a large index neither reads every file nor floods a model's
// context.
const (
	// DefaultMultiGetBytes bounds the text of all documents of a
	// multi-get together when the request gives no bound.
	DefaultMultiGetBytes = 64 << 10
	// MaxMultiGetTargets is how many targets a request may name.
	MaxMultiGetTargets = 100
	// MaxMultiGetFiles is how many items one answer lists at most, globs
	// expanded; the rest are listed as omitted, unread.
	MaxMultiGetFiles = 200
)

// MultiGetRequest is a multi-get: several paths, citations or globs read
// at once.
type MultiGetRequest struct {
	// Targets are paths and citations, as Get takes them, and globs over
	// the files' paths as citations show them (* and ? within a folder,
	// [abc], {a,b}, ** for any folders: docs/**/*.md). A target is a glob
	// only when it names no file itself.
	Targets []string
	// MaxBytes bounds the text of all documents together
	// (DefaultMultiGetBytes when 0).
	MaxBytes int
	// MaxItems bounds how many items are read (MaxMultiGetFiles when 0,
	// and at most that).
	MaxItems int
}

// MultiGetItem is one document of a multi-get, or why a target gave
// none. Exactly one of Document, Error and Omitted is set.
type MultiGetItem struct {
	// Target is the target as given; for a file a glob matched, its path
	// (absolute when the path is under several indexed folders).
	Target string `json:"target"`
	// Glob is the glob that matched the file, if one did.
	Glob     string    `json:"glob,omitempty"`
	Document *Document `json:"document,omitempty"`
	// Error says why the target gave nothing: Err as text.
	Error string `json:"error,omitempty"`
	// Err is the typed error (NotIndexedError, OutsideError, DamagedError,
	// ...), for a face's hints.
	Err error `json:"-"`
	// Omitted says why a document was left out: the bounds were reached.
	// Get it alone, or by parts (a citation's lines).
	Omitted string `json:"omitted,omitempty"`
}

// MultiGetResult is what a multi-get read.
type MultiGetResult struct {
	// Items are in the order of the targets, a glob's files by path.
	Items []MultiGetItem `json:"items"`
	// Bytes is the text of the documents returned; MaxBytes the bound.
	Bytes    int `json:"bytes"`
	MaxBytes int `json:"max_bytes"`
}

// NoMatchError is a glob that matches no file the asker sees, or one
// that is no valid glob (Invalid).
type NoMatchError struct {
	Glob    string
	Invalid bool
}

func (e *NoMatchError) Error() string {
	if e.Invalid {
		return fmt.Sprintf("%s is not a valid glob", e.Glob)
	}
	return fmt.Sprintf("no indexed file matches %s", e.Glob)
}

// MultiGet reads several targets at once, as Get reads each: every
// target gives its document, or an item that says why not (not in the
// index, outside the file, damaged...), and the others are read all the
// same. A glob gives every file the reader sees that it matches, by path.
// A file is listed once: a later target or glob that names the same text
// again is left out. Documents are returned in order while their text
// fits in MaxBytes together; one that does not fit is listed as omitted
// (a smaller one after it may still fit), as is every one past MaxItems
// items, unread. What fails the whole request is a request
// with no target or too many (RequestError), and what fails every read
// (the index gone, an interruption).
func (r *Reader) MultiGet(ctx context.Context, req MultiGetRequest) (*MultiGetResult, error) {
	var targets []string
	for _, t := range req.Targets {
		if t = strings.TrimSpace(t); t != "" {
			targets = append(targets, t)
		}
	}
	switch {
	case len(targets) == 0:
		return nil, &RequestError{Field: "targets", Err: errors.New("no path, citation or glob given")}
	case len(targets) > MaxMultiGetTargets:
		return nil, &RequestError{Field: "targets", Err: fmt.Errorf("%d targets: at most %d at once", len(targets), MaxMultiGetTargets)}
	}
	res := &MultiGetResult{Items: []MultiGetItem{}, MaxBytes: req.MaxBytes}
	if res.MaxBytes <= 0 {
		res.MaxBytes = DefaultMultiGetBytes
	}
	maxItems := MaxMultiGetFiles
	if req.MaxItems > 0 {
		maxItems = min(req.MaxItems, maxItems)
	}
	full := func(it MultiGetItem) bool {
		if len(res.Items) < maxItems {
			return false
		}
		it.Omitted = fmt.Sprintf("past the first %d items of one multi-get", maxItems)
		res.Items = append(res.Items, it)
		return true
	}
	seen := map[string]bool{} // the documents returned, by file and sections
	add := func(it MultiGetItem, doc *Document, err error) error {
		switch {
		case err != nil && !targetError(err):
			return err
		case err != nil:
			it.Err, it.Error = err, err.Error()
		case seen[docKey(doc)]:
			return nil
		case res.Bytes+doc.Bytes() > res.MaxBytes:
			it.Omitted = fmt.Sprintf("%s of text, more than the %s left of the bound of %s", english.Plural(doc.Bytes(), "byte"),
				english.Plural(res.MaxBytes-res.Bytes, "byte"), english.Plural(res.MaxBytes, "byte"))
		default:
			seen[docKey(doc)] = true
			it.Document = doc
			res.Bytes += doc.Bytes()
		}
		res.Items = append(res.Items, it)
		return nil
	}
	for _, t := range targets {
		if full(MultiGetItem{Target: t}) {
			continue
		}
		doc, err := r.Get(ctx, t)
		var ni *NotIndexedError
		if errors.As(err, &ni) && isGlob(t) {
			if err := r.getGlob(ctx, t, full, add); err != nil {
				return nil, err
			}
			continue
		}
		if err := add(MultiGetItem{Target: t}, doc, err); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// getGlob adds the files pattern matches, or why it matches none.
func (r *Reader) getGlob(ctx context.Context, pattern string, full func(MultiGetItem) bool, add func(MultiGetItem, *Document, error) error) error {
	files, err := r.glob(pattern)
	if err != nil {
		return add(MultiGetItem{Target: pattern}, nil, err)
	}
	for _, f := range files {
		it := MultiGetItem{Target: f.target, Glob: pattern}
		if full(it) {
			continue
		}
		doc, err := r.read(ctx, f.FileEntry, citeRef{path: f.Path})
		if err := add(it, doc, err); err != nil {
			return err
		}
	}
	return nil
}

// targetError reports whether err is a target's own problem, which a
// multi-get reports beside the others' documents.
func targetError(err error) bool {
	var (
		notIndexed *NotIndexedError
		ambiguous  *AmbiguousPathError
		paged      *PagedError
		noText     *NoTextError
		outside    *OutsideError
		noMatch    *NoMatchError
		damaged    *DamagedError
	)
	return errors.As(err, &notIndexed) || errors.As(err, &ambiguous) || errors.As(err, &paged) || errors.As(err, &noText) ||
		errors.As(err, &outside) || errors.As(err, &noMatch) || errors.As(err, &damaged)
}

// docKey names a document by its file and the spans of its sections.
func docKey(d *Document) string {
	var b strings.Builder
	b.WriteString(d.File)
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "\x00%d:%d-%d", s.Page, s.StartLine, s.EndLine)
	}
	return b.String()
}

// isGlob reports whether s has a glob's special characters.
func isGlob(s string) bool { return strings.ContainsAny(s, "*?[{") }

// globFile is a file a glob matched, and how an item names it.
type globFile struct {
	store.FileEntry
	target string
}

// glob lists the files the reader sees whose path, as citations show it
// (or on disk, for an absolute glob), matches pattern: by path, then by
// folder.
func (r *Reader) glob(given string) ([]globFile, error) {
	abs := filepath.IsAbs(given)
	pattern := filepath.ToSlash(filepath.Clean(given))
	if !doublestar.ValidatePattern(pattern) {
		return nil, &NoMatchError{Glob: given, Invalid: true}
	}
	m := r.store.Manifest()
	var out []globFile
	roots := map[string]int{} // how many roots hold each path matched
	for i := range m.Files {
		f := &m.Files[i]
		name := f.Path
		if abs {
			name = filepath.ToSlash(filepath.Join(f.Root, filepath.FromSlash(f.Path)))
		}
		if ok, _ := doublestar.Match(pattern, name); !ok || !m.Sees(r.asker.View, f) {
			continue
		}
		out = append(out, globFile{FileEntry: *f, target: f.Path})
		roots[f.Path]++
	}
	if len(out) == 0 {
		return nil, &NoMatchError{Glob: given}
	}
	for i := range out {
		if roots[out[i].Path] > 1 {
			out[i].target = filepath.Join(out[i].Root, filepath.FromSlash(out[i].Path))
		}
	}
	slices.SortFunc(out, func(a, b globFile) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Root, b.Root))
	})
	return out, nil
}
