package cli

import (
	"github.com/rag-cli/rag/pkg/store"
)

// envWeaviateAPIKey names the environment variable of the API key rag
// sends a Weaviate server that wants one; the store never reads it.
const envWeaviateAPIKey = "RAG_WEAVIATE_API_KEY"

// backend is the store of --store (RAG_STORE, store:), nil for the
// embedded store in the index folder.
func (a *App) backend(g *globalOptions) (store.Backend, error) {
	if g.Store == "" {
		return nil, nil
	}
	var key string
	if a.Env != nil {
		key = a.Env(envWeaviateAPIKey)
	}
	be, err := weaviateBackend(g.Store, key)
	if err != nil {
		return nil, &usageError{err: err}
	}
	return be, nil
}
