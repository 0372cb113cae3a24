//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/store"
	"github.com/rag-cli/rag/pkg/store/storetest"
)

// These tests run the built rag binary and kill it with SIGKILL at many
// points of `rag index`; the next run must finish the job and leave exactly
// what a clean build of the same folder holds.

const model = "fake-embed"

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		if err := os.RemoveAll(binDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	binDir    string
	buildOnce sync.Once
	bins      struct{ plain, fault string }
	buildErr  error
)

// binaries builds rag twice: as users get it, and with fault points that
// kill the process (-tags faultinject).
func binaries(t *testing.T) (plain, fault string) {
	t.Helper()
	buildOnce.Do(func() {
		// go test caches results by the files a test opens; the binary is
		// built from the whole module, so open all of its sources.
		if buildErr = filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != "../.." {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") && !strings.HasPrefix(d.Name(), "go.") {
				return nil
			}
			_, err = os.ReadFile(p)
			return err
		}); buildErr != nil {
			return
		}
		dir, err := os.MkdirTemp("", "rag-crash-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		bins.plain, bins.fault = filepath.Join(dir, "rag"), filepath.Join(dir, "rag-fault")
		for _, b := range []struct{ out, tags string }{{bins.plain, ""}, {bins.fault, "faultinject"}} {
			cmd := exec.Command("go", "build", "-tags", b.tags, "-o", b.out, ".")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build: %v\n%s", err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins.plain, bins.fault
}

// corpus writes n one-chunk files; with the default commit every 64 files,
// 150 files make three catalog writes in a first run.
func corpus(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("part%d", i%3))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("# Note %d\n\nTopic %d is about subject %d and keyword k%d.\n", i, i%7, i%11, i)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("note%03d.md", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type proc struct {
	t     *testing.T
	srv   *ollamatest.Server
	index string
}

func newProc(t *testing.T) *proc {
	return &proc{t: t, srv: ollamatest.New(t, model), index: filepath.Join(t.TempDir(), "index")}
}

func (p *proc) cmd(ctx context.Context, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{
		"OLLAMA_HOST=" + p.srv.URL, "RAG_INDEX=" + p.index, "HOME=" + p.t.TempDir(), "NO_COLOR=1", "PATH=" + os.Getenv("PATH"),
	}, env...)
	return cmd
}

// run runs rag to the end and returns its output and exit code.
func (p *proc) run(bin string, env []string, args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	cmd := p.cmd(context.Background(), bin, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	case err != nil:
		p.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func (p *proc) mustRun(bin string, args ...string) string {
	p.t.Helper()
	out, errOut, code := p.run(bin, nil, args...)
	if code != 0 {
		p.t.Fatalf("rag %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

type chunkView struct {
	Path      string  `json:"path"`
	StartLine int     `json:"start_line"`
	EndLine   int     `json:"end_line"`
	Text      string  `json:"text"`
	Score     float64 `json:"score"`
}

// contents is everything a user can get out of an index: every chunk that
// search returns (k far above the chunk count), with its score, and what
// status counts after reading every object back.
func (p *proc) contents(bin string) string {
	p.t.Helper()
	var res struct{ Results []chunkView }
	if err := json.Unmarshal([]byte(p.mustRun(bin, "search", "--json", "--mode", "dense", "-k", "100000", "topic subject keyword")), &res); err != nil {
		p.t.Fatal(err)
	}
	sort.Slice(res.Results, func(i, j int) bool {
		a, b := res.Results[i], res.Results[j]
		return a.Path < b.Path || a.Path == b.Path && a.StartLine < b.StartLine
	})
	var st struct {
		Files, Chunks int
		Verified      struct {
			Chunks  int
			Damaged []string
		}
	}
	if err := json.Unmarshal([]byte(p.mustRun(bin, "status", "--verify", "--json")), &st); err != nil {
		p.t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "files %d, chunks %d, read back %d, damaged %v\n", st.Files, st.Chunks, st.Verified.Chunks, st.Verified.Damaged)
	for _, r := range res.Results {
		fmt.Fprintf(&b, "%s:%d-%d %.6f %q\n", r.Path, r.StartLine, r.EndLine, r.Score, r.Text)
	}
	return b.String()
}

// checkClean fails if the index folder holds anything a clean index does
// not: an object no catalog names, a cache segment that serves nothing, a
// temporary file, an unfinished rebuild; or if the cache segments do not
// serve the whole catalog.
func checkClean(t *testing.T, index string) {
	t.Helper()
	m, err := store.ReadManifest(index)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, f := range m.Files {
		keys[f.Key+".chk"] = true
	}
	found := 0
	err = filepath.WalkDir(index, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".chk"):
			if !keys[name] {
				t.Errorf("orphan object %s", name)
			}
			found++
		case strings.HasSuffix(name, ".seg") && filepath.Base(filepath.Dir(p)) == "segments":
		case name == "catalog" || name == "catalog.prev" || name == "lock" || name == "readers.lock" || name == "checked" || name == "collected":
		default:
			t.Errorf("unexpected file %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != len(keys) {
		t.Errorf("%d objects on disk, catalog names %d", found, len(keys))
	}
	st, err := store.Open(context.Background(), index, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CacheStats()
	if err := errors.Join(err, st.Close()); err != nil {
		t.Fatal(err)
	}
	if c.Unused > 0 || !c.Covered && len(m.Files) > 0 {
		t.Errorf("cache segments: %+v, want all used and covering the catalog", c)
	}
}

// cleanBuild indexes docs once, uninterrupted, and returns what the index
// holds: what every crashed-then-resumed run must end up with.
func cleanBuild(t *testing.T, plain, docs string) string {
	t.Helper()
	clean := newProc(t)
	clean.mustRun(plain, "index", "--embed-model", model, "--batch-size", "4", docs)
	checkClean(t, clean.index)
	want := clean.contents(plain)
	if !strings.HasPrefix(want, "files 150, chunks 150, read back 150, damaged []\n") {
		t.Fatalf("clean build: %s", want[:min(len(want), 200)])
	}
	return want
}

func killed(t *testing.T, code int, stderr string) {
	t.Helper()
	if code != 128+int(syscall.SIGKILL) {
		t.Fatalf("rag was not killed: exit %d\n%s", code, stderr)
	}
}

// TestKillAnywhere kills a first `rag index` at each fault point, runs it
// again, and compares the result with a clean build.
func TestKillAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	plain, fault := binaries(t)
	docs := corpus(t, 150)
	want := cleanBuild(t, plain, docs)

	points := []string{
		"object-half-written:1",  // the first object, torn
		"object-written:40",      // an object complete but not yet renamed
		"catalog-half-written:1", // the first commit, torn
		"catalog-written:2",      // the second commit, before its rename
		"catalog-committed:2",    // just after the second commit
		"catalog-half-written:3", // the final write, torn
		"catalog-written:3",      // the final write, before its rename
		"catalog-committed:3",    // the final write done, before cleanup
		"mid-batch:request-10",   // killed from outside while Ollama embeds
		"mid-batch:request-37",   // the last batch in flight
		"gc:1",                   // removing garbage (second run, after edits)
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			p := newProc(t)
			docs := docs
			args := []string{"index", "--embed-model", model, "--batch-size", "4", docs}
			var stderr string
			var code int
			switch {
			case strings.HasPrefix(point, "mid-batch:"):
				var n int
				if _, err := fmt.Sscanf(point, "mid-batch:request-%d", &n); err != nil {
					t.Fatal(err)
				}
				var calls atomic.Int32
				var victim atomic.Pointer[os.Process]
				var errBuf bytes.Buffer
				cmd := p.cmd(context.Background(), plain, nil, args...)
				cmd.Stderr = &errBuf
				p.srv.OnEmbed(func() {
					if int(calls.Add(1)) == n {
						_ = victim.Load().Signal(syscall.SIGKILL)
						time.Sleep(50 * time.Millisecond) // answer to a dead process
					}
				})
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				victim.Store(cmd.Process)
				err := cmd.Wait()
				var exit *exec.ExitError
				if !errors.As(err, &exit) {
					t.Fatalf("rag not killed: %v", err)
				}
				ws, _ := exit.Sys().(syscall.WaitStatus)
				code, stderr = 128+int(ws.Signal()), errBuf.String()
				p.srv.OnEmbed(nil)
			case point == "gc:1":
				// A first clean run, then edits that leave garbage behind.
				docs = corpus(t, 150)
				args[len(args)-1] = docs
				p.mustRun(plain, args...)
				for i := 0; i < 150; i += 10 {
					f := filepath.Join(docs, fmt.Sprintf("part%d", i%3), fmt.Sprintf("note%03d.md", i))
					if err := os.WriteFile(f, []byte(fmt.Sprintf("# Note %d\n\nEdited: topic %d.\n", i, i)), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				_, stderr, code = p.run(fault, []string{"RAG_FAULT=" + point}, args...)
			default:
				_, stderr, code = p.run(fault, []string{"RAG_FAULT=" + point}, args...)
			}
			killed(t, code, stderr)

			p.mustRun(plain, args...)
			checkClean(t, p.index)
			if point == "gc:1" {
				// Compare with a clean build of the edited folder.
				c := newProc(t)
				c.mustRun(plain, args...)
				want := c.contents(plain)
				if got := p.contents(plain); got != want {
					t.Errorf("after the crash and a rerun the index differs from a clean build:\n%s", diff(got, want))
				}
				return
			}
			if got := p.contents(plain); got != want {
				t.Errorf("after the crash and a rerun the index differs from a clean build:\n%s", diff(got, want))
			}
			// And the rerun after that is a no-op.
			out := p.mustRun(plain, args...)
			if !strings.HasPrefix(out, "Indexed 0 files") {
				t.Errorf("third run did work: %s", out)
			}
		})
	}
}

// TestKillDuringMigration kills the first `rag index` on an index of
// format version 4 (a JSON catalog, as that rag wrote it) and of version 5
// (the binary catalog before tenants and access) at each point of its one
// commit, which writes the current catalog: the index is whole after the
// kill, and the next run finishes the migration.
func TestKillDuringMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	plain, fault := binaries(t)
	docs := corpus(t, 150)
	want := cleanBuild(t, plain, docs)

	// toJSON leaves the catalog as rag of version 4 wrote it.
	toJSON := func(t *testing.T, index string) {
		m, err := store.ReadManifest(index)
		if err != nil {
			t.Fatal(err)
		}
		m.FormatVersion = 4
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(index, "manifest.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"catalog", "catalog.prev"} {
			if err := os.Remove(filepath.Join(index, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	to5 := func(t *testing.T, index string) {
		if _, err := storetest.ToFormat5(index); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		from   int
		to     func(t *testing.T, index string)
		points []string
	}{
		{4, toJSON, []string{
			"previous catalog-written:1", // the JSON catalog kept as catalog.prev, before its rename
			"catalog-half-written:1",     // the binary catalog, torn
			"catalog-written:1",          // before its rename
			"catalog-committed:1",        // both catalogs there
			"legacy-removed:1",           // the JSON ones removed, not yet synced
		}},
		{5, to5, []string{
			"catalog-half-written:1", // the new catalog, torn
			"catalog-written:1",      // before its rename over the version 5 one
			"catalog-committed:1",    // renamed, the version 5 one kept as catalog.prev
		}},
	}
	for _, c := range cases {
		for _, point := range c.points {
			t.Run(fmt.Sprintf("version %d, %s", c.from, point), func(t *testing.T) {
				t.Parallel()
				p := newProc(t)
				args := []string{"index", "--embed-model", model, "--batch-size", "4", docs}
				p.mustRun(plain, args...)
				c.to(t, p.index)

				_, stderr, code := p.run(fault, []string{"RAG_FAULT=" + point}, args...)
				killed(t, code, stderr)
				if got := p.contents(plain); got != want {
					t.Errorf("after the kill the index differs from a clean build:\n%s", diff(got, want))
				}
				out := p.mustRun(plain, args...)
				if !strings.HasPrefix(out, "Indexed 0 files") {
					t.Errorf("the run after the kill did work: %s", out)
				}
				checkClean(t, p.index) // and no JSON catalog left
				if m, err := store.ReadManifest(p.index); err != nil || m.FormatVersion != store.FormatVersion {
					t.Errorf("not migrated: version %d, %v", m.FormatVersion, err)
				}
				if got := p.contents(plain); got != want {
					t.Errorf("after the kill and a rerun the index differs from a clean build:\n%s", diff(got, want))
				}
			})
		}
	}
}

// TestKillDuringRebuild: a rebuild killed anywhere leaves the old index
// serving searches whole; the next --rebuild finishes the job.
func TestKillDuringRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	plain, fault := binaries(t)
	docs := corpus(t, 150)
	want := cleanBuild(t, plain, docs)

	for _, point := range []string{"catalog-written:2", "catalog-committed:3", "published:1", "gc:1"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			p := newProc(t)
			p.mustRun(plain, "index", "--embed-model", model, "--batch-size", "4", docs)
			before := p.contents(plain)
			_, stderr, code := p.run(fault, []string{"RAG_FAULT=" + point}, "index", "--rebuild", "--batch-size", "4")
			killed(t, code, stderr)
			if point != "published:1" && point != "gc:1" {
				if got := p.contents(plain); got != before {
					t.Errorf("the old index changed before the rebuild was published:\n%s", diff(got, before))
				}
			}
			p.mustRun(plain, "index", "--rebuild", "--batch-size", "4")
			checkClean(t, p.index)
			if got := p.contents(plain); got != want {
				t.Errorf("rebuilt index differs from a clean build:\n%s", diff(got, want))
			}
		})
	}
}

// TestConcurrentProcesses: a second writer fails at once with exit 8 while
// the first is mid-run, and searches meanwhile see a whole index.
func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	plain, _ := binaries(t)
	docs := corpus(t, 150)
	p := newProc(t)
	p.mustRun(plain, "index", "--embed-model", model, "--batch-size", "4", filepath.Join(docs, "part0"))

	gate := make(chan struct{})
	var calls atomic.Int32
	p.srv.OnEmbed(func() {
		if calls.Add(1) == 20 { // past the first commit of the second run
			<-gate
		}
	})
	first := p.cmd(context.Background(), plain, nil, "index", "--batch-size", "4", docs)
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for calls.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}

	_, stderr, code := p.run(plain, nil, "index", docs)
	if code != 8 || !strings.Contains(stderr, "another rag index (pid ") {
		t.Errorf("second writer: exit %d, %q", code, stderr)
	}
	out := p.contents(plain) // a reader while the writer is mid-run
	if !strings.Contains(out, "damaged []") {
		t.Errorf("reader during a run: %s", out)
	}

	// A real SIGINT: the run stops with exit 130 and keeps its work. The
	// held request is let go only once rag has stopped (or, if the signal
	// did not stop it, after a while, to fail below): let go at once, its
	// answer could finish the run before the signal lands.
	if err := first.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	timer := time.AfterFunc(10*time.Second, release)
	err := first.Wait()
	timer.Stop()
	release()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || !strings.Contains(firstErr.String(), "rag: error: interrupted") {
		t.Fatalf("SIGINT: %v, %q", err, firstErr.String())
	}
	p.srv.OnEmbed(nil)
	out = p.mustRun(plain, "index", "--json", docs)
	var rep struct{ Unchanged, New int }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Unchanged < 64 || rep.Unchanged+rep.New != 150 {
		t.Errorf("after SIGINT the next run redid work: %+v", rep)
	}
	checkClean(t, p.index)
}

func diff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var b strings.Builder
	for i := 0; i < max(len(g), len(w)) && b.Len() < 2000; i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			fmt.Fprintf(&b, "line %d:\n  got  %s\n  want %s\n", i+1, gl, wl)
		}
	}
	return b.String()
}
