// Package dynmsg is a message type made from a descriptor at run time, for the contracts
// agentbridge loads without generated Go code: the reply decoders build one value per field
// of every record they read, and every surface then reads them back. It implements
// protoreflect.Message as dynamicpb does, with the values in a slice by field index instead
// of a map by field number and without checking each value's Go type on Set: a field set
// or read is an index, not a hash and an interface conversion.
//
// The cost is a slot of 24 bytes per declared field in every message, set or not, where a map
// holds only the fields set: a type of 200 fields, most of them empty, takes about 4.8 KB a
// message. Replies are records of a few to a few dozen fields, nearly all set.
//
// Messages behave as dynamicpb's do (presence, oneofs, defaults, the read-only empty list,
// map and message that Get returns for an unset field), which the tests check operation by
// operation against dynamicpb. A message type with extension ranges is dynamicpb's own:
// extensions are kept by number, which a slice by index does not hold.
package dynmsg

import (
	"errors"
	"fmt"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoiface"
	"google.golang.org/protobuf/types/dynamicpb"
)

// NewMessageType returns the type of md's messages. Types reached through md's fields are
// made when first needed and kept with it.
func NewMessageType(md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if md.ExtensionRanges().Len() > 0 {
		return dynamicpb.NewMessageType(md)
	}
	fields := md.Fields()
	n := fields.Len()
	mt := &messageType{desc: md, fields: fields, subs: make([]atomic.Pointer[typeRef], n),
		fds: make([]protoreflect.FieldDescriptor, n), info: make([]fieldInfo, n)}
	for i := range n {
		fd := fields.Get(i)
		mt.fds[i] = fd
		inf := &mt.info[i]
		inf.kind = fd.Kind()
		inf.list, inf.isMap = fd.IsList(), fd.IsMap()
		inf.zeroUnset = !fd.HasPresence() && !inf.list && !inf.isMap && fd.Message() == nil
		if od := fd.ContainingOneof(); od != nil {
			members := od.Fields()
			for j := range members.Len() {
				if other := members.Get(j); other.Number() != fd.Number() {
					inf.oneof = append(inf.oneof, other.Index())
				}
			}
		}
	}
	return mt
}

// messageType is the type of one message descriptor's dynamic messages.
type messageType struct {
	desc   protoreflect.MessageDescriptor
	fields protoreflect.FieldDescriptors
	subs   []atomic.Pointer[typeRef] // the message type of each message, list or map-value field

	// fds and info are what Set, Get and Has ask of each field, by index, read once here: a
	// descriptor's methods are interface calls, several per field set.
	fds  []protoreflect.FieldDescriptor
	info []fieldInfo
}

// fieldInfo is what the type knows of one field.
type fieldInfo struct {
	kind        protoreflect.Kind
	list, isMap bool
	zeroUnset   bool  // a scalar without presence: its zero value is no value
	oneof       []int // the indexes of the other fields of its oneof
}

// typeRef holds a field's message type (ours or dynamicpb's).
type typeRef struct{ mt protoreflect.MessageType }

func (mt *messageType) New() protoreflect.Message {
	return mt.newMessage()
}

// The usual message comes with its slots in one allocation rather than two: a decoder makes
// one message per record, and per nested message of it.
type (
	message1 struct {
		m Message
		v [1]protoreflect.Value
	}
	message2 struct {
		m Message
		v [2]protoreflect.Value
	}
	message4 struct {
		m Message
		v [4]protoreflect.Value
	}
	message8 struct {
		m Message
		v [8]protoreflect.Value
	}
	message12 struct {
		m Message
		v [12]protoreflect.Value
	}
	message16 struct {
		m Message
		v [16]protoreflect.Value
	}
)

func (mt *messageType) newMessage() *Message {
	n := len(mt.subs)
	var m *Message
	var vals []protoreflect.Value
	switch {
	case n == 0:
		return &Message{typ: mt, vals: []protoreflect.Value{}}
	case n <= 1:
		x := new(message1)
		m, vals = &x.m, x.v[:]
	case n <= 2:
		x := new(message2)
		m, vals = &x.m, x.v[:]
	case n <= 4:
		x := new(message4)
		m, vals = &x.m, x.v[:]
	case n <= 8:
		x := new(message8)
		m, vals = &x.m, x.v[:]
	case n <= 12:
		x := new(message12)
		m, vals = &x.m, x.v[:]
	case n <= 16:
		x := new(message16)
		m, vals = &x.m, x.v[:]
	default:
		return &Message{typ: mt, vals: make([]protoreflect.Value, n)}
	}
	m.typ, m.vals = mt, vals[:n:n]
	return m
}

// Zero returns the read-only, invalid message of the type.
func (mt *messageType) Zero() protoreflect.Message                 { return &Message{typ: mt} }
func (mt *messageType) Descriptor() protoreflect.MessageDescriptor { return mt.desc }

// Enum and Message give the types of field i (protoreflect.MessageFieldTypes).
func (mt *messageType) Enum(i int) protoreflect.EnumType {
	if ed := mt.fds[i].Enum(); ed != nil {
		return dynamicpb.NewEnumType(ed)
	}
	return nil
}

func (mt *messageType) Message(i int) protoreflect.MessageType {
	if mt.fds[i].Message() == nil {
		return nil
	}
	return mt.sub(i)
}

// sub returns the message type of field i: its message, or its map's value message.
func (mt *messageType) sub(i int) protoreflect.MessageType {
	if r := mt.subs[i].Load(); r != nil {
		return r.mt
	}
	fd := mt.fds[i]
	md := fd.Message()
	if fd.IsMap() {
		md = fd.MapValue().Message()
	}
	var t protoreflect.MessageType
	if md == mt.desc {
		t = mt
	} else {
		t = NewMessageType(md)
	}
	r := &typeRef{mt: t}
	if !mt.subs[i].CompareAndSwap(nil, r) {
		r = mt.subs[i].Load()
	}
	return r.mt
}

// Message is a dynamic message. The zero Message is not usable; make one with a type's New.
type Message struct {
	typ     *messageType
	vals    []protoreflect.Value // by field index; an invalid Value is an unset field
	unknown protoreflect.RawFields
}

func (m *Message) ProtoReflect() protoreflect.Message { return m }
func (m *Message) String() string                     { return prototext.MarshalOptions{}.Format(m) }

func (m *Message) Descriptor() protoreflect.MessageDescriptor { return m.typ.desc }
func (m *Message) Type() protoreflect.MessageType             { return m.typ }
func (m *Message) New() protoreflect.Message                  { return m.typ.New() }
func (m *Message) Interface() protoreflect.ProtoMessage       { return m }
func (m *Message) ProtoMethods() *protoiface.Methods          { return nil }
func (m *Message) IsValid() bool                              { return m.vals != nil }

// index returns fd's index in m, checking that fd is a field of m's message: the same
// descriptor, or one of the same name (the field of that number).
func (m *Message) index(fd protoreflect.FieldDescriptor) int {
	if i := fd.Index(); i < len(m.typ.fds) && m.typ.fds[i] == fd {
		return i
	}
	if fd.ContainingMessage() == m.typ.desc {
		return fd.Index()
	}
	if fd.IsExtension() || fd.ContainingMessage().FullName() != m.typ.desc.FullName() {
		panic(fmt.Errorf("dynmsg: %v is not a field of %v", fd.FullName(), m.typ.desc.FullName()))
	}
	own := m.typ.fields.ByNumber(fd.Number())
	if own == nil {
		panic(fmt.Errorf("dynmsg: %v has no field numbered %d", m.typ.desc.FullName(), fd.Number()))
	}
	return own.Index()
}

func (m *Message) Range(f func(protoreflect.FieldDescriptor, protoreflect.Value) bool) {
	for i, v := range m.vals {
		if !v.IsValid() {
			continue
		}
		if m.typ.info[i].nonEmpty(v) && !f(m.typ.fds[i], v) {
			return
		}
	}
}

// nonEmpty reports whether a stored value of the field counts as set: a list or map only with
// entries.
func (inf *fieldInfo) nonEmpty(v protoreflect.Value) bool {
	switch {
	case inf.list:
		return v.List().Len() > 0
	case inf.isMap:
		return v.Map().Len() > 0
	}
	return true
}

func (m *Message) Has(fd protoreflect.FieldDescriptor) bool {
	i := m.index(fd)
	if m.vals == nil {
		return false
	}
	v := m.vals[i]
	return v.IsValid() && m.typ.info[i].nonEmpty(v)
}

func (m *Message) Clear(fd protoreflect.FieldDescriptor) {
	i := m.index(fd)
	if m.vals == nil {
		panic(errors.New("dynmsg: Clear on an invalid message"))
	}
	m.vals[i] = protoreflect.Value{}
}

func (m *Message) Get(fd protoreflect.FieldDescriptor) protoreflect.Value {
	i := m.index(fd)
	if m.vals != nil {
		// A list or map without entries reads as the read-only empty one, as an unset one.
		if v := m.vals[i]; v.IsValid() && m.typ.info[i].nonEmpty(v) {
			return v
		}
	}
	switch {
	case fd.IsList():
		return protoreflect.ValueOfList(&emptyList{fd: fd, typ: m.typ, i: i})
	case fd.IsMap():
		return protoreflect.ValueOfMap(&emptyMap{fd: fd, typ: m.typ, i: i})
	case fd.Message() != nil:
		return protoreflect.ValueOfMessage(m.typ.sub(i).Zero())
	case fd.Kind() == protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(append([]byte(nil), fd.Default().Bytes()...))
	}
	return fd.Default()
}

func (m *Message) Mutable(fd protoreflect.FieldDescriptor) protoreflect.Value {
	i := m.index(fd)
	if m.vals == nil {
		panic(errors.New("dynmsg: Mutable on an invalid message"))
	}
	if fd.Message() == nil && !fd.IsList() {
		panic(fmt.Errorf("dynmsg: Mutable of %v, a scalar field", fd.FullName()))
	}
	if v := m.vals[i]; v.IsValid() {
		return v
	}
	v := m.newField(fd, i)
	m.clearOthers(i)
	m.vals[i] = v
	return v
}

func (m *Message) Set(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	i := m.index(fd)
	if m.vals == nil {
		panic(errors.New("dynmsg: Set on an invalid message"))
	}
	if !v.IsValid() {
		panic(fmt.Errorf("dynmsg: Set of %v to an invalid value", fd.FullName()))
	}
	if m.typ.info[i].zeroUnset && isZero(m.typ.info[i].kind, v) {
		m.vals[i] = protoreflect.Value{} // a zero value without presence is no value
		return
	}
	m.clearOthers(i)
	m.vals[i] = v
}

// isZero reports whether v is the zero value of a scalar kind.
func isZero(kind protoreflect.Kind, v protoreflect.Value) bool {
	switch kind {
	case protoreflect.BoolKind:
		return !v.Bool()
	case protoreflect.EnumKind:
		return v.Enum() == 0
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int() == 0
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint() == 0
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		return f == 0 && !signbit(f)
	case protoreflect.StringKind:
		return v.String() == ""
	case protoreflect.BytesKind:
		return len(v.Bytes()) == 0
	}
	return false
}

func signbit(f float64) bool { return 1/f < 0 }

// clearOthers clears the other members of the oneof of field i.
func (m *Message) clearOthers(i int) {
	for _, j := range m.typ.info[i].oneof {
		m.vals[j] = protoreflect.Value{}
	}
}

func (m *Message) NewField(fd protoreflect.FieldDescriptor) protoreflect.Value {
	return m.newField(fd, m.index(fd))
}

func (m *Message) newField(fd protoreflect.FieldDescriptor, i int) protoreflect.Value {
	switch {
	case fd.IsList():
		return protoreflect.ValueOfList(&list{fd: fd, typ: m.typ, i: i})
	case fd.IsMap():
		return protoreflect.ValueOfMap(&mapv{fd: fd, typ: m.typ, i: i, m: map[any]protoreflect.Value{}})
	case fd.Message() != nil:
		return protoreflect.ValueOfMessage(m.typ.sub(i).New())
	}
	return fd.Default()
}

func (m *Message) WhichOneof(od protoreflect.OneofDescriptor) protoreflect.FieldDescriptor {
	fields := od.Fields()
	for j := range fields.Len() {
		if fd := fields.Get(j); m.Has(fd) {
			return fd
		}
	}
	return nil
}

func (m *Message) GetUnknown() protoreflect.RawFields { return m.unknown }

func (m *Message) SetUnknown(raw protoreflect.RawFields) {
	if m.vals == nil {
		panic(errors.New("dynmsg: SetUnknown on an invalid message"))
	}
	m.unknown = raw
}

// zeroElement is the zero value of a list element or map value of kind k (not a message).
func zeroElement(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(false)
	case protoreflect.EnumKind:
		if vals := fd.Enum().Values(); vals.Len() > 0 {
			return protoreflect.ValueOfEnum(vals.Get(0).Number())
		}
		return protoreflect.ValueOfEnum(0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(0)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(0)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(0)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(0)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(0)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(0)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("")
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(nil)
	}
	panic(fmt.Errorf("dynmsg: no zero value for %v", fd.FullName()))
}

// list is a repeated field's values.
type list struct {
	fd    protoreflect.FieldDescriptor
	typ   *messageType // the containing message's type, for the element type
	i     int          // the field's index in it
	elems []protoreflect.Value
}

func (l *list) Len() int                        { return len(l.elems) }
func (l *list) Get(n int) protoreflect.Value    { return l.elems[n] }
func (l *list) Set(n int, v protoreflect.Value) { l.elems[n] = v }
func (l *list) Append(v protoreflect.Value)     { l.elems = append(l.elems, v) }
func (l *list) Truncate(n int)                  { clear(l.elems[n:]); l.elems = l.elems[:n] }
func (l *list) IsValid() bool                   { return true }
func (l *list) NewElement() protoreflect.Value  { return newElement(l.fd, l.typ, l.i) }
func (l *list) AppendMutable() protoreflect.Value {
	if l.fd.Message() == nil {
		panic(fmt.Errorf("dynmsg: AppendMutable on %v, a list of scalars", l.fd.FullName()))
	}
	v := l.NewElement()
	l.Append(v)
	return v
}

func newElement(fd protoreflect.FieldDescriptor, typ *messageType, i int) protoreflect.Value {
	if fd.Message() != nil {
		return protoreflect.ValueOfMessage(typ.sub(i).New())
	}
	return zeroElement(fd)
}

// emptyList is what Get returns for a repeated field not set: empty and read-only.
type emptyList struct {
	fd  protoreflect.FieldDescriptor
	typ *messageType
	i   int
}

func (l *emptyList) Len() int                   { return 0 }
func (l *emptyList) Get(int) protoreflect.Value { panic(errors.New("dynmsg: index out of range")) }
func (l *emptyList) Set(int, protoreflect.Value) {
	panic(errors.New("dynmsg: modification of an empty list"))
}
func (l *emptyList) Append(protoreflect.Value) {
	panic(errors.New("dynmsg: modification of an empty list"))
}
func (l *emptyList) Truncate(int)                   { panic(errors.New("dynmsg: modification of an empty list")) }
func (l *emptyList) IsValid() bool                  { return false }
func (l *emptyList) NewElement() protoreflect.Value { return newElement(l.fd, l.typ, l.i) }
func (l *emptyList) AppendMutable() protoreflect.Value {
	panic(errors.New("dynmsg: modification of an empty list"))
}

// mapv is a map field's entries, by the key's Go value.
type mapv struct {
	fd  protoreflect.FieldDescriptor
	typ *messageType
	i   int
	m   map[any]protoreflect.Value
}

func (x *mapv) Len() int                                     { return len(x.m) }
func (x *mapv) Has(k protoreflect.MapKey) bool               { _, ok := x.m[k.Interface()]; return ok }
func (x *mapv) Get(k protoreflect.MapKey) protoreflect.Value { return x.m[k.Interface()] }
func (x *mapv) Set(k protoreflect.MapKey, v protoreflect.Value) {
	x.m[k.Interface()] = v
}
func (x *mapv) Clear(k protoreflect.MapKey) { delete(x.m, k.Interface()) }
func (x *mapv) IsValid() bool               { return true }
func (x *mapv) NewValue() protoreflect.Value {
	return newMapValue(x.fd, x.typ, x.i)
}

func (x *mapv) Mutable(k protoreflect.MapKey) protoreflect.Value {
	if x.fd.MapValue().Message() == nil {
		panic(fmt.Errorf("dynmsg: Mutable on %v, a map of scalars", x.fd.FullName()))
	}
	if v, ok := x.m[k.Interface()]; ok {
		return v
	}
	v := x.NewValue()
	x.m[k.Interface()] = v
	return v
}

func (x *mapv) Range(f func(protoreflect.MapKey, protoreflect.Value) bool) {
	for k, v := range x.m {
		if !f(protoreflect.ValueOf(k).MapKey(), v) {
			return
		}
	}
}

func newMapValue(fd protoreflect.FieldDescriptor, typ *messageType, i int) protoreflect.Value {
	if fd.MapValue().Message() != nil {
		return protoreflect.ValueOfMessage(typ.sub(i).New())
	}
	return zeroElement(fd.MapValue())
}

// emptyMap is what Get returns for a map field not set: empty and read-only.
type emptyMap struct {
	fd  protoreflect.FieldDescriptor
	typ *messageType
	i   int
}

func (x *emptyMap) Len() int                                   { return 0 }
func (x *emptyMap) Has(protoreflect.MapKey) bool               { return false }
func (x *emptyMap) Get(protoreflect.MapKey) protoreflect.Value { return protoreflect.Value{} }
func (x *emptyMap) Set(protoreflect.MapKey, protoreflect.Value) {
	panic(errors.New("dynmsg: modification of an empty map"))
}
func (x *emptyMap) Clear(protoreflect.MapKey) {
	panic(errors.New("dynmsg: modification of an empty map"))
}
func (x *emptyMap) Mutable(protoreflect.MapKey) protoreflect.Value {
	panic(errors.New("dynmsg: modification of an empty map"))
}
func (x *emptyMap) Range(func(protoreflect.MapKey, protoreflect.Value) bool) {}
func (x *emptyMap) IsValid() bool                                            { return false }
func (x *emptyMap) NewValue() protoreflect.Value                             { return newMapValue(x.fd, x.typ, x.i) }
