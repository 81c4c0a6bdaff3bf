package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// validateInterceptor enforces the request's (google.api.field_behavior) = REQUIRED fields and
// buf.validate rules (see behaviorValidator) before any adapter runs. A violation is
// InvalidArgument with google.rpc.BadRequest naming each field and rule.
func validateInterceptor(v protovalidate.Validator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		msg, ok := req.(proto.Message)
		if !ok {
			return handler(ctx, req)
		}
		if err := v.Validate(msg); err != nil {
			return nil, validationStatus(err)
		}
		return handler(ctx, req)
	}
}

func validationStatus(err error) error {
	var ve *protovalidate.ValidationError
	if !errors.As(err, &ve) {
		// A rule that cannot be compiled or evaluated is the proto author's bug, not the caller's.
		return status.Error(codes.Internal, "request validation rules could not be evaluated")
	}
	br := &errdetails.BadRequest{}
	parts := make([]string, 0, len(ve.Violations))
	for _, viol := range ve.Violations {
		field := protovalidate.FieldPathString(viol.Proto.GetField())
		rule := viol.Proto.GetRuleId()
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       field,
			Description: viol.Proto.GetMessage(),
			Reason:      rule,
		})
		if field == "" {
			field = "request"
		}
		parts = append(parts, fmt.Sprintf("%s: %s [%s]", field, viol.Proto.GetMessage(), rule))
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+strings.Join(parts, "; "))
	if ds, derr := st.WithDetails(br); derr == nil {
		st = ds
	}
	return st.Err()
}
