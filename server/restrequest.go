package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// restRoute is one REST binding of a method, prepared when the server is built so that a call
// only reads its request: how the body fills the message, how each path variable is converted,
// which fields the query may set and what the response body is.
type restRoute struct {
	m     *method
	route httpRoute
	// body decodes a body bound to one field (route.Body names it); nil for "" and "*".
	body      func(dec runtime.Decoder, msg protoreflect.Message, opts protojson.UnmarshalOptions) error
	bodyField protoreflect.FieldDescriptor
	// patchMask is the request's one FieldMask field when the route is a PATCH with a message
	// field body: generated code then fills the mask from the body's keys unless the call set it
	// (grpc-gateway's allow_patch_feature, on by default).
	patchMask      protoreflect.FieldDescriptor
	patchMaskPaths protoreflect.FieldDescriptor // the mask's paths field
	params         []pathParam
	// query says whether fields remain for query parameters; generated code reads no query (and
	// so does not fail on a malformed one) when every field is bound by the path or the body.
	query  bool
	filter *utilities.DoubleArray // the path and body fields, which the query may not set
	// ownEnums says the query can reach an enum that grpc-gateway's query parser cannot look up
	// (it only knows enums linked into the binary); populateQuery then parses those itself.
	ownEnums bool
	// respValue is what a response_body route writes instead of the whole response.
	respValue func(protoreflect.Message) any
}

// pathParam is one variable of a route's path template.
type pathParam struct {
	name string // the field path, e.g. sku or item.sku
	set  func(msg proto.Message, val string) error
}

func newRESTRoute(m *method, r httpRoute) (*restRoute, error) {
	in := m.desc.Input()
	rt := &restRoute{m: m, route: r}
	if r.Body != "" && r.Body != "*" {
		fd := in.Fields().ByName(protoreflect.Name(r.Body))
		rt.bodyField = fd
		rt.body = fieldBodyDecoder(fd)
		if r.Verb == http.MethodPatch && fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
			if rt.patchMask = onlyFieldMask(in); rt.patchMask != nil {
				rt.patchMaskPaths = rt.patchMask.Message().Fields().ByName("paths")
			}
		}
	}
	for _, name := range r.PathFields {
		fields, err := fieldByPath(in, name)
		if err != nil {
			return nil, err
		}
		set, err := pathSetter(name, fields)
		if err != nil {
			return nil, err
		}
		rt.params = append(rt.params, pathParam{name: name, set: set})
	}
	rt.query, rt.filter = queryFilter(in, r)
	rt.ownEnums = rt.query && reachesOwnEnum(in, map[protoreflect.FullName]bool{})
	if r.ResponseBody != "" {
		rt.respValue = responseBodyValue(m.desc.Output().Fields().ByName(protoreflect.Name(r.ResponseBody)))
	}
	return rt, nil
}

// decode builds the request message in the order generated code does: the body, then the path
// variables (which win over the body), then the query; it then drains the body so the
// connection can be reused. Errors are InvalidArgument with generated code's wording.
func (rt *restRoute) decode(marshaler runtime.Marshaler, req *http.Request, pathParams map[string]string) (proto.Message, error) {
	msg := rt.m.newInput()
	switch {
	case rt.route.Body == "*":
		if err := decodeBody(marshaler, req.Body, req.ContentLength, msg); err != nil && !errors.Is(err, io.EOF) {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
	case rt.patchMask != nil:
		newReader, err := utilities.IOReaderFactory(req.Body)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		m := msg.ProtoReflect()
		if err := rt.body(marshaler.NewDecoder(newReader()), m, unmarshalOptions(marshaler)); err != nil && !errors.Is(err, io.EOF) {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		if !m.Has(rt.patchMask) || m.Get(rt.patchMask).Message().Get(rt.patchMaskPaths).List().Len() == 0 {
			mask, err := runtime.FieldMaskFromRequestBody(newReader(), m.Get(rt.bodyField).Message().Interface())
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "%v", err)
			}
			m.Set(rt.patchMask, protoreflect.ValueOfMessage(mask.ProtoReflect()))
		}
	case rt.body != nil:
		if err := rt.body(marshaler.NewDecoder(req.Body), msg.ProtoReflect(), unmarshalOptions(marshaler)); err != nil && !errors.Is(err, io.EOF) {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
	}
	for _, p := range rt.params {
		val, ok := pathParams[p.name]
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "missing parameter %s", p.name)
		}
		if err := p.set(msg, val); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "type mismatch, parameter: %s, error: %v", p.name, err)
		}
	}
	if rt.query {
		if err := req.ParseForm(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		if err := rt.populateQuery(msg, req.Form); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
	}
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	return msg, nil
}

// decodeBody decodes the request body into msg as marshaler's decoder does: the first JSON
// value, io.EOF for an empty body. A body that is exactly one value of msg's type, as nearly
// every request is, is read whole and unmarshalled in one step, without the decoder's
// scanning and copying; any other (an error, data after the value) is decoded again by the
// decoder from the same bytes, so its answer is the decoder's own.
func decodeBody(marshaler runtime.Marshaler, body io.Reader, size int64, msg proto.Message) error {
	j, ok := marshaler.(*gatewayJSON)
	if !ok {
		return marshaler.NewDecoder(body).Decode(msg)
	}
	data, err := readBody(body, size)
	if err != nil {
		// The decoder says what a failed read means (a body over the bound, a broken
		// connection) in its words.
		return marshaler.NewDecoder(io.MultiReader(bytes.NewReader(data), failedReader{err})).Decode(msg)
	}
	if len(bytes.TrimLeft(data, " \t\r\n")) == 0 {
		return io.EOF
	}
	if j.dec.Unmarshal(data, msg) == nil {
		return nil
	}
	proto.Reset(msg)
	return marshaler.NewDecoder(bytes.NewReader(data)).Decode(msg)
}

// readBody reads body to its end, into a buffer of size bytes (the request's Content-Length,
// -1 when unknown) when that is small: io.ReadAll starts at 512 bytes, where a usual request
// body is tens. A larger or unknown size starts at 512 bytes and grows as io.ReadAll would;
// the bound on the body is the reader's (http.MaxBytesReader), not the size a client declares.
func readBody(body io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > 64<<10 {
		return io.ReadAll(body)
	}
	b := make([]byte, 0, size+1) // one byte more, so the read that finds the end needs no growth
	for {
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return b, nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // more than declared: grow as append does
		}
	}
}

// failedReader fails every read with err.
type failedReader struct{ err error }

func (r failedReader) Read([]byte) (int, error) { return 0, r.err }

// unmarshalOptions are the protojson options of the marshaler's decoder, which generated code
// uses for message-typed field bodies.
func unmarshalOptions(m runtime.Marshaler) protojson.UnmarshalOptions {
	switch j := m.(type) {
	case *gatewayJSON:
		return j.UnmarshalOptions
	case *runtime.JSONPb:
		return j.UnmarshalOptions
	}
	return jsonUnmarshal
}

// onlyFieldMask returns the request's FieldMask field when it has exactly one, as
// protoc-gen-grpc-gateway's PATCH handling requires.
func onlyFieldMask(md protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	var found protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() != nil && fd.Message().FullName() == "google.protobuf.FieldMask" {
			if found != nil {
				return nil
			}
			found = fd
		}
	}
	if found != nil && (found.IsList() || found.IsMap()) {
		return nil
	}
	return found
}

// queryFilter says whether a route reads query parameters and which field paths they may not
// set, as protoc-gen-grpc-gateway computes them (HasQueryParam, QueryParamFilter).
func queryFilter(md protoreflect.MessageDescriptor, r httpRoute) (bool, *utilities.DoubleArray) {
	if r.Body == "*" {
		return false, nil
	}
	var seqs [][]string
	if r.Body != "" {
		seqs = append(seqs, strings.Split(r.Body, "."))
	}
	for _, p := range r.PathFields {
		seqs = append(seqs, strings.Split(p, "."))
	}
	filter := utilities.NewDoubleArray(seqs)
	fields := md.Fields()
	for i := range fields.Len() {
		// A nested path variable (item.sku) leaves its top-level field (item) to the query too.
		name := string(fields.Get(i).Name())
		if name != r.Body && !slices.Contains(r.PathFields, name) {
			return true, filter
		}
	}
	return false, filter
}

// ---- path variables ----

// pathSetter returns how generated code sets a path variable: nested fields of proto3 messages
// through runtime.PopulateFieldFromPath, every other field through the runtime conversion
// function protoc-gen-grpc-gateway picks for its type (runtime.Int32, runtime.StringSlice with
// ",", runtime.Enum, runtime.Timestamp, ...).
func pathSetter(name string, fields []protoreflect.FieldDescriptor) (func(proto.Message, string) error, error) {
	leaf := fields[len(fields)-1]
	if leaf.IsMap() {
		return nil, fmt.Errorf("path variable %s is a map field; only scalars, enums and well-known types can be bound to a path", name)
	}
	if leaf.Message() != nil && !wellKnownPathType(leaf.Message().FullName(), len(fields) > 1) {
		return nil, fmt.Errorf("path variable %s is a message field; only scalars, enums and well-known types can be bound to a path", name)
	}
	if len(fields) > 1 && fields[0].ParentFile().Syntax() != protoreflect.Proto2 {
		if e := leaf.Enum(); e != nil && ownEnum(e) {
			path := strings.Split(name, ".")
			return func(msg proto.Message, val string) error {
				return populateOwnEnum(msg.ProtoReflect(), path, []string{val}, false)
			}, nil
		}
		return func(msg proto.Message, val string) error {
			return runtime.PopulateFieldFromPath(msg, name, val)
		}, nil
	}
	parents := fields[:len(fields)-1]
	target := func(msg proto.Message) protoreflect.Message {
		m := msg.ProtoReflect()
		for _, fd := range parents {
			m = m.Mutable(fd).Message()
		}
		return m
	}
	if leaf.IsList() {
		conv, err := pathListConverter(leaf)
		if err != nil {
			return nil, fmt.Errorf("path variable %s: %w", name, err)
		}
		return func(msg proto.Message, val string) error {
			values, err := conv(val)
			if err != nil {
				return err
			}
			m := target(msg)
			m.Clear(leaf)
			list := m.Mutable(leaf).List()
			for _, v := range values {
				list.Append(v)
			}
			return nil
		}, nil
	}
	conv, err := pathConverter(leaf)
	if err != nil {
		return nil, fmt.Errorf("path variable %s: %w", name, err)
	}
	return func(msg proto.Message, val string) error {
		v, err := conv(val)
		if err != nil {
			return err
		}
		target(msg).Set(leaf, v)
		return nil
	}, nil
}

// wellKnownPathType says whether a message type can be bound to a path variable: the wrappers,
// Timestamp and Duration have conversion functions; a nested variable goes through
// runtime.PopulateFieldFromPath, which also parses FieldMask, Struct and Value.
func wellKnownPathType(name protoreflect.FullName, nested bool) bool {
	if _, ok := wellKnownPathConverters[name]; ok {
		return true
	}
	return nested && strings.HasPrefix(string(name), "google.protobuf.")
}

func convert[T any](parse func(string) (T, error), value func(T) protoreflect.Value) func(string) (protoreflect.Value, error) {
	return func(s string) (protoreflect.Value, error) {
		v, err := parse(s)
		if err != nil {
			return protoreflect.Value{}, err
		}
		return value(v), nil
	}
}

func convertList[T any](parse func(string, string) ([]T, error), value func(T) protoreflect.Value) func(string) ([]protoreflect.Value, error) {
	return func(s string) ([]protoreflect.Value, error) {
		vs, err := parse(s, ",")
		if err != nil {
			return nil, err
		}
		out := make([]protoreflect.Value, len(vs))
		for i, v := range vs {
			out[i] = value(v)
		}
		return out, nil
	}
}

func messageValue[T proto.Message](m T) protoreflect.Value {
	return protoreflect.ValueOfMessage(m.ProtoReflect())
}

var wellKnownPathConverters = map[protoreflect.FullName]func(string) (protoreflect.Value, error){
	"google.protobuf.Timestamp":   convert(runtime.Timestamp, messageValue),
	"google.protobuf.Duration":    convert(runtime.Duration, messageValue),
	"google.protobuf.StringValue": convert(runtime.StringValue, messageValue),
	"google.protobuf.FloatValue":  convert(runtime.FloatValue, messageValue),
	"google.protobuf.DoubleValue": convert(runtime.DoubleValue, messageValue),
	"google.protobuf.BoolValue":   convert(runtime.BoolValue, messageValue),
	"google.protobuf.BytesValue":  convert(runtime.BytesValue, messageValue),
	"google.protobuf.Int32Value":  convert(runtime.Int32Value, messageValue),
	"google.protobuf.UInt32Value": convert(runtime.UInt32Value, messageValue),
	"google.protobuf.Int64Value":  convert(runtime.Int64Value, messageValue),
	"google.protobuf.UInt64Value": convert(runtime.UInt64Value, messageValue),
}

// pathConverter is the conversion of a singular path variable. Generated code calls the
// pointer variant (runtime.Int32P) for fields with presence; it parses alike.
func pathConverter(fd protoreflect.FieldDescriptor) (func(string) (protoreflect.Value, error), error) {
	switch fd.Kind() {
	case protoreflect.DoubleKind:
		return convert(runtime.Float64, protoreflect.ValueOfFloat64), nil
	case protoreflect.FloatKind:
		return convert(runtime.Float32, protoreflect.ValueOfFloat32), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return convert(runtime.Int64, protoreflect.ValueOfInt64), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return convert(runtime.Uint64, protoreflect.ValueOfUint64), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return convert(runtime.Int32, protoreflect.ValueOfInt32), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return convert(runtime.Uint32, protoreflect.ValueOfUint32), nil
	case protoreflect.BoolKind:
		return convert(runtime.Bool, protoreflect.ValueOfBool), nil
	case protoreflect.StringKind:
		return convert(runtime.String, protoreflect.ValueOfString), nil
	case protoreflect.BytesKind:
		return convert(runtime.Bytes, protoreflect.ValueOfBytes), nil
	case protoreflect.EnumKind:
		values := enumValueMap(fd.Enum())
		return convert(func(s string) (int32, error) { return runtime.Enum(s, values) }, enumValue), nil
	case protoreflect.MessageKind:
		if conv, ok := wellKnownPathConverters[fd.Message().FullName()]; ok {
			return conv, nil
		}
	}
	return nil, fmt.Errorf("a %s field cannot be bound to a path", fd.Kind())
}

// pathListConverter is the conversion of a repeated path variable: comma-separated values.
func pathListConverter(fd protoreflect.FieldDescriptor) (func(string) ([]protoreflect.Value, error), error) {
	switch fd.Kind() {
	case protoreflect.DoubleKind:
		return convertList(runtime.Float64Slice, protoreflect.ValueOfFloat64), nil
	case protoreflect.FloatKind:
		return convertList(runtime.Float32Slice, protoreflect.ValueOfFloat32), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return convertList(runtime.Int64Slice, protoreflect.ValueOfInt64), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return convertList(runtime.Uint64Slice, protoreflect.ValueOfUint64), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return convertList(runtime.Int32Slice, protoreflect.ValueOfInt32), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return convertList(runtime.Uint32Slice, protoreflect.ValueOfUint32), nil
	case protoreflect.BoolKind:
		return convertList(runtime.BoolSlice, protoreflect.ValueOfBool), nil
	case protoreflect.StringKind:
		return convertList(runtime.StringSlice, protoreflect.ValueOfString), nil
	case protoreflect.BytesKind:
		return convertList(runtime.BytesSlice, protoreflect.ValueOfBytes), nil
	case protoreflect.EnumKind:
		values := enumValueMap(fd.Enum())
		return convertList(func(s, sep string) ([]int32, error) { return runtime.EnumSlice(s, sep, values) }, enumValue), nil
	}
	return nil, fmt.Errorf("a repeated %s field cannot be bound to a path", fd.Kind())
}

func enumValue(n int32) protoreflect.Value {
	return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n))
}

// enumValueMap is the generated X_value map of an enum: every value name to its number.
func enumValueMap(ed protoreflect.EnumDescriptor) map[string]int32 {
	values := ed.Values()
	m := make(map[string]int32, values.Len())
	for i := range values.Len() {
		m[string(values.Get(i).Name())] = int32(values.Get(i).Number())
	}
	return m
}

// ---- field bodies ----

// fieldBodyDecoder returns how generated code decodes a body bound to one field,
// marshaler.NewDecoder(body).Decode(&protoReq.Field): grpc-gateway's JSONPb decodes such a
// value by its Go type (decodeNonProtoField), not by protojson, so a field body of an int64
// takes a JSON number and an enum takes only its number. Dynamic messages have no Go fields, so
// this decodes into a Go value of the type protoc-gen-go generates where that type is not itself
// generated (scalars, and lists and maps of them), which takes the same path through JSONPb, and
// repeats JSONPb's steps for messages and enums: the same JSON, the same errors.
func fieldBodyDecoder(fd protoreflect.FieldDescriptor) func(runtime.Decoder, protoreflect.Message, protojson.UnmarshalOptions) error {
	switch {
	case fd.IsMap():
		return mapBodyDecoder(fd)
	case fd.IsList():
		return listBodyDecoder(fd)
	case fd.Message() != nil:
		return func(dec runtime.Decoder, msg protoreflect.Message, opts protojson.UnmarshalOptions) error {
			sub := msg.Mutable(fd).Message() // set before decoding, so an empty body leaves it empty but set
			var raw rawJSON
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			return opts.Unmarshal(raw.data, sub.Interface())
		}
	case fd.Enum() != nil:
		goName := enumGoName(fd.Enum())
		preset := goPointer(fd) || inOneof(fd)
		return func(dec runtime.Decoder, msg protoreflect.Message, _ protojson.UnmarshalOptions) error {
			if preset {
				msg.Set(fd, protoreflect.ValueOfEnum(0))
			}
			var repr any
			if err := dec.Decode(&repr); err != nil {
				return err
			}
			n, err := enumFromJSON(repr, goName)
			if err != nil {
				return err
			}
			msg.Set(fd, protoreflect.ValueOfEnum(n))
			return nil
		}
	}
	typ := goScalarType(fd.Kind())
	zero := protoreflect.ValueOf(reflect.Zero(typ).Interface())
	if goPointer(fd) {
		// A *T field: decoding allocates it first, and JSON null sets it back to nil.
		return func(dec runtime.Decoder, msg protoreflect.Message, _ protojson.UnmarshalOptions) error {
			p := reflect.New(reflect.PointerTo(typ))
			p.Elem().Set(reflect.New(typ))
			err := dec.Decode(p.Interface())
			if p.Elem().IsNil() {
				msg.Clear(fd)
			} else {
				msg.Set(fd, protoreflect.ValueOf(p.Elem().Elem().Interface()))
			}
			return err
		}
	}
	oneof := inOneof(fd)
	return func(dec runtime.Decoder, msg protoreflect.Message, _ protojson.UnmarshalOptions) error {
		if oneof {
			msg.Set(fd, zero)
		}
		v := reflect.New(typ)
		if err := dec.Decode(v.Interface()); err != nil {
			return err
		}
		msg.Set(fd, protoreflect.ValueOf(v.Elem().Interface()))
		return nil
	}
}

func listBodyDecoder(fd protoreflect.FieldDescriptor) func(runtime.Decoder, protoreflect.Message, protojson.UnmarshalOptions) error {
	elem, fromGo := bodyElemType(fd)
	sliceType := reflect.SliceOf(elem)
	return func(dec runtime.Decoder, msg protoreflect.Message, opts protojson.UnmarshalOptions) error {
		p := reflect.New(sliceType)
		if err := dec.Decode(p.Interface()); err != nil {
			return err
		}
		s := p.Elem()
		if s.IsNil() {
			return nil
		}
		list := msg.Mutable(fd).List()
		for i := range s.Len() {
			v, err := fromGo(s.Index(i).Interface(), list.NewElement, opts)
			if err != nil {
				return err
			}
			list.Append(v)
		}
		return nil
	}
}

func mapBodyDecoder(fd protoreflect.FieldDescriptor) func(runtime.Decoder, protoreflect.Message, protojson.UnmarshalOptions) error {
	elem, fromGo := bodyElemType(fd.MapValue())
	mapType := reflect.MapOf(goScalarType(fd.MapKey().Kind()), elem)
	return func(dec runtime.Decoder, msg protoreflect.Message, opts protojson.UnmarshalOptions) error {
		p := reflect.New(mapType)
		if err := dec.Decode(p.Interface()); err != nil {
			return err
		}
		m := msg.Mutable(fd).Map()
		iter := p.Elem().MapRange()
		for iter.Next() {
			v, err := fromGo(iter.Value().Interface(), m.NewValue, opts)
			if err != nil {
				return err
			}
			m.Set(protoreflect.ValueOf(iter.Key().Interface()).MapKey(), v)
		}
		return nil
	}
}

// bodyElemType is the Go type a list element or map value of a field body decodes into, and
// how that Go value becomes the field's value.
func bodyElemType(fd protoreflect.FieldDescriptor) (reflect.Type, func(any, func() protoreflect.Value, protojson.UnmarshalOptions) (protoreflect.Value, error)) {
	switch {
	case fd.Message() != nil:
		return reflect.TypeFor[rawJSON](), func(v any, newValue func() protoreflect.Value, opts protojson.UnmarshalOptions) (protoreflect.Value, error) {
			m := newValue()
			return m, opts.Unmarshal(v.(rawJSON).data, m.Message().Interface())
		}
	case fd.Enum() != nil:
		goName := enumGoName(fd.Enum())
		return reflect.TypeFor[any](), func(v any, _ func() protoreflect.Value, _ protojson.UnmarshalOptions) (protoreflect.Value, error) {
			n, err := enumFromJSON(v, goName)
			return protoreflect.ValueOfEnum(n), err
		}
	}
	return goScalarType(fd.Kind()), func(v any, _ func() protoreflect.Value, _ protojson.UnmarshalOptions) (protoreflect.Value, error) {
		return protoreflect.ValueOf(v), nil
	}
}

// rawJSON captures one JSON value as it is. It is a struct, not a []byte, so grpc-gateway's
// decoder hands it to encoding/json (which calls UnmarshalJSON) rather than decoding base64.
type rawJSON struct{ data []byte }

// UnmarshalJSON keeps a copy of the value.
func (r *rawJSON) UnmarshalJSON(b []byte) error {
	r.data = append([]byte(nil), b...)
	return nil
}

// enumFromJSON is grpc-gateway's decoding of a JSON value into a generated enum field
// (decodeNonProtoField): a number in int32 range, never a name.
func enumFromJSON(repr any, goName string) (protoreflect.EnumNumber, error) {
	switch v := repr.(type) {
	case string:
		return 0, fmt.Errorf("unmarshaling of symbolic enum %q not supported: %s", repr, goName)
	case float64:
		if v != math.Trunc(v) || v < math.MinInt32 || v > math.MaxInt32 {
			return 0, fmt.Errorf("%v is not a valid value for enum %s", repr, goName)
		}
		return protoreflect.EnumNumber(int32(v)), nil
	default:
		return 0, fmt.Errorf("cannot assign %#v into Go type %s", repr, goName)
	}
}

// enumGoName names an enum in errors as generated code does (%T of the Go enum type), or by
// its full name when it has no Go type.
func enumGoName(ed protoreflect.EnumDescriptor) string {
	if et, err := protoregistry.GlobalTypes.FindEnumByName(ed.FullName()); err == nil && et.Descriptor() == ed {
		return fmt.Sprintf("%T", et.New(0))
	}
	return string(ed.FullName())
}

// goScalarType is the Go type protoc-gen-go gives a scalar field; nil for enums and messages.
func goScalarType(k protoreflect.Kind) reflect.Type {
	switch k {
	case protoreflect.BoolKind:
		return reflect.TypeFor[bool]()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return reflect.TypeFor[int32]()
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return reflect.TypeFor[int64]()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return reflect.TypeFor[uint32]()
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return reflect.TypeFor[uint64]()
	case protoreflect.FloatKind:
		return reflect.TypeFor[float32]()
	case protoreflect.DoubleKind:
		return reflect.TypeFor[float64]()
	case protoreflect.StringKind:
		return reflect.TypeFor[string]()
	case protoreflect.BytesKind:
		return reflect.TypeFor[[]byte]()
	}
	return nil
}

// goPointer says whether protoc-gen-go makes a singular scalar or enum field a pointer: it has
// presence (proto2 optional, proto3 optional) and is not a bytes field or a oneof member.
func goPointer(fd protoreflect.FieldDescriptor) bool {
	return fd.HasPresence() && fd.Message() == nil && fd.Kind() != protoreflect.BytesKind && !inOneof(fd)
}

// inOneof says whether a field is a member of a real (not synthetic) oneof.
func inOneof(fd protoreflect.FieldDescriptor) bool {
	of := fd.ContainingOneof()
	return of != nil && !of.IsSynthetic()
}

// ---- query parameters and enums not linked into the binary ----

// populateQuery sets query parameters with runtime.PopulateQueryParameters. That parser finds
// enums only in protoregistry.GlobalTypes, so for requests that reach an enum of a contract
// loaded at run time, the keys naming such enums are set here, by the same rules and with the
// same errors, and the rest still by grpc-gateway.
func (rt *restRoute) populateQuery(msg proto.Message, form url.Values) error {
	if !rt.ownEnums {
		return runtime.PopulateQueryParameters(msg, form, rt.filter)
	}
	m := msg.ProtoReflect()
	var own []string
	rest := make(url.Values, len(form))
	for key, values := range form {
		if rt.ownEnumKey(m.Descriptor(), key) {
			own = append(own, key)
		} else {
			rest[key] = values
		}
	}
	if err := runtime.PopulateQueryParameters(msg, rest, rt.filter); err != nil {
		return err
	}
	seen := make(map[string]struct{}, len(own))
	for _, key := range own {
		values := form[key]
		fieldKey, mapKey := key, ""
		if match := queryMapKey.FindStringSubmatch(key); len(match) == 3 {
			fieldKey, mapKey = match[1], "["+match[2]+"]"
			values = append([]string{match[2]}, values...)
		}
		fieldPath := normalizeQueryPath(m.Descriptor(), strings.Split(fieldKey, "."))
		field := strings.Join(fieldPath, ".") + mapKey
		if _, ok := seen[field]; ok {
			return fmt.Errorf("duplicate field %q", field)
		}
		seen[field] = struct{}{}
		if err := populateOwnEnum(m, fieldPath, values, mapKey != ""); err != nil {
			return err
		}
	}
	return nil
}

// queryMapKey is grpc-gateway's syntax for a map entry in a query: field[key]=value.
var queryMapKey = regexp.MustCompile(`^(.*)\[(.*)\]$`)

// ownEnumKey says whether a query key sets an enum (or a map of enums) that grpc-gateway
// cannot look up, and that the route's filter does not exclude.
func (rt *restRoute) ownEnumKey(md protoreflect.MessageDescriptor, key string) bool {
	if match := queryMapKey.FindStringSubmatch(key); len(match) == 3 {
		key = match[1]
	}
	path := normalizeQueryPath(md, strings.Split(key, "."))
	if rt.filter.HasCommonPrefix(path) || containsFilteredField(rt.filter, path) {
		return false
	}
	var fd protoreflect.FieldDescriptor
	for i, name := range path {
		fields := md.Fields()
		if fd = fields.ByName(protoreflect.Name(name)); fd == nil {
			if fd = fields.ByJSONName(name); fd == nil {
				return false
			}
		}
		if i < len(path)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return false
			}
			md = fd.Message()
		}
	}
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	return fd.Enum() != nil && ownEnum(fd.Enum())
}

// normalizeQueryPath is grpc-gateway's normalizeFieldPath: JSON names become proto names.
func normalizeQueryPath(md protoreflect.MessageDescriptor, path []string) []string {
	out := make([]string, 0, len(path))
	for i, name := range path {
		fields := md.Fields()
		fd := fields.ByTextName(name)
		if fd == nil {
			fd = fields.ByJSONName(name)
		}
		if fd == nil {
			return path
		}
		out = append(out, string(fd.Name()))
		if i == len(path)-1 {
			break
		}
		if fd.Message() == nil || fd.Cardinality() == protoreflect.Repeated {
			return path
		}
		md = fd.Message()
	}
	return out
}

// containsFilteredField is grpc-gateway's: whether path names a field that contains a filtered
// one, such as id for a path variable bound to id.value.
func containsFilteredField(filter *utilities.DoubleArray, path []string) bool {
	if len(filter.Base) == 0 {
		return false
	}
	var i int
	for _, t := range path {
		code, ok := filter.Encoding[t]
		if !ok {
			return false
		}
		j := filter.Base[i] + code
		if len(filter.Check) <= j || filter.Check[j] != i+1 {
			return false
		}
		i = j
	}
	return true
}

// populateOwnEnum is grpc-gateway's populateFieldValueFromPath for a field path that ends at an
// enum (or a map of enums) it cannot look up: the same walk, checks and errors.
func populateOwnEnum(msg protoreflect.Message, path, values []string, hasMapKey bool) error {
	if len(path) < 1 {
		return errors.New("no field path")
	}
	if len(values) < 1 {
		return errors.New("no value provided")
	}
	var fd protoreflect.FieldDescriptor
	for i, name := range path {
		fields := msg.Descriptor().Fields()
		if fd = fields.ByName(protoreflect.Name(name)); fd == nil {
			if fd = fields.ByJSONName(name); fd == nil {
				return nil
			}
		}
		if of := fd.ContainingOneof(); of != nil && !of.IsSynthetic() {
			if f := msg.WhichOneof(of); f != nil && (fd.Message() == nil || fd.FullName() != f.FullName()) {
				return fmt.Errorf("field already set for oneof %q", of.FullName().Name())
			}
		}
		if i == len(path)-1 {
			break
		}
		if fd.Message() == nil || fd.Cardinality() == protoreflect.Repeated {
			return fmt.Errorf("invalid path: %q is not a message", name)
		}
		msg = msg.Mutable(fd).Message()
	}
	if hasMapKey && !fd.IsMap() {
		return fmt.Errorf("field %q is not a map", fd.FullName().Name())
	}
	switch {
	case fd.IsList():
		list := msg.Mutable(fd).List()
		for _, value := range values {
			v, err := parseQueryValue(fd, value)
			if err != nil {
				return fmt.Errorf("parsing list %q: %w", fd.FullName().Name(), err)
			}
			list.Append(v)
		}
		return nil
	case fd.IsMap():
		if len(values) != 2 {
			return fmt.Errorf("more than one value provided for key %q in map %q", values[0], fd.FullName())
		}
		key, err := parseQueryValue(fd.MapKey(), values[0])
		if err != nil {
			return fmt.Errorf("parsing map key %q: %w", fd.FullName().Name(), err)
		}
		value, err := parseQueryValue(fd.MapValue(), values[1])
		if err != nil {
			return fmt.Errorf("parsing map value %q: %w", fd.FullName().Name(), err)
		}
		msg.Mutable(fd).Map().Set(key.MapKey(), value)
		return nil
	}
	if len(values) > 1 {
		return fmt.Errorf("too many values for field %q: %s", fd.FullName().Name(), strings.Join(values, ", "))
	}
	v, err := parseQueryValue(fd, values[0])
	if err != nil {
		return fmt.Errorf("parsing field %q: %w", fd.FullName().Name(), err)
	}
	msg.Set(fd, v)
	return nil
}

// parseQueryValue is grpc-gateway's parseField for what populateOwnEnum meets: an enum, looked
// up in its own descriptor, or a map key.
func parseQueryValue(fd protoreflect.FieldDescriptor, value string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByName(protoreflect.Name(value))
		if ev == nil {
			i, err := strconv.ParseInt(value, 10, 32)
			if err != nil {
				return protoreflect.Value{}, fmt.Errorf("%q is not a valid value", value)
			}
			if ev = fd.Enum().Values().ByNumber(protoreflect.EnumNumber(i)); ev == nil {
				return protoreflect.Value{}, fmt.Errorf("%q is not a valid value", value)
			}
		}
		return protoreflect.ValueOfEnum(ev.Number()), nil
	case protoreflect.BoolKind:
		v, err := strconv.ParseBool(value)
		return protoreflect.ValueOfBool(v), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		v, err := strconv.ParseInt(value, 10, 32)
		return protoreflect.ValueOfInt32(int32(v)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		v, err := strconv.ParseInt(value, 10, 64)
		return protoreflect.ValueOfInt64(v), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		v, err := strconv.ParseUint(value, 10, 32)
		return protoreflect.ValueOfUint32(uint32(v)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		v, err := strconv.ParseUint(value, 10, 64)
		return protoreflect.ValueOfUint64(v), err
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(value), nil
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported field kind %v", fd.Kind())
}

// ownEnum says whether grpc-gateway's query and path parsers cannot use an enum: they look it
// up by name in protoregistry.GlobalTypes, which holds only the enums linked into the binary
// (and might hold another enum of the same name than a contract loaded at run time).
func ownEnum(ed protoreflect.EnumDescriptor) bool {
	et, err := protoregistry.GlobalTypes.FindEnumByName(ed.FullName())
	return err != nil || et.Descriptor() != ed
}

// reachesOwnEnum says whether a query can reach an ownEnum in md: through singular message
// fields, to an enum, a list of enums or a map of enums.
func reachesOwnEnum(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		target := fd
		if fd.IsMap() {
			target = fd.MapValue()
		}
		if e := target.Enum(); e != nil && ownEnum(e) {
			return true
		}
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() && reachesOwnEnum(fd.Message(), seen) {
			return true
		}
	}
	return false
}
