package adapters_test

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
)

// slowHandler answers after delay, or gives up when the client goes away, so that closing the
// test server never waits for the full delay.
func slowHandler(delay time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Reading the body to its end lets net/http notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(delay):
			_, _ = io.WriteString(w, "late")
		}
	}
}

// hijackClose takes over the connection, writes raw (possibly nothing), and closes the
// connection with a TCP reset.
func hijackClose(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = buf.WriteString(raw)
		_ = buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST, not FIN
		}
		_ = conn.Close()
	}
}

// refusedEndpoint returns a loopback URL nothing listens on.
func refusedEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/svc"
}

func errorInfoOf(t *testing.T, err error) (*status.Status, *errdetails.ErrorInfo) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%v (%T) is not a gRPC status", err, err)
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return st, ei
		}
	}
	t.Fatalf("status %v has no ErrorInfo", st)
	return nil, nil
}

func TestTransportSendsRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		method string
		header http.Header
		body   string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Header.Clone(), string(b)}
		w.Header().Set("X-Reply", "yes")
		w.WriteHeader(http.StatusInternalServerError) // the transport does not judge statuses
		_, _ = io.WriteString(w, "<reply/>")
	}))
	t.Cleanup(srv.Close)
	tr := adapters.NewTransport(adapters.Backend{Name: "calc", Endpoint: srv.URL + "/svc", Headers: map[string]string{"X-Api-Key": "k1", "Content-Type": "overridden"}}, nil)
	reply, err := tr.Post(context.Background(), http.Header{"Content-Type": {"text/xml; charset=utf-8"}, "Soapaction": {`"a"`}}, []byte("<req/>"))
	if err != nil {
		t.Fatal(err)
	}
	if reply.StatusCode != http.StatusInternalServerError || string(reply.Body) != "<reply/>" || reply.Header.Get("X-Reply") != "yes" {
		t.Errorf("reply = %d %v %q", reply.StatusCode, reply.Header, reply.Body)
	}
	s := <-got
	if s.method != http.MethodPost || s.body != "<req/>" {
		t.Errorf("backend got %s %q, want POST <req/>", s.method, s.body)
	}
	if s.header.Get("X-Api-Key") != "k1" {
		t.Errorf("backend header X-Api-Key = %q, want the configured k1", s.header.Get("X-Api-Key"))
	}
	if s.header.Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type = %q: the call's header must win over the backend's fixed headers", s.header.Get("Content-Type"))
	}
	if s.header.Get("Soapaction") != `"a"` {
		t.Errorf("SOAPAction = %q", s.header.Get("Soapaction"))
	}
}

// TestTransportEndpointUserinfo: an endpoint's user:password is sent as Basic authorization,
// as net/http's Client sends it, unless the call has an Authorization of its own; the
// transport calls its round tripper directly.
func TestTransportEndpointUserinfo(t *testing.T) {
	t.Parallel()
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		_, _ = io.WriteString(w, "<reply/>")
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + "/svc")
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("alice", "s3cret:x")
	tr := adapters.NewTransport(adapters.Backend{Name: "calc", Endpoint: u.String()}, nil)
	if _, err := tr.Post(context.Background(), nil, []byte("<req/>")); err != nil {
		t.Fatal(err)
	}
	if a, want := <-got, "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cret:x")); a != want {
		t.Errorf("Authorization = %q, want %q", a, want)
	}
	if _, err := tr.Post(context.Background(), http.Header{"Authorization": {"Bearer t"}}, []byte("<req/>")); err != nil {
		t.Fatal(err)
	}
	if a := <-got; a != "Bearer t" {
		t.Errorf("Authorization = %q, want the call's own Bearer t", a)
	}
}

func TestTransportReplySizeBound(t *testing.T) {
	t.Parallel()
	const limit = 1024
	tests := []struct {
		name    string
		size    int
		chunked bool
		wantErr bool
	}{
		{"exactly the bound", limit, false, false},
		{"exactly the bound, chunked", limit, true, false},
		{"one byte over", limit + 1, false, true},
		{"one byte over, chunked", limit + 1, true, true},
		{"a megabyte, declared", 1 << 20, false, true},
		{"a megabyte, chunked", 1 << 20, true, true},
	}
	for _, tt := range tests {
		for _, via := range []string{"Post", "PostStream"} {
			t.Run(via+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				testReplySizeBound(t, via, limit, tt.size, tt.chunked, tt.wantErr)
			})
		}
	}
}

func testReplySizeBound(t *testing.T, via string, limit, size int, chunked, wantErr bool) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := strings.Repeat("x", size)
		if chunked {
			w.(http.Flusher).Flush() // headers out without Content-Length
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	tr := adapters.NewTransport(adapters.Backend{Name: "calc", Endpoint: srv.URL, MaxReplyBytes: int64(limit)}, nil)
	body, err := readVia(t, t.Context(), tr, via, nil)
	if !wantErr {
		if err != nil || len(body) != size {
			t.Fatalf("%s() = %v, want the %d-byte body", via, err, size)
		}
		return
	}
	st, ei := errorInfoOf(t, err)
	if st.Code() != codes.ResourceExhausted || ei.GetReason() != string(adapters.ReasonReplyTooLarge) {
		t.Fatalf("got %v %v, want ResourceExhausted REPLY_TOO_LARGE", st.Code(), ei.GetReason())
	}
	if ei.GetMetadata()["limit_bytes"] != "1024" || ei.GetDomain() != "calc" {
		t.Errorf("ErrorInfo = %v", ei)
	}
}

// readVia calls Post, or PostStream and reads the whole body, so that one test holds both to
// the same bounds and outcomes. A PostStream body's read error must be what Err reports.
func readVia(t *testing.T, ctx context.Context, tr *adapters.Transport, via string, body []byte) ([]byte, error) {
	t.Helper()
	if via == "Post" {
		reply, err := tr.Post(ctx, nil, body)
		if err != nil {
			return nil, err
		}
		return reply.Body, nil
	}
	rs, err := tr.PostStream(ctx, nil, body)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rs.Close() }()
	data, err := io.ReadAll(rs.Body)
	if err != rs.Err() { //nolint:errorlint // the very error value, not one it wraps
		t.Errorf("Body failed with %v but Err() = %v", err, rs.Err())
	}
	return data, err
}

// transportFailure is one case of TestTransportFailures.
type transportFailure struct {
	name       string
	handler    http.HandlerFunc // nil: nothing listens
	timeout    time.Duration    // the backend's configured timeout; 0 for the default
	ctxTimeout time.Duration    // the caller's deadline; 0 for none
	cancel     bool             // the caller cancels right away
	wantCode   codes.Code
	wantReason adapters.Reason
}

// slowDelay is how long slow test backends take, far longer than any test waits.
const slowDelay = 5 * time.Second

func TestTransportFailures(t *testing.T) {
	t.Parallel()
	const delay = slowDelay
	tests := []transportFailure{
		{name: "caller deadline before the reply", handler: slowHandler(delay), ctxTimeout: 100 * time.Millisecond,
			wantCode: codes.DeadlineExceeded, wantReason: adapters.ReasonBackendTimeout},
		{name: "backend timeout before the reply", handler: slowHandler(delay), timeout: 100 * time.Millisecond,
			wantCode: codes.DeadlineExceeded, wantReason: adapters.ReasonBackendTimeout},
		{name: "caller deadline while the body trickles", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "<soap:Envelope")
			w.(http.Flusher).Flush()
			slowHandler(delay)(w, r)
		}, ctxTimeout: 100 * time.Millisecond, wantCode: codes.DeadlineExceeded, wantReason: adapters.ReasonBackendTimeout},
		{name: "caller cancels", handler: slowHandler(delay), cancel: true,
			wantCode: codes.Canceled, wantReason: adapters.ReasonCanceled},
		{name: "connection refused", wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendUnreachable},
		{name: "connection reset before the reply", handler: hijackClose(""),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendUnreachable},
		{name: "connection reset mid-reply", handler: hijackClose("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5000\r\n\r\n<soap:Envelope xmlns:soap="),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendUnreachable},
		{name: "garbage instead of HTTP", handler: hijackClose("SSH-2.0-OpenSSH_9.6\r\n"),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendUnreachable},
	}
	for _, tt := range tests {
		for _, via := range []string{"Post", "PostStream"} {
			t.Run(via+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				testTransportFailure(t, via, tt)
			})
		}
	}
}

func testTransportFailure(t *testing.T, via string, tt transportFailure) {
	const delay = slowDelay
	endpoint := ""
	if tt.handler == nil {
		endpoint = refusedEndpoint(t)
	} else {
		srv := httptest.NewServer(tt.handler)
		t.Cleanup(srv.Close)
		endpoint = srv.URL
	}
	// The endpoint carries credentials, which must never reach an agent.
	u, _ := url.Parse(endpoint)
	u.User = url.UserPassword("svc", "hunter2")
	u.RawQuery = "apikey=s3cr3t"
	tr := adapters.NewTransport(adapters.Backend{Name: "calc", Endpoint: u.String(), Timeout: tt.timeout}, nil)
	ctx := context.Background()
	if tt.ctxTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
		t.Cleanup(cancel)
	}
	if tt.cancel {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
	}
	start := time.Now()
	_, err := readVia(t, ctx, tr, via, []byte("<req/>"))
	elapsed := time.Since(start)
	st, ei := errorInfoOf(t, err)
	if st.Code() != tt.wantCode || ei.GetReason() != string(tt.wantReason) {
		t.Errorf("got %v %s (%q), want %v %s", st.Code(), ei.GetReason(), st.Message(), tt.wantCode, tt.wantReason)
	}
	if ei.GetDomain() != "calc" {
		t.Errorf("domain = %q, want the backend name", ei.GetDomain())
	}
	if elapsed > delay/5 {
		t.Errorf("%s took %v; it must return promptly, well before the backend's %v", via, elapsed, delay)
	}
	for _, secret := range []string{"hunter2", "s3cr3t", u.Host, "127.0.0.1", "http://"} {
		if strings.Contains(st.Message(), secret) {
			t.Errorf("message %q reveals %q from the endpoint", st.Message(), secret)
		}
	}
	if !strings.Contains(st.Message(), "calc") {
		t.Errorf("message %q does not name the backend", st.Message())
	}
}

// TestTransportHonoursEarlierDeadline checks that the backend's timeout still bounds a call whose
// caller allows more time, and the caller's deadline one whose backend allows more.
func TestTransportHonoursEarlierDeadline(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(slowHandler(5 * time.Second))
	t.Cleanup(srv.Close)
	tr := adapters.NewTransport(adapters.Backend{Name: "calc", Endpoint: srv.URL, Timeout: 150 * time.Millisecond}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := tr.Post(ctx, nil, nil)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if e := time.Since(start); e < 100*time.Millisecond || e > 2*time.Second {
		t.Errorf("call ended after %v, want about the backend's 150ms timeout", e)
	}
}

// TestTransportDoesNotFollowRedirects checks that a redirect comes back as it is: following it
// would turn the POST into a GET (301-303) and send the backend's fixed headers, API keys
// included, to the host the redirect names.
func TestTransportDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			elsewhere := make(chan http.Header, 1)
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				elsewhere <- r.Header.Clone()
			}))
			t.Cleanup(other.Close)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/collect", code)
			}))
			t.Cleanup(srv.Close)
			tr := adapters.NewTransport(adapters.Backend{Name: "calc", Endpoint: srv.URL, Headers: map[string]string{"X-Api-Key": "k1"}}, nil)
			reply, err := tr.Post(context.Background(), nil, []byte("<req/>"))
			if err != nil {
				t.Fatal(err)
			}
			if reply.StatusCode != code {
				t.Errorf("status %d, want the redirect's %d", reply.StatusCode, code)
			}
			select {
			case h := <-elsewhere:
				t.Errorf("the redirect was followed, with X-Api-Key %q", h.Get("X-Api-Key"))
			default:
			}
		})
	}
}

// TestTransportPostStreamReadsAsTheBodyArrives checks that PostStream hands over the body while
// the backend is still sending it, and that Close tells the backend no one is reading.
func TestTransportPostStreamReadsAsTheBodyArrives(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes; only the client hanging up ends this
		close(gone)
	}))
	t.Cleanup(srv.Close)
	tr := adapters.NewTransport(adapters.Backend{Name: "calc", Endpoint: srv.URL}, nil)
	rs, err := tr.PostStream(t.Context(), nil, []byte("<req/>"))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("first"))
	if _, err := io.ReadFull(rs.Body, got); err != nil || string(got) != "first" {
		t.Fatalf("read %q, %v; want the first bytes before the reply is complete", got, err)
	}
	if err := rs.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
	case <-time.After(slowDelay):
		t.Fatal("the backend did not see the call end after Close")
	}
}
