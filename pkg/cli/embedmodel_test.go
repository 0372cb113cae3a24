package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/config"
	"github.com/rag-cli/rag/pkg/store"
)

// TestEmbedModelOfIndexWithoutVectors: an index whose first run failed
// before anything was embedded (an older rag recorded that run's model in
// the catalog) holds no vectors, so the model it names binds nothing: rag
// index, rag pull and rag eval's corpus index all take the asked model,
// else the default (store.Manifest.EmbedModelFor). Pull fetched the
// recorded model, which no run would use, and eval embedded with it.
func TestEmbedModelOfIndexWithoutVectors(t *testing.T) {
	t.Parallel()
	const recorded = "old-embed"
	tests := []struct {
		name string
		args []string // INDEX is the index whose catalog names recorded
		want func(t *testing.T, r result, pulls []string)
	}{
		{"pull", []string{"pull", "--json"}, func(t *testing.T, r result, pulls []string) {
			var rep pullReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("%v: %s", err, r.stdout)
			}
			want := []pulled{{config.DefaultEmbedModel, "present"}, {chatModel, "present"}}
			if !slices.Equal(rep.Models, want) || len(pulls) > 0 {
				t.Errorf("models %+v, pulled %q; want %+v, none pulled", rep.Models, pulls, want)
			}
		}},
		{"index", []string{"index", "--json", "DOCS"}, func(t *testing.T, r result, _ []string) {
			var rep indexReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.EmbedModel != config.DefaultEmbedModel {
				t.Errorf("embed_model %q, %v; want %q", rep.EmbedModel, err, config.DefaultEmbedModel)
			}
		}},
		{"eval corpus index", []string{"eval", "--json", "--corpus-index", "INDEX", "../eval/testdata/beir"}, func(t *testing.T, r result, _ []string) {
			if rep := decodeEval(t, r); rep.EmbedModel != config.DefaultEmbedModel {
				t.Errorf("embed_model %q, want %q", rep.EmbedModel, config.DefaultEmbedModel)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.srv = ollamatest.New(t, config.DefaultEmbedModel, chatModel)
			h.srv.Registry(recorded)
			h.env["OLLAMA_HOST"], h.env["RAG_MODEL"] = h.srv.URL, chatModel
			h.index = filepath.Join(t.TempDir(), "index")
			h.env["RAG_INDEX"] = h.index
			failedFirstRun(t, h.index, recorded)
			args := slices.Clone(tt.args)
			for i, a := range args {
				switch a {
				case "INDEX":
					args[i] = h.index
				case "DOCS":
					args[i] = h.docs
				}
			}
			r := h.run(runOpt{}, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			tt.want(t, r, h.srv.Pulls())
		})
	}
}

// failedFirstRun makes the index in dir as an older rag left it after a
// first run that embedded nothing: no vectors, and model recorded.
func failedFirstRun(t *testing.T, dir, model string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	m := st.Manifest()
	m.EmbedModel = model
	if err := st.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if m, err := store.ReadManifest(dir); err != nil || m.EmbedModel != model || m.Dims != 0 {
		t.Fatalf("catalog %q, %d dimensions, %v", m.EmbedModel, m.Dims, err)
	}
}
