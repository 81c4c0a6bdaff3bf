package toolschema_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// lexicalSamples are forms of every lexical XSD type and near misses of them.
var lexicalSamples = []string{
	"", " ", "2024-05-01", "2024-05-01+02:00", "2024-05-01Z", "2023-02-29", "2024-02-29", "2024-5-1",
	"2024-05-01T12:30:00", "2024-05-01T12:30:00Z", "2024-05-01T12:30:00.5+05:30", "2024-05-01T12:30:00+0530",
	"2024-05-01T24:00:00", "2024-05-01T24:00:01", "12:30:00", "12:30", "2024", "024", "2024-05", "--05", "--02-29",
	"--02-30", "---31", "---32", "P1Y2M3DT4H5M6.7S", "PT36H", "P1D", "-P18M", "P", "PT", "P1YT", "12.50", "-0012.3400",
	".5", "1.", "1e3", "007", "-0", "+0", "-42", "42", "123456789012345678901234567890", " 2024-05-01", "2024-05-01 ",
}

// TestLexicalFieldsAgreeWithTheCodec: for every string field with an xsd_type, the input schema
// accepts a value exactly when the XML codec would send it to the backend.
func TestLexicalFieldsAgreeWithTheCodec(t *testing.T) {
	t.Parallel()
	for _, md := range []protoreflect.MessageDescriptor{
		(&testingv1.Fidelity{}).ProtoReflect().Descriptor(),
		(&testingv1.Present{}).ProtoReflect().Descriptor(),
	} {
		rs, _ := inputSchema(t, md)
		plan, err := xmlcodec.For(md)
		if err != nil {
			t.Fatal(err)
		}
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if _, ok := xmlcodec.FieldXSDType(fd); !ok {
				continue
			}
			t.Run(string(fd.FullName()), func(t *testing.T) {
				t.Parallel()
				for _, sample := range lexicalSamples {
					var value any = sample
					if fd.IsList() {
						value = []string{sample}
					}
					args := mustJSON(t, map[string]any{fd.JSONName(): value})
					var instance any
					if err := json.Unmarshal([]byte(args), &instance); err != nil {
						t.Fatal(err)
					}
					schemaOK := rs.Validate(instance) == nil
					m, err := newMessage(md)
					if err != nil {
						t.Fatal(err)
					}
					if err := protojson.Unmarshal([]byte(args), m); err != nil {
						t.Fatalf("%s: %v", args, err)
					}
					_, encErr := plan.AppendElement(nil, xmlcodec.Name{Local: "r"}, m)
					if schemaOK != (encErr == nil) {
						t.Errorf("%s: schema accepts = %v, codec sends = %v (%v)", args, schemaOK, encErr == nil, encErr)
					}
				}
			})
		}
	}
}

func newMessage(md protoreflect.MessageDescriptor) (proto.Message, error) {
	switch md.FullName() {
	case "agentbridge.testing.v1.Fidelity":
		return &testingv1.Fidelity{}, nil
	default:
		return &testingv1.Present{}, nil
	}
}

// TestLexicalFieldsAreDescribed: input and output schemas say each lexical field's form, and
// nil fields say what null means.
func TestLexicalFieldsAreDescribed(t *testing.T) {
	t.Parallel()
	md := (&testingv1.Fidelity{}).ProtoReflect().Descriptor()
	for _, f := range []func(protoreflect.MessageDescriptor, toolschema.Options) (map[string]any, error){toolschema.Input, toolschema.Output} {
		s, err := f(md, toolschema.Options{})
		if err != nil {
			t.Fatal(err)
		}
		dt := find(s, "dateTime")
		if p, _ := dt["pattern"].(string); !strings.HasPrefix(p, "^") || dt["type"] != "string" {
			t.Errorf("dateTime schema %v has no pattern", dt)
		}
		if d, _ := dt["description"].(string); !strings.Contains(d, "xsd:dateTime") || !strings.Contains(d, "keeps the offset or its absence exactly") {
			t.Errorf("dateTime description %q", d)
		}
		if d, _ := find(s, "maybeDate")["description"].(string); !strings.Contains(d, "xsd:date,") {
			t.Errorf("maybeDate (a StringValue) description %q", d)
		}
		items, _ := find(s, "dates")["items"].(map[string]any)
		if _, ok := items["pattern"]; !ok {
			t.Errorf("dates items %v have no pattern", items)
		}
		if d, _ := find(s, "traderNameNil")["description"].(string); !strings.Contains(d, "traderName element is nil (xsi:nil)") {
			t.Errorf("traderNameNil description %q", d)
		}
	}
}
