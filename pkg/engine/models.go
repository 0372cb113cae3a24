package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/store"
)

// NoteIndexModel: the index's catalog could not be read, so the models it
// needs are the configured ones.
const NoteIndexModel WarningKind = "index_model"

// NeededModels are the models that searches and answers of rt with the
// chat model chatModel need on the model server, each once, in this
// order: the index's embedding model (even when another is asked for:
// that one is refused where it would be used, as not the index's; for a
// new index the one asked for, else the default), the chat model, the
// expansion model when rt.Expand, the re-ranking model when rt.Rerank. An
// index that cannot be read is a note, and the configured model stands
// for its own.
func (e *Engine) NeededModels(rt Retrieval, chatModel string, events Events) []string {
	var m store.Manifest
	if e.checkDir() == nil {
		var err error
		if m, err = e.readManifest(context.Background()); err != nil && !errors.Is(err, store.ErrNoIndex) {
			events.emit(Warning{Kind: NoteIndexModel, Note: true, Text: fmt.Sprintf("cannot read the index's model (%v); using the configured one", err)})
		}
	}
	embed, _ := m.EmbedModelFor(e.cfg.EmbedModel, config.DefaultEmbedModel)
	models := []string{embed, chatModel}
	if rt.Expand {
		models = append(models, rt.expandModel(chatModel))
	}
	if rt.Rerank {
		models = append(models, rt.RerankModel)
	}
	var once []string
	for _, name := range models {
		if !slices.Contains(once, name) {
			once = append(once, name)
		}
	}
	return once
}

// expandModel is the model that expands queries: ExpandModel, else the
// chat model.
func (rt Retrieval) expandModel(chatModel string) string {
	return cmp.Or(rt.ExpandModel, chatModel)
}
