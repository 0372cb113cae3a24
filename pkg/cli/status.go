package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/render"
	"github.com/rag-cli/rag/pkg/store"
)

// StatusOptions are the settings of `rag status`.
type StatusOptions struct {
	*globalOptions
	Verify bool
	// View says who asks: status counts and lists what it sees; All shows
	// the whole index (whoever can read the index folder can anyway).
	View ViewOptions
	All  bool
}

func newStatusCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &StatusOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the index holds and whether it is healthy",
		Long: `Status lists the index's sources, files, chunks, embedding model, vector size,
format version, size on disk and last update, and every file the last runs
skipped or could not index, with the reason.

Health is ok, empty (nothing embedded yet: the index takes any model), or
damaged. Status checks that every object file is present and whole by its
size; --verify also reads every one and checks its checksum. Damage is named
by the source files it affects; ` + "`rag index`" + ` embeds exactly those again. A
damaged catalog (the file catalog) is read from the copy kept at the commit
before (catalog.prev); status then shows that copy. Status exits with
code 7 when the index is damaged.`,
		Example: `  rag status
  rag status --verify --json | jq .health`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return statusRun(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Verify, "verify", false, "read every stored chunk and check it")
	bindView(cmd.Flags(), &opts.View, a.cfg)
	cmd.Flags().BoolVar(&opts.All, "all", false, "show the whole index, every tenant and every file, whoever --as names")
	return cmd
}

type statusProblem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// statusReport is the --json document of `rag status`.
type statusReport struct {
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
	Sources       []store.Source  `json:"sources"`
	Skipped       []statusProblem `json:"skipped"`
	Failed        []statusProblem `json:"failed"`
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
	// else those a size check finds.
	DamagedFiles []string `json:"damaged_files"`
	// CatalogRecovered is set when the catalog is damaged and the
	// previous catalog is shown instead.
	CatalogRecovered bool `json:"catalog_recovered"`
	// Verified is set with --verify: chunks read back and damaged files.
	Verified *verifyReport `json:"verified,omitempty"`
	// Access says whether access control is on and whose view this is.
	Access statusAccess `json:"access"`
}

// statusAccess is the view a status report shows. Whole is false when
// the view does not see every file: the counts, sources, problems and
// damage are then its share alone, and what only the whole index can say
// (its size on disk, its caches) is left out (0).
type statusAccess struct {
	Control bool   `json:"control"`
	Tenant  string `json:"tenant"`
	As      string `json:"as"`
	Whole   bool   `json:"whole"`
}

type verifyReport struct {
	Chunks int `json:"chunks"`
	// Damaged are the files whose stored chunks are damaged.
	Damaged []string `json:"damaged"`
}

func statusRun(ctx context.Context, a *App, opts *StatusOptions) (err error) {
	view, err := a.view(ctx, opts.View)
	if err != nil {
		return err
	}
	dir, err := a.indexDir(opts.globalOptions)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, dir, store.Options{})
	var corrupt *store.CorruptError
	if errors.As(err, &corrupt) && corrupt.Catalog {
		// Nothing to show but that: say so in the report too.
		rep := statusReport{Index: dir, Health: "damaged", Sources: []store.Source{}, Skipped: []statusProblem{},
			Failed: []statusProblem{}, DamagedFiles: []string{}}
		if opts.JSON {
			if werr := writeJSON(a, rep); werr != nil {
				return werr
			}
			return &silentError{code: ExitIndex}
		}
		if werr := writeStatus(a, &rep); werr != nil {
			return werr
		}
		return err
	}
	if err != nil {
		return err
	}
	defer closeWith(&err, st)
	m := st.Manifest()
	if !opts.All {
		if err := checkCollections(m, view); err != nil {
			return err
		}
	}
	size, err := st.DiskUsage()
	if err != nil {
		return fmt.Errorf("measure index: %w", err)
	}
	rep := statusReport{
		Index: dir, Health: "ok", FormatVersion: m.FormatVersion, Dims: m.Dims,
		Files: len(m.Files), Chunks: m.Chunks(), SizeBytes: size, Created: m.Created, Updated: m.Updated,
		Sources: m.Sources, Skipped: []statusProblem{}, Failed: []statusProblem{}, RebuildPending: st.Staging(),
		CatalogRecovered: st.Recovered() != nil,
	}
	if rep.Caches, err = st.CacheStats(); err != nil {
		return fmt.Errorf("read cache segments: %w", err)
	}
	rep.KeywordsSaved, rep.VectorsSaved = rep.Caches.Covered, rep.Caches.Covered
	if m.Dims > 0 {
		// A model is the index's only once something was embedded with it.
		rep.EmbedModel = m.EmbedModel
	}
	rep.Access = statusAccess{Control: m.AccessControl, Tenant: opts.View.Tenant, As: cmpOr(opts.View.As, "public"), Whole: true}
	var damageFilter func([]store.Damage) []store.Damage
	if !opts.All {
		if vm, filter := viewOf(m, view); len(vm.Files) < len(m.Files) || len(vm.Sources) < len(m.Sources) {
			m, damageFilter = vm, filter
			rep.Access.Whole = false
			rep.Files, rep.Chunks, rep.Sources, rep.SizeBytes = len(m.Files), m.Chunks(), m.Sources, 0
			rep.Caches = store.CacheStats{}
			rep.KeywordsSaved, rep.VectorsSaved = false, false
		}
	}
	if opts.All {
		rep.Access.As = ""
	}
	if len(m.Files) == 0 {
		rep.Health = "empty"
	}
	if rep.Sources == nil {
		rep.Sources = []store.Source{}
	}
	// Each source with the collection it is in, named or not.
	rep.Sources = slices.Clone(rep.Sources)
	for i := range rep.Sources {
		rep.Sources[i].Collection = rep.Sources[i].Name()
	}
	for _, p := range m.Problems {
		sp := statusProblem{Path: filepath.Join(p.Root, filepath.FromSlash(p.Path)), Reason: p.Reason}
		if p.Failed {
			rep.Failed = append(rep.Failed, sp)
		} else {
			rep.Skipped = append(rep.Skipped, sp)
		}
	}
	if err := st.CheckSizes(); err != nil {
		return err
	}
	damaged := st.Damaged()
	if opts.Verify {
		n, all, err := st.Verify(ctx)
		if err != nil {
			return err
		}
		damaged = all
		if damageFilter != nil {
			damaged, n = damageFilter(all), rep.Chunks
		}
		rep.Verified = &verifyReport{Chunks: n, Damaged: store.DamagedPaths(damaged)}
	} else if damageFilter != nil {
		damaged = damageFilter(damaged)
	}
	rep.DamagedFiles = store.DamagedPaths(damaged)
	var damage error
	if len(damaged) > 0 || rep.CatalogRecovered {
		rep.Health = "damaged"
		damage = &silentError{code: ExitIndex}
		if !opts.JSON {
			damage = damageError(st.Recovered(), damaged)
		}
	}
	if opts.JSON {
		if err := writeJSON(a, rep); err != nil {
			return err
		}
		return damage
	}
	if err := writeStatus(a, &rep); err != nil {
		return err
	}
	return damage
}

// damagedError is an index that still answers from what is intact: some
// files' stored chunks are damaged, or the catalog was read from its
// previous copy.
type damagedError struct {
	recovered *store.CorruptError
	damaged   []store.Damage
}

func damageError(recovered *store.CorruptError, damaged []store.Damage) error {
	return &damagedError{recovered: recovered, damaged: damaged}
}

func (e *damagedError) Error() string {
	var parts []string
	if e.recovered != nil {
		parts = append(parts, fmt.Sprintf("the catalog is damaged (%v); the previous one was read", e.recovered.Err))
	}
	if len(e.damaged) > 0 {
		var why []string
		for _, d := range e.damaged {
			for _, f := range d.Files {
				why = append(why, fmt.Sprintf("%s (%v)", f.Path, d.Err.Err))
			}
		}
		parts = append(parts, fmt.Sprintf("%s damaged in the index: %s", howMany(len(why), "file is", "files are"), strings.Join(why, ", ")))
	}
	return strings.Join(parts, "; ")
}

func writeStatus(a *App, r *statusReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Index:        %s (format %d)\n", r.Index, r.FormatVersion)
	fmt.Fprintf(&b, "Health:       %s\n", r.Health)
	if r.CatalogRecovered {
		b.WriteString("Catalog:      damaged; shown is the previous catalog (what the last run indexed may be missing)\n")
	}
	if r.EmbedModel == "" {
		b.WriteString("Model:        none yet (the first run that embeds something fixes it)\n")
	} else {
		fmt.Fprintf(&b, "Model:        %s (%s)\n", r.EmbedModel, plural(r.Dims, "dimension"))
	}
	if r.Access.Whole {
		fmt.Fprintf(&b, "Contents:     %s, %s, %s on disk\n", plural(r.Files, "file"), plural(r.Chunks, "chunk"), humanBytes(r.SizeBytes))
	} else {
		fmt.Fprintf(&b, "Contents:     %s, %s (what %s sees in %s)\n", plural(r.Files, "file"), plural(r.Chunks, "chunk"), r.Access.As, tenantName(r.Access.Tenant))
	}
	switch {
	case !r.Access.Control:
		b.WriteString("Access:       off: every file is public (`rag index --allow` or a .ragaccess file turns it on)\n")
	case r.Access.As == "":
		b.WriteString("Access:       on; the whole index is shown (--all)\n")
	default:
		fmt.Fprintf(&b, "Access:       on; shown is what %s sees in %s (--as, --tenant; --all for everything)\n", r.Access.As, tenantName(r.Access.Tenant))
	}
	if r.Verified != nil {
		fmt.Fprintf(&b, "Verified:     %s read back, %s\n", plural(r.Verified.Chunks, "chunk"), plural(len(r.Verified.Damaged), "damaged file"))
	}
	if len(r.DamagedFiles) > 0 {
		fmt.Fprintf(&b, "Damaged:      %s (`rag index` embeds them again)\n", plural(len(r.DamagedFiles), "file"))
		for _, p := range r.DamagedFiles {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	updated := "never"
	if !r.Updated.IsZero() {
		updated = r.Updated.Local().Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(&b, "Last indexed: %s\n", updated)
	if r.RebuildPending {
		b.WriteString("Rebuild:      unfinished; run `rag index --rebuild` to complete it\n")
	}
	if r.Chunks > 0 && r.Dims > 0 && r.Access.Whole {
		c := r.Caches
		fmt.Fprintf(&b, "Caches:       %s, %d of %d rows in use\n", plural(c.Segments, "segment"), c.LiveRows, c.Rows)
		if !c.Covered {
			b.WriteString("              incomplete: searches read the chunks of some files from their objects until `rag index` runs\n")
		}
	}
	fmt.Fprintf(&b, "Sources:      %d\n", len(r.Sources))
	for _, s := range r.Sources {
		kind := "folder"
		if s.File {
			kind = "file"
		}
		who := []string{"collection " + s.Collection}
		if s.Tenant != "" {
			who = append(who, "tenant "+s.Tenant)
		}
		if len(s.Allow) > 0 {
			who = append(who, "allow "+strings.Join(s.Allow, " "))
		}
		if len(who) > 0 {
			kind += "; " + strings.Join(who, "; ")
		}
		fmt.Fprintf(&b, "  %s (%s)\n", s.Path, kind)
	}
	for _, sec := range []struct {
		name string
		list []statusProblem
	}{{"Failed", r.Failed}, {"Skipped", r.Skipped}} {
		fmt.Fprintf(&b, "%-13s %d\n", sec.name+":", len(sec.list))
		for _, p := range sec.list {
			fmt.Fprintf(&b, "  %s: %s\n", p.Path, p.Reason)
		}
	}
	out := b.String()
	if a.IO.EscapeUntrusted() {
		out = render.Escape(out) // paths and reasons name files
	}
	_, err := fmt.Fprint(a.IO.Out, out)
	return err
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// tenantName is how status names a tenant.
func tenantName(t string) string {
	if t == "" {
		return "the default tenant"
	}
	return "tenant " + t
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// viewOf narrows a catalog to what view sees: its files, the sources of
// its tenant that hold one of them, and the problems of those sources; and
// returns the filter that keeps the damage of visible files alone.
func viewOf(m store.Manifest, view store.View) (store.Manifest, func([]store.Damage) []store.Damage) {
	var files []store.FileEntry
	roots := map[string]bool{}
	for i := range m.Files {
		if m.Sees(view, &m.Files[i]) {
			files = append(files, m.Files[i])
			roots[m.Files[i].Root] = true
		}
	}
	var sources []store.Source
	for _, s := range m.Sources {
		root := s.Path
		if s.File {
			root = filepath.Dir(s.Path)
		}
		if s.Tenant == view.Tenant && roots[root] && (len(view.Collections) == 0 || slices.Contains(view.Collections, s.Name())) {
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
