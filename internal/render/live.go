package render

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/glamour"
	xansi "github.com/charmbracelet/x/ansi"
)

// LiveInterval is the shortest time between two redraws of a Live answer:
// often enough to read as continuous, rarely enough that re-rendering a
// long answer costs little (and twice the last render's time when that is
// longer). The first piece is drawn at once.
const LiveInterval = 50 * time.Millisecond

// Live shows a streamed markdown answer on a terminal as it is written: on
// each update it renders the whole answer so far with glamour, moves the
// cursor up over what it drew before and draws it again, as charmbracelet's
// mods does. Redraws are throttled to LiveInterval. Only the lines still on
// the screen can be redrawn: when the answer grows taller than the
// terminal, the lines that scroll off stay as they were drawn and only the
// last height-1 lines are redrawn. Close draws the final rendering, the
// same glamour output Markdown gives. The terminal must understand cursor
// up and erase below (not TERM=dumb).
type Live struct {
	mu       sync.Mutex
	w        io.Writer
	r        *glamour.TermRenderer
	width    int
	height   int
	md       strings.Builder
	drawn    int // length of md when last drawn
	rows     int // screen rows of the part that can still be redrawn
	frozen   int // rendered lines that scrolled off and stay as they are
	last     time.Time
	cost     time.Duration // how long the last render took
	timer    *time.Timer
	closed   bool
	err      error
	interval time.Duration
}

// NewLive returns a Live writing to w, a terminal of the given size.
// style is Styled or Unstyled.
func NewLive(w io.Writer, style Style, width, height int) (*Live, error) {
	r, err := newRenderer(style, width)
	if err != nil {
		return nil, err
	}
	// The first render sets glamour up (styles, parser); done now, while
	// the model is still reading its prompt, it does not delay the first
	// token on the screen.
	if _, err := r.Render("warm *up*"); err != nil {
		return nil, fmt.Errorf("render markdown: %w", err)
	}
	return &Live{w: w, r: r, width: max(1, width), height: max(2, height), interval: LiveInterval}, nil
}

// Write takes the next piece of the answer; it is drawn at once if the
// last redraw is old enough, else at the end of the interval.
func (l *Live) Write(piece string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.closed {
		return l.err
	}
	l.md.WriteString(piece)
	if l.timer != nil {
		return nil // a redraw is already due
	}
	// Long answers take longer to render (about 19 ms for 1,000 words):
	// waiting at least twice that keeps redrawing to a third of a core.
	if wait := max(l.interval, 2*l.cost) - time.Since(l.last); wait > 0 && !l.last.IsZero() {
		l.timer = time.AfterFunc(wait, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.timer = nil
			if !l.closed && l.err == nil {
				l.err = l.draw(false)
			}
		})
		return nil
	}
	l.err = l.draw(false)
	return l.err
}

// Close draws the whole answer a last time and ends its last line. It is
// also what ends an interrupted answer: what arrived stays on the screen
// and the cursor is left at the start of a fresh line.
func (l *Live) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return l.err
	}
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if l.err != nil {
		return l.err
	}
	if l.md.Len() == 0 {
		return nil
	}
	l.err = l.draw(true)
	return l.err
}

// draw renders the answer so far and replaces the redrawable part of the
// screen with it. The cursor stays at the end of the last line, so that
// the next draw knows where it is without asking the terminal.
func (l *Live) draw(final bool) error {
	// The final draw happens even when the text has not changed: it also
	// erases what the terminal echoed after it (^C when interrupted).
	if l.md.Len() == l.drawn && !final {
		return nil
	}
	text := l.md.String()
	start := time.Now()
	out, err := l.r.Render(Escape(text))
	l.cost = time.Since(start)
	if err != nil {
		return fmt.Errorf("render markdown: %w", err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var b strings.Builder
	if l.rows > 0 {
		b.WriteByte('\r')
		if l.rows > 1 {
			fmt.Fprintf(&b, "\x1b[%dA", l.rows-1)
		}
		b.WriteString("\x1b[J")
	}
	if l.frozen > len(lines) {
		l.frozen = len(lines) // the answer got shorter (reflowed): nothing to redraw above
	}
	rest := lines[l.frozen:]
	// Keep on the screen (and so redrawable) only the last lines that fit
	// in height-1 rows; the row left over holds the cursor.
	keep, rows := len(rest), 0
	for keep > 0 {
		r := l.rowsOf(rest[keep-1])
		if rows+r > l.height-1 && keep < len(rest) {
			break
		}
		rows += r
		keep--
	}
	b.WriteString(strings.Join(rest, "\n"))
	if final {
		b.WriteByte('\n')
		rows = 0
	}
	l.frozen += keep
	l.rows = rows
	l.drawn = len(text)
	l.last = time.Now()
	_, err = io.WriteString(l.w, b.String())
	return err
}

// rowsOf is how many terminal rows line takes, colour codes not counted.
func (l *Live) rowsOf(line string) int {
	w := xansi.StringWidth(line)
	if w <= l.width {
		return 1
	}
	return (w + l.width - 1) / l.width
}
