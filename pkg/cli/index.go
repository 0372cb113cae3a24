package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/provider"
	"github.com/rag-cli/rag/pkg/store"
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
			if err := opts.bind(cmd, args); err != nil {
				return err
			}
			a.providerBatch(cmd.Flags(), opts)
			if len(opts.Remove) > 0 {
				if len(args) > 0 || opts.Rebuild || opts.Watch || opts.PruneOnly || opts.walkFlagsSet {
					return usagef("--remove takes its paths alone: no PATH, --rebuild, --watch, --prune-only, --include, --exclude or --hidden")
				}
				return onInterrupt(removeRun(cmd.Context(), a, opts), hintInterruptedNothing)
			}
			if err := opts.check(); err != nil {
				return err
			}
			return onInterrupt(a.withPull(cmd.Context(), opts.Pull, func() error { return index(cmd.Context(), a, opts) }), hintInterruptedIndex)
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

// bind takes the paths and which settings the flags give, and checks
// those settings.
func (o *IndexOptions) bind(cmd *cobra.Command, args []string) error {
	o.Paths = args
	fl := cmd.Flags()
	o.walkFlagsSet = fl.Changed("include") || fl.Changed("exclude") || fl.Changed("hidden")
	o.allowSet, o.tenantSet, o.collectionSet = fl.Changed("allow"), fl.Changed("tenant"), fl.Changed("collection")
	if o.Collection != "" {
		if err := checkName(o.Collection); err != nil {
			return usagef("--collection: %v", err)
		}
	}
	var allow []string
	for _, p := range o.Allow {
		if p == "" {
			continue // --allow '' clears the list
		}
		if err := access.CheckPrincipal(p); err != nil {
			return usagef("--allow: %v", err)
		}
		allow = append(allow, p)
	}
	o.Allow = access.Normalize(allow)
	if o.Tenant != "" {
		if err := access.CheckTenant(o.Tenant); err != nil {
			return usagef("--tenant: %v", err)
		}
	}
	return nil
}

// check checks the flags of an index run.
func (o *IndexOptions) check() error {
	if err := ingest.CheckPatterns(append(append([]string(nil), o.Include...), o.Exclude...)); err != nil {
		return &usageError{err: err}
	}
	switch {
	case o.ChunkTokens < 0 || o.ChunkOverlap < 0:
		return usagef("--chunk-tokens and --chunk-overlap must not be negative")
	case o.ChunkTokens > 0 && o.ChunkTokens < minChunkTokens:
		return usagef("--chunk-tokens must be at least %d", minChunkTokens)
	case o.BatchSize < 1:
		return usagef("--batch-size must be at least 1")
	case o.Parallel < 1:
		return usagef("--parallel must be at least 1")
	case o.PruneOnly && (o.Rebuild || o.Watch):
		return usagef("--prune-only cannot be combined with --rebuild or --watch")
	case o.Timeout < 0:
		return usagef("--timeout must not be negative")
	case o.MaxSize < 1:
		// 0 and below read as the default, 64 MiB, without a word.
		return usagef("--max-size must be at least 1 (bytes)")
	case o.Quiet < 0:
		return usagef("--watch-delay must not be negative")
	}
	if o.ChunkTokens > 0 {
		// The index's chunk size does not count: the flag replaces it.
		return chunkingErr(engine.CheckChunking(o.ChunkTokens, o.ChunkOverlap, store.Manifest{}))
	}
	return nil
}

// indexReport is the --json document of `rag index` (one per pass with
// --watch, one per line): the engine's report.
type indexReport = engine.IndexReport

// allowText is how a list of principals reads: "nobody" when empty.
var allowText = engine.AllowText

// request is the engine's index request of the flags.
func (o *IndexOptions) request() engine.IndexRequest {
	return engine.IndexRequest{
		Paths: o.Paths, Allow: o.Allow, Tenant: o.Tenant, Collection: o.Collection,
		Include: o.Include, Exclude: o.Exclude, Hidden: o.Hidden, Given: o.given(),
		ChunkTokens: o.ChunkTokens, ChunkOverlap: o.ChunkOverlap, BatchSize: o.BatchSize, Parallel: o.Parallel,
		MaxSize: o.MaxSize, Timeout: o.Timeout, PruneOnly: o.PruneOnly, Rebuild: o.Rebuild, Wait: o.Wait, Watch: o.Watch,
	}
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

// indexEngine is the engine of a write into the index at dir: the model
// server is dialed when the run needs it, and the crash tests' fault
// points fire.
func (a *App) indexEngine(dir string, g *globalOptions, dial func() (provider.Client, error)) (*engine.Engine, error) {
	cfg, err := a.engineConfig(dir, g)
	if err != nil {
		return nil, err
	}
	cfg.Dial = dial
	return engine.New(cfg), nil
}

// index runs `rag index`: the engine's run, its report, and with --watch
// a pass at every burst of changes until interrupted.
func index(ctx context.Context, a *App, opts *IndexOptions) (err error) {
	e, err := a.indexEngine(opts.IndexDir, opts.globalOptions, a.dial(opts.Timeout))
	if err != nil {
		return err
	}
	run, err := e.StartIndex(ctx, opts.request(), a.indexEvents("indexing"))
	if err != nil {
		return chunkingErr(err)
	}
	defer closeWith(&err, run)
	rep, err := run.Run(ctx)
	var partial *engine.PartialError
	if err != nil && !errors.As(err, &partial) {
		return err
	}
	if err := writeIndexReport(a, opts, rep); err != nil {
		return err
	}
	if opts.Watch {
		return run.Watch(ctx, engine.WatchOptions{Quiet: opts.Quiet, Ready: a.watchReady}, func(rep *indexReport, err error) error {
			return watchPass(a, opts, rep, err)
		})
	}
	return err
}

// watchPass shows a pass of --watch: its report, or its error. A pass
// that fails for a reason the next one may not have (Ollama restarting,
// a file being written) is reported and the watch goes on.
func watchPass(a *App, opts *IndexOptions, rep *indexReport, err error) error {
	if err == nil {
		return writeIndexReport(a, opts, rep)
	}
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

// indexEvents shows an index run's events on stderr: notes, warnings,
// and the progress of each folder under label (a bar on a terminal, a
// line every few seconds in a log).
func (a *App) indexEvents(label string) engine.Events {
	var prog *progress
	warn := a.events()
	return func(ev engine.Event) {
		switch ev := ev.(type) {
		case engine.Progress:
			if prog == nil {
				prog = newProgress(a)
				prog.start(label)
			}
			if !ev.End {
				prog.setBytes(ev.Done, ev.Total)
				return
			}
			prog.done()
			prog = nil
		case engine.Note:
			fmt.Fprintf(a.IO.ErrOut, "rag: note: %s\n", a.errText(ev.Text))
		case engine.Watching:
			if a.IO.IsStderrTTY() {
				fmt.Fprintln(a.IO.ErrOut, "rag: watching for changes; press Ctrl-C to stop")
			}
		case engine.Warning:
			if ev.Kind != engine.WarnNobody {
				warn(ev)
				return
			}
			fmt.Fprintf(a.IO.ErrOut, "rag: warning: in %s, %s visible to nobody (no --allow, .ragaccess line or front matter names anyone); `rag index --allow PRINCIPAL %s` gives them to someone\n",
				a.errText(ev.Path), howMany(ev.Count, "file is", "files are"), shellQuote(ev.Path))
		}
	}
}

// chunkingErr words the engine's ChunkingError with the flags that set
// the sizes.
func chunkingErr(err error) error {
	var ce *engine.ChunkingError
	if !errors.As(err, &ce) {
		return err
	}
	o := ce.Options
	size := fmt.Sprintf("--chunk-tokens %d", o.Target)
	switch ce.SizeFrom {
	case engine.SizeOfIndex:
		size = fmt.Sprintf("%d tokens, the index's; --chunk-tokens changes it", o.Target)
	case engine.SizeDefault:
		size = fmt.Sprintf("%d tokens, the default; --chunk-tokens changes it", o.Target)
	}
	return &hintedError{
		err:  usagef("--chunk-overlap %d is more than half the chunk size (%s): chunks would repeat more text than they add", o.Overlap, size),
		hint: fmt.Sprintf("give --chunk-overlap %d or less (the default is 15%% of the chunk size: %d)", chunk.MaxOverlap(o.Target), o.Target*15/100),
	}
}

func writeIndexReport(a *App, opts *IndexOptions, rep *indexReport) error {
	for _, f := range rep.FailedFiles {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: cannot index %s: %s\n", a.errText(f.Path), a.errText(f.Error))
	}
	if rep.ChunksCut > 0 {
		limit := ""
		if rep.ContextLength > 0 {
			limit = fmt.Sprintf(" (%d tokens)", rep.ContextLength)
		}
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: %s longer than the context of %s%s, and cut into pieces that fit; --chunk-tokens %d makes chunks that fit (changing it re-embeds everything)\n",
			howMany(rep.ChunksCut, "chunk was", "chunks were"), a.errText(rep.EmbedModel), limit, fitChunkTokens(rep.FitTokens))
	}
	if rep.ChunksReanalysed > 0 {
		// Not a warning: an upgrade's one-time cost, said once.
		fmt.Fprintf(a.IO.ErrOut, "rag: the keyword analysis changed: %s analysed again from their stored text for keyword search (nothing embedded again)\n",
			plural(rep.ChunksReanalysed, "chunk"))
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
