package server

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// newGRPCServer registers every service on a grpc-go server with a service description built
// from descriptors, whose handlers enter the same call path as the other surfaces.
func (s *Server) newGRPCServer() *grpc.Server {
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(int(s.opts.maxBody)),
		grpc.ForceServerCodecV2(grpcCodec{}),
	)
	hs := health.NewServer()
	for _, svc := range s.services {
		name := string(svc.Desc.FullName())
		sd := &grpc.ServiceDesc{
			ServiceName: name,
			HandlerType: (*any)(nil),
			Metadata:    svc.Desc.ParentFile().Path(),
		}
		methods := svc.Desc.Methods()
		for i := range methods.Len() {
			m := s.methods["/"+name+"/"+string(methods.Get(i).Name())]
			if m.stream != nil {
				sd.Streams = append(sd.Streams, grpc.StreamDesc{
					StreamName:    string(m.desc.Name()),
					Handler:       s.grpcStreamHandler(m),
					ServerStreams: true,
				})
				continue
			}
			sd.Methods = append(sd.Methods, grpc.MethodDesc{
				MethodName: string(m.desc.Name()),
				Handler:    s.grpcHandler(m),
			})
		}
		gs.RegisterService(sd, struct{}{})
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return gs
}

func (s *Server) grpcHandler(m *method) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var raw rawMessage
		if err := dec(&raw); err != nil {
			return nil, err
		}
		req := m.newInput()
		if err := proto.Unmarshal(raw, req); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "malformed protobuf request for %s", m.desc.Input().FullName())
		}
		return s.call(withSurface(ctx, SurfaceGRPC), m, req)
	}
}

func (s *Server) grpcStreamHandler(m *method) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		var raw rawMessage
		if err := ss.RecvMsg(&raw); err != nil {
			return err
		}
		req := m.newInput()
		if err := proto.Unmarshal(raw, req); err != nil {
			return status.Errorf(codes.InvalidArgument, "malformed protobuf request for %s", m.desc.Input().FullName())
		}
		return s.callStream(withSurface(ss.Context(), SurfaceGRPC), m, req, func(msg proto.Message) error {
			return ss.SendMsg(msg)
		})
	}
}

// rawMessage receives a request's bytes undecoded: grpc-go reports a message its codec cannot
// decode as Internal, but malformed input is the caller's to fix, so the handler decodes it.
type rawMessage []byte

// grpcCodec is protobuf, except that it hands rawMessage the bytes as they are.
type grpcCodec struct{}

func (grpcCodec) Name() string { return "proto" }

func (grpcCodec) Marshal(v any) (mem.BufferSlice, error) {
	msg, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot marshal %T", v)
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (grpcCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if raw, ok := v.(*rawMessage); ok {
		*raw = data.Materialize()
		return nil
	}
	msg, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot unmarshal into %T", v)
	}
	return proto.Unmarshal(data.Materialize(), msg)
}
