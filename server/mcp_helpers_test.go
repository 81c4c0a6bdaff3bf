package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server"
)

// waitLimit bounds every wait on an observable condition in these tests; it is never how
// events are ordered.
const waitLimit = 20 * time.Second

// slowBackend implements GreeterService in Go: SayHi answers only when released and reports
// when it starts and when its context ends, so tests order events on what the backend saw;
// PingMe answers at once. CountService counts, as in startCounter.
type slowBackend struct {
	started   chan struct{} // one value per SayHi call that started
	release   chan struct{} // one value lets one SayHi call answer
	cancelled chan error    // the context error of each SayHi call that ended before release
}

func newSlowServer(t *testing.T, opts ...server.Option) (*server.Server, *slowBackend) {
	t.Helper()
	b := &slowBackend{started: make(chan struct{}, 16), release: make(chan struct{}), cancelled: make(chan error, 16)}
	sayHi := func(ctx context.Context, _ proto.Message) (proto.Message, error) {
		b.started <- struct{}{}
		select {
		case <-b.release:
			return &testingv1.SayHiResponse{ResponseType: "hi"}, nil
		case <-ctx.Done():
			b.cancelled <- ctx.Err()
			return nil, ctx.Err()
		}
	}
	pingMe := func(context.Context, proto.Message) (proto.Message, error) { return &testingv1.PingMeResponse{}, nil }
	count := func(_ context.Context, req proto.Message, send func(proto.Message) error) error {
		for i := int32(1); i <= req.(*testingv1.CountRequest).GetUpTo(); i++ {
			if err := send(&testingv1.CountResponse{N: i}); err != nil {
				return err
			}
		}
		return nil
	}
	services := []server.Service{
		{
			Desc:    testingv1.File_agentbridge_testing_v1_greeter_proto.Services().ByName("GreeterService"),
			Methods: map[protoreflect.Name]adapters.Unary{"SayHi": sayHi, "PingMe": pingMe},
		},
		{
			Desc:    testingv1.File_agentbridge_testing_v1_stream_proto.Services().ByName("CountService"),
			Streams: map[protoreflect.Name]adapters.ServerStream{"Count": count},
		},
	}
	opts = append([]server.Option{server.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	srv, err := server.New(services, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return srv, b
}

// serveHTTP serves srv's HTTP listener on a free port and returns its base URL.
func serveHTTP(t *testing.T, srv *server.Server) string {
	t.Helper()
	return serve(t, srv, false, &counter{n: map[string]int{}}, &atomic.Int64{}).httpURL
}

// stdioSession connects an MCP client to srv's MCP surface over newline-delimited JSON on
// pipes, as a host does over a subprocess's standard input and output.
func stdioSession(t *testing.T, srv *server.Server, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	return stdioSessionVersion(t, srv, opts, "")
}

// stdioSessionVersion is stdioSession with the protocol version the client asks for; "" is the
// latest.
func stdioSessionVersion(t *testing.T, srv *server.Server, opts *mcp.ClientOptions, version string) *mcp.ClientSession {
	t.Helper()
	toServerR, toServerW := io.Pipe()
	fromServerR, fromServerW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeMCPIO(ctx, "", toServerR, fromServerW); _ = fromServerW.Close() }()
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, opts)
	session, err := client.Connect(t.Context(), &mcp.IOTransport{Reader: fromServerR, Writer: toServerW}, &mcp.ClientSessionOptions{ProtocolVersion: version})
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
	return session
}

// bothTransports returns a client session over Streamable HTTP and one over stdio to srv.
func bothTransports(t *testing.T, srv *server.Server, opts *mcp.ClientOptions) map[string]*mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "agentbridge-test", Version: "v0"}, opts)
	httpSession, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: serveHTTP(t, srv) + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = httpSession.Close() })
	return map[string]*mcp.ClientSession{"streamable HTTP": httpSession, "stdio": stdioSession(t, srv, opts)}
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("no %s within %s", what, waitLimit)
		panic("unreachable")
	}
}

// rawInitialize opens a session by hand and returns its ID.
func rawInitialize(t *testing.T, endpoint string) string {
	t.Helper()
	resp := rawPost(t, endpoint, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	session := resp.header.Get("Mcp-Session-Id")
	if resp.status != http.StatusOK || session == "" {
		t.Fatalf("initialize: HTTP %d, session %q", resp.status, session)
	}
	rawPost(t, endpoint, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return session
}

// rawResponse is an HTTP response read in full.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// rawPost posts one body to an MCP endpoint as a Streamable HTTP client would, with the
// session's headers when session is set and then headers (name, value, ...), and reads the
// answer in full.
func rawPost(t *testing.T, endpoint, session, body string, headers ...string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
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
	return rawResponse{resp.StatusCode, resp.Header, data}
}

// stdioWire is a raw newline-delimited JSON-RPC connection to ServeMCPIO.
type stdioWire struct {
	in    io.WriteCloser
	lines chan rpcLine
}

// rpcLine is one line the server wrote, with the parts of a JSON-RPC response tests check.
type rpcLine struct {
	raw    string
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func startStdio(t *testing.T, srv *server.Server) *stdioWire {
	t.Helper()
	toServerR, toServerW := io.Pipe()
	fromServerR, fromServerW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeMCPIO(ctx, "", toServerR, fromServerW); _ = fromServerW.Close() }()
	w := &stdioWire{in: toServerW, lines: make(chan rpcLine, 64)}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(fromServerR)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			line := rpcLine{raw: sc.Text()}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				line.raw = "not JSON: " + line.raw
			}
			w.lines <- line
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = toServerW.Close()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
			t.Errorf("ServeMCPIO: %v", err)
		}
	})
	return w
}

func (w *stdioWire) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(w.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

// next returns the next line the server wrote, failing when the server ended first.
func (w *stdioWire) next(t *testing.T) rpcLine {
	t.Helper()
	select {
	case line, ok := <-w.lines:
		if !ok {
			t.Fatal("the server closed its output")
		}
		return line
	case <-time.After(waitLimit):
		t.Fatalf("no line from the server within %s", waitLimit)
		panic("unreachable")
	}
}

func (w *stdioWire) initialize(t *testing.T) {
	t.Helper()
	w.send(t, `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	if line := w.next(t); line.Error != nil || line.Result == nil {
		t.Fatalf("initialize: %s", line.raw)
	}
	w.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}
