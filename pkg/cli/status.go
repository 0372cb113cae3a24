package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
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
}

func newStatusCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &StatusOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the index holds and whether it is healthy",
		Long: `Status lists the index's sources, files, chunks, embedding model, vector size,
format version, size on disk and last update, and every file the last runs
skipped or could not index, with the reason.

Opening the index checks that every object file is present and whole by
size; --verify also reads every one and checks its checksum.`,
		Example: `  rag status
  rag status --verify --json | jq .health`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return statusRun(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Verify, "verify", false, "read every stored chunk and check it")
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
	// KeywordsSaved is false when searches must build the keyword index
	// themselves (slower to open) until the next rag index saves it.
	KeywordsSaved bool `json:"keywords_saved"`
	// Verified is set with --verify: chunks read back and damaged objects.
	Verified *verifyReport `json:"verified,omitempty"`
}

type verifyReport struct {
	Chunks  int      `json:"chunks"`
	Damaged []string `json:"damaged"`
}

func statusRun(ctx context.Context, a *App, opts *StatusOptions) (err error) {
	dir, err := a.indexDir(opts.globalOptions)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		return err
	}
	defer closeWith(&err, st)
	m := st.Manifest()
	size, err := st.DiskUsage()
	if err != nil {
		return fmt.Errorf("measure index: %w", err)
	}
	rep := statusReport{
		Index: dir, Health: "ok", FormatVersion: m.FormatVersion, EmbedModel: m.EmbedModel, Dims: m.Dims,
		Files: len(m.Files), Chunks: m.Chunks(), SizeBytes: size, Created: m.Created, Updated: m.Updated,
		Sources: m.Sources, Skipped: []statusProblem{}, Failed: []statusProblem{}, RebuildPending: st.Staging(),
		KeywordsSaved: st.KeywordsSaved(),
	}
	if rep.Sources == nil {
		rep.Sources = []store.Source{}
	}
	for _, p := range m.Problems {
		sp := statusProblem{Path: filepath.Join(p.Root, filepath.FromSlash(p.Path)), Reason: p.Reason}
		if p.Failed {
			rep.Failed = append(rep.Failed, sp)
		} else {
			rep.Skipped = append(rep.Skipped, sp)
		}
	}
	var damage error
	if opts.Verify {
		n, damaged, err := st.Verify(ctx)
		if err != nil {
			return err
		}
		rep.Verified = &verifyReport{Chunks: n, Damaged: []string{}}
		for _, d := range damaged {
			rep.Verified.Damaged = append(rep.Verified.Damaged, d.Error())
		}
		if len(damaged) > 0 {
			rep.Health = "damaged"
			damage = &silentError{code: ExitIndex}
			if !opts.JSON {
				damage = fmt.Errorf("%s damaged: %w", plural(len(damaged), "object"), errors.Join(asErrors(damaged)...))
			}
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

func asErrors(cs []*store.CorruptError) []error {
	errs := make([]error, len(cs))
	for i, c := range cs {
		errs[i] = c
	}
	return errs
}

func writeStatus(a *App, r *statusReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Index:        %s (format %d)\n", r.Index, r.FormatVersion)
	fmt.Fprintf(&b, "Health:       %s\n", r.Health)
	fmt.Fprintf(&b, "Model:        %s (%s)\n", orNone(r.EmbedModel), plural(r.Dims, "dimension"))
	fmt.Fprintf(&b, "Contents:     %s, %s, %s on disk\n", plural(r.Files, "file"), plural(r.Chunks, "chunk"), humanBytes(r.SizeBytes))
	if r.Verified != nil {
		fmt.Fprintf(&b, "Verified:     %s read back, %s\n", plural(r.Verified.Chunks, "chunk"), plural(len(r.Verified.Damaged), "damaged object"))
	}
	updated := "never"
	if !r.Updated.IsZero() {
		updated = r.Updated.Local().Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(&b, "Last indexed: %s\n", updated)
	if r.RebuildPending {
		b.WriteString("Rebuild:      unfinished; run `rag index --rebuild` to complete it\n")
	}
	if !r.KeywordsSaved && r.Chunks > 0 {
		b.WriteString("Keywords:     not saved for this catalog; each search builds them until `rag index` runs\n")
	}
	fmt.Fprintf(&b, "Sources:      %d\n", len(r.Sources))
	for _, s := range r.Sources {
		kind := "folder"
		if s.File {
			kind = "file"
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

func orNone(s string) string {
	if s == "" {
		return "none yet"
	}
	return s
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
