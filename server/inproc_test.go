package server

import (
	"context"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// This file keeps the in-process grpc.ClientConnInterface that grpc-gateway's generated
// handlers (gen/**/*.pb.gw.go) called through before the REST surface was built from
// descriptors. Only the differential test uses it now, to serve the generated gateway beside
// the run-time one and compare them.

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
