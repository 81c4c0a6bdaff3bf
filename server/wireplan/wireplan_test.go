package wireplan_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server/wireplan"
)

// testFiles compiles testdata/wire3.proto (and the files it imports) and orders.proto into descriptors with no
// Go type, as contracts loaded at run time have.
func testFiles(t testing.TB) *protoregistry.Files {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{"testdata"}})}
	files, err := c.Compile(context.Background(), "wire3.proto", "wire2.proto", "wire_editions.proto", "orders.proto")
	if err != nil {
		t.Fatal(err)
	}
	// Rebuilt against the linked well-known types, as the contract loader does.
	fdps := &descriptorpb.FileDescriptorSet{}
	for _, f := range files {
		fdps.File = append(fdps.File, protodesc.ToFileDescriptorProto(f))
	}
	fdps.File = append(fdps.File, protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto))
	reg, err := protodesc.NewFiles(fdps)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func message(t testing.TB, reg *protoregistry.Files, name protoreflect.FullName) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := reg.FindDescriptorByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

var options = proto.MarshalOptions{AllowPartial: true, Deterministic: true}

// compare checks that the plan writes what protobuf writes, or fails where protobuf fails, and
// measures what proto.Size measures.
func compare(t *testing.T, enc *wireplan.Encoder, m proto.Message) {
	t.Helper()
	want, wantErr := options.Marshal(m)
	got, gotErr := enc.Marshal(m)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("proto err = %v, plan err = %v", wantErr, gotErr)
	}
	if wantErr != nil {
		if wantErr.Error() != gotErr.Error() {
			t.Fatalf("errors differ:\nproto %v\nplan  %v", wantErr, gotErr)
		}
	} else if !bytes.Equal(want, got) || (want == nil) != (got == nil) {
		t.Fatalf("outputs differ:\nproto %x\nplan  %x", want, got)
	}
	if want, got := proto.Size(m), enc.Size(m); want != got {
		t.Fatalf("proto.Size = %d, plan Size = %d", want, got)
	}
}

func TestMatchesProto(t *testing.T) {
	t.Parallel()
	reg := testFiles(t)
	enc := wireplan.New()
	for _, name := range []protoreflect.FullName{"wireplan.test.v1.All3", "wireplan.test.v1.All2", "wireplan.test.v1.Ed"} {
		md := message(t, reg, name)
		compare(t, enc, dynamicpb.NewMessage(md)) // nothing written
		r := rand.New(rand.NewPCG(1, uint64(len(name))))
		for range 2000 {
			m := dynamicpb.NewMessage(md)
			fill(r, reg, m, 3)
			compare(t, enc, m)
		}
	}
}

// The fields are written in protobuf's deterministic order: not by number, but the oneofs
// after the other fields, in declaration order.
func TestOrder(t *testing.T) {
	t.Parallel()
	md := message(t, testFiles(t), "wireplan.test.v1.All3")
	m := dynamicpb.NewMessage(md)
	set := func(name protoreflect.Name, v protoreflect.Value) { m.Set(md.Fields().ByName(name), v) }
	set("last", protoreflect.ValueOfInt32(1))
	set("other_db", protoreflect.ValueOfFloat64(0))              // oneof third, number 54
	set("other_raw", protoreflect.ValueOfBytes(nil))             // oneof second, number 56
	set("pick_i", protoreflect.ValueOfInt64(0))                  // oneof choice, number 42
	set("b", protoreflect.ValueOfBool(true))                     // number 1
	set("opt_b", protoreflect.ValueOfBool(false))                // optional: written at zero
	set("i32", protoreflect.ValueOfInt32(0))                     // not written
	set("db", protoreflect.ValueOfFloat64(math.Copysign(0, -1))) // -0 is written
	got, err := wireplan.New().Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	want = protowire.AppendTag(want, 1, protowire.VarintType)
	want = protowire.AppendVarint(want, 1)
	want = protowire.AppendTag(want, 14, protowire.Fixed64Type)
	want = protowire.AppendFixed64(want, math.Float64bits(math.Copysign(0, -1)))
	want = protowire.AppendTag(want, 21, protowire.VarintType)
	want = protowire.AppendVarint(want, 0)
	want = protowire.AppendTag(want, 1000000, protowire.VarintType)
	want = protowire.AppendVarint(want, 1)
	want = protowire.AppendTag(want, 42, protowire.VarintType)
	want = protowire.AppendVarint(want, 0)
	want = protowire.AppendTag(want, 56, protowire.BytesType)
	want = protowire.AppendBytes(want, nil)
	want = protowire.AppendTag(want, 54, protowire.Fixed64Type)
	want = protowire.AppendFixed64(want, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	compare(t, wireplan.New(), m)
}

// Edge values, one field at a time.
func TestEdges(t *testing.T) {
	t.Parallel()
	reg := testFiles(t)
	enc := wireplan.New()
	md := message(t, reg, "wireplan.test.v1.All3")
	f := md.Fields().ByName
	long := string(bytes.Repeat([]byte("x"), 200))
	for _, c := range []struct {
		name  string
		build func(m *dynamicpb.Message)
	}{
		{"nan", func(m *dynamicpb.Message) {
			m.Set(f("db"), protoreflect.ValueOfFloat64(math.NaN()))
			m.Set(f("fl"), protoreflect.ValueOfFloat32(float32(math.NaN())))
		}},
		{"negative zero", func(m *dynamicpb.Message) {
			m.Set(f("db"), protoreflect.ValueOfFloat64(math.Copysign(0, -1)))
			m.Set(f("fl"), protoreflect.ValueOfFloat32(float32(math.Copysign(0, -1))))
		}},
		{"extreme ints", func(m *dynamicpb.Message) {
			m.Set(f("i32"), protoreflect.ValueOfInt32(math.MinInt32))
			m.Set(f("si32"), protoreflect.ValueOfInt32(math.MinInt32))
			m.Set(f("sf32"), protoreflect.ValueOfInt32(math.MaxInt32))
			m.Set(f("u32"), protoreflect.ValueOfUint32(math.MaxUint32))
			m.Set(f("f32"), protoreflect.ValueOfUint32(math.MaxUint32))
			m.Set(f("i64"), protoreflect.ValueOfInt64(math.MinInt64))
			m.Set(f("si64"), protoreflect.ValueOfInt64(math.MinInt64))
			m.Set(f("sf64"), protoreflect.ValueOfInt64(math.MaxInt64))
			m.Set(f("u64"), protoreflect.ValueOfUint64(math.MaxUint64))
			m.Set(f("f64"), protoreflect.ValueOfUint64(math.MaxUint64))
			m.Set(f("color"), protoreflect.ValueOfEnum(-1))
		}},
		{"zero values not written", func(m *dynamicpb.Message) {
			m.Set(f("s"), protoreflect.ValueOfString(""))
			m.Set(f("raw"), protoreflect.ValueOfBytes([]byte{}))
			m.Set(f("i64"), protoreflect.ValueOfInt64(0))
			m.Set(f("color"), protoreflect.ValueOfEnum(0))
			m.Set(f("b"), protoreflect.ValueOfBool(false))
		}},
		{"optional zero values written", func(m *dynamicpb.Message) {
			m.Set(f("opt_s"), protoreflect.ValueOfString(""))
			m.Set(f("opt_raw"), protoreflect.ValueOfBytes(nil))
			m.Set(f("opt_i64"), protoreflect.ValueOfInt64(0))
			m.Set(f("opt_color"), protoreflect.ValueOfEnum(0))
			m.Set(f("opt_db"), protoreflect.ValueOfFloat64(0))
		}},
		{"empty messages set", func(m *dynamicpb.Message) {
			m.Mutable(f("child"))
			m.Mutable(f("p2"))
			m.Mutable(f("pick_m"))
			m.Mutable(f("children")).List().AppendMutable()
		}},
		{"repeated empty", func(m *dynamicpb.Message) {
			m.Mutable(f("i64s"))
			m.Mutable(f("ss"))
			m.Mutable(f("children"))
			m.Mutable(f("labels"))
		}},
		{"empty map keys and values", func(m *dynamicpb.Message) {
			m.Mutable(f("labels")).Map().Set(protoreflect.ValueOfString("").MapKey(), protoreflect.ValueOfString(""))
			m.Mutable(f("by_bool")).Map().Set(protoreflect.ValueOfBool(false).MapKey(), protoreflect.ValueOfInt32(0))
			by := m.Mutable(f("by_i64")).Map()
			by.Set(protoreflect.ValueOfInt64(0).MapKey(), by.NewValue())
		}},
		{"long lengths", func(m *dynamicpb.Message) {
			m.Set(f("s"), protoreflect.ValueOfString(long))
			child := m.Mutable(f("child")).Message()
			child.Set(f("s"), protoreflect.ValueOfString(long))
			grand := child.Mutable(f("child")).Message()
			grand.Set(f("raw"), protoreflect.ValueOfBytes(bytes.Repeat([]byte{1}, 20000)))
			m.Mutable(f("labels")).Map().Set(protoreflect.ValueOfString(long).MapKey(), protoreflect.ValueOfString(long))
			l := m.Mutable(f("i64s")).List()
			for range 100 {
				l.Append(protoreflect.ValueOfInt64(-1))
			}
		}},
		{"unknown fields", func(m *dynamicpb.Message) {
			m.Set(f("b"), protoreflect.ValueOfBool(true))
			m.SetUnknown(unknown(rand.New(rand.NewPCG(5, 6))))
			m.Mutable(f("child")).Message().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 7777, protowire.VarintType), 3))
		}},
		{"invalid UTF-8 in proto3", func(m *dynamicpb.Message) {
			m.Mutable(f("child")).Message().Set(f("s"), protoreflect.ValueOfString("bad\xff"))
		}},
		{"invalid UTF-8 in a map key", func(m *dynamicpb.Message) {
			m.Mutable(f("labels")).Map().Set(protoreflect.ValueOfString("\xc3").MapKey(), protoreflect.ValueOfString("v"))
		}},
		{"invalid UTF-8 in proto2 and editions NONE", func(m *dynamicpb.Message) {
			p2 := m.Mutable(f("p2")).Message()
			p2.Set(p2.Descriptor().Fields().ByName("s"), protoreflect.ValueOfString("bad\xff"))
			ed := m.Mutable(f("ed")).Message()
			ed.Set(ed.Descriptor().Fields().ByName("loose"), protoreflect.ValueOfString("bad\xff"))
		}},
		{"invalid UTF-8 in editions", func(m *dynamicpb.Message) {
			ed := m.Mutable(f("ed")).Message()
			ed.Set(ed.Descriptor().Fields().ByName("s"), protoreflect.ValueOfString("bad\xff"))
		}},
		{"generated message inside", func(m *dynamicpb.Message) {
			m.Set(f("at"), protoreflect.ValueOfMessage(timestamppb.New(timestamppb.Now().AsTime()).ProtoReflect()))
			m.Set(f("pick_at"), protoreflect.ValueOfMessage((&timestamppb.Timestamp{Seconds: -1, Nanos: 5}).ProtoReflect()))
		}},
		{"extensions", func(m *dynamicpb.Message) {
			ext := m.Mutable(f("ext")).Message()
			setExtensions(rand.New(rand.NewPCG(7, 8)), reg, ext)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := dynamicpb.NewMessage(md)
			c.build(m)
			compare(t, enc, m)
		})
	}
}

// Generated messages are protobuf's to write: the same bytes as the options the plans write.
func TestGenerated(t *testing.T) {
	t.Parallel()
	enc := wireplan.New()
	reply := listReply(t, 3)
	compare(t, enc, reply)
	compare(t, enc, protodesc.ToFileDescriptorProto(demov1.File_agentbridge_demo_v1_inventory_proto))
	compare(t, enc, &demov1.ListItemsResponse{})
	var nilReply *demov1.ListItemsResponse
	compare(t, enc, nilReply)
	compare(t, enc, dynamicpb.NewMessageType(reply.ProtoReflect().Descriptor()).Zero().Interface()) // invalid: nil
	if got, err := enc.Marshal(nil); got != nil || err != nil || enc.Size(nil) != 0 {
		t.Fatalf("Marshal(nil) = %v, %v", got, err)
	}
}

// Concurrent use compiles each plan once and writes the same bytes.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	reg := testFiles(t)
	md := message(t, reg, "wireplan.test.v1.All3")
	enc := wireplan.New()
	msgs := make([]*dynamicpb.Message, 8)
	r := rand.New(rand.NewPCG(9, 10))
	for i := range msgs {
		msgs[i] = dynamicpb.NewMessage(md)
		fill(r, reg, msgs[i], 3)
	}
	for i, m := range msgs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			for range 20 {
				compare(t, enc, m)
			}
		})
	}
}

// fill sets a random selection of m's fields to random values, edge cases included.
func fill(r *rand.Rand, reg *protoregistry.Files, m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.IntN(3) == 0 {
			continue
		}
		if fd.Message() != nil && depth == 0 {
			continue
		}
		switch {
		case fd.IsList():
			list := m.Mutable(fd).List()
			for range r.IntN(5) {
				if fd.Message() != nil {
					e := list.NewElement()
					fill(r, reg, e.Message(), depth-1)
					list.Append(e)
				} else {
					list.Append(scalar(r, fd))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(5) {
				k := scalar(r, fd.MapKey()).MapKey()
				if fd.MapValue().Message() != nil {
					v := mp.NewValue()
					fill(r, reg, v.Message(), depth-1)
					mp.Set(k, v)
				} else {
					mp.Set(k, scalar(r, fd.MapValue()))
				}
			}
		case fd.Message() != nil:
			sub := m.Mutable(fd).Message()
			switch sub.Descriptor().FullName() {
			case "google.protobuf.Timestamp":
				if r.IntN(2) == 0 {
					m.Set(fd, protoreflect.ValueOfMessage(timestamppb.New(timestamppb.Now().AsTime()).ProtoReflect()))
					continue
				}
			case "wireplan.test.v1.Extendable":
				setExtensions(r, reg, sub)
			}
			fill(r, reg, sub, depth-1)
		default:
			m.Set(fd, scalar(r, fd))
		}
	}
	if r.IntN(8) == 0 {
		m.SetUnknown(unknown(r))
	}
}

// setExtensions sets Extendable's extensions, as dynamic extension types.
func setExtensions(r *rand.Rand, reg *protoregistry.Files, m protoreflect.Message) {
	for _, name := range []protoreflect.FullName{"wireplan.test.v1.note", "wireplan.test.v1.nums"} {
		d, err := reg.FindDescriptorByName(name)
		if err != nil {
			panic(err)
		}
		xt := dynamicpb.NewExtensionType(d.(protoreflect.ExtensionDescriptor))
		if xt.TypeDescriptor().IsList() {
			l := m.Mutable(xt.TypeDescriptor()).List()
			l.Append(protoreflect.ValueOfInt32(r.Int32()))
			continue
		}
		m.Set(xt.TypeDescriptor(), protoreflect.ValueOfString(texts[r.IntN(len(texts))]))
	}
}

// unknown returns a few well-formed fields with numbers no test message declares.
func unknown(r *rand.Rand) []byte {
	var b []byte
	for range 1 + r.IntN(3) {
		num := protowire.Number(900 + r.IntN(50))
		switch r.IntN(4) {
		case 0:
			b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), r.Uint64())
		case 1:
			b = protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), r.Uint32())
		case 2:
			b = protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), r.Uint64())
		default:
			b = protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), "unknown")
		}
	}
	return b
}

var (
	floats = []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-7, 1e20, 1.7976931348623157e308, 5e-324, math.NaN(), math.Inf(1), math.Inf(-1)}
	texts  = []string{"", "plain", "ünïcödé ✓ 𝄞", "ctl\x00\x01", string(bytes.Repeat([]byte("long "), 40)), "bad\xffutf8", "\xc3"}
	ints   = []int64{0, 1, -1, 127, 128, -128, 300, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 1 << 53}
)

func scalar(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.StringKind:
		s := texts[r.IntN(len(texts))]
		if r.IntN(8) != 0 && !utf8.ValidString(s) {
			s = "valid"
		}
		return protoreflect.ValueOfString(s)
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(6))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(ints[r.IntN(9)]))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(ints[r.IntN(len(ints))])
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(ints[r.IntN(9)]))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(ints[r.IntN(len(ints))]))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(floats[r.IntN(len(floats))]))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(floats[r.IntN(len(floats))])
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(r.IntN(4) - 1)) // -1 and 3 are unknown
	}
	panic(fd.Kind())
}

// FuzzMatchesProto decodes the input as an All3 in the wire format and checks that the plan
// writes what protobuf writes. Seeds: messages as TestMatchesProto makes them.
func FuzzMatchesProto(f *testing.F) {
	reg := testFiles(f)
	md := message(f, reg, "wireplan.test.v1.All3")
	r := rand.New(rand.NewPCG(3, 4))
	for range 40 {
		m := dynamicpb.NewMessage(md)
		fill(r, reg, m, 1) // small: the fuzzer minimizes each new input, slowly when large
		if b, err := options.Marshal(m); err == nil {
			f.Add(b)
		}
	}
	enc := wireplan.New()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ok := decode(reg, md, data)
		if !ok {
			return
		}
		compare(t, enc, m)
	})
}

// decode reads data as a message of md in the wire format, Extendable's extensions as
// extension fields. protobuf-go v1.36.12's dynamicpb
// decoding panics on some map entries without a key ("cannot convert nil to map key", see
// jsonplan's fuzz corpus): such input is skipped, as it makes no message to write.
func decode(reg *protoregistry.Files, md protoreflect.MessageDescriptor, data []byte) (m *dynamicpb.Message, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	m = dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{AllowPartial: true, RecursionLimit: 20, Resolver: dynamicpb.NewTypes(reg)}).Unmarshal(data, m); err != nil {
		return nil, false
	}
	return m, true
}

// The benchmarks' replies are written as protobuf writes them.
func TestBenchReplies(t *testing.T) {
	t.Parallel()
	enc := wireplan.New()
	for _, n := range []int{1, 50} {
		compare(t, enc, ordersReply(t, n))
		compare(t, enc, dynamicReply(t, n))
		compare(t, enc, listReply(t, n))
	}
	orders := ordersReply(t, 1)
	order := orders.Get(orders.Descriptor().Fields().ByName("orders")).List().Get(0).Message()
	if n := proto.Size(order.Interface()); n < 128 {
		t.Fatalf("an order takes %d bytes, want a length of two bytes", n)
	}
}
