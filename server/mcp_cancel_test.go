package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbridge/agentbridge/server"
)

// TestMCPCancellation cancels a call while the backend works on it, with the go-sdk client
// (which sends notifications/cancelled and closes the call's request): the context that
// reached the implementation ends, also on a stateless server, where only the closed request
// can tell.
func TestMCPCancellation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		stateless bool
		version   string // the client's; "" for the latest
	}{{"stateful", false, ""}, {"stateless", true, ""}, {"stateless 2025-11-25", true, "2025-11-25"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, backend := newSlowServer(t, server.WithMCP(server.MCPOptions{MCPProtocolOptions: server.MCPProtocolOptions{Stateless: tc.stateless}}))
			client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, nil)
			httpSession, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: serveHTTP(t, srv) + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: tc.version})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = httpSession.Close() })
			sessions := map[string]*mcp.ClientSession{"streamable HTTP": httpSession}
			if !tc.stateless {
				sessions["stdio"] = stdioSession(t, srv, nil)
			}
			for transport, session := range sessions {
				ctx, cancel := context.WithCancel(t.Context())
				errc := make(chan error, 1)
				go func() {
					_, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "GreeterService_SayHi", Arguments: map[string]any{}})
					errc <- err
				}()
				receive(t, backend.started, transport+" SayHi call")
				cancel()
				if err := receive(t, backend.cancelled, transport+" cancellation at the backend"); !errors.Is(err, context.Canceled) {
					t.Errorf("%s: the backend's context ended with %v, want Canceled", transport, err)
				}
				if err := receive(t, errc, transport+" CallTool return"); !errors.Is(err, context.Canceled) {
					t.Errorf("%s: CallTool returned %v", transport, err)
				}
			}
		})
	}
}

// TestMCPCancelledCallGetsNoResponse sends notifications/cancelled by hand and reads what the
// server writes: the backend's context ends and no response to the call is written, over
// Streamable HTTP (the call's stream ends without one) and over stdio.
func TestMCPCancelledCallGetsNoResponse(t *testing.T) {
	t.Parallel()
	const call = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"GreeterService_SayHi","arguments":{}}}`
	const cancelIt = `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"the user gave up"}}`

	t.Run("streamable HTTP", func(t *testing.T) {
		t.Parallel()
		srv, backend := newSlowServer(t)
		endpoint := serveHTTP(t, srv) + "/mcp"
		session := rawInitialize(t, endpoint)
		// The call's response headers come with its first event, so it is posted aside.
		body := make(chan string, 1)
		go func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(call))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				body <- err.Error()
				return
			}
			data, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			body <- string(data)
		}()
		receive(t, backend.started, "SayHi call")
		if r := rawPost(t, endpoint, session, cancelIt); r.status != http.StatusAccepted {
			t.Fatalf("notifications/cancelled: HTTP %d", r.status)
		}
		if err := receive(t, backend.cancelled, "cancellation at the backend"); !errors.Is(err, context.Canceled) {
			t.Errorf("the backend's context ended with %v", err)
		}
		if got := receive(t, body, "end of the call's stream"); strings.Contains(got, `"id":7`) {
			t.Errorf("the cancelled call's stream carried a response:\n%s", got)
		}
	})

	t.Run("stdio", func(t *testing.T) {
		t.Parallel()
		dropped := make(chan struct{}, 1)
		log := slog.New(&recordHandler{match: "dropped the response to a cancelled call", seen: dropped})
		srv, backend := newSlowServer(t, server.WithLogger(log))
		wire := startStdio(t, srv)
		wire.initialize(t)
		wire.send(t, call)
		receive(t, backend.started, "SayHi call")
		wire.send(t, cancelIt)
		if err := receive(t, backend.cancelled, "cancellation at the backend"); !errors.Is(err, context.Canceled) {
			t.Errorf("the backend's context ended with %v", err)
		}
		receive(t, dropped, "the call's response reaching the transport")
		wire.send(t, `{"jsonrpc":"2.0","id":8,"method":"ping"}`)
		for {
			line := wire.next(t)
			if string(line.ID) == "7" {
				t.Fatalf("a response to the cancelled call: %s", line.raw)
			}
			if string(line.ID) == "8" {
				break
			}
		}
	})
}

// recordHandler is a slog handler that signals when a record with the message match arrives.
type recordHandler struct {
	match string
	seen  chan struct{}
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.match {
		select {
		case h.seen <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }
