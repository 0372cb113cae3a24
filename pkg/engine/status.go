package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/store"
)

// StatusRequest says what a status report checks and shows.
type StatusRequest struct {
	// Verify reads every stored chunk and checks it; otherwise a size
	// check finds the damage it can.
	Verify bool
	// All shows the whole index, every tenant and every file, whoever
	// asks (whoever can read the index folder can anyway).
	All bool
	// Fields lists the fields a metadata filter can name (Fields).
	Fields bool
}

// StatusSource is a source as status shows it: with the settings it has
// (store.Effective: those it inherits, which Inherit names, filled in, and
// its collection named) and, for a source inside another, the folder
// that holds its files.
type StatusSource struct {
	store.Source
	Inside string `json:"inside,omitempty"`
}

// StatusProblem is a file a run skipped or failed to index.
type StatusProblem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ReasonCount is how many files were skipped for one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// StatusReport is what the index holds and whether it is healthy (the
// --json document of rag status).
type StatusReport struct {
	Index         string          `json:"index"`
	Health        string          `json:"health"`
	FormatVersion int             `json:"format_version"`
	EmbedModel    string          `json:"embed_model"`
	Dims          int             `json:"dims"`
	Files         int             `json:"files"`
	Chunks        int             `json:"chunks"`
	SizeBytes     int64           `json:"size_bytes"`
	Created       time.Time       `json:"created"`
	Updated       time.Time       `json:"updated"`
	Sources       []StatusSource  `json:"sources"`
	Skipped       []StatusProblem `json:"skipped"`
	// SkippedByReason counts Skipped by the general part of each reason
	// (ReasonGroup), most first; the text report lists the files with -v.
	SkippedByReason []ReasonCount   `json:"skipped_by_reason"`
	Failed          []StatusProblem `json:"failed"`
	// RebuildPending is set when `rag index --rebuild` was interrupted.
	RebuildPending bool `json:"rebuild_pending"`
	// KeywordsSaved and VectorsSaved are false when the cache segments do
	// not serve every file: searches then read the objects of the rest
	// (slower to open) until the next rag index saves them.
	KeywordsSaved bool `json:"keywords_saved"`
	VectorsSaved  bool `json:"vectors_saved"`
	// Caches describes the cache segments searches read.
	Caches store.CacheStats `json:"caches"`
	// DamagedFiles are the files whose stored chunks are missing or
	// damaged (paths as citations show them): all of them with --verify,
	// else those a size check finds and those a run found and has not
	// repaired.
	DamagedFiles []string `json:"damaged_files"`
	// CatalogRecovered is set when the catalog is damaged and the
	// previous catalog is shown instead.
	CatalogRecovered bool `json:"catalog_recovered"`
	// Verified is set with --verify: chunks read back and damaged files.
	Verified *VerifyReport `json:"verified,omitempty"`
	// Access says whether access control is on and whose view this is.
	Access StatusAccess `json:"access"`
	// Fields, with StatusRequest.Fields, are the fields of the files
	// seen that a metadata filter can name (FieldCounts).
	Fields []FieldCount `json:"fields,omitempty"`
}

// StatusAccess is the view a status report shows. Whole is false when
// the view does not see every file: the counts, sources, problems and
// damage are then its share alone, and what only the whole index can say
// (its size on disk, its caches) is left out (0).
type StatusAccess struct {
	Control bool   `json:"control"`
	Tenant  string `json:"tenant"`
	// As is who asks ("" with All: the whole index is shown).
	As    string `json:"as"`
	Whole bool   `json:"whole"`
}

// VerifyReport is what a verification read back.
type VerifyReport struct {
	Chunks int `json:"chunks"`
	// Damaged are the files whose stored chunks are damaged.
	Damaged []string `json:"damaged"`
}

// Status reports what the index holds and whether it is healthy, as w
// sees it (the whole index with req.All): a tenant the index never had is
// reported as empty, not refused, but a collection w sees no file of is
// (UnknownCollectionError). A damaged index gives the report and an
// error: a catalog damaged with no intact previous copy, a
// *store.CorruptError (the report says little more than that), or damaged
// stored files or a recovered catalog, a *DamagedError. Any other error
// comes without a report. events receives the warning of a user in no
// group.
func (e *Engine) Status(ctx context.Context, w Who, req StatusRequest, events Events) (_ *StatusReport, err error) {
	asker, err := e.Resolve(ctx, w)
	if err != nil {
		return nil, err
	}
	dir := e.Location()
	st, err := e.openStore(ctx, store.Options{})
	var corrupt *store.CorruptError
	if errors.As(err, &corrupt) && corrupt.Catalog {
		// Nothing to show but that: say so in the report too.
		return &StatusReport{Index: dir, Health: "damaged", Sources: []StatusSource{}, Skipped: []StatusProblem{},
			SkippedByReason: []ReasonCount{}, Failed: []StatusProblem{}, DamagedFiles: []string{}}, err
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	m := st.Manifest()
	if !req.All {
		if err := CheckCollections(&m, asker.View); err != nil {
			return nil, err
		}
		if asker.Note != "" && m.AccessControl {
			events.warn(WarnNoGroups, asker.Note)
		}
	}
	rep, err := wholeStatus(st, dir)
	if err != nil {
		return nil, err
	}
	rep.Access = StatusAccess{Control: m.AccessControl, Tenant: w.Tenant, As: cmp.Or(w.As, access.Public), Whole: true}
	var damageFilter func([]store.Damage) []store.Damage
	if req.All {
		rep.Access.As = ""
	} else {
		m, damageFilter = narrowStatus(rep, st, asker.View)
	}
	if len(m.Files) == 0 {
		rep.Health = "empty"
	}
	if req.Fields {
		rep.Fields = FieldCounts(m.Files)
	}
	rep.Skipped, rep.Failed = problems(m.Problems)
	rep.SkippedByReason = groupReasons(rep.Skipped)
	damaged, err := findDamage(ctx, st, req.Verify, damageFilter, rep)
	if err != nil {
		return nil, err
	}
	if len(damaged) > 0 || rep.CatalogRecovered {
		rep.Health = "damaged"
		return rep, &DamagedError{Recovered: st.Recovered(), Damaged: damaged}
	}
	return rep, nil
}

// wholeStatus is the report of the whole index, its problems and damage
// not yet gathered.
func wholeStatus(st store.Index, dir string) (*StatusReport, error) {
	m := st.Manifest()
	rep := &StatusReport{
		Index: dir, Health: "ok", FormatVersion: m.FormatVersion, Dims: m.Dims,
		Files: len(m.Files), Chunks: m.Chunks(), Created: m.Created, Updated: m.Updated,
		Sources: statusSources(m.Sources, m.Sources), Skipped: []StatusProblem{}, Failed: []StatusProblem{},
		CatalogRecovered: st.Recovered() != nil,
	}
	// Disk, caches and rebuilds are the embedded store's; a server's
	// store has none of them to report.
	if local, ok := st.(*store.Local); ok {
		var err error
		if rep.SizeBytes, err = local.DiskUsage(); err != nil {
			return nil, fmt.Errorf("measure index: %w", err)
		}
		rep.RebuildPending = local.Staging()
		if rep.Caches, err = local.CacheStats(); err != nil {
			return nil, fmt.Errorf("read cache segments: %w", err)
		}
		rep.KeywordsSaved, rep.VectorsSaved = rep.Caches.Covered, rep.Caches.Covered
	}
	if m.Dims > 0 {
		// A model is the index's only once something was embedded with it.
		rep.EmbedModel = m.EmbedModel
	}
	return rep, nil
}

// narrowStatus makes rep the report of what view sees when that is not
// the whole index, and returns the catalog it sees and the filter of the
// damage of its files (nil: the whole index).
func narrowStatus(rep *StatusReport, st store.Index, view store.View) (store.Manifest, func([]store.Damage) []store.Damage) {
	m := st.Manifest()
	vm, filter := ViewOf(m, view)
	if len(vm.Files) == len(m.Files) && len(vm.Sources) == len(m.Sources) {
		return m, nil
	}
	// The index's own time says when anyone's files were indexed.
	rep.Updated = latestIndexed(m, view)
	rep.Access.Whole = false
	rep.Files, rep.Chunks, rep.Sources, rep.SizeBytes = len(vm.Files), vm.Chunks(), statusSources(vm.Sources, m.Sources), 0
	rep.Caches = store.CacheStats{}
	rep.KeywordsSaved, rep.VectorsSaved = false, false
	return vm, filter
}

// problems are the catalog's problems as status lists them: skipped and
// failed files, by absolute path.
func problems(ps []store.Problem) (skipped, failed []StatusProblem) {
	skipped, failed = []StatusProblem{}, []StatusProblem{}
	for _, p := range ps {
		sp := StatusProblem{Path: filepath.Join(p.Root, filepath.FromSlash(p.Path)), Reason: p.Reason}
		if p.Failed {
			failed = append(failed, sp)
		} else {
			skipped = append(skipped, sp)
		}
	}
	return skipped, failed
}

// findDamage finds the damaged stored files the report covers (filter
// keeps those of a view; nil: all): those a size check finds, or with
// verify every one, recorded in rep.
func findDamage(ctx context.Context, st store.Index, verify bool, filter func([]store.Damage) []store.Damage, rep *StatusReport) ([]store.Damage, error) {
	local, _ := st.(*store.Local)
	if local != nil {
		if err := local.CheckSizes(); err != nil {
			return nil, err
		}
	}
	damaged := st.Damaged()
	if verify && local != nil {
		n, all, err := local.Verify(ctx)
		if err != nil {
			return nil, err
		}
		damaged = all
		if filter != nil {
			damaged, n = filter(all), rep.Chunks
		}
		rep.Verified = &VerifyReport{Chunks: n, Damaged: store.DamagedPaths(damaged)}
	} else if filter != nil {
		damaged = filter(damaged)
	}
	rep.DamagedFiles = store.DamagedPaths(damaged)
	return damaged, nil
}

// statusSources are srcs as status shows them; all are the catalog's.
func statusSources(srcs, all []store.Source) []StatusSource {
	out := make([]StatusSource, 0, len(srcs))
	for _, s := range srcs {
		ss := StatusSource{Source: store.Effective(all, s)}
		if h, ok := store.Holder(all, s.Path); ok {
			ss.Inside = h.Path
		}
		out = append(out, ss)
	}
	return out
}

// ReasonGroup is the general part of a reason, without what differs from
// file to file: "larger than --max-size (70000000 > 67108864 bytes)" is
// "larger than --max-size", "not a text file: not UTF-8 (first bad byte on
// line 3; ...)" is "not a text file: not UTF-8".
func ReasonGroup(reason string) string {
	if i := strings.Index(reason, " ("); i > 0 {
		reason = reason[:i]
	}
	if strings.HasPrefix(reason, "link to a folder indexed as ") {
		return "link to a folder indexed under another path"
	}
	return reason
}

// groupReasons counts problems by ReasonGroup, most first (then by reason).
func groupReasons(ps []StatusProblem) []ReasonCount {
	n := map[string]int{}
	for _, p := range ps {
		n[ReasonGroup(p.Reason)]++
	}
	out := make([]ReasonCount, 0, len(n))
	for r, c := range n {
		out = append(out, ReasonCount{Reason: r, Count: c})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return out
}

// latestIndexed is when the last of the files view sees was indexed
// (zero: none): what status shows as updated to one who does not see the
// whole index, since the catalog's own time tells when another tenant's
// or user's folder was indexed.
func latestIndexed(m store.Manifest, view store.View) time.Time {
	var t time.Time
	for i := range m.Files {
		if f := &m.Files[i]; f.IndexedAt.After(t) && m.Sees(view, f) {
			t = f.IndexedAt
		}
	}
	return t
}

// ViewOf narrows a catalog to what view sees: its files, the sources of
// its tenant that hold one of them, and the problems of those sources; and
// returns the filter that keeps the damage of visible files alone.
func ViewOf(m store.Manifest, view store.View) (store.Manifest, func([]store.Damage) []store.Damage) {
	var files []store.FileEntry
	roots := map[string]bool{}
	for i := range m.Files {
		if m.Sees(view, &m.Files[i]) {
			files = append(files, m.Files[i])
			roots[m.Files[i].Root] = true
		}
	}
	// The sources that decide the settings of a file it sees: a folder
	// whose files it sees none of is not named, even when a source inside
	// it gives some of them to the view.
	owners := map[string]bool{}
	for i := range files {
		if src, ok := m.SourceOf(&files[i]); ok {
			owners[src.Path] = true
		}
	}
	var sources []store.Source
	for _, s := range m.Sources {
		if owners[s.Path] {
			if m.AccessControl {
				s.Removed = nil // names of files whose access no run decides, as problems below
			}
			sources = append(sources, s)
		}
	}
	// A skipped or failed file has no access decided: under access
	// control its name is the whole index's alone.
	var problems []store.Problem
	for _, p := range m.Problems {
		if roots[p.Root] && !m.AccessControl {
			problems = append(problems, p)
		}
	}
	out := m
	out.Files, out.Sources, out.Problems = files, sources, problems
	if out.Sources == nil {
		out.Sources = []store.Source{}
	}
	filter := func(ds []store.Damage) []store.Damage { return m.SeenDamage(view, ds) }
	return out, filter
}

// CollectionCount is a collection and how many files of it a reader
// sees.
type CollectionCount struct {
	Name  string `json:"name"`
	Files int    `json:"files"`
}

// Summary is the share of the index a reader sees, in brief: what a
// client learns of the index before it searches.
type Summary struct {
	Index      string
	EmbedModel string
	Files      int
	Chunks     int
	// Roots are the indexed folders of the files seen, in catalog order.
	Roots []string
	// Collections are the collections of the files seen, each with its
	// count, in catalog order.
	Collections []CollectionCount
	// Updated is when the last of the files seen was indexed.
	Updated time.Time
}

// Summary sums up the share of the index the reader sees.
func (r *Reader) Summary() Summary {
	m := r.store.Manifest()
	s := Summary{Index: r.store.Dir(), EmbedModel: m.EmbedModel, Roots: []string{}, Collections: []CollectionCount{}, Updated: latestIndexed(m, r.asker.View)}
	roots := map[string]bool{}
	cols := map[string]int{} // index in s.Collections
	for i := range m.Files {
		f := &m.Files[i]
		if !m.Sees(r.asker.View, f) {
			continue
		}
		s.Files++
		s.Chunks += f.Chunks
		if !roots[f.Root] {
			roots[f.Root] = true
			s.Roots = append(s.Roots, f.Root)
		}
		c := m.CollectionOf(f)
		i, ok := cols[c]
		if !ok {
			i = len(s.Collections)
			cols[c] = i
			s.Collections = append(s.Collections, CollectionCount{Name: c})
		}
		s.Collections[i].Files++
	}
	return s
}

// Folder is a folder of the indexing machine that the index names, and
// the name a caller who may not see the machine's paths reads instead.
type Folder struct {
	Path, Name string
}

// Folders are the folders the reader's answers can name: the index's own
// (named "index") and every source's and indexed file's folder (named by
// its collection), longest first, so that a folder inside another is
// replaced before it. They are read once a catalog.
func (r *Reader) Folders() []Folder {
	if r.foldersOf == r.store {
		return r.folders
	}
	m := r.store.Manifest()
	seen := map[string]bool{r.store.Dir(): true}
	out := []Folder{{r.store.Dir(), "index"}}
	for _, s := range m.Sources {
		if !seen[s.Path] {
			seen[s.Path] = true
			out = append(out, Folder{s.Path, store.Effective(m.Sources, s).Name()})
		}
	}
	for i := range m.Files {
		if f := &m.Files[i]; !seen[f.Root] {
			seen[f.Root] = true
			out = append(out, Folder{f.Root, m.CollectionOf(f)})
		}
	}
	slices.SortStableFunc(out, func(a, b Folder) int { return len(b.Path) - len(a.Path) })
	r.folders, r.foldersOf = out, r.store
	return out
}
