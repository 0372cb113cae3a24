package mcpstdio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// null is the id of an error answering a line whose id is unknown.
var null = json.RawMessage("null")

func parseError(why string) *wireResponse {
	return &wireResponse{JSONRPC: "2.0", ID: null, Error: &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "parse error: " + why}}
}

func invalidRequest(id json.RawMessage, why string) *wireResponse {
	return &wireResponse{JSONRPC: "2.0", ID: id, Error: &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: " + why}}
}

// decode makes a line the message the SDK is to read, or the error that
// answers it; neither for a blank line, a response the SDK did not ask
// for, or a cancellation of nothing pending.
func (c *conn) decode(l line) (jsonrpc.Message, *wireResponse) {
	if l.tooLong {
		return nil, parseError(fmt.Sprintf("the line is longer than %d bytes", c.maxLine))
	}
	b := bytes.TrimSuffix(l.b, []byte("\r"))
	lead := bytes.TrimLeft(b, " \t\r")
	switch {
	case len(lead) == 0:
		return nil, nil
	case !utf8.Valid(b):
		return nil, parseError("the line is not UTF-8")
	case depthOver(b, MaxDepth):
		return nil, parseError(fmt.Sprintf("the line nests arrays and objects deeper than %d levels", MaxDepth))
	case !json.Valid(b):
		return nil, parseError("the line is not JSON")
	case lead[0] == '[':
		return nil, invalidRequest(null, "a batch (JSON array); MCP sends one message a line")
	case lead[0] != '{':
		return nil, invalidRequest(null, "not a JSON-RPC message (a JSON object)")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, parseError("the line is not JSON")
	}
	id, hasID := m["id"]
	if hasID && !validID(id) {
		return nil, invalidRequest(null, `"id" must be a string or a number`)
	}
	echo := null
	if hasID {
		echo = id
	}
	var version string
	if json.Unmarshal(m["jsonrpc"], &version) != nil || version != "2.0" {
		return nil, invalidRequest(echo, `"jsonrpc" must be "2.0"`)
	}
	rawMethod, isRequest := m["method"]
	if !isRequest {
		return c.response(m, id)
	}
	var method string
	if json.Unmarshal(rawMethod, &method) != nil {
		return nil, invalidRequest(echo, `"method" must be a string`)
	}
	params := m["params"]
	if string(params) == "null" {
		params = nil
	}
	if len(params) > 0 && params[0] != '{' && params[0] != '[' {
		return nil, invalidRequest(echo, `"params" must be an object or an array`)
	}
	if !hasID {
		return c.notification(method, params)
	}
	return &jsonrpc.Request{ID: c.register(id), Method: method, Params: params}, nil
}

// validID reports whether raw, a JSON value, is a string or a number: what
// JSON-RPC allows an id besides null, which MCP forbids.
func validID(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '"' || raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
}

// response is a client's answer to a request of the SDK's (which numbers
// its own); its id is nil when it had none. A malformed one is answered
// with id null: its id is the server's, not one the client asked under.
func (c *conn) response(m map[string]json.RawMessage, id json.RawMessage) (jsonrpc.Message, *wireResponse) {
	result, hasResult := m["result"]
	rerr, hasError := m["error"]
	if id == nil || hasResult == hasError {
		return nil, invalidRequest(null, `neither a request (no "method") nor a response (an "id" and either "result" or "error")`)
	}
	var we jsonrpc.Error
	if hasError && json.Unmarshal(rerr, &we) != nil {
		return nil, invalidRequest(null, `"error" must be an object with a "code" and a "message"`)
	}
	pid, ok := privateID(id)
	if !ok {
		return nil, nil // the SDK asked nothing under this id
	}
	if hasError {
		return &jsonrpc.Response{ID: pid, Error: &we}, nil
	}
	return &jsonrpc.Response{ID: pid, Result: result}, nil
}

// notification passes a notification on; a cancellation names the
// request by its private id, or is dropped when nothing it names is
// pending.
func (c *conn) notification(method string, params json.RawMessage) (jsonrpc.Message, *wireResponse) {
	if method == "notifications/cancelled" {
		var ok bool
		if params, ok = c.cancelParams(params); !ok {
			return nil, nil
		}
	}
	return &jsonrpc.Request{Method: method, Params: params}, nil
}

func (c *conn) cancelParams(params json.RawMessage) (json.RawMessage, bool) {
	var p map[string]json.RawMessage
	if json.Unmarshal(params, &p) != nil {
		return nil, false
	}
	raw, ok := p["requestId"]
	if !ok || !validID(raw) {
		return nil, false
	}
	n, ok := c.cancelled(raw)
	if !ok {
		return nil, false
	}
	p["requestId"] = json.RawMessage(strconv.FormatInt(n, 10))
	out, err := json.Marshal(p)
	return out, err == nil
}
