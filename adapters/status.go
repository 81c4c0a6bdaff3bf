package adapters

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reason is the google.rpc.ErrorInfo reason of a backend outcome: a stable UPPER_SNAKE name
// agents and dashboards can match on.
type Reason string

// The reasons, one per row of the table below.
const (
	ReasonSOAPClientFault     Reason = "SOAP_CLIENT_FAULT"
	ReasonSOAPServerFault     Reason = "SOAP_SERVER_FAULT"
	ReasonSOAPVersionMismatch Reason = "SOAP_VERSION_MISMATCH"
	ReasonSOAPMustUnderstand  Reason = "SOAP_MUST_UNDERSTAND"
	ReasonSOAPFault           Reason = "SOAP_FAULT"
	ReasonBackendRateLimited  Reason = "BACKEND_RATE_LIMITED"
	ReasonBackendRejected     Reason = "BACKEND_REJECTED"
	ReasonBackendBadReply     Reason = "BACKEND_BAD_REPLY"
	ReasonBackendReplyInvalid Reason = "BACKEND_REPLY_INVALID"
	ReasonBackendUnreachable  Reason = "BACKEND_UNREACHABLE"
	ReasonBackendTimeout      Reason = "BACKEND_TIMEOUT"
	ReasonReplyTooLarge       Reason = "REPLY_TOO_LARGE"
	ReasonRequestNotEncodable Reason = "REQUEST_NOT_ENCODABLE"
	ReasonCanceled            Reason = "CANCELED"
	ReasonBackendAuth         Reason = "BACKEND_AUTH_UNAVAILABLE"
	ReasonCircuitOpen         Reason = "BACKEND_CIRCUIT_OPEN"
	ReasonBackendBusy         Reason = "BACKEND_BUSY"
	ReasonBackendNotFound     Reason = "BACKEND_NOT_FOUND"
	// ReasonBackendInvalidArgument is a REST backend's 400 or 422 (see HTTPStatus.Resource).
	ReasonBackendInvalidArgument Reason = "BACKEND_INVALID_ARGUMENT"
	ReasonBackendConflict        Reason = "BACKEND_CONFLICT"
	// ReasonBackendFault is a fault a kind's protocol carries other than SOAP's (an XML-RPC
	// fault, an error a REST backend reports in a 200 body), unless a fault rule maps it.
	ReasonBackendFault Reason = "BACKEND_FAULT"
)

// ErrorInfo metadata keys the server reads.
const (
	// MetaRequestSent says whether the backend may have received the request: "false" when the
	// call failed before sending it (connection refused, a name that does not resolve),
	// "unknown" when it failed after (a timeout, a connection lost mid-call). Adapters set it
	// on transport failures.
	MetaRequestSent = "request_sent"
	// MetaOutcome is "unknown" on a failure of a state-changing method whose request may have
	// been carried out: the server sets it, so that no surface invites a blind retry.
	MetaOutcome = "outcome"
)

// outcomes is the one table from backend outcomes to gRPC codes. Every surface (gRPC, Connect,
// gRPC-Web, REST, MCP) renders the status made from it, so the same failure looks the same
// everywhere. Deliberate choices are commented, as grpc-gateway does in HTTPStatusFromCode.
//
// A fault can be mapped otherwise by fault rules (see FaultRules): a method's, then its
// backend's, then this table. The table reads faults by their SOAP code alone, which cannot
// tell a documented "your input is wrong" sent as a Server fault (EU VIES does) from a crash;
// the rules let the people who know the service say so.
var outcomes = map[Reason]codes.Code{
	// A SOAP Client (1.1) or Sender (1.2) fault says the request was wrong: the agent can fix
	// it, so InvalidArgument, not FailedPrecondition (the backend does not say which state).
	ReasonSOAPClientFault: codes.InvalidArgument,
	// A Server/Receiver fault is the backend failing on a valid request. Internal, not
	// Unavailable: retrying the same call is not known to help.
	ReasonSOAPServerFault: codes.Internal,
	// VersionMismatch and MustUnderstand mean the bridge and the backend disagree on the
	// protocol: a configuration problem on our side, which the agent cannot fix.
	ReasonSOAPVersionMismatch: codes.Internal,
	ReasonSOAPMustUnderstand:  codes.Internal,
	// Any other fault code (DataEncodingUnknown, or a custom one) is treated as the backend's
	// failure.
	ReasonSOAPFault: codes.Internal,
	// HTTP 429: the backend's own limit; the agent should slow down.
	ReasonBackendRateLimited: codes.ResourceExhausted,
	// Another HTTP 4xx without a fault: the backend refused the call for a reason it did not
	// explain in SOAP terms (401, 403, 404 on the endpoint...). FailedPrecondition rather than
	// InvalidArgument: the arguments were well formed; the system is not in a state to serve.
	// A redirect (3xx) lands here too: the transport does not follow redirects (see
	// NewTransport), and retrying will not help until the endpoint is corrected, so not
	// Unavailable.
	ReasonBackendRejected: codes.FailedPrecondition,
	// HTTP 5xx, or a body that is not a SOAP envelope (an HTML error page from a proxy, even
	// with 200) or not well-formed XML (a reply cut off, a DOCTYPE): Unavailable, because such
	// replies are usually transient and safe methods may be retried. Malformed XML is not
	// BACKEND_REPLY_INVALID even when the break is inside the response element: the cause is
	// the transfer, not a disagreement between the proto and the backend.
	ReasonBackendBadReply: codes.Unavailable,
	// A well-formed envelope whose content does not fit the response message (a value that is
	// not a number, a missing body element): the proto and the backend disagree, so Internal.
	ReasonBackendReplyInvalid: codes.Internal,
	// Connection refused, reset, or a name that does not resolve.
	ReasonBackendUnreachable: codes.Unavailable,
	// The backend did not answer before the caller's deadline or the backend's timeout.
	ReasonBackendTimeout: codes.DeadlineExceeded,
	// The reply exceeded the configured bound; it was not read further.
	ReasonReplyTooLarge: codes.ResourceExhausted,
	// The request holds a value the backend's format cannot carry (a control character in
	// XML): the caller's to fix.
	ReasonRequestNotEncodable: codes.InvalidArgument,
	// The caller went away.
	ReasonCanceled: codes.Canceled,
	// The bridge could not get its own credentials for the backend (an OAuth2 token endpoint
	// that refused or did not answer): the caller can do nothing but wait for an operator.
	ReasonBackendAuth: codes.Unavailable,
	// The backend's circuit breaker is open (see Guard): the call was not sent. Unavailable,
	// with a RetryInfo saying when the breaker lets calls through again.
	ReasonCircuitOpen: codes.Unavailable,
	// The backend's concurrency cap or outbound rate limit is reached (see Guard): the call was
	// not sent. ResourceExhausted, like the backend's own 429, with a RetryInfo.
	ReasonBackendBusy: codes.ResourceExhausted,
	// A REST backend's 404 for the resource its URL names: the thing asked for does not exist.
	ReasonBackendNotFound: codes.NotFound,
	// A REST backend's 400 or 422: it judged the input wrong, which the agent can fix.
	ReasonBackendInvalidArgument: codes.InvalidArgument,
	// A REST backend's 409: the call conflicts with the resource's current state (a version
	// that moved on, a duplicate); Aborted, as grpc-gateway maps 409, so the agent re-reads.
	ReasonBackendConflict: codes.Aborted,
	// A fault in another protocol's terms, which the backend's fault rules did not map: as a
	// SOAP fault with a custom code, the backend's failure.
	ReasonBackendFault: codes.Internal,
}

// Outcome is a backend failure, described once and rendered as a gRPC status with
// google.rpc.ErrorInfo{reason, domain: backend name, metadata}.
type Outcome struct {
	Reason  Reason
	Backend string
	// Message is what the agent reads. It must be actionable and must not carry secrets or
	// stack traces; Err builds it from these fields.
	Message string
	// Metadata lands in ErrorInfo.metadata (fault code, fault string, detail, HTTP status).
	Metadata map[string]string
	// Override, when not OK, is the code a fault rule chose (see FaultRules); the table is not
	// consulted. Reason is then the rule's.
	Override codes.Code
}

// Code is the gRPC code of the outcome: a fault rule's, or the table's.
func (o Outcome) Code() codes.Code {
	if o.Override != codes.OK {
		return o.Override
	}
	if c, ok := outcomes[o.Reason]; ok {
		return c
	}
	return codes.Unknown
}

// Err renders the outcome as a gRPC status error.
func (o Outcome) Err() error {
	md := make(map[string]string, len(o.Metadata))
	for k, v := range o.Metadata {
		md[k] = Sanitize(v, maxMetadataValue)
	}
	st := status.New(o.Code(), Sanitize(o.Message, maxMessage))
	if ds, err := st.WithDetails(&errdetails.ErrorInfo{Reason: string(o.Reason), Domain: o.Backend, Metadata: md}); err == nil {
		st = ds
	}
	return st.Err()
}

// Errorf is shorthand for an Outcome's error with a formatted message.
func Errorf(backend string, reason Reason, metadata map[string]string, format string, args ...any) error {
	return Outcome{Reason: reason, Backend: backend, Message: fmt.Sprintf(format, args...), Metadata: metadata}.Err()
}

const (
	maxMessage       = 1024
	maxMetadataValue = 2048
)

// Sanitize makes backend text safe to show an agent: the first line only when the text looks
// like a stack trace (Java "at ...", Node "    at ...", Go "goroutine"), valid UTF-8, and at
// most limit bytes. Python prints the exception after its traceback, so for a Python trace the
// text before "Traceback" is joined with the last line instead.
func Sanitize(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if looksLikeTrace(s) {
		first, rest, _ := strings.Cut(s, "\n")
		if before, _, ok := strings.Cut(first, pythonTrace); ok {
			first = before + lastLine(rest)
		}
		s = strings.TrimSpace(first) + " (stack trace removed)"
	}
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

const pythonTrace = "Traceback (most recent call last)"

func looksLikeTrace(s string) bool {
	return strings.Contains(s, "\n    at ") || strings.Contains(s, "\n\tat ") ||
		strings.Contains(s, pythonTrace) || strings.Contains(s, "goroutine ")
}

// lastLine returns the last line of s that is not blank, trimmed.
func lastLine(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}
