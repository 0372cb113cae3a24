package config

import (
	"strings"
	"testing"
)

func TestProviders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       Provider // Name "" when an error is wanted
		err        string
	}{
		{"openai", "providers:\n  local:\n    type: openai\n    base_url: http://127.0.0.1:8080/v1\n    api_key_env: LOCAL_API_KEY\n    headers:\n      X-Team: t\n    context_length: 4096\n    rerank: endpoint\n    batch_size: 64\n    parallel: 2\n",
			Provider{Name: "local", Type: "openai", BaseURL: "http://127.0.0.1:8080/v1", APIKeyEnv: "LOCAL_API_KEY", ContextLength: 4096, Rerank: "endpoint", BatchSize: 64, Parallel: 2}, ""},
		{"ollama", "providers:\n  gpu:\n    type: ollama\n    base_url: http://gpu:11434\n", Provider{Name: "gpu", Type: "ollama", BaseURL: "http://gpu:11434"}, ""},
		{"unknown field", "providers:\n  x:\n    type: openai\n    base_url: http://h/v1\n    api_key: sk-x\n", Provider{}, `:5: providers: x: unknown field "api_key"`},
		{"unknown type", "providers:\n  x:\n    type: claude\n    base_url: http://h/v1\n", Provider{}, `:3: providers: x: type: unknown type "claude"`},
		{"no base_url", "providers:\n  x:\n    type: openai\n", Provider{}, "base_url: is missing"},
		{"no type", "providers:\n  x:\n    base_url: http://h/v1\n", Provider{}, "type: is missing"},
		{"a key in api_key_env", "providers:\n  x:\n    type: openai\n    base_url: http://h/v1\n    api_key_env: sk-abc-123\n", Provider{}, "not the key"},
		{"user in the URL", "providers:\n  x:\n    type: openai\n    base_url: http://u:p@h/v1\n", Provider{}, "no user or password"},
		{"not a URL", "providers:\n  x:\n    type: openai\n    base_url: h:8080\n", Provider{}, "want an http:// or https:// URL"},
		{"colon in the name", "providers:\n  a:b:\n    type: openai\n    base_url: http://h/v1\n", Provider{}, "no colon"},
		{"rerank on ollama", "providers:\n  x:\n    type: ollama\n    base_url: http://h\n    rerank: chat\n", Provider{}, "rerank: is for a provider of type openai"},
		{"not a mapping", "providers: [a]\n", Provider{}, "want a NAME:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFile("/p/.rag.yaml", strings.NewReader(tt.text))
			if tt.want.Name == "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := f.Providers[tt.want.Name]
			got.Origin = Origin{}
			if got.Name != tt.want.Name || got.Type != tt.want.Type || got.BaseURL != tt.want.BaseURL || got.APIKeyEnv != tt.want.APIKeyEnv ||
				got.ContextLength != tt.want.ContextLength || got.Rerank != tt.want.Rerank || got.BatchSize != tt.want.BatchSize || got.Parallel != tt.want.Parallel {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

// TestProvidersLayered: the project's provider replaces the user's of the
// same name whole; ProviderOf takes a model's prefix only when it names a
// provider.
func TestProvidersLayered(t *testing.T) {
	t.Parallel()
	user, err := ParseFile("/u/config.yaml", strings.NewReader("providers:\n  local:\n    type: openai\n    base_url: http://a/v1\n    api_key_env: K\n  other:\n    type: ollama\n    base_url: http://b\n"))
	if err != nil {
		t.Fatal(err)
	}
	project, err := ParseFile("/p/.rag.yaml", strings.NewReader("providers:\n  local:\n    type: openai\n    base_url: http://c/v1\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(func(string) string { return "" }, user, project)
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Providers()["local"]; p.BaseURL != "http://c/v1" || p.APIKeyEnv != "" || p.Origin.String() != "/p/.rag.yaml:2" {
		t.Fatalf("local = %+v", p)
	}
	if names := strings.Join(s.ProviderNames(), ","); names != "local,other" {
		t.Fatalf("names = %s", names)
	}
	for model, want := range map[string]bool{"local:qwen3": true, "other:x:y": true, "llama3.2:3b": false, "local": false} {
		if _, ok := s.ProviderOf(model); ok != want {
			t.Errorf("ProviderOf(%q) = %v", model, ok)
		}
	}
}
