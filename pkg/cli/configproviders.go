package cli

import (
	"cmp"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/engine"
)

// configProvider is a provider as `rag config --json` shows it: the name
// of its key's variable and whether it is set, never the key; header
// names, never their values (they may hold credentials).
type configProvider struct {
	Type          string            `json:"type"`
	BaseURL       string            `json:"base_url"`
	APIKeyEnv     string            `json:"api_key_env,omitempty"`
	APIKey        string            `json:"api_key,omitempty"` // "set" or "unset"
	Headers       map[string]string `json:"headers,omitempty"`
	ContextLength int               `json:"context_length,omitempty"`
	Rerank        string            `json:"rerank,omitempty"`
	BatchSize     int               `json:"batch_size,omitempty"`
	Parallel      int               `json:"parallel,omitempty"`
	Origin        string            `json:"origin"`
}

// configRole is which model and provider serve one model role.
type configRole struct {
	Setting  string `json:"setting"`
	Model    string `json:"model"`
	Provider string `json:"provider"` // "ollama" for Ollama at OLLAMA_HOST
	Type     string `json:"type"`
	BaseURL  string `json:"base_url"`
}

// redacted stands for a value rag never shows.
const redacted = "[redacted]"

// describeProviders are the providers and the roles they serve; nil
// without providers, so that `rag config --json` is as it was.
func describeProviders(a *App, g *globalOptions) (map[string]configProvider, map[string]configRole) {
	if len(a.cfg.Providers()) == 0 {
		return nil, nil
	}
	ps := map[string]configProvider{}
	for name, p := range a.cfg.Providers() {
		cp := configProvider{Type: p.Type, BaseURL: p.BaseURL, APIKeyEnv: p.APIKeyEnv, ContextLength: p.ContextLength,
			Rerank: p.Rerank, BatchSize: p.BatchSize, Parallel: p.Parallel, Origin: p.Origin.String()}
		if p.APIKeyEnv != "" {
			cp.APIKey = "unset"
			if a.Env(p.APIKeyEnv) != "" {
				cp.APIKey = "set"
			}
		}
		if len(p.Headers) > 0 {
			cp.Headers = map[string]string{}
			for h := range p.Headers {
				cp.Headers[h] = redacted
			}
		}
		ps[name] = cp
	}
	roles := map[string]configRole{}
	for _, r := range modelRoles(a, g) {
		roles[r.role] = a.role(r.key, r.model)
	}
	return ps, roles
}

type modelRole struct {
	role  string
	key   config.Key
	model string
}

// modelRoles are the model settings in effect: the embedding model (the
// index's when none is set, else the default), the chat model,
// re-ranking's and expansion's (the chat model's when none is set).
func modelRoles(a *App, g *globalOptions) []modelRole {
	chat := a.cfg.String(config.KeyModel)
	// The first model NeededModels gives is the embedding model: the
	// index's, else the one set, else the default.
	embed := config.DefaultEmbedModel
	if cfg, err := a.engineConfig(g.IndexDir, g); err == nil {
		// A store URL that does not parse leaves the default: rag config
		// shows the settings, and says what is wrong with that one.
		embed = engine.New(cfg).NeededModels(engine.Retrieval{}, chat, nil)[0]
	}
	return []modelRole{
		{"embedding", config.KeyEmbedModel, embed},
		{"chat", config.KeyModel, chat},
		{"rerank", config.KeyRerankModel, a.cfg.String(config.KeyRerankModel)},
		{"expansion", config.KeyExpandModel, cmp.Or(a.cfg.String(config.KeyExpandModel), chat)},
	}
}

func (a *App) role(key config.Key, model string) configRole {
	if p, ok := a.cfg.ProviderOf(model); ok {
		return configRole{Setting: string(key), Model: model, Provider: p.Name, Type: p.Type, BaseURL: p.BaseURL}
	}
	host := a.cfg.String(config.KeyOllamaHost)
	if u, err := config.OllamaHost(host); err == nil {
		host = u.String()
	}
	return configRole{Setting: string(key), Model: model, Provider: "ollama", Type: config.ProviderOllama, BaseURL: host}
}

// writeProviders adds the providers and the roles they serve to `rag
// config`'s text; nothing without providers.
func writeProviders(b *strings.Builder, a *App, g *globalOptions) {
	ps, roles := describeProviders(a, g)
	if ps == nil {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nproviders:")
	for _, name := range a.cfg.ProviderNames() {
		p := ps[name]
		key := "no API key"
		if p.APIKeyEnv != "" {
			key = fmt.Sprintf("key in %s (%s)", p.APIKeyEnv, p.APIKey)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", name, p.Type, p.BaseURL, key, p.Origin)
	}
	fmt.Fprintln(tw, "\nroles:")
	for _, r := range modelRoles(a, g) {
		role := roles[r.role]
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.role, role.Model, role.Provider, role.BaseURL)
	}
	_ = tw.Flush() // a strings.Builder does not fail
}
