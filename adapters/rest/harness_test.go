package rest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	_ "github.com/agentbridge/agentbridge/adapters/rest"
	"github.com/agentbridge/agentbridge/server"
)

// peerWait bounds the wait for a peer to say it is listening; it never orders events.
const peerWait = 30 * time.Second

// startPeer runs a peer program on loopback that prints "listening PORT" once bound (port 0,
// chosen by the kernel) and returns its base URL. The process is killed by its pid when the
// test ends.
func startPeer(t *testing.T, tool, hint string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is required by this test and is not on PATH: %s", tool, hint)
	}
	cmd := exec.Command(tool, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case p := <-port:
		return "http://127.0.0.1:" + strings.TrimSpace(p)
	case <-time.After(peerWait):
		t.Fatalf("%s %v did not say it was listening within %s", tool, args, peerWait)
	}
	return ""
}

// startJSONServer runs json-server 0.17.4 (testdata/jsonserver, installed by npm ci there) on a
// fresh copy of its db.json.
func startJSONServer(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("testdata/jsonserver")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "json-server")); err != nil {
		t.Fatalf("json-server is not installed: run `npm ci` in %s (Node.js 18 or later)", dir)
	}
	db, err := os.ReadFile(filepath.Join(dir, "db.json"))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "db.json")
	if err := os.WriteFile(copyPath, db, 0o600); err != nil {
		t.Fatal(err)
	}
	return startPeer(t, "node", "install Node.js 18 or later and run `npm ci` in "+dir, filepath.Join(dir, "serve.js"), copyPath)
}

// bridge is a server built from a config, served on loopback: REST and MCP over its HTTP
// listener, gRPC over its own.
type bridge struct {
	url  string
	cc   *grpc.ClientConn
	mcp  *mcp.ClientSession
	srv  *server.Server
	desc protoreflect.ServiceDescriptor
}

// newBridge builds the server a YAML config describes (proto_paths is filled in) and serves it.
func newBridge(t *testing.T, config, service string) *bridge {
	t.Helper()
	protoDir, _ := filepath.Abs("testdata/proto")
	cfg, err := server.ParseConfig([]byte("proto_paths: [" + protoDir + "]\naudit: {sink: off}\n" + config))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	httpLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, grpcLis, httpLis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
	})
	b := &bridge{url: "http://" + httpLis.Addr().String(), srv: srv}
	b.cc, err = grpc.NewClient(grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.cc.Close() })
	client := mcp.NewClient(&mcp.Implementation{Name: "rest-test", Version: "v0"}, nil)
	b.mcp, err = client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: b.url + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.mcp.Close() })
	for _, s := range srv.Services() {
		if string(s.Desc.FullName()) == service {
			b.desc = s.Desc
		}
	}
	if b.desc == nil {
		t.Fatalf("service %s is not served", service)
	}
	return b
}

// outcome is what one surface answered: a response (as protojson, for comparison) or a status.
type outcome struct {
	code   codes.Code
	msg    string
	reason string
	meta   map[string]string
	resp   proto.Message
}

// rest is a REST request: verb, path with query, JSON body.
type rest struct{ verb, path, body string }

// callEvery calls method with the request (protojson) over gRPC, REST and MCP, and returns
// what each answered.
func (b *bridge) callEvery(t *testing.T, method, req string, r rest) map[string]outcome {
	t.Helper()
	md := b.desc.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		t.Fatalf("no method %s", method)
	}
	out := map[string]outcome{}

	in := dynamicpb.NewMessage(md.Input())
	if err := protojson.Unmarshal([]byte(req), in); err != nil {
		t.Fatal(err)
	}
	resp := dynamicpb.NewMessage(md.Output())
	err := b.cc.Invoke(t.Context(), "/"+string(b.desc.FullName())+"/"+method, in, resp)
	out["grpc"] = fromStatus(status.Convert(err), resp, md)

	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hreq, _ := http.NewRequestWithContext(t.Context(), r.verb, b.url+r.path, body)
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(hresp.Body)
	_ = hresp.Body.Close()
	if hresp.StatusCode == http.StatusOK {
		out["rest"] = fromJSON(t, data, md)
	} else {
		out["rest"] = fromStatusJSON(t, data)
	}

	var args map[string]any
	camel, _ := protojson.Marshal(in)
	_ = json.Unmarshal(camel, &args)
	res, err := b.mcp.CallTool(t.Context(), &mcp.CallToolParams{Name: string(b.desc.Name()) + "_" + method, Arguments: args})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	if res.IsError {
		_, js, ok := strings.Cut(text.String(), "\nstatus: ")
		if !ok {
			t.Fatalf("MCP error without a status: %s", text.String())
		}
		out["mcp"] = fromStatusJSON(t, []byte(js))
	} else {
		data, _ := json.Marshal(res.StructuredContent)
		out["mcp"] = fromJSON(t, data, md)
	}
	return out
}

func fromStatus(st *status.Status, resp proto.Message, md protoreflect.MethodDescriptor) outcome {
	if st.Code() == codes.OK {
		return outcome{code: codes.OK, resp: resp}
	}
	o := outcome{code: st.Code(), msg: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			o.reason, o.meta = info.GetReason(), info.GetMetadata()
		}
	}
	return o
}

func fromJSON(t *testing.T, data []byte, md protoreflect.MethodDescriptor) outcome {
	t.Helper()
	resp := dynamicpb.NewMessage(md.Output())
	if err := protojson.Unmarshal(data, resp); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return outcome{code: codes.OK, resp: resp}
}

func fromStatusJSON(t *testing.T, data []byte) outcome {
	t.Helper()
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Type     string            `json:"@type"`
			Reason   string            `json:"reason"`
			Metadata map[string]string `json:"metadata"`
		} `json:"details"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("not a status: %v: %s", err, data)
	}
	o := outcome{code: codes.Code(body.Code), msg: body.Message}
	for _, d := range body.Details {
		if strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") {
			o.reason, o.meta = d.Reason, d.Metadata
		}
	}
	return o
}

// same checks that every surface answered alike and returns the gRPC answer.
func same(t *testing.T, outs map[string]outcome) outcome {
	t.Helper()
	g := outs["grpc"]
	for name, o := range outs {
		if o.code != g.code || o.reason != g.reason || o.msg != g.msg {
			t.Errorf("%s answered %v %s %q; grpc answered %v %s %q", name, o.code, o.reason, o.msg, g.code, g.reason, g.msg)
		}
		if g.resp != nil && !proto.Equal(o.resp, g.resp) {
			t.Errorf("%s answered %v; grpc answered %v", name, o.resp, g.resp)
		}
	}
	return g
}

// wantOK checks every surface succeeded alike and returns the response as protojson.
func wantOK(t *testing.T, outs map[string]outcome) string {
	t.Helper()
	g := same(t, outs)
	if g.code != codes.OK {
		t.Fatalf("status %v %s: %s", g.code, g.reason, g.msg)
	}
	data, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(g.resp)
	var v any
	_ = json.Unmarshal(data, &v)
	data, _ = json.Marshal(v) // stable spacing
	return string(data)
}

// wantErr checks every surface failed alike with code and returns the gRPC outcome.
func wantErr(t *testing.T, outs map[string]outcome, code codes.Code) outcome {
	t.Helper()
	g := same(t, outs)
	if g.code != code {
		t.Fatalf("status %v %s %q, want %v", g.code, g.reason, g.msg, code)
	}
	return g
}

// newMessage reads a message of type md from protojson.
func newMessage(t *testing.T, md protoreflect.MessageDescriptor, js string) *dynamicpb.Message {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatal(err)
	}
	return m
}
