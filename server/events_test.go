package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/v1/agentbridgev1connect"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/store"
)

// eventsProto declares the event message of the test source in a file no served service
// imports, so the JSON surfaces must learn its type from the events config alone.
const eventsProto = `syntax = "proto3";
package acme.events.v1;
message StockChanged {
  string sku = 1;
  int32 quantity = 2;
  Item item = 3;
  repeated string tags = 4;
  int64 serial_no = 5;
}
message Item {
  string sku = 1;
  string warehouse_code = 2;
}
`

// eventsBridge is a bridge serving the event source "stock" from a memory store the test
// appends to, as the intake does.
type eventsBridge struct {
	*bridge
	srv   *server.Server
	st    store.Store
	stock protoreflect.MessageDescriptor
}

func eventsConfig(t testing.TB, extra string) *server.Config {
	t.Helper()
	return eventsConfigSources(t, `    stock: {message: acme.events.v1.StockChanged, verify: {none: true}}
    orders: {message: acme.events.v1.Item, verify: {none: true}}
`, extra)
}

// eventsConfigSources is eventsConfig with other sources (lines under events.sources).
func eventsConfigSources(t testing.TB, sources, extra string) *server.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "acme/events/v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme/events/v1/stock.proto"), []byte(eventsProto), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `protos: [acme/events/v1/stock.proto]
services: [agentbridge.testing.v1.VatService]
backends:
  vat: {kind: soap, endpoint: "http://127.0.0.1:1/vat"}
audit: {sink: "off"}
store: {engine: memory}
events:
  sources:
` + sources + extra
	path := filepath.Join(dir, "agentbridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := server.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startEvents(t *testing.T, extra string, opts ...server.Option) *eventsBridge {
	t.Helper()
	c := eventsConfig(t, extra)
	st := store.NewMemory(store.Retention{})
	t.Cleanup(func() { _ = st.Close() })
	srv, err := c.Build(append([]server.Option{server.WithLogger(slog.New(slog.DiscardHandler)), server.WithStore(st)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	b := serve(t, srv, true, &counter{n: map[string]int{}}, nil)
	eb := &eventsBridge{bridge: b, srv: srv, st: st}
	for _, svc := range srv.Services() {
		for _, fd := range svc.Files {
			if d := fd.Messages().ByName("StockChanged"); d != nil {
				eb.stock = d
			}
		}
	}
	if eb.stock == nil {
		t.Fatal("EventService does not carry the source's message file")
	}
	return eb
}

// post appends an event to the stock source as the intake does, and returns its cursor.
func (b *eventsBridge) post(t testing.TB, id, typ, sku string, qty int32) string {
	t.Helper()
	msg := dynamicpb.NewMessage(b.stock)
	fields := b.stock.Fields()
	msg.Set(fields.ByName("sku"), protoreflect.ValueOfString(sku))
	msg.Set(fields.ByName("quantity"), protoreflect.ValueOfInt32(qty))
	item := msg.Mutable(fields.ByName("item")).Message()
	item.Set(item.Descriptor().Fields().ByName("warehouse_code"), protoreflect.ValueOfString("W"+sku))
	return b.append(t, "stock", id, typ, msg)
}

func (b *eventsBridge) append(t testing.TB, source, id, typ string, data proto.Message) string {
	t.Helper()
	a, err := anypb.New(data)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := proto.Marshal(&agentbridgev1.Event{Source: source, Id: id, Type: typ, ReceivedAt: timestamppb.Now(), Data: a})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.st.Append(context.Background(), server.EventTopic(source), store.Record{Key: id, Data: rec})
	if err != nil {
		t.Fatal(err)
	}
	return got[0].Cursor
}

func restJSON(t testing.TB, method, u string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = strings.NewReader(string(data))
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, u, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

type restEvent struct {
	Source, ID, Type, Cursor string
	Data                     map[string]any
}

type restPage struct {
	Events     []restEvent `json:"events"`
	NextCursor string      `json:"nextCursor"`
	Code       int         `json:"code"`
	Message    string      `json:"message"`
}

func ids(evs []restEvent) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return strings.Join(out, ",")
}

func TestEventsFetchAckOverREST(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	for i := range 5 {
		b.post(t, fmt.Sprintf("e%d", i), "stock.changed", fmt.Sprintf("A-%d", i), int32(i))
	}
	var page restPage
	if code := restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=billing&limit=2", nil, &page); code != 200 {
		t.Fatalf("fetch: %d %+v", code, page)
	}
	if ids(page.Events) != "e0,e1" || page.NextCursor != page.Events[1].Cursor {
		t.Fatalf("first page %+v", page)
	}
	// Data is written as the source's message, with its @type, although no served method names it.
	d := page.Events[0].Data
	if d["@type"] != "type.googleapis.com/acme.events.v1.StockChanged" || d["sku"] != "A-0" || d["item"].(map[string]any)["warehouseCode"] != "WA-0" {
		t.Fatalf("data %v", d)
	}
	// Without ack the subscriber reads the same page again: at least once.
	var again restPage
	restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=billing&limit=2", nil, &again)
	if ids(again.Events) != "e0,e1" {
		t.Fatalf("unacked page read again as %s", ids(again.Events))
	}
	// Fetch with ack acknowledges the page read, then reads the next one.
	var next restPage
	restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=billing&limit=2&ack="+url.QueryEscape(page.NextCursor), nil, &next)
	if ids(next.Events) != "e2,e3" {
		t.Fatalf("after ack: %s", ids(next.Events))
	}
	var ack struct{ Acked string }
	if code := restJSON(t, "POST", b.httpURL+"/v1/events/stock:ack", map[string]string{"subscriber": "billing", "cursor": next.NextCursor}, &ack); code != 200 || ack.Acked != next.NextCursor {
		t.Fatalf("ack: %d %+v", code, ack)
	}
	// An older ack does not move the cursor back.
	restJSON(t, "POST", b.httpURL+"/v1/events/stock:ack", map[string]string{"subscriber": "billing", "cursor": page.NextCursor}, &ack)
	if ack.Acked != next.NextCursor {
		t.Fatalf("ack moved back to %s", ack.Acked)
	}
	var rest restPage
	restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=billing&wait=0s", nil, &rest)
	if ids(rest.Events) != "e4" {
		t.Fatalf("rest: %s", ids(rest.Events))
	}
	// Another subscriber has its own cursor.
	var other restPage
	restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=audit&wait=0s", nil, &other)
	if ids(other.Events) != "e0,e1,e2,e3,e4" {
		t.Fatalf("other subscriber: %s", ids(other.Events))
	}
	// after overrides the acked cursor.
	var from restPage
	restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=billing&wait=0s&after="+url.QueryEscape(page.Events[0].Cursor), nil, &from)
	if ids(from.Events) != "e1,e2,e3,e4" {
		t.Fatalf("after: %s", ids(from.Events))
	}
	// Nothing new: an empty page whose next cursor stays where it was.
	var empty restPage
	restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=billing&wait=0s&after="+url.QueryEscape(rest.NextCursor), nil, &empty)
	if len(empty.Events) != 0 || empty.NextCursor != rest.NextCursor {
		t.Fatalf("empty page %+v", empty)
	}
}

func TestEventsRequestErrors(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	b.post(t, "e0", "stock.changed", "A", 1)
	for _, c := range []struct {
		name, path string
		code       int
		msg        string
	}{
		{"no subscriber", "/v1/events/stock", 400, "subscriber is required"},
		{"unknown source", "/v1/events/nope?subscriber=x", 404, `no event source "nope"; the sources are orders, stock`},
		{"bad cursor", "/v1/events/stock?subscriber=x&after=zzz", 400, "not a cursor this bridge handed out"},
		{"bad ack", "/v1/events/stock?subscriber=x&ack=zzz", 400, "not a cursor this bridge handed out"},
		{"bad filter field", "/v1/events/stock?subscriber=x&match=nope=1", 400, "acme.events.v1.StockChanged has no field \"nope\""},
		{"negative limit", "/v1/events/stock?subscriber=x&limit=-1", 400, "must not be negative"},
	} {
		var page restPage
		if code := restJSON(t, "GET", b.httpURL+c.path, nil, &page); code != c.code || !strings.Contains(page.Message, c.msg) {
			t.Errorf("%s: %d %q; want %d %q", c.name, code, page.Message, c.code, c.msg)
		}
	}
	var page restPage
	if code := restJSON(t, "POST", b.httpURL+"/v1/events/stock:ack", map[string]string{"subscriber": "x"}, &page); code != 400 || !strings.Contains(page.Message, "cursor is required") {
		t.Errorf("ack without cursor: %d %+v", code, page)
	}
}

func TestEventsFilters(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	b.post(t, "e0", "stock.changed", "A", 1)
	b.post(t, "e1", "stock.reserved", "B", 2)
	b.post(t, "e2", "stock.changed", "B", 3)
	last := b.post(t, "e3", "stock.changed", "C", 2)
	for _, c := range []struct{ query, want string }{
		{"types=stock.changed", "e0,e2,e3"},
		{"types=stock.changed&types=stock.reserved", "e0,e1,e2,e3"},
		{"match=sku=B", "e1,e2"},
		{"types=stock.changed&match=sku=B", "e2"},
		{"match=quantity=2", "e1,e3"},
		{"match=item.warehouseCode=WC", "e3"},
		{"match=item.warehouse_code=WC", "e3"},
		{"match=sku=Z", ""},
	} {
		var page restPage
		restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=f&wait=0s&"+c.query, nil, &page)
		if got := ids(page.Events); got != c.want {
			t.Errorf("%s: %s; want %s", c.query, got, c.want)
		}
		// Filtered-out events still advance the cursor: nothing is scanned twice.
		if page.NextCursor != last {
			t.Errorf("%s: next cursor %s; want the last event's %s", c.query, page.NextCursor, last)
		}
	}
}

func TestEventsSubscribeOnEverySurface(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	b.post(t, "e0", "stock.changed", "A", 1)
	b.post(t, "e1", "stock.reserved", "B", 2)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req := &agentbridgev1.SubscribeRequest{Source: "stock", Subscriber: "s", Types: []string{"stock.changed"}}
	// Each surface starts after what was there (e0, e1), filtered to stock.changed, then sees
	// e2 arrive live.
	check := func(name string, recv func() (*agentbridgev1.Event, error)) {
		t.Helper()
		ev, err := recv()
		if err != nil || ev.GetId() != "e0" {
			t.Fatalf("%s: first %v %v", name, ev, err)
		}
		ev, err = recv()
		if err != nil || ev.GetId() != "e2" || ev.GetData().GetTypeUrl() != "type.googleapis.com/acme.events.v1.StockChanged" {
			t.Fatalf("%s: second %v %v", name, ev, err)
		}
	}
	var posted bool
	postOnce := func() {
		if !posted {
			posted = true
			go b.post(t, "e2", "stock.changed", "C", 3)
		}
	}
	t.Run("gRPC", func(t *testing.T) {
		cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cc.Close() }()
		stream, err := agentbridgev1.NewEventServiceClient(cc).Subscribe(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		check("gRPC", func() (*agentbridgev1.Event, error) {
			if n++; n == 2 {
				postOnce()
			}
			r, err := stream.Recv()
			return r.GetEvent(), err
		})
	})
	for _, opt := range []struct {
		name string
		opts []connect.ClientOption
	}{{"Connect", nil}, {"gRPC-Web", []connect.ClientOption{connect.WithGRPCWeb()}}, {"gRPC on HTTP", []connect.ClientOption{connect.WithGRPC()}}} {
		t.Run(opt.name, func(t *testing.T) {
			client := agentbridgev1connect.NewEventServiceClient(h2cClient(), b.httpURL, opt.opts...)
			stream, err := client.Subscribe(ctx, connect.NewRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = stream.Close() }()
			check(opt.name, func() (*agentbridgev1.Event, error) {
				if !stream.Receive() {
					return nil, fmt.Errorf("stream ended: %w", stream.Err())
				}
				return stream.Msg().GetEvent(), nil
			})
		})
	}
	t.Run("REST", func(t *testing.T) {
		hreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.httpURL+"/v1/events/stock:subscribe?subscriber=s&types=stock.changed", nil)
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("content type %q: %s", ct, body)
		}
		sc := bufio.NewScanner(resp.Body)
		check("REST", func() (*agentbridgev1.Event, error) {
			if !sc.Scan() {
				return nil, fmt.Errorf("stream ended: %w", sc.Err())
			}
			var line struct {
				Result struct {
					Event restEvent `json:"event"`
				} `json:"result"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				return nil, err
			}
			e := line.Result.Event
			return &agentbridgev1.Event{Id: e.ID, Data: &anypb.Any{TypeUrl: fmt.Sprint(e.Data["@type"])}}, nil
		})
	})
}

func TestEventsGRPCErrorsAndWait(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	client := agentbridgev1.NewEventServiceClient(cc)
	ctx := t.Context()
	// A fetch that waits sees an event posted while it waits.
	go func() {
		time.Sleep(100 * time.Millisecond)
		b.post(t, "late", "stock.changed", "L", 1)
	}()
	resp, err := client.FetchEvents(ctx, &agentbridgev1.FetchEventsRequest{Source: "stock", Subscriber: "w", Wait: durationpb.New(10 * time.Second)})
	if err != nil || len(resp.GetEvents()) != 1 || resp.GetEvents()[0].GetId() != "late" {
		t.Fatalf("waiting fetch: %v %v", resp, err)
	}
	_, err = client.FetchEvents(ctx, &agentbridgev1.FetchEventsRequest{Source: "nope", Subscriber: "w"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("unknown source: %v", err)
	}
	stream, err := client.Subscribe(ctx, &agentbridgev1.SubscribeRequest{Source: "stock"})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("subscribe without subscriber: %v", err)
	}
}

func TestEventsSurviveReload(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	b.post(t, "e0", "stock.changed", "A", 1)
	var page restPage
	restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=r&wait=0s", nil, &page)
	restJSON(t, "POST", b.httpURL+"/v1/events/stock:ack", map[string]string{"subscriber": "r", "cursor": page.NextCursor}, nil)
	if err := b.srv.ReloadConfig(eventsConfig(t, "")); err != nil {
		t.Fatal(err)
	}
	b.post(t, "e1", "stock.changed", "B", 1)
	var after restPage
	restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=r&wait=0s", nil, &after)
	if ids(after.Events) != "e1" || after.Events[0].Data["sku"] != "B" {
		t.Fatalf("after reload: %+v", after)
	}
}

// TestEventsSourceRemovedOnReload: a reload that removes a source does not change the intake
// (it is built once), so the source goes on being read as before: a stream open across the
// reload gets the events posted after it, and a fetch after it reads them too. Before, the
// intake stored them and every read answered 404.
func TestEventsSourceRemovedOnReload(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.httpURL+"/v1/events/orders:subscribe?subscriber=live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %v %v", resp, err)
	}
	defer func() { _ = resp.Body.Close() }()
	lines := bufio.NewReader(resp.Body)
	onlyStock := eventsConfigSources(t, "    stock: {message: acme.events.v1.StockChanged, verify: {none: true}}\n", "")
	if err := b.srv.ReloadConfig(onlyStock); err != nil {
		t.Fatal(err)
	}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, b.httpURL+"/hooks/orders", strings.NewReader(`{"sku":"A-1","warehouseCode":"W1"}`))
	if err != nil {
		t.Fatal(err)
	}
	post.Header.Set("Content-Type", "application/json")
	pr, err := http.DefaultClient.Do(post)
	if err != nil {
		t.Fatal(err)
	}
	_ = pr.Body.Close()
	if pr.StatusCode != http.StatusAccepted {
		t.Fatalf("post to the removed source after the reload: %d", pr.StatusCode)
	}
	line, err := lines.ReadString('\n')
	if err != nil || !strings.Contains(line, `"warehouseCode":"W1"`) {
		t.Fatalf("the open stream after the reload: %q %v", line, err)
	}
	var page restPage
	if code := restJSON(t, "GET", b.httpURL+"/v1/events/orders?subscriber=r&wait=0s", nil, &page); code != 200 || len(page.Events) != 1 {
		t.Fatalf("fetch of the removed source after the reload: %d %+v", code, page)
	}
}

func TestEventsSSE(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	c0 := b.post(t, "e0", "stock.changed", "A", 1)
	b.post(t, "e1", "stock.changed", "B", 2)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	open := func(query string, header http.Header) (*http.Response, *bufio.Reader) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.httpURL+"/v1/events/stock:subscribe?"+query, nil)
		req.Header = header
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp, bufio.NewReader(resp.Body)
	}
	next := func(rd *bufio.Reader) (id string, ev restEvent) {
		t.Helper()
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &ev); err != nil {
					t.Fatalf("data %q: %v", line, err)
				}
			case line == "" && id != "":
				return id, ev
			}
		}
	}
	// No events yet after the cursor: the stream still starts at once (headers sent).
	resp, rd := open("subscriber=sse&after="+url.QueryEscape(c0), http.Header{}) //nolint:bodyclose // closed by open's cleanup
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("%d %q", resp.StatusCode, ct)
	}
	id, ev := next(rd)
	if ev.ID != "e1" || id != ev.Cursor || ev.Data["@type"] != "type.googleapis.com/acme.events.v1.StockChanged" {
		t.Fatalf("first event %s %+v", id, ev)
	}
	c2 := b.post(t, "e2", "stock.changed", "C", 3)
	if id, ev = next(rd); ev.ID != "e2" || id != c2 {
		t.Fatalf("live event %s %+v", id, ev)
	}
	// A reconnecting EventSource sends Last-Event-ID and resumes after it.
	_, rd2 := open("subscriber=sse", http.Header{"Last-Event-Id": {c0}}) //nolint:bodyclose // closed by open's cleanup
	if _, ev = next(rd2); ev.ID != "e1" {
		t.Fatalf("resumed at %+v", ev)
	}
	// A request refused before streaming is an HTTP error, as on every REST route.
	resp, _ = open("", http.Header{}) //nolint:bodyclose // closed by open's cleanup
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no subscriber: %d", resp.StatusCode)
	}
	// The NDJSON stream also starts at once, with the route FetchEvents' would shadow.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.httpURL+"/v1/events/stock:subscribe?subscriber=nd&after="+url.QueryEscape(c2), nil)
	nd, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = nd.Body.Close() }()
	if ct := nd.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("ndjson content type %q", ct)
	}
	b.post(t, "e3", "stock.changed", "D", 4)
	line, err := bufio.NewReader(nd.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, `{"result":{"event":{`) || !strings.Contains(line, `"id":"e3"`) {
		t.Fatalf("ndjson %q %v", line, err)
	}
}

func TestEventsSubscribersArePerPrincipal(t *testing.T) {
	t.Parallel()
	auth := fmt.Sprintf(`auth:
  api_keys:
    - {id: alice, sha256: %s, scopes: [events:read]}
    - {id: bob, sha256: %s, scopes: [events:read]}
    - {id: mallory, sha256: %s}
  scopes:
    "agentbridge.v1.EventService.*": [events:read]
    "events/orders": [orders:read]
`, sha256Hex("alice-key"), sha256Hex("bob-key"), sha256Hex("mallory-key"))
	b := startEvents(t, auth)
	b.post(t, "e0", "stock.changed", "A", 1)
	c1 := b.post(t, "e1", "stock.changed", "B", 2)
	call := func(key, method, path string, body any, out any) int {
		req, _ := http.NewRequestWithContext(t.Context(), method, b.httpURL+path, nil)
		if body != nil {
			data, _ := json.Marshal(body)
			req, _ = http.NewRequestWithContext(t.Context(), method, b.httpURL+path, strings.NewReader(string(data)))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("X-Api-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	// Alice acks everything as subscriber "agent"; Bob's "agent" is another cursor.
	if code := call("alice-key", "POST", "/v1/events/stock:ack", map[string]string{"subscriber": "agent", "cursor": c1}, nil); code != 200 {
		t.Fatalf("alice ack: %d", code)
	}
	var page restPage
	call("alice-key", "GET", "/v1/events/stock?subscriber=agent&wait=0s", nil, &page)
	if len(page.Events) != 0 {
		t.Fatalf("alice reads %s after acking all", ids(page.Events))
	}
	call("bob-key", "GET", "/v1/events/stock?subscriber=agent&wait=0s", nil, &page)
	if ids(page.Events) != "e0,e1" {
		t.Fatalf("bob reads %s", ids(page.Events))
	}
	// A source can need scopes of its own: auth.scopes "events/<source>".
	if code := call("alice-key", "GET", "/v1/events/orders?subscriber=agent&wait=0s", nil, &page); code != 403 || !strings.Contains(page.Message, `source "orders" need the scope orders:read`) {
		t.Fatalf("alice on orders: %d %+v", code, page)
	}
	// EventService obeys auth.scopes like every method.
	if code := call("mallory-key", "GET", "/v1/events/stock?subscriber=agent&wait=0s", nil, &page); code != 403 {
		t.Fatalf("mallory: %d %+v", code, page)
	}
}

func TestEventsConnectJSONAndDamagedEntries(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	b.post(t, "e0", "stock.changed", "A", 1)
	// Connect's JSON codec writes data as the source's message too.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, b.httpURL+"/agentbridge.v1.EventService/FetchEvents", strings.NewReader(`{"source":"stock","subscriber":"c","wait":"0s"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page restPage
	err = json.NewDecoder(resp.Body).Decode(&page)
	_ = resp.Body.Close()
	if err != nil || len(page.Events) != 1 || page.Events[0].Data["@type"] != "type.googleapis.com/acme.events.v1.StockChanged" || page.Events[0].Data["sku"] != "A" {
		t.Fatalf("Connect JSON: %d %+v %v", resp.StatusCode, page, err)
	}
	// An entry that is not an Event stops the reader with an error naming its cursor, which
	// the subscriber can acknowledge to pass it.
	got, err := b.st.Append(t.Context(), server.EventTopic("stock"), store.Record{Key: "junk", Data: []byte{0xff, 0xff}})
	if err != nil {
		t.Fatal(err)
	}
	b.post(t, "e1", "stock.changed", "B", 2)
	var bad restPage
	if code := restJSON(t, http.MethodGet, b.httpURL+"/v1/events/stock?subscriber=c&wait=0s&ack="+url.QueryEscape(page.NextCursor), nil, &bad); code != http.StatusInternalServerError || !strings.Contains(bad.Message, "cursor "+got[0].Cursor) {
		t.Fatalf("damaged entry: %d %+v", code, bad)
	}
	var next restPage
	restJSON(t, http.MethodGet, b.httpURL+"/v1/events/stock?subscriber=c&wait=0s&ack="+url.QueryEscape(got[0].Cursor), nil, &next)
	if ids(next.Events) != "e1" {
		t.Fatalf("after acking past it: %+v", next)
	}
}

// TestEventOfUnknownTypeIsNamed: an event whose data is of a type the bridge's contracts no
// longer have (the source's message was changed) cannot be written as JSON. A page answers the
// events before it; the next read fails with DATA_LOSS naming its cursor, on REST, in a REST
// stream and on gRPC alike, so acknowledging that cursor passes it and nothing before it.
func TestEventOfUnknownTypeIsNamed(t *testing.T) {
	t.Parallel()
	b := startEvents(t, "")
	b.post(t, "e0", "stock.changed", "A", 1)
	b.post(t, "e1", "stock.changed", "B", 2)
	raw, err := proto.Marshal(&agentbridgev1.Event{Source: "stock", Id: "old", Type: "stock.changed", ReceivedAt: timestamppb.Now(),
		Data: &anypb.Any{TypeUrl: "type.googleapis.com/acme.events.v0.StockChangedOld", Value: []byte{0x0a, 0x01, 'A'}}})
	if err != nil {
		t.Fatal(err)
	}
	app, err := b.st.Append(context.Background(), server.EventTopic("stock"), store.Record{Key: "old", Data: raw})
	if err != nil {
		t.Fatal(err)
	}
	bad := app[0].Cursor
	b.post(t, "e3", "stock.changed", "C", 3)

	type page struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
		NextCursor string `json:"nextCursor"`
		Message    string `json:"message"`
	}
	var p page
	if code := restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=x&wait=0s", nil, &p); code != 200 || len(p.Events) != 2 || p.Events[1].ID != "e1" {
		t.Fatalf("first page: %d %+v", code, p)
	}
	var failed page
	code := restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=x&wait=0s&ack="+url.QueryEscape(p.NextCursor), nil, &failed)
	if code != http.StatusInternalServerError || !strings.Contains(failed.Message, "cursor "+bad) || !strings.Contains(failed.Message, "acme.events.v0.StockChangedOld") {
		t.Fatalf("the page at the unknown type: %d %+v", code, failed)
	}
	// A stream sends what comes before it, then the same error.
	resp, err := http.Get(b.httpURL + "/v1/events/stock:subscribe?subscriber=y") //nolint:noctx // ends with the error line
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], `"e1"`) || !strings.Contains(lines[2], `"error"`) || !strings.Contains(lines[2], "cursor "+bad) {
		t.Fatalf("stream: %s", body)
	}
	// Acknowledging it passes it, and only it.
	var ack struct{ Acked string }
	if code := restJSON(t, "POST", b.httpURL+"/v1/events/stock:ack", map[string]string{"subscriber": "x", "cursor": bad}, &ack); code != 200 {
		t.Fatalf("ack: %d", code)
	}
	if code := restJSON(t, "GET", b.httpURL+"/v1/events/stock?subscriber=x&wait=0s", nil, &p); code != 200 || len(p.Events) != 1 || p.Events[0].ID != "e3" {
		t.Fatalf("after the ack: %d %+v", code, p)
	}
}
