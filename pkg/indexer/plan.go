package indexer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/store"
)

// list walks the folder (or stats the files of Only), then asks which
// objects are damaged (opt.Damaged, which may have overlapped the walk).
// What the walk skipped, and the rules files not read, start the summary.
func (r *run) list(ctx context.Context) (*ingest.Result, error) {
	opt := r.opt
	walked := &ingest.Result{}
	if !opt.Gone {
		var err error
		if walked, err = listFiles(ctx, opt, r.nested); err != nil {
			return nil, err
		}
	}
	if opt.Damaged != nil {
		var err error
		if r.damaged, err = opt.Damaged(); err != nil {
			return nil, err
		}
	}
	r.sum = &Summary{Ignored: walked.Ignored}
	r.sum.Failed = append(r.sum.Failed, r.who.unread()...)
	for _, sk := range walked.Skips {
		if sk.Failed {
			r.sum.Failed = append(r.sum.Failed, Failure{Path: sk.Path, Error: sk.Reason})
		} else {
			r.sum.Skipped = append(r.sum.Skipped, sk)
		}
	}
	return walked, nil
}

// plan places the catalog's files (newScope) and decides which of the
// files walked are read: not those kept as the catalog has them, whose
// access is decided again all the same (that embeds nothing). The others
// are read later, a few ahead of the embedder: the run never holds the
// chunks of the whole folder.
func (r *run) plan(ctx context.Context, files []ingest.File) error {
	var err error
	if r.scope, err = newScope(r.opt, r.m.Files); err != nil {
		return err
	}
	r.current = make(map[string]store.FileEntry, len(files))
	r.pendingPaths = map[string]bool{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if prev, ok := r.kept(f); ok {
			if !r.who.decide(&prev, r.sum, &r.m) {
				r.untouched++
			}
			r.current[f.Path] = prev
			r.sum.Unchanged++
			continue
		}
		if !r.opt.PruneOnly {
			r.toRead = append(r.toRead, f)
			r.total += f.Size
		}
	}
	return nil
}

// kept says whether the file walked as f is kept as the catalog has it,
// not read: its stat is as when it was read, or the run only prunes
// (still there: kept as it is, changed or not).
func (r *run) kept(f ingest.File) (store.FileEntry, bool) {
	prev, had := r.old[f.Path]
	if r.opt.PruneOnly {
		return prev, had
	}
	return prev, had && !r.damaged[prev.Key] && statClean(prev.Seen, f.Stat) && r.keys.is(prev.Key, prev.Hash, f.Path)
}

// scope is the catalog's files as they stand to a run.
type scope struct {
	// inScope reports whether a file of the root is the run's: every one,
	// or those of Only.
	inScope func(p string) bool
	old     map[string]store.FileEntry // the files of this root (or of Only) as the catalog has them
	keep    []store.FileEntry          // files of other roots, untouched
	// held are files recorded under a folder inside the root, by a source
	// there that was indexed alone before the root was: the root holds
	// them now, under its own paths (heldAs). Until the run completes they
	// stay as they were. moved are the paths of old that are held ones.
	held   []store.FileEntry
	heldAs []string
	moved  map[string]bool
}

// newScope places the catalog's files.
func newScope(opt Options, files []store.FileEntry) (scope, error) {
	s := scope{inScope: func(p string) bool { return true }}
	if opt.Only != nil {
		only := map[string]bool{}
		for _, p := range opt.Only {
			only[p] = true
		}
		s.inScope = func(p string) bool { return only[p] }
	}
	s.old = make(map[string]store.FileEntry, len(files))
	for _, f := range files {
		switch {
		case f.Root == opt.Root && s.inScope(f.Path):
			s.old[f.Path] = f
		case opt.Only == nil && store.Within(f.Root, opt.Root):
			s.held = append(s.held, f)
		default:
			s.keep = append(s.keep, f)
		}
	}
	s.heldAs = make([]string, len(s.held))
	s.moved = map[string]bool{}
	for i, f := range s.held {
		// Its stat, key and access carry over: an unchanged file is not
		// read again.
		rel, err := filepath.Rel(opt.Root, f.Root)
		if err != nil {
			return s, err
		}
		s.heldAs[i] = path.Join(filepath.ToSlash(rel), f.Path)
		if _, ok := s.old[s.heldAs[i]]; !ok {
			f.Root, f.Path = opt.Root, s.heldAs[i]
			s.old[s.heldAs[i]], s.moved[s.heldAs[i]] = f, true
		}
	}
	return s, nil
}

// racyWindow is how close to being read a file may have changed and still
// be trusted by its stat. Closer, a write in the same tick of the file
// system's clock could leave the stat as it was (git calls such entries
// racily clean): the file is read again, and once it is older, trusted.
const racyWindow = 2 * time.Second

// statClean reports whether a file whose stat the walk found as st can be
// taken as unchanged since it was seen.
func statClean(seen *store.Seen, st filestat.Stat) bool {
	return seen != nil && seen.Size == st.Size && seen.MTime == st.MTime && seen.CTime == st.CTime && seen.Inode == st.Inode &&
		max(seen.MTime, seen.CTime) < seen.ReadAt-int64(racyWindow)
}

func listFiles(ctx context.Context, opt Options, nested []nestedSource) (*ingest.Result, error) {
	if opt.Only == nil {
		return walkNested(ctx, opt, nested)
	}
	res := &ingest.Result{}
	for _, p := range opt.Only {
		info, err := fs.Stat(opt.FS, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted: its entry goes
		}
		if err != nil {
			res.Skips = append(res.Skips, ingest.Skip{Path: p, Reason: err.Error(), Failed: true})
			continue
		}
		switch {
		case !info.Mode().IsRegular():
			res.Skips = append(res.Skips, ingest.Skip{Path: p, Reason: "not a regular file"})
		case info.Size() > maxSize(opt):
			res.Skips = append(res.Skips, ingest.Skip{Path: p, Reason: fmt.Sprintf("larger than --max-size (%d > %d bytes)", info.Size(), maxSize(opt))})
		default:
			res.Files = append(res.Files, ingest.File{Path: path.Clean(p), Size: info.Size(), Stat: filestat.Of(info)})
		}
	}
	return res, nil
}

// nestedSource is a source inside the run's folder: where it is,
// relative to the root, and whether it is there still.
type nestedSource struct {
	src  store.Source
	rel  string
	gone bool
}

// nestedOf places opt.Nested under the root; a source that is gone (or
// is no longer a folder, or a file) is marked so, to be dropped.
func nestedOf(opt Options) []nestedSource {
	var out []nestedSource
	for _, src := range opt.Nested {
		rel, err := filepath.Rel(opt.Root, src.Path)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue // not inside: newDecider reports it
		}
		n := nestedSource{src: src, rel: filepath.ToSlash(rel)}
		if opt.Gone || opt.FS == nil {
			n.gone = true
		} else if info, err := fs.Stat(opt.FS, n.rel); err != nil || info.IsDir() == src.File {
			n.gone = true
		}
		out = append(out, n)
	}
	return out
}

// walkNested walks the root with the source's walk options, leaving out
// the folders of sources inside it that have walk options of their own
// (walked with those, their files under their path), and adds the files
// given as sources inside it that the walks left out.
func walkNested(ctx context.Context, opt Options, nested []nestedSource) (*ingest.Result, error) {
	own := map[string]bool{}
	for _, n := range nested {
		if !n.src.File && !n.gone && n.src.Inherit&store.InheritWalk == 0 {
			own[n.rel] = true
		}
	}
	walk := func(fsys fs.FS, prefix string, src store.Source) (*ingest.Result, error) {
		return ingest.Walk(ctx, fsys, ingest.Options{
			MaxSize: opt.MaxSize, Include: src.Include, Hidden: src.Hidden,
			Exclude: append(slices.Clip(src.Exclude), removedGlobs(src)...),
			SkipDir: func(dir string, names []string) bool {
				return opt.IndexDir != "" && filepath.Join(opt.Root, filepath.FromSlash(path.Join(prefix, dir))) == opt.IndexDir ||
					store.IsCatalogDir(fsys, dir, names)
			},
			Leave: func(dir string) bool { return len(own) > 0 && own[path.Join(prefix, dir)] },
		})
	}
	res, err := walk(opt.FS, "", opt.Source)
	if err != nil || len(nested) == 0 {
		return res, err
	}
	for _, n := range nested {
		if !own[n.rel] {
			continue
		}
		sub, err := fs.Sub(opt.FS, n.rel)
		if err != nil {
			return nil, err
		}
		r, err := walk(sub, n.rel, n.src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.src.Path, err)
		}
		for _, f := range r.Files {
			f.Path = path.Join(n.rel, f.Path)
			res.Files = append(res.Files, f)
		}
		for _, sk := range r.Skips {
			sk.Path = path.Join(n.rel, sk.Path)
			res.Skips = append(res.Skips, sk)
		}
		res.Ignored += r.Ignored
	}
	// A file given is indexed, whatever the walks chose.
	have := make(map[string]bool, len(res.Files))
	for _, f := range res.Files {
		have[f.Path] = true
	}
	for _, sk := range res.Skips {
		have[sk.Path] = true
	}
	var only []string
	for _, n := range nested {
		if n.src.File && !n.gone && !have[n.rel] {
			only = append(only, n.rel)
		}
	}
	if len(only) > 0 {
		o := opt
		o.Only = only
		r, err := listFiles(ctx, o, nil)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, r.Files...)
		res.Skips = append(res.Skips, r.Skips...)
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Path < res.Files[j].Path })
	return res, nil
}
