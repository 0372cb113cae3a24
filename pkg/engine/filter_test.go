package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rag-cli/rag/pkg/filter"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// filterDocs are the documents of TestFilterEqualsSmallerIndex: their
// front matter, by path.
var filterDocs = map[string]string{
	"runbooks/db.md":   "tags: [prod, db]\ndate: 2025-02-01\npriority: 3",
	"runbooks/web.md":  "tags: [staging]\ndate: 2025-03-01\npriority: 1",
	"runbooks/dns.md":  "tags: [prod]\ndate: 2024-12-01",
	"notes/old.md":     "tags: archive\ndate: 2023-05-05",
	"notes/ideas.md":   "",
	"policies/keys.md": "tags: [prod, security]\nowner: alice\npriority: 5",
}

// TestFilterEqualsSmallerIndex: searches and asks through the engine with
// a filter, in every mode, give exactly what an index of the matching
// files alone gives (the same results, lines and scores), whether the
// filter is the reader's (--filter) or the request's (rag serve, MCP).
func TestFilterEqualsSmallerIndex(t *testing.T) {
	t.Parallel()
	_, client := models(t)
	all := t.TempDir()
	for p, front := range filterDocs {
		writeFile(t, filepath.Join(all, filepath.FromSlash(p)), docText(p, front))
	}
	dirAll := filepath.Join(t.TempDir(), "index")
	indexSources(t, client, dirAll, store.Source{Path: all})
	for _, tt := range []struct {
		filters []string
		match   []string
	}{
		{[]string{"tags=prod"}, []string{"runbooks/db.md", "runbooks/dns.md", "policies/keys.md"}},
		{[]string{"tags=prod", "date>=2025-01-01|owner exists"}, []string{"runbooks/db.md", "policies/keys.md"}},
		{[]string{"path=notes/**"}, []string{"notes/old.md", "notes/ideas.md"}},
		{[]string{"priority<=3"}, []string{"runbooks/db.md", "runbooks/web.md"}},
		{[]string{"tags missing|tags!=prod"}, []string{"runbooks/web.md", "notes/old.md", "notes/ideas.md"}},
	} {
		t.Run(strings.Join(tt.filters, " & "), func(t *testing.T) {
			t.Parallel()
			f, err := filter.ParseAll(tt.filters)
			if err != nil {
				t.Fatal(err)
			}
			// The same folder name: the same collection and paths.
			alone := filepath.Join(t.TempDir(), filepath.Base(all))
			for _, p := range tt.match {
				writeFile(t, filepath.Join(alone, filepath.FromSlash(p)), docText(p, filterDocs[p]))
			}
			dirAlone := filepath.Join(t.TempDir(), "index")
			indexSources(t, client, dirAlone, store.Source{Path: alone})
			byReader, err := open(t, client, dirAll, "", Who{Filter: f}, nil)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := open(t, client, dirAll, "", Who{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := open(t, client, dirAlone, "", Who{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range retrieve.Modes {
				for _, q := range []string{"restore the service", "rotate keys and certificates", "old ideas"} {
					rt := Retrieval{Mode: mode, Fusion: retrieve.RRF, FusionWeight: 0.5, Candidates: 10}
					w := searchLines(t, want, SearchRequest{Query: q, K: 4, Retrieval: rt})
					if g := searchLines(t, byReader, SearchRequest{Query: q, K: 4, Retrieval: rt}); g != w {
						t.Errorf("%s %q, the reader's filter:\n%s\nwant, as an index of the matching files alone,\n%s", mode, q, g, w)
					}
					if g := searchLines(t, plain, SearchRequest{Query: q, K: 4, Retrieval: rt, Filter: f}); g != w {
						t.Errorf("%s %q, the request's filter:\n%s\nwant\n%s", mode, q, g, w)
					}
				}
			}
			for _, q := range []string{"How do I restore the service?", "Who rotates the keys?"} {
				req := AskRequest{Question: q, AskOptions: askOptions(retrieve.Lexical), DryRun: true}
				wres, err := want.Ask(context.Background(), req, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Filter = f
				gres, err := plain.Ask(context.Background(), req, nil)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := fmt.Sprint(dryRunSources(gres)), fmt.Sprint(dryRunSources(wres)); g != w {
					t.Errorf("ask %q: sources %s, want %s", q, g, w)
				}
			}
		})
	}
}

// docText is a document of filterDocs: its front matter, and words some
// documents share.
func docText(p, front string) string {
	body := fmt.Sprintf("# %s\n\nRestore the service, rotate keys and certificates; %s keeps old ideas about the service.\n", p, strings.ReplaceAll(p, "/", " "))
	if front == "" {
		return body
	}
	return "---\n" + front + "\n---\n" + body
}

func searchLines(t *testing.T, r *Reader, req SearchRequest) string {
	t.Helper()
	res, err := r.Search(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, x := range res.Results {
		fmt.Fprintf(&b, "%s:%d-%d %.6f\n", x.Path, x.StartLine, x.EndLine, x.Score)
	}
	return b.String()
}

func dryRunSources(res *AskResult) []string {
	var out []string
	if res.DryRun == nil {
		return out
	}
	for _, s := range res.DryRun.Sources {
		out = append(out, fmt.Sprintf("%s:%d %.6f", s.Path, s.StartLine, s.Score))
	}
	return out
}
