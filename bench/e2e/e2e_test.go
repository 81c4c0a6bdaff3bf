package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The two operations.
const (
	opAdd  = "add"
	opList = "list"
)

// The bridges: direct is no bridge (the client sends the SOAP request the bridges send to the
// backend itself), the floor every other row stands on.
const (
	bridgeDirect      = "direct"
	bridgeHandwritten = "handwritten"
	bridgeREST        = "rest"
	bridgeConnect     = "connect"
	bridgeGRPC        = "grpc"
	bridgeRESTAudit   = "rest-audit" // REST with the audit line the default config writes
	bridgeMCP         = "mcp"        // agentbridge's tools over Streamable HTTP, from a plain HTTP client
)

// newHTTPClient is the client of every HTTP row: keep-alive, and no Accept-Encoding, so no
// surface compresses its answer (the hand-written bridge would not).
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.DisableCompression = true
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// soapRequest is the SOAP request the hand-written bridge sends for op, which the direct row
// sends itself.
func soapRequest(op string) (action string, body []byte) {
	env := hwEnvelope{Soap: soapEnvNS}
	switch op {
	case opAdd:
		action, env.Body.Add = "urn:acme:orders#Add", &hwAdd{NS: ordersNS, A: 2, B: 3}
	default:
		action, env.Body.ListOrders = "urn:acme:orders#ListOrders", &hwListOrders{NS: ordersNS, Count: ListSize}
	}
	data, err := xml.Marshal(env)
	if err != nil {
		panic(err)
	}
	return `"` + action + `"`, append([]byte(xml.Header), data...)
}

// client calls one bridge, as an agent would.
type client struct {
	bridge     string
	url        string // the bridge's HTTP base URL, or the backend's endpoint for direct
	http       *http.Client
	cc         *grpc.ClientConn
	svc        protoreflect.ServiceDescriptor
	buf        bytes.Buffer
	reqs       map[string]proto.Message // gRPC requests by op
	raws       map[string][]byte        // the same, marshalled
	names      map[string]string        // gRPC method names by op
	mcpSession string                   // the MCP session, once initialized
}

func newClient(bridge, url string, cc *grpc.ClientConn, svc protoreflect.ServiceDescriptor) *client {
	c := &client{bridge: bridge, url: url, http: newHTTPClient(), cc: cc, svc: svc, names: map[string]string{opAdd: "Add", opList: "ListOrders"}}
	if bridge == bridgeGRPC {
		add := dynamicpb.NewMessage(svc.Methods().ByName("Add").Input())
		add.Set(add.Descriptor().Fields().ByName("a"), protoreflect.ValueOfInt32(2))
		add.Set(add.Descriptor().Fields().ByName("b"), protoreflect.ValueOfInt32(3))
		list := dynamicpb.NewMessage(svc.Methods().ByName("ListOrders").Input())
		list.Set(list.Descriptor().Fields().ByName("count"), protoreflect.ValueOfInt32(ListSize))
		c.reqs = map[string]proto.Message{opAdd: add, opList: list}
		c.raws = map[string][]byte{}
		for op, m := range c.reqs {
			data, err := proto.Marshal(m)
			if err != nil {
				panic(err)
			}
			c.raws[op] = data
		}
	}
	return c
}

// call makes one call of op and returns the answer: the body of an HTTP row, the answer as
// protojson for gRPC when asJSON (else nil). It checks the status and, for gRPC, the count.
func (c *client) call(ctx context.Context, op string, asJSON bool) ([]byte, error) {
	if c.bridge == bridgeGRPC && !asJSON {
		// As the HTTP rows read their body and parse nothing, the gRPC client sends and
		// keeps bytes: the request marshalled once, the answer's message not decoded.
		c.buf.Reset()
		out := c.buf.AvailableBuffer()
		if err := c.cc.Invoke(ctx, "/"+serviceName+"/"+c.names[op], c.raws[op], &out, grpc.ForceCodecV2(rawCodec{})); err != nil {
			return nil, err
		}
		return out, nil
	}
	if c.bridge == bridgeMCP {
		return c.callTool(ctx, op, asJSON)
	}
	if c.bridge == bridgeGRPC {
		method := c.names[op]
		md := c.svc.Methods().ByName(protoreflect.Name(method))
		out := dynamicpb.NewMessage(md.Output())
		if err := c.cc.Invoke(ctx, "/"+serviceName+"/"+method, c.reqs[op], out); err != nil {
			return nil, err
		}
		if op == opList {
			if n := out.Get(md.Output().Fields().ByName("orders")).List().Len(); n != ListSize {
				return nil, fmt.Errorf("%d orders", n)
			}
		}
		if asJSON {
			return protojson.Marshal(out)
		}
		return nil, nil
	}
	var req *http.Request
	var err error
	switch {
	case c.bridge == bridgeDirect:
		action, body := soapRequest(op)
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body)); err == nil {
			req.Header.Set("Content-Type", "text/xml; charset=utf-8")
			req.Header.Set("SOAPAction", action)
		}
	case c.bridge == bridgeConnect:
		method := c.names[op]
		body := map[string]string{opAdd: `{"a":2,"b":3}`, opList: fmt.Sprintf(`{"count":%d}`, ListSize)}[op]
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/"+serviceName+"/"+method, strings.NewReader(body)); err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	case op == opAdd: // REST, agentbridge's or the hand-written one
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/v1/add", strings.NewReader(`{"a":2,"b":3}`)); err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	default:
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/orders?count=%d", c.url, ListSize), nil)
	}
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	c.buf.Reset()
	_, err = c.buf.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", c.bridge, op, resp.StatusCode, c.buf.Bytes())
	}
	return c.buf.Bytes(), nil
}

// The MCP protocol version the MCP client speaks.
const mcpVersion = "2025-11-25"

// callTool makes one tools/call of op over Streamable HTTP, as a host that is not the go-sdk
// would: the session is initialized on the first call, and each call is one POST whose reply
// (an SSE stream) is read to the end. It checks that the reply is a result and not a tool
// error; with asJSON it returns the result's structuredContent.
func (c *client) callTool(ctx context.Context, op string, asJSON bool) ([]byte, error) {
	if c.mcpSession == "" {
		header, body, err := c.postMCP(ctx, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+mcpVersion+
			`","capabilities":{},"clientInfo":{"name":"agentbridge-e2e","version":"v0"}}}`)
		if err != nil {
			return nil, err
		}
		if c.mcpSession = header.Get("Mcp-Session-Id"); c.mcpSession == "" {
			return nil, fmt.Errorf("initialize: no session: %s", body)
		}
		if _, _, err := c.postMCP(ctx, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
			return nil, err
		}
	}
	call := map[string]string{
		opAdd:  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"OrderService_Add","arguments":{"a":2,"b":3}}}`,
		opList: fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"OrderService_ListOrders","arguments":{"count":%d}}}`, ListSize),
	}[op]
	_, body, err := c.postMCP(ctx, call)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(body, []byte(`"result":`)) || bytes.Contains(body, []byte(`"isError":true`)) {
		return nil, fmt.Errorf("tools/call %s: %s", op, body)
	}
	if !asJSON {
		return body, nil
	}
	_, data, ok := bytes.Cut(body, []byte("data: "))
	if !ok {
		return nil, fmt.Errorf("tools/call %s: not an SSE event: %s", op, body)
	}
	var reply struct {
		Result struct {
			StructuredContent json.RawMessage `json:"structuredContent"`
		} `json:"result"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(data), &reply); err != nil {
		return nil, fmt.Errorf("tools/call %s: %w: %s", op, err, data)
	}
	return reply.Result.StructuredContent, nil
}

// postMCP POSTs one JSON-RPC message to the bridge's /mcp on the client's session, if any, and
// returns the reply's header and body.
func (c *client) postMCP(ctx context.Context, msg string) (http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/mcp", strings.NewReader(msg))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.mcpSession != "" {
		req.Header.Set("Mcp-Session-Id", c.mcpSession)
		req.Header.Set("Mcp-Protocol-Version", mcpVersion)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	c.buf.Reset()
	_, err = c.buf.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, nil, fmt.Errorf("MCP %d: %s", resp.StatusCode, c.buf.Bytes())
	}
	return resp.Header, c.buf.Bytes(), nil
}

// bench is everything a run needs: the backend, the hand-written bridge and agentbridge (with
// audit off, and with an audit file), each on its own loopback listeners.
type bench struct {
	endpoint  string // the backend's SOAP endpoint
	handURL   string
	ab, audit *agentbridge
	cc        *grpc.ClientConn
}

func startBench(tb testing.TB) *bench {
	tb.Helper()
	be := httptest.NewServer(newBackend())
	tb.Cleanup(be.Close)
	endpoint := be.URL + "/orders"
	hw := httptest.NewServer(NewHandwritten(endpoint).Handler())
	tb.Cleanup(hw.Close)
	e := &bench{endpoint: endpoint, handURL: hw.URL}
	e.ab = startAgentbridge(tb, endpoint, "off")
	e.audit = startAgentbridge(tb, endpoint, filepath.Join(tb.TempDir(), "audit.log"))
	var err error
	if e.cc, err = grpc.NewClient(e.ab.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.cc.Close() })
	return e
}

func (e *bench) client(bridge string) *client {
	switch bridge {
	case bridgeDirect:
		return newClient(bridge, e.endpoint, nil, nil)
	case bridgeHandwritten:
		return newClient(bridge, e.handURL, nil, nil)
	case bridgeRESTAudit:
		return newClient(bridgeREST, e.audit.httpURL, nil, nil)
	default:
		return newClient(bridge, e.ab.httpURL, e.cc, e.ab.service)
	}
}

// TestSameAnswer checks that the bridges compared give the same answer: the hand-written
// bridge's JSON equals agentbridge's on REST, Connect, gRPC (as protojson) and MCP (the tool
// result's structuredContent), for both operations.
func TestSameAnswer(t *testing.T) {
	e := startBench(t)
	ctx := context.Background()
	for _, op := range []string{opAdd, opList} {
		want, err := e.client(bridgeHandwritten).call(ctx, op, true)
		if err != nil {
			t.Fatal(err)
		}
		var wantV any
		if err := json.Unmarshal(want, &wantV); err != nil {
			t.Fatalf("%s: %v: %s", op, err, want)
		}
		if op == opList && strings.Count(string(want), `"sku"`) != 3*ListSize {
			t.Fatalf("list: %s", want)
		}
		for _, bridge := range []string{bridgeREST, bridgeConnect, bridgeGRPC, bridgeRESTAudit, bridgeMCP} {
			got, err := e.client(bridge).call(ctx, op, true)
			if err != nil {
				t.Fatalf("%s %s: %v", bridge, op, err)
			}
			var gotV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatalf("%s %s: %v: %s", bridge, op, err, got)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("%s %s:\n got %s\nwant %s", bridge, op, got, want)
			}
		}
		direct, err := e.client(bridgeDirect).call(ctx, op, false)
		if err != nil || !bytes.Contains(direct, []byte("Response")) {
			t.Fatalf("direct %s: %v %s", op, err, direct)
		}
	}
}

// cpuTime is the process's CPU time so far, user and system, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEndToEnd makes one call per op from a client in this process over loopback: op=add
// (POST /v1/add, two int32 in, one out) and op=list (GET /v1/orders?count=50, 50 orders of 8
// fields and 3 lines each), through bridge=handwritten (the baseline), agentbridge's
// bridge=rest, connect (JSON) and grpc (protobuf, dynamic messages), bridge=rest-audit (REST
// with an audit line per call to a file, as the default config writes one to stderr), and
// bridge=direct (no bridge: the client sends the bridges' SOAP request to the backend). The
// client, the backend and the bridge share the process, so cpu-ns/op (getrusage, user+sys) of
// a row is all three; a bridge's own CPU is its row less the direct row.
func BenchmarkEndToEnd(b *testing.B) {
	e := startBench(b)
	ctx := context.Background()
	for _, op := range []string{opAdd, opList} {
		for _, bridge := range []string{bridgeDirect, bridgeHandwritten, bridgeREST, bridgeConnect, bridgeGRPC, bridgeRESTAudit, bridgeMCP} {
			b.Run("op="+op+"/bridge="+bridge, func(b *testing.B) {
				c := e.client(bridge)
				first, err := c.call(ctx, op, false) // warm the connection; learn the answer's size
				if err != nil {
					b.Fatal(err)
				}
				size := len(first)
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					got, err := c.call(ctx, op, false)
					if err != nil {
						b.Fatal(err)
					}
					if len(got) != size {
						b.Fatalf("%d bytes, first %d", len(got), size)
					}
				}
				b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// rawCodec sends a *[]byte or []byte as the message's bytes and receives into a *[]byte,
// so the gRPC client row pays for no protobuf work of its own.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case []byte:
		return mem.BufferSlice{mem.SliceBuffer(m)}, nil
	case *[]byte:
		return mem.BufferSlice{mem.SliceBuffer(*m)}, nil
	}
	return nil, fmt.Errorf("rawCodec: %T", v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T", v)
	}
	*p = (*p)[:0]
	for _, b := range data {
		*p = append(*p, b.ReadOnlyData()...)
	}
	return nil
}

func (rawCodec) Name() string { return "proto" }
