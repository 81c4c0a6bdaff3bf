package xmlrpc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// decodeError says where a reply's value does not fit the response message: path runs from
// "result" (the return value) through member names and array indexes
// (result.tickets[3].owner).
type decodeError struct {
	path string
	err  error
}

func (e *decodeError) Error() string { return fmt.Sprintf("%s: %v", e.path, e.err) }

func fail(path string, format string, args ...any) error {
	return &decodeError{path: path, err: fmt.Errorf(format, args...)}
}

// decodeResult maps the return value onto out: into resultField when the binding names one,
// else member by member onto out's fields.
func (c *codec) decodeResult(v *value, out protoreflect.Message, resultField protoreflect.FieldDescriptor) error {
	const root = "result"
	if resultField != nil {
		return c.setField(out, resultField, v, root)
	}
	if out.Descriptor().Fields().Len() == 0 {
		// A method whose response has no fields: nothing to lose when the backend returns
		// nothing, or an empty struct, or true (as many "ok" methods do).
		if v.typ == tNil || (v.typ == tStruct && len(v.members) == 0) || (v.typ == tBool && v.text == "1") {
			return nil
		}
		if c.skipped != nil {
			c.skipped(root)
			return nil
		}
		return fail(root, "the method returned %s, but %s has no field to hold it; add one and name it in the binding's result_field", v.typ.article(), out.Descriptor().FullName())
	}
	if v.typ != tStruct {
		return fail(root, "the method returned %s, but without result_field the return value must be a struct whose members are the fields of %s; name the field that holds it in the binding's result_field", v.typ.article(), out.Descriptor().FullName())
	}
	return c.decodeStruct(v, out, root)
}

// decodeStruct sets m's fields from a struct's members.
func (c *codec) decodeStruct(v *value, m protoreflect.Message, path string) error {
	md := m.Descriptor()
	fields := md.Fields()
	byName := make(map[string]protoreflect.FieldDescriptor, fields.Len())
	for i := range fields.Len() {
		byName[c.memberName(fields.Get(i))] = fields.Get(i)
	}
	seen := make([]bool, fields.Len())
	for _, mem := range v.members {
		p := path + "." + mem.name
		fd := byName[mem.name]
		if fd == nil {
			if c.skipped != nil {
				c.skipped(p)
				continue
			}
			return fail(p, "the reply has member %q, which no field of %s names, so it would be lost; add a field for it to the proto (xmlrpc_member names it when the names differ), or set lenient: true on the backend to skip such members", clip(mem.name), md.FullName())
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if other := m.WhichOneof(od); other != nil && other != fd {
				return fail(p, "the reply has members for both %s and %s, fields of oneof %s, which holds one", c.memberName(other), mem.name, od.Name())
			}
		}
		seen[fd.Index()] = true
		if err := c.setField(m, fd, mem.v, p); err != nil {
			return err
		}
	}
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case seen[i] || fd.IsList() || fd.IsMap():
		case !fd.HasPresence():
			return fail(path+"."+c.memberName(fd), "the reply has no such member, and field %s cannot say so: it has no presence, so it would read as its zero value; mark the field optional in the proto if the backend may leave it out", fd.FullName())
		case xmlcodec.MarkedRequired(fd) && (fd.ContainingOneof() == nil || fd.ContainingOneof().IsSynthetic()):
			return fail(path+"."+c.memberName(fd), "the reply has no such member, but field %s is REQUIRED (google.api.field_behavior): the contract says the backend always sends it; remove REQUIRED if it may leave it out", fd.FullName())
		}
	}
	return nil
}

// setField sets fd of m from v.
func (c *codec) setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v *value, path string) error {
	if v.typ == tNil {
		switch {
		case fd.IsList() || fd.IsMap():
			return fail(path, "nil for field %s, a list or map, which cannot hold nil; the backend may send an empty array or struct instead", fd.FullName())
		case isValue(fd):
			m.Set(fd, protoreflect.ValueOfMessage(nullValue(m.NewField(fd).Message())))
			return nil
		case fd.HasPresence():
			m.Clear(fd)
			return nil
		}
		return fail(path, "nil for field %s, which has no presence, so nil would read as its zero value; mark the field optional (or use a wrapper type) in the proto", fd.FullName())
	}
	switch {
	case fd.IsList():
		if v.typ != tArray {
			return fail(path, "is %s, but field %s is a list, sent as an array", v.typ.article(), fd.FullName())
		}
		list := m.Mutable(fd).List()
		for i, item := range v.items {
			p := fmt.Sprintf("%s[%d]", path, i)
			if item.typ == tNil && !isValue(fd) {
				return fail(p, "nil in an array for field %s: a list cannot hold a nil item", fd.FullName())
			}
			pv, err := c.single(fd, item, p, list.NewElement)
			if err != nil {
				return err
			}
			list.Append(pv)
		}
		return nil
	case fd.IsMap():
		if v.typ != tStruct {
			return fail(path, "is %s, but field %s is a map, sent as a struct", v.typ.article(), fd.FullName())
		}
		mp := m.Mutable(fd).Map()
		for _, mem := range v.members {
			p := fmt.Sprintf("%s[%q]", path, clip(mem.name))
			key, err := mapKey(fd.MapKey(), mem.name)
			if err != nil {
				return fail(p, "%v", err)
			}
			if mem.v.typ == tNil && !isValue(fd.MapValue()) {
				return fail(p, "nil as a value of map %s, which cannot hold nil", fd.FullName())
			}
			pv, err := c.single(fd.MapValue(), mem.v, p, mp.NewValue)
			if err != nil {
				return err
			}
			mp.Set(key, pv)
		}
		return nil
	}
	pv, err := c.single(fd, v, path, func() protoreflect.Value { return m.NewField(fd) })
	if err != nil {
		return err
	}
	m.Set(fd, pv)
	return nil
}

// isValue reports whether fd's values are google.protobuf.Value messages, which hold a nil.
func isValue(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value"
}

// mapKey parses a struct member's name as a map key of kind fd.
func mapKey(fd protoreflect.FieldDescriptor, name string) (protoreflect.MapKey, error) {
	if fd.Kind() == protoreflect.StringKind {
		return protoreflect.ValueOfString(name).MapKey(), nil
	}
	v, err := scalar(fd, &value{typ: tString, text: name})
	if err != nil {
		return protoreflect.MapKey{}, fmt.Errorf("member name %q is not a %s map key", clip(name), fd.Kind())
	}
	return v.MapKey(), nil
}

// single reads one value of fd's type (a list's item, a map's value, a singular field).
func (c *codec) single(fd protoreflect.FieldDescriptor, v *value, path string, newValue func() protoreflect.Value) (protoreflect.Value, error) {
	if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
		pv, err := c.scalarOf(fd, v)
		if err != nil {
			return pv, &decodeError{path: path, err: err}
		}
		return pv, nil
	}
	pv := newValue()
	m := pv.Message()
	md := fd.Message()
	switch {
	case md.FullName() == "google.protobuf.Timestamp":
		if v.typ != tDateTime {
			return pv, fail(path, "is %s, but field %s is a google.protobuf.Timestamp, sent as dateTime.iso8601", v.typ.article(), fd.FullName())
		}
		t, err := parseDateTime(v.text, c.loc)
		if err != nil {
			return pv, fail(path, "%v", err)
		}
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(t.Unix()))
		m.Set(md.Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(t.Nanosecond()))) //nolint:gosec // below 1e9
		return pv, nil
	case md.FullName() == "google.protobuf.Value":
		return pv, c.dynamic(v, m, path)
	case md.FullName() == "google.protobuf.Struct":
		if v.typ != tStruct {
			return pv, fail(path, "is %s, but field %s is a google.protobuf.Struct", v.typ.article(), fd.FullName())
		}
		return pv, c.dynamicStruct(v, m, path)
	case md.FullName() == "google.protobuf.ListValue":
		if v.typ != tArray {
			return pv, fail(path, "is %s, but field %s is a google.protobuf.ListValue", v.typ.article(), fd.FullName())
		}
		return pv, c.dynamicList(v, m, path)
	case isWrapper(md):
		inner := md.Fields().ByName("value")
		sv, err := c.scalarOf(inner, v)
		if err != nil {
			return pv, &decodeError{path: path, err: err}
		}
		m.Set(inner, sv)
		return pv, nil
	}
	if v.typ != tStruct {
		return pv, fail(path, "is %s, but field %s is message %s, sent as a struct", v.typ.article(), fd.FullName(), md.FullName())
	}
	return pv, c.decodeStruct(v, m, path)
}

// scalarOf reads a scalar or enum value of fd, checking the XML-RPC type first.
func (c *codec) scalarOf(fd protoreflect.FieldDescriptor, v *value) (protoreflect.Value, error) {
	want := ""
	switch fd.Kind() {
	case protoreflect.StringKind:
		if v.typ != tString {
			want = "a string"
		}
	case protoreflect.BoolKind:
		if v.typ != tBool {
			want = "a boolean"
		}
	case protoreflect.BytesKind:
		if v.typ != tBase64 {
			want = "base64"
		}
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		if v.typ != tDouble && v.typ != tInt { // a whole number sent as int widens exactly
			want = "a double"
		}
	case protoreflect.EnumKind:
		if v.typ != tString && v.typ != tInt {
			want = "a string (the value's name) or an int (its number)"
		}
	default: // the integer kinds
		if v.typ != tInt {
			want = "an int"
		}
	}
	if want != "" {
		return protoreflect.Value{}, fmt.Errorf("is %s, but field %s (%s) takes %s", v.typ.article(), fd.FullName(), fd.Kind(), want)
	}
	pv, err := scalar(fd, v)
	if err != nil {
		return pv, fmt.Errorf("field %s: %w", fd.FullName(), err)
	}
	return pv, nil
}

// scalar parses v's text as fd's kind.
func scalar(fd protoreflect.FieldDescriptor, v *value) (protoreflect.Value, error) {
	t := v.text
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(t), nil
	case protoreflect.BoolKind:
		switch t {
		case "1", "true":
			return protoreflect.ValueOfBool(true), nil
		case "0", "false":
			return protoreflect.ValueOfBool(false), nil
		}
		return protoreflect.Value{}, fmt.Errorf("boolean %q is neither 0 nor 1", clip(t))
	case protoreflect.BytesKind:
		b, err := decodeBase64(t)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfBytes(b), nil
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%q is not a number", clip(t))
		}
		if fd.Kind() == protoreflect.FloatKind {
			if f32 := float32(f); float64(f32) != f && !math.IsNaN(f) {
				return protoreflect.Value{}, fmt.Errorf("%s cannot be held exactly by a float; make the field a double", t)
			}
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.EnumKind:
		return enumValue(fd.Enum(), v)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(t, 10, 32)
		if err != nil {
			return protoreflect.Value{}, intError(t, fd.Kind(), err)
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return protoreflect.Value{}, intError(t, fd.Kind(), err)
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(strings.TrimPrefix(t, "+"), 10, 32)
		if err != nil {
			return protoreflect.Value{}, intError(t, fd.Kind(), err)
		}
		return protoreflect.ValueOfUint32(uint32(n)), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(strings.TrimPrefix(t, "+"), 10, 64)
		if err != nil {
			return protoreflect.Value{}, intError(t, fd.Kind(), err)
		}
		return protoreflect.ValueOfUint64(n), nil
	}
	return protoreflect.Value{}, fmt.Errorf("type %s has no XML-RPC form", fd.Kind())
}

func intError(t string, kind protoreflect.Kind, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%s is outside the range of %s", clip(t), kind)
	}
	return fmt.Errorf("%q is not an integer", clip(t))
}

// enumValue reads an enum by name (ITEM_STATUS_IN_STOCK, or IN_STOCK without the enum's
// prefix) or, sent as an int, by number; either must be one of the enum's values.
func enumValue(ed protoreflect.EnumDescriptor, v *value) (protoreflect.Value, error) {
	values := ed.Values()
	if v.typ == tInt {
		n, err := strconv.ParseInt(v.text, 10, 32)
		if err == nil {
			if ev := values.ByNumber(protoreflect.EnumNumber(n)); ev != nil {
				return protoreflect.ValueOfEnum(ev.Number()), nil
			}
		}
		return protoreflect.Value{}, fmt.Errorf("%s is not a number of %s", clip(v.text), ed.FullName())
	}
	if ev := values.ByName(protoreflect.Name(v.text)); ev != nil {
		return protoreflect.ValueOfEnum(ev.Number()), nil
	}
	if ev := values.ByName(protoreflect.Name(enumPrefix(ed) + v.text)); ev != nil {
		return protoreflect.ValueOfEnum(ev.Number()), nil
	}
	return protoreflect.Value{}, fmt.Errorf("%q is not a value of %s", clip(v.text), ed.FullName())
}

// enumPrefix is the prefix buf's style gives an enum's values: ItemStatus → ITEM_STATUS_.
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	var b strings.Builder
	name := string(ed.Name())
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String()) + "_"
}

// decodeBase64 reads base64 text, white space (line breaks, as Python writes) ignored,
// padding optional.
func decodeBase64(t string) ([]byte, error) {
	t = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, t)
	b, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(t); err != nil {
			return nil, errors.New("is not valid base64")
		}
	}
	return b, nil
}

// parseDateTime reads a dateTime.iso8601: 19980717T14:08:55 (the spec's form) or
// 1998-07-17T14:08:55, with optional fractions of a second and an optional zone (Z, +02:00,
// +0200). Without a zone, as XML-RPC writes it, the value is in loc.
func parseDateTime(text string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"20060102T15:04:05", "2006-01-02T15:04:05", "20060102T150405"} {
		for _, zone := range []string{"", "Z07:00", "Z0700"} {
			if t, err := time.ParseInLocation(layout+zone, text, loc); err == nil {
				if y := t.UTC().Year(); y < 1 || y > 9999 {
					return time.Time{}, fmt.Errorf("%q is outside the years 0001 to 9999, which a Timestamp holds", clip(text))
				}
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a dateTime.iso8601 (such as 19980717T14:08:55)", clip(text))
}

// nullValue sets a google.protobuf.Value to null.
func nullValue(m protoreflect.Message) protoreflect.Message {
	m.Set(m.Descriptor().Fields().ByName("null_value"), protoreflect.ValueOfEnum(0))
	return m
}

// dynamic reads any XML-RPC value into a google.protobuf.Value: numbers as number_value (an
// int beyond 2^53 is an error: a double would round it), dateTime as an RFC 3339 string in
// the backend's zone, base64 as its text, nil as null.
func (c *codec) dynamic(v *value, m protoreflect.Message, path string) error {
	fields := m.Descriptor().Fields()
	set := func(name string, pv protoreflect.Value) error {
		m.Set(fields.ByName(protoreflect.Name(name)), pv)
		return nil
	}
	switch v.typ {
	case tNil:
		nullValue(m)
		return nil
	case tString:
		return set("string_value", protoreflect.ValueOfString(v.text))
	case tBool:
		b, err := scalar(fields.ByName("bool_value"), v)
		if err != nil {
			return &decodeError{path, err}
		}
		return set("bool_value", b)
	case tInt:
		n, err := strconv.ParseInt(v.text, 10, 64)
		if err != nil {
			return fail(path, "%q is not a 64-bit integer", clip(v.text))
		}
		if n > 1<<53 || n < -(1<<53) {
			return fail(path, "%d is beyond 2^53, which a google.protobuf.Value's number cannot hold exactly; use an int64 field", n)
		}
		return set("number_value", protoreflect.ValueOfFloat64(float64(n)))
	case tDouble:
		f, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return fail(path, "%q is not a number", clip(v.text))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fail(path, "%s has no JSON form, so a google.protobuf.Value cannot hold it; use a double field", clip(v.text))
		}
		return set("number_value", protoreflect.ValueOfFloat64(f))
	case tDateTime:
		t, err := parseDateTime(v.text, c.loc)
		if err != nil {
			return fail(path, "%v", err)
		}
		return set("string_value", protoreflect.ValueOfString(t.Format(time.RFC3339Nano)))
	case tBase64:
		b, err := decodeBase64(v.text)
		if err != nil {
			return fail(path, "%v", err)
		}
		return set("string_value", protoreflect.ValueOfString(base64.StdEncoding.EncodeToString(b)))
	case tStruct:
		fd := fields.ByName("struct_value")
		sv := m.NewField(fd)
		if err := c.dynamicStruct(v, sv.Message(), path); err != nil {
			return err
		}
		m.Set(fd, sv)
		return nil
	case tArray:
		fd := fields.ByName("list_value")
		lv := m.NewField(fd)
		if err := c.dynamicList(v, lv.Message(), path); err != nil {
			return err
		}
		m.Set(fd, lv)
		return nil
	}
	return fail(path, "type %s has no google.protobuf.Value form", v.typ)
}

func (c *codec) dynamicStruct(v *value, m protoreflect.Message, path string) error {
	fd := m.Descriptor().Fields().ByName("fields")
	mp := m.Mutable(fd).Map()
	for _, mem := range v.members {
		item := mp.NewValue()
		if err := c.dynamic(mem.v, item.Message(), path+"."+mem.name); err != nil {
			return err
		}
		mp.Set(protoreflect.ValueOfString(mem.name).MapKey(), item)
	}
	return nil
}

func (c *codec) dynamicList(v *value, m protoreflect.Message, path string) error {
	list := m.Mutable(m.Descriptor().Fields().ByName("values")).List()
	for i, it := range v.items {
		item := list.NewElement()
		if err := c.dynamic(it, item.Message(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
		list.Append(item)
	}
	return nil
}
