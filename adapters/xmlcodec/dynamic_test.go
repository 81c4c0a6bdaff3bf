package xmlcodec_test

import (
	"testing"

	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// TestPlansAreKeyedByDescriptor loads two contracts that declare the same message name with
// different fields, as a reloaded contract does: each descriptor gets a plan of its own, and
// each decodes into dynamic messages of its own type.
func TestPlansAreKeyedByDescriptor(t *testing.T) {
	t.Parallel()
	const header = `syntax = "proto3"; package agentbridge.dyntest.samename;` + "\n"
	older := prototest.Compile(t, "same.proto", header+`message M { string a = 1; }`).Messages().ByName("M")
	newer := prototest.Compile(t, "same.proto", header+`message M { int32 a = 1; string b = 2; }`).Messages().ByName("M")
	po, err := xmlcodec.For(older)
	if err != nil {
		t.Fatal(err)
	}
	pn, err := xmlcodec.For(newer)
	if err != nil {
		t.Fatal(err)
	}
	if po == pn || po.Descriptor() != older || pn.Descriptor() != newer {
		t.Fatal("two descriptors with one full name share a plan")
	}
	mo, mn := dynamicpb.NewMessage(older), dynamicpb.NewMessage(newer)
	if err := decode([]byte(`<r><a>x</a></r>`), mo); err != nil {
		t.Fatal(err)
	}
	if err := decode([]byte(`<r><a>7</a><b>y</b></r>`), mn); err != nil {
		t.Fatal(err)
	}
	if got := mo.Get(older.Fields().ByName("a")).String(); got != "x" {
		t.Errorf("older a = %q, want x", got)
	}
	if got := mn.Get(newer.Fields().ByName("a")).Int(); got != 7 {
		t.Errorf("newer a = %d, want 7", got)
	}
}
