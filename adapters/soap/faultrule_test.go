package soap_test

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// withFaults returns the method's binding from its proto with rules as its fault rules.
func withFaults(md protoreflect.MethodDescriptor, rules ...*agentbridgev1.FaultRule) *agentbridgev1.Binding {
	b := proto.CloneOf(adapters.BindingOf(md))
	b.Faults = rules
	return b
}

// viesRule says what EU VIES documents: INVALID_INPUT, sent as a Server fault, is the caller's
// mistake.
func viesRule() *agentbridgev1.FaultRule {
	return &agentbridgev1.FaultRule{
		FaultCode:   "Server",
		FaultString: "^INVALID_INPUT$",
		Status:      agentbridgev1.StatusCode_STATUS_CODE_INVALID_ARGUMENT,
		Reason:      "INVALID_INPUT",
		Hint:        "Send the two-letter country code and the number without spaces.",
	}
}

// methodRule is a method rule: code, string or detail match and a status.
func methodRule(code, text string, status agentbridgev1.StatusCode, reason string) *agentbridgev1.FaultRule {
	return &agentbridgev1.FaultRule{FaultCode: code, FaultString: text, Status: status, Reason: reason}
}

// TestFaultRules drives faults of both SOAP versions through method and backend rules: each
// match field, AND, the first matching rule, method rules before backend rules, and the table
// when nothing matches. A mapped status keeps the fault's metadata and names its rule.
func TestFaultRules(t *testing.T) {
	t.Parallel()
	const (
		invalid     = agentbridgev1.StatusCode_STATUS_CODE_INVALID_ARGUMENT
		unavailable = agentbridgev1.StatusCode_STATUS_CODE_UNAVAILABLE
		notFound    = agentbridgev1.StatusCode_STATUS_CODE_NOT_FOUND
	)
	errDetail := `<e:err xmlns:e="urn:e"><e:id>7</e:id><e:field>vatNumber</e:field></e:err>`
	tests := []struct {
		name       string
		body       string
		method     []*agentbridgev1.FaultRule
		backend    []adapters.FaultRule
		wantCode   codes.Code
		wantReason string
		wantRule   string // "" when the table decides
		wantMsg    string
	}{
		{
			name:     "1.1 Server fault, code and string",
			body:     fault11("soap:Server", "INVALID_INPUT", ""),
			method:   []*agentbridgev1.FaultRule{viesRule()},
			wantCode: codes.InvalidArgument, wantReason: "INVALID_INPUT", wantRule: "method:0",
			wantMsg: "backend calc rejected the request: INVALID_INPUT. Send the two-letter country code and the number without spaces.",
		},
		{
			name:     "1.1 code matches, string does not: no match",
			body:     fault11("soap:Server", "INVALID_INPUT_FORMAT", ""),
			method:   []*agentbridgev1.FaultRule{viesRule()},
			wantCode: codes.Internal, wantReason: "SOAP_SERVER_FAULT",
			wantMsg: "backend calc failed: INVALID_INPUT_FORMAT",
		},
		{
			name:     "1.1 string matches, code does not: no match",
			body:     fault11("soap:Client", "INVALID_INPUT", ""),
			method:   []*agentbridgev1.FaultRule{viesRule()},
			wantCode: codes.InvalidArgument, wantReason: "SOAP_CLIENT_FAULT",
			wantMsg: "backend calc rejected the request: INVALID_INPUT",
		},
		{
			name:     "1.1 unanchored string",
			body:     fault11("soap:Server", "Error: MS_UNAVAILABLE (DE)", ""),
			method:   []*agentbridgev1.FaultRule{methodRule("", "MS_UNAVAILABLE", unavailable, "MS_UNAVAILABLE")},
			wantCode: codes.Unavailable, wantReason: "MS_UNAVAILABLE", wantRule: "method:0",
			wantMsg: "backend calc failed: Error: MS_UNAVAILABLE (DE)",
		},
		{
			name:     "1.1 dotted code refines the rule's",
			body:     fault11("SOAP-ENV:Server.Database", "record 7 not found", ""),
			method:   []*agentbridgev1.FaultRule{methodRule("Server", "not found$", notFound, "NO_SUCH_RECORD")},
			wantCode: codes.NotFound, wantReason: "NO_SUCH_RECORD", wantRule: "method:0",
			wantMsg: "backend calc rejected the request: record 7 not found",
		},
		{
			name: "1.1 detail element, path and value",
			body: fault11("soap:Server", "lookup failed", errDetail),
			method: []*agentbridgev1.FaultRule{{
				FaultDetail: &agentbridgev1.FaultDetailMatch{Element: "err", Path: "id", Value: proto.String("7")},
				Status:      notFound, Reason: "NO_SUCH_RECORD", Message: "no record has that id",
			}},
			wantCode: codes.NotFound, wantReason: "NO_SUCH_RECORD", wantRule: "method:0",
			wantMsg: "no record has that id: lookup failed (err/id: 7; err/field: vatNumber)",
		},
		{
			name: "1.1 detail value differs: no match",
			body: fault11("soap:Server", "lookup failed", errDetail),
			method: []*agentbridgev1.FaultRule{{
				FaultDetail: &agentbridgev1.FaultDetailMatch{Element: "err", Path: "id", Value: proto.String("8")},
				Status:      notFound, Reason: "NO_SUCH_RECORD",
			}},
			wantCode: codes.Internal, wantReason: "SOAP_SERVER_FAULT",
			wantMsg: "backend calc failed: lookup failed (err/id: 7; err/field: vatNumber)",
		},
		{
			name:     "1.2 Receiver with subcode",
			body:     fault12("env:Receiver", "m:Busy", "try again later", ""),
			method:   []*agentbridgev1.FaultRule{{FaultCode: "Receiver", FaultSubcode: "Busy", Status: unavailable, Reason: "BACKEND_BUSY"}},
			wantCode: codes.Unavailable, wantReason: "BACKEND_BUSY", wantRule: "method:0",
			wantMsg: "backend calc failed: try again later",
		},
		{
			name:     "1.2 subcode differs: no match",
			body:     fault12("env:Receiver", "m:Locked", "try again later", ""),
			method:   []*agentbridgev1.FaultRule{{FaultCode: "Receiver", FaultSubcode: "Busy", Status: unavailable, Reason: "BACKEND_BUSY"}},
			wantCode: codes.Internal, wantReason: "SOAP_SERVER_FAULT",
			wantMsg: "backend calc failed: try again later",
		},
		{
			name: "1.2 Detail element anywhere",
			body: fault12("env:Sender", "", "bad request", errDetail),
			method: []*agentbridgev1.FaultRule{{
				FaultDetail: &agentbridgev1.FaultDetailMatch{Element: "field", Value: proto.String("vatNumber")},
				Status:      agentbridgev1.StatusCode_STATUS_CODE_OUT_OF_RANGE, Reason: "VAT_NUMBER_OUT_OF_RANGE",
			}},
			wantCode: codes.OutOfRange, wantReason: "VAT_NUMBER_OUT_OF_RANGE", wantRule: "method:0",
			wantMsg: "backend calc rejected the request: bad request (err/id: 7; err/field: vatNumber)",
		},
		{
			name:     "1.2 Sender reclassified as the backend's failure",
			body:     fault12("env:Sender", "", "session pool exhausted", ""),
			method:   []*agentbridgev1.FaultRule{methodRule("Sender", "pool exhausted", unavailable, "SESSION_POOL_EXHAUSTED")},
			wantCode: codes.Unavailable, wantReason: "SESSION_POOL_EXHAUSTED", wantRule: "method:0",
			wantMsg: "backend calc failed: session pool exhausted",
		},
		{
			name: "first matching method rule wins",
			body: fault11("soap:Server", "INVALID_INPUT", ""),
			method: []*agentbridgev1.FaultRule{
				methodRule("Client", "", invalid, "NOT_THIS"),
				methodRule("Server", "INVALID", invalid, "SECOND"),
				methodRule("Server", "", invalid, "THIRD"),
			},
			wantCode: codes.InvalidArgument, wantReason: "SECOND", wantRule: "method:1",
			wantMsg: "backend calc rejected the request: INVALID_INPUT",
		},
		{
			name:     "method rule before backend rule",
			body:     fault11("soap:Server", "INVALID_INPUT", ""),
			method:   []*agentbridgev1.FaultRule{viesRule()},
			backend:  []adapters.FaultRule{{FaultCode: "Server", Status: "UNAVAILABLE", Reason: "FROM_BACKEND"}},
			wantCode: codes.InvalidArgument, wantReason: "INVALID_INPUT", wantRule: "method:0",
			wantMsg: "backend calc rejected the request: INVALID_INPUT. Send the two-letter country code and the number without spaces.",
		},
		{
			name:   "backend rule when no method rule matches",
			body:   fault11("soap:Server", "MS_UNAVAILABLE", ""),
			method: []*agentbridgev1.FaultRule{viesRule()},
			backend: []adapters.FaultRule{
				{FaultString: "^INVALID_INPUT$", Status: "FAILED_PRECONDITION", Reason: "NOT_THIS"},
				{FaultCode: "Server", FaultString: "^MS_UNAVAILABLE$", Status: "UNAVAILABLE", Reason: "MS_UNAVAILABLE", Hint: "The member state's service is down; retry later."},
			},
			wantCode: codes.Unavailable, wantReason: "MS_UNAVAILABLE", wantRule: "backend:calc:1",
			wantMsg: "backend calc failed: MS_UNAVAILABLE. The member state's service is down; retry later.",
		},
		{
			name:     "backend rules alone",
			body:     fault11("soap:Server", "INVALID_INPUT", ""),
			backend:  []adapters.FaultRule{{FaultCode: "Server", FaultString: "^INVALID_INPUT$", Status: "INVALID_ARGUMENT", Reason: "INVALID_INPUT"}},
			wantCode: codes.InvalidArgument, wantReason: "INVALID_INPUT", wantRule: "backend:calc:0",
			wantMsg: "backend calc rejected the request: INVALID_INPUT",
		},
		{
			name:     "no rule matches: the table",
			body:     fault11("soap:Server", "disk full", ""),
			method:   []*agentbridgev1.FaultRule{viesRule()},
			backend:  []adapters.FaultRule{{FaultCode: "Client", Status: "FAILED_PRECONDITION", Reason: "LOCKED"}},
			wantCode: codes.Internal, wantReason: "SOAP_SERVER_FAULT",
			wantMsg: "backend calc failed: disk full",
		},
	}
	for _, tt := range tests {
		for _, httpStatus := range []int{http.StatusInternalServerError, http.StatusOK} {
			t.Run(tt.name+"/HTTP "+http.StatusText(httpStatus), func(t *testing.T) {
				t.Parallel()
				h := canned(httpStatus, "text/xml; charset=utf-8", tt.body)
				srv, a := newCannedBackend(t, h, func(b *adapters.Backend) { b.Faults = tt.backend })
				u, err := a.Bind(addMethod, withFaults(addMethod, tt.method...))
				if err != nil {
					t.Fatal(err)
				}
				_, err = u(context.Background(), requestFor(addMethod))
				st, ei := statusOf(t, err)
				if st.Code() != tt.wantCode || ei.GetReason() != tt.wantReason || ei.GetDomain() != "calc" {
					t.Errorf("got %v %s/%s, want %v %s/calc", st.Code(), ei.GetReason(), ei.GetDomain(), tt.wantCode, tt.wantReason)
				}
				if st.Message() != tt.wantMsg {
					t.Errorf("message\n got %q\nwant %q", st.Message(), tt.wantMsg)
				}
				md := ei.GetMetadata()
				if md["fault_rule"] != tt.wantRule {
					t.Errorf("fault_rule = %q, want %q", md["fault_rule"], tt.wantRule)
				}
				// Without rules the same fault gives the same metadata, less fault_rule: a
				// rule changes what the agent is told to do, not what it learns.
				_, plain := newCannedBackend(t, h, nil)
				_, perr := bindMethod(t, plain, addMethod)(context.Background(), requestFor(addMethod))
				pst, pei := statusOf(t, perr)
				want := maps.Clone(pei.GetMetadata())
				if tt.wantRule != "" {
					want["fault_rule"] = tt.wantRule
				} else if pst.Code() != st.Code() || pst.Message() != st.Message() || pei.GetReason() != ei.GetReason() {
					t.Errorf("with rules that do not match: %v %q %s; without rules: %v %q %s",
						st.Code(), st.Message(), ei.GetReason(), pst.Code(), pst.Message(), pei.GetReason())
				}
				if !maps.Equal(md, want) {
					t.Errorf("metadata\n got %q\nwant %q", md, want)
				}
				for _, k := range []string{"fault_code", "fault_string", "http_status"} {
					if md[k] == "" {
						t.Errorf("metadata %s is missing: %q", k, md)
					}
				}
				assertAgentSafe(t, srv, st, ei)
			})
		}
	}
}

// TestCorpusFaultRules maps the corpus's real faults with rules of each kind.
func TestCorpusFaultRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sample     string
		method     protoreflect.MethodDescriptor
		rule       *agentbridgev1.FaultRule
		wantCode   codes.Code
		wantReason string
		wantMsg    string
	}{
		{
			// A detail of bare leaf elements: errorcode 3.
			sample: "s01-soap11-fault-detail", method: addMethod,
			rule: &agentbridgev1.FaultRule{
				FaultDetail: &agentbridgev1.FaultDetailMatch{Element: "errorcode", Value: proto.String("3")},
				Status:      agentbridgev1.StatusCode_STATUS_CODE_FAILED_PRECONDITION, Reason: "ERROR_CODE_3",
			},
			wantCode: codes.FailedPrecondition, wantReason: "ERROR_CODE_3",
			wantMsg: "backend calc rejected the request: This is a fault string (errorcode: 3; errorstring: This is a fault detail error string)",
		},
		{
			// SOAP 1.2: Receiver, with the reason text.
			sample: "s02-soap12-fault", method: sayHiMethod,
			rule: &agentbridgev1.FaultRule{
				FaultCode: "Receiver", FaultString: `(?i)^simulated`,
				Status: agentbridgev1.StatusCode_STATUS_CODE_UNAVAILABLE, Reason: "SIMULATED_FAILURE", Hint: "Retry later.",
			},
			wantCode: codes.Unavailable, wantReason: "SIMULATED_FAILURE",
			wantMsg: "backend calc failed: Simulated failure. Retry later.",
		},
		{
			// NetSuite: Server.userException with a typed, namespaced detail. The bridge's own
			// credentials were refused: nothing the agent can change.
			sample: "s06-netsuite-fault-typed-detail", method: addMethod,
			rule: &agentbridgev1.FaultRule{
				FaultCode:   "Server.userException",
				FaultDetail: &agentbridgev1.FaultDetailMatch{Element: "invalidCredentialsFault", Path: "code", Value: proto.String("INVALID_LOGIN_CREDENTIALS")},
				Status:      agentbridgev1.StatusCode_STATUS_CODE_FAILED_PRECONDITION, Reason: "BACKEND_CREDENTIALS_REJECTED",
				Message: "the bridge's credentials for the backend were refused; an operator must update them",
			},
			wantCode: codes.FailedPrecondition, wantReason: "BACKEND_CREDENTIALS_REJECTED",
			wantMsg: "the bridge's credentials for the backend were refused; an operator must update them: You have entered an invalid email address or password. Please try again.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			t.Parallel()
			srv, a := newCannedBackend(t, canned(http.StatusInternalServerError, "text/xml; charset=utf-8", corpusMessage(t, tt.sample)), nil)
			u, err := a.Bind(tt.method, withFaults(tt.method, tt.rule))
			if err != nil {
				t.Fatal(err)
			}
			_, err = u(context.Background(), requestFor(tt.method))
			st, ei := statusOf(t, err)
			if st.Code() != tt.wantCode || ei.GetReason() != tt.wantReason || ei.GetMetadata()["fault_rule"] != "method:0" {
				t.Errorf("got %v %s %q, want %v %s method:0", st.Code(), ei.GetReason(), ei.GetMetadata()["fault_rule"], tt.wantCode, tt.wantReason)
			}
			if st.Message() != tt.wantMsg {
				t.Errorf("message\n got %q\nwant %q", st.Message(), tt.wantMsg)
			}
			if ei.GetMetadata()["fault_string"] == "" || ei.GetMetadata()["fault_code"] == "" {
				t.Errorf("metadata lost the fault: %q", ei.GetMetadata())
			}
			assertAgentSafe(t, srv, st, ei)
		})
	}
}

// TestFaultRulesKeepRedaction sends a fault that echoes the endpoint and its credential: the
// mapped status hides them in its message (a rule's own words included) and metadata, and
// rules see the redacted text only, so the secret cannot steer a rule either.
func TestFaultRulesKeepRedaction(t *testing.T) {
	t.Parallel()
	var endpoint string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(fault11("soap:Server", "INVALID_INPUT at "+endpoint, "<where>"+endpoint+"</where>")))
	})
	srv, a := newCannedBackend(t, h, func(b *adapters.Backend) {
		endpoint = b.Endpoint
		b.Faults = []adapters.FaultRule{{
			FaultString: `^INVALID_INPUT at \[endpoint\]$`, Status: "INVALID_ARGUMENT", Reason: "INVALID_INPUT",
			Message: "the call to " + b.Endpoint + " was refused", Hint: "Do not retry " + b.Endpoint + ".",
		}}
	})
	// A rule written against the raw text never matches.
	raw := &agentbridgev1.FaultRule{
		FaultDetail: &agentbridgev1.FaultDetailMatch{Element: "where", Value: proto.String(endpoint)},
		Status:      agentbridgev1.StatusCode_STATUS_CODE_INVALID_ARGUMENT, Reason: "MATCHED_THE_SECRET",
	}
	u, err := a.Bind(addMethod, withFaults(addMethod, raw))
	if err != nil {
		t.Fatal(err)
	}
	_, err = u(context.Background(), requestFor(addMethod))
	st, ei := statusOf(t, err)
	if ei.GetReason() != "INVALID_INPUT" || ei.GetMetadata()["fault_rule"] != "backend:calc:0" {
		t.Errorf("got %s %q; want the backend rule, matched on the redacted fault string", ei.GetReason(), ei.GetMetadata()["fault_rule"])
	}
	want := "the call to [endpoint] was refused: INVALID_INPUT at [endpoint] (where: [endpoint]). Do not retry [endpoint]."
	if st.Message() != want {
		t.Errorf("message\n got %q\nwant %q", st.Message(), want)
	}
	assertAgentSafe(t, srv, st, ei)
}

// TestFaultRulesOnStreams checks a streaming method maps a fault before its first item as the
// unary method does.
func TestFaultRulesOnStreams(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	_, a := newCannedBackend(t, canned(http.StatusInternalServerError, "text/xml", fault11("soap:Server", "INVALID_INPUT", "")), nil)
	req := c.request(t, `{}`)
	u, err := a.Bind(c.getProducts, withFaults(c.getProducts, viesRule()))
	if err != nil {
		t.Fatal(err)
	}
	_, uerr := u(t.Context(), req)
	s, err := a.BindStream(c.listProducts, withFaults(c.listProducts, viesRule()))
	if err != nil {
		t.Fatal(err)
	}
	got, serr := collect(t.Context(), s, req)
	if len(got) != 0 {
		t.Errorf("the stream sent %d messages", len(got))
	}
	ust, uei := statusOf(t, uerr)
	sst, sei := statusOf(t, serr)
	if sst.Code() != codes.InvalidArgument || sei.GetReason() != "INVALID_INPUT" || sei.GetMetadata()["fault_rule"] != "method:0" {
		t.Errorf("stream: %v %s %q", sst.Code(), sei.GetReason(), sei.GetMetadata())
	}
	if sst.Code() != ust.Code() || sst.Message() != ust.Message() || !maps.Equal(sei.GetMetadata(), uei.GetMetadata()) {
		t.Errorf("stream %v %q %q\nunary %v %q %q", sst.Code(), sst.Message(), sei.GetMetadata(), ust.Code(), ust.Message(), uei.GetMetadata())
	}
}

// TestFaultRulesRefusedAtBind checks that a rule that cannot work fails the binding or the
// backend at start, saying which rule and why, for unary and streaming methods alike.
func TestFaultRulesRefusedAtBind(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	tests := []struct {
		name    string
		method  []*agentbridgev1.FaultRule
		backend []adapters.FaultRule
		want    string
	}{
		{"method: bad pattern", []*agentbridgev1.FaultRule{methodRule("", "INVALID_(", agentbridgev1.StatusCode_STATUS_CODE_INVALID_ARGUMENT, "INVALID_INPUT")}, nil,
			`faults[0]: fault_string "INVALID_(" is not an RE2 regular expression: error parsing regexp: missing closing ): ` + "`INVALID_(`"},
		{"method: no status", []*agentbridgev1.FaultRule{viesRule(), methodRule("Server", "", 0, "INVALID_INPUT")}, nil, "faults[1]: status is required"},
		{"method: prefixed code", []*agentbridgev1.FaultRule{methodRule("soap:Server", "", agentbridgev1.StatusCode_STATUS_CODE_INTERNAL, "X_FAULT")}, nil,
			`faults[0]: fault_code "soap:Server": give the local part only (Server); prefixes are the sender's choice`},
		{"backend: bad status", nil, []adapters.FaultRule{{FaultCode: "Server", Status: "BAD_INPUT", Reason: "INVALID_INPUT"}},
			`backend "calc": faults[0]: status "BAD_INPUT" is not a status code name`},
		{"backend: nothing to match", nil, []adapters.FaultRule{{Status: "INTERNAL", Reason: "ANY_FAULT"}},
			`backend "calc": faults[0]: the rule matches on nothing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := adapters.Backend{Name: "calc", Kind: soap.Kind, Endpoint: "http://127.0.0.1:1/", Faults: tt.backend}
			a := soap.New(b, nil)
			_, uerr := a.Bind(addMethod, withFaults(addMethod, tt.method...))
			_, serr := a.BindStream(c.listProducts, withFaults(c.listProducts, tt.method...))
			for what, err := range map[string]error{"Bind": uerr, "BindStream": serr} {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: got %v, want an error containing %q", what, err, tt.want)
				}
			}
			if tt.backend != nil {
				if _, err := adapters.New(b); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("adapters.New: got %v, want an error containing %q", err, tt.want)
				}
			}
		})
	}
}
