package xmlcodec_test

import (
	"encoding/xml"
	"errors"
	"io/fs"
	"os"
	"strconv"
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

// ledgerProto is a run-time contract with lexical fields, nil fields and fields without
// presence in nested messages, as an importer writes one.
const ledgerProto = `syntax = "proto3";
package agentbridge.dyntest.ledger;
import "agentbridge/v1/options.proto";
import "google/protobuf/struct.proto";

message Entry {
  option (agentbridge.v1.xml_message) = {namespace: "urn:ledger"};
  string id = 1 [(agentbridge.v1.xml) = {attribute: true}];
  string booked = 2 [(agentbridge.v1.xml) = {xsd_type: "dateTime"}];
  string value_date = 3 [(agentbridge.v1.xml) = {xsd_type: "date"}];
  string amount = 4 [(agentbridge.v1.xml) = {xsd_type: "decimal"}];
  oneof trader_name_state {
    string trader_name = 5;
    google.protobuf.NullValue trader_name_nil = 6 [(agentbridge.v1.xml) = {nil_of: "trader_name"}];
  }
  optional string memo = 7;
}

message Ledger {
  option (agentbridge.v1.xml_message) = {namespace: "urn:ledger"};
  repeated Entry entries = 1 [(agentbridge.v1.xml) = {name: "entries", item: "entry"}];
}
`

// TestDynamicFidelity encodes and decodes dynamicpb messages of a contract compiled at run time:
// lexical forms kept, nil written and read, JSON null for nil, and the path of a missing
// element inside a list.
func TestDynamicFidelity(t *testing.T) {
	t.Parallel()
	fd := prototest.Compile(t, "ledger.proto", ledgerProto)
	md := fd.Messages().ByName("Ledger")
	const fromJSON = `{"entries": [
		{"id": "E1", "booked": "2024-05-01T09:30:00+05:30", "valueDate": "2024-05-01+02:00", "amount": "12.50", "traderNameNil": null},
		{"id": "E2", "booked": "2024-05-01T09:30:00", "valueDate": "2024-05-02", "amount": "-0.000", "traderName": ""}]}`
	msg := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(fromJSON), msg); err != nil {
		t.Fatal(err)
	}
	const want = `<l xmlns:ns0="urn:ledger"><ns0:entries>` +
		`<ns0:entry id="E1"><ns0:booked>2024-05-01T09:30:00+05:30</ns0:booked><ns0:valueDate>2024-05-01+02:00</ns0:valueDate><ns0:amount>12.50</ns0:amount>` +
		`<ns0:traderName xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></ns0:entry>` +
		`<ns0:entry id="E2"><ns0:booked>2024-05-01T09:30:00</ns0:booked><ns0:valueDate>2024-05-02</ns0:valueDate><ns0:amount>-0.000</ns0:amount>` +
		`<ns0:traderName></ns0:traderName></ns0:entry></ns0:entries></l>`
	got := encode(t, msg, xmlcodec.Name{Local: "l"})
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
	js, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"traderNameNil":null`, `"traderName":""`, `"booked":"2024-05-01T09:30:00+05:30"`, `"amount":"-0.000"`} {
		if !strings.Contains(strings.ReplaceAll(string(js), " ", ""), s) {
			t.Errorf("protojson %s lacks %s", js, s)
		}
	}
	if strings.Contains(string(js), "memo") {
		t.Errorf("protojson %s writes the absent optional memo", js)
	}

	missing := strings.Replace(want, "<ns0:amount>-0.000</ns0:amount>", "", 1)
	err = decode([]byte(missing), dynamicpb.NewMessage(md))
	if err == nil || !strings.HasPrefix(err.Error(), "element entries/entry/amount: the reply has no such element, and field agentbridge.dyntest.ledger.Entry.amount cannot say so") {
		t.Errorf("missing amount: got %v", err)
	}
	bad := strings.Replace(want, "2024-05-02<", "2024-5-2<", 1)
	if err := decode([]byte(bad), dynamicpb.NewMessage(md)); err == nil || !strings.Contains(err.Error(), `element entries/entry/valueDate: "2024-5-2" is not an xsd:date`) {
		t.Errorf("bad date: got %v", err)
	}
	entry := dynamicpb.NewMessage(fd.Messages().ByName("Entry"))
	if err := protojson.Unmarshal([]byte(`{"id": "E3", "booked": "2024-05-01T09:30:00+5:30", "valueDate": "2024-05-01", "amount": "1"}`), entry); err != nil {
		t.Fatal(err)
	}
	p, err := xmlcodec.For(entry.Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	var ee *xmlcodec.EncodeError
	if _, err := p.AppendElement(nil, xmlcodec.Name{Local: "e"}, entry); !errors.As(err, &ee) || ee.Field != "agentbridge.dyntest.ledger.Entry.booked" {
		t.Errorf("bad request dateTime: got %v, want an EncodeError naming the field", err)
	}
}

// TestPlanRefusesLossyMappings checks that options that cannot keep values, or contradict each
// other, fail when the plan is built, at start-up, with the mapping that would work.
func TestPlanRefusesLossyMappings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, fields, want string
	}{
		{"a date into a Timestamp", `google.protobuf.Timestamp d = 1 [(agentbridge.v1.xml) = {xsd_type: "date"}];`,
			`field agentbridge.dyntest.lossy0.M.d has xsd_type "date", but a google.protobuf.Timestamp is an instant and an xsd:date is not; map the field as string with xsd_type "date"`},
		{"a gYear into a Timestamp", `google.protobuf.Timestamp d = 1 [(agentbridge.v1.xml) = {xsd_type: "gYear"}];`, `map the field as string with xsd_type "gYear"`},
		{"a decimal into a Timestamp", `google.protobuf.Timestamp d = 1 [(agentbridge.v1.xml) = {xsd_type: "decimal"}];`, "takes xsd_type dateTime or dateTimeStamp only"},
		{"a yearMonthDuration into a Duration", `google.protobuf.Duration d = 1 [(agentbridge.v1.xml) = {xsd_type: "yearMonthDuration"}];`,
			`years and months have no fixed length in seconds; map the field as string with xsd_type "yearMonthDuration"`},
		{"a decimal into a double", `double d = 1 [(agentbridge.v1.xml) = {xsd_type: "decimal"}];`,
			`the field is double; map it as string with xsd_type "decimal", which keeps the value as written`},
		{"an integer into an int64", `int64 d = 1 [(agentbridge.v1.xml) = {xsd_type: "integer"}];`, `map it as string with xsd_type "integer"`},
		{"an unknown type on a string", `string d = 1 [(agentbridge.v1.xml) = {xsd_type: "xsd:date"}];`, "a string field takes an xsd_type whose lexical form it keeps: one of date, dateTime,"},
		{"hexBinary on a string", `string d = 1 [(agentbridge.v1.xml) = {xsd_type: "hexBinary"}];`, "a string field takes an xsd_type"},
		{"a date on bytes", `bytes d = 1 [(agentbridge.v1.xml) = {xsd_type: "date"}];`, "takes xsd_type base64Binary or hexBinary only"},
		{"a type on an enum", `google.protobuf.NullValue d = 1 [(agentbridge.v1.xml) = {xsd_type: "token"}];`, "xsd_type applies to string, bytes"},
		{"a type on a map", `map<string, string> d = 1 [(agentbridge.v1.xml) = {xsd_type: "date"}];`, "map field agentbridge.dyntest.lossy10.M.d has an xsd_type"},
		{"nil_of outside a oneof", `string a = 1; google.protobuf.NullValue a_nil = 2 [(agentbridge.v1.xml) = {nil_of: "a"}];`,
			`field agentbridge.dyntest.lossy11.M.a_nil is nil_of "a", but it is not in a oneof with that field`},
		{"nil_of not a NullValue", `oneof o { string a = 1; bool a_nil = 2 [(agentbridge.v1.xml) = {nil_of: "a"}]; }`, "it is not a single google.protobuf.NullValue field"},
		{"nil_of naming no field", `oneof o { string a = 1; google.protobuf.NullValue a_nil = 2 [(agentbridge.v1.xml) = {nil_of: "b"}]; }`,
			"agentbridge.dyntest.lossy13.M has no field of that name (nil_of takes the proto name, such as trader_name)"},
		{"nil_of by JSON name", `oneof o { string trader_name = 1; google.protobuf.NullValue n = 2 [(agentbridge.v1.xml) = {nil_of: "traderName"}]; }`, "has no field of that name"},
		{"nil_of in another oneof", `oneof o { string a = 1; } oneof p { google.protobuf.NullValue a_nil = 2 [(agentbridge.v1.xml) = {nil_of: "a"}]; }`, "a is not in the same oneof p"},
		{"nil_of a nil field", `oneof o { google.protobuf.NullValue a = 1 [(agentbridge.v1.xml) = {nil_of: "b"}]; google.protobuf.NullValue b = 2 [(agentbridge.v1.xml) = {nil_of: "a"}]; }`,
			"is itself a nil field"},
		{"two nils of one field", `oneof o { string a = 1; google.protobuf.NullValue n1 = 2 [(agentbridge.v1.xml) = {nil_of: "a"}]; google.protobuf.NullValue n2 = 3 [(agentbridge.v1.xml) = {nil_of: "a"}]; }`,
			"a already has a nil field, n1"},
		{"nil_of with a name of its own", `oneof o { string a = 1; google.protobuf.NullValue a_nil = 2 [(agentbridge.v1.xml) = {nil_of: "a", name: "aNil"}]; }`,
			"a nil field takes its element from the field it is the nil of"},
		{"nil_of an attribute", `oneof o { string a = 1 [(agentbridge.v1.xml) = {attribute: true}]; google.protobuf.NullValue a_nil = 2 [(agentbridge.v1.xml) = {nil_of: "a"}]; }`,
			"only elements can be nil, not attributes or text"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := `syntax = "proto3"; package agentbridge.dyntest.lossy` + strconv.Itoa(i) + `;
import "agentbridge/v1/options.proto"; import "google/protobuf/timestamp.proto"; import "google/protobuf/duration.proto"; import "google/protobuf/struct.proto";
message M { ` + tt.fields + ` }`
			md := prototest.Compile(t, "lossy.proto", src).Messages().ByName("M")
			if _, err := xmlcodec.For(md); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("For: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// dummyProto maps node-soap's "should handle nil" sample (corpus s09): DummyList holds a
// repeated DummyElement, and the reply sends one item with xsi:nil.
const dummyProto = `syntax = "proto3";
package agentbridge.dyntest.dummy;
import "agentbridge/v1/options.proto";

message DummyResponse {
  option (agentbridge.v1.xml_message) = {namespace: "http://www.Dummy.com/Name/Types"};
  DummyResult dummy_result = 1 [(agentbridge.v1.xml) = {name: "DummyResult"}];
}
message DummyResult {
  option (agentbridge.v1.xml_message) = {namespace: "http://www.Dummy.com/Common/Types"};
  DummyList dummy_list = 1 [(agentbridge.v1.xml) = {name: "DummyList"}];
}
message DummyList {
  option (agentbridge.v1.xml_message) = {namespace: "http://www.Dummy.com/Common/Types"};
  repeated Dummy dummy_element = 1 [(agentbridge.v1.xml) = {name: "DummyElement"}];
}
message Dummy {
  string value = 1 [(agentbridge.v1.xml) = {text: true}];
  optional string language = 2 [(agentbridge.v1.xml) = {attribute: true}];
}
`

// TestCorpusNilListItem decodes the corpus reply whose only list item is xsi:nil. Once the
// item vanished; now the reply fails naming it, since a list cannot hold a nil item.
func TestCorpusNilListItem(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../../shared/corpus/soap-messages/s09-xsi-nil-imported-schemas/response.xml")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("the shared corpus is not checked out beside the repository")
	}
	if err != nil {
		t.Fatal(err)
	}
	md := prototest.Compile(t, "dummy.proto", dummyProto).Messages().ByName("DummyResponse")
	p, err := xmlcodec.For(md)
	if err != nil {
		t.Fatal(err)
	}
	d := xmlcodec.NewScanner(data)
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		if start, ok := tok.(xml.StartElement); ok && start.Name.Local == "DummyResponse" {
			err := p.Decode(d, start, dynamicpb.NewMessage(md))
			const want = "element DummyResult/DummyList/DummyElement: xsi:nil on an item of a list"
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got %v, want an error starting %q", err, want)
			}
			return
		}
	}
}
