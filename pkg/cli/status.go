package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	// Fields lists the fields --filter can name instead of the status.
	Fields bool
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
  rag status --verify --json | jq .health
  rag status --fields               # what --filter can name`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return statusRun(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Verify, "verify", false, "read every stored chunk and check it")
	bindView(cmd.Flags(), &opts.View, a.cfg)
	cmd.Flags().BoolVar(&opts.All, "all", false, "show the whole index, every tenant and every file, whoever --as names")
	cmd.Flags().BoolVar(&opts.Fields, "fields", false, "list the fields --filter can name (the built-in ones, then the front matter keys of the files seen), their types and how many files carry each (--json: fields[])")
	return cmd
}

// The --json document of `rag status` and its parts are the engine's,
// whose JSON fields are rag's interface.
type (
	statusReport  = engine.StatusReport
	statusSource  = engine.StatusSource
	statusProblem = engine.StatusProblem
	reasonCount   = engine.ReasonCount
)

func statusRun(ctx context.Context, a *App, opts *StatusOptions) error {
	e, err := a.engine(opts.globalOptions, nil)
	if err != nil {
		return err
	}
	rep, err := e.Status(ctx, opts.View.who(), engine.StatusRequest{Verify: opts.Verify, All: opts.All, Fields: opts.Fields}, a.events())
	if rep == nil {
		return flagErr(err)
	}
	// A report with an error is of a damaged index: shown, then exit 7
	// (the error and its hint on stderr unless the report is JSON).
	if opts.JSON {
		if werr := writeJSON(a, rep); werr != nil {
			return werr
		}
		var (
			damaged *engine.DamagedError
			corrupt *store.CorruptError
		)
		if errors.As(err, &damaged) || errors.As(err, &corrupt) {
			return &silentError{code: ExitIndex}
		}
		return err
	}
	if opts.Fields {
		if werr := writeFields(a, rep.Fields); werr != nil {
			return werr
		}
		return err
	}
	if werr := writeStatus(a, rep, opts.Verbose); werr != nil {
		return werr
	}
	return err
}

// writeFields lays out the fields --filter can name: name, types and how
// many files carry it.
func writeFields(a *App, fields []engine.FieldCount) error {
	width := len("FIELD")
	for _, f := range fields {
		width = max(width, len(f.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %-16s  %s\n", width, "FIELD", "TYPES", "FILES")
	for _, f := range fields {
		files := plural(f.Files, "file")
		if f.Builtin {
			files = "every file"
		}
		fmt.Fprintf(&b, "%-*s  %-16s  %s\n", width, f.Name, strings.Join(f.Types, ", "), files)
	}
	text := b.String()
	if a.IO.EscapeUntrusted() { // front matter keys are the documents'
		text = render.Escape(text)
	}
	_, err := fmt.Fprint(a.IO.Out, text)
	return err
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
			if engine.ReasonGroup(p.Reason) == g.Reason {
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
