package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// mcpInit and mcpInitialized open a session, as a client's first lines.
const (
	mcpInit        = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}`
	mcpInitialized = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

// mcpStatusCall is a tools/call of status under id.
func mcpStatusCall(id string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"status","arguments":{}}}`
}

const mcpSearchCall = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search","arguments":{"query":"retry upload","k":1}}}`

// mcpPiped runs `rag mcp` as the real command with its stdin a pipe that
// the writes are made to, one by one (a write that is a duration is a
// pause), then closed. A server that has not ended 60 s after stdin closed
// fails the test as hung; it is then cancelled.
func mcpPiped(t *testing.T, h *harness, writes ...any) result {
	t.Helper()
	inR, inW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() {
		done <- h.run(runOpt{ctx: ctx, setup: func(a *App) { a.IO.In = inR }}, "mcp", "--model", chatModel)
	}()
	go func() {
		for _, w := range writes {
			switch w := w.(type) {
			case time.Duration:
				time.Sleep(w)
			case string:
				if _, err := io.WriteString(inW, w); err != nil {
					return // the server ended early: its result says why
				}
			}
		}
		_ = inW.Close()
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(60 * time.Second):
		cancel()
		r := <-done
		t.Fatalf("rag mcp hung after its stdin closed; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		return r
	}
}

// rpcOut is one line rag mcp wrote, its id as written.
type rpcOut struct {
	JSONRPC *string         `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// rpcLines parses stdout, failing the test on any line that is not a
// JSON-RPC 2.0 response (an id, and a result or an error).
func rpcLines(t *testing.T, stdout string) []rpcOut {
	t.Helper()
	var out []rpcOut
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m rpcOut
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.JSONRPC == nil || *m.JSONRPC != "2.0" || m.ID == nil || (m.Result == nil) == (m.Error == nil) {
			t.Fatalf("stdout has a line that is not a JSON-RPC response (%v): %q", err, l)
		}
		out = append(out, m)
	}
	return out
}

// answeredIDs are the ids, as written, of the responses with a result.
func answeredIDs(lines []rpcOut) map[string]bool {
	ids := map[string]bool{}
	for _, m := range lines {
		if m.Error == nil {
			ids[string(m.ID)] = true
		}
	}
	return ids
}

// TestMCPBadLines: a line that is not a JSON-RPC request gets its JSON-RPC
// error on stdout, and the requests before and after it are answered.
func TestMCPBadLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	const ping = `{"jsonrpc":"2.0","id":9,"method":"ping"}`
	for _, tc := range []struct {
		name string
		line string
		code int
		id   string // as the error must carry it
	}{
		{"not JSON", "not json", -32700, "null"},
		{"truncated JSON", `{"jsonrpc":"2.0","id":9,"method":"ping"`, -32700, "null"},
		{"invalid UTF-8", `{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":"` + "\xff\xfe" + `"}}`, -32700, "null"},
		{"NUL after the message", ping + "\x00", -32700, "null"},
		{"NUL in a string", `{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":"a` + "\x00" + `b"}}`, -32700, "null"},
		{"NUL alone", "\x00\x00\x00", -32700, "null"},
		{"nested 100 deep", `{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, -32700, "null"},
		{"nested 100000 deep", strings.Repeat("[", 100000), -32700, "null"},
		{"over 4 MiB", `{"jsonrpc":"2.0","id":9,"method":"ping","params":{"x":"` + strings.Repeat("x", 4<<20) + `"}}`, -32700, "null"},
		{"batch", "[" + ping + "]", -32600, "null"},
		{"empty batch", "[]", -32600, "null"},
		{"a number", "42", -32600, "null"},
		{"a string", `"ping"`, -32600, "null"},
		{"no jsonrpc", `{"id":9,"method":"ping"}`, -32600, "9"},
		{"jsonrpc 1.0", `{"jsonrpc":"1.0","id":"nine","method":"ping"}`, -32600, `"nine"`},
		{"jsonrpc a number", `{"jsonrpc":2.0,"id":9,"method":"ping"}`, -32600, "9"},
		{"id an object", `{"jsonrpc":"2.0","id":{"n":9},"method":"ping"}`, -32600, "null"},
		{"id an array", `{"jsonrpc":"2.0","id":[9],"method":"ping"}`, -32600, "null"},
		{"id true", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, -32600, "null"},
		{"id null", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, -32600, "null"},
		{"method a number", `{"jsonrpc":"2.0","id":9,"method":7}`, -32600, "9"},
		{"params a string", `{"jsonrpc":"2.0","id":9,"method":"ping","params":"x"}`, -32600, "9"},
		{"no method nor result", `{"jsonrpc":"2.0","id":9}`, -32600, "null"},
		{"empty object", `{}`, -32600, "null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := mcpPiped(t, h, mcpInit+"\n"+mcpInitialized+"\n"+mcpStatusCall("2")+"\n", tc.line+"\n", mcpStatusCall("3")+"\n")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			lines := rpcLines(t, r.stdout)
			if ids := answeredIDs(lines); !ids["1"] || !ids["2"] || !ids["3"] || len(ids) != 3 {
				t.Errorf("answered %v, want 1, 2 and 3:\n%s", ids, r.stdout)
			}
			var errs []rpcOut
			for _, m := range lines {
				if m.Error != nil {
					errs = append(errs, m)
				}
			}
			if len(errs) != 1 || errs[0].Error.Code != tc.code || string(errs[0].ID) != tc.id || errs[0].Error.Message == "" {
				t.Errorf("errors %+v, want one with code %d and id %s:\n%s", errs, tc.code, tc.id, r.stdout)
			}
		})
	}
}

// TestMCPSplitLines: a request whose newline comes in a later write, and
// a last request with no newline at all, are answered, and the server
// ends when stdin does.
func TestMCPSplitLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	for _, tc := range []struct {
		name   string
		writes []any
	}{
		{"newline in a later write", []any{mcpInit, 300 * time.Millisecond, "\n", mcpInitialized + "\n", mcpStatusCall("2"), 300 * time.Millisecond, "\n"}},
		{"byte by byte", bytewise(mcpInit + "\n" + mcpInitialized + "\n" + mcpStatusCall("2") + "\n")},
		{"CRLF", []any{mcpInit + "\r\n" + mcpInitialized + "\r\n" + mcpStatusCall("2") + "\r\n"}},
		// A search (which asks the model server to embed the query) takes
		// long enough that the server would have seen its input end.
		{"last line without a newline", []any{mcpInit + "\n" + mcpInitialized + "\n" + mcpSearchCall}},
		{"last line without a newline, later", []any{mcpInit + "\n" + mcpInitialized + "\n", 300 * time.Millisecond, mcpSearchCall}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := mcpPiped(t, h, tc.writes...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if ids := answeredIDs(rpcLines(t, r.stdout)); !ids["1"] || !ids["2"] || len(ids) != 2 {
				t.Errorf("answered %v, want 1 and 2:\n%s", ids, r.stdout)
			}
		})
	}
}

// bytewise is s as writes of a byte each.
func bytewise(s string) []any {
	var w []any
	for i := range len(s) {
		w = append(w, s[i:i+1])
	}
	return w
}

// TestMCPIDs: every id comes back exactly as the client wrote it, however
// the SDK would read it.
func TestMCPIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustIndex()
	ids := []string{`1.5`, `-0`, `1e30`, `1E+2`, `9007199254740993`, `-9223372036854775809`, `1.0`, `0`, `"2"`, `""`, `"a\"b"`, `"\u00e9"`, `"é"`, `"1.5"`}
	var in strings.Builder
	in.WriteString(mcpInit + "\n" + mcpInitialized + "\n")
	for i, id := range ids {
		if i%2 == 0 {
			in.WriteString(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}` + "\n")
		} else {
			in.WriteString(mcpStatusCall(id) + "\n")
		}
	}
	// The same id twice is answered twice; a cancellation of nothing
	// pending is dropped.
	in.WriteString(`{"jsonrpc":"2.0","id":1.5,"method":"ping"}` + "\n")
	in.WriteString(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":12345}}` + "\n")
	r := mcpPiped(t, h, in.String())
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := map[string]int{}
	for _, m := range rpcLines(t, r.stdout) {
		if m.Error != nil {
			t.Errorf("error %d %q for id %s", m.Error.Code, m.Error.Message, m.ID)
		}
		got[string(m.ID)]++
	}
	want := map[string]int{"1": 1}
	for _, id := range ids {
		want[id]++
	}
	want["1.5"]++
	for id, n := range want {
		if got[id] != n {
			t.Errorf("id %s answered %d times, want %d", id, got[id], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("answered ids %v, want %v", got, want)
	}
	if !bytes.Contains([]byte(r.stdout), []byte(`"id":9007199254740993,`)) {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}
