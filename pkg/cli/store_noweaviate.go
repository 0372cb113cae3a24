//go:build noweaviate

package cli

import (
	"fmt"

	"github.com/rag-cli/rag/pkg/store"
)

// weaviateBackend refuses a store URL: this rag was built without the
// Weaviate client (the noweaviate build tag).
func weaviateBackend(url, _ string) (store.Backend, error) {
	return nil, fmt.Errorf("--store %s: this rag was built without Weaviate support (build tag noweaviate)", url)
}
