package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/proto"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/store"
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
	for _, other := range []string{stock + "?", stock + "?&", server.EventsResourcePrefix + "%73tock"} {
		if err := session.Subscribe(t.Context(), &mcp.SubscribeParams{URI: other}); err == nil {
			t.Fatalf("subscribed to %q, another spelling of %q", other, stock)
		}
	}
	if n, _ := server.EventWatchers(b.srv); n != 1 {
		t.Fatalf("%d watchers for one subscribed source", n)
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

// scanStore is a store without store.Tailer (it hides the memory store's Last), whose reads
// from the start of a topic can be held, and which records where each read started.
type scanStore struct {
	store.Store
	hold   chan struct{} // while open, a read from "" of topic holdOn waits
	holdOn string
	held   chan struct{} // closed when a read is held
	once   sync.Once

	mu    sync.Mutex
	froms []string // the after of every Read of holdOn
}

func (s *scanStore) Read(ctx context.Context, topic, after string, limit int, wait time.Duration) ([]store.Entry, error) {
	if topic == s.holdOn {
		s.mu.Lock()
		s.froms = append(s.froms, after)
		s.mu.Unlock()
		if after == "" && s.hold != nil {
			s.once.Do(func() { close(s.held) })
			<-s.hold
		}
	}
	return s.Store.Read(ctx, topic, after, limit, wait)
}

func (s *scanStore) reads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.froms)
}

// tailStore is the same with store.Tailer.
type tailStore struct{ *scanStore }

func (s tailStore) Last(ctx context.Context, topic string) (string, error) {
	return s.scanStore.Store.(store.Tailer).Last(ctx, topic)
}

// fillStock appends n stock events to st directly, 1,000 per append, and returns the last cursor.
func fillStock(t *testing.T, st store.Store, n int) string {
	t.Helper()
	rec, err := proto.Marshal(&agentbridgev1.Event{Source: "stock", Type: "stock.changed"})
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for i := 0; i < n; i += 1000 {
		recs := make([]store.Record, min(1000, n-i))
		for j := range recs {
			recs[j] = store.Record{Key: fmt.Sprintf("fill-%07d", i+j), Data: rec}
		}
		app, err := st.Append(t.Context(), server.EventTopic("stock"), recs...)
		if err != nil {
			t.Fatal(err)
		}
		last = app[len(app)-1].Cursor
	}
	return last
}

func eventsMCPSession(t *testing.T, url string, updated chan<- string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) { updated <- req.Params.URI },
	})
	session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = session.Close() })
	return session
}

// TestMCPSubscribeFindsTheTailAtOnce: with 200,000 events retained, the first
// resources/subscribe to a source asks the store for the log's end (store.Tailer) instead of
// reading the log, its watcher starts there, and only a new event is notified.
func TestMCPSubscribeFindsTheTailAtOnce(t *testing.T) {
	t.Parallel()
	st := &scanStore{Store: store.NewMemory(store.Retention{}), holdOn: server.EventTopic("stock")}
	b := startEvents(t, "", server.WithStore(tailStore{st}))
	b.st = st
	last := fillStock(t, st, 200000)
	updated := make(chan string, 16)
	session := eventsMCPSession(t, b.httpURL, updated)
	const stock = server.EventsResourcePrefix + "stock"
	start := time.Now()
	if err := session.Subscribe(t.Context(), &mcp.SubscribeParams{URI: stock}); err != nil {
		t.Fatal(err)
	}
	t.Logf("resources/subscribe with 200,000 events retained took %v", time.Since(start))
	b.post(t, "new-1", "stock.changed", "A", 1)
	if got := receive(t, updated, "resources/updated"); got != stock {
		t.Fatalf("updated %s", got)
	}
	reads := st.reads()
	if len(reads) == 0 || reads[0] != last {
		t.Fatalf("the watcher's reads started after %v, want the log's end %q", reads[:min(3, len(reads))], last)
	}
	if slices.Contains(reads, "") {
		t.Fatal("the log was read from its start")
	}
}

// TestMCPSubscribeScanDoesNotBlock: on a store without store.Tailer the first subscribe reads
// the log to its end, and meanwhile other sessions subscribe to other sources (the scan holds
// no lock they need); the watcher then starts at the end.
func TestMCPSubscribeScanDoesNotBlock(t *testing.T) {
	t.Parallel()
	st := &scanStore{Store: store.NewMemory(store.Retention{}), holdOn: server.EventTopic("stock"), hold: make(chan struct{}), held: make(chan struct{})}
	b := startEvents(t, "", server.WithStore(st))
	b.st = st
	last := fillStock(t, st, 2000)
	const stock, orders = server.EventsResourcePrefix + "stock", server.EventsResourcePrefix + "orders"
	slow := eventsMCPSession(t, b.httpURL, make(chan string, 16))
	slowDone := make(chan error, 1)
	go func() { slowDone <- slow.Subscribe(t.Context(), &mcp.SubscribeParams{URI: stock}) }()
	receive(t, st.held, "the scan of the log")
	other := eventsMCPSession(t, b.httpURL, make(chan string, 16))
	if err := other.Subscribe(t.Context(), &mcp.SubscribeParams{URI: orders}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-slowDone:
		t.Fatalf("the subscribe that scans ended before the scan did: %v", err)
	default:
	}
	close(st.hold)
	if err := receive(t, slowDone, "the scanning subscribe"); err != nil {
		t.Fatal(err)
	}
	updated := make(chan string, 16)
	s2 := eventsMCPSession(t, b.httpURL, updated)
	if err := s2.Subscribe(t.Context(), &mcp.SubscribeParams{URI: stock}); err != nil { // the watcher runs: no scan
		t.Fatal(err)
	}
	b.post(t, "new-1", "stock.changed", "A", 1)
	if got := receive(t, updated, "resources/updated"); got != stock {
		t.Fatalf("updated %s", got)
	}
	reads := st.reads()
	scans := 0
	for _, r := range reads {
		if r == "" {
			scans++
		}
	}
	if !slices.Contains(reads, last) || scans != 1 {
		t.Fatalf("the watcher did not start at the log's end %s, or the log was scanned twice: %d reads", last, len(reads))
	}
}

// TestMCPFetchKeepsWithinTheBudget: on MCP a FetchEvents page holds no more events than the
// tool's result budget takes, so the surface never cuts events out of a page whose next_cursor
// would then pass over them: an agent that fetches and acknowledges next_cursor, page after
// page, gets every event once, and no result is truncated.
func TestMCPFetchKeepsWithinTheBudget(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "mcp: {results: {max_bytes: 1024}}\n")
	want := map[string]bool{}
	for i := range 30 {
		id := fmt.Sprintf("ev-%02d", i)
		b.post(t, id, "stock.changed", fmt.Sprintf("SKU-%02d-%s", i, strings.Repeat("x", 40)), int32(i))
		want[id] = true
	}
	session := eventsMCPSession(t, b.httpURL, make(chan string, 1))
	seen := map[string]int{}
	ack, pages := "", 0
	for pages < 40 {
		args := map[string]any{"source": "stock", "subscriber": "agent", "wait": "0s", "limit": 20}
		if ack != "" {
			args["ack"] = ack
		}
		res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "events_fetch", Arguments: args})
		if err != nil || res.IsError {
			t.Fatalf("fetch: %+v %v", res, err)
		}
		data, _ := json.Marshal(res.StructuredContent)
		var p struct {
			Events []struct {
				ID     string `json:"id"`
				Cursor string `json:"cursor"`
			} `json:"events"`
			NextCursor string          `json:"nextCursor"`
			Truncated  json.RawMessage `json:"_truncated"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		if p.Truncated != nil {
			t.Fatalf("page %d was cut by the result budget: %s", pages, data)
		}
		if len(p.Events) == 0 {
			break
		}
		pages++
		if last := p.Events[len(p.Events)-1].Cursor; p.NextCursor != last {
			t.Fatalf("page %d: next cursor %s, but its last event is at %s", pages, p.NextCursor, last)
		}
		for _, e := range p.Events {
			seen[e.ID]++
		}
		ack = p.NextCursor
	}
	if pages < 3 {
		t.Fatalf("%d pages: the budget did not bound them", pages)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s delivered %d times", id, seen[id])
		}
	}
	t.Logf("30 events in %d pages under a 1,024-byte budget", pages)
}
