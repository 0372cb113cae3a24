package engine

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rag-cli/rag/internal/ollamatest"
	"github.com/rag-cli/rag/pkg/embed"
	"github.com/rag-cli/rag/pkg/indexer"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/store"
)

const testEmbedModel = "fake-embed"

// fixture is an index of two folders built with the fake model server:
// handbook (collection handbook, open to the public) and wiki (collection
// wiki, for user:bob alone). Both hold a faq.md.
type fixture struct {
	dir               string
	handbook, wiki    string
	models            *ollama.Client
	retryText, kettle string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := ollamatest.New(t, testEmbedModel)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	f := &fixture{dir: filepath.Join(base, "index"), handbook: filepath.Join(base, "handbook"), wiki: filepath.Join(base, "wiki"), models: ollama.New(u, nil),
		retryText: "Retry policy\n\nThe client retries a failed upload three times.\nIt waits two seconds between tries.\n",
		kettle:    "# Kettle\n\nThe kettle boils water in two minutes.\n"}
	files := map[string]string{
		"handbook/retry.txt":        f.retryText,
		"handbook/install.md":       "# Install\n\nRun make install.\n\n## macOS\n\nUse brew install rag.\n",
		"handbook/faq.md":           "# FAQ\n\nThe office opens at nine.\n",
		"handbook/guides/backup.md": "# Backup\n\nBack up the index folder nightly.\n",
		"wiki/kettle.md":            f.kettle,
		"wiki/faq.md":               "# Wiki FAQ\n\nThe wiki is for bob.\n",
	}
	for name, text := range files {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := store.Open(ctx, f.dir, store.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	emb := &embed.Model{Client: f.models, Name: testEmbedModel}
	for _, src := range []store.Source{
		{Path: f.handbook, Collection: "handbook", Allow: []string{"public"}},
		{Path: f.wiki, Collection: "wiki", Allow: []string{"user:bob"}},
	} {
		if _, err := indexer.Run(ctx, st, emb, indexer.Options{Root: src.Path, FS: os.DirFS(src.Path), Source: src, Model: testEmbedModel, IndexDir: f.dir}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) engine() *Engine { return New(Config{Dir: f.dir, Models: f.models}) }

// open opens the index for w; the reader is closed when the test ends.
func (f *fixture) open(t *testing.T, w Who) *Reader {
	t.Helper()
	r, err := f.engine().Open(context.Background(), w, nil)
	if err != nil {
		t.Fatalf("open as %+v: %v", w, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// objectOf is the object file holding the chunks of the indexed file p.
func (f *fixture) objectOf(t *testing.T, p string) string {
	t.Helper()
	m, err := store.ReadManifest(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fe := range m.Files {
		if fe.Path == p {
			return filepath.Join(f.dir, "objects", fe.Key[:2], fe.Key+".chk")
		}
	}
	t.Fatalf("%s is not indexed", p)
	return ""
}

// errorAs reports whether err is a *T.
func errorAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func TestGet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bob := f.open(t, Who{As: "user:bob"})
	public := f.open(t, Who{})
	host := f.open(t, Who{})
	host.Host = true
	tests := []struct {
		name   string
		r      *Reader
		target string
		// want is each section as its citation's lines and text.
		want []Section
		err  func(error) bool
	}{
		{"a file", public, "retry.txt", []Section{{StartLine: 1, EndLine: 4, Text: strings.TrimSuffix(f.retryText, "\n")}}, nil},
		{"a line range", public, "retry.txt:3-4", []Section{{StartLine: 3, EndLine: 4, Text: "The client retries a failed upload three times.\nIt waits two seconds between tries."}}, nil},
		{"a citation pasted whole", public, "install.md:5-7 (Install > macOS)", []Section{{StartLine: 5, EndLine: 7, Heading: "Install", Text: "## macOS\n\nUse brew install rag."}}, nil},
		{"an absolute path", bob, filepath.Join(f.wiki, "kettle.md"), []Section{{StartLine: 1, EndLine: 3, Heading: "Kettle", Text: strings.TrimSuffix(f.kettle, "\n")}}, nil},
		{"a file in a folder", public, "guides/backup.md:3", []Section{{StartLine: 3, EndLine: 3, Heading: "Backup", Text: "Back up the index folder nightly."}}, nil},
		{"not in the index", public, "nope.md", nil, errorAs[*NotIndexedError]},
		{"another's file is not in the index", public, "kettle.md", nil, errorAs[*NotIndexedError]},
		{"another's file by its absolute path", public, filepath.Join(f.wiki, "kettle.md"), nil, errorAs[*NotIndexedError]},
		{"one faq.md for the public", public, "faq.md", []Section{{StartLine: 1, EndLine: 3, Heading: "FAQ", Text: "# FAQ\n\nThe office opens at nine."}}, nil},
		{"two faq.md for bob", bob, "faq.md:1-2", nil, func(err error) bool {
			var a *AmbiguousPathError
			return errors.As(err, &a) && a.Rest == ":1-2" && len(a.Files) == 2 && !a.Host
		}},
		{"lines outside", public, "retry.txt:40-50", nil, func(err error) bool {
			var o *OutsideError
			return errors.As(err, &o) && o.First == 1 && o.Last == 4 && o.FileLines == 4
		}},
		{"a folder to a server's client", public, f.handbook, nil, func(err error) bool {
			var n *NotIndexedError
			return errors.As(err, &n) && !n.Folder
		}},
		{"a folder on the host", host, f.handbook, nil, func(err error) bool {
			var n *NotIndexedError
			return errors.As(err, &n) && n.Folder
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := tt.r.Get(context.Background(), tt.target)
			if tt.err != nil {
				if !tt.err(err) {
					t.Fatalf("error %v (%T), document %+v", err, err, doc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if doc.OnDisk != "unchanged" || !slices.Equal(doc.Sections, tt.want) {
				t.Errorf("on disk %s, sections %+v\nwant %+v", doc.OnDisk, doc.Sections, tt.want)
			}
		})
	}
}

func TestMultiGet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	public := f.open(t, Who{})
	bob := f.open(t, Who{As: "user:bob"})
	// got is each item as TARGET=PATH, TARGET=error or TARGET=omitted.
	got := func(res *MultiGetResult) string {
		var out []string
		for _, it := range res.Items {
			switch {
			case it.Document != nil:
				out = append(out, it.Target+"="+it.Document.Path)
			case it.Err != nil:
				out = append(out, it.Target+"=error")
			default:
				out = append(out, it.Target+"=omitted")
			}
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name string
		r    *Reader
		req  MultiGetRequest
		want string
	}{
		{"files and citations", public, MultiGetRequest{Targets: []string{"retry.txt", "install.md:5-7"}}, "retry.txt=retry.txt,install.md:5-7=install.md"},
		{"a target's error beside the others", public, MultiGetRequest{Targets: []string{"nope.md", "retry.txt:40-50", "faq.md"}}, "nope.md=error,retry.txt:40-50=error,faq.md=faq.md"},
		{"a glob within a folder", public, MultiGetRequest{Targets: []string{"*.md"}}, "faq.md=faq.md,install.md=install.md"},
		{"a glob of any folders", public, MultiGetRequest{Targets: []string{"**/*.md"}}, "faq.md=faq.md,guides/backup.md=guides/backup.md,install.md=install.md"},
		{"a glob sees only what the asker sees", public, MultiGetRequest{Targets: []string{"kettle*"}}, "kettle*=error"},
		{"an absolute glob", bob, MultiGetRequest{Targets: []string{filepath.Join(f.wiki, "*")}}, "faq.md=faq.md,kettle.md=kettle.md"},
		{"a path under two folders by its absolute path", bob, MultiGetRequest{Targets: []string{"f?q.md"}},
			filepath.Join(f.handbook, "faq.md") + "=faq.md," + filepath.Join(f.wiki, "faq.md") + "=faq.md"},
		{"the same text once", public, MultiGetRequest{Targets: []string{"retry.txt", "*.txt", "retry.txt:3-4"}}, "retry.txt=retry.txt,retry.txt:3-4=retry.txt"},
		{"an invalid glob", public, MultiGetRequest{Targets: []string{"[a"}}, "[a=error"},
		{"bounded", public, MultiGetRequest{Targets: []string{"retry.txt", "install.md", "faq.md"}, MaxBytes: len(f.retryText) + 40},
			"retry.txt=retry.txt,install.md=omitted,faq.md=faq.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.r.MultiGet(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if g := got(res); g != tt.want {
				t.Errorf("items %s\nwant  %s", g, tt.want)
			}
			n := 0
			for _, it := range res.Items {
				if it.Document != nil {
					n += it.Document.Bytes()
				}
			}
			if res.Bytes != n || n > res.MaxBytes {
				t.Errorf("bytes %d, documents %d, bound %d", res.Bytes, n, res.MaxBytes)
			}
		})
	}
	t.Run("errors of the request", func(t *testing.T) {
		many := make([]string, MaxMultiGetTargets+1)
		for i := range many {
			many[i] = "retry.txt"
		}
		for _, targets := range [][]string{nil, {" ", ""}, many} {
			if _, err := public.MultiGet(context.Background(), MultiGetRequest{Targets: targets}); !errorAs[*RequestError](err) {
				t.Errorf("%d targets: %v", len(targets), err)
			}
		}
	})
	t.Run("past the bound of items, unread", func(t *testing.T) {
		res, err := public.MultiGet(context.Background(), MultiGetRequest{Targets: []string{"nope.md", "**", "retry.txt"}, MaxItems: 3})
		if err != nil {
			t.Fatal(err)
		}
		if g := got(res); g != "nope.md=error,faq.md=faq.md,guides/backup.md=guides/backup.md,install.md=omitted,retry.txt=omitted,retry.txt=omitted" {
			t.Errorf("items %s", g)
		}
	})
}

// TestCollections: a collection narrows get, list, status and the
// summary, and one the asker sees no file of is refused, naming those it
// does see, whoever else's it is.
func TestCollections(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	e := f.engine()
	ctx := context.Background()
	unknown := func(have ...string) func(error) bool {
		return func(err error) bool {
			var u *UnknownCollectionError
			return errors.As(err, &u) && slices.Equal(u.Have, have)
		}
	}
	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			who  Who
			ok   func(error) bool
		}{
			{"a typo", Who{Collections: []string{"hanbook"}}, unknown("handbook")},
			{"another's collection", Who{Collections: []string{"wiki"}}, unknown("handbook")},
			{"one of two", Who{As: "user:bob", Collections: []string{"wiki", "nope"}}, unknown("handbook", "wiki")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if r, err := e.Open(ctx, tc.who, nil); !tc.ok(err) {
					t.Errorf("open: %v", err)
					if r != nil {
						_ = r.Close()
					}
				}
				if rep, err := e.Status(ctx, tc.who, StatusRequest{}, nil); !tc.ok(err) || rep != nil {
					t.Errorf("status: %v, %+v", err, rep)
				}
			})
		}
		r := f.open(t, Who{As: "user:bob"})
		v := r.View()
		v.Collections = []string{"nope"}
		if _, err := r.WithView(v); !unknown("handbook", "wiki")(err) {
			t.Errorf("with view: %v", err)
		}
	})
	t.Run("narrowed", func(t *testing.T) {
		wiki := f.open(t, Who{As: "user:bob", Collections: []string{"wiki"}})
		if _, err := wiki.Get(ctx, "retry.txt"); !errorAs[*NotIndexedError](err) {
			t.Errorf("get of another collection's file: %v", err)
		}
		if doc, err := wiki.Get(ctx, "faq.md"); err != nil || doc.Root != f.wiki {
			t.Errorf("get faq.md in wiki: %v, %+v", err, doc)
		}
		ls := wiki.List(nil)
		if len(ls.Collections) != 1 || ls.Collections[0] != (ListedCollection{Name: "wiki", Files: 2, Chunks: 2}) || len(ls.Files) != 2 {
			t.Errorf("list: %+v", ls)
		}
		if s := wiki.Summary(); s.Files != 2 || len(s.Collections) != 1 || !slices.Equal(s.Roots, []string{f.wiki}) {
			t.Errorf("summary: %+v", s)
		}
		rep, err := e.Status(ctx, Who{As: "user:bob", Collections: []string{"wiki"}}, StatusRequest{Verify: true}, nil)
		if err != nil || rep.Files != 2 || rep.Access.Whole || len(rep.Sources) != 1 || rep.Sources[0].Path != f.wiki || rep.Verified.Chunks != 2 {
			t.Errorf("status: %v, %+v", err, rep)
		}
		rep, err = e.Status(ctx, Who{Collections: []string{"wiki"}}, StatusRequest{All: true}, nil)
		if err != nil || rep.Files != 6 || !rep.Access.Whole || rep.Access.As != "" {
			t.Errorf("status --all: %v, %+v", err, rep)
		}
	})
	t.Run("an asker's share", func(t *testing.T) {
		var warned []Event
		rep, err := e.Status(ctx, Who{As: "user:eve", Tenant: "nowhere"}, StatusRequest{}, func(ev Event) { warned = append(warned, ev) })
		if err != nil || rep.Health != "empty" || rep.Files != 0 || rep.Access.Whole {
			t.Errorf("a tenant the index never had is empty, not refused: %v, %+v", err, rep)
		}
		if len(warned) != 1 || warned[0].(Warning).Kind != WarnNoGroups {
			t.Errorf("warnings %+v", warned)
		}
		if got := f.open(t, Who{}).List([]string{"guides"}); len(got.Files) != 1 || got.Files[0].Path != "guides/backup.md" {
			t.Errorf("list guides: %+v", got)
		}
	})
}

// TestDamage: damaged stored chunks are reported by Status (to those who
// see the file), and Get of the file is a DamagedError naming it, while
// the rest reads as before; a catalog damaged with no previous copy gives
// a report that says so and the catalog's error.
func TestDamage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	damaged := func(paths ...string) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			t.Helper()
			var d *DamagedError
			if !errors.As(err, &d) || !slices.Equal(store.DamagedPaths(d.Damaged), paths) {
				t.Errorf("error %v, want the damage of %v", err, paths)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(p string) error
		bySize bool // a status without verify sees it
	}{
		{"deleted", os.Remove, true},
		{"truncated", func(p string) error { return os.Truncate(p, 10) }, true},
		{"flipped bytes", func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data[len(data)/2] ^= 0xff
			return os.WriteFile(p, data, 0o644)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			e := f.engine()
			if err := tc.damage(f.objectOf(t, "kettle.md")); err != nil {
				t.Fatal(err)
			}
			bob := Who{As: "user:bob"}
			rep, err := e.Status(ctx, bob, StatusRequest{}, nil)
			if tc.bySize {
				damaged("kettle.md")(t, err)
				if rep == nil || rep.Health != "damaged" || !slices.Equal(rep.DamagedFiles, []string{"kettle.md"}) {
					t.Errorf("status: %+v", rep)
				}
			} else if err != nil || rep.Health != "ok" {
				t.Errorf("status without verify: %v, %+v", err, rep)
			}
			rep, err = e.Status(ctx, bob, StatusRequest{Verify: true}, nil)
			damaged("kettle.md")(t, err)
			if rep == nil || rep.Verified == nil || !slices.Equal(rep.Verified.Damaged, []string{"kettle.md"}) {
				t.Errorf("status --verify: %+v", rep)
			}
			// The public does not see kettle.md, nor its damage.
			if rep, err := e.Status(ctx, Who{}, StatusRequest{Verify: true}, nil); err != nil || rep.Health != "ok" || len(rep.DamagedFiles) != 0 {
				t.Errorf("the public's status: %v, %+v", err, rep)
			}
			r := f.open(t, bob)
			_, err = r.Get(ctx, "kettle.md:1-2")
			damaged("kettle.md")(t, err)
			if _, err := r.Get(ctx, "retry.txt"); err != nil {
				t.Errorf("get of an intact file: %v", err)
			}
			res, err := r.MultiGet(ctx, MultiGetRequest{Targets: []string{"kettle.md", "retry.txt"}})
			if err != nil || len(res.Items) != 2 || res.Items[1].Document == nil {
				t.Fatalf("multi-get: %v, %+v", err, res)
			}
			damaged("kettle.md")(t, res.Items[0].Err)
		})
	}
	t.Run("the catalog", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		p := filepath.Join(f.dir, "catalog")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		// The run before kept its catalog: it is read, and said so.
		rep, err := f.engine().Status(ctx, Who{}, StatusRequest{}, nil)
		var d *DamagedError
		if !errors.As(err, &d) || d.Recovered == nil || rep == nil || rep.Health != "damaged" || !rep.CatalogRecovered {
			t.Errorf("status, recovered: %v, %+v", err, rep)
		}
		if err := os.Remove(filepath.Join(f.dir, "catalog.prev")); err != nil {
			t.Fatal(err)
		}
		rep, err = f.engine().Status(ctx, Who{}, StatusRequest{}, nil)
		var corrupt *store.CorruptError
		if !errors.As(err, &corrupt) || !corrupt.Catalog || rep == nil || rep.Health != "damaged" || rep.Sources == nil {
			t.Errorf("status: %v, %+v", err, rep)
		}
	})
}

// TestWithViewAfterTenantGone: a long-lived reader narrowed for a call
// (rag mcp's collection) is not refused when a commit since it was opened
// removed its tenant's last file: the call reads "not in the index", as
// it did before it was narrowed through the engine.
func TestWithViewAfterTenantGone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	acme := filepath.Join(t.TempDir(), "acme")
	if err := os.MkdirAll(acme, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(acme, "plan.md"), []byte("# Plan\n\nShip in May.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := store.Source{Path: acme, Tenant: "acme", Allow: []string{"public"}}
	run := func(opt indexer.Options) {
		t.Helper()
		st, err := store.Open(ctx, f.dir, store.Options{Write: true})
		if err != nil {
			t.Fatal(err)
		}
		opt.Root, opt.Source, opt.Model, opt.IndexDir = acme, src, testEmbedModel, f.dir
		_, err = indexer.Run(ctx, st, &embed.Model{Client: f.models, Name: testEmbedModel}, opt)
		if err := errors.Join(err, st.Close()); err != nil {
			t.Fatal(err)
		}
	}
	run(indexer.Options{FS: os.DirFS(acme)})
	w := Who{Tenant: "acme"}
	r := f.open(t, w)
	if _, err := r.Get(ctx, "plan.md"); err != nil {
		t.Fatal(err)
	}
	run(indexer.Options{PruneOnly: true, Gone: true})
	if err := r.Refresh(ctx, w); err != nil {
		t.Fatal(err)
	}
	n, err := r.WithView(r.View())
	if err != nil {
		t.Fatalf("narrowed: %v", err)
	}
	if _, err := n.Get(ctx, "plan.md"); !errorAs[*NotIndexedError](err) {
		t.Errorf("get: %v", err)
	}
	v := r.View()
	v.Tenant = "nowhere"
	if _, err := r.WithView(v); !errorAs[*UnknownTenantError](err) {
		t.Errorf("another tenant: %v", err)
	}
}
