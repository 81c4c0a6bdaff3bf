package server

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
)

// TestHintsNameTheRightParty checks that a tool error's hint blames whoever can act: the
// agent's arguments for a failed validation or a value the backend's format cannot carry, but
// not for a fault the backend raised, which may come from the binding.
func TestHintsNameTheRightParty(t *testing.T) {
	t.Parallel()
	validation, _ := status.New(codes.InvalidArgument, "quantity: must be at most 1000").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "quantity", Description: "must be at most 1000"}},
	})
	for _, tc := range []struct {
		name    string
		st      *status.Status
		want    string
		notWant string
	}{
		{"validation", validation, "Change the arguments", "backend"},
		{"no details", status.New(codes.InvalidArgument, "arguments are not valid JSON"), "Change the arguments", "backend"},
		{"SOAP client fault", status.Convert(adapters.Errorf("inventory", adapters.ReasonSOAPClientFault, nil, "insufficient stock")),
			"the fault may lie in how the bridge maps them to the backend", "Change the arguments"},
		{"not encodable", status.Convert(adapters.Errorf("inventory", adapters.ReasonRequestNotEncodable, nil, "a control character")),
			"Change the arguments", "bridge maps"},
		{"SOAP server fault", status.Convert(adapters.Errorf("inventory", adapters.ReasonSOAPServerFault, nil, "database down")),
			"The backend failed", "arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hint := hintFor(tc.st)
			if !strings.Contains(hint, tc.want) || strings.Contains(hint, tc.notWant) {
				t.Errorf("hint %q: want %q and not %q", hint, tc.want, tc.notWant)
			}
		})
	}
}
