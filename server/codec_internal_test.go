package server

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/agentbridge/agentbridge/server/jsonplan"
)

// A type with a required field anywhere in it keeps protobuf's check; proto3 types, which have
// none, are written without it.
func TestMarshalBinaryChecksRequiredFields(t *testing.T) {
	t.Parallel()
	// descriptorpb (proto2) has required fields in UninterpretedOption.NamePart, reachable
	// from FileDescriptorProto through its options.
	if !jsonplan.ReachesRequired((&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor()) {
		t.Error("FileDescriptorProto: no required field found")
	}
	if jsonplan.ReachesRequired((&structpb.Struct{}).ProtoReflect().Descriptor()) {
		t.Error("Struct: a required field found")
	}
	// A required field left unset is still refused.
	part := &descriptorpb.UninterpretedOption_NamePart{NamePart: proto.String("x")}
	if _, err := (*generation)(nil).marshalBinary(part); err == nil {
		t.Error("a message without its required is_extension was written")
	}
	v, _ := structpb.NewValue(map[string]any{"a": 1.0})
	data, err := (*generation)(nil).marshalBinary(v)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := proto.Marshal(v); string(data) != string(want) {
		t.Error("the bytes differ from proto.Marshal's")
	}
}
