package server

import (
	"errors"
	"fmt"
	"io"
	"runtime"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/reflection"
	reflectionv1grpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alphagrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// newGRPCServer makes the grpc-go server. The served services are not registered with it:
// every call reaches one handler that finds the method in the current generation, so Reload
// changes what the listener serves without a restart. Reflection and health answer from the
// current generation too.
func (s *Server) newGRPCServer() (*grpc.Server, *health.Server) {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(s.opts.maxBody)),
		// Metadata is bounded as the HTTP listener bounds headers: grpc-go's default lets a
		// caller send 16 MB of metadata per call and hold it for the call's life.
		grpc.MaxHeaderListSize(maxHeaderBytes),
		grpc.ForceServerCodecV2(grpcCodec{s: s}),
		grpc.UnknownServiceHandler(s.grpcHandler),
		// Calls run on reused goroutines, whose stacks have already grown to what a call
		// through the chain needs: on a new goroutine per call, growing the stack (copying it
		// at each doubling) was 7% of a small call's CPU. When every worker is busy, grpc-go
		// starts a goroutine for the call as it does without workers.
		grpc.NumStreamWorkers(uint32(4 * runtime.GOMAXPROCS(0))),
	}
	opts = append(opts, s.opts.limits.grpcLimitOptions()...)
	if s.opts.tls != nil {
		// With TLS configured, the gRPC listener serves TLS too; it never falls back to
		// plaintext.
		cfg := s.opts.tls.Clone()
		cfg.NextProtos = []string{"h2"}
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	gs := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, liveHealth{Server: hs, s: s})
	live := &liveFiles{s: s}
	ropts := reflection.ServerOptions{Services: live, DescriptorResolver: live}
	reflectionv1grpc.RegisterServerReflectionServer(gs, reflection.NewServerV1(ropts))
	reflectionv1alphagrpc.RegisterServerReflectionServer(gs, reflection.NewServer(ropts))
	return gs, hs
}

// grpcHandler serves every method of the served services on the gRPC listener: it reads the
// one request, calls the method through the chain, and sends the response or the stream.
func (s *Server) grpcHandler(_ any, ss grpc.ServerStream) error {
	procedure, _ := grpc.MethodFromServerStream(ss)
	m := s.gen.Load().methods[procedure]
	if m == nil {
		return status.Errorf(codes.Unimplemented, "unknown method %s", procedure)
	}
	var raw rawMessage
	if err := ss.RecvMsg(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return status.Errorf(codes.InvalidArgument, "%s needs a request message", procedure)
		}
		return err
	}
	req := m.newInput()
	if err := proto.Unmarshal(raw, req); err != nil {
		return status.Errorf(codes.InvalidArgument, "malformed protobuf request for %s", m.desc.Input().FullName())
	}
	ctx := withSurface(ss.Context(), SurfaceGRPC)
	if m.stream != nil {
		return s.callStream(ctx, m, req, func(msg proto.Message) error { return ss.SendMsg(msg) })
	}
	resp, err := s.call(ctx, m, req)
	if err != nil {
		return err
	}
	return ss.SendMsg(resp)
}

// liveFiles answers reflection from the current generation: its services, and the files that
// declare them and their imports (falling back to the linked files, for health and reflection's
// own).
type liveFiles struct{ s *Server }

func (l *liveFiles) GetServiceInfo() map[string]grpc.ServiceInfo {
	info := l.s.grpc.GetServiceInfo()
	g := l.s.gen.Load()
	for _, svc := range g.services {
		si := grpc.ServiceInfo{Metadata: svc.Desc.ParentFile().Path()}
		methods := svc.Desc.Methods()
		for i := range methods.Len() {
			md := methods.Get(i)
			si.Methods = append(si.Methods, grpc.MethodInfo{Name: string(md.Name()), IsServerStream: md.IsStreamingServer()})
		}
		info[string(svc.Desc.FullName())] = si
	}
	return info
}

func (l *liveFiles) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	return fallbackFiles{l.s.gen.Load().files}.FindFileByPath(path)
}

func (l *liveFiles) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	return fallbackFiles{l.s.gen.Load().files}.FindDescriptorByName(name)
}

// rawMessage receives a request's bytes undecoded: grpc-go reports a message its codec cannot
// decode as Internal, but malformed input is the caller's to fix, so the handler decodes it.
type rawMessage []byte

// grpcCodec is the gRPC listener's codec: binary protobuf, written from the current
// generation's plans, except that it hands rawMessage the bytes as they are.
type grpcCodec struct{ s *Server }

func (grpcCodec) Name() string { return "proto" }

func (c grpcCodec) Marshal(v any) (mem.BufferSlice, error) {
	msg, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot marshal %T", v)
	}
	b, err := c.s.gen.Load().marshalBinary(msg)
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
