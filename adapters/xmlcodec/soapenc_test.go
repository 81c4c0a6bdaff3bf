package xmlcodec_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

const encodedCodecProto = `syntax = "proto3";
package agentbridge.dyntest.encoded;
import "agentbridge/v1/options.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/struct.proto";

enum Colour {
  COLOUR_UNSPECIFIED = 0;
  COLOUR_RED = 1;
}
message Item {
  option (agentbridge.v1.xml_message) = {type: {name: "Item" namespace: "urn:types"}};
  string sku = 1;
  int64 count = 2;
}
message Untyped {
  string a = 1;
}
message Values {
  string price = 1 [(agentbridge.v1.xml) = {xsd_type: "decimal"}];
  bytes blob = 2;
  google.protobuf.Timestamp at = 3;
  Colour colour = 4;
  uint32 small = 5;
  double ratio = 6;
  repeated Item items = 7 [(agentbridge.v1.xml) = {item: "item"}];
  repeated Untyped others = 8 [(agentbridge.v1.xml) = {item: "o"}];
  Item single = 9;
  oneof note_state {
    string note = 10;
    google.protobuf.NullValue note_nil = 11 [(agentbridge.v1.xml) = {nil_of: "note"}];
  }
}
`

// TestAppendEncoded pins what SOAP encoding writes for each kind of field, SOAP 1.1 and 1.2,
// with and without the operation's element.
func TestAppendEncoded(t *testing.T) {
	t.Parallel()
	md := prototest.Compile(t, "encoded.proto", encodedCodecProto).Messages().ByName("Values")
	p, err := xmlcodec.For(md)
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(`{"price": "12.50", "blob": "AQI=", "at": "2024-05-01T12:00:00Z", "colour": "COLOUR_RED", "small": 7, "ratio": 0.5,
		"items": [{"sku": "a", "count": "2"}], "others": [{"a": "x"}], "single": {"sku": "s", "count": "1"}, "noteNil": null}`), m); err != nil {
		t.Fatal(err)
	}
	const decls11 = ` xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"`
	parts := func(items string) string {
		return `<price xsi:type="xsd:decimal">12.50</price><blob xsi:type="xsd:base64Binary">AQI=</blob><at xsi:type="xsd:dateTime">2024-05-01T12:00:00Z</at>` +
			`<colour xsi:type="xsd:string">RED</colour><small xsi:type="xsd:unsignedInt">7</small><ratio xsi:type="xsd:double">0.5</ratio>` + items
	}
	enc11 := xmlcodec.SOAPEncoding{Envelope: "http://schemas.xmlsoap.org/soap/envelope/", Namespace: xmlcodec.SOAP11Encoding}
	got, err := p.AppendEncoded(nil, xmlcodec.Name{Space: "urn:ops", Local: "op"}, m, enc11)
	if err != nil {
		t.Fatal(err)
	}
	want := `<ns0:op xmlns:ns0="urn:ops"` + decls11 + `>` + parts(
		`<items xmlns:ns1="urn:types" xsi:type="soapenc:Array" soapenc:arrayType="ns1:Item[1]"><item xsi:type="ns1:Item"><sku xsi:type="xsd:string">a</sku><count xsi:type="xsd:long">2</count></item></items>`+
			`<others xsi:type="soapenc:Array" soapenc:arrayType="xsd:anyType[1]"><o><a xsi:type="xsd:string">x</a></o></others>`+
			`<single xmlns:ns2="urn:types" xsi:type="ns2:Item"><sku xsi:type="xsd:string">s</sku><count xsi:type="xsd:long">1</count></single>`+
			`<note xsi:nil="true"/>`) + `</ns0:op>`
	if string(got) != want {
		t.Errorf("SOAP 1.1, wrapped:\n%s\nwant\n%s", got, want)
	}
	if err := wellFormedXML(got); err != nil {
		t.Error(err)
	}

	enc12 := xmlcodec.SOAPEncoding{Envelope: "http://www.w3.org/2003/05/soap-envelope", Namespace: xmlcodec.SOAP12Encoding}
	got, err = p.AppendEncoded(nil, xmlcodec.Name{}, m, enc12)
	if err != nil {
		t.Fatal(err)
	}
	const decls12 = ` xmlns:soapenv="http://www.w3.org/2003/05/soap-envelope" soapenv:encodingStyle="http://www.w3.org/2003/05/soap-encoding" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenc="http://www.w3.org/2003/05/soap-encoding"`
	for _, part := range []string{
		`<price` + decls12 + ` xsi:type="xsd:decimal">12.50</price>`,
		`<items` + decls12 + ` xmlns:ns0="urn:types" soapenc:itemType="ns0:Item" soapenc:arraySize="1"><item xsi:type="ns0:Item">`,
		`<note` + decls12 + ` xsi:nil="true"/>`,
	} {
		if !strings.Contains(string(got), part) {
			t.Errorf("SOAP 1.2, without a wrapper:\n%s\nlacks\n%s", got, part)
		}
	}
	if err := wellFormedXML([]byte("<Body>" + string(got) + "</Body>")); err != nil {
		t.Error(err)
	}
}

func wellFormedXML(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() == "EOF" {
				return nil
			}
			return err
		}
	}
}
