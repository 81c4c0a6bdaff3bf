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

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1/testingv1connect"
	"github.com/agentbridge/agentbridge/server"
)

// startCounter serves CountService, a Go-implemented server-streaming method, and reports how
// many messages the implementation managed to send in total.
func startCounter(t *testing.T, opts ...server.Option) (*bridge, *atomic.Int64) {
	t.Helper()
	var sent atomic.Int64
	count := func(ctx context.Context, req proto.Message, send func(proto.Message) error) error {
		for i := int32(1); i <= req.(*testingv1.CountRequest).GetUpTo(); i++ {
			if err := send(&testingv1.CountResponse{N: i}); err != nil {
				return err
			}
			sent.Add(1)
		}
		return nil
	}
	svc := server.Service{
		Desc:    testingv1.File_agentbridge_testing_v1_stream_proto.Services().ByName("CountService"),
		Streams: map[protoreflect.Name]adapters.ServerStream{"Count": count},
	}
	c := &counter{n: map[string]int{}}
	opts = append([]server.Option{server.WithInterceptors(c.interceptor), server.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	srv, err := server.New([]server.Service{svc}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, true, c, &atomic.Int64{}), &sent
}

func TestServerStreamingOnEverySurface(t *testing.T) {
	t.Parallel()
	b, _ := startCounter(t)
	const upTo = 5

	t.Run("gRPC listener", func(t *testing.T) {
		cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cc.Close() }()
		stream, err := testingv1.NewCountServiceClient(cc).Count(t.Context(), &testingv1.CountRequest{UpTo: upTo})
		if err != nil {
			t.Fatal(err)
		}
		var got []int32
		for {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, msg.GetN())
		}
		if len(got) != upTo || got[upTo-1] != upTo {
			t.Errorf("got %v", got)
		}
	})
	for _, opt := range []struct {
		name string
		opt  connect.ClientOption
	}{{"Connect", connect.WithProtoJSON()}, {"gRPC-Web", connect.WithGRPCWeb()}, {"gRPC over HTTP", connect.WithGRPC()}} {
		t.Run(opt.name, func(t *testing.T) {
			client := testingv1connect.NewCountServiceClient(h2cClient(), b.httpURL, opt.opt)
			stream, err := client.Count(t.Context(), connect.NewRequest(&testingv1.CountRequest{UpTo: upTo}))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for stream.Receive() {
				n++
				if stream.Msg().GetN() != int32(n) {
					t.Errorf("message %d is %d", n, stream.Msg().GetN())
				}
			}
			if err := stream.Err(); err != nil || n != upTo {
				t.Errorf("%d messages, %v", n, err)
			}
		})
	}
	t.Run("REST", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+"/v1/count/5", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q, want application/x-ndjson (one JSON object per line), as /openapi.json says", ct)
		}
		sc := bufio.NewScanner(resp.Body)
		n := 0
		for sc.Scan() {
			var line struct {
				Result struct {
					N int `json:"n"`
				} `json:"result"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			n++
			if line.Result.N != n {
				t.Errorf("line %d: %s", n, sc.Text())
			}
		}
		if n != upTo {
			t.Errorf("REST streamed %d lines, want %d", n, upTo)
		}
	})
	// The two error shapes /openapi.json documents for a stream: a request the gateway cannot
	// read fails with a bare status, a call that fails before its first message with the status
	// as the stream's only line.
	t.Run("REST errors", func(t *testing.T) {
		for path, wantError := range map[string]bool{"/v1/count/x": false, "/v1/count/-1": true} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			var got struct {
				Code  int `json:"code"`
				Error *struct {
					Code int `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("GET %s: %v: %s", path, err, body)
			}
			code := got.Code
			if wantError {
				if got.Error == nil {
					t.Fatalf("GET %s: %s, want {\"error\": status}", path, body)
				}
				code = got.Error.Code
			}
			if resp.StatusCode != http.StatusBadRequest || code != 3 || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("GET %s: %d %s %s, want 400 application/json with code 3", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		}
	})
	t.Run("validation", func(t *testing.T) {
		client := testingv1connect.NewCountServiceClient(h2cClient(), b.httpURL)
		stream, err := client.Count(t.Context(), connect.NewRequest(&testingv1.CountRequest{UpTo: -1}))
		if err == nil {
			for stream.Receive() {
				t.Error("a message for an invalid request")
			}
			err = stream.Err()
		}
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "up_to") {
			t.Errorf("got %v, want InvalidArgument naming up_to", err)
		}
	})
}

// TestMCPStreamingToolStopsAtTheBound streams past the bound: the tool returns the first items,
// says it stopped early, and the stream is canceled rather than run to the end.
func TestMCPStreamingToolStopsAtTheBound(t *testing.T) {
	t.Parallel()
	b, sent := startCounter(t, server.WithMCP(server.MCPOptions{MaxStreamItems: 10}))
	session := mcpSession(t, b.httpURL+"/mcp")
	for _, tc := range []struct {
		upTo      int
		wantItems int
		truncated bool
	}{{3, 3, false}, {10, 10, false}, {100000, 10, true}} {
		res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "CountService_Count", Arguments: map[string]any{"upTo": tc.upTo}})
		if err != nil || res.IsError {
			t.Fatalf("upTo %d: %v %v", tc.upTo, err, res)
		}
		data, _ := json.Marshal(res.StructuredContent)
		var out struct {
			Items []struct {
				N int `json:"n"`
			} `json:"items"`
			Truncated bool `json:"truncated"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Items) != tc.wantItems || out.Truncated != tc.truncated || out.Items[len(out.Items)-1].N != tc.wantItems {
			t.Errorf("upTo %d: %s", tc.upTo, data)
		}
	}
	if n := sent.Load(); n > 3+10+11 {
		t.Errorf("the implementation sent %d messages; the truncated stream was not stopped", n)
	}
}
