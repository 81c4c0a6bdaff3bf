package adapters

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// MessageType returns the type to make messages of md with: the generated Go type when md is
// the descriptor linked into the binary, else a dynamic type (dynamicpb) built from md. A
// contract loaded at run time gets dynamic messages; a service compiled into the binary keeps
// its generated types, through the same call path.
func MessageType(md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && mt.Descriptor() == md {
		return mt
	}
	return dynamicpb.NewMessageType(md)
}
