// Package mcptest helps the tests of rag's MCP tools: a tool's call as a
// client reads it, its text and its structured result.
package mcptest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Call calls a tool through cs and returns its text and whether the tool
// failed; out, if not nil, receives its structured result (when it did
// not fail). A call the protocol refuses fails the test.
func Call(t testing.TB, cs *mcp.ClientSession, name string, args map[string]any, out any) (text string, isError bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	if out != nil && !res.IsError {
		data, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v: %s", name, err, data)
		}
	}
	return b.String(), res.IsError
}
