package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// ordersProto marks request fields of every kind (google.api.field_behavior) = REQUIRED; it is
// compiled at run time, importing field_behavior.proto as a built-in.
const ordersProto = `syntax = "proto3";

package acme.orders.v1;

import "google/api/annotations.proto";
import "google/api/field_behavior.proto";

// Orders.
service OrderService {
  // Place an order.
  rpc PlaceOrder(PlaceOrderRequest) returns (PlaceOrderResponse) {
    option (google.api.http) = {post: "/v1/orders" body: "*"};
  }
}

// An order to place.
message PlaceOrderRequest {
  // Who orders; "" counts as not set.
  string customer = 1 [(google.api.field_behavior) = REQUIRED];
  // How many; 0 counts as not set.
  int32 quantity = 2 [(google.api.field_behavior) = REQUIRED];
  // Whether to wrap it; false is set when sent.
  optional bool gift = 3 [(google.api.field_behavior) = REQUIRED];
  // Where to ship it.
  Address ship_to = 4 [(google.api.field_behavior) = REQUIRED];
  // What to ship.
  repeated Line lines = 5 [(google.api.field_behavior) = REQUIRED];
  // Labels for the warehouse.
  map<string, string> labels = 6 [(google.api.field_behavior) = REQUIRED];
  // Where to send the bill; optional, but its own REQUIRED fields count when it is sent.
  Address bill_to = 7;
  // How urgent.
  Priority priority = 8 [(google.api.field_behavior) = REQUIRED];
  // Notes by line.
  map<string, Line> notes = 9;
  // Set by the server; not required of the caller.
  string order_id = 10 [(google.api.field_behavior) = OUTPUT_ONLY];
  // A gift list, as a tree.
  Node tree = 11;
}

// A message that contains itself.
message Node {
  // The name.
  string name = 1 [(google.api.field_behavior) = REQUIRED];
  // Below it.
  repeated Node children = 2;
}

// A postal address.
message Address {
  // The city.
  string city = 1 [(google.api.field_behavior) = REQUIRED];
  // The street.
  string street = 2;
}

// One line of an order.
message Line {
  // What.
  string sku = 1 [(google.api.field_behavior) = REQUIRED];
  // How many.
  int32 count = 2;
}

// How urgent an order is.
enum Priority {
  // Not said.
  PRIORITY_UNSPECIFIED = 0;
  // Ship today.
  PRIORITY_HIGH = 1;
}

// The placed order.
message PlaceOrderResponse {
  // Its id.
  string order_id = 1;
}
`

// loadOrders compiles ordersProto from a temp dir, as a config's protos are.
func loadOrders(t *testing.T) protoreflect.ServiceDescriptor {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "acme", "orders", "v1", "orders.proto")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(ordersProto), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := contract.Load(t.Context(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{"acme/orders/v1/orders.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.orders.v1.OrderService")
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// placeOrderCall sends a PlaceOrder request, given as protojson, on one surface and returns nil
// or the failure as a status.
type placeOrderCall func(ctx context.Context, request string) *status.Status

func orderSurfaces(t *testing.T, b *bridge, sd protoreflect.ServiceDescriptor) map[string]placeOrderCall {
	t.Helper()
	md := sd.Methods().ByName("PlaceOrder")
	request := func(js string) *dynamicpb.Message {
		req := dynamicpb.NewMessage(md.Input())
		if err := protojson.Unmarshal([]byte(js), req); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return req
	}
	cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	connectCall := func(opts ...connect.ClientOption) placeOrderCall {
		opts = append(opts, connect.WithSchema(md), connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
			*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(md.Output())
			return nil
		}))
		client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](h2cClient(), b.httpURL+"/acme.orders.v1.OrderService/PlaceOrder", opts...)
		return func(ctx context.Context, js string) *status.Status {
			if _, err := client.CallUnary(ctx, connect.NewRequest(request(js))); err != nil {
				return connectStatus(t, err)
			}
			return nil
		}
	}
	session := mcpSession(t, b.httpURL+"/mcp")
	return map[string]placeOrderCall{
		"gRPC": func(ctx context.Context, js string) *status.Status {
			err := cc.Invoke(ctx, "/acme.orders.v1.OrderService/PlaceOrder", request(js), dynamicpb.NewMessage(md.Output()))
			st, _ := status.FromError(err)
			if err == nil {
				return nil
			}
			return st
		},
		"Connect JSON":  connectCall(connect.WithProtoJSON()),
		"Connect proto": connectCall(),
		"gRPC-Web":      connectCall(connect.WithGRPCWeb()),
		"REST": func(ctx context.Context, js string) *status.Status {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.httpURL+"/v1/orders", strings.NewReader(js))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			return restStatus(t, body)
		},
		"MCP": func(ctx context.Context, js string) *status.Status {
			var args map[string]any
			if err := json.Unmarshal([]byte(js), &args); err != nil {
				t.Fatal(err)
			}
			res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "OrderService_PlaceOrder", Arguments: args})
			if err != nil {
				t.Fatal(err)
			}
			if !res.IsError {
				return nil
			}
			return mcpStatus(t, textOf(res))
		},
	}
}

// mcpStatus reads the status an isError tool result carries on its "status: " line.
func mcpStatus(t *testing.T, text string) *status.Status {
	t.Helper()
	_, js, ok := strings.Cut(text, "\nstatus: ")
	if !ok {
		t.Fatalf("the isError result carries no status: %s", text)
	}
	var sp spb.Status
	if err := protojson.Unmarshal([]byte(js), &sp); err != nil {
		t.Fatalf("status %s: %v", js, err)
	}
	return status.FromProto(&sp)
}

// TestFieldBehaviorRequiredOnEverySurface sends requests that leave REQUIRED fields of each
// kind unset, or set them, on gRPC, Connect, gRPC-Web, REST and MCP: every surface gives the
// same outcome, the same message and the same google.rpc.BadRequest, and no refused request
// reaches the implementation.
func TestFieldBehaviorRequiredOnEverySurface(t *testing.T) {
	t.Parallel()
	sd := loadOrders(t)
	var calls atomic.Int64
	svc := server.Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{
		"PlaceOrder": func(context.Context, proto.Message) (proto.Message, error) {
			calls.Add(1)
			out := adapters.MessageType(sd.Methods().ByName("PlaceOrder").Output()).New()
			out.Set(out.Descriptor().Fields().ByName("order_id"), protoreflect.ValueOfString("O-1"))
			return out.Interface(), nil
		},
	}}
	srv, err := server.New([]server.Service{svc})
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, true, nil, nil)
	surfaces := orderSurfaces(t, b, sd)

	// order writes a valid request, with edits: "name=JSON" sets a property, "-name" drops it.
	order := func(edits ...string) string {
		keys := []string{"customer", "quantity", "gift", "shipTo", "lines", "labels", "priority"}
		values := map[string]string{"customer": `"c-1"`, "quantity": "2", "gift": "false", "shipTo": `{"city":"Oslo"}`,
			"lines": `[{"sku":"A-1"}]`, "labels": `{"dock":"3"}`, "priority": `"PRIORITY_HIGH"`}
		for _, e := range edits {
			if name, ok := strings.CutPrefix(e, "-"); ok {
				keys = slices.DeleteFunc(keys, func(k string) bool { return k == name })
				continue
			}
			name, value, _ := strings.Cut(e, "=")
			if _, had := values[name]; !had {
				keys = append(keys, name)
			}
			values[name] = value
		}
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q:%s", k, values[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	tests := []struct {
		name    string
		request string
		missing []string // the fields BadRequest names, in order; none: the call succeeds
	}{
		{"everything set (gift false, present)", order(), nil},
		{"nothing set", `{}`, []string{"customer", "quantity", "gift", "ship_to", "lines", "labels", "priority"}},
		{"scalars at their zero value", order(`customer=""`, "quantity=0", `priority="PRIORITY_UNSPECIFIED"`), []string{"customer", "quantity", "priority"}},
		{"optional scalar absent", order("-gift"), []string{"gift"}},
		{"message present without its field", order(`shipTo={"street":"Main"}`), []string{"ship_to.city"}},
		{"empty list", order("lines=[]"), []string{"lines"}},
		{"list element without its field", order(`lines=[{"sku":"A-1"},{"count":3}]`), []string{"lines[1].sku"}},
		{"empty map", order("labels={}"), []string{"labels"}},
		{"optional parent absent", order("notes={}"), nil},
		{"optional parent present without its field", order("billTo={}"), []string{"bill_to.city"}},
		{"map value without its field", order(`notes={"n1":{"count":1}}`), []string{`notes["n1"].sku`}},
		{"recursive message", order(`tree={"name":"a","children":[{"name":"b"},{"children":[{}]}]}`), []string{"tree.children[1].name", "tree.children[1].children[0].name"}},
		{"missing parent, not its fields", order("-shipTo", "billTo={}"), []string{"ship_to", "bill_to.city"}},
	}
	for _, tt := range tests {
		// Not parallel: each case counts the calls that reach the one implementation.
		t.Run(tt.name, func(t *testing.T) {
			var first *status.Status
			firstName := ""
			for _, name := range slices.Sorted(maps.Keys(surfaces)) {
				before := calls.Load()
				st := surfaces[name](t.Context(), tt.request)
				if tt.missing == nil {
					if st != nil {
						t.Errorf("%s: %v", name, st.Err())
					} else if calls.Load() == before {
						t.Errorf("%s: the call did not reach the implementation", name)
					}
					continue
				}
				if st == nil || st.Code() != codes.InvalidArgument {
					t.Errorf("%s: got %v, want InvalidArgument", name, st)
					continue
				}
				if calls.Load() != before {
					t.Errorf("%s: a request without its REQUIRED fields reached the implementation", name)
				}
				br := detailOf[*errdetails.BadRequest](st)
				var fields []string
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
					if v.GetReason() != "field_behavior.required" {
						t.Errorf("%s: %s has reason %q, want field_behavior.required", name, v.GetField(), v.GetReason())
					}
				}
				if !slices.Equal(fields, tt.missing) {
					t.Errorf("%s: BadRequest names %q, want %q", name, fields, tt.missing)
				}
				for _, f := range tt.missing {
					if !strings.Contains(st.Message(), f+": value is required") {
						t.Errorf("%s: message %q does not name %s", name, st.Message(), f)
					}
				}
				if first == nil {
					first, firstName = st, name
					continue
				}
				if st.Message() != first.Message() || !proto.Equal(br, detailOf[*errdetails.BadRequest](first)) {
					t.Errorf("%s: %q %v\n%s: %q %v", name, st.Message(), br, firstName, first.Message(), detailOf[*errdetails.BadRequest](first))
				}
			}
		})
	}

	t.Run("schemas list the REQUIRED fields", func(t *testing.T) {
		res, err := mcpSession(t, b.httpURL+"/mcp").ListTools(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		in := res.Tools[0].InputSchema.(map[string]any)
		// The default profile (portable) leaves the map labels out, as no host can be shown a
		// free-form object, and names it in the description; the server still requires it.
		want := []any{"customer", "quantity", "gift", "shipTo", "lines", "priority"}
		wantOpenAPI := []any{"customer", "quantity", "gift", "shipTo", "lines", "labels", "priority"}
		if got, _ := in["required"].([]any); !slices.Equal(got, want) {
			t.Errorf("MCP input schema required %v, want %v", got, want)
		}
		if d := fmt.Sprint(in["description"]); !strings.Contains(d, "labels") {
			t.Errorf("the input schema's description %q does not name the left-out labels", d)
		}
		props := in["properties"].(map[string]any)
		if lines := props["lines"].(map[string]any); lines["minItems"] != float64(1) {
			t.Errorf("lines: %v, want minItems 1", lines)
		}
		if d := fmt.Sprint(props["quantity"].(map[string]any)["description"]); !strings.Contains(d, "zero value") {
			t.Errorf("quantity's description %q does not say that 0 counts as not set", d)
		}
		resp, err := http.Get(b.httpURL + "/openapi.json") //nolint:noctx // a test's one-off GET
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
		found := false
		for name, s := range schemas {
			if !strings.HasPrefix(name, "acme.orders.v1.PlaceOrderRequest") {
				continue
			}
			found = true
			if got, _ := s.(map[string]any)["required"].([]any); !slices.Equal(got, wantOpenAPI) {
				t.Errorf("OpenAPI %s required %v, want %v", name, got, wantOpenAPI)
			}
		}
		if !found {
			t.Errorf("no PlaceOrderRequest schema among %v", slices.Sorted(maps.Keys(schemas)))
		}
	})
}
