package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// JSON null means one thing on every JSON surface (REST, Connect, MCP), and that thing is what
// protojson makes of it, because REST and Connect decode with protojson and MCP must not differ:
//
//   - As the value of a field, null means the field was not sent: a scalar, enum, message, list,
//     map, wrapper, Struct or ListValue is left unset, and a oneof member sent as null does not
//     count as the oneof's choice.
//   - Except where null is the value itself: a google.protobuf.Value field (null_value) and a
//     google.protobuf.NullValue field, which is how a oneof spells xsi:nil ({"traderNameNil":
//     null}).
//   - As a list element or a map value, null is refused, unless the element type is Value or
//     NullValue; and a repeated Value or NullValue field sent as null is refused too, since
//     protojson reads that null as the list and finds no array. Inside Value, Struct and
//     ListValue, null is data.
//
// protojson's own messages for the refusals name the map entry's "value" field, or no field at
// all ("unexpected token null"), so jsonError rewrites them (see refusedNull) to name the field
// by its lowerCamel path; every surface shows that one message.

// nullMeaning is what JSON null stands for in one position of a message's JSON.
type nullMeaning uint8

const (
	nullAbsent  nullMeaning = iota // the field is left unset, as if it had not been sent
	nullIsValue                    // null is the value (google.protobuf.Value, NullValue)
	nullRefused                    // protojson fails on it
)

// fieldNull is what null means as the value of fd, by protojson's test in unmarshalMessage:
// null is skipped unless fd's type is Value or NullValue, and then it is read as fd's value,
// which for a repeated field is its list.
func fieldNull(fd protoreflect.FieldDescriptor) nullMeaning {
	switch {
	case !nullIsData(fd):
		return nullAbsent
	case fd.IsList():
		return nullRefused
	}
	return nullIsValue
}

// elementNull is what null means as an element of the list field fd, or as a value of a map
// whose value field is fd.
func elementNull(fd protoreflect.FieldDescriptor) nullMeaning {
	if nullIsData(fd) {
		return nullIsValue
	}
	return nullRefused
}

// nullIsData says whether fd's type reads null as a value: google.protobuf.Value and
// google.protobuf.NullValue. (A map field's message is its entry, so maps are never such.)
func nullIsData(fd protoreflect.FieldDescriptor) bool {
	if md := fd.Message(); md != nil {
		return md.FullName() == "google.protobuf.Value"
	}
	if ed := fd.Enum(); ed != nil {
		return ed.FullName() == "google.protobuf.NullValue"
	}
	return false
}

// ownJSON says whether protojson reads the message in a JSON form of its own rather than as an
// object of its fields; null inside those forms is theirs to read (data in Value, Struct and
// ListValue; fields of the embedded message in Any, which the input schema leaves open).
func ownJSON(md protoreflect.MessageDescriptor) bool {
	if md.FullName().Parent() != "google.protobuf" {
		return false
	}
	switch md.Name() {
	case "Any", "Timestamp", "Duration", "BoolValue", "Int32Value", "Int64Value", "UInt32Value",
		"UInt64Value", "FloatValue", "DoubleValue", "StringValue", "BytesValue", "Struct",
		"ListValue", "Value", "FieldMask", "Empty":
		return true
	}
	return false
}

// dropAbsentNulls removes from decoded JSON arguments (map[string]any from encoding/json) the
// properties whose null means "not sent", through nested messages, list elements and map
// values. The MCP input schema has no null for such fields (an agent is taught one spelling),
// yet the call must mean what it means on REST and Connect; so the schema checks the arguments
// as protojson will read them. Nulls that are values stay, and so do nulls protojson refuses,
// which then fail with the same message as on the other surfaces. Properties are matched by
// JSON name only: the schema refuses proto names whatever their value.
func dropAbsentNulls(md protoreflect.MessageDescriptor, v any) {
	obj, ok := v.(map[string]any)
	if !ok || ownJSON(md) {
		return
	}
	fields := md.Fields()
	for name, val := range obj {
		fd := fields.ByJSONName(name)
		if fd == nil {
			continue
		}
		if val == nil {
			if fieldNull(fd) == nullAbsent {
				delete(obj, name)
			}
			continue
		}
		switch {
		case fd.IsMap():
			if vd := fd.MapValue().Message(); vd != nil {
				entries, _ := val.(map[string]any)
				for _, e := range entries {
					dropAbsentNulls(vd, e)
				}
			}
		case fd.IsList():
			if fd.Message() != nil {
				items, _ := val.([]any)
				for _, e := range items {
					dropAbsentNulls(fd.Message(), e)
				}
			}
		case fd.Message() != nil:
			dropAbsentNulls(fd.Message(), val)
		}
	}
}

// errorPosition finds the "(line L:C)" protojson puts in its errors.
var errorPosition = regexp.MustCompile(`\(line (\d+):(\d+)\)`)

// refusedNull explains a protojson failure caused by a null it refuses, naming the field by its
// lowerCamel path (items[2], labels["a"], inner.numbers[0]); ok is false when the failure has
// another cause. It is only called once decoding failed, so a successful call pays nothing.
// protojson stops at its first error, and every null before a refused one is skipped or read
// without error, so the failure is the null's exactly when protojson reports the position of
// the first refused null in the document.
func refusedNull(md protoreflect.MessageDescriptor, data []byte, err error) (string, bool) {
	m := errorPosition.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	f := &nullFinder{dec: json.NewDecoder(bytes.NewReader(data))}
	f.dec.UseNumber()
	tok, terr := f.dec.Token()
	if terr != nil {
		return "", false
	}
	if ferr := f.message(md, tok, ""); !errors.Is(ferr, errFoundNull) {
		return "", false
	}
	line, col := jsonPosition(data, f.offset)
	if strconv.Itoa(line) != m[1] || strconv.Itoa(col) != m[2] {
		return "", false
	}
	return f.why, true
}

// jsonPosition is protojson's line and column of a byte offset: lines counted from 1, columns
// in runes from 1.
func jsonPosition(data []byte, offset int) (int, int) {
	b := data[:offset]
	line := bytes.Count(b, []byte("\n")) + 1
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return line, utf8.RuneCount(b) + 1
}

var errFoundNull = errors.New("found a refused null")

// nullFinder walks JSON by a message descriptor, as protojson reads it, to the first null that
// protojson refuses.
type nullFinder struct {
	dec    *json.Decoder
	offset int    // where the null starts
	why    string // what is wrong, naming the field
}

// found records the null just read and stops the walk.
func (f *nullFinder) found(why string) error {
	f.offset = int(f.dec.InputOffset()) - len("null")
	f.why = why
	return errFoundNull
}

// message reads the rest of a value of message type md whose first token is tok.
func (f *nullFinder) message(md protoreflect.MessageDescriptor, tok json.Token, path string) error {
	if ownJSON(md) || tok != json.Delim('{') {
		return f.skip(tok)
	}
	fields := md.Fields()
	for {
		key, err := f.dec.Token()
		if err != nil {
			return err
		}
		name, ok := key.(string)
		if !ok {
			return nil // the closing brace
		}
		fd := fields.ByJSONName(name)
		if fd == nil {
			fd = fields.ByTextName(name)
		}
		val, err := f.dec.Token()
		if err != nil {
			return err
		}
		if fd == nil {
			if err := f.skip(val); err != nil {
				return err
			}
			continue
		}
		if err := f.field(fd, val, join(path, fd.JSONName())); err != nil {
			return err
		}
	}
}

// field reads the rest of fd's value, whose first token is tok.
func (f *nullFinder) field(fd protoreflect.FieldDescriptor, tok json.Token, path string) error {
	if tok == nil {
		if fieldNull(fd) == nullRefused {
			return f.found(fmt.Sprintf("field %s is null: a repeated %s field cannot be null; send [] or leave the field out", path, elementType(fd)))
		}
		return nil
	}
	switch {
	case fd.IsMap() && tok == json.Delim('{'):
		vd := fd.MapValue()
		for {
			key, err := f.dec.Token()
			if err != nil {
				return err
			}
			k, ok := key.(string)
			if !ok {
				return nil
			}
			if fd.MapKey().Kind() == protoreflect.StringKind {
				k = strconv.Quote(k)
			}
			val, err := f.dec.Token()
			if err != nil {
				return err
			}
			if err := f.element(vd, val, path+"["+k+"]", "a map cannot hold null; leave the entry out"); err != nil {
				return err
			}
		}
	case fd.IsList() && tok == json.Delim('['):
		for i := 0; ; i++ {
			val, err := f.dec.Token()
			if err != nil {
				return err
			}
			if val == json.Delim(']') {
				return nil
			}
			if err := f.element(fd, val, path+"["+strconv.Itoa(i)+"]", "a list cannot hold null; leave the element out"); err != nil {
				return err
			}
		}
	case !fd.IsMap() && !fd.IsList() && fd.Message() != nil:
		return f.message(fd.Message(), tok, path)
	}
	return f.skip(tok)
}

// element reads one list element or map value of type fd, whose first token is tok.
func (f *nullFinder) element(fd protoreflect.FieldDescriptor, tok json.Token, path, refusal string) error {
	switch {
	case tok == nil && elementNull(fd) == nullRefused:
		return f.found("field " + path + " is null: " + refusal)
	case fd.Message() != nil:
		return f.message(fd.Message(), tok, path)
	}
	return f.skip(tok)
}

// skip reads the rest of a value whose first token is tok.
func (f *nullFinder) skip(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := f.dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// elementType names the type of a repeated Value or NullValue field's elements.
func elementType(fd protoreflect.FieldDescriptor) protoreflect.FullName {
	if md := fd.Message(); md != nil {
		return md.FullName()
	}
	return fd.Enum().FullName()
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
