package soap_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/soap"
)

// stylesProto binds one method per SOAP style that literal use knows, on a contract loaded at
// run time (dynamic messages), as the WSDL importer will write it.
const stylesProto = `syntax = "proto3";
package agentbridge.styletest.v1;
import "agentbridge/v1/options.proto";

service StyleService {
  // rpc/literal: the operation's element holds one unqualified child per part.
  rpc Add(AddRequest) returns (AddResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {action: "urn:add" request: {name: "add" namespace: "urn:calc"} response: {name: "addResponse" namespace: "urn:calc"}}};
  }
  // document/literal with several parts and no wrapper, both ways.
  rpc Parts(PartsRequest) returns (PartsResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {action: "urn:parts"}};
  }
  // document/literal bare whose request element is a simple type (cxf hello_world_fault).
  rpc Bare(BareRequest) returns (BareResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {request: {name: "BareDocument" namespace: "http://apache.org/intfault/types"} response: {name: "BareDocumentResponse" namespace: "http://apache.org/intfault/types"}}};
  }
  // Header blocks both ways.
  rpc Session(SessionRequest) returns (SessionResponse) {
    option (agentbridge.v1.binding) = {backend: "calc" soap: {request: {name: "query" namespace: "urn:q"} response: {name: "queryResponse" namespace: "urn:q"}}};
  }
}

message AddRequest {
  int32 a = 1;
  int32 b = 2;
}
message AddResponse {
  int32 result = 1;
}

message Order {
  option (agentbridge.v1.xml_message) = {namespace: "urn:orders"};
  string id = 1;
}
message PartsRequest {
  Order order = 1 [(agentbridge.v1.xml) = {namespace: "urn:orders"}];
  string note = 2 [(agentbridge.v1.xml) = {namespace: "urn:orders"}];
}
message PartsResponse {
  optional string status = 1 [(agentbridge.v1.xml) = {namespace: "urn:orders"}];
  int32 count = 2 [(agentbridge.v1.xml) = {namespace: "urn:orders"}];
}

message BareRequest {
  string in = 1 [(agentbridge.v1.xml) = {text: true}];
}
message BareResponse {
  option (agentbridge.v1.xml_message) = {namespace: "http://apache.org/intfault/types"};
  string company = 1;
  optional int32 id = 2 [(agentbridge.v1.xml) = {attribute: true}];
}

message Auth {
  option (agentbridge.v1.xml_message) = {namespace: "urn:auth"};
  string token = 1;
}
message SessionRequest {
  Auth auth = 1 [(agentbridge.v1.xml) = {header: true name: "Auth" namespace: "urn:auth"}];
  string text = 2;
}
message SessionResponse {
  optional string session_id = 1 [(agentbridge.v1.xml) = {header: true name: "SessionId" namespace: "urn:auth"}];
  string answer = 2;
}
`

var (
	stylesOnce sync.Once
	stylesSvc  protoreflect.ServiceDescriptor
)

// styleMethod returns a method of stylesProto's service, compiled once per test binary.
func styleMethod(t *testing.T, name protoreflect.Name) protoreflect.MethodDescriptor {
	t.Helper()
	stylesOnce.Do(func() {
		stylesSvc = prototest.Compile(t, "agentbridge/styletest/v1/styles.proto", stylesProto).Services().ByName("StyleService")
	})
	return stylesSvc.Methods().ByName(name)
}

// newMessage returns a dynamic message of md's type read from JSON.
func newMessage(t *testing.T, md protoreflect.MessageDescriptor, js string) proto.Message {
	t.Helper()
	m := adapters.MessageType(md).New().Interface()
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// recordingBackend answers every request with reply and keeps the last request's envelope.
type recordingBackend struct {
	mu   sync.Mutex
	last string
}

func (rb *recordingBackend) request() string {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return rb.last
}

func newRecordingBackend(t *testing.T, reply string, configure func(*adapters.Backend)) (*recordingBackend, *soap.Adapter) {
	t.Helper()
	rb := &recordingBackend{}
	_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rb.mu.Lock()
		rb.last = string(body)
		rb.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, reply)
	}), configure)
	return rb, a
}

// bodyOf returns what a request envelope holds between <soap:Body> and </soap:Body>, and
// between <soap:Header> and </soap:Header> ("" without a header).
func bodyOf(t *testing.T, envelope string) (header, body string) {
	t.Helper()
	if _, h, ok := strings.Cut(envelope, "<soap:Header>"); ok {
		header, _, _ = strings.Cut(h, "</soap:Header>")
	}
	_, b, ok := strings.Cut(envelope, "<soap:Body>")
	if !ok {
		t.Fatalf("no soap:Body in %s", envelope)
	}
	body, _, _ = strings.Cut(b, "</soap:Body>")
	if err := wellFormed([]byte(envelope)); err != nil {
		t.Errorf("request is not well-formed: %v\n%s", err, envelope)
	}
	return header, body
}

func TestSOAPStyles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     protoreflect.Name
		request    string // JSON
		reply      string
		wantHeader string
		wantBody   string
		want       string // the response as JSON
	}{
		{
			name:     "rpc/literal wraps unqualified parts in the operation element",
			method:   "Add",
			request:  `{"a": 2, "b": 3}`,
			reply:    env11(`<c:addResponse xmlns:c="urn:calc"><result>5</result></c:addResponse>`),
			wantBody: `<ns0:add xmlns:ns0="urn:calc"><a>2</a><b>3</b></ns0:add>`,
			want:     `{"result": 5}`,
		},
		{
			name:     "several parts without a wrapper",
			method:   "Parts",
			request:  `{"order": {"id": "o-1"}, "note": "rush"}`,
			reply:    env11(`<o:status xmlns:o="urn:orders">shipped</o:status><o:count xmlns:o="urn:orders">2</o:count>`),
			wantBody: `<ns0:order xmlns:ns0="urn:orders"><ns0:id>o-1</ns0:id></ns0:order><ns1:note xmlns:ns1="urn:orders">rush</ns1:note>`,
			want:     `{"status": "shipped", "count": 2}`,
		},
		{
			name:     "several parts without a wrapper, optional one absent",
			method:   "Parts",
			request:  `{"note": "x"}`,
			reply:    env11(`<count xmlns="urn:orders">0</count>`),
			wantBody: `<ns0:note xmlns:ns0="urn:orders">x</ns0:note>`,
			want:     `{"count": 0}`,
		},
		{
			name:     "document/literal bare with a simple-typed element",
			method:   "Bare",
			request:  `{"in": "hello & bye"}`,
			reply:    env11(`<x1:BareDocumentResponse xmlns:x1="http://apache.org/intfault/types" id="7"><x1:company>Acme</x1:company></x1:BareDocumentResponse>`),
			wantBody: `<ns0:BareDocument xmlns:ns0="http://apache.org/intfault/types">hello &amp; bye</ns0:BareDocument>`,
			want:     `{"company": "Acme", "id": 7}`,
		},
		{
			name:    "header blocks both ways",
			method:  "Session",
			request: `{"auth": {"token": "t0k"}, "text": "hi"}`,
			reply: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
				`<a:SessionId xmlns:a="urn:auth">S-1</a:SessionId><x:Trace xmlns:x="urn:trace">ignored</x:Trace>` +
				`<x:Routed xmlns:x="urn:trace" soap:mustUnderstand="1" soap:actor="urn:some-intermediary">not for the bridge</x:Routed>` +
				`</soap:Header><soap:Body><q:queryResponse xmlns:q="urn:q"><answer>hello</answer></q:queryResponse></soap:Body></soap:Envelope>`,
			wantHeader: `<ns0:Auth xmlns:ns0="urn:auth"><ns0:token>t0k</ns0:token></ns0:Auth>`,
			wantBody:   `<ns0:query xmlns:ns0="urn:q"><text>hi</text></ns0:query>`,
			want:       `{"sessionId": "S-1", "answer": "hello"}`,
		},
		{
			name:     "a header field left unset writes no block and reads none",
			method:   "Session",
			request:  `{"text": "hi"}`,
			reply:    env11(`<q:queryResponse xmlns:q="urn:q"><answer>a</answer></q:queryResponse>`),
			wantBody: `<ns0:query xmlns:ns0="urn:q"><text>hi</text></ns0:query>`,
			want:     `{"answer": "a"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := styleMethod(t, tt.method)
			rb, a := newRecordingBackend(t, tt.reply, nil)
			resp, err := bindMethod(t, a, md)(context.Background(), newMessage(t, md.Input(), tt.request))
			if err != nil {
				t.Fatal(err)
			}
			header, body := bodyOf(t, rb.request())
			if header != tt.wantHeader {
				t.Errorf("soap:Header holds\n%s\nwant\n%s", header, tt.wantHeader)
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

// TestSOAPStylesWithWSSecurity: the request's header blocks follow the backend's
// wsse:Security in one soap:Header, and the Security block of the reply, which WS-Security
// peers mark mustUnderstand, is understood because the bridge sent one.
func TestSOAPStylesWithWSSecurity(t *testing.T) { // not parallel: it sets an environment variable
	md := styleMethod(t, "Session")
	reply := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security xmlns:wsse="` + soap.NamespaceWSSE + `" soap:mustUnderstand="1"><wsse:Timestamp/></wsse:Security>` +
		`</soap:Header><soap:Body><q:queryResponse xmlns:q="urn:q"><answer>ok</answer></q:queryResponse></soap:Body></soap:Envelope>`
	rb, a := newRecordingBackend(t, reply, func(b *adapters.Backend) {
		t.Setenv("STYLES_WSS_PASSWORD", "p4ss")
		b.Auth = &adapters.Auth{WSSecurity: &adapters.WSSecurityAuth{Username: "u", Password: "${STYLES_WSS_PASSWORD}"}}
	})
	if _, err := bindMethod(t, a, md)(context.Background(), newMessage(t, md.Input(), `{"auth": {"token": "t0k"}, "text": "hi"}`)); err != nil {
		t.Fatal(err)
	}
	header, _ := bodyOf(t, rb.request())
	sec := strings.Index(header, "<wsse:Security")
	auth := strings.Index(header, `<ns0:Auth xmlns:ns0="urn:auth">`)
	if sec < 0 || auth < sec {
		t.Errorf("soap:Header should hold wsse:Security, then the Auth block:\n%s", header)
	}
}

// TestSOAPStyleReplyFailures: what a reply of each style can get wrong fails with a status
// naming it, never as a response with something left out.
func TestSOAPStyleReplyFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method protoreflect.Name
		reply  string
		code   codes.Code
		reason adapters.Reason
		msg    string
	}{
		{"parts: a required part missing", "Parts", env11(`<o:status xmlns:o="urn:orders">x</o:status>`),
			codes.Internal, adapters.ReasonBackendReplyInvalid, "element Body/count: the reply has no such element"},
		{"parts: an empty Body", "Parts", env11(``),
			codes.Internal, adapters.ReasonBackendReplyInvalid, "element Body/count"},
		{"parts: an envelope without a Body", "Parts", `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"></soap:Envelope>`,
			codes.Internal, adapters.ReasonBackendReplyInvalid, "an envelope without a Body"},
		{"parts: a fault still wins", "Parts", fault11("soap:Client", "bad order", ""),
			codes.InvalidArgument, adapters.ReasonSOAPClientFault, "bad order"},
		{"header: a block marked mustUnderstand that the response does not declare", "Session",
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><t:Tx xmlns:t="urn:tx" soap:mustUnderstand="1">1</t:Tx></soap:Header>` +
				`<soap:Body><q:queryResponse xmlns:q="urn:q"><answer>a</answer></q:queryResponse></soap:Body></soap:Envelope>`,
			codes.Internal, adapters.ReasonBackendReplyInvalid, "header block Tx is marked mustUnderstand"},
		{"header: SOAP 1.2 mustUnderstand true", "Session",
			`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header><t:Tx xmlns:t="urn:tx" env:mustUnderstand="true">1</t:Tx></env:Header>` +
				`<env:Body><q:queryResponse xmlns:q="urn:q"><answer>a</answer></q:queryResponse></env:Body></env:Envelope>`,
			codes.Internal, adapters.ReasonBackendReplyInvalid, "header block Tx is marked mustUnderstand"},
		{"header: a block that does not fit its field", "Session",
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><a:SessionId xmlns:a="urn:auth"><b>nested</b></a:SessionId></soap:Header>` +
				`<soap:Body><q:queryResponse xmlns:q="urn:q"><answer>a</answer></q:queryResponse></soap:Body></soap:Envelope>`,
			codes.Internal, adapters.ReasonBackendReplyInvalid, "element Header/SessionId/b"},
		{"bare: the wrong element", "Bare", env11(`<x1:Other xmlns:x1="http://apache.org/intfault/types"/>`),
			codes.Internal, adapters.ReasonBackendReplyInvalid, "answered with element Other, expected BareDocumentResponse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := styleMethod(t, tt.method)
			srv, a := newCannedBackend(t, canned(http.StatusOK, "text/xml", tt.reply), nil)
			_, err := bindMethod(t, a, md)(context.Background(), adapters.MessageType(md.Input()).New().Interface())
			st, ei := statusOf(t, err)
			if st.Code() != tt.code || ei.GetReason() != string(tt.reason) || !strings.Contains(st.Message(), tt.msg) {
				t.Errorf("got %v %s %q, want %v %s saying %q", st.Code(), ei.GetReason(), st.Message(), tt.code, tt.reason, tt.msg)
			}
			assertAgentSafe(t, srv, st, ei)
		})
	}
}

// TestSOAPStylesRefusedAtBind: bindings the styles cannot carry fail when bound, naming why.
func TestSOAPStylesRefusedAtBind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, proto, msg string
	}{
		{"a header field in a nested message", `
message Inner { string token = 1 [(agentbridge.v1.xml) = {header: true}]; }
message Req { Inner inner = 1; }
message Resp { string r = 1; }`, "only top-level fields of a method's request or response message can be header blocks"},
		{"a header field that is an attribute", `
message Req { string token = 1 [(agentbridge.v1.xml) = {header: true attribute: true}]; }
message Resp { string r = 1; }`, "cannot also be an attribute or text"},
		{"an attribute in a request without a wrapper", `
message Req { string token = 1 [(agentbridge.v1.xml) = {attribute: true}]; }
message Resp { string r = 1; }`, "has attribute field token, but its fields are the children of another element"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := `syntax = "proto3"; package agentbridge.styletest.refused; import "agentbridge/v1/options.proto";
service S { rpc M(Req) returns (Resp) { option (agentbridge.v1.binding) = {backend: "calc" soap: {response: {name: "r"}}}; } }` + tt.proto
			md := prototest.Compile(t, "refused.proto", src).Services().ByName("S").Methods().ByName("M")
			a := soap.New(adapters.Backend{Name: "calc", Endpoint: "http://127.0.0.1:1/"}, nil)
			_, err := a.Bind(md, adapters.BindingOf(md))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Bind: %v, want an error saying %q", err, tt.msg)
			}
		})
	}
}
