package xmlrpc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/server"
)

// surfaceProto is a contract an integrator would write for a ticket tracker with an XML-RPC
// API, served on every surface.
const surfaceProto = `syntax = "proto3";
package xrpcsurface.v1;

import "agentbridge/v1/options.proto";
import "agentbridge/v1/xmlrpc.proto";
import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";

message GetTicketRequest { int32 ticket_id = 1; }

message Ticket {
  int32 id = 1;
  string title = 2;
  string owner = 3;
  repeated string tags = 4;
  google.protobuf.Timestamp opened = 5;
}

message AddRequest { int32 n = 1; }

message Total { int32 total = 1; }

message CountRequest {}

// TicketService is a ticket tracker's XML-RPC API.
service TicketService {
  // Reads one ticket.
  rpc GetTicket(GetTicketRequest) returns (Ticket) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (google.api.http) = {get: "/v1/tickets/{ticket_id}"};
    option (agentbridge.v1.binding) = {backend: "tracker", xmlrpc: {method: "ticket.get"}};
  }
  // Adds to the ledger, which is busy: it fails after its side effect.
  rpc AddBusy(AddRequest) returns (Total) {
    option idempotency_level = IDEMPOTENT;
    option (google.api.http) = {post: "/v1/ledger:add" body: "*"};
    option (agentbridge.v1.binding) = {backend: "tracker", xmlrpc: {method: "counter_fault", result_field: "total"}};
  }
  // Reads the ledger's total.
  rpc Count(CountRequest) returns (Total) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (google.api.http) = {get: "/v1/ledger"};
    option (agentbridge.v1.binding) = {backend: "tracker", xmlrpc: {method: "counter_get", result_field: "total"}};
  }
}
`

// TestEverySurface serves a contract bound to Python's XML-RPC server through a server built
// from a YAML config, and calls it over REST, gRPC and MCP: the same ticket, the same NOT_FOUND
// for a fault a config rule maps, the same UNAVAILABLE for a busy ledger, which is not retried
// although the method is IDEMPOTENT (a fault is the backend's answer).
func TestEverySurface(t *testing.T) {
	t.Parallel()
	peer := startPeer(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "xrpcsurface/v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "xrpcsurface/v1/tickets.proto"), []byte(surfaceProto), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := server.ParseConfig([]byte(`
services: [xrpcsurface.v1.TicketService]
proto_paths: [` + dir + `]
protos: [xrpcsurface/v1/tickets.proto]
audit: {sink: "off"}
backends:
  tracker:
    kind: xmlrpc
    endpoint: ` + peer + `
    retry: {max_attempts: 3}
    faults:
      - {fault_code: "404", status: NOT_FOUND, reason: NO_SUCH_TICKET}
      - {fault_code: "503", status: UNAVAILABLE, reason: LEDGER_BUSY}
    xmlrpc:
      timezone: UTC
`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(srv.Handler())
	t.Cleanup(web.Close)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := srv.GRPCServer()
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	session, err := mcp.NewClient(&mcp.Implementation{Name: "xmlrpc-test", Version: "v0"}, nil).
		Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: web.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = session.Close() })

	sd := compileExtra(t, surfaceProto).Services().ByName("TicketService")
	type result struct {
		json string // the response, when the call succeeded
		st   *status.Status
	}
	surfaces := map[string]func(method, path, verb, args string) result{
		"rest": func(_, path, verb, args string) result {
			var body io.Reader
			if verb == http.MethodPost {
				body = strings.NewReader(args)
			}
			req, _ := http.NewRequestWithContext(t.Context(), verb, web.URL+path, body)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusOK {
				return result{json: string(data)}
			}
			var sp spb.Status
			if err := protojson.Unmarshal(data, &sp); err != nil {
				t.Fatalf("REST error body %s: %v", data, err)
			}
			return result{st: status.FromProto(&sp)}
		},
		"grpc": func(method, _, _, args string) result {
			md := sd.Methods().ByName(protoreflect.Name(method))
			in, out := dynamicpb.NewMessage(md.Input()), dynamicpb.NewMessage(md.Output())
			if err := protojson.Unmarshal([]byte(args), in); err != nil {
				t.Fatal(err)
			}
			err := conn.Invoke(context.Background(), "/"+string(sd.FullName())+"/"+method, in, out)
			if err != nil {
				return result{st: status.Convert(err)}
			}
			js, _ := protojson.Marshal(out)
			return result{json: string(js)}
		},
		"mcp": func(method, _, _, args string) result {
			var a map[string]any
			if err := json.Unmarshal([]byte(args), &a); err != nil {
				t.Fatal(err)
			}
			res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "TicketService_" + method, Arguments: a})
			if err != nil {
				t.Fatal(err)
			}
			text := ""
			for _, c := range res.Content {
				if tc, ok := c.(*mcp.TextContent); ok {
					text += tc.Text
				}
			}
			if !res.IsError {
				js, _ := json.Marshal(res.StructuredContent)
				return result{json: string(js)}
			}
			_, js, ok := strings.Cut(text, "\nstatus: ")
			if !ok {
				t.Fatalf("isError result without a status: %s", text)
			}
			var sp spb.Status
			if err := protojson.Unmarshal([]byte(js), &sp); err != nil {
				t.Fatalf("status %s: %v", js, err)
			}
			return result{st: status.FromProto(&sp)}
		},
	}
	infoOf := func(st *status.Status) *errdetails.ErrorInfo {
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				return info
			}
		}
		t.Fatalf("no ErrorInfo in %v", st)
		return nil
	}
	for _, name := range []string{"rest", "grpc", "mcp"} {
		do := surfaces[name]
		t.Run(name, func(t *testing.T) {
			r := do("GetTicket", "/v1/tickets/7", http.MethodGet, `{"ticketId": 7}`)
			if r.st != nil {
				t.Fatalf("GetTicket: %v", r.st)
			}
			sameJSON(t, r.json, `{"id": 7, "title": "Printer on fire", "owner": "ops", "tags": ["hardware", "urgent"], "opened": "2026-11-29T08:30:00Z"}`)

			r = do("GetTicket", "/v1/tickets/404", http.MethodGet, `{"ticketId": 404}`)
			if r.st == nil || r.st.Code() != codes.NotFound || infoOf(r.st).GetReason() != "NO_SUCH_TICKET" ||
				infoOf(r.st).GetMetadata()["fault_code"] != "404" || !strings.Contains(r.st.Message(), "ticket 404 does not exist (fault 404)") {
				t.Errorf("GetTicket 404: %v", r.st)
			}

			before := do("Count", "/v1/ledger", http.MethodGet, `{}`)
			r = do("AddBusy", "/v1/ledger:add", http.MethodPost, `{"n": 1}`)
			if r.st == nil || r.st.Code() != codes.Unavailable || infoOf(r.st).GetReason() != "LEDGER_BUSY" || infoOf(r.st).GetMetadata()["fault_string"] != "the ledger is busy" {
				t.Errorf("AddBusy: %v", r.st)
			}
			after := do("Count", "/v1/ledger", http.MethodGet, `{}`)
			var b, a struct{ Total int }
			_ = json.Unmarshal([]byte(before.json), &b)
			_ = json.Unmarshal([]byte(after.json), &a)
			if a.Total-b.Total != 1 {
				t.Errorf("the ledger grew by %d (%s to %s), want 1: a fault is not retried", a.Total-b.Total, before.json, after.json)
			}
		})
	}
}
