package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/engine"

	"github.com/spf13/cobra"
)

// LsOptions are the settings of `rag ls`.
type LsOptions struct {
	*globalOptions
	View ViewOptions
	// Paths narrow the list to files whose cited path, or whose path on
	// disk, is one of them or lies under one of them.
	Paths []string
}

func newLsCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &LsOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:     "ls [PATH...]",
		Aliases: []string{"list"},
		Short:   "List the indexed files, by collection, with their chunk counts",
		Long: `Ls lists the files the index holds that --as may see (in --tenant, and in
--collection if given), grouped by collection, with each file's chunk count.
PATHs narrow the list to those files and folders (as citations name them, or
as paths on disk).

On a terminal each collection is a heading over its files; piped, each file
is one line of three tab-separated fields, COLLECTION PATH CHUNKS, for cut
and awk. --json gives every field.`,
		Example: `  rag ls
  rag ls -c handbook
  rag ls guides/ | cut -f2
  rag ls --json | jq -r '.files[] | select(.chunks > 100) | .path'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if err := opts.View.checkFilter(); err != nil {
				return err
			}
			return lsRun(cmd.Context(), a, opts)
		},
	}
	bindView(cmd.Flags(), &opts.View, a.cfg)
	bindFilter(cmd.Flags(), &opts.View)
	return cmd
}

// lsReport is the --json document of `rag ls`: the engine's, whose JSON
// fields are rag's interface.
type lsReport = engine.Listing

func lsRun(ctx context.Context, a *App, opts *LsOptions) (err error) {
	r, err := a.openView(ctx, opts.globalOptions, opts.View)
	if err != nil {
		return err
	}
	defer closeWith(&err, r)
	rep := r.List(opts.Paths)
	if len(opts.Paths) > 0 && len(rep.Files) == 0 {
		return &hintedError{err: usagef("%s: not in the index", strings.Join(opts.Paths, ", ")),
			hint: "rag ls without a PATH lists every file the index holds"}
	}
	if opts.JSON {
		return writeJSON(a, rep)
	}
	return writeLs(a, rep)
}

func writeLs(a *App, rep lsReport) error {
	var b strings.Builder
	if !a.IO.IsStdoutTTY() {
		// One record a line, fields as they are: what scripts cut.
		for _, f := range rep.Files {
			fmt.Fprintf(&b, "%s\t%s\t%d\n", lsText(a, f.Collection), lsText(a, f.Path), f.Chunks)
		}
	} else if len(rep.Files) == 0 {
		b.WriteString("No files: the index holds none that you may see.\n")
	}
	width := 1
	for _, f := range rep.Files {
		width = max(width, len(strconv.Itoa(f.Chunks)))
	}
	i := 0
	for _, c := range rep.Collections {
		if !a.IO.IsStdoutTTY() {
			break
		}
		fmt.Fprintf(&b, "%s (%s, %s)\n", lsText(a, c.Name), plural(c.Files, "file"), plural(c.Chunks, "chunk"))
		for ; i < len(rep.Files) && rep.Files[i].Collection == c.Name; i++ {
			fmt.Fprintf(&b, "  %*d  %s\n", width, rep.Files[i].Chunks, lsText(a, rep.Files[i].Path))
		}
	}
	_, err := io.WriteString(a.IO.Out, b.String())
	return err
}

// lsText makes a name safe for stdout: escaped on a terminal, quoted when
// piped if a control character (a tab, a newline) would break its line.
func lsText(a *App, s string) string {
	switch {
	case a.IO.EscapeUntrusted():
		return render.EscapeLine(s)
	case strings.ContainsFunc(s, unicode.IsControl):
		return strconv.Quote(s)
	}
	return s
}
