package dynmsg_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/dynmsg"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

// descriptors are message types with every kind of field: scalars of each kind, enums,
// optional (proto3 presence), oneofs, maps of scalars and messages, nested and recursive
// messages, well-known types, and proto2 (defaults, required, groups-free descriptor.proto,
// whose options messages have extension ranges and so stay dynamicpb's inside ours).
var descriptors = []protoreflect.MessageDescriptor{
	(&testingv1.Everything{}).ProtoReflect().Descriptor(),
	(&testingv1.Maps{}).ProtoReflect().Descriptor(),
	(&testingv1.Fidelity{}).ProtoReflect().Descriptor(),
	(&testingv1.Present{}).ProtoReflect().Descriptor(),
	(&testingv1.Book{}).ProtoReflect().Descriptor(),
	(&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor(),
	(&descriptorpb.FieldDescriptorProto{}).ProtoReflect().Descriptor(),
}

// fill sets a random subset of m's fields through the protoreflect API, drawing from r, so
// the same seed builds the same content in a dynamicpb message and in ours.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if r.IntN(3) == 0 {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				if fd.Message() != nil {
					if depth > 2 {
						break
					}
					if r.IntN(2) == 0 {
						fill(r, l.AppendMutable().Message(), depth+1)
					} else {
						e := l.NewElement()
						fill(r, e.Message(), depth+1)
						l.Append(e)
					}
					continue
				}
				l.Append(scalar(r, fd))
			}
			if l.Len() > 1 && r.IntN(4) == 0 {
				l.Set(0, l.Get(l.Len()-1))
				l.Truncate(l.Len() - 1)
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := scalar(r, fd.MapKey()).MapKey()
				if fd.MapValue().Message() != nil {
					if depth > 2 {
						break
					}
					fill(r, mp.Mutable(k).Message(), depth+1)
					continue
				}
				mp.Set(k, scalar(r, fd.MapValue()))
			}
		case fd.Message() != nil:
			if depth > 2 {
				continue
			}
			if r.IntN(2) == 0 {
				fill(r, m.Mutable(fd).Message(), depth+1)
			} else {
				v := m.NewField(fd)
				fill(r, v.Message(), depth+1)
				m.Set(fd, v)
			}
		default:
			m.Set(fd, scalar(r, fd))
		}
		if r.IntN(8) == 0 {
			m.Clear(fd)
		}
	}
}

// scalar is a random value of fd's kind, zero one time in four.
func scalar(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	zero := r.IntN(4) == 0
	n := r.Int64()
	if zero {
		n = 0
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(n%2 == 1)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if zero {
			return protoreflect.ValueOfEnum(vals.Get(0).Number())
		}
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(n)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32([]float32{0, float32(math.Copysign(0, -1)), 1.5, -3}[r.IntN(4)])
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64([]float64{0, math.Copysign(0, -1), math.NaN(), 2.25, math.Inf(1)}[r.IntN(5)])
	case protoreflect.StringKind:
		if zero {
			return protoreflect.ValueOfString("")
		}
		return protoreflect.ValueOfString(fmt.Sprintf("s%d", n%1000))
	case protoreflect.BytesKind:
		if zero {
			return protoreflect.ValueOfBytes(nil)
		}
		return protoreflect.ValueOfBytes([]byte{byte(n), byte(n >> 8)})
	}
	panic(fd.Kind())
}

var deterministic = proto.MarshalOptions{Deterministic: true, AllowPartial: true}

// same compares a dynamicpb message and ours field by field through the protoreflect API,
// then as binary, as protojson (with and without defaults) and with proto.Equal.
func same(t *testing.T, what string, want, got protoreflect.Message) {
	t.Helper()
	if want.IsValid() != got.IsValid() {
		t.Fatalf("%s: IsValid %v, want %v", what, got.IsValid(), want.IsValid())
	}
	if !want.IsValid() {
		return
	}
	md := want.Descriptor()
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if w, g := want.Has(fd), got.Has(fd); w != g {
			t.Fatalf("%s: Has(%s) %v, want %v", what, fd.Name(), g, w)
		}
		wv, gv := want.Get(fd), got.Get(fd)
		switch {
		case fd.IsList():
			if wv.List().Len() != gv.List().Len() || wv.List().IsValid() != gv.List().IsValid() {
				t.Fatalf("%s: %s list len %d valid %v, want %d %v", what, fd.Name(), gv.List().Len(), gv.List().IsValid(), wv.List().Len(), wv.List().IsValid())
			}
		case fd.IsMap():
			if wv.Map().Len() != gv.Map().Len() || wv.Map().IsValid() != gv.Map().IsValid() {
				t.Fatalf("%s: %s map len %d valid %v, want %d %v", what, fd.Name(), gv.Map().Len(), gv.Map().IsValid(), wv.Map().Len(), wv.Map().IsValid())
			}
		case fd.Message() != nil:
			same(t, what+"."+string(fd.Name()), wv.Message(), gv.Message())
		default:
			if w, g := fmt.Sprint(wv.Interface()), fmt.Sprint(gv.Interface()); w != g {
				t.Fatalf("%s: Get(%s) %s, want %s", what, fd.Name(), g, w)
			}
		}
	}
	oneofs := md.Oneofs()
	for i := range oneofs.Len() {
		od := oneofs.Get(i)
		w, g := want.WhichOneof(od), got.WhichOneof(od)
		if (w == nil) != (g == nil) || w != nil && w.Number() != g.Number() {
			t.Fatalf("%s: WhichOneof(%s) %v, want %v", what, od.Name(), g, w)
		}
	}
	var wn, gn int
	want.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool { wn++; return true })
	got.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool { gn++; return true })
	if wn != gn {
		t.Fatalf("%s: Range visits %d fields, want %d", what, gn, wn)
	}
	wb, werr := deterministic.Marshal(want.Interface())
	gb, gerr := deterministic.Marshal(got.Interface())
	if (werr == nil) != (gerr == nil) || string(wb) != string(gb) {
		t.Fatalf("%s: binary differs: %x (%v), want %x (%v)", what, gb, gerr, wb, werr)
	}
	for _, o := range []protojson.MarshalOptions{{}, {EmitDefaultValues: true}, {EmitUnpopulated: true}} {
		wj, werr := o.Marshal(want.Interface())
		gj, gerr := o.Marshal(got.Interface())
		if (werr == nil) != (gerr == nil) || string(wj) != string(gj) {
			t.Fatalf("%s: JSON %+v differs:\n%s (%v)\nwant\n%s (%v)", what, o, gj, gerr, wj, werr)
		}
	}
	if !proto.Equal(want.Interface(), got.Interface()) {
		t.Fatalf("%s: proto.Equal is false", what)
	}
}

// TestAsDynamicpb builds the same random content in a dynamicpb message and in ours through
// the protoreflect API, and reads each back; then sends each through binary and JSON into the
// other kind and back.
func TestAsDynamicpb(t *testing.T) {
	t.Parallel()
	for _, md := range descriptors {
		t.Run(string(md.Name()), func(t *testing.T) {
			t.Parallel()
			mt := dynmsg.NewMessageType(md)
			for seed := range uint64(300) {
				want := dynamicpb.NewMessage(md)
				got := mt.New()
				fill(rand.New(rand.NewPCG(seed, 1)), want, 0)
				fill(rand.New(rand.NewPCG(seed, 1)), got, 0)
				what := fmt.Sprintf("%s seed %d", md.Name(), seed)
				same(t, what, want, got)

				data, err := deterministic.Marshal(want)
				if err != nil {
					t.Fatal(err)
				}
				fromWire := mt.New()
				if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, fromWire.Interface()); err != nil {
					t.Fatalf("%s: unmarshal: %v", what, err)
				}
				same(t, what+" from binary", want, fromWire)

				js, err := (protojson.MarshalOptions{AllowPartial: true}).Marshal(want)
				if err != nil {
					continue // NaN and other values JSON cannot hold in some fields
				}
				fromJSON := mt.New()
				wantJSON := dynamicpb.NewMessage(md)
				if err := (protojson.UnmarshalOptions{AllowPartial: true}).Unmarshal(js, wantJSON); err != nil {
					continue
				}
				if err := (protojson.UnmarshalOptions{AllowPartial: true}).Unmarshal(js, fromJSON.Interface()); err != nil {
					t.Fatalf("%s: JSON unmarshal: %v", what, err)
				}
				same(t, what+" from JSON", wantJSON, fromJSON)

				cloned := proto.Clone(got.Interface())
				same(t, what+" cloned", want, cloned.ProtoReflect())
				merged := mt.New()
				proto.Merge(merged.Interface(), got.Interface())
				proto.Merge(merged.Interface(), got.Interface())
				wantMerged := dynamicpb.NewMessage(md)
				proto.Merge(wantMerged, want)
				proto.Merge(wantMerged, want)
				same(t, what+" merged twice", wantMerged, merged)
				proto.Reset(got.Interface())
				same(t, what+" reset", dynamicpb.NewMessage(md), got)
			}
		})
	}
}

// TestReadOnlyValues: Get of an unset list, map or message is empty and read-only, as
// dynamicpb's is; a zero value without presence is no value.
func TestReadOnlyValues(t *testing.T) {
	t.Parallel()
	md := (&testingv1.Everything{}).ProtoReflect().Descriptor()
	m := dynmsg.NewMessageType(md).New()
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		v := m.Get(fd)
		switch {
		case fd.IsList():
			if v.List().IsValid() || v.List().Len() != 0 {
				t.Errorf("%s: unset list valid or not empty", fd.Name())
			}
			mustPanic(t, fd.Name(), func() { v.List().Append(v.List().NewElement()) })
		case fd.IsMap():
			if v.Map().IsValid() || v.Map().Len() != 0 {
				t.Errorf("%s: unset map valid or not empty", fd.Name())
			}
		case fd.Message() != nil:
			if v.Message().IsValid() {
				t.Errorf("%s: unset message valid", fd.Name())
			}
			mustPanic(t, fd.Name(), func() { v.Message().Set(v.Message().Descriptor().Fields().Get(0), protoreflect.ValueOfString("x")) })
		default:
			if !fd.HasPresence() {
				m.Set(fd, v) // the zero value
				if m.Has(fd) {
					t.Errorf("%s: a zero value without presence counts as set", fd.Name())
				}
			}
		}
	}
	// A field of another descriptor with the same name is found by number; another
	// message's field is refused.
	other := (&testingv1.Maps{}).ProtoReflect().Descriptor().Fields().Get(0)
	mustPanic(t, other.Name(), func() { m.Get(other) })
}

func mustPanic(t *testing.T, name protoreflect.Name, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	f()
}

// FuzzAsDynamicpb decodes any input into dynamicpb and into ours, and compares them.
func FuzzAsDynamicpb(f *testing.F) {
	for _, md := range descriptors {
		m := dynamicpb.NewMessage(md)
		fill(rand.New(rand.NewPCG(7, 7)), m, 0)
		if data, err := deterministic.Marshal(m); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, md := range descriptors {
			want := dynamicpb.NewMessage(md)
			if !unmarshalsInto(data, want) {
				continue
			}
			got := dynmsg.NewMessageType(md).New()
			if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, got.Interface()); err != nil {
				t.Fatalf("%s: dynamicpb reads the input, ours does not: %v", md.Name(), err)
			}
			same(t, string(md.Name()), want, got)
		}
	})
}

// unmarshalsInto reports whether protobuf reads data into m. Its slow path (every dynamic
// message takes it) panics on some malformed map entries (testdata/fuzz holds one): an input
// protobuf itself cannot read is not a comparison.
func unmarshalsInto(data []byte, m proto.Message) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, m) == nil
}

// BenchmarkSet fills the same message through dynamicpb and through ours.
func BenchmarkSet(b *testing.B) {
	md := (&testingv1.Everything{}).ProtoReflect().Descriptor()
	mt := dynmsg.NewMessageType(md)
	for _, c := range []struct {
		name string
		new  func() protoreflect.Message
	}{{"impl=dynamicpb", func() protoreflect.Message { return dynamicpb.NewMessage(md) }}, {"impl=dynmsg", mt.New}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fill(rand.New(rand.NewPCG(3, 3)), c.new(), 0)
			}
		})
	}
}
