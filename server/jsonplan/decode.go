package jsonplan

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Decoder reads protobuf JSON into messages as its protojson.UnmarshalOptions do, from plans
// compiled once per message type. A plan reads what clients and agents send nearly always (an
// object of known fields holding strings, numbers, booleans, enums by name or number, messages
// and lists of them) in one pass over the bytes, without protojson's tokens. Anything else is
// protojson's from the start: a map's entries, a well-known type, a surrogate escape, a quoted
// number, a number written with a fraction for an integer field, a document that is malformed
// or that protojson would refuse. So every result the plan gives is one protojson gives for the same bytes, and
// every error is protojson's own (TestDecoderMatchesProtojson, FuzzDecoderMatchesProtojson).
type Decoder struct {
	opts  protojson.UnmarshalOptions
	plans *sync.Map // protoreflect.MessageDescriptor → *decodePlan (nil: protojson's)
}

// NewDecoder returns a decoder with protojson's options opts.
func NewDecoder(opts protojson.UnmarshalOptions) *Decoder {
	return &Decoder{opts: opts, plans: &sync.Map{}}
}

// WithOptions returns a decoder with options opts that shares d's plans, which do not depend
// on the options.
func (d *Decoder) WithOptions(opts protojson.UnmarshalOptions) *Decoder {
	return &Decoder{opts: opts, plans: d.plans}
}

// Unmarshal resets m and reads data into it, as opts.Unmarshal(data, m) does.
func (d *Decoder) Unmarshal(data []byte, m proto.Message) error {
	if d.fast(data, m) {
		return nil
	}
	return d.opts.Unmarshal(data, m)
}

// fast reads data into m by plan and reports whether it could; m is left reset or partly set
// when it could not.
func (d *Decoder) fast(data []byte, m proto.Message) bool {
	proto.Reset(m)
	mr := m.ProtoReflect()
	p := d.planFor(mr.Descriptor())
	if p == nil {
		return false
	}
	r := reader{data: data}
	if !r.object(d, p, mr, 1) || !r.end() {
		return false
	}
	return d.opts.AllowPartial || !p.required || proto.CheckInitialized(m) == nil
}

// maxDepth is how deep the plans read nested messages; deeper documents are protojson's, whose
// limit (RecursionLimit) then applies.
const maxDepth = 32

// decodePlan is how a message type is read.
type decodePlan struct {
	byName   map[string]*decodeField // JSON names, and proto names where no JSON name is the same
	required bool                    // the type or one it reaches has a required field
}

// decodeField is how one field is read.
type decodeField struct {
	fd    protoreflect.FieldDescriptor
	index int // the field's index in its message, for duplicates
	oneof int // its oneof's index, -1 for none
	kind  protoreflect.Kind
	list  bool
	enums map[string]protoreflect.EnumNumber // an enum's values by name
	isMap bool
	// nullIsValue: null is a value of the field's type (google.protobuf.Value, NullValue),
	// not "not set".
	nullIsValue bool
	// protojsons: the plan does not read this field (a map, a group, a well-known type, which
	// have JSON forms of their own): a document that has it is protojson's.
	protojsons bool
}

// planFor returns md's plan, or nil when protojson reads md itself.
func (d *Decoder) planFor(md protoreflect.MessageDescriptor) *decodePlan {
	if p, ok := d.plans.Load(md); ok {
		return p.(*decodePlan)
	}
	p := compileDecode(md)
	actual, _ := d.plans.LoadOrStore(md, p)
	return actual.(*decodePlan)
}

func compileDecode(md protoreflect.MessageDescriptor) *decodePlan {
	fields := md.Fields()
	if wellKnownOf(md.FullName()) != wktNone || isMessageSet(md) || fields.Len() > 64*len(seenFields{}) || md.Oneofs().Len() > 64 {
		return nil
	}
	p := &decodePlan{byName: make(map[string]*decodeField, 2*fields.Len()), required: ReachesRequired(md)}
	planned := make([]*decodeField, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		f := &decodeField{fd: fd, index: i, oneof: -1, kind: fd.Kind(), list: fd.IsList()}
		if od := fd.ContainingOneof(); od != nil {
			f.oneof = od.Index()
		}
		switch {
		case fd.IsMap():
			f.isMap, f.protojsons = true, true
		case fd.Kind() == protoreflect.GroupKind:
			f.protojsons = true
		case fd.Kind() == protoreflect.MessageKind:
			f.protojsons = wellKnownOf(fd.Message().FullName()) != wktNone
			f.nullIsValue = wellKnownOf(fd.Message().FullName()) == wktValue
		case fd.Kind() == protoreflect.EnumKind:
			// NullValue is the one enum with a JSON form of its own: null.
			f.protojsons = fd.Enum().FullName() == "google.protobuf.NullValue"
			f.nullIsValue = f.protojsons
			values := fd.Enum().Values()
			f.enums = make(map[string]protoreflect.EnumNumber, values.Len())
			for i := range values.Len() {
				f.enums[string(values.Get(i).Name())] = values.Get(i).Number()
			}
		}
		planned[i] = f
		p.byName[fd.TextName()] = f
	}
	for _, f := range planned { // protojson tries the JSON name first
		p.byName[f.fd.JSONName()] = f
	}
	return p
}

// ReachesRequired reports whether md or a message type it can hold has a required field: when
// it has none, proto.CheckInitialized has nothing to find in its messages.
func ReachesRequired(md protoreflect.MessageDescriptor) bool {
	return reachesRequired(md, map[protoreflect.FullName]bool{})
}

func reachesRequired(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	if md.RequiredNumbers().Len() > 0 {
		return true
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if sub := fd.Message(); sub != nil && reachesRequired(sub, seen) {
			return true
		}
	}
	return false
}

// seenFields marks the fields an object has named, by index.
type seenFields [4]uint64

// reader reads one document. Each method reports false where the plan stops and protojson
// takes over; none of them fails in any other way.
type reader struct {
	data []byte
	pos  int
}

func (r *reader) ws() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// end reports whether only white space is left.
func (r *reader) end() bool {
	r.ws()
	return r.pos == len(r.data)
}

// eat consumes c if it comes next.
func (r *reader) eat(c byte) bool {
	if r.pos < len(r.data) && r.data[r.pos] == c {
		r.pos++
		return true
	}
	return false
}

// delimited reports whether the value just read ends where JSON allows: white space, a comma,
// a closing bracket or the end.
func (r *reader) delimited() bool {
	if r.pos == len(r.data) {
		return true
	}
	switch r.data[r.pos] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// literal consumes word (true, false, null) if it comes next, delimited.
func (r *reader) literal(word string) bool {
	if len(r.data)-r.pos < len(word) || string(r.data[r.pos:r.pos+len(word)]) != word {
		return false
	}
	r.pos += len(word)
	if !r.delimited() {
		r.pos -= len(word)
		return false
	}
	return true
}

// object reads a JSON object into m, whose plan is p.
func (r *reader) object(d *Decoder, p *decodePlan, m protoreflect.Message, depth int) bool {
	r.ws()
	if !r.eat('{') {
		return false
	}
	r.ws()
	if r.eat('}') {
		return true
	}
	var seen seenFields
	var oneofs uint64
	for {
		r.ws()
		name, ok := r.plainString()
		if !ok {
			return false
		}
		r.ws()
		if !r.eat(':') {
			return false
		}
		f := p.byName[string(name)]
		if f == nil {
			return false // an unknown field: protojson's error, or its DiscardUnknown
		}
		w, bit := f.index>>6, uint64(1)<<(f.index&63)
		if seen[w]&bit != 0 {
			return false // a duplicate: protojson's error
		}
		seen[w] |= bit
		r.ws()
		switch {
		case r.literal("null"):
			// "Not set": protojson skips it, but for the two types whose value null is.
			if f.nullIsValue {
				return false
			}
		case f.isMap:
			if !r.emptyObject() {
				return false // entries are protojson's
			}
			m.Mutable(f.fd) // as protojson, which makes the map before reading its entries
		case f.protojsons:
			return false
		default:
			if f.oneof >= 0 {
				b := uint64(1) << f.oneof
				if oneofs&b != 0 {
					return false // a second member of a oneof: protojson's error
				}
				oneofs |= b
			}
			if !r.field(d, f, m, depth) {
				return false
			}
		}
		r.ws()
		if r.eat(',') {
			continue
		}
		return r.eat('}')
	}
}

// field reads the value of field f into m.
func (r *reader) field(d *Decoder, f *decodeField, m protoreflect.Message, depth int) bool {
	if f.list {
		if !r.eat('[') {
			return false
		}
		list := m.Mutable(f.fd).List()
		r.ws()
		if r.eat(']') {
			return true
		}
		for {
			r.ws()
			var v protoreflect.Value
			if f.kind == protoreflect.MessageKind {
				v = list.NewElement()
				if !r.message(d, f, v.Message(), depth) {
					return false
				}
			} else {
				var ok bool
				if v, ok = r.scalar(f); !ok {
					return false
				}
			}
			list.Append(v)
			r.ws()
			if r.eat(',') {
				continue
			}
			return r.eat(']')
		}
	}
	if f.kind == protoreflect.MessageKind {
		v := m.NewField(f.fd)
		if !r.message(d, f, v.Message(), depth) {
			return false
		}
		m.Set(f.fd, v)
		return true
	}
	v, ok := r.scalar(f)
	if ok {
		m.Set(f.fd, v)
	}
	return ok
}

// message reads a message-typed value of f into m, one level deeper.
func (r *reader) message(d *Decoder, f *decodeField, m protoreflect.Message, depth int) bool {
	if depth >= maxDepth {
		return false
	}
	p := d.planFor(f.fd.Message())
	return p != nil && r.object(d, p, m, depth+1)
}

// scalar reads a value of a field that is not a message, as protojson's unmarshalScalar does.
func (r *reader) scalar(f *decodeField) (protoreflect.Value, bool) {
	switch f.kind {
	case protoreflect.BoolKind:
		switch {
		case r.literal("true"):
			return protoreflect.ValueOfBool(true), true
		case r.literal("false"):
			return protoreflect.ValueOfBool(false), true
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if s, ok := r.integer(true); ok {
			if n, err := strconv.ParseInt(string(s), 10, 32); err == nil {
				return protoreflect.ValueOfInt32(int32(n)), true
			}
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if s, ok := r.integer(true); ok {
			if n, err := strconv.ParseInt(string(s), 10, 64); err == nil {
				return protoreflect.ValueOfInt64(n), true
			}
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if s, ok := r.integer(true); ok {
			if n, err := strconv.ParseUint(string(s), 10, 32); err == nil {
				return protoreflect.ValueOfUint32(uint32(n)), true
			}
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := r.integer(true); ok {
			if n, err := strconv.ParseUint(string(s), 10, 64); err == nil {
				return protoreflect.ValueOfUint64(n), true
			}
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if f.kind == protoreflect.FloatKind {
			bits = 32
		}
		if r.pos < len(r.data) && r.data[r.pos] == '"' {
			// The quoted names of the values a number cannot write; quoted numbers are
			// protojson's.
			name, ok := r.plainString()
			var x float64
			switch {
			case !ok:
				return protoreflect.Value{}, false
			case string(name) == "NaN":
				x = math.NaN()
			case string(name) == "Infinity":
				x = math.Inf(1)
			case string(name) == "-Infinity":
				x = math.Inf(-1)
			default:
				return protoreflect.Value{}, false
			}
			if bits == 32 {
				return protoreflect.ValueOfFloat32(float32(x)), true
			}
			return protoreflect.ValueOfFloat64(x), true
		}
		if s, ok := r.number(); ok {
			if x, err := strconv.ParseFloat(string(s), bits); err == nil {
				if bits == 32 {
					return protoreflect.ValueOfFloat32(float32(x)), true
				}
				return protoreflect.ValueOfFloat64(x), true
			}
		}
	case protoreflect.StringKind:
		if s, ok := r.str(); ok {
			return protoreflect.ValueOfString(s), true
		}
	case protoreflect.BytesKind:
		if s, ok := r.str(); ok {
			enc := base64.StdEncoding
			if strings.ContainsAny(s, "-_") {
				enc = base64.URLEncoding
			}
			if len(s)%4 != 0 {
				enc = enc.WithPadding(base64.NoPadding)
			}
			if b, err := enc.DecodeString(s); err == nil {
				return protoreflect.ValueOfBytes(b), true
			}
		}
	case protoreflect.EnumKind:
		if r.pos < len(r.data) && r.data[r.pos] == '"' {
			if name, ok := r.plainString(); ok {
				if n, ok := f.enums[string(name)]; ok {
					return protoreflect.ValueOfEnum(n), true
				}
			}
		} else if s, ok := r.integer(false); ok {
			if n, err := strconv.ParseInt(string(s), 10, 32); err == nil {
				return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), true
			}
		}
	}
	return protoreflect.Value{}, false
}

// integer reads an integer written -?(0|[1-9][0-9]*), bare or, if quoted, in quotes, and
// returns its digits as the bytes of data; other spellings protojson accepts (1e2, 1.0, " 1")
// are protojson's. Callers convert the digits where they parse them, which needs no heap.
func (r *reader) integer(quoted bool) ([]byte, bool) {
	start := r.pos
	q := quoted && r.eat('"')
	digits := r.pos
	r.eat('-')
	switch {
	case r.eat('0'):
	case r.pos < len(r.data) && '1' <= r.data[r.pos] && r.data[r.pos] <= '9':
		for r.pos < len(r.data) && '0' <= r.data[r.pos] && r.data[r.pos] <= '9' {
			r.pos++
		}
	default:
		r.pos = start
		return nil, false
	}
	s := r.data[digits:r.pos]
	if (q && !r.eat('"')) || !r.delimited() {
		r.pos = start
		return nil, false
	}
	return s, true
}

// number reads a bare JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (r *reader) number() ([]byte, bool) {
	start := r.pos
	digits := func() bool {
		n := r.pos
		for r.pos < len(r.data) && '0' <= r.data[r.pos] && r.data[r.pos] <= '9' {
			r.pos++
		}
		return r.pos > n
	}
	r.eat('-')
	leadingZero := r.eat('0')
	if !leadingZero && (r.pos == len(r.data) || r.data[r.pos] == '0' || !digits()) {
		r.pos = start
		return nil, false
	}
	if r.eat('.') && !digits() {
		r.pos = start
		return nil, false
	}
	if r.eat('e') || r.eat('E') {
		if !r.eat('+') {
			r.eat('-')
		}
		if !digits() {
			r.pos = start
			return nil, false
		}
	}
	if !r.delimited() {
		r.pos = start
		return nil, false
	}
	return r.data[start:r.pos], true
}

// emptyObject reads {}, with or without white space inside.
func (r *reader) emptyObject() bool {
	start := r.pos
	if r.eat('{') {
		r.ws()
		if r.eat('}') {
			return true
		}
	}
	r.pos = start
	return false
}

// plainString reads a string without escapes, as the bytes of data (valid until data
// changes): names, and enum values by name.
func (r *reader) plainString() ([]byte, bool) {
	if !r.eat('"') {
		return nil, false
	}
	start := r.pos
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch {
		case c == '"':
			s := r.data[start:r.pos]
			r.pos++
			return s, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		}
		r.pos++
	}
	return nil, false
}

// str reads a string value: UTF-8 with JSON's escapes, but for \u escapes of surrogates.
func (r *reader) str() (string, bool) {
	if !r.eat('"') {
		return "", false
	}
	start := r.pos
	var out []byte // the string so far, once an escape means it differs from the input
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch {
		case c == '"':
			s := r.data[start:r.pos]
			if out != nil {
				s = append(out, s...)
			}
			r.pos++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if r.pos+1 >= len(r.data) {
				return "", false
			}
			var e byte
			switch r.data[r.pos+1] {
			case '"', '\\', '/':
				e = r.data[r.pos+1]
			case 'b':
				e = '\b'
			case 'f':
				e = '\f'
			case 'n':
				e = '\n'
			case 'r':
				e = '\r'
			case 't':
				e = '\t'
			case 'u':
				// A character by its code, but for surrogates (a pair, or one alone), which
				// are protojson's.
				if r.pos+6 > len(r.data) {
					return "", false
				}
				code, err := strconv.ParseUint(string(r.data[r.pos+2:r.pos+6]), 16, 16)
				if err != nil || utf16.IsSurrogate(rune(code)) {
					return "", false
				}
				out = utf8.AppendRune(append(out, r.data[start:r.pos]...), rune(code))
				r.pos += 6
				start = r.pos
				continue
			default:
				return "", false
			}
			out = append(append(out, r.data[start:r.pos]...), e)
			r.pos += 2
			start = r.pos
			continue
		}
		r.pos++
	}
	return "", false
}
