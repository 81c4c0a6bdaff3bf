package xmlcodec_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// noteDescriptor builds acme.Note{string text = 1} afresh, as each load of a contract at run
// time does.
func noteDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: new("note.proto"), Package: new("acme"), Syntax: new("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: new("Note"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: new("text"), JsonName: new("text"), Number: new(int32(1)),
				Type:  descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().Get(0)
}

// TestPlansFollowDescriptorsNotNames loads one message name twice (a validate and a serve, or a
// reload): each descriptor gets its own plan, and encoding a message of the second never uses
// the first's field descriptors.
func TestPlansFollowDescriptorsNotNames(t *testing.T) {
	t.Parallel()
	first, second := noteDescriptor(t), noteDescriptor(t)
	p1, err := xmlcodec.For(first)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := xmlcodec.For(second)
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 || p2.Descriptor() != second {
		t.Fatal("two descriptors of one name share a plan")
	}
	msg := dynamicpb.NewMessage(second)
	msg.Set(second.Fields().ByName("text"), protoreflect.ValueOfString("hi"))
	out, err := p2.AppendElement(nil, xmlcodec.Name{Local: "note"}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "<note><text>hi</text></note>" {
		t.Fatalf("encoded %s", out)
	}
}
