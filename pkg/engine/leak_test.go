package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// engineDoc is a document of TestEngineAccessLeaks: its name (unique: no
// other document's name holds it), its folder, its front matter and who
// may see it, written out by hand from the rules it is indexed with.
type engineDoc struct {
	name, folder, front string
	tenant              string
	who                 []string // principals that see it; public: all of its tenant
	damaged             bool     // its stored chunks are deleted
}

var engineDocs = []engineDoc{
	// eng: --allow group:eng and a .ragaccess (engineRules).
	{name: "e0.md", folder: "eng", who: []string{"group:eng"}},
	{name: "e1.md", folder: "eng", who: []string{"group:eng"}},
	{name: "hr/h2.md", folder: "eng", who: []string{"group:hr"}},
	{name: "hr/h3.md", folder: "eng", who: []string{"group:hr"}, damaged: true},
	{name: "x4.bob.md", folder: "eng", who: []string{"user:bob"}},
	{name: "c5.md", folder: "eng", front: "access: [user:carol]", who: []string{"user:carol"}},
	// acme: tenant acme, --allow public.
	{name: "m6.md", folder: "acme", tenant: "acme", who: []string{"public"}},
	{name: "m7.md", folder: "acme", tenant: "acme", front: "access: group:eng", who: []string{"group:eng"}, damaged: true},
	// misc: no --allow: nobody, but for front matter.
	{name: "n8.md", folder: "misc"},
	{name: "s9.md", folder: "misc", front: "access: [group:sales]", who: []string{"group:sales"}},
	// pub: --allow public, collection open.
	{name: "p10.md", folder: "pub", who: []string{"public"}},
}

const engineRules = "hr/ group:hr\n*.bob.md user:bob\n"

const engineGroups = "alice: [eng]\nbob: [hr, sales]\ncarol: []\n"

// engineSees is the test's own answer: whether as in tenant sees d.
func engineSees(d engineDoc, as, tenant string) bool {
	if d.tenant != tenant {
		return false
	}
	groups := map[string][]string{"user:alice": {"group:eng"}, "user:bob": {"group:hr", "group:sales"}}
	me := append([]string{cmp.Or(as, "public"), "public"}, groups[as]...)
	return slices.ContainsFunc(d.who, func(w string) bool { return slices.Contains(me, w) })
}

// engineWords gives document i words of its own and words all share.
func engineWords(i int) string {
	return fmt.Sprintf("Project plan and budget review. The zq%dx notes cover kv%dy in detail, with the quarterly report.", i, i)
}

// leakIndex indexes engineDocs and deletes the stored chunks of the
// damaged ones; it returns the index, the groups file and the client.
func leakIndex(t *testing.T) (dir, groups string, r func(Who) (*Reader, error)) {
	t.Helper()
	_, client := models(t)
	root := t.TempDir()
	for i, d := range engineDocs {
		text := fmt.Sprintf("# Doc %d\n\n%s\n", i, engineWords(i))
		if d.front != "" {
			text = "---\n" + d.front + "\n---\n" + text
		}
		writeFile(t, filepath.Join(root, d.folder, filepath.FromSlash(d.name)), text)
	}
	writeFile(t, filepath.Join(root, "eng", ".ragaccess"), engineRules)
	groups = filepath.Join(t.TempDir(), "groups.yaml")
	write(t, groups, engineGroups)
	dir = filepath.Join(t.TempDir(), "index")
	at := func(f string) string { return filepath.Join(root, f) }
	indexSources(t, client, dir, store.Source{Path: at("eng"), Allow: []string{"group:eng"}}, store.Source{Path: at("acme"), Tenant: "acme", Allow: []string{"public"}},
		store.Source{Path: at("misc")}, store.Source{Path: at("pub"), Allow: []string{"public"}, Collection: "open"})
	m, err := store.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range engineDocs {
		if !d.damaged {
			continue
		}
		i := slices.IndexFunc(m.Files, func(f store.FileEntry) bool { return f.Path == d.name })
		if i < 0 {
			t.Fatalf("%s is not indexed", d.name)
		}
		if err := os.Remove(filepath.Join(dir, "objects", m.Files[i].Key[:2], m.Files[i].Key+".chk")); err != nil {
			t.Fatal(err)
		}
	}
	return dir, groups, func(w Who) (*Reader, error) { return open(t, client, dir, groups, w, nil) }
}

// TestEngineAccessLeaks: searches and answers through the engine, as
// every asker in every tenant and mode, with queries of words all
// documents share, of one document's own words and of words only of
// documents the asker may not see, never return anything of a file the
// asker may not see: not in results, sources, dropped sources or damaged
// files, not in an error, not as a collection a hint would name; and an
// asker finds every intact document it may see.
func TestEngineAccessLeaks(t *testing.T) {
	t.Parallel()
	_, _, open := leakIndex(t)
	views := []struct{ as, tenant string }{
		{"", ""}, {"user:alice", ""}, {"user:bob", ""}, {"user:carol", ""}, {"group:hr", ""}, {"user:eve", ""},
		{"group:eng", "acme"}, {"user:bob", "acme"}, {"", "acme"},
	}
	for _, v := range views {
		t.Run(cmp.Or(v.as, "public")+"@"+cmp.Or(v.tenant, "default"), func(t *testing.T) {
			t.Parallel()
			r, err := open(Who{As: v.as, Tenant: v.tenant})
			if err != nil {
				t.Fatal(err)
			}
			// The store knows of every damaged file, seen or not (as after
			// rag status, or a search by another asker of the same store).
			if err := r.Store().(*store.Local).CheckSizes(); err != nil {
				t.Fatal(err)
			}
			var sees, hidden []string
			var intact, damaged []string
			var queries []string
			for i, d := range engineDocs {
				if engineSees(d, v.as, v.tenant) {
					sees = append(sees, d.name)
					if d.damaged {
						damaged = append(damaged, d.name)
					} else {
						intact = append(intact, d.name)
					}
				} else {
					hidden = append(hidden, d.name)
				}
				queries = append(queries, fmt.Sprintf("zq%dx", i), fmt.Sprintf("What do the zq%dx notes cover?", i))
			}
			queries = append(queries, "project plan budget review", "quarterly report")
			check := newLeakCheck(t, sees, hidden)
			for _, mode := range retrieve.Modes {
				for _, q := range queries {
					what := fmt.Sprintf("%s %q", mode, q)
					check.search(what, r, q, mode)
					if mode != retrieve.Dense {
						check.ask(what, r, q, mode, nil)
					}
				}
				check.full(mode, r, intact, damaged)
			}
			for _, c := range []string{"eng", "acme", "misc", "open"} {
				what := "collection " + c
				check.ask(what, r, "What do the budget notes cover?", retrieve.Lexical, []string{c})
				// One the asker sees no file of is unknown to it, as one
				// that does not exist: its existence is not told.
				_, err := r.Ask(context.Background(), AskRequest{Question: "budget", AskOptions: askOptions(retrieve.Lexical), Collections: []string{c}}, nil)
				var unknown *UnknownCollectionError
				if isUnknown := errors.As(err, &unknown); isUnknown == check.seesCollection(c) {
					t.Errorf("LEAK: %s: error %v", what, err)
				}
			}
		})
	}
}

// leakCheck checks what an asker gets against what it may see.
type leakCheck struct {
	t            *testing.T
	sees, hidden []string
}

func newLeakCheck(t *testing.T, sees, hidden []string) *leakCheck {
	return &leakCheck{t: t, sees: sees, hidden: hidden}
}

// paths fails the test for a path the asker may not see.
func (c *leakCheck) paths(what, kind string, paths []string) {
	c.t.Helper()
	for _, p := range paths {
		if !slices.Contains(c.sees, p) {
			c.t.Errorf("LEAK: %s: %s %s", what, kind, p)
		}
	}
}

// err fails the test for an error that names a file the asker may not
// see, or a collection it sees no file of.
func (c *leakCheck) err(what string, err error) {
	c.t.Helper()
	if err == nil {
		return
	}
	for _, h := range c.hidden {
		if strings.Contains(err.Error(), h) {
			c.t.Errorf("LEAK: %s: the error names %s: %v", what, h, err)
		}
	}
	var unknown *UnknownCollectionError
	if errors.As(err, &unknown) {
		c.collections(what, unknown.Have)
	}
}

// collections fails the test for a collection of no file the asker sees.
func (c *leakCheck) collections(what string, have []string) {
	c.t.Helper()
	for _, col := range have {
		if !c.seesCollection(col) {
			c.t.Errorf("LEAK: %s: collection %s is named", what, col)
		}
	}
}

// seesCollection reports whether the asker sees a file of collection col.
func (c *leakCheck) seesCollection(col string) bool {
	return slices.ContainsFunc(engineDocs, func(d engineDoc) bool {
		return slices.Contains(c.sees, d.name) && cmp.Or(map[string]string{"pub": "open"}[d.folder], d.folder) == col
	})
}

func resultPaths(rs []retrieve.Result) []string {
	var ps []string
	for _, r := range rs {
		ps = append(ps, r.Path)
	}
	return ps
}

func (c *leakCheck) search(what string, r *Reader, q string, mode retrieve.Mode) {
	c.t.Helper()
	res, err := r.Search(context.Background(), SearchRequest{Query: q, K: 20, Retrieval: Retrieval{Mode: mode, Fusion: retrieve.RRF, Candidates: 10}})
	c.err("search "+what, err)
	if err == nil {
		c.paths("search "+what, "result", resultPaths(res.Results))
		c.paths("search "+what, "damaged file", res.DamagedFiles)
	}
}

func (c *leakCheck) ask(what string, r *Reader, q string, mode retrieve.Mode, collections []string) {
	c.t.Helper()
	res, err := r.Ask(context.Background(), AskRequest{Question: q, AskOptions: askOptions(mode), Collections: collections, StrictDamage: true}, nil)
	c.err("ask "+what, err)
	if err != nil {
		return
	}
	var sources, dropped []string
	for _, s := range res.Answer.Sources {
		sources = append(sources, s.Path)
	}
	for _, s := range res.DroppedSources {
		dropped = append(dropped, s.Path)
	}
	c.paths("ask "+what, "source", sources)
	c.paths("ask "+what, "dropped source", dropped)
	c.paths("ask "+what, "damaged file", res.DamagedFiles)
	for _, h := range c.hidden {
		if strings.Contains(res.Answer.Answer, h) {
			c.t.Errorf("LEAK: ask %s: the answer names %s", what, h)
		}
	}
}

// full checks that a search of the words all documents share finds every
// intact document the asker may see, and names the damaged ones it may
// see: a view that hid everything would leak nothing and be wrong.
func (c *leakCheck) full(mode retrieve.Mode, r *Reader, intact, damaged []string) {
	c.t.Helper()
	res, err := r.Search(context.Background(), SearchRequest{Query: "project plan budget review", K: 20, Retrieval: Retrieval{Mode: mode, Fusion: retrieve.RRF, Candidates: 10}})
	if err != nil {
		c.t.Errorf("%s: %v", mode, err)
		return
	}
	got := resultPaths(res.Results)
	slices.Sort(got)
	want := slices.Clone(intact)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		c.t.Errorf("%s: finds %v, want %v", mode, got, want)
	}
	if !slices.Equal(res.DamagedFiles, damaged) && len(res.DamagedFiles)+len(damaged) > 0 {
		c.t.Errorf("%s: damaged files %v, want %v", mode, res.DamagedFiles, damaged)
	}
}
