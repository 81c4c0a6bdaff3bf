//go:build unix

package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestBatchSurfaces runs the batch commands docs/batches.md shows against `agentbridge serve`
// and the batchsoap process: an NDJSON upload over REST with its download, a batch over gRPC
// with grpcurl, and one over MCP (SubmitBatch, then WatchBatch with a progress token, then
// ListBatchResults).
func TestBatchSurfaces(t *testing.T) {
	t.Parallel()
	grpcurl := grpcurlPath(t)
	peer := startBatchPeer(t, 0)
	bridge := startBridgeProc(t, batchConfig(t, t.TempDir(), peer, 8, 4))

	t.Run("REST", func(t *testing.T) {
		var out struct {
			Batch batchState `json:"batch"`
		}
		// curl -X POST '.../v1/batches?method=...' -H 'Content-Type: application/x-ndjson' --data-binary @reservations.ndjson
		httpJSON(t, "POST", bridge.url+"/v1/batches?method="+batchReserve, "application/x-ndjson",
			strings.NewReader("{\"sku\":\"A-100\",\"quantity\":1}\n{\"sku\":\"G-100\",\"quantity\":2,\"customerRef\":\"PO-1001\"}\n"), &out)
		done := waitBatchDone(t, bridge.url, out.Batch.ID, 30*time.Second)
		if done.Succeeded != "2" {
			t.Fatalf("%+v", done)
		}
		checkResults(t, bridge.url, out.Batch.ID, 2)
	})

	t.Run("gRPC", func(t *testing.T) {
		submit, err := exec.CommandContext(t.Context(), grpcurl, "-plaintext", "-d",
			`{"method":"`+batchReserve+`","jsonItems":["{\"sku\":\"A-100\",\"quantity\":1}","{\"sku\":\"B-200\",\"quantity\":1}"]}`,
			bridge.grpc(t), "agentbridge.v1.BatchService/SubmitBatch").CombinedOutput()
		if err != nil {
			t.Fatalf("grpcurl: %v\n%s", err, submit)
		}
		var out struct {
			Batch batchState `json:"batch"`
		}
		if err := json.Unmarshal(submit, &out); err != nil {
			t.Fatalf("%v: %s", err, submit)
		}
		watch, err := exec.CommandContext(t.Context(), grpcurl, "-plaintext", "-d", `{"id":"`+out.Batch.ID+`","interval":"0.1s"}`,
			bridge.grpc(t), "agentbridge.v1.BatchService/WatchBatch").CombinedOutput()
		if err != nil || !strings.Contains(string(watch), "BATCH_STATE_DONE") {
			t.Fatalf("watch: %v\n%s", err, watch)
		}
		list, err := exec.CommandContext(t.Context(), grpcurl, "-plaintext", "-d", `{"id":"`+out.Batch.ID+`"}`,
			bridge.grpc(t), "agentbridge.v1.BatchService/ListBatchResults").CombinedOutput()
		if err != nil || strings.Count(string(list), "BATCH_ITEM_STATE_SUCCEEDED") != 2 || !strings.Contains(string(list), "reservationId") {
			t.Fatalf("results: %v\n%s", err, list)
		}
	})

	t.Run("MCP", func(t *testing.T) {
		progress := make(chan *mcp.ProgressNotificationParams, 100)
		session, err := mcp.NewClient(&mcp.Implementation{Name: "batch", Version: "v0"}, &mcp.ClientOptions{
			ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) { progress <- req.Params },
		}).Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: bridge.url + "/mcp"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = session.Close() }()
		res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "batch_submit", Arguments: map[string]any{
			"method": batchReserve,
			"csv":    "sku,quantity,customerRef\nA-100,1,PO-2001\nG-100,2,PO-2002\n",
		}})
		if err != nil || res.IsError {
			t.Fatalf("SubmitBatch: %v %+v", err, res)
		}
		data, _ := json.Marshal(res.StructuredContent)
		var out struct {
			Batch batchState `json:"batch"`
		}
		_ = json.Unmarshal(data, &out)
		watch := &mcp.CallToolParams{Name: "batch_watch", Arguments: map[string]any{"id": out.Batch.ID}}
		watch.SetProgressToken("batch-progress")
		res, err = session.CallTool(t.Context(), watch)
		if err != nil || res.IsError {
			t.Fatalf("WatchBatch: %v %+v", err, res)
		}
		if data, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(data), "BATCH_STATE_DONE") {
			t.Fatalf("WatchBatch: %s", data)
		}
		res, err = session.CallTool(t.Context(), &mcp.CallToolParams{Name: "batch_results", Arguments: map[string]any{"id": out.Batch.ID}})
		if err != nil || res.IsError {
			t.Fatalf("ListBatchResults: %v %+v", err, res)
		}
		if data, _ := json.Marshal(res.StructuredContent); strings.Count(string(data), "BATCH_ITEM_STATE_SUCCEEDED") != 2 || !strings.Contains(string(data), `"line":"3"`) {
			t.Fatalf("ListBatchResults: %s", data)
		}
	})
}
