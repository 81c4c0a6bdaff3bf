package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	gapi "google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// openAPIFixture is a set of methods with the document and the MCP tools built for them.
type openAPIFixture struct {
	methods map[string]*method
	names   map[string]string // procedure to tool name
	doc     map[string]any
	raw     []byte
	tools   map[string]*mcpTool // by tool name
}

func newOpenAPIFixture(t *testing.T, describe func(protoreflect.FullName) string, services ...protoreflect.ServiceDescriptor) *openAPIFixture {
	t.Helper()
	f := &openAPIFixture{methods: map[string]*method{}, tools: map[string]*mcpTool{}}
	var procs []string
	for _, sd := range services {
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			m := &method{desc: md, procedure: "/" + string(sd.FullName()) + "/" + string(md.Name())}
			if md.IsStreamingServer() {
				m.stream = func(context.Context, proto.Message, func(proto.Message) error) error { return nil }
			}
			f.methods[m.procedure] = m
			procs = append(procs, m.procedure)
		}
	}
	sort.Strings(procs)
	f.names = toolNames(f.methods, procs, 0)
	list := make([]*method, 0, len(procs))
	for _, p := range procs {
		list = append(list, f.methods[p])
	}
	var err error
	if f.raw, err = buildOpenAPI(list, f.names, describe, true); err != nil {
		t.Fatal(err)
	}
	f.doc = decodeJSON(t, f.raw)
	s := &Server{}
	// The tools' result options (the fields argument, the _truncated note) are MCP's own; off
	// here, the tools' schemas are the messages' as the OpenAPI document has them.
	noFields := false
	tools, err := s.buildTools(&generation{methods: f.methods, files: new(protoregistry.Files), comments: commentsFunc(describe), mcpOpts: MCPOptions{Results: ResultOptions{FieldsArgument: &noFields}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		f.tools[tool.tool.Name] = tool
	}
	return f
}

// commentsFunc turns a describe function into Comments for the elements the tests use: every
// comment EmbeddedComments has, and the route probe's.
func commentsFunc(describe func(protoreflect.FullName) string) Comments {
	c := Comments{}
	embedded, _ := EmbeddedComments()
	for n := range embedded {
		if d := describe(n); d != "" {
			c[n] = d
		}
	}
	for n, d := range routeProbeComments {
		c[n] = d
	}
	return c
}

func servicesOf(files ...protoreflect.FileDescriptor) []protoreflect.ServiceDescriptor {
	var out []protoreflect.ServiceDescriptor
	for _, f := range files {
		for i := range f.Services().Len() {
			out = append(out, f.Services().Get(i))
		}
	}
	return out
}

// generatedServices are the demo and the testing services, whose Go code make generate wrote.
func generatedServices() []protoreflect.ServiceDescriptor {
	return servicesOf(
		demov1.File_agentbridge_demo_v1_inventory_proto,
		testingv1.File_agentbridge_testing_v1_calculator_proto,
		testingv1.File_agentbridge_testing_v1_greeter_proto,
		testingv1.File_agentbridge_testing_v1_numberconversion_proto,
		testingv1.File_agentbridge_testing_v1_stream_proto,
	)
}

func embeddedDescribe(t *testing.T) func(protoreflect.FullName) string {
	t.Helper()
	c, err := EmbeddedComments()
	if err != nil {
		t.Fatal(err)
	}
	return c.Describe
}

// operations returns the document's operations by operationId, with their path and verb.
func (f *openAPIFixture) operations(t *testing.T) map[string]openAPIOp {
	t.Helper()
	ops := map[string]openAPIOp{}
	paths, _ := f.doc["paths"].(map[string]any)
	for path, item := range paths {
		for verb, op := range item.(map[string]any) {
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			if _, dup := ops[id]; dup {
				t.Errorf("operationId %s is used twice", id)
			}
			ops[id] = openAPIOp{path: path, verb: verb, op: o}
		}
	}
	return ops
}

type openAPIOp struct {
	path, verb string
	op         map[string]any
}

func (o openAPIOp) params() map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := o.op["parameters"].([]any)
	for _, p := range list {
		pm := p.(map[string]any)
		out[pm["in"].(string)+":"+pm["name"].(string)] = pm
	}
	return out
}

// paramNames lists the parameters the request message gives; the Idempotency-Key header of
// methods with side effects is checked by TestOpenAPIIdempotencyKeyHeader.
func (o openAPIOp) paramNames() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range o.params() {
			if k == "header:Idempotency-Key" {
				continue
			}
			if !yield(k) {
				return
			}
		}
	})
}

func (o openAPIOp) bodySchema() map[string]any {
	rb, _ := o.op["requestBody"].(map[string]any)
	content, _ := rb["content"].(map[string]any)
	js, _ := content["application/json"].(map[string]any)
	s, _ := js["schema"].(map[string]any)
	return s
}

func (o openAPIOp) responseSchema(contentType string) map[string]any {
	r, _ := o.op["responses"].(map[string]any)
	ok, _ := r["200"].(map[string]any)
	content, _ := ok["content"].(map[string]any)
	js, _ := content[contentType].(map[string]any)
	s, _ := js["schema"].(map[string]any)
	return s
}

func TestOpenAPIGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		golden   string
		fixture  func(t *testing.T) *openAPIFixture
		describe string
	}{
		{"generated", "testdata/openapi.golden.json", func(t *testing.T) *openAPIFixture {
			return newOpenAPIFixture(t, embeddedDescribe(t), generatedServices()...)
		}, "the demo and the testing services"},
		{"routes", "testdata/openapi_routes.golden.json", func(t *testing.T) *openAPIFixture {
			return newOpenAPIFixture(t, routeProbeDescribe(t), routeProbe(t)...)
		}, "the route probe's LibraryService"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var indented bytes.Buffer
			if err := json.Indent(&indented, tc.fixture(t).raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			got := indented.Bytes()
			if *update {
				if err := os.WriteFile(tc.golden, got, 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(tc.golden)
			if err != nil {
				t.Fatalf("%v (run go test ./server -run TestOpenAPIGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the OpenAPI document of %s differs from %s; if the change is intended, run go test ./server -run TestOpenAPIGolden -update and review the diff", tc.describe, tc.golden)
			}
			var again bytes.Buffer
			_ = json.Indent(&again, tc.fixture(t).raw, "", "  ")
			if !bytes.Equal(got, again.Bytes()) {
				t.Error("the document is not deterministic")
			}
		})
	}
}

// TestOpenAPIIdempotencyKeyHeader: operations of methods with side effects document the
// Idempotency-Key header; read-only ones do not.
func TestOpenAPIIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	ops := newOpenAPIFixture(t, embeddedDescribe(t), generatedServices()...).operations(t)
	for id, want := range map[string]bool{"InventoryService_ReserveItem": true, "InventoryService_GetItem": false, "InventoryService_ListItems": false} {
		p, has := ops[id].params()["header:Idempotency-Key"]
		if has != want {
			t.Errorf("%s: Idempotency-Key header documented: %v, want %v", id, has, want)
		}
		if has && !strings.Contains(fmt.Sprint(p["description"]), "Idempotent-Replayed") {
			t.Errorf("%s: the header's description %v does not say how a replay is marked", id, p["description"])
		}
	}
}

func TestOpenAPIDemo(t *testing.T) {
	t.Parallel()
	f := newOpenAPIFixture(t, embeddedDescribe(t), generatedServices()...)
	if f.doc["openapi"] != "3.1.0" || f.doc["jsonSchemaDialect"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("openapi %v, jsonSchemaDialect %v", f.doc["openapi"], f.doc["jsonSchemaDialect"])
	}
	if _, has := f.doc["servers"]; has {
		t.Error("servers is set; the document should be relative to where it is served")
	}
	ops := f.operations(t)
	for _, tc := range []struct {
		id, path, verb string
		params         []string
		body           bool
	}{
		{"InventoryService_GetItem", "/v1/items/{sku}", "get", []string{"path:sku"}, false},
		{"InventoryService_ListItems", "/v1/items", "get", []string{"query:category", "query:maxResults"}, false},
		{"InventoryService_ReserveItem", "/v1/items/{sku}:reserve", "post", []string{"path:sku"}, true},
		{"CalculatorService_Add", "/v1/calculator:add", "post", nil, true},
		{"NumberConversionService_NumberToWords", "/v1/numbers:words", "post", nil, true},
		{"CountService_Count", "/v1/count/{upTo}", "get", []string{"path:upTo"}, false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			o, ok := ops[tc.id]
			if !ok {
				t.Fatalf("no operation %s among %v", tc.id, slices.Sorted(mapKeys(ops)))
			}
			if o.path != tc.path || o.verb != tc.verb {
				t.Errorf("%s %s, want %s %s", o.verb, o.path, tc.verb, tc.path)
			}
			if got := o.paramNames(); !slices.Equal(got, tc.params) {
				t.Errorf("parameters %v, want %v", got, tc.params)
			}
			if (o.op["requestBody"] != nil) != tc.body {
				t.Errorf("requestBody %v, want one: %v", o.op["requestBody"], tc.body)
			}
			if o.op["summary"] == nil || o.op["description"] == nil {
				t.Error("no summary or description from the proto comment")
			}
		})
	}
	// Every method with routes has an operation named like its tool, and no other has one.
	for p, m := range f.methods {
		routes, _ := httpRoutes(m.desc)
		_, has := ops[f.names[p]]
		if has != (len(routes) > 0) {
			t.Errorf("%s: has an operation %v, has routes %v", p, has, len(routes) > 0)
		}
	}
	if len(ops) != 10 {
		t.Errorf("%d operations, want 10 (3 demo, 4 calculator, 2 number conversion, 1 count)", len(ops))
	}
	// The tags are the services with operations, described by their comments.
	var tags []string
	for _, tag := range f.doc["tags"].([]any) {
		m := tag.(map[string]any)
		tags = append(tags, m["name"].(string))
		if m["description"] == nil {
			t.Errorf("tag %s has no description", m["name"])
		}
	}
	if want := []string{"agentbridge.demo.v1.InventoryService", "agentbridge.testing.v1.CalculatorService", "agentbridge.testing.v1.CountService", "agentbridge.testing.v1.NumberConversionService"}; !slices.Equal(tags, want) {
		t.Errorf("tags %v, want %v", tags, want)
	}

	count := ops["CountService_Count"]
	line := count.responseSchema("application/x-ndjson")
	if props, _ := line["properties"].(map[string]any); props["result"] == nil || props["error"] == nil {
		t.Errorf("the streaming response is not documented as lines of result or error: %v", count.op["responses"])
	}
	if !strings.Contains(count.op["description"].(string), "newline-delimited") {
		t.Error("the streaming operation does not say it streams")
	}
	status := f.component(t, "google.rpc.Status")
	if props, _ := status["properties"].(map[string]any); props["code"] == nil || props["message"] == nil || props["details"] == nil {
		t.Errorf("google.rpc.Status schema %v", status)
	}
	if _, has := status["required"]; has {
		t.Error("google.rpc.Status requires fields the gateway leaves out when zero")
	}
	for id, o := range ops {
		r := o.op["responses"].(map[string]any)
		def, _ := r["default"].(map[string]any)
		if !strings.Contains(fmt.Sprint(def), "#/components/schemas/google.rpc.Status") {
			t.Errorf("%s: default response %v is not a google.rpc.Status", id, def)
		}
	}
	f.checkSameAsTools(t, ops)
}

func mapKeys[M ~map[K]V, K comparable, V any](m M) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (f *openAPIFixture) component(t *testing.T, name string) map[string]any {
	t.Helper()
	schemas := f.doc["components"].(map[string]any)["schemas"].(map[string]any)
	s, ok := schemas[name].(map[string]any)
	if !ok {
		t.Fatalf("no component %s", name)
	}
	return s
}

// checkSameAsTools checks that each operation's schemas are its MCP tool's: the body of a route
// with body "*" is the tool's input but the path fields, each parameter the input's property of
// that name, and the response the tool's output. References are expanded on both sides first,
// since the document shares through components what a tool may write in place.
func (f *openAPIFixture) checkSameAsTools(t *testing.T, ops map[string]openAPIOp) {
	t.Helper()
	components := f.doc["components"].(map[string]any)["schemas"].(map[string]any)
	openAPIResolve := func(ref string) (any, string) {
		name := strings.TrimPrefix(ref, componentPrefix)
		s, ok := components[name]
		if !ok {
			t.Fatalf("dangling reference %s", ref)
		}
		return s, strings.TrimSuffix(strings.TrimSuffix(name, inputSuffix), outputSuffix)
	}
	compared := 0
	for p, m := range f.methods {
		routes, _ := httpRoutes(m.desc)
		tool := f.tools[f.names[p]]
		in, out := decodeJSON(t, tool.tool.InputSchema.(json.RawMessage)), decodeJSON(t, tool.tool.OutputSchema.(json.RawMessage))
		if props, ok := out["properties"].(map[string]any); ok {
			delete(props, truncatedKey) // MCP's note on a result cut to its budget; REST does not cut
		}
		toolIn := expandSchema(in, toolResolver(t, in, m.desc.Input()), []string{string(m.desc.Input().FullName())}).(map[string]any)
		toolOut := expandSchema(out, toolResolver(t, out, m.desc.Output()), []string{string(m.desc.Output().FullName())}).(map[string]any)
		if m.stream != nil {
			toolOut = toolOut["properties"].(map[string]any)["items"].(map[string]any)["items"].(map[string]any)
		}
		for _, r := range routes {
			id := f.names[p]
			if r.Index > 0 {
				id += fmt.Sprintf("_%d", r.Index)
			}
			o, ok := ops[id]
			if !ok {
				continue // a route OpenAPI cannot express; tested elsewhere
			}
			tpl, _, _ := parsePathTemplate(m.desc.Input(), r.Template)
			// Parameters.
			params, _ := o.op["parameters"].([]any)
			for _, param := range params {
				pm := param.(map[string]any)
				name := pm["name"].(string)
				if pm["in"] == "header" {
					continue // Idempotency-Key: the MCP tool's idempotency_key argument
				}
				var fieldPath []string
				for _, v := range tpl.vars {
					if strings.HasPrefix(name, v.name) && pm["in"] == "path" {
						fieldPath = strings.Split(v.name, ".")
					}
				}
				if fieldPath == nil {
					fieldPath = strings.Split(name, ".")
				}
				want := propertyAt(toolIn, fieldPath)
				if want == nil {
					t.Errorf("%s: parameter %s is not a property of the tool's input", id, name)
					continue
				}
				schema := copyJSON(pm["schema"]).(map[string]any)
				if allOf, ok := schema["allOf"].([]any); ok && len(allOf) == 2 && pm["in"] == "path" {
					schema = allOf[0].(map[string]any)
				} else if pm["in"] == "path" && strings.Contains(fmt.Sprint(pm["description"]), "has the form") {
					delete(schema, "pattern")
				}
				if strings.Contains(fmt.Sprint(pm["description"]), "proto (snake_case) names") {
					continue // a field mask in the query string: deliberately its own form
				}
				got := withoutDescriptions(expandSchema(schema, openAPIResolve, nil))
				wantDesc, _ := want["description"].(string)
				if want := withoutDescriptions(want); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: parameter %s schema\n%s\nwant the tool's\n%s", id, name, jsonText(got), jsonText(want))
				}
				first, _, _ := strings.Cut(wantDesc, "\n")
				if d, _ := pm["description"].(string); !strings.HasPrefix(d, first) {
					t.Errorf("%s: parameter %s description %q, want the tool's %q first", id, name, d, first)
				}
				compared++
			}
			// The body.
			if r.Body == "*" {
				want := copyJSON(toolIn).(map[string]any)
				removeProperty(want, []string{idempotencyArgument}) // MCP's; REST sends the Idempotency-Key header
				for _, v := range tpl.vars {
					removeProperty(want, strings.Split(v.name, "."))
				}
				// A body without the path fields is a copy of the request's schema in place: inside
				// it, the request is already being expanded.
				var stack []string
				if len(tpl.vars) > 0 {
					stack = []string{string(m.desc.Input().FullName())}
				}
				got := expandSchema(o.bodySchema(), openAPIResolve, stack)
				checkSameSchema(t, id+": body", got, want)
				compared++
			}
			// The response.
			want := toolOut
			if r.ResponseBody != "" {
				fd := m.desc.Output().Fields().ByName(protoreflect.Name(r.ResponseBody))
				want = copyJSON(propertyAt(toolOut, []string{fd.JSONName()})).(map[string]any)
				delete(want, "description")
			}
			var got any
			if m.stream != nil {
				line := o.responseSchema("application/x-ndjson")
				got = expandSchema(line["properties"].(map[string]any)["result"], openAPIResolve, nil)
			} else {
				got = expandSchema(o.responseSchema("application/json"), openAPIResolve, nil)
			}
			if r.ResponseBody != "" {
				delete(got.(map[string]any), "description")
			}
			checkSameSchema(t, id+": response", got, want)
			compared++
		}
	}
	if compared == 0 {
		t.Error("no schema compared")
	}
}

// decodeJSON reads a JSON object with numbers kept exact.
func decodeJSON(t *testing.T, data []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func toolResolver(t *testing.T, schema map[string]any, root protoreflect.MessageDescriptor) func(string) (any, string) {
	return func(ref string) (any, string) {
		if ref == "#" {
			return schema, string(root.FullName())
		}
		key, ok := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := schema["$defs"].(map[string]any)
		if !ok || defs[key] == nil {
			t.Fatalf("tool schema of %s: dangling reference %s", root.FullName(), ref)
		}
		return defs[key], key
	}
}

// expandSchema replaces each reference by the schema it points to, with the referring schema's
// own keywords (a field's description) over the target's; a reference back into a schema being
// expanded becomes {"$recursive": name}. Two schemas that differ only in what they share by
// reference expand alike.
func expandSchema(node any, resolve func(string) (any, string), stack []string) any {
	switch n := node.(type) {
	case map[string]any:
		out := map[string]any{}
		if ref, ok := n["$ref"].(string); ok {
			target, name := resolve(ref)
			if slices.Contains(stack, name) {
				out["$recursive"] = name
			} else {
				for k, v := range expandSchema(target, resolve, append(slices.Clip(stack), name)).(map[string]any) {
					out[k] = v
				}
			}
		}
		for k, v := range n {
			if k != "$ref" && k != "$schema" && k != "$defs" {
				out[k] = expandSchema(v, resolve, stack)
			}
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			out[i] = expandSchema(v, resolve, stack)
		}
		return out
	default:
		return node
	}
}

// checkSameSchema compares two expanded schemas. Descriptions are compared at the top and on its
// properties, where the document and the tool describe alike; deeper in, where one may refer to a
// shared schema that the other writes in place, only what validates must be the same, since
// toolschema describes an array's items or a well-known type's form only when they are shared.
func checkSameSchema(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := withoutDescriptions(got), withoutDescriptions(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s schema\n%s\nwant the tool's\n%s", what, jsonText(g), jsonText(w))
		return
	}
	gm, _ := got.(map[string]any)
	wm, _ := want.(map[string]any)
	if gm["description"] != wm["description"] {
		t.Errorf("%s description %q, want the tool's %q", what, gm["description"], wm["description"])
	}
	gp, _ := gm["properties"].(map[string]any)
	wp, _ := wm["properties"].(map[string]any)
	for name, w := range wp {
		g, _ := gp[name].(map[string]any)
		if d := w.(map[string]any)["description"]; g["description"] != d {
			t.Errorf("%s property %s description %q, want the tool's %q", what, name, g["description"], d)
		}
	}
}

// withoutDescriptions copies an expanded schema without its descriptions. It knows where
// schemas hold property names rather than keywords, so a property named description stays.
func withoutDescriptions(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			switch k {
			case "description":
			case "properties", "dependentSchemas", "patternProperties":
				props := map[string]any{}
				for name, sub := range x.(map[string]any) {
					props[name] = withoutDescriptions(sub)
				}
				out[k] = props
			default:
				out[k] = withoutDescriptions(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = withoutDescriptions(x)
		}
		return out
	default:
		return v
	}
}

// propertyAt returns the property at a dotted path of an expanded object schema.
func propertyAt(schema map[string]any, path []string) map[string]any {
	for _, name := range path {
		props, _ := schema["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			return nil
		}
		schema = next
	}
	return schema
}

func removeProperty(schema map[string]any, path []string) {
	parent := propertyAt(schema, path[:len(path)-1])
	if parent == nil {
		return
	}
	name := path[len(path)-1]
	if props, ok := parent["properties"].(map[string]any); ok {
		delete(props, name)
	}
	if req, ok := parent["required"].([]any); ok {
		req = slices.DeleteFunc(req, func(x any) bool { return x == name })
		if len(req) == 0 {
			delete(parent, "required")
		} else {
			parent["required"] = req
		}
	}
}

func jsonText(v any) string {
	data, _ := json.MarshalIndent(v, "", "  ")
	return string(data)
}

// The route probe: a service built at run time whose bindings use what the generated services
// do not (multi-segment and nested path variables, a field body, response_body, additional and
// colliding bindings, a custom verb, a recursive message, every schema rule of SchemaProbe).
var routeProbeComments = map[protoreflect.FullName]string{
	"agentbridge.openapitest.v1.LibraryService":              "LibraryService exercises every google.api.http feature the OpenAPI document maps.",
	"agentbridge.openapitest.v1.LibraryService.GetShelf":     "GetShelf returns a shelf. It has three bindings, two of them on the same OpenAPI path.",
	"agentbridge.openapitest.v1.LibraryService.UpdateBook":   "UpdateBook changes a book.",
	"agentbridge.openapitest.v1.LibraryService.ListBooks":    "ListBooks lists the books of a shelf.",
	"agentbridge.openapitest.v1.LibraryService.WatchBooks":   "WatchBooks streams the books of a shelf as they change.",
	"agentbridge.openapitest.v1.LibraryService.CreateFolder": "CreateFolder makes a folder of folders.",
	"agentbridge.openapitest.v1.LibraryService.Probe":        "Probe echoes a schema probe.",
	"agentbridge.openapitest.v1.LibraryService.Link":         "Link has only bindings OpenAPI cannot express.",
	"agentbridge.openapitest.v1.Shelf":                       "Shelf holds books.",
	"agentbridge.openapitest.v1.Shelf.name":                  "Resource name, such as shelves/fiction.",
	"agentbridge.openapitest.v1.Book":                        "Book is one book on a shelf.",
	"agentbridge.openapitest.v1.Book.name":                   "Resource name, such as shelves/fiction/books/dune.",
	"agentbridge.openapitest.v1.Book.id":                     "Numeric identifier.",
	"agentbridge.openapitest.v1.Book.title":                  "Title, never empty.",
	"agentbridge.openapitest.v1.Author":                      "Author wrote a book.",
	"agentbridge.openapitest.v1.Author.mentor":               "The author's mentor, an author too.",
	"agentbridge.openapitest.v1.ListBooksRequest.parent":     "The shelf, such as shelves/fiction.",
	"agentbridge.openapitest.v1.ListBooksRequest.max_age":    "Only books changed this recently.",
	"agentbridge.openapitest.v1.UpdateBookRequest.book":      "The book, with the new values.",
	"agentbridge.openapitest.v1.Folder":                      "Folder holds folders.",
}

func routeProbeDescribe(t *testing.T) func(protoreflect.FullName) string {
	t.Helper()
	embedded := embeddedDescribe(t)
	return func(n protoreflect.FullName) string {
		if d, ok := routeProbeComments[n]; ok {
			return d
		}
		return embedded(n)
	}
}

var routeProbeFile = sync.OnceValues(func() (protoreflect.FileDescriptor, error) {
	return protodesc.NewFile(routeProbeProto(), protoregistry.GlobalFiles)
})

// routeProbe returns the LibraryService of the route probe, and with all, its ProbeService too,
// whose query parameters (every field of SchemaProbe) are many and long, so the golden file
// leaves them out.
func routeProbe(t *testing.T, all ...bool) []protoreflect.ServiceDescriptor {
	t.Helper()
	fd, err := routeProbeFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) > 0 && all[0] {
		return servicesOf(fd)
	}
	return []protoreflect.ServiceDescriptor{fd.Services().Get(0)}
}

func routeProbeProto() *descriptorpb.FileDescriptorProto {
	typ := func(t descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto_Type { return &t }
	str, i32, i64, boolean, msg := typ(descriptorpb.FieldDescriptorProto_TYPE_STRING), typ(descriptorpb.FieldDescriptorProto_TYPE_INT32),
		typ(descriptorpb.FieldDescriptorProto_TYPE_INT64), typ(descriptorpb.FieldDescriptorProto_TYPE_BOOL), typ(descriptorpb.FieldDescriptorProto_TYPE_MESSAGE)
	one := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	many := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	field := func(name string, n int32, label *descriptorpb.FieldDescriptorProto_Label, t *descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Label: label, Type: t, JsonName: proto.String(jsonCamel(name))}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	title := field("title", 3, one, str, "")
	title.Options = &descriptorpb.FieldOptions{}
	proto.SetExtension(title.Options, validate.E_Field, &validate.FieldRules{Type: &validate.FieldRules_String_{String_: &validate.StringRules{MinLen: proto.Uint64(1)}}})
	const pkg = ".agentbridge.openapitest.v1."
	book := &descriptorpb.DescriptorProto{Name: proto.String("Book"), Field: []*descriptorpb.FieldDescriptorProto{
		field("name", 1, one, str, ""), field("id", 2, one, i64, ""), title,
		field("published", 4, one, msg, ".google.protobuf.Timestamp"), field("tags", 5, many, str, ""),
		field("author", 6, one, msg, pkg+"Author"), field("labels", 7, many, msg, pkg+"Book.LabelsEntry"),
	}, NestedType: []*descriptorpb.DescriptorProto{mapEntry("LabelsEntry", field("key", 1, one, str, ""), field("value", 2, one, str, ""))}}
	oneofIndex := func(f *descriptorpb.FieldDescriptorProto) *descriptorpb.FieldDescriptorProto {
		f.OneofIndex = proto.Int32(0)
		return f
	}
	messages := []*descriptorpb.DescriptorProto{
		{Name: proto.String("Shelf"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, one, str, ""), field("theme", 2, one, str, "")}},
		{Name: proto.String("GetShelfRequest"), Field: []*descriptorpb.FieldDescriptorProto{field("name", 1, one, str, "")}},
		book,
		{Name: proto.String("Author"), Field: []*descriptorpb.FieldDescriptorProto{
			field("name", 1, one, str, ""), field("born", 2, one, i32, ""), field("mentor", 3, one, msg, pkg+"Author"),
		}},
		{Name: proto.String("UpdateBookRequest"), Field: []*descriptorpb.FieldDescriptorProto{
			field("book", 1, one, msg, pkg+"Book"), field("update_mask", 2, one, msg, ".google.protobuf.FieldMask"), field("allow_missing", 3, one, boolean, ""),
		}},
		{Name: proto.String("ListBooksRequest"), Field: []*descriptorpb.FieldDescriptorProto{
			field("parent", 1, one, str, ""), field("page_size", 2, one, i32, ""), field("tags", 3, many, str, ""),
			field("author", 4, one, msg, pkg+"Author"), field("counts", 5, many, msg, pkg+"ListBooksRequest.CountsEntry"),
			field("max_age", 6, one, msg, ".google.protobuf.Duration"), field("books", 7, many, msg, pkg+"Book"),
			field("filter", 8, one, msg, ".google.protobuf.Struct"),
			oneofIndex(field("order_by", 9, one, str, "")), oneofIndex(field("newest_first", 10, one, boolean, "")),
		}, OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("order")}},
			NestedType: []*descriptorpb.DescriptorProto{mapEntry("CountsEntry", field("key", 1, one, str, ""), field("value", 2, one, i64, ""))}},
		{Name: proto.String("ListBooksResponse"), Field: []*descriptorpb.FieldDescriptorProto{
			field("books", 1, many, msg, pkg+"Book"), field("next_page_token", 2, one, str, ""),
		}},
		{Name: proto.String("WatchBooksRequest"), Field: []*descriptorpb.FieldDescriptorProto{field("parent", 1, one, str, "")}},
		{Name: proto.String("Folder"), Field: []*descriptorpb.FieldDescriptorProto{
			field("name", 1, one, str, ""), field("children", 2, many, msg, pkg+"Folder"), field("owner", 3, one, str, ""),
		}},
	}
	rule := func(r *gapi.HttpRule) *descriptorpb.MethodOptions {
		o := &descriptorpb.MethodOptions{}
		proto.SetExtension(o, gapi.E_Http, r)
		return o
	}
	get := func(path string) *gapi.HttpRule { return &gapi.HttpRule{Pattern: &gapi.HttpRule_Get{Get: path}} }
	deprecated := rule(&gapi.HttpRule{Pattern: &gapi.HttpRule_Post{Post: "/v1/{name=folders/*}"}, Body: "*"})
	deprecated.Deprecated = proto.Bool(true)
	method := func(name, in, out string, opts *descriptorpb.MethodOptions) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(in), OutputType: proto.String(out), Options: opts}
	}
	watch := method("WatchBooks", pkg+"WatchBooksRequest", pkg+"Book", rule(get("/v1/{parent=shelves/*}/books:watch")))
	watch.ServerStreaming = proto.Bool(true)
	getShelf := get("/v1/{name=shelves/*}")
	getShelf.AdditionalBindings = []*gapi.HttpRule{get("/v1/{name=archives/*/shelves/*}"), get("/v2/shelves/{name}")}
	update := &gapi.HttpRule{Pattern: &gapi.HttpRule_Patch{Patch: "/v1/{book.name=shelves/*/books/*}"}, Body: "book",
		AdditionalBindings: []*gapi.HttpRule{{Pattern: &gapi.HttpRule_Put{Put: "/v1/books/{book.id}"}, Body: "*"}}}
	list := get("/v1/{parent=shelves/*}/books")
	list.ResponseBody = "books"
	probe := &gapi.HttpRule{Pattern: &gapi.HttpRule_Post{Post: "/v1/probe"}, Body: "*", AdditionalBindings: []*gapi.HttpRule{get("/v1/probe")}}
	link := &gapi.HttpRule{Pattern: &gapi.HttpRule_Custom{Custom: &gapi.CustomHttpPattern{Kind: "LINK", Path: "/v1/shelves:link"}}, Body: "*",
		AdditionalBindings: []*gapi.HttpRule{get("/v1/*/shelves:link")}}
	return &descriptorpb.FileDescriptorProto{
		Name:    proto.String("agentbridge/openapitest/v1/routes.proto"),
		Package: proto.String("agentbridge.openapitest.v1"),
		Syntax:  proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto",
			"google/protobuf/field_mask.proto", "google/protobuf/struct.proto", "buf/validate/validate.proto", "agentbridge/testing/v1/schema.proto"},
		MessageType: messages,
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("LibraryService"), Method: []*descriptorpb.MethodDescriptorProto{
			method("GetShelf", pkg+"GetShelfRequest", pkg+"Shelf", rule(getShelf)),
			method("UpdateBook", pkg+"UpdateBookRequest", pkg+"Book", rule(update)),
			method("ListBooks", pkg+"ListBooksRequest", pkg+"ListBooksResponse", rule(list)),
			watch,
			method("CreateFolder", pkg+"Folder", pkg+"Folder", deprecated),
			method("Link", pkg+"Shelf", pkg+"Shelf", rule(link)),
		}}, {Name: proto.String("ProbeService"), Method: []*descriptorpb.MethodDescriptorProto{
			// Every schema rule, in a body and (where the query parser can set it) in the query.
			method("Probe", ".agentbridge.testing.v1.SchemaProbe", ".agentbridge.testing.v1.SchemaProbe", rule(probe)),
		}}},
	}
}

func mapEntry(name string, key, value *descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: []*descriptorpb.FieldDescriptorProto{key, value},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}}
}

func jsonCamel(name string) string {
	var b strings.Builder
	up := false
	for _, r := range name {
		if r == '_' {
			up = true
			continue
		}
		if up {
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	f := newOpenAPIFixture(t, routeProbeDescribe(t), routeProbe(t, true)...)
	ops := f.operations(t)
	for _, tc := range []struct {
		id, path, verb string
		params         []string
	}{
		{"LibraryService_GetShelf", "/v1/{name}", "get", []string{"path:name"}},
		{"LibraryService_GetShelf_1", "/v1/{name_1}", "get", []string{"path:name_1"}},
		{"LibraryService_GetShelf_2", "/v2/shelves/{name}", "get", []string{"path:name"}},
		{"LibraryService_UpdateBook", "/v1/{book.name}", "patch", []string{"path:book.name", "query:allowMissing", "query:updateMask"}},
		{"LibraryService_UpdateBook_1", "/v1/books/{book.id}", "put", []string{"path:book.id"}},
		{"LibraryService_ListBooks", "/v1/{parent}/books", "get", []string{
			"path:parent", "query:author.born", "query:author.name", "query:counts", "query:maxAge",
			"query:newestFirst", "query:orderBy", "query:pageSize", "query:tags",
		}},
		{"LibraryService_WatchBooks", "/v1/{parent}/books:watch", "get", []string{"path:parent"}},
		{"LibraryService_CreateFolder", "/v1/{name}", "post", []string{"path:name"}},
		{"ProbeService_Probe", "/v1/probe", "post", nil},
	} {
		o, ok := ops[tc.id]
		if !ok {
			t.Errorf("no operation %s among %v", tc.id, slices.Sorted(mapKeys(ops)))
			continue
		}
		if o.path != tc.path || o.verb != tc.verb {
			t.Errorf("%s: %s %s, want %s %s", tc.id, o.verb, o.path, tc.verb, tc.path)
		}
		if got := o.paramNames(); !slices.Equal(got, tc.params) {
			t.Errorf("%s: parameters %v, want %v", tc.id, got, tc.params)
		}
	}
	if _, ok := ops["LibraryService_Link"]; ok {
		t.Error("a custom verb OpenAPI has no operation for is documented")
	}
	if _, ok := ops["LibraryService_Link_1"]; ok {
		t.Error("a template with a wildcard outside a variable is documented")
	}
	if len(ops) != 10 {
		t.Errorf("%d operations %v, want 10", len(ops), slices.Sorted(mapKeys(ops)))
	}

	shelf := ops["LibraryService_GetShelf"].params()["path:name"]
	if s := shelf["schema"].(map[string]any); s["pattern"] != "^shelves/[^/]+$" {
		t.Errorf("GetShelf name: schema %v, want the pattern of shelves/*", s)
	}
	archived := ops["LibraryService_GetShelf_1"].params()["path:name_1"]
	if s := archived["schema"].(map[string]any); s["pattern"] != "^archives/[^/]+/shelves/[^/]+$" || !strings.Contains(archived["description"].(string), "Binds the field name") {
		t.Errorf("GetShelf_1 name_1: %v", archived)
	}
	if s := ops["LibraryService_GetShelf_2"].params()["path:name"]["schema"].(map[string]any); s["pattern"] != nil {
		t.Errorf("GetShelf_2 {name}: schema %v, want no pattern", s)
	}

	// body: "book" with the path setting book.name: the book without its name, a copy rather
	// than the component, which stays whole.
	update := ops["LibraryService_UpdateBook"]
	body := update.bodySchema()
	props := body["properties"].(map[string]any)
	if _, has := props["name"]; has || props["title"] == nil || body["$ref"] != nil {
		t.Errorf("UpdateBook body %v: want the Book without name", body)
	}
	if req := fmt.Sprint(body["required"]); req != "[title]" {
		t.Errorf("UpdateBook body required %s, want [title]", req)
	}
	if rb := update.op["requestBody"].(map[string]any); rb["required"] != true {
		t.Error("UpdateBook: a body with a required field is not required")
	}
	mask := update.params()["query:updateMask"]
	if s := mask["schema"].(map[string]any); s["pattern"] != queryFieldMaskPattern || !strings.Contains(mask["description"].(string), "snake_case") {
		t.Errorf("updateMask: %v, want the proto-name form the query parser reads", mask)
	}
	// body "*" with the nested path field book.id: the request without book.id.
	put := ops["LibraryService_UpdateBook_1"].bodySchema()
	putBook := put["properties"].(map[string]any)["book"].(map[string]any)
	if _, has := putBook["properties"].(map[string]any)["id"]; has || putBook["$ref"] != nil {
		t.Errorf("UpdateBook_1 body book %v: want the Book without id", putBook)
	}

	list := ops["LibraryService_ListBooks"]
	lp := list.params()
	if s := lp["query:tags"]["schema"].(map[string]any); s["type"] != "array" {
		t.Errorf("tags: %v, want an array (repeated keys)", s)
	}
	if c := lp["query:counts"]; c["style"] != "deepObject" || c["explode"] != true {
		t.Errorf("counts: %v, want a deepObject map", c)
	}
	if !strings.Contains(lp["query:maxAge"]["description"].(string), "time.ParseDuration") {
		t.Errorf("maxAge: %v", lp["query:maxAge"])
	}
	resp := list.responseSchema("application/json")
	if items, _ := resp["items"].(map[string]any); resp["type"] != "array" || !strings.Contains(fmt.Sprint(items["properties"]), "title") {
		t.Errorf("ListBooks response %v: want the books (response_body)", resp)
	}

	watch := ops["LibraryService_WatchBooks"]
	if watch.responseSchema("application/x-ndjson") == nil {
		t.Errorf("WatchBooks: %v, want an application/x-ndjson stream", watch.op["responses"])
	}

	// A recursive message with a path field: the body is the folder without its name, and its
	// children are whole folders.
	folder := ops["LibraryService_CreateFolder"]
	if folder.op["deprecated"] != true {
		t.Error("CreateFolder: the deprecated option is not carried")
	}
	fb := folder.bodySchema()
	children := fb["properties"].(map[string]any)["children"].(map[string]any)
	if _, has := fb["properties"].(map[string]any)["name"]; has || fmt.Sprint(children["items"]) != "map[$ref:#/components/schemas/agentbridge.openapitest.v1.Folder-input]" {
		t.Errorf("CreateFolder body %v", fb)
	}
	if whole := f.component(t, "agentbridge.openapitest.v1.Folder-input"); whole["properties"].(map[string]any)["name"] == nil {
		t.Error("the Folder-input component lost the name the body leaves out")
	}

	if body := ops["ProbeService_Probe"].bodySchema(); body["$ref"] != "#/components/schemas/agentbridge.testing.v1.SchemaProbe-input" {
		t.Errorf("Probe body %v, want the request's component", body)
	}
	query := ops["ProbeService_Probe_1"].paramNames()
	for _, want := range []string{"query:scalars.i64", "query:scalars.u64", "query:wellKnown.at", "query:email", "query:phone", "query:optionalShade"} {
		if !slices.Contains(query, want) {
			t.Errorf("Probe_1: no parameter %s among %v", want, query)
		}
	}
	for _, p := range query {
		if strings.Count(p, "tree.") > 1 || strings.Contains(p, "wellKnown.struct") || strings.Contains(p, "wellKnown.any") {
			t.Errorf("Probe_1: parameter %s the query parser cannot set or a recursion", p)
		}
	}
	f.checkSameAsTools(t, ops)
}

// TestOpenAPIComponentsResolve checks that every reference in both documents names a component,
// and that no component is a $defs entry left behind.
func TestOpenAPIComponentsResolve(t *testing.T) {
	t.Parallel()
	for _, f := range []*openAPIFixture{
		newOpenAPIFixture(t, embeddedDescribe(t), generatedServices()...),
		newOpenAPIFixture(t, routeProbeDescribe(t), routeProbe(t, true)...),
	} {
		schemas := f.doc["components"].(map[string]any)["schemas"].(map[string]any)
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					if ref, ok := x.(string); ok && k == "$ref" {
						name, ok := strings.CutPrefix(ref, componentPrefix)
						if !ok || schemas[name] == nil {
							t.Errorf("%s: reference %s names no component", path, ref)
						}
					}
					if k == "$defs" || k == "$schema" {
						t.Errorf("%s: %s left in the document", path, k)
					}
					walk(path+"/"+k, x)
				}
			case []any:
				for i, x := range v {
					walk(fmt.Sprintf("%s/%d", path, i), x)
				}
			}
		}
		walk("#", f.doc)
	}
}

// TestSortedMethods: the document covers every served method in procedure order, and names
// each as the MCP surface does.
func TestSortedMethods(t *testing.T) {
	t.Parallel()
	count := testingv1.File_agentbridge_testing_v1_stream_proto.Services().ByName("CountService")
	inventory := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	f := newOpenAPIFixture(t, embeddedDescribe(t), count, inventory)
	methods, names := (&generation{methods: f.methods}).sortedMethods()
	var got []string
	for _, m := range methods {
		got = append(got, m.procedure)
	}
	want := []string{"/agentbridge.demo.v1.InventoryService/GetItem", "/agentbridge.demo.v1.InventoryService/ListItems", "/agentbridge.demo.v1.InventoryService/ReserveItem", "/agentbridge.testing.v1.CountService/Count"}
	if !slices.Equal(got, want) {
		t.Errorf("methods %v, want %v", got, want)
	}
	if names["/agentbridge.testing.v1.CountService/Count"] != "CountService_Count" || len(names) != 4 {
		t.Errorf("tool names %v, want every method's", names)
	}
}
