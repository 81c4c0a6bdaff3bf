package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"

	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// auditLine is one line of the audit log.
type auditLine struct {
	Time          time.Time         `json:"time"`
	Msg           string            `json:"msg"`
	RequestID     string            `json:"request_id"`
	Principal     string            `json:"principal"`
	Surface       string            `json:"surface"`
	Method        string            `json:"method"`
	Tool          string            `json:"tool"`
	Backend       string            `json:"backend"`
	Code          string            `json:"code"`
	Reason        string            `json:"reason"`
	LatencyUS     *int64            `json:"latency_us"`
	RequestBytes  int               `json:"request_bytes"`
	ResponseBytes int               `json:"response_bytes"`
	Headers       map[string]string `json:"headers"`
}

func auditLines(t *testing.T, log string) map[string]auditLine {
	t.Helper()
	lines := map[string]auditLine{}
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var a auditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		if _, dup := lines[a.RequestID]; dup {
			t.Fatalf("two lines for request %s:\n%s", a.RequestID, log)
		}
		lines[a.RequestID] = a
	}
	return lines
}

// auditHeaderTransport adds headers to every request and remembers the last response's request id.
type auditHeaderTransport struct {
	header http.Header
	last   func(string)
}

func (h auditHeaderTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range h.header {
		r.Header[k] = vs
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost {
		h.last(resp.Header.Get("X-Request-Id"))
	}
	return resp, err
}

// TestAuditEverySurface calls GetItem once on every surface, each with its own request id and
// credentials in its headers, and checks the audit log has exactly one line per call with the
// same fields, that every surface returns the id, and that no credential is logged.
func TestAuditEverySurface(t *testing.T) {
	t.Parallel()
	const token, tenant = "Bearer caller-t0ken-4b1d", "tenant-s3cret-77"
	legacy := demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) })
	backend := httptest.NewServer(legacy)
	t.Cleanup(backend.Close)
	services, err := demo.InventoryConfig(backend.URL + "/inventory").BuildServices()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	srv, err := server.New(services,
		server.WithLogger(slog.New(slog.DiscardHandler)),
		server.WithAudit(server.AuditOptions{Headers: []string{"authorization", "x-tenant", "x-client"}, RedactHeaders: []string{"X-Tenant"}}),
		server.WithAuditWriter(logs),
		server.WithAuditPrincipal(func(context.Context) string { return "agent-7" }))
	if err != nil {
		t.Fatal(err)
	}
	br := serve(t, srv, true, nil, nil)
	headers := func(id string) http.Header {
		return http.Header{"X-Request-Id": {id}, "Authorization": {token}, "X-Tenant": {tenant}, "X-Client": {"ci"}}
	}
	returned := map[string]string{} // surface → the request id the caller got back
	req := &demov1.GetItemRequest{Sku: "A-100"}

	// REST
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, br.httpURL+"/v1/items/A-100", nil)
	r.Header = headers("rid-rest")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	returned["rest"] = resp.Header.Get("X-Request-Id")
	// Connect, gRPC-Web and gRPC on the HTTP listener
	for name, opt := range map[string]connect.ClientOption{"connect": connect.WithProtoJSON(), "grpcweb": connect.WithGRPCWeb(), "grpc-http": connect.WithGRPC()} {
		creq := connect.NewRequest(req)
		for k, vs := range headers("rid-" + name) {
			creq.Header()[k] = vs
		}
		cresp, err := demov1connect.NewInventoryServiceClient(h2cClient(), br.httpURL, opt).GetItem(t.Context(), creq)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		returned[name] = cresp.Header().Get("X-Request-Id")
	}
	// gRPC listener
	ctx := metadata.NewOutgoingContext(t.Context(), metadata.Pairs("x-request-id", "rid-grpc", "authorization", token, "x-tenant", tenant, "x-client", "ci"))
	var md metadata.MD
	if _, err := grpcClient(t, br.grpcAddr).GetItem(ctx, req, grpc.Header(&md)); err != nil {
		t.Fatal(err)
	}
	returned["grpc"] = strings.Join(md.Get("x-request-id"), ",")
	// gRPC listener without an id: one is made up and returned.
	md = nil
	if _, err := grpcClient(t, br.grpcAddr).GetItem(t.Context(), req, grpc.Header(&md)); err != nil {
		t.Fatal(err)
	}
	generated := strings.Join(md.Get("x-request-id"), ",")
	// MCP
	var mcpID string
	hc := &http.Client{Transport: auditHeaderTransport{header: headers("rid-mcp"), last: func(id string) { mcpID = id }}}
	client := mcp.NewClient(&mcp.Implementation{Name: "audit-test", Version: "v0"}, nil)
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: br.httpURL + "/mcp", HTTPClient: hc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = session.Close() })
	if _, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}}); err != nil {
		t.Fatal(err)
	}
	returned["mcp"] = mcpID
	// A call refused by validation is logged too.
	_, _ = grpcClient(t, br.grpcAddr).GetItem(metadata.NewOutgoingContext(t.Context(), metadata.Pairs("x-request-id", "rid-invalid")), &demov1.GetItemRequest{})

	log := logs.String()
	for _, secret := range []string{"caller-t0ken", tenant} {
		if strings.Contains(log, secret) {
			t.Errorf("%q is in the audit log:\n%s", secret, log)
		}
	}
	lines := auditLines(t, log)
	if len(lines) != 8 {
		t.Errorf("%d lines for 8 calls:\n%s", len(lines), log)
	}
	surfaces := map[string]string{"rest": "rest", "connect": "connect", "grpcweb": "grpcweb", "grpc-http": "grpc", "grpc": "grpc", "mcp": "mcp"}
	for name, surface := range surfaces {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := "rid-" + name
			if returned[name] != id {
				t.Errorf("the caller got request id %q back, want %q", returned[name], id)
			}
			l, ok := lines[id]
			if !ok {
				t.Fatalf("no line for %s in\n%s", id, log)
			}
			want := auditLine{Time: l.Time, Msg: "call", RequestID: id, Principal: "agent-7", Surface: surface, Method: "/agentbridge.demo.v1.InventoryService/GetItem",
				Backend: "inventory", Code: "OK", LatencyUS: l.LatencyUS, RequestBytes: 7, ResponseBytes: l.ResponseBytes,
				Headers: map[string]string{"authorization": "[redacted]", "x-tenant": "[redacted]", "x-client": "ci"}}
			if surface == "mcp" {
				want.Tool = "InventoryService_GetItem"
			}
			if l.Time.IsZero() || l.LatencyUS == nil || l.ResponseBytes == 0 {
				t.Errorf("time, latency or response size missing: %+v", l)
			}
			if got, _ := json.Marshal(l); string(got) != string(must(json.Marshal(want))) {
				t.Errorf("line\n %s\nwant\n %s", got, must(json.Marshal(want)))
			}
		})
	}
	if l, ok := lines[generated]; !ok || len(generated) != 16 {
		t.Errorf("generated id %q has no line of its own", generated)
	} else if l.Surface != "grpc" {
		t.Errorf("%+v", l)
	}
	if l := lines["rid-invalid"]; l.Code != "InvalidArgument" {
		t.Errorf("refused call: %+v", l)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

const loginProto = `syntax = "proto3";
package acme.login.v1;

service LoginService {
  rpc Login(LoginRequest) returns (LoginResponse);
}

message LoginRequest {
  string user = 1;
  string password = 2 [debug_redact = true];
  Token token = 3;
  repeated Token more = 4;
  map<string, Token> named = 5;
}

message Token {
  string kind = 1;
  string value = 2 [debug_redact = true];
}

message LoginResponse {
  bool ok = 1;
  string session = 2 [debug_redact = true];
}
`

// TestAuditBodies turns bodies on and checks that fields marked debug_redact, at any depth, are
// never logged while the rest is.
func TestAuditBodies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme", "login.proto"), []byte(loginProto), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := contract.Load(t.Context(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{"acme/login.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.login.v1.LoginService")
	if err != nil {
		t.Fatal(err)
	}
	out := adapters.MessageType(sd.Methods().ByName("Login").Output())
	svc := server.Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{
		"Login": func(context.Context, proto.Message) (proto.Message, error) {
			m := out.New().Interface()
			if err := protojson.Unmarshal([]byte(`{"ok":true,"session":"sess-s3cret-1"}`), m); err != nil {
				return nil, err
			}
			return m, nil
		},
	}}
	logs := &lockedBuffer{}
	srv, err := server.New([]server.Service{svc}, server.WithLogger(slog.New(slog.DiscardHandler)),
		server.WithAudit(server.AuditOptions{Bodies: true}), server.WithAuditWriter(logs))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	body := `{"user":"ada","password":"pw-s3cret-1","token":{"kind":"otp","value":"otp-s3cret-2"},"more":[{"kind":"a","value":"more-s3cret-3"}],"named":{"x":{"kind":"b","value":"named-s3cret-4"}}}`
	resp, err := http.Post(ts.URL+"/acme.login.v1.LoginService/Login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), "sess-s3cret-1") {
		t.Fatalf("HTTP %d %s", resp.StatusCode, got)
	}
	log := logs.String()
	for _, secret := range []string{"pw-s3cret-1", "otp-s3cret-2", "more-s3cret-3", "named-s3cret-4", "sess-s3cret-1"} {
		if strings.Contains(log, secret) {
			t.Errorf("%s is in the audit log: %s", secret, log)
		}
	}
	for _, want := range []string{`"request":{"user":"ada","token":{"kind":"otp"},"more":[{"kind":"a"}],"named":{"x":{"kind":"b"}}}`, `"response":{"ok":true}`} {
		if !strings.Contains(log, want) {
			t.Errorf("no %s in %s", want, log)
		}
	}
}

// TestAuditSink checks the config's audit sinks: a file gets one line per call, off gets none.
func TestAuditSink(t *testing.T) {
	t.Parallel()
	legacy := demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) })
	backend := httptest.NewServer(legacy)
	t.Cleanup(backend.Close)
	for _, tt := range []struct {
		name  string
		sink  func(dir string) string
		lines int
	}{
		{"file", func(dir string) string { return filepath.Join(dir, "audit.log") }, 2},
		{"off", func(string) string { return server.AuditOff }, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := demo.InventoryConfig(backend.URL + "/inventory")
			cfg.Audit.Sink = tt.sink(dir)
			srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(srv.Handler())
			t.Cleanup(ts.Close)
			for range 2 {
				resp, err := http.Get(ts.URL + "/v1/items/A-100")
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
			}
			data, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
			if got := strings.Count(string(data), "\n"); got != tt.lines {
				t.Fatalf("%d lines, want %d: %s", got, tt.lines, data)
			}
		})
	}
}
