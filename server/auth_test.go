package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
)

const (
	testAudience   = "https://bridge.example.com/mcp"
	readerKey      = "key-of-the-reader-agent-0123456789"
	writerKey      = "key-of-the-writer-agent-0123456789"
	scopelessKey   = "key-without-scopes-0123456789abcdef"
	inventoryRead  = "inventory.read"
	inventoryWrite = "inventory.write"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// authConfig accepts the test keys and the issuer's tokens; every InventoryService method needs
// inventory.read, and ReserveItem inventory.write too.
func authConfig(iss *testIssuer) server.AuthConfig {
	return server.AuthConfig{
		APIKeys: []server.APIKey{
			{ID: "reader", SHA256: sha256Hex(readerKey), Scopes: []string{inventoryRead}},
			{ID: "writer", SHA256: sha256Hex(writerKey), Scopes: []string{inventoryRead, inventoryWrite}},
			{ID: "scopeless", SHA256: sha256Hex(scopelessKey)},
		},
		OIDC: &server.OIDCConfig{Issuer: iss.url, Audience: testAudience},
		Scopes: map[string][]string{
			"agentbridge.demo.v1.InventoryService.*":           {inventoryRead},
			"agentbridge.demo.v1.InventoryService.ReserveItem": {inventoryRead, inventoryWrite},
		},
	}
}

// principalEcho answers GetItem with the caller's principal as the item's name, and fails when
// a credential reached it: the chain takes credentials out of the metadata once checked.
func principalEcho(ctx context.Context, req proto.Message) (proto.Message, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, k := range []string{"authorization", "x-api-key"} {
		if len(md[k]) > 0 {
			return nil, status.Errorf(codes.Internal, "the %s header reached the implementation", k)
		}
	}
	p := server.PrincipalFromContext(ctx)
	if p == nil {
		return nil, status.Error(codes.Internal, "no principal")
	}
	return &demov1.GetItemResponse{Item: &demov1.Item{Sku: req.(*demov1.GetItemRequest).GetSku(), Name: p.ID}}, nil
}

// authOutcome is what one call came to, whatever the surface: the principal on success, else
// the code and message.
type authOutcome struct {
	code      codes.Code
	principal string
	message   string
}

type authSurface struct {
	name string
	call func(t *testing.T, ctx context.Context, headers map[string]string) authOutcome
}

func outcomeOf(st *status.Status) authOutcome {
	return authOutcome{code: st.Code(), message: st.Message()}
}

// authSurfaces calls GetItem A-100 with headers on every surface.
func authSurfaces(b *bridge) []authSurface {
	grpcCall := func(addr string) func(t *testing.T, ctx context.Context, h map[string]string) authOutcome {
		return func(t *testing.T, ctx context.Context, h map[string]string) authOutcome {
			for k, v := range h {
				ctx = metadata.AppendToOutgoingContext(ctx, strings.ToLower(k), v)
			}
			resp, err := grpcClient(t, addr).GetItem(ctx, &demov1.GetItemRequest{Sku: "A-100"})
			if err != nil {
				return outcomeOf(status.Convert(err))
			}
			return authOutcome{principal: resp.GetItem().GetName()}
		}
	}
	connectCall := func(opts ...connect.ClientOption) func(t *testing.T, ctx context.Context, h map[string]string) authOutcome {
		return func(t *testing.T, ctx context.Context, h map[string]string) authOutcome {
			client := demov1connect.NewInventoryServiceClient(h2cClient(), b.httpURL, opts...)
			req := connect.NewRequest(&demov1.GetItemRequest{Sku: "A-100"})
			for k, v := range h {
				req.Header().Set(k, v)
			}
			resp, err := client.GetItem(ctx, req)
			if err != nil {
				return outcomeOf(connectStatus(t, err))
			}
			return authOutcome{principal: resp.Msg.GetItem().GetName()}
		}
	}
	return []authSurface{
		{"gRPC listener", grpcCall(b.grpcAddr)},
		{"gRPC on the HTTP listener", grpcCall(strings.TrimPrefix(b.httpURL, "http://"))},
		{"Connect", connectCall()},
		{"gRPC-Web", connectCall(connect.WithGRPCWeb())},
		{"REST", func(t *testing.T, ctx context.Context, h map[string]string) authOutcome {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.httpURL+"/v1/items/A-100", nil)
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				checkChallenge(t, resp)
				return outcomeOf(restStatus(t, body))
			}
			var out demov1.GetItemResponse
			if err := jsonUnmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			return authOutcome{principal: out.GetItem().GetName()}
		}},
		{"MCP", func(t *testing.T, ctx context.Context, h map[string]string) authOutcome {
			if st := mcpRefusal(t, ctx, b.httpURL+"/mcp", h); st != nil {
				return outcomeOf(st)
			}
			session := mcpSessionWith(t, ctx, b.httpURL+"/mcp", h)
			res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}})
			if err != nil {
				t.Fatal(err)
			}
			text := res.Content[0].(*mcp.TextContent).Text
			if res.IsError {
				return toolOutcome(text)
			}
			var out struct{ Item struct{ Name string } }
			if err := json.Unmarshal([]byte(text), &out); err != nil {
				t.Fatal(err)
			}
			return authOutcome{principal: out.Item.Name}
		}},
	}
}

// checkChallenge asserts that a 401 says how to authenticate.
func checkChallenge(t *testing.T, resp *http.Response) {
	t.Helper()
	if c := resp.Header.Get("WWW-Authenticate"); resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(c, `Bearer realm="agentbridge", resource_metadata="http`) {
		t.Errorf("401 challenge %q, want Bearer with resource_metadata", c)
	}
}

// mcpRefusal sends initialize over HTTP and returns the status of a refusal (401/403), or nil
// when the server let the request in.
func mcpRefusal(t *testing.T, ctx context.Context, url string, h map[string]string) *status.Status {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `resource_metadata="`) {
			t.Errorf("MCP 401 challenge %q has no resource_metadata", c)
		}
	}
	return restStatus(t, data)
}

type headerTransport struct {
	h    map[string]string
	next http.RoundTripper
}

func (ht headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range ht.h {
		r.Header.Set(k, v)
	}
	return ht.next.RoundTrip(r)
}

func mcpSessionWith(t *testing.T, ctx context.Context, url string, h map[string]string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "auth-test", Version: "v0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   url,
		HTTPClient: &http.Client{Transport: headerTransport{h: h, next: http.DefaultTransport}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = session.Close() })
	return session
}

// toolOutcome reads a tool error: "Code: message\nhint".
func toolOutcome(text string) authOutcome {
	name, msg, _ := strings.Cut(text, ": ")
	msg, _, _ = strings.Cut(msg, "\n")
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return authOutcome{code: c, message: msg}
		}
	}
	return authOutcome{code: codes.Unknown, message: text}
}

func jsonUnmarshal(data []byte, m proto.Message) error { return protojson.Unmarshal(data, m) }

// TestAuthMatrix calls one method with each kind of credential, good and bad, on every surface
// (gRPC on both listeners, Connect, gRPC-Web, REST, MCP over HTTP) against a real OIDC issuer
// and checks that every surface comes to the same outcome, that messages never repeat the
// credential, and that no credential reaches the implementation.
func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	b := startGoService(t, principalEcho, server.WithAuth(authConfig(iss)))

	good := iss.claims("agent-7", testAudience, "inventory.read profile")
	expired := iss.claims("agent-7", testAudience, inventoryRead)
	expired["exp"] = expired["iat"].(int64) - 600
	expired["iat"] = expired["iat"].(int64) - 1200
	wrongAud := iss.claims("agent-7", "https://other.example.com/mcp", inventoryRead)
	wrongIss := iss.claims("agent-7", testAudience, inventoryRead)
	wrongIss["iss"] = "https://issuer.evil.example"
	goodToken := iss.sign(t, good, nil)
	parts := strings.Split(goodToken, ".")
	// The payload of another valid token under the good token's signature.
	elevated := iss.sign(t, iss.claims("agent-7", testAudience, "inventory.read inventory.write admin"), nil)
	tampered := parts[0] + "." + strings.Split(elevated, ".")[1] + "." + parts[2]

	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	cases := []struct {
		name      string
		headers   map[string]string
		code      codes.Code
		principal string
	}{
		{"no credentials", nil, codes.Unauthenticated, ""},
		{"API key", map[string]string{"X-Api-Key": readerKey}, codes.OK, "reader"},
		{"wrong API key", map[string]string{"X-Api-Key": readerKey + "x"}, codes.Unauthenticated, ""},
		{"API key without the scope", map[string]string{"X-Api-Key": scopelessKey}, codes.PermissionDenied, ""},
		{"valid token", bearer(goodToken), codes.OK, "agent-7"},
		{"token without the scope", bearer(iss.sign(t, iss.claims("agent-8", testAudience, "profile"), nil)), codes.PermissionDenied, ""},
		{"token with scp list", bearer(iss.sign(t, map[string]any{"iss": iss.url, "sub": "agent-9", "aud": testAudience, "scp": []string{inventoryRead}, "exp": good["exp"]}, nil)), codes.OK, "agent-9"},
		{"expired token", bearer(iss.sign(t, expired, nil)), codes.Unauthenticated, ""},
		{"wrong audience", bearer(iss.sign(t, wrongAud, nil)), codes.Unauthenticated, ""},
		{"wrong issuer", bearer(iss.sign(t, wrongIss, nil)), codes.Unauthenticated, ""},
		{"tampered token", bearer(tampered), codes.Unauthenticated, ""},
		{"token signed by an unpublished key", bearer(iss.sign(t, good, iss.other)), codes.Unauthenticated, ""},
		{"not a JWT", bearer("not-a-jwt"), codes.Unauthenticated, ""},
		{"Basic credentials", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, codes.Unauthenticated, ""},
	}
	surfaces := authSurfaces(b)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range surfaces {
				t.Run(s.name, func(t *testing.T) {
					got := s.call(t, t.Context(), c.headers)
					if got.code != c.code || got.principal != c.principal {
						t.Fatalf("got %v %q (principal %q), want %v (principal %q)", got.code, got.message, got.principal, c.code, c.principal)
					}
					for _, v := range c.headers {
						if _, secret, _ := strings.Cut(v, " "); len(v) > 12 && (strings.Contains(got.message, v) || (secret != "" && strings.Contains(got.message, secret))) {
							t.Errorf("the message repeats the credential: %s", got.message)
						}
					}
					switch got.code {
					case codes.Unauthenticated:
						if !strings.Contains(got.message, "send ") && !strings.Contains(got.message, "get a new one") {
							t.Errorf("message %q does not say what to send", got.message)
						}
					case codes.PermissionDenied:
						if !strings.Contains(got.message, inventoryRead) {
							t.Errorf("message %q does not name the missing scope", got.message)
						}
					}
				})
			}
		})
	}
}
