package server

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
)

// backendInvalidArgument is the hint for InvalidArgument that a backend raised (a SOAP Client
// fault): the backend blames the request, but the request it saw is the bridge's mapping of the
// arguments, so the fault may lie in the binding and the agent cannot always fix it.
const backendInvalidArgument = "The backend refused the request. Check the arguments against the message; if they look right, the fault may lie in how the bridge maps them to the backend, and calling again unchanged will not help: report the message to whoever runs the bridge."

// hintFor is the hint for a failure: by its code, except an InvalidArgument the backend raised
// (its ErrorInfo names a backend reason other than one the bridge found in the arguments). A
// fault that a fault rule mapped (metadata fault_rule) is the caller's to fix by the word of
// whoever wrote the rule, so it keeps the plain hint.
func hintFor(st *status.Status) string {
	if st.Code() == codes.InvalidArgument {
		for _, d := range st.Details() {
			info, ok := d.(*errdetails.ErrorInfo)
			if !ok || info.GetReason() == string(adapters.ReasonRequestNotEncodable) {
				continue
			}
			if _, mapped := info.GetMetadata()["fault_rule"]; mapped {
				break
			}
			return backendInvalidArgument
		}
	}
	return hints[st.Code()]
}
