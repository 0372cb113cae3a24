package store

import "cmp"

// EmbedModelFor is the one rule for which embedding model goes with the
// index m describes. asked is the model the user asked for (--embed-model
// or the embed_model setting; "" for none), fallback the model of an
// index without vectors when none is asked (config.DefaultEmbedModel).
//
// An index that holds vectors (Dims > 0) keeps the model that made them,
// since only that model's vectors compare with them: it is the model
// returned, with a *ModelMismatchError when asked names another. A query
// then cannot rank by vectors (the mismatch is the dense ranking's error),
// and rag pull fetches the index's model. An index without vectors (new,
// emptied, or whose first run failed before any embedding: an older rag
// recorded that run's model) takes the asked model, else fallback.
//
// A run that adds to the index embeds with RunModel's choice instead.
func (m *Manifest) EmbedModelFor(asked, fallback string) (model string, mismatch error) {
	switch {
	case m.Dims == 0:
		return cmp.Or(asked, fallback), nil
	case asked != "" && asked != m.EmbedModel:
		return m.EmbedModel, &ModelMismatchError{IndexModel: m.EmbedModel, IndexDims: m.Dims, Model: asked}
	}
	return m.EmbedModel, nil
}

// RunModel is the embedding model a run that adds to the index embeds
// with: the asked one, else EmbedModelFor's. An asked model that is not
// the one of the index's vectors is EmbedModelFor's mismatch, which the
// run returns (indexer.Run, once the run has warned of what it found); a
// rebuild replaces the vectors, so it never mismatches: it passes the
// catalog whose model it keeps when none is asked.
func (m *Manifest) RunModel(asked, fallback string) string {
	model, mismatch := m.EmbedModelFor(asked, fallback)
	if mismatch != nil {
		return asked // the run refuses it with this mismatch
	}
	return model
}
