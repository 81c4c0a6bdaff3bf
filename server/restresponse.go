package server

import (
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// response is what the route writes for resp: resp itself, or for a route with a
// response_body, resp wrapped so that grpc-gateway writes the one field.
func (rt *restRoute) response(resp proto.Message) proto.Message {
	if rt.respValue == nil {
		return resp
	}
	return restResponseBody{Message: resp, body: rt.respValue(resp.ProtoReflect())}
}

// restResponseBody stands for the wrapper type protoc-gen-grpc-gateway generates for a
// response_body: grpc-gateway (ForwardResponseMessage, ForwardResponseStream) writes what
// XXX_ResponseBody returns instead of the whole message.
type restResponseBody struct {
	proto.Message
	body any
}

// XXX_ResponseBody returns the response field's value as the generated wrapper would.
func (r restResponseBody) XXX_ResponseBody() any { return r.body }

// responseBodyValue returns the Go value the generated wrapper's XXX_ResponseBody returns for
// fd, or one that grpc-gateway's JSONPb writes byte for byte alike. JSONPb writes such a value
// by its Go type, not by protojson: an int64 as a JSON number, an empty list as null, an enum
// by its name, bytes as standard base64. Messages are written by protojson either way.
func responseBodyValue(fd protoreflect.FieldDescriptor) func(protoreflect.Message) any {
	switch {
	case fd.IsMap():
		value := goValue(fd.MapValue())
		return func(m protoreflect.Message) any {
			out := map[any]any{}
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				out[k.Interface()] = value(v)
				return true
			})
			return out
		}
	case fd.IsList():
		return listGoValue(fd)
	}
	value := goValue(fd)
	if goPointer(fd) || (fd.HasPresence() && fd.Kind() == protoreflect.BytesKind && !inOneof(fd)) {
		// An unset *T (or nil []byte) field is written as null.
		return func(m protoreflect.Message) any {
			if !m.Has(fd) {
				return nil
			}
			if fd.Kind() == protoreflect.BytesKind {
				return append([]byte{}, m.Get(fd).Bytes()...)
			}
			return value(m.Get(fd))
		}
	}
	return func(m protoreflect.Message) any { return value(m.Get(fd)) }
}

// listGoValue is a list field as the generated slice: nil when empty (a response that crossed
// a gRPC connection or proto.Merge has no empty non-nil slices), []proto.Message for messages,
// []restEnum for enums, which JSONPb recognises by their element type, and []any for scalars,
// which encoding/json writes as it would the typed slice.
func listGoValue(fd protoreflect.FieldDescriptor) func(protoreflect.Message) any {
	switch {
	case fd.Message() != nil:
		return func(m protoreflect.Message) any {
			list := m.Get(fd).List()
			if list.Len() == 0 {
				return []proto.Message(nil)
			}
			out := make([]proto.Message, list.Len())
			for i := range out {
				out[i] = list.Get(i).Message().Interface()
			}
			return out
		}
	case fd.Enum() != nil:
		ed := fd.Enum()
		return func(m protoreflect.Message) any {
			list := m.Get(fd).List()
			if list.Len() == 0 {
				return []restEnum(nil)
			}
			out := make([]restEnum, list.Len())
			for i := range out {
				out[i] = restEnum{desc: ed, n: list.Get(i).Enum()}
			}
			return out
		}
	}
	value := goValue(fd)
	return func(m protoreflect.Message) any {
		list := m.Get(fd).List()
		if list.Len() == 0 {
			return []any(nil)
		}
		out := make([]any, list.Len())
		for i := range out {
			out[i] = value(list.Get(i))
		}
		return out
	}
}

// goValue converts one singular value to its generated Go form.
func goValue(fd protoreflect.FieldDescriptor) func(protoreflect.Value) any {
	switch {
	case fd.Message() != nil:
		return func(v protoreflect.Value) any { return v.Message().Interface() }
	case fd.Enum() != nil:
		ed := fd.Enum()
		return func(v protoreflect.Value) any { return restEnum{desc: ed, n: v.Enum()} }
	case fd.Kind() == protoreflect.BytesKind:
		return func(v protoreflect.Value) any {
			if len(v.Bytes()) == 0 {
				return []byte(nil)
			}
			return v.Bytes()
		}
	}
	return protoreflect.Value.Interface
}

// restEnum is an enum value as grpc-gateway's JSONPb sees a generated enum: it has String and
// EnumDescriptor, and is written as String's result.
type restEnum struct {
	desc protoreflect.EnumDescriptor
	n    protoreflect.EnumNumber
}

// String is the value's name, or its number when the enum has no such value, as generated
// String methods do.
func (e restEnum) String() string {
	if v := e.desc.Values().ByNumber(e.n); v != nil {
		return string(v.Name())
	}
	return strconv.Itoa(int(e.n))
}

// EnumDescriptor makes restEnum look like a generated enum to grpc-gateway, which checks for
// the method but does not call it.
func (restEnum) EnumDescriptor() ([]byte, []int) { return nil, nil }
