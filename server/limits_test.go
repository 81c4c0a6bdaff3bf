package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
)

// failAfter bounds every wait in these tests: reaching it means the server did not do what
// it should have, not that the test ordered events by time.
const failAfter = 10 * time.Second

// rawHTTP dials addr (host:port of an http:// URL) and sends raw bytes.
func rawHTTP(t *testing.T, url, raw string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readUntilClosed reads conn until the server closes it, failing if that takes failAfter.
func readUntilClosed(t *testing.T, conn net.Conn) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(failAfter))
	data, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open past %s; read %q", failAfter, data)
	}
	return string(data)
}

const healthz = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

func TestHTTPListenerLimits(t *testing.T) {
	t.Parallel()
	t.Run("slow body cut off", func(t *testing.T) {
		t.Parallel()
		br := startBridge(t, false, server.WithLimits(server.Limits{BodyTimeout: 200 * time.Millisecond}))
		// Headers promise 100 bytes; 12 come, then nothing.
		conn := rawHTTP(t, br.httpURL, "POST /v1/items/G-100:reserve HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"quantity\":")
		got := readUntilClosed(t, conn)
		if strings.HasPrefix(got, "HTTP/1.1 200") {
			t.Fatalf("a call without its body succeeded: %q", got)
		}
		if n := br.backendCalls.Load(); n != 0 {
			t.Fatalf("the backend was called %d times", n)
		}
	})
	t.Run("slow body cut off over h2c", func(t *testing.T) {
		t.Parallel()
		br := startBridge(t, false, server.WithLimits(server.Limits{BodyTimeout: 200 * time.Millisecond}))
		_, fr := h2Settings(t, strings.TrimPrefix(br.httpURL, "http://"))
		var hdr bytes.Buffer
		enc := hpack.NewEncoder(&hdr)
		for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", "127.0.0.1"}, {":path", "/v1/items/G-100:reserve"}, {"content-type", "application/json"}, {"content-length", "100"}} {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hdr.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(1, false, []byte(`{"quantity":`)); err != nil {
			t.Fatal(err)
		}
		// The stream must end (reset, or answered with an error) while the client still owes
		// most of its body; the connection itself may stay.
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("the stream was still open when the connection failed: %v", err)
			}
			if f.Header().StreamID != 1 {
				continue
			}
			if _, ok := f.(*http2.RSTStreamFrame); ok {
				break
			}
			if h, ok := f.(*http2.HeadersFrame); ok {
				fields, _ := hpack.NewDecoder(4096, nil).DecodeFull(h.HeaderBlockFragment())
				for _, hf := range fields {
					if hf.Name == ":status" && hf.Value == "200" {
						t.Fatal("a call without its body succeeded")
					}
				}
				break
			}
		}
		if n := br.backendCalls.Load(); n != 0 {
			t.Fatalf("the backend was called %d times", n)
		}
	})
	t.Run("idle connection closed", func(t *testing.T) {
		t.Parallel()
		br := startBridge(t, false, server.WithLimits(server.Limits{IdleTimeout: 200 * time.Millisecond}))
		conn := rawHTTP(t, br.httpURL, healthz)
		if got := readUntilClosed(t, conn); !strings.HasPrefix(got, "HTTP/1.1 200") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("connection cap", func(t *testing.T) {
		t.Parallel()
		br := startBridge(t, false, server.WithLimits(server.Limits{MaxConnections: 1}))
		first := rawHTTP(t, br.httpURL, healthz)
		r := bufio.NewReader(first)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("first connection: HTTP %d", resp.StatusCode)
		}
		// The first connection is open and idle; the second waits in the backlog.
		second := rawHTTP(t, br.httpURL, healthz)
		_ = second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		var one [1]byte
		if n, err := second.Read(one[:]); n != 0 || !isTimeout(err) {
			t.Fatalf("the second connection was served while the first held the only slot: %d %v", n, err)
		}
		_ = first.Close()
		_ = second.SetReadDeadline(time.Now().Add(failAfter))
		resp, err = http.ReadResponse(bufio.NewReader(second), nil)
		if err != nil {
			t.Fatalf("second connection after the first closed: %v", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("second connection: HTTP %d", resp.StatusCode)
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestLongCallOutlivesBodyTimeout checks that the body timeout ends with the body: a call
// that runs well past BodyTimeout after its body arrived completes.
func TestLongCallOutlivesBodyTimeout(t *testing.T) {
	t.Parallel()
	const bodyTimeout = 100 * time.Millisecond
	services, err := demo.InventoryConfig("http://127.0.0.1:1/unused").BuildServices()
	if err != nil {
		t.Fatal(err)
	}
	services[0].Methods["ReserveItem"] = func(ctx context.Context, _ proto.Message) (proto.Message, error) {
		// The call outlives the body deadline several times over; a canceled context ends it.
		select {
		case <-time.After(5 * bodyTimeout):
			return &demov1.ReserveItemResponse{ReservationId: "R-1"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	srv, err := server.New(services, server.WithLogger(slog.New(slog.DiscardHandler)), server.WithLimits(server.Limits{BodyTimeout: bodyTimeout}))
	if err != nil {
		t.Fatal(err)
	}
	br := serve(t, srv, false, nil, nil)
	t.Run("rest over HTTP/1.1", func(t *testing.T) {
		t.Parallel()
		client := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: false}, Timeout: failAfter}
		resp, err := client.Post(br.httpURL+"/v1/items/G-100:reserve", "application/json", strings.NewReader(`{"quantity":1}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "R-1") {
			t.Fatalf("HTTP %d %s", resp.StatusCode, body)
		}
	})
	t.Run("grpc over h2c", func(t *testing.T) {
		t.Parallel()
		resp, err := demov1connect.NewInventoryServiceClient(h2cClient(), br.httpURL, connect.WithGRPC()).
			ReserveItem(t.Context(), connect.NewRequest(&demov1.ReserveItemRequest{Sku: "G-100", Quantity: 1}))
		if err != nil || resp.Msg.GetReservationId() != "R-1" {
			t.Fatalf("%v %v", resp, err)
		}
	})
}

// h2Settings opens a cleartext HTTP/2 connection to addr and returns the server's SETTINGS and
// the framer, for the test to go on with.
func h2Settings(t *testing.T, addr string) (map[http2.SettingID]uint32, *http2.Framer) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(failAfter))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			got := map[http2.SettingID]uint32{}
			_ = sf.ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil })
			return got, fr
		}
	}
}

func TestHTTP2Limits(t *testing.T) {
	t.Parallel()
	br := startBridge(t, true, server.WithLimits(server.Limits{MaxConcurrentStreams: 7, KeepaliveMinTime: time.Hour}))
	for name, addr := range map[string]string{"grpc listener": br.grpcAddr, "http listener": strings.TrimPrefix(br.httpURL, "http://")} {
		t.Run(name+" max concurrent streams", func(t *testing.T) {
			t.Parallel()
			got, _ := h2Settings(t, addr)
			if got[http2.SettingMaxConcurrentStreams] != 7 {
				t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS %d, want 7 (all: %v)", got[http2.SettingMaxConcurrentStreams], got)
			}
		})
	}
	t.Run("grpc keepalive enforced", func(t *testing.T) {
		t.Parallel()
		_, fr := h2Settings(t, br.grpcAddr)
		// Pings far more often than the one-hour minimum: the server answers a few, then
		// sends GOAWAY.
		for i := range 6 {
			if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
				break // the server may already have closed the connection
			}
		}
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("no GOAWAY before %v", err)
			}
			if ga, ok := f.(*http2.GoAwayFrame); ok {
				if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || string(ga.DebugData()) != "too_many_pings" {
					t.Fatalf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", ga.ErrCode, ga.DebugData())
				}
				return
			}
		}
	})
}
