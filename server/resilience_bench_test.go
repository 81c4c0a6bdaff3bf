package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
)

// BenchmarkResilience measures what limits, the backend guard and metrics add to one call
// (GetItem, implemented in Go and answering at once, validation on), against the bare call path
// in the same run: the implementation called directly, and the chain as it was before (no
// rate rule, no guard). Metrics are always on, so every "chain" case includes them.
//
//	go test ./server -run '^$' -bench BenchmarkResilience -benchmem -count 6
func BenchmarkResilience(b *testing.B) {
	keyHash := sha256.Sum256([]byte("key-a"))
	auth := AuthConfig{APIKeys: []APIKey{{ID: "a", SHA256: hex.EncodeToString(keyHash[:]), Scopes: []string{"inventory.read"}}},
		Scopes: map[string][]string{"agentbridge.demo.v1.InventoryService.*": {"inventory.read"}}}
	// Budgets too large to refuse anything: the cost measured is checking them.
	rate := Limits{Rate: []RateRule{{Rate: adapters.Rate{PerSecond: 1e9, Burst: 1 << 30}}}}
	guarded := adapters.Backend{Name: "inventory", Concurrency: 1024, Rate: adapters.Rate{PerSecond: 1e9, Burst: 1 << 30}}
	cases := []struct {
		name   string
		guard  bool
		direct bool
		opts   []Option
		md     metadata.MD
	}{
		{name: "direct", direct: true},
		{name: "chain"},
		{name: "chain+rate", opts: []Option{WithLimits(rate)}},
		{name: "chain+guard", guard: true},
		{name: "chain+rate+guard", guard: true, opts: []Option{WithLimits(rate)}},
		// As a production config has it: an API key, the audit line, an inbound rule, the guard.
		{name: "full", guard: true, opts: []Option{WithAuth(auth), WithAudit(AuditOptions{}), WithAuditWriter(io.Discard), WithLimits(rate)},
			md: metadata.MD{"x-api-key": {"key-a"}}},
		// The same, traced: every call sampled, its spans handed to a batch processor whose
		// exporter drops them (the cost of making spans, not of sending them).
		{name: "full+trace", guard: true, opts: []Option{WithAuth(auth), WithAudit(AuditOptions{}), WithAuditWriter(io.Discard), WithLimits(rate), WithTracerProvider(benchTracer(b))},
			md: metadata.MD{"x-api-key": {"key-a"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s, m := guardedBenchServer(b, c.guard, guarded, c.opts...)
			req := &demov1.GetItemRequest{Sku: "A-100"}
			md := metadata.Join(metadata.MD{"user-agent": {"bench"}}, c.md)
			call := func() error {
				ctx, _ := callContext(context.Background(), SurfaceConnect, m.procedure, md)
				if c.direct {
					_, err := m.handler(ctx, req)
					return err
				}
				_, err := s.call(ctx, m, req)
				return err
			}
			if err := call(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchTracer is an SDK tracer provider that samples every trace and exports to nowhere.
func benchTracer(b *testing.B) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

func guardedBenchServer(b *testing.B, guard bool, backend adapters.Backend, opts ...Option) (*Server, *method) {
	b.Helper()
	sd := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	resp := &demov1.GetItemResponse{Item: &demov1.Item{Sku: "A-100", Name: "Hammer"}}
	impl := func(context.Context, proto.Message) (proto.Message, error) { return resp, nil }
	svc := Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{"GetItem": impl, "ListItems": impl, "ReserveItem": impl}}
	if guard {
		g := adapters.NewGuard(backend, adapters.WithGuardLogger(slog.New(slog.DiscardHandler)))
		b.Cleanup(g.Close)
		for name, u := range svc.Methods {
			svc.Methods[name] = g.Unary(sd.Methods().ByName(name), u)
		}
		svc.Guards = []*adapters.Guard{g}
	}
	s, err := New([]Service{svc}, append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return s, s.gen.Load().methods["/agentbridge.demo.v1.InventoryService/GetItem"]
}
