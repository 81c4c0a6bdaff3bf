package xmlcodec

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Decoding into generated messages writes their Go struct fields directly.
//
// protobuf's reflective Set on a generated message converts every value through package
// reflect: a string costs two allocations (the value boxed, then converted to the field's
// type), a list's Mutable another, and Set was a quarter of decoding into generated types.
// Run-time messages (dynmsg) have no such cost. A generated message of the open struct API,
// which is what protoc-gen-go writes unless asked for the opaque API, is a plain Go struct
// whose fields its users assign; the decoder assigns them the same way, through each field's
// offset, read once per message type from the struct's protobuf tags. Anything else (oneof
// members, maps, a field whose Go type is not the one its kind implies, the opaque API, a
// message of another Go type than the plan's) goes through protoreflect as before.

// goOp is the Go type of a field's values.
type goOp uint8

const (
	goNone goOp = iota // not written directly: through protoreflect
	goString
	goBytes
	goBool
	goInt32 // also sint32 and sfixed32
	goEnum
	goInt64
	goUint32
	goUint64
	goFloat32
	goFloat64
	goMessage
)

// goShape is how a field holds its values.
type goShape uint8

const (
	goValue   goShape = iota // T (or *M for a message)
	goPointer                // *T, a scalar with explicit presence
	goList                   // []T (or []*M)
	goOneof                  // a member of a oneof: an interface holding a *W, W a struct of one field
)

// goField says how to write one field of a generated message.
type goField struct {
	op    goOp
	shape goShape
	off   uintptr
	// mt is the message type of a message field or list, whose New makes its values.
	mt protoreflect.MessageType
	// wkt are the fields of mt written for a well-known type: a wrapper's value, or a
	// Timestamp's or Duration's seconds and nanos. Empty when mt is not written directly.
	wkt []goField
	// For a oneof member: the oneof's interface type, the struct type W of the member's
	// wrapper, and how to write the value in W.
	oneof, wrapper reflect.Type
	inner          *goField
}

// goStruct is the layout of a generated message's Go struct.
type goStruct struct {
	mt  protoreflect.MessageType
	ptr reflect.Type // *T
	// fields are the struct fields by field number; oneofs the interface fields of the
	// oneofs, by the oneof's name.
	fields map[protoreflect.FieldNumber]reflect.StructField
	oneofs map[protoreflect.Name]reflect.StructField
}

// goStructOf returns the layout of md's generated Go struct, or nil when md has no generated
// type of the open struct API.
func goStructOf(md protoreflect.MessageDescriptor) *goStruct {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil || mt.Descriptor() != md {
		return nil // a run-time message, or another descriptor under the same name
	}
	return goStructOfType(mt)
}

// goStructOfType is goStructOf for a message type.
func goStructOfType(mt protoreflect.MessageType) *goStruct {
	t := reflect.TypeOf(mt.Zero().Interface())
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	gs := &goStruct{mt: mt, ptr: t, fields: map[protoreflect.FieldNumber]reflect.StructField{}, oneofs: map[protoreflect.Name]reflect.StructField{}}
	st := t.Elem()
	for i := range st.NumField() {
		sf := st.Field(i)
		if strings.HasPrefix(sf.Name, "xxx_hidden_") || strings.HasPrefix(sf.Name, "XXX_presence") || strings.HasPrefix(sf.Name, "XXX_lazy") {
			return nil // the opaque API: fields are set through methods that keep presence bits
		}
		if name, ok := sf.Tag.Lookup("protobuf_oneof"); ok && sf.Type.Kind() == reflect.Interface {
			gs.oneofs[protoreflect.Name(name)] = sf
			continue
		}
		if n, ok := tagNumber(sf.Tag); ok {
			gs.fields[n] = sf
		}
	}
	return gs
}

// tagNumber reads the field number from a struct field's protobuf tag
// (protobuf:"bytes,3,opt,name=sku,proto3").
func tagNumber(tag reflect.StructTag) (protoreflect.FieldNumber, bool) {
	v, ok := tag.Lookup("protobuf")
	if !ok {
		return 0, false
	}
	parts := strings.Split(v, ",")
	if len(parts) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(parts[1])
	return protoreflect.FieldNumber(n), err == nil
}

// field returns how to write fd: the zero goField (through protoreflect) unless its Go type
// is exactly what its kind implies.
func (gs *goStruct) field(fd protoreflect.FieldDescriptor) goField {
	if fd.IsMap() || fd.IsExtension() || goOpOf(fd.Kind()) == goNone {
		return goField{}
	}
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return gs.oneofMember(fd, od)
	}
	sf, ok := gs.fields[fd.Number()]
	if !ok {
		return goField{}
	}
	return goFieldAt(fd, sf)
}

// goFieldAt returns how to write fd held in struct field sf.
func goFieldAt(fd protoreflect.FieldDescriptor, sf reflect.StructField) goField {
	op := goOpOf(fd.Kind())
	f := goField{op: op, off: sf.Offset}
	t := sf.Type
	switch {
	case fd.IsList():
		if t.Kind() != reflect.Slice {
			return goField{}
		}
		f.shape, t = goList, t.Elem()
	case op != goMessage && op != goBytes && t.Kind() == reflect.Pointer:
		f.shape, t = goPointer, t.Elem()
	}
	if !goTypeFits(op, t) {
		return goField{}
	}
	if op == goMessage {
		m, ok := reflect.New(t.Elem()).Interface().(protoreflect.ProtoMessage)
		if !ok {
			return goField{}
		}
		f.mt = m.ProtoReflect().Type()
		if f.mt.Descriptor() != fd.Message() {
			return goField{}
		}
	}
	return f
}

// oneofMember returns how to write fd, a member of oneof od. The Go type of the member's
// wrapper is what the generated code stores when fd is set, found by setting it once.
func (gs *goStruct) oneofMember(fd protoreflect.FieldDescriptor, od protoreflect.OneofDescriptor) goField {
	sf, ok := gs.oneofs[od.Name()]
	if !ok {
		return goField{}
	}
	probe := gs.mt.New()
	probe.Set(fd, probe.NewField(fd))
	held := reflect.ValueOf(probe.Interface()).Elem().FieldByIndex(sf.Index)
	if held.IsNil() || held.Elem().Kind() != reflect.Pointer || held.Elem().Type().Elem().Kind() != reflect.Struct {
		return goField{}
	}
	wt := held.Elem().Type().Elem()
	if wt.NumField() != 1 {
		return goField{}
	}
	if n, ok := tagNumber(wt.Field(0).Tag); !ok || n != fd.Number() {
		return goField{}
	}
	inner := goFieldAt(fd, wt.Field(0))
	if inner.op == goNone || inner.shape != goValue {
		return goField{}
	}
	f := inner
	f.shape, f.off, f.oneof, f.wrapper, f.inner = goOneof, sf.Offset, sf.Type, wt, &inner
	return f
}

// goWKTFields returns how to write the fields numbered numbers of mt, a well-known type the
// decoder fills in itself (a wrapper's value, a Timestamp's or Duration's seconds and nanos),
// or nil when any of them is not written directly.
func goWKTFields(mt protoreflect.MessageType, numbers ...protoreflect.FieldNumber) []goField {
	gs := goStructOfType(mt)
	if gs == nil {
		return nil
	}
	wkt := make([]goField, len(numbers))
	for i, n := range numbers {
		fd := mt.Descriptor().Fields().ByNumber(n)
		if fd == nil {
			return nil
		}
		if wkt[i] = gs.field(fd); wkt[i].op == goNone || wkt[i].shape != goValue {
			return nil
		}
	}
	return wkt
}

func goOpOf(k protoreflect.Kind) goOp {
	switch k {
	case protoreflect.StringKind:
		return goString
	case protoreflect.BytesKind:
		return goBytes
	case protoreflect.BoolKind:
		return goBool
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return goInt32
	case protoreflect.EnumKind:
		return goEnum
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return goInt64
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return goUint32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return goUint64
	case protoreflect.FloatKind:
		return goFloat32
	case protoreflect.DoubleKind:
		return goFloat64
	case protoreflect.MessageKind:
		return goMessage
	}
	return goNone // groups
}

// goTypeFits reports whether t, a field's Go type or its list's element type, holds op's
// values with the layout the direct writes assume.
func goTypeFits(op goOp, t reflect.Type) bool {
	switch op {
	case goString:
		return t.Kind() == reflect.String
	case goBytes:
		return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
	case goBool:
		return t.Kind() == reflect.Bool
	case goInt32, goEnum:
		return t.Kind() == reflect.Int32
	case goInt64:
		return t.Kind() == reflect.Int64
	case goUint32:
		return t.Kind() == reflect.Uint32
	case goUint64:
		return t.Kind() == reflect.Uint64
	case goFloat32:
		return t.Kind() == reflect.Float32
	case goFloat64:
		return t.Kind() == reflect.Float64
	case goMessage:
		return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct
	}
	return false
}

// goBase returns the address of m's Go struct when m is of the plan's generated type, else
// nil (decode through protoreflect).
func (p *Plan) goBase(m protoreflect.Message) unsafe.Pointer {
	if p.goType == nil {
		return nil
	}
	x := m.Interface()
	if reflect.TypeOf(x) != p.goType {
		return nil
	}
	return reflect.ValueOf(x).UnsafePointer()
}

// messagePointer returns the address of the Go struct of m, a generated message.
func messagePointer(m protoreflect.Message) unsafe.Pointer {
	return reflect.ValueOf(m.Interface()).UnsafePointer()
}

// set writes v, a value of f's field, into the struct at base: the field's value, or one more
// item of its list.
func (f *goField) set(base unsafe.Pointer, v protoreflect.Value) {
	p := unsafe.Add(base, f.off)
	switch f.shape {
	case goValue:
		switch f.op {
		case goString:
			*(*string)(p) = v.String()
		case goBytes:
			*(*[]byte)(p) = v.Bytes()
		case goBool:
			*(*bool)(p) = v.Bool()
		case goInt32:
			*(*int32)(p) = int32(v.Int())
		case goEnum:
			*(*int32)(p) = int32(v.Enum())
		case goInt64:
			*(*int64)(p) = v.Int()
		case goUint32:
			*(*uint32)(p) = uint32(v.Uint())
		case goUint64:
			*(*uint64)(p) = v.Uint()
		case goFloat32:
			*(*float32)(p) = float32(v.Float())
		case goFloat64:
			*(*float64)(p) = v.Float()
		case goMessage:
			*(*unsafe.Pointer)(p) = messagePointer(v.Message())
		default:
			f.unreachable()
		}
	case goPointer:
		switch f.op {
		case goString:
			s := v.String()
			*(**string)(p) = &s
		case goBool:
			b := v.Bool()
			*(**bool)(p) = &b
		case goInt32:
			n := int32(v.Int())
			*(**int32)(p) = &n
		case goEnum:
			n := int32(v.Enum())
			*(**int32)(p) = &n
		case goInt64:
			n := v.Int()
			*(**int64)(p) = &n
		case goUint32:
			n := uint32(v.Uint())
			*(**uint32)(p) = &n
		case goUint64:
			n := v.Uint()
			*(**uint64)(p) = &n
		case goFloat32:
			x := float32(v.Float())
			*(**float32)(p) = &x
		case goFloat64:
			x := v.Float()
			*(**float64)(p) = &x
		default: // bytes and messages have no pointer shape (goFieldAt)
			f.unreachable()
		}
	case goOneof:
		w := reflect.New(f.wrapper) // the member's wrapper, which the oneof's interface holds
		f.inner.set(w.UnsafePointer(), v)
		reflect.NewAt(f.oneof, p).Elem().Set(w)
	case goList:
		switch f.op {
		case goString:
			l := (*[]string)(p)
			*l = append(*l, v.String())
		case goBytes:
			l := (*[][]byte)(p)
			*l = append(*l, v.Bytes())
		case goBool:
			l := (*[]bool)(p)
			*l = append(*l, v.Bool())
		case goInt32:
			l := (*[]int32)(p)
			*l = append(*l, int32(v.Int()))
		case goEnum:
			l := (*[]int32)(p) // []E, E an int32
			*l = append(*l, int32(v.Enum()))
		case goInt64:
			l := (*[]int64)(p)
			*l = append(*l, v.Int())
		case goUint32:
			l := (*[]uint32)(p)
			*l = append(*l, uint32(v.Uint()))
		case goUint64:
			l := (*[]uint64)(p)
			*l = append(*l, v.Uint())
		case goFloat32:
			l := (*[]float32)(p)
			*l = append(*l, float32(v.Float()))
		case goFloat64:
			l := (*[]float64)(p)
			*l = append(*l, v.Float())
		case goMessage:
			l := (*[]unsafe.Pointer)(p) // []*M: a slice of pointers either way
			*l = append(*l, messagePointer(v.Message()))
		default:
			f.unreachable()
		}
	default:
		f.unreachable()
	}
}

// unreachable stops a write goFieldAt never plans: skipping it would lose the value without a
// word.
func (f *goField) unreachable() {
	panic(fmt.Sprintf("xmlcodec: no direct write for Go type %d in shape %d", f.op, f.shape))
}
