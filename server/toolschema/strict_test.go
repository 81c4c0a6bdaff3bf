package toolschema_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// keywordTypes lists the 2020-12 keywords the package writes, each with the JSON type it applies
// to ("" for any). Ajv's strict mode rejects unknown keywords and, with strictTypes, keywords
// used where no "type" of theirs is in force.
var keywordTypes = map[string]string{
	"$schema": "", "$defs": "", "$ref": "", "type": "", "description": "",
	"anyOf": "", "allOf": "", "not": "", "enum": "", "const": "",
	"properties": "object", "required": "object", "additionalProperties": "object",
	"propertyNames": "object", "dependentSchemas": "object", "minProperties": "object", "maxProperties": "object",
	"items": "array", "minItems": "array", "maxItems": "array", "uniqueItems": "array",
	"pattern": "string", "format": "string", "minLength": "string", "maxLength": "string",
	"minimum": "number", "maximum": "number", "exclusiveMinimum": "number", "exclusiveMaximum": "number",
}

// The formats ajv-formats knows that the package may use.
var formats = []string{"date-time", "email", "uri", "uuid", "hostname", "ipv4", "ipv6"}

// strictSchemas are every schema the tests look at, by name.
func strictSchemas(t testing.TB) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, g := range goldens() {
		out[g.file] = schemaOf(t, g)
	}
	// Every message of the test proto as a root, and every wrapped well-known root.
	mds := []protoreflect.MessageDescriptor{
		(&testingv1.SchemaScalars{}).ProtoReflect().Descriptor(),
		(&testingv1.SchemaWellKnown{}).ProtoReflect().Descriptor(),
		(&testingv1.SchemaNode{}).ProtoReflect().Descriptor(),
		(&testingv1.SchemaPing{}).ProtoReflect().Descriptor(),
		(&testingv1.SchemaContainers{}).ProtoReflect().Descriptor(),
		(&testingv1.SchemaRules{}).ProtoReflect().Descriptor(),
		(&testingv1.SchemaRequired{}).ProtoReflect().Descriptor(),
		(&testingv1.Fidelity{}).ProtoReflect().Descriptor(),
		(&timestamppb.Timestamp{}).ProtoReflect().Descriptor(),
		(&durationpb.Duration{}).ProtoReflect().Descriptor(),
		(&wrapperspb.Int64Value{}).ProtoReflect().Descriptor(),
		(&structpb.Value{}).ProtoReflect().Descriptor(),
		(&structpb.Struct{}).ProtoReflect().Descriptor(),
		(&structpb.ListValue{}).ProtoReflect().Descriptor(),
		(&fieldmaskpb.FieldMask{}).ProtoReflect().Descriptor(),
		(&emptypb.Empty{}).ProtoReflect().Descriptor(),
	}
	for _, md := range mds {
		for _, f := range []struct {
			name string
			fn   func(protoreflect.MessageDescriptor, toolschema.Options) (map[string]any, error)
		}{{"input", toolschema.Input}, {"output", toolschema.Output}} {
			s, err := f.fn(md, options(t))
			if err != nil {
				t.Fatal(err)
			}
			out[string(md.FullName())+"."+f.name] = s
		}
	}
	return out
}

// walkSchema calls visit for every schema object in s, with the JSON type in force there: the
// object's own "type", or, through in-place applicators (anyOf, allOf, not, dependentSchemas),
// the type of the schema that holds it.
func walkSchema(s any, path string, inherited string, visit func(path string, s map[string]any, typ string)) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	typ := inherited
	if t, ok := m["type"].(string); ok {
		typ = t
	}
	visit(path, m, typ)
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "properties", "$defs", "dependentSchemas":
			sub, _ := v.(map[string]any)
			inner := ""
			if k == "dependentSchemas" {
				inner = typ
			}
			for _, name := range sortedKeys(sub) {
				walkSchema(sub[name], path+"/"+k+"/"+name, inner, visit)
			}
		case "items", "additionalProperties", "propertyNames":
			walkSchema(v, path+"/"+k, "", visit)
		case "not":
			walkSchema(v, path+"/not", typ, visit)
		case "anyOf", "allOf":
			list, _ := v.([]any)
			for i, sub := range list {
				walkSchema(sub, fmt.Sprintf("%s/%s/%d", path, k, i), typ, visit)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The schemas avoid what Ajv's strict 2020-12 mode (strict: true, with ajv-formats) rejects.
func TestStrictModeTraps(t *testing.T) {
	t.Parallel()
	for name, schema := range strictSchemas(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Round-trip through JSON so that the checks see what clients see.
			var s map[string]any
			if err := json.Unmarshal([]byte(mustJSON(t, schema)), &s); err != nil {
				t.Fatal(err)
			}
			if s["type"] != "object" || s["$schema"] != toolschema.Dialect {
				t.Errorf("root must be an object schema of dialect %s", toolschema.Dialect)
			}
			walkSchema(s, "#", "", func(path string, m map[string]any, typ string) {
				for k, v := range m {
					want, known := keywordTypes[k]
					switch {
					case !known:
						t.Errorf("%s: keyword %q is not in the allowlist", path, k)
					case strings.HasPrefix(k, "x-"):
						t.Errorf("%s: extension keyword %q", path, k)
					case want != "" && want != typ && (want != "number" || typ != "integer"):
						t.Errorf("%s: %q needs type %q but the type in force is %q", path, k, want, typ)
					}
					if k == "type" {
						if _, ok := v.(string); !ok {
							t.Errorf("%s: type must be one string (use anyOf for unions), got %v", path, v)
						}
					}
				}
				if f, ok := m["format"].(string); ok && !slices.Contains(formats, f) {
					t.Errorf("%s: format %q is not one of %v", path, f, formats)
				}
				if req, ok := m["required"].([]any); ok {
					props, _ := m["properties"].(map[string]any)
					for _, r := range req {
						if _, ok := props[r.(string)]; !ok {
							t.Errorf("%s: required %q is not in the same schema's properties (strictRequired)", path, r)
						}
					}
				}
				if p, ok := m["pattern"].(string); ok {
					if _, err := regexp.Compile(p); err != nil {
						t.Errorf("%s: pattern does not compile in Go: %v", path, err)
					}
				}
				if ref, ok := m["$ref"].(string); ok && ref != "#" {
					defs, _ := s["$defs"].(map[string]any)
					if _, ok := defs[strings.TrimPrefix(ref, "#/$defs/")]; !ok || !strings.HasPrefix(ref, "#/$defs/") {
						t.Errorf("%s: dangling $ref %q", path, ref)
					}
				}
			})
		})
	}
}

// Every pattern compiles as an ECMAScript regular expression with the u flag, as Ajv compiles
// it, and matches the same strings there as in Go. Needs node; skipped without it.
func TestPatternsAreECMAScript(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	set := map[string]bool{}
	for _, s := range strictSchemas(t) {
		walkSchema(s, "#", "", func(_ string, m map[string]any, _ string) {
			if p, ok := m["pattern"].(string); ok {
				set[p] = true
			}
			if pn, ok := m["propertyNames"].(map[string]any); ok {
				if p, ok := pn["pattern"].(string); ok {
					set[p] = true
				}
			}
		})
	}
	patterns := sortedKeys(set)
	samples := []string{"", "0", "-0", "42", "-2147483648", "2147483648", "18446744073709551615", "+5", "007",
		"aGk=", "-_8", "a+_b", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "9999-12-31T23:59:59Z",
		"1.5s", "-.5s", "a.bC,d", "a_b", "HELLO \t World", "hello\u00a0world", "x-mid-y", "a@b.co", "example.com.",
		"123", "192.168.0.1", "01.1.1.1", "123e4567-e89b-12d3-a456-426614174000", "01ARZ3NDEKTSV4RRFFQ69G5FAV",
		"\u212a", "ok\n", "é", "😀", "NaN", "1e39", "2.5e10",
		"2024-05-01+02:00", "2024-05-01T12:30:00", "-0044-03", "--02-29", "---31", "24:00:00", "P1Y2M3DT4.5S", "12.50", ".5", "-0"}
	type check struct {
		Pattern string   `json:"pattern"`
		Samples []string `json:"samples"`
		Want    []bool   `json:"want"`
	}
	var checks []check
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		c := check{Pattern: p, Samples: samples}
		for _, s := range samples {
			c.Want = append(c.Want, re.MatchString(s))
		}
		checks = append(checks, c)
	}
	script := `
const checks = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const bad = [];
for (const c of checks) {
  let re;
  try { re = new RegExp(c.pattern, 'u'); } catch (e) { bad.push(c.pattern + ': ' + e.message); continue; }
  c.samples.forEach((s, i) => { if (re.test(s) !== c.want[i]) bad.push(c.pattern + ' on ' + JSON.stringify(s) + ': JS says ' + re.test(s)); });
}
console.log(JSON.stringify(bad));`
	cmd := exec.Command(node, "-e", script)
	cmd.Stdin = strings.NewReader(mustJSON(t, checks))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v: %s", err, stderr.String())
	}
	var bad []string
	if err := json.Unmarshal(out.Bytes(), &bad); err != nil {
		t.Fatalf("node said %q: %v", out.String(), err)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if len(patterns) < 20 {
		t.Errorf("only %d patterns checked; the walk is missing some", len(patterns))
	}
}
