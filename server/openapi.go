package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/agentbridge/agentbridge/server/toolschema"
)

// /openapi.json is written at run time from the descriptors of the served methods, as the MCP
// tools are, so a contract loaded at start-up is documented without a generator. Its schemas are
// toolschema's, the ones the MCP tools advertise: OpenAPI 3.1 schemas are JSON Schema 2020-12, the
// tools' dialect, so one schema serves both and the two surfaces cannot drift apart.
//
// toolschema writes each message used more than once, or recursive, under $defs of the tool's
// schema. $defs inside an operation's schema would be legal 3.1, but a "#/$defs/…" reference there
// resolves against the document, not the schema, and most OpenAPI tools follow only
// "#/components/schemas/…" references. So every $defs entry is hoisted to components/schemas and
// its references are rewritten; so are the request and response messages, which then read as
// named models. A message's component is the schema toolschema writes with the message as the root,
// which does not depend on the operation it was reached from (a $defs entry does: it inlines what
// is used once in that operation's tree). The input and output schemas of a message differ (rules,
// required fields, the forms accepted), so component names carry the direction:
// agentbridge.demo.v1.Item-output, agentbridge.demo.v1.GetItemRequest-input. Message names
// cannot contain '-', so these never collide with a message's full name.

// openAPIVersion is the version of the OpenAPI document.
const openAPIVersion = "3.1.0"

// Suffixes of component names by direction; see above.
const (
	inputSuffix  = "-input"
	outputSuffix = "-output"
)

// statusSchemaName is the component of error bodies.
const statusSchemaName = "google.rpc.Status"

// openAPIVerbs are the HTTP methods an OpenAPI path item can hold. A google.api.http custom verb
// outside this list cannot be documented, and its route is left out.
var openAPIVerbs = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// statusDescriptions describe google.rpc.Status, whose comments are not in the embedded
// descriptor set.
var statusDescriptions = map[protoreflect.FullName]string{
	"google.rpc.Status": "An error, as the REST surface writes it (grpc-gateway's google.rpc.Status in JSON). " +
		"Fields with zero values are left out. The HTTP status follows the code, as grpc-gateway maps it: " +
		httpStatusText() + ".",
	"google.rpc.Status.code":    "The gRPC status code, such as 3 (INVALID_ARGUMENT) or 5 (NOT_FOUND).",
	"google.rpc.Status.message": "What went wrong, for the caller to read.",
	"google.rpc.Status.details": "Details for programs, such as google.rpc.BadRequest (the fields that were wrong and why) " +
		"or google.rpc.ErrorInfo (the backend's reason and metadata).",
}

// httpStatusText lists the HTTP status of each error code, from grpc-gateway's own table so that
// the text cannot drift from what the gateway sends: "400 for INVALID_ARGUMENT, …; 401 for …".
func httpStatusText() string {
	byStatus := map[int][]string{}
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		st := runtime.HTTPStatusFromCode(c)
		byStatus[st] = append(byStatus[st], rpccode.Code(c).String())
	}
	statuses := slices.Sorted(maps.Keys(byStatus))
	parts := make([]string, len(statuses))
	for i, st := range statuses {
		parts[i] = fmt.Sprintf("%d for %s", st, strings.Join(byStatus[st], ", "))
	}
	return strings.Join(parts, "; ")
}

// buildOpenAPI writes the OpenAPI 3.1 document of the REST routes of methods: one operation per
// google.api.http binding, with the MCP tool name of the method as operationId (additional
// bindings add _1, _2, … by their position), descriptions from proto comments, and the MCP tools'
// schemas. Methods without routes are left out. With idempotencyKeys, the operations of methods
// with side effects document the Idempotency-Key header.
func buildOpenAPI(methods []*method, toolNames map[string]string, describe func(protoreflect.FullName) string, idempotencyKeys bool) ([]byte, error) {
	if describe == nil {
		describe = func(protoreflect.FullName) string { return "" }
	}
	b := &openAPIBuilder{
		schemas:         newOpenAPISchemas(describe),
		describe:        describe,
		paths:           map[string]map[string]any{},
		ids:             map[string]string{},
		idempotencyKeys: idempotencyKeys,
	}
	sorted := slices.Clone(methods)
	slices.SortFunc(sorted, func(x, y *method) int { return strings.Compare(x.procedure, y.procedure) })
	services := map[protoreflect.FullName]bool{}
	for _, m := range sorted {
		routes, err := httpRoutes(m.desc)
		if err != nil {
			return nil, fmt.Errorf("server: OpenAPI: %w", err)
		}
		if len(routes) == 0 {
			continue
		}
		name := toolNames[m.procedure]
		if name == "" {
			return nil, fmt.Errorf("server: OpenAPI: %s has no MCP tool name", m.desc.FullName())
		}
		for _, r := range routes {
			added, err := b.addOperation(m, r, name)
			if err != nil {
				return nil, fmt.Errorf("server: OpenAPI: %s: %w", m.desc.FullName(), err)
			}
			if added {
				services[m.desc.Parent().FullName()] = true
			}
		}
	}
	tags := make([]any, 0, len(services))
	for _, svc := range slices.Sorted(maps.Keys(services)) {
		tag := map[string]any{"name": string(svc)}
		if d := strings.TrimSpace(describe(svc)); d != "" {
			tag["description"] = d
		}
		tags = append(tags, tag)
	}
	doc := map[string]any{
		"openapi":           openAPIVersion,
		"jsonSchemaDialect": toolschema.Dialect,
		"info": map[string]any{
			"title": "agentbridge",
			"description": "Legacy backends served as proto services. Every operation is also served over gRPC, " +
				"Connect and gRPC-Web, and as the MCP tool named by its operationId, with the same schemas.",
			"version": "v1",
		},
		"tags":       tags,
		"paths":      b.paths,
		"components": map[string]any{"schemas": b.schemas.components},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // patterns and descriptions hold <, > and &; keep them readable
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("server: OpenAPI: %w", err)
	}
	return buf.Bytes(), nil
}

type openAPIBuilder struct {
	schemas  *openAPISchemas
	describe func(protoreflect.FullName) string
	paths    map[string]map[string]any // path, then lower-case verb
	ids      map[string]string         // operationId to the method's full name
	// idempotencyKeys documents the Idempotency-Key header on methods with side effects.
	idempotencyKeys bool
}

// addOperation documents one route of m, unless OpenAPI cannot express it.
func (b *openAPIBuilder) addOperation(m *method, r httpRoute, toolName string) (bool, error) {
	verb := strings.ToLower(r.Verb)
	if !slices.Contains(openAPIVerbs, verb) {
		return false, nil
	}
	tpl, ok, err := parsePathTemplate(m.desc.Input(), r.Template)
	if err != nil || !ok {
		return false, err
	}
	id := toolName
	if r.Index > 0 {
		id += "_" + strconv.Itoa(r.Index)
	}
	if other, dup := b.ids[id]; dup {
		return false, fmt.Errorf("operationId %s is also that of %s; set (agentbridge.v1.mcp_tool).name on one", id, other)
	}
	b.ids[id] = string(m.desc.FullName())
	// Two bindings can differ only in what their variables match (/v1/{name=shelves/*} and
	// /v1/{name=authors/*} are both /v1/{name}); as protoc-gen-openapiv2 does, the first variable
	// of the later one is renamed name_1, name_2, … so that both are documented.
	path := tpl.path(0)
	for n := 1; b.paths[path][verb] != nil; n++ {
		if len(tpl.vars) == 0 {
			return false, fmt.Errorf("%s %s is bound twice", r.Verb, r.Template)
		}
		path = tpl.path(n)
	}
	op, err := b.operation(m, r, tpl, id)
	if err != nil {
		return false, err
	}
	if b.paths[path] == nil {
		b.paths[path] = map[string]any{}
	}
	b.paths[path][verb] = op
	return true, nil
}

func (b *openAPIBuilder) operation(m *method, r httpRoute, tpl *pathTemplate, id string) (map[string]any, error) {
	md := m.desc
	in, out := md.Input(), md.Output()
	s := b.schemas
	op := map[string]any{
		"operationId": id,
		"tags":        []string{string(md.Parent().FullName())},
	}
	comment := strings.TrimSpace(b.describe(md.FullName()))
	if sum := firstSentence(comment); sum != "" {
		op["summary"] = sum
	}
	notes := []string{comment}
	if r.Index > 0 {
		notes = append(notes, fmt.Sprintf("An additional binding of %s: the same method at another path.", md.FullName()))
	}
	if m.stream != nil {
		notes = append(notes, "The method streams its replies: the response is newline-delimited JSON ("+streamContentType+
			`), one {"result": …} object per message as it arrives, and an {"error": …} object in place of a message if the stream fails after it started.`)
	}
	if d := strings.TrimSpace(strings.Join(notes, "\n\n")); d != "" {
		op["description"] = d
	}
	if opts, ok := md.Options().(*descriptorpb.MethodOptions); ok && opts.GetDeprecated() {
		op["deprecated"] = true
	}

	var params []any
	bound := make([]string, 0, len(tpl.vars)+1)
	for i, v := range tpl.vars {
		p, err := b.pathParam(in, v, tpl.paramName(i, tpl.renamed))
		if err != nil {
			return nil, err
		}
		params = append(params, p)
		bound = append(bound, v.field)
	}
	if r.Body != "*" {
		if r.Body != "" {
			bound = append(bound, r.Body)
		}
		query, err := s.queryParams(in, bound)
		if err != nil {
			return nil, err
		}
		params = append(params, query...)
	}
	if b.idempotencyKeys && m.stream == nil && !safeToRepeat(md) {
		params = append(params, map[string]any{
			"name": "Idempotency-Key",
			"in":   "header",
			"description": "Optional: a unique key (a UUID) for this request. Sending the same request again with the same key returns the first call's " +
				"outcome (marked by the response header Idempotent-Replayed: true) instead of running it again; use it to retry safely.",
			"schema": map[string]any{"type": "string", "minLength": 1, "maxLength": maxIdempotencyKey, "pattern": "^[!-~]+$"},
		})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}

	if r.Body != "" {
		body, err := b.requestBody(in, r, tpl)
		if err != nil {
			return nil, err
		}
		op["requestBody"] = body
	}

	result, desc, err := b.responseSchema(out, r.ResponseBody)
	if err != nil {
		return nil, err
	}
	statusRef, err := s.status()
	if err != nil {
		return nil, err
	}
	ok := map[string]any{"description": desc}
	errDefault := map[string]any{
		"description": "An error: a google.rpc.Status in JSON, with an HTTP status that follows its code.",
		"content":     map[string]any{"application/json": map[string]any{"schema": statusRef}},
	}
	if m.stream != nil {
		line := map[string]any{
			"type": "object",
			"description": `One line of the stream: {"result": …} holds one message, {"error": …} the status the stream ended with. ` +
				"Lines are separated by a newline.",
			"properties": map[string]any{
				"result": result,
				"error":  statusRef,
			},
			"additionalProperties": false,
			"minProperties":        1,
			"maxProperties":        1,
		}
		ok["content"] = map[string]any{streamContentType: map[string]any{"schema": line}}
		// A request the gateway cannot read fails before the stream with a bare status; a call that
		// fails before its first message fails with the status as the stream's only line.
		errDefault["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"anyOf": []any{statusRef, map[string]any{
				"type":                 "object",
				"properties":           map[string]any{"error": statusRef},
				"required":             []any{"error"},
				"additionalProperties": false,
			}},
		}}}
	} else {
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": result}}
	}
	op["responses"] = map[string]any{"200": ok, "default": errDefault}
	return op, nil
}

// pathParam documents one variable of a path template.
func (b *openAPIBuilder) pathParam(in protoreflect.MessageDescriptor, v pathVar, name string) (map[string]any, error) {
	schema, err := b.schemas.fieldSchema(in, v.fields, true)
	if err != nil {
		return nil, err
	}
	desc := takeDescription(schema)
	if v.pattern != "" {
		segments := `^` + segmentsRegexp(v.pattern) + `$`
		if _, has := schema["pattern"]; has || schema["$ref"] != nil || schema["type"] != "string" {
			schema = map[string]any{"allOf": []any{schema, map[string]any{"type": "string", "pattern": segments}}}
		} else {
			schema["pattern"] = segments
		}
		desc = joinParagraphs(desc, fmt.Sprintf("The value has the form %s (segments separated by '/'); send its slashes as they are, not percent-encoded.", v.pattern))
	}
	if name != v.name {
		desc = joinParagraphs(desc, fmt.Sprintf("Binds the field %s (renamed here because another operation has the same path).", v.name))
	}
	p := map[string]any{"name": name, "in": "path", "required": true, "schema": schema}
	if desc != "" {
		p["description"] = desc
	}
	return p, nil
}

// requestBody documents the body of a route: the request message but the path fields ("*"), or
// one field's value.
func (b *openAPIBuilder) requestBody(in protoreflect.MessageDescriptor, r httpRoute, tpl *pathTemplate) (map[string]any, error) {
	s := b.schemas
	var schema map[string]any
	var desc string
	var strip [][]protoreflect.FieldDescriptor
	if r.Body == "*" {
		for _, v := range tpl.vars {
			strip = append(strip, v.fields)
		}
		if len(strip) == 0 {
			ref, err := s.ref(in, true)
			if err != nil {
				return nil, err
			}
			schema = ref
		} else {
			var err error
			if schema, err = s.messageSchema(in, true); err != nil {
				return nil, err
			}
		}
		desc = fmt.Sprintf("The %s message in JSON", in.Name())
		if len(strip) > 0 {
			names := make([]string, len(tpl.vars))
			for i, v := range tpl.vars {
				names[i] = v.name
			}
			desc += ", without the fields the path sets (" + strings.Join(names, ", ") + ")"
		}
		desc += "."
	} else {
		fd := in.Fields().ByName(protoreflect.Name(r.Body))
		var err error
		if schema, err = s.fieldSchema(in, []protoreflect.FieldDescriptor{fd}, true); err != nil {
			return nil, err
		}
		desc = takeDescription(schema)
		for _, v := range tpl.vars {
			if v.fields[0] == fd && len(v.fields) > 1 {
				strip = append(strip, v.fields[1:])
			}
		}
		if desc == "" {
			desc = fmt.Sprintf("The field %s of %s, in JSON.", fd.JSONName(), in.Name())
		}
	}
	for _, path := range strip {
		if err := s.withoutField(schema, path); err != nil {
			return nil, err
		}
	}
	body := map[string]any{
		"description": desc,
		"content":     map[string]any{"application/json": map[string]any{"schema": schema}},
	}
	// The gateway reads an empty body as an empty message; only a schema that requires a
	// property makes the body required.
	if req, _ := s.resolved(schema)["required"].([]any); len(req) > 0 {
		body["required"] = true
	}
	return body, nil
}

// responseSchema returns the schema of a route's response: the whole message, or the field
// named by response_body; and the response's description.
func (b *openAPIBuilder) responseSchema(out protoreflect.MessageDescriptor, field string) (map[string]any, string, error) {
	s := b.schemas
	if field == "" {
		ref, err := s.ref(out, false)
		if err != nil {
			return nil, "", err
		}
		desc := firstSentence(strings.TrimSpace(b.describe(out.FullName())))
		if desc == "" {
			desc = fmt.Sprintf("The %s message in JSON.", out.Name())
		}
		return ref, desc, nil
	}
	fd := out.Fields().ByName(protoreflect.Name(field))
	schema, err := s.fieldSchema(out, []protoreflect.FieldDescriptor{fd}, false)
	if err != nil {
		return nil, "", err
	}
	desc := firstSentence(takeDescription(schema))
	if desc == "" {
		desc = fmt.Sprintf("The field %s of %s, in JSON.", fd.JSONName(), out.Name())
	}
	return schema, desc, nil
}

// pathTemplate is a google.api.http path template read for OpenAPI: literal text and variables.
type pathTemplate struct {
	parts   []string // literal text before each variable, then the text after the last
	vars    []pathVar
	renamed int // n > 0 renames the first variable name_n; see addOperation
}

// pathVar is one variable of a path template.
type pathVar struct {
	field   string // proto field path, e.g. item.sku
	name    string // the parameter's name: JSON names, dotted, e.g. item.sku or shelfId
	pattern string // the segments the variable matches when not just one (shelves/*), else ""
	fields  []protoreflect.FieldDescriptor
}

func (t *pathTemplate) paramName(i, renamed int) string {
	if i == 0 && renamed > 0 {
		return t.vars[0].name + "_" + strconv.Itoa(renamed)
	}
	return t.vars[i].name
}

// path writes the OpenAPI path, with the first variable renamed when renamed > 0.
func (t *pathTemplate) path(renamed int) string {
	t.renamed = renamed
	var sb strings.Builder
	for i, lit := range t.parts {
		sb.WriteString(lit)
		if i < len(t.vars) {
			sb.WriteString("{" + t.paramName(i, renamed) + "}")
		}
	}
	return sb.String()
}

// parsePathTemplate reads a template such as /v1/{name=shelves/*}/books:reserve. It reports
// !ok for a template OpenAPI cannot express: a wildcard outside a variable binds no parameter.
// httpRoutes has checked that the variables name fields.
func parsePathTemplate(in protoreflect.MessageDescriptor, template string) (*pathTemplate, bool, error) {
	t := &pathTemplate{}
	rest := template
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}') + open
		t.parts = append(t.parts, rest[:open])
		v := rest[open+1 : end]
		field, pattern, _ := strings.Cut(v, "=")
		if pattern == "*" {
			pattern = ""
		}
		fields, err := fieldByPath(in, field)
		if err != nil {
			return nil, false, fmt.Errorf("path %q: %w", template, err)
		}
		names := make([]string, len(fields))
		for i, fd := range fields {
			names[i] = fd.JSONName()
		}
		t.vars = append(t.vars, pathVar{field: field, name: strings.Join(names, "."), pattern: pattern, fields: fields})
		rest = rest[end+1:]
	}
	t.parts = append(t.parts, rest)
	for _, lit := range t.parts {
		if strings.Contains(lit, "*") {
			return nil, false, nil
		}
	}
	return t, true, nil
}

// segmentsRegexp is the ECMAScript (and RE2) regular expression of a variable's segments:
// shelves/* is shelves/[^/]+, ** matches the rest of the path.
func segmentsRegexp(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		switch s {
		case "*":
			segs[i] = "[^/]+"
		case "**":
			segs[i] = ".+"
		default:
			segs[i] = regexp.QuoteMeta(s)
		}
	}
	return strings.Join(segs, "/")
}

// firstSentence returns the first sentence of a comment, on one line, for a summary.
func firstSentence(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if i := strings.Index(text, ". "); i >= 0 {
		return text[:i+1]
	}
	return text
}

func joinParagraphs(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n")
}

// takeDescription removes a schema's description and returns it, for a parameter or body that
// states it once, beside the schema.
func takeDescription(schema map[string]any) string {
	d, _ := schema["description"].(string)
	delete(schema, "description")
	return d
}
