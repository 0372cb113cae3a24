package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/store"
)

func (h *harness) mustRun(o runOpt, args ...string) result {
	h.t.Helper()
	r := h.run(o, args...)
	if r.code != 0 {
		h.t.Fatalf("rag %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (h *harness) status() statusReport {
	h.t.Helper()
	r := h.mustRun(runOpt{}, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		h.t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return rep
}

func indexJSON(t *testing.T, r result) indexReport {
	t.Helper()
	var rep indexReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("index --json: %v\n%s", err, r.stdout)
	}
	return rep
}

func TestIndexRefreshesRecordedSources(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	other := t.TempDir()
	single := filepath.Join(other, "faq.md")
	write(t, single, "# FAQ\n\nThe office opens at nine.\n")
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, h.docs, single)

	write(t, filepath.Join(h.docs, "added.md"), "Penguins live in the south.\n")
	write(t, single, "# FAQ\n\nThe office opens at ten.\n")
	before := h.srv.EmbeddedTexts()
	rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json"))
	if rep.New != 1 || rep.Changed != 1 || rep.Unchanged != 4 || h.srv.EmbeddedTexts()-before != 2 {
		t.Errorf("refresh = %+v, embedded %d", rep, h.srv.EmbeddedTexts()-before)
	}

	// The single file is deleted: a refresh drops it and its source.
	if err := os.Remove(single); err != nil {
		t.Fatal(err)
	}
	rep = indexJSON(t, h.mustRun(runOpt{}, "index", "--json"))
	st := h.status()
	if rep.Removed != 1 || len(st.Sources) != 1 || st.Sources[0].Path != h.docs || st.Files != 5 {
		t.Errorf("after deleting the single file: %+v; status %+v", rep, st)
	}

	t.Run("no sources yet", func(t *testing.T) {
		h2 := newHarness(t)
		r := h2.run(runOpt{}, "index")
		if r.code != ExitUsage || !strings.Contains(r.stderr, "needs a folder or file") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
}

func TestStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	st := h.status()
	if st.Health != "ok" || st.FormatVersion != store.FormatVersion || st.EmbedModel != embedModel || st.Dims != 128 ||
		st.Files != 4 || st.Chunks != 4 || st.SizeBytes <= 0 || st.Updated.IsZero() || st.RebuildPending {
		t.Errorf("status = %+v", st)
	}
	if len(st.Skipped) != 2 || len(st.Failed) != 0 {
		t.Errorf("problems: skipped %+v, failed %+v", st.Skipped, st.Failed)
	}
	for _, s := range st.Skipped {
		if !filepath.IsAbs(s.Path) || s.Reason == "" {
			t.Errorf("skip without absolute path or reason: %+v", s)
		}
	}

	r := h.mustRun(runOpt{}, "status", "--verify")
	out := strings.ReplaceAll(r.stdout, h.index, "INDEX")
	out = strings.ReplaceAll(out, h.docs, "DOCS")
	out = sizeRE.ReplaceAllString(out, "SIZE on disk")
	out = timeRE.ReplaceAllString(out, "Last indexed: TIME")
	golden(t, "status-plain", out)
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}
}

func TestPruneOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	if err := os.Remove(filepath.Join(h.docs, "retry.txt")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(h.docs, "install.md"), "# Install\n\nChanged, but prune does not embed.\n")
	write(t, filepath.Join(h.docs, "new.md"), "Not added by prune.\n")
	before := h.srv.EmbedRequests()
	rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--prune-only", "--json"))
	if rep.Removed != 1 || rep.Indexed != 0 || rep.TotalFiles != 3 || h.srv.EmbedRequests() != before {
		t.Errorf("prune: %+v, %d embed calls", rep, h.srv.EmbedRequests()-before)
	}

	// A folder that is gone as a whole is not dropped by a plain run (an
	// unmounted disk is not a deletion), only by --prune-only.
	if err := os.RemoveAll(h.docs); err != nil {
		t.Fatal(err)
	}
	r := h.run(runOpt{}, "index")
	if r.code != ExitPartial || !strings.Contains(r.stderr, "--prune-only") || h.status().Files != 3 {
		t.Errorf("plain run on a gone folder: exit %d, %q", r.code, r.stderr)
	}
	rep = indexJSON(t, h.mustRun(runOpt{}, "index", "--prune-only", "--json"))
	if st := h.status(); rep.Removed != 3 || st.Files != 0 || len(st.Sources) != 0 {
		t.Errorf("prune of a gone folder: %+v; status %+v", rep, st)
	}
}

func TestRebuild(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()

	r := h.run(runOpt{}, "index", "--embed-model", embedModel2)
	if r.code != ExitIndex || !strings.Contains(r.stderr, "rag index --rebuild --embed-model") {
		t.Fatalf("model change without --rebuild: exit %d, %q", r.code, r.stderr)
	}

	// Interrupt the rebuild after two requests: searches still use the old
	// index, whole.
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	h.srv.OnEmbed(func() {
		if n.Add(1) == 3 {
			cancel()
		}
	})
	r = h.run(runOpt{ctx: ctx}, "index", "--rebuild", "--embed-model", embedModel2, "--batch-size", "1")
	if r.code != ExitInterrupted {
		t.Fatalf("interrupted rebuild: exit %d, %q", r.code, r.stderr)
	}
	h.srv.OnEmbed(nil)
	st := h.status()
	if st.EmbedModel != embedModel || st.Files != 4 || !st.RebuildPending {
		t.Fatalf("during the rebuild, status = %+v", st)
	}
	h.mustRun(runOpt{}, "search", "retry")

	// Resumed: only what the first attempt did not store is embedded (the
	// first file at least; the second too unless its request, out beside
	// the first, was still in flight at the interrupt).
	before := h.srv.EmbeddedTexts()
	rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--rebuild", "--json"))
	if !rep.Rebuilt || rep.EmbedModel != embedModel2 || rep.Unchanged < 1 || rep.Unchanged+rep.New != 4 || h.srv.EmbeddedTexts()-before != rep.New {
		t.Errorf("resumed rebuild = %+v, embedded %d", rep, h.srv.EmbeddedTexts()-before)
	}
	st = h.status()
	if st.EmbedModel != embedModel2 || st.Files != 4 || st.RebuildPending {
		t.Errorf("after the rebuild, status = %+v", st)
	}
	objs, err := filepath.Glob(filepath.Join(h.index, "objects", "*", "*.chk"))
	if err != nil || len(objs) != 4 {
		t.Errorf("%d objects on disk after the rebuild, want 4 (old ones removed)", len(objs))
	}
	if r := h.mustRun(runOpt{}, "search", "retry"); !strings.Contains(r.stdout, "retry.txt") {
		t.Errorf("search after rebuild: %s", r.stdout)
	}

	// The same model name now returns another vector size: refused, nothing
	// mixed, until --rebuild.
	h.srv.SetDims(64)
	write(t, filepath.Join(h.docs, "new.md"), "Something new to embed.\n")
	r = h.run(runOpt{}, "index")
	if r.code != ExitIndex || !strings.Contains(r.stderr, "128-dimensional vectors but "+embedModel2+" now returns 64") || !strings.Contains(r.stderr, "--rebuild") {
		t.Fatalf("vector size change: exit %d, %q", r.code, r.stderr)
	}
	if st := h.status(); st.Dims != 128 || st.Files != 4 {
		t.Errorf("after the refused run: %+v", st)
	}
	h.mustRun(runOpt{}, "index", "--rebuild")
	if st := h.status(); st.Dims != 64 || st.Files != 5 {
		t.Errorf("after rebuilding for the new size: %+v", st)
	}
	h.mustRun(runOpt{}, "search", "retry")
}

func TestIndexBusy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	w, err := store.Open(context.Background(), h.index, store.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	r := h.run(runOpt{}, "index")
	if r.code != ExitBusy || !strings.Contains(r.stderr, "another rag index (pid ") || !strings.Contains(r.stderr, "--wait") {
		t.Errorf("second writer: exit %d, %q", r.code, r.stderr)
	}
	// Readers are not blocked by a writer.
	h.mustRun(runOpt{}, "search", "retry")

	done := make(chan result, 1)
	go func() { done <- h.run(runOpt{}, "index", "--wait") }()
	time.Sleep(300 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("--wait did not wait: exit %d, %q", r.code, r.stderr)
	default:
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.code != 0 {
		t.Errorf("--wait: exit %d, %q", r.code, r.stderr)
	}
}

// TestOllamaFailsMidRun: after two good requests Ollama fails in each of
// the ways it can; the run retries, gives up with exit 5, keeps what it had,
// and the next run embeds only the rest.
func TestOllamaFailsMidRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault ollamatest.Fault
	}{{"500", ollamatest.Status500}, {"dropped connection", ollamatest.Drop}, {"timeout", ollamatest.Hang}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var n atomic.Int32
			h.srv.OnEmbed(func() { n.Add(1) })
			h.srv.FailEmbedsFrom(3, tc.fault)
			// One request at a time: with two out, which one arrives third
			// (and fails) is the scheduler's choice, and so is what is kept.
			r := h.run(runOpt{}, "index", "--embed-model", embedModel, "--batch-size", "1", "--parallel", "1", "--timeout", "300ms", h.docs)
			if r.code != ExitOllama || !strings.Contains(r.stderr, "failed 3 times") || !strings.Contains(r.stderr, "run the same command again to resume") {
				t.Fatalf("exit %d, %q", r.code, r.stderr)
			}
			// 2 good, then 3 attempts of the batch that failed.
			if got := n.Load(); got != 5 {
				t.Errorf("%d requests, want 2 good and 3 attempts of the third", got)
			}
			if st := h.status(); st.Files != 2 {
				t.Errorf("kept %d files, want 2", st.Files)
			}
			h.srv.OnEmbed(nil)
			h.srv.FailEmbedsFrom(0, ollamatest.Status500)
			before := h.srv.EmbeddedTexts()
			rep := indexJSON(t, h.mustRun(runOpt{}, "index", "--json", h.docs))
			if rep.Unchanged != 2 || rep.New != 2 || h.srv.EmbeddedTexts()-before != 2 {
				t.Errorf("resume = %+v, embedded %d", rep, h.srv.EmbeddedTexts()-before)
			}
		})
	}
}

// --parallel N has N embedding requests at the server at once: the first
// N are held until all have arrived.
func TestIndexParallel(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 12 {
		write(t, filepath.Join(h.docs, "many", fmt.Sprintf("f%02d.txt", i)), fmt.Sprintf("note %d\n", i))
	}
	var n atomic.Int32
	all := make(chan struct{})
	h.srv.OnEmbed(func() {
		switch got := n.Add(1); {
		case got < 3:
			select {
			case <-all:
			case <-time.After(10 * time.Second): // rag sent fewer at once: the run goes on, the test fails
			}
		case got == 3:
			close(all)
		}
	})
	start := time.Now()
	h.mustRun(runOpt{}, "index", "--embed-model", embedModel, "--batch-size", "1", "--parallel", "3", h.docs)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the first requests waited %s: fewer than 3 were sent at once", took.Round(time.Second))
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		done <- h.run(runOpt{ctx: ctx, ready: func() { close(ready) }},
			"index", "--watch", "--json", "--watch-delay", "50ms", "--embed-model", embedModel, h.docs)
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("watch ended early: exit %d, %q", r.code, r.stderr)
	}
	indexed := func(what string, cond func(store.Manifest) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if m, err := store.ReadManifest(h.index); err == nil && cond(m) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("the index never showed %s", what)
	}
	has := func(m store.Manifest, p string) bool {
		for _, f := range m.Files {
			if f.Path == p {
				return true
			}
		}
		return false
	}
	write(t, filepath.Join(h.docs, "notes", "owls.md"), "Owls sleep in hollow trees.\n")
	indexed("a new file", func(m store.Manifest) bool { return has(m, "notes/owls.md") })
	if err := os.Remove(filepath.Join(h.docs, "retry.txt")); err != nil {
		t.Fatal(err)
	}
	indexed("a deleted file gone", func(m store.Manifest) bool { return !has(m, "retry.txt") })
	indexed("its object removed during the watch", func(m store.Manifest) bool {
		objs, err := filepath.Glob(filepath.Join(h.index, "objects", "*", "*.chk"))
		return err == nil && len(objs) == len(m.Files)
	})
	if r := h.mustRun(runOpt{}, "search", "-k", "1", "where do owls sleep"); !strings.Contains(r.stdout, "owls.md") {
		t.Errorf("search during watch: %s", r.stdout)
	}

	cancel()
	r := <-done
	if r.code != 0 {
		t.Fatalf("watch: exit %d, %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 3 {
		t.Fatalf("want one JSON line per pass, got:\n%s", r.stdout)
	}
	for _, l := range lines {
		var rep indexReport
		if err := json.Unmarshal([]byte(l), &rep); err != nil {
			t.Errorf("line %q: %v", l, err)
		}
	}
}

var (
	sizeRE = regexp.MustCompile(`[0-9.]+ [KM]?i?B on disk`)
	timeRE = regexp.MustCompile(`Last indexed: .*`)
)

// TestNestedSources: however folders and files inside them are given, every
// file is in the index once, under the outermost folder, and what was
// embedded is reused; a path indexed alone before stays a source (inside
// the folder) with its settings.
func TestNestedSources(t *testing.T) {
	t.Parallel()
	filesOnce := func(h *harness) {
		t.Helper()
		m, err := store.ReadManifest(h.index)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, f := range m.Files {
			abs := filepath.Join(f.Root, f.Path)
			if seen[abs] {
				t.Errorf("%s is in the index twice", abs)
			}
			seen[abs] = true
		}
		for _, f := range m.Files {
			if f.Root != h.docs {
				t.Errorf("%s is held under %s, not %s", f.Path, f.Root, h.docs)
			}
		}
		if len(m.Files) != 4 || !slices.ContainsFunc(m.Sources, func(s store.Source) bool { return s.Path == h.docs }) {
			t.Errorf("index holds %d files from sources %+v, want 4 from %s", len(m.Files), m.Sources, h.docs)
		}
	}
	// totalsAsStatus checks that the report of the run that took over
	// the subfolders counts what status counts.
	totalsAsStatus := func(h *harness, report string) {
		t.Helper()
		var rep indexReport
		var st statusReport
		if err := errors.Join(json.Unmarshal([]byte(report), &rep), json.Unmarshal([]byte(h.mustRun(runOpt{}, "status", "--json").stdout), &st)); err != nil {
			t.Fatal(err)
		}
		if rep.TotalFiles != st.Files || rep.TotalChunks != st.Chunks {
			t.Errorf("rag index --json: %d files, %d chunks; rag status: %d files, %d chunks", rep.TotalFiles, rep.TotalChunks, st.Files, st.Chunks)
		}
	}
	t.Run("subfolder first, then the folder", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.mustRun(runOpt{}, "index", "--embed-model", embedModel, filepath.Join(h.docs, "notes"))
		before := h.srv.EmbeddedTexts()
		r := h.mustRun(runOpt{}, "index", "--json", h.docs)
		if got := h.srv.EmbeddedTexts() - before; got != 3 {
			t.Errorf("embedded %d chunks, want 3 (the subfolder's file is reused)", got)
		}
		filesOnce(h)
		totalsAsStatus(h, r.stdout)
		r = h.mustRun(runOpt{}, "search", "--json", "-k", "10", "cooking")
		if n := strings.Count(r.stdout, `"path": "notes/cooking.md"`); n != 1 {
			t.Errorf("cooking.md found %d times", n)
		}
	})
	t.Run("two subfolders, then the folder", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.mustRun(runOpt{}, "index", "--embed-model", embedModel, filepath.Join(h.docs, "notes"), filepath.Join(h.docs, "src"))
		r := h.mustRun(runOpt{}, "index", "--json", h.docs)
		filesOnce(h)
		totalsAsStatus(h, r.stdout)
	})
	t.Run("file in an indexed folder", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.mustIndex()
		r := h.mustRun(runOpt{}, "index", filepath.Join(h.docs, "notes", "cooking.md"))
		if !strings.Contains(r.stderr, "rag: note: "+filepath.Join(h.docs, "notes", "cooking.md")+" is inside "+h.docs) {
			t.Errorf("no note: %q", r.stderr)
		}
		filesOnce(h)
	})
	t.Run("folder and a file in it at once", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.mustRun(runOpt{}, "index", "--embed-model", embedModel, filepath.Join(h.docs, "retry.txt"), h.docs)
		filesOnce(h)
	})
	t.Run("single file first, then its folder", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.mustRun(runOpt{}, "index", "--embed-model", embedModel, filepath.Join(h.docs, "retry.txt"))
		h.mustRun(runOpt{}, "index", h.docs)
		filesOnce(h)
		h.mustRun(runOpt{}, "index") // the refresh keeps it so
		filesOnce(h)
	})
}
