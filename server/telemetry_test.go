package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/metadata"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
)

// syncBuffer is a bytes.Buffer safe for the audit log's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tracedLegacy is the demo's legacy system recording the traceparent header of each request.
func tracedLegacy(t *testing.T) (url string, got func() []string) {
	t.Helper()
	legacy := demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) })
	var mu sync.Mutex
	var seen []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("traceparent"))
		mu.Unlock()
		legacy.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/inventory", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestTracing: a call is one trace from the surface to the backend: a server span continuing
// the caller's traceparent, an adapter span inside it, a client span per backend attempt inside
// that, and the backend gets the trace context in its traceparent header; the audit line
// carries the trace id. Without a tracer provider, nothing is sent.
func TestTracing(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	url, traceparents := tracedLegacy(t)
	var audit syncBuffer
	b := startConfigured(t, url, nil, server.WithTracerProvider(tp), server.WithAuditWriter(&audit))

	// REST, continuing the caller's trace.
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+"/v1/items/A-100", nil)
	req.Header.Set("traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("REST: HTTP %d", resp.StatusCode)
	}
	// gRPC, starting a new trace.
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "grpc-call-1")
	if _, err := grpcClient(t, b.grpcAddr).GetItem(ctx, &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
		t.Fatal(err)
	}

	sent := traceparents()
	if len(sent) != 2 || !strings.HasPrefix(sent[0], "00-"+callerTrace+"-") {
		t.Fatalf("the backend got traceparent %q; want the caller's trace %s first", sent, callerTrace)
	}
	spans := exp.GetSpans()
	byTrace := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byTrace[s.SpanContext.TraceID().String()] = append(byTrace[s.SpanContext.TraceID().String()], s)
	}
	if len(byTrace) != 2 {
		t.Fatalf("%d traces, want 2: %v", len(byTrace), spanNames(spans))
	}
	var grpcTrace string
	for id := range byTrace {
		if id != callerTrace {
			grpcTrace = id
		}
	}
	if !strings.Contains(sent[1], "-"+grpcTrace+"-") {
		t.Errorf("the gRPC call's backend request carried %q, not its trace %s", sent[1], grpcTrace)
	}
	for id, trace := range byTrace {
		server, adapter, client := find(trace, trace0Server), find(trace, "adapter inventory"), find(trace, "backend POST")
		if server == nil || adapter == nil || client == nil {
			t.Errorf("trace %s: spans %v; want the call's, the adapter's and the backend attempt's", id, spanNames(trace))
			continue
		}
		if adapter.Parent.SpanID() != server.SpanContext.SpanID() || client.Parent.SpanID() != adapter.SpanContext.SpanID() {
			t.Errorf("trace %s: spans are not nested call → adapter → backend", id)
		}
		if id == callerTrace && (!server.Parent.IsRemote() || server.Parent.SpanID().String() != "00f067aa0ba902b7") {
			t.Errorf("the REST call's span does not continue the caller's span: parent %v", server.Parent)
		}
		if !strings.Contains(sent[0]+sent[1], client.SpanContext.SpanID().String()) {
			t.Errorf("trace %s: the backend's traceparent does not name the attempt's span", id)
		}
	}
	// The audit lines carry the trace ids.
	lines := strings.Split(strings.TrimSpace(audit.String()), "\n")
	var ids []string
	for _, l := range lines {
		var line struct {
			TraceID string `json:"trace_id"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		ids = append(ids, line.TraceID)
	}
	if len(ids) != 2 || ids[0] != callerTrace || ids[1] != grpcTrace {
		t.Errorf("audit trace ids %v, want [%s %s]", ids, callerTrace, grpcTrace)
	}
}

// TestNoTracingSendsNoTraceContext: without a tracer provider the bridge neither starts spans
// nor sends traceparent to the backend.
func TestNoTracingSendsNoTraceContext(t *testing.T) {
	t.Parallel()
	url, traceparents := tracedLegacy(t)
	b := startConfigured(t, url, nil)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+"/v1/items/A-100", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := traceparents(); len(got) != 1 || got[0] != "" {
		t.Errorf("the backend got traceparent %q without tracing configured", got)
	}
}

const trace0Server = "agentbridge.demo.v1.InventoryService/GetItem"

func find(spans []tracetest.SpanStub, name string) *tracetest.SpanStub {
	for i := range spans {
		if spans[i].Name == name {
			return &spans[i]
		}
	}
	return nil
}

func spanNames(spans []tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name+"("+s.SpanKind.String()+")")
	}
	return out
}

// TestOTLPExport: with telemetry.otlp_endpoint, Config.Build exports spans by OTLP/HTTP; the
// spans still buffered are sent when the server stops.
func TestOTLPExport(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var posts []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts = append(posts, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(collector.Close)
	url, _ := tracedLegacy(t)
	b := startConfigured(t, url, func(c *server.Config, _ *adapters.Backend) {
		c.Telemetry.OTLPEndpoint = collector.URL
	})
	if _, err := grpcClient(t, b.grpcAddr).GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
		t.Fatal(err)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) == 0 || posts[0] != "POST /v1/traces application/x-protobuf" {
		t.Errorf("the collector got %q; want the spans posted to /v1/traces on shutdown", posts)
	}
}

// TestTelemetryAndIdempotencyConfig: telemetry: and idempotency: are decoded strictly and
// checked at load.
func TestTelemetryAndIdempotencyConfig(t *testing.T) {
	t.Parallel()
	const base = "services: [agentbridge.demo.v1.InventoryService]\n"
	c, err := server.ParseConfig([]byte(base + "telemetry: {otlp_endpoint: 'http://collector:4318', service_name: bridge-eu, sample_ratio: 0.25}\nidempotency: {ttl: 1h, lease: 30s, on_store_error: open}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tel := c.Telemetry; tel.OTLPEndpoint != "http://collector:4318" || tel.ServiceName != "bridge-eu" || tel.SampleRatio == nil || *tel.SampleRatio != 0.25 {
		t.Errorf("telemetry decoded as %+v", tel)
	}
	if i := c.Idempotency; i.TTL != time.Hour || i.Lease != 30*time.Second || i.OnStoreError != server.FailOpen {
		t.Errorf("idempotency decoded as %+v", i)
	}
	for yaml, want := range map[string]string{
		"telemetry: {otlp_endpoint: 'collector:4318'}\n": "telemetry.otlp_endpoint \"collector:4318\": use an http(s) URL",
		"telemetry: {sample_ratio: 2}\n":                 "telemetry.sample_ratio 2: use 0 to 1",
		"telemetry: {endpoint: 'http://c:4318'}\n":       "field endpoint not found",
		"idempotency: {on_store_error: retry}\n":         `idempotency.on_store_error "retry": use closed or open`,
		"idempotency: {ttl: -1s}\n":                      "ttl and lease must not be negative",
	} {
		if _, err := server.ParseConfig([]byte(base + yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error containing %q", yaml, err, want)
		}
	}
}

// TestTracingOnEverySurface: each surface continues the caller's trace (traceparent header, or
// metadata on gRPC) through to the backend request and the audit line.
func TestTracingOnEverySurface(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	url, traceparents := tracedLegacy(t)
	var audit syncBuffer
	b := startConfigured(t, url, nil, server.WithTracerProvider(tp), server.WithAuditWriter(&audit))
	parent := func(n int) (traceID, header string) {
		traceID = fmt.Sprintf("%032x", 0xab00+n)
		return traceID, "00-" + traceID + "-00f067aa0ba902b7-01"
	}
	calls := []struct {
		name string
		call func(header string) error
	}{
		{"gRPC", func(h string) error {
			ctx := metadata.AppendToOutgoingContext(t.Context(), "traceparent", h)
			_, err := grpcClient(t, b.grpcAddr).GetItem(ctx, &demov1.GetItemRequest{Sku: "A-100"})
			return err
		}},
		{"Connect", func(h string) error {
			req := connect.NewRequest(&demov1.GetItemRequest{Sku: "A-100"})
			req.Header().Set("traceparent", h)
			_, err := demov1connect.NewInventoryServiceClient(h2cClient(), b.httpURL).GetItem(t.Context(), req)
			return err
		}},
		{"REST", func(h string) error {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+"/v1/items/A-100", nil)
			req.Header.Set("traceparent", h)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			return err
		}},
		{"MCP", func(h string) error {
			res, err := mcpSessionWith(t, t.Context(), b.httpURL+"/mcp", map[string]string{"traceparent": h}).CallTool(t.Context(),
				&mcp.CallToolParams{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}})
			if err == nil && res.IsError {
				err = fmt.Errorf("%s", textOf(res))
			}
			return err
		}},
	}
	for i, c := range calls {
		id, header := parent(i)
		before := len(traceparents())
		if err := c.call(header); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sent := traceparents()
		if len(sent) != before+1 || !strings.HasPrefix(sent[before], "00-"+id+"-") {
			t.Errorf("%s: the backend got traceparent %q, want trace %s", c.name, sent[before:], id)
		}
		if !strings.Contains(audit.String(), `"trace_id":"`+id+`"`) {
			t.Errorf("%s: no audit line with trace_id %s", c.name, id)
		}
	}
}
