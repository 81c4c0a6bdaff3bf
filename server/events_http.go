package server

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// REST streaming of events: GET /v1/events/{source}:subscribe streams newline-delimited JSON in
// the form of every server-streaming route, or Server-Sent Events when the request accepts
// text/event-stream. The route is served here, before the REST mux, because grpc-gateway tries
// FetchEvents' GET /v1/events/{source} first, and it would take "stock:subscribe" for a source.

// sseHeartbeat is how often an idle SSE stream sends a comment, so proxies and load balancers
// that close quiet connections keep it open.
var sseHeartbeat = 15 * time.Second

const subscribeProcedure = "/agentbridge.v1.EventService/Subscribe"

// eventsHTTP serves the Subscribe route of g, when g serves EventService, in front of rest.
func (s *Server) eventsHTTP(g *generation, rest http.Handler) http.Handler {
	m := g.methods[subscribeProcedure]
	if m == nil {
		return rest
	}
	routes, err := httpRoutes(m.desc)
	if err != nil || len(routes) != 1 {
		return rest
	}
	rt, err := newRESTRoute(m, routes[0])
	if err != nil {
		return rest
	}
	mux := runtime.NewServeMux(restMuxOptions(g)...)
	if err := mux.HandlePath(routes[0].Verb, routes[0].Template, s.restHandler(mux, rt)); err != nil {
		return rest
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		source, ok := subscribePath(r)
		if !ok {
			rest.ServeHTTP(w, r)
			return
		}
		s.serveEventStream(g, mux, rt, w, r, source, acceptsEventStream(r))
	})
}

// subscribePath returns the source of GET /v1/events/{source}:subscribe.
func subscribePath(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/events/")
	if !ok {
		return "", false
	}
	source, ok := strings.CutSuffix(rest, ":subscribe")
	if !ok || source == "" || strings.Contains(source, "/") {
		return "", false
	}
	return source, true
}

func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

// serveEventStream streams a Subscribe call as newline-delimited JSON, one {"result": …} or
// {"error": …} object per line as grpc-gateway writes streams, or with sse as Server-Sent
// Events: each event's id is its cursor, so a client that reconnects with Last-Event-ID
// resumes after it; data is the Event as JSON. Either starts as soon as the request is
// checked, not at the first event. An error before that is an HTTP error as on every REST
// route; one after it is the stream's last line (an "error" event in SSE).
func (s *Server) serveEventStream(g *generation, mux *runtime.ServeMux, rt *restRoute, w http.ResponseWriter, r *http.Request, source string, sse bool) {
	inbound, outbound := runtime.MarshalerForRequest(mux, r)
	errJSON := g.errorJSON
	md, timeout, err := restMetadata(r, s.skippedHeader)
	if err != nil {
		runtime.HTTPError(r.Context(), mux, outbound, w, r, err)
		return
	}
	// The stream's context is its own: ending it is what stops the call's goroutine below.
	var annotated context.Context
	var cancel context.CancelFunc
	if timeout != 0 {
		annotated, cancel = context.WithTimeout(r.Context(), timeout)
	} else {
		annotated, cancel = context.WithCancel(r.Context())
	}
	defer cancel()
	msg, err := rt.decode(inbound, r, map[string]string{"source": source})
	if err != nil {
		runtime.HTTPError(annotated, mux, errJSON, w, r, err)
		return
	}
	req := msg.(*agentbridgev1.SubscribeRequest)
	if sse && req.GetAfter() == "" {
		req.After = r.Header.Get("Last-Event-ID") // the browser's EventSource resumes so
	}
	callCtx, ts := callContext(annotated, SurfaceREST, rt.m.procedure, md)
	started := make(chan struct{})
	var startOnce sync.Once
	start := func() { startOnce.Do(func() { close(started) }) }
	callCtx = grpc.NewContextWithServerTransportStream(callCtx, &startSignal{transportStream: ts, start: start})
	events := make(chan proto.Message)
	done := make(chan error, 1)
	go func() {
		done <- s.callStream(callCtx, rt.m, req, func(out proto.Message) error {
			start()
			select {
			case events <- out:
				return nil
			case <-callCtx.Done():
				return callCtx.Err()
			}
		})
	}()
	finished := false // done has been read
	defer func() {
		cancel()
		if !finished {
			<-done //nolint:errcheck // the outcome is written already, or no one is left to read it
		}
	}()
	select {
	case <-started:
	case err := <-done:
		finished = true
		// The call ended before it started streaming: refused, or failed at once.
		if err != nil {
			runtime.HTTPError(annotated, mux, errJSON, w, r, err)
			return
		}
	}
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	if sse {
		h.Set("Content-Type", "text/event-stream")
	} else {
		h.Set("Content-Type", streamContentType)
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	if finished {
		return
	}
	var beats <-chan time.Time
	if sse {
		beat := time.NewTicker(sseHeartbeat)
		defer beat.Stop()
		beats = beat.C
	}
	enc := g.jsonEncoder()
	for {
		select {
		case out := <-events:
			ev := out.(*agentbridgev1.SubscribeResponse).GetEvent()
			data, err := enc.Marshal(ev)
			if err != nil {
				writeStreamError(w, errJSON, status.Newf(codes.DataLoss, "the event at cursor %s of source %q could not be written as JSON (%v); acknowledge that cursor to pass it", ev.GetCursor(), ev.GetSource(), err).Err(), sse)
				flush()
				return
			}
			if !sse {
				line := make([]byte, 0, len(data)+32)
				line = append(append(append(line, `{"result":{"event":`...), data...), "}}\n"...)
				if _, err := w.Write(line); err != nil {
					return
				}
				flush()
				continue
			}
			var b bytes.Buffer
			b.WriteString("id: " + ev.GetCursor() + "\n")
			for line := range bytes.SplitSeq(data, []byte("\n")) {
				b.WriteString("data: ")
				b.Write(line)
				b.WriteByte('\n')
			}
			b.WriteByte('\n')
			if _, err := w.Write(b.Bytes()); err != nil {
				return
			}
			flush()
		case <-beats:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			flush()
		case err := <-done:
			finished = true
			if err != nil {
				writeStreamError(w, errJSON, err, sse)
				flush()
			}
			return
		}
	}
}

// writeStreamError writes a failed stream's status as its last line: an "error" event in SSE,
// {"error": status} in NDJSON.
func writeStreamError(w http.ResponseWriter, errJSON *runtime.JSONPb, err error, sse bool) {
	st, _ := status.FromError(err)
	data, merr := errJSON.Marshal(st.Proto())
	if merr != nil {
		data = []byte(`{"code":13,"message":"the stream failed"}`)
	}
	data = bytes.ReplaceAll(data, []byte("\n"), nil)
	if sse {
		_, _ = w.Write([]byte("event: error\ndata: " + string(data) + "\n\n"))
		return
	}
	_, _ = w.Write([]byte(`{"error":` + string(data) + "}\n"))
}

// startSignal is the call's transport stream, telling serveSSE when the implementation sends
// its headers (Subscribe does once the request is checked), so the stream starts at once.
type startSignal struct {
	*transportStream
	start func()
}

func (t *startSignal) SendHeader(md metadata.MD) error {
	err := t.transportStream.SendHeader(md)
	t.start()
	return err
}
