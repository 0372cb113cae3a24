package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rag-cli/rag/pkg/access"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/rerank"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// leakDoc is a document of TestAccessLeaks: where it is, its front matter
// (if any), and who may see it, written out by hand from the rules the
// test indexes with (not computed by the code under test).
type leakDoc struct {
	path string // under the test's folder: eng/, acme/, misc/, linked/ or pub/
	// front is the access: line of its front matter, or "", or (when it
	// holds a newline) all that comes before the document's text.
	front  string
	tenant string
	who    []string // principals that see it (public: everybody of its tenant)
}

var leakDocs = []leakDoc{
	// eng: --allow group:eng, and a .ragaccess (see leakRules).
	{"eng/a0.md", "", "", []string{"group:eng"}},
	{"eng/a1.md", "", "", []string{"group:eng"}},
	{"eng/sub/a2.md", "", "", []string{"group:eng"}},
	{"eng/hr/h0.md", "", "", []string{"group:hr"}},
	{"eng/hr/h1.md", "", "", []string{"group:hr"}},
	{"eng/hr/deep/h2.md", "", "", []string{"group:hr"}},
	{"eng/x.bob.md", "", "", []string{"user:bob"}},
	{"eng/hr/y.bob.md", "", "", []string{"user:bob"}}, // the later line wins
	{"eng/pub/p0.md", "", "", []string{"public"}},
	{"eng/c.md", "access: [user:carol]", "", []string{"user:carol"}},
	{"eng/hr/none.md", "access: []", "", nil},
	// acme: tenant acme, --allow public.
	{"acme/m0.md", "", "acme", []string{"public"}},
	{"acme/m1.md", "", "acme", []string{"public"}},
	{"acme/sub/m2.md", "", "acme", []string{"public"}},
	{"acme/e.md", "access: group:eng", "acme", []string{"group:eng"}},
	// misc: no --allow: nobody, but for front matter.
	{"misc/n0.md", "", "", nil},
	{"misc/n1.md", "", "", nil},
	{"misc/s.md", "access: [group:sales, user:carol]", "", []string{"group:sales", "user:carol"}},
	// linked: --allow user:bob, and a .ragaccess that is a link to an
	// outside "* public": it gives no rule, and the files it would have
	// decided are visible to nobody, not even by --allow, until it is a
	// regular file; front matter still decides.
	{"linked/l0.md", "", "", nil},
	{"linked/sub/l1.md", "", "", nil},
	{"linked/l2.md", "access: [user:carol]", "", []string{"user:carol"}},
	// pub: --allow public, and front matter near misses: a key in another
	// case or in TOML is read; a key that is almost "access" and front
	// matter below a blank line make the file visible to nobody.
	{"pub/p.md", "", "", []string{"public"}},
	{"pub/caps.md", "Access: [user:alice]", "", []string{"user:alice"}},
	{"pub/upper.md", "ACCESS: user:alice", "", []string{"user:alice"}},
	{"pub/toml.md", "+++\naccess = [\"user:alice\"]\n+++\n", "", []string{"user:alice"}},
	{"pub/acces.md", "acces: [user:alice]", "", nil},
	{"pub/acess.md", "acess: user:alice", "", nil},
	{"pub/accesss.md", "accesss: [user:alice]", "", nil},
	{"pub/space.md", "\"Access \": [user:alice]", "", nil},
	{"pub/toml-acces.md", "+++\nacces = [\"user:alice\"]\n+++\n", "", nil},
	{"pub/blank.md", "\n---\naccess: [user:alice]\n---\n", "", nil},
	{"pub/blanks-toml.md", "\n\n+++\naccess = [\"user:alice\"]\n+++\n", "", nil},
}

// leakOutsideRules is the file linked/.ragaccess links to, outside the
// folder.
const leakOutsideRules = "* public\n"

const leakRules = `# who may see what in eng/
hr/          group:hr
*.bob.md     user:bob
/pub/        public
`

const leakGroups = `alice: [eng]
bob: [hr, sales]
carol: []
dave: eng
`

// leakWords gives document i its own words (found in no other document)
// and words every document shares, so that queries of shared words match
// everything and queries of a document's own words match it alone.
func leakWords(i int) string {
	own := fmt.Sprintf("zq%dx kv%dy", i, i)
	return fmt.Sprintf("Project plan and budget review. The %s notes cover %s in detail, with the quarterly report.", own, own)
}

// leakViews are who asks, in which tenant.
var leakViews = []struct{ as, tenant string }{
	{"", ""}, {"public", ""}, {"user:alice", ""}, {"user:bob", ""}, {"user:carol", ""}, {"user:dave", ""},
	{"group:hr", ""}, {"user:eve", ""}, {"group:eng", "acme"}, {"user:alice", "acme"}, {"user:bob", "acme"}, {"", "acme"},
	{"user:alice", "globex"},
}

// leakSees is the test's own answer: whether who (as, with the groups of
// leakGroups) in tenant sees document d.
func leakSees(d leakDoc, as, tenant string) bool {
	if d.tenant != tenant {
		return false
	}
	groups := map[string][]string{"user:alice": {"group:eng"}, "user:bob": {"group:hr", "group:sales"}, "user:dave": {"group:eng"}}
	me := append([]string{as, "public"}, groups[as]...)
	for _, w := range d.who {
		if slices.Contains(me, w) {
			return true
		}
	}
	return false
}

// TestAccessLeaks indexes three sources of two tenants whose documents
// share most words, with access from --allow, a .ragaccess file and front
// matter, then searches as each principal in every mode, with and without
// re-ranking, thousands of times: queries of shared words, of one
// document's own words, and made only of words of documents the asker may
// not see. No result may come from a document the asker may not see, and
// an allowed asker gets a full k. Answers (sources), status counts and
// show are checked the same way through the real command.
func TestAccessLeaks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	root := t.TempDir()
	for i, d := range leakDocs {
		text := fmt.Sprintf("# Doc %d\n\n%s\n", i, leakWords(i))
		switch {
		case strings.Contains(d.front, "\n"):
			text = d.front + text
		case d.front != "":
			text = "---\n" + d.front + "\n---\n" + text
		}
		write(t, filepath.Join(root, filepath.FromSlash(d.path)), text)
	}
	write(t, filepath.Join(root, "eng", ".ragaccess"), leakRules)
	outside := filepath.Join(t.TempDir(), "rules")
	write(t, outside, leakOutsideRules)
	if err := os.Symlink(outside, filepath.Join(root, "linked", ".ragaccess")); err != nil {
		t.Fatal(err)
	}
	groups := filepath.Join(t.TempDir(), "groups.yaml")
	write(t, groups, leakGroups)
	h.env["RAG_GROUPS_FILE"] = groups
	for _, src := range []struct {
		args []string
		code int
		warn []string // each on stderr
	}{
		{args: []string{"--allow", "group:eng", filepath.Join(root, "eng")}},
		{args: []string{"--tenant", "acme", "--allow", "public", filepath.Join(root, "acme")}},
		{args: []string{filepath.Join(root, "misc")}},
		{args: []string{"--allow", "user:bob", filepath.Join(root, "linked")}, code: ExitPartial,
			warn: []string{"linked/.ragaccess: rules not read: a symbolic link, not a regular file"}},
		{args: []string{"--allow", "public", filepath.Join(root, "pub")}, code: ExitPartial,
			warn: []string{`pub/acces.md: front matter: key "acces" is not "access"`, `pub/acess.md: front matter: key "acess"`,
				`pub/accesss.md: front matter: key "accesss"`, `pub/space.md: front matter: key "Access "`,
				`pub/toml-acces.md: front matter: key "acces"`, "pub/blank.md: front matter unreadable (front matter must start on the first line, not after 1 blank line)",
				"pub/blanks-toml.md: front matter unreadable (front matter must start on the first line, not after 2 blank lines)"}},
	} {
		r := h.run(runOpt{}, append([]string{"index", "--embed-model", embedModel}, src.args...)...)
		if r.code != src.code {
			t.Fatalf("index %v: exit %d, want %d: %s", src.args, r.code, src.code, r.stderr)
		}
		for _, w := range src.warn {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("index %v: no warning %q in:\n%s", src.args, w, r.stderr)
			}
		}
	}

	// The leak hunt: retrieval as the commands run it, the store opened once.
	ctx := context.Background()
	st, err := store.Open(ctx, h.index, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}()
	host, err := url.Parse(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := ollama.New(host, NewHTTPClient())
	emb := &embed.Model{Client: client, Name: embedModel}
	rr := &rerank.Model{Judge: client, Name: chatModel}
	members, err := access.ParseMembership(strings.NewReader(leakGroups))
	if err != nil {
		t.Fatal(err)
	}
	pathOf := func(res retrieve.Result) string {
		rel, err := filepath.Rel(root, filepath.Join(res.Root, filepath.FromSlash(res.Path)))
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(rel)
	}
	docOf := map[string]leakDoc{}
	for _, d := range leakDocs {
		docOf[d.path] = d
	}
	var queries []string
	for i := range leakDocs {
		queries = append(queries, fmt.Sprintf("zq%dx", i), fmt.Sprintf("kv%dy budget", i), fmt.Sprintf("zq%dx kv%dy", i, (i+5)%len(leakDocs)))
	}
	shared := []string{"project plan budget review", "quarterly report", "notes in detail"}
	queries = append(queries, shared...)
	searches := 0
	for _, v := range leakViews {
		as := v.as
		if as == "" {
			as = access.Public
		}
		who, err := members.Principals(as)
		if err != nil {
			t.Fatal(err)
		}
		view := store.View{Tenant: v.tenant, Principals: who}
		visible := 0
		for _, d := range leakDocs {
			if leakSees(d, as, v.tenant) {
				visible++ // one chunk each
			}
		}
		// Queries made only of words of documents this view may not see.
		var forbidden []string
		for i, d := range leakDocs {
			if !leakSees(d, as, v.tenant) {
				forbidden = append(forbidden, fmt.Sprintf("zq%dx kv%dy", i, i))
			}
		}
		for _, mode := range retrieve.Modes {
			for _, withRerank := range []bool{false, true} {
				opt := retrieve.Options{View: view, Mode: mode, Fusion: retrieve.Weighted, Candidates: 10}
				if withRerank {
					opt.Rerank = rr
				}
				qs := append(slices.Clone(queries), forbidden...)
				if withRerank {
					// The judge reorders candidates the view already
					// filtered: the shared and forbidden queries test it,
					// at a sixth of the model calls of every query.
					qs = append(slices.Clone(shared), forbidden...)
				}
				for _, q := range qs {
					res, err := retrieve.Search(ctx, st, emb, q, 5, opt)
					if err != nil {
						t.Fatalf("%v %s %q: %v", v, mode, q, err)
					}
					searches++
					for _, r := range res {
						if p := pathOf(r); !leakSees(docOf[p], as, v.tenant) {
							t.Errorf("LEAK: %s in tenant %q, %s (rerank %v), %q: result %s", as, v.tenant, mode, withRerank, q, p)
						}
					}
					if slices.Contains(shared, q) && mode != retrieve.Lexical && len(res) != min(5, visible) {
						t.Errorf("%s in tenant %q, %s, %q: %d results, want a full %d", as, v.tenant, mode, q, len(res), min(5, visible))
					}
					if slices.Contains(shared, q) && mode == retrieve.Lexical && len(res) != min(5, visible) {
						t.Errorf("%s in tenant %q, lexical, %q: %d results, want a full %d", as, v.tenant, q, len(res), min(5, visible))
					}
					if slices.Contains(forbidden, q) && mode == retrieve.Lexical && len(res) != 0 {
						t.Errorf("%s in tenant %q, lexical, %q (words of forbidden documents only): %d results", as, v.tenant, q, len(res))
					}
				}
			}
		}

		// Through the real command: counts, answers and show.
		args := []string{"--tenant", v.tenant}
		if v.as != "" {
			args = append(args, "--as", v.as)
		}
		if v.tenant == "" {
			args = args[2:]
		}
		r := h.run(runOpt{}, append([]string{"status", "--json"}, args...)...)
		var rep statusReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("status %v: %v (%s)", args, err, r.stderr)
		}
		if rep.Files != visible || rep.Chunks != visible {
			t.Errorf("status %v: %d files, %d chunks; want %d", args, rep.Files, rep.Chunks, visible)
		}
		for _, q := range forbidden[:min(3, len(forbidden))] {
			r := h.run(runOpt{}, append([]string{"ask", "--json", "--model", chatModel, "--mode", "lexical", q}, args...)...)
			for _, p := range leakDocs {
				if !leakSees(p, as, v.tenant) && strings.Contains(r.stdout, filepath.Base(p.path)) {
					t.Errorf("LEAK: ask %v %q names %s: %s", args, q, p.path, r.stdout)
				}
			}
		}
		for _, d := range leakDocs {
			if leakSees(d, as, v.tenant) {
				continue
			}
			r := h.run(runOpt{}, append([]string{"show", filepath.Join(root, filepath.FromSlash(d.path))}, args...)...)
			if r.code != ExitUsage || strings.Contains(r.stdout, "zq") {
				t.Errorf("show %s %v: exit %d, %q", d.path, args, r.code, r.stdout)
			}
		}
	}
	if searches < 2000 {
		t.Errorf("only %d searches", searches)
	}
	t.Logf("%d searches, %d views", searches, len(leakViews))
}

// nestDoc is a document of TestNestedSettingsLeaks, under the test's
// shared/ folder.
var nestDocs = []string{"s.md", "hr/h.md", "hr/h2.md", "hr/deep/h3.md"}

// nestWant is where a document of nestDocs must be after a scenario: its
// tenant, who sees it and its collection, written out by hand.
type nestWant struct {
	tenant, collection string
	who                []string
}

// TestNestedSettingsLeaks: settings given for a path inside an indexed
// folder (or for a folder around an indexed path) apply to that path
// alone, whichever is indexed first: the most specific source decides a
// file's tenant, access and collection, a setting not given for a nested
// path follows the folder around it, and a plain refresh or a rebuild
// changes none of it. Each scenario is checked through the real search
// as every asker in every tenant and collection, before and after a
// refresh, and through status.
func TestNestedSettingsLeaks(t *testing.T) {
	t.Parallel()
	bob := func(c string) nestWant { return nestWant{"", c, []string{"user:bob"}} }
	for _, tc := range []struct {
		name  string
		runs  [][]string // index runs, paths relative to the folder around shared/
		want  map[string]nestWant
		note  string   // a note the last run prints, "" for none checked
		shown []string // lines status --all must show (paths relative too)
	}{{
		name: "a file made public inside a folder of bob's",
		runs: [][]string{{"--allow", "user:bob", "shared"}, {"--allow", "public", "shared/hr/h.md"}},
		want: map[string]nestWant{"s.md": bob("shared"), "hr/h.md": {"", "shared", []string{"public"}}, "hr/h2.md": bob("shared"), "hr/deep/h3.md": bob("shared")},
		note: "shared/hr/h.md is inside shared, which is indexed: refreshing shared; the settings given are for shared/hr/h.md alone",
		shown: []string{"shared (folder; collection shared; allow user:bob)",
			"shared/hr/h.md (file inside shared; collection shared (inherited); the default tenant (inherited); allow public)"},
	}, {
		name: "a subfolder of alice's, then the folder for bob",
		runs: [][]string{{"--allow", "user:alice", "shared/hr"}, {"--allow", "user:bob", "shared"}},
		want: map[string]nestWant{"s.md": bob("shared"), "hr/h.md": {"", "hr", []string{"user:alice"}}, "hr/h2.md": {"", "hr", []string{"user:alice"}}, "hr/deep/h3.md": {"", "hr", []string{"user:alice"}}},
		note: "shared/hr is inside shared and keeps its own settings: allow user:alice",
		shown: []string{"shared (folder; collection shared; allow user:bob)",
			"shared/hr (folder inside shared; collection hr; the default tenant; allow user:alice; walk options of its own)"},
	}, {
		name: "the folder for bob, then a subfolder for alice",
		runs: [][]string{{"--allow", "user:bob", "shared"}, {"--allow", "user:alice", "shared/hr"}},
		want: map[string]nestWant{"s.md": bob("shared"), "hr/h.md": {"", "shared", []string{"user:alice"}}, "hr/h2.md": {"", "shared", []string{"user:alice"}}, "hr/deep/h3.md": {"", "shared", []string{"user:alice"}}},
	}, {
		name: "a subfolder moved into another tenant",
		runs: [][]string{{"--allow", "user:bob", "shared"}, {"--tenant", "tb", "--allow", "user:dave", "shared/hr"}},
		want: map[string]nestWant{"s.md": bob("shared"), "hr/h.md": {"tb", "shared", []string{"user:dave"}}, "hr/h2.md": {"tb", "shared", []string{"user:dave"}}, "hr/deep/h3.md": {"tb", "shared", []string{"user:dave"}}},
		shown: []string{"shared (folder; collection shared; allow user:bob)",
			"shared/hr (folder inside shared; collection shared (inherited); tenant tb; allow user:dave)"},
	}, {
		name: "the folder moved into another tenant takes what inherits its tenant",
		runs: [][]string{{"--allow", "user:bob", "shared"}, {"--allow", "public", "shared/hr/h.md"}, {"--allow", "user:alice", "--tenant", "", "shared/hr/deep"}, {"--tenant", "tb", "shared"}},
		want: map[string]nestWant{"s.md": {"tb", "shared", []string{"user:bob"}}, "hr/h.md": {"tb", "shared", []string{"public"}}, "hr/h2.md": {"tb", "shared", []string{"user:bob"}}, "hr/deep/h3.md": {"", "shared", []string{"user:alice"}}},
		note: "shared/hr/deep is inside shared and keeps its own settings: the default tenant",
	}, {
		name: "a subfolder in a collection of its own",
		runs: [][]string{{"--collection", "c1", "--allow", "user:bob", "shared"}, {"--collection", "c2", "shared/hr"}},
		want: map[string]nestWant{"s.md": bob("c1"), "hr/h.md": bob("c2"), "hr/h2.md": bob("c2"), "hr/deep/h3.md": bob("c2")},
	}, {
		name: "a file of alice's, then its folder for bob, then the parent for the public",
		runs: [][]string{{"--allow", "user:alice", "shared/hr/h.md"}, {"--allow", "user:bob", "shared/hr"}, {"--allow", "public", "shared"}},
		want: map[string]nestWant{"s.md": {"", "shared", []string{"public"}}, "hr/h.md": {"", "h.md", []string{"user:alice"}}, "hr/h2.md": {"", "hr", []string{"user:bob"}}, "hr/deep/h3.md": {"", "hr", []string{"user:bob"}}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			top := t.TempDir()
			for i, d := range nestDocs {
				write(t, filepath.Join(top, "shared", filepath.FromSlash(d)), fmt.Sprintf("# Doc %d\n\n%s\n", i, leakWords(i)))
			}
			var last result
			for i, args := range tc.runs {
				args = slices.Clone(args)
				args[len(args)-1] = filepath.Join(top, filepath.FromSlash(args[len(args)-1]))
				if i == 0 {
					args = append([]string{"--embed-model", embedModel}, args...)
				}
				if last = h.run(runOpt{}, append([]string{"index"}, args...)...); last.code != 0 {
					t.Fatalf("index %v: exit %d: %s", args, last.code, last.stderr)
				}
			}
			rel := func(s string) string { return strings.ReplaceAll(s, top+string(filepath.Separator), "") }
			if tc.note != "" && !strings.Contains(rel(last.stderr), "rag: note: "+tc.note) {
				t.Errorf("last run's notes: %q, want %q", rel(last.stderr), tc.note)
			}
			check := func(when string) {
				t.Helper()
				checkNested(t, h, top, tc.want, when)
				r := h.mustRun(runOpt{}, "status", "--all")
				for _, line := range tc.shown {
					if !strings.Contains(rel(r.stdout), "  "+line+"\n") {
						t.Errorf("%s: status does not show %q:\n%s", when, line, rel(r.stdout))
					}
				}
			}
			check("after the runs")
			h.mustRun(runOpt{}, "index")
			check("after a refresh")
			h.mustRun(runOpt{}, "index", "--rebuild")
			check("after a rebuild")
		})
	}
}

// checkNested searches as every asker in every tenant, in every collection
// and in none, and compares the files found with want.
func checkNested(t *testing.T, h *harness, top string, want map[string]nestWant, when string) {
	t.Helper()
	var collections []string
	for _, w := range want {
		if !slices.Contains(collections, w.collection) {
			collections = append(collections, w.collection)
		}
	}
	for _, as := range []string{"public", "user:alice", "user:bob", "user:dave"} {
		for _, tenant := range []string{"", "tb"} {
			for _, c := range append([]string{""}, collections...) {
				var wantFiles []string
				for _, d := range nestDocs {
					w := want[d]
					sees := slices.Contains(w.who, "public") || slices.Contains(w.who, as)
					if w.tenant == tenant && sees && (c == "" || w.collection == c) {
						wantFiles = append(wantFiles, filepath.Join(top, "shared", filepath.FromSlash(d)))
					}
				}
				args := []string{"search", "--files", "--mode", "lexical", "-k", "20", "--as", as}
				if tenant != "" {
					args = append(args, "--tenant", tenant)
				}
				if c != "" {
					if len(wantFiles) == 0 {
						continue // the collection is not this asker's: an error says so
					}
					args = append(args, "-c", c)
				}
				r := h.run(runOpt{}, append(args, "project plan budget review")...)
				got := strings.Fields(r.stdout)
				slices.Sort(got)
				slices.Sort(wantFiles)
				if !slices.Equal(got, wantFiles) {
					t.Errorf("%s: %s in tenant %q, collection %q finds %v (exit %d, %s), want %v", when, as, tenant, c, got, r.code, r.stderr, wantFiles)
				}
			}
		}
	}
}

// TestAccessLeakWatch: rag index --watch applies an edit of .ragaccess or
// .ragignore at its next pass, with no document changing: a rule changed
// from "* public" to "* user:alice" stops public reading the file, and a
// file newly ignored leaves the index.
func TestAccessLeakWatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "plan.md"), "# Plan\n\nThe zqplanx budget review.\n")
	write(t, filepath.Join(dir, "sub", "memo.md"), "# Memo\n\nThe zqmemox salary memo.\n")
	write(t, filepath.Join(dir, ".ragaccess"), "* public\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		done <- h.run(runOpt{ctx: ctx, ready: func() { close(ready) }},
			"index", "--watch", "--json", "--watch-delay", "50ms", "--embed-model", embedModel, dir)
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("watch ended early: exit %d, %q", r.code, r.stderr)
	}
	// finds reports whether as finds the file of word, until it is want
	// or 10s have passed.
	finds := func(as, word string, want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := h.run(runOpt{}, "search", "--files", "--mode", "lexical", "--as", as, word)
			got := strings.TrimSpace(r.stdout) != ""
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %q: found %v after 10s, want %v (%s)", as, word, got, want, r.stdout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	finds("public", "zqplanx", true)
	finds("public", "zqmemox", true)

	write(t, filepath.Join(dir, ".ragaccess"), "* user:alice\n")
	finds("public", "zqplanx", false)
	finds("public", "zqmemox", false)
	finds("user:alice", "zqplanx", true)
	finds("user:bob", "zqplanx", false)

	write(t, filepath.Join(dir, ".ragignore"), "sub/\n")
	finds("user:alice", "zqmemox", false)
	finds("user:alice", "zqplanx", true)

	cancel()
	if r := <-done; r.code != 0 {
		t.Fatalf("watch: exit %d, %q", r.code, r.stderr)
	}
}
