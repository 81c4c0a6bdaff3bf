package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"

	"github.com/agentbridge/agentbridge/server"
)

// TestAuthHTTPAnswers checks what the HTTP listener answers a caller without the right
// credentials: 401 with a Bearer challenge pointing at the protected resource metadata, 403 for
// a missing scope, the same JSON status body on REST, Connect and MCP, and the RFC 9728
// metadata itself.
func TestAuthHTTPAnswers(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	b := startGoService(t, principalEcho, server.WithAuth(authConfig(iss)))
	// The challenge points at the bridge's public address: the origin of its resource identifier
	// (here the OIDC audience), not the address the test reaches it by.
	meta := "https://bridge.example.com/.well-known/oauth-protected-resource"
	cases := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		challenge                string // resource_metadata URL in WWW-Authenticate, for 401
		bodyHas                  string
	}{
		{"REST without credentials", "GET", "/v1/items/A-100", "", nil, 401, meta, `"code":16`},
		{"Connect without credentials", "POST", "/agentbridge.demo.v1.InventoryService/GetItem", `{"sku":"A-100"}`, nil, 401, meta, `"code":"unauthenticated"`},
		{"MCP without credentials", "POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil, 401, meta + "/mcp", `"code":16`},
		{"MCP toolset without credentials", "GET", "/mcp/anything", "", nil, 401, meta + "/mcp/anything", `"code":16`},
		{"REST with a bad key", "GET", "/v1/items/A-100", "", map[string]string{"X-Api-Key": "nope"}, 401, meta, "API key was not accepted"},
		{"REST without the scope", "GET", "/v1/items/A-100", "", map[string]string{"X-Api-Key": scopelessKey}, 403, "", "inventory.read"},
		{"Connect without the scope", "POST", "/agentbridge.demo.v1.InventoryService/GetItem", `{"sku":"A-100"}`, map[string]string{"X-Api-Key": scopelessKey}, 403, "", "inventory.read"},
		{"REST with the scope", "GET", "/v1/items/A-100", "", map[string]string{"X-Api-Key": readerKey}, 200, "", `"name":"reader"`},
		{"health needs no credentials", "GET", "/healthz", "", nil, 200, "", "ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), c.method, b.httpURL+c.path, strings.NewReader(c.body))
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
			}
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.bodyHas) {
				t.Fatalf("got %d %s, want %d with %s", resp.StatusCode, body, c.status, c.bodyHas)
			}
			got := resp.Header.Get("WWW-Authenticate")
			if c.challenge != "" && got != `Bearer realm="agentbridge", resource_metadata="`+c.challenge+`"` {
				t.Errorf("WWW-Authenticate %q, want resource_metadata %s", got, c.challenge)
			}
			if c.challenge == "" && got != "" {
				t.Errorf("WWW-Authenticate %q on a %d", got, resp.StatusCode)
			}
		})
	}

	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		t.Run("metadata at "+path, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+path, nil)
			req.Header.Set("Origin", "https://claude.example") // public: any origin may read it
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			var m struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
				ScopesSupported      []string `json:"scopes_supported"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %v", resp.StatusCode, err)
			}
			if m.Resource != testAudience || len(m.AuthorizationServers) != 1 || m.AuthorizationServers[0] != iss.url ||
				strings.Join(m.ScopesSupported, " ") != "inventory.read inventory.write" {
				t.Errorf("metadata %+v", m)
			}
		})
	}
}

// TestAuthRequiredBeyondLoopback checks the start-up rule: without credentials a listener may
// bind only loopback, unless auth.insecure says otherwise, which the log then repeats.
func TestAuthRequiredBeyondLoopback(t *testing.T) {
	t.Parallel()
	t.Run("config validate", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name, yaml, wantErr string
		}{
			{"loopback without auth", "http_addr: 127.0.0.1:8080\ngrpc_addr: localhost:9090\n", ""},
			{"defaults without auth", "", ""},
			{"every interface without auth", "http_addr: 0.0.0.0:8080\n", "http_addr 0.0.0.0:8080 is reachable beyond loopback and no authentication is configured: configure auth.api_keys, auth.oidc or auth.mtls, or set auth.insecure: true"},
			{"empty host without auth", "grpc_addr: :9090\n", "grpc_addr :9090 is reachable beyond loopback"},
			{"every interface, insecure", "http_addr: 0.0.0.0:8080\nauth: {insecure: true}\n", ""},
			{"every interface with keys", "http_addr: 0.0.0.0:8080\nauth:\n  api_keys: [{id: a, sha256: " + sha256Hex("k") + "}]\n", ""},
			{"a key in clear", "auth:\n  api_keys: [{id: a, sha256: my-secret-key}]\n", `api key "a": sha256 must be 64 hex digits`},
			{"insecure with keys", "auth:\n  insecure: true\n  api_keys: [{id: a, sha256: " + sha256Hex("k") + "}]\n", "insecure is set together with credentials"},
			{"symmetric algorithm", "auth:\n  oidc: {issuer: https://id.example, audience: x, algorithms: [HS256]}\n", "HS256 is not accepted"},
			{"mtls without tls", "auth:\n  mtls: {client_ca_file: ca.pem}\n", "auth.mtls needs tls"},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				_, err := server.ParseConfig([]byte("services: [agentbridge.demo.v1.InventoryService]\n" + c.yaml))
				if c.wantErr == "" && err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
					t.Fatalf("got %v, want an error with %q", err, c.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "my-secret-key") {
					t.Errorf("the error repeats the key: %v", err)
				}
			})
		}
	})
	t.Run("serve", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			name    string
			auth    *server.AuthConfig
			refused bool
		}{
			{"no auth", nil, true},
			{"insecure", &server.AuthConfig{Insecure: true}, false},
			{"keys", &server.AuthConfig{APIKeys: []server.APIKey{{ID: "a", SHA256: sha256Hex("k")}}}, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				logs := new(lockedBuffer)
				opts := []server.Option{server.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}
				if c.auth != nil {
					opts = append(opts, server.WithAuth(*c.auth))
				}
				srv := newDemoGoServer(t, opts...)
				lis, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				cancel() // serve, check, and stop at once
				err = srv.ServeListeners(ctx, nil, exposedListener{lis})
				if c.refused != (err != nil) {
					t.Fatalf("ServeListeners: %v, refused want %v", err, c.refused)
				}
				if c.refused && !strings.Contains(err.Error(), "auth.insecure: true") {
					t.Errorf("the refusal does not say how to proceed: %v", err)
				}
				if warned := strings.Contains(logs.String(), "WITHOUT authentication"); warned != (c.name == "insecure") {
					t.Errorf("insecure warning logged %v: %s", warned, logs.String())
				}
			})
		}
	})
}

// exposedListener reports a loopback listener's address as every interface's, so the test can
// check the rule without exposing a port.
type exposedListener struct{ net.Listener }

func (exposedListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero, Port: 8080} }

// newDemoGoServer builds (without serving) the demo service implemented by principalEcho.
func newDemoGoServer(t *testing.T, opts ...server.Option) *server.Server {
	t.Helper()
	sd := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	unimplemented := func(context.Context, proto.Message) (proto.Message, error) {
		return nil, status.Error(codes.Unimplemented, "not in this test")
	}
	svc := server.Service{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{
		"GetItem": principalEcho, "ListItems": unimplemented, "ReserveItem": unimplemented,
	}}
	srv, err := server.New([]server.Service{svc}, append([]server.Option{server.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestMCPStdioIsTheOperator checks that MCP without HTTP (stdio, in-memory) runs as the local
// operator: every tool is listed and callable with authentication on.
func TestMCPStdioIsTheOperator(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	srv := newDemoGoServer(t, server.WithAuth(authConfig(iss)))
	mcpSrv, err := srv.MCPServer("")
	if err != nil {
		t.Fatal(err)
	}
	ct, st := mcp.NewInMemoryTransports()
	ss, err := mcpSrv.Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	session, err := mcp.NewClient(&mcp.Implementation{Name: "stdio", Version: "v0"}, nil).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = session.Close() })
	list, err := session.ListTools(t.Context(), nil)
	if err != nil || len(list.Tools) != 3 {
		t.Fatalf("tools/list: %v, %d tools", err, len(list.Tools))
	}
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}})
	if err != nil || res.IsError || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, `"name":"local"`) {
		t.Fatalf("tools/call: %v %+v", err, res)
	}
}

// TestMCPSessionBoundToPrincipal checks that an MCP session opened by one principal cannot be
// used by another that learned its id.
func TestMCPSessionBoundToPrincipal(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	b := startGoService(t, principalEcho, server.WithAuth(authConfig(iss)))
	post := func(key, session, body string) (int, http.Header, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, b.httpURL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("X-Api-Key", key)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(data)
	}
	code, header, _ := post(readerKey, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`)
	session := header.Get("Mcp-Session-Id")
	if code != http.StatusOK || session == "" {
		t.Fatalf("initialize: %d, session %q", code, session)
	}
	post(readerKey, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if code, _, body := post(readerKey, session, list); code != http.StatusOK || !strings.Contains(body, "InventoryService_GetItem") {
		t.Fatalf("the owner's tools/list: %d %s", code, body)
	}
	if code, _, body := post(writerKey, session, list); code != http.StatusForbidden {
		t.Fatalf("another principal's tools/list on the session: %d %s", code, body)
	}
}

// TestAuthStreams checks that server-streaming calls stream through the authenticated HTTP
// listener (its response writer adds challenges to 401s and must still flush), and are refused
// without credentials.
func TestAuthStreams(t *testing.T) {
	t.Parallel()
	sd := loadShop(t, "")
	srv, err := server.New([]server.Service{shopService(t, sd, "v1")}, server.WithLogger(slog.New(slog.DiscardHandler)),
		server.WithAuth(server.AuthConfig{APIKeys: []server.APIKey{{ID: "reader", SHA256: sha256Hex(readerKey)}}}))
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, false, &counter{n: map[string]int{}}, &atomic.Int64{})
	msg := []byte(`{}`)
	envelope := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
	for _, c := range []struct {
		name, method, path, contentType string
		body                            []byte
	}{
		{"REST", http.MethodGet, "/v1/products:watch", "", nil},
		{"Connect", http.MethodPost, "/acme.shop.v1.ShopService/WatchProducts", "application/connect+json", envelope},
	} {
		for _, key := range []string{readerKey, ""} {
			t.Run(c.name+map[bool]string{true: " with a key", false: " without"}[key != ""], func(t *testing.T) {
				t.Parallel()
				req, _ := http.NewRequestWithContext(t.Context(), c.method, b.httpURL+c.path, bytes.NewReader(c.body))
				if c.contentType != "" {
					req.Header.Set("Content-Type", c.contentType)
				}
				if key != "" {
					req.Header.Set("X-Api-Key", key)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = resp.Body.Close() }()
				body, _ := io.ReadAll(resp.Body)
				streamed := strings.Contains(string(body), "P-1") && strings.Contains(string(body), "P-3")
				if key != "" && (resp.StatusCode != http.StatusOK || !streamed) {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
				if key == "" && (streamed || !strings.Contains(strings.ToLower(string(body)), "unauthenticated") && !strings.Contains(string(body), `"code":16`)) {
					t.Fatalf("%d %s", resp.StatusCode, body)
				}
			})
		}
	}
}

// TestCredentialsNeverLogged calls every surface with good and bad keys and tokens, with the
// server logging at debug level, and checks that no log line holds any of them.
func TestCredentialsNeverLogged(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	logs := new(lockedBuffer)
	b := startGoService(t, principalEcho, server.WithAuth(authConfig(iss)),
		server.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	good := iss.sign(t, iss.claims("agent-7", testAudience, inventoryRead), nil)
	wrongAud := iss.sign(t, iss.claims("agent-7", "https://other.example", inventoryRead), nil)
	secrets := []string{readerKey, readerKey + "x", scopelessKey, good, wrongAud}
	credentials := []map[string]string{
		{"X-Api-Key": readerKey}, {"X-Api-Key": readerKey + "x"}, {"X-Api-Key": scopelessKey},
		{"Authorization": "Bearer " + good}, {"Authorization": "Bearer " + wrongAud},
	}
	for _, s := range authSurfaces(b) {
		for _, h := range credentials {
			s.call(t, t.Context(), h)
		}
	}
	text := logs.String()
	if !strings.Contains(text, "serving HTTP") {
		t.Fatalf("the log was not captured: %s", text)
	}
	for _, secret := range secrets {
		if strings.Contains(text, secret) || strings.Contains(text, secret[len(secret)-16:]) {
			t.Errorf("a credential is in the log:\n%s", text)
		}
	}
}

// TestForgedTokensDoNotReachTheIssuer checks that tokens the issuer's keys do not verify do not
// each make the bridge fetch the keys again: a flood of forged tokens must not become a flood
// of requests to the issuer.
func TestForgedTokensDoNotReachTheIssuer(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	b := startGoService(t, principalEcho, server.WithAuth(authConfig(iss)))
	rest := authSurfaces(b)[4]
	if rest.name != "REST" {
		t.Fatalf("surface %s", rest.name)
	}
	good := iss.sign(t, iss.claims("agent-7", testAudience, inventoryRead), nil)
	if got := rest.call(t, t.Context(), map[string]string{"Authorization": "Bearer " + good}); got.principal != "agent-7" {
		t.Fatalf("a valid token: %+v", got)
	}
	for i := range 20 {
		forged := iss.sign(t, iss.claims(fmt.Sprintf("forger-%d", i), testAudience, inventoryRead), iss.other)
		if got := rest.call(t, t.Context(), map[string]string{"Authorization": "Bearer " + forged}); got.code != codes.Unauthenticated {
			t.Fatalf("a forged token: %+v", got)
		}
	}
	if n := iss.keyFetches.Load(); n != 1 {
		t.Errorf("the JWKS was fetched %d times, want once", n)
	}
}

// TestIssuerDown checks that while the issuer cannot be reached a token is Unavailable (try
// again later), not Unauthenticated (get a new token), and that the bridge does not ask the
// issuer again for every token.
func TestIssuerDown(t *testing.T) {
	t.Parallel()
	var discoveries atomic.Int64
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		discoveries.Add(1)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	b := startGoService(t, principalEcho, server.WithAuth(server.AuthConfig{OIDC: &server.OIDCConfig{Issuer: down.URL, Audience: testAudience}}))
	for _, s := range authSurfaces(b) {
		for range 3 {
			if got := s.call(t, t.Context(), map[string]string{"Authorization": "Bearer a.b.c"}); got.code != codes.Unavailable || !strings.Contains(got.message, "try again later") {
				t.Fatalf("%s: %+v", s.name, got)
			}
		}
	}
	if n := discoveries.Load(); n != 1 {
		t.Errorf("the issuer was asked %d times, want once", n)
	}
}
