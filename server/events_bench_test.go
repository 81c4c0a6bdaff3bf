package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/store"
)

// BenchmarkEventDelivery measures events per second out of the bridge to one subscriber over
// gRPC (loopback, in this process): FetchEvents pages of 500 acknowledged as it goes, and one
// Subscribe stream, from the memory store, the embedded (bbolt) store and Redis (a
// redis-server the benchmark starts on a unix socket, without persistence). The events are stored
// before the clock starts; an op is one event delivered.
func BenchmarkEventDelivery(b *testing.B) {
	for _, engine := range []string{"memory", "embedded", "redis"} {
		for _, how := range []string{"fetch", "subscribe"} {
			b.Run(engine+"/"+how, func(b *testing.B) {
				var st store.Store
				var err error
				switch engine {
				case "memory":
					st = store.NewMemory(store.Retention{})
				case "embedded":
					st, err = store.OpenBolt(filepath.Join(b.TempDir(), "events.db"), store.Retention{})
				case "redis":
					r := redistest.Start(b)
					st, err = redisstore.Open(redisstore.Config{Address: r.Socket, Timeout: 5 * time.Second})
				}
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = st.Close() })
				client := benchEvents(b, st, b.N)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				got := 0
				switch how {
				case "fetch":
					ack := ""
					for got < b.N {
						resp, err := client.FetchEvents(ctx, &agentbridgev1.FetchEventsRequest{Source: "stock", Subscriber: "bench", Limit: 500, Ack: ack, Wait: durationpb.New(0)})
						if err != nil {
							b.Fatal(err)
						}
						got += len(resp.GetEvents())
						ack = resp.GetNextCursor()
					}
				case "subscribe":
					ctx, cancel := context.WithCancel(ctx)
					defer cancel()
					stream, err := client.Subscribe(ctx, &agentbridgev1.SubscribeRequest{Source: "stock", Subscriber: "bench"})
					if err != nil {
						b.Fatal(err)
					}
					for got < b.N {
						if _, err := stream.Recv(); err != nil {
							b.Fatal(err)
						}
						got++
					}
				}
				b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// benchEvents serves the events config on st with n events stored, and returns a gRPC client.
func benchEvents(b *testing.B, st store.Store, n int) agentbridgev1.EventServiceClient {
	b.Helper()
	srv, err := eventsConfig(b, "").Build(server.WithLogger(slog.New(slog.DiscardHandler)), server.WithStore(st))
	if err != nil {
		b.Fatal(err)
	}
	var md protoreflect.MessageDescriptor
	for _, svc := range srv.Services() {
		for _, fd := range svc.Files {
			if d := fd.Messages().ByName("StockChanged"); d != nil {
				md = d
			}
		}
	}
	msg := dynamicpb.NewMessage(md)
	msg.Set(md.Fields().ByName("sku"), protoreflect.ValueOfString("A-100"))
	msg.Set(md.Fields().ByName("quantity"), protoreflect.ValueOfInt32(7))
	data, _ := anypb.New(msg)
	const batch = 500
	for i := 0; i < n; i += batch {
		recs := make([]store.Record, 0, batch)
		for j := i; j < min(n, i+batch); j++ {
			id := fmt.Sprintf("ev-%08d", j)
			raw, _ := proto.Marshal(&agentbridgev1.Event{Source: "stock", Id: id, Type: "stock.changed", ReceivedAt: timestamppb.Now(), Data: data})
			recs = append(recs, store.Record{Key: id, Data: raw})
		}
		if _, err := st.Append(context.Background(), server.EventTopic("stock"), recs...); err != nil {
			b.Fatal(err)
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, lis, nil) }()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cc.Close()
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	return agentbridgev1.NewEventServiceClient(cc)
}
