package soap_test

// These tests put real node-soap servers (npm "soap" 1.13.0, see testdata/nodesoap/server.js)
// behind the bridge and call them over REST and gRPC, end to end: proto request → SOAP
// envelope → node-soap → SOAP reply or fault → proto response or status.
//
// One peer serves the whole test binary run; it starts on first use and TestMain stops it.
// The peer records every operation its handlers ran in one list (GET /_received), which these
// tests never clear. Top-level tests do not call t.Parallel, so while one runs no other test
// calls the peer: a test may compare everything the peer recorded since it started (see
// receivedSince) with what its subtests, parallel among themselves, sent.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap" // also registers kind "soap"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server"
)

const (
	nodeSOAPDir       = "testdata/nodesoap"
	nodeSOAPCorpus    = "../../../shared/corpus/wsdl" // relative to adapters/soap
	nodeSOAPInstall   = "npm ci --prefix adapters/soap/testdata/nodesoap"
	nodeSOAPStartup   = 30 * time.Second
	nodeSOAPCallLimit = 10 * time.Second

	nodeCalculatorService = "agentbridge.testing.v1.CalculatorService"
	nodeNumbersService    = "agentbridge.testing.v1.NumberConversionService"
	nodeGreeterService    = "agentbridge.testing.v1.GreeterService"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if p := nodeSOAPStarted; p != nil {
		if err := p.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "nodesoap peer:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// ---- the node-soap peer ----

// nodeSOAPPeer is the running node process and the URLs of its five servers.
type nodeSOAPPeer struct {
	Calculator string `json:"calculator"`
	Numbers    string `json:"numbers"`
	Greeter    string `json:"greeter"`
	Catalog    string `json:"catalog"`
	Vat        string `json:"vat"`

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *nodeLockedBuffer
	exited chan struct{} // closed when cmd.Wait has returned
}

var (
	nodeSOAPOnce    sync.Once
	nodeSOAPStarted *nodeSOAPPeer // set once started; TestMain stops it
	nodeSOAPErr     error
)

// nodeSOAP returns the peer, starting it on first use. A missing node or node_modules fails the
// test: the peer is part of the suite, not optional.
func nodeSOAP(t *testing.T) *nodeSOAPPeer {
	t.Helper()
	if testing.Short() {
		t.Skip("starts node-soap servers; skipped in -short mode")
	}
	nodeSOAPOnce.Do(func() {
		nodeSOAPStarted, nodeSOAPErr = startNodeSOAP()
	})
	if nodeSOAPErr != nil {
		t.Fatalf("node-soap peer: %v", nodeSOAPErr)
	}
	return nodeSOAPStarted
}

func startNodeSOAP() (*nodeSOAPPeer, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not installed (%w); install Node.js 18 or later, then run `%s`", err, nodeSOAPInstall)
	}
	if _, err := os.Stat(filepath.Join(nodeSOAPDir, "node_modules", "soap", "package.json")); err != nil {
		return nil, fmt.Errorf("npm package soap is not installed in %s (%w); run `%s` from the module root", nodeSOAPDir, err, nodeSOAPInstall)
	}
	corpus, err := filepath.Abs(nodeSOAPCorpus)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(corpus); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("WSDL corpus %s not found: %w", corpus, err)
	}

	cmd := exec.Command(node, "server.js", corpus)
	cmd.Dir = nodeSOAPDir
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &nodeSOAPPeer{cmd: cmd, stdin: stdin, stderr: &nodeLockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node server.js: %w", err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	fail := func(format string, args ...any) (*nodeSOAPPeer, error) {
		_ = p.stop()
		return nil, fmt.Errorf(format+"; stderr:\n%s", append(args, p.stderr.String())...)
	}
	select {
	case s := <-line:
		if err := json.Unmarshal([]byte(s), p); err != nil {
			return fail("server.js printed %q, not the JSON line of URLs: %v", s, err)
		}
		if p.Calculator == "" || p.Numbers == "" || p.Greeter == "" || p.Catalog == "" || p.Vat == "" {
			return fail("server.js printed %q: a URL is missing", s)
		}
		return p, nil
	case <-p.exited:
		return fail("server.js exited before printing its URLs (%v)", cmd.ProcessState)
	case <-time.After(nodeSOAPStartup):
		return fail("server.js printed no URLs within %s", nodeSOAPStartup)
	}
}

// stop closes the peer's stdin, which makes it exit, and kills it if it has not exited soon
// after; it always waits for the process.
func (p *nodeSOAPPeer) stop() error {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
		return nil
	case <-time.After(3 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return errors.New("server.js did not exit when its stdin closed; killed it")
}

// nodeCall is one operation the peer's handlers ran; Args holds the exact strings node-soap
// parsed (nil for an empty request element).
type nodeCall struct {
	Service   string         `json:"service"`
	Operation string         `json:"operation"`
	Args      map[string]any `json:"args"`
}

func (r nodeCall) String() string {
	args, _ := json.Marshal(r.Args)
	return r.Service + "." + r.Operation + string(args)
}

// received returns everything the peer has recorded, oldest first.
func (p *nodeSOAPPeer) received(t *testing.T) []nodeCall {
	t.Helper()
	u, err := url.Parse(p.Calculator)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/_received"
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatalf("GET /_received: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_received: HTTP %d %q %v", resp.StatusCode, body, err)
	}
	var out []nodeCall
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET /_received: %v in %s", err, body)
	}
	return out
}

// matching returns the recorded calls equal to want.
func (p *nodeSOAPPeer) matching(t *testing.T, want nodeCall) []nodeCall {
	t.Helper()
	var out []nodeCall
	for _, r := range p.received(t) {
		if reflect.DeepEqual(r, want) {
			out = append(out, r)
		}
	}
	return out
}

// nodeExpectations collects what subtests sent, to compare with what the peer recorded.
type nodeExpectations struct {
	mu   sync.Mutex
	list []nodeCall
}

func (e *nodeExpectations) add(r nodeCall) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, r)
}

// checkNodeReceivedSince asserts that the peer recorded exactly the expected calls (as a multiset)
// after index start: every request arrived once, with every field, and nothing else arrived.
func checkNodeReceivedSince(t *testing.T, p *nodeSOAPPeer, start int, e *nodeExpectations) {
	t.Helper()
	if t.Failed() {
		return // a failed subtest may not have made every call it expected
	}
	all := p.received(t)
	if len(all) < start {
		t.Fatalf("the peer's record shrank from %d to %d entries; something cleared it", start, len(all))
	}
	got := nodeCallStrings(all[start:])
	e.mu.Lock()
	want := nodeCallStrings(e.list)
	e.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("the peer recorded\n  %s\nwant exactly\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func nodeCallStrings(rs []nodeCall) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	slices.Sort(out)
	return out
}

type nodeLockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *nodeLockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *nodeLockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ---- the bridge ----

type nodeBridge struct {
	rest       string // base URL of the HTTP surface
	calculator testingv1.CalculatorServiceClient
	numbers    testingv1.NumberConversionServiceClient
	greeter    testingv1.GreeterServiceClient
	vat        testingv1.VatServiceClient
}

// newNodeBridge serves the services over REST (httptest) and gRPC (a loopback listener) with the
// given backends, all of kind soap.
func newNodeBridge(t *testing.T, endpoints map[string]string, services ...string) *nodeBridge {
	t.Helper()
	return newNodeBridgeWith(t, endpoints, nil, services...)
}

// newNodeBridgeWith is newNodeBridge with adjust applied to the built services before serving them.
func newNodeBridgeWith(t *testing.T, endpoints map[string]string, adjust func([]server.Service), services ...string) *nodeBridge {
	t.Helper()
	backends := make(map[string]adapters.Backend, len(endpoints))
	for name, endpoint := range endpoints {
		backends[name] = adapters.Backend{Kind: "soap", Endpoint: endpoint}
	}
	return serveNodeBridge(t, &server.Config{Services: services, Backends: backends}, adjust)
}

// serveNodeBridge serves what cfg describes, with adjust applied to the built services.
func serveNodeBridge(t *testing.T, cfg *server.Config, adjust func([]server.Service)) *nodeBridge {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	built, err := cfg.BuildServices()
	if err != nil {
		t.Fatalf("BuildServices: %v", err)
	}
	if adjust != nil {
		adjust(built)
	}
	srv, err := server.New(built, server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}

	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := srv.GRPCServer()
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })

	return &nodeBridge{
		rest:       ts.URL,
		calculator: testingv1.NewCalculatorServiceClient(cc),
		numbers:    testingv1.NewNumberConversionServiceClient(cc),
		greeter:    testingv1.NewGreeterServiceClient(cc),
		vat:        testingv1.NewVatServiceClient(cc),
	}
}

func nodePeerBridge(t *testing.T, p *nodeSOAPPeer) *nodeBridge {
	return nodePeerBridgeWith(t, p, nil)
}

func nodePeerBridgeWith(t *testing.T, p *nodeSOAPPeer, adjust func([]server.Service)) *nodeBridge {
	return newNodeBridgeWith(t, map[string]string{"calculator": p.Calculator, "numbers": p.Numbers, "greeter": p.Greeter},
		adjust, nodeCalculatorService, nodeNumbersService, nodeGreeterService)
}

// nodeRebind replaces a method's implementation with its proto binding changed by edit, bound by a
// soap adapter for the named backend. It lets a test call an operation that the proto's own
// binding does not name.
func nodeRebind(t *testing.T, services []server.Service, service, method, backend, endpoint string, edit func(*agentbridgev1.SoapOperation)) {
	t.Helper()
	for _, svc := range services {
		if string(svc.Desc.FullName()) != service {
			continue
		}
		md := svc.Desc.Methods().ByName(protoreflect.Name(method))
		if md == nil {
			t.Fatalf("%s has no method %s", service, method)
		}
		b := proto.CloneOf(adapters.BindingOf(md))
		edit(b.GetSoap())
		u, err := soap.New(adapters.Backend{Name: backend, Kind: soap.Kind, Endpoint: endpoint}, nil).Bind(md, b)
		if err != nil {
			t.Fatalf("binding %s: %v", md.FullName(), err)
		}
		svc.Methods[md.Name()] = u
		return
	}
	t.Fatalf("service %s not built", service)
}

func nodeCallContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), nodeSOAPCallLimit)
	t.Cleanup(cancel)
	return ctx
}

// post sends a JSON body to a REST route and returns the status and body.
func (b *nodeBridge) post(t *testing.T, route, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(nodeCallContext(t), http.MethodPost, b.rest+route, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", route, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading the body: %v", route, err)
	}
	return resp.StatusCode, data
}

// postOK posts and decodes a 200 reply into resp with protojson.
func (b *nodeBridge) postOK(t *testing.T, route, body string, resp proto.Message) {
	t.Helper()
	code, data := b.post(t, route, body)
	if code != http.StatusOK {
		t.Fatalf("POST %s %s: HTTP %d %s", route, body, code, data)
	}
	if err := protojson.Unmarshal(data, resp); err != nil {
		t.Fatalf("POST %s: reply %s: %v", route, data, err)
	}
}

// ---- status assertions ----

// nodeWantError is what a failed call must look like on every surface.
type nodeWantError struct {
	code     codes.Code
	reasons  []string          // ErrorInfo.reason, one of
	domain   string            // ErrorInfo.domain
	metadata map[string]string // exact metadata values
	contains map[string]string // metadata values that must contain the text
	message  string            // the status message must contain it
}

// nodeErrorView is a status as either surface shows it.
type nodeErrorView struct {
	code    codes.Code
	message string
	info    *errdetails.ErrorInfo
}

func nodeGRPCError(t *testing.T, err error) nodeErrorView {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded; want an error")
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status: %v", err)
	}
	v := nodeErrorView{code: st.Code(), message: st.Message()}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			if v.info != nil {
				t.Errorf("two ErrorInfo details: %v and %v", v.info, ei)
			}
			v.info = ei
		}
	}
	return v
}

// nodeRESTError decodes grpc-gateway's error body, checking its HTTP status against the code.
func nodeRESTError(t *testing.T, httpStatus int, body []byte) nodeErrorView {
	t.Helper()
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type     string            `json:"@type"`
			Reason   string            `json:"reason"`
			Domain   string            `json:"domain"`
			Metadata map[string]string `json:"metadata"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("HTTP %d: error body %s: %v", httpStatus, body, err)
	}
	v := nodeErrorView{code: codes.Code(e.Code), message: e.Message}
	if want := runtime.HTTPStatusFromCode(v.code); httpStatus != want {
		t.Errorf("HTTP status %d for code %v; want %d", httpStatus, v.code, want)
	}
	for _, d := range e.Details {
		if d.Type != "type.googleapis.com/google.rpc.ErrorInfo" {
			continue
		}
		if v.info != nil {
			t.Errorf("two ErrorInfo details in %s", body)
		}
		v.info = &errdetails.ErrorInfo{Reason: d.Reason, Domain: d.Domain, Metadata: d.Metadata}
	}
	return v
}

func (w nodeWantError) check(t *testing.T, v nodeErrorView) {
	t.Helper()
	if v.code != w.code {
		t.Errorf("code %v (%q); want %v", v.code, v.message, w.code)
	}
	if w.message != "" && !strings.Contains(v.message, w.message) {
		t.Errorf("message %q; want it to contain %q", v.message, w.message)
	}
	if v.info == nil {
		t.Fatalf("no google.rpc.ErrorInfo detail (code %v, message %q)", v.code, v.message)
	}
	if !slices.Contains(w.reasons, v.info.GetReason()) {
		t.Errorf("reason %q; want one of %q", v.info.GetReason(), w.reasons)
	}
	if v.info.GetDomain() != w.domain {
		t.Errorf("domain %q; want %q", v.info.GetDomain(), w.domain)
	}
	md := v.info.GetMetadata()
	for k, want := range w.metadata {
		if got, ok := md[k]; !ok || got != want {
			t.Errorf("metadata[%q] = %q (present %v); want %q; all metadata %q", k, got, ok, want, md)
		}
	}
	for k, want := range w.contains {
		if got := md[k]; !strings.Contains(got, want) {
			t.Errorf("metadata[%q] = %q; want it to contain %q", k, got, want)
		}
	}
}

// checkNodeNoLeak asserts a status shows no stack trace lines and no script paths.
func checkNodeNoLeak(t *testing.T, v nodeErrorView) {
	t.Helper()
	texts := map[string]string{"message": v.message}
	for k, val := range v.info.GetMetadata() {
		texts["metadata "+k] = val
	}
	for where, s := range texts {
		for _, bad := range []string{"    at ", "\tat ", ".js:"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s leaks backend internals (%q): %q", where, bad, s)
			}
		}
	}
}

// ---- the tests ----

func TestNodeSOAPCalculator(t *testing.T) {
	p := nodeSOAP(t)
	b := nodePeerBridge(t, p)

	calls := map[string]struct {
		route string
		grpc  func(ctx context.Context, a, b int32) (int32, error)
		apply func(a, b int32) int32
	}{
		"add": {
			route: "/v1/calculator:add",
			grpc: func(ctx context.Context, x, y int32) (int32, error) {
				r, err := b.calculator.Add(ctx, &testingv1.AddRequest{IntA: x, IntB: y})
				return r.GetValue(), err
			},
			apply: func(x, y int32) int32 { return x + y },
		},
		"subtract": {
			route: "/v1/calculator:subtract",
			grpc: func(ctx context.Context, x, y int32) (int32, error) {
				r, err := b.calculator.Subtract(ctx, &testingv1.SubtractRequest{IntA: x, IntB: y})
				return r.GetValue(), err
			},
			apply: func(x, y int32) int32 { return x - y },
		},
		"divide": {
			route: "/v1/calculator:divide",
			grpc: func(ctx context.Context, x, y int32) (int32, error) {
				r, err := b.calculator.Divide(ctx, &testingv1.DivideRequest{IntA: x, IntB: y})
				return r.GetValue(), err
			},
			apply: func(x, y int32) int32 { return x / y }, // Go truncates toward zero, as Math.trunc
		},
	}
	// Every pair's result fits in int32 for the operations it is used with.
	tests := []struct {
		op   string
		a, b int32
	}{
		{"add", 0, 0},
		{"add", 1, 2},
		{"add", -5, 3},
		{"add", -7, -8},
		{"add", math.MaxInt32, 0},
		{"add", math.MinInt32, 0},
		{"add", math.MaxInt32, math.MinInt32},
		{"add", math.MaxInt32 - 1, 1},
		{"subtract", 0, 0},
		{"subtract", 10, 3},
		{"subtract", 3, 10},
		{"subtract", -3, -10},
		{"subtract", math.MaxInt32, math.MaxInt32},
		{"subtract", math.MinInt32, -1},
		{"subtract", -1, math.MaxInt32},
		{"divide", 0, 7},
		{"divide", 7, 2},
		{"divide", -7, 2},
		{"divide", 7, -2},
		{"divide", math.MaxInt32, 1},
		{"divide", math.MinInt32, 1},
		{"divide", math.MinInt32, math.MaxInt32},
	}

	start := len(p.received(t))
	var sent nodeExpectations
	t.Run("cases", func(t *testing.T) {
		for _, surface := range []string{"rest", "grpc"} {
			for _, tt := range tests {
				t.Run(fmt.Sprintf("%s/%s(%d,%d)", surface, tt.op, tt.a, tt.b), func(t *testing.T) {
					t.Parallel()
					c := calls[tt.op]
					want := nodeCall{Service: "calculator", Operation: tt.op, Args: map[string]any{
						"intA": strconv.FormatInt(int64(tt.a), 10),
						"intB": strconv.FormatInt(int64(tt.b), 10),
					}}
					sent.add(want)
					var got int32
					switch surface {
					case "rest":
						var resp testingv1.AddResponse // every calculator reply is {"value": n}
						b.postOK(t, c.route, fmt.Sprintf(`{"intA": %d, "intB": %d}`, tt.a, tt.b), &resp)
						got = resp.GetValue()
					case "grpc":
						v, err := c.grpc(nodeCallContext(t), tt.a, tt.b)
						if err != nil {
							t.Fatalf("%s(%d, %d): %v", tt.op, tt.a, tt.b, err)
						}
						got = v
					}
					if want := c.apply(tt.a, tt.b); got != want {
						t.Errorf("%s(%d, %d) = %d; want %d", tt.op, tt.a, tt.b, got, want)
					}
					if len(p.matching(t, want)) == 0 {
						t.Errorf("the peer recorded no call %s", want)
					}
				})
			}
		}
	})
	checkNodeReceivedSince(t, p, start, &sent)
}

func TestNodeSOAPNumbers(t *testing.T) {
	p := nodeSOAP(t)
	b := nodePeerBridge(t, p)

	words := []uint64{0, 42, math.MaxUint64}
	dollars := []string{"12.345", "0.1000000000000000000001", "12.3450", "0"}

	start := len(p.received(t))
	var sent nodeExpectations
	t.Run("cases", func(t *testing.T) {
		for _, surface := range []string{"rest", "grpc"} {
			for _, n := range words {
				t.Run(fmt.Sprintf("%s/NumberToWords(%d)", surface, n), func(t *testing.T) {
					t.Parallel()
					arg := strconv.FormatUint(n, 10)
					sent.add(nodeCall{Service: "numbers", Operation: "NumberToWords", Args: map[string]any{"ubiNum": arg}})
					var resp testingv1.NumberToWordsResponse
					switch surface {
					case "rest":
						// protojson writes uint64 as a JSON string; send it as one.
						b.postOK(t, "/v1/numbers:words", fmt.Sprintf(`{"ubiNum": %q}`, arg), &resp)
					case "grpc":
						r, err := b.numbers.NumberToWords(nodeCallContext(t), &testingv1.NumberToWordsRequest{UbiNum: n})
						if err != nil {
							t.Fatal(err)
						}
						proto.Merge(&resp, r)
					}
					if got, want := resp.GetNumberToWordsResult(), "words for "+arg; got != want {
						t.Errorf("NumberToWords(%s) = %q; want %q", arg, got, want)
					}
				})
			}
			for _, d := range dollars {
				t.Run(fmt.Sprintf("%s/NumberToDollars(%s)", surface, d), func(t *testing.T) {
					t.Parallel()
					sent.add(nodeCall{Service: "numbers", Operation: "NumberToDollars", Args: map[string]any{"dNum": d}})
					var resp testingv1.NumberToDollarsResponse
					switch surface {
					case "rest":
						b.postOK(t, "/v1/numbers:dollars", fmt.Sprintf(`{"dNum": %q}`, d), &resp)
					case "grpc":
						r, err := b.numbers.NumberToDollars(nodeCallContext(t), &testingv1.NumberToDollarsRequest{DNum: d})
						if err != nil {
							t.Fatal(err)
						}
						proto.Merge(&resp, r)
					}
					if got, want := resp.GetNumberToDollarsResult(), "dollars for "+d; got != want {
						t.Errorf("NumberToDollars(%s) = %q; want %q", d, got, want)
					}
				})
			}
		}
	})
	checkNodeReceivedSince(t, p, start, &sent)
}

func TestNodeSOAPGreeter(t *testing.T) {
	p := nodeSOAP(t)
	b := nodePeerBridge(t, p)

	start := len(p.received(t))
	var sent nodeExpectations
	sent.add(nodeCall{Service: "greeter", Operation: "sayHi"})
	resp, err := b.greeter.SayHi(nodeCallContext(t), &testingv1.SayHiRequest{})
	if err != nil {
		t.Fatalf("SayHi: %v", err)
	}
	if got, want := resp.GetResponseType(), "Bonjour from node-soap"; got != want {
		t.Errorf("SayHi = %q; want %q", got, want)
	}
	checkNodeReceivedSince(t, p, start, &sent)
}

func TestNodeSOAPFaults(t *testing.T) {
	p := nodeSOAP(t)
	b := nodePeerBridge(t, p)
	// The proto binds Multiply to element multiplyUnknown, which is not in the WSDL: node-soap
	// fails while parsing it and answers HTTP 500 with a bare JavaScript stack trace as the
	// body. Bound to multiply instead (in the WSDL, no handler), node-soap answers HTTP 500 with
	// a SOAP 1.2 shaped Fault inside a 1.1 envelope whose Reason is a TypeError.
	bWSDLMultiply := nodePeerBridgeWith(t, p, func(services []server.Service) {
		nodeRebind(t, services, nodeCalculatorService, "Multiply", "calculator", p.Calculator, func(op *agentbridgev1.SoapOperation) {
			op.Request.Name = "multiply"
		})
	})

	// The dividend is unique to this test, so the fault detail can be traced to this call.
	const dividend = 7331
	divideByZero := nodeWantError{
		code:    codes.InvalidArgument,
		reasons: []string{"SOAP_CLIENT_FAULT"},
		domain:  "calculator",
		message: "division by zero",
		metadata: map[string]string{
			"fault_code":   "soap:Client",
			"fault_string": "division by zero",
			"http_status":  "200", // node-soap sends this fault with HTTP 200
		},
		contains: map[string]string{"fault_detail": "dividend: " + strconv.Itoa(dividend)},
	}
	pingMe := nodeWantError{
		code:    codes.InvalidArgument,
		reasons: []string{"SOAP_CLIENT_FAULT"},
		domain:  "greeter",
		message: "ping refused",
		metadata: map[string]string{
			"fault_string":  "ping refused",
			"fault_subcode": "rpc:BadArguments",
			"http_status":   "500",
		},
		contains: map[string]string{"fault_code": "Sender", "fault_detail": "minor: 1"},
	}
	// A body that is no envelope, with HTTP 500: the adapters' table says BACKEND_BAD_REPLY.
	multiplyUnknown := nodeWantError{
		code:     codes.Unavailable,
		reasons:  []string{"BACKEND_BAD_REPLY"},
		domain:   "calculator",
		metadata: map[string]string{"http_status": "500"},
	}
	multiply := nodeWantError{
		code:     codes.Internal,
		reasons:  []string{"SOAP_SERVER_FAULT", "SOAP_FAULT"},
		domain:   "calculator",
		message:  "TypeError",
		metadata: map[string]string{"http_status": "500", "fault_code": "SOAP-ENV:Server", "fault_subcode": "InternalServerError"},
		contains: map[string]string{"fault_string": "TypeError"},
	}

	tests := []struct {
		name string
		want nodeWantError
		call func(t *testing.T) nodeErrorView
		leak bool // also assert nothing of the backend's internals shows
	}{
		{
			name: "grpc/divide by zero",
			want: divideByZero,
			call: func(t *testing.T) nodeErrorView {
				_, err := b.calculator.Divide(nodeCallContext(t), &testingv1.DivideRequest{IntA: dividend, IntB: 0})
				return nodeGRPCError(t, err)
			},
		},
		{
			name: "rest/divide by zero",
			want: divideByZero,
			call: func(t *testing.T) nodeErrorView {
				code, body := b.post(t, "/v1/calculator:divide", fmt.Sprintf(`{"intA": %d, "intB": 0}`, dividend))
				if code != http.StatusBadRequest {
					t.Errorf("HTTP %d; want 400", code)
				}
				return nodeRESTError(t, code, body)
			},
		},
		{
			// node-soap computes in doubles and answers 2147483648, which int32 cannot hold:
			// the bridge must refuse the reply, not wrap it around.
			name: "grpc/add overflowing int32",
			want: nodeWantError{code: codes.Internal, reasons: []string{"BACKEND_REPLY_INVALID"}, domain: "calculator", metadata: map[string]string{"http_status": "200"}},
			call: func(t *testing.T) nodeErrorView {
				_, err := b.calculator.Add(nodeCallContext(t), &testingv1.AddRequest{IntA: math.MaxInt32, IntB: 1})
				return nodeGRPCError(t, err)
			},
		},
		{
			name: "rest/divide overflowing int32",
			want: nodeWantError{code: codes.Internal, reasons: []string{"BACKEND_REPLY_INVALID"}, domain: "calculator", metadata: map[string]string{"http_status": "200"}},
			call: func(t *testing.T) nodeErrorView {
				code, body := b.post(t, "/v1/calculator:divide", fmt.Sprintf(`{"intA": %d, "intB": -1}`, math.MinInt32))
				return nodeRESTError(t, code, body)
			},
		},
		{
			name: "grpc/pingMe",
			want: pingMe,
			call: func(t *testing.T) nodeErrorView {
				_, err := b.greeter.PingMe(nodeCallContext(t), &testingv1.PingMeRequest{})
				return nodeGRPCError(t, err)
			},
		},
		{
			name: "grpc/multiply bound to an element node-soap does not know",
			want: multiplyUnknown,
			leak: true,
			call: func(t *testing.T) nodeErrorView {
				_, err := b.calculator.Multiply(nodeCallContext(t), &testingv1.MultiplyRequest{IntA: 6, IntB: 7})
				return nodeGRPCError(t, err)
			},
		},
		{
			name: "rest/multiply bound to an element node-soap does not know",
			want: multiplyUnknown,
			leak: true,
			call: func(t *testing.T) nodeErrorView {
				code, body := b.post(t, "/v1/calculator:multiply", `{"intA": 6, "intB": 7}`)
				return nodeRESTError(t, code, body)
			},
		},
		{
			name: "grpc/multiply without a handler",
			want: multiply,
			leak: true,
			call: func(t *testing.T) nodeErrorView {
				_, err := bWSDLMultiply.calculator.Multiply(nodeCallContext(t), &testingv1.MultiplyRequest{IntA: 6, IntB: 7})
				return nodeGRPCError(t, err)
			},
		},
		{
			name: "rest/multiply without a handler",
			want: multiply,
			leak: true,
			call: func(t *testing.T) nodeErrorView {
				code, body := bWSDLMultiply.post(t, "/v1/calculator:multiply", `{"intA": 6, "intB": 7}`)
				if code != http.StatusInternalServerError {
					t.Errorf("HTTP %d; want 500", code)
				}
				return nodeRESTError(t, code, body)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.call(t)
			tt.want.check(t, v)
			if tt.leak {
				checkNodeNoLeak(t, v)
			}
			if testing.Verbose() {
				t.Logf("code %v, message %q, ErrorInfo %v", v.code, v.message, v.info)
			}
		})
	}
	// The pingMe detail's other leaf, checked apart so a failure names it.
	t.Run("grpc/pingMe detail has major", func(t *testing.T) {
		t.Parallel()
		_, err := b.greeter.PingMe(nodeCallContext(t), &testingv1.PingMeRequest{})
		if got := nodeGRPCError(t, err).info.GetMetadata()["fault_detail"]; !strings.Contains(got, "major: 2") {
			t.Errorf("fault_detail %q; want it to contain %q", got, "major: 2")
		}
	})
}

func TestNodeSOAPUnknownJSONField(t *testing.T) {
	p := nodeSOAP(t)
	b := nodePeerBridge(t, p)

	// intA is unique to this test: no call carrying it may reach the peer.
	const marker = 909090
	tests := []struct {
		name, route, body, field string
	}{
		{"add", "/v1/calculator:add", fmt.Sprintf(`{"intA": %d, "intC": 2}`, marker), "intC"},
		{"divide", "/v1/calculator:divide", fmt.Sprintf(`{"intA": %d, "intB": 1, "int_c": 3}`, marker), "int_c"},
		{"words", "/v1/numbers:words", fmt.Sprintf(`{"ubiNum": "%d", "ubiNumber": "1"}`, marker), "ubiNumber"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, body := b.post(t, tt.route, tt.body)
			if code != http.StatusBadRequest {
				t.Errorf("HTTP %d %s; want 400", code, body)
			}
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %s: %v", body, err)
			}
			if codes.Code(e.Code) != codes.InvalidArgument {
				t.Errorf("code %v; want InvalidArgument", codes.Code(e.Code))
			}
			if !strings.Contains(e.Message, tt.field) {
				t.Errorf("message %q does not name the unknown field %q", e.Message, tt.field)
			}
		})
	}
	for _, r := range p.received(t) {
		if r.Args["intA"] == strconv.Itoa(marker) || r.Args["ubiNum"] == strconv.Itoa(marker) {
			t.Errorf("a request with an unknown field reached the peer: %s", r)
		}
	}
}

func TestNodeSOAPUnreachableBackend(t *testing.T) {
	// Needs no peer: the backend is a port nothing listens on.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + lis.Addr().String() + "/calculator"
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	b := newNodeBridge(t, map[string]string{"calculator": endpoint}, nodeCalculatorService)

	want := nodeWantError{
		code:    codes.Unavailable,
		reasons: []string{"BACKEND_UNREACHABLE"},
		domain:  "calculator",
	}
	const fast = 2 * time.Second
	tests := []struct {
		name string
		call func(t *testing.T) nodeErrorView
	}{
		{"grpc", func(t *testing.T) nodeErrorView {
			_, err := b.calculator.Add(nodeCallContext(t), &testingv1.AddRequest{IntA: 1, IntB: 2})
			return nodeGRPCError(t, err)
		}},
		{"rest", func(t *testing.T) nodeErrorView {
			code, body := b.post(t, "/v1/calculator:add", `{"intA": 1, "intB": 2}`)
			if code != http.StatusServiceUnavailable {
				t.Errorf("HTTP %d; want 503", code)
			}
			return nodeRESTError(t, code, body)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			v := tt.call(t)
			if took := time.Since(began); took > fast {
				t.Errorf("took %s; want under %s", took, fast)
			}
			want.check(t, v)
			if strings.Contains(v.message, lis.Addr().String()) {
				t.Errorf("message %q shows the endpoint", v.message)
			}
		})
	}
}
