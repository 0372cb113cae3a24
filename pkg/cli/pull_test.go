package cli

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const question = "How many times does the client retry a failed upload?"

func TestPull(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		tty       bool
		code      int
		stdout    string
		stderr    string // a substring; "" means stderr must be empty
		wantPulls []string
	}{
		{name: "what the index and settings need, piped", env: map[string]string{"RAG_MODEL": "new-chat"}, args: []string{"pull"},
			stdout: embedModel + ": already on the server\nnew-chat: pulled\n", wantPulls: []string{"new-chat"}},
		{name: "re-rank model when rerank is on", env: map[string]string{"RAG_MODEL": chatModel, "RAG_RERANK": "1", "RAG_RERANK_MODEL": "new-judge"}, args: []string{"pull"},
			stdout: embedModel + ": already on the server\n" + chatModel + ": already on the server\nnew-judge: pulled\n", wantPulls: []string{"new-judge"}},
		{name: "named models", args: []string{"pull", "new-embed", chatModel, "new-embed"},
			stdout: "new-embed: pulled\n" + chatModel + ": already on the server\n", wantPulls: []string{"new-embed"}},
		{name: "progress on a terminal", args: []string{"pull", "new-embed"}, tty: true,
			stdout: "new-embed: pulled\n", stderr: "pulling new-embed", wantPulls: []string{"new-embed"}},
		{name: "json", env: map[string]string{"RAG_MODEL": "new-chat"}, args: []string{"pull", "--json"},
			stdout:    "{\n  \"models\": [\n    {\n      \"model\": \"fake-embed\",\n      \"status\": \"present\"\n    },\n    {\n      \"model\": \"new-chat\",\n      \"status\": \"pulled\"\n    }\n  ]\n}\n",
			wantPulls: []string{"new-chat"}},
		{name: "not in the registry", args: []string{"pull", "no-such-model"}, code: ExitModel,
			stderr: "rag: error: pull no-such-model: pull model manifest: file does not exist\nrag: hint: check the name", wantPulls: []string{"no-such-model"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mustIndex()
			h.srv.Registry("new-chat", "new-embed", "new-judge")
			for k, v := range tt.env {
				h.env[k] = v
			}
			r := h.run(runOpt{tty: tt.tty}, tt.args...)
			if r.code != tt.code || r.stdout != tt.stdout {
				t.Errorf("exit %d, stdout %q; want %d, %q; stderr %q", r.code, r.stdout, tt.code, tt.stdout, r.stderr)
			}
			if tt.stderr == "" && r.stderr != "" || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr = %q, want %q", r.stderr, tt.stderr)
			}
			if got := h.srv.Pulls(); !slices.Equal(got, tt.wantPulls) {
				t.Errorf("pulled %q, want %q", got, tt.wantPulls)
			}
		})
	}
}

func TestPullMissingModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// removed is taken off the server after indexing.
		removed   string
		args      []string
		tty       bool
		stdin     string
		code      int
		prompt    bool
		wantPulls []string
	}{
		{name: "ask --pull", args: []string{"ask", "--pull", "--model", "new-chat", question}, wantPulls: []string{"new-chat"}},
		{name: "search --pull", removed: embedModel, args: []string{"search", "--pull", "retry failed upload"}, wantPulls: []string{embedModel}},
		{name: "search --pull re-rank model", args: []string{"search", "--pull", "--rerank", "--rerank-model", "new-judge", "retry failed upload"}, wantPulls: []string{"new-judge"}},
		{name: "index --pull", args: []string{"index", "--pull", "--index", "NEWINDEX", "--embed-model", "new-embed", "DOCS"}, wantPulls: []string{"new-embed"}},
		{name: "--pull of a model the registry lacks", args: []string{"ask", "--pull", "--model", "no-such-model", question}, code: ExitModel, wantPulls: []string{"no-such-model"}},
		{name: "piped: never pulls unasked", args: []string{"ask", "--model", "new-chat", question}, stdin: "y\n", code: ExitModel},
		{name: "piped index: never pulls unasked", args: []string{"index", "--index", "NEWINDEX", "--embed-model", "new-embed", "DOCS"}, code: ExitModel},
		{name: "terminal, answered y", args: []string{"ask", "--model", "new-chat", question}, tty: true, stdin: "y\n", prompt: true, wantPulls: []string{"new-chat"}},
		{name: "terminal index, answered yes", args: []string{"index", "--index", "NEWINDEX", "--embed-model", "new-embed", "DOCS"}, tty: true, stdin: "yes\n", prompt: true, wantPulls: []string{"new-embed"}},
		{name: "terminal, answered n", args: []string{"ask", "--model", "new-chat", question}, tty: true, stdin: "n\n", prompt: true, code: ExitModel},
		{name: "terminal, no answer (EOF)", args: []string{"search", "--rerank", "--rerank-model", "new-judge", "retry"}, tty: true, prompt: true, code: ExitModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.mustIndex()
			h.srv.Registry("new-chat", "new-embed", "new-judge", embedModel)
			if tt.removed != "" {
				h.srv.Remove(tt.removed)
			}
			args := slices.Clone(tt.args)
			for i, a := range args {
				switch a {
				case "NEWINDEX":
					args[i] = filepath.Join(t.TempDir(), "index")
				case "DOCS":
					args[i] = h.docs
				}
			}
			r := h.run(runOpt{tty: tt.tty, stdin: tt.stdin}, args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.code, r.stderr)
			}
			if got := h.srv.Pulls(); !slices.Equal(got, tt.wantPulls) {
				t.Errorf("pulled %q, want %q", got, tt.wantPulls)
			}
			asked := strings.Contains(r.stderr, "is not on the Ollama server. Pull it now? [y/N] ")
			if asked != tt.prompt {
				t.Errorf("prompted = %v, want %v; stderr %q", asked, tt.prompt, r.stderr)
			}
			if tt.code == ExitModel && len(tt.wantPulls) == 0 && (!strings.Contains(r.stderr, "rag pull ") || !strings.Contains(r.stderr, "--pull")) {
				t.Errorf("hint does not name rag pull and --pull: %q", r.stderr)
			}
			if tt.code == 0 && len(tt.wantPulls) > 0 && !strings.Contains(r.stderr, "rag: pulled "+tt.wantPulls[0]) {
				t.Errorf("no note of the pull: %q", r.stderr)
			}
		})
	}
}

func TestPullReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.srv.Registry("new-chat")
	// Without an index, the configured embedding model is the one needed.
	h.env["RAG_EMBED_MODEL"] = embedModel2
	h.env["RAG_MODEL"] = "new-chat"
	r := h.run(runOpt{}, "pull", "--json")
	var rep pullReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
	}
	want := []pulled{{embedModel2, "present"}, {"new-chat", "pulled"}}
	if !slices.Equal(rep.Models, want) {
		t.Errorf("models = %+v, want %+v", rep.Models, want)
	}
}

// TestPullNoteEscaped: the note that the index's model cannot be read
// names the index's catalog, escaped on a terminal as every message with
// a file name is (it was written raw).
func TestPullNoteEscaped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["RAG_MODEL"] = chatModel
	h.env["RAG_INDEX"] = filepath.Join(t.TempDir(), "evil\x1b[2Jindex")
	write(t, filepath.Join(h.env["RAG_INDEX"], "catalog"), "not a catalog")
	for _, tty := range []bool{true, false} {
		r := h.run(runOpt{tty: tty}, "pull", "--embed-model", embedModel)
		want := "rag: note: cannot read the index's model (index file " + h.env["RAG_INDEX"]
		if tty {
			want = `rag: note: cannot read the index's model (index file ` + strings.ReplaceAll(h.env["RAG_INDEX"], "\x1b", `\x1b`)
		}
		if r.code != 0 || !strings.Contains(r.stderr, want) || tty && strings.Contains(r.stderr, "\x1b[2J") {
			t.Errorf("tty %v: exit %d, stderr %q", tty, r.code, r.stderr)
		}
	}
}
