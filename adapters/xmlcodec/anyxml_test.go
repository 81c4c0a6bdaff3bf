package xmlcodec_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

const anyProto = `syntax = "proto3";
package agentbridge.anytest;
import "agentbridge/v1/options.proto";
message Payment {
  option (agentbridge.v1.xml_message) = {namespace: "urn:pay"};
  optional string id = 1;
  repeated string any = 2 [(agentbridge.v1.xml) = {any: true}];
}
`

// TestAnyElements keeps the elements no field names (xsd:any) as XML text, in order and
// standing alone, and writes them back into a request as they are.
func TestAnyElements(t *testing.T) {
	t.Parallel()
	md := prototest.Compile(t, "any.proto", anyProto).Messages().ByName("Payment")
	reply := `<p:payment xmlns:p="urn:pay" xmlns:x="urn:ext" xml:lang="en"><p:id>P-1</p:id>` +
		`<x:paypal x:mode="live" xml:lang="de"><x:token>a&amp;b &lt;c&gt;</x:token><!-- dropped --><plain>t</plain></x:paypal>` +
		`<p:extra/></p:payment>`
	msg := dynamicpb.NewMessage(md)
	if err := decode([]byte(reply), msg); err != nil {
		t.Fatal(err)
	}
	js, _ := protojson.Marshal(msg)
	var got struct {
		ID  string   `json:"id"`
		Any []string `json:"any"`
	}
	if err := jsonUnmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`<ns0:paypal xmlns:ns0="urn:ext" ns0:mode="live" xml:lang="de"><ns0:token>a&amp;b &lt;c&gt;</ns0:token><plain>t</plain></ns0:paypal>`,
		`<ns0:extra xmlns:ns0="urn:pay"></ns0:extra>`,
	}
	if got.ID != "P-1" || strings.Join(got.Any, "\n") != strings.Join(want, "\n") {
		t.Errorf("decoded %s\nwant any %q", js, want)
	}
	// Written back, each item as it is, after the named fields.
	p, err := xmlcodec.For(md)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.AppendElement(nil, xmlcodec.Name{Space: "urn:pay", Local: "payment"}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if w := `<ns0:payment xmlns:ns0="urn:pay"><ns0:id>P-1</ns0:id>` + want[0] + want[1] + `</ns0:payment>`; string(out) != w {
		t.Errorf("encoded\n got %s\nwant %s", out, w)
	}
	// Items that cannot be written as they are.
	for _, bad := range []struct{ item, want string }{
		{`<a>x</a><b/>`, "more than one element"},
		{`<x:a>1</x:a>`, `uses the prefix "x"`},
		{`<a x:y="1"/>`, `uses the prefix "x"`},
		{`<a>`, "not"},
		{`text`, "text outside the element"},
		{``, "no element"},
		{`<!DOCTYPE a><a/>`, "document type"},
	} {
		m := dynamicpb.NewMessage(md)
		if err := protojson.Unmarshal([]byte(`{"any": [`+jsonQuote(bad.item)+`]}`), m); err != nil {
			t.Fatal(err)
		}
		_, err := p.AppendElement(nil, xmlcodec.Name{Local: "payment"}, m)
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "agentbridge.anytest.Payment.any") {
			t.Errorf("item %q: %v, want an error naming the field and saying %q", bad.item, err, bad.want)
		}
	}
}

// TestAnyFieldPlan refuses fields of unnamed elements that cannot hold them.
func TestAnyFieldPlan(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ fields, want string }{
		{`string any = 1 [(agentbridge.v1.xml) = {any: true}];`, "must be a repeated string"},
		{`repeated string any = 1 [(agentbridge.v1.xml) = {any: true name: "x"}];`, "takes no other XML option"},
		{`repeated string a = 1 [(agentbridge.v1.xml) = {any: true}]; repeated string b = 2 [(agentbridge.v1.xml) = {any: true}];`, "two fields for unnamed elements"},
	} {
		src := `syntax = "proto3"; package agentbridge.anyplan; import "agentbridge/v1/options.proto"; message M { ` + c.fields + ` }`
		md := prototest.Compile(t, "anyplan.proto", src).Messages().ByName("M")
		if _, err := xmlcodec.For(md); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.fields, err, c.want)
		}
	}
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
