package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
)

// TestIdempotencyLeaseExpires: a key held by a call that never finished (its bridge died
// mid-call) holds back duplicates until the lease ends; then the next one runs the call, once.
func TestIdempotencyLeaseExpires(t *testing.T) {
	t.Parallel()
	sd := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	var runs atomic.Int64
	reserve := func(context.Context, proto.Message) (proto.Message, error) {
		runs.Add(1)
		return &demov1.ReserveItemResponse{ReservationId: "R-1"}, nil
	}
	get := func(context.Context, proto.Message) (proto.Message, error) { return &demov1.GetItemResponse{}, nil }
	store := newMemoryIdempotency()
	const lease = 300 * time.Millisecond
	s, err := New([]Service{{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{"GetItem": get, "ListItems": get, "ReserveItem": reserve}}},
		WithLogger(slog.New(slog.DiscardHandler)), WithIdempotency(IdempotencyOptions{Lease: lease}), WithIdempotencyStore(store))
	if err != nil {
		t.Fatal(err)
	}
	m := s.gen.Load().methods["/agentbridge.demo.v1.InventoryService/ReserveItem"]
	req := &demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1}
	// The dead bridge's claim, as it wrote it.
	body, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	scope := sha256.Sum256([]byte(anonymous + "\x00" + m.procedure + "\x00" + "k-orphan"))
	if _, claimed, _ := store.Claim(context.Background(), hex.EncodeToString(scope[:]), pendingRecord(sha256.Sum256(body)), lease); !claimed {
		t.Fatal("could not plant the orphaned claim")
	}
	start := time.Now()
	ctx, _ := callContext(context.Background(), SurfaceGRPC, m.procedure, metadata.Pairs(HeaderIdempotencyKey, "k-orphan"))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := s.call(ctx, m, req)
	if err != nil || resp.(*demov1.ReserveItemResponse).GetReservationId() != "R-1" {
		t.Fatalf("the duplicate after the lease: %v %v", resp, err)
	}
	if waited := time.Since(start); waited < lease-50*time.Millisecond {
		t.Errorf("ran after %s, before the orphaned claim's lease (%s) ended", waited, lease)
	}
	if _, err := s.call(ctx, m, req); err != nil || runs.Load() != 1 {
		t.Errorf("a retry after that: %v, runs %d; want the recorded outcome and one run", err, runs.Load())
	}
}
