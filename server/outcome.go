package server

import (
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
)

// outcomeUnknownHint is what a caller of a state-changing method hears when its call failed
// after the backend may have received it. "Try again later" would invite a duplicate side
// effect: a second reservation, a second payment.
const outcomeUnknownHint = "The backend may have carried out this call before it failed: check its state (for example with a read-only tool) before calling again, or a repeat may apply it twice."

// safeToRepeat reports whether a method's idempotency_level says a repeat does no harm.
func safeToRepeat(md protoreflect.MethodDescriptor) bool {
	if md.Options() == nil {
		return false
	}
	switch idempotencyOf(md) {
	case "NO_SIDE_EFFECTS", "IDEMPOTENT":
		return true
	}
	return false
}

// withUnknownOutcome rewrites the failure of a state-changing method that may have reached the
// backend (adapters.MetaRequestSent "unknown"): the same code, but a message and an ErrorInfo
// outcome that say the call may have been carried out, instead of inviting a retry. Written
// once here, so it holds for every backend kind and every surface.
func withUnknownOutcome(md protoreflect.MethodDescriptor, err error) error {
	if err == nil || safeToRepeat(md) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	p := st.Proto()
	changed := false
	for i, d := range p.GetDetails() {
		var info errdetails.ErrorInfo
		if d.UnmarshalTo(&info) != nil || info.GetMetadata()[adapters.MetaRequestSent] != "unknown" {
			continue
		}
		info.Metadata[adapters.MetaOutcome] = "unknown"
		if err := d.MarshalFrom(&info); err != nil {
			return err
		}
		p.Details[i] = d
		changed = true
	}
	if !changed {
		return err
	}
	p.Message = strings.TrimSuffix(p.GetMessage(), "; try again later") + "; the call may have been carried out, so check the backend's state before repeating it"
	return status.FromProto(p).Err()
}

// outcomeUnknown reports whether a status says its call may have been carried out.
func outcomeUnknown(st *status.Status) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetMetadata()[adapters.MetaOutcome] == "unknown" {
			return true
		}
	}
	return false
}

// detailTypes resolves message and extension types by name for JSON: from the served files
// first (a contract loaded at run time has no Go types, so its messages resolve as dynamic
// ones), then from the types linked into the binary (google.rpc.ErrorInfo and the like). A
// status detail made from a contract's message (a typed backend fault, FaultRule.detail_type)
// is written by its fields on every JSON surface only through such a resolver.
type detailTypes struct {
	served *dynamicpb.Types
}

var _ interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
} = detailTypes{}

func newDetailTypes(files *protoregistry.Files) detailTypes {
	return detailTypes{served: dynamicpb.NewTypes(files)}
}

// FindMessageByName implements protoregistry.MessageTypeResolver.
func (t detailTypes) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if t.served != nil {
		if mt, err := t.served.FindMessageByName(name); err == nil {
			return mt, nil
		}
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

// FindMessageByURL implements protoregistry.MessageTypeResolver.
func (t detailTypes) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if t.served != nil {
		if mt, err := t.served.FindMessageByURL(url); err == nil {
			return mt, nil
		}
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

// FindExtensionByName implements protoregistry.ExtensionTypeResolver.
func (t detailTypes) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if t.served != nil {
		if xt, err := t.served.FindExtensionByName(field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByName(field)
}

// FindExtensionByNumber implements protoregistry.ExtensionTypeResolver.
func (t detailTypes) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if t.served != nil {
		if xt, err := t.served.FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

// writableStatus returns st as errJSON can write it as JSON. A detail whose type the resolver
// does not know (a Go implementation's detail of a type that is neither linked nor served)
// cannot be written by its fields; without this, grpc-gateway would answer HTTP 500 "failed to
// marshal error message" in place of the status, and MCP would drop the status JSON. Such
// details are left out of the JSON, and the message says which types were.
func writableStatus(st *status.Status, errJSON *runtime.JSONPb) *status.Status {
	if len(st.Proto().GetDetails()) == 0 {
		return st
	}
	if _, err := errJSON.Marshal(st.Proto()); err == nil {
		return st
	}
	p := st.Proto()
	kept := p.Details[:0:0]
	var left []string
	for _, d := range p.GetDetails() {
		if _, err := errJSON.Marshal(d); err != nil {
			left = append(left, strings.TrimPrefix(d.GetTypeUrl(), "type.googleapis.com/"))
			continue
		}
		kept = append(kept, d)
	}
	p.Details = kept
	p.Message += " (status details of types the bridge cannot write as JSON are left out: " + strings.Join(left, ", ") + ")"
	return status.FromProto(p)
}
