package server_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server"
)

// flakyLegacy is the demo's legacy system behind a switch: while failing is set it answers
// HTTP 503, as a backend in trouble does. It counts the requests that reach it.
type flakyLegacy struct {
	failing atomic.Bool
	failN   atomic.Int64 // fail this many more requests, then serve
	calls   atomic.Int64
	url     string
}

func newFlakyLegacy(t *testing.T) *flakyLegacy {
	t.Helper()
	f := &flakyLegacy{}
	legacy := demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) })
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if f.failing.Load() || f.failN.Add(-1) >= 0 {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		legacy.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	f.url = ts.URL + "/inventory"
	return f
}

// startConfigured serves the demo service as config serve builds it (Config.Build), with the
// inventory backend changed by edit.
func startConfigured(t *testing.T, endpoint string, edit func(c *server.Config, b *adapters.Backend), opts ...server.Option) *bridge {
	t.Helper()
	cfg := demo.InventoryConfig(endpoint)
	b := cfg.Backends["inventory"]
	b.WSDL = ""
	if edit != nil {
		edit(cfg, &b)
	}
	cfg.Backends["inventory"] = b
	c := &counter{n: map[string]int{}}
	opts = append([]server.Option{server.WithInterceptors(c.interceptor), server.WithLogger(slog.New(slog.DiscardHandler)), server.WithShutdownGrace(5 * time.Second)}, opts...)
	srv, err := cfg.Build(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, true, c, new(atomic.Int64))
}

// restCall is a REST GET that keeps the response headers.
func restCall(t *testing.T, url string) (int, http.Header, *status.Status) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, resp.Header, nil
	}
	return resp.StatusCode, resp.Header, restStatus(t, body)
}

// mcpGetItem calls the GetItem tool and returns its result.
func mcpGetItem(t *testing.T, session *mcp.ClientSession, sku string) *mcp.CallToolResult {
	t.Helper()
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": sku}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestInboundRateLimitOnEverySurface: one budget for GetItem, spent by the first call; every
// other call, on every surface, is refused with ResourceExhausted and says when to retry: a
// RetryInfo on gRPC, Connect and gRPC-Web, Retry-After on REST, the text on MCP. None reaches
// the backend, and every refusal is counted at /metrics.
func TestInboundRateLimitOnEverySurface(t *testing.T) {
	t.Parallel()
	b := startBridge(t, true, server.WithLimits(server.Limits{Rate: []server.RateRule{{
		Methods: "agentbridge.demo.v1.InventoryService.GetItem", Per: server.PerMethod, Rate: adapters.Rate{PerSecond: 0.01, Burst: 1},
	}}}))
	calls := surfaces(t, b)
	if _, st := calls[0].call(t.Context(), "A-100"); st != nil {
		t.Fatalf("first call: %v", st.Err())
	}
	before := b.backendCalls.Load()
	refused := 0
	for _, s := range calls {
		_, st := s.call(t.Context(), "A-100")
		refused++
		if st == nil || st.Code() != codes.ResourceExhausted {
			t.Errorf("%s: got %v, want ResourceExhausted", s.name, st)
			continue
		}
		ri := detailOf[*errdetails.RetryInfo](st)
		if d := ri.GetRetryDelay().AsDuration(); d <= 0 || d > 100*time.Second {
			t.Errorf("%s: RetryInfo %v, want the wait for the next token (up to 100s)", s.name, ri)
		}
		if !strings.Contains(st.Message(), "retry after") || !strings.Contains(st.Message(), "GetItem") {
			t.Errorf("%s: message %q should name the method and when to retry", s.name, st.Message())
		}
	}
	code, header, st := restCall(t, b.httpURL+"/v1/items/A-100")
	refused++
	if secs, err := strconv.Atoi(header.Get("Retry-After")); code != http.StatusTooManyRequests || err != nil || secs < 1 || secs > 100 || st.Code() != codes.ResourceExhausted {
		t.Errorf("REST: HTTP %d, Retry-After %q, %v", code, header.Get("Retry-After"), st)
	}
	res := mcpGetItem(t, mcpSession(t, b.httpURL+"/mcp"), "A-100")
	refused++
	if text := textOf(res); !res.IsError || !strings.Contains(text, "ResourceExhausted") || !strings.Contains(text, "retry after") || !strings.Contains(text, "retryDelay") {
		t.Errorf("MCP: isError %v, %s", res.IsError, text)
	}
	if n := b.backendCalls.Load() - before; n != 0 {
		t.Errorf("refused calls reached the backend %d times", n)
	}
	// Other methods have budgets of their own (none here).
	if code, _, st := restCall(t, b.httpURL+"/v1/items?category=garden"); code != http.StatusOK {
		t.Errorf("ListItems: HTTP %d %v", code, st)
	}
	fams := scrape(t, b.httpURL)
	if got := counterValue(fams, "agentbridge_rejections_total", map[string]string{"limit": "inbound_rate", "method": "/agentbridge.demo.v1.InventoryService/GetItem"}); got != float64(refused) {
		t.Errorf("agentbridge_rejections_total = %v, want %d", got, refused)
	}
}

// TestInboundRateLimitPerPrincipal: each API key has a budget of its own; one caller spending
// theirs leaves the other's whole.
func TestInboundRateLimitPerPrincipal(t *testing.T) {
	t.Parallel()
	auth := server.AuthConfig{APIKeys: []server.APIKey{{ID: "alice", SHA256: sha256Hex("alice-key")}, {ID: "bob", SHA256: sha256Hex("bob-key")}}}
	b := startBridge(t, false, server.WithAuth(auth), server.WithLimits(server.Limits{Rate: []server.RateRule{{Rate: adapters.Rate{PerSecond: 0.01, Burst: 2}}}}))
	get := func(key string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+"/v1/items/A-100", nil)
		req.Header.Set("X-Api-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for i, want := range []int{200, 200, 429, 429} {
		if got := get("alice-key"); got != want {
			t.Errorf("alice's call %d: HTTP %d, want %d", i+1, got, want)
		}
	}
	for i, want := range []int{200, 200, 429} {
		if got := get("bob-key"); got != want {
			t.Errorf("bob's call %d: HTTP %d, want %d", i+1, got, want)
		}
	}
}

// TestBreakerOnEverySurface: a backend answering 503 opens its breaker after the configured
// failures; then every surface fails fast with Unavailable naming the backend and when to retry,
// nothing reaches the backend, and /readyz and gRPC health report the service not ready.
func TestBreakerOnEverySurface(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	legacy.failing.Store(true)
	b := startConfigured(t, legacy.url, func(_ *server.Config, be *adapters.Backend) {
		be.Retry.MaxAttempts = 1
		be.Breaker = adapters.BreakerPolicy{Failures: 2, OpenFor: time.Hour}
	})
	calls := surfaces(t, b)
	for range 2 {
		if _, st := calls[0].call(t.Context(), "A-100"); st.Code() != codes.Unavailable {
			t.Fatalf("backend down: %v", st)
		}
	}
	sent := legacy.calls.Load()
	for _, s := range calls {
		_, st := s.call(t.Context(), "A-100")
		info := detailOf[*errdetails.ErrorInfo](st)
		if st.Code() != codes.Unavailable || info.GetReason() != "BACKEND_CIRCUIT_OPEN" || info.GetDomain() != "inventory" ||
			detailOf[*errdetails.RetryInfo](st) == nil || !strings.Contains(st.Message(), "backend inventory") || !strings.Contains(st.Message(), "retry after") {
			t.Errorf("%s: %v %q %v", s.name, st.Code(), st.Message(), info)
		}
	}
	code, header, _ := restCall(t, b.httpURL+"/v1/items/A-100")
	if code != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Errorf("REST: HTTP %d, Retry-After %q", code, header.Get("Retry-After"))
	}
	res := mcpGetItem(t, mcpSession(t, b.httpURL+"/mcp"), "A-100")
	if text := textOf(res); !res.IsError || !strings.Contains(text, "circuit breaker") || !strings.Contains(text, "retry after") {
		t.Errorf("MCP: %s", text)
	}
	if n := legacy.calls.Load() - sent; n != 0 {
		t.Errorf("%d calls reached the backend while its breaker was open", n)
	}

	resp, err := http.Get(b.httpURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "backend inventory breaker=open") {
		t.Errorf("/readyz: HTTP %d\n%s", resp.StatusCode, body)
	}
	cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	for _, svc := range []string{"", demo.ServiceName} {
		hr, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("gRPC health of %q with the only backend's breaker open: %v %v", svc, hr, err)
		}
	}
	fams := scrape(t, b.httpURL)
	if v := gaugeValue(fams, "agentbridge_backend_breaker_state", map[string]string{"backend": "inventory"}); v != 2 {
		t.Errorf("agentbridge_backend_breaker_state = %v, want 2 (open)", v)
	}
	if v := counterValue(fams, "agentbridge_backend_rejections_total", map[string]string{"backend": "inventory", "limit": "circuit_open"}); v < float64(len(calls)+2) {
		t.Errorf("agentbridge_backend_rejections_total{circuit_open} = %v, want at least %d", v, len(calls)+2)
	}
}

// TestBackendRateOnEverySurface: a backend's outbound budget, spent by the first call, refuses
// the next ones on every surface with ResourceExhausted, BACKEND_BUSY and when to retry, without
// sending them.
func TestBackendRateOnEverySurface(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	b := startConfigured(t, legacy.url, func(_ *server.Config, be *adapters.Backend) {
		be.Rate = adapters.Rate{PerSecond: 0.01, Burst: 1}
	})
	calls := surfaces(t, b)
	if _, st := calls[0].call(t.Context(), "A-100"); st != nil {
		t.Fatalf("first call: %v", st.Err())
	}
	sent := legacy.calls.Load()
	for _, s := range calls {
		_, st := s.call(t.Context(), "A-100")
		info := detailOf[*errdetails.ErrorInfo](st)
		if st.Code() != codes.ResourceExhausted || info.GetReason() != "BACKEND_BUSY" || info.GetMetadata()["limit"] != "rate" ||
			detailOf[*errdetails.RetryInfo](st) == nil || !strings.Contains(st.Message(), "retry after") {
			t.Errorf("%s: %v %q %v", s.name, st.Code(), st.Message(), info)
		}
	}
	code, header, _ := restCall(t, b.httpURL+"/v1/items/A-100")
	if code != http.StatusTooManyRequests || header.Get("Retry-After") == "" {
		t.Errorf("REST: HTTP %d, Retry-After %q", code, header.Get("Retry-After"))
	}
	res := mcpGetItem(t, mcpSession(t, b.httpURL+"/mcp"), "A-100")
	if text := textOf(res); !res.IsError || !strings.Contains(text, "BACKEND_BUSY") || !strings.Contains(text, "retry after") {
		t.Errorf("MCP: %s", text)
	}
	if n := legacy.calls.Load() - sent; n != 0 {
		t.Errorf("%d refused calls reached the backend", n)
	}
	fams := scrape(t, b.httpURL)
	if v := counterValue(fams, "agentbridge_backend_rejections_total", map[string]string{"backend": "inventory", "limit": "rate"}); v != float64(len(calls)+2) {
		t.Errorf("agentbridge_backend_rejections_total{rate} = %v, want %d", v, len(calls)+2)
	}
}

// TestRetriesThroughTheBridge: a read-only call that meets one 503 is retried and succeeds; a
// call with side effects is not repeated.
func TestRetriesThroughTheBridge(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	b := startConfigured(t, legacy.url, func(_ *server.Config, be *adapters.Backend) {
		be.Retry = adapters.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	})
	client := grpcClient(t, b.grpcAddr)
	legacy.failN.Store(1)
	if _, err := client.GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"}); err != nil || legacy.calls.Load() != 2 {
		t.Errorf("GetItem after one 503: %v, backend saw %d requests, want 2", err, legacy.calls.Load())
	}
	legacy.failN.Store(1)
	before := legacy.calls.Load()
	_, err := client.ReserveItem(t.Context(), &demov1.ReserveItemRequest{Sku: "G-100", Quantity: 1, CustomerRef: "PO-1"})
	if status.Code(err) != codes.Unavailable || legacy.calls.Load()-before != 1 {
		t.Errorf("ReserveItem after one 503: %v, backend saw %d requests, want 1", err, legacy.calls.Load()-before)
	}
	fams := scrape(t, b.httpURL)
	if v := counterValue(fams, "agentbridge_backend_retries_total", map[string]string{"backend": "inventory"}); v != 1 {
		t.Errorf("agentbridge_backend_retries_total = %v, want 1", v)
	}
	// GetItem: a 503 then OK; ReserveItem: a 503.
	if ok, unavailable := counterValue(fams, "agentbridge_backend_attempts_total", map[string]string{"backend": "inventory", "code": "OK"}),
		counterValue(fams, "agentbridge_backend_attempts_total", map[string]string{"backend": "inventory", "code": "Unavailable"}); ok != 1 || unavailable != 2 {
		t.Errorf("agentbridge_backend_attempts_total: OK %v, Unavailable %v; want 1 and 2", ok, unavailable)
	}
	if h := findMetric(fams, "agentbridge_backend_attempt_duration_seconds", map[string]string{"backend": "inventory"}); h.GetHistogram().GetSampleCount() != 3 {
		t.Errorf("attempt durations: %v, want 3 samples", h)
	}
}

// TestMetricsScrape: /metrics parses with the Prometheus text parser and counts calls by
// method, surface, backend and code, with latency histograms and the MCP session gauge.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	b := startBridge(t, true)
	for _, s := range surfaces(t, b) {
		if _, st := s.call(t.Context(), "A-100"); st != nil {
			t.Fatalf("%s: %v", s.name, st.Err())
		}
		_, _ = s.call(t.Context(), "Z-999") // a SOAP server fault: Internal
	}
	session := mcpSession(t, b.httpURL+"/mcp")
	mcpGetItem(t, session, "A-100")
	fams := scrape(t, b.httpURL)
	const m = "/agentbridge.demo.v1.InventoryService/GetItem"
	for _, tc := range []struct {
		surface string
		ok      float64
	}{{"grpc", 3}, {"connect", 3}, {"grpcweb", 1}, {"rest", 1}, {"mcp", 1}} {
		if v := counterValue(fams, "agentbridge_calls_total", map[string]string{"method": m, "surface": tc.surface, "backend": "inventory", "code": "OK"}); v != tc.ok {
			t.Errorf("calls_total{surface=%s,code=OK} = %v, want %v", tc.surface, v, tc.ok)
		}
	}
	if v := counterValue(fams, "agentbridge_calls_total", map[string]string{"method": m, "surface": "rest", "backend": "inventory", "code": "Internal"}); v != 1 {
		t.Errorf("calls_total{surface=rest,code=Internal} = %v, want 1", v)
	}
	h := findMetric(fams, "agentbridge_call_duration_seconds", map[string]string{"method": m, "surface": "grpc", "backend": "inventory"})
	if h == nil || h.GetHistogram().GetSampleCount() != 6 || len(h.GetHistogram().GetBucket()) == 0 {
		t.Errorf("latency histogram for gRPC: %v", h)
	}
	if v := gaugeValue(fams, "agentbridge_mcp_sessions", nil); v < 1 {
		t.Errorf("agentbridge_mcp_sessions = %v with a session open", v)
	}
	for _, name := range []string{"agentbridge_backend_in_flight", "agentbridge_backend_breaker_state", "agentbridge_backend_concurrency_limit", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// TestShutdownDrainsBeforeClosing: on shutdown /readyz and gRPC health fail at once while the
// listeners still serve calls, for the drain delay; then the server stops.
func TestShutdownDrainsBeforeClosing(t *testing.T) {
	t.Parallel()
	draining := &signalOn{msg: "not ready; draining before the listeners close", seen: make(chan struct{})}
	end := make(chan struct{})
	b := startBridge(t, true, server.WithDrainDelay(time.Hour), server.WithDrainEnd(end), server.WithLogger(slog.New(draining)))
	stopped := make(chan error, 1)
	go func() { stopped <- b.stop() }()
	<-draining.seen
	resp, err := http.Get(b.httpURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: HTTP %d, want 503", resp.StatusCode)
	}
	cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	if hr, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health while draining: %v %v", hr, err)
	}
	if _, st := restGet(t, t.Context(), b.httpURL+"/v1/items/A-100"); st != nil {
		t.Errorf("a call while draining: %v", st.Err())
	}
	if _, err := demov1.NewInventoryServiceClient(cc).GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
		t.Errorf("a gRPC call while draining: %v", err)
	}
	close(end)
	if err := <-stopped; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestShutdownClosesMCPStreams: an MCP client's open GET stream does not hold the shutdown for
// the grace period; the stream ends and Serve returns.
func TestShutdownClosesMCPStreams(t *testing.T) {
	t.Parallel()
	const grace = 20 * time.Second
	b := startBridge(t, false, server.WithShutdownGrace(grace))
	endpoint := b.httpURL + "/mcp"
	session := rawInitialize(t, endpoint)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, endpoint, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET stream: HTTP %d", resp.StatusCode)
	}
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- b.stop() }()
	// The stream ends (EOF or a reset), instead of staying open for the grace period.
	_, _ = io.Copy(io.Discard, bufio.NewReader(resp.Body))
	if err := <-stopped; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if took := time.Since(start); took > grace/2 {
		t.Errorf("shutdown took %s with an MCP stream open; the stream held it for the grace period (%s)", took, grace)
	}
}

// scrape reads /metrics with the Prometheus text parser.
func scrape(t *testing.T, httpURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(httpURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

func findMetric(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func counterValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	return findMetric(fams, name, labels).GetCounter().GetValue()
}

func gaugeValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	return findMetric(fams, name, labels).GetGauge().GetValue()
}

// TestProbeReadiness: with a probe configured, a backend that answers it with 503 makes the
// service not ready before any call has failed, and ready again when a probe passes; /readyz
// says so.
func TestProbeReadiness(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	legacy.failing.Store(true)
	cfg := demo.InventoryConfig(legacy.url)
	b := cfg.Backends["inventory"]
	b.WSDL = ""
	b.Probe = adapters.ProbePolicy{Interval: time.Hour, Failures: 1}
	cfg.Backends["inventory"] = b
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	guard := srv.Services()[0].Guards[0]
	changed := make(chan struct{}, 4)
	guard.OnChange(func() { changed <- struct{}{} })
	br := serve(t, srv, true, &counter{n: map[string]int{}}, new(atomic.Int64))
	<-changed // the first probe runs when serving starts
	readyz := func() (int, string) {
		resp, err := http.Get(br.httpURL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, `probe=down`) || !strings.Contains(body, `probe_error="answered HTTP 503"`) {
		t.Errorf("/readyz with the probe failing: HTTP %d\n%s", code, body)
	}
	cc, err := grpc.NewClient(br.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	if hr, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{Service: demo.ServiceName}); err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health with the probe failing: %v %v", hr, err)
	}
	legacy.failing.Store(false)
	if err := guard.Probe(t.Context()); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(); code != http.StatusOK || !strings.Contains(body, "probe=up") {
		t.Errorf("/readyz after a passing probe: HTTP %d\n%s", code, body)
	}
}

// TestReloadKeepsBreakers: a reload that leaves a backend's settings alone keeps its guard, so
// an open breaker stays open (the backend is still down); a reload that changes them starts a
// new one.
func TestReloadKeepsBreakers(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	legacy.failing.Store(true)
	config := func(failures int) *server.Config {
		cfg := demo.InventoryConfig(legacy.url)
		b := cfg.Backends["inventory"]
		b.WSDL = ""
		b.Retry.MaxAttempts = 1
		b.Breaker = adapters.BreakerPolicy{Failures: failures, OpenFor: time.Hour}
		cfg.Backends["inventory"] = b
		return cfg
	}
	srv, err := config(1).Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	br := serve(t, srv, true, &counter{n: map[string]int{}}, new(atomic.Int64))
	client := grpcClient(t, br.grpcAddr)
	reason := func() string {
		_, err := client.GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"})
		return detailOf[*errdetails.ErrorInfo](status.Convert(err)).GetReason()
	}
	if r := reason(); r != "BACKEND_BAD_REPLY" {
		t.Fatalf("first failure: %s", r)
	}
	if r := reason(); r != "BACKEND_CIRCUIT_OPEN" {
		t.Fatalf("after one failure with failures: 1: %s", r)
	}
	if err := srv.ReloadConfig(config(1)); err != nil {
		t.Fatal(err)
	}
	if r := reason(); r != "BACKEND_CIRCUIT_OPEN" {
		t.Errorf("after a reload with the same settings: %s, want the breaker still open", r)
	}
	if err := srv.ReloadConfig(config(3)); err != nil {
		t.Fatal(err)
	}
	if r := reason(); r != "BACKEND_BAD_REPLY" {
		t.Errorf("after a reload that changed the breaker: %s, want a new, closed breaker", r)
	}
}

// TestBackendConnectionsBounded repeats, at a smaller scale, the measurement: many
// concurrent calls (400: four gRPC connections of 100 streams each, the stream cap) used to
// open a backend connection each (1,500 calls opened 1,404). Now the backend sees at most
// max_connections, and every call still succeeds.
func TestBackendConnectionsBounded(t *testing.T) {
	t.Parallel()
	const calls, maxConns = 400, 16
	var conns, inHandler atomic.Int64
	full, release := make(chan struct{}), make(chan struct{})
	var fullOnce sync.Once
	legacy := demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) })
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inHandler.Add(1) == maxConns {
			fullOnce.Do(func() { close(full) })
		}
		<-release
		legacy.ServeHTTP(w, r)
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	b := startConfigured(t, ts.URL+"/inventory", func(_ *server.Config, be *adapters.Backend) { be.MaxConnections = maxConns })
	var clients []demov1.InventoryServiceClient
	for range 4 {
		clients = append(clients, grpcClient(t, b.grpcAddr))
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range calls {
		wg.Go(func() {
			if _, err := clients[i%4].GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
				failed.Add(1)
			}
		})
	}
	<-full
	close(release)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d calls failed", n, calls)
	}
	if n := conns.Load(); n > maxConns {
		t.Errorf("%d concurrent calls opened %d backend connections; max_connections is %d", calls, n, maxConns)
	}
	t.Logf("%d concurrent calls, %d backend connections", calls, conns.Load())
}

// TestOutageReachesTheBackendRarely repeats the other measurement: during an outage every
// call went to the dead backend (10,936 of 10,936). With the default breaker, 1,000 calls from
// 10 callers reach it a handful of times (5 failures open it; calls already in flight and
// retries add a few).
func TestOutageReachesTheBackendRarely(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	legacy.failing.Store(true)
	b := startConfigured(t, legacy.url, nil)
	client := grpcClient(t, b.grpcAddr)
	var wg sync.WaitGroup
	var fast atomic.Int64
	for range 10 {
		wg.Go(func() {
			for range 100 {
				_, err := client.GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"})
				if detailOf[*errdetails.ErrorInfo](status.Convert(err)).GetReason() == "BACKEND_CIRCUIT_OPEN" {
					fast.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := legacy.calls.Load(); n > 50 {
		t.Errorf("1,000 calls during an outage reached the backend %d times", n)
	}
	t.Logf("1,000 calls during an outage: %d reached the backend, %d failed fast", legacy.calls.Load(), fast.Load())
}

// TestHealthWatchFollowsBreaker: a gRPC health Watch stream hears when the backend's breaker
// opens, without polling.
func TestHealthWatchFollowsBreaker(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	legacy.failing.Store(true)
	b := startConfigured(t, legacy.url, func(_ *server.Config, be *adapters.Backend) {
		be.Retry.MaxAttempts = 1
		be.Breaker = adapters.BreakerPolicy{Failures: 1, OpenFor: time.Hour}
	})
	cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	watch, err := healthpb.NewHealthClient(cc).Watch(t.Context(), &healthpb.HealthCheckRequest{Service: demo.ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first status: %v %v", first, err)
	}
	if _, err := demov1.NewInventoryServiceClient(cc).GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("failing call: %v", err)
	}
	if next, err := watch.Recv(); err != nil || next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("after the breaker opened: %v %v", next, err)
	}
}

// TestInboundRateRuleShapes: per principal (one budget across methods), per all (one budget
// for everyone), and a rule that names its principals leaves the others alone.
func TestInboundRateRuleShapes(t *testing.T) {
	t.Parallel()
	auth := server.AuthConfig{APIKeys: []server.APIKey{{ID: "alice", SHA256: sha256Hex("alice-key")}, {ID: "bob", SHA256: sha256Hex("bob-key")}}}
	slow := adapters.Rate{PerSecond: 0.01, Burst: 1}
	for _, tc := range []struct {
		name  string
		rule  server.RateRule
		calls []string // key id and path, in order
		want  []int
	}{
		{"per principal, across methods", server.RateRule{Per: server.PerPrincipal, Rate: slow},
			[]string{"alice /v1/items/A-100", "alice /v1/items?category=garden", "bob /v1/items/A-100"}, []int{200, 429, 200}},
		{"one budget for all", server.RateRule{Per: server.PerAll, Rate: slow},
			[]string{"alice /v1/items/A-100", "bob /v1/items?category=garden"}, []int{200, 429}},
		{"only the principals named", server.RateRule{Principals: []string{"bob"}, Rate: slow},
			[]string{"alice /v1/items/A-100", "alice /v1/items/A-100", "bob /v1/items/A-100", "bob /v1/items/A-100"}, []int{200, 200, 200, 429}},
		{"only the methods matched", server.RateRule{Methods: "*.ListItems", Rate: slow},
			[]string{"alice /v1/items/A-100", "alice /v1/items/A-100", "alice /v1/items?category=garden", "alice /v1/items?category=garden"}, []int{200, 200, 200, 429}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBridge(t, false, server.WithAuth(auth), server.WithLimits(server.Limits{Rate: []server.RateRule{tc.rule}}))
			for i, c := range tc.calls {
				who, path, _ := strings.Cut(c, " ")
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+path, nil)
				req.Header.Set("X-Api-Key", who+"-key")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != tc.want[i] {
					t.Errorf("call %d (%s): HTTP %d, want %d", i+1, c, resp.StatusCode, tc.want[i])
				}
			}
		})
	}
}
