package xmlrpc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// dateTimeLayout is how the bridge writes dateTime.iso8601: the XML-RPC spec's example form
// (19980717T14:08:55), which every server reads (Python's reads only this one).
const dateTimeLayout = "20060102T15:04:05"

// codec holds what encoding and decoding of one method need: the binding's choices and the
// backend's settings.
type codec struct {
	jsonNames  bool
	enumsAsInt bool
	nilExt     bool           // the backend accepts <nil/> (settings nil)
	alwaysI8   bool           // every 64-bit integer field is sent as <i8> (settings i8)
	loc        *time.Location // the zone dateTime.iso8601 values are written and read in
	skipped    func(path string)
}

// encodeError is a request value XML-RPC cannot carry, at a path of the request message.
type encodeError struct {
	path string
	err  error
}

func (e *encodeError) Error() string {
	if e.path == "" {
		return e.err.Error()
	}
	return fmt.Sprintf("field %s: %v", e.path, e.err)
}

// memberName is the struct member name of a field: its xmlrpc_member option, else its JSON
// name (json_names) or proto name.
func (c *codec) memberName(fd protoreflect.FieldDescriptor) string {
	if opts := fd.Options(); opts != nil {
		if n, _ := proto.GetExtension(opts, agentbridgev1.E_XmlrpcMember).(string); n != "" {
			return n
		}
	}
	if c.jsonNames {
		return fd.JSONName()
	}
	return string(fd.Name())
}

// sortedFields returns a message's fields in field-number order.
func sortedFields(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	fields := md.Fields()
	out := make([]protoreflect.FieldDescriptor, fields.Len())
	for i := range fields.Len() {
		out[i] = fields.Get(i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number() < out[j].Number() })
	return out
}

// appendCall writes the methodCall of req.
func (c *codec) appendCall(b []byte, method string, req protoreflect.Message, asStruct bool) ([]byte, error) {
	b = append(b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<methodCall><methodName>"...)
	b, err := appendText(b, method)
	if err != nil {
		return nil, err
	}
	b = append(b, "</methodName><params>"...)
	if asStruct {
		b = append(b, "<param><value>"...)
		if b, err = c.appendStruct(b, req, ""); err != nil {
			return nil, err
		}
		b = append(b, "</value></param>"...)
		return append(b, "</params></methodCall>\n"...), nil
	}
	fields := sortedFields(req.Descriptor())
	last := -1 // the last field to send: trailing unset fields with presence are left out
	for i, fd := range fields {
		if !fd.HasPresence() || req.Has(fd) {
			last = i
		}
	}
	for i := 0; i <= last; i++ {
		fd := fields[i]
		path := string(fd.Name())
		b = append(b, "<param><value>"...)
		if fd.HasPresence() && !req.Has(fd) {
			if !c.nilExt {
				return nil, &encodeError{path, fmt.Errorf("is unset, but a later parameter (%s) is set and XML-RPC parameters are positional; set it, or enable the nil extension (xmlrpc: nil: true in the backend's config) if the backend accepts <nil/>", fields[last].Name())}
			}
			b = append(b, "<nil/>"...)
		} else if b, err = c.appendField(b, req, fd, path); err != nil {
			return nil, err
		}
		b = append(b, "</value></param>"...)
	}
	return append(b, "</params></methodCall>\n"...), nil
}

// appendStruct writes m as a struct: each field that is set (or has no presence) as a member.
func (c *codec) appendStruct(b []byte, m protoreflect.Message, path string) ([]byte, error) {
	b = append(b, "<struct>"...)
	var err error
	for _, fd := range sortedFields(m.Descriptor()) {
		if fd.HasPresence() && !m.Has(fd) {
			continue
		}
		b = append(b, "<member><name>"...)
		if b, err = appendText(b, c.memberName(fd)); err != nil {
			return nil, err
		}
		b = append(b, "</name><value>"...)
		if b, err = c.appendField(b, m, fd, join(path, string(fd.Name()))); err != nil {
			return nil, err
		}
		b = append(b, "</value></member>"...)
	}
	return append(b, "</struct>"...), nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// appendField writes the content of a <value> for field fd of m: an array for a list, a
// struct for a map, else the single value.
func (c *codec) appendField(b []byte, m protoreflect.Message, fd protoreflect.FieldDescriptor, path string) ([]byte, error) {
	var err error
	switch {
	case fd.IsList():
		list := m.Get(fd).List()
		b = append(b, "<array><data>"...)
		for i := range list.Len() {
			b = append(b, "<value>"...)
			if b, err = c.appendSingle(b, fd, list.Get(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return nil, err
			}
			b = append(b, "</value>"...)
		}
		return append(b, "</data></array>"...), nil
	case fd.IsMap():
		mp := m.Get(fd).Map()
		keys := make([]protoreflect.MapKey, 0, mp.Len())
		mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool { keys = append(keys, k); return true })
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b = append(b, "<struct>"...)
		for _, k := range keys {
			b = append(b, "<member><name>"...)
			if b, err = appendText(b, k.String()); err != nil {
				return nil, &encodeError{path, err}
			}
			b = append(b, "</name><value>"...)
			if b, err = c.appendSingle(b, fd.MapValue(), mp.Get(k), fmt.Sprintf("%s[%q]", path, k.String())); err != nil {
				return nil, err
			}
			b = append(b, "</value></member>"...)
		}
		return append(b, "</struct>"...), nil
	}
	return c.appendSingle(b, fd, m.Get(fd), path)
}

// appendSingle writes one value of fd's type.
func (c *codec) appendSingle(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) ([]byte, error) {
	fail := func(err error) ([]byte, error) { return nil, &encodeError{path, err} }
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return c.appendMessage(b, v.Message(), path)
	case protoreflect.BoolKind:
		if v.Bool() {
			return append(b, "<boolean>1</boolean>"...), nil
		}
		return append(b, "<boolean>0</boolean>"...), nil
	case protoreflect.StringKind:
		b = append(b, "<string>"...)
		b, err := appendText(b, v.String())
		if err != nil {
			return fail(err)
		}
		return append(b, "</string>"...), nil
	case protoreflect.BytesKind:
		b = append(b, "<base64>"...)
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, "</base64>"...), nil
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fail(fmt.Errorf("%v has no XML-RPC double form", f))
		}
		bits := 64
		if fd.Kind() == protoreflect.FloatKind {
			bits = 32
		}
		b = append(b, "<double>"...)
		b = strconv.AppendFloat(b, f, 'f', -1, bits)
		return append(b, "</double>"...), nil
	case protoreflect.EnumKind:
		n := v.Enum()
		if c.enumsAsInt {
			return c.appendInt(b, int64(n), false), nil
		}
		ev := fd.Enum().Values().ByNumber(n)
		if ev == nil {
			return fail(fmt.Errorf("%d is not a value of %s, so it has no name to send", n, fd.Enum().FullName()))
		}
		b = append(b, "<string>"...)
		b = append(b, ev.Name()...)
		return append(b, "</string>"...), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return c.appendInt(b, v.Int(), false), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return c.appendInt(b, v.Int(), true), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return c.appendInt(b, int64(v.Uint()), false), nil //nolint:gosec // a uint32 fits
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if v.Uint() > math.MaxInt64 {
			return fail(fmt.Errorf("%d is beyond XML-RPC's largest integer (i8, %d)", v.Uint(), int64(math.MaxInt64)))
		}
		return c.appendInt(b, int64(v.Uint()), true), nil //nolint:gosec // checked
	}
	return fail(fmt.Errorf("type %s has no XML-RPC form", fd.Kind()))
}

// appendInt writes an integer: <int> when it fits 32 bits, else <i8> (an extension many
// servers read); a 64-bit field always as <i8> when the backend's settings say i8.
func (c *codec) appendInt(b []byte, n int64, wide bool) []byte {
	tag := "int"
	if n > math.MaxInt32 || n < math.MinInt32 || (wide && c.alwaysI8) {
		tag = "i8"
	}
	b = append(b, '<')
	b = append(b, tag...)
	b = append(b, '>')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "</"...)
	b = append(b, tag...)
	return append(b, '>')
}

// appendMessage writes a message value: the well-known types by their meaning, others as a
// struct.
func (c *codec) appendMessage(b []byte, m protoreflect.Message, path string) ([]byte, error) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		secs, nanos := m.Get(md.Fields().ByName("seconds")).Int(), m.Get(md.Fields().ByName("nanos")).Int()
		if nanos != 0 {
			return nil, &encodeError{path, errors.New("has fractions of a second, which XML-RPC's dateTime.iso8601 cannot carry")}
		}
		t := time.Unix(secs, 0).In(c.loc)
		if t.Year() < 1 || t.Year() > 9999 {
			return nil, &encodeError{path, errors.New("is outside the years 0001 to 9999")}
		}
		b = append(b, "<dateTime.iso8601>"...)
		b = t.AppendFormat(b, dateTimeLayout)
		return append(b, "</dateTime.iso8601>"...), nil
	case "google.protobuf.Value":
		return c.appendDynamic(b, m, path)
	case "google.protobuf.Struct":
		return c.appendDynamicStruct(b, m, path)
	case "google.protobuf.ListValue":
		return c.appendDynamicList(b, m, path)
	}
	if isWrapper(md) {
		return c.appendSingle(b, md.Fields().ByName("value"), m.Get(md.Fields().ByName("value")), path)
	}
	return c.appendStruct(b, m, path)
}

// isWrapper reports whether md is one of google/protobuf/wrappers.proto's messages.
func isWrapper(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return true
	}
	return false
}

// appendDynamic writes a google.protobuf.Value: null as <nil/> (with the nil extension), a
// number as <int> when it is whole and fits 32 bits, else <double>.
func (c *codec) appendDynamic(b []byte, m protoreflect.Message, path string) ([]byte, error) {
	od := m.Descriptor().Oneofs().ByName("kind")
	fd := m.WhichOneof(od)
	if fd == nil {
		return nil, &encodeError{path, errors.New("is a google.protobuf.Value with no kind set")}
	}
	v := m.Get(fd)
	switch fd.Name() {
	case "null_value":
		if !c.nilExt {
			return nil, &encodeError{path, errors.New("is null, which XML-RPC carries only with the nil extension (xmlrpc: nil: true in the backend's config)")}
		}
		return append(b, "<nil/>"...), nil
	case "number_value":
		f := v.Float()
		if f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
			return c.appendInt(b, int64(f), false), nil
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, &encodeError{path, fmt.Errorf("%v has no XML-RPC double form", f)}
		}
		b = append(b, "<double>"...)
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
		return append(b, "</double>"...), nil
	case "string_value", "bool_value":
		return c.appendSingle(b, fd, v, path)
	case "struct_value":
		return c.appendDynamicStruct(b, v.Message(), path)
	case "list_value":
		return c.appendDynamicList(b, v.Message(), path)
	}
	return nil, &encodeError{path, fmt.Errorf("google.protobuf.Value kind %s has no XML-RPC form", fd.Name())}
}

func (c *codec) appendDynamicStruct(b []byte, m protoreflect.Message, path string) ([]byte, error) {
	fd := m.Descriptor().Fields().ByName("fields")
	mp := m.Get(fd).Map()
	keys := make([]string, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool { keys = append(keys, k.String()); return true })
	sort.Strings(keys)
	b = append(b, "<struct>"...)
	var err error
	for _, k := range keys {
		b = append(b, "<member><name>"...)
		if b, err = appendText(b, k); err != nil {
			return nil, &encodeError{path, err}
		}
		b = append(b, "</name><value>"...)
		if b, err = c.appendDynamic(b, mp.Get(protoreflect.ValueOfString(k).MapKey()).Message(), join(path, k)); err != nil {
			return nil, err
		}
		b = append(b, "</value></member>"...)
	}
	return append(b, "</struct>"...), nil
}

func (c *codec) appendDynamicList(b []byte, m protoreflect.Message, path string) ([]byte, error) {
	list := m.Get(m.Descriptor().Fields().ByName("values")).List()
	b = append(b, "<array><data>"...)
	var err error
	for i := range list.Len() {
		b = append(b, "<value>"...)
		if b, err = c.appendDynamic(b, list.Get(i).Message(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return nil, err
		}
		b = append(b, "</value>"...)
	}
	return append(b, "</data></array>"...), nil
}

// appendText writes s escaped as XML character data. A character XML 1.0 cannot hold (most
// control characters) is an error: the backend could not read the call.
func appendText(b []byte, s string) ([]byte, error) {
	for i, r := range s {
		switch {
		case r == '<':
			b = append(b, "&lt;"...)
		case r == '>':
			b = append(b, "&gt;"...)
		case r == '&':
			b = append(b, "&amp;"...)
		case r == '\r':
			b = append(b, "&#13;"...) // kept: a parser would turn a bare CR into LF
		case r == utf8.RuneError && isBadRune(s[i:]):
			return nil, errors.New("holds bytes that are not UTF-8")
		case r == '\t' || r == '\n' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000:
			b = utf8.AppendRune(b, r)
		default:
			return nil, fmt.Errorf("holds the character U+%04X, which XML cannot carry", r)
		}
	}
	return b, nil
}

// isBadRune reports whether s starts with an invalid UTF-8 sequence (rather than an encoded
// U+FFFD).
func isBadRune(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	return r == utf8.RuneError && size <= 1
}
