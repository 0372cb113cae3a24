package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptySession runs the real rag (this test binary as "rag", see TestMain)
// on a pseudo-terminal, as a person would, and records what it draws and
// when each piece arrived.
type ptySession struct {
	t    testing.TB
	cmd  *exec.Cmd
	tty  *os.File
	done chan struct{}

	mu     sync.Mutex
	out    bytes.Buffer
	chunks []ptyChunk
}

type ptyChunk struct {
	end int // offset in out just past this read
	at  time.Time
}

func startPTY(t testing.TB, h *harness, args ...string) *ptySession {
	t.Helper()
	bin, err := exec.LookPath("rag") // put on PATH by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"OLLAMA_HOST=" + h.srv.URL, "RAG_INDEX=" + h.index, "TERM=xterm-256color", "HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	s := &ptySession{t: t, cmd: cmd, tty: f, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				s.mu.Lock()
				s.out.Write(buf[:n])
				s.chunks = append(s.chunks, ptyChunk{end: s.out.Len(), at: time.Now()})
				s.mu.Unlock()
			}
			if err != nil {
				return // EIO once rag has exited
			}
		}
	}()
	return s
}

// waitFor waits until the output holds text and returns when it arrived.
func (s *ptySession) waitFor(text string, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if at, ok := s.seen(text); ok {
			return at, true
		}
		time.Sleep(time.Millisecond)
	}
	return time.Time{}, false
}

// seen returns when text first appeared in the output.
func (s *ptySession) seen(text string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := bytes.Index(s.out.Bytes(), []byte(text))
	if i < 0 {
		return time.Time{}, false
	}
	for _, c := range s.chunks {
		if c.end >= i+len(text) {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// wait waits for rag to exit and returns its exit code and all it drew.
func (s *ptySession) wait() (int, string) {
	s.t.Helper()
	err := s.cmd.Wait()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
	if cerr := s.tty.Close(); cerr != nil {
		s.t.Log(cerr)
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return code, s.out.String()
}

// streamedAnswer is long enough, at the pace set, to stream for a second.
var streamedAnswer = "Streamed " + strings.Repeat("words of the answer ", 5) + "per the retry policy [1]."

// askOnPTY asks on a terminal with the model streaming at a timed pace and
// returns how long the first token took from the model to the screen.
func askOnPTY(t testing.TB, h *harness) (latency time.Duration, code int, out string, beforeEnd bool) {
	t.Helper()
	s := startPTY(t, h, "ask", "--model", chatModel, "How many times does the client retry a failed upload?")
	code, out = s.wait()
	first, last := h.srv.ChatTimes()
	seen, ok := s.seen("Streamed")
	if first.IsZero() || !ok {
		t.Fatalf("exit %d; no answer on the terminal: %q", code, out)
	}
	return seen.Sub(first), code, out, seen.Before(last)
}

func TestAskStreamsOnTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	h.srv.SetResponder(func(_, _ string) string { return streamedAnswer })
	h.srv.SetChatPace(300*time.Millisecond, 40*time.Millisecond)
	latency, code, out, beforeEnd := askOnPTY(t, h)
	if code != 0 {
		t.Fatalf("exit %d: %q", code, out)
	}
	// Timing goals belong to BenchmarkFirstTokenToScreen; here the figure
	// is only logged, and the test asserts the answer is drawn while the
	// model still writes.
	t.Logf("first token to screen: %v", latency)
	if !beforeEnd {
		t.Errorf("the answer appeared only after the model finished: %q", out)
	}
	status := strings.Index(out, "waiting for "+chatModel+"…")
	if status < 0 || status > strings.Index(out, "Streamed") {
		t.Errorf("no status line while waiting for the model: %q", out)
	}
	got := screen(t, out)
	plain := sgr.ReplaceAllString(got, "")
	if strings.Contains(plain, "waiting for") || strings.Contains(plain, "retrieving") {
		t.Errorf("status line left on the screen:\n%s", plain)
	}
	if !strings.Contains(plain, "per the retry policy [1].") || !strings.Contains(plain, "retry.txt:1-4") {
		t.Errorf("final screen lacks the answer or its sources:\n%s", plain)
	}
	if strings.Count(plain, "Streamed") != 1 {
		t.Errorf("the answer is drawn more than once on the final screen:\n%s", plain)
	}
}

func TestAskInterruptedOnTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		first, next time.Duration
		interruptAt string // interrupt once this shows
		keepsAnswer bool
	}{
		{"while waiting for the model", 10 * time.Second, 0, "waiting for " + chatModel, false},
		{"mid-stream", 0, 300 * time.Millisecond, "Streamed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mustIndex()
			h.srv.SetResponder(func(_, _ string) string { return streamedAnswer })
			h.srv.SetChatPace(tt.first, tt.next)
			s := startPTY(t, h, "ask", "--model", chatModel, "How many times does the client retry a failed upload?")
			if _, ok := s.waitFor(tt.interruptAt, 10*time.Second); !ok {
				code, out := s.wait()
				t.Fatalf("exit %d before %q showed: %q", code, tt.interruptAt, out)
			}
			if _, err := s.tty.Write([]byte{3}); err != nil { // Ctrl-C, as typed
				t.Fatal(err)
			}
			code, out := s.wait()
			if code != ExitInterrupted {
				t.Fatalf("exit %d, want %d: %q", code, ExitInterrupted, out)
			}
			got := sgr.ReplaceAllString(screen(t, out), "")
			lines := strings.Split(strings.TrimRight(got, "\n "), "\n")
			var errLine int
			for errLine = range lines {
				if strings.Contains(lines[errLine], "rag: error:") {
					break
				}
			}
			if lines[errLine] != "rag: error: interrupted" {
				t.Errorf("the error does not start a clean line: %q\n%s", lines[errLine], got)
			}
			if strings.Contains(got, "waiting for") || strings.Contains(got, "⠋") || strings.Contains(got, "^C") {
				t.Errorf("status line left on the screen:\n%s", got)
			}
			if tt.keepsAnswer && !strings.Contains(strings.Join(lines[:errLine], "\n"), "Streamed") {
				t.Errorf("the part of the answer that arrived is gone:\n%s", got)
			}
		})
	}
}

// BenchmarkFirstTokenToScreen measures, on a pseudo-terminal, the time from
// the model emitting its first token to that text being drawn by rag ask.
// The goal is under 100 ms. Measured (20 runs, 2 shared cores): mean
// 1.1 ms, worst 1.8-3.7 ms; before Live warmed glamour up the worst was 69 ms.
func BenchmarkFirstTokenToScreen(b *testing.B) {
	h := newHarness(b)
	h.mustIndex()
	h.srv.SetResponder(func(_, _ string) string { return streamedAnswer })
	h.srv.SetChatPace(50*time.Millisecond, 10*time.Millisecond)
	var total, worst time.Duration
	for b.Loop() {
		latency, code, out, _ := askOnPTY(b, h)
		if code != 0 {
			b.Fatalf("exit %d: %q", code, out)
		}
		total += latency
		worst = max(worst, latency)
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-first-token-to-screen")
	b.ReportMetric(float64(worst.Microseconds())/1000, "ms-worst")
}

// output is what rag has drawn so far.
func (s *ptySession) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}
