package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// configHarness is a harness with a project folder holding .rag.yaml and
// a user config folder.
func configHarness(t *testing.T, project, user string) (h *harness, projDir, sub string) {
	t.Helper()
	h = newHarness(t)
	projDir = t.TempDir()
	sub = filepath.Join(projDir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if project != "" {
		write(t, filepath.Join(projDir, ".rag.yaml"), project)
	}
	cfgHome := t.TempDir()
	if user != "" {
		write(t, filepath.Join(cfgHome, "rag", "config.yaml"), user)
	}
	h.env["XDG_CONFIG_HOME"] = cfgHome
	return h, projDir, sub
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	h, projDir, sub := configHarness(t, "# project\nmodel: proj-chat\nmode: dense\nindex: idx\n", "model: user-chat\nmode: lexical\nfusion: rrf\nask_k: 7\n")
	user := filepath.Join(h.env["XDG_CONFIG_HOME"], "rag", "config.yaml")
	proj := filepath.Join(projDir, ".rag.yaml")
	delete(h.env, "RAG_INDEX")
	h.env["RAG_MODE"] = "hybrid"
	r := h.run(runOpt{dir: sub}, "config", "--json", "--embed-model", "flag-embed")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep configReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	tests := []struct {
		key, value, source, origin string
	}{
		{"embed_model", "flag-embed", "flag", "flag --embed-model"},
		{"mode", "hybrid", "env", "env RAG_MODE"},
		{"model", "proj-chat", "file", proj + ":2"},
		{"index", filepath.Join(projDir, "idx"), "file", proj + ":4"},
		{"fusion", "rrf", "file", user + ":3"},
		{"ask_k", "7", "file", user + ":4"},
		{"search_k", "5", "default", "default"},
		{"ollama_host", h.srv.URL, "env", "env OLLAMA_HOST"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got := rep.Settings[tt.key]
			if got.Value != tt.value || got.Source != tt.source || got.Origin != tt.origin {
				t.Errorf("%s = %+v, want %q from %s (%s)", tt.key, got, tt.value, tt.source, tt.origin)
			}
		})
	}
	if rep.Files.User != (configFile{Path: user, Found: true}) || rep.Files.Project != (configFile{Path: proj, Found: true}) {
		t.Errorf("files = %+v", rep.Files)
	}

	t.Run("text", func(t *testing.T) {
		r := h.run(runOpt{dir: sub}, "config")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{"model          proj-chat", proj + ":2", "env RAG_MODE", "search_k       5"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("no %q in\n%s", want, r.stdout)
			}
		}
	})
	t.Run("path", func(t *testing.T) {
		r := h.run(runOpt{dir: sub}, "config", "path")
		if r.code != 0 || !strings.Contains(r.stdout, "user     "+user) || !strings.Contains(r.stdout, "project  "+proj) {
			t.Errorf("exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("help shows the effective default", func(t *testing.T) {
		r := h.run(runOpt{dir: sub}, "ask", "--help")
		for _, want := range []string{`(default "proj-chat")`, `(default "hybrid")`, `(default 7)`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("no %s in help:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("verbose prints the settings on stderr", func(t *testing.T) {
		r := h.run(runOpt{dir: sub}, "-v", "config", "path")
		if strings.Contains(r.stderr, "rag: model") {
			t.Errorf("config path printed settings: %s", r.stderr)
		}
		r = h.run(runOpt{dir: sub}, "index", "-v", "--index", filepath.Join(t.TempDir(), "i"), "--embed-model", embedModel, h.docs)
		if r.code != 0 || !strings.Contains(r.stderr, "rag: skipped ") {
			t.Errorf("index -v: exit %d, no skipped files listed: %s", r.code, r.stderr)
		}
		r = h.run(runOpt{dir: sub}, "status", "--verbose", "--index", filepath.Join(t.TempDir(), "none"))
		for _, want := range []string{"rag: model = proj-chat (" + proj + ":2)", "rag: index = ", "(flag --index)", "rag: took "} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("no %q in stderr:\n%s", want, r.stderr)
			}
		}
	})
}

func TestConfigTakesEffect(t *testing.T) {
	t.Parallel()
	h, projDir, sub := configHarness(t, "index: ragidx\nembed_model: "+embedModel+"\nmodel: "+chatModel+"\nsearch_k: 1\n", "")
	delete(h.env, "RAG_INDEX")
	r := h.run(runOpt{dir: sub}, "index", "--json", h.docs)
	if r.code != 0 {
		t.Fatalf("index: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(projDir, "ragidx", "catalog")); err != nil {
		t.Errorf("the index is not in the project file's folder: %v", err)
	}
	r = h.run(runOpt{dir: sub}, "search", "--json", "retry failed upload")
	var rep searchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Results) != 1 {
		t.Errorf("search_k: 1 gave %d results (%v): %s", len(rep.Results), err, r.stderr)
	}
	// The default chat model (llama3.2) is not on the fake server: the
	// project's model: is what answers.
	r = h.run(runOpt{dir: sub}, "ask", "How many times does the client retry a failed upload?")
	if r.code != 0 {
		t.Errorf("ask: exit %d: %s", r.code, r.stderr)
	}
	h.env["RAG_MODEL"] = "from-env"
	r = h.run(runOpt{dir: sub}, "ask", "--json", "How many times does the client retry a failed upload?")
	if r.code != ExitModel || !strings.Contains(r.stderr, `"from-env"`) {
		t.Errorf("RAG_MODEL over the file: exit %d: %s", r.code, r.stderr)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		project, user  string
		env            map[string]string
		args           []string
		err, hint      string
		wantFileInPath bool
	}{
		{name: "typo in project file", project: "model: x\nembedmodel: y\n", args: []string{"search", "x"},
			err: `.rag.yaml:2: unknown setting "embedmodel"`, hint: "embed_model"},
		{name: "bad value in user file", user: "mode: hybird\n", args: []string{"ask", "x"},
			err: `config.yaml:1: mode: unknown value "hybird"`, hint: "fix or remove that line"},
		{name: "bad environment", env: map[string]string{"RAG_RERANK": "perhaps"}, args: []string{"search", "x"},
			err: "RAG_RERANK: rerank: want true or false", hint: "fix or unset RAG_RERANK"},
		{name: "bad OLLAMA_HOST", env: map[string]string{"OLLAMA_HOST": "ftp://x"}, args: []string{"config"},
			err: "OLLAMA_HOST", hint: "fix or unset OLLAMA_HOST"},
		{name: "bad flag value", args: []string{"search", "--mode", "nope", "x"}, err: "--mode: unknown value", hint: "rag search --help"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _, sub := configHarness(t, tt.project, tt.user)
			for k, v := range tt.env {
				h.env[k] = v
			}
			r := h.run(runOpt{dir: sub}, tt.args...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want %d: %s", r.code, ExitUsage, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "rag: error: ") || !strings.Contains(lines[0], tt.err) ||
				!strings.HasPrefix(lines[1], "rag: hint: ") || !strings.Contains(lines[1], tt.hint) {
				t.Errorf("stderr = %q, want error %q and hint %q", r.stderr, tt.err, tt.hint)
			}
			// The files can still be found, and help still shows.
			if r := h.run(runOpt{dir: sub}, "config", "path"); r.code != 0 {
				t.Errorf("config path: exit %d: %s", r.code, r.stderr)
			}
			for _, args := range [][]string{{"--help"}, {"help", "config"}, {"completion", "bash"}, {"version"}} {
				if r := h.run(runOpt{dir: sub}, args...); r.code != 0 {
					t.Errorf("%s: exit %d: %s", args, r.code, r.stderr)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	info := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/rag-cli/rag", Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"}}}, true
	}
	fromBuild := func(a *App) { a.Version, a.BuildInfo = "", info }
	tests := []struct {
		name  string
		setup func(*App)
		args  []string
		want  string
	}{
		{"flag", fromBuild, []string{"--version"}, "rag v1.2.3 (0123456789ab, 2026-01-02T03:04:05Z, modified)\n"},
		{"command", fromBuild, []string{"version"}, "rag v1.2.3 (0123456789ab, 2026-01-02T03:04:05Z, modified)\n"},
		{"ldflags wins", func(a *App) { a.Version, a.BuildInfo = "v9.0.0", info }, []string{"version"}, "rag v9.0.0 (0123456789ab, 2026-01-02T03:04:05Z, modified)\n"},
		{"no build info", func(a *App) {
			a.Version, a.BuildInfo = "", func() (*debug.BuildInfo, bool) { return nil, false }
		}, []string{"version"}, "rag (devel)\n"},
		{"json", fromBuild, []string{"version", "--json"}, `{
  "version": "v1.2.3",
  "revision": "0123456789abcdef0123",
  "time": "2026-01-02T03:04:05Z",
  "modified": true,
  "go_version": "go1.26.8"
}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := h.run(runOpt{setup: tt.setup}, tt.args...)
			if r.code != 0 || r.stdout != tt.want {
				t.Errorf("exit %d, stdout %q, want %q; stderr %q", r.code, r.stdout, tt.want, r.stderr)
			}
		})
	}
	t.Run("-v is verbose, not version", func(t *testing.T) {
		t.Parallel()
		r := h.run(runOpt{setup: fromBuild}, "-v", "status", "--json")
		if strings.Contains(r.stdout, "v1.2.3") || !strings.Contains(r.stderr, "rag: index = ") {
			t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
		}
	})
}
