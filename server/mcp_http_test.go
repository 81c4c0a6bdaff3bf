package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbridge/agentbridge/server"
)

// TestMCPStatelessBehindRoundRobin serves two bridge replicas in stateless mode behind a
// reverse proxy that sends each request to the other replica, as a load balancer without
// sticky sessions may: every call and tools/list through it succeeds, with the sessionless
// protocol the go-sdk client speaks by default and with the initialize handshake of 2025-11-25.
func TestMCPStatelessBehindRoundRobin(t *testing.T) {
	t.Parallel()
	stateless := server.WithMCP(server.MCPOptions{MCPProtocolOptions: server.MCPProtocolOptions{Stateless: true}})
	var replicas []*url.URL
	var served [2]atomic.Int64
	for range 2 {
		srv, backend := newSlowServer(t, stateless)
		close(backend.release) // SayHi answers at once
		u, err := url.Parse(serveHTTP(t, srv))
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, u)
	}
	var next atomic.Int64
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := next.Add(1) % 2
			served[i].Add(1)
			r.SetURL(replicas[i])
			r.Out.Host = replicas[i].Host // the replicas answer loopback host names only
		},
		FlushInterval: -1, // pass server-sent events on at once
	})
	t.Cleanup(proxy.Close)

	for _, version := range []string{"", "2025-11-25"} {
		t.Run("protocol "+version, func(t *testing.T) {
			t.Parallel()
			progress := make(chan float64, 64)
			client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, &mcp.ClientOptions{
				ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) { progress <- req.Params.Progress },
			})
			session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: proxy.URL + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = session.Close() })
			for i := range 6 {
				tools, err := session.ListTools(t.Context(), nil)
				if err != nil || len(tools.Tools) != 3 {
					t.Fatalf("tools/list %d: %v %v", i, err, tools)
				}
				params := &mcp.CallToolParams{Name: "CountService_Count", Arguments: map[string]any{"upTo": i}}
				params.SetProgressToken(i)
				res, err := session.CallTool(t.Context(), params)
				if err != nil || res.IsError {
					t.Fatalf("call %d: %v %+v", i, err, res)
				}
				var out struct{ Items []any }
				data, _ := json.Marshal(res.StructuredContent)
				if json.Unmarshal(data, &out) != nil || len(out.Items) != i {
					t.Errorf("call %d: %s", i, data)
				}
				if res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "GreeterService_SayHi", Arguments: map[string]any{}}); err != nil || res.IsError {
					t.Fatalf("SayHi %d: %v %+v", i, err, res)
				}
			}
			// Each call's progress comes on its own response stream, through the proxy: one
			// notification per item, 0+1+...+5.
			for range 15 {
				receive(t, progress, "progress notification")
			}
		})
	}
	t.Cleanup(func() {
		if served[0].Load() == 0 || served[1].Load() == 0 {
			t.Errorf("the proxy sent %d and %d requests to the replicas; both should have served", served[0].Load(), served[1].Load())
		}
	})
}

// TestMCPSessionBound fills the session bound: the next initialize is refused with an error
// that says why, and succeeds once a session is closed.
func TestMCPSessionBound(t *testing.T) {
	t.Parallel()
	srv, _ := newSlowServer(t, server.WithMCP(server.MCPOptions{MCPProtocolOptions: server.MCPProtocolOptions{MaxSessions: 2}}))
	endpoint := serveHTTP(t, srv) + "/mcp"
	first := mcpSession(t, endpoint)
	mcpSession(t, endpoint)
	// The go-sdk client treats 503 as transient and reports only the status; the body, which
	// other clients show, says why.
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, nil)
	if _, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: endpoint}, nil); err == nil || !strings.Contains(err.Error(), "Service Unavailable") {
		t.Fatalf("a third session: %v, want refused", err)
	}
	raw := rawPost(t, endpoint, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	var refusal struct {
		ID    any `json:"id"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body := raw.body
	if err := json.Unmarshal(body, &refusal); err != nil || raw.status != http.StatusServiceUnavailable || raw.header.Get("Retry-After") == "" ||
		refusal.ID != 1.0 || refusal.Error.Code != -32000 || !strings.HasPrefix(refusal.Error.Message, "too many MCP sessions: the bridge serves at most 2 at a time (mcp.max_sessions)") {
		t.Errorf("a third initialize by hand: HTTP %d, Retry-After %q, %s", raw.status, raw.header.Get("Retry-After"), body)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// The server ends a closed session's connection in the background.
	connectWhenFree(t, endpoint)
}

// connectWhenFree connects to endpoint once the session bound lets it, polling until then.
func connectWhenFree(t *testing.T, endpoint string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, nil)
	deadline := time.Now().Add(waitLimit)
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for {
		s, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
		switch {
		case err == nil:
			t.Cleanup(func() { _ = s.Close() })
			return s
		case !strings.Contains(err.Error(), "Service Unavailable"):
			t.Fatalf("connect: %v", err)
		case time.Now().After(deadline):
			t.Fatalf("no free session within %s", waitLimit)
		}
		<-ticker.C
	}
}

// TestMCPIdleSessionsExpire bounds sessions to one with a short idle timeout: the idle session
// is closed by the timeout, which frees its place (the SDK's timer runs on real time, so the
// test waits for that, within a limit), and the client of the expired session is told.
func TestMCPIdleSessionsExpire(t *testing.T) {
	t.Parallel()
	srv, _ := newSlowServer(t, server.WithMCP(server.MCPOptions{MCPProtocolOptions: server.MCPProtocolOptions{MaxSessions: 1, SessionIdleTimeout: 200 * time.Millisecond}}))
	endpoint := serveHTTP(t, srv) + "/mcp"
	idle := mcpSession(t, endpoint)
	next := connectWhenFree(t, endpoint)
	if err := idle.Ping(t.Context(), nil); err == nil {
		t.Error("the expired session still answers")
	}
	if err := next.Ping(t.Context(), nil); err != nil {
		t.Errorf("the new session: %v", err)
	}
}

// TestMCPBatchesRefused posts JSON-RPC batches of calls by hand, with every protocol version
// header and none (which the SDK reads as 2025-03-26, whose batches it would run), with and
// without a session, stateful and stateless: each is refused whole, and no call reaches the
// backend.
func TestMCPBatchesRefused(t *testing.T) {
	t.Parallel()
	batch := `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"GreeterService_SayHi","arguments":{}}},` +
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"GreeterService_SayHi","arguments":{}}}]`
	for _, stateless := range []bool{false, true} {
		srv, backend := newSlowServer(t, server.WithMCP(server.MCPOptions{MCPProtocolOptions: server.MCPProtocolOptions{Stateless: stateless}}))
		close(backend.release)
		endpoint := serveHTTP(t, srv) + "/mcp"
		session := ""
		if !stateless {
			session = rawInitialize(t, endpoint)
		}
		for _, version := range []string{"", "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"} {
			for _, withSession := range []bool{false, true} {
				if withSession && stateless {
					continue
				}
				name := "stateful"
				if stateless {
					name = "stateless"
				}
				name += "/version " + version
				if withSession {
					name += "/in a session"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					var headers []string
					if version != "" {
						headers = []string{"Mcp-Protocol-Version", version}
					}
					sid := ""
					if withSession {
						sid = session
					}
					resp := rawPost(t, endpoint, sid, batch, headers...)
					body := resp.body
					var got struct {
						ID    any `json:"id"`
						Error struct {
							Code    int    `json:"code"`
							Message string `json:"message"`
						} `json:"error"`
					}
					if err := json.Unmarshal(body, &got); err != nil || resp.status != http.StatusBadRequest || got.Error.Code != -32600 || got.ID != nil ||
						!strings.Contains(got.Error.Message, "batches are not accepted") {
						t.Errorf("HTTP %d: %s", resp.status, body)
					}
				})
			}
		}
		t.Cleanup(func() { // after every subtest
			select {
			case <-backend.started:
				t.Error("a batched call reached the backend")
			default:
			}
		})
	}
}

// TestMCPHTTPErrorsHaveCodes sends what a confused or hostile client might: a call before
// initialize, a body that is not JSON, a message that is not JSON-RPC. Each gets a JSON-RPC
// error with a code JSON-RPC defines, where the SDK alone answers code 0 or plain text.
func TestMCPHTTPErrorsHaveCodes(t *testing.T) {
	t.Parallel()
	srv, _ := newSlowServer(t)
	endpoint := serveHTTP(t, srv) + "/mcp"
	for _, tc := range []struct {
		name, body string
		code       int
		id         any
		message    string
	}{
		{"tools/list before initialize", `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`, -32600, 5.0, "before initialize: send initialize first"},
		{"tools/call before initialize", `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"GreeterService_PingMe"}}`, -32600, "a", "before initialize"},
		{"not JSON", `{"jsonrpc":`, -32700, nil, "not valid JSON"},
		{"not JSON-RPC", `{"hello":"world"}`, -32600, nil, "not a JSON-RPC 2.0 message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := rawPost(t, endpoint, "", tc.body)
			body := resp.body
			var got struct {
				ID    any `json:"id"`
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &got); err != nil || resp.status != http.StatusBadRequest || got.Error.Code != tc.code || got.ID != tc.id ||
				!strings.Contains(got.Error.Message, tc.message) {
				t.Errorf("HTTP %d: %s", resp.status, body)
			}
		})
	}
	t.Run("ping before initialize is allowed", func(t *testing.T) {
		t.Parallel()
		resp := rawPost(t, endpoint, "", `{"jsonrpc":"2.0","id":9,"method":"ping"}`)
		if resp.status != http.StatusOK || !strings.Contains(string(resp.body), `"result":{}`) {
			t.Errorf("HTTP %d: %s", resp.status, resp.body)
		}
	})
}
