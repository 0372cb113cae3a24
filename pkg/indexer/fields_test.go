package indexer

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/rag-cli/rag/pkg/store"
)

// TestFrontMatterOnly: a file whose front matter alone changed has its
// fields indexed again and nothing embedded (counted in FieldsOnly), its
// chunks keep their vectors and take the lines the new front matter moves
// them to; a file whose text changed too is embedded as before.
func TestFrontMatterOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	body := "# Restore\n\nRestore the database from the nightly backup.\n\n## Check\n\nCompare the row counts.\n"
	fsys := fstest.MapFS{
		"a.md": {Data: []byte("---\ntags: [prod]\n---\n" + body)},
		"b.md": {Data: []byte("plain text, no front matter\n")},
	}
	steps := []struct {
		name               string
		a                  string
		embeds, fieldsOnly int
		tags               string
		firstLine          int
	}{
		{"first run", "---\ntags: [prod]\n---\n" + body, 2, 0, "[prod]", 4},
		{"tags changed", "---\ntags: [prod, db]\n---\n" + body, 0, 1, "[prod db]", 4},
		{"front matter longer", "---\ntags: [staging]\nowner: alice\n---\n" + body, 0, 1, "[staging]", 5},
		{"TOML front matter", "+++\ntags = [\"x\"]\n+++\n" + body, 0, 1, "[x]", 4},
		{"front matter gone", body, 0, 1, "<nil>", 1},
		{"front matter back", "---\ntags: [prod]\n---\n" + body, 0, 1, "[prod]", 4},
		{"text changed too", "---\ntags: [qa]\n---\n" + body + "\nOne more line.\n", 1, 0, "[qa]", 4},
	}
	for _, st := range steps {
		fsys["a.md"] = &fstest.MapFile{Data: []byte(st.a)}
		emb := &fakeEmbedder{}
		sum, err := Run(ctx, s, emb, Options{Root: "/r", FS: fsys, Model: "m"})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if emb.texts != st.embeds || sum.FieldsOnly != st.fieldsOnly || sum.Embedded != st.embeds {
			t.Errorf("%s: embedded %d chunks (summary %d), fields only %d; want %d, %d", st.name, emb.texts, sum.Embedded, sum.FieldsOnly, st.embeds, st.fieldsOnly)
		}
		var a store.FileEntry
		for _, f := range s.Manifest().Files {
			if f.Path == "a.md" {
				a = f
			}
		}
		if got := fmt.Sprint(a.Meta["tags"]); got != st.tags {
			t.Errorf("%s: tags %s, want %s", st.name, got, st.tags)
		}
		chunks, err := s.FileChunks(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(chunks) == 0 || chunks[0].StartLine != st.firstLine || len(chunks[0].Vector) == 0 {
			t.Errorf("%s: first chunk %+v, want it at line %d with its vector", st.name, chunks, st.firstLine)
		}
	}
}
