package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbridge/agentbridge/server"
)

// TestMCPProgress calls with a progress token: a slow unary call hears a heartbeat until the
// backend answers, a streaming tool reports each message it collects, and a call without a
// token hears nothing.
func TestMCPProgress(t *testing.T) {
	t.Parallel()
	srv, backend := newSlowServer(t, server.WithMCP(server.MCPOptions{MCPProtocolOptions: server.MCPProtocolOptions{ProgressInterval: 20 * time.Millisecond}}))
	notes := make(chan *mcp.ProgressNotificationParams, 1024)
	opts := &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
		notes <- req.Params
	}}
	sessions := bothTransports(t, srv, opts)
	for _, transport := range []string{"streamable HTTP", "stdio"} {
		session := sessions[transport]
		// The subtests share the backend's release and the notification channel, so they run
		// one after the other.
		t.Run(transport+"/unary heartbeat", func(t *testing.T) {
			params := &mcp.CallToolParams{Name: "GreeterService_SayHi", Arguments: map[string]any{}}
			params.SetProgressToken(transport + "-beat")
			result := make(chan *mcp.CallToolResult, 1)
			go func() {
				res, err := session.CallTool(t.Context(), params)
				if err != nil {
					t.Error(err)
				}
				result <- res
			}()
			receive(t, backend.started, "SayHi call")
			last := 0.0
			for range 3 {
				n := receive(t, notes, "heartbeat")
				if n.ProgressToken != transport+"-beat" || n.Progress <= last || !strings.Contains(n.Message, "waiting for the backend") {
					t.Errorf("heartbeat %+v after progress %v", n, last)
				}
				last = n.Progress
			}
			backend.release <- struct{}{}
			if res := receive(t, result, "result"); res == nil || res.IsError {
				t.Fatalf("result %+v", res)
			}
			drain(notes)
		})
		t.Run(transport+"/stream items", func(t *testing.T) {
			// Without a token first: had it sent anything, it would come before the second
			// call's notifications, which all carry the second call's token.
			if _, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "CountService_Count", Arguments: map[string]any{"upTo": 3}}); err != nil {
				t.Fatal(err)
			}
			params := &mcp.CallToolParams{Name: "CountService_Count", Arguments: map[string]any{"upTo": 5}}
			params.SetProgressToken(transport + "-items")
			if res, err := session.CallTool(t.Context(), params); err != nil || res.IsError {
				t.Fatalf("%v %+v", err, res)
			}
			for i := 1; i <= 5; i++ {
				n := receive(t, notes, "item progress")
				if n.ProgressToken != transport+"-items" || n.Progress != float64(i) || n.Total != 100 || n.Message != "collected "+itoa(i)+" of at most 100 messages" {
					t.Errorf("notification %d: %+v", i, n)
				}
			}
		})
	}
}

func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
