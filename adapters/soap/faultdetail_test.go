package soap_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/soap"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// faultDetailProto has the typed faults of the corpus: cxf hello_world_fault's
// Bad_RecordLit_Fault (a detail element x1:int of a simple type) and its BadRecord type,
// s01's errorcode, and s06's NetSuite invalidCredentialsFault, with one rule per fault as
// the WSDL importer writes them.
const faultDetailProto = `syntax = "proto3";
package agentbridge.faultdetailtest.v1;
import "agentbridge/v1/options.proto";

service Greeter {
  rpc TestDocLitFault(BareDocument) returns (BareDocumentResponse) {
    option (agentbridge.v1.binding) = {
      backend: "calc"
      soap: {request: {name: "BareDocument" namespace: "http://apache.org/intfault/types"} response: {name: "BareDocumentResponse" namespace: "http://apache.org/intfault/types"}}
      faults: {fault_detail: {element: "int"} status: STATUS_CODE_INVALID_ARGUMENT reason: "BAD_RECORD_LIT" detail_type: "agentbridge.faultdetailtest.v1.BadRecordLitFault"}
      faults: {fault_detail: {element: "BadRecord"} status: STATUS_CODE_FAILED_PRECONDITION reason: "BAD_RECORD" detail_type: ".agentbridge.faultdetailtest.v1.BadRecord"}
      faults: {fault_detail: {element: "errorcode"} status: STATUS_CODE_INTERNAL reason: "SERVICE_ERROR" detail_type: "agentbridge.faultdetailtest.v1.ErrorCode"}
      faults: {fault_code: "Server" fault_detail: {element: "invalidCredentialsFault" path: "code" value: "INVALID_LOGIN_CREDENTIALS"} status: STATUS_CODE_FAILED_PRECONDITION reason: "INVALID_LOGIN_CREDENTIALS" detail_type: "agentbridge.faultdetailtest.v1.InvalidCredentialsFault"}
    };
  }
}

message BareDocument {
  string in = 1 [(agentbridge.v1.xml) = {text: true}];
}
message BareDocumentResponse {
  option (agentbridge.v1.xml_message) = {namespace: "http://apache.org/intfault/types"};
  string company = 1;
}
message BadRecordLitFault {
  int32 value = 1 [(agentbridge.v1.xml) = {text: true}];
}
message BadRecord {
  option (agentbridge.v1.xml_message) = {namespace: "http://apache.org/intfault/types"};
  string reason = 1;
  int32 code = 2 [(agentbridge.v1.xml) = {xsd_type: "short"}];
}
message ErrorCode {
  int32 code = 1 [(agentbridge.v1.xml) = {text: true}];
}
message InvalidCredentialsFault {
  option (agentbridge.v1.xml_message) = {namespace: "urn:faults_2013_2.platform.webservices.netsuite.com"};
  string code = 1;
  string message = 2;
}
`

var (
	faultDetailOnce sync.Once
	faultDetailFile protoreflect.FileDescriptor
)

func faultDetailContract(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	faultDetailOnce.Do(func() {
		faultDetailFile = prototest.Compile(t, "agentbridge/faultdetailtest/v1/faultdetail.proto", faultDetailProto)
	})
	return faultDetailFile
}

// typedDetails returns the status's details of the contract's types, by full name, as JSON.
func typedDetails(t *testing.T, st *status.Status, file protoreflect.FileDescriptor) map[string]proto.Message {
	t.Helper()
	out := map[string]proto.Message{}
	for _, d := range st.Proto().GetDetails() {
		name := protoreflect.FullName(strings.TrimPrefix(d.GetTypeUrl(), "type.googleapis.com/"))
		md := file.Messages().ByName(name.Name())
		if md == nil || md.FullName() != name {
			continue
		}
		m := adapters.MessageType(md).New().Interface()
		if err := anypb.UnmarshalTo(d, m, proto.UnmarshalOptions{}); err != nil {
			t.Fatal(err)
		}
		out[string(name)] = m
	}
	return out
}

func TestTypedFaultDetails(t *testing.T) {
	t.Parallel()
	const pkg = "agentbridge.faultdetailtest.v1."
	tests := []struct {
		name       string
		reply      string
		code       codes.Code
		reason     string
		detailType string // "" for none
		detail     string // JSON
		detailErr  string // in the fault_detail_error metadata
	}{
		{
			name:  "cxf Bad_RecordLit_Fault: a simple-typed detail element",
			reply: fault11("soap:Server", "bad record", `<ns2:int xmlns:ns2="http://apache.org/intfault/types">5</ns2:int>`),
			code:  codes.InvalidArgument, reason: "BAD_RECORD_LIT",
			detailType: pkg + "BadRecordLitFault", detail: `{"value": 5}`,
		},
		{
			name:  "cxf BadRecord, SOAP 1.2 Detail",
			reply: fault12("env:Sender", "", "bad", `<x1:BadRecord xmlns:x1="http://apache.org/intfault/types"><x1:reason>no such record</x1:reason><x1:code>404</x1:code></x1:BadRecord>`),
			code:  codes.FailedPrecondition, reason: "BAD_RECORD",
			detailType: pkg + "BadRecord", detail: `{"reason": "no such record", "code": 404}`,
		},
		{
			name:  "s01: errorcode among the detail's elements",
			reply: corpusMessage(t, "s01-soap11-fault-detail"),
			code:  codes.Internal, reason: "SERVICE_ERROR",
			detailType: pkg + "ErrorCode", detail: `{"code": 3}`,
		},
		{
			name:  "s06: NetSuite invalidCredentialsFault",
			reply: corpusMessage(t, "s06-netsuite-fault-typed-detail"),
			code:  codes.FailedPrecondition, reason: "INVALID_LOGIN_CREDENTIALS",
			detailType: pkg + "InvalidCredentialsFault",
			detail:     `{"code": "INVALID_LOGIN_CREDENTIALS", "message": "You have entered an invalid email address or password. Please try again."}`,
		},
		{
			name:  "a detail that does not fit its type is noted, not dropped",
			reply: fault11("soap:Server", "bad", `<x1:BadRecord xmlns:x1="http://apache.org/intfault/types"><x1:reason>r</x1:reason><x1:code>40000</x1:code></x1:BadRecord>`),
			code:  codes.FailedPrecondition, reason: "BAD_RECORD",
			detailErr: "detail element BadRecord does not fit agentbridge.faultdetailtest.v1.BadRecord: element code: 40000 is outside xsd:short",
		},
	}
	file := faultDetailContract(t)
	md := file.Services().ByName("Greeter").Methods().ByName("TestDocLitFault")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, a := newCannedBackend(t, canned(http.StatusInternalServerError, "text/xml", tt.reply), nil)
			_, err := bindMethod(t, a, md)(context.Background(), newMessage(t, md.Input(), `{"in": "x"}`))
			st, ei := statusOf(t, err)
			assertAgentSafe(t, srv, st, ei)
			if st.Code() != tt.code || ei.GetReason() != tt.reason {
				t.Errorf("got %v %s, want %v %s (%s)", st.Code(), ei.GetReason(), tt.code, tt.reason, st.Message())
			}
			got := typedDetails(t, st, file)
			if tt.detailType == "" {
				if len(got) != 0 {
					t.Errorf("typed details %v, want none", got)
				}
			} else {
				want := newMessage(t, file.Messages().ByName(protoreflect.FullName(tt.detailType).Name()), tt.detail)
				if len(got) != 1 || !proto.Equal(got[tt.detailType], want) {
					t.Errorf("typed details %v, want %s %v", got, tt.detailType, want)
				}
			}
			if e := ei.GetMetadata()["fault_detail_error"]; !strings.Contains(e, tt.detailErr) || (tt.detailErr == "") != (e == "") {
				t.Errorf("fault_detail_error %q, want %q", e, tt.detailErr)
			}
			if ei.GetMetadata()["fault_detail"] == "" {
				t.Error("the detail's text is missing from the metadata")
			}
		})
	}
}

// TestTypedFaultDetailsRefusedAtBind: a detail_type that cannot work fails the binding, naming
// the rule and why.
func TestTypedFaultDetailsRefusedAtBind(t *testing.T) {
	t.Parallel()
	file := prototest.Compile(t, "agentbridge/faultdetailtest/v1/refused.proto", `syntax = "proto3";
package agentbridge.faultdetailtest.refused;
import "agentbridge/v1/options.proto";
service S { rpc M(Req) returns (Req) { option (agentbridge.v1.binding) = {backend: "calc" soap: {request: {name: "r"} response: {name: "r"}}}; } }
message Req { string a = 1; }
message TwoTexts {
  string a = 1 [(agentbridge.v1.xml) = {text: true}];
  string b = 2 [(agentbridge.v1.xml) = {text: true}];
}`)
	md := file.Services().ByName("S").Methods().ByName("M")
	rule := func(element, detailType string) *agentbridgev1.FaultRule {
		r := &agentbridgev1.FaultRule{FaultCode: "Server", Status: agentbridgev1.StatusCode_STATUS_CODE_INTERNAL, Reason: "SOME_FAULT", DetailType: detailType}
		if element != "" {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: element}
		}
		return r
	}
	tests := []struct {
		name string
		rule *agentbridgev1.FaultRule
		msg  string
	}{
		{"no such message", rule("e", "agentbridge.faultdetailtest.refused.Nope"), `faults[0]: detail_type "agentbridge.faultdetailtest.refused.Nope" names no message of the method's file or its imports`},
		{"no fault_detail.element", rule("", "agentbridge.faultdetailtest.refused.Req"), `faults[0]: detail_type "agentbridge.faultdetailtest.refused.Req" needs fault_detail.element`},
		{"not a name", rule("e", "no spaces allowed"), `is not a full message name`},
		{"a type the codec cannot map", rule("e", "agentbridge.faultdetailtest.refused.TwoTexts"), `detail_type agentbridge.faultdetailtest.refused.TwoTexts cannot be decoded from XML`},
	}
	a := newAdapterForBind(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := a.Bind(md, withFaults(md, tt.rule))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Bind: %v, want an error saying %q", err, tt.msg)
			}
		})
	}
}

func newAdapterForBind(t *testing.T) *soap.Adapter {
	t.Helper()
	return soap.New(adapters.Backend{Name: "calc", Endpoint: "http://127.0.0.1:1/"}, nil)
}
