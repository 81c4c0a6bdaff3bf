package adapters

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestOutcomeTable pins every row of the mapping table. A change here changes what agents see
// on every surface, so it must be deliberate.
func TestOutcomeTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reason Reason
		want   codes.Code
	}{
		{ReasonSOAPClientFault, codes.InvalidArgument},
		{ReasonSOAPServerFault, codes.Internal},
		{ReasonSOAPVersionMismatch, codes.Internal},
		{ReasonSOAPMustUnderstand, codes.Internal},
		{ReasonSOAPFault, codes.Internal},
		{ReasonBackendRateLimited, codes.ResourceExhausted},
		{ReasonBackendRejected, codes.FailedPrecondition},
		{ReasonBackendBadReply, codes.Unavailable},
		{ReasonBackendReplyInvalid, codes.Internal},
		{ReasonBackendUnreachable, codes.Unavailable},
		{ReasonBackendTimeout, codes.DeadlineExceeded},
		{ReasonReplyTooLarge, codes.ResourceExhausted},
		{ReasonRequestNotEncodable, codes.InvalidArgument},
		{ReasonCanceled, codes.Canceled},
		{ReasonBackendAuth, codes.Unavailable},
		{ReasonCircuitOpen, codes.Unavailable},
		{ReasonBackendBusy, codes.ResourceExhausted},
		{ReasonBackendNotFound, codes.NotFound},
		{ReasonBackendInvalidArgument, codes.InvalidArgument},
		{ReasonBackendConflict, codes.Aborted},
		{ReasonBackendFault, codes.Internal},
		{"NOT_A_REASON", codes.Unknown},
	}
	if got, want := len(outcomes), len(tests)-1; got != want {
		t.Errorf("the table has %d rows, the test pins %d: pin the new row here", got, want)
	}
	for _, tt := range tests {
		t.Run(string(tt.reason), func(t *testing.T) {
			t.Parallel()
			o := Outcome{Reason: tt.reason, Backend: "calc", Message: "m"}
			if got := o.Code(); got != tt.want {
				t.Errorf("Code() = %v, want %v", got, tt.want)
			}
			if got := status.Code(o.Err()); got != tt.want {
				t.Errorf("status.Code(Err()) = %v, want %v", got, tt.want)
			}
		})
	}
}

func errorInfo(t *testing.T, err error) (*status.Status, *errdetails.ErrorInfo) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%v is not a gRPC status", err)
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return st, ei
		}
	}
	t.Fatalf("status %v has no ErrorInfo", st)
	return nil, nil
}

func TestOutcomeErrCarriesErrorInfo(t *testing.T) {
	t.Parallel()
	javaTrace := "java.lang.IllegalStateException: stock table locked\n\tat com.acme.Stock.get(Stock.java:42)\n\tat com.acme.Soap.invoke(Soap.java:7)"
	tests := []struct {
		name     string
		outcome  Outcome
		wantMsg  string
		wantMeta map[string]string
	}{
		{
			name:     "fault fields land in metadata",
			outcome:  Outcome{Reason: ReasonSOAPServerFault, Backend: "inventory", Message: "backend inventory failed: boom", Metadata: map[string]string{"fault_code": "soap:Server", "fault_string": "boom", "fault_detail": "errorcode: 3"}},
			wantMsg:  "backend inventory failed: boom",
			wantMeta: map[string]string{"fault_code": "soap:Server", "fault_string": "boom", "fault_detail": "errorcode: 3"},
		},
		{
			name:     "stack traces are cut from the message and the metadata",
			outcome:  Outcome{Reason: ReasonSOAPServerFault, Backend: "inventory", Message: "backend inventory failed: " + javaTrace, Metadata: map[string]string{"fault_string": javaTrace}},
			wantMsg:  "backend inventory failed: java.lang.IllegalStateException: stock table locked (stack trace removed)",
			wantMeta: map[string]string{"fault_string": "java.lang.IllegalStateException: stock table locked (stack trace removed)"},
		},
		{
			name:     "nil metadata gives empty metadata",
			outcome:  Outcome{Reason: ReasonBackendTimeout, Backend: "b", Message: "late"},
			wantMsg:  "late",
			wantMeta: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, ei := errorInfo(t, tt.outcome.Err())
			if st.Message() != tt.wantMsg {
				t.Errorf("message = %q, want %q", st.Message(), tt.wantMsg)
			}
			if ei.GetReason() != string(tt.outcome.Reason) || ei.GetDomain() != tt.outcome.Backend {
				t.Errorf("ErrorInfo reason/domain = %q/%q, want %q/%q", ei.GetReason(), ei.GetDomain(), tt.outcome.Reason, tt.outcome.Backend)
			}
			if len(ei.GetMetadata()) != len(tt.wantMeta) {
				t.Errorf("metadata = %v, want %v", ei.GetMetadata(), tt.wantMeta)
			}
			for k, v := range tt.wantMeta {
				if got := ei.GetMetadata()[k]; got != v {
					t.Errorf("metadata[%s] = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestErrorf(t *testing.T) {
	t.Parallel()
	_, ei := errorInfo(t, Errorf("calc", ReasonBackendRejected, map[string]string{"http_status": "403"}, "backend %s refused with HTTP %d", "calc", 403))
	if ei.GetReason() != "BACKEND_REJECTED" || ei.GetDomain() != "calc" || ei.GetMetadata()["http_status"] != "403" {
		t.Errorf("ErrorInfo = %v", ei)
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 600) // 1200 bytes of two-byte runes
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{"plain text is kept", "stock too low", 100, "stock too low"},
		{"multi-line text without a trace is kept", "line one\nline two", 100, "line one\nline two"},
		{"java trace keeps the first line", "java.lang.NullPointerException: item\n\tat com.acme.A.b(A.java:1)\n\tat com.acme.C.d(C.java:2)", 200,
			"java.lang.NullPointerException: item (stack trace removed)"},
		{"java trace with spaces", "javax.xml.ws.WebServiceException: x\n    at com.acme.A.b(A.java:1)", 200,
			"javax.xml.ws.WebServiceException: x (stack trace removed)"},
		{"node trace keeps the first line", "TypeError: Cannot read properties of undefined (reading 'sku')\n    at Object.GetItem (/srv/app/inventory.js:12:7)\n    at /srv/node_modules/soap/lib/server.js:500:20", 200,
			"TypeError: Cannot read properties of undefined (reading 'sku') (stack trace removed)"},
		{"python trace keeps the exception line", "Traceback (most recent call last):\n  File \"/srv/app.py\", line 3, in get_item\n    raise KeyError(sku)\nKeyError: 'A-100'\n", 200,
			"KeyError: 'A-100' (stack trace removed)"},
		{"python trace after a prefix", "backend x failed: Traceback (most recent call last):\n  File \"/srv/app.py\", line 3, in f\nValueError: bad sku", 200,
			"backend x failed: ValueError: bad sku (stack trace removed)"},
		{"go panic keeps the first line", "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()\n\t/srv/main.go:5 +0x1d", 200,
			"panic: runtime error: index out of range (stack trace removed)"},
		{"invalid UTF-8 is replaced", "bad \xff byte", 100, "bad \uFFFD byte"},
		{"long text is cut at a rune boundary", long, 1001, strings.Repeat("é", 500) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Sanitize(tt.in, tt.limit)
			if got != tt.want {
				t.Errorf("Sanitize() = %q, want %q", got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Sanitize() = %q is not valid UTF-8", got)
			}
		})
	}
}
