package engine

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/config"
)

// TestNeededModels: the index's embedding model (else the one asked for,
// else the default), the chat model, the expansion and re-ranking models
// when they are on, each once; an index that cannot be read is a note.
func TestNeededModels(t *testing.T) {
	t.Parallel()
	_, client := models(t)
	_, indexed := indexDocs(t, client, map[string]string{"notes.md": "# Notes\n\nThe server listens on port 8080.\n"})
	damaged := t.TempDir()
	write(t, filepath.Join(damaged, "catalog"), "not a catalog")
	tests := []struct {
		name  string
		dir   string // the index ("" none set)
		embed string // the embedding model asked for
		rt    Retrieval
		chat  string
		want  []string
		note  string // a substring of the note, "" none
	}{
		{name: "no index set", chat: "chat", want: []string{config.DefaultEmbedModel, "chat"}},
		{name: "no index set, a model asked for", embed: "mine", chat: "chat", want: []string{"mine", "chat"}},
		{name: "a new index", dir: filepath.Join(t.TempDir(), "new"), embed: "mine", chat: "chat", want: []string{"mine", "chat"}},
		{name: "the index's model, not the one asked for", dir: indexed, embed: "mine", chat: "chat", want: []string{testEmbed, "chat"}},
		{name: "the index's model", dir: indexed, chat: "chat", want: []string{testEmbed, "chat"}},
		{name: "expansion by the chat model", rt: Retrieval{Expand: true}, chat: "chat", want: []string{config.DefaultEmbedModel, "chat"}},
		{name: "expansion by its own model", rt: Retrieval{Expand: true, ExpandModel: "expander"}, chat: "chat", want: []string{config.DefaultEmbedModel, "chat", "expander"}},
		{name: "expansion model set, expansion off", rt: Retrieval{ExpandModel: "expander"}, chat: "chat", want: []string{config.DefaultEmbedModel, "chat"}},
		{name: "re-ranking", rt: Retrieval{Rerank: true, RerankModel: "judge"}, chat: "chat", want: []string{config.DefaultEmbedModel, "chat", "judge"}},
		{name: "re-ranking model set, re-ranking off", rt: Retrieval{RerankModel: "judge"}, chat: "chat", want: []string{config.DefaultEmbedModel, "chat"}},
		{name: "each once", dir: indexed, rt: Retrieval{Expand: true, ExpandModel: testEmbed, Rerank: true, RerankModel: "chat"}, chat: "chat", want: []string{testEmbed, "chat"}},
		{name: "a damaged catalog", dir: damaged, embed: "mine", chat: "chat", want: []string{"mine", "chat"}, note: "cannot read the index's model ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var notes []string
			e := New(Config{Dir: tt.dir, EmbedModel: tt.embed})
			got := e.NeededModels(tt.rt, tt.chat, func(ev Event) {
				if w, ok := ev.(Warning); ok && w.Note && w.Kind == NoteIndexModel {
					notes = append(notes, w.Text)
				}
			})
			if !slices.Equal(got, tt.want) {
				t.Errorf("models %q, want %q", got, tt.want)
			}
			if tt.note == "" && len(notes) > 0 || tt.note != "" && (len(notes) != 1 || !strings.Contains(notes[0], tt.note)) {
				t.Errorf("notes %q, want one with %q", notes, tt.note)
			}
		})
	}
}
