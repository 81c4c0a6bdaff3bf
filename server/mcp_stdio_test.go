package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/server"
)

// TestMCPStdioSurvivesBadLines writes what a broken or hostile host might to the stdio
// transport: each line gets the JSON-RPC error that names its fault, with the request's id
// where it has one, and the session goes on to initialize and serve tools.
func TestMCPStdioSurvivesBadLines(t *testing.T) {
	t.Parallel()
	srv, _ := newSlowServer(t)
	wire := startStdio(t, srv)
	// The lines go down one connection in order, so the cases run one after the other.
	for _, tc := range []struct {
		name, line string
		code       int
		id         string // the response's id as JSON
		message    string
	}{
		{"not JSON", `this is not json`, -32700, "null", "not valid JSON"},
		{"cut off", `{"jsonrpc":"2.0","id":1,"method":"ping"`, -32700, "null", "not valid JSON"},
		{"not UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"params\":{\"x\":\"\xff\xfe\"}}", -32700, "null", "not valid UTF-8"},
		{"batch", `[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","id":4,"method":"ping"}]`, -32600, "null", "batches are not accepted"},
		{"not an object", `42`, -32600, "null", "not a JSON-RPC 2.0 message"},
		{"wrong version", `{"jsonrpc":"1.0","id":5,"method":"ping"}`, -32600, "5", "not a JSON-RPC 2.0 message"},
		{"tools/list before initialize", `{"jsonrpc":"2.0","id":6,"method":"tools/list"}`, -32600, "6", "send initialize first"},
		{"tools/call before initialize", `{"jsonrpc":"2.0","id":"seven","method":"tools/call","params":{"name":"GreeterService_PingMe","arguments":{}}}`, -32600, `"seven"`, "send initialize first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire.send(t, tc.line)
			got := wire.next(t)
			if got.Error == nil || got.Error.Code != tc.code || string(got.ID) != tc.id || !strings.Contains(got.Error.Message, tc.message) {
				t.Errorf("got %s, want code %d, id %s, message with %q", got.raw, tc.code, tc.id, tc.message)
			}
		})
	}
	t.Run("the session goes on", func(t *testing.T) {
		wire.send(t, "") // blank lines are skipped, not answered
		wire.initialize(t)
		wire.send(t, `{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"GreeterService_PingMe","arguments":{}}}`)
		got := wire.next(t)
		var result struct {
			IsError bool `json:"isError"`
		}
		if string(got.ID) != "10" || got.Error != nil || json.Unmarshal(got.Result, &result) != nil || result.IsError {
			t.Errorf("tools/call after the bad lines: %s", got.raw)
		}
	})
}

// TestMCPStdioBoundsLines sends a line over the body bound: it is answered, not kept, and the
// session goes on.
func TestMCPStdioBoundsLines(t *testing.T) {
	t.Parallel()
	srv, _ := newSlowServer(t, server.WithMaxBodyBytes(1<<10))
	wire := startStdio(t, srv)
	wire.send(t, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"`+strings.Repeat("x", 4<<10)+`"}}`)
	if got := wire.next(t); got.Error == nil || got.Error.Code != -32600 || !strings.Contains(got.Error.Message, "longer than 1024 bytes") {
		t.Errorf("an over-long line: %s", got.raw)
	}
	wire.send(t, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if got := wire.next(t); string(got.ID) != "2" || got.Error != nil {
		t.Errorf("ping after the long line: %s", got.raw)
	}
}
