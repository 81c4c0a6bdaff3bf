// Package jsonplan writes proto messages as JSON from a plan compiled once per message
// descriptor: the same document protojson.MarshalOptions{EmitDefaultValues: true} writes (the
// form every JSON surface of agentbridge speaks), without protojson's per-call walk through
// its generic encoder, field ranger and sorting.
//
// The output is protojson's byte for byte, but for the optional space protojson adds after a
// comma or colon in some builds to keep its output from being relied on (detrand): the same
// JSON value, compact. What the plan does not cover it hands to protojson: google.protobuf.Any
// and FieldMask values, messages with extensions, and every error case (invalid UTF-8, a
// Value with no kind, a Timestamp out of range), so errors are protojson's own too.
package jsonplan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Encoder writes messages as JSON. It keeps the plans it compiled, so one Encoder should live
// as long as the descriptors it sees (agentbridge makes one per served generation). It is
// safe for concurrent use.
type Encoder struct {
	// Fallback writes what the plan does not cover; its options must be EmitDefaultValues
	// (with any resolver for Any), the form the plans write.
	Fallback protojson.MarshalOptions

	mu    sync.RWMutex
	plans map[protoreflect.MessageDescriptor]*plan
}

// New returns an encoder writing what fallback writes: fallback's EmitDefaultValues is set,
// and it must have no other option but a Resolver (for Any), as the plans write no other form.
func New(fallback protojson.MarshalOptions) *Encoder {
	fallback.EmitDefaultValues = true
	return &Encoder{Fallback: fallback}
}

// errFallback says the message (or a value in it) is protojson's to write.
var errFallback = errors.New("jsonplan: fall back to protojson")

// Marshal writes m as JSON, into a buffer the size of the last document of m's type, so a
// large reply does not grow its buffer step by step.
func (e *Encoder) Marshal(m proto.Message) ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	p := e.planFor(m.ProtoReflect().Descriptor())
	out, err := e.Append(make([]byte, 0, p.size.Load()+64), m)
	if err == nil {
		p.size.Store(int64(len(out)))
	}
	return out, err
}

// Append appends m's JSON to b.
func (e *Encoder) Append(b []byte, m proto.Message) ([]byte, error) {
	if m == nil {
		return append(b, "{}"...), nil
	}
	rm := m.ProtoReflect()
	out, err := e.appendMessage(b, e.planFor(rm.Descriptor()), rm)
	if err == nil {
		return out, nil
	}
	// protojson writes it, or says why it cannot, in its own words.
	return e.fallback(b, m)
}

// fallback appends protojson's JSON for m, compacted (see the package comment).
func (e *Encoder) fallback(b []byte, m proto.Message) ([]byte, error) {
	data, err := e.Fallback.Marshal(m)
	if err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(b[:len(b):len(b)])
	if err := json.Compact(buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// plan is how one message type is written.
type plan struct {
	size     atomic.Int64 // the length of the last document Marshal wrote of this type
	wkt      wellKnown
	fallback bool // extendable or a MessageSet: protojson's
	fields   []fieldPlan
}

type fieldPlan struct {
	fd   protoreflect.FieldDescriptor
	name string // `"jsonName":`
	// skipUnset is true for fields written only when set: fields with presence (messages,
	// optional scalars) and oneof members. The others are written even at their zero value.
	skipUnset bool
	value     valuePlan // the singular value, the list element or the map value
	mapKey    protoreflect.Kind
}

// valuePlan writes one singular value of a field.
type valuePlan struct {
	kind protoreflect.Kind
	enum protoreflect.EnumDescriptor
	null bool  // google.protobuf.NullValue: always null
	msg  *plan // for messages
}

type wellKnown uint8

const (
	wktNone wellKnown = iota
	wktTimestamp
	wktDuration
	wktWrapper
	wktEmpty
	wktStruct
	wktListValue
	wktValue
	wktProtojson // Any, FieldMask: written by protojson
)

func wellKnownOf(name protoreflect.FullName) wellKnown {
	switch name {
	case "google.protobuf.Timestamp":
		return wktTimestamp
	case "google.protobuf.Duration":
		return wktDuration
	case "google.protobuf.BoolValue", "google.protobuf.Int32Value", "google.protobuf.Int64Value",
		"google.protobuf.UInt32Value", "google.protobuf.UInt64Value", "google.protobuf.FloatValue",
		"google.protobuf.DoubleValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return wktWrapper
	case "google.protobuf.Empty":
		return wktEmpty
	case "google.protobuf.Struct":
		return wktStruct
	case "google.protobuf.ListValue":
		return wktListValue
	case "google.protobuf.Value":
		return wktValue
	case "google.protobuf.Any", "google.protobuf.FieldMask":
		return wktProtojson
	}
	return wktNone
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
	p := &plan{wkt: wellKnownOf(md.FullName())}
	e.plans[md] = p
	if md.ExtensionRanges().Len() > 0 || md.Options() != nil && isMessageSet(md) {
		p.fallback = true
		return p
	}
	fields := md.Fields()
	p.fields = make([]fieldPlan, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		fp := fieldPlan{fd: fd, name: string(appendString(nil, fd.JSONName())) + ":"}
		fp.skipUnset = fd.HasPresence() || fd.ContainingOneof() != nil
		vd := fd
		if fd.IsMap() {
			fp.mapKey = fd.MapKey().Kind()
			vd = fd.MapValue()
		}
		fp.value = valuePlan{kind: vd.Kind(), enum: vd.Enum()}
		if vd.Enum() != nil && vd.Enum().FullName() == "google.protobuf.NullValue" {
			fp.value.null = true
		}
		if vd.Message() != nil {
			fp.value.msg = e.compile(vd.Message())
		}
		p.fields[i] = fp
	}
	return p
}

func isMessageSet(md protoreflect.MessageDescriptor) bool {
	type messageSetter interface{ IsMessageSet() bool }
	ms, ok := md.(messageSetter)
	return ok && ms.IsMessageSet()
}

func (e *Encoder) appendMessage(b []byte, p *plan, m protoreflect.Message) ([]byte, error) {
	if p.fallback {
		return nil, errFallback
	}
	switch p.wkt {
	case wktNone:
	case wktTimestamp:
		return appendTimestamp(b, m)
	case wktDuration:
		return appendDuration(b, m)
	case wktWrapper:
		fd := p.fields[0].fd // value, the only field
		return e.appendSingular(b, &p.fields[0].value, m.Get(fd))
	case wktEmpty:
		return append(b, "{}"...), nil
	case wktStruct:
		return e.appendMap(b, &p.fields[0], m.Get(p.fields[0].fd).Map())
	case wktListValue:
		return e.appendList(b, &p.fields[0].value, m.Get(p.fields[0].fd).List())
	case wktValue:
		return e.appendValue(b, p, m)
	default: // Any, FieldMask
		return e.fallback(b, m.Interface())
	}
	b = append(b, '{')
	first := true
	for i := range p.fields {
		fp := &p.fields[i]
		if fp.skipUnset && !m.Has(fp.fd) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, fp.name...)
		var err error
		switch v := m.Get(fp.fd); {
		case fp.fd.IsList():
			b, err = e.appendList(b, &fp.value, v.List())
		case fp.fd.IsMap():
			b, err = e.appendMap(b, fp, v.Map())
		default:
			b, err = e.appendSingular(b, &fp.value, v)
		}
		if err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func (e *Encoder) appendList(b []byte, vp *valuePlan, list protoreflect.List) ([]byte, error) {
	b = append(b, '[')
	for i := range list.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = e.appendSingular(b, vp, list.Get(i)); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// mapEntry is one entry of a map, for sorting by key as protojson does.
type mapEntry struct {
	k protoreflect.MapKey
	v protoreflect.Value
}

func (e *Encoder) appendMap(b []byte, fp *fieldPlan, mp protoreflect.Map) ([]byte, error) {
	entries := make([]mapEntry, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		entries = append(entries, mapEntry{k, v})
		return true
	})
	switch fp.mapKey {
	case protoreflect.BoolKind:
		slices.SortFunc(entries, func(x, y mapEntry) int {
			switch {
			case x.k.Bool() == y.k.Bool():
				return 0
			case !x.k.Bool():
				return -1
			}
			return 1
		})
	case protoreflect.StringKind:
		slices.SortFunc(entries, func(x, y mapEntry) int { return compareStrings(x.k.String(), y.k.String()) })
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		slices.SortFunc(entries, func(x, y mapEntry) int { return compareOrdered(x.k.Uint(), y.k.Uint()) })
	default:
		slices.SortFunc(entries, func(x, y mapEntry) int { return compareOrdered(x.k.Int(), y.k.Int()) })
	}
	b = append(b, '{')
	for i, en := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSONString(b, en.k.String()); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = e.appendSingular(b, &fp.value, en.v); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func compareStrings(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func compareOrdered[T int64 | uint64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func (e *Encoder) appendSingular(b []byte, vp *valuePlan, v protoreflect.Value) ([]byte, error) {
	switch vp.kind {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
	case protoreflect.StringKind:
		return appendJSONString(b, v.String())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendInt(b, v.Int(), 10), '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = append(b, '"')
		return append(strconv.AppendUint(b, v.Uint(), 10), '"'), nil
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64), nil
	case protoreflect.BytesKind:
		raw := v.Bytes()
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, raw)
		return append(b, '"'), nil
	case protoreflect.EnumKind:
		if vp.null {
			return append(b, "null"...), nil
		}
		if ev := vp.enum.Values().ByNumber(v.Enum()); ev != nil {
			return appendJSONString(b, string(ev.Name()))
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return e.appendMessage(b, vp.msg, v.Message())
	}
	return nil, errFallback
}

// appendValue writes a google.protobuf.Value: the JSON value its kind holds.
func (e *Encoder) appendValue(b []byte, p *plan, m protoreflect.Message) ([]byte, error) {
	od := m.Descriptor().Oneofs().ByName("kind")
	fd := m.WhichOneof(od)
	if fd == nil {
		return nil, errFallback // protojson: none of the oneof fields is set
	}
	fp := &p.fields[fd.Index()]
	v := m.Get(fd)
	if fd.Kind() == protoreflect.DoubleKind {
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errFallback // protojson: invalid value
		}
	}
	return e.appendSingular(b, &fp.value, v)
}

// Timestamp and Duration bounds, as protojson checks them.
const (
	minTimestampSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestampSeconds = 253402300799 // 9999-12-31T23:59:59Z
	maxDurationSeconds  = 315576000000 // 10,000 years
	nanosPerSecond      = 1_000_000_000
)

func secondsNanos(m protoreflect.Message) (int64, int64) {
	fields := m.Descriptor().Fields()
	return m.Get(fields.ByNumber(1)).Int(), m.Get(fields.ByNumber(2)).Int()
}

func appendTimestamp(b []byte, m protoreflect.Message) ([]byte, error) {
	secs, nanos := secondsNanos(m)
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos >= nanosPerSecond {
		return nil, errFallback
	}
	t := time.Unix(secs, nanos).UTC()
	b = append(b, '"')
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	b = appendFraction(b, nanos)
	return append(b, `Z"`...), nil
}

func appendDuration(b []byte, m protoreflect.Message) ([]byte, error) {
	secs, nanos := secondsNanos(m)
	if secs < -maxDurationSeconds || secs > maxDurationSeconds || nanos <= -nanosPerSecond || nanos >= nanosPerSecond ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return nil, errFallback
	}
	b = append(b, '"')
	if secs < 0 || nanos < 0 {
		b = append(b, '-')
		secs, nanos = -secs, -nanos
	}
	b = strconv.AppendInt(b, secs, 10)
	b = appendFraction(b, nanos)
	return append(b, `s"`...), nil
}

// appendFraction writes nanos as protojson does: no fraction for 0, else 3, 6 or 9 digits.
func appendFraction(b []byte, nanos int64) []byte {
	if nanos == 0 {
		return b
	}
	digits := 9
	for digits > 3 && nanos%1000 == 0 {
		nanos /= 1000
		digits -= 3
	}
	b = append(b, '.')
	s := strconv.AppendInt(make([]byte, 0, 9), nanos, 10)
	for range digits - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendFloat writes a float as protojson does: NaN and the infinities as strings, else the
// shortest form that reads back, in exponent form for very large or small magnitudes.
func appendFloat(b []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) || bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bitSize)
	if format == 'e' {
		// Clean up e-09 to e-9.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString writes s quoted and escaped as protojson does: only '"', '\\' and control
// characters are escaped (not '<', '>' or '&'). Invalid UTF-8 is protojson's to refuse.
func appendJSONString(b []byte, s string) ([]byte, error) {
	out := appendString(b, s)
	if out == nil {
		return nil, errFallback
	}
	return out, nil
}

// appendString returns nil on invalid UTF-8.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return nil
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\')
		switch c {
		case '"', '\\':
			b = append(b, c)
		case '\b':
			b = append(b, 'b')
		case '\f':
			b = append(b, 'f')
		case '\n':
			b = append(b, 'n')
		case '\r':
			b = append(b, 'r')
		case '\t':
			b = append(b, 't')
		default:
			b = append(b, 'u')
			b = append(b, "0000"[1+(bits.Len32(uint32(c))-1)/4:]...)
			b = strconv.AppendUint(b, uint64(c), 16)
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
