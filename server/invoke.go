package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/agentbridge/agentbridge/adapters"
)

// Surface names the protocol a call arrived on.
type Surface string

// The surfaces.
const (
	SurfaceGRPC    Surface = "grpc"    // gRPC, on the gRPC listener or the HTTP listener
	SurfaceConnect Surface = "connect" // the Connect protocol
	SurfaceGRPCWeb Surface = "grpcweb" // gRPC-Web
	SurfaceREST    Surface = "rest"    // REST/JSON through grpc-gateway
)

type surfaceKey struct{}

// SurfaceFromContext returns the surface of the call being served.
func SurfaceFromContext(ctx context.Context) Surface {
	s, _ := ctx.Value(surfaceKey{}).(Surface)
	return s
}

func withSurface(ctx context.Context, s Surface) context.Context {
	return context.WithValue(ctx, surfaceKey{}, s)
}

// method is one RPC as every surface calls it: the same request type, the same interceptor
// chain and the same implementation.
type method struct {
	desc      protoreflect.MethodDescriptor
	procedure string // /package.Service/Method
	backend   string // the backend its binding names, "" for methods implemented in Go
	newInput  func() proto.Message
	info      *grpc.UnaryServerInfo
	handler   grpc.UnaryHandler
	stream    adapters.ServerStream // set for server-streaming methods, instead of handler
	// chained is handler behind the server's interceptors, composed once when the generation
	// is built, so a call allocates no closure per interceptor; nil for streams, whose final
	// handler is made per call.
	chained grpc.UnaryHandler
	// trace holds what the tracing interceptors use for this method, made once; nil
	// without tracing.
	trace *methodTrace
}

func newMethod(md protoreflect.MethodDescriptor, input protoreflect.MessageType, impl adapters.Unary) *method {
	procedure := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	return &method{
		desc:      md,
		procedure: procedure,
		backend:   adapters.BindingOf(md).GetBackend(),
		newInput:  func() proto.Message { return input.New().Interface() },
		info:      &grpc.UnaryServerInfo{FullMethod: procedure},
		handler: func(ctx context.Context, req any) (any, error) {
			return impl(ctx, req.(proto.Message))
		},
	}
}

func newStreamMethod(md protoreflect.MethodDescriptor, input protoreflect.MessageType, impl adapters.ServerStream) *method {
	m := newMethod(md, input, nil)
	m.handler = nil
	m.stream = impl
	return m
}

// streamDone is what interceptors see as the response of a server-streaming call that ended
// without an error; the messages themselves went to the caller as they came.
var streamDone = &emptypb.Empty{}

// callStream runs a server-streaming request through the same chain as unary calls:
// interceptors see the request, and the error if the stream fails.
func (s *Server) callStream(ctx context.Context, m *method, req proto.Message, send func(proto.Message) error) error {
	_, err := s.chain(ctx, req, m.info, func(ctx context.Context, req any) (any, error) {
		if err := m.stream(ctx, req.(proto.Message), send); err != nil {
			return nil, err
		}
		return streamDone, nil
	})
	if err != nil {
		return withUnknownOutcome(m.desc, toStatusError(err))
	}
	return nil
}

// call runs one request through the chain. Every surface ends here.
func (s *Server) call(ctx context.Context, m *method, req proto.Message) (proto.Message, error) {
	var resp any
	var err error
	if m.chained != nil {
		resp, err = m.chained(ctx, req)
	} else {
		resp, err = s.chain(ctx, req, m.info, m.handler)
	}
	if err != nil {
		return nil, withUnknownOutcome(m.desc, toStatusError(err))
	}
	msg, ok := resp.(proto.Message)
	if !ok || msg == nil {
		return nil, status.Errorf(codes.Internal, "%s returned no response message", m.procedure)
	}
	return msg, nil
}

// toStatusError keeps gRPC statuses and turns anything else into Internal without its text,
// which may hold internals an agent must not see.
func toStatusError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, "canceled")
	}
	return status.Error(codes.Internal, "internal error")
}

// chainUnary composes interceptors, the first outermost, as grpc.ChainUnaryInterceptor does.
func chainUnary(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return chainStep(interceptors, 0, info, handler)(ctx, req)
	}
}

// bindChain composes interceptors around final for one method, the first outermost: the
// result of chainUnary for that method's info, built once instead of per call.
func bindChain(interceptors []grpc.UnaryServerInterceptor, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
	h := final
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], h
		h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
	}
	return h
}

func chainStep(interceptors []grpc.UnaryServerInterceptor, i int, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
	if i == len(interceptors) {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return interceptors[i](ctx, req, info, chainStep(interceptors, i+1, info, final))
	}
}

// transportStream gives non-gRPC surfaces what grpc.SetHeader, grpc.SendHeader and
// grpc.SetTrailer need, so interceptors and implementations use one API on every surface.
type transportStream struct {
	method string
	mu     sync.Mutex
	header metadata.MD
	trail  metadata.MD
	// whether header and trail are copies of ours (see joinMD)
	headerOwned, trailOwned bool
}

var _ grpc.ServerTransportStream = (*transportStream)(nil)

func (t *transportStream) Method() string { return t.method }

func (t *transportStream) SetHeader(md metadata.MD) error {
	t.mu.Lock()
	t.header = joinMD(t.header, md, &t.headerOwned)
	t.mu.Unlock()
	return nil
}

// joinMD is metadata.Join(into, md) without a copy for the first md set (one request id, in
// most calls): that map is kept as given, never written to, and copied once a second arrives.
// owned says whether into is already a copy of ours.
func joinMD(into, md metadata.MD, owned *bool) metadata.MD {
	if into == nil {
		return md
	}
	if !*owned {
		into, *owned = metadata.Join(into), true
	}
	for k, vs := range md {
		into[k] = append(into[k], vs...)
	}
	return into
}

func (t *transportStream) SendHeader(md metadata.MD) error { return t.SetHeader(md) }

func (t *transportStream) SetTrailer(md metadata.MD) error {
	t.mu.Lock()
	t.trail = joinMD(t.trail, md, &t.trailOwned)
	t.mu.Unlock()
	return nil
}

// incomingContext prepares a context for a call arriving over HTTP: the request headers as
// incoming metadata (lower-case keys, as gRPC has them); see callContext.
func incomingContext(ctx context.Context, surface Surface, procedure string, h http.Header) (context.Context, *transportStream) {
	md := make(metadata.MD, len(h))
	for k, vs := range h {
		md[lowerHeader(k)] = vs
	}
	return callContext(ctx, surface, procedure, md)
}

// lowerHeaders holds the lower-case form of the header names most requests carry, so that
// making their metadata does not allocate a string per header.
var lowerHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connect-Accept-Encoding", "Connect-Content-Encoding", "Connect-Protocol-Version",
		"Connect-Timeout-Ms", "Connection", "Content-Encoding", "Content-Length", "Content-Type",
		"Cookie", "Forwarded", "Idempotency-Key", "Origin", "Referer", "Te", "Traceparent",
		"Tracestate", "User-Agent", "X-Api-Key", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Grpc-Web", "X-Real-Ip", "X-Request-Id", "X-User-Agent",
	} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

// lowerHeader returns k in lower case.
func lowerHeader(k string) string {
	if l, ok := lowerHeaders[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// callContext gives a call that did not arrive on the gRPC listener what grpc-go would: its
// surface, incoming metadata, and a transport stream for grpc.SetHeader and SetTrailer.
func callContext(ctx context.Context, surface Surface, procedure string, md metadata.MD) (context.Context, *transportStream) {
	st := &transportStream{method: procedure}
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = grpc.NewContextWithServerTransportStream(ctx, st)
	return withSurface(ctx, surface), st
}

// copyMetadata writes gRPC metadata into HTTP headers; binary (-bin) values stay as set.
func copyMetadata(dst http.Header, md metadata.MD) {
	for k, vs := range md {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
