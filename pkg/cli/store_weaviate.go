//go:build !noweaviate

package cli

import (
	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/store/weaviate"
)

// The Weaviate client is in the default build: measured on 2026-12-08 it
// adds 8.5 MB to a 35.6 MB binary (5.9 MB stripped) and 73 packages
// whose init takes about 11 ms and 2.2 MB more at every start (rag
// --version: 52 ms of init instead of 41), small beside a team not having
// to build its own rag to reach its index. -tags noweaviate leaves it out.

// weaviateBackend is the Weaviate store of a store URL, with the API key.
func weaviateBackend(url, apiKey string) (store.Backend, error) {
	cfg, err := weaviate.ParseURL(url)
	if err != nil {
		return nil, err
	}
	cfg.APIKey = apiKey
	return weaviate.New(cfg), nil
}
