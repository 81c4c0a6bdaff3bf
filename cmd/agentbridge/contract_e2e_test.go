package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/server/contract"
)

// ordersProto is a service agentbridge has never seen: nested messages, an enum, repeated and
// map fields, a oneof, a server-streaming method and REST annotations, bound to the node-soap
// order system (testdata/orders) by options alone. %s is room for more RPCs.
const ordersProto = `syntax = "proto3";

package acme.orders.v1;

import "agentbridge/v1/options.proto";
import "buf/validate/validate.proto";
import "google/api/annotations.proto";

// Orders of the Acme shop, from its legacy SOAP order system.
service OrderService {
  // Look up one order by id.
  rpc GetOrder(GetOrderRequest) returns (GetOrderResponse) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (google.api.http) = {get: "/v1/orders/{id}"};
    option (agentbridge.v1.binding) = {
      backend: "orders"
      soap: {
        action: "urn:acme:orders#GetOrder"
        request: {name: "GetOrder" namespace: "urn:acme:orders"}
        response: {name: "GetOrderResponse" namespace: "urn:acme:orders"}
      }
    };
  }

  // Place an order; the system assigns its id and total.
  rpc CreateOrder(CreateOrderRequest) returns (CreateOrderResponse) {
    option (google.api.http) = {
      post: "/v1/orders"
      body: "order"
    };
    option (agentbridge.v1.binding) = {
      backend: "orders"
      soap: {
        action: "urn:acme:orders#CreateOrder"
        request: {name: "CreateOrder" namespace: "urn:acme:orders"}
        response: {name: "CreateOrderResponse" namespace: "urn:acme:orders"}
      }
    };
  }

  // Stream the orders, optionally only those of one status.
  rpc ListOrders(ListOrdersRequest) returns (stream Order) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (google.api.http) = {get: "/v1/orders"};
    option (agentbridge.v1.binding) = {
      backend: "orders"
      soap: {
        action: "urn:acme:orders#ListOrders"
        request: {name: "ListOrders" namespace: "urn:acme:orders"}
        response: {name: "ListOrdersResponse" namespace: "urn:acme:orders"}
        stream_item: {name: "order"}
      }
    };
  }

  // Cancel an order that has not shipped.
  rpc CancelOrder(CancelOrderRequest) returns (CancelOrderResponse) {
    option (google.api.http) = {
      post: "/v1/orders/{id}:cancel"
      body: "*"
    };
    option (agentbridge.v1.mcp_tool) = {destructive: true};
    option (agentbridge.v1.binding) = {
      backend: "orders"
      soap: {
        action: "urn:acme:orders#CancelOrder"
        request: {name: "CancelOrder" namespace: "urn:acme:orders"}
        response: {name: "CancelOrderResponse" namespace: "urn:acme:orders"}
      }
    };
  }
%s}

// Where an order is in its life.
enum Status {
  // Not said.
  STATUS_UNSPECIFIED = 0;
  // Placed, not shipped.
  STATUS_OPEN = 1 [(agentbridge.v1.xml_value) = "Open"];
  // On its way.
  STATUS_SHIPPED = 2 [(agentbridge.v1.xml_value) = "Shipped"];
  // Cancelled before shipping.
  STATUS_CANCELLED = 3 [(agentbridge.v1.xml_value) = "Cancelled"];
}

// A postal address.
message Address {
  // Street and number.
  string street = 1;
  // City.
  string city = 2;
  // ISO 3166 country code.
  string country = 3;
}

// Who ordered.
message Customer {
  // Full name.
  string name = 1 [(buf.validate.field).string.min_len = 1];
  // Where to deliver.
  Address address = 2;
}

// One line of an order.
message Line {
  // Item ordered.
  string sku = 1;
  // How many.
  int32 quantity = 2 [(buf.validate.field).int32.gt = 0];
  // Price of one, as an exact decimal.
  string unit_price = 3;
}

// A payment card, masked.
message Card {
  // Card scheme.
  string brand = 1;
  // Last four digits.
  string last4 = 2;
}

// An order.
message Order {
  // Order id, such as O-1001.
  string id = 1;
  // Who ordered.
  Customer customer = 2;
  // Where it is.
  Status status = 3;
  // What was ordered.
  repeated Line lines = 4;
  // Free-form labels.
  map<string, string> labels = 5;
  // How it is paid.
  oneof payment {
    // By card.
    Card card = 6;
    // By invoice, with its reference.
    string invoice_ref = 7;
  }
  // Total in cents.
  int64 total_cents = 8;
}

// Which order.
message GetOrderRequest {
  // Order id.
  string id = 1 [(buf.validate.field).string.min_len = 1];
}

// The order found.
message GetOrderResponse {
  // The order.
  Order order = 1;
}

// The order to place.
message CreateOrderRequest {
  // The order; id, status and total are the system's.
  Order order = 1;
}

// The order placed.
message CreateOrderResponse {
  // The order as stored.
  Order order = 1;
}

// Which orders.
message ListOrdersRequest {
  // Only orders with this status; unset lists all.
  Status status = 1;
}

// What to cancel.
message CancelOrderRequest {
  // Order id.
  string id = 1 [(buf.validate.field).string.min_len = 1];
  // Why, for the record.
  string reason = 2 [(buf.validate.field).string.min_len = 1];
}

// The cancelled order.
message CancelOrderResponse {
  // The order, now cancelled.
  Order order = 1;
}
`

// getStatusRPC is added by the reload: a method the running bridge did not have.
const getStatusRPC = `
  // The status of one order.
  rpc GetOrderStatus(GetOrderRequest) returns (GetOrderResponse) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (google.api.http) = {get: "/v1/orders/{id}/status"};
    option (agentbridge.v1.binding) = {
      backend: "orders"
      soap: {
        action: "urn:acme:orders#GetOrder"
        request: {name: "GetOrder" namespace: "urn:acme:orders"}
        response: {name: "GetOrderResponse" namespace: "urn:acme:orders"}
      }
    };
  }
`

const newOrderJSON = `{"customer":{"name":"Alan Turing","address":{"street":"Bletchley Park","city":"Milton Keynes","country":"GB"}},"lines":[{"sku":"A-100","quantity":3,"unitPrice":"89.90"},{"sku":"A-200","quantity":1,"unitPrice":"14.50"}],"labels":{"channel":"agent","gift":"yes"},"invoiceRef":"INV-9"}`

// startOrdersPeer starts the node-soap order system and returns its endpoint; it stops when
// the test ends.
func startOrdersPeer(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the SOAP peer: ", err)
	}
	modules, _ := filepath.Abs("../../adapters/soap/testdata/nodesoap/node_modules")
	if _, err := os.Stat(filepath.Join(modules, "soap")); err != nil {
		t.Fatalf("node-soap is not installed: %v; run `npm ci --prefix adapters/soap/testdata/nodesoap` from the module root", err)
	}
	cmd := exec.Command(node, "testdata/orders/server.js")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	stdin, _ := cmd.StdinPipe() // closed by the cleanup: the peer exits on EOF
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the orders peer did not start: %v\n%s", err, stderr.String())
	}
	var ready struct{ Endpoint string }
	if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.Endpoint == "" {
		t.Fatalf("the orders peer printed %q: %v", line, err)
	}
	return ready.Endpoint
}

// logWatch collects a process's log and lets a test wait for a line matching a pattern a number
// of times.
type logWatch struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logWatch) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits until re has matched n times, and returns the nth match.
func (l *logWatch) waitFor(t *testing.T, re *regexp.Regexp, n int) []string {
	t.Helper()
	for {
		l.mu.Lock()
		all := re.FindAllStringSubmatch(l.buf.String(), -1)
		changed := l.changed
		l.mu.Unlock()
		if len(all) >= n {
			return all[n-1]
		}
		select {
		case <-changed:
		case <-t.Context().Done():
			t.Fatalf("the log never showed %s %d times:\n%s", re, n, l.String())
		}
	}
}

// ordersClient speaks to the served OrderService on every surface and returns what each
// surface answered, as canonical protojson of the method's output.
type ordersClient struct {
	t        *testing.T
	sd       protoreflect.ServiceDescriptor
	httpURL  string
	grpcAddr string
	grpcurl  string
	mcp      *mcp.ClientSession
}

// canon re-reads JSON as msg's type and writes it as the bridge does (protojson, defaults
// emitted, keys sorted), so that grpcurl's layout or a missing zero does not count as a
// difference.
func (c *ordersClient) canon(md protoreflect.MessageDescriptor, data []byte) string {
	c.t.Helper()
	msg := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{}).Unmarshal(data, msg); err != nil {
		c.t.Fatalf("%v: %s", err, data)
	}
	out, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(msg)
	if err != nil {
		c.t.Fatal(err)
	}
	var v any
	_ = json.Unmarshal(out, &v)
	sorted, _ := json.Marshal(v)
	return string(sorted)
}

func (c *ordersClient) method(name string) protoreflect.MethodDescriptor {
	return c.sd.Methods().ByName(protoreflect.Name(name))
}

// unary calls method with the request JSON on each surface, or on those in only. rest is the
// REST call: verb, path and body.
func (c *ordersClient) unary(name, request, verb, path, body string, only ...string) map[string]string {
	c.t.Helper()
	on := func(surface string) bool { return len(only) == 0 || slices.Contains(only, surface) }
	md := c.method(name)
	procedure := "/acme.orders.v1.OrderService/" + name
	out := map[string]string{}
	errs := map[string]error{}

	// gRPC, through grpcurl and reflection.
	cmd := exec.CommandContext(c.t.Context(), c.grpcurl, "-plaintext", "-d", request, c.grpcAddr, "acme.orders.v1.OrderService/"+name)
	if !on("grpc") {
		// not asked for
	} else if data, err := cmd.Output(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s", err, exit.Stderr)
		}
		errs["grpc"] = err
	} else {
		out["grpc"] = c.canon(md.Output(), data)
	}

	// Connect and gRPC-Web, through connect-go with dynamic messages.
	for surface, opts := range map[string][]connect.ClientOption{
		"connect":  {connect.WithProtoJSON()},
		"grpc-web": {connect.WithGRPCWeb()},
	} {
		if !on(surface) {
			continue
		}
		req := dynamicpb.NewMessage(md.Input())
		if err := protojson.Unmarshal([]byte(request), req); err != nil {
			c.t.Fatal(err)
		}
		opts = append(opts, connect.WithSchema(md), connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
			*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(md.Output())
			return nil
		}))
		client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](http.DefaultClient, c.httpURL+procedure, opts...)
		resp, err := client.CallUnary(c.t.Context(), connect.NewRequest(req))
		if err != nil {
			errs[surface] = err
			continue
		}
		data, _ := protojson.Marshal(resp.Msg)
		out[surface] = c.canon(md.Output(), data)
	}

	// REST.
	hreq, _ := http.NewRequestWithContext(c.t.Context(), verb, c.httpURL+path, strings.NewReader(body))
	if !on("rest") {
		// not asked for
	} else if resp, err := http.DefaultClient.Do(hreq); err != nil {
		errs["rest"] = err
	} else {
		data, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			errs["rest"] = fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
		} else {
			out["rest"] = c.canon(md.Output(), data)
		}
	}

	// MCP.
	var args map[string]any
	_ = json.Unmarshal([]byte(request), &args)
	var res *mcp.CallToolResult
	var err error
	if on("mcp") {
		res, err = c.mcp.CallTool(c.t.Context(), &mcp.CallToolParams{Name: "OrderService_" + name, Arguments: args})
	}
	switch {
	case !on("mcp"):
	case err != nil:
		errs["mcp"] = err
	case res.IsError:
		errs["mcp"] = errors.New(res.Content[0].(*mcp.TextContent).Text)
	default:
		data, _ := json.Marshal(res.StructuredContent)
		out["mcp"] = c.canon(md.Output(), data)
	}
	for surface, err := range errs {
		c.t.Errorf("%s on %s: %v", name, surface, err)
	}
	return out
}

// stream calls ListOrders with the request JSON on each surface and returns the messages each
// delivered, canonical and in order.
func (c *ordersClient) stream(request, query string) map[string][]string {
	c.t.Helper()
	md := c.method("ListOrders")
	out := map[string][]string{}

	cmd := exec.CommandContext(c.t.Context(), c.grpcurl, "-plaintext", "-d", request, c.grpcAddr, "acme.orders.v1.OrderService/ListOrders")
	data, err := cmd.Output()
	if err != nil {
		c.t.Errorf("ListOrders on grpc: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			break
		}
		out["grpc"] = append(out["grpc"], c.canon(md.Output(), raw))
	}

	for surface, opts := range map[string][]connect.ClientOption{
		"connect":  {connect.WithProtoJSON()},
		"grpc-web": {connect.WithGRPCWeb()},
	} {
		req := dynamicpb.NewMessage(md.Input())
		_ = protojson.Unmarshal([]byte(request), req)
		opts = append(opts, connect.WithSchema(md), connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
			*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(md.Output())
			return nil
		}))
		client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](http.DefaultClient, c.httpURL+"/acme.orders.v1.OrderService/ListOrders", opts...)
		s, err := client.CallServerStream(c.t.Context(), connect.NewRequest(req))
		if err != nil {
			c.t.Errorf("ListOrders on %s: %v", surface, err)
			continue
		}
		for s.Receive() {
			data, _ := protojson.Marshal(s.Msg())
			out[surface] = append(out[surface], c.canon(md.Output(), data))
		}
		if err := s.Err(); err != nil {
			c.t.Errorf("ListOrders on %s: %v", surface, err)
		}
	}

	resp, err := http.Get(c.httpURL + "/v1/orders" + query)
	if err != nil {
		c.t.Fatal(err)
	}
	dec = json.NewDecoder(resp.Body)
	for {
		var line struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := dec.Decode(&line); err != nil {
			break
		}
		if line.Error != nil {
			c.t.Errorf("ListOrders on rest: %s", line.Error)
		}
		out["rest"] = append(out["rest"], c.canon(md.Output(), line.Result))
	}
	_ = resp.Body.Close()

	var args map[string]any
	_ = json.Unmarshal([]byte(request), &args)
	res, err := c.mcp.CallTool(c.t.Context(), &mcp.CallToolParams{Name: "OrderService_ListOrders", Arguments: args})
	if err != nil || res.IsError {
		c.t.Errorf("ListOrders on mcp: %v %v", err, res)
		return out
	}
	var collected struct {
		Items     []json.RawMessage `json:"items"`
		Truncated bool              `json:"truncated"`
	}
	data, _ = json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(data, &collected)
	for _, item := range collected.Items {
		out["mcp"] = append(out["mcp"], c.canon(md.Output(), item))
	}
	return out
}

// sameOnEverySurface fails unless every surface answered and all answered alike; it returns
// the answer. ignore lists JSON fields that differ by design (the id a create assigns).
func sameOnEverySurface[T any](t *testing.T, what string, got map[string]T, ignore ...string) T {
	t.Helper()
	surfaces := []string{"grpc", "connect", "grpc-web", "rest", "mcp"}
	var want T
	for i, s := range surfaces {
		v, ok := got[s]
		if !ok {
			t.Errorf("%s: no answer on %s", what, s)
			continue
		}
		if i == 0 {
			want = v
			continue
		}
		if diff := cmp.Diff(scrub(want, ignore), scrub(v, ignore)); diff != "" {
			t.Errorf("%s: %s differs from grpc (-grpc +%s):\n%s", what, s, s, diff)
		}
	}
	return want
}

var orderIDs = regexp.MustCompile(`"id":"O-2\d\d\d"`)

// scrub replaces the ids a create assigned, when ignore asks for it.
func scrub[T any](v T, ignore []string) any {
	if !slices.Contains(ignore, "id") {
		return v
	}
	if s, ok := any(v).(string); ok {
		return orderIDs.ReplaceAllString(s, `"id":"O-new"`)
	}
	data, _ := json.Marshal(v)
	return orderIDs.ReplaceAllString(string(data), `"id":"O-new"`)
}

// TestServeANewContract is the proof that a contract is data: a proto agentbridge has never
// seen and a config, written to a temp dir, served by the built binary on every surface against
// a real SOAP system (node-soap), with the same answers on each; then reloaded by SIGHUP and by
// -watch, refusing a broken edit while the old version keeps serving.
func TestServeANewContract(t *testing.T) {
	t.Parallel()
	grpcurl := grpcurlPath(t)
	endpoint := startOrdersPeer(t)
	bin := agentbridgeBinary(t)

	dir := t.TempDir()
	protoPath := filepath.Join(dir, "proto", "acme", "orders", "v1", "orders.proto")
	if err := os.MkdirAll(filepath.Dir(protoPath), 0o755); err != nil {
		t.Fatal(err)
	}
	writeProto := func(extra string) {
		t.Helper()
		if err := os.WriteFile(protoPath, fmt.Appendf(nil, ordersProto, extra), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeProto("")
	config := filepath.Join(dir, "agentbridge.yaml")
	if err := os.WriteFile(config, []byte(`http_addr: 127.0.0.1:0
grpc_addr: 127.0.0.1:0
proto_paths: [proto]
protos: [acme/orders/v1/orders.proto]
services: [acme.orders.v1.OrderService]
backends:
  orders:
    kind: soap
    endpoint: `+endpoint+`
`), 0o600); err != nil {
		t.Fatal(err)
	}

	validate, err := exec.CommandContext(t.Context(), bin, "config", "validate", "-config", config).CombinedOutput()
	if err != nil || !strings.Contains(string(validate), "acme.orders.v1.OrderService: 4 methods bound") {
		t.Fatalf("config validate: %v\n%s", err, validate)
	}

	cmd := exec.Command(bin, "serve", "-config", config, "-watch")
	logs := newLogWatch()
	cmd.Stdout, cmd.Stderr = io.Discard, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("serve exited with %v", err)
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})
	httpAddr := logs.waitFor(t, serveHTTP, 1)[1]
	grpcAddr := logs.waitFor(t, serveGRPC, 1)[1]

	set, err := contract.Load(t.Context(), contract.Sources{ProtoPaths: []string{filepath.Join(dir, "proto")}, Protos: []string{"acme/orders/v1/orders.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.orders.v1.OrderService")
	if err != nil {
		t.Fatal(err)
	}
	session, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "v0"}, nil).Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: "http://" + httpAddr + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	c := &ordersClient{t: t, sd: sd, httpURL: "http://" + httpAddr, grpcAddr: grpcAddr, grpcurl: grpcurl, mcp: session}

	t.Run("GetOrder", func(t *testing.T) {
		c.t = t
		got := sameOnEverySurface(t, "GetOrder O-1001", c.unary("GetOrder", `{"id":"O-1001"}`, "GET", "/v1/orders/O-1001", ""))
		want := c.canon(sd.Methods().ByName("GetOrder").Output(), []byte(`{"order":{"id":"O-1001","customer":{"name":"Ada Lovelace","address":{"street":"12 St James Sq","city":"London","country":"GB"}},"status":"STATUS_SHIPPED","lines":[{"sku":"A-100","quantity":2,"unitPrice":"89.90"},{"sku":"G-100","quantity":1,"unitPrice":"24.95"}],"labels":{"channel":"web","priority":"high"},"card":{"brand":"VISA","last4":"4242"},"totalCents":"9007199254740993"}}`))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetOrder differs from the system's order (-want +got):\n%s", diff)
		}
	})
	t.Run("CreateOrder and CancelOrder", func(t *testing.T) {
		c.t = t
		created := c.unary("CreateOrder", `{"order":`+newOrderJSON+`}`, "POST", "/v1/orders", newOrderJSON)
		got := sameOnEverySurface(t, "CreateOrder", created, "id")
		for _, want := range []string{`"totalCents":"28420"`, `"status":"STATUS_OPEN"`, `"labels":{"channel":"agent","gift":"yes"}`, `"invoiceRef":"INV-9"`} {
			if !strings.Contains(got, want) {
				t.Errorf("the created order lacks %s: %s", want, got)
			}
		}
		// Each surface cancels the order it created.
		cancelled := map[string]string{}
		for surface, order := range created {
			id := orderIDs.FindString(order)
			id = strings.TrimSuffix(strings.TrimPrefix(id, `"id":"`), `"`)
			req := `{"id":"` + id + `","reason":"changed mind"}`
			one := c.unary("CancelOrder", req, "POST", "/v1/orders/"+id+":cancel", `{"reason":"changed mind"}`, surface)
			cancelled[surface] = one[surface]
		}
		got = sameOnEverySurface(t, "CancelOrder", cancelled, "id")
		if !strings.Contains(got, `"status":"STATUS_CANCELLED"`) || !strings.Contains(got, `"cancelReason":"changed mind"`) {
			t.Errorf("cancelled order: %s", got)
		}
	})
	t.Run("ListOrders streams", func(t *testing.T) {
		c.t = t
		got := sameOnEverySurface(t, "ListOrders shipped", c.stream(`{"status":"STATUS_SHIPPED"}`, "?status=STATUS_SHIPPED"))
		if len(got) != 1 || !strings.Contains(got[0], `"id":"O-1001"`) {
			t.Errorf("ListOrders(SHIPPED) = %v", got)
		}
		all := sameOnEverySurface(t, "ListOrders all", c.stream(`{}`, ""))
		if len(all) < 2 {
			t.Errorf("ListOrders() streamed %d orders", len(all))
		}
	})

	t.Run("reload", func(t *testing.T) {
		c.t = t
		// A new method, applied by SIGHUP.
		writeProto(getStatusRPC)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		logs.waitFor(t, regexp.MustCompile(`msg="reload done"`), 1)
		resp, err := http.Get(c.httpURL + "/v1/orders/O-1002/status")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"invoiceRef":"INV-77"`) {
			t.Fatalf("the method added by the reload: %d %s", resp.StatusCode, body)
		}
		list, err := exec.CommandContext(t.Context(), grpcurl, "-plaintext", grpcAddr, "describe", "acme.orders.v1.OrderService").Output()
		if err != nil || !strings.Contains(string(list), "GetOrderStatus") {
			t.Fatalf("reflection after the reload: %v\n%s", err, list)
		}

		// A broken edit, seen by -watch, is refused; the running version keeps serving.
		if err := os.WriteFile(protoPath, []byte("syntax = \"proto3\";\npackage acme.orders.v1;\nmessage Broken {\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		refused := logs.waitFor(t, regexp.MustCompile(`msg="reload refused; still serving the previous config" trigger="file change" err="([^"]*)`), 1)
		if !strings.Contains(refused[1], "orders.proto:4:1: syntax error") {
			t.Errorf("the refusal does not say where: %s", refused[1])
		}
		sameOnEverySurface(t, "GetOrder after a refused reload", c.unary("GetOrder", `{"id":"O-1001"}`, "GET", "/v1/orders/O-1001", ""))

		// Fixed again, -watch applies it.
		writeProto("")
		logs.waitFor(t, regexp.MustCompile(`msg="reload done" trigger="file change"`), 1)
		resp, err = http.Get(c.httpURL + "/v1/orders/O-1002/status")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the method the last reload removed answers %d", resp.StatusCode)
		}
	})
	names := []string{}
	tools, err := session.ListTools(t.Context(), nil)
	if err == nil {
		for _, tool := range tools.Tools {
			names = append(names, tool.Name)
		}
	}
	sort.Strings(names)
	if !cmp.Equal(names, []string{"OrderService_CancelOrder", "OrderService_CreateOrder", "OrderService_GetOrder", "OrderService_ListOrders"}) {
		t.Errorf("tools after the reloads: %v (%v)", names, err)
	}
}
