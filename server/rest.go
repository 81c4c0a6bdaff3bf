package server

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters"
)

// The REST surface is built at run time from the methods' google.api.http options, on
// grpc-gateway's runtime.ServeMux, and does what protoc-gen-grpc-gateway's generated handlers do
// (same request binding, same errors, same response writing) without generated code: contracts
// loaded at run time have only descriptors and dynamic messages. A test compares it with the
// generated gateway request by request (rest_diff_test.go).

// newREST builds the REST surface for every method with REST routes, each calling the method
// in process through the interceptor chain.
func (s *Server) newREST(g *generation) (http.Handler, error) {
	mux := runtime.NewServeMux(restMuxOptions(g)...)
	type owner struct{ route, method string }
	taken := map[string]owner{}
	for _, m := range g.routeOrder() {
		routes, err := httpRoutes(m.desc)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		for _, r := range routes {
			name := fmt.Sprintf("%s %s", r.Verb, r.Template)
			key := r.Verb + " " + templateShape(r.Template)
			if prev, dup := taken[key]; dup {
				return nil, fmt.Errorf("server: REST route %s of %s collides with %s of %s", name, m.desc.FullName(), prev.route, prev.method)
			}
			taken[key] = owner{name, string(m.desc.FullName())}
			rr, err := newRESTRoute(m, r)
			if err != nil {
				return nil, fmt.Errorf("server: REST route %s of %s: %w", name, m.desc.FullName(), err)
			}
			if err := mux.HandlePath(r.Verb, r.Template, s.restHandler(mux, rr)); err != nil {
				return nil, fmt.Errorf("server: REST route %s of %s: %w", name, m.desc.FullName(), err)
			}
		}
	}
	return boundBody(s.opts.maxBody, mux), nil
}

// restMuxOptions configures the REST mux of g: the shared JSON form, request headers passed to
// the chain as metadata, and errors written without zero values. Both resolve g's types, so a
// status detail or an Any field of a contract loaded at run time is written as JSON (without
// them grpc-gateway would answer "failed to marshal error message" instead of the error).
func restMuxOptions(g *generation) []runtime.ServeMuxOption {
	errJSON := g.errorJSON
	if errJSON == nil { // a generation built in part, by a test
		errJSON = errorJSON
	}
	return []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newGatewayJSON(g.types, g.jsonEncoder(), g.jsonDecoder())),
		runtime.WithIncomingHeaderMatcher(restHeaderToMetadata),
		runtime.WithOutgoingHeaderMatcher(restMetadataToHeader),
		runtime.WithErrorHandler(func(ctx context.Context, mux *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
			setRetryAfter(w, err)
			if st, ok := status.FromError(err); ok {
				err = writableStatus(st, errJSON).Err()
			}
			runtime.DefaultHTTPErrorHandler(ctx, mux, errJSON, w, r, err)
		}),
	}
}

// boundBody refuses a request whose declared body exceeds limit before any handler reads it,
// and stops reading any other body at limit.
func boundBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeStatus(w, r, status.New(codes.ResourceExhausted, "request body is "+strconv.FormatInt(r.ContentLength, 10)+" bytes; the limit is "+strconv.FormatInt(limit, 10)))
			return
		}
		if !jsonBodyOnly(w, r) {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// routeOrder lists methods in the order the generated gateway registered them: services as
// configured, methods as declared. The mux tries the route registered last first, so the order
// decides which of two overlapping templates (say /v1/{name=shelves/*} and /v1/shelves/x) wins.
func (g *generation) routeOrder() []*method {
	methods := g.methods
	rank := make(map[string]int, len(g.services))
	for i, svc := range g.services {
		if svc.Desc != nil {
			rank[string(svc.Desc.FullName())] = i
		}
	}
	serviceRank := func(m *method) int {
		if r, ok := rank[string(m.desc.Parent().FullName())]; ok {
			return r
		}
		return len(rank)
	}
	ordered := make([]*method, 0, len(methods))
	for _, m := range methods {
		ordered = append(ordered, m)
	}
	slices.SortFunc(ordered, func(a, b *method) int {
		return cmp.Or(
			cmp.Compare(serviceRank(a), serviceRank(b)),
			cmp.Compare(a.desc.Parent().FullName(), b.desc.Parent().FullName()),
			cmp.Compare(a.desc.Index(), b.desc.Index()),
		)
	})
	return ordered
}

// templateShape is a path template without its variables' field names, so two templates that
// match the same paths compare equal: /v1/{sku} and /v1/{id=*} are both /v1/{*}.
func templateShape(template string) string {
	var b strings.Builder
	rest := template
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			return b.String()
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:open])
		v := rest[open+1 : open+end]
		pattern := "*"
		if eq := strings.IndexByte(v, '='); eq >= 0 {
			pattern = v[eq+1:]
		}
		b.WriteString("{" + pattern + "}")
		rest = rest[open+end+1:]
	}
}

// restHandler serves one route as the generated RegisterXHandlerClient does, with the call made
// in process instead of through a gRPC client.
func (s *Server) restHandler(mux *runtime.ServeMux, rt *restRoute) runtime.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request, pathParams map[string]string) {
		inbound, outbound := runtime.MarshalerForRequest(mux, req)
		// The gateway's metadata (request headers, x-forwarded-*) is the call's incoming
		// metadata, as if it had crossed a gRPC connection.
		md, timeout, err := restMetadata(req, s.skippedHeader)
		if err != nil {
			runtime.HTTPError(req.Context(), mux, outbound, w, req, err)
			return
		}
		annotated, cancel := withTimeout(req.Context(), timeout)
		defer cancel()
		msg, err := rt.decode(inbound, req, pathParams)
		if err != nil {
			annotated = runtime.NewServerMetadataContext(annotated, runtime.ServerMetadata{})
			runtime.HTTPError(annotated, mux, outbound, w, req, err)
			return
		}
		callCtx, ts := callContext(annotated, SurfaceREST, rt.m.procedure, md)
		if rt.m.stream != nil {
			s.restStream(annotated, callCtx, ts, mux, outbound, w, req, rt, msg)
			return
		}
		resp, err := s.call(callCtx, rt.m, msg)
		header, trailer := ts.snapshot()
		annotated = runtime.NewServerMetadataContext(annotated, runtime.ServerMetadata{HeaderMD: header, TrailerMD: trailer})
		if err != nil {
			runtime.HTTPError(annotated, mux, outbound, w, req, err)
			return
		}
		runtime.ForwardResponseMessage(annotated, mux, outbound, w, req, rt.response(resp), mux.GetForwardResponseOptions()...)
	}
}

// withTimeout returns the context of a unary REST call: the request's, ending after timeout
// when the request set one with grpc-timeout. Without one the request's own context serves:
// the call is over when the handler returns, and the server cancels that context then, so a
// context of the call's own would only register one more cancellation on every call. (A
// stream's goroutine needs a cancellation of its own; restStream makes one.)
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout != 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return ctx, func() {}
}

// maxLoggedHeaderSkips bounds the distinct (header, reason) pairs skippedHeader remembers:
// header names are the client's to choose. Later new pairs are counted, not logged.
const maxLoggedHeaderSkips = 1024

// skippedHeader records a request header the REST surface does not pass to the chain: each
// is counted in agentbridge_rest_headers_skipped_total by reason, and each distinct header
// and reason is logged once, so a client that sends it on every call does not flood the log.
func (s *Server) skippedHeader(header, why string) {
	s.metrics.skippedHeaders.WithLabelValues(why).Inc()
	key := header + "\x00" + why
	sk := &s.skippedHeaders
	sk.Lock()
	_, seen := sk.seen[key]
	log := !seen && len(sk.seen) < maxLoggedHeaderSkips
	if log {
		if sk.seen == nil {
			sk.seen = map[string]struct{}{}
		}
		sk.seen[key] = struct{}{}
	}
	sk.Unlock()
	if log {
		s.log.Warn("REST request header not passed on as metadata", "header", header, "why", why)
	}
}

// restStream serves a server-streaming call. grpc-gateway pulls messages (recv) while the
// implementation pushes them (send), so the call runs on its own goroutine and hands each
// message over unbuffered: the implementation is never more than one message ahead of the
// client. The response headers are those set before the first message, as a gRPC client sees
// them; the call ends before the handler returns.
func (s *Server) restStream(annotated, callCtx context.Context, ts *transportStream, mux *runtime.ServeMux, outbound runtime.Marshaler, w http.ResponseWriter, req *http.Request, rt *restRoute, msg proto.Message) {
	callCtx, cancel := context.WithCancel(callCtx)
	msgs := make(chan proto.Message)
	started := make(chan struct{}) // closed at the first message or at the end of the call
	done := make(chan struct{})    // closed at the end of the call; callErr is then set
	var once sync.Once
	var callErr error
	go func() {
		defer close(done)
		callErr = s.callStream(callCtx, rt.m, msg, func(out proto.Message) error {
			once.Do(func() { close(started) })
			select {
			case msgs <- out:
				return nil
			case <-callCtx.Done():
				return callCtx.Err()
			}
		})
		once.Do(func() { close(started) })
	}()
	defer func() {
		cancel()
		<-done
	}()
	<-started
	header, _ := ts.snapshot()
	annotated = runtime.NewServerMetadataContext(annotated, runtime.ServerMetadata{HeaderMD: header})
	recv := func() (proto.Message, error) {
		select {
		case out := <-msgs:
			return rt.response(out), nil
		case <-done:
			if callErr != nil {
				return nil, callErr
			}
			return nil, io.EOF
		}
	}
	runtime.ForwardResponseStream(annotated, mux, outbound, w, req, recv, mux.GetForwardResponseOptions()...)
}

// snapshot returns the headers and trailers set so far.
func (t *transportStream) snapshot() (header, trailer metadata.MD) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.header, t.trail
}

// restHeaderToMetadata passes REST request headers to the chain as metadata under the same
// lower-case names gRPC and Connect calls have, so an interceptor reads "authorization" or
// "x-request-id" the same way on every surface. Grpc-Metadata-K arrives as k, as grpc-gateway
// has always done. Hop-by-hop headers, and gRPC's own reserved names, are not passed.
func restHeaderToMetadata(key string) (string, bool) {
	k := strings.TrimPrefix(lowerHeader(key), "grpc-metadata-")
	switch k {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "content-length", "host":
		return "", false
	}
	if strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":") {
		return "", false
	}
	return k, true
}

// restMetadataToHeader writes response metadata as grpc-gateway does (Grpc-Metadata-K), but
// for Idempotent-Replayed, which REST clients know by that name (as Stripe and the IETF draft
// on idempotency keys have it).
func restMetadataToHeader(key string) (string, bool) {
	if key == HeaderIdempotentReplayed {
		return key, true
	}
	return runtime.MetadataHeaderPrefix + key, true
}

// writeStatus writes a status as grpc-gateway does, so errors raised outside the gateway look
// like the gateway's own.
func writeStatus(w http.ResponseWriter, r *http.Request, st *status.Status) {
	setRetryAfter(w, st.Err())
	runtime.DefaultHTTPErrorHandler(r.Context(), runtime.NewServeMux(), errorJSON, w, r, st.Err())
}

// errorJSON writes error statuses without zero values: an error body shows only what is set.
// It resolves linked types only; a generation's errorJSON resolves its contracts' too, for the
// errors of its methods.
var errorJSON = &runtime.JSONPb{}

// setRetryAfter sets the Retry-After header (whole seconds) when a status carries a
// google.rpc.RetryInfo: a rate limit, a busy or failing backend.
func setRetryAfter(w http.ResponseWriter, err error) {
	st, ok := status.FromError(err)
	if !ok {
		return
	}
	if after, ok := retryAfter(st); ok {
		w.Header().Set("Retry-After", strconv.FormatInt(adapters.RetryAfterSeconds(after), 10))
	}
}
