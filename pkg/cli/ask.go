package cli

import (
	"context"
	"encoding/json"
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
	"github.com/rag-cli/rag/pkg/ollama"
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

// chatter adapts the Ollama client to answer.Chatter.
type chatter struct {
	client    *ollama.Client
	model     string
	maxTokens int
	options   map[string]any
}

func (c *chatter) Chat(ctx context.Context, msgs []answer.Message, fn func(string) error) error {
	req := ollama.ChatRequest{Model: c.model, Options: c.options, MaxTokens: c.maxTokens}
	for _, m := range msgs {
		req.Messages = append(req.Messages, ollama.Message{Role: m.Role, Content: m.Content})
	}
	err := c.client.Chat(ctx, req, fn)
	if errors.Is(err, ollama.ErrCutOff) {
		return answer.ErrCutOff
	}
	return err
}

func newChatter(q *engine.Reader, opts *AskOptions) *chatter {
	return &chatter{client: q.Models(), model: opts.Model, maxTokens: opts.MaxTokens, options: map[string]any{
		"temperature": opts.Temperature, "num_ctx": opts.NumCtx,
	}}
}

// askPipeline is what `rag ask` does with a question, shared with eval.
type askPipeline struct {
	a *App
	q *engine.Reader
	// fallback lets hybrid retrieval rank by keywords alone when the
	// dense ranking cannot run (queryDeps.search); eval's is off.
	fallback  bool
	ropt      retrieve.Options
	k         int
	floor     retrieve.Floor
	chat      *chatter
	expand    *engine.Expander
	prompt    answer.Prompt
	numCtx    int
	maxTokens int
}

// newAskPipeline is the pipeline of opts: its retrieval, floor, model and
// prompt.
func newAskPipeline(ctx context.Context, a *App, q *engine.Reader, ropt retrieve.Options, opts *AskOptions) (*askPipeline, error) {
	pr, err := opts.prompt(ctx)
	if err != nil {
		return nil, err
	}
	return &askPipeline{a: a, q: q, fallback: opts.Fallback, ropt: ropt, k: opts.K, floor: opts.floor(), chat: newChatter(q, opts),
		expand: q.Expander(opts.retrieval(), opts.Model), prompt: pr, numCtx: opts.NumCtx, maxTokens: opts.MaxTokens}, nil
}

// context retrieves the chunks the model gets: evidence only, overlaps
// merged, at most k. With --expand it also returns what was searched
// beside the question; degraded is set when hybrid retrieval ranked by
// keywords alone. A question the floor refuses whatever the embeddings
// say (retrieve.Unanswerable) is refused before anything is embedded, so
// that the refusal needs no model server.
func (p *askPipeline) context(ctx context.Context, question string) (_ []retrieve.Result, _ *retrieve.Expansion, _ *engine.Degraded, err error) {
	ropt := p.ropt
	if p.expand == nil {
		refused, err := retrieve.Unanswerable(ctx, p.q.Store(), ropt.View, question, ropt.Mode, p.floor)
		if err != nil || refused {
			return nil, nil, nil, err
		}
	}
	if ropt.Expansion, err = p.expand.Expand(ctx, question); err != nil {
		return nil, nil, nil, err
	}
	// More results than k: merging overlaps and dropping what is not
	// evidence must still leave k.
	results, fellBack, err := p.q.SearchRanked(ctx, question, max(3*p.k, 10), ropt, p.fallback)
	if err != nil {
		return nil, nil, nil, err
	}
	return retrieve.Context(retrieve.Evidence(retrieve.EvidenceQuery(question, ropt.Expansion), results, p.floor), p.k), ropt.Expansion, fellBack, nil
}

// Ask answers without streaming; with no evidence it abstains without
// calling the model.
func (p *askPipeline) Ask(ctx context.Context, question string) (*answer.Result, error) {
	res, _, _, err := p.answer(ctx, question)
	return res, err
}

// answer is Ask with what was searched beside the question and the
// evidence that did not fit in the model's context (never nil).
func (p *askPipeline) answer(ctx context.Context, question string) (_ *answer.Result, _ *retrieve.Expansion, dropped []answer.Source, err error) {
	evidence, x, _, err := p.context(ctx, question)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(evidence) == 0 {
		return answer.Abstain(), x, []answer.Source{}, nil
	}
	sources, dropped, err := p.fit(ctx, question, answer.Number(evidence))
	if err != nil {
		return nil, nil, nil, err
	}
	if dropped == nil {
		dropped = []answer.Source{}
	}
	res, err := p.prompt.Ask(ctx, p.chat, question, sources, nil)
	return res, x, dropped, err
}

// ClosedBook answers with the same model and no documents.
func (p *askPipeline) ClosedBook(ctx context.Context, question string) (*answer.Result, error) {
	return answer.ClosedBook(ctx, p.chat, question)
}

type askReport struct {
	Question    string `json:"question"`
	Model       string `json:"model"`
	Mode        string `json:"mode"`
	RerankModel string `json:"rerank_model,omitempty"`
	// DamagedFiles were left out: their stored chunks are damaged.
	DamagedFiles []string `json:"damaged_files"`
	// DroppedSources were evidence but did not fit in the model's context
	// (the lowest ranked go first, whole).
	DroppedSources []answer.Source `json:"dropped_sources"`
	// Expansion is what was searched beside the question (--expand).
	Expansion *retrieve.Expansion `json:"expansion,omitempty"`
	// NoDenseSignal: see searchReport.
	NoDenseSignal bool `json:"no_dense_signal"`
	// Degraded is set when hybrid retrieval ranked by keywords alone.
	Degraded *engine.Degraded `json:"degraded,omitempty"`
	*answer.Result
}

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
	q, err := openForQuery(ctx, a, opts.globalOptions, &opts.RetrievalOptions)
	if err != nil {
		return err
	}
	defer closeWith(&err, q.Store())
	st.set("retrieving…")
	if q.Empty() {
		return q.EmptyError()
	}
	q.Pullable = a.pullable(opts.Pull)
	ropt, rr := q.Options(opts.retrieval())
	var noDense bool
	ropt.Degraded = q.NoDenseSignal(&noDense)
	p, err := newAskPipeline(ctx, a, q, ropt, opts)
	if err != nil {
		return err
	}
	evidence, expansion, fellBack, err := p.context(ctx, opts.Question)
	if err != nil {
		return err
	}
	st.clear() // a warning must not share the status line
	if err := q.NoneForDamage(len(evidence)); err != nil {
		return err // not "the documents do not answer": some were not read
	}
	damaged := q.ReportDamaged()

	style := answerStyle(a, opts.JSON)

	var res *answer.Result
	dropped := []answer.Source{}
	if len(evidence) == 0 {
		st.clear()
		res = answer.Abstain()
		if !opts.JSON {
			if err := writeAnswerText(a, style, res.Answer); err != nil {
				return err
			}
		}
	} else {
		sources, left, err := p.fitNoted(ctx, a, opts.Question, evidence)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			dropped = left
		}
		msgs := p.prompt.Messages(opts.Question, sources)
		if opts.DryRun {
			return writeDryRun(a, opts, msgs, sources, dropped, expansion)
		}
		if opts.ShowPrompt {
			var b strings.Builder
			writeExpansion(&b, expansion)
			writePrompt(&b, msgs)
			fmt.Fprint(a.IO.ErrOut, a.errText(b.String()))
		}
		if res, err = p.stream(ctx, a, st, style, opts.Question, sources, opts.JSON); err != nil {
			return err
		}
	}
	if opts.JSON {
		rep := askReport{Question: opts.Question, Model: opts.Model, Mode: opts.Mode, DamagedFiles: damaged, DroppedSources: dropped, Expansion: expansion, NoDenseSignal: noDense, Degraded: fellBack, Result: res}
		if rr != nil {
			rep.RerankModel = rr.Name
		}
		if err := writeJSON(a, rep); err != nil {
			return err
		}
	}
	if res.Abstained {
		return &silentError{code: ExitNoAnswer}
	}
	if res.Uncited && opts.Strict {
		return &silentError{code: ExitUncited}
	}
	return nil
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

// fitNoted numbers the evidence and keeps the sources that fit in the
// model's context; a note names those left out.
func (p *askPipeline) fitNoted(ctx context.Context, a *App, question string, evidence []retrieve.Result) (sources, dropped []answer.Source, err error) {
	sources, dropped, err = p.fit(ctx, question, answer.Number(evidence))
	if err != nil {
		return nil, nil, err
	}
	if len(dropped) > 0 {
		var names []string
		for _, s := range dropped {
			names = append(names, s.Cite())
		}
		fmt.Fprintf(a.IO.ErrOut, "rag: note: left out, as they did not fit in the model's context (the lowest ranked first): %s\n",
			a.errText(strings.Join(names, ", ")))
	}
	return sources, dropped, nil
}

// stream asks the model about question from sources, and shows the answer
// as it arrives (unless quiet: --json), then its sources and the warnings
// about its citations.
func (p *askPipeline) stream(ctx context.Context, a *App, st *status, style render.Style, question string, sources []answer.Source, quiet bool) (*answer.Result, error) {
	st.set(fmt.Sprintf("waiting for %s…", p.chat.model))
	var stream answerStream
	var onText func(string) error
	if !quiet {
		var err error
		if stream, err = newAnswerStream(a, style); err != nil {
			return nil, err
		}
		onText = func(piece string) error {
			st.clear() // the answer replaces the status line
			return stream.Write(piece)
		}
	}
	res, err := p.prompt.Ask(ctx, p.chat, question, sources, onText)
	st.clear()
	if err != nil {
		if stream != nil {
			// Keep what arrived and end its line, so that the error
			// starts on a clean one.
			return nil, errors.Join(err, stream.Close())
		}
		return nil, err
	}
	if stream != nil {
		if err := stream.Close(); err != nil {
			return nil, err
		}
		if style == render.Plain && !strings.HasSuffix(res.Answer, "\n") {
			if _, err := fmt.Fprintln(a.IO.Out); err != nil {
				return nil, err
			}
		}
		if !res.Abstained {
			if err := writeSources(a, style, res.Sources); err != nil {
				return nil, err
			}
		}
	}
	if len(res.InvalidCitations) > 0 {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: the answer cited %s that no source has; removed: %s\n",
			howMany(len(res.InvalidCitations), "number", "numbers"), intList(res.InvalidCitations))
	}
	if res.Uncited {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: the answer cites no source: nothing in it is traced to the documents; check it against the sources\n")
	}
	if res.Truncated {
		fmt.Fprintf(a.IO.ErrOut, "rag: warning: the answer was cut off at --max-tokens %d: it may end mid-sentence; raise --max-tokens for the rest\n", p.chat.maxTokens)
	}
	return res, nil
}

// intList is "1, 7 and 9".
func intList(ns []json.Number) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
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
