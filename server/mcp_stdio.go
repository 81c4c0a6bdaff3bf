package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ServeMCPIO serves the MCP surface of a toolset ("" for all tools) as newline-delimited
// JSON-RPC over in and out, until ctx is done or in ends. ServeMCPStdio serves it on the
// process's standard input and output; tests and embedders pass pipes.
//
// The go-sdk's StdioTransport is not used: it ends the session at the first line that is not
// JSON, runs JSON-RPC batches, answers a call before initialize with error code 0, and
// answers a call that notifications/cancelled cancelled. lineTransport answers a bad line with
// a parse error (-32700) and reads on, refuses batches (-32600), gives every error a code and
// drops the response to a cancelled call.
func (s *Server) ServeMCPIO(ctx context.Context, toolset string, in io.Reader, out io.Writer) error {
	srv, err := s.MCPServer(toolset)
	if err != nil {
		return err
	}
	return srv.Run(ctx, &lineTransport{in: in, out: out, maxLine: int(s.opts.maxBody), log: s.log.With("surface", "mcp")})
}

// lineTransport is an mcp.Transport over newline-delimited JSON; see ServeMCPIO.
type lineTransport struct {
	in      io.Reader
	out     io.Writer
	maxLine int
	log     *slog.Logger
}

// Connect implements mcp.Transport.
func (t *lineTransport) Connect(context.Context) (mcp.Connection, error) {
	c := &lineConn{
		out:      t.out,
		log:      t.log,
		incoming: make(chan jsonrpc.Message),
		closed:   make(chan struct{}),
		inflight: map[jsonrpc.ID]bool{},
		preInit:  map[jsonrpc.ID]bool{},
	}
	if closer, ok := t.in.(io.Closer); ok {
		c.closeIn = closer
	}
	go c.readLoop(bufio.NewReader(t.in), t.maxLine)
	return c, nil
}

// lineConn is one session over a line transport. A goroutine reads lines, so that Close can
// end a Read blocked on input, as mcp.Connection requires.
type lineConn struct {
	log      *slog.Logger
	out      io.Writer
	closeIn  io.Closer
	incoming chan jsonrpc.Message
	readErr  error // set before incoming is closed
	closed   chan struct{}
	once     sync.Once
	writeMu  sync.Mutex

	mu          sync.Mutex
	initialized bool                // initialize or server/discover was read
	inflight    map[jsonrpc.ID]bool // calls read and not yet answered: cancelled or not
	preInit     map[jsonrpc.ID]bool // calls read before initialize
}

func (c *lineConn) readLoop(r *bufio.Reader, maxLine int) {
	defer close(c.incoming)
	for {
		line, tooLong, err := readLine(r, maxLine)
		if tooLong {
			c.refuse(jsonrpc.ID{}, jsonrpc.CodeInvalidRequest, fmt.Sprintf("the message is longer than %d bytes", maxLine))
		} else if msg := c.decode(line); msg != nil {
			select {
			case c.incoming <- msg:
			case <-c.closed:
				return
			}
		}
		if err != nil {
			c.readErr = err
			return
		}
	}
}

// readLine reads one line without its end; a line over max bytes is read to its end and
// reported as too long rather than kept.
func readLine(r *bufio.Reader, maxLen int) (line []byte, tooLong bool, err error) {
	for {
		frag, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > maxLen+1 { // +1: the newline
				tooLong, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), tooLong, err
	}
}

// decode reads one line as a JSON-RPC message, answering a line that is not one with the
// error JSON-RPC defines for it; it returns nil for such lines and blank ones.
func (c *lineConn) decode(line []byte) jsonrpc.Message {
	line = bytes.TrimSpace(line)
	switch {
	case len(line) == 0:
		return nil
	case !utf8.Valid(line):
		c.refuse(jsonrpc.ID{}, jsonrpc.CodeParseError, "parse error: the line is not valid UTF-8")
		return nil
	case !json.Valid(line):
		c.refuse(jsonrpc.ID{}, jsonrpc.CodeParseError, "parse error: the line is not valid JSON")
		return nil
	case line[0] == '[':
		c.refuse(jsonrpc.ID{}, jsonrpc.CodeInvalidRequest, batchRefusal)
		return nil
	}
	msg, err := jsonrpc.DecodeMessage(line)
	if err != nil {
		var probe struct {
			ID any `json:"id"`
		}
		_ = json.Unmarshal(line, &probe)
		id, _ := jsonrpc.MakeID(probe.ID)
		c.refuse(id, jsonrpc.CodeInvalidRequest, "not a JSON-RPC 2.0 message: "+err.Error())
		return nil
	}
	if req, ok := msg.(*jsonrpc.Request); ok {
		c.track(req)
	}
	return msg
}

// track notes calls in flight, calls made before initialize, and cancellations of calls in
// flight, before the SDK sees the message: the SDK cancels the call's context on
// notifications/cancelled, and Write must already know not to send its response.
func (c *lineConn) track(req *jsonrpc.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch req.Method {
	case methodInitialize, methodDiscover:
		c.initialized = true
	case methodCancelled:
		var p struct {
			RequestID any `json:"requestId"`
		}
		if json.Unmarshal(req.Params, &p) == nil {
			if id, err := jsonrpc.MakeID(p.RequestID); err == nil {
				if _, ok := c.inflight[id]; ok {
					c.inflight[id] = true
				}
			}
		}
	}
	if req.IsCall() {
		c.inflight[req.ID] = false
		if !c.initialized && req.Method != methodPing {
			c.preInit[req.ID] = true
		}
	}
}

// refuse writes an error response for a message the SDK never sees.
func (c *lineConn) refuse(id jsonrpc.ID, code int64, message string) {
	_ = c.writeLine(rpcError(id, code, message))
}

// Read implements mcp.Connection.
func (c *lineConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	select {
	case msg, ok := <-c.incoming:
		if !ok {
			if c.readErr != nil && !errors.Is(c.readErr, io.EOF) {
				return nil, c.readErr
			}
			return nil, io.EOF
		}
		return msg, nil
	case <-c.closed:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Write implements mcp.Connection. The response to a cancelled call is dropped; an error
// without a code (the SDK's answer to a call before initialize, or a plain Go error) gets one.
func (c *lineConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if resp, ok := msg.(*jsonrpc.Response); ok {
		c.mu.Lock()
		cancelled := c.inflight[resp.ID]
		preInit := c.preInit[resp.ID]
		delete(c.inflight, resp.ID)
		delete(c.preInit, resp.ID)
		c.mu.Unlock()
		if cancelled {
			c.log.Debug("dropped the response to a cancelled call", "id", resp.ID.Raw())
			return nil
		}
		var werr *jsonrpc.Error
		if resp.Error != nil && (!errors.As(resp.Error, &werr) || werr.Code == 0) {
			code, text := int64(jsonrpc.CodeInternalError), resp.Error.Error()
			if preInit {
				code, text = jsonrpc.CodeInvalidRequest, text+": "+notInitializedHint
			}
			return c.writeLine(rpcError(resp.ID, code, text))
		}
	}
	data, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return err
	}
	return c.writeLine(data)
}

func (c *lineConn) writeLine(data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.out.Write(append(data, '\n')); err != nil {
		return err
	}
	return nil
}

// Close implements mcp.Connection.
func (c *lineConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		if c.closeIn != nil {
			_ = c.closeIn.Close()
		}
	})
	return nil
}

// SessionID implements mcp.Connection: a line transport has one session and no ID.
func (c *lineConn) SessionID() string { return "" }
