//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestFirstHour runs what a new user meets first against the real server:
// a failed first run, opening a citation, damage and its repair, and the
// answer streamed on a terminal.
func TestFirstHour(t *testing.T) {
	e := setup(t)

	t.Run("a failed first run leaves no trap", func(t *testing.T) {
		r := e.run(t, "", nil, "index", "--embed-model", "no-such-embedder", e.docs)
		if r.code != 6 {
			t.Fatalf("unknown model: exit %d: %s", r.code, r.stderr)
		}
		r = e.run(t, "", nil, "status", "--json")
		var st struct {
			Health     string `json:"health"`
			EmbedModel string `json:"embed_model"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Health != "empty" || st.EmbedModel != "" {
			t.Fatalf("status after the failed run: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		r = e.run(t, "", nil, "index", "--json", "--embed-model", e.model, e.docs)
		if r.code != 0 || !strings.Contains(r.stdout, `"dims": 64`) {
			t.Fatalf("the right model after a failed run: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("show opens a citation of ask", func(t *testing.T) {
		r := e.run(t, "", nil, "ask", "--json", "--model", e.model, "--max-tokens", "20", "--min-score", "-1", "Where does the duck swim?")
		var ans struct {
			Sources []struct {
				Path      string `json:"path"`
				StartLine int    `json:"start_line"`
				EndLine   int    `json:"end_line"`
				Text      string `json:"text"`
			} `json:"sources"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &ans); r.code != 0 || err != nil || len(ans.Sources) == 0 {
			t.Fatalf("ask: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		src := ans.Sources[0]
		cite := src.Path + ":" + strconv.Itoa(src.StartLine) + "-" + strconv.Itoa(src.EndLine)
		r = e.run(t, "", nil, "show", cite)
		first := strings.SplitN(strings.TrimSpace(src.Text), "\n", 2)[0]
		if r.code != 0 || !strings.HasPrefix(r.stdout, src.Path+":") || !strings.Contains(r.stdout, first) {
			t.Fatalf("show %s: exit %d: %q %s", cite, r.code, r.stdout, r.stderr)
		}
	})

	t.Run("a damaged object is repaired, not fatal", func(t *testing.T) {
		objs, err := filepath.Glob(filepath.Join(e.index, "objects", "*", "*.chk"))
		if err != nil || len(objs) == 0 {
			t.Fatalf("no objects: %v", err)
		}
		data, err := os.ReadFile(objs[0])
		if err != nil {
			t.Fatal(err)
		}
		for i := len(data) / 2; i < len(data)/2+3; i++ {
			data[i] ^= 0xff
		}
		if err := os.WriteFile(objs[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
		type report struct {
			Results      []json.RawMessage `json:"results"`
			DamagedFiles []string          `json:"damaged_files"`
		}
		for _, mode := range []string{"lexical", "hybrid"} {
			r := e.run(t, "", nil, "search", "--json", "--mode", mode, "-k", "10", "duck pond cat ball school")
			var rep report
			if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil || len(rep.DamagedFiles) != 1 || len(rep.Results) == 0 {
				t.Fatalf("%s search over damage: exit %d, %v: %s %s", mode, r.code, err, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "rag: warning: left out 1 file whose stored chunks are damaged: "+rep.DamagedFiles[0]) {
				t.Errorf("no warning naming %s: %s", rep.DamagedFiles[0], r.stderr)
			}
		}
		r := e.run(t, "", nil, "index", "--json")
		var idx struct {
			Repaired       int `json:"repaired"`
			ChunksEmbedded int `json:"chunks_embedded"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &idx); r.code != 0 || err != nil || idx.Repaired != 1 || idx.ChunksEmbedded == 0 {
			t.Fatalf("repair: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		r = e.run(t, "", nil, "status", "--verify", "--json")
		if r.code != 0 || !strings.Contains(r.stdout, `"health": "ok"`) {
			t.Fatalf("status after repair: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("ask streams on a terminal", func(t *testing.T) {
		c := e.cmd(nil, "ask", "--model", e.model, "--max-tokens", "60", "--min-score", "-1", "Where does the duck swim?")
		f, err := pty.StartWithSize(c, &pty.Winsize{Rows: 40, Cols: 100})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		type piece struct {
			at   time.Duration
			data string
		}
		var pieces []piece
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 4096)
			for {
				n, err := f.Read(buf)
				if n > 0 {
					pieces = append(pieces, piece{time.Since(start), string(buf[:n])})
				}
				if err != nil {
					return
				}
			}
		}()
		werr := c.Wait()
		end := time.Since(start)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		if cerr := f.Close(); cerr != nil {
			t.Log(cerr)
		}
		<-done // the reader ends once the pty is closed
		var all bytes.Buffer
		waiting, answered := time.Duration(-1), time.Duration(-1)
		for _, p := range pieces {
			all.WriteString(p.data)
			if waiting < 0 && strings.Contains(p.data, "waiting for "+e.model) {
				waiting = p.at
			} else if waiting >= 0 && answered < 0 && !strings.Contains(p.data, "waiting for") {
				answered = p.at
			}
		}
		if werr != nil {
			t.Fatalf("%v: %q", werr, all.String())
		}
		if waiting < 0 || answered < 0 || !strings.Contains(all.String(), "Sources") && !strings.Contains(all.String(), "not cited") {
			t.Fatalf("no status line, or no answer after it: %q", all.String())
		}
		t.Logf("on a pty: status %q at %v, first answer text at %v, done at %v (%d writes)", "waiting for "+e.model, waiting, answered, end, len(pieces))
	})
}
