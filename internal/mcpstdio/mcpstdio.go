// Package mcpstdio is rag mcp's transport for the MCP SDK: newline-delimited
// JSON-RPC on a reader and a writer, strict about what a line may be. A line
// that is not one JSON-RPC message (not UTF-8, not JSON, nested too deep,
// too long, a batch, no "jsonrpc": "2.0", an id that is neither a string nor
// a number) is answered here with JSON-RPC's error (-32700 or -32600, id null
// when it has no usable id) and the connection goes on: the SDK's own stdio
// transport ends the session at the first such line and loses the answers
// still owed. Ids are echoed byte for byte as the client wrote them (the SDK
// turns 1.5 into 1 and 9007199254740993 into a float): the SDK only ever sees
// ids of this package's own. At the end of input the connection waits until
// every request read has been answered, so a script can pipe requests in.
package mcpstdio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultMaxLine is the longest line (one message) a connection reads,
// newline excluded, when Transport.MaxLine is 0: far beyond any request
// of rag's tools, small enough to hold in memory.
const DefaultMaxLine = 4 << 20

// MaxDepth is how deeply a message may nest arrays and objects: MCP's
// messages nest a few levels; a deeper line is refused before any decoder
// recurses into it.
const MaxDepth = 64

// Transport is an mcp.Transport over In and Out. Close closes In when it is
// an io.Closer (so that a read waiting on stdin returns), never Out.
type Transport struct {
	In      io.Reader
	Out     io.Writer
	MaxLine int // 0: DefaultMaxLine
}

// Connect implements mcp.Transport. Input is read until ctx ends.
func (t *Transport) Connect(ctx context.Context) (mcp.Connection, error) {
	maxLine := t.MaxLine
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	c := &conn{
		ctx:     ctx,
		maxLine: maxLine,
		out:     t.Out,
		lines:   make(chan line),
		closed:  make(chan struct{}),
		broken:  make(chan struct{}),
		pending: map[int64]pending{},
		idle:    make(chan struct{}),
	}
	close(c.idle)
	if cl, ok := t.In.(io.Closer); ok {
		c.closer = cl
	}
	go c.readLines(t.In, maxLine)
	return c, nil
}

// line is one line of input: its bytes, newline excluded, or that it was
// longer than the limit.
type line struct {
	b       []byte
	tooLong bool
}

// pending is a request read and not yet answered: the id as the client
// wrote it, and that id as a key for a cancellation's requestId.
type pending struct {
	raw json.RawMessage
	key string
}

type conn struct {
	ctx     context.Context
	closer  io.Closer
	maxLine int

	lines   chan line // closed after the last line; then readErr is set
	readErr error

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error

	wmu        sync.Mutex
	out        io.Writer
	broken     chan struct{} // closed when a write has failed
	brokenOnce sync.Once

	mu      sync.Mutex
	next    int64             // the last private id given
	pending map[int64]pending // by private id
	idle    chan struct{}     // closed while pending is empty
}

func (c *conn) SessionID() string { return "" }

// readLines sends each line of r to c.lines, then the reason it stopped.
func (c *conn) readLines(r io.Reader, maxLine int) {
	defer close(c.lines)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		l, err := readLine(br, maxLine)
		if len(l.b) > 0 || l.tooLong {
			select {
			case c.lines <- l:
			case <-c.closed:
				c.readErr = io.EOF
				return
			}
		}
		if err != nil {
			c.readErr = err
			return
		}
	}
}

// readLine reads up to and past the next newline; a line longer than
// maxLine is skipped to its end without being kept. At the end of input a
// last line without a newline is returned with io.EOF.
func readLine(br *bufio.Reader, maxLine int) (line, error) {
	var l line
	for {
		frag, err := br.ReadSlice('\n')
		frag = bytes.TrimSuffix(frag, []byte("\n"))
		if !l.tooLong {
			if len(l.b)+len(frag) > maxLine {
				l = line{tooLong: true}
			} else {
				l.b = append(l.b, frag...)
			}
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return l, err
		}
	}
}

// Read implements mcp.Connection: the next valid message, with a private
// id in place of a request's. Invalid lines are answered on the way. At the
// end of input it returns io.EOF once every request read has been answered
// (or the connection closed, the output broke, or ctx ended).
func (c *conn) Read(context.Context) (jsonrpc.Message, error) {
	for {
		var l line
		var ok bool
		select {
		case l, ok = <-c.lines:
		case <-c.closed:
			return nil, io.EOF
		}
		if !ok {
			if !errors.Is(c.readErr, io.EOF) {
				return nil, fmt.Errorf("read: %w", c.readErr)
			}
			c.drain()
			return nil, io.EOF
		}
		msg, rerr := c.decode(l)
		if rerr != nil {
			if err := c.write(rerr); err != nil {
				return nil, err
			}
			continue
		}
		if msg != nil {
			return msg, nil
		}
	}
}

// drain waits until every request read has been answered.
func (c *conn) drain() {
	c.mu.Lock()
	idle := c.idle
	c.mu.Unlock()
	select {
	case <-idle:
	case <-c.closed:
	case <-c.broken:
	case <-c.ctx.Done():
	}
}

// Write implements mcp.Connection: a response goes out under the id its
// request came with; a response to a request the client cancelled is not
// sent, as MCP asks.
func (c *conn) Write(_ context.Context, msg jsonrpc.Message) error {
	resp, ok := msg.(*jsonrpc.Response)
	if !ok {
		data, err := jsonrpc.EncodeMessage(msg)
		if err != nil {
			return err
		}
		return c.writeLine(data)
	}
	raw, ok := c.answered(resp.ID)
	if !ok {
		return nil
	}
	return c.write(&wireResponse{JSONRPC: "2.0", ID: raw, Result: resp.Result, Error: wireError(resp.Error)})
}

// answered takes the request a private id stands for off the pending
// ones and gives the id the client wrote; false when there is none (the
// client cancelled it).
func (c *conn) answered(id jsonrpc.ID) (json.RawMessage, bool) {
	n, ok := id.Raw().(int64)
	if !ok {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pending[n]
	if ok {
		c.forget(n)
	}
	return p.raw, ok
}

// forget drops a pending request; c.mu is held.
func (c *conn) forget(n int64) {
	delete(c.pending, n)
	if len(c.pending) == 0 {
		close(c.idle)
	}
}

// Close implements mcp.Connection; it may be called more than once.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		if c.closer != nil {
			c.closeErr = c.closer.Close()
		}
	})
	return c.closeErr
}

// wireResponse is a response as it goes out: the id as the client wrote
// it, null when it had none.
type wireResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *jsonrpc.Error  `json:"error,omitempty"`
}

// wireError is err as the SDK's own transports send it: a wire error as
// it is, another error with the code of the wire error it wraps.
func wireError(err error) *jsonrpc.Error {
	if err == nil {
		return nil
	}
	var we *jsonrpc.Error
	if errors.As(err, &we) {
		if we == err {
			return we
		}
		return &jsonrpc.Error{Code: we.Code, Message: err.Error()}
	}
	return &jsonrpc.Error{Message: err.Error()}
}

func (c *conn) write(r *wireResponse) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as the SDK writes, and ids stay as they were
	if err := enc.Encode(r); err != nil {
		return err
	}
	return c.writeLine(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// writeLine writes one message and its newline in one write, so that
// concurrent answers do not interleave.
func (c *conn) writeLine(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.out.Write(append(data, '\n')); err != nil {
		c.brokenOnce.Do(func() { close(c.broken) })
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// register gives a request a private id and remembers the client's.
func (c *conn) register(raw json.RawMessage) jsonrpc.ID {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	if len(c.pending) == 0 {
		c.idle = make(chan struct{})
	}
	c.pending[c.next] = pending{raw: raw, key: idKey(raw)}
	return intID(c.next)
}

// cancelled finds the oldest pending request the client's id names,
// forgets it (its answer is not to be sent) and gives its private id.
func (c *conn) cancelled(raw json.RawMessage) (int64, bool) {
	key := idKey(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	var found int64
	for n, p := range c.pending {
		if p.key == key && (found == 0 || n < found) {
			found = n
		}
	}
	if found == 0 {
		return 0, false
	}
	c.forget(found)
	return found, true
}

// idKey is an id as a map key: a string by its value however escaped, a
// number by its spelling.
func idKey(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return "s" + s
	}
	return "n" + string(raw)
}

// privateID is a response's id as the SDK numbers its own requests:
// false when it cannot be one of them.
func privateID(raw json.RawMessage) (jsonrpc.ID, bool) {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return jsonrpc.ID{}, false
	}
	return intID(n), true
}

// intID is n as an id. The jsonrpc package makes integer ids from float64
// only: exact for the counters, far below 2^53, that ids here are.
func intID(n int64) jsonrpc.ID {
	id, _ := jsonrpc.MakeID(float64(n)) // a float64 is always a valid id
	return id
}

// depthOver reports whether b (any bytes) nests arrays and objects more
// than limit levels, strings aside.
func depthOver(b []byte, limit int) bool {
	depth, inString, escaped := 0, false, false
	for _, ch := range b {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = ch == '\\'
			inString = ch != '"'
		case ch == '"':
			inString = true
		case ch == '{' || ch == '[':
			if depth++; depth > limit {
				return true
			}
		case ch == '}' || ch == ']':
			depth--
		}
	}
	return false
}
