package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/agentbridge/agentbridge/server/jsonplan"
)

// box carries a request or response of a type known only at run time through connect's
// generic handler. Each method's codecs fill it with that method's request type.
type box struct {
	msg proto.Message
	// err is why the request could not be decoded. The codec keeps it here rather than
	// returning it, because connect would prefix its own words ("unmarshal message: ") and the
	// message an agent reads must be the one REST and MCP show for the same body; the handler
	// returns it as InvalidArgument before the call.
	err error
}

// boxCodec is a connect codec for one method: binary protobuf or the shared JSON form.
type boxCodec struct {
	name     string
	json     bool
	newInput func() proto.Message
	plans    *jsonplan.Encoder // writes JSON responses
	dec      *jsonplan.Decoder // reads JSON requests
	g        *generation       // writes binary responses (its wire plans)
}

func (c *boxCodec) Name() string { return c.name }

// Marshal writes a boxed response, or a plain message (connect marshals error statuses with
// the "proto" codec too).
func (c *boxCodec) Marshal(v any) ([]byte, error) {
	msg, ok := v.(proto.Message)
	if b, isBox := v.(*box); isBox {
		msg, ok = b.msg, true
	}
	if !ok {
		return nil, fmt.Errorf("cannot marshal %T", v)
	}
	if c.json {
		return c.plans.Marshal(msg)
	}
	return c.g.marshalBinary(msg)
}

func (c *boxCodec) Unmarshal(data []byte, v any) error {
	b, isBox := v.(*box)
	if !isBox {
		msg, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("cannot unmarshal into %T", v)
		}
		if c.json {
			return c.dec.Unmarshal(data, msg)
		}
		return proto.Unmarshal(data, msg)
	}
	if b.msg == nil {
		b.msg = c.newInput()
	}
	if c.json {
		if err := c.dec.Unmarshal(data, b.msg); err != nil {
			b.err = jsonError(b.msg, data, err)
		}
		return nil
	}
	if err := proto.Unmarshal(data, b.msg); err != nil {
		b.err = errors.New("malformed protobuf request for " + string(b.msg.ProtoReflect().Descriptor().FullName()))
	}
	return nil
}

// connectHandler serves one method over Connect, gRPC and gRPC-Web.
func (s *Server) connectHandler(g *generation, m *method) http.Handler {
	plans, dec := g.jsonEncoder(), g.jsonDecoder()
	opts := []connect.HandlerOption{
		connect.WithCodec(&boxCodec{name: "proto", newInput: m.newInput, g: g}),
		connect.WithCodec(&boxCodec{name: "json", json: true, newInput: m.newInput, plans: plans, dec: dec}),
		connect.WithCodec(&boxCodec{name: "json; charset=utf-8", json: true, newInput: m.newInput, plans: plans, dec: dec}),
		connect.WithReadMaxBytes(int(s.opts.maxBody)),
		connect.WithSchema(m.desc),
	}
	if m.stream != nil {
		return s.connectStreamHandler(m, opts)
	}
	if m.desc.Options() != nil && idempotencyOf(m.desc) == protoreflect.Name("NO_SIDE_EFFECTS") {
		opts = append(opts, connect.WithIdempotency(connect.IdempotencyNoSideEffects))
	}
	return connect.NewUnaryHandler(m.procedure, func(ctx context.Context, req *connect.Request[box]) (*connect.Response[box], error) {
		ctx, st := incomingContext(ctx, surfaceOf(req.Peer().Protocol), m.procedure, req.Header())
		if req.Msg.err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, req.Msg.err)
		}
		if req.Msg.msg == nil { // an empty body decodes to no call of Unmarshal
			req.Msg.msg = m.newInput()
		}
		resp, err := s.call(ctx, m, req.Msg.msg)
		if err != nil {
			cerr := connectError(err)
			copyMetadata(cerr.Meta(), st.header)
			copyMetadata(cerr.Meta(), st.trail)
			return nil, cerr
		}
		out := connect.NewResponse(&box{msg: resp})
		copyMetadata(out.Header(), st.header)
		copyMetadata(out.Trailer(), st.trail)
		return out, nil
	}, opts...)
}

// connectStreamHandler serves one server-streaming method over Connect, gRPC and gRPC-Web.
func (s *Server) connectStreamHandler(m *method, opts []connect.HandlerOption) http.Handler {
	return connect.NewServerStreamHandler(m.procedure, func(ctx context.Context, req *connect.Request[box], stream *connect.ServerStream[box]) error {
		ctx, st := incomingContext(ctx, surfaceOf(req.Peer().Protocol), m.procedure, req.Header())
		if req.Msg.err != nil {
			return connect.NewError(connect.CodeInvalidArgument, req.Msg.err)
		}
		if req.Msg.msg == nil {
			req.Msg.msg = m.newInput()
		}
		sentHeader := false
		err := s.callStream(ctx, m, req.Msg.msg, func(msg proto.Message) error {
			if !sentHeader {
				copyMetadata(stream.ResponseHeader(), st.header)
				sentHeader = true
			}
			return stream.Send(&box{msg: msg})
		})
		copyMetadata(stream.ResponseTrailer(), st.trail)
		if err != nil {
			return connectError(err)
		}
		return nil
	}, opts...)
}

func surfaceOf(protocol string) Surface {
	switch protocol {
	case connect.ProtocolGRPC:
		return SurfaceGRPC
	case connect.ProtocolGRPCWeb:
		return SurfaceGRPCWeb
	}
	return SurfaceConnect
}

// connectError renders a gRPC status as a connect error with the same code, message and
// details, so every surface reports a failure identically.
func connectError(err error) *connect.Error {
	st, _ := status.FromError(err)
	cerr := connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	for _, d := range st.Proto().GetDetails() {
		if ed, derr := connect.NewErrorDetail(d); derr == nil {
			cerr.AddDetail(ed)
		}
	}
	return cerr
}

// idempotencyOf returns the method's idempotency_level as its enum value name.
func idempotencyOf(md protoreflect.MethodDescriptor) protoreflect.Name {
	opts := md.Options().ProtoReflect()
	fd := opts.Descriptor().Fields().ByName("idempotency_level")
	if fd == nil {
		return ""
	}
	ev := fd.Enum().Values().ByNumber(opts.Get(fd).Enum())
	if ev == nil {
		return ""
	}
	return ev.Name()
}

// registerConnect mounts every method of g, plus gRPC health and reflection over g's files, on
// mux.
func (s *Server) registerConnect(mux *http.ServeMux, g *generation) {
	for _, m := range g.methods {
		mux.Handle(m.procedure, s.connectHandler(g, m))
	}
	checker := &readinessChecker{s: s, names: g.names}
	mux.Handle(grpchealth.NewHandler(checker))
	reflector := grpcreflect.NewReflector(grpcreflect.NamerFunc(func() []string { return g.names }),
		grpcreflect.WithDescriptorResolver(fallbackFiles{g.files}))
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
}

// fallbackFiles resolves from the served files, then from the files linked into the binary.
type fallbackFiles struct{ files *protoregistry.Files }

func (f fallbackFiles) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := f.files.FindFileByPath(path); err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

func (f fallbackFiles) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := f.files.FindDescriptorByName(name); err == nil {
		return d, nil
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(name)
}

// readinessChecker answers gRPC health checks on the HTTP listener: SERVING until shutdown
// starts, for the server ("") and each service.
type readinessChecker struct {
	s     *Server
	names []string
}

func (c *readinessChecker) Check(_ context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	known := req.Service == ""
	for _, n := range c.names {
		known = known || n == req.Service
	}
	if !known {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("unknown service "+req.Service))
	}
	ready, services := c.s.readiness()
	if req.Service != "" {
		ready = c.s.ready.Load() && services[req.Service]
	}
	if !ready {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}
