package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/provider"
)

// TestClassifyProvider: a configured provider's failures exit as Ollama's
// do, with hints naming the provider and the key's variable; Ollama's own
// (Provider "") keep their words.
func TestClassifyProvider(t *testing.T) {
	t.Parallel()
	status := func(code int, keySet bool) error {
		return &provider.StatusError{StatusCode: code, Err: errors.New("x"), Provider: "local", KeyEnv: "LOCAL_API_KEY", KeySet: keySet}
	}
	tests := []struct {
		name string
		err  error
		code int
		hint string
	}{
		{"wrong key", status(401, true), ExitOllama, "provider local refused the API key in LOCAL_API_KEY: set LOCAL_API_KEY to a valid key"},
		{"key not set", status(401, false), ExitOllama, "LOCAL_API_KEY is not set: set it to the API key of provider local"},
		{"forbidden", status(403, true), ExitOllama, "check that the key may use the model"},
		{"no key variable", &provider.StatusError{StatusCode: 401, Err: errors.New("x"), Provider: "local"}, ExitOllama, "name that variable with api_key_env:"},
		{"rate-limited", &embed.RetryError{Model: "local:e", Attempts: 3, Err: status(429, true)}, ExitOllama, "kept rate-limiting rag (HTTP 429, retried with back-off)"},
		{"failing", &embed.RetryError{Model: "local:e", Attempts: 3, Err: status(500, true)}, ExitOllama, "provider local kept failing"},
		{"wrong base_url", status(404, true), ExitOllama, "base_url: should be the API's root with its version"},
		{"unreachable", &provider.UnreachableError{Host: "http://h/v1", Err: errors.New("refused"), Provider: "local"}, ExitOllama, "start the server of provider local"},
		{"model missing", &provider.ModelNotFoundError{Model: "local:m", Role: provider.RoleChat, Provider: "local", NoPull: true}, ExitModel, "check the name after local:"},
		{"cannot pull", &provider.NoPullError{Model: "local:m", Provider: "local", Type: "openai"}, ExitModel, "provider local's server cannot pull"},
		{"Ollama's 401", &provider.StatusError{StatusCode: 401, Err: errors.New("x")}, ExitOllama, "the server at OLLAMA_HOST asks for authorization"},
		{"Ollama's model", &provider.ModelNotFoundError{Model: "m", Role: provider.RoleChat}, ExitModel, "pull it with `rag pull m`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, hint := classify(tt.err)
			if code != tt.code || !strings.Contains(hint, tt.hint) {
				t.Fatalf("classify = %d, %q", code, hint)
			}
		})
	}
}
