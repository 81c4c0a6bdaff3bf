package toolschema_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// What the server emits (the JSON surfaces write defaults but no nulls).
var emit = protojson.MarshalOptions{EmitDefaultValues: true}

// Random messages of every field kind, marshalled as the server does, match the output schema.
func TestOutputAcceptsWhatProtojsonWrites(t *testing.T) {
	t.Parallel()
	roots := []proto.Message{
		&testingv1.SchemaProbe{},
		&demov1.GetItemResponse{},
		&demov1.ListItemsResponse{},
		&demov1.ReserveItemResponse{},
		&testingv1.Fidelity{},
		&testingv1.Present{},
	}
	for _, root := range roots {
		md := root.ProtoReflect().Descriptor()
		t.Run(string(md.Name()), func(t *testing.T) {
			t.Parallel()
			schema, err := toolschema.Output(md, options(t))
			if err != nil {
				t.Fatal(err)
			}
			rs := resolved(t, schema)
			for seed := range uint64(200) {
				r := rand.New(rand.NewPCG(seed, 0x70015c4e3a))
				msg := root.ProtoReflect().New()
				fill(r, msg, 0)
				b, err := emit.Marshal(msg.Interface())
				if err != nil {
					t.Fatalf("seed %d: marshal: %v", seed, err)
				}
				var instance any
				if err := json.Unmarshal(b, &instance); err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if err := rs.Validate(instance); err != nil {
					t.Fatalf("seed %d: output schema rejects what protojson wrote: %v\n%s", seed, err, b)
				}
			}
		})
	}
}

// fill sets the fields of m to random values, extremes included, down to a depth.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	md := m.Descriptor()
	chosen := map[protoreflect.FullName]protoreflect.FieldDescriptor{}
	for i := range md.Oneofs().Len() {
		od := md.Oneofs().Get(i)
		if !od.IsSynthetic() && r.IntN(4) > 0 {
			chosen[od.FullName()] = od.Fields().Get(r.IntN(od.Fields().Len()))
		}
	}
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && chosen[od.FullName()] != fd {
			continue
		}
		if r.IntN(5) == 0 {
			continue // leave unset
		}
		switch {
		case fd.IsList():
			list := m.Mutable(fd).List()
			for range r.IntN(4) {
				if v, ok := randomValue(r, fd, list.NewElement, depth); ok {
					list.Append(v)
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k, _ := randomValue(r, fd.MapKey(), nil, depth)
				if v, ok := randomValue(r, fd.MapValue(), mp.NewValue, depth); ok {
					mp.Set(k.MapKey(), v)
				}
			}
		default:
			if v, ok := randomValue(r, fd, func() protoreflect.Value { return m.NewField(fd) }, depth); ok {
				m.Set(fd, v)
			}
		}
	}
}

func randomValue(r *rand.Rand, fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, depth int) (protoreflect.Value, bool) {
	pick := func(n int) bool { return r.IntN(n) == 0 }
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(oneOf(r, math.MinInt32, math.MaxInt32, 0, -1, int32(r.Uint32()))), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(oneOf(r, 0, math.MaxUint32, r.Uint32())), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(oneOf(r, math.MinInt64, math.MaxInt64, 0, -1, int64(r.Uint64()))), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(oneOf(r, 0, math.MaxUint64, r.Uint64())), true
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(oneOf(r, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
			math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1)), 0,
			math.Float32frombits(r.Uint32()&^(0xff<<23)|1), r.Float32()*1e6)), true
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(oneOf(r, math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64,
			-math.MaxFloat64, math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0, r.NormFloat64()*1e300)), true
	case protoreflect.StringKind:
		if t, ok := xmlcodec.FieldXSDType(fd); ok {
			// What the XML codec lets through: a form of the type, or "" where that is the zero.
			if !fd.HasPresence() && !fd.IsList() && pick(4) {
				return protoreflect.ValueOfString(""), true
			}
			examples := lexicalExamples[t.Name]
			return protoreflect.ValueOfString(examples[r.IntN(len(examples))]), true
		}
		return protoreflect.ValueOfString(randomString(r)), true
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(10))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return protoreflect.ValueOfBytes(b), true
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if pick(4) {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(oneOf(r, math.MinInt32, math.MaxInt32, 99))), true
		}
		return protoreflect.ValueOfEnum(values.Get(r.IntN(values.Len())).Number()), true
	}
	// Messages.
	if depth > 4 {
		return protoreflect.Value{}, false
	}
	v := newMsg()
	if t, ok := xmlcodec.FieldXSDType(fd); ok { // a StringValue keeping a lexical form
		examples := lexicalExamples[t.Name]
		v.Message().Set(fd.Message().Fields().ByNumber(1), protoreflect.ValueOfString(examples[r.IntN(len(examples))]))
		return v, true
	}
	m := v.Message()
	if !wellKnown(r, m) {
		fill(r, m, depth+1)
	}
	return v, true
}

// lexicalExamples are forms of the XSD types a string field can keep, for filling such fields.
var lexicalExamples = map[string][]string{
	"dateTime": {"2024-05-01T12:30:00", "2024-05-01T12:30:00.5+05:30", "-0044-03-15T24:00:00Z"}, "dateTimeStamp": {"2024-05-01T12:30:00-00:00"},
	"date": {"2024-05-01", "2024-02-29+14:00"}, "time": {"12:30:00", "23:59:59.999Z"}, "gYear": {"2024", "12024-05:00"},
	"gYearMonth": {"2024-05"}, "gMonth": {"--05"}, "gMonthDay": {"--02-29"}, "gDay": {"---31Z"},
	"duration": {"P1Y2M3DT4H5M6.7S", "-PT0S"}, "dayTimeDuration": {"P1D"}, "yearMonthDuration": {"P18M"},
	"decimal": {"12.50", "-.5", "+007."}, "integer": {"-123456789012345678901234567890"}, "nonNegativeInteger": {"-0"},
	"positiveInteger": {"+01"}, "nonPositiveInteger": {"0"}, "negativeInteger": {"-1"},
}

// wellKnown fills a well-known type with a value protojson can write, and reports whether m is
// one.
func wellKnown(r *rand.Rand, m protoreflect.Message) bool {
	fields := m.Descriptor().Fields()
	set := func(name string, v protoreflect.Value) { m.Set(fields.ByName(protoreflect.Name(name)), v) }
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		const lo, hi = -62135596800, 253402300799
		set("seconds", protoreflect.ValueOfInt64(oneOf(r, lo, hi, 0, lo+r.Int64N(hi-lo))))
		set("nanos", protoreflect.ValueOfInt32(oneOf(r, 0, 999999999, 1000, 1000000, r.Int32N(1e9))))
	case "google.protobuf.Duration":
		const max = 315576000000
		secs := oneOf(r, -max, max, 0, r.Int64N(2*max)-max)
		nanos := oneOf(r, 0, 999999999, 1, r.Int32N(1e9))
		if secs < 0 || (secs == 0 && r.IntN(2) == 0) {
			nanos = -nanos
		}
		set("seconds", protoreflect.ValueOfInt64(secs))
		set("nanos", protoreflect.ValueOfInt32(nanos))
	case "google.protobuf.FieldMask":
		list := m.Mutable(fields.ByName("paths")).List()
		for range r.IntN(3) {
			list.Append(protoreflect.ValueOfString(oneOf(r, "a", "foo_bar", "foo.bar_baz.qux", "x.y")))
		}
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		v, err := structpb.NewValue(randomJSON(r, 0))
		if err != nil {
			panic(err)
		}
		var src proto.Message = v
		switch m.Descriptor().Name() {
		case "Struct":
			s, _ := structpb.NewStruct(map[string]any{"k": randomJSON(r, 0), "": nil})
			src = s
		case "ListValue":
			l, _ := structpb.NewList([]any{randomJSON(r, 0), randomJSON(r, 0)})
			src = l
		}
		proto.Merge(m.Interface(), src)
	case "google.protobuf.Any":
		var inner proto.Message
		switch r.IntN(3) {
		case 0:
			inner = durationpb.New(time.Duration(r.Int64()))
		case 1:
			n := &testingv1.SchemaNode{}
			fill(r, n.ProtoReflect(), 4)
			inner = n
		default:
			return true // an empty Any
		}
		a, err := anypb.New(inner)
		if err != nil {
			panic(err)
		}
		proto.Merge(m.Interface(), a)
	case "google.protobuf.Empty":
	default:
		if !strings.HasPrefix(string(m.Descriptor().FullName()), "google.protobuf.") || fields.Len() != 1 {
			return false
		}
		// A wrapper: its one field is named value.
		if v, ok := randomValue(r, fields.Get(0), nil, 0); ok {
			m.Set(fields.Get(0), v)
		}
	}
	return true
}

func randomJSON(r *rand.Rand, depth int) any {
	switch n := r.IntN(6); {
	case n == 0:
		return nil
	case n == 1:
		return r.IntN(2) == 0
	case n == 2:
		return oneOf(r, 0, -1.5, math.MaxFloat64, r.NormFloat64())
	case n == 3 || depth > 2:
		return randomString(r)
	case n == 4:
		return []any{randomJSON(r, depth+1), randomJSON(r, depth+1)}
	default:
		return map[string]any{randomString(r): randomJSON(r, depth+1)}
	}
}

func randomString(r *rand.Rand) string {
	runes := []rune{'a', 'Z', '0', ' ', '"', '\\', '\n', '\x00', 'é', '😀', '\u2028', '/'}
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteRune(runes[r.IntN(len(runes))])
	}
	return b.String()
}

func oneOf[T any](r *rand.Rand, choices ...T) T { return choices[r.IntN(len(choices))] }

// The seeds reach every field kind: a guard against a filler that silently skips some.
func TestOutputFillerCoversEveryKind(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 0x70015c4e3a))
		msg := (&testingv1.SchemaProbe{}).ProtoReflect()
		fill(r, msg, 0)
		var walk func(m protoreflect.Message)
		walk = func(m protoreflect.Message) {
			m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
				seen[string(fd.FullName())] = true
				switch {
				case fd.IsList() && fd.Message() != nil:
					for i := range v.List().Len() {
						walk(v.List().Get(i).Message())
					}
				case fd.IsMap() && fd.MapValue().Message() != nil:
					v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
						walk(mv.Message())
						return true
					})
				case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
					walk(v.Message())
				}
				return true
			})
		}
		walk(msg)
	}
	for _, md := range []protoreflect.MessageDescriptor{
		(&testingv1.SchemaScalars{}).ProtoReflect().Descriptor(),
		(&testingv1.SchemaWellKnown{}).ProtoReflect().Descriptor(),
		(&testingv1.SchemaContainers{}).ProtoReflect().Descriptor(),
	} {
		for i := range md.Fields().Len() {
			if name := string(md.Fields().Get(i).FullName()); !seen[name] {
				t.Errorf("no seed sets %s", name)
			}
		}
	}
}
