package soap_test

// Value fidelity against a real peer (issue 15): node-soap serves operations of WSDLs from the
// shared corpus, read in place, and the bridge fronts them with protos written as an integrator
// would, following docs/xml-mapping.md. Each case goes agent JSON → REST or MCP → SOAP request →
// node-soap (whose record shows the request as it arrived, raw XML included) → SOAP reply built
// from that request → agent JSON, and requires every value back unchanged, field by field, with
// nil, absent and empty kept apart.
//
//   - ec2: DescribeSpotPriceHistory of the corpus's AWS EC2 2013-10-15 WSDL
//     (wsdl/gowsdl-aws-ec2-2013-10-15.wsdl): xsd:dateTime with an offset, with Z and zoneless,
//     an optional xsd:integer, optional elements, and optional lists (instanceTypeSet,
//     spotPriceHistorySet) absent and empty, carried by wrapper messages.
//   - reservation: the corpus's one operation with xsd:date values, the W3C GreatH
//     checkAvailability (wsdl/postman-wsdl20-W3Example.wsdl, WSDL 2.0), rendered as WSDL 1.1 in
//     testdata/reservation.wsdl because node-soap serves WSDL 1.1 only: dates with and without a
//     zone, a nillable date sent nil and as a value, optional elements absent and empty.
//   - dummy: node-soap's own sample of xsi:nil with imported schemas
//     (soap-messages/s09-xsi-nil-imported-schemas): its request.json, with elements in two
//     namespaces, an optional list absent, and its response.xml, a nil list item, refused.
//
// node-soap writes the children of imported complex types in the parent's namespace (n:DummyList
// for the WSDL's Common-namespace DummyList); the codec matches child elements by local name, so
// those replies still decode.

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// spotProto fronts DescribeSpotPriceHistory. The XSD's minOccurs="0" elements are optional
// fields, its dateTime elements strings with xsd_type (or, in the Utc variant, Timestamps, which
// hold UTC only), and each list is a message wrapping the repeated item, so that a missing
// wrapper element and an empty one stay apart.
const spotProto = `syntax = "proto3";

package corpus.ec2.v1;

import "agentbridge/v1/options.proto";
import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";

// Spot price history of the EC2 2013-10-15 SOAP API.
service SpotPriceService {
  // The price history of instance types, values as EC2 wrote them.
  rpc DescribeSpotPriceHistory(DescribeSpotPriceHistoryRequest) returns (DescribeSpotPriceHistoryResponse) {
    option (google.api.http) = {post: "/v1/spot-prices:history" body: "*"};
    option (agentbridge.v1.binding) = {
      backend: "ec2"
      soap: {
        action: "DescribeSpotPriceHistory"
        request: {name: "DescribeSpotPriceHistory" namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"}
        response: {name: "DescribeSpotPriceHistoryResponse" namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"}
      }
    };
  }
  // The same, each timestamp read as a UTC instant.
  rpc DescribeSpotPriceHistoryUtc(DescribeSpotPriceHistoryRequest) returns (DescribeSpotPriceHistoryUtcResponse) {
    option (google.api.http) = {post: "/v1/spot-prices:historyUtc" body: "*"};
    option (agentbridge.v1.binding) = {
      backend: "ec2"
      soap: {
        action: "DescribeSpotPriceHistory"
        request: {name: "DescribeSpotPriceHistory" namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"}
        response: {name: "DescribeSpotPriceHistoryResponse" namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"}
      }
    };
  }
}

// Which prices.
message DescribeSpotPriceHistoryRequest {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // From when.
  optional string start_time = 1 [(agentbridge.v1.xml) = {xsd_type: "dateTime"}];
  // Until when.
  optional string end_time = 2 [(agentbridge.v1.xml) = {xsd_type: "dateTime"}];
  // Which instance types; unset sends no instanceTypeSet.
  InstanceTypeSet instance_type_set = 3;
  // Which zone.
  optional string availability_zone = 6;
  // At most this many.
  optional string max_results = 7 [(agentbridge.v1.xml) = {xsd_type: "integer"}];
  // Where the previous page ended.
  optional string next_token = 8;
}

// The instanceTypeSet element.
message InstanceTypeSet {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // Its items.
  repeated InstanceTypeSetItem item = 1;
}

// One instance type.
message InstanceTypeSetItem {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // Such as m1.small.
  string instance_type = 1;
}

// The prices.
message DescribeSpotPriceHistoryResponse {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // EC2's request id.
  string request_id = 1;
  // The history; unset when the reply had no spotPriceHistorySet.
  SpotPriceHistorySet spot_price_history_set = 2;
  // Where the next page starts.
  optional string next_token = 3;
}

// The spotPriceHistorySet element.
message SpotPriceHistorySet {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // Its items.
  repeated SpotPriceHistoryItem item = 1;
}

// One price.
message SpotPriceHistoryItem {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // Such as m1.small.
  string instance_type = 1;
  // Such as Linux/UNIX.
  string product_description = 2;
  // The price, as EC2 wrote it (xs:string in the WSDL).
  string spot_price = 3;
  // When the price was set.
  string timestamp = 4 [(agentbridge.v1.xml) = {xsd_type: "dateTime"}];
  // Where.
  optional string availability_zone = 5;
}

// The prices, timestamps as instants.
message DescribeSpotPriceHistoryUtcResponse {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // EC2's request id.
  string request_id = 1;
  // The history.
  SpotPriceHistoryUtcSet spot_price_history_set = 2;
  // Where the next page starts.
  optional string next_token = 3;
}

// The spotPriceHistorySet element.
message SpotPriceHistoryUtcSet {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // Its items.
  repeated SpotPriceHistoryUtcItem item = 1;
}

// One price.
message SpotPriceHistoryUtcItem {
  option (agentbridge.v1.xml_message) = {namespace: "http://ec2.amazonaws.com/doc/2013-10-15/"};
  // Such as m1.small.
  string instance_type = 1;
  // Such as Linux/UNIX.
  string product_description = 2;
  // The price.
  string spot_price = 3;
  // When the price was set, in UTC.
  google.protobuf.Timestamp timestamp = 4;
  // Where.
  optional string availability_zone = 5;
}
`

// reservationProto fronts checkAvailability. checkOutDate is nillable, so it is a oneof of the
// date and its nil; arrivalTime and guestNote have minOccurs="0", so they are optional.
const reservationProto = `syntax = "proto3";

package corpus.greath.v1;

import "agentbridge/v1/options.proto";
import "google/api/annotations.proto";
import "google/protobuf/struct.proto";

// The GreatH hotel's reservations.
service ReservationService {
  // Whether a room is free for a stay; answers with the stay.
  rpc CheckAvailability(Stay) returns (Stay) {
    option (google.api.http) = {post: "/v1/stays:check" body: "*"};
    option (agentbridge.v1.binding) = {
      backend: "reservation"
      soap: {
        action: "http://greath.example.com/2004/wsdl/resSvc#checkAvailability"
        request: {name: "checkAvailability" namespace: "http://greath.example.com/2004/schemas/resSvc"}
        response: {name: "checkAvailabilityResponse" namespace: "http://greath.example.com/2004/schemas/resSvc"}
      }
    };
  }
}

// A stay.
message Stay {
  option (agentbridge.v1.xml_message) = {namespace: "http://greath.example.com/2004/schemas/resSvc"};
  // The first night.
  string check_in_date = 1 [(agentbridge.v1.xml) = {xsd_type: "date"}];
  // The day of leaving, or nil for an open-ended stay.
  oneof check_out {
    // The day of leaving.
    string check_out_date = 2 [(agentbridge.v1.xml) = {xsd_type: "date"}];
    // Open-ended.
    google.protobuf.NullValue check_out_date_nil = 3 [(agentbridge.v1.xml) = {nil_of: "check_out_date"}];
  }
  // Such as double.
  string room_type = 4;
  // When the guest arrives.
  optional string arrival_time = 5 [(agentbridge.v1.xml) = {xsd_type: "dateTime"}];
  // A note for the desk.
  optional string guest_note = 6;
}
`

// dummyProto fronts Dummy of the corpus's node-soap sample with imported schemas: the wrapper
// elements' own children are in the Name namespace, the children of the imported complex
// types (DummyFilter, DummyResult, DummyList) in the Common namespace.
const dummyProto = `syntax = "proto3";

package corpus.dummy.v1;

import "agentbridge/v1/options.proto";
import "google/api/annotations.proto";

// node-soap's Dummy sample service.
service DummyService {
  // Lists dummies.
  rpc Dummy(DummyRequest) returns (DummyResponse) {
    option (google.api.http) = {post: "/v1/dummy" body: "*"};
    option (agentbridge.v1.binding) = {
      backend: "dummy"
      soap: {
        action: "http://www.Dummy.com#Dummy"
        request: {name: "DummyRequest" namespace: "http://www.Dummy.com/Name/Types"}
        response: {name: "DummyResponse" namespace: "http://www.Dummy.com/Name/Types"}
      }
    };
  }
}

// The request.
message DummyRequest {
  option (agentbridge.v1.xml_message) = {namespace: "http://www.Dummy.com/Name/Types"};
  // A field.
  optional string dummy_field1 = 1 [(agentbridge.v1.xml) = {name: "DummyField1"}];
  // A filter.
  DummyFilter dummy_filter = 2 [(agentbridge.v1.xml) = {name: "DummyFilter"}];
}

// The filter (common.xsd).
message DummyFilter {
  option (agentbridge.v1.xml_message) = {namespace: "http://www.Dummy.com/Common/Types"};
  // By int.
  optional string dummy_int_filter = 1 [(agentbridge.v1.xml) = {name: "DummyIntFilter"}];
  // By string.
  optional string dummy_string_filter = 2 [(agentbridge.v1.xml) = {name: "DummyStringFilter"}];
}

// The reply.
message DummyResponse {
  option (agentbridge.v1.xml_message) = {namespace: "http://www.Dummy.com/Name/Types"};
  // The result.
  DummyResult dummy_result = 1 [(agentbridge.v1.xml) = {name: "DummyResult"}];
}

// The result (common.xsd).
message DummyResult {
  option (agentbridge.v1.xml_message) = {namespace: "http://www.Dummy.com/Common/Types"};
  // A code.
  optional string code = 1 [(agentbridge.v1.xml) = {attribute: true}];
  // The dummies; unset when the reply has no DummyList.
  DummyList dummy_list = 2 [(agentbridge.v1.xml) = {name: "DummyList"}];
}

// The list (common.xsd).
message DummyList {
  option (agentbridge.v1.xml_message) = {namespace: "http://www.Dummy.com/Common/Types"};
  // The items.
  repeated Dummy dummy_element = 1 [(agentbridge.v1.xml) = {name: "DummyElement"}];
}

// One dummy: text with an optional language.
message Dummy {
  // The text.
  string value = 1 [(agentbridge.v1.xml) = {text: true}];
  // Its language.
  optional string language = 2 [(agentbridge.v1.xml) = {attribute: true}];
}
`

// valuesBridge serves the two protos in front of the peer's ec2 and reservation servers, each
// service from a bridge of its own: with both in one server, MCP calls of
// ReservationService_CheckAvailability fail with NotFound "no longer served", since the server
// sorts its tools by procedure (corpus.ec2… before corpus.greath…) but looks them up by binary
// search on the tool name (Reservation… before Spot…).
type valuesBridge struct {
	spotBridge, stayBridge, dummyBridge *nodeBridge
	spot, reservation, dummy            protoreflect.ServiceDescriptor
}

// bridgeFor returns the bridge serving a REST route or MCP tool of the case.
func (b *valuesBridge) bridgeFor(routeOrTool string) *nodeBridge {
	if strings.HasPrefix(routeOrTool, "/v1/stays") || strings.HasPrefix(routeOrTool, "ReservationService_") {
		return b.stayBridge
	}
	if strings.HasPrefix(routeOrTool, "/v1/dummy") || strings.HasPrefix(routeOrTool, "DummyService_") {
		return b.dummyBridge
	}
	return b.spotBridge
}

// newValuesBridge compiles the protos from a temp dir, as a config's protos are, and serves each
// service in front of its peer server.
func newValuesBridge(t *testing.T, urls map[string]string) *valuesBridge {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"corpus/ec2/v1/spot.proto": spotProto, "corpus/greath/v1/reservation.proto": reservationProto, "corpus/dummy/v1/dummy.proto": dummyProto}
	var protos []string
	for path, src := range files {
		full := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		protos = append(protos, path)
	}
	set, err := contract.Load(t.Context(), contract.Sources{ProtoPaths: []string{dir}, Protos: protos})
	if err != nil {
		t.Fatal(err)
	}
	spot, err := set.Service("corpus.ec2.v1.SpotPriceService")
	if err != nil {
		t.Fatal(err)
	}
	res, err := set.Service("corpus.greath.v1.ReservationService")
	if err != nil {
		t.Fatal(err)
	}
	dummy, err := set.Service("corpus.dummy.v1.DummyService")
	if err != nil {
		t.Fatal(err)
	}
	serve := func(sd protoreflect.ServiceDescriptor, backend string) *nodeBridge {
		return serveNodeBridge(t, &server.Config{
			ProtoPaths: []string{dir},
			Protos:     protos,
			Services:   []string{string(sd.FullName())},
			Backends:   map[string]adapters.Backend{backend: {Kind: "soap", Endpoint: urls[backend]}},
		}, nil)
	}
	return &valuesBridge{
		spotBridge: serve(spot, "ec2"), stayBridge: serve(res, "reservation"), dummyBridge: serve(dummy, "dummy"),
		spot: spot, reservation: res, dummy: dummy,
	}
}

// nodeSOAPURLs reads every endpoint URL the peer serves from its /_urls, which lists servers
// that nodeSOAPPeer has no field for.
func nodeSOAPURLs(t *testing.T, p *nodeSOAPPeer) map[string]string {
	t.Helper()
	u, err := url.Parse(p.Calculator)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/_urls"
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatalf("GET /_urls: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var urls map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&urls); err != nil || urls["ec2"] == "" || urls["reservation"] == "" || urls["dummy"] == "" || urls["rpcencoded"] == "" {
		t.Fatalf("GET /_urls: HTTP %d, %v, %v", resp.StatusCode, urls, err)
	}
	return urls
}

// rawCall is a record of the peer with the request envelope as it arrived.
type rawCall struct {
	nodeCall
	XML string `json:"xml"`
}

// receivedRaw returns everything the peer has recorded, with the raw requests.
func receivedRaw(t *testing.T, p *nodeSOAPPeer) []rawCall {
	t.Helper()
	u, err := url.Parse(p.Calculator)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/_received"
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatalf("GET /_received: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []rawCall
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET /_received: %v in %s", err, body)
	}
	return out
}

// nilText stands for an element sent with xsi:nil="true" in rawElements' results.
const nilText = "(xsi:nil)"

// rawElements returns the text of each leaf element of a request envelope by local name, in
// document order, nilText for an element with xsi:nil="true" (which must also be empty).
func rawElements(t *testing.T, envelope string) map[string][]string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(envelope))
	out := map[string][]string{}
	type open struct {
		name  string
		isNil bool
		text  strings.Builder
		child bool
	}
	var stack []*open
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("request envelope %s: %v", envelope, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) > 0 {
				stack[len(stack)-1].child = true
			}
			o := &open{name: tok.Name.Local}
			for _, a := range tok.Attr {
				o.isNil = o.isNil || a.Name.Space == "http://www.w3.org/2001/XMLSchema-instance" && a.Name.Local == "nil" && a.Value == "true"
			}
			stack = append(stack, o)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(tok)
			}
		case xml.EndElement:
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			switch {
			case o.isNil && o.text.Len() > 0:
				t.Errorf("nil element %s has text %q", o.name, o.text.String())
			case o.isNil:
				out[o.name] = append(out[o.name], nilText)
			case !o.child:
				out[o.name] = append(out[o.name], o.text.String())
			default:
				out[o.name] = append(out[o.name], "(element)")
			}
		}
	}
}

// rawNamespaces returns the namespace of each element of the envelope named in names, by local
// name ("(missing)" for one the envelope lacks).
func rawNamespaces(t *testing.T, envelope string, names map[string]string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(names))
	for name := range names {
		out[name] = "(missing)"
	}
	d := xml.NewDecoder(strings.NewReader(envelope))
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("request envelope %s: %v", envelope, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if _, ok := names[se.Name.Local]; ok {
				out[se.Name.Local] = se.Name.Space
			}
		}
	}
}

// valuesCase is one round trip: the agent's request, what node-soap must have parsed and the
// raw elements it must have got (absent ones listed with no values), and the agent's reply.
type valuesCase struct {
	name    string
	route   string // the REST route; the MCP tool is tool
	tool    string
	request string
	args    map[string]any      // node-soap's parse of the request (nil: an empty element)
	raw     map[string][]string // leaf elements the envelope must carry exactly
	absent  []string            // elements the envelope must not carry
	spaces  map[string]string   // namespaces of elements, by local name
	reply   string              // the agent's reply, as protojson
	output  protoreflect.MessageDescriptor
}

// valuesExpectations are what the subtests sent, for the check of what arrived.
type valuesExpectations struct {
	mu    sync.Mutex
	cases map[string]valuesCase // by the String of the nodeCall
	calls nodeExpectations
}

func (e *valuesExpectations) add(service, operation string, c valuesCase) {
	call := nodeCall{Service: service, Operation: operation, Args: c.args}
	e.calls.add(call)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cases == nil {
		e.cases = map[string]valuesCase{}
	}
	e.cases[call.String()] = c
}

// check compares what the peer recorded since start with what was sent, and each envelope's
// lexical values with the case's.
func (e *valuesExpectations) check(t *testing.T, p *nodeSOAPPeer, start int) {
	t.Helper()
	checkNodeReceivedSince(t, p, start, &e.calls)
	if t.Failed() {
		return
	}
	for _, r := range receivedRaw(t, p)[start:] {
		c := e.cases[r.String()]
		if r.XML == "" {
			t.Errorf("%s: no raw request recorded", r.nodeCall)
			continue
		}
		got := rawElements(t, r.XML)
		for name, want := range c.raw {
			if !reflect.DeepEqual(got[name], want) {
				t.Errorf("%s: element %s arrived as %q; want %q\n%s", c.name, name, got[name], want, r.XML)
			}
		}
		for name, got := range rawNamespaces(t, r.XML, c.spaces) {
			if got != c.spaces[name] {
				t.Errorf("%s: element %s arrived in namespace %q; want %q\n%s", c.name, name, got, c.spaces[name], r.XML)
			}
		}
		for _, name := range c.absent {
			if v, ok := got[name]; ok {
				t.Errorf("%s: element %s arrived (%q); want it absent\n%s", c.name, name, v, r.XML)
			}
		}
	}
}

// call sends the request on one surface and returns the reply's JSON, or fails the test.
func (b *valuesBridge) call(t *testing.T, surface string, c valuesCase) []byte {
	t.Helper()
	if surface == "rest" {
		code, body := b.bridgeFor(c.route).post(t, c.route, c.request)
		if code != http.StatusOK {
			t.Fatalf("POST %s %s: HTTP %d %s", c.route, c.request, code, body)
		}
		return body
	}
	text, isErr := b.callTool(t, c.tool, c.request)
	if isErr {
		t.Fatalf("MCP %s %s: %s", c.tool, c.request, text)
	}
	return []byte(text)
}

// callTool calls an MCP tool with the JSON request as arguments and returns its text.
func (b *valuesBridge) callTool(t *testing.T, tool, request string) (string, bool) {
	t.Helper()
	var args map[string]any
	if err := json.Unmarshal([]byte(request), &args); err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-values-test", Version: "v0"}, nil)
	session, err := client.Connect(nodeCallContext(t), &mcp.StreamableClientTransport{Endpoint: b.bridgeFor(tool).rest + "/mcp"}, nil)
	if err != nil {
		t.Fatalf("MCP connect: %v", err)
	}
	t.Cleanup(func() { _ = session.Close() })
	res, err := session.CallTool(nodeCallContext(t), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("MCP tools/call %s: %v", tool, err)
	}
	if len(res.Content) != 1 {
		t.Fatalf("MCP result %+v: want one content", res)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("MCP content %T", res.Content[0])
	}
	return tc.Text, res.IsError
}

// checkReply requires the reply to be the expected one field by field: equal as messages (so
// presence counts: an unset optional or message is not its empty value) and, in the JSON the
// agent read, every expected key with its exact value and no key the expectation lacks but for
// empty lists, which protojson writes for repeated fields.
func checkReply(t *testing.T, md protoreflect.MessageDescriptor, got []byte, want string) {
	t.Helper()
	gm, wm := dynamicpb.NewMessage(md), dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal(got, gm); err != nil {
		t.Fatalf("reply %s: %v", got, err)
	}
	if err := protojson.Unmarshal([]byte(want), wm); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	if !proto.Equal(gm, wm) {
		t.Errorf("reply\n got %s\nwant %s", got, want)
	}
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	checkJSONKeys(t, "", g, w)
}

// checkJSONKeys checks that got has want's keys with equal values and no other key but empty
// lists: absent fields must stay absent in the agent's JSON.
func checkJSONKeys(t *testing.T, at string, got, want map[string]any) {
	t.Helper()
	for k, wv := range want {
		gv, ok := got[k]
		if !ok {
			t.Errorf("reply has no %s%s; want %v", at, k, wv)
			continue
		}
		if wm, ok := wv.(map[string]any); ok {
			if gm, ok := gv.(map[string]any); ok {
				checkJSONKeys(t, at+k+".", gm, wm)
				continue
			}
		}
		if wl, ok := wv.([]any); ok {
			if gl, ok := gv.([]any); ok && len(gl) == len(wl) {
				for i := range wl {
					wm, wok := wl[i].(map[string]any)
					gm, gok := gl[i].(map[string]any)
					if wok && gok {
						checkJSONKeys(t, fmt.Sprintf("%s%s[%d].", at, k, i), gm, wm)
					} else if !reflect.DeepEqual(gl[i], wl[i]) {
						t.Errorf("reply %s%s[%d] = %v; want %v", at, k, i, gl[i], wl[i])
					}
				}
				continue
			}
		}
		if !reflect.DeepEqual(gv, wv) {
			t.Errorf("reply %s%s = %#v; want %#v", at, k, gv, wv)
		}
	}
	for k, gv := range got {
		if _, ok := want[k]; ok {
			continue
		}
		if l, ok := gv.([]any); ok && len(l) == 0 {
			continue
		}
		t.Errorf("reply has %s%s = %v, which the backend did not send", at, k, gv)
	}
}

// TestNodeSOAPCorpusValues makes the round trips: every lexical value reaches node-soap byte
// for byte and comes back to the agent unchanged, and nil, absent and empty stay apart.
func TestNodeSOAPCorpusValues(t *testing.T) {
	p := nodeSOAP(t)
	b := newValuesBridge(t, nodeSOAPURLs(t, p))
	spotOut := b.spot.Methods().ByName("DescribeSpotPriceHistory").Output()
	utcOut := b.spot.Methods().ByName("DescribeSpotPriceHistoryUtc").Output()
	stay := b.reservation.Methods().ByName("CheckAvailability").Output()
	dummyOut := b.dummy.Methods().ByName("Dummy").Output()

	const (
		spotRoute = "/v1/spot-prices:history"
		spotTool  = "SpotPriceService_DescribeSpotPriceHistory"
		utcRoute  = "/v1/spot-prices:historyUtc"
		utcTool   = "SpotPriceService_DescribeSpotPriceHistoryUtc"
		stayRoute = "/v1/stays:check"
		stayTool  = "ReservationService_CheckAvailability"
	)
	spot := []valuesCase{{
		name:  "dateTime offset and zoneless, two items, nextToken",
		route: spotRoute, tool: spotTool, output: spotOut,
		request: `{"startTime":"2013-10-15T12:00:00+02:00","endTime":"2013-10-16T00:00:00","instanceTypeSet":{"item":[{"instanceType":"m1.small"},{"instanceType":"t1.micro"}]},"nextToken":"tok-1"}`,
		args: map[string]any{
			"startTime": "2013-10-15T12:00:00+02:00", "endTime": "2013-10-16T00:00:00",
			"instanceTypeSet": map[string]any{"item": []any{map[string]any{"instanceType": "m1.small"}, map[string]any{"instanceType": "t1.micro"}}},
			"nextToken":       "tok-1",
		},
		raw:    map[string][]string{"startTime": {"2013-10-15T12:00:00+02:00"}, "endTime": {"2013-10-16T00:00:00"}, "instanceType": {"m1.small", "t1.micro"}, "nextToken": {"tok-1"}},
		absent: []string{"availabilityZone", "maxResults"},
		reply: `{"requestId":"spot-tok-1","spotPriceHistorySet":{"item":[` +
			`{"instanceType":"m1.small","productDescription":"Linux/UNIX","spotPrice":"0.012300","timestamp":"2013-10-15T12:00:00+02:00"},` +
			`{"instanceType":"t1.micro","productDescription":"Linux/UNIX","spotPrice":"0.012300","timestamp":"2013-10-16T00:00:00"}]},"nextToken":"tok-1"}`,
	}, {
		name:  "dateTime Z with fraction, zone and integer given",
		route: spotRoute, tool: spotTool, output: spotOut,
		request: `{"startTime":"2013-10-15T12:00:00.500Z","instanceTypeSet":{"item":[{"instanceType":"c1.medium"}]},"availabilityZone":"us-east-1a","maxResults":"0010"}`,
		args: map[string]any{
			"startTime":        "2013-10-15T12:00:00.500Z",
			"instanceTypeSet":  map[string]any{"item": []any{map[string]any{"instanceType": "c1.medium"}}},
			"availabilityZone": "us-east-1a", "maxResults": "0010",
		},
		raw:    map[string][]string{"startTime": {"2013-10-15T12:00:00.500Z"}, "maxResults": {"0010"}, "availabilityZone": {"us-east-1a"}},
		absent: []string{"endTime", "nextToken"},
		reply:  `{"requestId":"spot-first","spotPriceHistorySet":{"item":[{"instanceType":"c1.medium","productDescription":"Linux/UNIX","spotPrice":"0.012300","timestamp":"2013-10-15T12:00:00.500Z","availabilityZone":"us-east-1a"}]}}`,
	}, {
		name:  "list empty",
		route: spotRoute, tool: spotTool, output: spotOut,
		request: `{"instanceTypeSet":{},"nextToken":"tok-empty"}`,
		// node-soap reads an empty element as null; the raw envelope shows it empty.
		args:   map[string]any{"instanceTypeSet": nil, "nextToken": "tok-empty"},
		raw:    map[string][]string{"instanceTypeSet": {""}},
		absent: []string{"startTime", "endTime", "item"},
		reply:  `{"requestId":"spot-tok-empty","spotPriceHistorySet":{},"nextToken":"tok-empty"}`,
	}, {
		name:  "list absent",
		route: spotRoute, tool: spotTool, output: spotOut,
		request: `{"nextToken":"tok-absent"}`,
		args:    map[string]any{"nextToken": "tok-absent"},
		raw:     map[string][]string{"nextToken": {"tok-absent"}},
		absent:  []string{"instanceTypeSet", "startTime"},
		reply:   `{"requestId":"spot-tok-absent","nextToken":"tok-absent"}`,
	}, {
		name:  "Timestamp field, reply in UTC",
		route: utcRoute, tool: utcTool, output: utcOut,
		request: `{"startTime":"2013-10-15T12:00:00Z","instanceTypeSet":{"item":[{"instanceType":"m3.xlarge"}]}}`,
		args:    map[string]any{"startTime": "2013-10-15T12:00:00Z", "instanceTypeSet": map[string]any{"item": []any{map[string]any{"instanceType": "m3.xlarge"}}}},
		raw:     map[string][]string{"startTime": {"2013-10-15T12:00:00Z"}},
		reply:   `{"requestId":"spot-first","spotPriceHistorySet":{"item":[{"instanceType":"m3.xlarge","productDescription":"Linux/UNIX","spotPrice":"0.012300","timestamp":"2013-10-15T12:00:00Z"}]}}`,
	}}
	stays := []valuesCase{{
		name:  "date with zone, check-out nil, zoneless dateTime",
		route: stayRoute, tool: stayTool, output: stay,
		request: `{"checkInDate":"2024-05-01+02:00","checkOutDateNil":null,"roomType":"double","arrivalTime":"2024-05-01T12:30:00"}`,
		args:    map[string]any{"checkInDate": "2024-05-01+02:00", "checkOutDate": nil, "roomType": "double", "arrivalTime": "2024-05-01T12:30:00"},
		raw:     map[string][]string{"checkInDate": {"2024-05-01+02:00"}, "checkOutDate": {nilText}, "arrivalTime": {"2024-05-01T12:30:00"}},
		absent:  []string{"guestNote"},
		reply:   `{"checkInDate":"2024-05-01+02:00","checkOutDateNil":null,"roomType":"double","arrivalTime":"2024-05-01T12:30:00"}`,
	}, {
		name:  "zoneless date, check-out with Z, dateTime offset, empty note",
		route: stayRoute, tool: stayTool, output: stay,
		request: `{"checkInDate":"2024-05-01","checkOutDate":"2024-05-03Z","roomType":"single","arrivalTime":"2024-05-01T18:30:00.120-05:00","guestNote":""}`,
		args:    map[string]any{"checkInDate": "2024-05-01", "checkOutDate": "2024-05-03Z", "roomType": "single", "arrivalTime": "2024-05-01T18:30:00.120-05:00", "guestNote": ""},
		raw:     map[string][]string{"checkInDate": {"2024-05-01"}, "checkOutDate": {"2024-05-03Z"}, "arrivalTime": {"2024-05-01T18:30:00.120-05:00"}, "guestNote": {""}},
		reply:   `{"checkInDate":"2024-05-01","checkOutDate":"2024-05-03Z","roomType":"single","arrivalTime":"2024-05-01T18:30:00.120-05:00","guestNote":""}`,
	}, {
		name:  "leap day, check-out +14:00, optional elements absent",
		route: stayRoute, tool: stayTool, output: stay,
		request: `{"checkInDate":"2024-02-29","checkOutDate":"2024-03-01+14:00","roomType":"suite"}`,
		args:    map[string]any{"checkInDate": "2024-02-29", "checkOutDate": "2024-03-01+14:00", "roomType": "suite"},
		raw:     map[string][]string{"checkInDate": {"2024-02-29"}, "checkOutDate": {"2024-03-01+14:00"}},
		absent:  []string{"arrivalTime", "guestNote"},
		reply:   `{"checkInDate":"2024-02-29","checkOutDate":"2024-03-01+14:00","roomType":"suite"}`,
	}}

	dummies := []valuesCase{{
		// The corpus's own request.json.
		name:  "the corpus request, imported namespaces",
		route: "/v1/dummy", tool: "DummyService_Dummy", output: dummyOut,
		request: `{"dummyField1":"Humpty","dummyFilter":{"dummyStringFilter":"Dumpty"}}`,
		args:    map[string]any{"DummyField1": "Humpty", "DummyFilter": map[string]any{"DummyStringFilter": "Dumpty"}},
		raw:     map[string][]string{"DummyField1": {"Humpty"}, "DummyStringFilter": {"Dumpty"}},
		absent:  []string{"DummyIntFilter"},
		// The imported schemas' namespaces, as the WSDL gives them.
		spaces: map[string]string{
			"DummyRequest": "http://www.Dummy.com/Name/Types", "DummyField1": "http://www.Dummy.com/Name/Types",
			"DummyFilter": "http://www.Dummy.com/Name/Types", "DummyStringFilter": "http://www.Dummy.com/Common/Types",
		},
		reply: `{"dummyResult":{"code":"ok","dummyList":{"dummyElement":[{"value":"Humpty","language":"en"},{"value":"Dumpty"}]}}}`,
	}, {
		name:  "optional list absent",
		route: "/v1/dummy", tool: "DummyService_Dummy", output: dummyOut,
		request: `{"dummyField1":"no-list"}`,
		args:    map[string]any{"DummyField1": "no-list"},
		raw:     map[string][]string{"DummyField1": {"no-list"}},
		absent:  []string{"DummyFilter"},
		reply:   `{"dummyResult":{"code":"ok"}}`,
	}}

	start := len(p.received(t))
	var sent valuesExpectations
	t.Run("round trips", func(t *testing.T) {
		for _, group := range []struct {
			service, operation string
			cases              []valuesCase
		}{{"ec2", "DescribeSpotPriceHistory", spot}, {"reservation", "checkAvailability", stays}, {"dummy", "Dummy", dummies}} {
			for _, c := range group.cases {
				for _, surface := range []string{"rest", "mcp"} {
					t.Run(group.service+"/"+c.name+"/"+surface, func(t *testing.T) {
						t.Parallel()
						sent.add(group.service, group.operation, c)
						checkReply(t, c.output, b.call(t, surface, c), c.reply)
					})
				}
			}
		}
	})
	sent.check(t, p, start)
}

// TestNodeSOAPCorpusValueFailures covers what must not get through: a request value outside its
// XSD type never reaches the peer, and a reply value a field cannot hold fails naming it.
func TestNodeSOAPCorpusValueFailures(t *testing.T) {
	p := nodeSOAP(t)
	b := newValuesBridge(t, nodeSOAPURLs(t, p))

	tests := []struct {
		name, route, tool, request string
		reached                    *nodeCall // what the peer receives, nil for nothing
		want                       nodeWantError
		// The JSON name of a property whose inputSchema pattern refuses the value on MCP.
		schemaProperty string
	}{{
		name:  "request date not in the calendar",
		route: "/v1/stays:check", tool: "ReservationService_CheckAvailability",
		request:        `{"checkInDate":"2024-02-30","checkOutDateNil":null,"roomType":"bad-date"}`,
		want:           nodeWantError{code: codes.InvalidArgument, reasons: []string{"REQUEST_NOT_ENCODABLE"}, domain: "reservation", message: "field corpus.greath.v1.Stay.check_in_date: \"2024-02-30\" is not an xsd:date"},
		schemaProperty: "checkInDate",
	}, {
		name:  "request dateTime offset without a colon",
		route: "/v1/spot-prices:history", tool: "SpotPriceService_DescribeSpotPriceHistory",
		request:        `{"startTime":"2013-10-15T12:00:00+0200","nextToken":"tok-bad-offset"}`,
		want:           nodeWantError{code: codes.InvalidArgument, reasons: []string{"REQUEST_NOT_ENCODABLE"}, domain: "ec2", message: "field corpus.ec2.v1.DescribeSpotPriceHistoryRequest.start_time: \"2013-10-15T12:00:00+0200\" is not an xsd:dateTime"},
		schemaProperty: "startTime",
	}, {
		name:  "reply dateTime +02:00 into a Timestamp",
		route: "/v1/spot-prices:historyUtc", tool: "SpotPriceService_DescribeSpotPriceHistoryUtc",
		request: `{"startTime":"2013-10-15T12:00:00+02:00","instanceTypeSet":{"item":[{"instanceType":"m1.large"}]}}`,
		reached: &nodeCall{Service: "ec2", Operation: "DescribeSpotPriceHistory", Args: map[string]any{
			"startTime": "2013-10-15T12:00:00+02:00", "instanceTypeSet": map[string]any{"item": []any{map[string]any{"instanceType": "m1.large"}}},
		}},
		want: nodeWantError{code: codes.Internal, reasons: []string{"BACKEND_REPLY_INVALID"}, domain: "ec2", message: "has the offset +02:00, which cannot be held exactly by a Timestamp (it holds UTC only); field corpus.ec2.v1.SpotPriceHistoryUtcItem.timestamp is a google.protobuf.Timestamp",
			metadata: map[string]string{"element": "DescribeSpotPriceHistoryResponse/spotPriceHistorySet/item/timestamp"}},
	}, {
		// node-soap writes a null property as xsi:nil="true" without declaring the prefix (see
		// server.js); the element is then an empty checkOutDate, which is no xsd:date.
		name:  "reply nil with an undeclared xsi prefix",
		route: "/v1/stays:check", tool: "ReservationService_CheckAvailability",
		request: `{"checkInDate":"2024-06-01","checkOutDate":"2024-06-02","roomType":"node-null"}`,
		reached: &nodeCall{Service: "reservation", Operation: "checkAvailability", Args: map[string]any{
			"checkInDate": "2024-06-01", "checkOutDate": "2024-06-02", "roomType": "node-null",
		}},
		want: nodeWantError{code: codes.Internal, reasons: []string{"BACKEND_REPLY_INVALID"}, domain: "reservation", message: "element checkAvailabilityResponse/checkOutDate: \"\" is not an xsd:date",
			metadata: map[string]string{"element": "checkAvailabilityResponse/checkOutDate"}},
	}, {
		// The corpus's own response.xml: a DummyList whose only item is nil, which a proto
		// list cannot hold.
		name:  "the corpus reply, a nil list item",
		route: "/v1/dummy", tool: "DummyService_Dummy",
		request: `{"dummyField1":"corpus-sample"}`,
		reached: &nodeCall{Service: "dummy", Operation: "Dummy", Args: map[string]any{"DummyField1": "corpus-sample"}},
		want: nodeWantError{code: codes.Internal, reasons: []string{"BACKEND_REPLY_INVALID"}, domain: "dummy", message: "xsi:nil",
			metadata: map[string]string{"element": "DummyResponse/DummyResult/DummyList/DummyElement"}},
	}}

	start := len(p.received(t))
	var sent nodeExpectations
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			for _, surface := range []string{"rest", "mcp"} {
				t.Run(tt.name+"/"+surface, func(t *testing.T) {
					t.Parallel()
					if tt.reached != nil {
						sent.add(*tt.reached)
					}
					var v nodeErrorView
					if surface == "rest" {
						code, body := b.bridgeFor(tt.route).post(t, tt.route, tt.request)
						v = nodeRESTError(t, code, body)
					} else {
						text, isErr := b.callTool(t, tt.tool, tt.request)
						if !isErr {
							t.Fatalf("MCP %s succeeded: %s", tt.tool, text)
						}
						if tt.schemaProperty != "" && !strings.Contains(text, "\nstatus: ") {
							// The tool's inputSchema carries the xsd_type's pattern, so the MCP
							// surface refuses the value before the method runs, naming the
							// property; there is no status detail to check.
							want := "InvalidArgument: arguments do not match the tool's inputSchema: validating /properties/" + tt.schemaProperty + ": pattern"
							if !strings.HasPrefix(text, want) {
								t.Errorf("MCP error %q; want it to start %q", text, want)
							}
							return
						}
						v = nodeMCPError(t, text)
					}
					tt.want.check(t, v)
					checkNodeNoLeak(t, v)
					if testing.Verbose() {
						t.Logf("%s: %v %s %v", surface, v.code, v.message, v.info.GetMetadata())
					}
				})
			}
		}
	})
	checkNodeReceivedSince(t, p, start, &sent)
}
