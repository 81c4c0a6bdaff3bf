package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
)

type jsonRaw = json.RawMessage

// unmarshalJSON reads one JSON value, numbers as json.Number so none loses precision, and
// refuses anything after it.
func unmarshalJSON(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more content after the JSON value")
	}
	return nil
}

// fitError says where a JSON reply does not fit the response message.
type fitError struct {
	path string
	msg  string
}

func (e *fitError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// jsonFit checks a JSON value read by unmarshalJSON against a message descriptor before
// protojson reads it, so that what protojson would take silently is not lost without a word:
// a member no field names (protojson's DiscardUnknown would drop it; without it, its error
// names no path), a null for a field without presence (protojson reads it as the zero value),
// a missing member for a scalar field without presence (it would read as zero, as if sent).
// With skipped set (a lenient backend), an unknown member or a null is removed and recorded.
type jsonFit struct {
	skipped func(path string)
}

func (f *jsonFit) message(md protoreflect.MessageDescriptor, v any, path string, filled map[protoreflect.FieldNumber]bool) error {
	if isWellKnown(md) {
		return nil // protojson reads these by their own JSON forms
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return &fitError{path, fmt.Sprintf("%s expected a JSON object, got %s", md.FullName(), jsonType(v))}
	}
	seen := map[protoreflect.FieldNumber]bool{}
	fields := md.Fields()
	for key, val := range obj {
		at := join(path, key)
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil || filled[fd.Number()] {
			if f.skipped != nil {
				f.skipped(at)
				delete(obj, key)
				continue
			}
			return &fitError{at, fmt.Sprintf("%s has no field for this member; add it to the proto (or set the backend lenient)", md.FullName())}
		}
		seen[fd.Number()] = true
		if val == nil {
			if fd.HasPresence() || fd.IsList() || fd.IsMap() || isNullable(fd) {
				continue
			}
			if f.skipped != nil {
				f.skipped(at + " (null)")
				delete(obj, key)
				continue
			}
			return &fitError{at, fmt.Sprintf("is null, which field %s (without presence) cannot hold; make it optional", fd.Name())}
		}
		if err := f.field(fd, val, at); err != nil {
			return err
		}
	}
	for i := range fields.Len() {
		fd := fields.Get(i)
		if seen[fd.Number()] || filled[fd.Number()] || fd.HasPresence() || fd.IsList() || fd.IsMap() {
			continue
		}
		return &fitError{join(path, fd.JSONName()), fmt.Sprintf("is missing, and field %s has no presence to say so; make it optional if the backend may leave it out", fd.Name())}
	}
	return nil
}

// field checks a member's value against its field.
func (f *jsonFit) field(fd protoreflect.FieldDescriptor, v any, at string) error {
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			return &fitError{at, fmt.Sprintf("map field %s expected a JSON object, got %s", fd.Name(), jsonType(v))}
		}
		for k, e := range obj {
			if e == nil {
				return &fitError{join(at, k), "is null, which a map value cannot be"}
			}
			if err := f.single(fd.MapValue(), e, join(at, k)); err != nil {
				return err
			}
		}
		return nil
	case fd.IsList():
		list, ok := v.([]any)
		if !ok {
			return &fitError{at, fmt.Sprintf("repeated field %s expected a JSON array, got %s", fd.Name(), jsonType(v))}
		}
		for i, e := range list {
			itemAt := fmt.Sprintf("%s[%d]", at, i)
			if e == nil {
				return &fitError{itemAt, "is null, which an item of a repeated field cannot be"}
			}
			if err := f.single(fd, e, itemAt); err != nil {
				return err
			}
		}
		return nil
	}
	return f.single(fd, v, at)
}

// single checks one value of a field (an item of a list, a map's value).
func (f *jsonFit) single(fd protoreflect.FieldDescriptor, v any, at string) error {
	if md := fd.Message(); md != nil {
		return f.message(md, v, at, nil)
	}
	want := ""
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			want = "a string"
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			want = "true or false"
		}
	case protoreflect.EnumKind:
		switch x := v.(type) {
		case string:
			if fd.Enum().Values().ByName(protoreflect.Name(x)) == nil {
				return &fitError{at, fmt.Sprintf("%q is not a value of enum %s", x, fd.Enum().FullName())}
			}
		case json.Number:
		default:
			want = "an enum value's name or number"
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch v.(type) {
		case json.Number, string: // protojson takes "NaN", "Infinity" and quoted numbers
		default:
			want = "a number"
		}
	default: // integers
		switch x := v.(type) {
		case json.Number:
			if fl, err := strconv.ParseFloat(string(x), 64); err != nil || fl != math.Trunc(fl) {
				return &fitError{at, fmt.Sprintf("%s is not a whole number, which field %s (%s) holds", x, fd.Name(), fd.Kind())}
			}
		case string:
		default:
			want = "a whole number"
		}
	}
	if want != "" {
		return &fitError{at, fmt.Sprintf("field %s (%s) expected %s, got %s", fd.Name(), fd.Kind(), want, jsonType(v))}
	}
	return nil
}

// isWellKnown reports the google.protobuf messages protojson reads by a JSON form of their own.
func isWellKnown(md protoreflect.MessageDescriptor) bool {
	return md.FullName().Parent() == "google.protobuf"
}

// isNullable reports fields whose JSON null is a value: google.protobuf.Value and NullValue.
func isNullable(fd protoreflect.FieldDescriptor) bool {
	if md := fd.Message(); md != nil {
		return md.FullName() == "google.protobuf.Value"
	}
	return fd.Enum() != nil && fd.Enum().FullName() == "google.protobuf.NullValue"
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// protojsonPosition is protojson's "(line 1:23)", which points into the bridge's own rewrite
// of the reply, not the reply: dropped from messages.
var protojsonPosition = regexp.MustCompile(`\(line \d+:\d+\): `)

// fillJSON decodes v, checked by jsonFit, into m with protojson.
func fillJSON(v any, m protoreflect.Message) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(data, m.Interface()); err != nil {
		msg := protojsonPosition.ReplaceAllString(err.Error(), "")
		return errors.New(msg)
	}
	return nil
}
