package xmlcodec_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
)

// requiredProto is as the WSDL importer writes minOccurs="1" elements and use="required"
// attributes: optional (so a caller's 0 is a value) and REQUIRED.
const requiredProto = `syntax = "proto3";
package agentbridge.reqtest;
import "agentbridge/v1/options.proto";
import "google/api/field_behavior.proto";
message Sum {
  optional int32 value = 1 [(google.api.field_behavior) = REQUIRED];
  Detail detail = 2 [(google.api.field_behavior) = REQUIRED];
  optional string unit = 3 [(google.api.field_behavior) = REQUIRED, (agentbridge.v1.xml) = {attribute: true}];
  optional string note = 4;
}
message Detail { optional string text = 1; }
`

// TestRequiredFieldsOnReplies checks that a reply leaving out a REQUIRED field's element or
// attribute fails even though the field has presence, while a zero value and an empty detail
// decode as sent.
func TestRequiredFieldsOnReplies(t *testing.T) {
	t.Parallel()
	md := prototest.Compile(t, "required.proto", requiredProto).Messages().ByName("Sum")
	msg := dynamicpb.NewMessage(md)
	if err := decode([]byte(`<s unit=""><value>0</value><detail/></s>`), msg); err != nil {
		t.Fatal(err)
	}
	js, _ := protojson.Marshal(msg)
	if got := strings.ReplaceAll(string(js), " ", ""); got != `{"value":0,"detail":{},"unit":""}` {
		t.Errorf("decoded %s", got)
	}
	for _, c := range []struct{ xml, want string }{
		{`<s unit="m"><detail/></s>`, "element value: the reply has no such element, but field agentbridge.reqtest.Sum.value is REQUIRED"},
		{`<s unit="m"><value>1</value></s>`, "element detail: the reply has no such element, but field agentbridge.reqtest.Sum.detail is REQUIRED"},
		{`<s><value>1</value><detail/></s>`, "element @unit: the reply has no such attribute, but field agentbridge.reqtest.Sum.unit is REQUIRED"},
	} {
		err := decode([]byte(c.xml), dynamicpb.NewMessage(md))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.xml, err, c.want)
		}
	}
}

// TestNilRootElement decodes the element of a whole message sent with xsi:nil (a nillable
// fault detail of a simple type): it leaves the message without its value where every field
// has presence, and fails where nil would read as a value.
func TestNilRootElement(t *testing.T) {
	t.Parallel()
	const src = `syntax = "proto3";
package agentbridge.niltest;
import "agentbridge/v1/options.proto";
message Int { optional int32 value = 1 [(agentbridge.v1.xml) = {text: true}]; }
message Plain { int32 value = 1 [(agentbridge.v1.xml) = {text: true}]; }
`
	fd := prototest.Compile(t, "nilroot.proto", src)
	msg := dynamicpb.NewMessage(fd.Messages().ByName("Int"))
	const nilInt = `<int xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>`
	if err := decode([]byte(nilInt), msg); err != nil {
		t.Fatal(err)
	}
	if js, _ := protojson.Marshal(msg); string(js) != "{}" {
		t.Errorf("nil decoded as %s", js)
	}
	if err := decode([]byte(`<int>7</int>`), msg); err != nil || msg.Get(fd.Messages().ByName("Int").Fields().ByName("value")).Int() != 7 {
		t.Errorf("7: %v %v", err, msg)
	}
	for _, c := range []struct{ msg, xml, want string }{
		{"Plain", nilInt, "which has fields without presence"},
		{"Int", `<int xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true">7</int>`, "xsi:nil"},
	} {
		err := decode([]byte(c.xml), dynamicpb.NewMessage(fd.Messages().ByName(protoreflect.Name(c.msg))))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.msg, c.xml, err, c.want)
		}
	}
}
