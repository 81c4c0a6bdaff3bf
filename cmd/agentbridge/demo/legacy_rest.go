package demo

// This file is the Acme warehouse's other legacy interface: the "stock REST API v1" a web team
// added beside the SOAP service years later, written as such APIs were: JSON with snake_case
// members, page numbers with an RFC 8288 Link header, form-encoded POSTs, errors as
// {"error": "..."} with a status code. It serves the same inventory as the SOAP service (the
// same *Legacy), so a reservation made through one shows in the other. It knows nothing about
// the bridge.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// legacyRestItem is an item as the REST API writes it.
type legacyRestItem struct {
	SKU            string            `json:"sku"`
	Name           string            `json:"name"`
	Category       string            `json:"category"`
	UnitPrice      string            `json:"unit_price"`
	OnHand         int               `json:"on_hand"`
	Status         string            `json:"status"`
	UpdatedAt      string            `json:"updated_at"`
	Tags           []string          `json:"tags"`
	Warehouse      map[string]string `json:"warehouse"`
	DiscontinuedOn *string           `json:"discontinued_on,omitempty"`
	SupplierNote   *string           `json:"supplier_note"`
}

func (it *legacyItem) toREST() legacyRestItem {
	out := legacyRestItem{
		SKU: it.sku, Name: it.name, Category: it.category, UnitPrice: it.unitPrice, OnHand: it.onHand,
		Status:    strings.ToLower(it.status()),
		UpdatedAt: it.updatedAt.UTC().Format(time.RFC3339),
		Tags:      slices.Clone(it.tags),
		Warehouse: map[string]string{"code": it.warehouseCode, "city": it.warehouseCity},
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if it.discontinuedOn != "" {
		d := it.discontinuedOn
		out.DiscontinuedOn = &d
	}
	if it.supplierNote != nil {
		n := *it.supplierNote
		out.SupplierNote = &n
	}
	return out
}

// RestHandler serves the warehouse's stock REST API v1 under /api/v1:
//
//	GET  /api/v1/items?category=tools&page=1&per_page=20   items in SKU order; Link rel="next"
//	GET  /api/v1/items/{sku}                               one item; 404 {"error": ...}
//	POST /api/v1/reservations  (form: sku, quantity, customer_ref)
//	                           201 {"reservation_id", "expires_at", "remaining"}; 409 when the
//	                           stock is short, 422 for a discontinued item or a bad quantity
//
// Errors are {"error": "..."} with the status; the offline SKU Z-999 answers 503.
func (l *Legacy) RestHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/items", l.restListItems)
	mux.HandleFunc("GET /api/v1/items/{sku}", l.restGetItem)
	mux.HandleFunc("POST /api/v1/reservations", l.restReserve)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		restError(w, http.StatusNotFound, "no such endpoint")
	})
	return mux
}

func restJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func restError(w http.ResponseWriter, status int, format string, args ...any) {
	restJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (l *Legacy) restGetItem(w http.ResponseWriter, r *http.Request) {
	sku := r.PathValue("sku")
	if sku == legacyOfflineSKU {
		restError(w, http.StatusServiceUnavailable, "warehouse database unavailable")
		return
	}
	l.mu.Lock()
	it, ok := l.items[sku]
	var out legacyRestItem
	if ok {
		out = it.toREST()
	}
	l.mu.Unlock()
	if !ok {
		restError(w, http.StatusNotFound, "unknown sku %s", sku)
		return
	}
	restJSON(w, http.StatusOK, out)
}

func (l *Legacy) restListItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, perPage := 1, legacyDefaultMaxResults
	for name, dst := range map[string]*int{"page": &page, "per_page": &perPage} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || (name == "per_page" && n > 100) {
				restError(w, http.StatusBadRequest, "%s must be a whole number from 1%s", name, map[bool]string{true: " to 100", false: ""}[name == "per_page"])
				return
			}
			*dst = n
		}
	}
	category := q.Get("category")
	l.mu.Lock()
	var items []legacyRestItem
	for _, it := range l.items {
		if category == "" || it.category == category {
			items = append(items, it.toREST())
		}
	}
	l.mu.Unlock()
	slices.SortFunc(items, func(a, b legacyRestItem) int { return strings.Compare(a.SKU, b.SKU) })
	total := len(items)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	if end < total {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("page", strconv.Itoa(page+1))
		next.Set("per_page", strconv.Itoa(perPage))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s://%s%s?%s>; rel="next"`, scheme, r.Host, r.URL.Path, next.Encode()))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	restJSON(w, http.StatusOK, append([]legacyRestItem{}, items[start:end]...))
}

func (l *Legacy) restReserve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		restError(w, http.StatusBadRequest, "the body must be a form")
		return
	}
	sku, qty, ref := r.PostForm.Get("sku"), r.PostForm.Get("quantity"), r.PostForm.Get("customer_ref")
	if sku == "" || qty == "" {
		restError(w, http.StatusUnprocessableEntity, "sku and quantity are required")
		return
	}
	l.mu.Lock()
	it, ok := l.items[sku]
	var onHand int
	var discontinued bool
	if ok {
		onHand, discontinued = it.onHand, it.discontinued
	}
	l.mu.Unlock()
	n, err := strconv.Atoi(qty)
	switch {
	case sku == legacyOfflineSKU:
		restError(w, http.StatusServiceUnavailable, "warehouse database unavailable")
		return
	case !ok:
		restError(w, http.StatusNotFound, "unknown sku %s", sku)
		return
	case err != nil || n <= 0:
		restError(w, http.StatusUnprocessableEntity, "quantity must be a positive whole number")
		return
	case discontinued:
		restError(w, http.StatusUnprocessableEntity, "item %s is discontinued", sku)
		return
	case n > onHand:
		restError(w, http.StatusConflict, "insufficient stock for %s: %d on hand, %d requested", sku, onHand, n)
		return
	}
	// The reservation itself is the warehouse's one routine, shared with the SOAP service.
	res, f := l.reserveItem(r.Context(), legacyReserveItemReq{SKU: &sku, Quantity: &qty, CustomerRef: &ref})
	if f != nil {
		// Stock moved between the check and the reservation.
		restError(w, http.StatusConflict, "%s", f.message)
		return
	}
	out := res.(*legacyReserveItemResp)
	restJSON(w, http.StatusCreated, map[string]any{"reservation_id": out.ReservationID, "expires_at": out.ExpiresAt, "remaining": out.Remaining})
}
