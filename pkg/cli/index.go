package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/chunk"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ingest"
	"github.com/rag-cli/rag/pkg/store"
)

// IndexOptions are the settings of `rag index`.
type IndexOptions struct {
	*globalOptions
	Paths     []string
	BatchSize int
	MaxSize   int64
	Verbose   bool
}

func newIndexCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &IndexOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "index PATH...",
		Short: "Index folders or files so they can be searched and asked",
		Long: `Index walks each folder (recursively), reads Markdown, text and source files,
splits them into chunks of about 500 tokens, embeds them with Ollama and stores
them in the index. Hidden files and folders (.git too) and files that are not
text are skipped and counted.

Run it again at any time: unchanged files cost nothing, changed files are
embedded again, and files that are gone are removed from the index.`,
		Example: `  rag index ./docs
  rag index --embed-model mxbai-embed-large ./notes ./README.md
  rag index --json ./docs | jq .chunks_written`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("rag index needs at least one folder or file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if opts.BatchSize < 1 {
				return usagef("--batch-size must be at least 1")
			}
			return indexRun(cmd.Context(), a, opts)
		},
	}
	cmd.Flags().IntVar(&opts.BatchSize, "batch-size", 16, "chunks embedded per Ollama request")
	cmd.Flags().Int64Var(&opts.MaxSize, "max-size", ingest.DefaultMaxSize, "skip files larger than this many bytes")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "list skipped files on stderr")
	return cmd
}

// indexReport is the --json document of `rag index`.
type indexReport struct {
	Index          string            `json:"index"`
	EmbedModel     string            `json:"embed_model"`
	Dims           int               `json:"dims"`
	Indexed        int               `json:"indexed"`
	New            int               `json:"new"`
	Changed        int               `json:"changed"`
	Unchanged      int               `json:"unchanged"`
	Removed        int               `json:"removed"`
	Reused         int               `json:"reused"`
	Skipped        int               `json:"skipped"`
	Failed         int               `json:"failed"`
	ChunksWritten  int               `json:"chunks_written"`
	ChunksEmbedded int               `json:"chunks_embedded"`
	TotalFiles     int               `json:"total_files"`
	TotalChunks    int               `json:"total_chunks"`
	SkippedFiles   []ingest.Skip     `json:"skipped_files"`
	FailedFiles    []indexer.Failure `json:"failed_files"`
}

type root struct {
	abs  string
	fsys fs.FS
	only []string
}

func resolveRoot(p string) (root, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return root{}, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return root{}, &hintedError{err: usagef("%s does not exist", p), hint: "check the path; rag index takes folders and files"}
		}
		return root{}, err
	}
	if info.IsDir() {
		return root{abs: abs, fsys: os.DirFS(abs)}, nil
	}
	dir := filepath.Dir(abs)
	return root{abs: dir, fsys: os.DirFS(dir), only: []string{filepath.Base(abs)}}, nil
}

func indexRun(ctx context.Context, a *App, opts *IndexOptions) (err error) {
	var roots []root
	for _, p := range opts.Paths {
		r, err := resolveRoot(p)
		if err != nil {
			return err
		}
		roots = append(roots, r)
	}
	dir, err := a.indexDir(opts.globalOptions)
	if err != nil {
		return err
	}
	st, err := store.Open(dir, true)
	if err != nil {
		return err
	}
	defer closeWith(&err, st)
	model := opts.EmbedModel
	if model == "" {
		model = st.Manifest().EmbedModel
	}
	if model == "" {
		model = config.DefaultEmbedModel
	}
	client, err := a.ollama()
	if err != nil {
		return err
	}
	emb := &embed.Model{Client: client, Name: model}

	rep := indexReport{Index: dir, EmbedModel: model, SkippedFiles: []ingest.Skip{}, FailedFiles: []indexer.Failure{}}
	var runErr error
	for _, r := range roots {
		var bar *progressbar.ProgressBar
		progress := func(done, total int) {
			if !a.IO.IsStderrTTY() || total == 0 {
				return
			}
			if bar == nil {
				bar = progressbar.NewOptions(total,
					progressbar.OptionSetWriter(a.IO.ErrOut),
					progressbar.OptionSetDescription("embedding chunks"),
					progressbar.OptionShowCount(),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionClearOnFinish(),
					progressbar.OptionThrottle(100_000_000),
				)
			}
			_ = bar.Set(done) // drawing progress is best effort
		}
		sum, err := indexer.Run(ctx, st, emb, indexer.Options{
			Root: r.abs, FS: r.fsys, Only: r.only, Model: model, Chunk: chunk.DefaultOptions,
			BatchSize: opts.BatchSize, MaxSize: opts.MaxSize, Now: a.Now, Progress: progress,
		})
		if bar != nil {
			_ = bar.Clear()
		}
		if sum != nil {
			rep.add(sum, r.abs)
		}
		if err != nil {
			runErr = err
			break
		}
	}
	m := st.Manifest()
	rep.Dims, rep.TotalFiles, rep.TotalChunks = m.Dims, len(m.Files), m.Chunks()
	if runErr != nil {
		return runErr
	}
	if err := writeIndexReport(a, opts, &rep); err != nil {
		return err
	}
	if rep.Failed > 0 {
		return &partialError{failed: rep.Failed, total: rep.Failed + rep.Indexed + rep.Unchanged}
	}
	return nil
}

func (r *indexReport) add(s *indexer.Summary, rootDir string) {
	r.New += s.New
	r.Changed += s.Changed
	r.Indexed += s.Indexed()
	r.Unchanged += s.Unchanged
	r.Removed += s.Removed
	r.Reused += s.Reused
	r.Skipped += len(s.Skipped)
	r.Failed += len(s.Failed)
	r.ChunksWritten += s.Chunks
	r.ChunksEmbedded += s.Embedded
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
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: cannot index %s: %s\n", f.Path, f.Error)
	}
	if opts.Verbose {
		for _, s := range rep.SkippedFiles {
			fmt.Fprintf(a.IO.ErrOut, "rag: skipped %s: %s\n", s.Path, s.Reason)
		}
	}
	if opts.JSON {
		return writeJSON(a, rep)
	}
	_, err := fmt.Fprintf(a.IO.Out,
		"Indexed %d files (%d new, %d changed; %d chunks embedded), %d unchanged, %d removed, %d skipped, %d failed.\n"+
			"Index %s: %d files, %d chunks, %s (%d dimensions).\n",
		rep.Indexed, rep.New, rep.Changed, rep.ChunksEmbedded, rep.Unchanged, rep.Removed, rep.Skipped, rep.Failed,
		rep.Index, rep.TotalFiles, rep.TotalChunks, rep.EmbedModel, rep.Dims)
	return err
}

func writeJSON(a *App, v any) error {
	enc := json.NewEncoder(a.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
