package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/retrieve"
)

// AskOptions are the settings of `rag ask`.
type AskOptions struct {
	*globalOptions
	RetrievalOptions
	Question string
	K        int
	Model    string
	Thresholds
	NumCtx      int
	MaxTokens   int
	Temperature float64
	Pull        bool
	// Strict makes an answer that cites no source exit ExitUncited.
	Strict bool
	// SystemPrompt and Examples are files replacing rag's system prompt
	// and few-shot block ("" rag's own; Examples "none": no examples).
	SystemPrompt, Examples string
	// ShowPrompt prints the messages sent to stderr; DryRun prints them to
	// stdout and sends nothing.
	ShowPrompt, DryRun bool
}

func newAskCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &AskOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "ask QUESTION",
		Short: "Answer a question from the indexed documents, with sources",
		Long: `Ask retrieves the chunks that best match the question (hybrid keyword and
embedding search by default, see --mode and --rerank), gives the best -k of them
to an Ollama chat model with instructions to answer from them only, streams the
answer and ends it with the numbered sources it was given (cited as [1], [2], ...).
Overlapping chunks of a file are merged and copies dropped before they are
counted.

When no chunk is relevant (the best one holds too small a share of what the
question asks about, --min-coverage; no word in common with the question;
similarity below --min-score; or with --rerank a judged relevance below
--min-relevance), rag says the documents do not answer the question, does not
call the chat model, and exits with code 4; when the keyword index alone shows
it (too little coverage, no word in common), the question is not even
embedded, so this needs no Ollama. Hybrid retrieval falls back to keywords as
rag search does (--fallback). Use - (or pipe the question) to
read it from stdin.

Citations are checked: a [n] naming no source given is removed from the
answer as it streams and named in a warning; an answer that cites nothing is
flagged with a warning (--json: "uncited": true), and exits 10 with --strict.
The sources the answer cites are listed first, those given but not cited apart.

On a terminal, stderr shows what rag waits for until the answer starts, and
the answer is rendered as markdown and redrawn as it streams; control
characters and escape sequences in it and in the sources are shown escaped.
Piped, the answer is plain text as the model wrote it. An empty index exits
7 without contacting Ollama.`,
		Example: `  rag ask "How do I install on Linux?"
  echo "What is the retry policy?" | rag ask -
  rag ask --json -k 5 --model qwen2.5:7b "Who maintains the parser?"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := a.readQuery(args, "question", `rag ask "How do I install on Linux?"`)
			if err != nil {
				return err
			}
			opts.Question = q
			if err := opts.check(); err != nil {
				return err
			}
			return a.withPull(cmd.Context(), opts.Pull, func() error { return askRun(cmd.Context(), a, opts) })
		},
	}
	f := cmd.Flags()
	bindAnswer(f, a, opts)
	f.BoolVar(&opts.Strict, "strict", false, "exit 10 when the answer cites no source (it is still printed)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the exact messages that would be sent on stdout, and send nothing to the chat model")
	return cmd
}

// bindAnswer adds the flags of commands that answer questions (ask, chat):
// retrieval, the floor, the model and its prompt.
func bindAnswer(f *pflag.FlagSet, a *App, opts *AskOptions) {
	f.IntVarP(&opts.K, "k", "k", a.cfg.Int(config.KeyAskK), "number of chunks given to the model; ask_k: in a config file sets the default")
	bindSetting(f, "k", config.KeyAskK)
	f.StringVar(&opts.Model, "model", a.cfg.String(config.KeyModel), "Ollama chat model; $RAG_MODEL or model: in a config file sets the default")
	bindSetting(f, "model", config.KeyModel)
	bindThresholds(f, &opts.Thresholds, a.cfg)
	bindRetrieval(f, &opts.RetrievalOptions, a.cfg)
	f.BoolVar(&opts.Pull, "pull", false, "pull a model the Ollama server does not have, then go on")
	f.StringVar(&opts.SystemPrompt, "system-prompt", a.cfg.String(config.KeySystemPrompt), "file whose text replaces rag's system prompt; system_prompt: in a config file sets the default")
	bindSetting(f, "system-prompt", config.KeySystemPrompt)
	f.StringVar(&opts.Examples, "examples", a.cfg.String(config.KeyExamples), "YAML file of example turns (role: user/assistant, content) replacing rag's few-shot block; none for no examples; examples: sets the default")
	bindSetting(f, "examples", config.KeyExamples)
	f.BoolVar(&opts.ShowPrompt, "show-prompt", false, "print the exact messages sent to the model on stderr")
	f.IntVar(&opts.NumCtx, "num-ctx", 8192, "model context window in tokens (room for the sources)")
	f.IntVar(&opts.MaxTokens, "max-tokens", 1024, "longest answer in tokens")
	f.Float64Var(&opts.Temperature, "temperature", 0, "sampling temperature; 0 gives the most repeatable answers")
}

// check checks the flags of a command that answers questions (ask, chat).
func (o *AskOptions) check() error {
	if o.K < 1 {
		return usagef("-k must be at least 1")
	}
	if _, err := o.validate(); err != nil {
		return err
	}
	return o.checkModel()
}

// checkModel checks the flags of the chat model's request: a context
// window with room for an answer, an answer of at least a token and a
// temperature that is a number (NaN made the request unsendable).
func (o *AskOptions) checkModel() error {
	switch {
	case o.MaxTokens < 1:
		return usagef("--max-tokens must be at least 1 (it is %d)", o.MaxTokens)
	case o.NumCtx <= o.MaxTokens:
		return &hintedError{err: usagef("--num-ctx %d leaves no room for the sources: it must be larger than --max-tokens (%d)", o.NumCtx, o.MaxTokens),
			hint: "--num-ctx is the model's whole context window (question, sources and answer); the default is 8192"}
	case math.IsNaN(o.Temperature) || math.IsInf(o.Temperature, 0) || o.Temperature < 0:
		return usagef("--temperature must be a number of at least 0")
	}
	return o.Thresholds.check()
}

// askOptions are the engine's options of the flags, with the prompt
// their files give.
func (o *AskOptions) askOptions(ctx context.Context) (engine.AskOptions, error) {
	p, err := engine.LoadPrompt(ctx, o.SystemPrompt, o.Examples)
	if err != nil {
		return engine.AskOptions{}, err
	}
	return engine.AskOptions{Retrieval: o.retrieval(), K: o.K, Floor: o.floor(), Model: o.Model,
		NumCtx: o.NumCtx, MaxTokens: o.MaxTokens, Temperature: o.Temperature, Prompt: p}, nil
}

// askReport is the --json document of `rag ask`.
type askReport = engine.AskReport

// dryRunReport is the --json document of `rag ask --dry-run`.
type dryRunReport struct {
	Question       string          `json:"question"`
	Model          string          `json:"model"`
	Messages       []promptMessage `json:"messages"`
	DroppedSources []answer.Source `json:"dropped_sources"`
	Sources        []answer.Source `json:"sources"`
	// Expansion is what was searched beside the question (--expand).
	Expansion *retrieve.Expansion `json:"expansion,omitempty"`
}

type promptMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func askRun(ctx context.Context, a *App, opts *AskOptions) (err error) {
	st := newStatus(a)
	defer st.clear() // before App.Run prints an error
	// Opening may warn (a recovered catalog): before the status line shows.
	q, err := openForQueryWith(ctx, a, opts.globalOptions, &opts.RetrievalOptions, a.answerEvents(st, opts.ShowPrompt))
	if err != nil {
		return err
	}
	defer closeWith(&err, q)
	if q.Empty() {
		return q.EmptyError()
	}
	q.Pullable = a.pullable(opts.Pull)
	o, err := opts.askOptions(ctx)
	if err != nil {
		return err
	}
	out, err := newAnswerOut(a, st, answerStyle(a, opts.JSON), opts.JSON)
	if err != nil {
		return err
	}
	res, err := q.Ask(ctx, engine.AskRequest{Question: opts.Question, AskOptions: o, DryRun: opts.DryRun, StrictDamage: true}, out.token())
	if err != nil {
		return out.fail(err)
	}
	if res.DryRun != nil {
		return writeDryRun(a, opts, res.DryRun.Messages, res.DryRun.Sources, res.DroppedSources, res.Expansion)
	}
	if err := out.finish(res); err != nil {
		return err
	}
	if opts.JSON {
		rep := askReport{Question: opts.Question, Model: opts.Model, Mode: string(opts.Mode), RerankModel: res.RerankModel, DamagedFiles: res.DamagedFiles,
			DroppedSources: res.DroppedSources, Expansion: res.Expansion, NoDenseSignal: res.NoDenseSignal, Degraded: res.Degraded, Result: res.Answer}
		if err := writeJSON(a, rep); err != nil {
			return err
		}
	}
	if res.Answer.Abstained {
		return &silentError{code: ExitNoAnswer}
	}
	if res.Answer.Uncited && opts.Strict {
		return &silentError{code: ExitUncited}
	}
	return nil
}

// answerEvents prints the engine's events of an answer: the stage on the
// status line, the messages sent with --show-prompt, warnings and notes.
func (a *App) answerEvents(st *status, showPrompt bool) engine.Events {
	warn := a.events()
	return func(ev engine.Event) {
		switch ev := ev.(type) {
		case engine.Stage:
			switch ev.Step {
			case engine.StepRewrite:
				st.set("rewriting the question…")
			case engine.StepRetrieve:
				st.set("retrieving…")
			case engine.StepAnswer:
				st.set(fmt.Sprintf("waiting for %s…", ev.Model))
			default:
				st.clear() // a warning must not share the status line
			}
		case engine.Sending:
			if showPrompt {
				var b strings.Builder
				writeExpansion(&b, ev.Expansion)
				writePrompt(&b, ev.Messages)
				fmt.Fprint(a.IO.ErrOut, a.errText(b.String()))
			}
		default:
			warn(ev)
		}
	}
}

// answerStyle is how answers are shown: markdown on a terminal (styled
// when colour is on), plain text piped or with --json.
func answerStyle(a *App, jsonOut bool) render.Style {
	if !a.IO.RenderMarkdown() || jsonOut {
		return render.Plain
	}
	if a.IO.ColorEnabled() {
		return render.Styled
	}
	return render.Unstyled
}

// answerOut shows an answer: streamed as it arrives (not with --json),
// then its sources, then the warnings about it.
type answerOut struct {
	a      *App
	st     *status
	style  render.Style
	stream answerStream
	// started is set once a piece of the answer was shown.
	started bool
}

func newAnswerOut(a *App, st *status, style render.Style, quiet bool) (*answerOut, error) {
	o := &answerOut{a: a, st: st, style: style}
	if !quiet {
		var err error
		if o.stream, err = newAnswerStream(a, style); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// token is the engine's onToken: nil when quiet.
func (o *answerOut) token() func(string) error {
	if o.stream == nil {
		return nil
	}
	return func(piece string) error {
		o.st.clear() // the answer replaces the status line
		o.started = true
		return o.stream.Write(piece)
	}
}

// fail keeps what arrived of a failed answer and ends its line, so that
// the error starts on a clean one.
func (o *answerOut) fail(err error) error {
	if o.started {
		return errors.Join(err, o.stream.Close())
	}
	return err
}

// finish ends the answer: the refusal when nothing was evidence, else
// the rest of the stream and the sources; then the warnings about it.
func (o *answerOut) finish(res *engine.AskResult) error {
	a := o.a
	if res.NoEvidence {
		if o.stream == nil {
			return nil
		}
		return writeAnswerText(a, o.style, res.Answer.Answer)
	}
	if o.stream != nil {
		if err := o.stream.Close(); err != nil {
			return err
		}
		if o.style == render.Plain && !strings.HasSuffix(res.Answer.Answer, "\n") {
			if _, err := fmt.Fprintln(a.IO.Out); err != nil {
				return err
			}
		}
		if !res.Answer.Abstained {
			if err := writeSources(a, o.style, res.Answer.Sources); err != nil {
				return err
			}
		}
	}
	warn := a.events()
	for _, w := range res.Warnings {
		warn(w)
	}
	return nil
}

// answerStream shows an answer as the model writes it.
type answerStream interface {
	Write(piece string) error
	Close() error
}

// newAnswerStream redraws the answer in place on a terminal that can move
// its cursor; elsewhere (a pipe, TERM=dumb, colour forced into a pipe) it
// only appends.
func newAnswerStream(a *App, style render.Style) (answerStream, error) {
	if a.IO.CanRedraw() && style != render.Plain {
		return render.NewLive(a.IO.Out, style, a.IO.TerminalWidth(), a.IO.TerminalHeight())
	}
	return render.NewStream(a.IO.Out, style, a.IO.TerminalWidth()), nil
}

func writeAnswerText(a *App, style render.Style, text string) error {
	out, err := render.Markdown(text, style, a.IO.TerminalWidth())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(a.IO.Out, strings.TrimRight(out, "\n"))
	return err
}

// writeSources lists the sources the answer cites, then apart those it
// was given but did not cite.
func writeSources(a *App, style render.Style, sources []answer.Source) error {
	var cited, unused []answer.Source
	for _, s := range sources {
		if s.Cited {
			cited = append(cited, s)
		} else {
			unused = append(unused, s)
		}
	}
	if style == render.Plain {
		var b strings.Builder
		for _, sec := range []struct {
			title string
			list  []answer.Source
		}{{"Sources:", cited}, {"Also given, not cited:", unused}} {
			if len(sec.list) == 0 {
				continue
			}
			fmt.Fprintf(&b, "\n%s\n", sec.title)
			for _, s := range sec.list {
				fmt.Fprintf(&b, "[%d] %s\n", s.N, s.Cite())
			}
		}
		_, err := fmt.Fprint(a.IO.Out, b.String())
		return err
	}
	var md strings.Builder
	for _, sec := range []struct {
		title string
		list  []answer.Source
	}{{"**Sources**", cited}, {"**Also given, not cited**", unused}} {
		if len(sec.list) == 0 {
			continue
		}
		fmt.Fprintf(&md, "%s\n\n", sec.title)
		for _, s := range sec.list {
			fmt.Fprintf(&md, "- **[%d]** `%s`\n", s.N, s.Cite())
		}
		md.WriteString("\n")
	}
	return writeAnswerText(a, style, md.String())
}

// writeDryRun prints the messages an ask would send, and sends nothing.
func writeDryRun(a *App, opts *AskOptions, msgs []answer.Message, sources, dropped []answer.Source, x *retrieve.Expansion) error {
	if opts.JSON {
		rep := dryRunReport{Question: opts.Question, Model: opts.Model, Sources: sources, DroppedSources: dropped, Expansion: x}
		for _, m := range msgs {
			rep.Messages = append(rep.Messages, promptMessage{Role: m.Role, Content: m.Content})
		}
		return writeJSON(a, rep)
	}
	var b strings.Builder
	writeExpansion(&b, x)
	writePrompt(&b, msgs)
	out := b.String()
	if a.IO.EscapeUntrusted() {
		out = render.Escape(out) // the sources are documents' text
	}
	_, err := fmt.Fprint(a.IO.Out, out)
	return err
}

// writeExpansion says what was searched beside the question, before the
// messages --show-prompt and --dry-run print.
func writeExpansion(b *strings.Builder, x *retrieve.Expansion) {
	if x == nil {
		return
	}
	b.WriteString("--- searched beside the question (--expand) ---\n")
	for _, p := range x.Phrasings {
		fmt.Fprintf(b, "phrasing: %s\n", p)
	}
	if x.Passage != "" {
		fmt.Fprintf(b, "passage: %s\n", x.Passage)
	}
}
