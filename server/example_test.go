package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

const greeterProto = `syntax = "proto3";
package acme.hello.v1;

// Says hello.
service Greeter {
  // Greet someone by name.
  rpc Greet(GreetRequest) returns (GreetResponse);
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
`

// writeGreeter writes the greeter proto to a fresh directory, as an integrator's repository
// would hold it, and returns the directory.
func writeGreeter() (string, func()) {
	dir, err := os.MkdirTemp("", "agentbridge-example")
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, "acme", "hello", "v1", "greeter.proto")
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(greeterProto), 0o600); err != nil {
		panic(err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }
}

// greet implements Greet in Go over the dynamic messages of a contract loaded at run time.
func greet(sd protoreflect.ServiceDescriptor) adapters.Unary {
	md := sd.Methods().ByName("Greet")
	out := adapters.MessageType(md.Output())
	return func(_ context.Context, req proto.Message) (proto.Message, error) {
		name := req.ProtoReflect().Get(md.Input().Fields().ByName("name")).String()
		resp := out.New()
		resp.Set(md.Output().Fields().ByName("text"), protoreflect.ValueOfString("Hello, "+name+"!"))
		return resp.Interface(), nil
	}
}

// connectJSON calls a method with the Connect protocol's JSON form, as curl would.
func connectJSON(url, procedure, body string, header http.Header) string {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url+procedure, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, data)
}

// A proto compiled at run time, a method implemented in Go, served on every surface: here
// the HTTP handler, which carries Connect, gRPC-Web, gRPC, REST and MCP.
func ExampleNew() {
	dir, cleanup := writeGreeter()
	defer cleanup()
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{"acme/hello/v1/greeter.proto"}})
	if err != nil {
		panic(err)
	}
	sd, err := set.Service("acme.hello.v1.Greeter")
	if err != nil {
		panic(err)
	}
	srv, err := server.New([]server.Service{{
		Desc:    sd,
		Methods: map[protoreflect.Name]adapters.Unary{"Greet": greet(sd)},
	}}, server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	fmt.Println(connectJSON(hs.URL, "/acme.hello.v1.Greeter/Greet", `{"name":"Ada"}`, nil))
	// Output: 200 {"text":"Hello, Ada!"}
}

// An interceptor runs on every surface, ahead of validation and the method: here it refuses
// calls without an API key, whether they come over gRPC, Connect, REST or MCP.
func ExampleWithInterceptors() {
	dir, cleanup := writeGreeter()
	defer cleanup()
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{"acme/hello/v1/greeter.proto"}})
	if err != nil {
		panic(err)
	}
	sd, _ := set.Service("acme.hello.v1.Greeter")
	requireKey := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if keys := md.Get("x-api-key"); len(keys) == 0 || keys[0] != "s3cret" {
			return nil, status.Errorf(codes.Unauthenticated, "%s needs an x-api-key header (seen on %s)", info.FullMethod, server.SurfaceFromContext(ctx))
		}
		return next(ctx, req)
	}
	srv, err := server.New([]server.Service{{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{"Greet": greet(sd)}}},
		server.WithInterceptors(requireKey), server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	fmt.Println(connectJSON(hs.URL, "/acme.hello.v1.Greeter/Greet", `{"name":"Ada"}`, nil))
	fmt.Println(connectJSON(hs.URL, "/acme.hello.v1.Greeter/Greet", `{"name":"Ada"}`, http.Header{"X-Api-Key": {"s3cret"}}))
	// Output:
	// 401 {"code":"unauthenticated","message":"/acme.hello.v1.Greeter/Greet needs an x-api-key header (seen on connect)"}
	// 200 {"text":"Hello, Ada!"}
}
