package cli

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/schollz/progressbar/v3"

	"github.com/rag-cli/rag/internal/render"
)

// clearLine returns the cursor to the start of the line and erases all of
// it: also what the terminal echoed there (^C) past the end of a bar.
const clearLine = "\r\x1b[2K"

// progress draws a bar on stderr when stderr is a terminal; elsewhere (a
// CI log, a file) it writes a line every progressEvery, unless --quiet.
type progress struct {
	a    *App
	what string
	bar  *progressbar.ProgressBar
	// last is when a line was last written (or the first count came).
	mu   sync.Mutex
	last time.Time
}

// progressEvery is how often a log gets a progress line: often enough to
// show a long run is alive, rarely enough not to flood it.
const progressEvery = 5 * time.Second

func newProgress(a *App) *progress { return &progress{a: a} }

func (p *progress) start(what string) { p.what = what }

// logLine writes "rag: WHAT: DONE of TOTAL (N%)" when stderr is not a
// terminal and progressEvery has passed since the last line (by the
// App's clock, so tests control it).
func (p *progress) logLine(done, total int64, count func(int64) string) {
	if p.a.quiet || total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.a.Now()
	if p.last.IsZero() {
		p.last = now
		return
	}
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	fmt.Fprintf(p.a.IO.ErrOut, "rag: %s: %s of %s (%d%%)\n", p.what, count(done), count(total), done*100/total)
}

func (p *progress) set(done, total int) {
	if !p.a.IO.IsStderrTTY() {
		p.logLine(int64(done), int64(total), func(n int64) string { return strconv.FormatInt(n, 10) })
		return
	}
	if total == 0 {
		return
	}
	if p.bar == nil {
		p.bar = p.newBar(int64(total))
	}
	_ = p.bar.Set(done) // drawing progress is best effort
}

// setBytes is set for a count of bytes.
func (p *progress) setBytes(done, total int64) {
	if !p.a.IO.IsStderrTTY() {
		p.logLine(done, total, humanBytes)
		return
	}
	if total == 0 {
		return
	}
	if p.bar == nil {
		p.bar = p.newBar(total, progressbar.OptionShowBytes(true))
	}
	_ = p.bar.Set64(done) // drawing progress is best effort
}

func (p *progress) newBar(total int64, opts ...progressbar.Option) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total, append([]progressbar.Option{
		progressbar.OptionSetWriter(p.a.IO.ErrOut),
		progressbar.OptionSetDescription(p.what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100_000_000),
		// Redraw with erase-line rather than padding with spaces,
		// and keep the bar within the terminal: a bar that wraps
		// leaves its first rows behind when it is cleared.
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionSetWidth(max(10, min(40, p.a.IO.TerminalWidth()-len(p.what)-40))),
	}, opts...)...)
}

// done erases the bar, also when the run was interrupted, so that the
// error or summary that follows starts on a clean line.
func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Exit()                                // stops the bar; best effort, like drawing
		_, _ = io.WriteString(p.a.IO.ErrOut, clearLine) // best effort too
		p.bar = nil
	}
}

// spinnerFrames are drawn in turn before a status message.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// status shows on stderr what a command is waiting for ("retrieving…",
// "waiting for MODEL…") behind a spinner, only when stderr is a terminal
// that can redraw a line. It is drawn at once, and erased by clear before
// anything else is written, so it never mixes with output or errors.
type status struct {
	w     io.Writer
	width int
	on    bool

	mu    sync.Mutex
	msg   string
	frame int
	shown bool
	stop  chan struct{}
	done  chan struct{}
}

func newStatus(a *App) *status {
	return &status{w: a.IO.ErrOut, width: a.IO.TerminalWidth(), on: a.IO.IsStderrTTY() && a.IO.CanRedrawErr()}
}

// set shows msg, replacing the message shown before.
func (s *status) set(msg string) {
	if !s.on {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msg = render.EscapeLine(msg)
	s.drawLocked()
	if s.stop == nil {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.spin(s.stop, s.done)
	}
}

func (s *status) spin(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.mu.Lock()
			s.frame++
			s.drawLocked()
			s.mu.Unlock()
		}
	}
}

func (s *status) drawLocked() {
	// One row only: a line that wraps could not be erased.
	line := ansi.Truncate(spinnerFrames[s.frame%len(spinnerFrames)]+" "+s.msg, max(1, s.width-1), "…")
	_, _ = fmt.Fprint(s.w, clearLine+line) // a status line is best effort
	s.shown = true
}

// clear erases the status line and stops the spinner; it may be called
// more than once.
func (s *status) clear() {
	if !s.on {
		return
	}
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.done = nil, nil
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shown {
		_, _ = io.WriteString(s.w, clearLine) // best effort, like drawing
		s.shown = false
	}
}
