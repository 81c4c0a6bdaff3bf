package wireplan_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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

// ordersReply is testdata/orders.proto's Orders with n orders of 3 lines each, as a dynamic
// message: each order takes 150 to 160 bytes, so its length takes two bytes.
func ordersReply(tb testing.TB, n int) *dynamicpb.Message {
	md := message(tb, testFiles(tb), "wireplan.test.v1.Orders")
	m := dynamicpb.NewMessage(md)
	orders := m.Mutable(md.Fields().ByName("orders")).List()
	for i := range n {
		o := orders.NewElement().Message()
		f := o.Descriptor().Fields().ByName
		o.Set(f("id"), protoreflect.ValueOfString(fmt.Sprintf("ORD-2026-%06d", i)))
		o.Set(f("customer"), protoreflect.ValueOfString("Müller Werkzeuge GmbH"))
		o.Set(f("status"), protoreflect.ValueOfEnum(protoreflect.EnumNumber(1+i%2)))
		o.Set(f("created_unix"), protoreflect.ValueOfInt64(1795000000+int64(i)))
		o.Set(f("total"), protoreflect.ValueOfFloat64(389.7+float64(i)))
		o.Set(f("currency"), protoreflect.ValueOfString("EUR"))
		o.Set(f("note"), protoreflect.ValueOfString("deliver to the loading dock, gate 4"))
		lines := o.Mutable(f("lines")).List()
		for j := range 3 {
			l := lines.NewElement().Message()
			lf := l.Descriptor().Fields().ByName
			l.Set(lf("sku"), protoreflect.ValueOfString(fmt.Sprintf("SKU-%05d", i*3+j)))
			l.Set(lf("quantity"), protoreflect.ValueOfInt32(int32(j+1)))
			l.Set(lf("price"), protoreflect.ValueOfFloat64(129.9))
			lines.Append(protoreflect.ValueOfMessage(l))
		}
		orders.Append(protoreflect.ValueOfMessage(o))
	}
	return m
}

// replies are the benchmarks' messages: the demo's ListItems reply with 1 and 50 items,
// generated and dynamic, and an Orders reply with 1 and 50 orders, dynamic.
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
		}{fmt.Sprintf("orders=%d/dynamic", n), ordersReply(b, n)})
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
