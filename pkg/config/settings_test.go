package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func mustParse(t *testing.T, path, text string) *File {
	t.Helper()
	f, err := ParseFile(path, strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	user := "/home/u/.config/rag/config.yaml"
	project := "/p/.rag.yaml"
	tests := []struct {
		name        string
		user, proj  string
		env         map[string]string
		key         Key
		want        string
		wantOrigin  string
		wantDefault bool
	}{
		{name: "default", key: KeyModel, want: DefaultChatModel, wantOrigin: "default"},
		{name: "user file over default", user: "model: u\n", key: KeyModel, want: "u", wantOrigin: user + ":1"},
		{name: "project over user", user: "model: u\n", proj: "# c\nmodel: p\n", key: KeyModel, want: "p", wantOrigin: project + ":2"},
		{name: "env over project", user: "model: u\n", proj: "model: p\n", env: map[string]string{"RAG_MODEL": "e"}, key: KeyModel, want: "e", wantOrigin: "env RAG_MODEL"},
		{name: "embed model env", proj: "embed_model: p\n", env: map[string]string{"RAG_EMBED_MODEL": "e"}, key: KeyEmbedModel, want: "e", wantOrigin: "env RAG_EMBED_MODEL"},
		{name: "embed model unset", key: KeyEmbedModel, want: "", wantOrigin: "default (the index's model, else nomic-embed-text)"},
		{name: "relative index is the project file's folder", proj: "index: idx\n", key: KeyIndex, want: filepath.Join("/p", "idx"), wantOrigin: project + ":1"},
		{name: "index ~ is HOME", user: "index: ~/i\n", env: map[string]string{"HOME": "/h"}, key: KeyIndex, want: filepath.Join("/h", "i"), wantOrigin: user + ":1"},
		{name: "index env over files", proj: "index: idx\n", env: map[string]string{"RAG_INDEX": "/e"}, key: KeyIndex, want: "/e", wantOrigin: "env RAG_INDEX"},
		{name: "index default XDG", env: map[string]string{"XDG_DATA_HOME": "/x"}, key: KeyIndex, want: filepath.Join("/x", "rag", "index"), wantOrigin: "default"},
		{name: "ollama host env", user: "ollama_host: a:1\n", env: map[string]string{"OLLAMA_HOST": "b:2"}, key: KeyOllamaHost, want: "b:2", wantOrigin: "env OLLAMA_HOST"},
		{name: "rerank from file", proj: "rerank: yes\n", key: KeyRerank, want: "yes", wantOrigin: project + ":1"},
		{name: "k has no env", user: "search_k: 9\n", key: KeySearchK, want: "9", wantOrigin: user + ":1"},
		{name: "fusion", proj: "fusion: rrf\n", key: KeyFusion, want: "rrf", wantOrigin: project + ":1"},
		{name: "relative tokens file is the project file's folder", proj: "tokens_file: t.json\n", key: KeyTokensFile, want: filepath.Join("/p", "t.json"), wantOrigin: project + ":1"},
		{name: "tokens file env", proj: "tokens_file: t.json\n", env: map[string]string{"RAG_TOKENS_FILE": "/e.json"}, key: KeyTokensFile, want: "/e.json", wantOrigin: "env RAG_TOKENS_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var files []*File
			if tt.user != "" {
				files = append(files, mustParse(t, user, tt.user))
			}
			if tt.proj != "" {
				files = append(files, mustParse(t, project, tt.proj))
			}
			s, err := Resolve(func(k string) string { return tt.env[k] }, files...)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Get(tt.key)
			if got.Value != tt.want || got.Origin.String() != tt.wantOrigin {
				t.Errorf("%s = %q from %q; want %q from %q", tt.key, got.Value, got.Origin, tt.want, tt.wantOrigin)
			}
		})
	}
}

func TestTypedValues(t *testing.T) {
	t.Parallel()
	s, err := Resolve(func(string) string { return "" }, mustParse(t, "/c.yaml", "ask_k: 7\nmin_score: 0.25\nrerank: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Int(KeyAskK) != 7 || s.Float(KeyMinScore) != 0.25 || !s.Bool(KeyRerank) || s.Int(KeySearchK) != DefaultSearchK {
		t.Errorf("ask_k %d min_score %v rerank %v search_k %d", s.Int(KeyAskK), s.Float(KeyMinScore), s.Bool(KeyRerank), s.Int(KeySearchK))
	}
	if err := s.Set(KeyAskK, "3", Origin{Kind: FromFlag, Name: "k"}); err != nil || s.Int(KeyAskK) != 3 || s.Get(KeyAskK).Origin.String() != "flag --k" {
		t.Errorf("flag: %v, %d from %s", err, s.Int(KeyAskK), s.Get(KeyAskK).Origin)
	}
}

func TestParseFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		line       int
		unknown    bool
	}{
		{"typo", "model: x\nembedmodel: y\n", 2, true},
		{"bad mode", "mode: hybird\n", 1, false},
		{"bad bool", "\n\nrerank: maybe\n", 3, false},
		{"bad k", "search_k: 0\n", 1, false},
		{"fraction", "min_score: 2\n", 1, false},
		{"list value", "model:\n  - a\n", 2, false},
		{"twice", "model: a\nmodel: b\n", 2, false},
		{"not a mapping", "- a\n", 1, false},
		{"bad host", "ollama_host: ftp://x\n", 1, false},
		{"syntax", "model: [\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFile("/p/.rag.yaml", strings.NewReader(tt.text))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FileError", err)
			}
			if tt.line > 0 && fe.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", fe.Line, tt.line, err)
			}
			if got := errors.Is(err, ErrUnknownKey); got != tt.unknown {
				t.Errorf("unknown key = %v, want %v (%v)", got, tt.unknown, err)
			}
			if !strings.HasPrefix(err.Error(), "/p/.rag.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestParseFileEmpty(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "# only a comment\n"} {
		f, err := ParseFile("/c.yaml", strings.NewReader(text))
		if err != nil || len(f.Values) != 0 {
			t.Errorf("%q: %v, %v", text, f, err)
		}
	}
}

func TestEnvError(t *testing.T) {
	t.Parallel()
	_, err := Resolve(func(k string) string { return map[string]string{"RAG_RERANK": "perhaps"}[k] })
	var ee *EnvError
	if !errors.As(err, &ee) || ee.Var != "RAG_RERANK" {
		t.Fatalf("err = %v, want an EnvError for RAG_RERANK", err)
	}
}

func TestLocateAndLoad(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"w/.rag.yaml":                  {Data: []byte("model: proj\nindex: ./idx\n")},
		"w/sub/deeper/file.txt":        {Data: []byte("x")},
		"home/.config/rag/config.yaml": {Data: []byte("model: user\nmode: lexical\n")},
	}
	stat := func(p string) (fs.FileInfo, error) { return fs.Stat(fsys, strings.TrimPrefix(p, "/")) }
	read := func(p string) ([]byte, error) { return fs.ReadFile(fsys, strings.TrimPrefix(p, "/")) }
	env := func(k string) string { return map[string]string{"HOME": "/home"}[k] }
	files, err := Locate(env, "/w/sub/deeper", stat)
	if err != nil {
		t.Fatal(err)
	}
	if files.Project != "/w/.rag.yaml" || files.User != "/home/.config/rag/config.yaml" {
		t.Fatalf("files = %+v", files)
	}
	s, err := Load(env, files, read)
	if err != nil {
		t.Fatal(err)
	}
	if s.String(KeyModel) != "proj" || s.String(KeyMode) != "lexical" || s.String(KeyIndex) != "/w/idx" {
		t.Errorf("model %q mode %q index %q", s.String(KeyModel), s.String(KeyMode), s.String(KeyIndex))
	}
	if len(s.Files) != 2 {
		t.Errorf("files read = %v", s.Files)
	}

	t.Run("no project file, no user file", func(t *testing.T) {
		files, err := Locate(func(string) string { return "" }, "/home", stat)
		if err != nil || files != (Files{}) {
			t.Fatalf("files = %+v, %v", files, err)
		}
		s, err := Load(func(string) string { return "" }, Files{User: "/nope/config.yaml"}, read)
		if err != nil || len(s.Files) != 0 {
			t.Fatalf("%v, %v", s, err)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		_, err := Load(env, Files{User: "/u"}, func(string) ([]byte, error) { return nil, os.ErrPermission })
		var fe *FileError
		if !errors.As(err, &fe) || fe.Path != "/u" {
			t.Fatalf("err = %v", err)
		}
	})
}

// FuzzParseFile feeds the config file parser anything: it must never panic,
// every failure must name the file, and every value it accepts must be one
// its setting takes.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"model: qwen2.5:7b\nrerank: true\n", "index: .ragidx\n", "# only a comment\n", "",
		"search_k: 0\n", "mode: [a, b]\n", "nope: 1\n", "model: a\nmodel: b\n", "- a\n- b\n", "a: &x 1\nb: *x\n",
		"providers:\n  local:\n    type: openai\n    base_url: http://h:8080/v1\n    api_key_env: K\n    headers:\n      X-A: b\n",
		"providers:\n  x:\n    type: ollama\n", "providers: 1\n", "providers:\n  a:b: {}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		const path = "/p/.rag.yaml"
		file, err := ParseFile(path, strings.NewReader(text))
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != path {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		for k, v := range file.Values {
			sp, ok := specOf(k)
			if !ok {
				t.Fatalf("unknown key %q accepted", k)
			}
			if k != KeyIndex {
				if err := sp.check(v); err != nil {
					t.Fatalf("%s: accepted %q: %v", k, v, err)
				}
			}
			if file.Lines[k] < 1 {
				t.Fatalf("%s: no line", k)
			}
		}
	})
}
