package xmlrpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
)

// testProto is the contract of the tests: one method per function of testdata/peer.py, and a
// few more that the httptest backends answer.
const testProto = `
syntax = "proto3";
package xrpctest.v1;

import "agentbridge/v1/options.proto";
import "agentbridge/v1/xmlrpc.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/api/field_behavior.proto";

enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_RED = 1;
  COLOR_GREEN = 2;
}

message Empty {}

message AllTypes {
  int32 i = 1;
  int32 neg = 2;
  bool flag = 3;
  string text = 4;
  double ratio = 5;
  google.protobuf.Timestamp when = 6;
  bytes blob = 7;
  repeated int32 items = 8;
  map<string, string> labels = 9;
  google.protobuf.StringValue nothing = 10;
  google.protobuf.ListValue anything = 11;
}

message Nested {
  string name = 1 [(agentbridge.v1.xmlrpc_member) = "Name"];
  int32 n = 2;
}

message DescribeRequest {
  int32 a = 1;
  int64 b = 2;
  bool c = 3;
  string d = 4;
  double e = 5;
  google.protobuf.Timestamp f = 6;
  bytes g = 7;
  Color h = 8;
  repeated string j = 10;
  Nested k = 11;
  map<string, int32> l = 12;
  optional string i = 9;
}

message Strings { repeated string result = 1; }

message ValueMessage { google.protobuf.Value result = 1; }

message TicketRequest { int32 ticket_id = 1; }

message Ticket {
  int32 id = 1;
  string title = 2;
  string owner = 3;
  repeated string tags = 4;
  google.protobuf.Timestamp opened = 5;
}

message Tickets { repeated Ticket result = 1; }

message FaultRequest {
  int32 code = 1;
  string text = 2;
}

message Counter { int32 n = 1; }

message Big { int64 value = 1; }

message ParamsRequest {
  optional string a = 1;
  optional string b = 2;
  optional string c = 3;
}

message Values { repeated google.protobuf.Value result = 1; }

message Item {
  string sku = 1;
  optional int32 quantity = 2;
  Color color = 3;
  optional string note = 4 [(google.api.field_behavior) = OPTIONAL];
}

message Sure {
  optional string id = 1 [(google.api.field_behavior) = REQUIRED];
}

message Wide { int64 n = 1; uint64 u = 2; }

service Peer {
  rpc GetAllTypes(Empty) returns (AllTypes) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "all_types"}};
  }
  rpc EchoAll(AllTypes) returns (AllTypes) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "echo", request_as_struct: true}};
  }
  rpc Echo(ValueMessage) returns (ValueMessage) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "echo", result_field: "result"}};
  }
  rpc Describe(DescribeRequest) returns (Strings) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "describe", result_field: "result"}};
  }
  rpc DescribeWide(Wide) returns (Strings) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "describe", result_field: "result"}};
  }
  rpc GetTicket(TicketRequest) returns (Ticket) {
    option (agentbridge.v1.binding) = {
      backend: "peer"
      xmlrpc: {method: "ticket.get"}
      faults: [{fault_code: "404", status: STATUS_CODE_NOT_FOUND, reason: "NO_SUCH_TICKET"}]
    };
  }
  rpc ListTickets(Empty) returns (Tickets) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "ticket.list", result_field: "result"}};
  }
  rpc RaiseFault(FaultRequest) returns (Empty) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "fault"}};
  }
  rpc CounterAdd(Counter) returns (Counter) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "counter_add", result_field: "n"}};
  }
  rpc CounterGet(Empty) returns (Counter) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "counter_get", result_field: "n"}};
  }
  rpc CounterFault(Counter) returns (Counter) {
    option idempotency_level = IDEMPOTENT;
    option (agentbridge.v1.binding) = {
      backend: "peer"
      xmlrpc: {method: "counter_fault", result_field: "n"}
      faults: [{fault_code: "503", status: STATUS_CODE_UNAVAILABLE, reason: "LEDGER_BUSY"}]
    };
  }
  rpc GetBig(Empty) returns (Big) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "big", result_field: "value"}};
  }
  rpc Params(ParamsRequest) returns (Values) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "echo_params", result_field: "result"}};
  }
  rpc Crash(Empty) returns (Empty) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "crash"}};
  }
  rpc GetSure(Empty) returns (Sure) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "sure"}};
  }
  rpc PutItem(Item) returns (Item) {
    option (agentbridge.v1.binding) = {backend: "peer", xmlrpc: {method: "item.put", path: "/items/RPC2", json_names: true, enums_as_int: true}};
  }
}
`

var (
	testFileOnce sync.Once
	testFile     protoreflect.FileDescriptor
)

// peerService returns the test contract's service, compiled once (dynamic messages).
func peerService(t testing.TB) protoreflect.ServiceDescriptor {
	t.Helper()
	testFileOnce.Do(func() { testFile = prototest.Compile(t, "xrpctest/v1/peer.proto", testProto) })
	return testFile.Services().ByName("Peer")
}

// backendOf returns a backend of the xmlrpc kind at endpoint, with settings as the YAML of its
// xmlrpc: section ("" for none).
func backendOf(t testing.TB, endpoint, settings string) adapters.Backend {
	t.Helper()
	b := adapters.Backend{Name: "peer", Kind: Kind, Endpoint: endpoint}
	if settings != "" {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte("xmlrpc:\n"+settings), &n); err != nil {
			t.Fatal(err)
		}
		var sections map[string]yaml.Node
		if err := n.Decode(&sections); err != nil {
			t.Fatal(err)
		}
		b.Sections = sections
	}
	return b
}

// bindAll makes the adapter of b and binds every method of the test service.
func bindAll(t testing.TB, b adapters.Backend) map[protoreflect.Name]adapters.Unary {
	t.Helper()
	a, err := adapters.New(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.(*Adapter).Close() })
	unary, _, err := adapters.BindService(peerService(t), map[string]adapters.Adapter{"peer": a})
	if err != nil {
		t.Fatal(err)
	}
	return unary
}

// call calls a method with a request given as JSON and returns the response as JSON.
func call(t testing.TB, methods map[protoreflect.Name]adapters.Unary, name protoreflect.Name, reqJSON string) (string, error) {
	t.Helper()
	md := peerService(t).Methods().ByName(name)
	req := adapters.MessageType(md.Input()).New().Interface()
	if err := protojson.Unmarshal([]byte(reqJSON), req); err != nil {
		t.Fatalf("request %s: %v", reqJSON, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := methods[name](ctx, req)
	if err != nil {
		return "", err
	}
	out, err := protojson.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), nil
}

// sameJSON fails unless got and want are the same JSON value.
func sameJSON(t testing.TB, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// outcome is what a failed call's status says.
type outcome struct {
	code    codes.Code
	reason  string
	message string
	meta    map[string]string
}

func outcomeOf(t testing.TB, err error) outcome {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded; want an error")
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status: %v", err)
	}
	o := outcome{code: st.Code(), message: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			o.reason, o.meta = info.GetReason(), info.GetMetadata()
		}
	}
	return o
}

// want checks an outcome's code and reason, and that its message holds each of parts.
func (o outcome) want(t testing.TB, code codes.Code, reason adapters.Reason, parts ...string) {
	t.Helper()
	if o.code != code || o.reason != string(reason) {
		t.Errorf("got %v %s (%s), want %v %s", o.code, o.reason, o.message, code, reason)
	}
	for _, p := range parts {
		if !strings.Contains(o.message, p) {
			t.Errorf("message %q lacks %q", o.message, p)
		}
	}
}

// startPeer runs testdata/peer.py, Python's standard XML-RPC server, on a loopback port of its
// choosing, and returns its URL. The process is killed when the test ends.
func startPeer(t testing.TB) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required for the real-peer tests of the xmlrpc kind (it runs testdata/peer.py, with the standard library only); install python3")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, py, "testdata/peer.py")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		cancel()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		port <- strings.TrimSpace(line)
	}()
	// stopped ends the peer and returns what it wrote to stderr, read once the process is gone
	// (exec's copying goroutine writes the buffer until then).
	stopped := func() string {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return stderr.String()
	}
	select {
	case p := <-port:
		if p == "" {
			t.Fatalf("peer.py printed no port: %s", stopped())
		}
		return "http://127.0.0.1:" + p + "/RPC2"
	case <-time.After(20 * time.Second):
		t.Fatalf("peer.py did not print its port within 20s: %s", stopped())
	}
	return ""
}

func protoName(s string) protoreflect.Name { return protoreflect.Name(s) }

// compileExtra compiles a contract of a test's own.
func compileExtra(t testing.TB, source string) protoreflect.FileDescriptor {
	t.Helper()
	return prototest.Compile(t, "xrpcextra/v1/extra.proto", source)
}
