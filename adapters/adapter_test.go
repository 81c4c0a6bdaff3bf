package adapters_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// unaryOnly is an adapter without the StreamBinder ability. A method named Broken fails to bind.
type unaryOnly struct{}

func (unaryOnly) Bind(md protoreflect.MethodDescriptor, _ *agentbridgev1.Binding) (adapters.Unary, error) {
	if md.Name() == "Broken" {
		return nil, errors.New("no such operation")
	}
	return func(context.Context, proto.Message) (proto.Message, error) { return nil, nil }, nil
}

// streaming can bind both kinds of method; its streams send nothing and return errStreamed, so
// a test can tell its implementations from others.
type streaming struct{ unaryOnly }

var errStreamed = errors.New("streamed")

func (streaming) BindStream(md protoreflect.MethodDescriptor, _ *agentbridgev1.Binding) (adapters.ServerStream, error) {
	if md.Name() == "BrokenStream" {
		return nil, errors.New("no stream item element")
	}
	return func(context.Context, proto.Message, func(proto.Message) error) error { return errStreamed }, nil
}

var (
	_ adapters.Adapter      = streaming{}
	_ adapters.StreamBinder = streaming{}
)

const bindProto = `syntax = "proto3";
package agentbridge.dyntest.bind;
import "agentbridge/v1/options.proto";
message Req {}
message Resp {}
service Good {
  rpc Get(Req) returns (Resp) { option (agentbridge.v1.binding) = {backend: "plain"}; }
  rpc GetToo(Req) returns (Resp) { option (agentbridge.v1.binding) = {backend: "streamy"}; }
  rpc Watch(Req) returns (stream Resp) { option (agentbridge.v1.binding) = {backend: "streamy"}; }
}
service Bad {
  rpc Get(Req) returns (Resp) { option (agentbridge.v1.binding) = {backend: "plain"}; }
  rpc Watch(Req) returns (stream Resp) { option (agentbridge.v1.binding) = {backend: "streamy"}; }
  rpc WatchPlain(Req) returns (stream Resp) { option (agentbridge.v1.binding) = {backend: "plain"}; }
  rpc Unbound(Req) returns (Resp);
  rpc Elsewhere(Req) returns (Resp) { option (agentbridge.v1.binding) = {backend: "nowhere"}; }
  rpc Upload(stream Req) returns (Resp) { option (agentbridge.v1.binding) = {backend: "streamy"}; }
  rpc Broken(Req) returns (Resp) { option (agentbridge.v1.binding) = {backend: "plain"}; }
  rpc BrokenStream(Req) returns (stream Resp) { option (agentbridge.v1.binding) = {backend: "streamy"}; }
}
`

func TestBindService(t *testing.T) {
	t.Parallel()
	file := prototest.Compile(t, "bind.proto", bindProto)
	backends := map[string]adapters.Adapter{"plain": unaryOnly{}, "streamy": streaming{}}

	t.Run("unary and streaming methods", func(t *testing.T) {
		t.Parallel()
		unary, streams, err := adapters.BindService(file.Services().ByName("Good"), backends)
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedNames(unary); !slices.Equal(got, []string{"Get", "GetToo"}) {
			t.Errorf("unary methods %v, want Get and GetToo", got)
		}
		if got := sortedNames(streams); !slices.Equal(got, []string{"Watch"}) {
			t.Fatalf("streaming methods %v, want Watch", got)
		}
		if err := streams["Watch"](t.Context(), nil, nil); !errors.Is(err, errStreamed) {
			t.Errorf("Watch is not the adapter's stream: %v", err)
		}
	})

	t.Run("every failure is reported, naming its method", func(t *testing.T) {
		t.Parallel()
		unary, streams, err := adapters.BindService(file.Services().ByName("Bad"), backends)
		if err == nil {
			t.Fatal("bound a service with unbindable methods")
		}
		if !errors.Is(err, adapters.ErrCannotStream) || !errors.Is(err, adapters.ErrUnbound) {
			t.Errorf("%v does not wrap ErrCannotStream and ErrUnbound", err)
		}
		lines := strings.Split(err.Error(), "\n")
		wants := []string{
			`agentbridge.dyntest.bind.Bad.WatchPlain: backend "plain": the backend's kind cannot carry out server-streaming methods`,
			`agentbridge.dyntest.bind.Bad.Unbound: method has no agentbridge.v1.binding option`,
			`agentbridge.dyntest.bind.Bad.Elsewhere: backend "nowhere" is not in the config`,
			`agentbridge.dyntest.bind.Bad.Upload: streams requests`,
			`agentbridge.dyntest.bind.Bad.Broken: no such operation`,
			`agentbridge.dyntest.bind.Bad.BrokenStream: no stream item element`,
		}
		if len(lines) != len(wants) {
			t.Errorf("%d errors, want %d:\n%v", len(lines), len(wants), err)
		}
		for _, want := range wants {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
				t.Errorf("no error starting %q in:\n%v", want, err)
			}
		}
		// What could be bound is still returned, so config validation can list every problem.
		if got := sortedNames(unary); !slices.Equal(got, []string{"Get"}) {
			t.Errorf("unary methods %v, want Get", got)
		}
		if got := sortedNames(streams); !slices.Equal(got, []string{"Watch"}) {
			t.Errorf("streaming methods %v, want Watch", got)
		}
	})
}

func sortedNames[V any](m map[protoreflect.Name]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	slices.Sort(out)
	return out
}
