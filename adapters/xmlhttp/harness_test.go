package xmlhttp_test

// The harness of the end-to-end tests: the Python peer (testdata/peer.py, a real HTTP server
// nobody here wrote the protocol side of), the bridge serving testdata/proto's CatalogService
// bound to it, and one call made over REST, gRPC and MCP with the outcome of each.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	gapi "google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/adapters/xmlhttp" // kind "xmlhttp"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

const (
	catalogService = "xhttptest.v1.CatalogService"
	corpusDir      = "../../../shared/corpus" // relative to adapters/xmlhttp
	callLimit      = 15 * time.Second
)

// startPeer starts testdata/peer.py and returns its base URL. The process is killed, by its
// id, when the test ends; closing its stdin asks it to stop first.
func startPeer(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is not installed (%v); install Python 3 (the peer uses its standard library only)", err)
	}
	corpus, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, py, "testdata/peer.py", "testdata/docs", corpus)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting peer.py: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill() // by its id
			<-exited
		}
		cancel()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		port, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			_ = cmd.Process.Kill()
			<-exited // stderr is written until the process is gone
			t.Fatalf("peer.py printed %q, not its port; stderr: %s", s, stderr.String())
		}
		return "http://127.0.0.1:" + strconv.Itoa(port)
	case <-exited:
		t.Fatalf("peer.py exited before printing its port: %s", stderr.String())
	case <-time.After(callLimit):
		t.Fatal("peer.py printed no port in time")
	}
	return ""
}

// peerStats reads the peer's counts of calls that changed its state.
func peerStats(t *testing.T, peer string) map[string]int {
	t.Helper()
	resp, err := http.Get(peer + "/_stats")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// bridge is the server serving CatalogService, reachable on every surface.
type bridge struct {
	rest    string
	cc      *grpc.ClientConn
	mcp     *mcp.ClientSession
	service protoreflect.ServiceDescriptor
}

// newBridge builds the server from a config (as `agentbridge serve` does) with the catalog
// backend at endpoint; edit may change the backend's settings.
func newBridge(t *testing.T, endpoint string, edit func(*adapters.Backend)) *bridge {
	t.Helper()
	b := adapters.Backend{
		Kind: "xmlhttp", Endpoint: endpoint, MaxReplyBytes: 1 << 20,
		// Every call below is judged on its own: no retries, no breaker between them.
		Retry:   adapters.RetryPolicy{MaxAttempts: 1},
		Breaker: adapters.BreakerPolicy{Disabled: true},
	}
	if edit != nil {
		edit(&b)
	}
	cfg := &server.Config{
		ProtoPaths: []string{"testdata/proto"},
		Protos:     []string{"xhttptest/v1/catalog.proto"},
		Services:   []string{catalogService},
		Backends:   map[string]adapters.Backend{"catalog": b},
		Audit:      server.AuditOptions{Sink: server.AuditOff},
	}
	return serveConfig(t, cfg, catalogService)
}

// serveConfig builds the server cfg describes and serves it on every surface; service is the
// one calls go to.
func serveConfig(t *testing.T, cfg *server.Config, service string) *bridge {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })

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

	toServerR, toServerW := io.Pipe()
	fromServerR, fromServerW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeMCPIO(ctx, "", toServerR, fromServerW); _ = fromServerW.Close() }()
	client := mcp.NewClient(&mcp.Implementation{Name: "xmlhttp-test", Version: "v0"}, nil)
	session, err := client.Connect(t.Context(), &mcp.IOTransport{Reader: fromServerR, Writer: toServerW}, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = session.Close()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
			t.Errorf("ServeMCPIO: %v", err)
		}
	})

	set, err := contract.Load(t.Context(), cfg.Sources())
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service(service)
	if err != nil {
		t.Fatal(err)
	}
	return &bridge{rest: ts.URL, cc: cc, mcp: session, service: sd}
}

// outcome is one surface's result of a call: the response, or the status.
type outcome struct {
	surface string
	resp    proto.Message // nil on failure
	code    codes.Code
	message string
	info    *errdetails.ErrorInfo
}

func (o outcome) String() string {
	if o.resp != nil {
		b, _ := protojson.Marshal(o.resp)
		return o.surface + ": OK " + string(b)
	}
	return fmt.Sprintf("%s: %v %q %v", o.surface, o.code, o.message, o.info)
}

// call makes the same call over REST, gRPC and MCP; args is the request as protojson with proto
// field names. It checks that the three agree (code, reason, metadata and message; or equal
// responses) and returns the gRPC outcome.
func (b *bridge) call(t *testing.T, method, args string) outcome {
	t.Helper()
	outs := b.each(t, method, args)
	b.same(t, method, outs)
	return outs[0]
}

// each makes the call over gRPC, REST and MCP, in that order, and returns the three outcomes.
func (b *bridge) each(t *testing.T, method, args string) []outcome {
	t.Helper()
	md := b.service.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		t.Fatalf("no method %s", method)
	}
	return []outcome{b.callGRPC(t, md, args), b.callREST(t, md, args), b.callMCP(t, md, args)}
}

// same checks that the outcomes agree.
func (b *bridge) same(t *testing.T, method string, outs []outcome) {
	t.Helper()
	g := outs[0]
	for _, o := range outs[1:] {
		switch {
		case (g.resp == nil) != (o.resp == nil):
			t.Errorf("%s: the surfaces disagree:\n  %s\n  %s", method, g, o)
		case g.resp != nil && !proto.Equal(g.resp, o.resp):
			t.Errorf("%s: the surfaces answer differently:\n  %s\n  %s", method, g, o)
		case g.resp == nil && (g.code != o.code || g.info.GetReason() != o.info.GetReason() || g.message != o.message):
			t.Errorf("%s: the surfaces fail differently:\n  %s\n  %s", method, g, o)
		case g.resp == nil && !sameMetadata(g.info.GetMetadata(), o.info.GetMetadata()):
			t.Errorf("%s: the surfaces' metadata differ:\n  %s\n  %s", method, g, o)
		}
	}
}

// sameMetadata compares ErrorInfo metadata but retry_after, which counts down.
func sameMetadata(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if k != "retry_after" && b[k] != v {
			return false
		}
	}
	return true
}

func request(t *testing.T, md protoreflect.MethodDescriptor, args string) *dynamicpb.Message {
	t.Helper()
	req := dynamicpb.NewMessage(md.Input())
	if err := protojson.Unmarshal([]byte(args), req); err != nil {
		t.Fatalf("request %s: %v", args, err)
	}
	return req
}

func callContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callLimit)
	t.Cleanup(cancel)
	return ctx
}

func (b *bridge) callGRPC(t *testing.T, md protoreflect.MethodDescriptor, args string) outcome {
	t.Helper()
	req := request(t, md, args)
	resp := dynamicpb.NewMessage(md.Output())
	err := b.cc.Invoke(callContext(t), fmt.Sprintf("/%s/%s", md.Parent().FullName(), md.Name()), req, resp)
	if err == nil {
		return outcome{surface: "grpc", resp: resp}
	}
	st := status.Convert(err)
	o := outcome{surface: "grpc", code: st.Code(), message: st.Message()}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			o.info = ei
		}
	}
	return o
}

// callREST sends the call to the route of the method's google.api.http rule: template
// variables from the arguments, the others in the query (GET) or the JSON body.
func (b *bridge) callREST(t *testing.T, md protoreflect.MethodDescriptor, args string) outcome {
	t.Helper()
	rule, _ := proto.GetExtension(md.Options(), gapi.E_Http).(*gapi.HttpRule)
	var verb, tmpl string
	switch p := rule.GetPattern().(type) {
	case *gapi.HttpRule_Get:
		verb, tmpl = http.MethodGet, p.Get
	case *gapi.HttpRule_Post:
		verb, tmpl = http.MethodPost, p.Post
	case *gapi.HttpRule_Put:
		verb, tmpl = http.MethodPut, p.Put
	default:
		t.Fatalf("%s has no google.api.http rule this harness knows", md.Name())
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(args), &fields); err != nil {
		t.Fatal(err)
	}
	path := tmpl
	for k, v := range fields {
		if strings.Contains(path, "{"+k+"}") {
			path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(fmt.Sprint(v)))
			delete(fields, k)
		}
	}
	var body io.Reader
	if verb == http.MethodGet {
		q := url.Values{}
		for k, v := range fields {
			q.Set(k, fmt.Sprint(v))
		}
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
	} else {
		data, _ := json.Marshal(fields)
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(callContext(t), verb, b.rest+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("REST %s %s: %v", verb, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		out := dynamicpb.NewMessage(md.Output())
		if err := protojson.Unmarshal(data, out); err != nil {
			t.Fatalf("REST reply %s: %v", data, err)
		}
		return outcome{surface: "rest", resp: out}
	}
	return statusJSON(t, "rest", data)
}

// statusJSON reads a google.rpc.Status as JSON, as the REST surface and MCP tool errors write
// it.
func statusJSON(t *testing.T, surface string, data []byte) outcome {
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
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("%s: error body %s: %v", surface, data, err)
	}
	o := outcome{surface: surface, code: codes.Code(e.Code), message: e.Message}
	for _, d := range e.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
			o.info = &errdetails.ErrorInfo{Reason: d.Reason, Domain: d.Domain, Metadata: d.Metadata}
		}
	}
	return o
}

func (b *bridge) callMCP(t *testing.T, md protoreflect.MethodDescriptor, args string) outcome {
	t.Helper()
	name := string(md.Parent().Name()) + "_" + string(md.Name())
	camel, err := protojson.Marshal(request(t, md, args)) // the tool's schema takes lowerCamel names
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.mcp.CallTool(callContext(t), &mcp.CallToolParams{Name: name, Arguments: json.RawMessage(camel)})
	if err != nil {
		t.Fatalf("MCP tools/call %s: %v", name, err)
	}
	text := ""
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	if res.IsError {
		_, js, ok := strings.Cut(text, "\nstatus: ")
		if !ok {
			t.Fatalf("MCP tool error without a status: %s", text)
		}
		return statusJSON(t, "mcp", []byte(js))
	}
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var wrapped map[string]json.RawMessage
	if json.Unmarshal(data, &wrapped) == nil && len(wrapped) == 1 && wrapped[toolschema.WrapperKey] != nil {
		data = wrapped[toolschema.WrapperKey]
	}
	out := dynamicpb.NewMessage(md.Output())
	if err := protojson.Unmarshal(data, out); err != nil {
		t.Fatalf("MCP result %s: %v", data, err)
	}
	return outcome{surface: "mcp", resp: out}
}

// json returns a successful outcome's response as compact protojson with proto names, or fails.
func (o outcome) json(t *testing.T) string {
	t.Helper()
	if o.resp == nil {
		t.Fatalf("call failed: %s", o)
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(o.resp)
	if err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer
	_ = json.Compact(&c, b)
	return c.String()
}

// want is what a failed call must look like.
type want struct {
	code     codes.Code
	reason   string
	message  string            // the status message contains it
	metadata map[string]string // exact values
}

func (w want) check(t *testing.T, o outcome) {
	t.Helper()
	if o.resp != nil {
		t.Errorf("the call succeeded (%s); want %v %s", o, w.code, w.reason)
		return
	}
	if o.code != w.code || o.info.GetReason() != w.reason {
		t.Errorf("got %v %s (%q); want %v %s", o.code, o.info.GetReason(), o.message, w.code, w.reason)
	}
	if o.info.GetDomain() != "catalog" {
		t.Errorf("domain %q; want catalog", o.info.GetDomain())
	}
	if !strings.Contains(o.message, w.message) {
		t.Errorf("message %q; want it to contain %q", o.message, w.message)
	}
	for k, v := range w.metadata {
		if got, ok := o.info.GetMetadata()[k]; !ok || got != v {
			t.Errorf("metadata[%s] = %q; want %q (all: %v)", k, got, v, o.info.GetMetadata())
		}
	}
	for _, bad := range []string{"127.0.0.1", "Traceback", "goroutine", ".py\""} {
		if strings.Contains(o.message, bad) {
			t.Errorf("message %q leaks %q", o.message, bad)
		}
	}
}
