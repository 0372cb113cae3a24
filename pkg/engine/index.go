package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/rag-cli/rag/internal/english"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/provider"
	"github.com/rag-cli/rag/pkg/store"
)

// An index run, as stages: plan (StartIndex: which sources, with which
// settings and model), read and embed each source (indexer.Run, which
// commits as it goes, and embeds again the files whose stored chunks are
// damaged), publish a rebuild, save the caches, and, for a watch, collect
// the garbage of each pass.

// IndexRequest is one index run.
type IndexRequest struct {
	// Paths are the folders and files to index; none: every one the index
	// holds.
	Paths []string
	// Corpus, if set, is the one folder the run indexes, read from its FS
	// rather than from the disk (rag eval's dataset); Paths are then not
	// read.
	Corpus *Corpus
	// Allow, Tenant, Collection, Include, Exclude and Hidden are the
	// settings the run gives the sources it names; Given says which of
	// them it gives (store.InheritWalk: Include, Exclude and Hidden). A
	// setting not given stays as each source recorded it.
	Allow              []string
	Tenant, Collection string
	Include, Exclude   []string
	Hidden             bool
	Given              store.Settings
	// ChunkTokens and ChunkOverlap size chunks (0: the index's, or the
	// defaults).
	ChunkTokens, ChunkOverlap int
	// BatchSize is how many chunks an embedding request carries, Parallel
	// how many requests are out at once, MaxSize the largest file read (0:
	// the indexer's defaults).
	BatchSize, Parallel int
	MaxSize             int64
	// Timeout bounds one embedding request (0: none).
	Timeout time.Duration
	// PruneOnly removes what no longer exists and embeds nothing; Rebuild
	// re-embeds everything into a new catalog, published once complete;
	// Wait waits for another writer rather than fail.
	PruneOnly, Rebuild, Wait bool
	// Watch says the run will be watched (IndexRun.Watch): every pass, the
	// first too, then saves the caches and collects garbage, as a watch
	// holds the index for hours.
	Watch bool
	// Check, if set, is called with the catalog once the index is open
	// for writing, before anything is planned: its error ends the run.
	Check func(m *store.Manifest) error
}

// Corpus is a folder read from a file system of its own.
type Corpus struct {
	// Root is the absolute folder recorded for the files.
	Root string
	FS   fs.FS
}

// IndexReport says what an index run did (one per pass of a watch). Its
// JSON form is `rag index --json`'s.
type IndexReport struct {
	Index      string `json:"index"`
	EmbedModel string `json:"embed_model"`
	Dims       int    `json:"dims"`
	Rebuilt    bool   `json:"rebuilt"`
	Indexed    int    `json:"indexed"`
	New        int    `json:"new"`
	Changed    int    `json:"changed"`
	Unchanged  int    `json:"unchanged"`
	Removed    int    `json:"removed"`
	Reused     int    `json:"reused"`
	Skipped    int    `json:"skipped"`
	Ignored    int    `json:"ignored"`
	Failed     int    `json:"failed"`
	Repaired   int    `json:"repaired"` // unchanged, embedded again: their chunks were damaged
	// FieldsUpdated counts the changed files whose front matter alone
	// changed: their fields were indexed again, nothing embedded.
	FieldsUpdated  int `json:"fields_updated"`
	ChunksWritten  int `json:"chunks_written"`
	ChunksEmbedded int `json:"chunks_embedded"`
	ChunksCut      int `json:"chunks_cut"` // too long for the model: written cut into pieces that fit
	// ChunksReanalysed are chunks whose keyword index an older analysis
	// wrote, analysed again from their stored text (not embedded).
	ChunksReanalysed int               `json:"chunks_reanalysed,omitempty"`
	TotalFiles       int               `json:"total_files"`
	TotalChunks      int               `json:"total_chunks"`
	SkippedFiles     []ingest.Skip     `json:"skipped_files"`
	FailedFiles      []indexer.Failure `json:"failed_files"`

	// FitTokens is the largest cut of a chunk that fit the model, and
	// ContextLength its context as the server says (0 if unknown).
	FitTokens     int `json:"-"`
	ContextLength int `json:"-"`
}

// PartialError is a run in which files failed while others were
// indexed; its report says what was done.
type PartialError struct {
	// Files are the files that failed (absolute paths), and why.
	Files []indexer.Failure
	// Total counts the files of the run: failed, indexed and unchanged.
	Total int
	// Again are the failed files that failed the run before too.
	Again []string
	// TooLong are the failed files with a chunk too long for the
	// embedding model, even cut in pieces.
	TooLong []string
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d of %s could not be indexed", len(e.Files), english.Plural(e.Total, "file"))
}

// Progress is how far a task of a run is: Done of Total bytes of the
// files to read (Total 0: not known yet). A task is one folder or file of
// an index run, and ends with an event whose End is set (a face erases
// its bar).
type Progress struct {
	Done, Total int64
	End         bool
}

func (Progress) event() {}

// Note is something a run did differently than asked, which is no
// warning (a path inside an indexed folder refreshes the folder).
type Note struct{ Text string }

func (Note) event() {}

// Warnings of an index run.
const (
	// WarnStillDamaged: damaged files the run did not walk.
	WarnStillDamaged WarningKind = "still_damaged"
	// WarnNobody: under access control, files of a source that nobody may
	// see; the warning's Path is the source, Count how many files.
	WarnNobody WarningKind = "nobody"
)

// IndexRun is an index run planned, the index open for writing: Run does
// the first pass, Watch the next ones. It is one caller's.
type IndexRun struct {
	e        *Engine
	req      IndexRequest
	events   Events
	st       store.Index
	emb      *embed.Model
	indexDir string // absolute
	targets  []target
	// inner are the sources inside the targets the run gives settings
	// for; replaced the sources of the catalog a rebuild replaces.
	inner, replaced []store.Source
	// failedBefore are the files that failed the run before, to tell a
	// lasting failure apart.
	failedBefore map[string]bool
	damage       damageCheck
}

// Index runs an index run: StartIndex, then Run. Files that failed while
// others were indexed are a *PartialError, with the report.
func (e *Engine) Index(ctx context.Context, req IndexRequest, events Events) (_ *IndexReport, err error) {
	r, err := e.StartIndex(ctx, req, events)
	if err != nil {
		return nil, err
	}
	defer closeWith(&err, r)
	return r.Run(ctx)
}

// StartIndex plans an index run: it resolves the paths, opens the index
// for writing (a new one if there is none), chooses the embedding model
// and the sources to walk with their settings (Note events say where they
// differ from what was asked). Close the run when done.
func (e *Engine) StartIndex(ctx context.Context, req IndexRequest, events Events) (_ *IndexRun, err error) {
	targets, err := e.resolveTargets(req)
	if err != nil {
		return nil, err
	}
	// The current catalog tells a rebuild which model and sources to use;
	// it may be damaged, which is a reason to rebuild.
	var previous store.Manifest
	var previousErr error
	if req.Rebuild && e.cfg.Store == nil {
		previous, previousErr = store.ReadManifest(e.cfg.Dir)
	}
	st, err := e.openStore(ctx, store.Options{Write: true, Wait: req.Wait, Rebuild: req.Rebuild, Hook: e.cfg.Fault})
	if err != nil {
		return nil, err
	}
	r := &IndexRun{e: e, req: req, events: events, st: st, replaced: previous.Sources, indexDir: e.indexDir()}
	defer func() {
		if err != nil {
			err = errors.Join(err, st.Close())
		}
	}()
	if req.Check != nil {
		m := st.Manifest()
		if err := req.Check(&m); err != nil {
			return nil, err
		}
	}
	if err := CheckChunking(req.ChunkTokens, req.ChunkOverlap, st.Manifest()); err != nil {
		return nil, err
	}
	model, current := embedModel(e.cfg.EmbedModel, req.Rebuild, st, previous)
	if req.Rebuild {
		if m := st.Manifest(); m.EmbedModel != "" && m.EmbedModel != model {
			st.Reset() // an unfinished rebuild for another model
		}
	}
	if err := r.plan(targets, current, previousErr); err != nil {
		return nil, err
	}
	client, err := e.models()
	if err != nil {
		return nil, err
	}
	if c := st.Recovered(); c != nil {
		events.warn(WarnRecoveredCatalog, fmt.Sprintf("the catalog is damaged (%v); continuing from the previous one: what the last run indexed is indexed again", c.Err))
	}
	r.failedBefore = map[string]bool{}
	for _, p := range current.Problems {
		if p.Failed {
			r.failedBefore[filepath.Join(p.Root, filepath.FromSlash(p.Path))] = true
		}
	}
	// Whole: a chunk too long for the model is cut to fit, not truncated.
	r.emb = &embed.Model{Client: client, Name: model, Timeout: req.Timeout, Whole: true}
	return r, nil
}

// resolveTargets are the folders and files the request names (a corpus,
// or paths that must exist unless the run only prunes), none of them the
// index: which is checked too.
func (e *Engine) resolveTargets(req IndexRequest) ([]target, error) {
	if c := req.Corpus; c != nil {
		return []target{{src: store.Source{Path: c.Root}, root: c.Root, fsys: c.FS}}, e.checkDir()
	}
	var targets []target
	for _, p := range req.Paths {
		t, err := resolveTarget(p, req.PruneOnly)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	if err := e.checkDir(); err != nil || e.cfg.Store != nil {
		return targets, err
	}
	abs, err := filepath.Abs(e.cfg.Dir)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if store.Within(t.src.Path, abs) {
			return nil, &TargetError{Path: t.src.Path, Reason: TargetIsIndex}
		}
	}
	return targets, nil
}

// checkDir refuses an index folder that is not set, or is a file or a
// folder of other files: rag would write its index among them.
func (e *Engine) checkDir() error {
	if e.cfg.Store != nil {
		return nil // no folder: a server holds the index
	}
	if e.cfg.Dir == "" {
		return config.ErrNoIndexDir
	}
	return store.CheckDir(e.cfg.Dir)
}

// models is the model server's client: Models, else what Dial makes.
func (e *Engine) models() (provider.Client, error) {
	if e.cfg.Models != nil || e.cfg.Dial == nil {
		return e.cfg.Models, nil
	}
	return e.cfg.Dial()
}

// embedModel is the model an index run embeds with, and the catalog whose
// sources it refreshes (a rebuild's: the one it replaces).
func embedModel(asked string, rebuild bool, st store.Index, previous store.Manifest) (string, store.Manifest) {
	current := st.Manifest()
	if rebuild {
		// An unfinished rebuild's model, else the replaced index's.
		return current.RunModel(asked, previous.RunModel("", config.DefaultEmbedModel)), previous
	}
	return current.RunModel(asked, config.DefaultEmbedModel), current
}

// plan decides the sources the run walks: those named, with the sources
// inside them the run gives settings for, else those current records
// (and those of an unfinished rebuild).
func (r *IndexRun) plan(targets []target, current store.Manifest, previousErr error) error {
	if len(targets) > 0 {
		if r.req.Rebuild && !sourcesIn(r.st.Manifest().Sources, targets) {
			r.st.Reset() // an unfinished rebuild of other paths
		}
		var notes []string
		targets, r.inner, notes = planTargets(targets, current.Sources, r.req.Given)
		for _, n := range notes {
			r.events.emit(Note{Text: n})
		}
	}
	if len(targets) == 0 {
		if r.req.Rebuild && previousErr != nil && !errors.Is(previousErr, store.ErrNoIndex) {
			return &SourcesError{Err: previousErr}
		}
		targets = recordedTargets(current)
		if r.req.Rebuild {
			// Resume an unfinished rebuild with the sources it has.
			for _, t := range recordedTargets(r.st.Manifest()) {
				if !hasSource(targets, t.src) {
					targets = append(targets, t)
				}
			}
		}
		if len(targets) == 0 {
			return ErrNoTargets
		}
	}
	r.targets = targets
	return nil
}

// Run does the run's first pass, over every source planned: read and
// embed (committing as it goes; files whose stored chunks are damaged are
// embedded again), publish a rebuild, save the caches. Files that failed
// while others were indexed are a *PartialError, with the report.
func (r *IndexRun) Run(ctx context.Context) (*IndexReport, error) {
	rep, err := r.pass(ctx, r.targets)
	if err != nil {
		return rep, err
	}
	r.warnNobody(r.st.Manifest())
	// Damage in sources this run did not walk (or --prune-only) is left.
	if paths := store.DamagedPaths(r.st.Damaged()); len(paths) > 0 {
		r.events.warn(WarnStillDamaged, fmt.Sprintf("%s still damaged (not in this run): %s; `rag index` without paths embeds them again",
			english.HowMany(len(paths), "file is", "files are"), strings.Join(paths, ", ")))
	}
	if r.req.Rebuild {
		if err := r.st.Publish(ctx); err != nil {
			return rep, err
		}
		rep.Rebuilt = true
	}
	// Searches then read the keyword index instead of building it.
	if err := r.st.SaveCaches(ctx); err != nil {
		return rep, err
	}
	if l, ok := r.st.(*store.Local); ok {
		rep.ChunksReanalysed = l.Reanalysed() // a server's store has no keyword index of rag's
	}
	return rep, r.partial(rep)
}

// Close closes the index.
func (r *IndexRun) Close() error { return r.st.Close() }

// pass is one pass over targets: each read and embedded by the indexer,
// summed up; a watch's pass then saves the caches and collects the
// garbage.
func (r *IndexRun) pass(ctx context.Context, targets []target) (*IndexReport, error) {
	rep := &IndexReport{Index: r.e.Location(), EmbedModel: r.emb.Name, SkippedFiles: []ingest.Skip{}, FailedFiles: []indexer.Failure{}}
	var err error
	for _, t := range targets {
		if t.gone && !r.req.PruneOnly && !t.src.File {
			rep.Failed++
			rep.FailedFiles = append(rep.FailedFiles, indexer.Failure{Path: t.src.Path, Error: errGone.Error()})
			continue
		}
		var sum *indexer.Summary
		sum, err = r.read(ctx, t)
		if sum != nil {
			rep.add(sum, t.root)
		}
		if err != nil {
			break
		}
	}
	rep.totals(r.st.Manifest())
	if !r.req.Watch {
		return rep, err
	}
	// A watch holds the index for hours: drop what each pass replaced.
	r.damage = damageCheck{checked: true}
	if err == nil {
		err = r.st.SaveCaches(ctx)
	}
	return rep, errors.Join(err, r.st.CollectGarbage(ctx))
}

// read reads and embeds one target with its settings, the sources inside
// it with theirs.
func (r *IndexRun) read(ctx context.Context, t target) (*indexer.Summary, error) {
	defer r.events.emit(Progress{End: true})
	m := r.st.Manifest()
	planned := t.src.Removed
	t.src = r.req.runSettings(t.src, t.given, m.Sources, r.replaced)
	if t.removedSet {
		t.src.Removed = planned // planTargets brought back what the run names
	}
	var nested []store.Source
	if !t.src.File {
		nested = r.req.nestedSources(t.src.Path, r.inner, m.Sources, r.replaced)
	}
	return indexer.Run(ctx, r.st, r.emb, indexer.Options{
		Root: t.root, FS: t.fsys, Only: t.only, Source: t.src, Nested: nested, PruneOnly: r.req.PruneOnly, Gone: t.gone,
		Model: r.emb.Name, Chunk: ChunkOptions(r.req.ChunkTokens, r.req.ChunkOverlap, m),
		BatchSize: r.req.BatchSize, Requests: r.req.Parallel, MaxSize: r.req.MaxSize, Now: r.e.cfg.Now,
		Progress: func(done, total int64) { r.events.emit(Progress{Done: done, Total: total}) },
		Damaged:  func() (map[string]bool, error) { return r.damage.find(ctx, r.st, r.req.Rebuild || r.req.PruneOnly) },
		IndexDir: r.indexDir,
	})
}

// damageCheck finds the damaged objects a run embeds again: once a run (a
// watch's passes only embed what changed), once the first folder is
// walked, so that the check's stats, begun by Open, overlap the walk.
type damageCheck struct {
	keys    map[string]bool
	checked bool
}

// find returns the keys of the damaged objects. A rebuild writes new
// objects anyway, and --prune-only embeds nothing (skip).
func (d *damageCheck) find(ctx context.Context, st store.Index, skip bool) (map[string]bool, error) {
	if d.checked || skip {
		return d.keys, nil
	}
	ds, err := st.CheckObjects(ctx)
	if err != nil {
		return nil, err
	}
	d.keys = map[string]bool{}
	for _, dm := range ds {
		d.keys[dm.Key] = true
	}
	d.checked = true
	return d.keys, nil
}

// warnNobody names, under access control, the sources of the run that
// hold files nobody may see: files no allow setting, .ragaccess line or
// front matter gives to anyone, which is what a folder indexed without
// one gets once access control is on.
func (r *IndexRun) warnNobody(m store.Manifest) {
	if !m.AccessControl || r.events == nil {
		return
	}
	for _, t := range r.targets {
		n := 0
		for i := range m.Files {
			if f := &m.Files[i]; f.Root == t.root && len(f.Access) == 0 && (!t.src.File || f.Path == filepath.Base(t.src.Path)) {
				n++
			}
		}
		if n > 0 {
			r.events(Warning{Kind: WarnNobody, Path: t.src.Path, Count: n,
				Text: fmt.Sprintf("in %s, %s visible to nobody (no allow setting, .ragaccess line or front matter names anyone)", t.src.Path, english.HowMany(n, "file is", "files are"))})
		}
	}
}

// partial is the run's PartialError, if files failed.
func (r *IndexRun) partial(rep *IndexReport) error {
	if rep.Failed == 0 {
		return nil
	}
	e := &PartialError{Files: rep.FailedFiles, Total: rep.Failed + rep.Indexed + rep.Unchanged}
	for _, f := range rep.FailedFiles {
		if r.failedBefore[f.Path] {
			e.Again = append(e.Again, f.Path)
		}
		var long *indexer.TooLongError
		if errors.As(f.Err, &long) {
			e.TooLong = append(e.TooLong, f.Path)
		}
	}
	return e
}

// totals records what the index holds after the run, from the catalog it
// committed: a file held by two targets (a folder and one inside it)
// counts once.
func (rep *IndexReport) totals(m store.Manifest) {
	rep.Dims, rep.TotalFiles, rep.TotalChunks = m.Dims, len(m.Files), m.Chunks()
	if m.Dims > 0 {
		rep.EmbedModel = m.EmbedModel
	}
}

// add counts what the indexer did for the folder at root.
func (rep *IndexReport) add(s *indexer.Summary, root string) {
	rep.New += s.New
	rep.Changed += s.Changed
	rep.Indexed += s.Indexed()
	rep.Unchanged += s.Unchanged
	rep.Removed += s.Removed
	rep.Reused += s.Reused
	rep.Skipped += len(s.Skipped)
	rep.Ignored += s.Ignored
	rep.Failed += len(s.Failed)
	rep.Repaired += s.Repaired
	rep.FieldsUpdated += s.FieldsOnly
	rep.ChunksWritten += s.Chunks
	rep.ChunksEmbedded += s.Embedded
	rep.ChunksCut += s.Cut
	rep.FitTokens = max(rep.FitTokens, s.FitTokens)
	rep.ContextLength = max(rep.ContextLength, s.ContextLength)
	for _, sk := range s.Skipped {
		sk.Path = filepath.Join(root, sk.Path)
		rep.SkippedFiles = append(rep.SkippedFiles, sk)
	}
	for _, f := range s.Failed {
		f.Path = filepath.Join(root, f.Path)
		rep.FailedFiles = append(rep.FailedFiles, f)
	}
}

// indexDir is the index folder, absolute, which an index run never reads
// as a source; "" when a server holds the index.
func (e *Engine) indexDir() string {
	if e.cfg.Store != nil {
		return ""
	}
	return absDir(e.cfg.Dir)
}

func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// closeWith closes c, keeping the first error.
func closeWith(err *error, c io.Closer) {
	if cerr := c.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}
