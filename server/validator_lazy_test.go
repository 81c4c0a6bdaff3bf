package server

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server/contract"
)

// TestValidatorOnlyForRules: protovalidate's validator is made the first time a message that
// reaches a buf.validate rule is validated, once, and messages without rules never run it.
func TestValidatorOnlyForRules(t *testing.T) {
	made := 0
	v := newBehaviorValidator(func() (protovalidate.Validator, error) {
		made++
		return protovalidate.New()
	})
	// No rules anywhere, including a message that holds itself and two that hold each other.
	for _, m := range []proto.Message{
		&testingv1.SchemaNode{Name: "a", First: &testingv1.SchemaNode{Name: "b"}},
		&testingv1.SchemaPing{Pong: &testingv1.SchemaPong{Ping: &testingv1.SchemaPing{}}},
		&testingv1.SchemaScalars{Text: "x"},
	} {
		if err := v.Validate(m); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
	}
	if made != 0 {
		t.Fatalf("protovalidate made for messages without rules")
	}
	// SchemaProbe has no rule of its own but holds SchemaRules, which has.
	bad := &testingv1.SchemaProbe{Rules: &testingv1.SchemaRules{Fixed: proto.String("not k")}}
	for range 2 {
		err := v.Validate(bad)
		var ve *protovalidate.ValidationError
		if !errors.As(err, &ve) || len(ve.Violations) != 1 || protovalidate.FieldPathString(ve.Violations[0].Proto.GetField()) != "rules.fixed" {
			t.Fatalf("Validate(%v) = %v, want one violation at rules.fixed", bad, err)
		}
	}
	if made != 1 {
		t.Fatalf("protovalidate made %d times, want once", made)
	}
	if !v.plan(bad.ProtoReflect().Descriptor()).rules || v.plan((&testingv1.SchemaNode{}).ProtoReflect().Descriptor()).rules {
		t.Fatal("plans disagree with the contract's rules")
	}

	// A validator that cannot be made fails the calls that need it, and only those.
	broken := newBehaviorValidator(func() (protovalidate.Validator, error) { return nil, errors.New("no CEL today") })
	if err := broken.Validate(&testingv1.SchemaNode{}); err != nil {
		t.Fatalf("message without rules: %v", err)
	}
	if err := broken.Validate(bad); err == nil || !strings.Contains(err.Error(), "no CEL today") {
		t.Fatalf("message with rules: %v, want the validator's error", err)
	}
}

// TestHasRulesRuntimeContract: a contract compiled at run time whose fields carry agentbridge's
// own options has no rules, and one with buf.validate rules has them, resolved or not.
func TestHasRulesRuntimeContract(t *testing.T) {
	set, err := contract.Load(t.Context(), contract.Sources{
		ProtoPaths: []string{filepath.Join("..", "bench", "e2e", "testdata")},
		Protos:     []string{"acme/orders/v1/orders.proto"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.orders.v1.OrderService")
	if err != nil {
		t.Fatal(err)
	}
	v := newBehaviorValidator(func() (protovalidate.Validator, error) { return nil, errors.New("not wanted") })
	methods := sd.Methods()
	for i := range methods.Len() {
		for _, md := range []protoreflect.MessageDescriptor{methods.Get(i).Input(), methods.Get(i).Output()} {
			if v.plan(md).rules {
				t.Errorf("%s: rules found in a contract without buf.validate", md.FullName())
			}
		}
	}
}
