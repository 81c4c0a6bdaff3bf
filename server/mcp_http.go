package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The go-sdk's Streamable HTTP handler is used as it is, behind mcpGuard, an http.Handler that
// does what the SDK cannot be configured to do:
//
//   - refuse JSON-RPC batches on every protocol version: the SDK refuses them only when the
//     request says 2025-06-18 or later, and a POST without MCP-Protocol-Version is read as
//     2025-03-26, whose batches it runs, all of them;
//   - bound the live sessions: the SDK has an idle timeout (StreamableHTTPOptions.
//     SessionTimeout, used) but no cap;
//   - answer a call sent before initialize with a JSON-RPC error code: the SDK answers with
//     code 0, which JSON-RPC does not define;
//   - send no response to a call that notifications/cancelled cancelled: the SDK cancels the
//     call's context but then writes the call's result to its stream;
//   - in stateless mode, cancel a call whose HTTP request ends: the SDK does so only for the
//     protocol of 2026-07-28, and a client of an older one has no other way to cancel (its
//     notifications/cancelled reaches a different, temporary session).
//
// Each needs the request's JSON-RPC message, so the guard reads the body (within the same
// bound the SDK applies) and hands the SDK an identical copy.

// streamableOptions are the go-sdk handler's options: fixed when the server is made, as the
// handler outlives generations.
func (s *Server) streamableOptions() *mcp.StreamableHTTPOptions {
	o := s.opts.mcp.MCPProtocolOptions
	return &mcp.StreamableHTTPOptions{
		Logger:              s.log.With("surface", "mcp"),
		MaxRequestBodyBytes: s.opts.maxBody,
		Stateless:           o.Stateless,
		SessionTimeout:      o.sessionIdleTimeout(),
		// A sessionless request (protocol 2026-07-28) is cancelled by closing it: nothing else
		// can reach the replica serving it.
		PropagateRequestCancellation: true,
	}
}

// mcpGuard wraps the SDK's Streamable HTTP handler; see the comment at the top of this file.
type mcpGuard struct {
	s         *Server
	next      http.Handler
	stateless bool

	mu       sync.Mutex
	inflight map[callKey]*inflightCall // calls on sessions, by session and request ID
	admitMu  sync.Mutex                // one admission decision at a time
	starting int                       // initialize requests admitted and not yet answered
}

// callKey names a call on a session. jsonrpc.ID is comparable and decodes 1 and 1.0 alike.
type callKey struct {
	session string
	id      jsonrpc.ID
}

type inflightCall struct {
	mu        sync.Mutex
	cancelled bool
}

func (s *Server) newMCPGuard(next http.Handler) *mcpGuard {
	return &mcpGuard{s: s, next: next, stateless: s.opts.mcp.Stateless, inflight: map[callKey]*inflightCall{}}
}

func (h *mcpGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Body == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, h.s.opts.maxBody), r.ContentLength)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "failed to read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		writeRPCError(w, http.StatusBadRequest, jsonrpc.ID{}, jsonrpc.CodeInvalidRequest, batchRefusal)
		return
	}
	if !json.Valid(body) {
		writeRPCError(w, http.StatusBadRequest, jsonrpc.ID{}, jsonrpc.CodeParseError, "the body is not valid JSON")
		return
	}
	msg, err := jsonrpc.DecodeMessage(body)
	if err != nil {
		writeRPCError(w, http.StatusBadRequest, jsonrpc.ID{}, jsonrpc.CodeInvalidRequest, "not a JSON-RPC 2.0 message: "+err.Error())
		return
	}
	req, ok := msg.(*jsonrpc.Request)
	if ok && answerOnly(req) {
		w = unflushed{w}
	}
	if h.stateless {
		// The SDK ties a call's context to its HTTP request only for the sessionless protocol;
		// statelessRequest lets the middleware do it for the older ones too.
		h.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), statelessRequestKey{}, r.Context())))
		return
	}
	if !ok {
		h.next.ServeHTTP(w, r)
		return
	}
	session := r.Header.Get(mcpSessionHeader)
	switch {
	case session == "" && req.IsCall() && !sessionless(r, req):
		switch req.Method {
		case methodInitialize:
			if !h.admit(w, req.ID) {
				return
			}
			sw := &startingSession{ResponseWriter: w, h: h}
			defer sw.started()
			w = sw
		case methodPing, methodDiscover:
		default:
			writeRPCError(w, http.StatusBadRequest, req.ID, jsonrpc.CodeInvalidRequest,
				fmt.Sprintf("method %q before initialize: %s, then send the Mcp-Session-Id header its response carries", req.Method, notInitializedHint))
			return
		}
	case session != "" && req.Method == methodCancelled:
		h.cancel(session, req.Params)
	case session != "" && req.IsCall():
		key := callKey{session, req.ID}
		call := &inflightCall{}
		h.mu.Lock()
		_, dup := h.inflight[key]
		if !dup {
			h.inflight[key] = call
		}
		h.mu.Unlock()
		if !dup {
			defer func() {
				h.mu.Lock()
				delete(h.inflight, key)
				h.mu.Unlock()
			}()
			w = &cancelFilter{ResponseWriter: w, call: call}
		}
	}
	h.next.ServeHTTP(w, r)
}

// statelessRequestKey carries, in stateless mode, the context of the HTTP request a call came
// in, through the SDK's context values, to cancelWithRequest.
type statelessRequestKey struct{}

// cancelWithRequest is receiving middleware: in stateless mode each request has a session of its
// own, so when its HTTP request ends (the client went away or gave up) so does the call.
func cancelWithRequest(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		httpCtx, ok := ctx.Value(statelessRequestKey{}).(context.Context)
		if !ok {
			return next(ctx, method, req)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(httpCtx, cancel)
		defer stop()
		return next(ctx, method, req)
	}
}

// sessionless reports whether a request speaks the protocol of 2026-07-28 or later, which has
// no initialize and no sessions; the SDK answers it (a stateful server refuses it with the
// versions it speaks, and the client falls back to initialize).
func sessionless(r *http.Request, req *jsonrpc.Request) bool {
	if v := r.Header.Get(mcpVersionHeader); v >= mcpNewProtocol {
		return true
	}
	var params struct {
		Meta map[string]any `json:"_meta"`
	}
	_ = json.Unmarshal(req.Params, &params)
	_, ok := params.Meta[mcpMetaVersionKey]
	return ok
}

// admit lets a new session start unless the sessions at the bound are live: initialized ones,
// and those whose initialize is admitted and not yet answered (counted on their own, so a
// burst of initialize requests cannot overshoot the bound). A request that starts no session
// (server/discover, ping) makes a session the SDK drops at once; it is not counted. When admit
// returns true, the caller wraps the response in a startingSession.
func (h *mcpGuard) admit(w http.ResponseWriter, id jsonrpc.ID) bool {
	limit := h.s.gen.Load().mcpOpts.maxSessions()
	if limit < 0 {
		h.admitMu.Lock()
		h.starting++
		h.admitMu.Unlock()
		return true
	}
	h.admitMu.Lock()
	live := h.s.liveMCPSessions() + h.starting
	if live < limit {
		h.starting++
		h.admitMu.Unlock()
		return true
	}
	h.admitMu.Unlock()
	h.s.log.Warn("refused a new MCP session: the bound on live sessions is reached", "sessions", live, "max_sessions", limit)
	w.Header().Set("Retry-After", "60")
	writeRPCError(w, http.StatusServiceUnavailable, id, codeTooManySessions,
		fmt.Sprintf("too many MCP sessions: the bridge serves at most %d at a time (mcp.max_sessions) and all are open; "+
			"close sessions you no longer use (HTTP DELETE with their Mcp-Session-Id) or retry later, when idle ones have expired", limit))
	return false
}

// startingSession counts an admitted initialize as starting until its answer is written: by
// then the SDK has made the session initialized (or failed it), so it is counted as live
// instead (or not at all), and a client that opens its next session on reading the answer is
// not refused for this one.
type startingSession struct {
	http.ResponseWriter
	h    *mcpGuard
	once sync.Once
}

func (s *startingSession) started() {
	s.once.Do(func() {
		s.h.admitMu.Lock()
		s.h.starting--
		s.h.admitMu.Unlock()
	})
}

func (s *startingSession) WriteHeader(code int) {
	s.started()
	s.ResponseWriter.WriteHeader(code)
}

func (s *startingSession) Write(p []byte) (int, error) {
	s.started()
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController flush the response through the wrapper.
func (s *startingSession) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush flushes the response, for code that asserts http.Flusher.
func (s *startingSession) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

// liveMCPSessions counts the initialized sessions of every toolset's MCP server.
func (s *Server) liveMCPSessions() int {
	s.mcpMu.Lock()
	servers := make([]*mcp.Server, 0, len(s.mcp))
	for _, srv := range s.mcp {
		servers = append(servers, srv)
	}
	s.mcpMu.Unlock()
	n := 0
	for _, srv := range servers {
		for ss := range srv.Sessions() {
			if ss.InitializeParams() != nil {
				n++
			}
		}
	}
	return n
}

// cancel marks the call a notifications/cancelled names, if it is in flight on the session, so
// that its response is not written. The SDK then cancels the call's context.
func (h *mcpGuard) cancel(session string, params json.RawMessage) {
	var p struct {
		RequestID any `json:"requestId"`
	}
	if json.Unmarshal(params, &p) != nil || p.RequestID == nil {
		return
	}
	id, err := jsonrpc.MakeID(p.RequestID)
	if err != nil {
		return
	}
	h.mu.Lock()
	call := h.inflight[callKey{session, id}]
	h.mu.Unlock()
	if call != nil {
		call.mu.Lock()
		call.cancelled = true
		call.mu.Unlock()
	}
}

// cancelFilter passes a call's stream through, but drops the call's response once the call has
// been cancelled: the protocol says a cancelled request gets none. Progress notifications sent
// before still pass. The SDK writes each SSE event, or the JSON response, in one Write.
type cancelFilter struct {
	http.ResponseWriter
	call *inflightCall
}

func (f *cancelFilter) Write(p []byte) (int, error) {
	f.call.mu.Lock()
	cancelled := f.call.cancelled
	f.call.mu.Unlock()
	if cancelled && isResponse(p) {
		return len(p), nil
	}
	return f.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController flush the stream through the filter.
func (f *cancelFilter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// answerOnly reports whether req is a call whose SSE stream can carry nothing but its answer:
// a method for which agentbridge sends no message related to the call before answering
// (progress is sent only for a call that carries a progress token). A call that might,
// and subscriptions/listen, whose stream stays open, are not.
func answerOnly(req *jsonrpc.Request) bool {
	if !req.IsCall() {
		return false
	}
	switch req.Method {
	case "tools/call", "tools/list", "resources/list", "resources/templates/list", "resources/read",
		"prompts/list", "prompts/get", methodPing:
		// Conservative: "progressToken" anywhere in the params, arguments included, counts.
		return !bytes.Contains(req.Params, []byte(`"progressToken"`))
	}
	return false
}

// unflushed is the response of a call whose stream carries only its answer (answerOnly). The
// SDK flushes the SSE stream after every event; here, flushing would send the event and then,
// in a write of its own, the end of the response, the moment after, as the SDK's handler
// returns once the answer is written. Without the flush both go in one write. The client gets
// the answer at the same time, for one write and one wake-up less on each side: 10 to 15% of a
// tools/call's CPU in front of a backend ("MCP beside REST" in docs/benchmarks.md).
type unflushed struct{ http.ResponseWriter }

// Flush does nothing; the response is sent when the SDK's handler returns or the buffer fills.
func (unflushed) Flush() {}

// Flush flushes the stream, for code that asserts http.Flusher.
func (f *cancelFilter) Flush() { _ = http.NewResponseController(f.ResponseWriter).Flush() }

// isResponse reports whether a write of the SDK holds a JSON-RPC response: an SSE event whose
// data is one, or the JSON of one.
func isResponse(p []byte) bool {
	data := p
	if i := bytes.Index(p, []byte("data: ")); i >= 0 && (i == 0 || p[i-1] == '\n') {
		data = p[i+len("data: "):]
		if j := bytes.IndexByte(data, '\n'); j >= 0 {
			data = data[:j]
		}
	}
	msg, err := jsonrpc.DecodeMessage(bytes.TrimSpace(data))
	if err != nil {
		return false
	}
	_, ok := msg.(*jsonrpc.Response)
	return ok
}

// writeRPCError answers an HTTP request with a JSON-RPC error, which the go-sdk client, among
// others, reads from a non-2xx response.
func writeRPCError(w http.ResponseWriter, httpStatus int, id jsonrpc.ID, code int64, message string) {
	data := rpcError(id, code, message)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(httpStatus)
	_, _ = w.Write(data)
}
