package mcpstdio

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type echoIn struct {
	Text string `json:"text"`
}

// testServer is an MCP server with two tools: echo answers at once, block
// until its call is cancelled.
func testServer() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	mcp.AddTool(srv, &mcp.Tool{Name: "block"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		<-ctx.Done()
		return nil, nil, ctx.Err()
	})
	return srv
}

// serve runs srv over in until in ends; it fails the test if the server
// is still running 20 s later.
func serve(t testing.TB, srv *mcp.Server, in []byte, maxLine int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := srv.Run(ctx, &Transport{In: bytes.NewReader(in), Out: &out, MaxLine: maxLine})
	if ctx.Err() != nil {
		t.Fatalf("the server hung on input %.300q; it wrote:\n%.3000s", in, out.String())
	}
	if err != nil {
		t.Fatalf("run: %v on input %.300q", err, in)
	}
	return out.String()
}

const initLines = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n" +
	`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"

// ids are the ids of out's lines, as written, each with its error code (0
// for a result).
func ids(t testing.TB, out string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m struct {
			ID    json.RawMessage `json:"id"`
			Error *struct {
				Code int64 `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		got[string(m.ID)] = 0
		if m.Error != nil {
			got[string(m.ID)] = m.Error.Code
		}
	}
	return got
}

// TestCancel: a client's cancellation names its request by the id it
// sent; the request ends, its answer is not sent (MCP asks so), and the
// end of input does not wait for it.
func TestCancel(t *testing.T) {
	t.Parallel()
	in := initLines +
		`{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"block","arguments":{}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow","reason":"enough"}}` + "\n" +
		`{"jsonrpc":"2.0","id":2.5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}` + "\n"
	got := ids(t, serve(t, testServer(), []byte(in), 0))
	if len(got) != 2 || got["1"] != 0 || got["2.5"] != 0 {
		t.Errorf("answers %v, want results for 1 and 2.5", got)
	}
}

// TestClientResponse: a client's response (to a request of the server's)
// is read, not answered; a malformed one gets an error with id null.
func TestClientResponse(t *testing.T) {
	t.Parallel()
	in := initLines +
		`{"jsonrpc":"2.0","id":7,"result":{}}` + "\n" +
		`{"jsonrpc":"2.0","id":"x","error":{"code":-1,"message":"no"}}` + "\n" +
		`{"jsonrpc":"2.0","id":8,"error":"no"}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"ping"}` + "\n"
	got := ids(t, serve(t, testServer(), []byte(in), 0))
	if len(got) != 3 || got["1"] != 0 || got["2"] != 0 || got["null"] != -32600 {
		t.Errorf("answers %v, want results for 1 and 2 and -32600 for null", got)
	}
}

// TestLongLine: a line longer than MaxLine is answered, the next is read
// whole; a line of MaxLine bytes is read.
func TestLongLine(t *testing.T) {
	t.Parallel()
	maxLine := strings.Index(initLines, "\n") // the initialize request
	for _, n := range []int{maxLine - 40, 64 << 10, 200 << 10} {
		in := initLines + `{"jsonrpc":"2.0","id":3,"method":"ping","params":{"pad":"` + strings.Repeat("x", n) + `"}}` + "\n" + `{"jsonrpc":"2.0","id":2,"method":"ping"}` + "\n"
		got := ids(t, serve(t, testServer(), []byte(in), maxLine))
		if len(got) != 3 || got["1"] != 0 || got["2"] != 0 || got["null"] != -32700 {
			t.Errorf("pad %d: answers %v", n, got)
		}
	}
}

func TestDepthOver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		over bool
	}{
		{`[[[]]]`, false},
		{`[[[[]]]]`, true},
		{`["[[[[", {"a":"]]]]"}]`, false},
		{`["\"[[[[[", 1]`, false},
		{`["\\", [[[]]]]`, true},
	} {
		if got := depthOver([]byte(tc.in), 3); got != tc.over {
			t.Errorf("%s: %v, want %v", tc.in, got, tc.over)
		}
	}
}

// FuzzMCPFraming: whatever the client writes, the server writes only
// JSON-RPC messages, one a line, ends when its input does, answers the
// request before the garbage and the one after it, and echoes only ids
// the client wrote.
func FuzzMCPFraming(f *testing.F) {
	for _, s := range []string{
		"",
		"not json",
		initLines,
		`{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a"}}}`,
		`{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}` + "\n" + `{"jsonrpc":"2.0","id":-0,"method":"ping"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`,
		`{"id":1,"method":"ping"}` + "\r\n" + `{"jsonrpc":"2.0","id":{},"method":"ping"}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\x00\n\xff\xfe\n",
		strings.Repeat("[", 70) + strings.Repeat("]", 70),
		`{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"block","arguments":{}}}` + "\n" + `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"b"}}`,
		`{"jsonrpc":"2.0","id":3,"result":{}}` + "\n" + `{"jsonrpc":"2.0","id":4,"error":{"code":1,"message":"x"}}`,
		`{"jsonrpc":"2.0","id":"x","method":"ping","params":"p"}` + strings.Repeat(" ", 600),
	} {
		f.Add([]byte(s))
	}
	srv := testServer()
	const first, last = `{"jsonrpc":"2.0","id":"fuzz-first","method":"ping"}` + "\n", "\n" + `{"jsonrpc":"2.0","id":"fuzz-last","method":"ping"}` + "\n"
	f.Fuzz(func(t *testing.T, data []byte) {
		// A block call nothing cancels would rightly never end.
		if bytes.Contains(data, []byte("block")) && !bytes.Contains(data, []byte("cancelled")) {
			return
		}
		in := append(append([]byte(first), data...), last...)
		out := serve(t, srv, in, 512)
		answered := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			id, err := checkMessage([]byte(l))
			if err != "" {
				t.Fatalf("%s: %q", err, l)
			}
			if id != "null" && !bytes.Contains(in, []byte(id)) {
				t.Fatalf("id %s was not in the input: %q", id, l)
			}
			answered[id] = true
		}
		if !answered[`"fuzz-last"`] || (!answered[`"fuzz-first"`] && !cancels(data)) {
			t.Fatalf("a ping before or after the input was not answered; the server wrote:\n%s", out)
		}
	})
}

// checkMessage is why l is not one JSON-RPC 2.0 message as rag sends
// them ("" when it is), and its id as written.
func checkMessage(l []byte) (id, why string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(l, &m); err != nil {
		return "", "not a JSON object: " + err.Error()
	}
	if string(m["jsonrpc"]) != `"2.0"` {
		return "", `no "jsonrpc": "2.0"`
	}
	for k := range m {
		switch k {
		case "jsonrpc", "id", "method", "params", "result", "error":
		default:
			return "", "a member " + k
		}
	}
	rawID, hasID := m["id"]
	if _, isRequest := m["method"]; isRequest {
		var method string
		if json.Unmarshal(m["method"], &method) != nil {
			return "", "a method that is not a string"
		}
		return string(rawID), ""
	}
	_, hasResult := m["result"]
	rerr, hasError := m["error"]
	if !hasID || hasResult == hasError {
		return "", "neither a request nor a response"
	}
	var v any
	if json.Unmarshal(rawID, &v) != nil {
		return "", "a bad id"
	}
	switch v.(type) {
	case nil, string, float64:
	default:
		return "", "an id neither null, a string nor a number"
	}
	if hasError {
		var e struct {
			Code    *int64  `json:"code"`
			Message *string `json:"message"`
		}
		if json.Unmarshal(rerr, &e) != nil || e.Code == nil || e.Message == nil {
			return "", "an error without a code and a message"
		}
	}
	return string(rawID), ""
}

// cancels reports whether a line of data is a cancellation.
func cancels(data []byte) bool {
	for _, l := range bytes.Split(data, []byte("\n")) {
		var m struct {
			Method string `json:"method"`
		}
		if json.Unmarshal(bytes.TrimSpace(l), &m) == nil && m.Method == "notifications/cancelled" {
			return true
		}
	}
	return false
}
