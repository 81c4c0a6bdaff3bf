package jsonplan_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server/jsonplan"
)

// listReply is the demo's ListItems reply with n items, as a generated message and as a
// dynamic one (a contract loaded at run time).
func listReply(b *testing.B, n int) (generated, dynamic proto.Message) {
	resp := &demov1.ListItemsResponse{}
	at := timestamppb.New(time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC))
	for i := range n {
		resp.Items = append(resp.Items, &demov1.Item{
			Sku: fmt.Sprintf("A-%03d", i), Name: "Cordless drill \"Pro\" 18V", Category: "tools", UnitPrice: "129.90",
			QuantityOnHand: int32(i), Status: demov1.ItemStatus_ITEM_STATUS_IN_STOCK, UpdatedAt: at,
			Tags: []string{"power", "drill"}, Warehouse: &demov1.Warehouse{Code: "BER-1", City: "Berlin"},
		})
	}
	data, err := proto.Marshal(resp)
	if err != nil {
		b.Fatal(err)
	}
	dyn := dynamicpb.NewMessage(resp.ProtoReflect().Descriptor())
	if err := proto.Unmarshal(data, dyn); err != nil {
		b.Fatal(err)
	}
	return resp, dyn
}

// BenchmarkMarshal writes the demo's ListItems reply (1 and 50 items) with protojson (the
// baseline, the options every surface used) and with the plan, generated and dynamic.
func BenchmarkMarshal(b *testing.B) {
	for _, n := range []int{1, 50} {
		gen, dyn := listReply(b, n)
		opts := protojson.MarshalOptions{EmitDefaultValues: true}
		enc := jsonplan.New(protojson.MarshalOptions{})
		for _, c := range []struct {
			name string
			msg  proto.Message
		}{{"generated", gen}, {"dynamic", dyn}} {
			b.Run(fmt.Sprintf("items=%d/%s/protojson", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := opts.Marshal(c.msg); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("items=%d/%s/plan", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := enc.Marshal(c.msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkUnmarshal reads requests with protojson (the baseline: the options every surface
// used) and with the decoder's plans, into generated and dynamic messages: a small request
// (ListItemsRequest) and the ListItems reply of 1 and 50 items without their timestamps, as a
// large request.
func BenchmarkUnmarshal(b *testing.B) {
	small := &demov1.ListItemsRequest{Category: "tools", MaxResults: 25}
	docs := []struct {
		name string
		msg  proto.Message
	}{{"small", small}}
	for _, n := range []int{1, 50} {
		gen, _ := listReply(b, n)
		for _, it := range gen.(*demov1.ListItemsResponse).GetItems() {
			it.UpdatedAt = nil
		}
		docs = append(docs, struct {
			name string
			msg  proto.Message
		}{fmt.Sprintf("items=%d", n), gen})
	}
	opts := protojson.UnmarshalOptions{}
	for _, d := range docs {
		data, err := protojson.Marshal(d.msg)
		if err != nil {
			b.Fatal(err)
		}
		md := d.msg.ProtoReflect().Descriptor()
		dec := jsonplan.NewDecoder(opts)
		for _, kind := range []string{"generated", "dynamic"} {
			newMsg := func() proto.Message { return d.msg.ProtoReflect().New().Interface() }
			if kind == "dynamic" {
				newMsg = func() proto.Message { return dynamicpb.NewMessage(md) }
			}
			if !dec.Fast(data, newMsg()) {
				b.Fatalf("%s: the plan does not read %s", d.name, data)
			}
			b.Run(fmt.Sprintf("msg=%s/%s/protojson", d.name, kind), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := opts.Unmarshal(data, newMsg()); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("msg=%s/%s/plan", d.name, kind), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := dec.Unmarshal(data, newMsg()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
