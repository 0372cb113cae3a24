package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rag-cli/rag/internal/render"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/store"
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
			return lsRun(cmd.Context(), a, opts)
		},
	}
	bindView(cmd.Flags(), &opts.View, a.cfg)
	return cmd
}

// lsFile is a file in `rag ls --json`.
type lsFile struct {
	Collection string    `json:"collection"`
	Path       string    `json:"path"`
	Root       string    `json:"root"`
	Format     string    `json:"format,omitempty"`
	Chunks     int       `json:"chunks"`
	Size       int64     `json:"size"`
	IndexedAt  time.Time `json:"indexed_at"`
}

// lsCollection sums a collection's files in `rag ls --json`.
type lsCollection struct {
	Name   string `json:"name"`
	Files  int    `json:"files"`
	Chunks int    `json:"chunks"`
}

type lsReport struct {
	Collections []lsCollection `json:"collections"`
	Files       []lsFile       `json:"files"`
}

func lsRun(ctx context.Context, a *App, opts *LsOptions) (err error) {
	r, err := a.openView(ctx, opts.globalOptions, opts.View)
	if err != nil {
		return err
	}
	defer closeWith(&err, r)
	st, view := r.Store(), r.View()
	m := st.Manifest()
	rep := listFiles(&m, view, opts.Paths)
	if len(opts.Paths) > 0 && len(rep.Files) == 0 {
		return &hintedError{err: usagef("%s: not in the index", strings.Join(opts.Paths, ", ")),
			hint: "rag ls without a PATH lists every file the index holds"}
	}
	if opts.JSON {
		return writeJSON(a, rep)
	}
	return writeLs(a, rep)
}

// listFiles lists the files of m that view sees, under paths if any,
// sorted by collection and path, with each collection's sums.
func listFiles(m *store.Manifest, view store.View, paths []string) lsReport {
	rep := lsReport{Collections: []lsCollection{}, Files: []lsFile{}}
	vis, _ := m.Visible(view)
	for i := range m.Files {
		f := &m.Files[i]
		if vis != nil && !vis[i] || !underAny(f, paths) {
			continue
		}
		rep.Files = append(rep.Files, lsFile{Collection: m.CollectionOf(f), Path: f.Path, Root: f.Root,
			Format: f.Format, Chunks: f.Chunks, Size: f.Size, IndexedAt: f.IndexedAt})
	}
	slices.SortFunc(rep.Files, func(x, y lsFile) int {
		return cmp.Or(strings.Compare(x.Collection, y.Collection), strings.Compare(x.Path, y.Path))
	})
	for _, f := range rep.Files {
		if n := len(rep.Collections); n == 0 || rep.Collections[n-1].Name != f.Collection {
			rep.Collections = append(rep.Collections, lsCollection{Name: f.Collection})
		}
		c := &rep.Collections[len(rep.Collections)-1]
		c.Files++
		c.Chunks += f.Chunks
	}
	return rep
}

// underAny reports whether f is one of paths or lies under one, by the
// path citations show or by its path on disk; no paths holds every file.
func underAny(f *store.FileEntry, paths []string) bool {
	if len(paths) == 0 {
		return true
	}
	disk := filepath.Join(f.Root, filepath.FromSlash(f.Path))
	for _, p := range paths {
		cited := strings.TrimSuffix(filepath.ToSlash(filepath.Clean(p)), "/")
		if cited == "." || f.Path == cited || strings.HasPrefix(f.Path, cited+"/") {
			return true
		}
		if abs, err := filepath.Abs(p); err == nil && (disk == abs || strings.HasPrefix(disk, abs+string(filepath.Separator))) {
			return true
		}
	}
	return false
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
