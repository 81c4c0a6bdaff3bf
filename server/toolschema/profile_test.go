package toolschema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// shaped are the non-exact profiles.
var shaped = []toolschema.Profile{toolschema.Portable, toolschema.OpenAIStrict, toolschema.Gemini}

// profileRoots are the request messages whose schemas the profile tests shape: the golden ones
// (the probe and the demo), every part of the probe as a root, and wrapped well-known roots.
func profileRoots() map[string]protoreflect.MessageDescriptor {
	out := map[string]protoreflect.MessageDescriptor{}
	for _, g := range goldens() {
		if !g.output {
			out[g.file] = g.md
		}
	}
	for _, m := range []proto.Message{
		&testingv1.SchemaScalars{}, &testingv1.SchemaWellKnown{}, &testingv1.SchemaNode{}, &testingv1.SchemaPing{},
		&testingv1.SchemaContainers{}, &testingv1.SchemaRules{}, &testingv1.SchemaRequired{},
		&timestamppb.Timestamp{}, &durationpb.Duration{}, &wrapperspb.Int64Value{}, &structpb.Value{},
		&structpb.Struct{}, &emptypb.Empty{},
	} {
		md := m.ProtoReflect().Descriptor()
		out[string(md.FullName())] = md
	}
	return out
}

func advertised(t testing.TB, md protoreflect.MessageDescriptor, p toolschema.Profile) map[string]any {
	t.Helper()
	exact, err := toolschema.Input(md, options(t))
	if err != nil {
		t.Fatal(err)
	}
	before := mustJSON(t, exact)
	s, err := toolschema.Advertise(exact, p)
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, exact) != before {
		t.Fatal("Advertise changed the exact schema")
	}
	// Round-trip through JSON so that the checks see what hosts see.
	var out map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, s)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// The shaped input schemas of the goldens are kept in testdata/NAME.PROFILE.golden.json.
func TestProfileGolden(t *testing.T) {
	t.Parallel()
	for _, g := range goldens() {
		if g.output {
			continue
		}
		for _, p := range shaped {
			name := g.file + "." + string(p)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				exact := schemaOf(t, g)
				s, err := toolschema.Advertise(exact, p)
				if err != nil {
					t.Fatal(err)
				}
				got, err := json.MarshalIndent(s, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				path := filepath.Join("testdata", name+".golden.json")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the generated schema; run go test ./server/toolschema -update and review the diff", path)
				}
			})
		}
	}
}

func TestParseProfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want toolschema.Profile
		err  bool
	}{
		{"", toolschema.Portable, false},
		{"exact", toolschema.Exact, false},
		{" Gemini ", toolschema.Gemini, false},
		{"openai-strict", toolschema.OpenAIStrict, false},
		{"strict", "", true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := toolschema.ParseProfile(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("ParseProfile(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// hostRule is one host's rules on a tool's input schema: it returns the violations it finds.
type hostRule func(s map[string]any) []string

// visitSchemas calls visit for every schema object in s (through properties, items,
// additionalProperties, propertyNames, $defs, anyOf, allOf, oneOf, not, dependentSchemas), with
// its JSON pointer and how many objects with properties enclose it.
func visitSchemas(s any, path string, depth int, visit func(path string, m map[string]any, depth int)) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	visit(path, m, depth)
	inner := depth
	if _, ok := m["properties"]; ok {
		inner++
	}
	for _, k := range sortedKeys(m) {
		switch v := m[k].(type) {
		case map[string]any:
			switch k {
			case "properties", "$defs", "dependentSchemas":
				for _, name := range sortedKeys(v) {
					visitSchemas(v[name], path+"/"+k+"/"+name, inner, visit)
				}
			case "items", "additionalProperties", "propertyNames", "not":
				visitSchemas(v, path+"/"+k, inner, visit)
			}
		case []any:
			if k == "anyOf" || k == "allOf" || k == "oneOf" {
				for i, sub := range v {
					visitSchemas(sub, fmt.Sprintf("%s/%s/%d", path, k, i), depth, visit)
				}
			}
		}
	}
}

// anthropicRules: the Anthropic API refuses an input_schema with oneOf, allOf or anyOf at the
// top level (and then the whole request); the root must be an object.
func anthropicRules(s map[string]any) []string {
	var out []string
	if s["type"] != "object" {
		out = append(out, "root: type must be object")
	}
	for _, k := range []string{"oneOf", "allOf", "anyOf"} {
		if _, ok := s[k]; ok {
			out = append(out, "root: "+k+" at the top level")
		}
	}
	return out
}

// cursorRules: Cursor refuses oneOf, allOf and anyOf anywhere.
func cursorRules(s map[string]any) []string {
	var out []string
	visitSchemas(s, "#", 0, func(path string, m map[string]any, _ int) {
		for _, k := range []string{"oneOf", "allOf", "anyOf"} {
			if _, ok := m[k]; ok {
				out = append(out, path+": "+k)
			}
		}
	})
	return out
}

// portableRules: what the portable profile promises beyond the Anthropic and Cursor rules: no
// $schema, one JSON type per field, no "not" or dependentSchemas, $refs only to the root or to
// $defs that refer to themselves.
func portableRules(s map[string]any) []string {
	out := append(anthropicRules(s), cursorRules(s)...)
	if _, ok := s["$schema"]; ok {
		out = append(out, "root: $schema")
	}
	defs, _ := s["$defs"].(map[string]any)
	visitSchemas(s, "#", 0, func(path string, m map[string]any, _ int) {
		if _, ok := m["type"].([]any); ok {
			out = append(out, path+": more than one type")
		}
		for _, k := range []string{"not", "dependentSchemas"} {
			if _, ok := m[k]; ok {
				out = append(out, path+": "+k)
			}
		}
		if ref, ok := m["$ref"].(string); ok && ref != "#" && !reachesItself(defs, strings.TrimPrefix(ref, "#/$defs/")) {
			out = append(out, path+": $ref to "+ref+", which does not contain itself")
		}
	})
	return out
}

func reachesItself(defs map[string]any, name string) bool {
	seen := map[string]bool{}
	stack := []string{name}
	for first := true; len(stack) > 0; first = false {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == name && !first {
			return true
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		visitSchemas(defs[n], "", 0, func(_ string, m map[string]any, _ int) {
			if ref, ok := m["$ref"].(string); ok {
				stack = append(stack, strings.TrimPrefix(ref, "#/$defs/"))
			}
		})
	}
	return false
}

// OpenAI's strict mode (Structured Outputs' "Supported schemas"): the root an object, not
// anyOf; every object with additionalProperties false and every property required (optional
// ones nullable); only the supported keywords and string formats; no keywords beside $ref; a
// type list only as [T, "null"]; at most 10 levels of nesting and 5000 properties in all; at most
// 1000 enum values in all.
func openAIStrictRules(s map[string]any) []string {
	allowed := []string{"type", "description", "properties", "required", "additionalProperties", "items", "anyOf",
		"enum", "$ref", "$defs", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
		"multipleOf", "minItems", "maxItems"}
	formats := []string{"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
	if _, ok := s["properties"]; !ok && s["type"] == "object" {
		// A request that is itself free-form (a Struct) cannot be strict: hosts send such a tool
		// without strict, and its schema is the portable one.
		return nil
	}
	var out []string
	if s["type"] != "object" {
		out = append(out, "root: type must be object")
	}
	if _, ok := s["anyOf"]; ok {
		out = append(out, "root: anyOf")
	}
	props, enums := 0, 0
	visitSchemas(s, "#", 0, func(path string, m map[string]any, depth int) {
		if depth > 10 {
			out = append(out, fmt.Sprintf("%s: nested %d levels deep", path, depth))
		}
		for k := range m {
			if !slices.Contains(allowed, k) {
				out = append(out, path+": keyword "+k)
			}
		}
		if _, ok := m["$ref"]; ok && len(m) > 1 {
			out = append(out, path+": keywords beside $ref")
		}
		if f, ok := m["format"].(string); ok && !slices.Contains(formats, f) {
			out = append(out, path+": format "+f)
		}
		if ts, ok := m["type"].([]any); ok && (len(ts) != 2 || !slices.Contains(ts, any("null"))) {
			out = append(out, fmt.Sprintf("%s: type %v", path, ts))
		}
		if e, ok := m["enum"].([]any); ok {
			enums += len(e)
		}
		p, isObject := m["properties"].(map[string]any)
		if m["type"] == "object" || isObject {
			props += len(p)
			if m["additionalProperties"] != false {
				out = append(out, path+": additionalProperties is not false")
			}
			req, _ := m["required"].([]any)
			for name := range p {
				if !slices.Contains(req, any(name)) {
					out = append(out, path+": property "+name+" is not required")
				}
			}
			if !isObject {
				out = append(out, path+": an object without properties")
			}
		}
	})
	if props > 5000 {
		out = append(out, fmt.Sprintf("%d properties in all", props))
	}
	if enums > 1000 {
		out = append(out, fmt.Sprintf("%d enum values in all", enums))
	}
	return out
}

// Gemini's function declarations take an OpenAPI 3.0 subset, its Schema object: only the
// documented fields, one type of string, number, integer, boolean, array or object; enum only on
// strings; the formats it reads per type; an object with properties (Gemini refuses an empty
// one below the root); properties and required only on objects, required naming properties; an
// array with items; no $ref, $defs, $schema or additionalProperties.
func geminiRules(s map[string]any) []string {
	allowed := []string{"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
		"properties", "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
		"anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}
	formats := map[string][]string{"string": {"enum", "date-time"}, "number": {"float", "double"}, "integer": {"int32", "int64"}}
	var out []string
	if s["type"] != "object" {
		out = append(out, "root: type must be object")
	}
	visitSchemas(s, "#", 0, func(path string, m map[string]any, _ int) {
		for k := range m {
			if !slices.Contains(allowed, k) {
				out = append(out, path+": keyword "+k)
			}
		}
		typ, ok := m["type"].(string)
		if !ok || !slices.Contains([]string{"string", "number", "integer", "boolean", "array", "object"}, typ) {
			out = append(out, fmt.Sprintf("%s: type %v", path, m["type"]))
		}
		if _, ok := m["enum"]; ok && typ != "string" {
			out = append(out, path+": enum on type "+typ)
		}
		if f, ok := m["format"].(string); ok && !slices.Contains(formats[typ], f) {
			out = append(out, path+": format "+f+" on type "+typ)
		}
		props, hasProps := m["properties"].(map[string]any)
		if typ == "object" && len(props) == 0 && path != "#" {
			out = append(out, path+": an object without properties")
		}
		if (hasProps || m["required"] != nil) && typ != "object" {
			out = append(out, path+": properties or required on type "+typ)
		}
		req, _ := m["required"].([]any)
		for _, r := range req {
			if _, ok := props[r.(string)]; !ok {
				out = append(out, fmt.Sprintf("%s: required %v is not a property", path, r))
			}
		}
		if _, ok := m["items"]; typ == "array" && !ok {
			out = append(out, path+": array without items")
		}
	})
	return out
}

// Each profile's schemas keep the rules of the hosts it is for, for every request message of
// the probe and the demo; exact schemas break them (the reason the profiles exist), which shows
// the checks are not empty.
func TestProfileHostRules(t *testing.T) {
	t.Parallel()
	rules := map[toolschema.Profile]map[string]hostRule{
		toolschema.Portable:     {"anthropic": anthropicRules, "cursor": cursorRules, "portable": portableRules},
		toolschema.OpenAIStrict: {"anthropic": anthropicRules, "openai-strict": openAIStrictRules},
		toolschema.Gemini:       {"anthropic": anthropicRules, "cursor": cursorRules, "gemini": geminiRules},
	}
	for name, md := range profileRoots() {
		for _, p := range shaped {
			t.Run(name+"/"+string(p), func(t *testing.T) {
				t.Parallel()
				s := advertised(t, md, p)
				for host, rule := range rules[p] {
					for _, v := range rule(s) {
						t.Errorf("%s rule: %s", host, v)
					}
				}
			})
		}
	}
	t.Run("exact breaks them", func(t *testing.T) {
		t.Parallel()
		exact := advertised(t, (&testingv1.SchemaRequired{}).ProtoReflect().Descriptor(), toolschema.Exact)
		for host, rule := range map[string]hostRule{"anthropic": anthropicRules, "cursor": cursorRules, "openai-strict": openAIStrictRules, "gemini": geminiRules} {
			if len(rule(exact)) == 0 {
				t.Errorf("the exact SchemaRequired keeps the %s rules; the check finds nothing", host)
			}
		}
	})
}

// saidLess are the protojson errors a profile's schema may let through: the value has the JSON
// type the schema states, and the schema leaves its range or grammar to the server (integer
// and float ranges, the calendar of a date-time, base64 padding, a duration's limit, map keys'
// ranges), or states the rule in words (at most one member of a oneof, an Any's @type).
var saidLess = regexp.MustCompile(`invalid value for (u|s)?(int|fixed)(32|64) (field|key)|invalid value for float field|` +
	`invalid value for bytes field|invalid google\.protobuf\.(Timestamp|Duration) value|google\.protobuf\.(Timestamp|Duration) value out of range|` +
	`oneof \S+ is already set|missing "@type" field|unable to resolve`)

// A profile may say less than the server checks, never something different: every argument
// object of the exactness cases that a profile's schema accepts, protojson reads, unless the
// schema leaves that value's range or grammar to the server (saidLess). The server may still
// refuse it for a buf.validate rule, which the profile states in words where it has no keyword
// for it. Nulls mean "not set" in openai-strict and are dropped first; Gemini's schema (and
// portable's, which is Gemini's narrowed to what every host takes) is silent about what it leaves out (free-form fields, deep nesting, unknown properties), so only the
// part it describes is read.
func TestProfilesSayNoMoreThanTheServer(t *testing.T) {
	t.Parallel()
	for _, p := range shaped {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			type compiled struct {
				schema map[string]any
				rs     *jsonschema.Resolved
			}
			schemas := map[protoreflect.FullName]compiled{}
			accepted, refused := 0, 0
			for _, tc := range exactCases {
				root := tc.root
				if root == nil {
					root = probe
				}
				c, ok := schemas[root.FullName()]
				if !ok {
					c.schema = advertised(t, root, p)
					c.rs = resolved(t, c.schema)
					schemas[root.FullName()] = c
				}
				s := c.schema
				var instance any
				if err := json.Unmarshal([]byte(tc.args), &instance); err != nil {
					t.Fatal(err)
				}
				if c.rs.Validate(instance) != nil {
					continue
				}
				accepted++
				switch p {
				case toolschema.OpenAIStrict:
					instance = withoutNulls(instance)
				case toolschema.Gemini, toolschema.Portable:
					instance = describedPart(s, instance)
				}
				args := mustJSON(t, instance)
				if err := protojson.Unmarshal([]byte(args), dynamicpb.NewMessage(root)); err != nil && !saidLess.MatchString(err.Error()) {
					t.Errorf("%s: the %s schema accepts %s, which protojson does not read: %v", tc.name, p, args, err)
				}
				if serverAccepts(root, args) != nil {
					refused++
				}
			}
			t.Logf("%s accepts %d of %d cases; the server refuses %d of them for a rule", p, accepted, len(exactCases), refused)
		})
	}
}

// describedPart keeps of v what schema s describes: the properties it lists, at every level.
func describedPart(s map[string]any, v any) any {
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		out := map[string]any{}
		for k, x := range v {
			if sub, ok := props[k].(map[string]any); ok {
				out[k] = describedPart(sub, x)
			}
		}
		return out
	case []any:
		items, _ := s["items"].(map[string]any)
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = describedPart(items, x)
		}
		return out
	}
	return v
}

func withoutNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if x != nil {
				out[k] = withoutNulls(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = withoutNulls(x)
		}
		return out
	}
	return v
}

// What protojson writes for a request (its canonical form), each profile's schema accepts:
// random messages of the probe's parts without rules, with every optional property of
// openai-strict sent as null and the fields it leaves out taken away. Not advertised, though
// the server reads them: NaN and ±Infinity (profiles state floats as numbers) and enum numbers
// the enum does not define (profiles state names), so those are replaced first.
func TestProfilesAcceptCanonicalForms(t *testing.T) {
	t.Parallel()
	roots := []proto.Message{
		&testingv1.SchemaScalars{}, &testingv1.SchemaWellKnown{}, &testingv1.SchemaContainers{},
		&testingv1.SchemaNode{}, &testingv1.SchemaPing{},
	}
	for _, root := range roots {
		md := root.ProtoReflect().Descriptor()
		for _, p := range shaped {
			t.Run(string(md.Name())+"/"+string(p), func(t *testing.T) {
				t.Parallel()
				s := advertised(t, md, p)
				rs := resolved(t, s)
				for seed := range uint64(100) {
					r := rand.New(rand.NewPCG(seed, 0xca7011ca1))
					msg := root.ProtoReflect().New()
					fill(r, msg, 0)
					tame(msg)
					b, err := protojson.Marshal(msg.Interface())
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					var instance any
					if err := json.Unmarshal(b, &instance); err != nil {
						t.Fatal(err)
					}
					if p == toolschema.OpenAIStrict {
						instance = strictInstance(s, s, instance)
					}
					if err := rs.Validate(instance); err != nil {
						t.Fatalf("seed %d: the %s schema refuses what protojson wrote: %v\n%s", seed, p, err, mustJSON(t, instance))
					}
				}
			})
		}
	}
}

// tame replaces the values no profile advertises: NaN and ±Infinity, and undefined enum numbers.
func tame(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fix := func(v protoreflect.Value) protoreflect.Value {
			switch fd.Kind() {
			case protoreflect.FloatKind, protoreflect.DoubleKind:
				if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
					if fd.Kind() == protoreflect.FloatKind {
						return protoreflect.ValueOfFloat32(1)
					}
					return protoreflect.ValueOfFloat64(1)
				}
			case protoreflect.EnumKind:
				if fd.Enum().Values().ByNumber(v.Enum()) == nil {
					return protoreflect.ValueOfEnum(fd.Enum().Values().Get(0).Number())
				}
			case protoreflect.MessageKind:
				tame(v.Message())
			}
			return v
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				l.Set(i, fix(l.Get(i)))
			}
		case fd.IsMap():
			mv := fd.MapValue()
			if mv.Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
					tame(e.Message())
					return true
				})
			} else if mv.Enum() != nil || mv.Kind() == protoreflect.FloatKind || mv.Kind() == protoreflect.DoubleKind {
				mp := v.Map()
				mp.Range(func(k protoreflect.MapKey, e protoreflect.Value) bool {
					switch {
					case mv.Enum() != nil && mv.Enum().Values().ByNumber(e.Enum()) == nil:
						mp.Set(k, protoreflect.ValueOfEnum(0))
					case mv.Kind() == protoreflect.DoubleKind && (math.IsNaN(e.Float()) || math.IsInf(e.Float(), 0)):
						mp.Set(k, protoreflect.ValueOfFloat64(1))
					}
					return true
				})
			}
		default:
			m.Set(fd, fix(v))
		}
		return true
	})
}

// strictInstance makes v what an openai-strict host sends: every property of the schema there,
// null where v has none, and none that the schema leaves out.
func strictInstance(root, s map[string]any, v any) any {
	if ref, ok := s["$ref"].(string); ok {
		target := root
		if name, isDef := strings.CutPrefix(ref, "#/$defs/"); isDef {
			defs, _ := root["$defs"].(map[string]any)
			target, _ = defs[name].(map[string]any)
		}
		return strictInstance(root, target, v)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		if v == nil {
			return nil
		}
		for _, a := range alts {
			if m, _ := a.(map[string]any); m["type"] != "null" {
				return strictInstance(root, m, v)
			}
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props, ok := s["properties"].(map[string]any)
		if !ok {
			return v
		}
		out := map[string]any{}
		for name, sub := range props {
			m, _ := sub.(map[string]any)
			out[name] = strictInstance(root, m, v[name])
		}
		return out
	case []any:
		items, _ := s["items"].(map[string]any)
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = strictInstance(root, items, x)
		}
		return out
	}
	return v
}
