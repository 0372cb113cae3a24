package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rag-cli/rag/internal/iostreams"
	"github.com/rag-cli/rag/internal/render"
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/filestat"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/rewrite"
)

// ChatOptions are the settings of `rag chat`: those of ask, and the
// session a conversation is kept under.
type ChatOptions struct {
	AskOptions
	// Session names a conversation kept between runs ("" none).
	Session string
}

func newChatCmd(a *App, g *globalOptions) *cobra.Command {
	opts := &ChatOptions{AskOptions: AskOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Ask questions in turn, follow-ups included, each answered from the documents",
		Long: `Chat reads questions a line at a time, on a terminal with line editing and
history, or from stdin when it is piped, and answers each the way rag ask does:
from the retrieved chunks only, with numbered sources, refusing when the
documents do not hold the answer.

From the second question on, the chat model first rewrites the question into
one that stands on its own ("and how long does it take?" becomes "How long
does the kettle take to boil water?"), using the last turns; the rewrite is
shown before the search and is what is searched and answered. A rewrite that
is not drawn from the conversation is not used: the question is searched as
typed. Answers are made from each turn's own sources, never from earlier
answers, so every claim stays traceable to a document. When rag index has
changed the index since the last question, the next is answered from the
index as it is now.

Commands:
  /sources [N]   the sources of the last answer (or of turn N), with their text
  /save FILE     write the conversation to FILE: Markdown, or JSON for *.json
  /clear         forget the conversation: the next question is not rewritten
  /help          this list
  /exit, /quit   end the chat (as do Ctrl-D and, on a terminal, Ctrl-C)

With --session NAME the conversation is kept (in $XDG_STATE_HOME/rag/chats,
else ~/.local/state/rag/chats) after every turn, and the next rag chat
--session NAME goes on from it: follow-ups are understood, /sources and
/save reach the earlier turns.

Piped, each turn's answer and sources follow a "> QUESTION" line on stdout,
and rewrites are noted on stderr; --json writes one JSON object per turn and
line (turn, typed, question, rewritten, answer, sources, ...), and /sources
one with turn and sources. A failure
(Ollama down, a missing model) ends the chat with its exit code; a refusal
does not. The chat ends with 0 when its input does.`,
		Example: `  rag chat
  printf 'What is the retry policy?\nand how many times?\n' | rag chat
  rag chat --json --model qwen2.5:7b < questions.txt
  rag chat --session onboarding`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(); err != nil {
				return err
			}
			if cmd.Flags().Changed("session") {
				if opts.Session == "" {
					return usagef("--session: a name is needed")
				}
				if err := checkName(opts.Session); err != nil {
					return usagef("--session: %v", err)
				}
			}
			return a.withPull(cmd.Context(), opts.Pull, func() error { return chatRun(cmd.Context(), a, opts) })
		},
	}
	bindAnswer(cmd.Flags(), a, &opts.AskOptions)
	cmd.Flags().StringVar(&opts.Session, "session", "", "keep the conversation under this name and go on from it next time")
	return cmd
}

// chatTurn is one question and its answer, as --json, /save and /sources
// show it.
type chatTurn struct {
	Turn int `json:"turn"`
	// Typed is the line as the user wrote it; Question what was searched
	// and answered: the standalone rewrite when Rewritten.
	Typed          string              `json:"typed"`
	Question       string              `json:"question"`
	Rewritten      bool                `json:"rewritten"`
	Expansion      *retrieve.Expansion `json:"expansion,omitempty"`
	DroppedSources []answer.Source     `json:"dropped_sources"`
	// Degraded is set when hybrid retrieval ranked by keywords alone.
	Degraded *engine.Degraded `json:"degraded,omitempty"`
	*answer.Result
}

// chatSession is a chat's state: the open index, how it answers, the
// turns so far and the conversation a follow-up is rewritten against.
type chatSession struct {
	a           *App
	opts        *ChatOptions
	q           *engine.Reader
	ask         engine.AskOptions
	st          *status
	style       render.Style
	interactive bool
	turns       []chatTurn
	history     []rewrite.Turn
	// session is the file the conversation is kept in ("" none).
	session string
}

func chatRun(ctx context.Context, a *App, opts *ChatOptions) (err error) {
	st := newStatus(a)
	defer st.clear()
	q, err := openForQueryWith(ctx, a, opts.globalOptions, &opts.RetrievalOptions, a.answerEvents(st, opts.ShowPrompt))
	if err != nil {
		return err
	}
	defer closeWith(&err, q) // the index as Refresh last opened it
	q.Pullable = a.pullable(opts.Pull)
	if q.Empty() {
		return q.EmptyError()
	}
	o, err := opts.askOptions(ctx)
	if err != nil {
		return err
	}
	s := &chatSession{a: a, opts: opts, q: q, ask: o, st: st, style: answerStyle(a, opts.JSON), interactive: a.IO.IsStdinTTY()}
	if opts.Session != "" {
		if err := s.openSession(opts.Session); err != nil {
			return err
		}
	}
	if s.interactive {
		m := q.Store().Manifest()
		fmt.Fprintf(a.IO.ErrOut, "rag chat: %s answers from %s in %s. /help lists the commands; Ctrl-D ends.\n",
			opts.Model, plural(len(m.Files), "file"), a.errText(q.Store().Dir()))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the pipe reader's goroutine
	next := readLines(ctx, a.IO.Lines("> "), s.interactive)
	for {
		line, err := next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if name, arg, ok := chatCommand(line); ok {
			done, err := s.command(name, arg)
			if err != nil || done {
				return err
			}
			continue
		}
		if err := s.turn(ctx, line); err != nil {
			return err
		}
	}
}

// readLines returns a function that reads the next line, or the reason
// there is none: io.EOF at the end of input, ctx's error once it is
// cancelled. A pipe is read ahead by one line in a goroutine, so that
// SIGTERM ends a chat that waits for its writer; a terminal is read in
// place, as it is in raw mode while a line is read and must be restored
// before rag exits (Ctrl-C there is a key that ends the input).
func readLines(ctx context.Context, lines iostreams.LineReader, terminal bool) func() (string, error) {
	read := func() (string, error) {
		l, err := lines.ReadLine()
		if err != nil && !errors.Is(err, io.EOF) {
			err = fmt.Errorf("read a question: %w", err)
		}
		return l, err
	}
	if terminal {
		return func() (string, error) {
			l, err := read()
			if err == nil {
				err = ctx.Err()
			}
			return l, err
		}
	}
	type line struct {
		text string
		err  error
	}
	ch := make(chan line)
	go func() {
		for {
			l, err := read()
			select {
			case ch <- line{l, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return func() (string, error) {
		select {
		case l := <-ch:
			if err := ctx.Err(); err != nil {
				return "", err
			}
			return l.text, l.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// chatCommands are the commands a line may start with.
var chatCommands = []string{"sources", "save", "clear", "help", "exit", "quit"}

// chatCommand splits a line that is a command ("/save notes.md") into its
// name and argument. A line whose first word names a path ("/etc/hosts:
// what is it for?") is a question; any other "/word" is a command, known
// or not, so that a mistyped one is not sent off as a question.
func chatCommand(line string) (name, arg string, ok bool) {
	rest, ok := strings.CutPrefix(line, "/")
	if !ok {
		return "", "", false
	}
	name, arg, _ = strings.Cut(rest, " ")
	if name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return name, strings.TrimSpace(arg), true
}

// command runs a chat command; done ends the chat.
func (s *chatSession) command(name, arg string) (done bool, err error) {
	a := s.a
	switch name {
	case "exit", "quit":
		return true, nil
	case "help":
		_, err := fmt.Fprint(a.IO.ErrOut, `Ask a question, or:
  /sources [N]   the sources of the last answer (or of turn N), with their text
  /save FILE     write the conversation to FILE: Markdown, or JSON for *.json
  /clear         forget the conversation: the next question is not rewritten
  /exit, /quit   end the chat (as does Ctrl-D)
`)
		return false, err
	case "clear":
		s.history = nil
		fmt.Fprintln(a.IO.ErrOut, "rag: the conversation is forgotten; the next question is taken as it stands")
		return false, s.saveSession()
	case "sources":
		return false, s.sources(arg)
	case "save":
		if arg == "" {
			fmt.Fprintln(a.IO.ErrOut, "rag: /save needs a file name: /save FILE")
			return false, nil
		}
		if err := s.save(arg); err != nil {
			// A bad path must not end the conversation.
			fmt.Fprintf(a.IO.ErrOut, "rag: error: %s\n", a.errText(err.Error()))
			return false, nil
		}
		fmt.Fprintf(a.IO.ErrOut, "rag: saved %s to %s\n", plural(len(s.turns), "turn"), a.errText(arg))
		return false, nil
	}
	fmt.Fprintf(a.IO.ErrOut, "rag: unknown command /%s; /help lists them (%s)\n", a.errText(name), "/"+strings.Join(chatCommands, ", /"))
	return false, nil
}

// turn answers one question.
func (s *chatSession) turn(ctx context.Context, typed string) error {
	a, opts := s.a, s.opts
	t := chatTurn{Turn: len(s.turns) + 1, Typed: typed, Question: typed, DroppedSources: []answer.Source{}}
	if !s.interactive && !opts.JSON {
		// The transcript on stdout says which question each answer is for.
		if _, err := fmt.Fprintf(a.IO.Out, "> %s\n", typed); err != nil {
			return err
		}
	}
	q, rewritten, err := s.q.Rewrite(ctx, s.history, typed, s.ask)
	if err != nil {
		return err
	}
	if rewritten {
		t.Question, t.Rewritten = q, true
		fmt.Fprintf(a.IO.ErrOut, "rag: searching for: %s\n", a.errText(q))
	}
	// What `rag index` changed since the last turn is answered from.
	if err := s.q.Refresh(ctx, opts.View.who()); err != nil {
		return err
	}
	out, err := newAnswerOut(a, s.st, s.style, opts.JSON)
	if err != nil {
		return err
	}
	res, err := s.q.Ask(ctx, engine.AskRequest{Question: t.Question, AskOptions: s.ask}, out.token())
	if err != nil {
		return out.fail(err)
	}
	t.Expansion, t.Degraded, t.DroppedSources, t.Result = res.Expansion, res.Degraded, res.DroppedSources, res.Answer
	if err := out.finish(res); err != nil {
		return err
	}
	s.turns = append(s.turns, t)
	s.history = append(s.history, rewrite.Turn{Question: t.Question, Answer: t.Result.Answer})
	if err := s.saveSession(); err != nil {
		return err
	}
	if opts.JSON {
		return writeJSONLine(a, t)
	}
	_, err = fmt.Fprintln(a.IO.Out) // a blank line between turns
	return err
}

// writeJSONLine writes v as one line of JSON (JSON Lines), escaped as
// writeJSON escapes.
func writeJSONLine(a *App, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	a.wroteJSONLines = true
	_, err = a.IO.Out.Write(render.EscapeJSON(append(b, '\n')))
	return err
}

// sources shows the sources of turn arg (default: the last) with their
// text: what the model read.
func (s *chatSession) sources(arg string) error {
	a := s.a
	if len(s.turns) == 0 {
		fmt.Fprintln(a.IO.ErrOut, "rag: no answer yet")
		return nil
	}
	n := len(s.turns)
	if arg != "" {
		v, err := strconv.Atoi(arg)
		if err != nil || v < 1 || v > len(s.turns) {
			fmt.Fprintf(a.IO.ErrOut, "rag: /sources takes a turn number from 1 to %d\n", len(s.turns))
			return nil
		}
		n = v
	}
	t := s.turns[n-1]
	if s.opts.JSON {
		return writeJSONLine(a, struct {
			Turn    int             `json:"turn"`
			Sources []answer.Source `json:"sources"`
		}{t.Turn, t.Sources})
	}
	var b strings.Builder
	if len(t.Sources) == 0 {
		fmt.Fprintf(&b, "Turn %d had no sources: the documents did not answer it.\n", n)
	}
	for _, src := range t.Sources {
		cited := "not cited"
		if src.Cited {
			cited = "cited"
		}
		fmt.Fprintf(&b, "[%d] %s (%s)\n", src.N, src.Cite(), cited)
		for _, l := range strings.Split(strings.TrimRight(src.Text, "\n"), "\n") {
			if l == "" {
				b.WriteString("\n") // no trailing spaces
				continue
			}
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	out := b.String()
	if a.IO.EscapeUntrusted() {
		out = render.Escape(out) // the documents' text
	}
	_, err := fmt.Fprint(a.IO.Out, out)
	return err
}

// save writes the conversation to path, whole or not at all: JSON (an
// array of turns) for a .json name, else Markdown.
func (s *chatSession) save(path string) error {
	var data []byte
	if strings.EqualFold(filepath.Ext(path), ".json") {
		turns := s.turns
		if turns == nil {
			turns = []chatTurn{}
		}
		b, err := json.MarshalIndent(turns, "", "  ")
		if err != nil {
			return err
		}
		data = append(b, '\n')
	} else {
		data = []byte(s.markdown())
	}
	return filestat.WriteFileAtomic(path, data, 0o644)
}

// markdown is the conversation as a Markdown document.
func (s *chatSession) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# rag chat\n\n%s, %s; model %s.\n", s.a.Now().UTC().Format("2006-01-02 15:04 UTC"), s.q.Store().Dir(), s.opts.Model)
	for _, t := range s.turns {
		fmt.Fprintf(&b, "\n## %d. %s\n\n", t.Turn, t.Typed)
		if t.Rewritten {
			fmt.Fprintf(&b, "*Searched for:* %s\n\n", t.Question)
		}
		fmt.Fprintf(&b, "%s\n", strings.TrimSpace(t.Result.Answer))
		if len(t.Sources) > 0 {
			b.WriteString("\nSources:\n\n")
			for _, src := range t.Sources {
				note := ""
				if !src.Cited {
					note = " (given, not cited)"
				}
				fmt.Fprintf(&b, "- [%d] `%s`%s\n", src.N, src.Cite(), note)
			}
		}
	}
	return b.String()
}

// sessionVersion is the format of a session file.
const sessionVersion = 1

// sessionFile is a chat session on disk: its turns, and from which of them
// the conversation a follow-up is rewritten against starts (after /clear).
type sessionFile struct {
	Version int `json:"version"`
	// As and Tenant are whose conversation it is: its sources are what
	// they may see, so nobody else goes on with it.
	As          string     `json:"as"`
	Tenant      string     `json:"tenant,omitempty"`
	Turns       []chatTurn `json:"turns"`
	ContextFrom int        `json:"context_from"`
}

// asker is who asks, as a session records it.
func (o *ChatOptions) asker() (as, tenant string) {
	return cmp.Or(o.View.As, "public"), o.View.Tenant
}

// openSession reads the session name, when there is one, and goes on from
// it.
func (s *chatSession) openSession(name string) error {
	dir := config.StateDir(s.a.Env)
	if dir == "" {
		return &hintedError{err: errors.New("no place to keep chat sessions"), hint: "set HOME or XDG_STATE_HOME, or chat without --session"}
	}
	s.session = filepath.Join(dir, "chats", name+".json")
	data, err := os.ReadFile(s.session)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a new session
	}
	if err != nil {
		return err
	}
	var f sessionFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version != sessionVersion || f.ContextFrom < 0 || f.ContextFrom > len(f.Turns) {
		if err == nil {
			err = fmt.Errorf("version %d, context from turn %d of %d", f.Version, f.ContextFrom, len(f.Turns))
		}
		return &hintedError{err: fmt.Errorf("chat session %s: %w", s.session, err),
			hint: "move the file away, or chat under another --session name"}
	}
	if as, tenant := s.opts.asker(); f.As != as || f.Tenant != tenant {
		// Whose it is is theirs to know: neither principal nor tenant is named.
		return &hintedError{err: fmt.Errorf("chat session %s belongs to someone else", name),
			hint: "its sources are what its asker may see: chat under another --session name"}
	}
	for i, t := range f.Turns {
		if t.Result == nil || t.Turn != i+1 {
			return &hintedError{err: fmt.Errorf("chat session %s: turn %d is damaged", s.session, i+1),
				hint: "move the file away, or chat under another --session name"}
		}
	}
	s.turns = f.Turns
	for _, t := range f.Turns[f.ContextFrom:] {
		s.history = append(s.history, rewrite.Turn{Question: t.Question, Answer: t.Result.Answer})
	}
	fmt.Fprintf(s.a.IO.ErrOut, "rag: going on with chat session %s (%s so far)\n", s.a.errText(name), plural(len(s.turns), "turn"))
	return nil
}

// saveSession keeps the conversation in its session file, whole or not
// at all, after every turn.
func (s *chatSession) saveSession() error {
	if s.session == "" {
		return nil
	}
	turns := s.turns
	if turns == nil {
		turns = []chatTurn{}
	}
	as, tenant := s.opts.asker()
	data, err := json.Marshal(sessionFile{Version: sessionVersion, As: as, Tenant: tenant, Turns: turns, ContextFrom: len(s.turns) - len(s.history)})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.session), 0o700); err != nil {
		return fmt.Errorf("keep the chat session: %w", err)
	}
	if err := filestat.WriteFileAtomic(s.session, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("keep the chat session: %w", err)
	}
	return nil
}
