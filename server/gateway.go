package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// inprocConn is the grpc.ClientConnInterface the gateway's generated clients call through. It
// does not dial: Invoke enters the same call path as every other surface, with the gateway's
// outgoing metadata as incoming metadata, and hands back headers and trailers through the
// grpc.Header and grpc.Trailer call options the gateway passes.
type inprocConn struct {
	s *Server
	g *generation
}

var _ grpc.ClientConnInterface = (*inprocConn)(nil)

func (c *inprocConn) Invoke(ctx context.Context, procedure string, args, reply any, opts ...grpc.CallOption) error {
	m := c.g.methods[procedure]
	if m == nil {
		return status.Errorf(codes.Unimplemented, "method %s is not served", procedure)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx, st := callContext(ctx, SurfaceREST, procedure, md)
	resp, err := c.s.call(ctx, m, args.(proto.Message))
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			*o.HeaderAddr = st.header
		case grpc.TrailerCallOption:
			*o.TrailerAddr = st.trail
		}
	}
	if err != nil {
		return err
	}
	proto.Merge(reply.(proto.Message), resp)
	return nil
}

// NewStream serves the gateway's server-streaming calls in process: the request arrives with
// SendMsg, CloseSend starts the call, and RecvMsg hands out the responses as they come.
func (c *inprocConn) NewStream(ctx context.Context, _ *grpc.StreamDesc, procedure string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
	m := c.g.methods[procedure]
	if m == nil || m.stream == nil {
		return nil, status.Errorf(codes.Unimplemented, "streaming method %s is not served", procedure)
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	ctx, cancel := context.WithCancel(ctx)
	ctx, ts := callContext(ctx, SurfaceREST, procedure, md)
	return &inprocStream{
		ctx:       ctx,
		cancel:    cancel,
		s:         c.s,
		m:         m,
		ts:        ts,
		msgs:      make(chan proto.Message),
		headerSet: make(chan struct{}),
		done:      make(chan struct{}),
	}, nil
}

type inprocStream struct {
	ctx       context.Context
	cancel    context.CancelFunc
	s         *Server
	m         *method
	ts        *transportStream
	req       proto.Message
	msgs      chan proto.Message
	headerSet chan struct{} // closed when the first message is sent or the call ends
	once      sync.Once
	done      chan struct{} // closed when the call has ended; err is then set
	err       error
}

func (st *inprocStream) SendMsg(m any) error {
	st.req = m.(proto.Message)
	return nil
}

func (st *inprocStream) CloseSend() error {
	go func() {
		err := st.s.callStream(st.ctx, st.m, st.req, func(msg proto.Message) error {
			st.once.Do(func() { close(st.headerSet) })
			select {
			case st.msgs <- msg:
				return nil
			case <-st.ctx.Done():
				return st.ctx.Err()
			}
		})
		st.err = err
		st.once.Do(func() { close(st.headerSet) })
		close(st.done)
	}()
	return nil
}

func (st *inprocStream) RecvMsg(m any) error {
	select {
	case msg := <-st.msgs:
		proto.Merge(m.(proto.Message), msg)
		return nil
	case <-st.done:
		if st.err != nil {
			return st.err
		}
		return io.EOF
	}
}

func (st *inprocStream) Header() (metadata.MD, error) {
	<-st.headerSet
	return st.ts.header, nil
}

func (st *inprocStream) Trailer() metadata.MD {
	<-st.done
	st.cancel()
	return st.ts.trail
}

func (st *inprocStream) Context() context.Context { return st.ctx }

// newGateway builds the REST/JSON surface from the services' google.api.http routes.
func (s *Server) newGateway(ctx context.Context, g *generation) (http.Handler, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newGatewayJSON()),
		runtime.WithIncomingHeaderMatcher(restHeaderToMetadata),
		runtime.WithErrorHandler(func(ctx context.Context, mux *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
			runtime.DefaultHTTPErrorHandler(ctx, mux, errorJSON, w, r, err)
		}),
	)
	conn := &inprocConn{s: s, g: g}
	for _, svc := range g.services {
		if svc.Gateway == nil {
			continue
		}
		if err := svc.Gateway(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("server: REST routes of %s: %w", svc.Desc.FullName(), err)
		}
	}
	limit := s.opts.maxBody
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeStatus(w, r, status.New(codes.ResourceExhausted, "request body is "+strconv.FormatInt(r.ContentLength, 10)+" bytes; the limit is "+strconv.FormatInt(limit, 10)))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		mux.ServeHTTP(w, r)
	}), nil
}

// restHeaderToMetadata passes REST request headers to the chain as metadata under the same
// lower-case names gRPC and Connect calls have, so an interceptor reads "authorization" or
// "x-request-id" the same way on every surface. Grpc-Metadata-K arrives as k, as grpc-gateway
// has always done. Hop-by-hop headers, and gRPC's own reserved names, are not passed.
func restHeaderToMetadata(key string) (string, bool) {
	k := strings.ToLower(key)
	k = strings.TrimPrefix(k, "grpc-metadata-")
	switch k {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "content-length", "host":
		return "", false
	}
	if strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":") {
		return "", false
	}
	return k, true
}

// writeStatus writes a status as grpc-gateway does, so errors raised outside the gateway look
// like the gateway's own.
func writeStatus(w http.ResponseWriter, r *http.Request, st *status.Status) {
	runtime.DefaultHTTPErrorHandler(r.Context(), runtime.NewServeMux(), errorJSON, w, r, st.Err())
}

// errorJSON writes error statuses without zero values: an error body shows only what is set.
var errorJSON = &runtime.JSONPb{}
