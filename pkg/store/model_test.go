package store

import (
	"reflect"
	"testing"
)

// TestEmbedModelFor: the one precedence of the embedding model. A query
// (and rag pull) keeps the model of the index's vectors and reports an
// asked model that differs as a mismatch; a run that adds to the index
// embeds with the asked model (and is refused with that mismatch); an
// index without vectors takes the asked model, else the default, whatever
// model its catalog names.
func TestEmbedModelFor(t *testing.T) {
	t.Parallel()
	const def = "default-embed"
	mismatch := func(index string, dims int, asked string) error {
		return &ModelMismatchError{IndexModel: index, IndexDims: dims, Model: asked}
	}
	tests := []struct {
		name     string
		m        Manifest
		asked    string
		query    string
		mismatch error
		run      string
	}{
		{name: "new index, nothing asked", query: def, run: def},
		{name: "new index, asked", asked: "b", query: "b", run: "b"},
		{name: "index with vectors, nothing asked", m: Manifest{EmbedModel: "a", Dims: 4}, query: "a", run: "a"},
		{name: "index with vectors, its model asked", m: Manifest{EmbedModel: "a", Dims: 4}, asked: "a", query: "a", run: "a"},
		{name: "index with vectors, another model asked", m: Manifest{EmbedModel: "a", Dims: 4}, asked: "b",
			query: "a", mismatch: mismatch("a", 4, "b"), run: "b"},
		// An older rag recorded the model of a first run that failed: it made no vectors, so it binds nothing.
		{name: "model of a failed first run, nothing asked", m: Manifest{EmbedModel: "a"}, query: def, run: def},
		{name: "model of a failed first run, another asked", m: Manifest{EmbedModel: "a"}, asked: "b", query: "b", run: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.m.EmbedModelFor(tt.asked, def)
			if got != tt.query || !reflect.DeepEqual(err, tt.mismatch) {
				t.Errorf("EmbedModelFor(%q) = %q, %v; want %q, %v", tt.asked, got, err, tt.query, tt.mismatch)
			}
			if got := tt.m.RunModel(tt.asked, def); got != tt.run {
				t.Errorf("RunModel(%q) = %q, want %q", tt.asked, got, tt.run)
			}
		})
	}
}
