package xmlcodec_test

import (
	"fmt"
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

// TestDecodedStringsStayPut checks that the strings of a decoded message keep their values
// while later decodes run: the decoder cuts short texts from a chunk it keeps from one decode
// to the next, and must never write over what it gave out.
func TestDecodedStringsStayPut(t *testing.T) {
	t.Parallel()
	first := &testingv1.Everything{}
	if err := decodeWith([]byte(`<r><text>first &amp; only</text><child><text>nested</text></child></r>`), first, xmlcodec.DecodeOptions{}); err != nil {
		t.Fatal(err)
	}
	want := proto.Clone(first)
	for i := range 2000 { // past several chunks
		other := &testingv1.Everything{}
		reply := fmt.Sprintf(`<r><text>other text %d, long enough to fill the chunk sooner</text></r>`, i)
		if err := decodeWith([]byte(reply), other, xmlcodec.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if !proto.Equal(first, want) || first.GetText() != "first & only" || first.GetChild().GetText() != "nested" {
		t.Errorf("the first message changed while others were decoded: %v", first)
	}
}
