package demo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var legacyTestNow = time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)

func legacyTestClock() time.Time { return legacyTestNow }

// legacyTestEnvelope builds a request envelope the way the bridge's codec
// does: qualified operation element, unqualified children.
func legacyTestEnvelope(op, children string) string {
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<ns1:` + op + ` xmlns:ns1="urn:acme:inventory">` + children + `</ns1:` + op + `>` +
		`</soap:Body></soap:Envelope>`
}

func legacyTestPost(t *testing.T, h http.Handler, action, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/inventory", strings.NewReader(body))
	r.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if action != "" {
		r.Header.Set("SOAPAction", `"urn:acme:inventory#`+action+`"`)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type legacyTestResp struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		GetItem *struct {
			Item legacyTestItem `xml:"item"`
		} `xml:"urn:acme:inventory GetItemResponse"`
		ListItems *struct {
			Items *struct {
				Item []legacyTestItem `xml:"item"`
			} `xml:"items"`
		} `xml:"urn:acme:inventory ListItemsResponse"`
		ReserveItem *struct {
			ReservationID string `xml:"reservationId"`
			ExpiresAt     string `xml:"expiresAt"`
			Remaining     int    `xml:"remaining"`
		} `xml:"urn:acme:inventory ReserveItemResponse"`
		Fault *legacyTestFault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type legacyTestItem struct {
	SKU            string   `xml:"sku,attr"`
	Name           string   `xml:"name"`
	Category       string   `xml:"category"`
	UnitPrice      string   `xml:"unitPrice"`
	QuantityOnHand int      `xml:"quantityOnHand"`
	Status         string   `xml:"status"`
	UpdatedAt      string   `xml:"updatedAt"`
	Tags           []string `xml:"tag"`
	Warehouse      struct {
		Code string `xml:"code"`
		City string `xml:"city"`
	} `xml:"warehouse"`
}

type legacyTestFault struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail *struct {
		UnknownItem *struct {
			SKU string `xml:"sku"`
		} `xml:"urn:acme:inventory UnknownItem"`
		StockFault *struct {
			SKU       string `xml:"sku"`
			OnHand    int    `xml:"onHand"`
			Requested int    `xml:"requested"`
		} `xml:"urn:acme:inventory StockFault"`
		ItemDiscontinued *struct {
			SKU string `xml:"sku"`
		} `xml:"urn:acme:inventory ItemDiscontinued"`
	} `xml:"detail"`
}

func legacyTestDecode(t *testing.T, w *httptest.ResponseRecorder) legacyTestResp {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/xml; charset=utf-8", ct)
	}
	var resp legacyTestResp
	if err := xml.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("response is not a SOAP envelope: %v\n%s", err, w.Body.String())
	}
	return resp
}

func TestLegacyGetItemExactWireFormat(t *testing.T) {
	t.Parallel()
	const open = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>` +
		`<inv:GetItemResponse xmlns:inv="urn:acme:inventory">`
	const close = `</inv:GetItemResponse></soap:Body></soap:Envelope>`
	tests := []struct{ sku, item string }{
		{"A-100", `<item sku="A-100"><name>Cordless drill</name>` +
			`<category>tools</category><unitPrice>89.90</unitPrice><quantityOnHand>42</quantityOnHand>` +
			`<status>InStock</status><updatedAt>2026-11-02T09:30:00Z</updatedAt><tag>power</tag><tag>cordless</tag>` +
			`<warehouse><code>BER-1</code><city>Berlin</city></warehouse><supplierNote>Two batteries and a charger included.</supplierNote></item>`},
		// A discontinued item: the day as an xsd:date with its zone, and a nil note.
		{"A-400", `<item sku="A-400"><name>Socket wrench set</name>` +
			`<category>tools</category><unitPrice>34.99</unitPrice><quantityOnHand>8</quantityOnHand>` +
			`<status>Discontinued</status><updatedAt>2026-09-15T16:45:00Z</updatedAt><tag>hand</tag>` +
			`<warehouse><code>MUC-1</code><city>Munich</city></warehouse><discontinuedOn>2026-09-15+02:00</discontinuedOn>` +
			`<supplierNote xsi:nil="true"></supplierNote></item>`},
		// An empty note is a note.
		{"G-300", `<item sku="G-300"><name>Rake &amp; leaf grabber</name>` +
			`<category>garden</category><unitPrice>19.80</unitPrice><quantityOnHand>33</quantityOnHand>` +
			`<status>InStock</status><updatedAt>2026-10-25T13:40:00Z</updatedAt><tag>hand</tag><tag>autumn</tag>` +
			`<warehouse><code>BER-1</code><city>Berlin</city></warehouse><supplierNote></supplierNote></item>`},
	}
	for _, tt := range tests {
		t.Run(tt.sku, func(t *testing.T) {
			t.Parallel()
			w := legacyTestPost(t, NewLegacy(legacyTestClock), "GetItem", legacyTestEnvelope("GetItem", "<sku>"+tt.sku+"</sku>"))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", w.Code)
			}
			if got, want := w.Body.String(), open+tt.item+close; got != want {
				t.Errorf("body mismatch\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func TestLegacyResponseChildrenUnqualified(t *testing.T) {
	t.Parallel()
	h := NewLegacy(legacyTestClock)
	for _, c := range []struct{ op, children string }{
		{"GetItem", "<sku>A-100</sku>"},
		{"ListItems", "<category>tools</category>"},
		{"ReserveItem", "<sku>G-100</sku><quantity>1</quantity>"},
		{"GetItem", "<sku>X-1</sku>"}, // fault detail
	} {
		w := legacyTestPost(t, h, c.op, legacyTestEnvelope(c.op, c.children))
		d := xml.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		depth, opDepth := 0, -1
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", c.op, err)
			}
			switch e := tok.(type) {
			case xml.StartElement:
				depth++
				switch {
				case depth <= 2 || e.Name.Local == "Fault" || e.Name.Local == "faultcode" ||
					e.Name.Local == "faultstring" || e.Name.Local == "detail":
					// envelope, body and fault scaffolding
				case opDepth < 0:
					if e.Name.Space != legacyInvNS {
						t.Errorf("%s: element %s in namespace %q, want %s", c.op, e.Name.Local, e.Name.Space, legacyInvNS)
					}
					opDepth = depth
				case e.Name.Space != "":
					t.Errorf("%s: child element %s is qualified (%q), want unqualified", c.op, e.Name.Local, e.Name.Space)
				}
			case xml.EndElement:
				depth--
			}
		}
		if opDepth < 0 {
			t.Errorf("%s: no qualified response element found", c.op)
		}
	}
}

func TestLegacyOperations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		action string
		body   string
		header map[string]string
		check  func(t *testing.T, r legacyTestResp)
	}{
		{
			name: "GetItem A-100", action: "GetItem",
			body: legacyTestEnvelope("GetItem", "<sku>A-100</sku>"),
			check: func(t *testing.T, r legacyTestResp) {
				if r.Body.GetItem == nil {
					t.Fatal("no GetItemResponse")
				}
				it := r.Body.GetItem.Item
				if it.SKU != "A-100" || it.Name != "Cordless drill" || it.Category != "tools" ||
					it.UnitPrice != "89.90" || it.QuantityOnHand != 42 || it.Status != "InStock" ||
					it.UpdatedAt != "2026-11-02T09:30:00Z" || !slices.Equal(it.Tags, []string{"power", "cordless"}) ||
					it.Warehouse.Code != "BER-1" || it.Warehouse.City != "Berlin" {
					t.Errorf("item = %+v", it)
				}
			},
		},
		{
			name: "GetItem backordered", action: "GetItem",
			body: legacyTestEnvelope("GetItem", "<sku>A-300</sku>"),
			check: func(t *testing.T, r legacyTestResp) {
				it := r.Body.GetItem.Item
				if it.Status != "Backordered" || it.QuantityOnHand != 0 {
					t.Errorf("item = %+v, want Backordered with 0 on hand", it)
				}
			},
		},
		{
			name: "GetItem discontinued", action: "GetItem",
			body: legacyTestEnvelope("GetItem", "<sku>A-400</sku>"),
			check: func(t *testing.T, r legacyTestResp) {
				if it := r.Body.GetItem.Item; it.Status != "Discontinued" {
					t.Errorf("status = %q, want Discontinued", it.Status)
				}
			},
		},
		{
			name: "GetItem escaped value", action: "GetItem",
			body: legacyTestEnvelope("GetItem", "<sku>G-300</sku>"),
			check: func(t *testing.T, r legacyTestResp) {
				if it := r.Body.GetItem.Item; it.Name != "Rake & leaf grabber" {
					t.Errorf("name = %q", it.Name)
				}
			},
		},
		{
			name: "GetItem unquoted SOAPAction, other prefixes, default namespace", action: "GetItem",
			header: map[string]string{"SOAPAction": "urn:acme:inventory#GetItem", "Content-Type": `Text/XML; charset="UTF-8"`},
			body: `<?xml version="1.0" encoding="utf-8"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">` +
				`<e:Header/><e:Body><GetItem xmlns="urn:acme:inventory"><sku xmlns=""> A-100 </sku></GetItem></e:Body></e:Envelope>`,
			check: func(t *testing.T, r legacyTestResp) {
				if it := r.Body.GetItem.Item; it.SKU != "A-100" {
					t.Errorf("sku = %q", it.SKU)
				}
			},
		},
		{
			name: "ListItems tools", action: "ListItems",
			body: legacyTestEnvelope("ListItems", "<category>tools</category><maxResults>0</maxResults>"),
			check: func(t *testing.T, r legacyTestResp) {
				var skus []string
				for _, it := range r.Body.ListItems.Items.Item {
					skus = append(skus, it.SKU)
					if it.Category != "tools" {
						t.Errorf("%s category = %q", it.SKU, it.Category)
					}
				}
				if want := []string{"A-100", "A-200", "A-300", "A-400"}; !slices.Equal(skus, want) {
					t.Errorf("skus = %v, want %v", skus, want)
				}
				if first := r.Body.ListItems.Items.Item[0]; first.Name != "Cordless drill" || first.UnitPrice != "89.90" ||
					first.Warehouse.City != "Berlin" || len(first.Tags) != 2 {
					t.Errorf("first item = %+v", first)
				}
			},
		},
		{
			name: "ListItems maxResults", action: "ListItems",
			body: legacyTestEnvelope("ListItems", "<category>garden</category><maxResults>2</maxResults>"),
			check: func(t *testing.T, r legacyTestResp) {
				var skus []string
				for _, it := range r.Body.ListItems.Items.Item {
					skus = append(skus, it.SKU)
				}
				if want := []string{"G-100", "G-200"}; !slices.Equal(skus, want) {
					t.Errorf("skus = %v, want %v", skus, want)
				}
			},
		},
		{
			name: "ListItems without maxResults", action: "ListItems",
			body: legacyTestEnvelope("ListItems", "<category>garden</category>"),
			check: func(t *testing.T, r legacyTestResp) {
				if n := len(r.Body.ListItems.Items.Item); n != 3 {
					t.Errorf("got %d items, want 3", n)
				}
			},
		},
		{
			name: "ListItems unknown category", action: "ListItems",
			body: legacyTestEnvelope("ListItems", "<category>kitchen</category><maxResults>5</maxResults>"),
			check: func(t *testing.T, r legacyTestResp) {
				if r.Body.ListItems == nil || r.Body.ListItems.Items == nil {
					t.Fatal("want an empty <items/> element")
				}
				if n := len(r.Body.ListItems.Items.Item); n != 0 {
					t.Errorf("got %d items, want 0", n)
				}
			},
		},
		{
			name: "ReserveItem", action: "ReserveItem",
			body: legacyTestEnvelope("ReserveItem", "<sku>A-100</sku><quantity>5</quantity><customerRef>PO-7</customerRef>"),
			check: func(t *testing.T, r legacyTestResp) {
				res := r.Body.ReserveItem
				if res == nil {
					t.Fatal("no ReserveItemResponse")
				}
				if res.ReservationID != "R-000001" || res.ExpiresAt != "2026-11-03T10:15:00Z" || res.Remaining != 37 {
					t.Errorf("reservation = %+v", *res)
				}
			},
		},
		{
			name: "ReserveItem without customerRef", action: "ReserveItem",
			body: legacyTestEnvelope("ReserveItem", "<sku>G-200</sku><quantity>7</quantity>"),
			check: func(t *testing.T, r legacyTestResp) {
				if res := r.Body.ReserveItem; res == nil || res.Remaining != 0 {
					t.Errorf("reservation = %+v", res)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/inventory", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "text/xml")
			r.Header.Set("SOAPAction", `"urn:acme:inventory#`+tc.action+`"`)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			NewLegacy(legacyTestClock).ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200\n%s", w.Code, w.Body.String())
			}
			tc.check(t, legacyTestDecode(t, w))
		})
	}
}

func TestLegacyReservationsUpdateStock(t *testing.T) {
	t.Parallel()
	h := NewLegacy(legacyTestClock)
	for i, want := range []struct {
		id        string
		remaining int
	}{{"R-000001", 30}, {"R-000002", 18}, {"R-000003", 6}} {
		w := legacyTestPost(t, h, "ReserveItem", legacyTestEnvelope("ReserveItem", "<sku>A-100</sku><quantity>12</quantity><customerRef>PO-1</customerRef>"))
		res := legacyTestDecode(t, w).Body.ReserveItem
		if w.Code != http.StatusOK || res == nil || res.ReservationID != want.id || res.Remaining != want.remaining {
			t.Fatalf("reservation %d: status %d, %+v; want %+v", i, w.Code, res, want)
		}
	}
	w := legacyTestPost(t, h, "GetItem", legacyTestEnvelope("GetItem", "<sku>A-100</sku>"))
	it := legacyTestDecode(t, w).Body.GetItem.Item
	if it.QuantityOnHand != 6 || it.UpdatedAt != "2026-11-03T10:00:00Z" {
		t.Errorf("after reservations: %d on hand, updatedAt %s", it.QuantityOnHand, it.UpdatedAt)
	}
}

func TestLegacyFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		action     string // SOAPAction operation; "" sends none
		rawAction  string // if set, sent verbatim instead
		body       string
		wantCode   string
		wantString string // exact faultstring, or substring if wantSubstr
		wantSubstr bool
		check      func(t *testing.T, f *legacyTestFault)
	}{
		{
			name: "unknown SKU", action: "GetItem",
			body:     legacyTestEnvelope("GetItem", "<sku>X-999</sku>"),
			wantCode: "soap:Client", wantString: `unknown SKU "X-999"`,
			check: func(t *testing.T, f *legacyTestFault) {
				if f.Detail == nil || f.Detail.UnknownItem == nil || f.Detail.UnknownItem.SKU != "X-999" {
					t.Errorf("detail = %+v, want UnknownItem X-999", f.Detail)
				}
			},
		},
		{
			name: "unknown SKU on reserve", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>X-1</sku><quantity>1</quantity>"),
			wantCode: "soap:Client", wantString: `unknown SKU "X-1"`,
			check: func(t *testing.T, f *legacyTestFault) {
				if f.Detail == nil || f.Detail.UnknownItem == nil || f.Detail.UnknownItem.SKU != "X-1" {
					t.Errorf("detail = %+v, want UnknownItem X-1", f.Detail)
				}
			},
		},
		{
			name: "markup in SKU is escaped", action: "GetItem",
			body:     legacyTestEnvelope("GetItem", "<sku>&lt;b&gt;&amp;]]&gt;</sku>"),
			wantCode: "soap:Client", wantString: `unknown SKU "<b>&]]>"`,
			check: func(t *testing.T, f *legacyTestFault) {
				if f.Detail.UnknownItem.SKU != "<b>&]]>" {
					t.Errorf("detail sku = %q", f.Detail.UnknownItem.SKU)
				}
			},
		},
		{
			name: "insufficient stock", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>A-100</sku><quantity>50</quantity><customerRef>PO-7</customerRef>"),
			wantCode: "soap:Client", wantString: "insufficient stock for A-100: 42 on hand, 50 requested",
			check: func(t *testing.T, f *legacyTestFault) {
				sf := f.Detail.StockFault
				if sf == nil || sf.SKU != "A-100" || sf.OnHand != 42 || sf.Requested != 50 {
					t.Errorf("StockFault = %+v", sf)
				}
			},
		},
		{
			name: "backordered item", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>A-300</sku><quantity>1</quantity>"),
			wantCode: "soap:Client", wantString: "insufficient stock for A-300: 0 on hand, 1 requested",
		},
		{
			name: "discontinued item", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>A-400</sku><quantity>1</quantity>"),
			wantCode: "soap:Client", wantString: "item A-400 is discontinued and cannot be reserved",
			check: func(t *testing.T, f *legacyTestFault) {
				if f.Detail == nil || f.Detail.ItemDiscontinued == nil || f.Detail.ItemDiscontinued.SKU != "A-400" {
					t.Errorf("detail = %+v, want ItemDiscontinued A-400", f.Detail)
				}
			},
		},
		{
			name: "zero quantity", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>A-100</sku><quantity>0</quantity>"),
			wantCode: "soap:Client", wantString: "ReserveItem: quantity must be a positive integer, got 0",
		},
		{
			name: "negative quantity", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>A-100</sku><quantity>-3</quantity>"),
			wantCode: "soap:Client", wantString: "ReserveItem: quantity must be a positive integer, got -3",
		},
		{
			name: "non-numeric quantity", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>A-100</sku><quantity>five</quantity>"),
			wantCode: "soap:Client", wantString: `ReserveItem: quantity must be an integer, got "five"`,
		},
		{
			name: "missing quantity", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>A-100</sku>"),
			wantCode: "soap:Client", wantString: "ReserveItem: missing required element quantity",
		},
		{
			name: "missing sku", action: "GetItem",
			body:     legacyTestEnvelope("GetItem", ""),
			wantCode: "soap:Client", wantString: "GetItem: missing required element sku",
		},
		{
			name: "negative maxResults", action: "ListItems",
			body:     legacyTestEnvelope("ListItems", "<category>tools</category><maxResults>-1</maxResults>"),
			wantCode: "soap:Client", wantString: "ListItems: maxResults must not be negative, got -1",
		},
		{
			name: "warehouse offline on GetItem", action: "GetItem",
			body:     legacyTestEnvelope("GetItem", "<sku>Z-999</sku>"),
			wantCode: "soap:Server", wantString: "warehouse database unavailable",
		},
		{
			name: "warehouse offline on ReserveItem", action: "ReserveItem",
			body:     legacyTestEnvelope("ReserveItem", "<sku>Z-999</sku><quantity>1</quantity>"),
			wantCode: "soap:Server", wantString: "warehouse database unavailable",
		},
		{
			name: "malformed XML", action: "GetItem",
			body:     `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns1:GetItem xmlns:ns1="urn:acme:inventory"><sku>A-100</ns1:GetItem>`,
			wantCode: "soap:Client", wantString: "malformed XML", wantSubstr: true,
		},
		{
			name: "not XML at all", action: "GetItem",
			body:     `{"sku":"A-100"}`,
			wantCode: "soap:Client", wantString: "malformed XML: text outside the root element",
		},
		{
			name: "empty body", action: "GetItem",
			body:     "",
			wantCode: "soap:Client", wantString: "empty request: expected a SOAP 1.1 Envelope",
		},
		{
			name: "DOCTYPE rejected", action: "GetItem",
			body: `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY x "xxxxxxxx">]>` +
				legacyTestEnvelope("GetItem", "<sku>A-100</sku>"),
			wantCode: "soap:Client", wantString: "DOCTYPE declarations are not allowed",
		},
		{
			name: "SOAP 1.2 envelope", action: "GetItem",
			body:     `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><ns1:GetItem xmlns:ns1="urn:acme:inventory"><sku>A-100</sku></ns1:GetItem></env:Body></env:Envelope>`,
			wantCode: "soap:Client", wantString: "root element must be {http://schemas.xmlsoap.org/soap/envelope/}Envelope (SOAP 1.1), got {http://www.w3.org/2003/05/soap-envelope}Envelope",
		},
		{
			name: "bare operation without envelope", action: "GetItem",
			body:     `<GetItem xmlns="urn:acme:inventory"><sku>A-100</sku></GetItem>`,
			wantCode: "soap:Client", wantString: "root element must be", wantSubstr: true,
		},
		{
			name: "envelope without body", action: "GetItem",
			body:     `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"></soap:Envelope>`,
			wantCode: "soap:Client", wantString: "SOAP envelope has no Body",
		},
		{
			name: "empty SOAP body", action: "GetItem",
			body:     `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`,
			wantCode: "soap:Client", wantString: "SOAP Body is empty", wantSubstr: true,
		},
		{
			name: "unknown operation", action: "GetItem",
			body:     legacyTestEnvelope("DeleteItem", "<sku>A-100</sku>"),
			wantCode: "soap:Client", wantString: "unknown operation {urn:acme:inventory}DeleteItem",
		},
		{
			name: "operation in wrong namespace", action: "GetItem",
			body:     `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetItem><sku>A-100</sku></GetItem></soap:Body></soap:Envelope>`,
			wantCode: "soap:Client", wantString: `operation element GetItem must be in namespace urn:acme:inventory, got namespace ""`,
		},
		{
			name: "two operations", action: "GetItem",
			body: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
				`<i:GetItem xmlns:i="urn:acme:inventory"><sku>A-100</sku></i:GetItem><i:GetItem xmlns:i="urn:acme:inventory"><sku>A-200</sku></i:GetItem>` +
				`</soap:Body></soap:Envelope>`,
			wantCode: "soap:Client", wantString: "SOAP Body must contain exactly one operation element, found 2",
		},
		{
			name: "SOAPAction does not match body", action: "ReserveItem",
			body:     legacyTestEnvelope("GetItem", "<sku>A-100</sku>"),
			wantCode: "soap:Client", wantString: "SOAPAction urn:acme:inventory#ReserveItem does not match body element GetItem",
		},
		{
			name: "unknown SOAPAction", rawAction: `"urn:acme:inventory#DeleteItem"`,
			body:     legacyTestEnvelope("GetItem", "<sku>A-100</sku>"),
			wantCode: "soap:Client", wantString: `unknown SOAPAction "urn:acme:inventory#DeleteItem"`, wantSubstr: true,
		},
		{
			name: "SOAPAction without namespace", rawAction: "GetItem",
			body:     legacyTestEnvelope("GetItem", "<sku>A-100</sku>"),
			wantCode: "soap:Client", wantString: `unknown SOAPAction "GetItem"`, wantSubstr: true,
		},
		{
			name:     "missing SOAPAction",
			body:     legacyTestEnvelope("GetItem", "<sku>A-100</sku>"),
			wantCode: "soap:Client", wantString: "missing SOAPAction header",
		},
		{
			name: "empty SOAPAction", rawAction: `""`,
			body:     legacyTestEnvelope("GetItem", "<sku>A-100</sku>"),
			wantCode: "soap:Client", wantString: "empty SOAPAction header",
		},
		{
			name: "mustUnderstand header", action: "GetItem",
			body: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
				`<t:Transaction xmlns:t="urn:example:tx" soap:mustUnderstand="1">5</t:Transaction></soap:Header>` +
				`<soap:Body><i:GetItem xmlns:i="urn:acme:inventory"><sku>A-100</sku></i:GetItem></soap:Body></soap:Envelope>`,
			wantCode: "soap:MustUnderstand", wantString: "header {urn:example:tx}Transaction was not understood",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/inventory", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "text/xml; charset=utf-8")
			switch {
			case tc.rawAction != "":
				r.Header.Set("SOAPAction", tc.rawAction)
			case tc.action != "":
				r.Header.Set("SOAPAction", `"urn:acme:inventory#`+tc.action+`"`)
			}
			w := httptest.NewRecorder()
			NewLegacy(legacyTestClock).ServeHTTP(w, r)
			if w.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want 500", w.Code)
			}
			f := legacyTestDecode(t, w).Body.Fault
			if f == nil {
				t.Fatalf("no soap:Fault in\n%s", w.Body.String())
			}
			if f.Code != tc.wantCode {
				t.Errorf("faultcode = %q, want %q", f.Code, tc.wantCode)
			}
			if tc.wantSubstr && !strings.Contains(f.String, tc.wantString) ||
				!tc.wantSubstr && f.String != tc.wantString {
				t.Errorf("faultstring = %q, want %q", f.String, tc.wantString)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestLegacyTransportErrors(t *testing.T) {
	t.Parallel()
	valid := legacyTestEnvelope("GetItem", "<sku>A-100</sku>")
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		wantStatus  int
		wantString  string
	}{
		{"GET without wsdl", http.MethodGet, "/inventory", "", "", http.StatusMethodNotAllowed, "method GET not allowed"},
		{"PUT", http.MethodPut, "/inventory", "text/xml", valid, http.StatusMethodNotAllowed, "method PUT not allowed"},
		{"DELETE with wsdl query", http.MethodDelete, "/inventory?wsdl", "", "", http.StatusMethodNotAllowed, "method DELETE not allowed"},
		{"JSON", http.MethodPost, "/inventory", "application/json", `{"sku":"A-100"}`, http.StatusUnsupportedMediaType, `unsupported Content-Type "application/json": expected text/xml`},
		{"SOAP 1.2 media type", http.MethodPost, "/inventory", "application/soap+xml; charset=utf-8", valid, http.StatusUnsupportedMediaType, "SOAP 1.2 (application/soap+xml) is not supported"},
		{"missing Content-Type", http.MethodPost, "/inventory", "", valid, http.StatusUnsupportedMediaType, "missing Content-Type: expected text/xml"},
		{"foreign charset", http.MethodPost, "/inventory", "text/xml; charset=iso-8859-1", valid, http.StatusUnsupportedMediaType, `unsupported charset "iso-8859-1": expected utf-8`},
		{"oversized body", http.MethodPost, "/inventory", "text/xml", legacyTestEnvelope("GetItem", "<sku>"+strings.Repeat("A", legacyMaxBodyBytes)+"</sku>"), http.StatusRequestEntityTooLarge, "request body exceeds 1048576 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			r.Header.Set("SOAPAction", `"urn:acme:inventory#GetItem"`)
			w := httptest.NewRecorder()
			NewLegacy(legacyTestClock).ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusMethodNotAllowed {
				if allow := w.Header().Get("Allow"); allow != "POST" {
					t.Errorf("Allow = %q, want POST", allow)
				}
			}
			f := legacyTestDecode(t, w).Body.Fault
			if f == nil {
				t.Fatalf("no soap:Fault in\n%s", w.Body.String())
			}
			if f.Code != "soap:Client" || !strings.Contains(f.String, tc.wantString) {
				t.Errorf("fault = %s %q, want soap:Client containing %q", f.Code, f.String, tc.wantString)
			}
		})
	}
}

type legacyTestWSDL struct {
	XMLName         xml.Name `xml:"http://schemas.xmlsoap.org/wsdl/ definitions"`
	TargetNamespace string   `xml:"targetNamespace,attr"`
	Types           struct {
		Schema struct {
			TargetNamespace    string `xml:"targetNamespace,attr"`
			ElementFormDefault string `xml:"elementFormDefault,attr"`
			Elements           []struct {
				Name string `xml:"name,attr"`
			} `xml:"http://www.w3.org/2001/XMLSchema element"`
		} `xml:"http://www.w3.org/2001/XMLSchema schema"`
	} `xml:"http://schemas.xmlsoap.org/wsdl/ types"`
	Bindings []struct {
		Name  string `xml:"name,attr"`
		Style struct {
			Style     string `xml:"style,attr"`
			Transport string `xml:"transport,attr"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ binding"`
		Operations []struct {
			Name   string `xml:"name,attr"`
			Action struct {
				SOAPAction string `xml:"soapAction,attr"`
			} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ operation"`
			Input struct {
				Body struct {
					Use string `xml:"use,attr"`
				} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ body"`
			} `xml:"http://schemas.xmlsoap.org/wsdl/ input"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/ operation"`
	} `xml:"http://schemas.xmlsoap.org/wsdl/ binding"`
	Services []struct {
		Name  string `xml:"name,attr"`
		Ports []struct {
			Name    string `xml:"name,attr"`
			Address struct {
				Location string `xml:"location,attr"`
			} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ address"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/ port"`
	} `xml:"http://schemas.xmlsoap.org/wsdl/ service"`
}

func TestLegacyWSDL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		target   string
		host     string
		wantAddr string
	}{
		{"lower-case query", "/inventory?wsdl", "example.test:8080", "http://example.test:8080/inventory"},
		{"upper-case query", "/inventory?WSDL", "legacy.acme.internal", "http://legacy.acme.internal/inventory"},
		{"other mount path", "/soap/inv?wsdl", "127.0.0.1:54321", "http://127.0.0.1:54321/soap/inv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.Host = tc.host
			w := httptest.NewRecorder()
			NewLegacy(nil).ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
				t.Errorf("Content-Type = %q, want text/xml", ct)
			}
			body := w.Body.Bytes()
			d := xml.NewDecoder(bytes.NewReader(body))
			for {
				_, err := d.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("WSDL is not well-formed: %v", err)
				}
			}
			if bytes.Contains(body, []byte(legacyWSDLPlaceholder)) {
				t.Error("placeholder address was not rewritten")
			}
			var doc legacyTestWSDL
			if err := xml.Unmarshal(body, &doc); err != nil {
				t.Fatalf("decoding WSDL: %v", err)
			}
			if doc.TargetNamespace != legacyInvNS || doc.Types.Schema.TargetNamespace != legacyInvNS {
				t.Errorf("target namespaces = %q, %q", doc.TargetNamespace, doc.Types.Schema.TargetNamespace)
			}
			if doc.Types.Schema.ElementFormDefault != "unqualified" {
				t.Errorf("elementFormDefault = %q", doc.Types.Schema.ElementFormDefault)
			}
			var elems []string
			for _, e := range doc.Types.Schema.Elements {
				elems = append(elems, e.Name)
			}
			for _, want := range []string{"GetItem", "GetItemResponse", "ListItems", "ListItemsResponse", "ReserveItem", "ReserveItemResponse", "UnknownItem", "StockFault"} {
				if !slices.Contains(elems, want) {
					t.Errorf("schema lacks element %s (have %v)", want, elems)
				}
			}
			if len(doc.Bindings) != 1 {
				t.Fatalf("got %d bindings, want 1", len(doc.Bindings))
			}
			b := doc.Bindings[0]
			if b.Style.Style != "document" || b.Style.Transport != "http://schemas.xmlsoap.org/soap/http" {
				t.Errorf("soap:binding = %+v", b.Style)
			}
			actions := map[string]string{}
			for _, op := range b.Operations {
				actions[op.Name] = op.Action.SOAPAction
				if op.Input.Body.Use != "literal" {
					t.Errorf("%s input use = %q, want literal", op.Name, op.Input.Body.Use)
				}
			}
			for action, op := range legacySOAPActions {
				if actions[op] != action {
					t.Errorf("operation %s soapAction = %q, want %q", op, actions[op], action)
				}
			}
			if len(doc.Services) != 1 || doc.Services[0].Name != "AcmeInventoryService" || len(doc.Services[0].Ports) != 1 {
				t.Fatalf("services = %+v", doc.Services)
			}
			if got := doc.Services[0].Ports[0].Address.Location; got != tc.wantAddr {
				t.Errorf("address = %q, want %q", got, tc.wantAddr)
			}
		})
	}
}

func TestLegacyConcurrentReservationsNeverOversell(t *testing.T) {
	t.Parallel()
	h := NewLegacy(legacyTestClock)
	const workers = 50
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		ids    []string
		faults int
	)
	for i := range workers {
		wg.Go(func() {
			body := legacyTestEnvelope("ReserveItem", fmt.Sprintf("<sku>A-100</sku><quantity>1</quantity><customerRef>PO-%d</customerRef>", i))
			r := httptest.NewRequest(http.MethodPost, "/inventory", strings.NewReader(body))
			r.Header.Set("Content-Type", "text/xml; charset=utf-8")
			r.Header.Set("SOAPAction", "urn:acme:inventory#ReserveItem")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var resp legacyTestResp
			if err := xml.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Errorf("worker %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case w.Code == http.StatusOK && resp.Body.ReserveItem != nil:
				ids = append(ids, resp.Body.ReserveItem.ReservationID)
			case w.Code == http.StatusInternalServerError && resp.Body.Fault != nil &&
				resp.Body.Fault.Detail != nil && resp.Body.Fault.Detail.StockFault != nil:
				faults++
			default:
				t.Errorf("worker %d: unexpected reply %d\n%s", i, w.Code, w.Body.String())
			}
		})
	}
	wg.Wait()
	if len(ids) != 42 || faults != workers-42 {
		t.Fatalf("%d reservations succeeded and %d failed, want 42 and %d", len(ids), faults, workers-42)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if want := fmt.Sprintf("R-%06d", i+1); id != want {
			t.Fatalf("reservation ids = %v, want R-000001..R-000042 without gaps or duplicates", ids)
		}
	}
	w := legacyTestPost(t, h, "GetItem", legacyTestEnvelope("GetItem", "<sku>A-100</sku>"))
	it := legacyTestDecode(t, w).Body.GetItem.Item
	if it.QuantityOnHand != 0 || it.Status != "Backordered" {
		t.Errorf("after selling out: %d on hand, status %s; want 0, Backordered", it.QuantityOnHand, it.Status)
	}
}
