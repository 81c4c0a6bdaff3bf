package server

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
)

// BenchmarkAudit measures the audit interceptor against the bare call path in the same run:
// the same server, the same GetItem method (an implementation that answers at once, so only
// the chain is measured), called as every surface ends up calling it (Server.call), with the
// chain either validation alone (chain=bare) or audit then validation (chain=audit), the
// JSON line written to io.Discard. id=caller: the caller sent x-request-id; id=generated: the
// interceptor makes one and sets it as response metadata.
func BenchmarkAudit(b *testing.B) {
	resp := &demov1.GetItemResponse{Item: &demov1.Item{Sku: "A-100", Name: "Cordless drill"}}
	sd := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	svc := Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{}, Streams: map[protoreflect.Name]adapters.ServerStream{}}
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		if md.IsStreamingServer() {
			svc.Streams[md.Name()] = func(context.Context, proto.Message, func(proto.Message) error) error { return nil }
			continue
		}
		svc.Methods[md.Name()] = func(context.Context, proto.Message) (proto.Message, error) { return resp, nil }
	}
	s, err := New([]Service{svc}, WithLogger(slog.New(slog.DiscardHandler)), WithAuditWriter(io.Discard),
		WithAudit(AuditOptions{Headers: []string{"user-agent"}}))
	if err != nil {
		b.Fatal(err)
	}
	audited := s.chain
	bare := chainUnary([]grpc.UnaryServerInterceptor{validateInterceptor(s.validator)})
	m := s.gen.Load().methods["/agentbridge.demo.v1.InventoryService/GetItem"]
	req := &demov1.GetItemRequest{Sku: "A-100"}
	for _, c := range []struct {
		name  string
		chain grpc.UnaryServerInterceptor
		md    metadata.MD
	}{
		{"chain=bare/id=caller", bare, metadata.Pairs("x-request-id", "rid-1", "user-agent", "bench")},
		{"chain=audit/id=caller", audited, metadata.Pairs("x-request-id", "rid-1", "user-agent", "bench")},
		{"chain=bare/id=generated", bare, metadata.Pairs("user-agent", "bench")},
		{"chain=audit/id=generated", audited, metadata.Pairs("user-agent", "bench")},
	} {
		b.Run(c.name, func(b *testing.B) {
			s.chain = c.chain
			b.ReportAllocs()
			for b.Loop() {
				ctx, _ := callContext(context.Background(), SurfaceGRPC, m.procedure, c.md)
				if _, err := s.call(ctx, m, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	s.chain = audited
}
