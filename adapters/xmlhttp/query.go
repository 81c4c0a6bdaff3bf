package xmlhttp

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// queryField is a request field a GET sends as query parameters: a scalar, an enum, a repeated
// one (a parameter per value), or a message, whose fields are sent under "name.sub".
type queryField struct {
	fd     protoreflect.FieldDescriptor
	name   string       // the parameter's name: the field's XML name (xml option, else JSON name)
	nested []queryField // for a message field other than the well-known scalars
}

// planQuery lists the fields of md a GET sends in its query, leaving out the top-level fields
// the URL template uses (skip). A map field is refused: a query has no agreed form for one.
func planQuery(md protoreflect.MessageDescriptor, skip map[protoreflect.FieldNumber]bool) ([]queryField, error) {
	return planQueryDepth(md, skip, "", 0)
}

func planQueryDepth(md protoreflect.MessageDescriptor, skip map[protoreflect.FieldNumber]bool, prefix string, depth int) ([]queryField, error) {
	if depth > 8 {
		return nil, fmt.Errorf("the request %s nests messages too deeply (or recursively) for a query string", md.FullName())
	}
	var out []queryField
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if skip[fd.Number()] {
			continue
		}
		qf := queryField{fd: fd, name: prefix + paramName(fd)}
		switch {
		case fd.IsMap():
			return nil, fmt.Errorf("the request field %s is a map, which a GET cannot send in its query; use a POST, or a repeated message", fd.Name())
		case fd.Message() != nil && !scalarMessage(fd.Message()):
			if fd.IsList() {
				return nil, fmt.Errorf("the request field %s is a repeated message, which a GET cannot send in its query; use a POST", fd.Name())
			}
			nested, err := planQueryDepth(fd.Message(), nil, qf.name+".", depth+1)
			if err != nil {
				return nil, err
			}
			qf.nested = nested
		}
		out = append(out, qf)
	}
	return out, nil
}

// paramName is the name a field's query parameter has: its XML name, as the field would be
// named in a document.
func paramName(fd protoreflect.FieldDescriptor) string {
	if x, _ := proto.GetExtension(fd.Options(), agentbridgev1.E_Xml).(*agentbridgev1.XmlField); x.GetName() != "" {
		return x.GetName()
	}
	return fd.JSONName()
}

// scalarMessage reports whether a message type is sent as one value: Timestamp, Duration and
// the wrappers.
func scalarMessage(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration",
		"google.protobuf.StringValue", "google.protobuf.BytesValue", "google.protobuf.BoolValue",
		"google.protobuf.Int32Value", "google.protobuf.Int64Value", "google.protobuf.UInt32Value",
		"google.protobuf.UInt64Value", "google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return true
	}
	return false
}

// queryString writes the query of a GET: each field that is set (a field without presence
// when it is not its zero value), in field order.
func (op *Operation) queryString(m protoreflect.Message) (string, error) {
	var b strings.Builder
	err := writeQuery(&b, op.query, m)
	return b.String(), err
}

func writeQuery(b *strings.Builder, fields []queryField, m protoreflect.Message) error {
	add := func(name, value string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(value))
	}
	for _, qf := range fields {
		fd := qf.fd
		if !m.Has(fd) {
			continue // unset, or a field without presence at its zero value
		}
		v := m.Get(fd)
		switch {
		case qf.nested != nil:
			if err := writeQuery(b, qf.nested, v.Message()); err != nil {
				return err
			}
		case fd.IsList():
			list := v.List()
			for i := range list.Len() {
				s, err := queryValue(fd, list.Get(i))
				if err != nil {
					return err
				}
				add(qf.name, s)
			}
		default:
			s, err := queryValue(fd, v)
			if err != nil {
				return err
			}
			add(qf.name, s)
		}
	}
	return nil
}

// queryValue writes one value as text: scalars as adapters.ScalarText does, a Timestamp in RFC
// 3339, a Duration as Go writes it, a wrapper as its value.
func queryValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (string, error) {
	if fd.Message() == nil {
		return adapters.ScalarText(fd, v), nil
	}
	m := v.Message()
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		secs, nanos := m.Get(md.Fields().ByName("seconds")).Int(), m.Get(md.Fields().ByName("nanos")).Int()
		return time.Unix(secs, nanos).UTC().Format(time.RFC3339Nano), nil
	case "google.protobuf.Duration":
		secs, nanos := m.Get(md.Fields().ByName("seconds")).Int(), m.Get(md.Fields().ByName("nanos")).Int()
		return (time.Duration(secs)*time.Second + time.Duration(nanos)).String(), nil
	}
	inner := md.Fields().ByName("value")
	return adapters.ScalarText(inner, m.Get(inner)), nil
}
