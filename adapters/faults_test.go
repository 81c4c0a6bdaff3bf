package adapters

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

func rule(edit func(*agentbridgev1.FaultRule)) *agentbridgev1.FaultRule {
	r := &agentbridgev1.FaultRule{Status: agentbridgev1.StatusCode_STATUS_CODE_INVALID_ARGUMENT, Reason: "INVALID_INPUT"}
	edit(r)
	return r
}

// TestFaultRulesMatch pins what each match field means, alone and together.
func TestFaultRulesMatch(t *testing.T) {
	t.Parallel()
	detail := []DetailElement{
		{Path: []string{"invalidCredentialsFault"}},
		{Path: []string{"invalidCredentialsFault", "code"}, Text: "INVALID_LOGIN_CREDENTIALS"},
		{Path: []string{"hostname"}, Text: "partners-java10009"},
		{Path: []string{"flag"}, Text: ""},
	}
	vies := FaultView{Code: "soap:Server", String: "INVALID_INPUT"}
	tests := []struct {
		name  string
		rule  func(*agentbridgev1.FaultRule)
		fault FaultView
		want  bool
	}{
		{"code local part", func(r *agentbridgev1.FaultRule) { r.FaultCode = "Server" }, vies, true},
		{"code without prefix in the fault", func(r *agentbridgev1.FaultRule) { r.FaultCode = "Server" }, FaultView{Code: "Server"}, true},
		{"code other", func(r *agentbridgev1.FaultRule) { r.FaultCode = "Client" }, vies, false},
		{"code is case-sensitive", func(r *agentbridgev1.FaultRule) { r.FaultCode = "server" }, vies, false},
		{"code matches its dotted refinement", func(r *agentbridgev1.FaultRule) { r.FaultCode = "Server" }, FaultView{Code: "soapenv:Server.userException"}, true},
		{"refinement matches only itself", func(r *agentbridgev1.FaultRule) { r.FaultCode = "Server.userException" }, vies, false},
		{"refinement matches itself", func(r *agentbridgev1.FaultRule) { r.FaultCode = "Server.userException" }, FaultView{Code: "soapenv:Server.userException"}, true},
		{"code is not a prefix match", func(r *agentbridgev1.FaultRule) { r.FaultCode = "Serv" }, vies, false},
		{"subcode", func(r *agentbridgev1.FaultRule) { r.FaultSubcode = "BadArguments" }, FaultView{Code: "env:Sender", Subcode: "rpc:BadArguments"}, true},
		{"subcode absent (SOAP 1.1)", func(r *agentbridgev1.FaultRule) { r.FaultSubcode = "BadArguments" }, vies, false},
		{"string unanchored", func(r *agentbridgev1.FaultRule) { r.FaultString = "INVALID" }, vies, true},
		{"string anchored", func(r *agentbridgev1.FaultRule) { r.FaultString = "^INVALID$" }, vies, false},
		{"string anchored whole", func(r *agentbridgev1.FaultRule) { r.FaultString = "^INVALID_INPUT$" }, vies, true},
		{"string RE2 flags", func(r *agentbridgev1.FaultRule) { r.FaultString = "(?i)invalid_input" }, vies, true},
		{"detail element at the top", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "hostname"}
		}, FaultView{Detail: detail}, true},
		{"detail element at any depth", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "code"}
		}, FaultView{Detail: detail}, true},
		{"detail element absent", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "errorcode"}
		}, FaultView{Detail: detail}, false},
		{"detail path and value", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "invalidCredentialsFault", Path: "code", Value: proto.String("INVALID_LOGIN_CREDENTIALS")}
		}, FaultView{Detail: detail}, true},
		{"detail value is trimmed in the rule", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "code", Value: proto.String(" INVALID_LOGIN_CREDENTIALS\n")}
		}, FaultView{Detail: detail}, true},
		{"detail value differs", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "invalidCredentialsFault", Path: "code", Value: proto.String("EXPIRED")}
		}, FaultView{Detail: detail}, false},
		{"detail path below another element", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "hostname", Path: "code"}
		}, FaultView{Detail: detail}, false},
		{"detail empty value is a value", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "flag", Value: proto.String("")}
		}, FaultView{Detail: detail}, true},
		{"detail empty value is not any value", func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "hostname", Value: proto.String("")}
		}, FaultView{Detail: detail}, false},
		{"all fields must match", func(r *agentbridgev1.FaultRule) {
			r.FaultCode, r.FaultString = "Server", "^INVALID_INPUT$"
		}, vies, true},
		{"one field off fails the rule", func(r *agentbridgev1.FaultRule) {
			r.FaultCode, r.FaultString = "Client", "^INVALID_INPUT$"
		}, vies, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, err := CompileFaultRules("method", []*agentbridgev1.FaultRule{rule(tt.rule)})
			if err != nil {
				t.Fatal(err)
			}
			m, ok := rs.Match(&tt.fault)
			if ok != tt.want {
				t.Fatalf("Match = %v, want %v", ok, tt.want)
			}
			if ok && (m.Rule != "method:0" || m.Code != codes.InvalidArgument || m.Reason != "INVALID_INPUT") {
				t.Errorf("mapping %+v", m)
			}
		})
	}
}

func TestFaultRulesFirstMatchWins(t *testing.T) {
	t.Parallel()
	rs, err := CompileFaultRules("backend:vat", []*agentbridgev1.FaultRule{
		rule(func(r *agentbridgev1.FaultRule) { r.FaultCode = "Client" }),
		rule(func(r *agentbridgev1.FaultRule) {
			r.FaultString, r.Status, r.Reason = "UNAVAILABLE", agentbridgev1.StatusCode_STATUS_CODE_UNAVAILABLE, "MS_UNAVAILABLE"
		}),
		rule(func(r *agentbridgev1.FaultRule) { r.FaultCode = "Server" }),
	})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := rs.Match(&FaultView{Code: "soap:Server", String: "MS_UNAVAILABLE"})
	if !ok || m.Rule != "backend:vat:1" || m.Code != codes.Unavailable || m.Reason != "MS_UNAVAILABLE" {
		t.Errorf("got %+v %v; want rule backend:vat:1", m, ok)
	}
	if _, ok := (FaultRules{}).Match(&FaultView{Code: "soap:Server"}); ok {
		t.Error("the zero FaultRules matched")
	}
}

// TestFaultRulesRefused checks that every mistake is caught when rules are compiled, each
// named by its index.
func TestFaultRulesRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rule *agentbridgev1.FaultRule
		want string
	}{
		{"no match field", rule(func(*agentbridgev1.FaultRule) {}), "faults[0]: the rule matches on nothing"},
		{"bad regexp", rule(func(r *agentbridgev1.FaultRule) { r.FaultString = "INVALID_(" }), "faults[0]: fault_string \"INVALID_(\" is not an RE2 regular expression: error parsing regexp: missing closing )"},
		{"Perl-only regexp", rule(func(r *agentbridgev1.FaultRule) { r.FaultString = `(?=x)` }), "is not an RE2 regular expression"},
		{"prefixed code", rule(func(r *agentbridgev1.FaultRule) { r.FaultCode = "soap:Server" }), `fault_code "soap:Server": give the local part only (Server)`},
		{"prefixed subcode", rule(func(r *agentbridgev1.FaultRule) { r.FaultSubcode = "rpc:BadArguments" }), `fault_subcode "rpc:BadArguments": give the local part only (BadArguments)`},
		{"code with space", rule(func(r *agentbridgev1.FaultRule) { r.FaultCode = "Server " }), "no white space"},
		{"detail without element", rule(func(r *agentbridgev1.FaultRule) { r.FaultDetail = &agentbridgev1.FaultDetailMatch{Path: "code"} }), "fault_detail needs element"},
		{"detail path with empty step", rule(func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "a", Path: "b//c"}
		}), `fault_detail "a/b//c": element and path take local names`},
		{"detail prefixed", rule(func(r *agentbridgev1.FaultRule) { r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "ns1:a"} }), "take local names, without prefixes"},
		{"no status", rule(func(r *agentbridgev1.FaultRule) { r.FaultCode, r.Status = "Server", 0 }), "faults[0]: status is required"},
		{"unknown status number", rule(func(r *agentbridgev1.FaultRule) { r.FaultCode, r.Status = "Server", 42 }), "status 42 is not a status code"},
		{"no reason", rule(func(r *agentbridgev1.FaultRule) { r.FaultCode, r.Reason = "Server", "" }), "reason is required"},
		{"lower-case reason", rule(func(r *agentbridgev1.FaultRule) { r.FaultCode, r.Reason = "Server", "invalid_input" }), `reason "invalid_input" must be UPPER_SNAKE_CASE`},
		{"reason too long", rule(func(r *agentbridgev1.FaultRule) { r.FaultCode, r.Reason = "Server", strings.Repeat("A", 64) }), "at most 63 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok := rule(func(r *agentbridgev1.FaultRule) { r.FaultCode = "Client" })
			_, err := CompileFaultRules("method", []*agentbridgev1.FaultRule{tt.rule, ok})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "faults[1]") {
				t.Errorf("the valid rule faults[1] was reported: %v", err)
			}
		})
	}
	t.Run("every broken rule is reported", func(t *testing.T) {
		t.Parallel()
		_, err := CompileFaultRules("method", []*agentbridgev1.FaultRule{
			rule(func(r *agentbridgev1.FaultRule) { r.FaultString = "(" }),
			rule(func(r *agentbridgev1.FaultRule) { r.FaultCode, r.Reason = "Server", "" }),
		})
		if err == nil || !strings.Contains(err.Error(), "faults[0]: fault_string") || !strings.Contains(err.Error(), "faults[1]: reason is required") {
			t.Errorf("got %v", err)
		}
	})
}

// TestBackendFaultRules checks the config's form: status by name, and errors that name the
// backend and the rule.
func TestBackendFaultRules(t *testing.T) {
	t.Parallel()
	empty := ""
	tests := []struct {
		name    string
		rules   []FaultRule
		wantErr string
		want    codes.Code
	}{
		{"google.rpc.Code name", []FaultRule{{FaultCode: "Server", Status: "INVALID_ARGUMENT", Reason: "INVALID_INPUT"}}, "", codes.InvalidArgument},
		{"the proto's enum name", []FaultRule{{FaultCode: "Server", Status: "STATUS_CODE_NOT_FOUND", Reason: "NO_SUCH_VAT"}}, "", codes.NotFound},
		{"CANCELLED as google.rpc.Code spells it", []FaultRule{{FaultCode: "Server", Status: "CANCELLED", Reason: "STOPPED"}}, "", codes.Canceled},
		{"detail with an empty value", []FaultRule{{FaultDetail: &FaultDetailMatch{Element: "flag", Value: &empty}, Status: "INTERNAL", Reason: "FLAGGED"}}, "", codes.Internal},
		{"unknown status", []FaultRule{{FaultCode: "Server", Status: "InvalidArgument", Reason: "RR"}},
			`backend "vat": faults[0]: status "InvalidArgument" is not a status code name (one of CANCELLED, UNKNOWN, INVALID_ARGUMENT,`, 0},
		{"OK is no fault's status", []FaultRule{{FaultCode: "Server", Status: "OK", Reason: "FINE"}}, `backend "vat": faults[0]: status "OK" is not a status code name`, 0},
		{"missing status", []FaultRule{{FaultCode: "Server", Reason: "RR"}}, `backend "vat": faults[0]: status is required`, 0},
		{"bad regexp, second rule", []FaultRule{{FaultCode: "Server", Status: "INTERNAL", Reason: "RR"}, {FaultString: "[", Status: "INTERNAL", Reason: "RR"}},
			`backend "vat": faults[1]: fault_string "[" is not an RE2 regular expression`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, err := Backend{Name: "vat", Faults: tt.rules}.FaultRules()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, ok := rs.Match(&FaultView{Code: "soap:Server", Detail: []DetailElement{{Path: []string{"flag"}}}})
			if !ok || m.Code != tt.want || m.Rule != "backend:vat:0" {
				t.Errorf("got %+v %v; want %v from backend:vat:0", m, ok, tt.want)
			}
		})
	}
}

// TestOutcomeOverride checks that a rule's code replaces the table's and keeps the ErrorInfo.
func TestOutcomeOverride(t *testing.T) {
	t.Parallel()
	o := Outcome{Reason: "INVALID_INPUT", Backend: "vat", Message: "backend vat rejected the request: INVALID_INPUT",
		Metadata: map[string]string{"fault_rule": "method:0"}, Override: codes.InvalidArgument}
	st, ei := errorInfo(t, o.Err())
	if st.Code() != codes.InvalidArgument || ei.GetReason() != "INVALID_INPUT" || ei.GetDomain() != "vat" || ei.GetMetadata()["fault_rule"] != "method:0" {
		t.Errorf("got %v %q %v", st.Code(), st.Message(), ei)
	}
	o.Override = codes.OK
	if got := status.Code(o.Err()); got != codes.Unknown {
		t.Errorf("without an override, a reason not in the table gives %v, want Unknown", got)
	}
}

func TestBackendFaultRulesReportsEachMistakeOnce(t *testing.T) {
	t.Parallel()
	_, err := Backend{Name: "vat", Faults: []FaultRule{{FaultString: "(", Status: "NOPE", Reason: "RR"}}}.FaultRules()
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `backend "vat": faults[0]: status "NOPE"`) || !strings.HasPrefix(lines[1], `backend "vat": faults[0]: fault_string "("`) {
		t.Errorf("got %q; want the status and the pattern, each on a line naming the backend", lines)
	}
}
