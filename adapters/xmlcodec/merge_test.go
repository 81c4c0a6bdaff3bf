package xmlcodec_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters/internal/dynmsg"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

// TestMessageElementGivenTwiceMerges checks that a message field's element given twice merges
// into the message the first one set, as protobuf merges a message field sent twice, into
// generated and run-time messages alike.
func TestMessageElementGivenTwiceMerges(t *testing.T) {
	t.Parallel()
	const reply = `<r><child><i32>1</i32><text>a</text></child><child><text>b</text></child></r>`
	want := &testingv1.Everything{Child: &testingv1.Everything{I32: proto.Int32(1), Text: proto.String("b")}}
	got := &testingv1.Everything{}
	if err := decodeWith([]byte(reply), got, xmlcodec.DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("generated: got %v, want %v", got, want)
	}
	dyn := dynmsg.NewMessageType(got.ProtoReflect().Descriptor()).New().Interface()
	if err := decodeWith([]byte(reply), dyn, xmlcodec.DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(dyn, want) {
		t.Errorf("run-time: got %v, want %v", dyn, want)
	}
}
