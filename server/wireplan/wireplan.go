// Package wireplan writes proto messages in the binary wire format from a plan compiled once
// per message descriptor: the bytes proto.MarshalOptions{AllowPartial: true, Deterministic:
// true} writes, without protobuf-go's generic path for messages that have no generated code.
//
// Contracts loaded at run time make dynamicpb messages, and protobuf-go has no fast path for
// them: each message is marshalled by ranging over its fields (a map in dynamicpb), collecting
// and sorting them, looking up each field's wire type in a map and passing every value
// through a closure. The plan knows each field's tag bytes, kind, packing and UTF-8 rule ahead
// of time and visits the fields in the order protobuf's deterministic slow path writes them
// (its order.LegacyFieldOrder: the fields outside a oneof by number, then each oneof in
// declaration order), so its output is protobuf's byte for byte; the unknown fields of a
// message follow its fields, as protobuf appends them.
//
// A nested message is appended after a one-byte length that is rewritten once the message is
// written, and moved up when its length needs a longer varint (as protobuf does), so no
// message is measured before it is written. On dynamicpb most of the cost is reading the
// fields (a map lookup each): sizing every message first, keeping the sizes and then writing
// measured 1.8 times as slow, as it reads every field twice. The fields are read with Has and
// Get in the plan's order; one Range per message (the fields then placed in order) measured
// 1.5 times as slow, as dynamicpb's Range looks each field up by number. Size measures a
// message in one walk.
//
// What the plan does not cover it hands to protobuf, for that message alone: messages with
// generated code (protobuf's own fast path; a plan reading them through reflection measured
// twice as slow), extendable messages (whose extensions the plan does not know) and
// MessageSets. Every error case (a string with invalid UTF-8 where the field's syntax forbids
// it) is protobuf's too: the whole message is then marshalled by protobuf, so errors are its
// own.
package wireplan

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/runtime/protoiface"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Encoder writes messages in the wire format. It keeps the plans it compiled, so one Encoder
// should live as long as the descriptors it sees (agentbridge makes one per served
// generation). It is safe for concurrent use.
type Encoder struct {
	mu    sync.RWMutex
	plans map[protoreflect.MessageDescriptor]*plan
}

// New returns an encoder.
func New() *Encoder { return &Encoder{} }

// options are the marshal options the plans write the output of.
var options = proto.MarshalOptions{AllowPartial: true, Deterministic: true}

// errFallback says the message (or a value in it) is protobuf's to write.
var errFallback = errors.New("wireplan: fall back to proto")

// Marshal returns what proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal
// returns for m, written into a buffer the size of the last message of m's type.
func (e *Encoder) Marshal(m proto.Message) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	rm := m.ProtoReflect()
	if generated(rm) {
		return options.Marshal(m)
	}
	p := e.planFor(rm.Descriptor())
	out, err := e.appendMessage(make([]byte, 0, p.size.Load()), p, rm)
	if err != nil {
		// protobuf writes it, or says why it cannot, in its own words.
		return options.Marshal(m)
	}
	if len(out) == 0 && !rm.IsValid() {
		return nil, nil // as protobuf: nil for an invalid message, empty for an empty one
	}
	p.size.Store(int64(len(out)))
	return out, nil
}

// Size returns proto.Size(m): the length of m in the wire format.
func (e *Encoder) Size(m proto.Message) int {
	if m == nil {
		return 0
	}
	rm := m.ProtoReflect()
	if generated(rm) {
		return proto.Size(m)
	}
	return e.sizeMessage(e.planFor(rm.Descriptor()), rm)
}

// generated reports whether m has protobuf's own marshalling code (a generated message), which
// protobuf writes faster than a plan could through reflection.
func generated(m protoreflect.Message) bool {
	if _, ok := m.(*dynamicpb.Message); ok {
		return false
	}
	mm, ok := m.(interface{ ProtoMethods() *protoiface.Methods })
	if !ok {
		return false
	}
	methods := mm.ProtoMethods()
	return methods != nil && methods.Marshal != nil
}

// plan is how one message type is written.
type plan struct {
	md   protoreflect.MessageDescriptor
	size atomic.Int64 // the length of the last message Marshal wrote of this type
	// opaque is true for extendable messages and MessageSets: protobuf's to write.
	opaque bool
	fields []fieldPlan // in protobuf's deterministic order
}

// presence is how a field's value is found to be set.
type presence uint8

const (
	implicit presence = iota // a scalar without presence: set when not the zero value
	explicit                 // a message, an optional scalar or a oneof member: m.Has
	list                     // a repeated field: set when not empty
	packed                   // a packed repeated scalar: set when not empty
	mapped                   // a map: set when not empty
)

// fieldPlan is how one field is written.
type fieldPlan struct {
	fd       protoreflect.FieldDescriptor
	presence presence
	value    valuePlan
	// For maps: the entry's tag (the value plan holds the value's), the key's plan.
	entryTag []byte
	key      *valuePlan
}

// valuePlan writes one singular value of a field: the field's value, a list element or a map
// entry's key or value.
type valuePlan struct {
	kind   protoreflect.Kind
	tag    []byte // the field's tag with the value's wire type (packed lists: BytesType)
	endTag []byte // groups: the end-group tag
	utf8   bool   // strings: invalid UTF-8 is an error
	msg    *plan  // messages and groups
}

// planFor returns the plan of md, compiling it (and the plans of the messages it holds) once.
func (e *Encoder) planFor(md protoreflect.MessageDescriptor) *plan {
	e.mu.RLock()
	p := e.plans[md]
	e.mu.RUnlock()
	if p != nil {
		return p
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plans == nil {
		e.plans = map[protoreflect.MessageDescriptor]*plan{}
	}
	return e.compile(md)
}

// compile makes md's plan under e.mu. The plan is recorded before its fields are filled in,
// so a message that holds itself (directly or not) refers to the one plan.
func (e *Encoder) compile(md protoreflect.MessageDescriptor) *plan {
	if p := e.plans[md]; p != nil {
		return p
	}
	p := &plan{md: md}
	e.plans[md] = p
	if md.ExtensionRanges().Len() > 0 || isMessageSet(md) {
		p.opaque = true
		return p
	}
	fields := md.Fields()
	order := make([]protoreflect.FieldDescriptor, fields.Len())
	for i := range order {
		order[i] = fields.Get(i)
	}
	slices.SortFunc(order, legacyOrder)
	p.fields = make([]fieldPlan, len(order))
	for i, fd := range order {
		fp := fieldPlan{fd: fd}
		switch {
		case fd.IsMap():
			fp.presence = mapped
			fp.entryTag = protowire.AppendTag(nil, fd.Number(), protowire.BytesType)
			key := e.valuePlan(fd.MapKey(), wireType(fd.MapKey().Kind()))
			fp.key = &key
			fp.value = e.valuePlan(fd.MapValue(), wireType(fd.MapValue().Kind()))
		case fd.IsList() && fd.IsPacked():
			fp.presence = packed
			fp.value = e.valuePlan(fd, protowire.BytesType)
		case fd.IsList():
			fp.presence = list
			fp.value = e.valuePlan(fd, wireType(fd.Kind()))
		case fd.HasPresence() || fd.ContainingOneof() != nil:
			fp.presence = explicit
			fp.value = e.valuePlan(fd, wireType(fd.Kind()))
		default:
			fp.presence = implicit
			fp.value = e.valuePlan(fd, wireType(fd.Kind()))
		}
		p.fields[i] = fp
	}
	return p
}

func (e *Encoder) valuePlan(fd protoreflect.FieldDescriptor, wt protowire.Type) valuePlan {
	vp := valuePlan{kind: fd.Kind(), tag: protowire.AppendTag(nil, fd.Number(), wt)}
	switch fd.Kind() {
	case protoreflect.StringKind:
		vp.utf8 = enforceUTF8(fd)
	case protoreflect.GroupKind:
		vp.endTag = protowire.AppendTag(nil, fd.Number(), protowire.EndGroupType)
		vp.msg = e.compile(fd.Message())
	case protoreflect.MessageKind:
		vp.msg = e.compile(fd.Message())
	}
	return vp
}

// legacyOrder is protobuf's order.LegacyFieldOrder (for fields of one message, so without
// extensions): the fields outside a (real) oneof by number, then the oneofs in declaration
// order, each oneof's fields by number.
func legacyOrder(x, y protoreflect.FieldDescriptor) int {
	ox, oy := realOneof(x), realOneof(y)
	switch {
	case (ox == nil) != (oy == nil):
		if ox == nil {
			return -1
		}
		return 1
	case ox != nil && ox != oy:
		return cmp.Compare(ox.Index(), oy.Index())
	}
	return cmp.Compare(x.Number(), y.Number())
}

func realOneof(fd protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return od
	}
	return nil
}

// enforceUTF8 is protobuf's rule (internal/strs.EnforceUTF8): proto3 strings must be valid
// UTF-8, editions strings unless utf8_validation is NONE, proto2 strings need not be.
func enforceUTF8(fd protoreflect.FieldDescriptor) bool {
	if fd.Syntax() == protoreflect.Editions {
		if fd, ok := fd.(interface{ EnforceUTF8() bool }); ok {
			return fd.EnforceUTF8()
		}
	}
	return fd.Syntax() == protoreflect.Proto3
}

func isMessageSet(md protoreflect.MessageDescriptor) bool {
	ms, ok := md.(interface{ IsMessageSet() bool })
	return ok && ms.IsMessageSet()
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.VarintType
}

// isZero reports whether v is the zero value of a scalar field without presence, which is not
// written (dynamicpb's rule: -0.0 is written).
func isZero(k protoreflect.Kind, v protoreflect.Value) bool {
	switch k {
	case protoreflect.BoolKind:
		return !v.Bool()
	case protoreflect.EnumKind:
		return v.Enum() == 0
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		return v.Int() == 0
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		return v.Uint() == 0
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float() == 0 && !math.Signbit(v.Float())
	case protoreflect.StringKind:
		return v.String() == ""
	case protoreflect.BytesKind:
		return len(v.Bytes()) == 0
	}
	return false
}

// appendMessage appends the fields of m (no tag, no length) and its unknown fields.
func (e *Encoder) appendMessage(b []byte, p *plan, m protoreflect.Message) ([]byte, error) {
	if generated(m) {
		return options.MarshalAppend(b, m.Interface())
	}
	if md := m.Descriptor(); md != p.md {
		p = e.planFor(md)
	}
	if p.opaque {
		return options.MarshalAppend(b, m.Interface())
	}
	var err error
	for i := range p.fields {
		fp := &p.fields[i]
		switch fp.presence {
		case implicit:
			v := m.Get(fp.fd)
			if isZero(fp.value.kind, v) {
				continue
			}
			b = append(b, fp.value.tag...)
			b, err = e.appendValue(b, &fp.value, v)
		case explicit:
			if !m.Has(fp.fd) {
				continue
			}
			b = append(b, fp.value.tag...)
			b, err = e.appendValue(b, &fp.value, m.Get(fp.fd))
		case list:
			l := m.Get(fp.fd).List()
			for j, n := 0, l.Len(); j < n && err == nil; j++ {
				b = append(b, fp.value.tag...)
				b, err = e.appendValue(b, &fp.value, l.Get(j))
			}
		case packed:
			l := m.Get(fp.fd).List()
			if l.Len() == 0 {
				continue
			}
			b = append(b, fp.value.tag...)
			b = appendPacked(b, fp.value.kind, l)
		case mapped:
			b, err = e.appendMap(b, fp, m.Get(fp.fd).Map())
		}
		if err != nil {
			return nil, err
		}
	}
	return append(b, m.GetUnknown()...), nil
}

// appendValue appends one value after its tag.
func (e *Encoder) appendValue(b []byte, vp *valuePlan, v protoreflect.Value) ([]byte, error) {
	switch vp.kind {
	case protoreflect.StringKind:
		s := v.String()
		if vp.utf8 && !utf8.ValidString(s) {
			return nil, errFallback
		}
		return protowire.AppendString(b, s), nil
	case protoreflect.BytesKind:
		return protowire.AppendBytes(b, v.Bytes()), nil
	case protoreflect.MessageKind:
		pos := len(b)
		b = append(b, 0)
		b, err := e.appendMessage(b, vp.msg, v.Message())
		if err != nil {
			return nil, err
		}
		return finishLength(b, pos), nil
	case protoreflect.GroupKind:
		b, err := e.appendMessage(b, vp.msg, v.Message())
		if err != nil {
			return nil, err
		}
		return append(b, vp.endTag...), nil
	}
	return appendScalar(b, vp.kind, v), nil
}

// finishLength writes the length of what follows the byte at pos into it, moving what follows
// up when the length takes more than one byte.
func finishLength(b []byte, pos int) []byte {
	n := len(b) - pos - 1
	if n < 0x80 {
		b[pos] = byte(n)
		return b
	}
	w := protowire.SizeVarint(uint64(n))
	for range w - 1 {
		b = append(b, 0)
	}
	copy(b[pos+w:], b[pos+1:pos+1+n])
	protowire.AppendVarint(b[:pos], uint64(n))
	return b
}

// appendScalar appends a value of a numeric, bool or enum kind.
func appendScalar(b []byte, k protoreflect.Kind, v protoreflect.Value) []byte {
	switch k {
	case protoreflect.BoolKind:
		if v.Bool() {
			return append(b, 1)
		}
		return append(b, 0)
	case protoreflect.EnumKind:
		return protowire.AppendVarint(b, uint64(v.Enum()))
	case protoreflect.Int32Kind:
		return protowire.AppendVarint(b, uint64(int32(v.Int())))
	case protoreflect.Sint32Kind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(int64(int32(v.Int()))))
	case protoreflect.Uint32Kind:
		return protowire.AppendVarint(b, uint64(uint32(v.Uint())))
	case protoreflect.Int64Kind:
		return protowire.AppendVarint(b, uint64(v.Int()))
	case protoreflect.Sint64Kind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(v.Int()))
	case protoreflect.Uint64Kind:
		return protowire.AppendVarint(b, v.Uint())
	case protoreflect.Sfixed32Kind:
		return protowire.AppendFixed32(b, uint32(v.Int()))
	case protoreflect.Fixed32Kind:
		return protowire.AppendFixed32(b, uint32(v.Uint()))
	case protoreflect.FloatKind:
		return protowire.AppendFixed32(b, math.Float32bits(float32(v.Float())))
	case protoreflect.Sfixed64Kind:
		return protowire.AppendFixed64(b, uint64(v.Int()))
	case protoreflect.Fixed64Kind:
		return protowire.AppendFixed64(b, v.Uint())
	case protoreflect.DoubleKind:
		return protowire.AppendFixed64(b, math.Float64bits(v.Float()))
	}
	panic("wireplan: no scalar kind " + k.String())
}

// appendPacked appends a packed list's length and elements (its tag is written).
func appendPacked(b []byte, k protoreflect.Kind, l protoreflect.List) []byte {
	n := l.Len()
	switch wireType(k) {
	case protowire.Fixed32Type:
		b = protowire.AppendVarint(b, uint64(4*n))
	case protowire.Fixed64Type:
		b = protowire.AppendVarint(b, uint64(8*n))
	default:
		size := 0
		for i := range n {
			size += sizeScalar(k, l.Get(i))
		}
		b = protowire.AppendVarint(b, uint64(size))
	}
	for i := range n {
		b = appendScalar(b, k, l.Get(i))
	}
	return b
}

// mapEntry is one entry of a map, for sorting by key as protobuf's Deterministic option does.
type mapEntry struct {
	k protoreflect.MapKey
	v protoreflect.Value
}

// sortedEntries returns mp's entries in protobuf's deterministic order (order.GenericKeyOrder):
// false before true, numbers ascending, strings bytewise.
func sortedEntries(kind protoreflect.Kind, mp protoreflect.Map) []mapEntry {
	entries := make([]mapEntry, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		entries = append(entries, mapEntry{k, v})
		return true
	})
	switch kind {
	case protoreflect.BoolKind:
		slices.SortFunc(entries, func(x, y mapEntry) int {
			return cmp.Compare(protowire.EncodeBool(x.k.Bool()), protowire.EncodeBool(y.k.Bool()))
		})
	case protoreflect.StringKind:
		slices.SortFunc(entries, func(x, y mapEntry) int { return cmp.Compare(x.k.String(), y.k.String()) })
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		slices.SortFunc(entries, func(x, y mapEntry) int { return cmp.Compare(x.k.Uint(), y.k.Uint()) })
	default:
		slices.SortFunc(entries, func(x, y mapEntry) int { return cmp.Compare(x.k.Int(), y.k.Int()) })
	}
	return entries
}

// appendMap appends a map's entries: each the field's tag, a length, the key and the value
// (both written even at their zero value).
func (e *Encoder) appendMap(b []byte, fp *fieldPlan, mp protoreflect.Map) ([]byte, error) {
	if mp.Len() == 0 {
		return b, nil
	}
	var err error
	for _, en := range sortedEntries(fp.key.kind, mp) {
		b = append(b, fp.entryTag...)
		pos := len(b)
		b = append(b, 0)
		b = append(b, fp.key.tag...)
		if b, err = e.appendValue(b, fp.key, en.k.Value()); err != nil {
			return nil, err
		}
		b = append(b, fp.value.tag...)
		if b, err = e.appendValue(b, &fp.value, en.v); err != nil {
			return nil, err
		}
		b = finishLength(b, pos)
	}
	return b, nil
}

// sizeMessage returns the length of m's fields and unknown fields (no tag, no length).
func (e *Encoder) sizeMessage(p *plan, m protoreflect.Message) int {
	if generated(m) {
		return proto.Size(m.Interface())
	}
	if md := m.Descriptor(); md != p.md {
		p = e.planFor(md)
	}
	if p.opaque {
		return proto.Size(m.Interface())
	}
	size := 0
	for i := range p.fields {
		fp := &p.fields[i]
		switch fp.presence {
		case implicit:
			v := m.Get(fp.fd)
			if isZero(fp.value.kind, v) {
				continue
			}
			size += len(fp.value.tag) + e.sizeValue(&fp.value, v)
		case explicit:
			if !m.Has(fp.fd) {
				continue
			}
			size += len(fp.value.tag) + e.sizeValue(&fp.value, m.Get(fp.fd))
		case list:
			l := m.Get(fp.fd).List()
			n := l.Len()
			size += n * len(fp.value.tag)
			for j := range n {
				size += e.sizeValue(&fp.value, l.Get(j))
			}
		case packed:
			l := m.Get(fp.fd).List()
			if l.Len() == 0 {
				continue
			}
			n := sizePacked(fp.value.kind, l)
			size += len(fp.value.tag) + protowire.SizeBytes(n)
		case mapped:
			size += e.sizeMap(fp, m.Get(fp.fd).Map())
		}
	}
	return size + len(m.GetUnknown())
}

// sizeMap returns the length of a map's entries. (Its own function: the closure's size would
// otherwise live on the heap for every message sizeMessage measures.)
func (e *Encoder) sizeMap(fp *fieldPlan, mp protoreflect.Map) int {
	size := 0
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		n := len(fp.key.tag) + e.sizeValue(fp.key, k.Value()) + len(fp.value.tag) + e.sizeValue(&fp.value, v)
		size += len(fp.entryTag) + protowire.SizeBytes(n)
		return true
	})
	return size
}

// sizeValue returns the length of one value after its tag.
func (e *Encoder) sizeValue(vp *valuePlan, v protoreflect.Value) int {
	switch vp.kind {
	case protoreflect.StringKind:
		return protowire.SizeBytes(len(v.String()))
	case protoreflect.BytesKind:
		return protowire.SizeBytes(len(v.Bytes()))
	case protoreflect.MessageKind:
		return protowire.SizeBytes(e.sizeMessage(vp.msg, v.Message()))
	case protoreflect.GroupKind:
		return e.sizeMessage(vp.msg, v.Message()) + len(vp.endTag)
	}
	return sizeScalar(vp.kind, v)
}

// sizePacked returns the length of a packed list's elements.
func sizePacked(k protoreflect.Kind, l protoreflect.List) int {
	n := l.Len()
	switch wireType(k) {
	case protowire.Fixed32Type:
		return 4 * n
	case protowire.Fixed64Type:
		return 8 * n
	}
	size := 0
	for i := range n {
		size += sizeScalar(k, l.Get(i))
	}
	return size
}

// sizeScalar returns the length of a value of a numeric, bool or enum kind.
func sizeScalar(k protoreflect.Kind, v protoreflect.Value) int {
	switch k {
	case protoreflect.BoolKind:
		return 1
	case protoreflect.EnumKind:
		return protowire.SizeVarint(uint64(v.Enum()))
	case protoreflect.Int32Kind:
		return protowire.SizeVarint(uint64(int32(v.Int())))
	case protoreflect.Sint32Kind:
		return protowire.SizeVarint(protowire.EncodeZigZag(int64(int32(v.Int()))))
	case protoreflect.Uint32Kind:
		return protowire.SizeVarint(uint64(uint32(v.Uint())))
	case protoreflect.Int64Kind:
		return protowire.SizeVarint(uint64(v.Int()))
	case protoreflect.Sint64Kind:
		return protowire.SizeVarint(protowire.EncodeZigZag(v.Int()))
	case protoreflect.Uint64Kind:
		return protowire.SizeVarint(v.Uint())
	case protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind, protoreflect.FloatKind:
		return 4
	case protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind, protoreflect.DoubleKind:
		return 8
	}
	panic("wireplan: no scalar kind " + k.String())
}
