package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// newGRPCServer registers every service on a grpc-go server with a service description built
// from descriptors, whose handlers enter the same call path as the other surfaces.
func (s *Server) newGRPCServer() *grpc.Server {
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(int(s.opts.maxBody)),
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
		req := m.newInput()
		if err := dec(req); err != nil {
			// grpc-go reports undecodable bytes as Internal; they are the caller's to fix.
			if st, _ := status.FromError(err); st.Code() == codes.Internal {
				return nil, status.Errorf(codes.InvalidArgument, "malformed protobuf request for %s: %s", m.desc.Input().FullName(), st.Message())
			}
			return nil, err
		}
		return s.call(withSurface(ctx, SurfaceGRPC), m, req)
	}
}
