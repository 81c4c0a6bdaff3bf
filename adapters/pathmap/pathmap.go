// Package pathmap fills a proto message from a document by paths: each field of the message
// named in a rule takes the value found at the rule's path in an mxj map (github.com/clbanning/
// mxj/v2), which is how an XML document (mxj.NewMapXml) or a JSON one (mxj.NewMapJson) reads
// when its shape is not the message's: an RSS feed, a vendor document with the value ten
// elements down. The rules are agentbridge.v1.FieldPath options of a binding; Compile checks
// them against the message once, when the method is bound, and Plan.Decode applies them to each
// reply.
//
// Paths are mxj's: keys joined by ".", from the top of the document (for XML, the root
// element's local name first), "-name" for an XML attribute, "#text" for the text of an element
// that has attributes, "[N]" to pick one item of a list ("items.item[0].id"). A key names every
// item of a list, so "items.item.id" yields one value per item.
//
// Fields are named by proto name; a dotted name reaches a field of a singular nested message
// ("supplier.name"), which is created only when a value is found for it.
//
// Type rules, per field kind:
//
//   - string: a string as is; a number or a bool as text.
//   - integers: a decimal string (surrounding white space trimmed) or a number without a
//     fraction, within the field's range.
//   - float, double: a number, or a string as strconv reads it (also "NaN", "INF", "-INF").
//   - bool: a bool, or "true", "false", "1", "0".
//   - enum: the value's name ("ITEM_STATUS_IN_STOCK"), its name without the enum's prefix
//     ("IN_STOCK"), its agentbridge.v1.xml_value, or its number.
//   - bytes: standard or URL-safe base64, padded or not.
//   - google.protobuf.Timestamp: an RFC 3339 string; Duration: a Go or protojson duration
//     ("1.5s", "2m"); the wrapper types: their value's rules.
//   - message: a map, whose keys name the message's fields by proto or JSON name (an XML
//     attribute key "-name" likewise); a key no field names is an error, as is a list.
//   - repeated: a list, one item per value, or a single value as a list of one.
//
// An element with attributes reads as a map; where a scalar is wanted its "#text" is taken. A
// JSON null is no value.
//
// Nothing is lost or made up without a word: a path that resolves to nothing is an error for a
// field without presence (a proto3 scalar that is not optional, or a nested field of one); for a
// field with presence the field stays unset; for a repeated field the list stays empty, but the
// path's parent (all but its last key) must resolve, so a misspelt path is still an error.
// Several values for a singular field, and a value that does not convert, are errors. Each
// error is an *Error naming the field and the path.
//
// Map fields are not supported.
package pathmap

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/clbanning/mxj/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Plan is a compiled list of rules for one message type. It is immutable and safe for
// concurrent use.
type Plan struct {
	md    protoreflect.MessageDescriptor
	rules []rule
}

type rule struct {
	field  string // as written: "supplier.name"
	path   string
	parent string                         // path without its last key, "" when it has one key
	fds    []protoreflect.FieldDescriptor // from md down to the field
}

// Error says which field and path a decode failed at, and why.
type Error struct {
	// Field is the field's dotted proto name, as the rule gives it.
	Field string
	// Path is the rule's path, with the index of a list item when one failed ("a.b[2]").
	Path string
	// Err is what went wrong.
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("field %s (path %q): %v", e.Field, e.Path, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// ErrMissing is the cause of an *Error for a path that resolves to nothing where a value is
// required.
var ErrMissing = errors.New("the document has no value at this path")

// Compile checks rules against md: each field must exist (through singular message fields), be
// named once, and not be a map; each path must be non-empty. Every mistake is reported.
func Compile(rules []*agentbridgev1.FieldPath, md protoreflect.MessageDescriptor) (*Plan, error) {
	p := &Plan{md: md}
	var errs []error
	seen := map[string]bool{}
	for i, r := range rules {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("reply_paths[%d] (field %q): %s", i, r.GetField(), fmt.Sprintf(format, args...)))
		}
		if r.GetPath() == "" {
			fail("path is empty")
			continue
		}
		if strings.TrimSpace(r.GetPath()) != r.GetPath() || strings.Contains(r.GetPath(), "..") {
			fail("path %q is not a path of keys joined by dots", r.GetPath())
			continue
		}
		fds, err := fieldPath(md, r.GetField())
		if err != nil {
			fail("%v", err)
			continue
		}
		if seen[r.GetField()] {
			fail("the field is named by an earlier rule too")
			continue
		}
		seen[r.GetField()] = true
		ru := rule{field: r.GetField(), path: r.GetPath(), fds: fds}
		if i := strings.LastIndexByte(ru.path, '.'); i > 0 {
			ru.parent = ru.path[:i]
		}
		p.rules = append(p.rules, ru)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// fieldPath resolves a dotted field name in md.
func fieldPath(md protoreflect.MessageDescriptor, name string) ([]protoreflect.FieldDescriptor, error) {
	if name == "" {
		return nil, errors.New("field is empty")
	}
	var fds []protoreflect.FieldDescriptor
	cur := md
	for seg := range strings.SplitSeq(name, ".") {
		if cur == nil {
			return nil, fmt.Errorf("%s is not a message field, so it has no field %q", fds[len(fds)-1].Name(), seg)
		}
		fd := cur.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %q", cur.FullName(), seg)
		}
		if fd.IsMap() {
			return nil, fmt.Errorf("field %s is a map, which paths do not fill", fd.Name())
		}
		fds = append(fds, fd)
		if fd.Message() != nil && !isWellKnown(fd.Message()) {
			cur = fd.Message()
		} else {
			cur = nil
		}
		if fd.IsList() && len(fds) < len(strings.Split(name, ".")) {
			return nil, fmt.Errorf("field %s is repeated; a dotted name can only pass through singular message fields", fd.Name())
		}
	}
	return fds, nil
}

// Descriptor returns the message type the plan fills.
func (p *Plan) Descriptor() protoreflect.MessageDescriptor { return p.md }

// Decode sets m's fields from doc by the plan's rules. m must be of the plan's type. It stops
// at the first error, an *Error.
func (p *Plan) Decode(doc mxj.Map, m protoreflect.Message) error {
	if m.Descriptor().FullName() != p.md.FullName() {
		return fmt.Errorf("pathmap: the plan is for %s, not %s", p.md.FullName(), m.Descriptor().FullName())
	}
	for i := range p.rules {
		if err := p.rules[i].apply(doc, m); err != nil {
			return err
		}
	}
	return nil
}

func (r *rule) fail(path string, err error) error {
	return &Error{Field: r.field, Path: path, Err: err}
}

func (r *rule) apply(doc mxj.Map, m protoreflect.Message) error {
	values, err := doc.ValuesForPath(r.path)
	if err != nil {
		return r.fail(r.path, err)
	}
	values = dropNulls(values)
	fd := r.fds[len(r.fds)-1]
	if len(values) == 0 {
		switch {
		case fd.IsList():
			if r.parent == "" {
				return nil
			}
			parents, err := doc.ValuesForPath(r.parent)
			if err == nil && len(dropNulls(parents)) > 0 {
				return nil
			}
			return r.fail(r.path, fmt.Errorf("%w (not even at %q, so the path is likely misspelt; an empty list is an absent last key)", ErrMissing, r.parent))
		case r.presence():
			return nil
		}
		return r.fail(r.path, fmt.Errorf("%w, and field %s has no presence, so it cannot be left unset", ErrMissing, r.field))
	}
	if !fd.IsList() && len(values) > 1 {
		return r.fail(r.path, fmt.Errorf("%d values for a singular field", len(values)))
	}
	// Walk to the message holding the field, creating the nested messages on the way.
	for _, f := range r.fds[:len(r.fds)-1] {
		m = m.Mutable(f).Message()
	}
	if fd.IsList() {
		list := m.Mutable(fd).List()
		for i, v := range values {
			pv, err := value(fd, v, list.NewElement)
			if err != nil {
				return r.fail(fmt.Sprintf("%s[%d]", r.path, i), err)
			}
			list.Append(pv)
		}
		return nil
	}
	pv, err := value(fd, values[0], func() protoreflect.Value { return m.NewField(fd) })
	if err != nil {
		return r.fail(r.path, err)
	}
	m.Set(fd, pv)
	return nil
}

// presence reports whether the rule's field can be left unset: it, or a message on the way to
// it, has presence.
func (r *rule) presence() bool {
	for _, fd := range r.fds {
		if fd.HasPresence() {
			return true
		}
	}
	return false
}

func dropNulls(values []any) []any {
	out := values[:0:0]
	for _, v := range values {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

// value converts one document value to the field's kind; newMsg makes a fresh message value
// for message fields.
func value(fd protoreflect.FieldDescriptor, v any, newMsg func() protoreflect.Value) (protoreflect.Value, error) {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		mv := newMsg()
		if err := message(mv.Message(), v, ""); err != nil {
			return protoreflect.Value{}, err
		}
		return mv, nil
	}
	return Scalar(fd, v)
}

// message fills m from v: a well-known type from its scalar form, another message from a map.
// where is the key path below the rule's path, for errors.
func message(m protoreflect.Message, v any, where string) error {
	md := m.Descriptor()
	at := func(err error) error {
		if where == "" {
			return err
		}
		return fmt.Errorf("at %s: %w", where, err)
	}
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		s, err := text(v)
		if err != nil {
			return at(err)
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
		if err != nil {
			return at(fmt.Errorf("%q is not an RFC 3339 timestamp (2006-01-02T15:04:05Z07:00)", s))
		}
		ts := timestamppb.New(t)
		if err := ts.CheckValid(); err != nil {
			return at(fmt.Errorf("%q is outside the range of a Timestamp", s))
		}
		proto.Merge(m.Interface(), ts)
		return nil
	case "google.protobuf.Duration":
		s, err := text(v)
		if err != nil {
			return at(err)
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return at(fmt.Errorf("%q is not a duration (1.5s, 2m, 1h30m)", s))
		}
		proto.Merge(m.Interface(), durationpb.New(d))
		return nil
	}
	if isWrapper(md) {
		fd := md.Fields().ByName("value")
		pv, err := Scalar(fd, v)
		if err != nil {
			return at(err)
		}
		m.Set(fd, pv)
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		if mm, isMap := v.(mxj.Map); isMap {
			obj, ok = map[string]any(mm), true
		}
	}
	if !ok {
		return at(fmt.Errorf("%s for message %s, which takes a map of its fields", describe(v), md.FullName()))
	}
	for key, item := range obj {
		name := strings.TrimPrefix(key, "-")
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			fd = md.Fields().ByJSONName(name)
		}
		sub := key
		if where != "" {
			sub = where + "." + key
		}
		if fd == nil {
			return fmt.Errorf("at %s: %s has no field %q, so the value would be lost", sub, md.FullName(), name)
		}
		if fd.IsMap() {
			return fmt.Errorf("at %s: field %s is a map, which paths do not fill", sub, fd.Name())
		}
		if item == nil {
			continue
		}
		if fd.IsList() {
			items, isList := item.([]any)
			if !isList {
				items = []any{item}
			}
			list := m.Mutable(fd).List()
			for i, it := range items {
				var pv protoreflect.Value
				var err error
				if fd.Message() != nil {
					pv = list.NewElement()
					err = message(pv.Message(), it, fmt.Sprintf("%s[%d]", sub, i))
				} else if pv, err = Scalar(fd, it); err != nil {
					err = fmt.Errorf("at %s[%d]: %w", sub, i, err)
				}
				if err != nil {
					return err
				}
				list.Append(pv)
			}
			continue
		}
		if _, isList := item.([]any); isList {
			return fmt.Errorf("at %s: a list for the singular field %s", sub, fd.Name())
		}
		if fd.Message() != nil {
			if err := message(m.Mutable(fd).Message(), item, sub); err != nil {
				return err
			}
			continue
		}
		pv, err := Scalar(fd, item)
		if err != nil {
			return fmt.Errorf("at %s: %w", sub, err)
		}
		m.Set(fd, pv)
	}
	return nil
}

func isWellKnown(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		return true
	}
	return isWrapper(md)
}

func isWrapper(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.StringValue", "google.protobuf.BytesValue", "google.protobuf.BoolValue",
		"google.protobuf.Int32Value", "google.protobuf.Int64Value", "google.protobuf.UInt32Value",
		"google.protobuf.UInt64Value", "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return true
	}
	return false
}

// describe names what a document value is, for errors.
func describe(v any) string {
	switch t := v.(type) {
	case map[string]any, mxj.Map:
		return "a map"
	case []any:
		return fmt.Sprintf("a list of %d values", len(t))
	case string:
		return fmt.Sprintf("the text %q", clip(t))
	case bool:
		return fmt.Sprintf("the bool %v", t)
	case float64, json.Number, int, int64:
		return fmt.Sprintf("the number %v", t)
	}
	return fmt.Sprintf("a %T", v)
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// text returns a scalar document value as text: a string, a number or a bool as written, or
// the #text of an element with attributes.
func text(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), nil
	case json.Number:
		return t.String(), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case map[string]any:
		if s, ok := t["#text"]; ok {
			return text(s)
		}
	case mxj.Map:
		return text(map[string]any(t))
	}
	return "", fmt.Errorf("%s where a single value is wanted", describe(v))
}

// Scalar converts one document value to a scalar or enum value of fd's kind, by the package's
// type rules.
func Scalar(fd protoreflect.FieldDescriptor, v any) (protoreflect.Value, error) {
	if m, ok := v.(map[string]any); ok {
		if t, has := m["#text"]; has {
			v = t
		}
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		s, err := text(v)
		return protoreflect.ValueOfString(s), err
	case protoreflect.BoolKind:
		if b, ok := v.(bool); ok {
			return protoreflect.ValueOfBool(b), nil
		}
		s, err := text(v)
		if err != nil {
			return protoreflect.Value{}, err
		}
		switch strings.TrimSpace(s) {
		case "true", "1":
			return protoreflect.ValueOfBool(true), nil
		case "false", "0":
			return protoreflect.ValueOfBool(false), nil
		}
		return protoreflect.Value{}, fmt.Errorf("%s is not a bool (true, false, 1 or 0)", describe(v))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := integer(v, 32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := integer(v, 64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := unsigned(v, 32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := unsigned(v, 64)
		return protoreflect.ValueOfUint64(n), err
	case protoreflect.FloatKind:
		f, err := float(v, 32)
		return protoreflect.ValueOfFloat32(float32(f)), err
	case protoreflect.DoubleKind:
		f, err := float(v, 64)
		return protoreflect.ValueOfFloat64(f), err
	case protoreflect.BytesKind:
		s, err := text(v)
		if err != nil {
			return protoreflect.Value{}, err
		}
		s = strings.TrimSpace(s)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return protoreflect.ValueOfBytes(b), nil
			}
		}
		return protoreflect.Value{}, fmt.Errorf("%s is not base64", describe(v))
	case protoreflect.EnumKind:
		return enumValue(fd.Enum(), v)
	}
	return protoreflect.Value{}, fmt.Errorf("field kind %s takes no scalar", fd.Kind())
}

func integer(v any, bits int) (int64, error) {
	if f, ok := v.(float64); ok {
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, fmt.Errorf("%s is not an integer", describe(v))
		}
		v = strconv.FormatFloat(f, 'f', -1, 64)
	}
	s, err := text(v)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(s), "+"), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer within %d bits", describe(v), bits)
	}
	return n, nil
}

func unsigned(v any, bits int) (uint64, error) {
	if f, ok := v.(float64); ok {
		if f != math.Trunc(f) || f < 0 || f >= math.MaxUint64 {
			return 0, fmt.Errorf("%s is not an unsigned integer", describe(v))
		}
		v = strconv.FormatFloat(f, 'f', -1, 64)
	}
	s, err := text(v)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(s), "+"), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%s is not an unsigned integer within %d bits", describe(v), bits)
	}
	return n, nil
}

func float(v any, bits int) (float64, error) {
	if f, ok := v.(float64); ok {
		if bits == 32 && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
			return 0, fmt.Errorf("%s is out of range for a float", describe(v))
		}
		return f, nil
	}
	s, err := text(v)
	if err != nil {
		return 0, err
	}
	t := strings.TrimSpace(s)
	switch t {
	case "INF", "Infinity":
		return math.Inf(1), nil
	case "-INF", "-Infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(t, bits)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", describe(v))
	}
	return f, nil
}

// enumValue reads an enum value by name, short name, xml_value or number.
func enumValue(ed protoreflect.EnumDescriptor, v any) (protoreflect.Value, error) {
	if f, ok := v.(float64); ok && f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
		if ev := ed.Values().ByNumber(protoreflect.EnumNumber(int32(f))); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
	}
	s, err := text(v)
	if err != nil {
		return protoreflect.Value{}, err
	}
	s = strings.TrimSpace(s)
	values := ed.Values()
	if ev := values.ByName(protoreflect.Name(s)); ev != nil {
		return protoreflect.ValueOfEnum(ev.Number()), nil
	}
	prefix := enumPrefix(ed)
	for i := range values.Len() {
		ev := values.Get(i)
		if string(ev.Name()) == prefix+s {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		if x, _ := proto.GetExtension(ev.Options(), agentbridgev1.E_XmlValue).(string); x != "" && x == s {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		if ev := values.ByNumber(protoreflect.EnumNumber(n)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
	}
	return protoreflect.Value{}, fmt.Errorf("%s is not a value of enum %s", describe(v), ed.FullName())
}

// enumPrefix is the enum's name in UPPER_SNAKE_CASE with a trailing underscore: ItemStatus →
// ITEM_STATUS_, the prefix proto style puts on its values.
func enumPrefix(ed protoreflect.EnumDescriptor) string {
	var b strings.Builder
	name := string(ed.Name())
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			prev := name[i-1]
			if prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9' {
				b.WriteByte('_')
			}
		}
		b.WriteString(strings.ToUpper(string(r)))
	}
	b.WriteByte('_')
	return b.String()
}
