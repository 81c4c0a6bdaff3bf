package xmlcodec_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// TestPlansAreKeyedByDescriptor loads two contracts that declare the same message name with
// different fields, as a reloaded contract does: each descriptor gets a plan of its own, and
// each decodes into dynamic messages of its own type.
func TestPlansAreKeyedByDescriptor(t *testing.T) {
	t.Parallel()
	const header = `syntax = "proto3"; package agentbridge.dyntest.samename;` + "\n"
	older := prototest.Compile(t, "same.proto", header+`message M { string a = 1; }`).Messages().ByName("M")
	newer := prototest.Compile(t, "same.proto", header+`message M { int32 a = 1; string b = 2; }`).Messages().ByName("M")
	po, err := xmlcodec.For(older)
	if err != nil {
		t.Fatal(err)
	}
	pn, err := xmlcodec.For(newer)
	if err != nil {
		t.Fatal(err)
	}
	if po == pn || po.Descriptor() != older || pn.Descriptor() != newer {
		t.Fatal("two descriptors with one full name share a plan")
	}
	mo, mn := dynamicpb.NewMessage(older), dynamicpb.NewMessage(newer)
	if err := decode([]byte(`<r><a>x</a></r>`), mo); err != nil {
		t.Fatal(err)
	}
	if err := decode([]byte(`<r><a>7</a><b>y</b></r>`), mn); err != nil {
		t.Fatal(err)
	}
	if got := mo.Get(older.Fields().ByName("a")).String(); got != "x" {
		t.Errorf("older a = %q, want x", got)
	}
	if got := mn.Get(newer.Fields().ByName("a")).Int(); got != 7 {
		t.Errorf("newer a = %d, want 7", got)
	}
}

// catalogProto is a contract the binary has never seen, as a run-time loaded one is: nested
// messages, an enum with an xml_value, a repeated field in a wrapper, maps of scalars, enums
// and messages, and a oneof.
const catalogProto = `syntax = "proto3";
package agentbridge.dyntest.catalog;
import "agentbridge/v1/options.proto";

enum Status {
  STATUS_UNSPECIFIED = 0;
  STATUS_ACTIVE = 1;
  STATUS_RETIRED = 2 [(agentbridge.v1.xml_value) = "retired"];
}

message Money {
  string currency = 1 [(agentbridge.v1.xml) = {attribute: true}];
  string amount = 2 [(agentbridge.v1.xml) = {text: true}];
}

message Product {
  option (agentbridge.v1.xml_message) = {namespace: "urn:catalog"};
  string sku = 1 [(agentbridge.v1.xml) = {attribute: true}];
  Status status = 2;
  repeated string tags = 3 [(agentbridge.v1.xml) = {item: "tag"}];
  map<string, string> labels = 4;
  map<int32, Status> history = 5 [(agentbridge.v1.xml) = {item: "change", map_key: "year", map_value: "status"}];
  map<string, Money> prices = 6 [(agentbridge.v1.xml) = {name: "priceList", item: "price", map_key: "market", map_value: "money"}];
  oneof stock {
    int32 quantity = 7;
    string backorder_note = 8;
  }
}
`

// TestDynamicMessagesWithMaps encodes and decodes a dynamicpb message of a contract compiled
// at run time, with no Go type anywhere, and pins the XML it is written as.
func TestDynamicMessagesWithMaps(t *testing.T) {
	t.Parallel()
	md := prototest.Compile(t, "catalog.proto", catalogProto).Messages().ByName("Product")
	msg := dynamicpb.NewMessage(md)
	const fromJSON = `{"sku": "A-1", "status": "STATUS_RETIRED", "tags": ["x", "y"],
		"labels": {"size": "L", "color": "red"},
		"history": {"2024": "STATUS_ACTIVE", "2019": "STATUS_RETIRED"},
		"prices": {"eu": {"currency": "EUR", "amount": "9.90"}, "ch": {"currency": "CHF", "amount": "10"}},
		"backorderNote": "June"}`
	if err := protojson.Unmarshal([]byte(fromJSON), msg); err != nil {
		t.Fatal(err)
	}
	const want = `<p xmlns:ns0="urn:catalog" sku="A-1"><ns0:status>retired</ns0:status>` +
		`<ns0:tags><ns0:tag>x</ns0:tag><ns0:tag>y</ns0:tag></ns0:tags>` +
		`<ns0:labels><ns0:entry><ns0:key>color</ns0:key><ns0:value>red</ns0:value></ns0:entry><ns0:entry><ns0:key>size</ns0:key><ns0:value>L</ns0:value></ns0:entry></ns0:labels>` +
		`<ns0:history><ns0:change><ns0:year>2019</ns0:year><ns0:status>retired</ns0:status></ns0:change><ns0:change><ns0:year>2024</ns0:year><ns0:status>ACTIVE</ns0:status></ns0:change></ns0:history>` +
		`<ns0:priceList><ns0:price><ns0:market>ch</ns0:market><ns0:money currency="CHF">10</ns0:money></ns0:price><ns0:price><ns0:market>eu</ns0:market><ns0:money currency="EUR">9.90</ns0:money></ns0:price></ns0:priceList>` +
		`<ns0:backorderNote>June</ns0:backorderNote></p>`
	got := encode(t, msg, xmlcodec.Name{Local: "p"})
	if string(got) != want {
		t.Errorf("encoded\n got %s\nwant %s", got, want)
	}
	back := dynamicpb.NewMessage(md)
	if err := decode(got, back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(msg, back) {
		t.Errorf("round trip changed the message:\n sent %v\n  got %v", msg, back)
	}

	dup := strings.Replace(want, "<ns0:year>2024</ns0:year>", "<ns0:year>2019</ns0:year>", 1)
	if err := decode([]byte(dup), dynamicpb.NewMessage(md)); err == nil || !strings.Contains(err.Error(), "element history/change: key 2019 appears more than once") {
		t.Errorf("duplicate key: got %v", err)
	}
}
