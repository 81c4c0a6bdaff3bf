package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMCPAnswerOnlyNotFlushed checks that the SSE stream of a call that can carry nothing but
// its answer is written when the call ends, not flushed event by event, and that a call with a
// progress token, whose notifications must reach the client as they happen, is still flushed.
func TestMCPAnswerOnlyNotFlushed(t *testing.T) {
	t.Parallel()
	h := newGoInventory(t).Handler()
	post := func(session, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", strings.NewReader(body))
		req.Host = "127.0.0.1"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code/100 != 2 {
			t.Fatalf("%s: %d %s", body, rec.Code, rec.Body)
		}
		return rec
	}
	init := post("", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"v0"}}}`)
	session := init.Header().Get("Mcp-Session-Id")
	if session == "" {
		t.Fatalf("initialize: no session: %s", init.Body)
	}
	post(session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	for _, tt := range []struct {
		name, body string
		flushed    bool
	}{
		{"tools/call", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"InventoryService_GetItem","arguments":{"sku":"A-100"}}}`, false},
		{"tools/list", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, false},
		{"tools/call with a progress token", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"InventoryService_GetItem","arguments":{"sku":"A-100"},"_meta":{"progressToken":"p"}}}`, true},
	} {
		rec := post(session, tt.body)
		if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("%s: Content-Type %q", tt.name, ct)
		}
		if body := rec.Body.String(); !strings.HasPrefix(body, "event: message\n") || !strings.Contains(body, `"result":`) {
			t.Errorf("%s: body %q", tt.name, body)
		}
		if rec.Flushed != tt.flushed {
			t.Errorf("%s: flushed %v, want %v", tt.name, rec.Flushed, tt.flushed)
		}
	}
}
