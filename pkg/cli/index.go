package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/filestat"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/watch"
)

// IndexOptions are the settings of `rag index`.
type IndexOptions struct {
	*globalOptions
	Paths     []string
	BatchSize int
	// Parallel is how many embedding requests are out at once.
	Parallel  int
	MaxSize   int64
	Pull      bool
	PruneOnly bool
	Rebuild   bool
	Watch     bool
	Wait      bool
	// Timeout bounds one embedding request.
	Timeout time.Duration
	// Quiet is how long --watch waits for a burst of changes to settle.
	Quiet time.Duration
	// Include, Exclude and Hidden choose files; set, they are recorded with
	// each source of the run.
	Include, Exclude []string
	Hidden           bool
	walkFlagsSet     bool
	// Allow and Tenant say who may see the files of each source of the
	// run (--allow, repeatable; "" clears) and the tenant they belong to;
	// unset, a source keeps what it was recorded with.
	Allow               []string
	Tenant              string
	allowSet, tenantSet bool
	// Collection names the collection of each source of the run
	// (--collection; "" the folder's name); unset, a source keeps its own.
	Collection    string
	collectionSet bool
	// ChunkTokens and ChunkOverlap size chunks (0: the index's, or the
	// defaults).
	ChunkTokens, ChunkOverlap int
	// Remove are folders and files to drop from the index (removeRun).
	Remove []string
}

func newIndexCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &IndexOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "index [PATH...]",
		Short: "Index folders or files so they can be searched and asked",
		Long: `Index walks each folder (recursively) and reads the files it knows: Markdown,
plain text, source code, reStructuredText, Org, HTML, PDF, DOCX, CSV/TSV and
JSON/JSONL (with comments too), also gzip-compressed (README.md.gz); other
UTF-8 text is read as plain text. It splits them into chunks
of about 500 tokens along their structure, embeds them with Ollama and stores
them in the index. Files matched by .gitignore or .ragignore files, --exclude
or not by --include are left out; hidden files and folders (without --hidden;
.git always), binary files and files over --max-size are skipped and counted.

Run it again at any time: unchanged files cost nothing (a file whose size,
times and inode are as recorded is not read again, as in git; any other is
hashed, so a file touched but not changed is not embedded again), changed
files are embedded again, renamed files reuse their
embeddings, and files that are gone are removed from the index. Without a
PATH, every folder and file indexed before is refreshed.

Each run also checks every stored chunk file against its checksum and embeds
again exactly the files whose chunks are missing or damaged (counted as
repaired); a damaged catalog is replaced from the copy kept at the commit
before. Folders that hold a rag index are never indexed.

--prune-only removes files that no longer exist without embedding anything;
it also drops a folder that is gone as a whole, which a plain run refuses to
do. --rebuild re-embeds everything into a fresh index (after changing the
embedding model, or to repair a damaged index); searches keep using the old
index until the new one is complete. With PATHs, the rebuilt index holds
exactly those; without, every folder and file the index held.

Folders and files inside an indexed folder are held once, by the outermost
folder, and keep the settings given for them (--allow, --tenant,
--collection, --include, --exclude, --hidden), as .ragaccess lines do: each
file takes the settings of the most specific folder or file indexed that
holds it, and what was not given for a path comes from the folder around it.
Indexing a path inside an indexed folder refreshes that folder.

--remove PATH drops a folder or file from the index without embedding
anything or touching the files. A folder or file inside an indexed folder is
recorded as removed from it: every later run of the folder leaves it out,
also with other --include or --exclude (rag status shows it), until
` + "`rag index PATH`" + ` names it, which brings it back.

--watch indexes, then keeps the index current as files change until
interrupted. Only one rag index writes to an index at a time; another one
fails at once, or waits with --wait.`,
		Example: `  rag index ./docs
  rag index --embed-model mxbai-embed-large ./notes ./README.md
  rag index                                  # refresh everything indexed before
  rag index --rebuild --embed-model bge-m3   # switch models
  rag index --watch ./docs
  rag index --remove ./docs/old --remove ./README.md
  rag index --json ./docs | jq .chunks_written`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			fl := cmd.Flags()
			opts.walkFlagsSet = fl.Changed("include") || fl.Changed("exclude") || fl.Changed("hidden")
			opts.allowSet, opts.tenantSet, opts.collectionSet = fl.Changed("allow"), fl.Changed("tenant"), fl.Changed("collection")
			if opts.Collection != "" {
				if err := checkName(opts.Collection); err != nil {
					return usagef("--collection: %v", err)
				}
			}
			var allow []string
			for _, p := range opts.Allow {
				if p == "" {
					continue // --allow '' clears the list
				}
				if err := access.CheckPrincipal(p); err != nil {
					return usagef("--allow: %v", err)
				}
				allow = append(allow, p)
			}
			opts.Allow = access.Normalize(allow)
			if opts.Tenant != "" {
				if err := access.CheckTenant(opts.Tenant); err != nil {
					return usagef("--tenant: %v", err)
				}
			}
			if len(opts.Remove) > 0 {
				if len(args) > 0 || opts.Rebuild || opts.Watch || opts.PruneOnly || opts.walkFlagsSet {
					return usagef("--remove takes its paths alone: no PATH, --rebuild, --watch, --prune-only, --include, --exclude or --hidden")
				}
				return onInterrupt(removeRun(cmd.Context(), a, opts), hintInterruptedNothing)
			}
			if err := ingest.CheckPatterns(append(append([]string(nil), opts.Include...), opts.Exclude...)); err != nil {
				return &usageError{err: err}
			}
			switch {
			case opts.ChunkTokens < 0 || opts.ChunkOverlap < 0:
				return usagef("--chunk-tokens and --chunk-overlap must not be negative")
			case opts.ChunkTokens > 0 && opts.ChunkTokens < minChunkTokens:
				return usagef("--chunk-tokens must be at least %d", minChunkTokens)
			case opts.BatchSize < 1:
				return usagef("--batch-size must be at least 1")
			case opts.Parallel < 1:
				return usagef("--parallel must be at least 1")
			case opts.PruneOnly && (opts.Rebuild || opts.Watch):
				return usagef("--prune-only cannot be combined with --rebuild or --watch")
			case opts.Timeout < 0:
				return usagef("--timeout must not be negative")
			case opts.MaxSize < 1:
				// 0 and below read as the default, 64 MiB, without a word.
				return usagef("--max-size must be at least 1 (bytes)")
			case opts.Quiet < 0:
				return usagef("--watch-delay must not be negative")
			}
			if opts.ChunkTokens > 0 {
				// The index's chunk size does not count: the flag replaces it.
				if err := checkChunking(opts, store.Manifest{}); err != nil {
					return err
				}
			}
			return onInterrupt(a.withPull(cmd.Context(), opts.Pull, func() error { return indexRun(cmd.Context(), a, opts) }), hintInterruptedIndex)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.BatchSize, "batch-size", 16, "chunks embedded per Ollama request")
	f.IntVar(&opts.Parallel, "parallel", indexer.DefaultRequests, "embedding requests sent to Ollama at once (one waits at the server while it embeds another; more help a server with OLLAMA_NUM_PARALLEL above 1)")
	f.Int64Var(&opts.MaxSize, "max-size", ingest.DefaultMaxSize, "skip files larger than this many bytes")
	f.StringArrayVar(&opts.Include, "include", nil, "index only files matching this glob (repeatable; ** for any depth, e.g. 'docs/**/*.md')")
	f.StringArrayVar(&opts.Exclude, "exclude", nil, "leave out files and folders matching this glob (repeatable)")
	f.BoolVar(&opts.Hidden, "hidden", false, "include hidden files and folders (.git never)")
	f.StringArrayVar(&opts.Allow, "allow", nil, "who may see the files no front matter or .ragaccess rule covers: user:NAME, group:NAME or public (repeatable; '' clears); recorded with each source of the run")
	f.StringVar(&opts.Tenant, "tenant", "", "the tenant the run's sources belong to (default: the default tenant); recorded with each source")
	f.StringVarP(&opts.Collection, "collection", "c", "", "the collection the run's sources belong to, which --collection searches (default: each folder's name; '' resets it); recorded with each source")
	f.IntVar(&opts.ChunkTokens, "chunk-tokens", 0, fmt.Sprintf("target chunk size in tokens (default: the index's, or %d); changing it re-embeds everything", chunk.DefaultOptions.Target))
	f.IntVar(&opts.ChunkOverlap, "chunk-overlap", 0, fmt.Sprintf("overlap between chunks in tokens (default: the index's, or %d)", chunk.DefaultOptions.Overlap))
	f.BoolVar(&opts.Pull, "pull", false, "pull the embedding model if the Ollama server does not have it, then go on")
	f.BoolVar(&opts.PruneOnly, "prune-only", false, "only remove files (and folders) that no longer exist; embed nothing")
	f.BoolVar(&opts.Rebuild, "rebuild", false, "re-embed everything into a fresh index, swapped in when complete")
	f.BoolVar(&opts.Watch, "watch", false, "keep indexing as files change, until interrupted")
	f.StringArrayVar(&opts.Remove, "remove", nil, "drop this folder or file from the index, embedding nothing and touching no file (repeatable)")
	f.BoolVar(&opts.Wait, "wait", false, "wait for another rag index on the same index instead of failing")
	f.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "give up on one embedding request after this long (it is retried)")
	f.DurationVar(&opts.Quiet, "watch-delay", 500*time.Millisecond, "with --watch, wait until files have been still this long")
	return cmd
}

// indexReport is the --json document of `rag index` (one per pass with
// --watch, one per line).
type indexReport struct {
	Index          string            `json:"index"`
	EmbedModel     string            `json:"embed_model"`
	Dims           int               `json:"dims"`
	Rebuilt        bool              `json:"rebuilt"`
	Indexed        int               `json:"indexed"`
	New            int               `json:"new"`
	Changed        int               `json:"changed"`
	Unchanged      int               `json:"unchanged"`
	Removed        int               `json:"removed"`
	Reused         int               `json:"reused"`
	Skipped        int               `json:"skipped"`
	Ignored        int               `json:"ignored"`
	Failed         int               `json:"failed"`
	Repaired       int               `json:"repaired"` // unchanged, embedded again: their chunks were damaged
	ChunksWritten  int               `json:"chunks_written"`
	ChunksEmbedded int               `json:"chunks_embedded"`
	ChunksCut      int               `json:"chunks_cut"` // too long for the model: written cut into pieces that fit
	TotalFiles     int               `json:"total_files"`
	TotalChunks    int               `json:"total_chunks"`
	SkippedFiles   []ingest.Skip     `json:"skipped_files"`
	FailedFiles    []indexer.Failure `json:"failed_files"`

	// fitTokens is the largest cut of a chunk that fit the model, and
	// contextLength its context as the server says (0 if unknown).
	fitTokens, contextLength int
}

// target is one source of the index as this run sees it.
type target struct {
	src  store.Source
	root string // the folder files are relative to
	fsys fs.FS
	only []string
	gone bool // the source no longer exists
	// given is set when the run's settings (--allow, --tenant,
	// --collection, walk options) are for this source: it was named, or
	// the run names none. A folder refreshed because a path inside it was
	// named keeps its own.
	given bool
	// removedSet says src.Removed is decided (planTargets): otherwise the
	// run keeps what the source recorded.
	removedSet bool
}

func resolveTarget(p string, mayBeGone bool) (target, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return target{}, err
	}
	if in := indexAround(abs); in != "" {
		return target{}, &hintedError{err: usagef("%s is in the rag index %s: an index is never indexed", p, in),
			hint: "index the folders of your documents; keep the index (--index) outside them or let rag skip it"}
	}
	info, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if mayBeGone {
				return target{src: store.Source{Path: abs}, root: abs, gone: true}, nil
			}
			return target{}, &hintedError{err: usagef("%s does not exist", p), hint: "check the path; rag index takes folders and files"}
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

// recordedTargets are the sources an index holds, for a run without PATHs:
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

// errGone is reported for a recorded folder that no longer exists.
var errGone = errors.New("folder no longer exists; `rag index --prune-only` removes it from the index")

func indexRun(ctx context.Context, a *App, opts *IndexOptions) (err error) {
	var targets []target
	for _, p := range opts.Paths {
		t, err := resolveTarget(p, opts.PruneOnly)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	dir, err := a.indexDir(opts.globalOptions)
	if err != nil {
		return err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if within(t.src.Path, absDir) {
			return &hintedError{err: usagef("%s is the index folder, or inside it: an index is never indexed", t.src.Path),
				hint: "index the folders of your documents, with --index naming a folder of its own"}
		}
	}
	// The current catalog tells a rebuild which model and sources to use;
	// it may be damaged, which is a reason to rebuild.
	var previous store.Manifest
	var previousErr error
	if opts.Rebuild {
		previous, previousErr = store.ReadManifest(dir)
	}
	st, err := store.Open(ctx, dir, store.Options{Write: true, Wait: opts.Wait, Rebuild: opts.Rebuild, Hook: a.Fault})
	if err != nil {
		return err
	}
	defer closeWith(&err, st)

	if err := checkChunking(opts, st.Manifest()); err != nil {
		return err
	}
	current := st.Manifest()
	model := current.RunModel(opts.EmbedModel, config.DefaultEmbedModel)
	if opts.Rebuild {
		// An unfinished rebuild's model, else the replaced index's.
		model = current.RunModel(opts.EmbedModel, previous.RunModel("", config.DefaultEmbedModel))
		current = previous
	}
	if opts.Rebuild {
		if m := st.Manifest(); m.EmbedModel != "" && m.EmbedModel != model {
			st.Reset() // an unfinished rebuild for another model
		}
	}
	// Sources inside the folders of the run that the run gives settings
	// for: recorded with those folders.
	var inner []store.Source
	if len(targets) > 0 {
		recorded := current.Sources
		if opts.Rebuild && !sourcesIn(st.Manifest().Sources, targets) {
			st.Reset() // an unfinished rebuild of other paths
		}
		var notes []string
		targets, inner, notes = planTargets(targets, recorded, opts.given())
		for _, n := range notes {
			fmt.Fprintf(a.IO.ErrOut, "rag: note: %s\n", a.errText(n))
		}
	}
	if len(targets) == 0 {
		if opts.Rebuild && previousErr != nil && !errors.Is(previousErr, store.ErrNoIndex) {
			return &hintedError{err: usagef("cannot read which folders the index holds: %v", previousErr),
				hint: "name them: rag index --rebuild DIR..."}
		}
		targets = recordedTargets(current)
		if opts.Rebuild {
			// Resume an unfinished rebuild with the sources it has.
			for _, t := range recordedTargets(st.Manifest()) {
				if !hasSource(targets, t.src) {
					targets = append(targets, t)
				}
			}
		}
		if len(targets) == 0 {
			return usagef("rag index needs a folder or file: the index has none recorded yet")
		}
	}

	client, err := a.ollama()
	if err != nil {
		return err
	}
	client.Timeout = opts.Timeout
	if c := st.Recovered(); c != nil {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: the catalog is damaged (%v); continuing from the previous one: what the last run indexed is indexed again\n", c.Err)
	}
	// Files that failed the run before, to tell a lasting failure apart.
	failedBefore := map[string]bool{}
	for _, p := range current.Problems {
		if p.Failed {
			failedBefore[filepath.Join(p.Root, filepath.FromSlash(p.Path))] = true
		}
	}
	// Checked once a run (a watch's passes only embed what changed), once
	// the first folder is walked: the check's stats, begun by Open, overlap
	// the walk.
	var damaged map[string]bool
	checked := false
	damage := func() (map[string]bool, error) {
		if !checked {
			var err error
			if damaged, err = findDamage(ctx, opts, st); err != nil {
				return nil, err
			}
			checked = true
		}
		return damaged, nil
	}
	// Whole: a chunk too long for the model is cut to fit, not truncated.
	emb := &embed.Model{Client: client, Name: model, Timeout: opts.Timeout, Whole: true}
	run := func(ctx context.Context, ts []target) (*indexReport, error) {
		return indexPass(ctx, a, opts, st, emb, dir, ts, damage, previous.Sources, inner)
	}
	if opts.Watch {
		// A watch holds the index for hours: drop what each pass replaced.
		run = func(ctx context.Context, ts []target) (*indexReport, error) {
			rep, err := indexPass(ctx, a, opts, st, emb, dir, ts, damage, previous.Sources, inner)
			damaged, checked = nil, true
			if err == nil {
				err = st.SaveCaches(ctx)
			}
			return rep, errors.Join(err, st.CollectGarbage(ctx))
		}
	}

	rep, runErr := run(ctx, targets)
	if runErr == nil {
		warnNobody(a, st.Manifest(), targets)
	}
	if runErr == nil {
		// Damage in sources this run did not walk (or --prune-only) is left.
		if paths := store.DamagedPaths(st.Damaged()); len(paths) > 0 {
			fmt.Fprintf(a.IO.ErrOut, "rag: warning: %s still damaged (not in this run): %s; `rag index` without paths embeds them again\n",
				howMany(len(paths), "file is", "files are"), strings.Join(paths, ", "))
		}
	}
	if runErr == nil && opts.Rebuild {
		if runErr = st.Publish(ctx); runErr == nil {
			rep.Rebuilt = true
		}
	}
	if runErr == nil {
		// Searches then read the keyword index instead of building it.
		runErr = st.SaveCaches(ctx)
	}
	if runErr != nil {
		return runErr
	}
	if err := writeIndexReport(a, opts, rep); err != nil {
		return err
	}
	if opts.Watch {
		return watchRun(ctx, a, opts, targets, run)
	}
	return partial(rep, failedBefore)
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// given is the set of settings the run gives (store.Settings names them).
func (o *IndexOptions) given() store.Settings {
	var set store.Settings
	if o.tenantSet {
		set |= store.InheritTenant
	}
	if o.allowSet {
		set |= store.InheritAllow
	}
	if o.collectionSet {
		set |= store.InheritCollection
	}
	if o.walkFlagsSet {
		set |= store.InheritWalk
	}
	return set
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
			inner = append(inner, src) // settings: set in indexPass
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
	// A folder given with settings: the sources inside it keep theirs.
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
	return run, inner, notes
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
		parts = append(parts, tenantName(src.Tenant))
	}
	if own&store.InheritAllow != 0 {
		parts = append(parts, "allow "+allowText(src.Allow))
	}
	if own&store.InheritCollection != 0 {
		parts = append(parts, "collection "+src.Name())
	}
	if own&store.InheritWalk != 0 && !src.File {
		parts = append(parts, "its walk options")
	}
	return strings.Join(parts, ", ")
}

// allowText is how a list of principals reads: "nobody" when empty.
func allowText(allow []string) string {
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

func partial(rep *indexReport, failedBefore map[string]bool) error {
	if rep.Failed == 0 {
		return nil
	}
	e := &partialError{failed: rep.Failed, total: rep.Failed + rep.Indexed + rep.Unchanged}
	for _, f := range rep.FailedFiles {
		if failedBefore[f.Path] {
			e.again = append(e.again, f.Path)
		}
		var long *indexer.TooLongError
		if errors.As(f.Err, &long) {
			e.tooLong = append(e.tooLong, f.Path)
		}
	}
	return e
}

// chunkOptions are the flags' chunk sizes, else the index's, else the
// defaults.
func chunkOptions(opts *IndexOptions, m store.Manifest) chunk.Options {
	o := chunk.DefaultOptions
	if m.ChunkTarget > 0 {
		o = chunk.Options{Target: m.ChunkTarget, Overlap: m.ChunkOverlap}
	}
	if opts.ChunkTokens > 0 {
		o.Target = opts.ChunkTokens
		if opts.ChunkOverlap == 0 {
			o.Overlap = opts.ChunkTokens * 15 / 100
		}
	}
	if opts.ChunkOverlap > 0 {
		o.Overlap = opts.ChunkOverlap
	}
	return o
}

// checkChunking refuses an overlap the chunker would not honour (more than
// half the chunk size), which would only re-embed everything for nothing:
// the flags' settings over the index's m, as chunkOptions makes them. An
// index's own settings, given by no flag, are left as they are.
func checkChunking(opts *IndexOptions, m store.Manifest) error {
	if opts.ChunkTokens == 0 && opts.ChunkOverlap == 0 {
		return nil
	}
	o := chunkOptions(opts, m)
	if o.Check() == nil {
		return nil
	}
	size := fmt.Sprintf("--chunk-tokens %d", o.Target)
	switch {
	case opts.ChunkTokens > 0:
	case m.ChunkTarget > 0:
		size = fmt.Sprintf("%d tokens, the index's; --chunk-tokens changes it", o.Target)
	default:
		size = fmt.Sprintf("%d tokens, the default; --chunk-tokens changes it", o.Target)
	}
	return &hintedError{
		err:  usagef("--chunk-overlap %d is more than half the chunk size (%s): chunks would repeat more text than they add", o.Overlap, size),
		hint: fmt.Sprintf("give --chunk-overlap %d or less (the default is 15%% of the chunk size: %d)", chunk.MaxOverlap(o.Target), o.Target*15/100),
	}
}

// indexPass runs the indexer over each target and sums up.
// damaged names the objects whose files are embedded again; replaced are
// the sources of the catalog a rebuild replaces (nil otherwise); inner are
// the sources inside the targets the run gives settings for.
func indexPass(ctx context.Context, a *App, opts *IndexOptions, st *store.Local, emb *embed.Model, dir string, targets []target, damaged func() (map[string]bool, error), replaced, inner []store.Source) (*indexReport, error) {
	rep := &indexReport{Index: dir, EmbedModel: emb.Name, SkippedFiles: []ingest.Skip{}, FailedFiles: []indexer.Failure{}}
	var runErr error
	for _, t := range targets {
		if t.gone && !opts.PruneOnly && !t.src.File {
			rep.Failed++
			rep.FailedFiles = append(rep.FailedFiles, indexer.Failure{Path: t.src.Path, Error: errGone.Error()})
			continue
		}
		prog := newProgress(a)
		prog.start("indexing")
		planned := t.src.Removed
		t.src = runSettings(opts, t.src, t.given, st.Manifest().Sources, replaced)
		if t.removedSet {
			t.src.Removed = planned // planTargets brought back what the run names
		}
		var nested []store.Source
		if !t.src.File {
			nested = nestedSources(opts, t.src.Path, inner, st.Manifest().Sources, replaced)
		}
		sum, err := indexer.Run(ctx, st, emb, indexer.Options{
			Root: t.root, FS: t.fsys, Only: t.only, Source: t.src, Nested: nested, PruneOnly: opts.PruneOnly, Gone: t.gone,
			Model: emb.Name, Chunk: chunkOptions(opts, st.Manifest()),
			BatchSize: opts.BatchSize, Requests: opts.Parallel, MaxSize: opts.MaxSize, Now: a.Now, Progress: prog.setBytes,
			Damaged: damaged, IndexDir: absDir(dir),
		})
		prog.done()
		if sum != nil {
			rep.add(sum, t.root)
		}
		if err != nil {
			runErr = err
			break
		}
	}
	rep.totals(st.Manifest())
	return rep, runErr
}

// totals records what the index holds after the run, from the catalog it
// committed: a file held by two targets (a folder and one inside it)
// counts once.
func (rep *indexReport) totals(m store.Manifest) {
	rep.Dims, rep.TotalFiles, rep.TotalChunks = m.Dims, len(m.Files), m.Chunks()
	if m.Dims > 0 {
		rep.EmbedModel = m.EmbedModel
	}
}

// runSettings is src with its recorded settings, and those of the run
// where the run gives them for it (given). Who may see a source, its
// tenant and collection stay as recorded unless this run says otherwise:
// forgetting --tenant must never move a folder into another tenant. A
// rebuild's new catalog has not recorded them yet: the one it replaces has
// (`rag index --rebuild DIR` must not move DIR into the default tenant,
// nor open it to everyone).
func runSettings(opts *IndexOptions, src store.Source, given bool, recorded, replaced []store.Source) store.Source {
	rec, ok := recordedSource(recorded, src)
	if !ok {
		rec, ok = recordedSource(replaced, src)
	}
	if ok {
		src.Allow, src.Tenant, src.Collection, src.Inherit = rec.Allow, rec.Tenant, rec.Collection, rec.Inherit
		// What --remove took out stays out.
		src.Removed = rec.Removed
		if !given || !opts.walkFlagsSet {
			src.Include, src.Exclude, src.Hidden = rec.Include, rec.Exclude, rec.Hidden
		}
	}
	if !given {
		return src
	}
	if opts.walkFlagsSet && !src.File {
		src.Include, src.Exclude, src.Hidden = opts.Include, opts.Exclude, opts.Hidden
	}
	if opts.collectionSet {
		src.Collection = opts.Collection
	}
	if opts.allowSet {
		src.Allow = opts.Allow
	}
	if opts.tenantSet {
		src.Tenant = opts.Tenant
	}
	src.Inherit &^= opts.given() &^ walkOf(src)
	return src
}

// nestedSources are the sources inside the folder at root: those recorded
// (by the current catalog, else by the one a rebuild replaces), and those
// the run gives settings for (inner), with them.
func nestedSources(opts *IndexOptions, root string, inner, recorded, replaced []store.Source) []store.Source {
	var out []store.Source
	in := func(src store.Source) bool {
		return src.Path != root && store.Within(src.Path, root) && !slices.ContainsFunc(out, src.Same)
	}
	for _, src := range inner {
		if in(src) {
			out = append(out, runSettings(opts, src, true, recorded, replaced))
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

func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// findDamage returns the keys of the damaged objects a run embeds again.
// A rebuild writes new objects anyway, and --prune-only embeds nothing.
func findDamage(ctx context.Context, opts *IndexOptions, st *store.Local) (map[string]bool, error) {
	if opts.Rebuild || opts.PruneOnly {
		return nil, nil
	}
	ds, err := st.CheckObjects(ctx)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, d := range ds {
		keys[d.Key] = true
	}
	return keys, nil
}

// watchRun keeps the index current: every burst of changes is one pass over
// the targets it touched. A pass that fails for a reason the next one may
// not have (Ollama restarting, a file being written) is reported and the
// watch goes on; an interrupt ends it.
func watchRun(ctx context.Context, a *App, opts *IndexOptions, targets []target, run func(context.Context, []target) (*indexReport, error)) error {
	var wts []watch.Target
	for _, t := range targets {
		if !t.gone {
			wts = append(wts, watch.Target{Path: t.src.Path, File: t.src.File})
		}
	}
	if len(wts) == 0 {
		return usagef("nothing to watch: every folder is gone")
	}
	live := targets[:0:0]
	for _, t := range targets {
		if !t.gone {
			live = append(live, t)
		}
	}
	if a.IO.IsStderrTTY() {
		fmt.Fprintln(a.IO.ErrOut, "rag: watching for changes; press Ctrl-C to stop")
	}
	rules := append(slices.Clone(ingest.IgnoreFiles), access.RulesFile) // an edit applies at the next pass
	err := watch.Run(ctx, wts, watch.Options{Quiet: opts.Quiet, Ready: a.watchReady, Rules: rules}, func(ctx context.Context, changed []int) error {
		var ts []target
		for _, i := range changed {
			t := targetOf(live[i].src)
			t.given = live[i].given
			ts = append(ts, t)
		}
		rep, err := run(ctx, ts)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			code, hint := classify(err)
			fmt.Fprintf(a.IO.ErrOut, "rag: error: %s\n", a.errText(err.Error()))
			if hint != "" {
				fmt.Fprintf(a.IO.ErrOut, "rag: hint: %s\n", hint)
			}
			if code == ExitIndex {
				return err // the index itself is in trouble: stop
			}
			return nil
		}
		return writeIndexReport(a, opts, rep)
	})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // the way a watch ends; a pass in progress has kept its work
	}
	return err
}

func (r *indexReport) add(s *indexer.Summary, rootDir string) {
	r.New += s.New
	r.Changed += s.Changed
	r.Indexed += s.Indexed()
	r.Unchanged += s.Unchanged
	r.Removed += s.Removed
	r.Reused += s.Reused
	r.Skipped += len(s.Skipped)
	r.Ignored += s.Ignored
	r.Failed += len(s.Failed)
	r.Repaired += s.Repaired
	r.ChunksWritten += s.Chunks
	r.ChunksEmbedded += s.Embedded
	r.ChunksCut += s.Cut
	r.fitTokens = max(r.fitTokens, s.FitTokens)
	r.contextLength = max(r.contextLength, s.ContextLength)
	for _, sk := range s.Skipped {
		sk.Path = filepath.Join(rootDir, sk.Path)
		r.SkippedFiles = append(r.SkippedFiles, sk)
	}
	for _, f := range s.Failed {
		f.Path = filepath.Join(rootDir, f.Path)
		r.FailedFiles = append(r.FailedFiles, f)
	}
}

func writeIndexReport(a *App, opts *IndexOptions, rep *indexReport) error {
	for _, f := range rep.FailedFiles {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: cannot index %s: %s\n", a.errText(f.Path), a.errText(f.Error))
	}
	if rep.ChunksCut > 0 {
		limit := ""
		if rep.contextLength > 0 {
			limit = fmt.Sprintf(" (%d tokens)", rep.contextLength)
		}
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: %s longer than the context of %s%s, and cut into pieces that fit; --chunk-tokens %d makes chunks that fit (changing it re-embeds everything)\n",
			howMany(rep.ChunksCut, "chunk was", "chunks were"), a.errText(rep.EmbedModel), limit, fitChunkTokens(rep.fitTokens))
	}
	if opts.Verbose {
		for _, s := range rep.SkippedFiles {
			fmt.Fprintf(a.IO.ErrOut, "rag: skipped %s: %s\n", a.errText(s.Path), a.errText(s.Reason))
		}
	}
	if opts.JSON {
		if opts.Watch {
			// One compact document per line, so each pass can be read as it comes.
			return writeJSONLine(a, rep)
		}
		return writeJSON(a, rep)
	}
	verb := "Indexed"
	if rep.Rebuilt {
		verb = "Rebuilt the index:"
	}
	repaired := ""
	if rep.Repaired > 0 {
		repaired = fmt.Sprintf(", %d repaired", rep.Repaired)
	}
	_, err := fmt.Fprintf(a.IO.Out,
		"%s %s (%d new, %d changed%s; %s embedded), %d unchanged, %d removed, %d skipped, %d failed.\n"+
			"Index %s: %s, %s, %s (%s).\n",
		verb, plural(rep.Indexed, "file"), rep.New, rep.Changed, repaired, plural(rep.ChunksEmbedded, "chunk"), rep.Unchanged, rep.Removed, rep.Skipped, rep.Failed,
		rep.Index, plural(rep.TotalFiles, "file"), plural(rep.TotalChunks, "chunk"), rep.EmbedModel, plural(rep.Dims, "dimension"))
	return err
}

// minChunkTokens is the smallest --chunk-tokens.
const minChunkTokens = 16

// fitChunkTokens is a --chunk-tokens whose chunks fit a model that took
// pieces of fit estimated tokens: chunks run up to half again their
// target, to keep paragraphs whole.
func fitChunkTokens(fit int) int {
	n := fit * 2 / 3
	if n >= 20 {
		n -= n % 10
	}
	return max(n, minChunkTokens)
}

func writeJSON(a *App, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	// encoding/json leaves DEL, C1 controls (U+009B is CSI) and bidi
	// overrides raw; documents' text must not reach a terminal that way.
	a.wroteJSON = true
	_, err := a.IO.Out.Write(render.EscapeJSON(buf.Bytes()))
	return err
}

// warnNobody names, under access control, the folders of the run that
// hold files nobody may see: files no --allow, .ragaccess line or front
// matter gives to anyone, which is what a folder indexed without --allow
// gets once access control is on.
func warnNobody(a *App, m store.Manifest, targets []target) {
	if !m.AccessControl {
		return
	}
	for _, t := range targets {
		n := 0
		for i := range m.Files {
			if f := &m.Files[i]; f.Root == t.root && len(f.Access) == 0 && (!t.src.File || f.Path == filepath.Base(t.src.Path)) {
				n++
			}
		}
		if n > 0 {
			fmt.Fprintf(a.IO.ErrOut, "rag: warning: in %s, %s visible to nobody (no --allow, .ragaccess line or front matter names anyone); `rag index --allow PRINCIPAL %s` gives them to someone\n",
				a.errText(t.src.Path), howMany(n, "file is", "files are"), shellQuote(t.src.Path))
		}
	}
}
