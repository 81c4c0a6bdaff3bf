package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	"github.com/agentbridge/agentbridge/server"
)

// TestUnknownOutcomeOfStateChangingCalls: when a state-changing call fails after the backend
// may have received it (the connection is lost mid-call), the caller is told the call may have
// been carried out, not to try again later, which invited a duplicate reservation. A read-only
// call and a call that never left (connection refused) keep their retry advice.
func TestUnknownOutcomeOfStateChangingCalls(t *testing.T) {
	t.Parallel()
	// The backend reads the request, then drops the connection without a reply.
	lost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(lost.Close)
	for _, tt := range []struct {
		name, endpoint, restMethod, path, body, tool string
		args                                         map[string]any
		unknown                                      bool
	}{
		{"state-changing, connection lost", lost.URL + "/inventory", "POST", "/v1/items/G-100:reserve", `{"quantity":1}`, "InventoryService_ReserveItem", map[string]any{"sku": "G-100", "quantity": 1}, true},
		{"read-only, connection lost", lost.URL + "/inventory", "GET", "/v1/items/A-100", "", "InventoryService_GetItem", map[string]any{"sku": "A-100"}, false},
		{"state-changing, connection refused", "http://127.0.0.1:1/inventory", "POST", "/v1/items/G-100:reserve", `{"quantity":1}`, "InventoryService_ReserveItem", map[string]any{"sku": "G-100", "quantity": 1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := demo.InventoryConfig(tt.endpoint).Build(server.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			b := serve(t, srv, false, nil, nil)

			req, _ := http.NewRequestWithContext(t.Context(), tt.restMethod, b.httpURL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var st struct {
				Message string
				Details []struct {
					Metadata map[string]string
				}
			}
			_ = json.Unmarshal(data, &st)
			saysUnknown := strings.Contains(st.Message, "may have been carried out") && !strings.Contains(st.Message, "try again later")
			outcome := ""
			for _, d := range st.Details {
				if d.Metadata["outcome"] != "" {
					outcome = d.Metadata["outcome"]
				}
			}
			if saysUnknown != tt.unknown || (outcome == "unknown") != tt.unknown {
				t.Errorf("REST: HTTP %d %s; want outcome unknown: %v", resp.StatusCode, data, tt.unknown)
			}

			session := mcpSession(t, b.httpURL+"/mcp")
			res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: tt.tool, Arguments: tt.args})
			if err != nil {
				t.Fatal(err)
			}
			text := textOf(res)
			if !res.IsError || strings.Contains(text, "check its state") != tt.unknown || strings.Contains(text, "retrying later may succeed") == tt.unknown {
				t.Errorf("MCP result %q; want outcome unknown: %v", text, tt.unknown)
			}
		})
	}
}
