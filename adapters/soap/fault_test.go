package soap_test

import (
	"context"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap"
)

// corpusMessage reads a sample from the shared corpus in place, relative to this package's
// directory (adapters/soap in the repository, which sits next to shared/).
func corpusMessage(t *testing.T, sample string) string {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "corpus", "soap-messages", sample, "response.xml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the shared corpus sample is missing (%v); it is read in place from ../shared/corpus", err)
	}
	return string(data)
}

// TestCorpusFaults decodes real faults from the corpus and checks that the HTTP status they
// arrive with does not change the status an agent sees.
func TestCorpusFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sample     string
		method     protoreflect.MethodDescriptor
		wantCode   codes.Code
		wantReason adapters.Reason
		wantMeta   map[string]string // all metadata but http_status
		wantMsg    string
	}{
		{
			sample: "s01-soap11-fault-detail", method: addMethod,
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault,
			wantMeta: map[string]string{
				"fault_code":   "soap:Server",
				"fault_string": "This is a fault string",
				"fault_detail": "errorcode: 3; errorstring: This is a fault detail error string",
			},
			wantMsg: "backend calc failed: This is a fault string (errorcode: 3; errorstring: This is a fault detail error string)",
		},
		{
			sample: "s02-soap12-fault", method: sayHiMethod,
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault,
			wantMeta: map[string]string{
				"fault_code":   "soap:Receiver",
				"fault_string": "Simulated failure",
			},
			wantMsg: "backend calc failed: Simulated failure",
		},
		{
			// A typed detail (NetSuite's invalidCredentialsFault) next to an Axis hostname
			// element; the code is Server with a dotted suffix.
			sample: "s06-netsuite-fault-typed-detail", method: addMethod,
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault,
			wantMeta: map[string]string{
				"fault_code":   "soapenv:Server.userException",
				"fault_string": "You have entered an invalid email address or password. Please try again.",
				"fault_detail": "invalidCredentialsFault/code: INVALID_LOGIN_CREDENTIALS; " +
					"invalidCredentialsFault/message: You have entered an invalid email address or password. Please try again.; " +
					"hostname: partners-java10009.bos.netledger.com",
			},
			// The detail is too long to repeat in the message; it stays in the metadata.
			wantMsg: "backend calc failed: You have entered an invalid email address or password. Please try again.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			t.Parallel()
			body := corpusMessage(t, tt.sample)
			var first string
			for _, httpStatus := range []int{http.StatusInternalServerError, http.StatusOK, http.StatusBadRequest} {
				srv, a := newCannedBackend(t, canned(httpStatus, "text/xml; charset=utf-8", body), nil)
				_, err := bindMethod(t, a, tt.method)(context.Background(), requestFor(tt.method))
				st, ei := statusOf(t, err)
				if st.Code() != tt.wantCode || ei.GetReason() != string(tt.wantReason) || ei.GetDomain() != "calc" {
					t.Errorf("HTTP %d: got %v %s/%s, want %v %s/calc", httpStatus, st.Code(), ei.GetReason(), ei.GetDomain(), tt.wantCode, tt.wantReason)
				}
				if st.Message() != tt.wantMsg {
					t.Errorf("HTTP %d: message\n got %q\nwant %q", httpStatus, st.Message(), tt.wantMsg)
				}
				md := maps.Clone(ei.GetMetadata())
				if got := md["http_status"]; got != strconv.Itoa(httpStatus) {
					t.Errorf("HTTP %d: metadata http_status = %q", httpStatus, got)
				}
				delete(md, "http_status")
				if !maps.Equal(md, tt.wantMeta) {
					t.Errorf("HTTP %d: metadata\n got %q\nwant %q", httpStatus, md, tt.wantMeta)
				}
				assertAgentSafe(t, srv, st, ei)
				// The same fault must read the same whatever status carried it.
				summary := st.Code().String() + "|" + st.Message() + "|" + ei.GetReason() + "|" + ei.GetDomain() + "|" + flatten(md)
				if first == "" {
					first = summary
				} else if summary != first {
					t.Errorf("HTTP %d gives a different status than HTTP 500:\n got %s\nwant %s", httpStatus, summary, first)
				}
			}
		})
	}
}

func flatten(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(k + "=" + m[k] + ";")
	}
	return b.String()
}

func TestFaultReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want adapters.Reason
	}{
		{"soap:Client", adapters.ReasonSOAPClientFault},
		{"Client", adapters.ReasonSOAPClientFault},
		{"SOAP-ENV:Client.Authentication", adapters.ReasonSOAPClientFault},
		{"env:Sender", adapters.ReasonSOAPClientFault},
		{"soap:Server", adapters.ReasonSOAPServerFault},
		{"soapenv:Server.userException", adapters.ReasonSOAPServerFault},
		{"env:Receiver", adapters.ReasonSOAPServerFault},
		{"soap:VersionMismatch", adapters.ReasonSOAPVersionMismatch},
		{"env:MustUnderstand", adapters.ReasonSOAPMustUnderstand},
		{"soap:MustUnderstand", adapters.ReasonSOAPMustUnderstand},
		{"env:DataEncodingUnknown", adapters.ReasonSOAPFault},
		{"acme:StockLocked", adapters.ReasonSOAPFault},
		{"", adapters.ReasonSOAPFault},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			if got := (&soap.Fault{Code: tt.code}).Reason(); got != tt.want {
				t.Errorf("Reason() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFaultErr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fault    soap.Fault
		wantCode codes.Code
		wantMsg  string
		wantMeta map[string]string
	}{
		{
			name:     "client fault with short detail",
			fault:    soap.Fault{Code: "soap:Client", String: "quantity too high", Detail: "max: 10"},
			wantCode: codes.InvalidArgument,
			wantMsg:  "backend inventory rejected the request: quantity too high (max: 10)",
			wantMeta: map[string]string{"fault_code": "soap:Client", "fault_string": "quantity too high", "fault_detail": "max: 10", "http_status": "500"},
		},
		{
			name:     "long detail stays in the metadata only",
			fault:    soap.Fault{Code: "soap:Server", String: "failed", Detail: strings.Repeat("d", 300)},
			wantCode: codes.Internal,
			wantMsg:  "backend inventory failed: failed",
			wantMeta: map[string]string{"fault_code": "soap:Server", "fault_string": "failed", "fault_detail": strings.Repeat("d", 300), "http_status": "500"},
		},
		{
			name:     "subcode and actor",
			fault:    soap.Fault{Code: "env:Sender", Subcode: "m:Expired", String: "token expired", Actor: "urn:acme:gateway"},
			wantCode: codes.InvalidArgument,
			wantMsg:  "backend inventory rejected the request: token expired",
			wantMeta: map[string]string{"fault_code": "env:Sender", "fault_subcode": "m:Expired", "fault_string": "token expired", "fault_actor": "urn:acme:gateway", "http_status": "500"},
		},
		{
			name:     "version mismatch says what to check",
			fault:    soap.Fault{Code: "env:VersionMismatch", String: "expected SOAP 1.2"},
			wantCode: codes.Internal,
			wantMsg:  "backend inventory does not accept the bridge's SOAP message (env:VersionMismatch): expected SOAP 1.2; check the binding's SOAP version",
			wantMeta: map[string]string{"fault_code": "env:VersionMismatch", "fault_string": "expected SOAP 1.2", "http_status": "500"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, ei := statusOf(t, tt.fault.Err("inventory", "500"))
			if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
				t.Errorf("got %v %q, want %v %q", st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
			}
			if ei.GetReason() != string(tt.fault.Reason()) || ei.GetDomain() != "inventory" {
				t.Errorf("ErrorInfo reason/domain = %s/%s", ei.GetReason(), ei.GetDomain())
			}
			if !maps.Equal(ei.GetMetadata(), tt.wantMeta) {
				t.Errorf("metadata\n got %q\nwant %q", ei.GetMetadata(), tt.wantMeta)
			}
		})
	}
}

// TestFaultDetail checks how fault details of both versions become text.
func TestFaultDetail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"1.1 leaf elements", fault11("soap:Server", "x", "<code>42</code><reason> out of stock </reason>"), "code: 42; reason: out of stock"},
		{"1.1 nested, namespaced", fault11("soap:Server", "x", `<f:stockFault xmlns:f="urn:f"><f:sku>A-100</f:sku><f:left>0</f:left></f:stockFault>`), "stockFault/sku: A-100; stockFault/left: 0"},
		{"1.1 text only", fault11("soap:Server", "x", " plain words "), "plain words"},
		{"1.1 escaped text", fault11("soap:Server", "x", "<msg>a &lt; b &amp; c</msg>"), "msg: a < b & c"},
		{"1.2 Detail", fault12("env:Receiver", "", "x", `<e:err xmlns:e="urn:e"><e:id>7</e:id></e:err>`), "err/id: 7"},
		{"empty element", fault11("soap:Server", "x", "<flag/>"), "flag: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, a := newCannedBackend(t, canned(500, "text/xml", tt.body), nil)
			_, err := bindMethod(t, a, addMethod)(context.Background(), requestFor(addMethod))
			_, ei := statusOf(t, err)
			if got := ei.GetMetadata()["fault_detail"]; got != tt.want {
				t.Errorf("fault_detail = %q, want %q", got, tt.want)
			}
		})
	}
}
