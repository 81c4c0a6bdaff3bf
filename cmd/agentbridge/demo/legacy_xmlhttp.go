package demo

// The Acme warehouse's other legacy interface: its "XML gateway", plain XML over HTTP as such
// systems were written before SOAP reached them (and after, for the partners who would not
// speak it). It serves the same stock as the SOAP service (Legacy), so a reservation made
// through one shows in the other. It knows nothing about the bridge.

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// XMLHTTPHandler returns the warehouse's XML gateway over the same stock as l:
//
//	GET  /stock/{sku}                       <stockLookup><stockItem sku="..."> (404 with an <error> body)
//	GET  /stock?category=C&maxResults=N     <stockList count="N"> of <stockItem>
//	POST /reservations                      <reservation><sku/><quantity/><customerRef/></reservation>,
//	                                        answered with <reservationConfirmation>, or with an
//	                                        <error> document and HTTP 200 when the warehouse
//	                                        refuses it (short stock, a discontinued item), as the
//	                                        gateway always did
//
// Errors are <error><code>CODE</code><message>text</message></error>. The offline SKU Z-999
// answers 503.
func (l *Legacy) XMLHTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stock/{sku}", l.xmlGetStock)
	mux.HandleFunc("GET /stock", l.xmlListStock)
	mux.HandleFunc("POST /reservations", l.xmlReserve)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		xmlGatewayWrite(w, http.StatusNotFound, xmlGatewayError{Code: "NO_SUCH_RESOURCE", Message: r.Method + " " + r.URL.Path + " is not served here"})
	})
	return mux
}

type xmlGatewayError struct {
	XMLName xml.Name `xml:"error"`
	Code    string   `xml:"code"`
	Message string   `xml:"message"`
}

type xmlGatewayWarehouse struct {
	Code string `xml:"code,attr"`
	City string `xml:"city,attr"`
}

type xmlGatewayItem struct {
	XMLName        xml.Name            `xml:"stockItem"`
	SKU            string              `xml:"sku,attr"`
	Name           string              `xml:"name"`
	Category       string              `xml:"category"`
	UnitPrice      string              `xml:"unitPrice"`
	QuantityOnHand int                 `xml:"quantityOnHand"`
	Status         string              `xml:"status"`
	UpdatedAt      string              `xml:"updatedAt"`
	Warehouse      xmlGatewayWarehouse `xml:"warehouse"`
}

type xmlGatewayLookup struct {
	XMLName xml.Name       `xml:"stockLookup"`
	Item    xmlGatewayItem `xml:"stockItem"`
}

type xmlGatewayList struct {
	XMLName xml.Name         `xml:"stockList"`
	Count   int              `xml:"count,attr"`
	Items   []xmlGatewayItem `xml:"stockItem"`
}

type xmlGatewayReservation struct {
	XMLName     xml.Name `xml:"reservation"`
	SKU         *string  `xml:"sku"`
	Quantity    *string  `xml:"quantity"`
	CustomerRef *string  `xml:"customerRef"`
}

type xmlGatewayConfirmation struct {
	XMLName       xml.Name `xml:"reservationConfirmation"`
	ReservationID string   `xml:"reservationId"`
	ExpiresAt     string   `xml:"expiresAt"`
	Remaining     int      `xml:"remaining"`
}

func (it *legacyItem) toGatewayXML() xmlGatewayItem {
	return xmlGatewayItem{
		SKU: it.sku, Name: it.name, Category: it.category, UnitPrice: it.unitPrice,
		QuantityOnHand: it.onHand, Status: it.status(), UpdatedAt: it.updatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"),
		Warehouse: xmlGatewayWarehouse{Code: it.warehouseCode, City: it.warehouseCity},
	}
}

func xmlGatewayWrite(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(body)
}

func (l *Legacy) xmlGetStock(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	if sku == legacyOfflineSKU {
		xmlGatewayWrite(w, http.StatusServiceUnavailable, xmlGatewayError{Code: "WAREHOUSE_OFFLINE", Message: "warehouse database unavailable"})
		return
	}
	l.mu.Lock()
	it, ok := l.items[sku]
	var out xmlGatewayItem
	if ok {
		out = it.toGatewayXML()
	}
	l.mu.Unlock()
	if !ok {
		xmlGatewayWrite(w, http.StatusNotFound, xmlGatewayError{Code: "UNKNOWN_SKU", Message: fmt.Sprintf("unknown SKU %q", sku)})
		return
	}
	xmlGatewayWrite(w, http.StatusOK, xmlGatewayLookup{Item: out})
}

func (l *Legacy) xmlListStock(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "category" && k != "maxResults" {
			xmlGatewayWrite(w, http.StatusBadRequest, xmlGatewayError{Code: "BAD_PARAMETER", Message: "unknown parameter " + k})
			return
		}
	}
	category := strings.TrimSpace(q.Get("category"))
	if category == "" {
		xmlGatewayWrite(w, http.StatusBadRequest, xmlGatewayError{Code: "BAD_PARAMETER", Message: "category is required"})
		return
	}
	limit := legacyDefaultMaxResults
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			xmlGatewayWrite(w, http.StatusBadRequest, xmlGatewayError{Code: "BAD_PARAMETER", Message: "maxResults must be a non-negative integer, got " + strconv.Quote(s)})
			return
		}
		if n > 0 {
			limit = n
		}
	}
	l.mu.Lock()
	var items []xmlGatewayItem
	for _, it := range l.items {
		if it.category == category {
			items = append(items, it.toGatewayXML())
		}
	}
	l.mu.Unlock()
	slices.SortFunc(items, func(a, b xmlGatewayItem) int { return strings.Compare(a.SKU, b.SKU) })
	if len(items) > limit {
		items = items[:limit]
	}
	xmlGatewayWrite(w, http.StatusOK, xmlGatewayList{Count: len(items), Items: items})
}

func (l *Legacy) xmlReserve(w http.ResponseWriter, r *http.Request) {
	bad := func(format string, args ...any) {
		xmlGatewayWrite(w, http.StatusBadRequest, xmlGatewayError{Code: "BAD_REQUEST", Message: fmt.Sprintf(format, args...)})
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "application/xml" && mt != "text/xml") {
		xmlGatewayWrite(w, http.StatusUnsupportedMediaType, xmlGatewayError{Code: "BAD_CONTENT_TYPE", Message: "send application/xml"})
		return
	}
	var req xmlGatewayReservation
	d := xml.NewDecoder(io.LimitReader(r.Body, legacyMaxBodyBytes))
	if err := d.Decode(&req); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			bad("malformed XML at line %d", se.Line)
			return
		}
		bad("expected a <reservation> document")
		return
	}
	if req.SKU == nil || strings.TrimSpace(*req.SKU) == "" || req.Quantity == nil {
		bad("sku and quantity are required")
		return
	}
	sku := strings.TrimSpace(*req.SKU)
	qty, err := strconv.Atoi(strings.TrimSpace(*req.Quantity))
	if err != nil || qty <= 0 {
		bad("quantity must be a positive integer, got %q", *req.Quantity)
		return
	}
	if sku == legacyOfflineSKU {
		xmlGatewayWrite(w, http.StatusServiceUnavailable, xmlGatewayError{Code: "WAREHOUSE_OFFLINE", Message: "warehouse database unavailable"})
		return
	}
	customerRef := ""
	if req.CustomerRef != nil {
		customerRef = strings.TrimSpace(*req.CustomerRef)
	}
	now := l.now().UTC()
	refuse := func(code, format string, args ...any) {
		// The gateway has always answered refusals with 200 and an error document.
		xmlGatewayWrite(w, http.StatusOK, xmlGatewayError{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	l.mu.Lock()
	it, ok := l.items[sku]
	switch {
	case !ok:
		l.mu.Unlock()
		refuse("UNKNOWN_SKU", "unknown SKU %q", sku)
		return
	case it.discontinued:
		l.mu.Unlock()
		refuse("ITEM_DISCONTINUED", "item %s is discontinued and cannot be reserved", sku)
		return
	case qty > it.onHand:
		onHand := it.onHand
		l.mu.Unlock()
		refuse("INSUFFICIENT_STOCK", "insufficient stock for %s: %d on hand, %d requested", sku, onHand, qty)
		return
	}
	it.onHand -= qty
	it.updatedAt = now
	remaining := it.onHand
	l.lastReservation++
	id := fmt.Sprintf("R-%06d", l.lastReservation)
	l.mu.Unlock()
	l.ReservationMade(id, sku, qty, remaining, now) // the warehouse reports it (legacy_events.go)
	slog.InfoContext(r.Context(), "inventory: reservation created", "via", "xml gateway",
		"reservation", id, "sku", sku, "quantity", qty, "customerRef", customerRef, "remaining", remaining)
	xmlGatewayWrite(w, http.StatusOK, xmlGatewayConfirmation{ReservationID: id, ExpiresAt: now.Add(legacyReservationTTL).Format("2006-01-02T15:04:05Z07:00"), Remaining: remaining})
}
