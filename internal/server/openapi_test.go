package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/rag-cli/rag/internal/guard"
	"github.com/rag-cli/rag/internal/mcpserver"
	"github.com/rag-cli/rag/internal/webui"
	"github.com/rag-cli/rag/pkg/engine"
)

// specPath is the API's description, which these tests hold to the
// handler.
const specPath = "../../docs/openapi.yaml"

// specFixture is a server with every mount (MCP, metrics, the page) and
// docs/openapi.yaml, loaded and checked, routed to that server.
type specFixture struct {
	*fixture
	h      *Handler
	doc    *openapi3.T
	router routers.Router
	// seen are the operations ("POST /v1/search") answered 2xx and valid.
	seen map[string]bool
}

func newSpecFixture(t *testing.T) *specFixture {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("%s: %v", specPath, err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("%s: openapi %s, want 3.1", specPath, doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", specPath, err)
	}
	sf := &specFixture{doc: doc, seen: map[string]bool{}}
	sf.fixture = newFixture(t, func(c *Config) {
		mcp := mcpserver.HTTPHandler(c.Engine, mcpserver.Options{Version: "test", Ask: c.Ask, SearchK: c.SearchK},
			func(r *http.Request) (engine.Who, error) { return caller(r).Who, nil })
		t.Cleanup(func() {
			if err := mcp.Close(); err != nil {
				t.Error(err)
			}
		})
		c.MCP = mcp
		c.Metrics = guard.NewMetrics(func() (int, int) { return 2, 2 }).Handler()
		c.Page = webui.Handler()
	})
	sf.h = sf.srv.Config.Handler.(*Handler)
	// Routed to the test server, wherever it listens.
	doc.Servers = openapi3.Servers{{URL: sf.srv.URL}}
	if sf.router, err = legacy.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return sf
}

// TestOpenAPIRoutes: every route the handler serves is in
// docs/openapi.yaml, and every operation there is a route it serves.
func TestOpenAPIRoutes(t *testing.T) {
	sf := newSpecFixture(t)
	served := sf.h.Routes()
	var documented []string
	for path, item := range sf.doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not in %s", r, specPath)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("%s is in %s but not served", d, specPath)
		}
	}
	if len(served) < 13 {
		t.Errorf("Routes() = %v: the mounts are missing", served)
	}
}

// call is a request of TestOpenAPIResponses and the status it must get.
type call struct {
	method, path, token, body string
	status                    int
	header                    []string
	// invalid marks a request the spec refuses (a malformed body): its
	// request is not validated, its response is.
	invalid bool
}

// TestOpenAPIResponses sends real requests to every route, happy and
// failing, and validates each request and response against
// docs/openapi.yaml: the status is documented for the operation, the
// content type too, and the body validates against its schema (each line
// of a streamed ask against the line schema).
func TestOpenAPIResponses(t *testing.T) {
	sf := newSpecFixture(t)
	big := `{"query":"` + strings.Repeat("a", MaxBody) + `"}`
	calls := []call{
		{method: "GET", path: "/healthz", status: 200},
		{method: "GET", path: "/healthz", token: "rag_nobody", status: 200},
		{method: "POST", path: "/v1/search", body: `{"query":"retry policy","k":3,"mode":"lexical"}`, status: 200},
		{method: "POST", path: "/v1/search", token: "rag_alice", body: `{"query":"zebracorn bonus","mode":"hybrid","expand":false,"rerank":false,"collections":["private"]}`, status: 200},
		{method: "POST", path: "/v1/search", token: "rag_alice", body: `{"query":"zebracorn bonus","mode":"dense","fusion":"weighted"}`, status: 200},
		{method: "POST", path: "/v1/search", body: `{"query":"retry","k":1000}`, status: 400},
		{method: "POST", path: "/v1/search", body: `{"query":"retry","as":"user:alice"}`, status: 400, invalid: true},
		{method: "POST", path: "/v1/search", body: `{"query":`, status: 400, invalid: true},
		{method: "POST", path: "/v1/search", token: "rag_bob", body: `{"query":"bonus","collections":["private"]}`, status: 400},
		{method: "POST", path: "/v1/search", body: big, status: 413, invalid: true},
		{method: "POST", path: "/v1/ask", token: "rag_alice", body: `{"question":"When is the zebracorn bonus paid?","mode":"lexical"}`, status: 200},
		{method: "POST", path: "/v1/ask", token: "rag_bob", body: `{"question":"When is the zebracorn bonus paid?","mode":"lexical","min_score":0.2}`, status: 200},
		{method: "POST", path: "/v1/ask", token: "rag_alice", body: `{"question":"When is the zebracorn bonus paid?","mode":"lexical","stream":"ndjson"}`, status: 200},
		{method: "POST", path: "/v1/ask", token: "rag_alice", body: `{"question":"When is the zebracorn bonus paid?","mode":"lexical","stream":"sse"}`, status: 200},
		{method: "POST", path: "/v1/ask", body: `{"question":"x","stream":"websocket"}`, status: 400, invalid: true},
		{method: "POST", path: "/v1/ask", body: `{"question":" "}`, status: 400},
		{method: "POST", path: "/v1/get", body: `{"target":"guide.md:3"}`, status: 200},
		{method: "POST", path: "/v1/get", token: "rag_alice", body: `{"target":"salaries.md","collections":["private"]}`, status: 200},
		{method: "POST", path: "/v1/get", token: "rag_bob", body: `{"target":"salaries.md"}`, status: 404},
		{method: "POST", path: "/v1/get", body: `{}`, status: 400, invalid: true},
		{method: "POST", path: "/v1/multi-get", token: "rag_alice", body: `{"targets":["guide.md","nothing.md","*.md"],"max_bytes":10000}`, status: 200},
		{method: "POST", path: "/v1/multi-get", token: "rag_alice", body: `{"targets":["guide.md","salaries.md"],"max_bytes":60}`, status: 200},
		{method: "POST", path: "/v1/multi-get", body: `{"targets":["guide.md"],"max_bytes":-1}`, status: 400, invalid: true},
		{method: "GET", path: "/v1/status", status: 200},
		{method: "GET", path: "/v1/status", token: "rag_alice", status: 200},
		{method: "GET", path: "/v1/collections", status: 200},
		{method: "GET", path: "/v1/collections", token: "rag_alice", status: 200},
		{method: "POST", path: "/v1/index", token: "rag_admin", status: 200},
		{method: "POST", path: "/v1/index", token: "rag_alice", status: 403},
		{method: "POST", path: "/v1/index", token: "rag_admin", body: `{"sources":["/"]}`, status: 400, invalid: true},
		{method: "GET", path: "/metrics", status: 200},
		{method: "GET", path: "/", status: 200},
		{method: "GET", path: "/mcp", status: 400, header: []string{"Accept", "text/event-stream"}},
		{method: "DELETE", path: "/mcp", status: 400},
	}
	// Every route refuses a wrong token (but /healthz) and a foreign Host.
	for _, r := range sf.h.Routes() {
		method, path, _ := strings.Cut(r, " ")
		if path != "/healthz" {
			calls = append(calls, call{method: method, path: path, token: "rag_nobody", status: 401, invalid: true})
		}
		calls = append(calls, call{method: method, path: path, status: 403, header: []string{"Host", "evil.example:80"}, invalid: true})
	}
	for _, c := range calls {
		sf.check(c)
	}
	sf.mcpSession()

	// Every operation answered once, validly.
	for path, item := range sf.doc.Paths.Map() {
		for method := range item.Operations() {
			// GET /mcp's answer is a stream held open for the session.
			if !sf.seen[method+" "+path] && method+" "+path != "GET /mcp" {
				t.Errorf("%s %s: no 2xx answer was validated", method, path)
			}
		}
	}

	// What no route serves is answered with the error JSON too (without
	// the page: mounted at GET /, it answers every other GET path itself).
	plain := newFixture(t, nil)
	for _, c := range []call{{method: "POST", path: "/v1/nothing", status: 404}, {method: "GET", path: "/v1/search", status: 405}} {
		status, h, b := plain.do(c.method, c.path, "", "")
		if status != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, status, c.status)
		}
		sf.validJSON(c.method+" "+c.path, sf.doc.Components.Schemas["Error"].Value, h, b)
	}
}

// check sends c and validates the request and its answer.
func (sf *specFixture) check(c call) {
	t := sf.t
	t.Helper()
	name := fmt.Sprintf("%s %s %s", c.method, c.path, c.body)
	if len(name) > 120 {
		name = name[:120] + "..."
	}
	req, err := http.NewRequest(c.method, sf.srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := sf.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: not an operation of the spec: %v", name, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if !c.invalid {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s: the request does not follow the spec: %v", name, err)
		}
	}
	status, h, b := sf.do(c.method, c.path, c.token, c.body, c.header...)
	if status != c.status {
		t.Errorf("%s: status %d, want %d: %.300s", name, status, c.status, b)
		return
	}
	op := route.Method + " " + route.Path
	if sf.validResponse(name, in, route.Operation, status, h, b) && status < 300 {
		sf.seen[op] = true
	}
}

// validResponse validates a response against its operation: JSON bodies
// by kin-openapi's ValidateResponse, streamed asks line by line.
func (sf *specFixture) validResponse(name string, in *openapi3filter.RequestValidationInput, op *openapi3.Operation, status int, h http.Header, b []byte) bool {
	t := sf.t
	t.Helper()
	ct, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil && len(b) > 0 {
		t.Errorf("%s: Content-Type %q: %v", name, h.Get("Content-Type"), err)
		return false
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: ct != "application/json"}
	if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: h, Body: io.NopCloser(bytes.NewReader(b)), Options: opts,
	}); err != nil {
		t.Errorf("%s: the response does not follow the spec: %v\n%.500s", name, err, b)
		return false
	}
	if ct == "application/json" || len(b) == 0 {
		return true
	}
	resp := op.Responses.Status(status)
	if resp == nil || resp.Value.Content.Get(ct) == nil {
		t.Errorf("%s: %d %s is not in the spec", name, status, ct)
		return false
	}
	media := resp.Value.Content.Get(ct)
	switch ct {
	case "application/x-ndjson":
		return sf.validLines(name, media.Schema.Value, ndjsonLines(b))
	case "text/event-stream":
		if op.OperationID == "ask" {
			lines, ok := sseData(t, name, b)
			return ok && sf.validLines(name, sf.doc.Components.Schemas["AskStreamLine"].Value, lines)
		}
	}
	if err := media.Schema.Value.VisitJSON(string(b), openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s: %v", name, err)
		return false
	}
	return true
}

// validLines validates each line of a streamed ask against the line
// schema: tokens, then one result last.
func (sf *specFixture) validLines(name string, schema *openapi3.Schema, lines [][]byte) bool {
	t := sf.t
	t.Helper()
	ok := true
	var types []string
	for i, line := range lines {
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			t.Errorf("%s: line %d is not JSON: %v: %s", name, i+1, err, line)
			return false
		}
		if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
			t.Errorf("%s: line %d does not follow the spec: %v\n%.500s", name, i+1, err, line)
			ok = false
		}
		m, _ := v.(map[string]any)
		typ, _ := m["type"].(string)
		types = append(types, typ)
	}
	if len(types) < 2 || types[0] != "token" || types[len(types)-1] != "result" {
		t.Errorf("%s: lines of types %v, want tokens then a result", name, types)
		ok = false
	}
	return ok
}

func ndjsonLines(b []byte) [][]byte {
	var lines [][]byte
	for line := range bytes.SplitSeq(bytes.TrimRight(b, "\n"), []byte("\n")) {
		lines = append(lines, line)
	}
	return lines
}

// sseData is the data of each event of an SSE body, checked against its
// event's name (the data's type).
func sseData(t *testing.T, name string, b []byte) ([][]byte, bool) {
	t.Helper()
	var out [][]byte
	for block := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n\n") {
		var event, data string
		sc := bufio.NewScanner(strings.NewReader(block))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				event = v
			} else if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				data = v
			}
		}
		var typed struct{ Type string }
		if err := json.Unmarshal([]byte(data), &typed); err != nil || typed.Type != event {
			t.Errorf("%s: event %q with data %.200s", name, event, data)
			return nil, false
		}
		out = append(out, []byte(data))
	}
	return out, true
}

// validJSON validates a JSON body against schema.
func (sf *specFixture) validJSON(name string, schema *openapi3.Schema, h http.Header, b []byte) {
	sf.t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/json" {
		sf.t.Errorf("%s: Content-Type %q", name, ct)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		sf.t.Errorf("%s: %v: %s", name, err, b)
		return
	}
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		sf.t.Errorf("%s: %v", name, err)
	}
}

// mcpSession opens an MCP session over /mcp (POST initialize) and ends
// it (DELETE), validating both answers.
func (sf *specFixture) mcpSession() {
	t := sf.t
	t.Helper()
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"openapi_test","version":"1"}}}`
	req, err := http.NewRequest("POST", sf.srv.URL+"/mcp", strings.NewReader(init))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	route, params, err := sf.router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("POST /mcp initialize: %v", err)
	}
	status, h, b := sf.do("POST", "/mcp", "", init, "Content-Type", "application/json", "Accept", "application/json, text/event-stream")
	if status != http.StatusOK || h.Get("Mcp-Session-Id") == "" {
		t.Fatalf("POST /mcp initialize: %d %v: %s", status, h, b)
	}
	if sf.validResponse("POST /mcp initialize", in, route.Operation, status, h, b) {
		sf.seen["POST /mcp"] = true
	}
	id := h.Get("Mcp-Session-Id")
	sf.check(call{method: "DELETE", path: "/mcp", status: http.StatusNoContent, header: []string{"Mcp-Session-Id", id}})
	sf.check(call{method: "GET", path: "/mcp", status: http.StatusNotFound, header: []string{"Mcp-Session-Id", id, "Accept", "text/event-stream"}})
}
