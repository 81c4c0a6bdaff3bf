package demo

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/adapters/standard" // kinds soap and xmlhttp
	"github.com/agentbridge/agentbridge/server"
)

// The XML gateway behind the bridge as agentbridge.demo.v1.XmlStockService, beside the SOAP
// InventoryService over the same stock: a reservation made through the gateway shows in the
// SOAP service's answer.
func TestXMLHTTPDemo(t *testing.T) {
	l := NewLegacy(legacyTestClock)
	gateway := httptest.NewServer(l.XMLHTTPHandler())
	t.Cleanup(gateway.Close)
	soapBackend := httptest.NewServer(l)
	t.Cleanup(soapBackend.Close)

	cfg := &server.Config{
		Services: []string{ServiceName, "agentbridge.demo.v1.XmlStockService"},
		Backends: map[string]adapters.Backend{
			"inventory":    {Kind: "soap", Endpoint: soapBackend.URL},
			"xmlhttp-demo": {Kind: "xmlhttp", Endpoint: gateway.URL},
		},
		Audit: server.AuditOptions{Sink: server.AuditOff},
	}
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	rest := httptest.NewServer(srv.Handler())
	t.Cleanup(rest.Close)

	call := func(method, path, body string) (int, string) {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, rest.URL+path, r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		var c bytes.Buffer
		if json.Compact(&c, data) != nil {
			return resp.StatusCode, string(data)
		}
		return resp.StatusCode, c.String()
	}
	for _, tt := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/v1/xml/stock/A-100", "", 200,
			`{"stockItem":{"sku":"A-100","name":"Cordless drill","category":"tools","unitPrice":"89.90","quantityOnHand":42,"status":"ITEM_STATUS_IN_STOCK","updatedAt":"2026-11-02T09:30:00Z","warehouse":{"code":"BER-1","city":"Berlin"}}}`},
		{"GET", "/v1/xml/stock?category=garden&maxResults=2", "", 200, `{"count":2,"stockItem":[{"sku":"G-100"`},
		{"GET", "/v1/xml/stock/G-200/location", "", 200, `{"sku":"G-200","warehouseCode":"MUC-1","city":"Munich"}`},
		{"POST", "/v1/xml/stock/G-100:reserve", `{"quantity":5,"customerRef":"PO-7"}`, 200, `{"reservationId":"R-000001","expiresAt":"2026-11-03T10:15:00Z","remaining":60}`},
		// The reservation shows in the SOAP service's answer.
		{"GET", "/v1/items/G-100", "", 200, `"quantityOnHand":60`},
		{"POST", "/v1/xml/stock/G-100:reserve", `{"quantity":500}`, 400, `"reason":"INSUFFICIENT_STOCK"`},
		{"POST", "/v1/xml/stock/A-400:reserve", `{"quantity":1}`, 400, `"reason":"ITEM_DISCONTINUED"`},
		{"POST", "/v1/xml/stock/Q-1:reserve", `{"quantity":1}`, 404, `"reason":"UNKNOWN_SKU"`},
		{"GET", "/v1/xml/stock/Q-1", "", 404, `backend xmlhttp-demo has no such resource (HTTP 404): unknown SKU \"Q-1\"`},
		{"GET", "/v1/xml/stock/Z-999", "", 503, `"reason":"BACKEND_BAD_REPLY"`},
	} {
		code, got := call(tt.method, tt.path, tt.body)
		if code != tt.code || !strings.Contains(got, tt.want) {
			t.Errorf("%s %s: HTTP %d %s\nwant HTTP %d containing %s", tt.method, tt.path, code, got, tt.code, tt.want)
		}
	}
}
