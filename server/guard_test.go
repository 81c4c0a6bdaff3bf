package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/server"
)

// TestBrowserHygiene: a page on another site cannot make a visitor's browser call the bridge
// (it once reserved stock with a text/plain POST), and a DNS-rebinding page cannot reach a
// loopback listener under its own host name. Agents and curl, which send no Origin and use the
// listener's name, are not affected.
func TestBrowserHygiene(t *testing.T) {
	t.Parallel()
	b := startBridge(t, false, server.WithAllowedOrigins("https://console.example.com"), server.WithAllowedHosts("bridge.internal"))
	reserve := b.httpURL + "/v1/items/G-100:reserve"
	getItem := b.httpURL + "/agentbridge.demo.v1.InventoryService/GetItem"
	tests := []struct {
		name, method, url, body string
		header                  map[string]string
		want                    int
		reachesBackend          bool
	}{
		{"REST POST from a foreign origin", "POST", reserve, `{"quantity":1}`, map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json"}, http.StatusForbidden, false},
		{"REST text/plain POST (CSRF without preflight)", "POST", reserve, `{"quantity":1}`, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType, false},
		{"REST form POST", "POST", reserve, `quantity=1`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, false},
		{"Connect from a foreign origin", "POST", getItem, `{"sku":"A-100"}`, map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json"}, http.StatusForbidden, false},
		{"REST GET from a foreign origin", "GET", b.httpURL + "/v1/items/A-100", "", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, false},
		{"OpenAPI from a foreign origin", "GET", b.httpURL + "/openapi.json", "", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, false},
		{"a rebinding host name", "GET", b.httpURL + "/v1/items/A-100", "", map[string]string{"Host": "attacker.example"}, http.StatusForbidden, false},
		{"a rebinding host name on Connect", "POST", getItem, `{"sku":"A-100"}`, map[string]string{"Host": "attacker.example:8080", "Content-Type": "application/json"}, http.StatusForbidden, false},
		{"an allowed origin", "POST", getItem, `{"sku":"A-100"}`, map[string]string{"Origin": "https://console.example.com", "Content-Type": "application/json"}, http.StatusOK, true},
		{"a loopback origin", "GET", b.httpURL + "/v1/items/A-100", "", map[string]string{"Origin": "http://localhost:3000"}, http.StatusOK, true},
		{"an allowed host", "GET", b.httpURL + "/v1/items/A-100", "", map[string]string{"Host": "bridge.internal:8080"}, http.StatusOK, true},
		{"localhost", "GET", b.httpURL + "/v1/items/A-100", "", map[string]string{"Host": "localhost"}, http.StatusOK, true},
		{"curl: JSON POST without Origin", "POST", reserve, `{"quantity":1}`, map[string]string{"Content-Type": "application/json"}, http.StatusOK, true},
		{"a body without Content-Type", "POST", reserve, `{"quantity":1}`, nil, http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.backendCalls.Load()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			if tt.header["Content-Type"] == "" {
				req.Header.Del("Content-Type")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("HTTP %d, want %d", resp.StatusCode, tt.want)
			}
			if reached := b.backendCalls.Load() > before; reached != tt.reachesBackend {
				t.Errorf("reached the backend: %v, want %v", reached, tt.reachesBackend)
			}
		})
	}
}

// TestCORSForAllowedOrigins: a browser client on an origin the operator listed gets its
// preflight answered (before authentication, as browsers send none) and may read replies; any
// other origin gets no CORS headers, so its page cannot read what it is refused anyway.
func TestCORSForAllowedOrigins(t *testing.T) {
	t.Parallel()
	b := startBridge(t, false, server.WithAllowedOrigins("https://console.example.com"))
	// preflight returns the reply's status and headers, its body closed.
	preflight := func(origin string) (int, http.Header) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, b.httpURL+"/v1/items/G-100:reserve", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	code, header := preflight("https://console.example.com")
	if code != http.StatusNoContent || header.Get("Access-Control-Allow-Origin") != "https://console.example.com" ||
		!strings.Contains(header.Get("Access-Control-Allow-Methods"), "POST") || header.Get("Access-Control-Allow-Headers") != "content-type, authorization" {
		t.Errorf("preflight from an allowed origin: %d %v", code, header)
	}
	if code, header := preflight("https://evil.example"); header.Get("Access-Control-Allow-Origin") != "" || code != http.StatusForbidden {
		t.Errorf("preflight from a foreign origin: %d %v", code, header)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.httpURL+"/v1/items/A-100", nil)
	req.Header.Set("Origin", "https://console.example.com")
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = got.Body.Close()
	if got.StatusCode != http.StatusOK || got.Header.Get("Access-Control-Allow-Origin") != "https://console.example.com" || !strings.Contains(got.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status") {
		t.Errorf("a call from an allowed origin: %d %v", got.StatusCode, got.Header)
	}
}
