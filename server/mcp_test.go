package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server"
)

func mcpSession(t *testing.T, endpoint string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, nil)
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = session.Close() })
	return session
}

func textOf(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestMCPToolsList(t *testing.T) {
	t.Parallel()
	b := startBridge(t, false)
	session := mcpSession(t, b.httpURL+"/mcp")
	res, err := session.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*mcp.Tool{}
	for _, tool := range res.Tools {
		byName[tool.Name] = tool
		if tool.Description == "" {
			t.Errorf("tool %s has no description", tool.Name)
		}
		for _, schema := range []any{tool.InputSchema, tool.OutputSchema} {
			m, _ := schema.(map[string]any)
			if m["type"] != "object" {
				t.Errorf("tool %s: schema root type %v, want object", tool.Name, m["type"])
			}
		}
	}
	for _, name := range []string{"InventoryService_GetItem", "InventoryService_ListItems", "InventoryService_ReserveItem"} {
		if byName[name] == nil {
			t.Fatalf("no tool %s in %v", name, res.Tools)
		}
	}
	get, reserve := byName["InventoryService_GetItem"], byName["InventoryService_ReserveItem"]
	if !get.Annotations.ReadOnlyHint || !get.Annotations.IdempotentHint || get.Annotations.OpenWorldHint == nil || !*get.Annotations.OpenWorldHint {
		t.Errorf("GetItem annotations %+v: NO_SIDE_EFFECTS should be read-only and idempotent, open world", get.Annotations)
	}
	if reserve.Annotations.ReadOnlyHint || reserve.Annotations.DestructiveHint == nil || *reserve.Annotations.DestructiveHint {
		t.Errorf("ReserveItem annotations %+v: should be neither read-only nor destructive", reserve.Annotations)
	}
	if !strings.HasPrefix(get.Description, "GetItem returns one stock item") {
		t.Errorf("GetItem description %q does not come from the proto comment", get.Description)
	}
	props := get.InputSchema.(map[string]any)["properties"].(map[string]any)
	if sku, _ := props["sku"].(map[string]any); !strings.Contains(sku["description"].(string), "SKU of the item") {
		t.Errorf("sku has description %v", sku["description"])
	}
}

func TestMCPToolsCall(t *testing.T) {
	t.Parallel()
	b := startBridge(t, false)
	session := mcpSession(t, b.httpURL+"/mcp")

	t.Run("result matches REST", func(t *testing.T) {
		before := b.calls.get("/agentbridge.demo.v1.InventoryService/GetItem mcp")
		res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.IsError {
			t.Fatalf("isError: %s", textOf(res))
		}
		if got := b.calls.get("/agentbridge.demo.v1.InventoryService/GetItem mcp") - before; got != 1 {
			t.Errorf("the chain saw %d MCP calls, want 1", got)
		}
		structured, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		var fromMCP demov1.GetItemResponse
		if err := protojson.Unmarshal(structured, &fromMCP); err != nil {
			t.Fatalf("structuredContent %s: %v", structured, err)
		}
		var fromText demov1.GetItemResponse
		if err := protojson.Unmarshal([]byte(textOf(res)), &fromText); err != nil {
			t.Fatalf("text content: %v", err)
		}
		fromREST, st := restGet(t, t.Context(), b.httpURL+"/v1/items/A-100")
		if st != nil {
			t.Fatal(st.Err())
		}
		if !proto.Equal(&fromMCP, fromREST) || !proto.Equal(&fromText, fromREST) {
			t.Errorf("MCP %v / text %v, REST %v", &fromMCP, &fromText, fromREST)
		}
	})

	tests := []struct {
		name string
		tool string
		args map[string]any
		want []string // substrings of the error text
	}{
		{"wrong type", "InventoryService_ReserveItem", map[string]any{"sku": "A-100", "quantity": "many"}, []string{"InvalidArgument", "quantity"}},
		{"unknown field", "InventoryService_ReserveItem", map[string]any{"sku": "A-100", "quantity": 1, "qty": 2}, []string{"InvalidArgument", "qty"}},
		{"breaks a buf.validate rule", "InventoryService_ReserveItem", map[string]any{"sku": "A-100", "quantity": 5000}, []string{"InvalidArgument", "quantity: must be greater than 0 and less than or equal to 1000 [int32.gt_lte]", "Change the arguments"}},
		{"pattern", "InventoryService_GetItem", map[string]any{"sku": "a100"}, []string{"InvalidArgument", "sku"}},
		{"SOAP client fault", "InventoryService_ReserveItem", map[string]any{"sku": "A-100", "quantity": 900}, []string{"InvalidArgument", "insufficient stock", "SOAP_CLIENT_FAULT", "the fault may lie in how the bridge maps them"}},
		{"SOAP server fault", "InventoryService_GetItem", map[string]any{"sku": "Z-999"}, []string{"Internal", "warehouse database unavailable", "SOAP_SERVER_FAULT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backendBefore := b.backendCalls.Load()
			res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: tt.tool, Arguments: tt.args})
			if err != nil {
				t.Fatalf("a JSON-RPC error for a tool failure: %v", err)
			}
			if !res.IsError {
				t.Fatalf("not isError: %s", textOf(res))
			}
			for _, w := range tt.want {
				if !strings.Contains(textOf(res), w) {
					t.Errorf("error text %q lacks %q", textOf(res), w)
				}
			}
			invalid := tt.want[0] == "InvalidArgument" && !strings.Contains(tt.name, "SOAP")
			if invalid && b.backendCalls.Load() != backendBefore {
				t.Error("invalid arguments reached the backend")
			}
		})
	}

	t.Run("unknown tool is a JSON-RPC error", func(t *testing.T) {
		_, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "NoSuchTool", Arguments: map[string]any{}})
		if err == nil {
			t.Fatal("no error for an unknown tool")
		}
	})
}

func TestMCPToolsetsAndOrigins(t *testing.T) {
	t.Parallel()
	b := startBridge(t, false, server.WithMCP(server.MCPOptions{
		Toolsets: map[string]server.Toolset{
			"readonly": {Include: []string{"agentbridge.demo.v1.InventoryService.*"}, Exclude: []string{"*.ReserveItem"}},
		},
		AllowedOrigins: []string{"https://agents.example.com"},
	}))
	res, err := mcpSession(t, b.httpURL+"/mcp/readonly").ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	if strings.Join(names, ",") != "InventoryService_GetItem,InventoryService_ListItems" {
		t.Errorf("toolset readonly lists %v", names)
	}

	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`
	for _, tc := range []struct {
		path, origin string
		want         int
	}{
		{"/mcp", "http://evil.example", http.StatusForbidden},
		{"/mcp", "http://localhost:3000", http.StatusOK},
		{"/mcp", "https://agents.example.com", http.StatusOK},
		{"/mcp/nope", "", http.StatusNotFound},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, b.httpURL+tc.path, strings.NewReader(init))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s with Origin %q: HTTP %d, want %d", tc.path, tc.origin, resp.StatusCode, tc.want)
		}
	}
}

// TestMCPEveryToolAndFieldIsDescribed fails when a served tool, or any property of its input or
// output schema (nested and $defs included), has no description: agents pick tools and fill
// arguments from these texts, which come from the proto comments.
func TestMCPEveryToolAndFieldIsDescribed(t *testing.T) {
	t.Parallel()
	b := startBridge(t, false)
	counter, _ := startCounter(t)
	for _, endpoint := range []string{b.httpURL + "/mcp", counter.httpURL + "/mcp"} {
		res, err := mcpSession(t, endpoint).ListTools(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tool := range res.Tools {
			if strings.TrimSpace(tool.Description) == "" {
				t.Errorf("tool %s has no description", tool.Name)
			}
			for which, schema := range map[string]any{"input": tool.InputSchema, "output": tool.OutputSchema} {
				for _, path := range undescribed(schema, "#") {
					t.Errorf("tool %s %s schema: %s has no description", tool.Name, which, path)
				}
			}
		}
	}
}

// undescribed lists the properties below a schema that have no description.
func undescribed(schema any, path string) []string {
	var out []string
	switch s := schema.(type) {
	case map[string]any:
		if props, ok := s["properties"].(map[string]any); ok {
			for name, p := range props {
				if ps, ok := p.(map[string]any); ok && ps["description"] == nil {
					out = append(out, path+"/properties/"+name)
				}
			}
		}
		for k, v := range s {
			out = append(out, undescribed(v, path+"/"+k)...)
		}
	case []any:
		for i, v := range s {
			out = append(out, undescribed(v, fmt.Sprintf("%s/%d", path, i))...)
		}
	}
	return out
}

// TestMCPBodyIsBounded sends an MCP request larger than the server's body bound.
func TestMCPBodyIsBounded(t *testing.T) {
	t.Parallel()
	b := startBridge(t, false, server.WithMaxBodyBytes(4<<10))
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"` +
		strings.Repeat("x", 8<<10) + `","version":"0"}}}`
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, b.httpURL+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("an 8 KiB request against a 4 KiB bound: HTTP %d, want 413", resp.StatusCode)
	}
}
