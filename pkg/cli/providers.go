package cli

import (
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/pflag"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/openai"
	"github.com/rag-cli/rag/pkg/provider"
)

// models is the client every model role goes through, with timeout:
// Ollama at OLLAMA_HOST, and with providers configured a provider.Router
// that sends PROVIDER:MODEL to that provider's server. Without providers
// it is the Ollama client itself, so that nothing changes for those who
// have none.
func (a *App) models(timeout time.Duration) (provider.Client, error) {
	def, err := a.ollama()
	if err != nil {
		return nil, err
	}
	def.Timeout = timeout
	if len(a.cfg.Providers()) == 0 {
		return def, nil
	}
	r := &provider.Router{Default: def, Named: map[string]provider.Named{}}
	for _, name := range a.cfg.ProviderNames() {
		p := a.cfg.Providers()[name]
		c, err := a.providerClient(p, timeout)
		if err != nil {
			return nil, err
		}
		r.Named[name] = provider.Named{Client: c, Type: p.Type}
	}
	return r, nil
}

// providerClient is the client of one configured provider. Its API key
// is read from the variable the config names, here and nowhere else.
func (a *App) providerClient(p config.Provider, timeout time.Duration) (provider.Client, error) {
	if p.Type == config.ProviderOllama {
		host, err := config.OllamaHost(p.BaseURL)
		if err != nil {
			return nil, &hintedError{err: &usageError{err: fmt.Errorf("provider %s: %w", p.Name, err)}, hint: fmt.Sprintf("fix base_url: of provider %s (%s)", p.Name, p.Origin)}
		}
		c := ollama.New(host, a.HTTP)
		c.Timeout = timeout
		return c, nil
	}
	u, err := url.Parse(p.BaseURL)
	if err != nil {
		return nil, &hintedError{err: &usageError{err: fmt.Errorf("provider %s: base_url: %w", p.Name, err)}, hint: fmt.Sprintf("fix base_url: of provider %s (%s)", p.Name, p.Origin)}
	}
	var key string
	if p.APIKeyEnv != "" {
		key = a.Env(p.APIKeyEnv)
	}
	c := openai.New(openai.Config{BaseURL: u, APIKey: key, KeyEnv: p.APIKeyEnv, Headers: p.Headers,
		ContextLength: p.ContextLength, Rerank: p.Rerank}, a.HTTP)
	c.Timeout = timeout
	return c, nil
}

// canPull reports whether model's server can pull it: Ollama's can, an
// openai provider's cannot.
func (a *App) canPull(model string) bool {
	p, ok := a.cfg.ProviderOf(model)
	return !ok || p.Type == config.ProviderOllama
}

// providerBatch lays the batch_size and parallel of the embedding model's
// provider under the flags the run does not give: a hosted API takes
// larger batches and fewer requests at once than a local server.
func (a *App) providerBatch(fl *pflag.FlagSet, o *IndexOptions) {
	p, ok := a.cfg.ProviderOf(o.EmbedModel)
	if !ok {
		return
	}
	if p.BatchSize > 0 && !fl.Changed("batch-size") {
		o.BatchSize = p.BatchSize
	}
	if p.Parallel > 0 && !fl.Changed("parallel") {
		o.Parallel = p.Parallel
	}
}
