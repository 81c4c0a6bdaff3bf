package adapters_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
)

// A Request's URL extends the endpoint: its path is appended to the endpoint's, escapes kept,
// its query added to the endpoint's; the verb and body are the request's.
func TestTransportDoResolvesURLs(t *testing.T) {
	t.Parallel()
	type seen struct{ method, uri, body string }
	got := make(chan seen, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, string(body)}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(hs.Close)
	tests := []struct {
		endpoint string
		req      adapters.Request
		want     seen
	}{
		{"/api", adapters.Request{}, seen{"POST", "/api", ""}},
		{"/api/", adapters.Request{Method: "GET", URL: "/items/A-100"}, seen{"GET", "/api/items/A-100", ""}},
		{"/api", adapters.Request{Method: "GET", URL: "items/a%2Fb%20c?x=1&y=%26"}, seen{"GET", "/api/items/a%2Fb%20c?x=1&y=%26", ""}},
		{"/api?key=k1", adapters.Request{Method: "DELETE", URL: "/items/7?force=true"}, seen{"DELETE", "/api/items/7?key=k1&force=true", ""}},
		{"", adapters.Request{Method: "PUT", URL: "/items/7", Body: []byte(`{"a":1}`)}, seen{"PUT", "/items/7", `{"a":1}`}},
		{"/api", adapters.Request{Method: "GET", URL: "{{SELF}}/api/items?page=2"}, seen{"GET", "/api/items?page=2", ""}},
	}
	for _, tt := range tests {
		tr := adapters.NewTransport(adapters.Backend{Name: "erp", Kind: "rest", Endpoint: hs.URL + tt.endpoint}, nil)
		req := tt.req
		req.URL = strings.ReplaceAll(req.URL, "{{SELF}}", hs.URL)
		reply, err := tr.Do(context.Background(), &req)
		if err != nil {
			t.Fatalf("%+v: %v", tt.req, err)
		}
		if s := <-got; s != tt.want || string(reply.Body) != "ok" {
			t.Errorf("endpoint %q, %+v: the backend saw %+v, want %+v", tt.endpoint, tt.req, s, tt.want)
		}
	}
}

// A link the backend sends (a next page) that points at another host is not followed: the
// backend's credentials would go with it.
func TestTransportDoRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	calls := 0
	hs := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls++ }))
	t.Cleanup(hs.Close)
	tr := adapters.NewTransport(adapters.Backend{Name: "erp", Kind: "rest", Endpoint: hs.URL + "/api", Headers: map[string]string{"X-Api-Key": "k"}}, nil)
	for _, u := range []string{"http://evil.example/steal", "//evil.example/x", "https://" + strings.TrimPrefix(hs.URL, "http://") + "/api"} {
		_, err := tr.Do(context.Background(), &adapters.Request{Method: "GET", URL: u})
		if err == nil || !strings.Contains(status.Convert(err).Message(), "another host") {
			t.Errorf("%s: err = %v", u, err)
		}
	}
	if calls != 0 {
		t.Errorf("the backend got %d calls", calls)
	}
}

// Close lets go of pooled connections, and of each one whose call was under way as it ends;
// the transport still serves calls made after (a reload's old adapter finishing its calls).
func TestTransportClose(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{}, 8)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	hs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	hs.Start()
	t.Cleanup(hs.Close)
	tr := adapters.NewTransport(adapters.Backend{Name: "erp", Kind: "rest", Endpoint: hs.URL}, nil)
	if _, err := tr.Do(context.Background(), &adapters.Request{Method: "GET"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	<-closed // the idle connection
	if _, err := tr.Do(context.Background(), &adapters.Request{Method: "GET"}); err != nil {
		t.Fatalf("a call after Close: %v", err)
	}
	<-closed // its connection, once the call ended
}
