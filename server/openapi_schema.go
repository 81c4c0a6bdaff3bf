package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/server/toolschema"
)

// openAPISchemas builds the schemas of an OpenAPI document from toolschema's and collects the
// shared ones under components/schemas (see openapi.go for why they are hoisted there).
type openAPISchemas struct {
	opts       toolschema.Options
	components map[string]any // by name; nil while a recursive schema is being built
	tools      map[schemaKey]map[string]any
	// messages are the messages reachable from those built, by full name, to find the
	// descriptor of a $defs entry.
	messages map[protoreflect.FullName]protoreflect.MessageDescriptor
}

type schemaKey struct {
	name  protoreflect.FullName
	input bool
}

func newOpenAPISchemas(describe func(protoreflect.FullName) string) *openAPISchemas {
	return &openAPISchemas{
		opts:       toolschema.Options{Describe: describe},
		components: map[string]any{},
		tools:      map[schemaKey]map[string]any{},
		messages:   map[protoreflect.FullName]protoreflect.MessageDescriptor{},
	}
}

const componentPrefix = "#/components/schemas/"

// tool returns toolschema's schema of md as plain JSON values (maps, slices, strings,
// json.Number, bool), built once.
func (c *openAPISchemas) tool(md protoreflect.MessageDescriptor, input bool) (map[string]any, error) {
	key := schemaKey{md.FullName(), input}
	if s, ok := c.tools[key]; ok {
		return s, nil
	}
	var s map[string]any
	var err error
	if input {
		s, err = toolschema.Input(md, c.opts)
	} else {
		s, err = toolschema.Output(md, c.opts)
	}
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", md.FullName(), err)
	}
	plain, err := plainJSON(s)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", md.FullName(), err)
	}
	c.index(md)
	c.tools[key] = plain
	return plain, nil
}

// plainJSON round-trips v through JSON, keeping numbers exact, so that schemas can be copied
// and rewritten with one set of types.
func plainJSON(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *openAPISchemas) index(md protoreflect.MessageDescriptor) {
	if _, seen := c.messages[md.FullName()]; seen {
		return
	}
	c.messages[md.FullName()] = md
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if m := fd.Message(); m != nil {
			c.index(m)
		}
	}
}

func componentName(name string, input bool) string {
	if input {
		return name + inputSuffix
	}
	return name + outputSuffix
}

// ref returns a reference to md's component, building it first if needed.
func (c *openAPISchemas) ref(md protoreflect.MessageDescriptor, input bool) (map[string]any, error) {
	name := componentName(string(md.FullName()), input)
	if _, done := c.components[name]; !done {
		c.components[name] = nil // a recursive message refers to its component while it is built
		s, err := c.messageSchema(md, input)
		if err != nil {
			return nil, err
		}
		c.components[name] = s
	}
	return map[string]any{"$ref": componentPrefix + name}, nil
}

// messageSchema returns a new copy of the schema of md's JSON, its references rewritten to
// components. For a message whose JSON is not an object (Timestamp, wrappers, …), that is the
// JSON value itself: the {"value": …} wrapper is the MCP tools' alone.
func (c *openAPISchemas) messageSchema(md protoreflect.MessageDescriptor, input bool) (map[string]any, error) {
	t, err := c.tool(md, input)
	if err != nil {
		return nil, err
	}
	ctx := schemaContext{tool: t, root: md, input: input}
	if toolschema.Wrapped(md) {
		props, _ := t["properties"].(map[string]any)
		v, _ := props[toolschema.WrapperKey].(map[string]any)
		return c.rewriteObject(v, ctx)
	}
	body := make(map[string]any, len(t))
	for k, v := range t {
		if k != "$schema" && k != "$defs" {
			body[k] = v
		}
	}
	return c.rewriteObject(body, ctx)
}

// fieldSchema returns a new copy of the schema of the last field of path, reached from md
// through singular message fields, as the MCP tool of a method taking (input) or returning md
// describes it.
func (c *openAPISchemas) fieldSchema(md protoreflect.MessageDescriptor, path []protoreflect.FieldDescriptor, input bool) (map[string]any, error) {
	parent := md
	for _, fd := range path[:len(path)-1] {
		parent = fd.Message()
	}
	fd := path[len(path)-1]
	t, err := c.tool(parent, input)
	if err != nil {
		return nil, err
	}
	props, _ := t["properties"].(map[string]any)
	prop, ok := props[fd.JSONName()].(map[string]any)
	if !ok || toolschema.Wrapped(parent) {
		// A field of a well-known type's message (a template such as {ts.seconds}): its JSON
		// form has no such property. Say only that it is a value.
		return map[string]any{"type": "string", "description": fmt.Sprintf("The field %s of %s.", fd.Name(), parent.FullName())}, nil
	}
	return c.rewriteObject(prop, schemaContext{tool: t, root: parent, input: input})
}

// schemaContext is the toolschema schema whose parts are being copied: "#" is its root message,
// "#/$defs/K" one of its $defs.
type schemaContext struct {
	tool  map[string]any
	root  protoreflect.MessageDescriptor
	input bool
}

func (c *openAPISchemas) rewriteObject(v map[string]any, ctx schemaContext) (map[string]any, error) {
	out, err := c.rewrite(v, ctx)
	if err != nil {
		return nil, err
	}
	m, _ := out.(map[string]any)
	return m, nil
}

// rewrite copies v, pointing its references at components.
func (c *openAPISchemas) rewrite(v any, ctx schemaContext) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if ref, ok := x.(string); ok && k == "$ref" {
				target, err := c.component(ref, ctx)
				if err != nil {
					return nil, err
				}
				out[k] = target
				continue
			}
			y, err := c.rewrite(x, ctx)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := c.rewrite(x, ctx)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	default:
		return v, nil
	}
}

// component returns the component reference that replaces a toolschema reference: "#" is the
// root message's component; "#/$defs/K" is K's, built from K's own root schema when K is a
// message whose JSON is an object, else from the $defs entry itself (the forms of Timestamp and
// Duration, toolschema's 64-bit integer strings), which does not depend on the root.
func (c *openAPISchemas) component(ref string, ctx schemaContext) (string, error) {
	if ref == "#" {
		r, err := c.ref(ctx.root, ctx.input)
		if err != nil {
			return "", err
		}
		return r["$ref"].(string), nil
	}
	key, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return "", fmt.Errorf("schema of %s: unexpected reference %q", ctx.root.FullName(), ref)
	}
	if md, isMessage := c.messages[protoreflect.FullName(key)]; isMessage && !toolschema.Wrapped(md) {
		r, err := c.ref(md, ctx.input)
		if err != nil {
			return "", err
		}
		return r["$ref"].(string), nil
	}
	name := componentName(key, ctx.input)
	if _, done := c.components[name]; !done {
		defs, _ := ctx.tool["$defs"].(map[string]any)
		def, ok := defs[key].(map[string]any)
		if !ok {
			return "", fmt.Errorf("schema of %s: no $defs entry %q", ctx.root.FullName(), key)
		}
		c.components[name] = nil
		s, err := c.rewriteObject(def, ctx)
		if err != nil {
			return "", err
		}
		c.components[name] = s
	}
	return componentPrefix + name, nil
}

// resolved returns the schema a reference points to, or schema itself.
func (c *openAPISchemas) resolved(schema map[string]any) map[string]any {
	if ref, ok := schema["$ref"].(string); ok {
		if target, ok := c.components[strings.TrimPrefix(ref, componentPrefix)].(map[string]any); ok {
			return target
		}
	}
	return schema
}

// status returns a reference to the schema of error bodies: google.rpc.Status as toolschema writes
// its output, without "required", because the gateway leaves out fields with zero values.
func (c *openAPISchemas) status() (map[string]any, error) {
	ref := map[string]any{"$ref": componentPrefix + statusSchemaName}
	if _, done := c.components[statusSchemaName]; done {
		return ref, nil
	}
	md := rpcstatus.File_google_rpc_status_proto.Messages().ByName("Status")
	describe := c.opts.Describe
	s, err := toolschema.Output(md, toolschema.Options{Describe: func(n protoreflect.FullName) string {
		if d := statusDescriptions[n]; d != "" {
			return d
		}
		return describe(n)
	}})
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", md.FullName(), err)
	}
	plain, err := plainJSON(s)
	if err != nil {
		return nil, err
	}
	delete(plain, "$schema")
	delete(plain, "required")
	if _, has := plain["$defs"]; has {
		return nil, fmt.Errorf("schema of %s: unexpected $defs", md.FullName())
	}
	c.components[statusSchemaName] = plain
	return ref, nil
}

// withoutField removes the field at path (proto fields, from schema's message) from schema,
// which must be a copy the caller owns: a body whose other fields the path sets. A referenced
// message on the way is copied in first, so its component is left as it is.
func (c *openAPISchemas) withoutField(schema map[string]any, path []protoreflect.FieldDescriptor) error {
	if ref, ok := schema["$ref"].(string); ok {
		target, ok := c.components[strings.TrimPrefix(ref, componentPrefix)].(map[string]any)
		if !ok {
			return fmt.Errorf("no component for %s", ref)
		}
		copied, _ := copyJSON(target).(map[string]any)
		delete(schema, "$ref")
		for k, v := range copied {
			if _, has := schema[k]; !has {
				schema[k] = v
			}
		}
	}
	props, _ := schema["properties"].(map[string]any)
	fd := path[0]
	name := fd.JSONName()
	if len(path) > 1 {
		child, ok := props[name].(map[string]any)
		if !ok {
			return nil
		}
		return c.withoutField(child, path[1:])
	}
	gone := []string{name}
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		// The path sets this member, so the body may set no other: the gateway refuses a second
		// member of a oneof. The oneof's constraint goes with them.
		members := od.Fields()
		for i := range members.Len() {
			gone = append(gone, members.Get(i).JSONName())
		}
		if allOf, ok := schema["allOf"].([]any); ok {
			kept := slices.DeleteFunc(slices.Clone(allOf), func(x any) bool {
				return mentions(x, name)
			})
			if len(kept) == 0 {
				delete(schema, "allOf")
			} else {
				schema["allOf"] = kept
			}
		}
	}
	for _, g := range gone {
		delete(props, g)
	}
	if req, ok := schema["required"].([]any); ok {
		req = slices.DeleteFunc(slices.Clone(req), func(x any) bool {
			s, _ := x.(string)
			return slices.Contains(gone, s)
		})
		if len(req) == 0 {
			delete(schema, "required")
		} else {
			schema["required"] = req
		}
	}
	return nil
}

// mentions reports whether a oneof constraint (see toolschema's oneof) names the property.
func mentions(constraint any, prop string) bool {
	m, _ := constraint.(map[string]any)
	if deps, ok := m["dependentSchemas"].(map[string]any); ok {
		if _, has := deps[prop]; has {
			return true
		}
	}
	if not, ok := m["not"].(map[string]any); ok {
		if props, ok := not["properties"].(map[string]any); ok {
			if _, has := props[prop]; has {
				return true
			}
		}
	}
	return false
}

// queryParams documents the fields grpc-gateway reads from the query string: every field not
// bound by the path or the body, as grpc-gateway's query parser takes them. Scalars and enums by
// their JSON names, repeated ones as repeated keys (tags=a&tags=b), fields of nested messages by
// dotted names (warehouse.code), maps as deepObject (labels[key]=value), and the well-known types
// with a string form. The parser cannot set messages in lists or maps, nor Struct, Value,
// ListValue, Any or Empty, so those are left out, as are fields of a message already on the way
// (a recursive message would give endless names).
func (c *openAPISchemas) queryParams(in protoreflect.MessageDescriptor, bound []string) ([]any, error) {
	var params []any
	err := c.walkQuery(in, nil, bound, true, []protoreflect.FullName{in.FullName()}, &params)
	return params, err
}

func (c *openAPISchemas) walkQuery(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, bound []string, required bool, stack []protoreflect.FullName, out *[]any) error {
	t, err := c.tool(md, true)
	if err != nil {
		return err
	}
	requiredHere := map[string]bool{}
	if req, ok := t["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				requiredHere[s] = true
			}
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		path := append(slices.Clip(prefix), fd)
		protoPath := fieldPath(path, false)
		inside, contains := boundBy(protoPath, bound)
		if inside {
			continue
		}
		req := required && requiredHere[fd.JSONName()]
		switch {
		case fd.IsMap():
			if contains || !queryScalar(fd.MapValue()) {
				continue
			}
		case fd.IsList():
			if !queryScalar(fd) {
				continue
			}
		case fd.Message() != nil && !queryScalar(fd):
			m := fd.Message()
			if strings.HasPrefix(string(m.FullName()), "google.protobuf.") || slices.Contains(stack, m.FullName()) {
				continue
			}
			if err := c.walkQuery(m, path, bound, req, append(slices.Clip(stack), m.FullName()), out); err != nil {
				return err
			}
			continue
		}
		if contains {
			continue
		}
		p, err := c.queryParam(md, fd, fieldPath(path, true), req)
		if err != nil {
			return err
		}
		*out = append(*out, p)
	}
	return nil
}

func (c *openAPISchemas) queryParam(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, name string, required bool) (map[string]any, error) {
	schema, err := c.fieldSchema(md, []protoreflect.FieldDescriptor{fd}, true)
	if err != nil {
		return nil, err
	}
	desc := takeDescription(schema)
	if m := fd.Message(); m != nil && !fd.IsList() && !fd.IsMap() {
		switch m.FullName() {
		case "google.protobuf.FieldMask":
			// The query parser splits the mask on commas and keeps the paths as written, without
			// the JSON form's lowerCamelCase to proto name conversion.
			schema = map[string]any{"type": "string", "pattern": queryFieldMaskPattern}
			desc = joinParagraphs(desc, "In the query string, a field mask is comma-separated field paths by their proto (snake_case) names, such as display_name,address.city.")
		case "google.protobuf.Duration":
			desc = joinParagraphs(desc, "In the query string, a duration is read by Go's time.ParseDuration, so it is at most 2562047h (about 292 years).")
		}
	}
	p := map[string]any{"name": name, "in": "query", "schema": schema}
	if desc != "" {
		p["description"] = desc
	}
	if required {
		p["required"] = true
	}
	if fd.IsMap() {
		p["style"] = "deepObject"
		p["explode"] = true
	}
	return p, nil
}

// queryFieldMaskPattern is a field mask by proto names: comma-separated dotted identifiers.
const queryFieldMaskPattern = `^(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:,[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)*)?$`

// queryScalar reports whether the query parser reads a value of fd's type from one string:
// scalars, enums, and the well-known types with a string form.
func queryScalar(fd protoreflect.FieldDescriptor) bool {
	m := fd.Message()
	if m == nil {
		return true
	}
	switch m.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
		"google.protobuf.BoolValue", "google.protobuf.BytesValue", "google.protobuf.DoubleValue",
		"google.protobuf.FloatValue", "google.protobuf.Int32Value", "google.protobuf.Int64Value",
		"google.protobuf.StringValue", "google.protobuf.UInt32Value", "google.protobuf.UInt64Value":
		return true
	}
	return false
}

// boundBy reports whether the field at protoPath is bound by the path or the body (inside: it is
// one of them or within one) or holds one (contains: the query must not set it as a whole).
func boundBy(protoPath string, bound []string) (inside, contains bool) {
	for _, b := range bound {
		if protoPath == b || strings.HasPrefix(protoPath, b+".") {
			return true, false
		}
		if strings.HasPrefix(b, protoPath+".") {
			contains = true
		}
	}
	return false, contains
}

// fieldPath joins field names with dots: proto names, or JSON names.
func fieldPath(path []protoreflect.FieldDescriptor, jsonNames bool) string {
	names := make([]string, len(path))
	for i, fd := range path {
		if jsonNames {
			names[i] = fd.JSONName()
		} else {
			names[i] = string(fd.Name())
		}
	}
	return strings.Join(names, ".")
}

// copyJSON copies plain JSON values deeply.
func copyJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = copyJSON(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = copyJSON(x)
		}
		return out
	default:
		return v
	}
}
