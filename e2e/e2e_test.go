//go:build e2e

// Package e2e runs the built rag binary against a real Ollama server. It
// is driven by .ci/e2e, which installs and starts the server; run alone, it
// skips with a message.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type env struct {
	bin, host, model, docs, index string
}

func setup(t *testing.T) env {
	t.Helper()
	e := env{
		bin:   os.Getenv("RAG_E2E_BIN"),
		host:  os.Getenv("RAG_E2E_OLLAMA_HOST"),
		model: os.Getenv("RAG_E2E_MODEL"),
	}
	if e.bin == "" || e.host == "" || e.model == "" {
		t.Skip("skipped: the real-Ollama suite runs through .ci/e2e (RAG_E2E_BIN, RAG_E2E_OLLAMA_HOST, RAG_E2E_MODEL unset)")
	}
	e.docs = t.TempDir()
	e.index = filepath.Join(t.TempDir(), "index")
	files := map[string]string{
		"garden.md":       "# Garden\n\nThe garden has a red ball under the big tree.\n\n## Pond\n\nA little duck swims in the pond every morning.\n",
		"cat.txt":         "Once upon a time a cat named Tom lived in a small house.\nTom liked to play with a ball of yarn.\n",
		"notes/school.md": "# School\n\nLily goes to school by bus. Her teacher reads stories.\n",
	}
	for name, text := range files {
		p := filepath.Join(e.docs, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e env) cmd(extraEnv []string, args ...string) *exec.Cmd {
	c := exec.Command(e.bin, args...)
	c.Env = append(os.Environ(), "OLLAMA_HOST="+e.host, "RAG_INDEX="+e.index, "NO_COLOR=", "CLICOLOR_FORCE=", "TERM=xterm-256color")
	c.Env = append(c.Env, extraEnv...)
	return c
}

type out struct {
	stdout, stderr string
	code           int
}

func (e env) run(t *testing.T, stdin string, extraEnv []string, args ...string) out {
	t.Helper()
	c := e.cmd(extraEnv, args...)
	var so, se bytes.Buffer
	c.Stdout, c.Stderr, c.Stdin = &so, &se, strings.NewReader(stdin)
	err := c.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out{so.String(), se.String(), code}
}

func TestRealOllama(t *testing.T) {
	e := setup(t)
	ask := []string{"ask", "--model", e.model, "--max-tokens", "40", "--min-score", "-1"}

	t.Run("index", func(t *testing.T) {
		r := e.run(t, "", nil, "index", "--json", "--embed-model", e.model, e.docs)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep struct {
			Indexed       int `json:"indexed"`
			Failed        int `json:"failed"`
			ChunksWritten int `json:"chunks_written"`
			Dims          int `json:"dims"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
		}
		if rep.Indexed != 3 || rep.Failed != 0 || rep.ChunksWritten < 3 || rep.Dims != 64 {
			t.Fatalf("report: %s", r.stdout)
		}
		again := e.run(t, "", nil, "index", "--json", e.docs)
		if again.code != 0 || !strings.Contains(again.stdout, `"unchanged": 3`) || !strings.Contains(again.stdout, `"chunks_embedded": 0`) {
			t.Fatalf("re-index: exit %d: %s %s", again.code, again.stdout, again.stderr)
		}
	})
	t.Run("search", func(t *testing.T) {
		r := e.run(t, "", nil, "search", "--json", "-k", "2", "duck in the pond")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep struct {
			Results []struct {
				Path      string  `json:"path"`
				StartLine int     `json:"start_line"`
				EndLine   int     `json:"end_line"`
				Score     float64 `json:"score"`
				Text      string  `json:"text"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Results) != 2 || rep.Results[0].Path == "" || rep.Results[0].StartLine < 1 || rep.Results[0].Text == "" {
			t.Fatalf("results: %s", r.stdout)
		}
	})
	t.Run("ask streamed and piped", func(t *testing.T) {
		r := e.run(t, "", nil, append(ask, "Where does the duck swim?")...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		// The story model cites nothing: its sources are listed as given,
		// not cited (a real model's under Sources).
		if strings.Contains(r.stdout, "\x1b[") || !strings.Contains(r.stdout, "\nSources:\n[1] ") && !strings.Contains(r.stdout, "\nAlso given, not cited:\n[1] ") {
			t.Fatalf("piped answer: %q", r.stdout)
		}
		t.Logf("piped answer:\n%s", r.stdout)
	})
	t.Run("ask from stdin as json", func(t *testing.T) {
		r := e.run(t, "Who is Tom?\n", nil, append(ask, "--json", "-")...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rep struct {
			Answer    string `json:"answer"`
			Abstained bool   `json:"abstained"`
			Sources   []struct {
				N         int    `json:"n"`
				Path      string `json:"path"`
				StartLine int    `json:"start_line"`
				EndLine   int    `json:"end_line"`
			} `json:"sources"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		if rep.Answer == "" || len(rep.Sources) == 0 || rep.Sources[0].N != 1 || rep.Sources[0].Path == "" {
			t.Fatalf("report: %s", r.stdout)
		}
	})
	t.Run("ask on a terminal", func(t *testing.T) {
		c := e.cmd(nil, append(ask, "Where does the duck swim?")...)
		f, err := pty.StartWithSize(c, &pty.Winsize{Rows: 40, Cols: 100})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		done := make(chan error, 1)
		go func() { _, err := io.Copy(&buf, f); done <- err }()
		werr := c.Wait()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		if cerr := f.Close(); cerr != nil {
			t.Log(cerr)
		}
		if werr != nil {
			t.Fatalf("%v: %q", werr, buf.String())
		}
		if !strings.Contains(buf.String(), "\x1b[") || !strings.Contains(buf.String(), "Sources") && !strings.Contains(buf.String(), "not cited") {
			t.Fatalf("terminal answer not rendered: %q", buf.String())
		}
	})
	t.Run("chat piped", func(t *testing.T) {
		saved := filepath.Join(t.TempDir(), "chat.md")
		in := "Where does the duck swim?\nand the ball?\n/sources 1\n/save " + saved + "\n"
		r := e.run(t, in, nil, "chat", "--json", "--model", e.model, "--max-tokens", "40", "--min-score", "-1")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 {
			t.Fatalf("want 2 turns and /sources as JSON lines: %s", r.stdout)
		}
		var turns [3]struct {
			Turn      int    `json:"turn"`
			Typed     string `json:"typed"`
			Question  string `json:"question"`
			Rewritten bool   `json:"rewritten"`
			Answer    string `json:"answer"`
			Sources   []struct {
				Path string `json:"path"`
			} `json:"sources"`
		}
		for i, l := range lines {
			if err := json.Unmarshal([]byte(l), &turns[i]); err != nil {
				t.Fatalf("line %d: %v: %s", i+1, err, l)
			}
		}
		if turns[0].Turn != 1 || len(turns[0].Sources) == 0 || turns[1].Turn != 2 || turns[1].Typed != "and the ball?" || turns[2].Turn != 1 || len(turns[2].Sources) != len(turns[0].Sources) {
			t.Fatalf("turns: %s", r.stdout)
		}
		// The follow-up was sent to the model to be rewritten: either its
		// rewrite was searched, and shown, or it was set aside, and noted.
		shown := strings.Contains(r.stderr, "rag: searching for: "+turns[1].Question)
		noted := strings.Contains(r.stderr, "rag: note: the model's reply is not usable")
		if shown == noted || shown != turns[1].Rewritten {
			t.Fatalf("rewrite shown %v, noted %v, turn %+v: %s", shown, noted, turns[1], r.stderr)
		}
		md, err := os.ReadFile(saved)
		if err != nil || !strings.Contains(string(md), "## 2. and the ball?") {
			t.Fatalf("/save: %v: %s", err, md)
		}
		t.Logf("stderr:\n%s", r.stderr)

		plain := e.run(t, "Where does the duck swim?\n", nil, "chat", "--model", e.model, "--max-tokens", "40", "--min-score", "-1")
		if plain.code != 0 || !strings.HasPrefix(plain.stdout, "> Where does the duck swim?\n") || !strings.Contains(plain.stdout, "[1] ") {
			t.Fatalf("plain: exit %d: %s %s", plain.code, plain.stdout, plain.stderr)
		}
	})
	t.Run("mcp", func(t *testing.T) {
		// A real MCP client starts rag mcp as assistants do, and calls its
		// tools; ask goes to the real chat model.
		c := e.cmd(nil, "mcp", "--model", e.model, "--max-tokens", "40", "--min-score", "-1")
		var se bytes.Buffer
		c.Stderr = &se
		client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
		ctx := context.Background()
		cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: c}, nil)
		if err != nil {
			t.Fatalf("connect: %v: %s", err, se.String())
		}
		call := func(name string, args map[string]any) (string, map[string]any) {
			t.Helper()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
			if err != nil || res.IsError {
				t.Fatalf("%s: %v %+v: %s", name, err, res, se.String())
			}
			var text string
			for _, ct := range res.Content {
				if tc, ok := ct.(*mcp.TextContent); ok {
					text += tc.Text
				}
			}
			m, _ := res.StructuredContent.(map[string]any)
			return text, m
		}
		if text, _ := call("search", map[string]any{"query": "duck in the pond", "k": 2}); !strings.Contains(text, "garden.md") {
			t.Fatalf("search: %s", text)
		}
		if text, _ := call("get", map[string]any{"citation": "cat.txt:1"}); !strings.Contains(text, "a cat named Tom") {
			t.Fatalf("get: %s", text)
		}
		text, ask := call("ask", map[string]any{"question": "Where does the duck swim?"})
		if srcs, _ := ask["sources"].([]any); len(srcs) == 0 || !strings.Contains(text, "Sources:") {
			t.Fatalf("ask: %s %v", text, ask)
		}
		if err := cs.Close(); err != nil {
			t.Fatalf("close: %v: %s", err, se.String())
		}
		t.Logf("ask: %s", text)
	})
	t.Run("search with query expansion", func(t *testing.T) {
		// The server is asked for JSON to a schema (structured outputs); the
		// story model's reply is used if it parses, else set aside.
		r := e.run(t, "", nil, "search", "--json", "--expand", "--expand-model", e.model, "duck in the pond")
		if r.code != 0 || !strings.Contains(r.stdout, `"path": "garden.md"`) {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		if r.stderr != "" && !strings.Contains(r.stderr, "rag: warning: query expansion: the model's reply is not usable") {
			t.Fatalf("stderr: %s", r.stderr)
		}
	})
	t.Run("abstains when nothing is relevant", func(t *testing.T) {
		r := e.run(t, "", nil, "ask", "--model", e.model, "--json", "Quantum chromodynamics lattice renormalization?")
		if r.code != 4 || !strings.Contains(r.stdout, `"abstained": true`) {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("model missing", func(t *testing.T) {
		r := e.run(t, "", nil, "ask", "--model", "no-such-model", "--min-score", "-1", "Where does the duck swim?")
		if r.code != 6 || !strings.Contains(r.stderr, "rag: hint: pull it with `rag pull no-such-model` (or `ollama pull no-such-model`)") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("pull and completion read the real server's models", func(t *testing.T) {
		r := e.run(t, "", nil, "pull", "--json", e.model)
		if r.code != 0 || !strings.Contains(r.stdout, `"status": "present"`) {
			t.Fatalf("pull: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		r = e.run(t, "", nil, "__complete", "ask", "--model", "")
		if r.code != 0 || !strings.Contains(r.stdout, strings.TrimSuffix(e.model, ":latest")) {
			t.Fatalf("completion: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("ollama down", func(t *testing.T) {
		// Hybrid search falls back to keywords, and says so.
		r := e.run(t, "", []string{"OLLAMA_HOST=127.0.0.1:9"}, "search", "duck")
		if r.code != 0 || !strings.Contains(r.stderr, "rag: warning: ranked by keywords alone") || r.stdout == "" {
			t.Fatalf("fallback: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		r = e.run(t, "", []string{"OLLAMA_HOST=127.0.0.1:9"}, "search", "--fallback=false", "duck")
		if r.code != 5 || !strings.Contains(r.stderr, "rag: error: cannot reach Ollama at http://127.0.0.1:9") || !strings.Contains(r.stderr, "rag: hint: start Ollama") {
			t.Fatalf("--fallback=false: exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("fresh data", func(t *testing.T) {
		edited, deleted := "cat.txt", "garden.md"
		if err := os.WriteFile(filepath.Join(e.docs, edited), []byte("The cat sat on the warm mat all day.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(e.docs, deleted)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.docs, "new.md"), []byte("A new note about the red kite.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.run(t, "", nil, "index", "--json") // no path: refresh what was indexed
		var rep struct{ New, Changed, Unchanged, Removed, ChunksEmbedded int }
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
			t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		if rep.New != 1 || rep.Changed != 1 || rep.Removed != 1 || rep.Unchanged != 1 {
			t.Fatalf("refresh: %s", r.stdout)
		}
		r = e.run(t, "", nil, "status", "--verify", "--json")
		var st struct {
			Health string
			Files  int
			Dims   int
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || st.Health != "ok" || st.Files != 3 || st.Dims != 64 {
			t.Fatalf("status: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		if r := e.run(t, "", nil, "search", "-k", "1", "red kite"); r.code != 0 || !strings.Contains(r.stdout, "new.md") {
			t.Fatalf("search after refresh: %s %s", r.stdout, r.stderr)
		}
		r = e.run(t, "", nil, "index", "--rebuild", "--json")
		if r.code != 0 || !strings.Contains(r.stdout, `"rebuilt": true`) || !strings.Contains(r.stdout, `"total_files": 3`) {
			t.Fatalf("rebuild: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("pdf and docx", func(t *testing.T) {
		for _, name := range []string{"manual.pdf", "report.docx"} {
			data, err := os.ReadFile(filepath.Join("..", "pkg", "extract", "testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(e.docs, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := e.run(t, "", nil, "index", "--json")
		if r.code != 0 || !strings.Contains(r.stdout, `"new": 2`) {
			t.Fatalf("index: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		// The tiny model's vectors rank nothing well: ask for every chunk.
		r = e.run(t, "", nil, "search", "--json", "-k", "50", "warranty")
		var rep struct {
			Results []struct {
				Path    string `json:"path"`
				Page    int    `json:"page"`
				Heading string `json:"heading"`
				Text    string `json:"text"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
			t.Fatalf("search: exit %d, %v: %s", r.code, err, r.stderr)
		}
		var pdfPage3, docxHeading bool
		for _, res := range rep.Results {
			pdfPage3 = pdfPage3 || res.Path == "manual.pdf" && res.Page == 3 && strings.Contains(res.Text, "warranty lasts two years")
			docxHeading = docxHeading || res.Path == "report.docx" && res.Heading == "Quarterly report"
		}
		if !pdfPage3 || !docxHeading {
			t.Fatalf("no PDF page 3 chunk or no Word chunk with its heading: %s", r.stdout)
		}
	})
	t.Run("lexical and reranked search", func(t *testing.T) {
		// BM25 ranks the kite note (added by "fresh data") first, whatever the
		// tiny model's vectors say.
		r := e.run(t, "", nil, "search", "--json", "--mode", "lexical", "-k", "1", "kites")
		if r.code != 0 || !strings.Contains(r.stdout, `"path": "new.md"`) || !strings.Contains(r.stdout, `"lexical_score"`) {
			t.Fatalf("lexical: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		// Re-ranking reads real token log-probabilities from the server.
		r = e.run(t, "", nil, "search", "--json", "--rerank", "--rerank-model", e.model, "-k", "3", "How does Lily go to school?")
		var rep struct {
			RerankModel string `json:"rerank_model"`
			Results     []struct {
				Rerank *float64 `json:"rerank_score"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
			t.Fatalf("rerank: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		if rep.RerankModel != e.model || len(rep.Results) == 0 {
			t.Fatalf("rerank report: %s", r.stdout)
		}
		for i, res := range rep.Results {
			if res.Rerank == nil || *res.Rerank < 0 || *res.Rerank > 1 || i > 0 && *res.Rerank > *rep.Results[i-1].Rerank {
				t.Fatalf("judgements missing, out of [0, 1] or unordered: %s", r.stdout)
			}
		}
	})
	t.Run("eval", func(t *testing.T) {
		set := filepath.Join(t.TempDir(), "squad.json")
		squad := `{"version": "v2.0", "data": [{"title": "Garden", "paragraphs": [
 {"context": "The garden has a red ball under the big tree. A little duck swims in the pond every morning.", "qas": [
  {"id": "q1", "question": "What swims in the pond?", "answers": [{"text": "A little duck", "answer_start": 46}], "is_impossible": false},
  {"id": "q2", "question": "What is under the big tree?", "answers": [{"text": "a red ball", "answer_start": 15}], "is_impossible": false},
  {"id": "q3", "question": "What colour is the duck?", "answers": [], "is_impossible": true}]},
 {"context": "Lily goes to school by bus. Her teacher reads stories.", "qas": [
  {"id": "q4", "question": "How does Lily go to school?", "answers": [{"text": "by bus", "answer_start": 18}], "is_impossible": false}]}]}]}`
		if err := os.WriteFile(set, []byte(squad), 0o644); err != nil {
			t.Fatal(err)
		}
		corpus := filepath.Join(t.TempDir(), "corpus")
		r := e.run(t, "", nil, "eval", "--json", "--embed-model", e.model, "--corpus-index", corpus,
			"--rerank", "--rerank-model", e.model, "--model", e.model, "--max-tokens", "20", set)
		var rep struct {
			Documents int `json:"documents"`
			Retrieval []struct {
				Mode        string  `json:"mode"`
				Questions   int     `json:"questions"`
				NDCG        float64 `json:"ndcg@10"`
				LatencyP50  float64 `json:"latency_p50_ms"`
				RerankCalls float64 `json:"rerank_calls_per_query"`
			} `json:"retrieval"`
			Answers *struct {
				Answerable   int     `json:"answerable"`
				Unanswerable int     `json:"unanswerable"`
				F1           float64 `json:"f1"`
				ClosedBook   struct {
					F1 float64 `json:"f1"`
				} `json:"closed_book"`
			} `json:"answers"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil {
			t.Fatalf("eval: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
		}
		t.Logf("eval --json (numbers from a 260K-parameter story model mean nothing):\n%s", r.stdout)
		modes := []string{"dense", "lexical", "hybrid", "hybrid+rerank"}
		if rep.Documents != 2 || len(rep.Retrieval) != len(modes) || rep.Answers == nil || rep.Answers.Answerable != 3 || rep.Answers.Unanswerable != 1 {
			t.Fatalf("eval report: %s", r.stdout)
		}
		for i, m := range rep.Retrieval {
			if m.Mode != modes[i] || m.Questions != 3 || m.LatencyP50 <= 0 {
				t.Errorf("row %d: %+v", i, m)
			}
		}
		if rep.Retrieval[3].RerankCalls != 2 { // both documents judged for each question
			t.Errorf("rerank calls per query %v, want 2", rep.Retrieval[3].RerankCalls)
		}
		// Numbers from the tiny model mean nothing; the gate must still work.
		r = e.run(t, "", nil, "eval", "--embed-model", e.model, "--corpus-index", corpus, "--modes", "lexical", "--min-ndcg", "1.01", set)
		if r.code != 9 || !strings.Contains(r.stderr, "below threshold: lexical nDCG@10") || !strings.Contains(r.stdout, "nDCG@10") {
			t.Errorf("gate: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		t.Logf("eval table:\n%s%s", r.stdout, r.stderr)
	})
}
