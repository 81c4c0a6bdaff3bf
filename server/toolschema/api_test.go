package toolschema_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

func TestWrapped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		msg  proto.Message
		want bool
	}{
		{&timestamppb.Timestamp{}, true},
		{&durationpb.Duration{}, true},
		{&fieldmaskpb.FieldMask{}, true},
		{&structpb.Value{}, true},
		{&structpb.ListValue{}, true},
		{&wrapperspb.Int64Value{}, true},
		{&wrapperspb.BytesValue{}, true},
		{&structpb.Struct{}, false},
		{&anypb.Any{}, false},
		{&emptypb.Empty{}, false},
		{&testingv1.SchemaProbe{}, false},
	} {
		md := tc.msg.ProtoReflect().Descriptor()
		t.Run(string(md.Name()), func(t *testing.T) {
			t.Parallel()
			if got := toolschema.Wrapped(md); got != tc.want {
				t.Errorf("Wrapped = %v, want %v", got, tc.want)
			}
		})
	}
}

// A wrapped root's schema is {"value": <the JSON>}, says so, and accepts exactly what protojson
// accepts for the value.
func TestWrappedRoots(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		msg  proto.Message
		json string
	}{
		{&timestamppb.Timestamp{}, `"2024-05-01T12:30:00Z"`},
		{&timestamppb.Timestamp{}, `"2024-05-01"`},
		{&durationpb.Duration{}, `"3s"`},
		{&durationpb.Duration{}, `3`},
		{&wrapperspb.Int64Value{}, `"-9223372036854775808"`},
		{&wrapperspb.Int64Value{}, `"9223372036854775808"`},
		{&wrapperspb.BoolValue{}, `"yes"`},
		{&structpb.Value{}, `{"a": [1, null]}`},
		{&structpb.ListValue{}, `[1, "a"]`},
		{&structpb.ListValue{}, `{}`},
		{&fieldmaskpb.FieldMask{}, `"a.b,c"`},
		{&fieldmaskpb.FieldMask{}, `"a_b"`},
	} {
		md := tc.msg.ProtoReflect().Descriptor()
		t.Run(string(md.Name())+" "+tc.json, func(t *testing.T) {
			t.Parallel()
			schema, err := toolschema.Input(md, toolschema.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := schema["description"].(string); !strings.Contains(d, `{"value": <`+string(md.Name())+`>}`) {
				t.Errorf("description does not explain the wrapping: %q", d)
			}
			var value any
			if err := json.Unmarshal([]byte(tc.json), &value); err != nil {
				t.Fatal(err)
			}
			schemaOK := resolved(t, schema).Validate(map[string]any{toolschema.WrapperKey: value}) == nil
			protoOK := protojson.Unmarshal([]byte(tc.json), tc.msg.ProtoReflect().New().Interface()) == nil
			if schemaOK != protoOK {
				t.Errorf("schema accepts = %v, protojson accepts = %v", schemaOK, protoOK)
			}
			if resolved(t, schema).Validate(map[string]any{}) == nil {
				t.Error("schema accepts arguments without value")
			}
		})
	}
}

// Descriptions come from Options.Describe only: an element it has no comment for gets none.
func TestDescriptionsOnlyFromComments(t *testing.T) {
	t.Parallel()
	all := options(t)
	without := toolschema.Options{Describe: func(n protoreflect.FullName) string {
		if n == "agentbridge.testing.v1.SchemaProbe.plain" {
			return ""
		}
		return all.Describe(n)
	}}
	for _, tc := range []struct {
		name string
		o    toolschema.Options
		want string
	}{
		{"with comment", all, "A plain number; tests describe it"},
		{"without comment", without, ""},
		{"without Describe", toolschema.Options{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, f := range []func(protoreflect.MessageDescriptor, toolschema.Options) (map[string]any, error){toolschema.Input, toolschema.Output} {
				s, err := f(probe, tc.o)
				if err != nil {
					t.Fatal(err)
				}
				got, has := find(s, "plain")["description"].(string)
				if tc.want == "" && has {
					t.Errorf("plain has description %q", got)
				}
				if !strings.HasPrefix(got, tc.want) {
					t.Errorf("description %q, want prefix %q", got, tc.want)
				}
			}
		})
	}
}

// A message that contains itself refers to itself, without a depth limit: "#" at the root, a
// $defs entry below it.
func TestRecursion(t *testing.T) {
	t.Parallel()
	node := (&testingv1.SchemaNode{}).ProtoReflect().Descriptor()
	s, err := toolschema.Input(node, options(t))
	if err != nil {
		t.Fatal(err)
	}
	if ref := find(s, "first")["$ref"]; ref != "#" {
		t.Errorf("first: $ref = %v, want #", ref)
	}
	if _, ok := s["$defs"]; ok {
		t.Errorf("root recursion needs no $defs: %s", mustJSON(t, s["$defs"]))
	}
	deep := `{"name": "0"}`
	for i := range 50 {
		deep = `{"children": [` + deep + `], "first": {"name": "` + strings.Repeat("x", i) + `"}}`
	}
	var v any
	if err := json.Unmarshal([]byte(deep), &v); err != nil {
		t.Fatal(err)
	}
	if err := resolved(t, s).Validate(v); err != nil {
		t.Errorf("50 levels: %v", err)
	}
	p, err := toolschema.Input(probe, options(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"agentbridge.testing.v1.SchemaNode", "agentbridge.testing.v1.SchemaPing", "agentbridge.testing.v1.SchemaPong"} {
		if _, ok := p["$defs"].(map[string]any)[name]; !ok {
			t.Errorf("$defs has no %s", name)
		}
	}
	if ref := find(p, "tree")["$ref"]; ref != "#/$defs/agentbridge.testing.v1.SchemaNode" {
		t.Errorf("tree: $ref = %v", ref)
	}
}
