package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/rag-cli/rag/internal/mcpserver"
	"github.com/rag-cli/rag/internal/ollamatest"
	tokenfile "github.com/rag-cli/rag/internal/tokens"
	"github.com/rag-cli/rag/pkg/answer"
	"github.com/rag-cli/rag/pkg/engine"
	"github.com/rag-cli/rag/pkg/ollama"
	"github.com/rag-cli/rag/pkg/retrieve"
	"github.com/rag-cli/rag/pkg/store"
)

// leakDoc is a document of TestServerAccessLeaks (pkg/engine's
// TestEngineAccessLeaks fixture): its name (no other name holds it), its
// folder, front matter, tenant and who may see it, written out by hand
// from the rules it is indexed with.
type leakDoc struct {
	name, folder, front string
	tenant              string
	who                 []string // principals that see it; public: all of its tenant
	damaged             bool     // its stored chunks are deleted
}

var leakDocs = []leakDoc{
	// eng: --allow group:eng and a .ragaccess (leakRules).
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

const (
	leakRules  = "hr/ group:hr\n*.bob.md user:bob\n"
	leakGroups = "alice: [eng]\nbob: [hr, sales]\ncarol: []\n"
)

// leakCollection is the collection of d's folder.
func leakCollection(d leakDoc) string {
	return cmp.Or(map[string]string{"pub": "open"}[d.folder], d.folder)
}

// leakSees is the test's own answer: whether as in tenant sees d.
func leakSees(d leakDoc, as, tenant string) bool {
	if d.tenant != tenant {
		return false
	}
	groups := map[string][]string{"user:alice": {"group:eng"}, "user:bob": {"group:hr", "group:sales"}}
	me := append([]string{cmp.Or(as, "public"), "public"}, groups[as]...)
	return slices.ContainsFunc(d.who, func(w string) bool { return slices.Contains(me, w) })
}

// leakSecret is a word of document i's text alone: no query holds it, so
// a response that holds it quotes the document.
func leakSecret(i int) string { return fmt.Sprintf("kv%dy", i) }

// leakIndex indexes leakDocs (deleting the stored chunks of the damaged
// ones) and returns the index folder, the groups file and the models'
// client.
func leakIndex(t *testing.T) (dir, groups string, models *ollamatest.Server, client *ollama.Client) {
	t.Helper()
	models = ollamatest.New(t, testEmbed, testChat)
	host, err := url.Parse(models.URL)
	if err != nil {
		t.Fatal(err)
	}
	client = ollama.New(host, nil)
	root := t.TempDir()
	for i, d := range leakDocs {
		text := fmt.Sprintf("# Doc %d\n\nProject plan and budget review. The zq%dx notes cover %s in detail, with the quarterly report.\n", i, i, leakSecret(i))
		if d.front != "" {
			text = "---\n" + d.front + "\n---\n" + text
		}
		writeFile(t, filepath.Join(root, d.folder, filepath.FromSlash(d.name)), text)
	}
	writeFile(t, filepath.Join(root, "eng", ".ragaccess"), leakRules)
	groups = filepath.Join(t.TempDir(), "groups.yaml")
	writeFile(t, groups, leakGroups)
	dir = filepath.Join(t.TempDir(), "index")
	at := func(f string) string { return filepath.Join(root, f) }
	indexSources(t, client, dir, store.Source{Path: at("eng"), Allow: []string{"group:eng"}}, store.Source{Path: at("acme"), Tenant: "acme", Allow: []string{"public"}},
		store.Source{Path: at("misc")}, store.Source{Path: at("pub"), Allow: []string{"public"}, Collection: "open"})
	m, err := store.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range leakDocs {
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
	return dir, groups, models, client
}

// fileTokens is the tokens file as the server looks tokens up (what the
// face that wires them adapts).
type fileTokens struct{ f *tokenfile.File }

func (l fileTokens) Lookup(secret string, now time.Time) (principal, tenant string, admin bool, id string, err error) {
	t, err := l.f.Lookup(secret, now)
	if err != nil {
		return "", "", false, "", err
	}
	return t.Principal, t.Tenant, t.Admin, t.ID, nil
}

// leakCaller is who calls: a token's principal and tenant (no principal:
// no token), and the engine's asker it stands for.
type leakCaller struct {
	principal, tenant string
	as                string
	secret            string
}

func (c leakCaller) name() string { return cmp.Or(c.as, "public") + "@" + cmp.Or(c.tenant, "default") }

// leakServer is a server with /mcp over the index, answering in one mode
// with or without re-ranking, and counting its requests.
type leakServer struct {
	name     string
	url      string
	requests *atomic.Int64
}

// leakWho is the MCP handler's who: the Caller the server's
// authentication put in the request, never anything the request says.
func leakWho(r *http.Request) (engine.Who, error) {
	c, ok := CallerFrom(r.Context())
	if !ok {
		return engine.Who{}, errors.New("no caller: /mcp is served outside the server's authentication")
	}
	return c.Who, nil
}

func newLeakServer(t *testing.T, e *engine.Engine, auth Authenticator, mode retrieve.Mode, rerank bool, requests *atomic.Int64) leakServer {
	t.Helper()
	ask := engine.AskOptions{Retrieval: engine.Retrieval{Mode: mode, Fusion: retrieve.RRF, FusionWeight: 0.5, Candidates: retrieve.DefaultCandidates,
		Rerank: rerank, RerankModel: testChat}, K: 5, Model: testChat, NumCtx: 8192, MaxTokens: 256, Prompt: answer.DefaultPrompt()}
	mcpH := mcpserver.HTTPHandler(e, mcpserver.Options{Version: "test", SearchK: 20, Ask: ask}, leakWho)
	srv := httptest.NewUnstartedServer(nil)
	h := New(Config{Engine: e, Auth: auth, Addr: srv.Listener.Addr().String(), Ask: ask, SearchK: 20, MCP: mcpH, Now: testNow})
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		if err := errors.Join(mcpH.Close(), h.Close()); err != nil {
			t.Error(err)
		}
	})
	name := string(mode)
	if rerank {
		name += "+rerank"
	}
	return leakServer{name: name, url: srv.URL, requests: requests}
}

// TestServerAccessLeaks: through rag serve's HTTP routes and its MCP
// tools, with real tokens of principals in two tenants (and none), in
// every mode with and without re-ranking, a caller gets nothing of a file
// it may not see: no path, text, citation, collection or damaged file in
// any field or error; and it finds every intact file it may see. A wrong,
// revoked or expired token is 401, never the public view.
func TestServerAccessLeaks(t *testing.T) {
	t.Parallel()
	start := time.Now()
	dir, groups, models, client := leakIndex(t)
	file := tokenfile.Open(filepath.Join(t.TempDir(), "tokens.yaml"))
	callers := []leakCaller{
		{}, {principal: "user:alice", as: "user:alice"}, {principal: "user:bob", as: "user:bob"}, {principal: "user:carol", as: "user:carol"},
		{principal: "group:hr", as: "group:hr"}, {principal: "user:eve", as: "user:eve"},
		{principal: "group:eng", tenant: "acme", as: "group:eng"}, {principal: "user:bob", tenant: "acme", as: "user:bob"},
	}
	for i, c := range callers {
		if c.principal == "" {
			continue
		}
		secret, _, err := file.Add(c.principal, c.tenant, false, time.Time{}, testNow())
		if err != nil {
			t.Fatal(err)
		}
		callers[i].secret = secret
	}
	refused := refusedTokens(t, file)
	e := engine.New(engine.Config{Dir: dir, Models: client, GroupsFile: groups, Now: testNow})
	auth := BearerAuth(fileTokens{file}, false, testNow)
	var requests, leaks atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d requests (HTTP and MCP), %d re-ranking judgements, %d leaks, %s", requests.Load(), models.JudgeRequests(), leaks.Load(), time.Since(start).Round(time.Millisecond))
	})
	for _, mode := range retrieve.Modes {
		for _, rerank := range []bool{false, true} {
			srv := newLeakServer(t, e, auth, mode, rerank, &requests)
			for _, c := range callers {
				t.Run(srv.name+"/"+c.name(), func(t *testing.T) {
					t.Parallel()
					lc := newServerLeakCheck(t, srv, c, &leaks)
					// Routes that take no mode are asked of the first
					// server alone: they answer the same in every one.
					first := mode == retrieve.Modes[0] && !rerank
					lc.http(mode, rerank, first)
					lc.mcp(mode, first)
				})
			}
			if mode != retrieve.Modes[0] || rerank {
				continue
			}
			t.Run(srv.name+"/refused", func(t *testing.T) {
				t.Parallel()
				for name, secret := range refused {
					lc := newServerLeakCheck(t, srv, leakCaller{secret: secret}, &leaks)
					lc.refused(name)
				}
			})
		}
	}
}

// refusedTokens are tokens the server must refuse: a wrong one, a
// revoked one and an expired one, each of a principal who sees much.
func refusedTokens(t *testing.T, file *tokenfile.File) map[string]string {
	t.Helper()
	revoked, tok, err := file.Add("user:alice", "", true, time.Time{}, testNow())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	expired, _, err := file.Add("group:hr", "", false, testNow().Add(-time.Hour), testNow().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"wrong": tokenfile.SecretPrefix + strings.Repeat("A", 43), "revoked": revoked, "expired": expired}
}

// serverLeakCheck checks what one caller gets from one server against
// what it may see.
type serverLeakCheck struct {
	t                *testing.T
	srv              leakServer
	c                leakCaller
	leaks            *atomic.Int64
	intact, damaged  []string // of the files the caller sees
	hidden           []int    // indexes in leakDocs of the files it does not
	sees, collection map[string]bool
}

func newServerLeakCheck(t *testing.T, srv leakServer, c leakCaller, leaks *atomic.Int64) *serverLeakCheck {
	lc := &serverLeakCheck{t: t, srv: srv, c: c, leaks: leaks, sees: map[string]bool{}, collection: map[string]bool{}}
	for i, d := range leakDocs {
		switch {
		case !leakSees(d, c.as, c.tenant):
			lc.hidden = append(lc.hidden, i)
		case d.damaged:
			lc.damaged = append(lc.damaged, d.name)
		default:
			lc.intact = append(lc.intact, d.name)
		}
		if leakSees(d, c.as, c.tenant) {
			lc.sees[d.name] = true
			lc.collection[leakCollection(d)] = true
		}
	}
	return lc
}

// leak fails the test for a leak, and counts it.
func (lc *serverLeakCheck) leak(format string, args ...any) {
	lc.t.Helper()
	lc.leaks.Add(1)
	lc.t.Errorf("LEAK: "+format, args...)
}

// raw fails the test for a response that holds the name or the text of a
// file the caller may not see anywhere (a field, a citation, an error),
// but for names the caller itself sent (own).
func (lc *serverLeakCheck) raw(what string, body []byte, own ...string) {
	lc.t.Helper()
	s := string(body)
	for _, i := range lc.hidden {
		d := leakDocs[i]
		if strings.Contains(s, leakSecret(i)) {
			lc.leak("%s: the text of %s: %s", what, d.name, s)
		}
		if !slices.Contains(own, d.name) && strings.Contains(s, d.name) {
			lc.leak("%s: names %s: %s", what, d.name, s)
		}
	}
}

// do sends a request as the caller, and returns its status and body.
func (lc *serverLeakCheck) do(method, path string, body any) (int, []byte) {
	lc.t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			lc.t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, lc.srv.url+path, rd)
	if err != nil {
		lc.t.Fatal(err)
	}
	if lc.c.secret != "" {
		req.Header.Set("Authorization", "Bearer "+lc.c.secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		lc.t.Fatal(err)
	}
	b, err := readAllClose(resp)
	if err != nil {
		lc.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func readAllClose(resp *http.Response) ([]byte, error) {
	b, err := io.ReadAll(resp.Body)
	return b, errors.Join(err, resp.Body.Close())
}

// leakQueries are questions of each document's own words (each a query
// of a hidden document for some caller) and of words all share.
func leakQueries() []string {
	var qs []string
	for i := range leakDocs {
		qs = append(qs, fmt.Sprintf("What do the zq%dx notes cover?", i))
	}
	return append(qs, "quarterly report", leakAll)
}

// leakAll is a query of words every document holds: it finds them all.
const leakAll = "project plan budget review"

// full checks that a search finds every intact file the caller sees, and
// names only damaged files it sees: a view that hid everything would leak
// nothing and be wrong.
func (lc *serverLeakCheck) full(what string, rep engine.SearchReport) {
	lc.t.Helper()
	got := paths(rep)
	slices.Sort(got)
	want := slices.Clone(lc.intact)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		lc.t.Errorf("%s: finds %v, want %v", what, got, want)
	}
	for _, d := range rep.DamagedFiles {
		if !slices.Contains(lc.damaged, d) {
			lc.leak("%s: damaged file %s", what, d)
		}
	}
}

// http sends every route's requests as the caller: those that take no
// mode or re-ranking only when all is set.
func (lc *serverLeakCheck) http(mode retrieve.Mode, rerank, all bool) {
	t := lc.t
	for _, q := range leakQueries() {
		status, b := lc.do("POST", "/v1/search", map[string]any{"query": q, "k": 20, "mode": mode, "rerank": rerank})
		lc.raw("search "+q, b)
		var rep engine.SearchReport
		if status != http.StatusOK || json.Unmarshal(b, &rep) != nil {
			t.Errorf("search %q: status %d: %s", q, status, b)
			continue
		}
		if q == leakAll {
			lc.full("search", rep)
		}
		if rerank && len(rep.Results) > 0 && rep.RerankModel == "" {
			t.Errorf("search %q: not re-ranked: %s", q, b)
		}
		for _, r := range rep.Results {
			if !lc.sees[r.Path] {
				lc.leak("search %q: result %s", q, r.Path)
			}
		}
		_, b = lc.do("POST", "/v1/ask", map[string]any{"question": q, "mode": mode, "rerank": rerank})
		lc.raw("ask "+q, b)
	}
	lc.httpCollections(mode, rerank)
	if !all {
		return
	}
	lc.httpGet()
	status, b := lc.do("GET", "/v1/status", nil)
	lc.raw("status", b)
	var st engine.StatusReport
	switch {
	case status == http.StatusInternalServerError && len(lc.damaged) > 0 && strings.Contains(string(b), `"code":"index"`):
		// The files the caller sees are damaged: the route answers the
		// engine's DamagedError (raw checked it names none of another's).
	case status != http.StatusOK || json.Unmarshal(b, &st) != nil:
		t.Errorf("status: status %d: %s", status, b)
	}
	for _, s := range st.Sources {
		if !lc.collection[cmp.Or(s.Collection, filepath.Base(s.Path))] {
			lc.leak("status: source %s (collection %q)", s.Path, s.Collection)
		}
	}
	for _, d := range st.DamagedFiles {
		if !slices.Contains(lc.damaged, d) {
			lc.leak("status: damaged file %s", d)
		}
	}
}

// httpGet gets every file, one by one and by a glob: the caller's own
// whole, another's as if it did not exist.
func (lc *serverLeakCheck) httpGet() {
	t := lc.t
	noneStatus, none := lc.do("POST", "/v1/get", map[string]any{"target": "zz99.md"})
	for i, d := range leakDocs {
		status, b := lc.do("POST", "/v1/get", map[string]any{"target": d.name})
		lc.raw("get "+d.name, b, d.name)
		switch {
		case !lc.sees[d.name]:
			if status != noneStatus || strings.ReplaceAll(string(b), d.name, "zz99.md") != string(none) {
				lc.leak("get %s: %d %s, not as a file that does not exist: %d %s", d.name, status, b, noneStatus, none)
			}
		case !d.damaged && (status != http.StatusOK || !strings.Contains(string(b), leakSecret(i))):
			t.Errorf("get %s: status %d: %s", d.name, status, b)
		}
	}
	status, b := lc.do("POST", "/v1/multi-get", map[string]any{"targets": []string{"**/*.md"}, "max_bytes": MaxMultiGetBytes})
	lc.raw("multi-get", b)
	for _, d := range lc.intact {
		i := slices.IndexFunc(leakDocs, func(x leakDoc) bool { return x.name == d })
		if status != http.StatusOK || !strings.Contains(string(b), leakSecret(i)) {
			t.Errorf("multi-get: %s is not returned: %d %s", d, status, b)
		}
	}
}

// httpCollections: the collections the caller is told of are those of
// files it sees; one it sees no file of is answered as one that does not
// exist.
func (lc *serverLeakCheck) httpCollections(mode retrieve.Mode, rerank bool) {
	t := lc.t
	status, b := lc.do("GET", "/v1/collections", nil)
	var cols collectionsReport
	if status != http.StatusOK || json.Unmarshal(b, &cols) != nil {
		t.Errorf("collections: status %d: %s", status, b)
	}
	var want []string
	for c := range lc.collection {
		want = append(want, c)
	}
	slices.Sort(want)
	slices.Sort(cols.Collections)
	if !slices.Equal(cols.Collections, want) {
		for _, c := range cols.Collections {
			if !lc.collection[c] {
				lc.leak("collections: %s", c)
			}
		}
		t.Errorf("collections: %v, want %v", cols.Collections, want)
	}
	req := func(c string) map[string]any {
		return map[string]any{"query": leakAll, "k": 20, "mode": mode, "rerank": rerank, "collections": []string{c}}
	}
	noneStatus, none := lc.do("POST", "/v1/search", req("zzcol"))
	for _, c := range []string{"eng", "acme", "misc", "open"} {
		status, b := lc.do("POST", "/v1/search", req(c))
		lc.raw("search in "+c, b)
		if lc.collection[c] {
			if status != http.StatusOK {
				t.Errorf("search in %s: status %d: %s", c, status, b)
			}
			continue
		}
		if status != noneStatus || strings.ReplaceAll(string(b), c, "zzcol") != string(none) {
			lc.leak("search in %s: %d %s, not as a collection that does not exist: %d %s", c, status, b, noneStatus, none)
		}
	}
}

// bearer adds a token to every request of an MCP client.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.base.RoundTrip(r)
}

// dial connects an MCP client to the server's /mcp as the caller.
func (lc *serverLeakCheck) dial() (*mcp.ClientSession, error) {
	tr := &mcp.StreamableClientTransport{Endpoint: lc.srv.url + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token: lc.c.secret, base: http.DefaultTransport}}}
	return mcp.NewClient(&mcp.Implementation{Name: "leak-test", Version: "1"}, nil).Connect(context.Background(), tr, nil)
}

// call calls a tool and returns all it answered, as JSON (an error's
// text too), and the structured content.
func (lc *serverLeakCheck) call(cs *mcp.ClientSession, tool string, args map[string]any) ([]byte, bool) {
	lc.t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return []byte(err.Error()), false
	}
	b, err := json.Marshal(res)
	if err != nil {
		lc.t.Fatal(err)
	}
	return b, !res.IsError
}

// mcp calls every tool as the caller: those that take no mode only when
// all is set.
func (lc *serverLeakCheck) mcp(mode retrieve.Mode, all bool) {
	t := lc.t
	cs, err := lc.dial()
	if err != nil {
		t.Fatalf("mcp: %v", err)
	}
	defer func() {
		if err := cs.Close(); err != nil {
			t.Error(err)
		}
	}()
	for _, q := range leakQueries() {
		b, ok := lc.call(cs, "search", map[string]any{"query": q, "k": 20, "mode": string(mode)})
		lc.raw("mcp search "+q, b)
		if q == leakAll {
			var res struct {
				Structured engine.SearchReport `json:"structuredContent"`
			}
			if !ok || json.Unmarshal(b, &res) != nil {
				t.Errorf("mcp search: %s", b)
			}
			lc.full("mcp search", res.Structured)
		}
		b, _ = lc.call(cs, "ask", map[string]any{"question": q})
		lc.raw("mcp ask "+q, b)
	}
	ask := func(c string) ([]byte, bool) {
		return lc.call(cs, "ask", map[string]any{"question": "What do the budget notes cover?", "collection": c})
	}
	none, _ := ask("zzcol")
	for _, c := range []string{"eng", "acme", "misc", "open"} {
		b, ok := ask(c)
		lc.raw("mcp ask in "+c, b)
		if !lc.collection[c] && (ok || strings.ReplaceAll(string(b), c, "zzcol") != string(none)) {
			lc.leak("mcp ask in %s: %s, not as a collection that does not exist: %s", c, b, none)
		}
	}
	if all {
		lc.mcpReads(cs)
	}
}

// mcpReads calls the tools that take no mode: get of every file, multi_get
// of a glob, status.
func (lc *serverLeakCheck) mcpReads(cs *mcp.ClientSession) {
	t := lc.t
	for i, d := range leakDocs {
		b, ok := lc.call(cs, "get", map[string]any{"citation": d.name})
		lc.raw("mcp get "+d.name, b, d.name)
		if lc.sees[d.name] && !d.damaged && (!ok || !strings.Contains(string(b), leakSecret(i))) {
			t.Errorf("mcp get %s: %s", d.name, b)
		}
		if !lc.sees[d.name] && ok {
			lc.leak("mcp get %s: answered: %s", d.name, b)
		}
	}
	b, _ := lc.call(cs, "multi_get", map[string]any{"targets": []string{"**/*.md"}, "max_bytes": mcpserver.MaxBytes})
	lc.raw("mcp multi_get", b)
	for i, d := range leakDocs {
		if lc.sees[d.name] && !d.damaged && !strings.Contains(string(b), leakSecret(i)) {
			t.Errorf("mcp multi_get: %s is not returned: %s", d.name, b)
		}
	}
	b, _ = lc.call(cs, "status", map[string]any{})
	lc.raw("mcp status", b)
	var st struct {
		Structured mcpserver.Status `json:"structuredContent"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Errorf("mcp status: %v: %s", err, b)
	}
	for _, c := range st.Structured.Collections {
		if !lc.collection[c.Name] {
			lc.leak("mcp status: collection %s", c.Name)
		}
	}
}

// refused checks that a token the server must refuse gets 401 on every
// route and over MCP, and nothing of any file.
func (lc *serverLeakCheck) refused(name string) {
	t := lc.t
	lc.hidden = nil
	for i := range leakDocs {
		lc.hidden = append(lc.hidden, i)
	}
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/search", map[string]any{"query": leakAll}}, {"POST", "/v1/ask", map[string]any{"question": leakAll}},
		{"POST", "/v1/get", map[string]any{"target": "p10.md"}}, {"POST", "/v1/multi-get", map[string]any{"targets": []string{"**"}}},
		{"GET", "/v1/collections", nil}, {"GET", "/v1/status", nil}, {"POST", "/v1/index", nil},
	} {
		status, b := lc.do(r.method, r.path, r.body)
		lc.raw(name+" "+r.path, b)
		if status != http.StatusUnauthorized {
			lc.leak("%s token: %s %s: status %d, want 401: %s", name, r.method, r.path, status, b)
		}
	}
	if cs, err := lc.dial(); err == nil {
		lc.leak("%s token: an MCP session opened", name)
		if err := cs.Close(); err != nil {
			t.Error(err)
		}
	} else {
		lc.raw(name+" mcp", []byte(err.Error()))
	}
}
