package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/provider"
)

// PullOptions are the settings of `rag pull`.
type PullOptions struct {
	*globalOptions
	Models []string
}

func newPullCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &PullOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "pull [MODEL...]",
		Short: "Pull the models the index and the settings need onto the Ollama server",
		Long: `Pull makes sure the Ollama server has the models rag needs, pulling the
missing ones with Ollama's own progress: the index's embedding model (for a new
index the configured one, else ` + config.DefaultEmbedModel + `), the chat model (model:,
$RAG_MODEL) and, when re-ranking is on, the re-rank model. With MODEL arguments
it pulls those instead. Models the server has are left alone.

index, search and ask take --pull to pull a missing model and go on; on a
terminal they offer to pull it. In a script (no terminal) rag never pulls
unasked.`,
		Example: `  rag pull
  rag pull qwen2.5:7b bge-m3
  rag pull --json | jq -r '.models[] | select(.status == "pulled") | .model'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Models = args
			return pullRun(cmd.Context(), a, opts)
		},
	}
}

// pulled is the outcome for one model.
type pulled struct {
	Model string `json:"model"`
	// Status is "present" (the server had it) or "pulled".
	Status string `json:"status"`
}

type pullReport struct {
	Models []pulled `json:"models"`
}

// neededModels are the models the index and the settings need, each once.
func neededModels(a *App, g *globalOptions) []string {
	rt := engine.Retrieval{Expand: a.cfg.Bool(config.KeyExpand), ExpandModel: a.cfg.String(config.KeyExpandModel),
		Rerank: a.cfg.Bool(config.KeyRerank), RerankModel: a.cfg.String(config.KeyRerankModel)}
	cfg, err := a.engineConfig(g.IndexDir, g)
	if err != nil {
		// The store is refused where it is opened; its models are the
		// configured ones meanwhile.
		cfg = engine.Config{Dir: g.IndexDir, EmbedModel: g.EmbedModel}
	}
	return engine.New(cfg).NeededModels(rt, a.cfg.String(config.KeyModel), a.events())
}

func dedupe(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func pullRun(ctx context.Context, a *App, opts *PullOptions) error {
	models := dedupe(opts.Models)
	if len(models) == 0 {
		models = neededModels(a, opts.globalOptions)
	}
	client, err := a.models(defaultModelTimeout)
	if err != nil {
		return err
	}
	rep := pullReport{Models: []pulled{}}
	for _, m := range models {
		has, err := client.Has(ctx, m)
		if err != nil {
			return err
		}
		p := pulled{Model: m, Status: "present"}
		if !has && !a.canPull(m) {
			// An OpenAI-compatible server serves what it was started
			// with: it is checked, never asked to pull.
			pv, _ := a.cfg.ProviderOf(m)
			return &ollama.ModelNotFoundError{Model: m, Provider: pv.Name, NoPull: true}
		}
		if !has {
			if err := pullModel(ctx, a, client, m); err != nil {
				return err
			}
			p.Status = "pulled"
		}
		rep.Models = append(rep.Models, p)
		if !opts.JSON {
			what := "already on the server"
			if p.Status == "pulled" {
				what = "pulled"
			}
			if _, err := fmt.Fprintf(a.IO.Out, "%s: %s\n", m, what); err != nil {
				return err
			}
		}
	}
	if opts.JSON {
		return writeJSON(a, rep)
	}
	return nil
}

// pullModel pulls one model, drawing Ollama's progress on stderr when it
// is a terminal.
func pullModel(ctx context.Context, a *App, client provider.Client, model string) error {
	puller, ok := client.(provider.Puller)
	if !ok || !a.canPull(model) {
		pv, _ := a.cfg.ProviderOf(model)
		return &provider.NoPullError{Model: model, Provider: pv.Name, Type: pv.Type}
	}
	var bar *progressbar.ProgressBar
	var layer string
	clear := func() {
		if bar != nil {
			_ = bar.Clear() // drawing progress is best effort
			bar = nil
		}
	}
	defer clear()
	return puller.Pull(ctx, model, func(p ollama.PullProgress) {
		if !a.IO.IsStderrTTY() {
			return
		}
		if p.Total == 0 || p.Digest == "" {
			clear()
			layer = ""
			return
		}
		if bar == nil || p.Digest != layer {
			clear()
			layer = p.Digest
			bar = progressbar.NewOptions64(p.Total,
				progressbar.OptionSetWriter(a.IO.ErrOut),
				progressbar.OptionSetDescription(fmt.Sprintf("pulling %s %s", model, shortDigest(p.Digest))),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionThrottle(100_000_000),
			)
		}
		_ = bar.Set64(p.Completed) // best effort
	})
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// withPull runs fn. When it fails because the server lacks a model, and
// pulling is wanted (--pull, or a yes to the question on a terminal), it
// pulls the model and runs fn again; never unasked in a script.
func (a *App) withPull(ctx context.Context, pull bool, fn func() error) error {
	tried := map[string]bool{}
	for {
		err := fn()
		var missing *ollama.ModelNotFoundError
		if !errors.As(err, &missing) || missing.NoPull || tried[missing.Model] || ctx.Err() != nil {
			return err
		}
		tried[missing.Model] = true
		if !pull {
			yes, perr := a.offerPull(missing.Model)
			if perr != nil {
				return errors.Join(err, perr)
			}
			if !yes {
				return err
			}
		}
		client, cerr := a.models(defaultModelTimeout)
		if cerr != nil {
			return cerr
		}
		if perr := pullModel(ctx, a, client, missing.Model); perr != nil {
			return perr
		}
		fmt.Fprintf(a.IO.ErrOut, "rag: pulled %s\n", missing.Model)
	}
}

// offerPull asks on a terminal whether to pull a missing model; without a
// terminal on stdin and stderr it does not ask and the answer is no.
func (a *App) offerPull(model string) (bool, error) {
	if !a.IO.IsStdinTTY() || !a.IO.IsStderrTTY() {
		return false, nil
	}
	fmt.Fprintf(a.IO.ErrOut, "Model %q is not on the Ollama server. Pull it now? [y/N] ", model)
	answer, err := readLine(a.IO.In)
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	if errors.Is(err, io.EOF) && answer == "" {
		fmt.Fprintln(a.IO.ErrOut) // end the prompt's line
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// readLine reads up to a newline a byte at a time, so that nothing after
// the answer is taken from stdin.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
}
