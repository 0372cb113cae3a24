//go:build !noweaviate

package cli

import (
	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/store/weaviate"
)

// weaviateBackend is the Weaviate store of a store URL, with the API key.
func weaviateBackend(url, apiKey string) (store.Backend, error) {
	cfg, err := weaviate.ParseURL(url)
	if err != nil {
		return nil, err
	}
	cfg.APIKey = apiKey
	return weaviate.New(cfg), nil
}
