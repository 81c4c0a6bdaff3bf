package wireplan_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server/wireplan"
)

// listReply is the demo's ListItems reply with n items.
func listReply(tb testing.TB, n int) *demov1.ListItemsResponse {
	resp := &demov1.ListItemsResponse{}
	at := timestamppb.New(time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC))
	for i := range n {
		resp.Items = append(resp.Items, &demov1.Item{
			Sku: fmt.Sprintf("A-%03d", i), Name: "Cordless drill \"Pro\" 18V", Category: "tools", UnitPrice: "129.90",
			QuantityOnHand: int32(i), Status: demov1.ItemStatus_ITEM_STATUS_IN_STOCK, UpdatedAt: at,
			Tags: []string{"power", "drill"}, Warehouse: &demov1.Warehouse{Code: "BER-1", City: "Berlin"},
		})
	}
	return resp
}

// dynamicReply is the reply as a dynamic message (a contract loaded at run time).
func dynamicReply(tb testing.TB, n int) *dynamicpb.Message {
	resp := listReply(tb, n)
	data, err := proto.Marshal(resp)
	if err != nil {
		tb.Fatal(err)
	}
	dyn := dynamicpb.NewMessage(resp.ProtoReflect().Descriptor())
	if err := proto.Unmarshal(data, dyn); err != nil {
		tb.Fatal(err)
	}
	return dyn
}

// replies are the benchmarks' messages: the ListItems reply with 1 and 50 items, generated and
// dynamic.
func replies(b *testing.B) []struct {
	name string
	msg  proto.Message
} {
	var out []struct {
		name string
		msg  proto.Message
	}
	for _, n := range []int{1, 50} {
		out = append(out, struct {
			name string
			msg  proto.Message
		}{fmt.Sprintf("items=%d/dynamic", n), dynamicReply(b, n)}, struct {
			name string
			msg  proto.Message
		}{fmt.Sprintf("items=%d/generated", n), listReply(b, n)})
	}
	return out
}

// BenchmarkMarshal writes the replies with proto.MarshalOptions{AllowPartial: true} (the
// baseline: what the gRPC codec used) and with the plan.
func BenchmarkMarshal(b *testing.B) {
	opts := proto.MarshalOptions{AllowPartial: true}
	enc := wireplan.New()
	for _, c := range replies(b) {
		b.Run(c.name+"/impl=proto", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := opts.Marshal(c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/impl=plan", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := enc.Marshal(c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSize measures the replies with proto.Size (the baseline: the audit log's) and with
// the plan.
func BenchmarkSize(b *testing.B) {
	enc := wireplan.New()
	for _, c := range replies(b) {
		b.Run(c.name+"/impl=proto", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if proto.Size(c.msg) == 0 {
					b.Fatal("no size")
				}
			}
		})
		b.Run(c.name+"/impl=plan", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if enc.Size(c.msg) == 0 {
					b.Fatal("no size")
				}
			}
		})
	}
}
