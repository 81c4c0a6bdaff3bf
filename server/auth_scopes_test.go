package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// vaultProto declares scopes in the contract: Read needs one of two, Write needs both of two,
// Open none (the config gives it one), List none at all.
const vaultProto = `syntax = "proto3";
package acme.vault.v1;
import "agentbridge/v1/auth.proto";
// A vault.
service VaultService {
  // Read a secret.
  rpc Read(Req) returns (Resp) { option (agentbridge.v1.scopes) = {any: ["vault.read", "vault.admin"]}; }
  // Write a secret.
  rpc Write(Req) returns (Resp) { option (agentbridge.v1.scopes) = {all: ["vault.read", "vault.write"]}; }
  // Open the vault.
  rpc Open(Req) returns (Resp) { option (agentbridge.v1.scopes) = {any: ["vault.read"]}; }
  // List the vault.
  rpc List(Req) returns (Resp);
}
// Which.
message Req { string id = 1; }
// What.
message Resp { string id = 1; }
`

func startVault(t *testing.T) *bridge {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vault.proto"), []byte(vaultProto), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := contract.Load(t.Context(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{"vault.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.vault.v1.VaultService")
	if err != nil {
		t.Fatal(err)
	}
	methods := map[protoreflect.Name]adapters.Unary{}
	for _, name := range []protoreflect.Name{"Read", "Write", "Open", "List"} {
		out := adapters.MessageType(sd.Methods().ByName(name).Output())
		methods[name] = func(context.Context, proto.Message) (proto.Message, error) { return out.New().Interface(), nil }
	}
	key := func(id string, scopes ...string) server.APIKey {
		return server.APIKey{ID: id, SHA256: sha256Hex("key-" + id), Scopes: scopes}
	}
	srv, err := server.New([]server.Service{{Desc: sd, Methods: methods}},
		server.WithLogger(slog.New(slog.DiscardHandler)),
		server.WithAuth(server.AuthConfig{
			APIKeys: []server.APIKey{
				key("none"), key("reader", "vault.read"), key("admin", "vault.admin"),
				key("writer", "vault.read", "vault.write"), key("opener", "vault.open"),
			},
			// The config overrides the contract: Open needs vault.open, not vault.read.
			Scopes: map[string][]string{"acme.vault.v1.VaultService.Open": {"vault.open"}},
		}))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, false, &counter{n: map[string]int{}}, &atomic.Int64{})
}

// TestScopes checks each method's scopes, from the contract's option and the config, on Connect
// and in MCP (tools/list shows a caller only what it may call; tools/call refuses the rest), and
// that a refusal names the scope to ask for.
func TestScopes(t *testing.T) {
	t.Parallel()
	b := startVault(t)
	allowed := map[string][]string{
		"none":   {"List"},
		"reader": {"List", "Read"},
		"admin":  {"List", "Read"},
		"writer": {"List", "Read", "Write"},
		"opener": {"List", "Open"},
	}
	missing := map[string]string{"Read": "vault.read or vault.admin", "Write": "vault.write", "Open": "vault.open"}
	for id, want := range allowed {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			h := map[string]string{"X-Api-Key": "key-" + id}
			for _, m := range []string{"Read", "Write", "Open", "List"} {
				code, body := postConnectJSON(t, b.httpURL+"/acme.vault.v1.VaultService/"+m, h)
				if may := slices.Contains(want, m); may != (code == http.StatusOK) {
					t.Errorf("Connect %s: %d %s", m, code, body)
				} else if !may && (code != http.StatusForbidden || !strings.Contains(body, missing[m])) {
					t.Errorf("Connect %s: %d %s, want 403 naming %s", m, code, body, missing[m])
				}
			}
			session := mcpSessionWith(t, t.Context(), b.httpURL+"/mcp", h)
			list, err := session.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, tool := range list.Tools {
				listed = append(listed, strings.TrimPrefix(tool.Name, "VaultService_"))
			}
			slices.Sort(listed)
			if !slices.Equal(listed, want) {
				t.Errorf("tools/list shows %v, want %v", listed, want)
			}
			if !slices.Contains(want, "Write") {
				res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "VaultService_Write", Arguments: map[string]any{}})
				if err != nil {
					t.Fatal(err)
				}
				if got := toolOutcome(res.Content[0].(*mcp.TextContent).Text); got.code != codes.PermissionDenied || !strings.Contains(got.message, "vault.write") {
					t.Errorf("tools/call of a hidden tool: %v %s", got.code, got.message)
				}
			}
		})
	}
}

func postConnectJSON(t *testing.T, url string, h map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
