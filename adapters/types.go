package adapters

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/dynmsg"
)

// MessageType returns the type to make messages of md with: the generated Go type when md is
// the descriptor linked into the binary, else a dynamic type built from md (dynmsg: dynamicpb's
// behaviour with the values by field index). A contract loaded at run time gets dynamic
// messages; a service compiled into the binary keeps its generated types, through the same
// call path.
func MessageType(md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && mt.Descriptor() == md {
		return mt
	}
	return dynmsg.NewMessageType(md)
}

// Dynamic reports whether m is a message of a type made at run time from a descriptor (by
// MessageType or dynamicpb), not a generated Go type.
func Dynamic(m proto.Message) bool {
	switch m.(type) {
	case *dynmsg.Message, *dynamicpb.Message:
		return true
	}
	return false
}
