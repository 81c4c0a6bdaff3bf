package adapters

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	redact := NewRedactor(Backend{Name: "erp", Endpoint: "http://erp.internal:8080/api"})
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name     string
		h        HTTPStatus
		status   int
		header   http.Header
		body     string
		code     codes.Code
		reason   Reason
		message  []string
		retryMin time.Duration // a RetryInfo of at least this, when set
	}{
		{name: "ok", status: 200, code: codes.OK},
		{name: "no content", status: 204, code: codes.OK},
		{name: "rate limited with seconds", status: 429, header: http.Header{"Retry-After": {"7"}}, code: codes.ResourceExhausted, reason: ReasonBackendRateLimited,
			message: []string{"rate limiting calls (HTTP 429)"}, retryMin: 7 * time.Second},
		{name: "rate limited with a date", status: 429, header: http.Header{"Retry-After": {future}}, code: codes.ResourceExhausted, reason: ReasonBackendRateLimited, retryMin: 80 * time.Second},
		{name: "rate limited, advice in the past", status: 429, header: http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}, code: codes.ResourceExhausted, reason: ReasonBackendRateLimited},
		{name: "unavailable with advice", status: 503, header: http.Header{"Retry-After": {"30"}}, code: codes.Unavailable, reason: ReasonBackendBadReply, retryMin: 30 * time.Second},
		{name: "redirect", status: 302, header: http.Header{"Location": {"http://elsewhere/"}}, code: codes.FailedPrecondition, reason: ReasonBackendRejected, message: []string{"redirected the call (HTTP 302)"}},
		{name: "credentials refused", status: 401, code: codes.FailedPrecondition, reason: ReasonBackendRejected, message: []string{"refused the bridge's credentials (HTTP 401)", "operator"}},
		{name: "html error page", h: HTTPStatus{Lacking: "a SOAP fault"}, status: 502, header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}, body: "<html><body>Bad Gateway</body></html>",
			code: codes.Unavailable, reason: ReasonBackendBadReply, message: []string{"answered HTTP 502 without a SOAP fault (an HTML page"}},
		{name: "html without a content type", status: 500, body: "\n  <!DOCTYPE html><html>", code: codes.Unavailable, reason: ReasonBackendBadReply, message: []string{"(an HTML page"}},
		{name: "endpoint 404", h: HTTPStatus{Lacking: "a SOAP fault"}, status: 404, code: codes.FailedPrecondition, reason: ReasonBackendRejected, message: []string{"refused the call with HTTP 404 without a SOAP fault"}},
		{name: "an article of its own", h: HTTPStatus{Lacking: "an XML-RPC fault"}, status: 500, code: codes.Unavailable, reason: ReasonBackendBadReply, message: []string{"answered HTTP 500 without an XML-RPC fault"}},
		{name: "resource 404", h: HTTPStatus{Resource: true, Detail: "item A-9 not found"}, status: 404, code: codes.NotFound, reason: ReasonBackendNotFound, message: []string{"has no such resource (HTTP 404): item A-9 not found"}},
		{name: "resource 422", h: HTTPStatus{Resource: true}, status: 422, code: codes.InvalidArgument, reason: ReasonBackendInvalidArgument},
		{name: "resource 400", h: HTTPStatus{Resource: true}, status: 400, code: codes.InvalidArgument, reason: ReasonBackendInvalidArgument},
		{name: "resource 409", h: HTTPStatus{Resource: true}, status: 409, code: codes.Aborted, reason: ReasonBackendConflict},
		{name: "resource 410", h: HTTPStatus{Resource: true}, status: 410, code: codes.FailedPrecondition, reason: ReasonBackendRejected},
		{name: "detail is redacted", h: HTTPStatus{Resource: true, Detail: "cannot reach http://erp.internal:8080/api/db\n\tat com.acme.Db.open(Db.java:12)"}, status: 400, code: codes.InvalidArgument, reason: ReasonBackendInvalidArgument},
		{name: "informational", status: 101, code: codes.Unavailable, reason: ReasonBackendBadReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.h
			h.Backend, h.Redactor = "erp", redact
			header := tt.header
			if header == nil {
				header = http.Header{}
			}
			err := h.Err(&Reply{StatusCode: tt.status, Header: header, Body: []byte(tt.body)})
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code = %v, want %v (%v)", st.Code(), tt.code, err)
			}
			if err == nil {
				return
			}
			var info *errdetails.ErrorInfo
			var retry *errdetails.RetryInfo
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					info = d
				case *errdetails.RetryInfo:
					retry = d
				}
			}
			if Reason(info.GetReason()) != tt.reason || info.GetDomain() != "erp" {
				t.Errorf("ErrorInfo = %v, want reason %s", info, tt.reason)
			}
			for _, m := range tt.message {
				if !strings.Contains(st.Message(), m) {
					t.Errorf("message %q does not contain %q", st.Message(), m)
				}
			}
			for _, secret := range []string{"erp.internal", "Db.java"} {
				if strings.Contains(st.Message(), secret) || strings.Contains(info.GetMetadata()["backend_message"], secret) {
					t.Errorf("the status shows %q: %q %v", secret, st.Message(), info.GetMetadata())
				}
			}
			switch {
			case tt.retryMin == 0 && retry != nil:
				t.Errorf("RetryInfo %v without advice", retry)
			case tt.retryMin > 0 && (retry == nil || retry.GetRetryDelay().AsDuration() < tt.retryMin):
				t.Errorf("RetryInfo = %v, want at least %s", retry, tt.retryMin)
			}
		})
	}
}
