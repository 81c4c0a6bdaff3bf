package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// shopProto is a contract no Go code in this repository was generated from.
const shopProto = `syntax = "proto3";

package acme.shop.v1;

import "buf/validate/validate.proto";
import "google/api/annotations.proto";

// The Acme shop's catalogue.
service ShopService {
  // Look up one product by id.
  rpc GetProduct(GetProductRequest) returns (Product) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (google.api.http) = {get: "/v1/products/{id}"};
  }
  // Stream the products of a kind, one message each.
  rpc WatchProducts(WatchProductsRequest) returns (stream Product) {
    option (google.api.http) = {get: "/v1/products:watch"};
  }
  %s
}

// Which product.
message GetProductRequest {
  // The product id.
  string id = 1 [(buf.validate.field).string.min_len = 1];
}

// Which products.
message WatchProductsRequest {
  // The kind to list.
  Kind kind = 1;
}

// What a product is.
enum Kind {
  // Not said.
  KIND_UNSPECIFIED = 0;
  // A tool.
  KIND_TOOL = 1;
  // A plant.
  KIND_PLANT = 2;
}

// A product of the catalogue.
message Product {
  // Its id.
  string id = 1;
  // Its name.
  string name = 2;
  // Its kind.
  Kind kind = 3;
  // Search tags.
  repeated string tags = 4;
  // Free-form labels.
  map<string, string> labels = 5;
  // Its price.
  Price price = 6;
  // Stock state.
  oneof stock {
    // Units on hand.
    int32 quantity = 7;
    // No longer sold.
    bool discontinued = 8;
  }
  // Which build of the service answered.
  string version = 9;
  // A 64-bit count, as a JSON string.
  int64 sold = 10;
}

// An amount of money.
message Price {
  // ISO 4217 code.
  string currency = 1;
  // In the smallest unit.
  int64 minor_units = 2;
}
`

const pingRPC = `// Answer pong.
  rpc Ping(GetProductRequest) returns (Product) {
    option (google.api.http) = {post: "/v1/ping" body: "*"};
  }`

// loadShop compiles shopProto (with extra RPCs) from a temp dir, as a config's protos are.
func loadShop(t testing.TB, extra string) protoreflect.ServiceDescriptor {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "acme", "shop", "v1", "shop.proto")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fmt.Appendf(nil, shopProto, extra), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{"acme/shop/v1/shop.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.shop.v1.ShopService")
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

const productJSON = `{"id":%q,"name":"Cordless drill","kind":"KIND_TOOL","tags":["power","18V"],"labels":{"brand":"Acme","colour":"red"},"price":{"currency":"EUR","minorUnits":"8999"},"quantity":12,"version":%q,"sold":"9007199254740993"}`

// shopService implements the shop with Go over dynamic messages; version says which build.
func shopService(t testing.TB, sd protoreflect.ServiceDescriptor, version string) server.Service {
	t.Helper()
	product := func(id string) proto.Message {
		out := adapters.MessageType(sd.Methods().ByName("GetProduct").Output()).New().Interface()
		if err := protojson.Unmarshal(fmt.Appendf(nil, productJSON, id, version), out); err != nil {
			t.Error(err)
		}
		return out
	}
	idOf := func(req proto.Message) string {
		m := req.ProtoReflect()
		return m.Get(m.Descriptor().Fields().ByName("id")).String()
	}
	svc := server.Service{
		Desc: sd,
		Methods: map[protoreflect.Name]adapters.Unary{
			"GetProduct": func(_ context.Context, req proto.Message) (proto.Message, error) {
				if !adapters.Dynamic(req) {
					return nil, fmt.Errorf("request is %T, not dynamic", req)
				}
				return product(idOf(req)), nil
			},
		},
		Streams: map[protoreflect.Name]adapters.ServerStream{
			"WatchProducts": func(_ context.Context, _ proto.Message, send func(proto.Message) error) error {
				for _, id := range []string{"P-1", "P-2", "P-3"} {
					if err := send(product(id)); err != nil {
						return err
					}
				}
				return nil
			},
		},
	}
	if sd.Methods().ByName("Ping") != nil {
		svc.Methods["Ping"] = func(_ context.Context, req proto.Message) (proto.Message, error) {
			return product("pong:" + idOf(req)), nil
		}
	}
	return svc
}

// canonical re-encodes JSON so that key order and spacing do not matter.
func canonical(t testing.TB, data []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// dynamicCalls calls GetProduct for id on every surface and returns each answer as canonical
// protojson.
func dynamicCalls(t *testing.T, b *bridge, sd protoreflect.ServiceDescriptor) map[string]func(ctx context.Context, id string) (string, error) {
	t.Helper()
	md := sd.Methods().ByName("GetProduct")
	out := adapters.MessageType(md.Output())
	request := func(id string) *dynamicpb.Message {
		req := dynamicpb.NewMessage(md.Input())
		req.Set(md.Input().Fields().ByName("id"), protoreflect.ValueOfString(id))
		return req
	}
	marshal := func(m proto.Message) string {
		data, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(m)
		if err != nil {
			t.Error(err)
		}
		return canonical(t, data)
	}
	cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	connectClient := func(opts ...connect.ClientOption) func(ctx context.Context, id string) (string, error) {
		opts = append(opts, connect.WithSchema(md), connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
			*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(md.Output())
			return nil
		}))
		client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](h2cClient(), b.httpURL+"/acme.shop.v1.ShopService/GetProduct", opts...)
		return func(ctx context.Context, id string) (string, error) {
			resp, err := client.CallUnary(ctx, connect.NewRequest(request(id)))
			if err != nil {
				return "", err
			}
			return marshal(resp.Msg), nil
		}
	}
	session := mcpSession(t, b.httpURL+"/mcp")
	return map[string]func(ctx context.Context, id string) (string, error){
		"grpc listener": func(ctx context.Context, id string) (string, error) {
			resp := out.New().Interface()
			if err := cc.Invoke(ctx, "/acme.shop.v1.ShopService/GetProduct", request(id), resp); err != nil {
				return "", err
			}
			return marshal(resp), nil
		},
		"rest": func(ctx context.Context, id string) (string, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.httpURL+"/v1/products/"+id, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
			}
			return canonical(t, data), nil
		},
		"connect json":   connectClient(connect.WithProtoJSON()),
		"connect proto":  connectClient(),
		"grpc over http": connectClient(connect.WithGRPC()),
		"grpc-web":       connectClient(connect.WithGRPCWeb()),
		"mcp": func(ctx context.Context, id string) (string, error) {
			res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "ShopService_GetProduct", Arguments: map[string]any{"id": id}})
			if err != nil {
				return "", err
			}
			if res.IsError {
				return "", errors.New(textOf(res))
			}
			data, _ := json.Marshal(res.StructuredContent)
			return canonical(t, data), nil
		},
	}
}

func TestLoadedContractOnEverySurface(t *testing.T) {
	t.Parallel()
	sd := loadShop(t, "")
	srv, err := server.New([]server.Service{shopService(t, sd, "v1")})
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, true, nil, nil)
	want := canonical(t, fmt.Appendf(nil, productJSON, "P-7", "v1"))
	for name, call := range dynamicCalls(t, b, sd) {
		t.Run(name, func(t *testing.T) {
			got, err := call(t.Context(), "P-7")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response differs (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("reflection lists the loaded file", func(t *testing.T) {
		cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		stream, err := reflectionv1.NewServerReflectionClient(cc).ServerReflectionInfo(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		if !slices.Contains(names, "acme.shop.v1.ShopService") {
			t.Fatalf("reflection lists %v", names)
		}
		if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "acme.shop.v1.ShopService"}}); err != nil {
			t.Fatal(err)
		}
		resp, err = stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()); n == 0 {
			t.Fatalf("no file for the loaded service: %v", resp)
		}
	})

	t.Run("validation holds on dynamic messages", func(t *testing.T) {
		_, err := dynamicCalls(t, b, sd)["connect json"](t.Context(), "")
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "id") {
			t.Fatalf("empty id: %v", err)
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		md := sd.Methods().ByName("WatchProducts")
		client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](h2cClient(), b.httpURL+"/acme.shop.v1.ShopService/WatchProducts",
			connect.WithSchema(md), connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
				*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(md.Output())
				return nil
			}))
		stream, err := client.CallServerStream(t.Context(), connect.NewRequest(dynamicpb.NewMessage(md.Input())))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for stream.Receive() {
			m := stream.Msg()
			ids = append(ids, m.Get(md.Output().Fields().ByName("id")).String())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, []string{"P-1", "P-2", "P-3"}) {
			t.Fatalf("streamed %v", ids)
		}
	})
}

// TestReloadUnderLoad swaps the contract and implementation while calls run on every surface:
// no call fails, calls after the swap see the new build, MCP clients hear that the tool list
// changed, and a reload that cannot be built leaves the running one in force.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	v1 := loadShop(t, "")
	srv, err := server.New([]server.Service{shopService(t, v1, "v1")})
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, true, nil, nil)
	calls := dynamicCalls(t, b, v1)

	listChanged := make(chan struct{}, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "reload-test", Version: "v0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case listChanged <- struct{}{}:
			default:
			}
		},
	})
	watcher, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: b.httpURL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var total, failed atomic.Int64
	warm := make(chan struct{})   // closed when the load has run a while on v1
	enough := make(chan struct{}) // closed when it has run as long again after the reload
	var warmOnce, enoughOnce sync.Once
	var stopAt atomic.Int64
	stopAt.Store(1 << 62)
	var mu sync.Mutex
	var failures []string
	sawV2 := map[string]chan struct{}{}
	var wg sync.WaitGroup
	for name, call := range calls {
		seen := make(chan struct{})
		sawV2[name] = seen
		var once sync.Once
		for range 2 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					got, err := call(ctx, fmt.Sprintf("P-%d", i))
					if ctx.Err() != nil {
						return
					}
					n := total.Add(1)
					if n == 300 {
						warmOnce.Do(func() { close(warm) })
					}
					if n >= stopAt.Load() {
						enoughOnce.Do(func() { close(enough) })
					}
					if err != nil {
						failed.Add(1)
						mu.Lock()
						failures = append(failures, name+": "+err.Error())
						mu.Unlock()
						continue
					}
					if strings.Contains(got, `"version":"v2"`) {
						once.Do(func() { close(seen) })
					}
				}
			})
		}
	}

	// A reload that cannot be built is refused and changes nothing.
	broken := shopService(t, loadShop(t, pingRPC), "v2")
	delete(broken.Methods, "Ping")
	if err := srv.Reload([]server.Service{broken}, server.MCPOptions{}); err == nil || !strings.Contains(err.Error(), "Ping has no implementation") {
		t.Fatalf("reload without an implementation: %v", err)
	}

	<-warm
	before := total.Load()
	v2 := loadShop(t, pingRPC)
	if err := srv.Reload([]server.Service{shopService(t, v2, "v2")}, server.MCPOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, seen := range sawV2 {
		select {
		case <-seen:
		case <-t.Context().Done():
			t.Fatalf("%s never saw the reloaded service", name)
		}
	}
	select {
	case <-listChanged:
	case <-t.Context().Done():
		t.Fatal("no notifications/tools/list_changed after the reload")
	}
	stopAt.Store(total.Load() + 300)
	<-enough
	cancel()
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d calls failed across the reload; first: %v", failed.Load(), total.Load(), failures[:min(3, len(failures))])
	}
	t.Logf("%d calls (%d before the reload), none failed", total.Load(), before)

	tools, err := watcher.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if !slices.Contains(names, "ShopService_Ping") {
		t.Fatalf("tools after reload: %v", names)
	}
	// The new method is served on Connect and REST without a restart.
	for _, url := range []string{b.httpURL + "/acme.shop.v1.ShopService/Ping", b.httpURL + "/v1/ping"} {
		resp, err := h2cClient().Post(url, "application/json", strings.NewReader(`{"id":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "pong:x") {
			t.Fatalf("Ping after reload at %s: %d %s", url, resp.StatusCode, body)
		}
	}
}

// TestProtoSourceAsResource: a contract compiled from its .proto at start-up is offered to MCP
// clients as the text its author wrote, not a descriptor dump.
func TestProtoSourceAsResource(t *testing.T) {
	t.Parallel()
	sd := loadShop(t, "")
	srv, err := server.New([]server.Service{shopService(t, sd, "v1")})
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, false, nil, nil)
	res, err := mcpSession(t, b.httpURL+"/mcp").ReadResource(t.Context(), &mcp.ReadResourceParams{URI: server.ProtoResourcePrefix + "acme/shop/v1/shop.proto"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Contents) != 1 || res.Contents[0].MIMEType != "text/x-protobuf" || res.Contents[0].Text != fmt.Sprintf(shopProto, "") {
		t.Fatalf("resource: %+v", res.Contents)
	}
}
