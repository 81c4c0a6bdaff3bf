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

func TestMCPEventResources(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	b.post(t, "e0", "stock.changed", "A", 1)
	updated := make(chan string, 16)
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) { updated <- req.Params.URI },
	})
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: b.httpURL + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = session.Close() }()
	uris := resourceURIs(t, session)
	for _, want := range []string{server.EventsResourcePrefix + "orders", server.EventsResourcePrefix + "stock"} {
		if !strings.Contains(strings.Join(uris, " "), want) {
			t.Fatalf("resources %v lack %s", uris, want)
		}
	}
	tmpl, err := session.ListResourceTemplates(t.Context(), nil)
	if err != nil || len(tmpl.ResourceTemplates) != 1 || tmpl.ResourceTemplates[0].URITemplate != server.EventsResourceTemplate {
		t.Fatalf("templates %+v %v", tmpl, err)
	}
	const stock = server.EventsResourcePrefix + "stock"
	type page struct {
		Events []struct {
			ID     string         `json:"id"`
			Cursor string         `json:"cursor"`
			Data   map[string]any `json:"data"`
		} `json:"events"`
		NextCursor string `json:"nextCursor"`
	}
	read := func(uri string) page {
		t.Helper()
		text, err := readText(t, session, uri)
		if err != nil {
			t.Fatalf("read %s: %v", uri, err)
		}
		var p page
		if err := json.Unmarshal([]byte(text), &p); err != nil {
			t.Fatalf("read %s: %q: %v", uri, text, err)
		}
		return p
	}
	// A plain read gives what the session has not read yet, then nothing.
	p := read(stock)
	if len(p.Events) != 1 || p.Events[0].ID != "e0" || p.Events[0].Data["@type"] != "type.googleapis.com/acme.events.v1.StockChanged" {
		t.Fatalf("first read %+v", p)
	}
	if p = read(stock); len(p.Events) != 0 {
		t.Fatalf("second read %+v", p)
	}
	if err := session.Subscribe(t.Context(), &mcp.SubscribeParams{URI: stock}); err != nil {
		t.Fatal(err)
	}
	if n, sessions := server.EventWatchers(b.srv); n != 1 || sessions != 1 {
		t.Fatalf("%d watchers, %d sessions", n, sessions)
	}
	b.post(t, "e1", "stock.changed", "B", 2)
	if got := receive(t, updated, "resources/updated"); got != stock {
		t.Fatalf("updated %s", got)
	}
	p = read(stock)
	if len(p.Events) != 1 || p.Events[0].ID != "e1" {
		t.Fatalf("read after update %+v", p)
	}
	// The template reads from a cursor.
	if p2 := read(stock + "?after=" + p.Events[0].Cursor); len(p2.Events) != 0 {
		t.Fatalf("after the last: %+v", p2)
	}
	if p2 := read(stock + "?subscriber=x&limit=1"); len(p2.Events) != 1 || p2.Events[0].ID != "e0" {
		t.Fatalf("from subscriber x: %+v", p2)
	}
	// The tools fetch and ack; their hints say they change no data of anyone else's.
	tools, err := session.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		switch tool.Name {
		case "events_fetch", "events_ack":
			if a := tool.Annotations; a.ReadOnlyHint || !a.IdempotentHint || a.DestructiveHint == nil || *a.DestructiveHint {
				t.Errorf("%s annotations %+v", tool.Name, a)
			}
		case "events_subscribe":
			if !tool.Annotations.ReadOnlyHint {
				t.Errorf("%s annotations %+v", tool.Name, tool.Annotations)
			}
		}
	}
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "events_fetch", Arguments: map[string]any{"source": "stock", "subscriber": "agent", "wait": "0s"}})
	if err != nil || res.IsError {
		t.Fatalf("fetch: %+v %v", res, err)
	}
	var fetched page
	data, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(data, &fetched)
	if len(fetched.Events) != 2 {
		t.Fatalf("fetched %s", data)
	}
	res, err = session.CallTool(t.Context(), &mcp.CallToolParams{Name: "events_fetch", Arguments: map[string]any{"source": "stock", "subscriber": "agent", "wait": "0s", "ack": fetched.NextCursor}})
	if err != nil || res.IsError {
		t.Fatalf("fetch+ack: %+v %v", res, err)
	}
	data, _ = json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(data, &fetched)
	if len(fetched.Events) != 0 {
		t.Fatalf("after ack: %s", data)
	}
	// The streaming tool ends once it has caught up, with what it read.
	res, err = session.CallTool(t.Context(), &mcp.CallToolParams{Name: "events_subscribe", Arguments: map[string]any{"source": "stock", "subscriber": "streamer"}})
	if err != nil || res.IsError {
		t.Fatalf("events_subscribe: %+v %v", res, err)
	}
	if data, _ = json.Marshal(res.StructuredContent); !strings.Contains(string(data), `"id":"e0"`) || !strings.Contains(string(data), `"id":"e1"`) {
		t.Fatalf("events_subscribe: %s", data)
	}
	// Unsubscribing stops the watcher; so does the end of the session.
	if err := session.Unsubscribe(t.Context(), &mcp.UnsubscribeParams{URI: stock}); err != nil {
		t.Fatal(err)
	}
	if n, _ := server.EventWatchers(b.srv); n != 0 {
		t.Fatalf("%d watchers after unsubscribe", n)
	}
	if err := session.Subscribe(t.Context(), &mcp.SubscribeParams{URI: stock}); err != nil {
		t.Fatal(err)
	}
	if err := session.Subscribe(t.Context(), &mcp.SubscribeParams{URI: server.EventsResourcePrefix + "nope"}); err == nil {
		t.Fatal("subscribed to an unknown source")
	}
	_ = session.Close()
	deadline := time.Now().Add(waitLimit)
	for {
		n, sessions := server.EventWatchers(b.srv)
		if n == 0 && sessions == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d watchers and %d sessions' state outlived the session", n, sessions)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
