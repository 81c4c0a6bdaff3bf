package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/agentbridge/agentbridge/adapters"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server"
)

// shout is a tiny backend kind: every method bound to it answers with its request's name field
// upper-cased in its response's text field, after a prefix from its own config section. A real
// kind calls its legacy system in the Unary, through adapters.NewTransport.
type shout struct{ settings shoutSettings }

// shoutSettings is the kind's own config section (backends.NAME.shout), decoded strictly.
type shoutSettings struct {
	Prefix string `yaml:"prefix"`
}

var (
	_ adapters.Adapter = (*shout)(nil)
	_ io.Closer        = (*shout)(nil)
)

// Close releases what the adapter holds (a real kind closes its transport); the server calls it
// when it stops, and after a reload once new calls no longer reach this adapter.
func (s *shout) Close() error {
	fmt.Println("shout adapter closed")
	return nil
}

func (s *shout) Bind(md protoreflect.MethodDescriptor, _ *agentbridgev1.Binding) (adapters.Unary, error) {
	in, out := md.Input().Fields().ByName("name"), md.Output().Fields().ByName("text")
	if in == nil || out == nil {
		return nil, errors.New("shout binds methods from a name field to a text field")
	}
	mt := adapters.MessageType(md.Output()) // dynamic for contracts loaded at run time
	return func(_ context.Context, req proto.Message) (proto.Message, error) {
		resp := mt.New()
		resp.Set(out, protoreflect.ValueOfString(s.settings.Prefix+strings.ToUpper(req.ProtoReflect().Get(in).String())))
		return resp.Interface(), nil
	}, nil
}

// A backend kind registered in Go is used from a config like the built-in ones: the proto's
// binding names the backend, the config gives the backend its kind.
func ExampleRegister() {
	adapters.Register("shout", func(b adapters.Backend) (adapters.Adapter, error) {
		a := &shout{}
		if err := b.DecodeSettings(&a.settings); err != nil {
			return nil, err // "backend "loud": shout: line 7: unknown setting ..."
		}
		if a.settings.Prefix == "" {
			return nil, fmt.Errorf("backend %q: shout.prefix is required", b.Name)
		}
		return a, nil
	})

	dir, _ := os.MkdirTemp("", "agentbridge-example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "greeter.proto"), []byte(`syntax = "proto3";
package acme.hello.v1;
import "agentbridge/v1/options.proto";
// Says hello.
service Greeter {
  // Greet someone, loudly.
  rpc Greet(GreetRequest) returns (GreetResponse) {
    option (agentbridge.v1.binding) = {backend: "loud"};
  }
}
// Who to greet.
message GreetRequest {
  // Their name.
  string name = 1;
}
// The greeting.
message GreetResponse {
  // What to say.
  string text = 1;
}
`), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "agentbridge.yaml"), []byte(`protos: [greeter.proto]
services: [acme.hello.v1.Greeter]
backends:
  loud:
    kind: shout
    endpoint: "local:"
    shout:
      prefix: "HELLO "
`), 0o600)

	cfg, err := server.LoadConfig(filepath.Join(dir, "agentbridge.yaml"))
	if err != nil {
		panic(err)
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer srv.Close() // closes the adapter
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	resp, err := http.Post(hs.URL+"/acme.hello.v1.Greeter/Greet", "application/json", strings.NewReader(`{"name":"ada"}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 200 {"text":"HELLO ADA"}
	// shout adapter closed
}

// A Guard wraps a method's implementation: after the configured failures its breaker opens, and
// calls fail fast with Unavailable, naming the backend and when to retry, without reaching the
// backend.
func ExampleGuard() {
	g := adapters.NewGuard(adapters.Backend{
		Name:    "erp",
		Retry:   adapters.RetryPolicy{MaxAttempts: 1},
		Breaker: adapters.BreakerPolicy{Failures: 2, OpenFor: time.Minute},
	}, adapters.WithGuardLogger(slog.New(slog.DiscardHandler)))
	defer g.Close()
	calls := 0
	getItem := g.Unary(nil, func(context.Context, proto.Message) (proto.Message, error) {
		calls++
		return nil, adapters.Errorf("erp", adapters.ReasonBackendBadReply, nil, "backend erp answered HTTP 503")
	})
	for range 3 {
		_, err := getItem(context.Background(), &emptypb.Empty{})
		st := status.Convert(err)
		fmt.Println(st.Code(), strings.Contains(st.Message(), "circuit breaker"))
	}
	fmt.Println("backend calls:", calls, "breaker:", g.Breaker().State)
	// Output:
	// Unavailable false
	// Unavailable false
	// Unavailable true
	// backend calls: 2 breaker: open
}
