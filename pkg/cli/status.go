package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/engine"
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
format version, size on disk and last update, every file the last runs could
not index, with the reason, and the files they skipped, counted by reason
(-v lists each one; --json has them all, and the counts in skipped_by_reason).

Health is ok, empty (nothing embedded yet: the index takes any model), or
damaged. Status checks that every object file is present and whole by its
size; --verify also reads every one and checks its checksum. Damage is named
by the source files it affects; ` + "`rag index`" + ` embeds exactly those again. A
damaged catalog (the file catalog) is read from the copy kept at the commit
before (catalog.prev); status then shows that copy. Status exits with
code 7 when the index is damaged.`,
		Example: `  rag status
  rag status -v                     # every skipped file, under its reason
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

// statusSource is a source as status shows it: with the settings it has
// (store.Effective: those it inherits, which Inherit names, filled in, and
// its collection named) and, for a source inside another, the folder
// that holds its files.
type statusSource struct {
	store.Source
	Inside string `json:"inside,omitempty"`
}

// statusSources are srcs as status shows them; all are the catalog's.
func statusSources(srcs, all []store.Source) []statusSource {
	out := make([]statusSource, 0, len(srcs))
	for _, s := range srcs {
		ss := statusSource{Source: store.Effective(all, s)}
		if h, ok := store.Holder(all, s.Path); ok {
			ss.Inside = h.Path
		}
		out = append(out, ss)
	}
	return out
}

type statusProblem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// reasonCount is how many files were skipped for one reason.
type reasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// reasonGroup is the general part of a reason, without what differs from
// file to file: "larger than --max-size (70000000 > 67108864 bytes)" is
// "larger than --max-size", "not a text file: not UTF-8 (first bad byte on
// line 3; ...)" is "not a text file: not UTF-8".
func reasonGroup(reason string) string {
	if i := strings.Index(reason, " ("); i > 0 {
		reason = reason[:i]
	}
	if strings.HasPrefix(reason, "link to a folder indexed as ") {
		return "link to a folder indexed under another path"
	}
	return reason
}

// groupReasons counts problems by reasonGroup, most first (then by reason).
func groupReasons(ps []statusProblem) []reasonCount {
	n := map[string]int{}
	for _, p := range ps {
		n[reasonGroup(p.Reason)]++
	}
	out := make([]reasonCount, 0, len(n))
	for r, c := range n {
		out = append(out, reasonCount{Reason: r, Count: c})
	}
	slices.SortFunc(out, func(a, b reasonCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return out
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
	Sources       []statusSource  `json:"sources"`
	Skipped       []statusProblem `json:"skipped"`
	// SkippedByReason counts Skipped by the general part of each reason
	// (reasonGroup), most first; the text report lists the files with -v.
	SkippedByReason []reasonCount   `json:"skipped_by_reason"`
	Failed          []statusProblem `json:"failed"`
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
	e, err := a.engine(opts.globalOptions, nil)
	if err != nil {
		return err
	}
	asker, err := e.Resolve(ctx, opts.View.who())
	if err != nil {
		return flagErr(err)
	}
	view, dir := asker.View, e.Config().Dir
	st, err := store.Open(ctx, dir, store.Options{})
	var corrupt *store.CorruptError
	if errors.As(err, &corrupt) && corrupt.Catalog {
		// Nothing to show but that: say so in the report too.
		rep := statusReport{Index: dir, Health: "damaged", Sources: []statusSource{}, Skipped: []statusProblem{},
			SkippedByReason: []reasonCount{}, Failed: []statusProblem{}, DamagedFiles: []string{}}
		if opts.JSON {
			if werr := writeJSON(a, rep); werr != nil {
				return werr
			}
			return &silentError{code: ExitIndex}
		}
		if werr := writeStatus(a, &rep, opts.Verbose); werr != nil {
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
		// A tenant the index never had is reported as empty, not refused:
		// status counts what a view sees, and there it sees nothing.
		if err := engine.CheckCollections(&m, view); err != nil {
			return err
		}
		if asker.Note != "" && m.AccessControl {
			a.events()(engine.Warning{Kind: engine.WarnNoGroups, Text: asker.Note})
		}
	}
	size, err := st.DiskUsage()
	if err != nil {
		return fmt.Errorf("measure index: %w", err)
	}
	rep := statusReport{
		Index: dir, Health: "ok", FormatVersion: m.FormatVersion, Dims: m.Dims,
		Files: len(m.Files), Chunks: m.Chunks(), SizeBytes: size, Created: m.Created, Updated: m.Updated,
		Sources: statusSources(m.Sources, m.Sources), Skipped: []statusProblem{}, Failed: []statusProblem{}, RebuildPending: st.Staging(),
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
	rep.Access = statusAccess{Control: m.AccessControl, Tenant: opts.View.Tenant, As: cmp.Or(opts.View.As, "public"), Whole: true}
	var damageFilter func([]store.Damage) []store.Damage
	if !opts.All {
		if vm, filter := viewOf(m, view); len(vm.Files) < len(m.Files) || len(vm.Sources) < len(m.Sources) {
			// The index's own time says when anyone's files were indexed.
			rep.Updated = latestIndexed(m, view)
			m, damageFilter = vm, filter
			rep.Access.Whole = false
			rep.Files, rep.Chunks, rep.Sources, rep.SizeBytes = len(m.Files), m.Chunks(), statusSources(vm.Sources, st.Manifest().Sources), 0
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
	for _, p := range m.Problems {
		sp := statusProblem{Path: filepath.Join(p.Root, filepath.FromSlash(p.Path)), Reason: p.Reason}
		if p.Failed {
			rep.Failed = append(rep.Failed, sp)
		} else {
			rep.Skipped = append(rep.Skipped, sp)
		}
	}
	rep.SkippedByReason = groupReasons(rep.Skipped)
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
			damage = &engine.DamagedError{Recovered: st.Recovered(), Damaged: damaged}
		}
	}
	if opts.JSON {
		if err := writeJSON(a, rep); err != nil {
			return err
		}
		return damage
	}
	if err := writeStatus(a, &rep, opts.Verbose); err != nil {
		return err
	}
	return damage
}

// writeStatus lays out the report; verbose lists every skipped file under
// its reason, where the report otherwise counts them.
func writeStatus(a *App, r *statusReport, verbose bool) error {
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
		fmt.Fprintf(&b, "  %s (%s)\n", s.Path, sourceText(s))
		if len(s.Removed) > 0 {
			quoted := make([]string, len(s.Removed))
			for i, r := range s.Removed {
				quoted[i] = shellQuote(r)
			}
			fmt.Fprintf(&b, "    removed: %s (rag index PATH brings one back)\n", strings.Join(quoted, " "))
		}
	}
	fmt.Fprintf(&b, "%-13s %d\n", "Failed:", len(r.Failed))
	for _, p := range r.Failed {
		fmt.Fprintf(&b, "  %s: %s\n", p.Path, p.Reason)
	}
	writeSkipped(&b, r, verbose)
	out := b.String()
	if a.IO.EscapeUntrusted() {
		out = render.Escape(out) // paths and reasons name files
	}
	_, err := fmt.Fprint(a.IO.Out, out)
	return err
}

// sourceText describes a source's settings for status: its kind, where
// it is held, and its collection, tenant and --allow, each marked when
// inherited from the folder around it.
func sourceText(s statusSource) string {
	kind := "folder"
	if s.File {
		kind = "file"
	}
	parts := []string{kind}
	if s.Inside != "" {
		parts[0] += " inside " + s.Inside
	}
	from := func(set store.Settings, text string) string {
		if s.Inherit&set != 0 {
			return text + " (inherited)"
		}
		return text
	}
	parts = append(parts, from(store.InheritCollection, "collection "+s.Collection))
	if s.Tenant != "" || s.Inside != "" {
		parts = append(parts, from(store.InheritTenant, tenantName(s.Tenant)))
	}
	if len(s.Allow) > 0 || s.Inside != "" {
		parts = append(parts, from(store.InheritAllow, "allow "+allowText(s.Allow)))
	}
	if s.Inside != "" && !s.File && s.Inherit&store.InheritWalk == 0 {
		parts = append(parts, "walk options of its own")
	}
	return strings.Join(parts, "; ")
}

// writeSkipped counts the skipped files by reason; verbose lists each
// under its reason.
func writeSkipped(b *strings.Builder, r *statusReport, verbose bool) {
	fmt.Fprintf(b, "%-13s %d", "Skipped:", len(r.Skipped))
	if len(r.Skipped) > 0 && !verbose {
		b.WriteString(" (rag status -v lists them)")
	}
	b.WriteString("\n")
	width := 0
	for _, g := range r.SkippedByReason {
		width = max(width, len(strconv.Itoa(g.Count)))
	}
	for _, g := range r.SkippedByReason {
		fmt.Fprintf(b, "  %*d  %s\n", width, g.Count, g.Reason)
		if !verbose {
			continue
		}
		for _, p := range r.Skipped {
			if reasonGroup(p.Reason) == g.Reason {
				fmt.Fprintf(b, "  %*s    %s: %s\n", width, "", p.Path, p.Reason)
			}
		}
	}
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

// latestIndexed is when the last of the files view sees was indexed
// (zero: none): what status and the MCP status tool show as updated to one
// who does not see the whole index, since the catalog's own time tells
// when another tenant's or user's folder was indexed.
func latestIndexed(m store.Manifest, view store.View) time.Time {
	var t time.Time
	for i := range m.Files {
		if f := &m.Files[i]; f.IndexedAt.After(t) && m.Sees(view, f) {
			t = f.IndexedAt
		}
	}
	return t
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
