package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// ShowOptions are the settings of `rag show`.
type ShowOptions struct {
	*globalOptions
	// Target is a path or a citation as ask and search print it.
	Target string
	// View says who asks: a file it may not see is shown as not indexed.
	View ViewOptions
}

func newShowCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &ShowOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:     "show PATH[:START-END]",
		Aliases: []string{"get"}, // qmd's name, and the MCP tool's
		Short:   "Print what the index holds for a file or a citation's lines",
		Long: `Show prints the text the index holds for a file, or for the lines of a
citation, so that a source of rag ask or rag search can be read in full. It
takes every form a citation has, also pasted whole with its heading:

  guide.md                          the whole file
  guide.md:12-30                    lines 12 to 30 (guide.md:12, one line)
  'guide.md:12-30 (Install > Linux)'
  'manual.pdf p.3'                  a page of a PDF
  'report.docx ¶4-7'                paragraphs of a Word document

PATH is relative to the folder it was indexed under (as citations show it),
relative to the working directory, or absolute. The text is the stored chunks'
(overlaps shown once), under a header line with the path, the lines and the
heading path; a note on stderr says when the file changed since it was
indexed. Lines the index holds no text of (front matter, blank lines,
markup between two chunks) show the nearest indexed lines instead, with a
note on stderr (and note in --json) that says why. Show needs no Ollama.`,
		Example: `  rag show guide.md:12-30
  rag show 'guide.md:12-30 (Install > Linux)'
  rag show --json 'manual.pdf p.3' | jq -r '.sections[].text'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A citation pasted unquoted arrives in pieces: manual.pdf p.3.
			opts.Target = strings.TrimSpace(strings.Join(args, " "))
			if opts.Target == "" {
				return usagef("no path given")
			}
			if err := opts.View.checkFilter(); err != nil {
				return err
			}
			return showRun(cmd.Context(), a, opts)
		},
	}
	bindView(cmd.Flags(), &opts.View, a.cfg)
	bindFilter(cmd.Flags(), &opts.View)
	return cmd
}

// showReport is the --json document of `rag show`, and showSection one
// of its sections: the engine's, whose JSON fields are rag's interface.
type (
	showReport  = engine.Document
	showSection = engine.Section
)

func showRun(ctx context.Context, a *App, opts *ShowOptions) (err error) {
	r, err := a.openView(ctx, opts.globalOptions, opts.View)
	if err != nil {
		return err
	}
	defer closeWith(&err, r)
	r.Host = true // the host's own user: a folder is named as one
	rep, err := r.Get(ctx, opts.Target)
	if err != nil {
		return err
	}
	switch rep.OnDisk {
	case "changed":
		fmt.Fprintf(a.IO.ErrOut, "rag: note: %s changed since it was indexed; this is the indexed text (`rag index` refreshes it)\n", a.errText(rep.Path))
	case "missing":
		fmt.Fprintf(a.IO.ErrOut, "rag: note: %s no longer exists; this is the indexed text\n", a.errText(rep.Path))
	}
	if rep.Note != "" {
		fmt.Fprintf(a.IO.ErrOut, "rag: note: %s\n", a.errText(rep.Note))
		if rep.Markup != "" {
			fmt.Fprintf(a.IO.ErrOut, "rag: note: the file holds there: %s\n", a.errText(strconv.Quote(rep.Markup)))
		}
	}
	if opts.JSON {
		return writeJSON(a, rep)
	}
	// Document text is untrusted: a terminal gets it escaped (render.Escape).
	untrusted := func(s string) string { return s }
	if a.IO.EscapeUntrusted() {
		untrusted = render.Escape
	}
	_, err = fmt.Fprint(a.IO.Out, documentText(rep, untrusted, a.IO.ColorEnabled()))
	return err
}

// documentText lays out the sections: each under its citation (bold when
// asked), the document's text passed through untrusted.
func documentText(rep *showReport, untrusted func(string) string, bold bool) string {
	var b strings.Builder
	for i, s := range rep.Sections {
		if i > 0 {
			b.WriteString("\n")
		}
		head := untrusted(retrieve.Result{Path: rep.Path, StartLine: s.StartLine, EndLine: s.EndLine, Page: s.Page, Heading: s.Heading}.Cite())
		if bold {
			head = "\x1b[1m" + head + "\x1b[0m"
		}
		b.WriteString(head + "\n")
		b.WriteString(untrusted(s.Text))
		if !strings.HasSuffix(s.Text, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// shellQuote quotes s for a command line when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[](){}<>|&;#~¶") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// showCmd is how rag show is run on the host's command line.
const showCmd = "rag show"
