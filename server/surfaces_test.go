package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/adapters/standard"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
)

// bridge is a running server in front of the demo's legacy SOAP system.
type bridge struct {
	grpcAddr, httpURL string
	calls             *counter      // what the interceptor chain saw, per procedure
	backendCalls      *atomic.Int64 // requests that reached the legacy system
	stop              func() error
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	c.mu.Lock()
	c.n[info.FullMethod+" "+string(server.SurfaceFromContext(ctx))]++
	c.mu.Unlock()
	return handler(ctx, req)
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := 0
	for _, v := range c.n {
		t += v
	}
	return t
}

func startBridge(t *testing.T, withGRPCListener bool, opts ...server.Option) *bridge {
	t.Helper()
	var backendCalls atomic.Int64
	legacy := demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) })
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backendCalls.Add(1)
		legacy.ServeHTTP(w, r)
	}))
	t.Cleanup(backend.Close)

	services, err := demo.InventoryConfig(backend.URL + "/inventory").BuildServices()
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{n: map[string]int{}}
	opts = append([]server.Option{server.WithInterceptors(c.interceptor), server.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	srv, err := server.New(services, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, withGRPCListener, c, &backendCalls)
}

func serve(t *testing.T, srv *server.Server, withGRPCListener bool, c *counter, backendCalls *atomic.Int64) *bridge {
	t.Helper()
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var grpcLis net.Listener
	b := &bridge{httpURL: "http://" + httpLis.Addr().String(), calls: c, backendCalls: backendCalls}
	if withGRPCListener {
		if grpcLis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		b.grpcAddr = grpcLis.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, grpcLis, httpLis) }()
	var once sync.Once
	var serveErr error
	b.stop = func() error {
		once.Do(func() { cancel(); serveErr = <-done })
		return serveErr
	}
	t.Cleanup(func() { _ = b.stop() })
	return b
}

// h2cClient speaks HTTP/1.1 and cleartext HTTP/2, as connect's gRPC protocol needs.
func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
}

func grpcClient(t *testing.T, addr string) demov1.InventoryServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return demov1.NewInventoryServiceClient(cc)
}

// surfaceCall calls GetItem for sku on one surface and returns the response or the failure as
// a status, whatever the surface's own error type.
type surfaceCall struct {
	name    string
	surface server.Surface
	call    func(ctx context.Context, sku string) (*demov1.GetItemResponse, *status.Status)
}

func surfaces(t *testing.T, b *bridge) []surfaceCall {
	t.Helper()
	connectCall := func(opts ...connect.ClientOption) func(ctx context.Context, sku string) (*demov1.GetItemResponse, *status.Status) {
		client := demov1connect.NewInventoryServiceClient(h2cClient(), b.httpURL, opts...)
		return func(ctx context.Context, sku string) (*demov1.GetItemResponse, *status.Status) {
			resp, err := client.GetItem(ctx, connect.NewRequest(&demov1.GetItemRequest{Sku: sku}))
			if err != nil {
				return nil, connectStatus(t, err)
			}
			return resp.Msg, nil
		}
	}
	grpcCall := func(addr string) func(ctx context.Context, sku string) (*demov1.GetItemResponse, *status.Status) {
		client := grpcClient(t, addr)
		return func(ctx context.Context, sku string) (*demov1.GetItemResponse, *status.Status) {
			resp, err := client.GetItem(ctx, &demov1.GetItemRequest{Sku: sku})
			if err != nil {
				st, _ := status.FromError(err)
				return nil, st
			}
			return resp, nil
		}
	}
	out := []surfaceCall{
		{"gRPC on the HTTP listener", server.SurfaceGRPC, grpcCall(strings.TrimPrefix(b.httpURL, "http://"))},
		{"Connect binary", server.SurfaceConnect, connectCall()},
		{"Connect JSON", server.SurfaceConnect, connectCall(connect.WithProtoJSON())},
		{"Connect GET", server.SurfaceConnect, connectCall(connect.WithHTTPGet())},
		{"gRPC-Web", server.SurfaceGRPCWeb, connectCall(connect.WithGRPCWeb())},
		{"connect-go gRPC", server.SurfaceGRPC, connectCall(connect.WithGRPC())},
		{"REST", server.SurfaceREST, func(ctx context.Context, sku string) (*demov1.GetItemResponse, *status.Status) {
			return restGet(t, ctx, b.httpURL+"/v1/items/"+sku)
		}},
	}
	if b.grpcAddr != "" {
		out = append(out, surfaceCall{"gRPC listener", server.SurfaceGRPC, grpcCall(b.grpcAddr)})
	}
	return out
}

func restGet(t *testing.T, ctx context.Context, url string) (*demov1.GetItemResponse, *status.Status) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, restStatus(t, body)
	}
	out := &demov1.GetItemResponse{}
	if err := protojson.Unmarshal(body, out); err != nil {
		t.Fatalf("REST body %s: %v", body, err)
	}
	return out, nil
}

func restStatus(t *testing.T, body []byte) *status.Status {
	t.Helper()
	var sp spb.Status
	if err := protojson.Unmarshal(body, &sp); err != nil {
		t.Fatalf("REST error body %s is not a google.rpc.Status: %v", body, err)
	}
	return status.FromProto(&sp)
}

func connectStatus(t *testing.T, err error) *status.Status {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("not a connect error: %v", err)
	}
	sp := &spb.Status{Code: int32(cerr.Code()), Message: cerr.Message()}
	for _, d := range cerr.Details() {
		v, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		a, _ := anypb.New(v)
		sp.Details = append(sp.Details, a)
	}
	return status.FromProto(sp)
}

func detailOf[T proto.Message](st *status.Status) T {
	var zero T
	for _, d := range st.Details() {
		if v, ok := d.(T); ok {
			return v
		}
	}
	return zero
}

// TestEverySurfaceSharesOneCallPath calls one method on every surface and checks the same
// result, the same failure, one pass through the chain per call, and validation everywhere.
func TestEverySurfaceSharesOneCallPath(t *testing.T) {
	t.Parallel()
	b := startBridge(t, true)
	ctx := t.Context()
	calls := surfaces(t, b)
	if len(calls) != 8 {
		t.Fatalf("expected 8 surfaces, got %d", len(calls))
	}

	t.Run("identical results", func(t *testing.T) {
		var first *demov1.GetItemResponse
		for _, s := range calls {
			before := b.calls.total()
			resp, st := s.call(ctx, "A-100")
			if st != nil {
				t.Fatalf("%s: %v", s.name, st.Err())
			}
			if got := b.calls.total() - before; got != 1 {
				t.Errorf("%s: the interceptor saw %d calls, want exactly 1", s.name, got)
			}
			if resp.GetItem().GetName() != "Cordless drill" || resp.GetItem().GetUpdatedAt().AsTime().Year() != 2026 {
				t.Errorf("%s: unexpected item %v", s.name, resp)
			}
			if first == nil {
				first = resp
			} else if !proto.Equal(first, resp) {
				t.Errorf("%s returned %v, the first surface returned %v", s.name, resp, first)
			}
		}
		for _, s := range []server.Surface{server.SurfaceGRPC, server.SurfaceConnect, server.SurfaceGRPCWeb, server.SurfaceREST} {
			if b.calls.get("/agentbridge.demo.v1.InventoryService/GetItem "+string(s)) == 0 {
				t.Errorf("no call was seen on surface %s", s)
			}
		}
	})

	t.Run("identical failure", func(t *testing.T) {
		var first *status.Status
		for _, s := range calls {
			_, st := s.call(ctx, "Z-999") // the legacy system answers with a soap:Server fault
			if st == nil {
				t.Fatalf("%s: no error", s.name)
			}
			info := detailOf[*errdetails.ErrorInfo](st)
			if st.Code() != codes.Internal || info.GetReason() != "SOAP_SERVER_FAULT" || info.GetDomain() != "inventory" ||
				info.GetMetadata()["fault_string"] != "warehouse database unavailable" {
				t.Errorf("%s: got %v with %v", s.name, st.Code(), info)
			}
			if first == nil {
				first = st
				continue
			}
			if st.Code() != first.Code() || st.Message() != first.Message() || !proto.Equal(info, detailOf[*errdetails.ErrorInfo](first)) {
				t.Errorf("%s: got %v %q %v, first surface %v %q %v", s.name, st.Code(), st.Message(), info,
					first.Code(), first.Message(), detailOf[*errdetails.ErrorInfo](first))
			}
		}
	})

	t.Run("validation before the backend", func(t *testing.T) {
		before := b.backendCalls.Load()
		for _, s := range calls {
			_, st := s.call(ctx, "not-a-sku")
			if st == nil || st.Code() != codes.InvalidArgument {
				t.Fatalf("%s: got %v, want InvalidArgument", s.name, st)
			}
			br := detailOf[*errdetails.BadRequest](st)
			if len(br.GetFieldViolations()) != 1 || br.GetFieldViolations()[0].GetField() != "sku" || br.GetFieldViolations()[0].GetReason() != "string.pattern" {
				t.Errorf("%s: BadRequest %v does not name field sku and rule string.pattern", s.name, br)
			}
			if !strings.Contains(st.Message(), "sku") {
				t.Errorf("%s: message %q does not name the field", s.name, st.Message())
			}
		}
		if got := b.backendCalls.Load() - before; got != 0 {
			t.Errorf("the backend saw %d calls for invalid requests, want 0", got)
		}
	})
}

func TestWithoutGRPCListener(t *testing.T) {
	t.Parallel()
	b := startBridge(t, false)
	for _, s := range surfaces(t, b) {
		resp, st := s.call(t.Context(), "A-100")
		if st != nil || resp.GetItem().GetSku() != "A-100" {
			t.Errorf("%s without the gRPC listener: %v %v", s.name, resp, st.Err())
		}
	}
}

func post(t *testing.T, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	b := startBridge(t, true, server.WithMaxBodyBytes(1<<10))
	const connectPath = "/agentbridge.demo.v1.InventoryService/ReserveItem"
	tests := []struct {
		name, path, contentType string
		body                    []byte
		wantHTTP                int
		wantText                string
	}{
		{"REST unknown field", "/v1/items/A-100:reserve", "application/json", []byte(`{"quantity": 1, "customerReff": "x"}`), 400, `unknown field \"customerReff\"`},
		{"REST malformed JSON", "/v1/items/A-100:reserve", "application/json", []byte(`{"quantity": `), 400, "invalid JSON for agentbridge.demo.v1.ReserveItemRequest"},
		{"REST wrong type", "/v1/items/A-100:reserve", "application/json", []byte(`{"quantity": "many"}`), 400, "quantity"},
		{"REST oversized body", "/v1/items/A-100:reserve", "application/json", bytes.Repeat([]byte(" "), 2<<10), 429, "the limit is 1024"},
		{"REST unknown route", "/v2/nothing", "application/json", []byte(`{}`), 404, "Not Found"},
		{"Connect unknown field", connectPath, "application/json", []byte(`{"sku": "A-100", "quantity": 1, "qty": 2}`), 400, `unknown field \"qty\"`},
		{"Connect malformed JSON", connectPath, "application/json", []byte(`[1,2`), 400, "invalid JSON"},
		{"Connect malformed protobuf", connectPath, "application/proto", []byte{0xff, 0xff, 0xff}, 400, "malformed protobuf"},
		{"Connect oversized body", connectPath, "application/json", bytes.Repeat([]byte(" "), 2<<10), 429, "larger than configured max 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := b.backendCalls.Load()
			code, body := post(t, b.httpURL+tt.path, tt.contentType, tt.body)
			if code != tt.wantHTTP || !strings.Contains(string(body), tt.wantText) {
				t.Errorf("got HTTP %d %s, want %d containing %q", code, body, tt.wantHTTP, tt.wantText)
			}
			if strings.Contains(string(body), "goroutine") || strings.Contains(string(body), ".go:") {
				t.Errorf("the reply leaks internals: %s", body)
			}
			if b.backendCalls.Load() != before {
				t.Error("bad input reached the backend")
			}
		})
	}

	t.Run("gRPC malformed protobuf", func(t *testing.T) {
		t.Parallel()
		cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cc.Close() }()
		var out []byte
		err = cc.Invoke(t.Context(), connectPath, []byte{0xff, 0xff, 0xff}, &out)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "malformed protobuf") {
			t.Errorf("got %v, want InvalidArgument naming the malformed protobuf", err)
		}
	})
}

// TestHeadersSurviveEverySurface checks that metadata reaches the implementation and that
// headers and trailers it sets come back, through the in-process gateway as well.
func TestHeadersSurviveEverySurface(t *testing.T) {
	t.Parallel()
	echo := func(ctx context.Context, req proto.Message) (proto.Message, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-seen", strings.Join(md.Get("x-agent"), ",")))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "done"))
		return &demov1.GetItemResponse{Item: &demov1.Item{Sku: req.(*demov1.GetItemRequest).GetSku()}}, nil
	}
	b := startGoService(t, echo)

	t.Run("REST", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+"/v1/items/A-100", nil)
		req.Header.Set("Grpc-Metadata-X-Agent", "agent-7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := resp.Header.Get("Grpc-Metadata-X-Seen"); got != "agent-7" {
			t.Errorf("header x-seen = %q, want agent-7 (headers: %v)", got, resp.Header)
		}
	})
	t.Run("Connect", func(t *testing.T) {
		client := demov1connect.NewInventoryServiceClient(h2cClient(), b.httpURL)
		req := connect.NewRequest(&demov1.GetItemRequest{Sku: "A-100"})
		req.Header().Set("X-Agent", "agent-8")
		resp, err := client.GetItem(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header().Get("X-Seen") != "agent-8" || resp.Trailer().Get("X-Trailer") != "done" {
			t.Errorf("header %v trailer %v", resp.Header(), resp.Trailer())
		}
	})
	t.Run("gRPC", func(t *testing.T) {
		client := grpcClient(t, b.grpcAddr)
		var header, trailer metadata.MD
		ctx := metadata.AppendToOutgoingContext(t.Context(), "x-agent", "agent-9")
		if _, err := client.GetItem(ctx, &demov1.GetItemRequest{Sku: "A-100"}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
			t.Fatal(err)
		}
		if strings.Join(header.Get("x-seen"), "") != "agent-9" || strings.Join(trailer.Get("x-trailer"), "") != "done" {
			t.Errorf("header %v trailer %v", header, trailer)
		}
	})
}

// startGoService serves the demo service implemented in Go (no backend) for the tests that need
// control over the implementation.
func startGoService(t *testing.T, getItem func(context.Context, proto.Message) (proto.Message, error), opts ...server.Option) *bridge {
	t.Helper()
	sd := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	unimplemented := func(context.Context, proto.Message) (proto.Message, error) {
		return nil, status.Error(codes.Unimplemented, "not in this test")
	}
	svc := server.Service{
		Desc: sd,
		Methods: map[protoreflect.Name]adapters.Unary{
			"GetItem": getItem, "ListItems": unimplemented, "ReserveItem": unimplemented,
		},
	}
	opts = append([]server.Option{server.WithLogger(slog.New(slog.DiscardHandler)), server.WithShutdownGrace(5 * time.Second)}, opts...)
	srv, err := server.New([]server.Service{svc}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, true, &counter{n: map[string]int{}}, &atomic.Int64{})
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	shutdown := &signalOn{msg: "shutting down", seen: make(chan struct{})}
	b := startGoService(t, func(ctx context.Context, req proto.Message) (proto.Message, error) {
		close(started)
		<-shutdown.seen // still in flight when the shutdown starts
		return &demov1.GetItemResponse{Item: &demov1.Item{Sku: "A-100"}}, nil
	}, server.WithLogger(slog.New(shutdown)))
	result := make(chan error, 1)
	go func() {
		_, st := restGet(t, context.Background(), b.httpURL+"/v1/items/A-100")
		result <- st.Err()
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- b.stop() }()
	if err := <-result; err != nil {
		t.Errorf("the call in flight failed during shutdown: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve returned %v after a graceful shutdown, want nil", err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(b.httpURL, "http://"), time.Second); err == nil {
		t.Error("the HTTP listener still accepts connections after shutdown")
	}
}

// signalOn is a slog handler that closes seen when a record with the message msg is logged.
type signalOn struct {
	msg  string
	seen chan struct{}
	once sync.Once
}

func (h *signalOn) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalOn) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *signalOn) WithGroup(string) slog.Handler            { return h }
func (h *signalOn) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

func TestHealthAndOpenAPI(t *testing.T) {
	t.Parallel()
	b := startBridge(t, true)
	for path, want := range map[string]string{
		"/healthz":      "ok",
		"/readyz":       "ready",
		"/openapi.json": `"/v1/items/{sku}"`,
	} {
		resp, err := http.Get(b.httpURL + path) //nolint:noctx // a test's one-off GET
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %s, want 200 containing %s", path, resp.StatusCode, body, want)
		}
	}
	resp, err := http.Get(b.httpURL + "/openapi.json") //nolint:noctx // a test's one-off GET
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), "GetItem returns one stock item by its SKU") {
		t.Error("the OpenAPI document lacks the method's comment")
	}
	if strings.Contains(string(body), "CalculatorService") {
		t.Error("the OpenAPI document describes a service that is not served")
	}
}

// rawCodec sends bytes as they are, to put a malformed message on the wire.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}
