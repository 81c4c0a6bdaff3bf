//go:build unix

package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	"github.com/agentbridge/agentbridge/server"
)

// TestBatchDemo runs the README's batch commands against the demo (its legacy system, with
// the batches: section the demo adds): an NDJSON upload over REST, then GetBatch and the NDJSON
// download; and over MCP, batch_submit then batch_watch.
func TestBatchDemo(t *testing.T) {
	t.Parallel()
	legacy := httptest.NewServer(demo.NewLegacy(nil))
	t.Cleanup(legacy.Close)
	cfg := demo.InventoryConfig(legacy.URL + "/inventory")
	// The demo's batches: section (kept in memory, as the demo keeps everything).
	cfg.Store = server.StoreConfig{Engine: server.StoreMemory}
	cfg.Batches = &server.BatchesConfig{MaxItems: 10000}
	cfg.Audit.Sink = "off"
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)

	// curl -s -X POST 'http://127.0.0.1:8080/v1/batches?method=agentbridge.demo.v1.InventoryService/ReserveItem' \
	//   -H 'Content-Type: application/x-ndjson' --data-binary @reservations.ndjson
	var out struct {
		Batch batchState `json:"batch"`
	}
	httpJSON(t, "POST", h.URL+"/v1/batches?method=agentbridge.demo.v1.InventoryService/ReserveItem", "application/x-ndjson",
		strings.NewReader("{\"sku\":\"A-100\",\"quantity\":1}\n{\"sku\":\"G-100\",\"quantity\":2,\"customerRef\":\"PO-1001\"}\n{\"sku\":\"Q-000\",\"quantity\":1}\n"), &out)
	// curl -s http://127.0.0.1:8080/v1/batches/$ID
	done := waitBatchDone(t, h.URL, out.Batch.ID, 30*time.Second)
	if done.State != "BATCH_STATE_DONE" || done.Succeeded != "2" || done.Failed != "1" {
		t.Fatalf("%+v", done)
	}
	// curl -s http://127.0.0.1:8080/v1/batches/$ID/results.ndjson
	code, body := get(t, h.URL+"/v1/batches/"+out.Batch.ID+"/results.ndjson")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if code != 200 || len(lines) != 3 || !strings.Contains(lines[0], "reservationId") || !strings.Contains(lines[2], `unknown SKU \"Q-000\"`) {
		t.Fatalf("%d %s", code, body)
	}

	session, err := mcp.NewClient(&mcp.Implementation{Name: "demo", Version: "v0"}, nil).Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: h.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = session.Close() }()
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "batch_submit", Arguments: map[string]any{
		"method": "agentbridge.demo.v1.InventoryService/ReserveItem",
		"items":  []any{map[string]any{"sku": "A-100", "quantity": 1}, map[string]any{"sku": "G-200", "quantity": 1}},
	}})
	if err != nil || res.IsError {
		t.Fatalf("SubmitBatch: %v %+v", err, res)
	}
	data, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(data, &out)
	res, err = session.CallTool(t.Context(), &mcp.CallToolParams{Name: "batch_watch", Arguments: map[string]any{"id": out.Batch.ID}})
	if err != nil || res.IsError {
		t.Fatalf("WatchBatch: %v %+v", err, res)
	}
	if data, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(data), `"succeeded":"2"`) {
		t.Fatalf("WatchBatch: %s", data)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
