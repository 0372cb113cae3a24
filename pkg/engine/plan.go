package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/store"
)

// The plan of an index run: which sources it walks, with which settings.

// target is one source of the index as this run sees it.
type target struct {
	src  store.Source
	root string // the folder files are relative to
	fsys fs.FS
	only []string
	gone bool // the source no longer exists
	// given is set when the run's settings (allow, tenant, collection,
	// walk options) are for this source: it was named, or the run names
	// none. A folder refreshed because a path inside it was named keeps
	// its own.
	given bool
	// removedSet says src.Removed is decided (planTargets): otherwise the
	// run keeps what the source recorded.
	removedSet bool
}

// TargetError is a path an index run cannot take.
type TargetError struct {
	// Path is the path as the request named it (Reason TargetIsIndex: the
	// absolute path).
	Path string
	// Index is the rag index Path is in (TargetInIndex).
	Index  string
	Reason TargetReason
}

// TargetReason says why an index run cannot take a path.
type TargetReason int

// The reasons of a TargetError.
const (
	// TargetMissing: the path does not exist.
	TargetMissing TargetReason = iota
	// TargetInIndex: the path is in a rag index (another one).
	TargetInIndex
	// TargetIsIndex: the path is the index being written, or inside it.
	TargetIsIndex
)

func (e *TargetError) Error() string {
	switch e.Reason {
	case TargetInIndex:
		return fmt.Sprintf("%s is in the rag index %s: an index is never indexed", e.Path, e.Index)
	case TargetIsIndex:
		return fmt.Sprintf("%s is the index folder, or inside it: an index is never indexed", e.Path)
	}
	return fmt.Sprintf("%s does not exist", e.Path)
}

// ErrNoTargets is a run that names no folder or file of an index that
// has none recorded.
var ErrNoTargets = errors.New("rag index needs a folder or file: the index has none recorded yet")

// SourcesError is a rebuild that names no folder or file of an index
// whose catalog cannot be read: which folders it holds is not known. It
// does not unwrap to Err: what is wrong is the request, which must name
// them, not the catalog a rebuild replaces.
type SourcesError struct{ Err error }

func (e *SourcesError) Error() string {
	return fmt.Sprintf("cannot read which folders the index holds: %v", e.Err)
}

// errGone is reported for a recorded folder that no longer exists.
var errGone = errors.New("folder no longer exists; `rag index --prune-only` removes it from the index")

func resolveTarget(p string, mayBeGone bool) (target, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return target{}, err
	}
	if in := indexAround(abs); in != "" {
		return target{}, &TargetError{Path: p, Index: in, Reason: TargetInIndex}
	}
	info, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if mayBeGone {
				return target{src: store.Source{Path: abs}, root: abs, gone: true}, nil
			}
			return target{}, &TargetError{Path: p, Reason: TargetMissing}
		}
		return target{}, err
	}
	return targetOf(store.Source{Path: abs, File: !info.IsDir()}), nil
}

func targetOf(src store.Source) target {
	if src.File {
		dir := filepath.Dir(src.Path)
		return target{src: src, root: dir, fsys: filestat.DirFS(dir), only: []string{filestat.EscapeName(filepath.Base(src.Path))}}
	}
	return target{src: src, root: src.Path, fsys: filestat.DirFS(src.Path)}
}

// indexAround returns the folder holding a rag catalog that is p or holds
// it, or "".
func indexAround(p string) string {
	for dir := p; ; {
		if store.HoldsCatalog(dir) {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// recordedTargets are the sources an index holds, for a run without paths:
// those inside none other (a folder holds the sources inside it).
func recordedTargets(m store.Manifest) []target {
	var ts []target
	for _, src := range m.Sources {
		if _, held := store.Holder(m.Sources, src.Path); held {
			continue
		}
		t := targetOf(src)
		t.given = true
		if _, err := os.Stat(src.Path); errors.Is(err, fs.ErrNotExist) {
			t.gone, t.fsys = true, nil
		}
		ts = append(ts, t)
	}
	return ts
}

// planTargets keeps one copy of every file in the index when folders
// nest, and the settings given for a path to that path. A target inside a
// folder that is indexed too (given now or recorded) is replaced by the
// outermost such folder, which holds its files; the settings the run gives
// (set) are recorded for the target alone, as a source inside that folder
// (inner) that inherits the others, and the folder keeps its own. A
// recorded source inside a folder given now stays, with its own settings.
// What `rag index --remove` took out of a recorded folder stays out
// (store.Source.Removed), unless a target names it: then it is indexed
// again with the folder. A target inside what was removed is no part of
// the folder, and is indexed on its own.
func planTargets(explicit []target, recorded []store.Source, set store.Settings) (run []target, inner []store.Source, notes []string) {
	recorded, notes = readd(explicit, recorded)
	var folders []store.Source
	for _, src := range recorded {
		if !src.File {
			folders = append(folders, src)
		}
	}
	for _, t := range explicit {
		if !t.src.File && !t.gone {
			if rec, ok := recordedSource(recorded, t.src); ok {
				t.src = rec
			}
			folders = append(folders, t.src)
		}
	}
	add := func(t target) {
		for i := range run {
			if run[i].src.Same(t.src) {
				run[i].given = run[i].given || t.given
				return
			}
		}
		run = append(run, t)
	}
	for _, t := range explicit {
		outer, nested := store.Holder(folders, t.src.Path)
		if nested && outer.Leaves(t.src.Path) {
			nested = false // removed from outer: a source of its own
		}
		if !nested {
			t.given = true
			add(t)
			continue
		}
		rec, known := recordedSource(recorded, t.src)
		switch {
		case set&^walkOf(t.src) != 0:
			src := rec
			if !known {
				src = store.Source{Path: t.src.Path, File: t.src.File, Inherit: store.InheritTenant | store.InheritAllow | store.InheritCollection | store.InheritWalk}
			}
			inner = slices.DeleteFunc(inner, src.Same)
			inner = append(inner, src) // settings: set in each pass
			if !hasSource(explicit, outer) {
				notes = append(notes, fmt.Sprintf("%s is inside %s, which is indexed: refreshing %s; the settings given are for %s alone", t.src.Path, outer.Path, outer.Path, t.src.Path))
			}
		case !hasSource(explicit, outer) && known:
			notes = append(notes, fmt.Sprintf("%s is inside %s, which is indexed: refreshing %s (%s keeps its own settings)", t.src.Path, outer.Path, outer.Path, t.src.Path))
		case !hasSource(explicit, outer):
			notes = append(notes, fmt.Sprintf("%s is inside %s, which is indexed: refreshing %s", t.src.Path, outer.Path, outer.Path))
		}
		add(targetOf(outer))
	}
	for i := range run {
		if rec, ok := recordedSource(recorded, run[i].src); ok && !run[i].src.File {
			run[i].src.Removed, run[i].removedSet = rec.Removed, true
		}
	}
	return run, inner, append(notes, keptSettings(run, explicit, recorded, set)...)
}

// keptSettings are the notes of a folder given with settings: the sources
// inside it keep theirs.
func keptSettings(run, explicit []target, recorded []store.Source, set store.Settings) []string {
	var notes []string
	for _, t := range run {
		if !t.given || set == 0 || t.src.File {
			continue
		}
		for _, src := range recorded {
			if src.Path != t.src.Path && store.Within(src.Path, t.src.Path) && src.Inherit&set != set && !hasSource(explicit, src) {
				notes = append(notes, fmt.Sprintf("%s is inside %s and keeps its own settings: %s", src.Path, t.src.Path, ownSettings(src, set)))
			}
		}
	}
	return notes
}

// readd returns the recorded sources with the removed paths that explicit
// targets name (or hold) brought back, and a note for each.
func readd(explicit []target, recorded []store.Source) ([]store.Source, []string) {
	var notes []string
	out := make([]store.Source, len(recorded))
	for i, src := range recorded {
		for _, t := range explicit {
			if src.File || t.src.Path == src.Path || !store.Within(t.src.Path, src.Path) {
				continue
			}
			if back := src.Readd(t.src.Path); len(back.Removed) < len(src.Removed) {
				notes = append(notes, fmt.Sprintf("%s was removed from %s (rag index --remove); indexing it by name brings it back", t.src.Path, src.Path))
				src = back
			}
		}
		out[i] = src
	}
	return out, notes
}

// walkOf is the walk options setting for src, which a file has none of.
func walkOf(src store.Source) store.Settings {
	if src.File {
		return store.InheritWalk
	}
	return 0
}

// ownSettings describes the settings of set that src has of its own.
func ownSettings(src store.Source, set store.Settings) string {
	var parts []string
	own := set &^ src.Inherit
	if own&store.InheritTenant != 0 {
		parts = append(parts, TenantName(src.Tenant))
	}
	if own&store.InheritAllow != 0 {
		parts = append(parts, "allow "+AllowText(src.Allow))
	}
	if own&store.InheritCollection != 0 {
		parts = append(parts, "collection "+src.Name())
	}
	if own&store.InheritWalk != 0 && !src.File {
		parts = append(parts, "its walk options")
	}
	return strings.Join(parts, ", ")
}

// AllowText is how a list of principals reads: "nobody" when empty.
func AllowText(allow []string) string {
	if len(allow) == 0 {
		return "nobody"
	}
	return strings.Join(allow, " ")
}

// sourcesIn reports whether every source of srcs (but those inside
// another, which their folder holds) is among the targets.
func sourcesIn(srcs []store.Source, ts []target) bool {
	for _, s := range srcs {
		if _, held := store.Holder(srcs, s.Path); !held && !hasSource(ts, s) {
			return false
		}
	}
	return true
}

func hasSource(ts []target, src store.Source) bool {
	for _, t := range ts {
		if t.src.Same(src) {
			return true
		}
	}
	return false
}

// runSettings is src with its recorded settings, and those of the run
// where the run gives them for it (given). Who may see a source, its
// tenant and collection stay as recorded unless this run says otherwise:
// forgetting --tenant must never move a folder into another tenant. A
// rebuild's new catalog has not recorded them yet: the one it replaces has
// (`rag index --rebuild DIR` must not move DIR into the default tenant,
// nor open it to everyone).
func (r *IndexRequest) runSettings(src store.Source, given bool, recorded, replaced []store.Source) store.Source {
	walkSet := r.Given&store.InheritWalk != 0
	rec, ok := recordedSource(recorded, src)
	if !ok {
		rec, ok = recordedSource(replaced, src)
	}
	if ok {
		src.Allow, src.Tenant, src.Collection, src.Inherit = rec.Allow, rec.Tenant, rec.Collection, rec.Inherit
		// What --remove took out stays out.
		src.Removed = rec.Removed
		if !given || !walkSet {
			src.Include, src.Exclude, src.Hidden = rec.Include, rec.Exclude, rec.Hidden
		}
	}
	if !given {
		return src
	}
	if walkSet && !src.File {
		src.Include, src.Exclude, src.Hidden = r.Include, r.Exclude, r.Hidden
	}
	if r.Given&store.InheritCollection != 0 {
		src.Collection = r.Collection
	}
	if r.Given&store.InheritAllow != 0 {
		src.Allow = r.Allow
	}
	if r.Given&store.InheritTenant != 0 {
		src.Tenant = r.Tenant
	}
	src.Inherit &^= r.Given &^ walkOf(src)
	return src
}

// nestedSources are the sources inside the folder at root: those recorded
// (by the current catalog, else by the one a rebuild replaces), and those
// the run gives settings for (inner), with them.
func (r *IndexRequest) nestedSources(root string, inner, recorded, replaced []store.Source) []store.Source {
	var out []store.Source
	in := func(src store.Source) bool {
		return src.Path != root && store.Within(src.Path, root) && !slices.ContainsFunc(out, src.Same)
	}
	for _, src := range inner {
		if in(src) {
			out = append(out, r.runSettings(src, true, recorded, replaced))
		}
	}
	for _, list := range [][]store.Source{recorded, replaced} {
		for _, src := range list {
			if in(src) {
				out = append(out, src)
			}
		}
	}
	return out
}

// recordedSource is the source of m that is src's folder or file.
func recordedSource(sources []store.Source, src store.Source) (store.Source, bool) {
	for _, r := range sources {
		if r.Same(src) {
			return r, true
		}
	}
	return store.Source{}, false
}

// ChunkOptions are the chunk sizes asked for (tokens and overlap; 0 not
// given), else the index's m, else the defaults.
func ChunkOptions(tokens, overlap int, m store.Manifest) chunk.Options {
	o := chunk.DefaultOptions
	if m.ChunkTarget > 0 {
		o = chunk.Options{Target: m.ChunkTarget, Overlap: m.ChunkOverlap}
	}
	if tokens > 0 {
		o.Target = tokens
		if overlap == 0 {
			o.Overlap = tokens * 15 / 100
		}
	}
	if overlap > 0 {
		o.Overlap = overlap
	}
	return o
}

// ChunkingError is a chunk overlap the chunker would not honour (more
// than half the chunk size), which would only re-embed everything for
// nothing.
type ChunkingError struct {
	// Options are the sizes asked for, over the index's (ChunkOptions).
	Options chunk.Options
	// SizeFrom says where the chunk size came from.
	SizeFrom SizeFrom
}

// SizeFrom says where a chunk size came from.
type SizeFrom int

// Where a chunk size came from.
const (
	SizeAsked SizeFrom = iota
	SizeOfIndex
	SizeDefault
)

func (e *ChunkingError) Error() string {
	return fmt.Sprintf("a chunk overlap of %d tokens is more than half the chunk size (%d tokens): chunks would repeat more text than they add", e.Options.Overlap, e.Options.Target)
}

// CheckChunking refuses chunk sizes asked for (tokens and overlap, 0 not
// given) over the index's m that the chunker would not honour
// (ChunkingError). An index's own settings, when none is asked for, are
// left as they are.
func CheckChunking(tokens, overlap int, m store.Manifest) error {
	if tokens == 0 && overlap == 0 {
		return nil
	}
	o := ChunkOptions(tokens, overlap, m)
	if o.Check() == nil {
		return nil
	}
	from := SizeAsked
	switch {
	case tokens > 0:
	case m.ChunkTarget > 0:
		from = SizeOfIndex
	default:
		from = SizeDefault
	}
	return &ChunkingError{Options: o, SizeFrom: from}
}
