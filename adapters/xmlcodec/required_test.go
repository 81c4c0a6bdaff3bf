package xmlcodec_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
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
