// Package ingest decides which files of a folder rag reads: it walks an
// fs.FS and applies the folder's .gitignore and .ragignore files (git's
// syntax, nested files included), --include and --exclude globs, skips
// hidden files and folders unless asked, files over a size limit and
// anything that is not a regular file, and follows symbolic links only
// while they stay inside the folder. Every file passed over is reported
// with a reason, except those the user excluded on purpose (ignore files,
// globs), which are only counted.
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/rag-cli/rag/pkg/filestat"
)

// DefaultMaxSize is the largest file read by default: room for long PDFs,
// while a stray disk image or database dump is skipped.
const DefaultMaxSize = 64 << 20

// IgnoreFiles are read in every folder, in this order; .ragignore can
// re-include (!pattern) what .gitignore leaves out. They are read only
// when they are regular files of at most MaxIgnoreSize: a link (as git
// does since 2.32), a named pipe or a device is reported and not read.
var IgnoreFiles = []string{".gitignore", ".ragignore"}

// MaxIgnoreSize is the largest ignore file read.
const MaxIgnoreSize = 1 << 20

// RulesFile is the access rules file of a folder (pkg/access reads it):
// never indexed as a document, even with --hidden.
const RulesFile = ".ragaccess"

// File is a candidate for indexing.
type File struct {
	// Path is slash-separated and relative to the walked root, as reached:
	// through a symbolic link, its path is the link's.
	Path string
	Size int64
	// Stat is what the walk saw of the file, so that a later run can tell
	// an unchanged file without reading it.
	Stat filestat.Stat
}

// Skip is a file that was passed over, and why.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	// Failed marks a file rag meant to read but could not (unreadable);
	// the others were passed over on purpose.
	Failed bool `json:"-"`
}

// Options controls the walk.
type Options struct {
	MaxSize int64
	// Include, if not empty, keeps only files matching one of these globs
	// (doublestar syntax, "**" for any depth, relative to the root).
	Include []string
	// Exclude drops files and folders matching one of these globs.
	Exclude []string
	// Hidden includes hidden files and folders (.git never).
	Hidden bool
	// NoIgnoreFiles disables .gitignore and .ragignore.
	NoIgnoreFiles bool
	// SkipDir, if set, is asked about every folder below the root (its
	// path as reached, and the names it holds); true leaves it out as a
	// skip. rag uses it so that an index folder is never indexed.
	SkipDir func(dir string, names []string) bool
	// Leave, if set, is asked about every folder below the root (its path
	// as reached); true leaves it out silently: another walk takes it (a
	// source inside the one walked, with walk options of its own).
	Leave func(dir string) bool
}

// Result is what a walk found.
type Result struct {
	Files []File
	Skips []Skip
	// Ignored counts files and folders left out by ignore files and globs.
	Ignored int
}

// CheckPatterns reports a malformed glob before any walking.
func CheckPatterns(patterns []string) error {
	for _, p := range patterns {
		if !doublestar.ValidatePattern(p) {
			return fmt.Errorf("bad glob %q", p)
		}
	}
	return nil
}

type walker struct {
	ctx  context.Context
	fsys fs.FS
	opt  Options
	res  Result
	// seen maps the folders walked, by their real path, to the path they
	// were indexed as, so that links never walk a folder twice or loop.
	seen  map[string]string
	links []link

	// Folders about to be walked are read ahead, a few at once (see
	// readAhead): reading a folder is mostly system calls (a stat of every
	// file), which other cores can make meanwhile. ahead holds them by
	// real path; slots bounds the reads at once; reads is waited for.
	ahead map[string]*read
	mu    sync.Mutex
	slots chan struct{}
	reads sync.WaitGroup
}

// read is a folder's entries read ahead; done is closed when they are.
type read struct {
	done chan struct{}
	ents []fs.DirEntry
	err  error
}

// readAhead starts reading the folders at real paths in the background,
// at most as many at once as there are cores.
func (w *walker) readAhead(paths []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range paths {
		if _, ok := w.ahead[p]; ok {
			continue
		}
		r := &read{done: make(chan struct{})}
		w.ahead[p] = r
		w.reads.Go(func() {
			defer close(r.done)
			select {
			case w.slots <- struct{}{}:
			case <-w.ctx.Done():
				r.err = w.ctx.Err()
				return
			}
			r.ents, r.err = fs.ReadDir(w.fsys, p)
			<-w.slots
		})
	}
}

// readDir returns the entries of the folder at real path, read ahead or now.
func (w *walker) readDir(real string) ([]fs.DirEntry, error) {
	w.mu.Lock()
	r, ok := w.ahead[real]
	delete(w.ahead, real)
	w.mu.Unlock()
	if !ok {
		return fs.ReadDir(w.fsys, real)
	}
	<-r.done
	return r.ents, r.err
}

type link struct {
	path, target string
	patterns     []gitignore.Pattern
}

// Walk lists the files under fsys that may be indexed, in lexical order.
func Walk(ctx context.Context, fsys fs.FS, opt Options) (*Result, error) {
	if opt.MaxSize <= 0 {
		opt.MaxSize = DefaultMaxSize
	}
	w := &walker{ctx: ctx, fsys: fsys, opt: opt, seen: map[string]string{".": "."},
		ahead: map[string]*read{}, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	defer w.reads.Wait() // no read outlives the walk
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	root := &read{done: make(chan struct{}), ents: ents}
	close(root.done)
	w.ahead["."] = root
	if err := w.dir(".", ".", nil); err != nil {
		return nil, err
	}
	for len(w.links) > 0 {
		l := w.links[0]
		w.links = w.links[1:]
		if as, ok := w.seen[l.target]; ok {
			w.skip(l.path, fmt.Sprintf("link to a folder indexed as %s", as), false)
			continue
		}
		w.seen[l.target] = l.path
		if err := w.dir(l.path, l.target, l.patterns); err != nil {
			return nil, err
		}
	}
	sort.Slice(w.res.Files, func(i, j int) bool { return w.res.Files[i].Path < w.res.Files[j].Path })
	return &w.res, nil
}

// dir walks the folder reached as seenAs whose real path is real.
func (w *walker) dir(seenAs, real string, patterns []gitignore.Pattern) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	ents, err := w.readDir(real)
	if err != nil {
		if cerr := w.ctx.Err(); cerr != nil {
			return cerr
		}
		w.fail(seenAs, fmt.Sprintf("unreadable folder: %v", unwrapPath(err)))
		return nil
	}
	if w.opt.SkipDir != nil && seenAs != "." {
		names := make([]string, len(ents))
		for i, e := range ents {
			names[i] = e.Name()
		}
		if w.opt.SkipDir(real, names) {
			w.skip(seenAs, "a rag index folder", false)
			return nil
		}
	}
	if !w.opt.NoIgnoreFiles {
		ps, err := w.readIgnores(real, seenAs)
		if err != nil {
			return err
		}
		patterns = append(patterns[:len(patterns):len(patterns)], ps...)
	}
	var matcher gitignore.Matcher // none without patterns: no path split a file
	if len(patterns) > 0 {
		matcher = gitignore.NewMatcher(patterns)
	}
	// The folders walked are decided first, so that they can be read
	// ahead, a few beyond the one being walked.
	walked := make([]bool, len(ents))
	var next []string
	for i, e := range ents {
		if e.Name() == ".git" || !e.IsDir() || w.leave(join(seenAs, e.Name())) {
			continue
		}
		if !w.left(join(seenAs, e.Name()), true, matcher) {
			walked[i] = true
			next = append(next, join(real, e.Name()))
		}
	}
	ahead := 2 * cap(w.slots)
	w.readAhead(next[:min(ahead, len(next))])
	for i, e := range ents {
		name := e.Name()
		p := join(seenAs, name)
		rp := join(real, name)
		if name == ".git" {
			continue
		}
		isDir := e.IsDir()
		if !isDir && ruleFile(name) {
			continue // read (or reported) as rules, never indexed
		}
		typ := e.Type()
		if typ&fs.ModeSymlink != 0 {
			target, info, reason := w.resolve(rp)
			if reason != "" {
				w.skip(p, reason, false)
				continue
			}
			if info.IsDir() {
				if !w.leave(p) && !w.left(p, true, matcher) {
					// Followed after everything else, so that a folder is
					// indexed under its own path when it can be.
					w.links = append(w.links, link{p, target, patterns})
				}
				continue
			}
			if w.left(p, false, matcher) {
				continue
			}
			w.file(p, info)
			continue
		}
		if isDir {
			if !walked[i] {
				continue
			}
			next = next[1:]
			w.readAhead(next[:min(ahead, len(next))])
			w.seen[rp] = p
			if err := w.dir(p, rp, patterns); err != nil {
				return err
			}
			continue
		}
		if w.left(p, false, matcher) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			w.fail(p, fmt.Sprintf("unreadable: %v", unwrapPath(err)))
			continue
		}
		w.file(p, info)
	}
	return nil
}

// leave reports whether the folder reached as p is left to another walk.
func (w *walker) leave(p string) bool { return w.opt.Leave != nil && w.opt.Leave(p) }

// left reports (and counts or records) whether an entry is left out by
// the hidden rule, the ignore files (m, nil when there are none) or the
// globs.
func (w *walker) left(p string, isDir bool, m gitignore.Matcher) bool {
	if !isDir && ruleFile(path.Base(p)) {
		return true // read, not indexed
	}
	if !w.opt.Hidden && strings.HasPrefix(path.Base(p), ".") {
		if !isDir {
			w.skip(p, "hidden (--hidden includes it)", false)
		}
		return true
	}
	if m != nil && m.Match(strings.Split(p, "/"), isDir) {
		w.res.Ignored++
		return true
	}
	for _, x := range w.opt.Exclude {
		if ok, _ := doublestar.Match(x, p); ok { // patterns were validated
			w.res.Ignored++
			return true
		}
	}
	if !isDir && len(w.opt.Include) > 0 {
		for _, in := range w.opt.Include {
			if ok, _ := doublestar.Match(in, p); ok {
				return false
			}
		}
		w.res.Ignored++
		return true
	}
	return false
}

func (w *walker) file(p string, info fs.FileInfo) {
	switch {
	case !info.Mode().IsRegular():
		w.skip(p, "not a regular file", false)
	case info.Size() > w.opt.MaxSize:
		w.skip(p, fmt.Sprintf("larger than --max-size (%d > %d bytes)", info.Size(), w.opt.MaxSize), false)
	default:
		w.res.Files = append(w.res.Files, File{Path: p, Size: info.Size(), Stat: filestat.Of(info)})
	}
}

func (w *walker) skip(p, reason string, failed bool) {
	w.res.Skips = append(w.res.Skips, Skip{Path: p, Reason: reason, Failed: failed})
}

func (w *walker) fail(p, reason string) { w.skip(p, reason, true) }

const reasonLoop = "symbolic link loop"

// resolve follows a symbolic link (and links it leads to) and returns the
// real path of its target, or why it is not followed.
func (w *walker) resolve(link string) (string, fs.FileInfo, string) {
	cur := link
	for hops := 0; hops < 40; hops++ {
		target, err := fs.ReadLink(w.fsys, cur)
		if err != nil {
			return "", nil, fmt.Sprintf("unreadable link: %v", unwrapPath(err))
		}
		if path.IsAbs(target) || strings.HasPrefix(target, "/") {
			return "", nil, "link to outside the folder (not followed)"
		}
		next := path.Join(path.Dir(cur), target)
		if next == ".." || strings.HasPrefix(next, "../") {
			return "", nil, "link to outside the folder (not followed)"
		}
		info, err := fs.Lstat(w.fsys, next)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", nil, "broken link"
			}
			return "", nil, fmt.Sprintf("unreadable link: %v", unwrapPath(err))
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			if info.IsDir() {
				// A link to a folder above it would walk forever.
				if next == "." || strings.HasPrefix(link+"/", next+"/") {
					return "", nil, reasonLoop
				}
			}
			return next, info, ""
		}
		cur = next
	}
	return "", nil, reasonLoop
}

// ruleFile reports whether name is an ignore or access rules file.
func ruleFile(name string) bool {
	return slices.Contains(IgnoreFiles, name) || name == RulesFile
}

// readIgnores reads the ignore files of a folder; their patterns apply
// below it. One that is not a regular file, or is too large, is reported
// as failed and contributes nothing; the error is only for ctx.
func (w *walker) readIgnores(real, seenAs string) ([]gitignore.Pattern, error) {
	var domain []string
	if seenAs != "." {
		domain = strings.Split(seenAs, "/")
	}
	var ps []gitignore.Pattern
	for _, name := range IgnoreFiles {
		data, err := filestat.ReadFileFS(w.ctx, w.fsys, join(real, name), MaxIgnoreSize)
		var notRegular *filestat.NotRegularError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case w.ctx.Err() != nil:
			return nil, w.ctx.Err()
		case errors.As(err, &notRegular):
			w.fail(join(seenAs, name), fmt.Sprintf("ignore file not read: %v (rag reads ignore files only when they are regular files, as git does)", notRegular))
			continue
		case err != nil:
			w.fail(join(seenAs, name), fmt.Sprintf("unreadable ignore file: %v", unwrapPath(err)))
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, MaxIgnoreSize+1) // any line of a file read whole
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			ps = append(ps, gitignore.ParsePattern(line, domain))
		}
	}
	return ps, nil
}

func join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Read reads a whole file, at most max bytes (a file that grew since the
// walk is refused rather than read without bound).
func Read(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	// Read into a buffer of the file's size (and one byte to see its end):
	// growing one from nothing copied each file two or three times over.
	buf := make([]byte, 0, 512)
	if info, err := f.Stat(); err == nil && info.Size() > 0 && info.Size() <= max {
		buf = make([]byte, 0, info.Size()+1)
	}
	data, err := readAll(io.LimitReader(f, max+1), buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("larger than --max-size (%d bytes)", max)
	}
	return data, nil
}

// readAll is io.ReadAll into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // room to grow
		}
	}
}
