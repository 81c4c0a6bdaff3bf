package jsonplan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/agentbridge/agentbridge/server/jsonplan"
)

// allDescriptor compiles testdata/plan.proto into a descriptor with no Go type, as contracts
// loaded at run time have.
func allDescriptor(t testing.TB) protoreflect.MessageDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{"testdata"}})}
	files, err := c.Compile(context.Background(), "plan.proto")
	if err != nil {
		t.Fatal(err)
	}
	// Rebuilt against the linked well-known types, as the contract loader does.
	fdp := protodesc.ToFileDescriptorProto(files[0])
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("All")
}

var fallback = protojson.MarshalOptions{EmitDefaultValues: true}

// compare checks that the plan writes what protojson writes: the same bytes once protojson's
// optional spaces are compacted away, or an error where protojson has one.
func compare(t *testing.T, enc *jsonplan.Encoder, m proto.Message) {
	t.Helper()
	want, wantErr := fallback.Marshal(m)
	got, gotErr := enc.Marshal(m)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("protojson err = %v, plan err = %v", wantErr, gotErr)
	}
	if wantErr != nil {
		if wantErr.Error() != gotErr.Error() {
			t.Fatalf("errors differ:\nprotojson %v\nplan      %v", wantErr, gotErr)
		}
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact.Bytes(), got) {
		t.Fatalf("outputs differ:\nprotojson %s\nplan      %s", compact.Bytes(), got)
	}
}

func TestMatchesProtojson(t *testing.T) {
	t.Parallel()
	md := allDescriptor(t)
	enc := jsonplan.New(protojson.MarshalOptions{})
	compare(t, enc, dynamicpb.NewMessage(md)) // every zero value written
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		m := dynamicpb.NewMessage(md)
		fill(r, m, 3)
		compare(t, enc, m)
	}
}

// Generated messages take the same plans as dynamic ones.
func TestWellKnownTopLevel(t *testing.T) {
	t.Parallel()
	enc := jsonplan.New(protojson.MarshalOptions{})
	v, _ := structpb.NewValue(map[string]any{"a": []any{1.5, "x", true, nil, map[string]any{}}, "<&>": "\u2028\x01"})
	any, _ := anypb.New(wrapperspb.String("x"))
	for _, m := range []proto.Message{
		timestamppb.New(timestamppb.Now().AsTime()), &timestamppb.Timestamp{Seconds: -62135596800}, &timestamppb.Timestamp{Seconds: 253402300800},
		&timestamppb.Timestamp{Nanos: 1_000_000}, &timestamppb.Timestamp{Nanos: 1000}, &timestamppb.Timestamp{Nanos: 1}, &timestamppb.Timestamp{Nanos: -1},
		durationpb.New(-1500), &durationpb.Duration{Seconds: 1, Nanos: -1}, &durationpb.Duration{Seconds: -315576000001}, &durationpb.Duration{Nanos: 999_999_999},
		wrapperspb.Int64(-1 << 62), wrapperspb.Float(float32(math.Inf(1))), wrapperspb.Bytes(nil), wrapperspb.String("a\"b\\c\td"),
		v, &structpb.Value{}, structpb.NewNumberValue(math.NaN()), structpb.NewNullValue(), any,
	} {
		compare(t, enc, m)
	}
}

// fill sets a random selection of m's fields to random values, edge cases included.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
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
			for range r.IntN(4) {
				if fd.Message() != nil {
					e := list.NewElement()
					fill(r, e.Message(), depth-1)
					list.Append(e)
				} else {
					list.Append(scalar(r, fd))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := scalar(r, fd.MapKey()).MapKey()
				if fd.MapValue().Message() != nil {
					v := mp.NewValue()
					fill(r, v.Message(), depth-1)
					mp.Set(k, v)
				} else {
					mp.Set(k, scalar(r, fd.MapValue()))
				}
			}
		case fd.Message() != nil:
			sub := m.Mutable(fd).Message()
			fillMessage(r, sub, depth-1)
		default:
			m.Set(fd, scalar(r, fd))
		}
	}
}

// fillMessage fills a message field: well-known types get values of their own shape.
func fillMessage(r *rand.Rand, m protoreflect.Message, depth int) {
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		f := m.Descriptor().Fields()
		secs := []int64{0, 1, -1, 1700000000, 253402300799, 253402300800, -62135596800, -62135596801, 315576000000}[r.IntN(9)]
		nanos := []int64{0, 1, 1000, 1_000_000, 999_999_999, -1, 120_000_000, 1_000_000_000}[r.IntN(8)]
		m.Set(f.ByNumber(1), protoreflect.ValueOfInt64(secs))
		m.Set(f.ByNumber(2), protoreflect.ValueOfInt32(int32(nanos)))
	case "google.protobuf.Any":
		a, _ := anypb.New(wrapperspb.Int32(r.Int32()))
		proto.Merge(m.Interface(), a)
	case "google.protobuf.FieldMask":
		f := m.Descriptor().Fields().ByNumber(1)
		l := m.Mutable(f).List()
		for _, p := range []string{"a_b", "c.d_e", "fooBar"}[:r.IntN(4)] {
			l.Append(protoreflect.ValueOfString(p))
		}
	case "google.protobuf.Value":
		v, _ := structpb.NewValue(randomJSON(r, depth))
		if r.IntN(20) == 0 {
			v = &structpb.Value{} // no kind: an error
		}
		if r.IntN(20) == 0 {
			v = structpb.NewNumberValue(math.Inf(-1))
		}
		proto.Merge(m.Interface(), v)
	case "google.protobuf.Struct":
		s, _ := structpb.NewStruct(map[string]any{"k": randomJSON(r, depth), "a\x00": 1.0})
		proto.Merge(m.Interface(), s)
	case "google.protobuf.ListValue":
		l, _ := structpb.NewList([]any{randomJSON(r, depth), nil})
		proto.Merge(m.Interface(), l)
	default:
		if depth >= 0 {
			fill(r, m, depth)
		}
	}
}

func randomJSON(r *rand.Rand, depth int) any {
	switch n := r.IntN(7); {
	case n == 0 && depth > 0:
		return map[string]any{"x": randomJSON(r, depth-1), "y": "z"}
	case n == 1 && depth > 0:
		return []any{randomJSON(r, depth-1), 2.0}
	case n == 2:
		return nil
	case n == 3:
		return r.IntN(2) == 0
	case n == 4:
		return floats[r.IntN(len(floats))]
	}
	return texts[r.IntN(len(texts))]
}

var (
	floats = []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-7, 1e-6, 1e20, 1e21, 1.7976931348623157e308, 5e-324, 123456789.125, math.NaN(), math.Inf(1), math.Inf(-1)}
	texts  = []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\x7f", "tab\tnl\nret\rbs\bff\f", "<html>&amp;", "ünïcödé ✓ 𝄞", "\u2028\u2029", "bad\xffutf8", "\xc3"}
)

func scalar(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	ints := []int64{0, 1, -1, 127, -128, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 1 << 53, 1<<53 + 1}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.StringKind:
		s := texts[r.IntN(len(texts))]
		if r.IntN(4) != 0 && !utf8.ValidString(s) {
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
		return protoreflect.ValueOfInt32(int32(ints[r.IntN(7)]))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(ints[r.IntN(len(ints))])
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(ints[r.IntN(5)]) + uint32(r.IntN(2))*math.MaxUint32/2)
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

// FuzzMatchesProtojson decodes the input as a message in the binary format and checks that the
// plan writes what protojson writes. Seeds: the messages TestMatchesProtojson makes.
func FuzzMatchesProtojson(f *testing.F) {
	md := allDescriptor(f)
	r := rand.New(rand.NewPCG(3, 4))
	for range 40 {
		m := dynamicpb.NewMessage(md)
		fill(r, m, 2)
		if b, err := proto.Marshal(m); err == nil {
			f.Add(b)
		}
	}
	enc := jsonplan.New(protojson.MarshalOptions{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ok := decode(md, data)
		if !ok {
			return
		}
		compare(t, enc, m)
	})
}

// decode reads data as a message of md in the binary format. protobuf-go v1.36.12's
// dynamicpb decoding panics on some map entries without a key ("cannot convert nil to map
// key", testdata/fuzz/FuzzMatchesProtojson): such input is skipped, as it makes no message to
// write.
func decode(md protoreflect.MessageDescriptor, data []byte) (m *dynamicpb.Message, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	m = dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{RecursionLimit: 20}).Unmarshal(data, m); err != nil {
		return nil, false
	}
	return m, true
}
