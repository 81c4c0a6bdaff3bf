package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// startupResources × 4 methods is the contract BenchmarkStartup loads: 500 methods.
const startupResources = 125

// writeStartupContract writes a 500-method contract as an integrator (or the WSDL importer)
// would: one .proto with REST routes, SOAP bindings and buf.validate rules on every method, and
// a config serving it. It returns the config's path.
func writeStartupContract(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`syntax = "proto3";

package acme.backoffice.v1;

import "agentbridge/v1/options.proto";
import "buf/validate/validate.proto";
import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";

// The back office, as a large WSDL would give it.
service BackOffice {
`)
	verbs := []struct{ name, http, body string }{
		{"Get", `get: "/v1/%ss/{id}"`, ""},
		{"List", `get: "/v1/%ss"`, ""},
		{"Create", `post: "/v1/%ss"`, `body: "*"`},
		{"Update", `patch: "/v1/%ss/{id}"`, `body: "*"`},
	}
	for i := range startupResources {
		r := fmt.Sprintf("Resource%03d", i)
		for _, v := range verbs {
			fmt.Fprintf(&b, `  // %[1]s a %[2]s.
  rpc %[1]s%[2]s(%[1]s%[2]sRequest) returns (%[2]s) {
    option (google.api.http) = {%[3]s %[4]s};
    option (agentbridge.v1.binding) = {
      backend: "erp"
      soap: {action: "urn:acme:%[1]s%[2]s" request: {name: "%[1]s%[2]s" namespace: "urn:acme"} response: {name: "%[1]s%[2]sResponse" namespace: "urn:acme"}}
    };
  }
`, v.name, r, fmt.Sprintf(v.http, strings.ToLower(r)), v.body)
		}
	}
	b.WriteString("}\n\n// An amount of money.\nmessage Money {\n  // ISO code.\n  string currency = 1;\n  // Minor units.\n  int64 units = 2;\n}\n\n")
	b.WriteString("// What state a record is in.\nenum State {\n  // Not said.\n  STATE_UNSPECIFIED = 0;\n  // Live.\n  STATE_ACTIVE = 1;\n  // Gone.\n  STATE_CLOSED = 2;\n}\n\n")
	for i := range startupResources {
		r := fmt.Sprintf("Resource%03d", i)
		fmt.Fprintf(&b, `// A %[1]s.
message %[1]s {
  // Its id.
  string id = 1 [(buf.validate.field).string.uuid = true];
  // Its name.
  string name = 2 [(buf.validate.field).string = {min_len: 1, max_len: 200}];
  // Its state.
  State state = 3;
  // Its amount.
  Money amount = 4;
  // Its tags.
  repeated string tags = 5;
  // When it changed.
  google.protobuf.Timestamp updated_at = 6;
  // A count.
  int64 count = 7;
}

// Get a %[1]s.
message Get%[1]sRequest {
  // Which one.
  string id = 1 [(buf.validate.field).string.uuid = true];
}

// List %[1]ss.
message List%[1]sRequest {
  // How many.
  int32 page_size = 1 [(buf.validate.field).int32 = {gte: 0, lte: 100}];
  // Where to go on.
  string page_token = 2;
}

// Create a %[1]s.
message Create%[1]sRequest {
  // The new one.
  %[1]s record = 1;
}

// Update a %[1]s.
message Update%[1]sRequest {
  // Which one.
  string id = 1 [(buf.validate.field).string.uuid = true];
  // The changes.
  %[1]s record = 2;
}

`, r)
	}
	dir := tb.TempDir()
	protoPath := filepath.Join(dir, "proto", "acme", "backoffice", "v1", "backoffice.proto")
	if err := os.MkdirAll(filepath.Dir(protoPath), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(protoPath, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg := filepath.Join(dir, "agentbridge.yaml")
	if err := os.WriteFile(cfg, []byte(`proto_paths: [proto]
protos: [acme/backoffice/v1/backoffice.proto]
services: [acme.backoffice.v1.BackOffice]
backends:
  erp: {kind: soap, endpoint: "http://127.0.0.1:1/erp"}
`), 0o600); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// BenchmarkStartup loads a 500-method contract from its .proto as serve does:
//
//   - stage=compile: contract.Load alone (protocompile, options read as typed extensions);
//   - stage=bind: the config's services, compiled and every method bound to its SOAP backend;
//   - stage=serve-ready: Config.Build, everything serve builds but the listeners (compile,
//     bind, gRPC/Connect/REST routes, the OpenAPI document, every MCP tool schema).
//
// live-MB is the heap the built result keeps after a GC, beside the allocation rate.
func BenchmarkStartup(b *testing.B) {
	path := writeStartupContract(b)
	cfg, err := server.LoadConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	stages := []struct {
		name  string
		build func() (any, error)
	}{
		{"compile", func() (any, error) { return contract.Load(context.Background(), cfg.Sources()) }},
		{"bind", func() (any, error) { return cfg.BuildServices() }},
		{"serve-ready", func() (any, error) { return cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler))) }},
	}
	for _, st := range stages {
		b.Run("methods=500/stage="+st.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.build(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			kept, err := st.build()
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(kept)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "live-MB")
		})
	}
}

// inventoryServers builds the demo's InventoryService twice, with one Go implementation: once
// from the code generated into the binary (types=generated) and once from
// proto/agentbridge/demo/v1/inventory.proto compiled at run time (types=dynamic, dynamicpb
// messages). GetItem returns the same complete item in both.
func inventoryServers(tb testing.TB) map[string]*server.Server {
	tb.Helper()
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{"../proto"}, Protos: []string{"agentbridge/demo/v1/inventory.proto"}})
	if err != nil {
		tb.Fatal(err)
	}
	dynamic, err := set.Service("agentbridge.demo.v1.InventoryService")
	if err != nil {
		tb.Fatal(err)
	}
	generated := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	out := map[string]*server.Server{}
	for name, sd := range map[string]protoreflect.ServiceDescriptor{"generated": generated, "dynamic": dynamic} {
		resp := adapters.MessageType(sd.Methods().ByName("GetItem").Output()).New().Interface()
		data, _ := protojson.Marshal(benchGetItemResponse())
		if err := protojson.Unmarshal(data, resp); err != nil {
			tb.Fatal(err)
		}
		impl := func(context.Context, proto.Message) (proto.Message, error) { return resp, nil }
		svc := server.Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{"GetItem": impl, "ListItems": impl, "ReserveItem": impl}}
		srv, err := server.New([]server.Service{svc}, server.WithLogger(slog.New(slog.DiscardHandler)), server.WithShutdownGrace(time.Second))
		if err != nil {
			tb.Fatal(err)
		}
		out[name] = srv
	}
	return out
}

// soapInventoryServers is the demo as configured (a SOAP binding in front of demo.NewLegacy),
// with the contract linked (types=generated) or compiled at run time (types=dynamic).
func soapInventoryServers(tb testing.TB) map[string]*server.Server {
	tb.Helper()
	legacy := httptest.NewServer(demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) }))
	tb.Cleanup(legacy.Close)
	out := map[string]*server.Server{}
	for name, text := range map[string]string{
		"generated": "services: [agentbridge.demo.v1.InventoryService]\n",
		"dynamic":   "proto_paths: [" + mustAbs(tb, "../proto") + "]\nprotos: [agentbridge/demo/v1/inventory.proto]\nservices: [agentbridge.demo.v1.InventoryService]\n",
	} {
		path := filepath.Join(tb.TempDir(), "agentbridge.yaml")
		text += "backends:\n  inventory: {kind: soap, endpoint: " + legacy.URL + "/inventory}\n"
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
		cfg, err := server.LoadConfig(path)
		if err != nil {
			tb.Fatal(err)
		}
		srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)), server.WithShutdownGrace(time.Second))
		if err != nil {
			tb.Fatal(err)
		}
		out[name] = srv
	}
	return out
}

func mustAbs(tb testing.TB, path string) string {
	tb.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		tb.Fatal(err)
	}
	return abs
}

// BenchmarkContractTypes prices dynamic messages against generated ones: one GetItem for
// A-100 per op over loopback, on REST (GET /v1/items/A-100, body read to the end) and on the
// gRPC listener (a grpc-go client, protobuf), with impl=go (the bridge alone) and impl=soap (the
// demo's SOAP binding and legacy system behind it, so xmlcodec works on dynamic messages too).
// Compare types=dynamic with types=generated of the same row.
func BenchmarkContractTypes(b *testing.B) {
	for _, impl := range []struct {
		name  string
		build func(testing.TB) map[string]*server.Server
	}{{"go", inventoryServers}, {"soap", soapInventoryServers}} {
		servers := impl.build(b)
		for _, types := range []string{"generated", "dynamic"} {
			srv := servers[types]
			httpURL, grpcAddr := benchServeBoth(b, srv)
			b.Run("impl="+impl.name+"/surface=rest/types="+types, func(b *testing.B) {
				client := benchHTTPClient(b)
				b.ReportAllocs()
				defer reportCPU(b)()
				for b.Loop() {
					resp, err := client.Get(httpURL + "/v1/items/A-100")
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("A-100")) {
						b.Fatalf("%d %s", resp.StatusCode, body)
					}
				}
			})
			b.Run("impl="+impl.name+"/surface=grpc/types="+types, func(b *testing.B) {
				cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					b.Fatal(err)
				}
				defer cc.Close()
				client := demov1.NewInventoryServiceClient(cc)
				b.ReportAllocs()
				defer reportCPU(b)()
				for b.Loop() {
					resp, err := client.GetItem(context.Background(), &demov1.GetItemRequest{Sku: "A-100"})
					if err != nil || resp.GetItem().GetSku() != "A-100" {
						b.Fatal(resp, err)
					}
				}
			})
		}
	}
}

// reportCPU reports the process's CPU time (user and system, all threads: the client, the
// bridge and, for impl=soap, the backend) per op, which a busy shared machine disturbs less than
// wall time. Call the returned function when the loop is done.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// benchServeBoth serves srv on loopback HTTP and gRPC listeners until the benchmark ends.
func benchServeBoth(tb testing.TB, srv *server.Server) (httpURL, grpcAddr string) {
	tb.Helper()
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, grpcLis, httpLis) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return "http://" + httpLis.Addr().String(), grpcLis.Addr().String()
}
