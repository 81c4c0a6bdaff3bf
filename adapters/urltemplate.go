package adapters

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// PathTemplate is a URL template of an HTTP binding ("/items/{sku}/stock?site={site}"),
// compiled against the request message when a method is bound. Each {field} or {field.sub}
// names a scalar field by its proto name; its value is written path-escaped in the path and
// query-escaped in the query.
type PathTemplate struct {
	raw   string
	parts []templatePart
	// Fields are the top-level fields the template uses, which a kind then leaves out of the
	// query and body.
	Fields map[protoreflect.FieldNumber]bool
}

type templatePart struct {
	literal string
	path    []protoreflect.FieldDescriptor // nil for a literal
	inQuery bool
}

// CompileTemplate checks a template against the request message: every variable must name a
// singular scalar or enum field, through singular message fields.
func CompileTemplate(template string, in protoreflect.MessageDescriptor) (*PathTemplate, error) {
	t := &PathTemplate{raw: template, Fields: map[protoreflect.FieldNumber]bool{}}
	rest := template
	inQuery := false
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return nil, fmt.Errorf("URL template %q has a } without a {", template)
			}
			t.parts = append(t.parts, templatePart{literal: rest})
			break
		}
		lit := rest[:open]
		if strings.IndexByte(lit, '}') >= 0 {
			return nil, fmt.Errorf("URL template %q has a } without a {", template)
		}
		if lit != "" {
			t.parts = append(t.parts, templatePart{literal: lit})
		}
		inQuery = inQuery || strings.IndexByte(lit, '?') >= 0
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("URL template %q has a { without a }", template)
		}
		name := rest[open+1 : open+end]
		path, err := fieldPath(in, name)
		if err != nil {
			return nil, fmt.Errorf("URL template %q: %w", template, err)
		}
		t.parts = append(t.parts, templatePart{path: path, inQuery: inQuery})
		t.Fields[path[0].Number()] = true
		rest = rest[open+end+1:]
	}
	return t, nil
}

// fieldPath resolves a dotted field name ("supplier.id") in md to its fields.
func fieldPath(md protoreflect.MessageDescriptor, name string) ([]protoreflect.FieldDescriptor, error) {
	if name == "" {
		return nil, fmt.Errorf("{} names no field")
	}
	var path []protoreflect.FieldDescriptor
	cur := md
	for i, seg := range strings.Split(name, ".") {
		if cur == nil {
			return nil, fmt.Errorf("{%s}: %s is not a message field", name, path[i-1].Name())
		}
		fd := cur.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			return nil, fmt.Errorf("{%s}: %s has no field %q", name, cur.FullName(), seg)
		}
		if fd.IsList() || fd.IsMap() {
			return nil, fmt.Errorf("{%s}: field %s is repeated; a URL variable takes one value", name, fd.Name())
		}
		path = append(path, fd)
		cur = fd.Message()
	}
	if last := path[len(path)-1]; last.Message() != nil {
		return nil, fmt.Errorf("{%s}: field %s is a message; name one of its scalar fields", name, last.Name())
	}
	return path, nil
}

// String returns the template as written.
func (t *PathTemplate) String() string { return t.raw }

// Expand writes the template with the request's values. A variable whose field is not set (a
// field with presence left unset, or an empty string) is an error: the URL would name another
// resource, or none.
func (t *PathTemplate) Expand(m protoreflect.Message) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.path == nil {
			b.WriteString(p.literal)
			continue
		}
		text, ok := pathValue(m, p.path)
		if !ok || (!p.inQuery && text == "") {
			return "", fmt.Errorf("%s is required: the URL %s takes it", dotted(p.path), t.raw)
		}
		if p.inQuery {
			b.WriteString(url.QueryEscape(text))
		} else {
			b.WriteString(url.PathEscape(text))
		}
	}
	return b.String(), nil
}

func dotted(path []protoreflect.FieldDescriptor) string {
	names := make([]string, len(path))
	for i, fd := range path {
		names[i] = string(fd.Name())
	}
	return strings.Join(names, ".")
}

// pathValue reads the scalar at path; ok is false when a field with presence on the way is unset.
func pathValue(m protoreflect.Message, path []protoreflect.FieldDescriptor) (string, bool) {
	for _, fd := range path[:len(path)-1] {
		if !m.Has(fd) {
			return "", false
		}
		m = m.Get(fd).Message()
	}
	last := path[len(path)-1]
	if last.HasPresence() && !m.Has(last) {
		return "", false
	}
	return ScalarText(last, m.Get(last)), true
}

// ScalarText writes a scalar or enum value as text for a URL, a query, a form or a header: the
// way protojson writes it, without quotes (enums by name, bytes as standard base64, floats in
// the shortest form that reads back).
func ScalarText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return strconv.FormatInt(int64(v.Enum()), 10)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	case protoreflect.FloatKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 32)
	case protoreflect.DoubleKind:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	}
	return v.String()
}
