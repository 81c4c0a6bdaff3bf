package demo

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/adapters/standard" // kinds "rest" and "soap"
	"github.com/agentbridge/agentbridge/server"
)

// restDemo serves the warehouse's stock REST API with httptest and a bridge in front of it,
// built from a config as the demo's is, and returns the legacy system and the bridge's handler.
func restDemo(t *testing.T) (*Legacy, http.Handler) {
	t.Helper()
	l := NewLegacy(legacyTestClock)
	backend := httptest.NewServer(l.RestHandler())
	t.Cleanup(backend.Close)
	soapBackend := httptest.NewServer(l)
	t.Cleanup(soapBackend.Close)
	cfg := &server.Config{
		Services: []string{"agentbridge.demo.v1.StockRestService", ServiceName},
		Backends: map[string]adapters.Backend{
			"warehouse-rest": {Kind: "rest", Endpoint: backend.URL},
			"inventory":      {Kind: "soap", Endpoint: soapBackend.URL},
		},
		Audit: server.AuditOptions{Sink: "off"},
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return l, srv.Handler()
}

func restDemoCall(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	data, _ := io.ReadAll(w.Body)
	return w.Code, string(data)
}

// TestRestDemo: the stock REST API through the bridge's REST surface: an item, pages of items
// walked by token, a reservation that the SOAP service then sees, and the API's errors as
// statuses.
func TestRestDemo(t *testing.T) {
	_, h := restDemo(t)

	code, body := restDemoCall(t, h, "GET", "/v1/rest/items/A-100", "")
	if code != http.StatusOK || !strings.Contains(body, `"unitPrice":"89.90"`) || !strings.Contains(body, `"onHand":42`) ||
		!strings.Contains(body, `"updatedAt":"2026-11-02T09:30:00Z"`) || !strings.Contains(body, `"city":"Berlin"`) {
		t.Errorf("GetStockItem: %d %s", code, body)
	}
	code, body = restDemoCall(t, h, "GET", "/v1/rest/items/Q-999", "")
	if code != http.StatusNotFound || !strings.Contains(body, "unknown sku Q-999") {
		t.Errorf("unknown SKU: %d %s", code, body)
	}

	// Walk the tools two at a time.
	var skus []string
	token := ""
	for range 10 {
		code, body = restDemoCall(t, h, "GET", "/v1/rest/items?category=tools&pageSize=2&pageToken="+url.QueryEscape(token), "")
		if code != http.StatusOK {
			t.Fatalf("ListStockItems: %d %s", code, body)
		}
		for _, part := range strings.Split(body, `"sku":"`)[1:] {
			skus = append(skus, part[:strings.IndexByte(part, '"')])
		}
		_, rest, ok := strings.Cut(body, `"nextPageToken":"`)
		if !ok {
			t.Fatalf("no nextPageToken in %s", body)
		}
		if token = rest[:strings.IndexByte(rest, '"')]; token == "" {
			break
		}
	}
	if got := strings.Join(skus, ","); got != "A-100,A-200,A-300,A-400" {
		t.Errorf("tools: %s", got)
	}

	// Reserve through REST; the SOAP service sees the stock that is left.
	code, body = restDemoCall(t, h, "POST", "/v1/rest/items/A-200:reserve", `{"quantity": 20, "customerRef": "PO-7"}`)
	if code != http.StatusOK || !strings.Contains(body, `"remaining":100`) || !strings.Contains(body, `"reservationId":"R-000001"`) {
		t.Errorf("ReserveStock: %d %s", code, body)
	}
	code, body = restDemoCall(t, h, "GET", "/v1/items/A-200", "")
	if code != http.StatusOK || !strings.Contains(body, `"quantityOnHand":100`) {
		t.Errorf("the SOAP service after the REST reservation: %d %s", code, body)
	}
	code, body = restDemoCall(t, h, "POST", "/v1/rest/items/A-200:reserve", `{"quantity": 500}`)
	if code != http.StatusConflict || !strings.Contains(body, "insufficient stock for A-200: 100 on hand, 500 requested") || !strings.Contains(body, "BACKEND_CONFLICT") {
		t.Errorf("too many: %d %s", code, body)
	}
	code, body = restDemoCall(t, h, "POST", "/v1/rest/items/A-400:reserve", `{"quantity": 1}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "item A-400 is discontinued") {
		t.Errorf("discontinued: %d %s", code, body)
	}
	code, body = restDemoCall(t, h, "GET", "/v1/rest/items/Z-999", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "warehouse database unavailable") {
		t.Errorf("offline: %d %s", code, body)
	}
}
