package soap_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
)

// encodedProto binds operations of two rpc/encoded WSDLs of the corpus: Magento's multiCall
// (SOAP 1.1 encoding, soapenc:Array) and node-soap's RpcExample execFile and listFiles (SOAP
// 1.2 encoding), with the options the WSDL importer writes for use="encoded".
const encodedProto = `syntax = "proto3";
package agentbridge.encodedtest.v1;
import "agentbridge/v1/options.proto";

service EncodedService {
  rpc MultiCall(MultiCallRequest) returns (MultiCallResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {action: "urn:Mage_Api_Model_Server_HandlerAction" request: {name: "multiCall" namespace: "urn:Magento"} response: {name: "multiCallResponse" namespace: "urn:Magento"} use: SOAP_USE_ENCODED}};
  }
  // The same reply read into a repeated field without an item element: the array is
  // recognised by its soapenc:arrayType.
  rpc MultiCallPlain(MultiCallRequest) returns (MultiCallPlainResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {request: {name: "multiCall" namespace: "urn:Magento"} response: {name: "multiCallResponse" namespace: "urn:Magento"} use: SOAP_USE_ENCODED}};
  }
  rpc ExecFile(ExecFileRequest) returns (ExecFileResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {version: SOAP_VERSION_1_2 request: {name: "execFile" namespace: "urn:RpcExample"} response: {name: "execFileResponse" namespace: "urn:RpcExample"} use: SOAP_USE_ENCODED}};
  }
  rpc ExecFile11(ExecFileRequest) returns (ExecFileResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {request: {name: "execFile" namespace: "urn:RpcExample"} response: {name: "execFileResponse" namespace: "urn:RpcExample"} use: SOAP_USE_ENCODED}};
  }
  rpc ListFiles(ListFilesRequest) returns (ListFilesResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {version: SOAP_VERSION_1_2 request: {name: "listFiles" namespace: "urn:RpcExample"} response: {name: "listFilesResponse" namespace: "urn:RpcExample"} use: SOAP_USE_ENCODED}};
  }
  // An Axis-style array of structs, each item a reference to a multiRef.
  rpc Results(ListFilesRequest) returns (ResultsResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {request: {name: "results" namespace: "urn:RpcExample"} response: {name: "resultsResponse" namespace: "urn:RpcExample"} use: SOAP_USE_ENCODED}};
  }
  // Encoded parts without a wrapper.
  rpc Parts(ListFilesRequest) returns (PartsResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {use: SOAP_USE_ENCODED}};
  }
}

message MultiCallRequest {
  string session_id = 1 [(agentbridge.v1.xml) = {name: "sessionId"}];
  repeated string calls = 2 [(agentbridge.v1.xml) = {item: "item"}];
}
message MultiCallResponse {
  repeated bool multi_call_return = 1 [(agentbridge.v1.xml) = {name: "multiCallReturn" item: "item"}];
}
message MultiCallPlainResponse {
  repeated bool multi_call_return = 1 [(agentbridge.v1.xml) = {name: "multiCallReturn"}];
}

message ExecFileParams {
  option (agentbridge.v1.xml_message) = {type: {name: "execFileParams" namespace: "urn:RpcExample"}};
  string file_name = 1;
  repeated string arguments = 2;
  string base64_encoded_std_in = 3 [(agentbridge.v1.xml) = {name: "base64EncodedStdIn"}];
  bool start_detached = 4;
}
message ExecFileRequest {
  ExecFileParams params = 1;
}
message ExecFileResult {
  option (agentbridge.v1.xml_message) = {type: {name: "execFileResult" namespace: "urn:RpcExample"}};
  string base64_encoded_std_out = 1 [(agentbridge.v1.xml) = {name: "base64EncodedStdOut"}];
  string base64_encoded_std_error = 2 [(agentbridge.v1.xml) = {name: "base64EncodedStdError"}];
  int32 exit_code = 3;
}
message ExecFileResponse {
  ExecFileResult result = 1;
}
message ListFilesRequest {}
message ListFilesResponse {
  repeated string result = 1 [(agentbridge.v1.xml) = {item: "files"}];
}
message ResultsResponse {
  repeated ExecFileResult results = 1 [(agentbridge.v1.xml) = {item: "item"}];
}
message PartsResponse {
  ExecFileResult result = 1;
  int64 count = 2;
}
`

var (
	encodedOnce sync.Once
	encodedSvc  protoreflect.ServiceDescriptor
)

func encodedMethod(t *testing.T, name protoreflect.Name) protoreflect.MethodDescriptor {
	t.Helper()
	encodedOnce.Do(func() {
		encodedSvc = prototest.Compile(t, "agentbridge/encodedtest/v1/encoded.proto", encodedProto).Services().ByName("EncodedService")
	})
	return encodedSvc.Methods().ByName(name)
}

// corpusFile reads a file of the shared corpus in place.
func corpusFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile("../../../shared/corpus/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

const (
	soapenc11 = "http://schemas.xmlsoap.org/soap/encoding/"
	soapenc12 = "http://www.w3.org/2003/05/soap-encoding"
	xsiXSD    = `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"`
)

func TestEncodedCalls(t *testing.T) {
	t.Parallel()
	axisReply := env11(`<ns1:execFileResponse xmlns:ns1="urn:RpcExample" soap:encodingStyle="` + soapenc11 + `"><result href="#id0"/></ns1:execFileResponse>` +
		`<multiRef xmlns:ns2="urn:RpcExample" xmlns:soapenc="` + soapenc11 + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="id0" soapenc:root="0" xsi:type="ns2:execFileResult">` +
		`<base64EncodedStdOut xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">b3V0</base64EncodedStdOut><base64EncodedStdError href="#id1"/><exitCode>0</exitCode></multiRef>` +
		`<multiRef id="id1" soapenc:root="0" xmlns:soapenc="` + soapenc11 + `"></multiRef>`)
	tests := []struct {
		name     string
		method   protoreflect.Name
		request  string
		reply    string
		wantBody string
		want     string
	}{
		{
			name:    "magento multiCall: soapenc:Array both ways (s07)",
			method:  "MultiCall",
			request: `{"sessionId": "sessionId", "calls": ["product_stock.update", "HTC Touch Diamond"]}`,
			reply:   corpusFile(t, "soap-messages/s07-rpc-encoded-magento-soapenc-array/response.xml"),
			wantBody: `<ns0:multiCall xmlns:ns0="urn:Magento" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" soapenv:encodingStyle="` + soapenc11 + `" ` + xsiXSD + ` xmlns:soapenc="` + soapenc11 + `">` +
				`<sessionId xsi:type="xsd:string">sessionId</sessionId>` +
				`<calls xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[2]"><item xsi:type="xsd:string">product_stock.update</item><item xsi:type="xsd:string">HTC Touch Diamond</item></calls>` +
				`</ns0:multiCall>`,
			want: `{"multiCallReturn": [true]}`,
		},
		{
			name:    "magento multiCall into a repeated field without item",
			method:  "MultiCallPlain",
			request: `{"sessionId": "s"}`,
			reply:   corpusFile(t, "soap-messages/s07-rpc-encoded-magento-soapenc-array/response.xml"),
			wantBody: `<ns0:multiCall xmlns:ns0="urn:Magento" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" soapenv:encodingStyle="` + soapenc11 + `" ` + xsiXSD + ` xmlns:soapenc="` + soapenc11 + `">` +
				`<sessionId xsi:type="xsd:string">s</sessionId></ns0:multiCall>`,
			want: `{"multiCallReturn": [true]}`,
		},
		{
			name:    "RpcExample execFile, SOAP 1.2 encoding with enc:ref",
			method:  "ExecFile",
			request: `{"params": {"fileName": "ls", "arguments": ["-l", "/tmp"], "base64EncodedStdIn": "", "startDetached": true}}`,
			reply: env12(`<r:execFileResponse xmlns:r="urn:RpcExample" xmlns:enc="` + soapenc12 + `" env:encodingStyle="` + soapenc12 + `"><result enc:ref="r1"/>` +
				`<r:execFileResult enc:id="r1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="r:execFileResult"><base64EncodedStdOut>b3V0</base64EncodedStdOut><base64EncodedStdError/><exitCode>3</exitCode></r:execFileResult>` +
				`</r:execFileResponse>`),
			wantBody: `<ns0:execFile xmlns:ns0="urn:RpcExample" xmlns:soapenv="http://www.w3.org/2003/05/soap-envelope" soapenv:encodingStyle="` + soapenc12 + `" ` + xsiXSD + ` xmlns:soapenc="` + soapenc12 + `">` +
				`<params xsi:type="ns0:execFileParams"><fileName xsi:type="xsd:string">ls</fileName><arguments xsi:type="xsd:string">-l</arguments><arguments xsi:type="xsd:string">/tmp</arguments>` +
				`<base64EncodedStdIn xsi:type="xsd:string"></base64EncodedStdIn><startDetached xsi:type="xsd:boolean">true</startDetached></params></ns0:execFile>`,
			want: `{"result": {"base64EncodedStdOut": "b3V0", "base64EncodedStdError": "", "exitCode": 3}}`,
		},
		{
			name:    "RpcExample execFile, Axis-style href and multiRef",
			method:  "ExecFile11",
			request: `{"params": {"fileName": "ls"}}`,
			reply:   axisReply,
			wantBody: `<ns0:execFile xmlns:ns0="urn:RpcExample" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" soapenv:encodingStyle="` + soapenc11 + `" ` + xsiXSD + ` xmlns:soapenc="` + soapenc11 + `">` +
				`<params xsi:type="ns0:execFileParams"><fileName xsi:type="xsd:string">ls</fileName><base64EncodedStdIn xsi:type="xsd:string"></base64EncodedStdIn><startDetached xsi:type="xsd:boolean">false</startDetached></params></ns0:execFile>`,
			want: `{"result": {"base64EncodedStdOut": "b3V0", "base64EncodedStdError": "", "exitCode": 0}}`,
		},
		{
			name:    "RpcExample listFiles: an array of any item name, SOAP 1.2",
			method:  "ListFiles",
			request: `{}`,
			reply: env12(`<r:listFilesResponse xmlns:r="urn:RpcExample" xmlns:enc="` + soapenc12 + `"><result enc:itemType="xsd:string" enc:arraySize="2" xmlns:xsd="http://www.w3.org/2001/XMLSchema">` +
				`<item>a.txt</item><files>b &amp; c.txt</files></result></r:listFilesResponse>`),
			wantBody: `<ns0:listFiles xmlns:ns0="urn:RpcExample" xmlns:soapenv="http://www.w3.org/2003/05/soap-envelope" soapenv:encodingStyle="` + soapenc12 + `" ` + xsiXSD + ` xmlns:soapenc="` + soapenc12 + `"></ns0:listFiles>`,
			want:     `{"result": ["a.txt", "b & c.txt"]}`,
		},
		{
			name:    "an array of references, one multiRef shared by two items",
			method:  "Results",
			request: `{}`,
			reply: env11(`<ns1:resultsResponse xmlns:ns1="urn:RpcExample"><results xmlns:e="` + soapenc11 + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="e:Array" e:arrayType="ns1:execFileResult[3]">` +
				`<item href="#id0"/><item href="#id1"/><item href="#id0"/></results></ns1:resultsResponse>` +
				`<multiRef id="id0"><base64EncodedStdOut>a</base64EncodedStdOut><base64EncodedStdError/><exitCode>0</exitCode></multiRef>` +
				`<multiRef id="id1"><base64EncodedStdOut>b</base64EncodedStdOut><base64EncodedStdError/><exitCode>1</exitCode></multiRef>`),
			wantBody: `<ns0:results xmlns:ns0="urn:RpcExample" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" soapenv:encodingStyle="` + soapenc11 + `" ` + xsiXSD + ` xmlns:soapenc="` + soapenc11 + `"></ns0:results>`,
			want: `{"results": [{"base64EncodedStdOut": "a", "base64EncodedStdError": "", "exitCode": 0}, {"base64EncodedStdOut": "b", "base64EncodedStdError": "", "exitCode": 1},` +
				` {"base64EncodedStdOut": "a", "base64EncodedStdError": "", "exitCode": 0}]}`,
		},
		{
			name:    "encoded parts without a wrapper, one by reference",
			method:  "Parts",
			request: `{}`,
			reply: env11(`<result href="#a"/><count xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xsi:type="xsd:long">12</count>` +
				`<r id="a"><base64EncodedStdOut>x</base64EncodedStdOut><base64EncodedStdError>y</base64EncodedStdError><exitCode>1</exitCode></r>`),
			wantBody: ``,
			want:     `{"result": {"base64EncodedStdOut": "x", "base64EncodedStdError": "y", "exitCode": 1}, "count": "12"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := encodedMethod(t, tt.method)
			rb, a := newRecordingBackend(t, tt.reply, nil)
			resp, err := bindMethod(t, a, md)(context.Background(), newMessage(t, md.Input(), tt.request))
			if err != nil {
				t.Fatal(err)
			}
			header, body := bodyOf(t, rb.request())
			if header != "" {
				t.Errorf("soap:Header %q, want none", header)
			}
			if body != tt.wantBody {
				t.Errorf("soap:Body holds\n%s\nwant\n%s", body, tt.wantBody)
			}
			want := newMessage(t, md.Output(), tt.want)
			if !proto.Equal(resp, want) {
				t.Errorf("response %v, want %v", resp, want)
			}
		})
	}
}

// TestEncodedMatchesRpcExampleWSDL holds the request the bridge writes for execFile to the
// corpus WSDL it stands for: the encodingStyle of its soap:body, and the names and order of
// execFileParams' elements.
func TestEncodedMatchesRpcExampleWSDL(t *testing.T) {
	t.Parallel()
	type element struct {
		Name string `xml:"name,attr"`
	}
	var wsdl struct {
		Types []struct {
			Name     string    `xml:"name,attr"`
			Elements []element `xml:"sequence>element"`
		} `xml:"types>schema>complexType"`
		Ops []struct {
			Name string `xml:"name,attr"`
			Body []struct {
				Use           string `xml:"use,attr"`
				EncodingStyle string `xml:"encodingStyle,attr"`
				Namespace     string `xml:"namespace,attr"`
			} `xml:"input>body"`
		} `xml:"binding>operation"`
	}
	if err := xml.Unmarshal([]byte(corpusFile(t, "wsdl/nodesoap-rpcexample-encoded.wsdl")), &wsdl); err != nil {
		t.Fatal(err)
	}
	md := encodedMethod(t, "ExecFile")
	rb, a := newRecordingBackend(t, env12(`<r:execFileResponse xmlns:r="urn:RpcExample"/>`), nil)
	_, _ = bindMethod(t, a, md)(context.Background(), newMessage(t, md.Input(), `{"params": {"fileName": "f"}}`))
	_, body := bodyOf(t, rb.request())
	var got struct {
		XMLName xml.Name
		Style   string `xml:"http://www.w3.org/2003/05/soap-envelope encodingStyle,attr"`
		Params  struct {
			Children []struct{ XMLName xml.Name } `xml:",any"`
		} `xml:"params"`
	}
	if err := xml.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, op := range wsdl.Ops {
		if op.Name != "execFile" {
			continue
		}
		found = true
		if len(op.Body) != 1 || op.Body[0].Use != "encoded" || op.Body[0].EncodingStyle != got.Style || op.Body[0].Namespace != got.XMLName.Space {
			t.Errorf("the WSDL's soap:body is %+v; the request has encodingStyle %q in namespace %q", op.Body, got.Style, got.XMLName.Space)
		}
	}
	if !found {
		t.Fatal("no execFile operation in the WSDL")
	}
	var names []string
	for _, c := range got.Params.Children {
		names = append(names, c.XMLName.Local)
	}
	for _, ct := range wsdl.Types {
		if ct.Name != "execFileParams" {
			continue
		}
		var want []string
		for _, e := range ct.Elements {
			if e.Name != "arguments" { // minOccurs 0, and none were sent
				want = append(want, e.Name)
			}
		}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("params holds %v, the WSDL's execFileParams %v", names, want)
		}
		return
	}
	t.Fatal("no execFileParams type in the WSDL")
}

// TestEncodedReplyFailures: an encoded reply whose references or types cannot be carried
// fails, naming why; nothing of it is dropped or guessed.
func TestEncodedReplyFailures(t *testing.T) {
	t.Parallel()
	const resp = `<ns1:execFileResponse xmlns:ns1="urn:RpcExample">`
	tests := []struct {
		name   string
		method protoreflect.Name
		reply  string
		msg    string
	}{
		{"an href to no element", "ExecFile11", env11(resp + `<result href="#nope"/></ns1:execFileResponse>`),
			`element result refers to id "nope", which no element of the Body has`},
		{"an href outside the message", "ExecFile11", env11(resp + `<result href="http://elsewhere/x"/></ns1:execFileResponse>`),
			`refers to "http://elsewhere/x", outside the message`},
		{"an id given twice", "ExecFile11", env11(resp + `<result href="#a"/></ns1:execFileResponse><m id="a"><exitCode>1</exitCode></m><m id="a"><exitCode>2</exitCode></m>`),
			`id "a" is given to more than one element`},
		{"a reference cycle", "ExecFile11", env11(resp + `<result href="#a"/></ns1:execFileResponse><m id="a"><exitCode href="#a"/></m>`),
			`a cycle`},
		{"a reference to an enclosing element", "ExecFile11", env11(resp + `<result id="r"><base64EncodedStdOut href="#r"/></result></ns1:execFileResponse>`),
			`a cycle`},
		{"a second independent element", "ExecFile11", env11(resp + `<result><exitCode>1</exitCode></result></ns1:execFileResponse><stray>1</stray>`),
			`another independent element, stray`},
		{"the wrong element", "ExecFile11", env11(`<ns1:other xmlns:ns1="urn:RpcExample"/>`),
			`the Body's element is other, expected execFileResponse`},
		{"a sparse array", "ListFiles", env12(`<r:listFilesResponse xmlns:r="urn:RpcExample" xmlns:enc="` + soapenc12 + `"><result enc:arraySize="3"><item enc:position="[2]">x</item></result></r:listFilesResponse>`),
			`sparse array`},
		{"a simple xsi:type for a message", "ExecFile11", env11(resp + `<result xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xsi:type="xsd:int">3</result></ns1:execFileResponse>`),
			`xsi:type is xsd:int, a simple type, but field agentbridge.encodedtest.v1.ExecFileResponse.result holds message`},
		{"an array for a single value", "ExecFile11", env11(resp + `<result><exitCode xmlns:e="` + soapenc11 + `" e:arrayType="xsd:int[1]"><i>1</i></exitCode></result></ns1:execFileResponse>`),
			`an encoded array, but field agentbridge.encodedtest.v1.ExecFileResult.exit_code is a single value`},
		{"a reference with content of its own", "ExecFile11", env11(resp + `<result href="#a"><exitCode>2</exitCode></result></ns1:execFileResponse><m id="a"><exitCode>1</exitCode></m>`),
			`has content of its own`},
	}
	// Shared references can make a small reply expand without bound (each level refers to the
	// next ten times), which the resolver stops.
	var laughs strings.Builder
	laughs.WriteString(resp + `<result href="#l0"/></ns1:execFileResponse>`)
	for level := range 7 {
		laughs.WriteString(`<m id="l` + strconv.Itoa(level) + `">`)
		for range 10 {
			if level == 6 {
				laughs.WriteString(`ha`)
			} else {
				laughs.WriteString(`<x href="#l` + strconv.Itoa(level+1) + `"/>`)
			}
		}
		laughs.WriteString(`</m>`)
	}
	tests = append(tests, struct {
		name   string
		method protoreflect.Name
		reply  string
		msg    string
	}{"references that expand without bound", "ExecFile11", env11(laughs.String()), "its references expand to more than"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := encodedMethod(t, tt.method)
			srv, a := newCannedBackend(t, canned(http.StatusOK, "text/xml", tt.reply), nil)
			_, err := bindMethod(t, a, md)(context.Background(), adapters.MessageType(md.Input()).New().Interface())
			st, ei := statusOf(t, err)
			if st.Code() != codes.Internal || ei.GetReason() != string(adapters.ReasonBackendReplyInvalid) || !strings.Contains(st.Message(), tt.msg) {
				t.Errorf("got %v %s %q, want Internal BACKEND_REPLY_INVALID saying %q", st.Code(), ei.GetReason(), st.Message(), tt.msg)
			}
			assertAgentSafe(t, srv, st, ei)
		})
	}
}
