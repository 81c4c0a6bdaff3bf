package demo

// This file is the Acme warehouse's XML-RPC "stock desk": the same inventory as the SOAP
// service, reached the way a PHP-era module offered it, with nothing but net/http and
// encoding/xml. It knows nothing about the bridge. Faults carry HTTP-like codes: 400 bad input,
// 404 unknown SKU, 409 insufficient stock, 410 discontinued, 503 warehouse offline.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/agentbridge/agentbridge/adapters"
)

// StockDeskBackendName is the backend StockDeskService's bindings name.
const StockDeskBackendName = "warehouse-xmlrpc"

// StockDeskBackend is the config of the stock desk's backend at endpoint (the URL
// XMLRPCHandler is served at): kind xmlrpc, with the desk's zone, Europe/Berlin, as its
// timezone setting, since the desk writes local times without a zone. In YAML:
//
//	warehouse-xmlrpc:
//	  kind: xmlrpc
//	  endpoint: http://127.0.0.1:8081/RPC2
//	  xmlrpc:
//	    timezone: Europe/Berlin
func StockDeskBackend(endpoint string) adapters.Backend {
	var sections map[string]yaml.Node
	if err := yaml.Unmarshal([]byte("xmlrpc:\n  timezone: Europe/Berlin\n"), &sections); err != nil {
		panic("demo: " + err.Error())
	}
	return adapters.Backend{Kind: "xmlrpc", Endpoint: endpoint, Sections: sections}
}

// legacyDeskZone is the zone the stock desk writes its dateTime.iso8601 values in, without
// saying so, as XML-RPC has no zone: the warehouse's local time.
var legacyDeskZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}()

// legacyDeskDateTime is XML-RPC's dateTime.iso8601 form.
const legacyDeskDateTime = "20060102T15:04:05"

// XMLRPCHandler returns the stock desk: POST an XML-RPC methodCall (Content-Type text/xml) to
// call stock.getItem(sku), stock.listItems(category, max_results) or stock.reserve(sku,
// quantity, customer_ref). It shares l's stock, so a reservation made here shows in the SOAP
// service and the other way round.
func (l *Legacy) XMLRPCHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "XML-RPC takes POST", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, legacyMaxBodyBytes+1))
		if err != nil || len(body) > legacyMaxBodyBytes {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		var call legacyXRCall
		if err := xml.Unmarshal(body, &call); err != nil {
			legacyXRWrite(w, legacyXRFault(400, "malformed methodCall: %v", err))
			return
		}
		out := l.deskCall(r, call)
		legacyXRWrite(w, out)
	})
}

// ---- wire types ----

type legacyXRCall struct {
	XMLName xml.Name        `xml:"methodCall"`
	Method  string          `xml:"methodName"`
	Params  []legacyXRValue `xml:"params>param>value"`
}

type legacyXRValue struct {
	Int    *string   `xml:"int"`
	I4     *string   `xml:"i4"`
	I8     *string   `xml:"i8"`
	String *string   `xml:"string"`
	Nil    *struct{} `xml:"nil"`
	Text   string    `xml:",chardata"`
}

// text returns a string param (typed or untyped), and whether it is one.
func (v legacyXRValue) text() (string, bool) {
	switch {
	case v.String != nil:
		return *v.String, true
	case v.Int == nil && v.I4 == nil && v.I8 == nil && v.Nil == nil:
		return v.Text, true
	}
	return "", false
}

// integer returns an int param, and whether it is one.
func (v legacyXRValue) integer() (int, bool) {
	for _, s := range []*string{v.Int, v.I4, v.I8} {
		if s != nil {
			n, err := strconv.Atoi(strings.TrimSpace(*s))
			return n, err == nil
		}
	}
	return 0, false
}

// legacyXRFaultValue is a fault the desk answers with.
type legacyXRFaultValue struct {
	code int
	text string
}

func legacyXRFault(code int, format string, args ...any) *legacyXRFaultValue {
	return &legacyXRFaultValue{code: code, text: fmt.Sprintf(format, args...)}
}

// ---- methods ----

func (l *Legacy) deskCall(r *http.Request, call legacyXRCall) any {
	param := func(i int) (legacyXRValue, bool) {
		if i < len(call.Params) {
			return call.Params[i], true
		}
		return legacyXRValue{}, false
	}
	str := func(i int, name string) (string, *legacyXRFaultValue) {
		v, ok := param(i)
		if !ok {
			return "", legacyXRFault(400, "%s: missing parameter %d (%s)", call.Method, i+1, name)
		}
		s, ok := v.text()
		if !ok {
			return "", legacyXRFault(400, "%s: parameter %d (%s) must be a string", call.Method, i+1, name)
		}
		return strings.TrimSpace(s), nil
	}
	integer := func(i int, name string, def int) (int, *legacyXRFaultValue) {
		v, ok := param(i)
		if !ok {
			return def, nil
		}
		n, ok := v.integer()
		if !ok {
			return 0, legacyXRFault(400, "%s: parameter %d (%s) must be an int", call.Method, i+1, name)
		}
		return n, nil
	}
	switch call.Method {
	case "stock.getItem":
		sku, f := str(0, "sku")
		if f != nil {
			return f
		}
		if sku == legacyOfflineSKU {
			return legacyXRFault(503, "warehouse system offline")
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		it, ok := l.items[sku]
		if !ok {
			return legacyXRFault(404, "unknown SKU %s", sku)
		}
		return legacyDeskItem(it)
	case "stock.listItems":
		category, f := str(0, "category")
		if f != nil {
			return f
		}
		limit, f := integer(1, "max_results", 0)
		if f != nil {
			return f
		}
		if limit < 0 {
			return legacyXRFault(400, "stock.listItems: max_results must not be negative")
		}
		if limit == 0 {
			limit = legacyDefaultMaxResults
		}
		l.mu.Lock()
		var skus []string
		for sku, it := range l.items {
			if it.category == category {
				skus = append(skus, sku)
			}
		}
		slices.Sort(skus)
		if len(skus) > limit {
			skus = skus[:limit]
		}
		items := make([]any, len(skus))
		for i, sku := range skus {
			items[i] = legacyDeskItem(l.items[sku])
		}
		l.mu.Unlock()
		return items
	case "stock.reserve":
		return l.deskReserve(r, str, integer)
	}
	return legacyXRFault(400, "unknown method %q", call.Method)
}

func (l *Legacy) deskReserve(r *http.Request, str func(int, string) (string, *legacyXRFaultValue), integer func(int, string, int) (int, *legacyXRFaultValue)) any {
	sku, f := str(0, "sku")
	if f != nil {
		return f
	}
	qty, f := integer(1, "quantity", 0)
	if f != nil {
		return f
	}
	if qty <= 0 {
		return legacyXRFault(400, "stock.reserve: quantity must be a positive integer, got %d", qty)
	}
	customerRef, _ := str(2, "customer_ref") // optional
	if sku == legacyOfflineSKU {
		return legacyXRFault(503, "warehouse system offline")
	}
	now := l.now()
	l.mu.Lock()
	it, ok := l.items[sku]
	switch {
	case !ok:
		l.mu.Unlock()
		return legacyXRFault(404, "unknown SKU %s", sku)
	case it.discontinued:
		l.mu.Unlock()
		return legacyXRFault(410, "item %s is discontinued and cannot be reserved", sku)
	case qty > it.onHand:
		onHand := it.onHand
		l.mu.Unlock()
		return legacyXRFault(409, "insufficient stock for %s: %d on hand, %d requested", sku, onHand, qty)
	}
	it.onHand -= qty
	it.updatedAt = now.UTC()
	remaining := it.onHand
	l.lastReservation++
	id := fmt.Sprintf("R-%06d", l.lastReservation)
	l.mu.Unlock()
	l.ReservationMade(id, sku, qty, remaining, now) // the warehouse reports it (legacy_events.go)
	slog.InfoContext(r.Context(), "stock desk: reservation created",
		"reservation", id, "sku", sku, "quantity", qty, "customerRef", customerRef, "remaining", remaining)
	return map[string]any{
		"reservation_id": id,
		"expires_at":     now.Add(legacyReservationTTL),
		"remaining":      remaining,
	}
}

// legacyDeskItem is an item as the desk's struct: local times without a zone, nil for a
// supplier note never sent, no discontinued_on while the item is sold.
func legacyDeskItem(it *legacyItem) map[string]any {
	status := map[string]string{"InStock": "IN_STOCK", "Backordered": "BACKORDERED", "Discontinued": "DISCONTINUED"}[it.status()]
	m := map[string]any{
		"sku":              it.sku,
		"name":             it.name,
		"category":         it.category,
		"unit_price":       it.unitPrice,
		"quantity_on_hand": it.onHand,
		"status":           status,
		"updated_at":       it.updatedAt,
		"tags":             slices.Clone(it.tags),
		"warehouse":        map[string]any{"code": it.warehouseCode, "city": it.warehouseCity},
		"supplier_note":    nil,
	}
	if it.supplierNote != nil {
		m["supplier_note"] = *it.supplierNote
	}
	if it.discontinuedOn != "" {
		m["discontinued_on"] = it.discontinuedOn
	}
	return m
}

// ---- writing ----

func legacyXRWrite(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n<methodResponse>")
	if f, ok := v.(*legacyXRFaultValue); ok {
		b.WriteString("<fault><value>")
		legacyXRAppend(&b, map[string]any{"faultCode": f.code, "faultString": f.text})
		b.WriteString("</value></fault>")
	} else {
		b.WriteString("<params><param><value>")
		legacyXRAppend(&b, v)
		b.WriteString("</value></param></params>")
	}
	b.WriteString("</methodResponse>\n")
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(b.Bytes())
}

func legacyXRAppend(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("<nil/>")
	case string:
		b.WriteString("<string>")
		_ = xml.EscapeText(b, []byte(v))
		b.WriteString("</string>")
	case int:
		fmt.Fprintf(b, "<int>%d</int>", v)
	case bool:
		if v {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case time.Time:
		b.WriteString("<dateTime.iso8601>" + v.In(legacyDeskZone).Format(legacyDeskDateTime) + "</dateTime.iso8601>")
	case []string:
		b.WriteString("<array><data>")
		for _, s := range v {
			b.WriteString("<value>")
			legacyXRAppend(b, s)
			b.WriteString("</value>")
		}
		b.WriteString("</data></array>")
	case []any:
		b.WriteString("<array><data>")
		for _, s := range v {
			b.WriteString("<value>")
			legacyXRAppend(b, s)
			b.WriteString("</value>")
		}
		b.WriteString("</data></array>")
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString("<struct>")
		for _, k := range keys {
			b.WriteString("<member><name>" + k + "</name><value>")
			legacyXRAppend(b, v[k])
			b.WriteString("</value></member>")
		}
		b.WriteString("</struct>")
	default:
		panic(fmt.Sprintf("demo: the stock desk cannot write %T", v))
	}
}
