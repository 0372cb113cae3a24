package engine

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/store/storetest"
)

const embedModelName = "fake-embed"

// indexFixture is an engine over a new index, a folder of documents and
// the fake model server it embeds with.
type indexFixture struct {
	t     *testing.T
	e     *Engine
	srv   *ollamatest.Server
	index string
	docs  string
}

func newIndexFixture(t *testing.T) *indexFixture {
	t.Helper()
	srv := ollamatest.New(t, embedModelName)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := &indexFixture{t: t, srv: srv, index: filepath.Join(t.TempDir(), "index"), docs: t.TempDir()}
	f.e = New(Config{Dir: f.index, Models: ollama.New(u, nil), EmbedModel: embedModelName,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	for name, text := range map[string]string{
		"install.md": "# Install\n\nRun the installer, then restart the machine.\n",
		"retry.txt":  "The client retries a failed upload three times, and doubles the wait each time.\n",
		"notes.md":   "# Notes\n\nThe server listens on port 8080.\n",
	} {
		write(t, filepath.Join(f.docs, name), text)
	}
	return f
}

// run runs an index run of req, and returns its report, the events it
// sent and its error.
func (f *indexFixture) run(req IndexRequest) (*IndexReport, []Event, error) {
	f.t.Helper()
	var mu sync.Mutex
	var evs []Event
	rep, err := f.e.Index(context.Background(), req, func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		evs = append(evs, ev)
	})
	return rep, evs, err
}

func (f *indexFixture) mustIndex(req IndexRequest) (*IndexReport, []Event) {
	f.t.Helper()
	rep, evs, err := f.run(req)
	if err != nil {
		f.t.Fatalf("index: %v", err)
	}
	return rep, evs
}

// object is the file of the stored chunks of the indexed file name, and
// how many chunks it holds.
func (f *indexFixture) object(name string) (string, int) {
	f.t.Helper()
	obj, chunks, err := storetest.Object(f.index, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return obj, chunks
}

// TestIndexChangedFileAlone: at the next run, a changed file is embedded
// again, alone; the others are unchanged and cost no embedding, and a
// run over nothing changed embeds nothing.
func TestIndexChangedFileAlone(t *testing.T) {
	t.Parallel()
	f := newIndexFixture(t)
	req := IndexRequest{Paths: []string{f.docs}}
	rep, evs := f.mustIndex(req)
	if rep.New != 3 || rep.TotalFiles != 3 || rep.EmbedModel != embedModelName || f.srv.EmbeddedTexts() != rep.ChunksEmbedded {
		t.Fatalf("first run: %+v, %d texts embedded", rep, f.srv.EmbeddedTexts())
	}
	if !slices.ContainsFunc(evs, func(ev Event) bool { p, ok := ev.(Progress); return ok && p.End }) {
		t.Errorf("no progress ended: %v", evs)
	}

	write(t, filepath.Join(f.docs, "notes.md"), "# Notes\n\nThe server listens on port 9090 now.\n\n## Logs\n\nLogs go to /var/log/app.\n")
	before := f.srv.EmbeddedTexts()
	rep, _ = f.mustIndex(IndexRequest{}) // every folder recorded
	_, chunks := f.object("notes.md")
	if rep.Changed != 1 || rep.New != 0 || rep.Unchanged != 2 || rep.ChunksEmbedded != chunks || f.srv.EmbeddedTexts()-before != chunks {
		t.Errorf("after a change: %+v, %d texts embedded; want notes.md's %d chunks alone", rep, f.srv.EmbeddedTexts()-before, chunks)
	}

	before = f.srv.EmbeddedTexts()
	if rep, _ = f.mustIndex(req); rep.Unchanged != 3 || rep.Indexed != 0 || f.srv.EmbeddedTexts() != before {
		t.Errorf("nothing changed: %+v, %d texts embedded", rep, f.srv.EmbeddedTexts()-before)
	}
}

// TestIndexRepairsDamage damages the stored chunks of one file the ways a
// crash or a bad disk does (the cases of pkg/cli's TestDamagedObjects,
// against the engine): the next run embeds exactly that file again, the
// one after it nothing.
func TestIndexRepairsDamage(t *testing.T) {
	t.Parallel()
	for _, tt := range storetest.ObjectDamages {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			f := newIndexFixture(t)
			f.mustIndex(IndexRequest{Paths: []string{f.docs}})
			p, chunks := f.object("retry.txt")
			if err := tt.Damage(p); err != nil {
				t.Fatal(err)
			}
			before := f.srv.EmbeddedTexts()
			rep, _ := f.mustIndex(IndexRequest{})
			if rep.Repaired != 1 || rep.Unchanged != 2 || rep.ChunksEmbedded != chunks || f.srv.EmbeddedTexts()-before != chunks {
				t.Errorf("repair: %+v, %d texts embedded; want retry.txt's %d chunks alone", rep, f.srv.EmbeddedTexts()-before, chunks)
			}
			before = f.srv.EmbeddedTexts()
			if rep, _ = f.mustIndex(IndexRequest{}); rep.Repaired != 0 || rep.Indexed != 0 || f.srv.EmbeddedTexts() != before {
				t.Errorf("after the repair: %+v, %d texts embedded", rep, f.srv.EmbeddedTexts()-before)
			}
		})
	}
}

// TestIndexStillDamaged: damage in a source the run does not walk is
// left, with a warning that names it, and stays known whatever catalog
// the run writes: status reports it, and a run of every source repairs
// it. Every kind of damage, flipped bytes too: a stat does not see those,
// and the run's commit made the object older than the catalog, which the
// check trusted.
func TestIndexStillDamaged(t *testing.T) {
	t.Parallel()
	for _, tt := range storetest.ObjectDamages {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			f := newIndexFixture(t)
			single := filepath.Join(t.TempDir(), "faq.md")
			write(t, single, "# FAQ\n\nThe office opens at nine.\n")
			f.mustIndex(IndexRequest{Paths: []string{f.docs, single}})
			for _, name := range []string{"retry.txt", "faq.md"} {
				p, _ := f.object(name)
				if err := tt.Damage(p); err != nil {
					t.Fatal(err)
				}
			}
			// Past the file system's clock tick: the run's commit is later
			// than the damage, as it is but in a test.
			time.Sleep(20 * time.Millisecond)
			rep, evs := f.mustIndex(IndexRequest{Paths: []string{f.docs}})
			var still []string
			for _, ev := range evs {
				if w, ok := ev.(Warning); ok && w.Kind == WarnStillDamaged {
					still = append(still, w.Text)
				}
			}
			if rep.Repaired != 1 || len(still) != 1 || !strings.Contains(still[0], "faq.md") || strings.Contains(still[0], "retry.txt") {
				t.Errorf("%+v, still damaged %q; want retry.txt repaired, faq.md named alone", rep, still)
			}
			// The run committed a catalog: the damage it found is still known.
			if st, err := f.e.Status(context.Background(), Who{}, StatusRequest{All: true}, nil); !errors.As(err, new(*DamagedError)) ||
				st.Health != "damaged" || !slices.Equal(st.DamagedFiles, []string{"faq.md"}) {
				t.Errorf("status between the runs: %v, %+v; want faq.md damaged", err, st)
			}
			before := f.srv.EmbeddedTexts()
			if rep, _ = f.mustIndex(IndexRequest{}); rep.Repaired != 1 || rep.Unchanged != 3 || f.srv.EmbeddedTexts()-before != 1 {
				t.Errorf("every source: %+v, %d texts embedded; want faq.md's one chunk", rep, f.srv.EmbeddedTexts()-before)
			}
			if st, err := f.e.Status(context.Background(), Who{}, StatusRequest{All: true, Verify: true}, nil); err != nil ||
				st.Health != "ok" || len(st.Verified.Damaged) != 0 || len(st.DamagedFiles) != 0 {
				t.Errorf("status --verify after the repair: %v, %+v", err, st)
			}
			before = f.srv.EmbeddedTexts()
			if rep, _ = f.mustIndex(IndexRequest{}); rep.Repaired != 0 || rep.Indexed != 0 || f.srv.EmbeddedTexts() != before {
				t.Errorf("after the repair: %+v, %d texts embedded", rep, f.srv.EmbeddedTexts()-before)
			}
		})
	}
}

// TestIndexPartial: a file that cannot be read fails alone; the run is a
// *PartialError naming it with the report of the others, and at the next
// run it is named as failing again.
func TestIndexPartial(t *testing.T) {
	t.Parallel()
	f := newIndexFixture(t)
	broken := filepath.Join(f.docs, "broken.pdf")
	write(t, broken, "%PDF-1.4\nnot really a pdf\n")
	req := IndexRequest{Paths: []string{f.docs}}
	for i, again := range [][]string{nil, {broken}} {
		rep, _, err := f.run(req)
		var partial *PartialError
		if !errors.As(err, &partial) {
			t.Fatalf("run %d: %v, want a *PartialError", i+1, err)
		}
		if len(partial.Files) != 1 || partial.Files[0].Path != broken || partial.Total != 4 || !slices.Equal(partial.Again, again) ||
			partial.Error() != "1 of 4 files could not be indexed" {
			t.Errorf("run %d: %+v (%v); want %s failed of 4, again %v", i+1, partial, partial, broken, again)
		}
		if rep == nil || rep.Failed != 1 || rep.Indexed+rep.Unchanged != 3 {
			t.Errorf("run %d: report %+v", i+1, rep)
		}
	}
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.run(req); err != nil {
		t.Errorf("without the broken file: %v", err)
	}
}

// TestIndexRefusals: paths a run cannot take, and a run with none, are
// typed errors, and nothing is written.
func TestIndexRefusals(t *testing.T) {
	t.Parallel()
	f := newIndexFixture(t)
	var te *TargetError
	if _, _, err := f.run(IndexRequest{Paths: []string{filepath.Join(f.docs, "nope")}}); !errors.As(err, &te) || te.Reason != TargetMissing {
		t.Errorf("missing path: %v", err)
	}
	if _, _, err := f.run(IndexRequest{}); !errors.Is(err, ErrNoTargets) {
		t.Errorf("no paths, none recorded: %v", err)
	}
	if _, _, err := f.run(IndexRequest{Paths: []string{f.docs}, ChunkTokens: 100, ChunkOverlap: 60}); !errors.As(err, new(*ChunkingError)) {
		t.Errorf("overlap over half the chunk: %v", err)
	}
	f.mustIndex(IndexRequest{Paths: []string{f.docs}})
	if _, _, err := f.run(IndexRequest{Paths: []string{filepath.Join(f.index, "objects")}}); !errors.As(err, &te) || te.Reason != TargetInIndex {
		t.Errorf("a path inside the index: %v", err)
	}
}
