package demo

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/adapters/standard"
	"github.com/agentbridge/agentbridge/server"
)

// TestLegacyXMLRPCThroughTheBridge serves the stock desk and the SOAP service of one warehouse
// behind a bridge built from a config, and calls the XML-RPC bound StockDeskService over REST:
// an item (the desk's local times read in its zone, a nil supplier note absent), a category,
// a reservation that the SOAP service then shows, and faults mapped by the binding's rules.
func TestLegacyXMLRPCThroughTheBridge(t *testing.T) {
	t.Parallel()
	legacy := NewLegacy(legacyTestClock)
	desk := httptest.NewServer(legacy.XMLRPCHandler())
	t.Cleanup(desk.Close)
	soap := httptest.NewServer(legacy)
	t.Cleanup(soap.Close)
	cfg, err := server.ParseConfig([]byte(`
services: [agentbridge.demo.v1.StockDeskService, agentbridge.demo.v1.InventoryService]
audit: {sink: "off"}
backends:
  warehouse-xmlrpc:
    kind: xmlrpc
    endpoint: ` + desk.URL + `/RPC2
    xmlrpc:
      timezone: Europe/Berlin
  inventory:
    kind: soap
    endpoint: ` + soap.URL + `/inventory
`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(srv.Handler())
	t.Cleanup(web.Close)

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, web.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: %s", method, path, data)
		}
		return resp.StatusCode, out
	}
	same := func(got map[string]any, want string) {
		t.Helper()
		var w map[string]any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			g, _ := json.Marshal(got)
			t.Errorf("got  %s\nwant %s", g, want)
		}
	}

	code, got := do(http.MethodGet, "/v1/stockdesk/items/A-100", "")
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, got)
	}
	same(got, `{"item": {"sku": "A-100", "name": "Cordless drill", "category": "tools", "unitPrice": "89.90",
		"quantityOnHand": 42, "status": "ITEM_STATUS_IN_STOCK", "updatedAt": "2026-11-02T09:30:00Z",
		"tags": ["power", "cordless"], "warehouse": {"code": "BER-1", "city": "Berlin"},
		"supplierNote": "Two batteries and a charger included."}}`)

	_, got = do(http.MethodGet, "/v1/stockdesk/items/A-400", "")
	same(got, `{"item": {"sku": "A-400", "name": "Socket wrench set", "category": "tools", "unitPrice": "34.99",
		"quantityOnHand": 8, "status": "ITEM_STATUS_DISCONTINUED", "updatedAt": "2026-09-15T16:45:00Z",
		"tags": ["hand"], "warehouse": {"code": "MUC-1", "city": "Munich"}, "discontinuedOn": "2026-09-15+02:00"}}`)

	_, got = do(http.MethodGet, "/v1/stockdesk/items?category=garden&maxResults=2", "")
	items, _ := got["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["sku"] != "G-100" || items[1].(map[string]any)["sku"] != "G-200" {
		t.Errorf("ListDeskItems: %v", got)
	}

	code, got = do(http.MethodPost, "/v1/stockdesk/items/G-100:reserve", `{"quantity": 2, "customerRef": "PO-1001"}`)
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, got)
	}
	same(got, `{"reservationId": "R-000001", "expiresAt": "2026-11-03T10:15:00Z", "remaining": 63}`)
	_, got = do(http.MethodGet, "/v1/items/G-100", "")
	if q := got["item"].(map[string]any)["quantityOnHand"]; q != 63.0 {
		t.Errorf("the SOAP service shows %v on hand after the desk's reservation, want 63", q)
	}

	for _, tc := range []struct {
		method, path, body string
		http               int
		reason, text       string
	}{
		{http.MethodGet, "/v1/stockdesk/items/B-999", "", http.StatusNotFound, "UNKNOWN_SKU", "unknown SKU B-999 (fault 404)"},
		{http.MethodGet, "/v1/stockdesk/items/Z-999", "", http.StatusServiceUnavailable, "WAREHOUSE_OFFLINE", "warehouse system offline (fault 503). Try again later."},
		{http.MethodPost, "/v1/stockdesk/items/A-100:reserve", `{"quantity": 1000}`, http.StatusBadRequest, "INSUFFICIENT_STOCK", "42 on hand, 1000 requested"},
		{http.MethodPost, "/v1/stockdesk/items/A-400:reserve", `{"quantity": 1}`, http.StatusBadRequest, "ITEM_DISCONTINUED", "discontinued"},
	} {
		code, got := do(tc.method, tc.path, tc.body)
		js, _ := json.Marshal(got)
		if code != tc.http || !strings.Contains(string(js), `"reason":"`+tc.reason+`"`) || !strings.Contains(string(js), tc.text) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, code, js)
		}
	}
}

// TestStockDeskBackend serves StockDeskService with the backend StockDeskBackend makes, in a
// config made in Go: the desk's local times read right.
func TestStockDeskBackend(t *testing.T) {
	t.Parallel()
	desk := httptest.NewServer(NewLegacy(legacyTestClock).XMLRPCHandler())
	t.Cleanup(desk.Close)
	cfg := &server.Config{
		Services: []string{"agentbridge.demo.v1.StockDeskService"},
		Backends: map[string]adapters.Backend{StockDeskBackendName: StockDeskBackend(desk.URL + "/RPC2")},
		Audit:    server.AuditOptions{Sink: "off"},
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/stockdesk/items/G-300", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"updatedAt":"2026-10-25T13:40:00Z"`) || !strings.Contains(rec.Body.String(), `"supplierNote":""`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
