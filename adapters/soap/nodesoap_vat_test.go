package soap_test

// A real peer for fault rules: the node-soap server's VIES-style VAT check (testdata/vat.wsdl)
// faults as the EU's VIES does, soap:Server with faultstring INVALID_INPUT for the caller's
// mistakes. The bridge serves it from a YAML config, over gRPC, REST and MCP.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server"
)

const nodeVatService = "agentbridge.testing.v1.VatService"

// nodeVatConfig is the config an operator would write: the backend's own rules, the first for
// a fault the proto does not map, the second shadowed by the method's rule in vat.proto.
const nodeVatConfig = `services: [agentbridge.testing.v1.VatService]
backends:
  vat:
    kind: soap
    endpoint: %q
    faults:
      - fault_code: Server
        fault_string: ^MS_UNAVAILABLE$
        status: UNAVAILABLE
        reason: MS_UNAVAILABLE
        hint: The member state's service is down; retry later.
      - fault_string: INVALID_INPUT
        status: FAILED_PRECONDITION
        reason: SHADOWED_BY_THE_METHOD_RULE
`

// nodeVatView is a failed call as a surface showed it; text is the MCP result's text.
type nodeVatView struct {
	nodeErrorView
	text string
}

func TestNodeSOAPVatFaultRules(t *testing.T) {
	p := nodeSOAP(t)
	cfg, err := server.ParseConfig(fmt.Appendf(nil, nodeVatConfig, p.Vat))
	if err != nil {
		t.Fatal(err)
	}
	rules := serveNodeBridge(t, cfg, nil)
	// Without rules: no backend rules, and the method bound without the proto's.
	bare := &server.Config{Services: []string{nodeVatService}, Backends: map[string]adapters.Backend{"vat": {Kind: soap.Kind, Endpoint: p.Vat}}}
	plain := serveNodeBridge(t, bare, func(services []server.Service) {
		md := services[0].Desc.Methods().ByName("CheckVat")
		b := proto.CloneOf(adapters.BindingOf(md))
		b.Faults = nil
		u, err := soap.New(adapters.Backend{Name: "vat", Kind: soap.Kind, Endpoint: p.Vat}, nil).Bind(md, b)
		if err != nil {
			t.Fatal(err)
		}
		services[0].Methods[md.Name()] = u
	})

	// The numbers are unique to this test, so the peer's record shows these calls only.
	const (
		badNumber  = "DE 5551212"
		downNumber = "555121299"
		goodNumber = "555121200"
	)
	invalidInput := nodeWantError{
		code: codes.InvalidArgument, reasons: []string{"INVALID_INPUT"}, domain: "vat",
		message:  "backend vat rejected the request: INVALID_INPUT. Send the two-letter country code (DE) and the number without spaces or the country prefix.",
		metadata: map[string]string{"fault_code": "soap:Server", "fault_string": "INVALID_INPUT", "http_status": "500", "fault_rule": "method:0"},
	}
	msUnavailable := nodeWantError{
		code: codes.Unavailable, reasons: []string{"MS_UNAVAILABLE"}, domain: "vat",
		message:  "backend vat failed: MS_UNAVAILABLE. The member state's service is down; retry later.",
		metadata: map[string]string{"fault_code": "soap:Server", "fault_string": "MS_UNAVAILABLE", "http_status": "500", "fault_rule": "backend:vat:0"},
	}
	asToday := nodeWantError{
		code: codes.Internal, reasons: []string{"SOAP_SERVER_FAULT"}, domain: "vat",
		message:  "backend vat failed: INVALID_INPUT",
		metadata: map[string]string{"fault_code": "soap:Server", "fault_string": "INVALID_INPUT", "http_status": "500"},
	}
	tests := []struct {
		name            string
		bridge          *nodeBridge
		country, number string
		want            nodeWantError
		mcpHint         string // the MCP surface's hint for the code
	}{
		{"rules/invalid input", rules, "DE", badNumber, invalidInput, "Change the arguments as the message says and call again."},
		{"rules/member state down", rules, "EL", downNumber, msUnavailable, "retrying later may succeed"},
		{"no rules/invalid input", plain, "DE", badNumber, asToday, "retrying the same call is not known to help"},
	}

	start := len(p.received(t))
	var sent nodeExpectations
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			for _, surface := range []string{"grpc", "rest", "mcp"} {
				t.Run(tt.name+"/"+surface, func(t *testing.T) {
					t.Parallel()
					sent.add(nodeCall{Service: "vat", Operation: "checkVat", Args: map[string]any{"countryCode": tt.country, "vatNumber": tt.number}})
					v := tt.bridge.callVat(t, surface, tt.country, tt.number)
					tt.want.check(t, v.nodeErrorView)
					if md := v.info.GetMetadata(); tt.want.metadata["fault_rule"] == "" && md["fault_rule"] != "" {
						t.Errorf("fault_rule %q without a rule", md["fault_rule"])
					}
					if v.message != tt.want.message {
						t.Errorf("message\n got %q\nwant %q", v.message, tt.want.message)
					}
					if surface == "mcp" {
						if want := tt.want.code.String() + ": " + tt.want.message + "\n"; !strings.HasPrefix(v.text, want) || !strings.Contains(v.text, tt.mcpHint) {
							t.Errorf("MCP text %q; want it to start %q and hint %q", v.text, want, tt.mcpHint)
						}
					}
					checkNodeNoLeak(t, v.nodeErrorView)
					if testing.Verbose() && surface == "mcp" {
						t.Logf("MCP text: %s", v.text)
					}
				})
			}
		}
		t.Run("rules/valid number", func(t *testing.T) {
			t.Parallel()
			sent.add(nodeCall{Service: "vat", Operation: "checkVat", Args: map[string]any{"countryCode": "DE", "vatNumber": goodNumber}})
			r, err := rules.vat.CheckVat(nodeCallContext(t), &testingv1.CheckVatRequest{CountryCode: "DE", VatNumber: goodNumber})
			if err != nil {
				t.Fatal(err)
			}
			want := &testingv1.CheckVatResponse{CountryCode: "DE", VatNumber: goodNumber, Valid: true, Name: "Firma " + goodNumber}
			if !proto.Equal(r, want) {
				t.Errorf("got %v, want %v", r, want)
			}
		})
	})
	checkNodeReceivedSince(t, p, start, &sent)
}

// callVat calls CheckVat on one surface, which must fail, and returns what it showed.
func (b *nodeBridge) callVat(t *testing.T, surface, country, number string) nodeVatView {
	t.Helper()
	switch surface {
	case "grpc":
		_, err := b.vat.CheckVat(nodeCallContext(t), &testingv1.CheckVatRequest{CountryCode: country, VatNumber: number})
		return nodeVatView{nodeErrorView: nodeGRPCError(t, err)}
	case "rest":
		code, body := b.post(t, "/v1/vat:check", fmt.Sprintf(`{"countryCode": %q, "vatNumber": %q}`, country, number))
		return nodeVatView{nodeErrorView: nodeRESTError(t, code, body)}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-soap-test", Version: "v0"}, nil)
	session, err := client.Connect(nodeCallContext(t), &mcp.StreamableClientTransport{Endpoint: b.rest + "/mcp"}, nil)
	if err != nil {
		t.Fatalf("MCP connect: %v", err)
	}
	t.Cleanup(func() { _ = session.Close() })
	res, err := session.CallTool(nodeCallContext(t), &mcp.CallToolParams{Name: "VatService_CheckVat", Arguments: map[string]any{"countryCode": country, "vatNumber": number}})
	if err != nil {
		t.Fatalf("MCP tools/call: %v", err)
	}
	if !res.IsError || len(res.Content) != 1 {
		t.Fatalf("MCP result is not one error: %+v", res)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("MCP content %T", res.Content[0])
	}
	return nodeVatView{nodeErrorView: nodeMCPError(t, tc.Text), text: tc.Text}
}

// nodeMCPError reads the status an MCP tool error carries after "status: ".
func nodeMCPError(t *testing.T, text string) nodeErrorView {
	t.Helper()
	_, js, ok := strings.Cut(text, "\nstatus: ")
	if !ok {
		t.Fatalf("MCP error without a status: %q", text)
	}
	var st struct {
		Code    codes.Code `json:"code"`
		Message string     `json:"message"`
		Details []struct {
			Type     string            `json:"@type"`
			Reason   string            `json:"reason"`
			Domain   string            `json:"domain"`
			Metadata map[string]string `json:"metadata"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("MCP status %s: %v", js, err)
	}
	v := nodeErrorView{code: st.Code, message: st.Message}
	for _, d := range st.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
			v.info = &errdetails.ErrorInfo{Reason: d.Reason, Domain: d.Domain, Metadata: d.Metadata}
		}
	}
	return v
}
