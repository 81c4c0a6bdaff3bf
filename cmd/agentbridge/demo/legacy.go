package demo

// This file is the demo's "legacy system": a small SOAP 1.1 inventory web
// service written the way such services were written, with nothing but
// net/http and encoding/xml. It knows nothing about the bridge.

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	legacySOAPEnvNS         = "http://schemas.xmlsoap.org/soap/envelope/"
	legacyXSINS             = "http://www.w3.org/2001/XMLSchema-instance"
	legacyInvNS             = "urn:acme:inventory"
	legacyMaxBodyBytes      = 1 << 20
	legacyDefaultMaxResults = 20
	legacyReservationTTL    = 15 * time.Minute
	legacyWSDLPlaceholder   = "http://127.0.0.1:0/inventory"
	// legacyOfflineSKU is the SKU stored in the warehouse system that is
	// "offline": operations on it fail with a Server fault.
	legacyOfflineSKU = "Z-999"

	legacyOpGetItem     = "GetItem"
	legacyOpListItems   = "ListItems"
	legacyOpReserveItem = "ReserveItem"
)

// legacySOAPActions maps each accepted SOAPAction to its operation.
var legacySOAPActions = map[string]string{
	legacyInvNS + "#" + legacyOpGetItem:     legacyOpGetItem,
	legacyInvNS + "#" + legacyOpListItems:   legacyOpListItems,
	legacyInvNS + "#" + legacyOpReserveItem: legacyOpReserveItem,
}

//go:embed inventory.wsdl
var legacyWSDL []byte

// Legacy is the Acme warehouse's SOAP 1.1 inventory service.
//
// It implements http.Handler: POST a SOAP 1.1 envelope (Content-Type
// text/xml, SOAPAction urn:acme:inventory#<Operation>) to call GetItem,
// ListItems or ReserveItem, or GET <path>?wsdl for the WSDL. Create it with
// NewLegacy; it is safe for concurrent use.
type Legacy struct {
	now func() time.Time

	mu              sync.Mutex
	items           map[string]*legacyItem
	lastReservation int

	rest, xml, xmlrpc http.Handler // the other interfaces ServeHTTP routes to
}

// legacyItem is one catalogue entry as the warehouse database stores it.
type legacyItem struct {
	sku           string
	name          string
	category      string
	unitPrice     string // exact decimal, as stored
	onHand        int
	discontinued  bool
	updatedAt     time.Time
	tags          []string
	warehouseCode string
	warehouseCity string
	// discontinuedOn is the day the item was discontinued, as an xsd:date in the zone of
	// the site that recorded it; "" while it is sold.
	discontinuedOn string
	// supplierNote is the supplier's note; nil when the supplier sent none, which the service
	// writes as xsi:nil.
	supplierNote *string
}

func (it *legacyItem) status() string {
	switch {
	case it.discontinued:
		return "Discontinued"
	case it.onHand == 0:
		return "Backordered"
	default:
		return "InStock"
	}
}

func (it *legacyItem) toXML() legacyItemXML {
	return legacyItemXML{
		SKU:            it.sku,
		Name:           it.name,
		Category:       it.category,
		UnitPrice:      it.unitPrice,
		QuantityOnHand: it.onHand,
		Status:         it.status(),
		UpdatedAt:      it.updatedAt.UTC().Format(time.RFC3339),
		Tags:           slices.Clone(it.tags),
		Warehouse:      legacyWarehouseXML{Code: it.warehouseCode, City: it.warehouseCity},
		DiscontinuedOn: it.discontinuedOn,
		SupplierNote:   legacyNillable(it.supplierNote),
	}
}

// legacyNillable writes a nillable element: its text, or xsi:nil="true" when there is none.
func legacyNillable(s *string) legacyNillableXML {
	if s == nil {
		return legacyNillableXML{Nil: "true"}
	}
	return legacyNillableXML{Text: *s}
}

// NewLegacy returns the inventory service seeded with the Acme catalogue.
// now is the clock used for reservation expiry and stock timestamps; nil
// means time.Now.
func NewLegacy(now func() time.Time) *Legacy {
	if now == nil {
		now = time.Now
	}
	l := &Legacy{now: now, items: make(map[string]*legacyItem)}
	note := func(s string) *string { return &s }
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic("demo: bad seed timestamp " + s)
		}
		return t
	}
	for _, it := range []*legacyItem{
		{sku: "A-100", name: "Cordless drill", category: "tools", unitPrice: "89.90", onHand: 42,
			updatedAt: at("2026-11-02T09:30:00Z"), tags: []string{"power", "cordless"},
			warehouseCode: "BER-1", warehouseCity: "Berlin", supplierNote: note("Two batteries and a charger included.")},
		{sku: "A-200", name: "Claw hammer", category: "tools", unitPrice: "14.50", onHand: 120,
			updatedAt: at("2026-10-28T14:05:00Z"), tags: []string{"hand"},
			warehouseCode: "HAM-2", warehouseCity: "Hamburg", supplierNote: note("Forged steel head.")},
		{sku: "A-300", name: "Circular saw", category: "tools", unitPrice: "129.00", onHand: 0,
			updatedAt: at("2026-10-30T08:15:00Z"), tags: []string{"power", "corded"},
			warehouseCode: "BER-1", warehouseCity: "Berlin", supplierNote: note("Next delivery expected in December.")},
		{sku: "A-400", name: "Socket wrench set", category: "tools", unitPrice: "34.99", onHand: 8,
			discontinued: true, updatedAt: at("2026-09-15T16:45:00Z"), tags: []string{"hand"},
			warehouseCode: "MUC-1", warehouseCity: "Munich", discontinuedOn: "2026-09-15+02:00"},
		{sku: "G-100", name: "Garden hose 25 m", category: "garden", unitPrice: "24.95", onHand: 65,
			updatedAt: at("2026-11-01T11:00:00Z"), tags: []string{"watering"},
			warehouseCode: "HAM-2", warehouseCity: "Hamburg", supplierNote: note("UV-resistant; fittings included.")},
		{sku: "G-200", name: "Lawn mower", category: "garden", unitPrice: "249.00", onHand: 7,
			updatedAt: at("2026-10-21T10:20:00Z"), tags: []string{"power", "petrol"},
			warehouseCode: "MUC-1", warehouseCity: "Munich"},
		{sku: "G-300", name: "Rake & leaf grabber", category: "garden", unitPrice: "19.80", onHand: 33,
			updatedAt: at("2026-10-25T13:40:00Z"), tags: []string{"hand", "autumn"},
			warehouseCode: "BER-1", warehouseCity: "Berlin", supplierNote: note("")},
	} {
		l.items[it.sku] = it
	}
	l.rest, l.xmlrpc = l.RestHandler(), l.XMLRPCHandler()
	l.xml = http.StripPrefix("/xml", l.XMLHTTPHandler())
	return l
}

// ---- wire types: requests ----

type legacyReqEnvelope struct {
	XMLName xml.Name         `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Header  *legacyReqHeader `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
	Body    *legacyReqBody   `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type legacyReqHeader struct {
	Entries []legacyHeaderEntry `xml:",any"`
}

type legacyHeaderEntry struct {
	XMLName        xml.Name
	MustUnderstand string `xml:"http://schemas.xmlsoap.org/soap/envelope/ mustUnderstand,attr"`
}

type legacyReqBody struct {
	GetItem     []legacyGetItemReq     `xml:"urn:acme:inventory GetItem"`
	ListItems   []legacyListItemsReq   `xml:"urn:acme:inventory ListItems"`
	ReserveItem []legacyReserveItemReq `xml:"urn:acme:inventory ReserveItem"`
	Other       []legacyAnyElement     `xml:",any"`
}

type legacyAnyElement struct {
	XMLName xml.Name
}

type legacyGetItemReq struct {
	SKU *string `xml:"sku"`
}

type legacyListItemsReq struct {
	Category   *string `xml:"category"`
	MaxResults *string `xml:"maxResults"`
}

type legacyReserveItemReq struct {
	SKU         *string `xml:"sku"`
	Quantity    *string `xml:"quantity"`
	CustomerRef *string `xml:"customerRef"`
}

// ---- wire types: responses ----

type legacyRespEnvelope struct {
	XMLName  xml.Name       `xml:"soap:Envelope"`
	XMLNS    string         `xml:"xmlns:soap,attr"`
	XMLNSXSI string         `xml:"xmlns:xsi,attr"` // for xsi:nil on nillable elements
	Body     legacyRespBody `xml:"soap:Body"`
}

type legacyRespBody struct {
	Content any `xml:",any"`
}

type legacyItemXML struct {
	SKU            string             `xml:"sku,attr"`
	Name           string             `xml:"name"`
	Category       string             `xml:"category"`
	UnitPrice      string             `xml:"unitPrice"`
	QuantityOnHand int                `xml:"quantityOnHand"`
	Status         string             `xml:"status"`
	UpdatedAt      string             `xml:"updatedAt"`
	Tags           []string           `xml:"tag"`
	Warehouse      legacyWarehouseXML `xml:"warehouse"`
	DiscontinuedOn string             `xml:"discontinuedOn,omitempty"`
	SupplierNote   legacyNillableXML  `xml:"supplierNote"`
}

// legacyNillableXML is an element that is either text or xsi:nil="true".
type legacyNillableXML struct {
	Nil  string `xml:"xsi:nil,attr,omitempty"`
	Text string `xml:",chardata"`
}

type legacyWarehouseXML struct {
	Code string `xml:"code"`
	City string `xml:"city"`
}

type legacyGetItemResp struct {
	XMLName xml.Name      `xml:"inv:GetItemResponse"`
	XMLNS   string        `xml:"xmlns:inv,attr"`
	Item    legacyItemXML `xml:"item"`
}

type legacyListItemsResp struct {
	XMLName xml.Name          `xml:"inv:ListItemsResponse"`
	XMLNS   string            `xml:"xmlns:inv,attr"`
	Items   legacyItemListXML `xml:"items"`
}

type legacyItemListXML struct {
	Items []legacyItemXML `xml:"item"`
}

type legacyReserveItemResp struct {
	XMLName       xml.Name `xml:"inv:ReserveItemResponse"`
	XMLNS         string   `xml:"xmlns:inv,attr"`
	ReservationID string   `xml:"reservationId"`
	ExpiresAt     string   `xml:"expiresAt"`
	Remaining     int      `xml:"remaining"`
}

type legacyFaultXML struct {
	XMLName     xml.Name           `xml:"soap:Fault"`
	FaultCode   string             `xml:"faultcode"`
	FaultString string             `xml:"faultstring"`
	Detail      *legacyFaultDetail `xml:"detail,omitempty"`
}

type legacyFaultDetail struct {
	Content any `xml:",any"`
}

type legacyUnknownItemXML struct {
	XMLName xml.Name `xml:"inv:UnknownItem"`
	XMLNS   string   `xml:"xmlns:inv,attr"`
	SKU     string   `xml:"sku"`
}

type legacyStockFaultXML struct {
	XMLName   xml.Name `xml:"inv:StockFault"`
	XMLNS     string   `xml:"xmlns:inv,attr"`
	SKU       string   `xml:"sku"`
	OnHand    int      `xml:"onHand"`
	Requested int      `xml:"requested"`
}

type legacyItemDiscontinuedXML struct {
	XMLName xml.Name `xml:"inv:ItemDiscontinued"`
	XMLNS   string   `xml:"xmlns:inv,attr"`
	SKU     string   `xml:"sku"`
}

// ---- faults ----

// legacyFault is a SOAP fault on its way to the client.
type legacyFault struct {
	httpStatus int
	code       string // local part of the faultcode: Client, Server, MustUnderstand
	message    string
	detail     any // one of the legacy*XML detail types, or nil
}

func legacyClientFault(format string, args ...any) *legacyFault {
	return &legacyFault{httpStatus: http.StatusInternalServerError, code: "Client", message: fmt.Sprintf(format, args...)}
}

func legacyUnknownSKU(sku string) *legacyFault {
	f := legacyClientFault("unknown SKU %q", sku)
	f.detail = &legacyUnknownItemXML{XMLNS: legacyInvNS, SKU: sku}
	return f
}

func legacyWarehouseOffline() *legacyFault {
	return &legacyFault{httpStatus: http.StatusInternalServerError, code: "Server", message: "warehouse database unavailable"}
}

// ---- HTTP handling ----

// ServeHTTP serves every interface of the warehouse, all on the same stock:
//
//	/api/...   the stock REST API v1 (RestHandler)
//	/xml/...   the XML gateway (XMLHTTPHandler, its paths under /xml)
//	/RPC2      the XML-RPC stock desk (XMLRPCHandler)
//	any other  the SOAP 1.1 inventory service (/inventory by convention) and its WSDL
func (l *Legacy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/api/"):
		l.rest.ServeHTTP(w, r)
	case strings.HasPrefix(p, "/xml/") || p == "/xml":
		l.xml.ServeHTTP(w, r)
	case p == "/RPC2":
		l.xmlrpc.ServeHTTP(w, r)
	default:
		l.serveSOAP(w, r)
	}
}

// serveSOAP serves SOAP 1.1 calls on POST and the WSDL on GET ?wsdl.
// Successful calls answer 200 with the response envelope; every error is a
// SOAP 1.1 fault (HTTP 500, or 405/413/415 for transport-level problems).
func (l *Legacy) serveSOAP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodGet && legacyWantsWSDL(r.URL) {
		legacyServeWSDL(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		f := legacyClientFault("method %s not allowed: POST a SOAP 1.1 envelope, or GET ?wsdl for the service description", r.Method)
		f.httpStatus = http.StatusMethodNotAllowed
		legacyWriteFault(ctx, w, f)
		return
	}
	if f := legacyCheckContentType(r.Header.Get("Content-Type")); f != nil {
		legacyWriteFault(ctx, w, f)
		return
	}
	action, f := legacyParseSOAPAction(r.Header)
	if f != nil {
		legacyWriteFault(ctx, w, f)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, legacyMaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			f := legacyClientFault("request body exceeds %d bytes", int64(legacyMaxBodyBytes))
			f.httpStatus = http.StatusRequestEntityTooLarge
			legacyWriteFault(ctx, w, f)
			return
		}
		legacyWriteFault(ctx, w, legacyClientFault("reading request body: %v", err))
		return
	}
	resp, f := l.call(ctx, action, body)
	if f != nil {
		legacyWriteFault(ctx, w, f)
		return
	}
	legacyWriteEnvelope(ctx, w, http.StatusOK, resp)
}

// call decodes the envelope, checks it against the SOAPAction and runs the
// operation.
func (l *Legacy) call(ctx context.Context, action string, body []byte) (any, *legacyFault) {
	if f := legacyScan(body); f != nil {
		return nil, f
	}
	var env legacyReqEnvelope
	if err := xml.Unmarshal(body, &env); err != nil {
		return nil, legacyClientFault("malformed SOAP envelope: %v", err)
	}
	if env.Header != nil {
		for _, h := range env.Header.Entries {
			if mu := strings.TrimSpace(h.MustUnderstand); mu == "1" || mu == "true" {
				return nil, &legacyFault{
					httpStatus: http.StatusInternalServerError,
					code:       "MustUnderstand",
					message:    fmt.Sprintf("header {%s}%s was not understood", h.XMLName.Space, h.XMLName.Local),
				}
			}
		}
	}
	if env.Body == nil {
		return nil, legacyClientFault("SOAP envelope has no Body")
	}
	b := env.Body
	n := len(b.GetItem) + len(b.ListItems) + len(b.ReserveItem) + len(b.Other)
	switch {
	case n == 0:
		return nil, legacyClientFault("SOAP Body is empty: expected one of GetItem, ListItems, ReserveItem in namespace %s", legacyInvNS)
	case n > 1:
		return nil, legacyClientFault("SOAP Body must contain exactly one operation element, found %d", n)
	case len(b.Other) == 1:
		name := b.Other[0].XMLName
		if slices.Contains([]string{legacyOpGetItem, legacyOpListItems, legacyOpReserveItem}, name.Local) {
			return nil, legacyClientFault("operation element %s must be in namespace %s, got namespace %q", name.Local, legacyInvNS, name.Space)
		}
		return nil, legacyClientFault("unknown operation {%s}%s", name.Space, name.Local)
	}
	op := legacyOpGetItem
	switch {
	case len(b.ListItems) == 1:
		op = legacyOpListItems
	case len(b.ReserveItem) == 1:
		op = legacyOpReserveItem
	}
	if op != action {
		return nil, legacyClientFault("SOAPAction %s#%s does not match body element %s", legacyInvNS, action, op)
	}
	slog.DebugContext(ctx, "inventory: soap call", "operation", op)
	switch op {
	case legacyOpListItems:
		return l.listItems(b.ListItems[0])
	case legacyOpReserveItem:
		return l.reserveItem(ctx, b.ReserveItem[0])
	default:
		return l.getItem(b.GetItem[0])
	}
}

// legacyScan checks that body is one well-formed XML document whose root is a
// SOAP 1.1 Envelope and that it carries no DTD or other directives.
func legacyScan(body []byte) *legacyFault {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return legacyClientFault("malformed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.HasPrefix(bytes.TrimSpace(t), []byte("DOCTYPE")) {
				return legacyClientFault("DOCTYPE declarations are not allowed")
			}
			return legacyClientFault("XML directives are not allowed")
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return legacyClientFault("malformed XML: more than one root element")
				}
				if t.Name.Space != legacySOAPEnvNS || t.Name.Local != "Envelope" {
					return legacyClientFault("root element must be {%s}Envelope (SOAP 1.1), got {%s}%s", legacySOAPEnvNS, t.Name.Space, t.Name.Local)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return legacyClientFault("malformed XML: text outside the root element")
			}
		}
	}
	if roots == 0 {
		return legacyClientFault("empty request: expected a SOAP 1.1 Envelope")
	}
	return nil
}

func legacyCheckContentType(ct string) *legacyFault {
	fault := func(format string, args ...any) *legacyFault {
		f := legacyClientFault(format, args...)
		f.httpStatus = http.StatusUnsupportedMediaType
		return f
	}
	if strings.TrimSpace(ct) == "" {
		return fault("missing Content-Type: expected text/xml")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fault("invalid Content-Type %q: expected text/xml", ct)
	}
	switch mt {
	case "text/xml":
	case "application/soap+xml":
		return fault("SOAP 1.2 (application/soap+xml) is not supported: this SOAP 1.1 endpoint expects text/xml")
	default:
		return fault("unsupported Content-Type %q: expected text/xml", mt)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return fault("unsupported charset %q: expected utf-8", cs)
	}
	return nil
}

// legacyParseSOAPAction returns the operation named by the SOAPAction header.
func legacyParseSOAPAction(h http.Header) (string, *legacyFault) {
	vals := h.Values("SOAPAction")
	if len(vals) == 0 {
		return "", legacyClientFault("missing SOAPAction header")
	}
	if len(vals) > 1 {
		return "", legacyClientFault("more than one SOAPAction header")
	}
	v := strings.TrimSpace(vals[0])
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" {
		return "", legacyClientFault("empty SOAPAction header")
	}
	op, ok := legacySOAPActions[v]
	if !ok {
		return "", legacyClientFault("unknown SOAPAction %q: expected %s#GetItem, %s#ListItems or %s#ReserveItem", v, legacyInvNS, legacyInvNS, legacyInvNS)
	}
	return op, nil
}

func legacyWantsWSDL(u *url.URL) bool {
	for k := range u.Query() {
		if strings.EqualFold(k, "wsdl") {
			return true
		}
	}
	return false
}

// legacyServeWSDL writes the embedded WSDL with the service address pointing
// at the host and path the request came in on.
func legacyServeWSDL(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.EscapedPath() != "" {
		path = u.EscapedPath() // the path as the client sees it, even behind StripPrefix
	}
	if path == "" {
		path = "/inventory"
	}
	host := r.Host
	if host == "" {
		host = "127.0.0.1"
	}
	var addr bytes.Buffer
	if err := xml.EscapeText(&addr, []byte(scheme+"://"+host+path)); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	doc := bytes.ReplaceAll(legacyWSDL,
		[]byte(`location="`+legacyWSDLPlaceholder+`"`),
		[]byte(`location="`+addr.String()+`"`))
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(doc); err != nil {
		slog.DebugContext(r.Context(), "inventory: writing WSDL", "err", err)
	}
}

func legacyWriteFault(ctx context.Context, w http.ResponseWriter, f *legacyFault) {
	level := slog.LevelInfo
	if f.code == "Server" {
		level = slog.LevelError
	}
	slog.Log(ctx, level, "inventory: soap fault", "code", f.code, "fault", f.message, "status", f.httpStatus)
	fx := &legacyFaultXML{FaultCode: "soap:" + f.code, FaultString: f.message}
	if f.detail != nil {
		fx.Detail = &legacyFaultDetail{Content: f.detail}
	}
	legacyWriteEnvelope(ctx, w, f.httpStatus, fx)
}

func legacyWriteEnvelope(ctx context.Context, w http.ResponseWriter, status int, content any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	env := legacyRespEnvelope{XMLNS: legacySOAPEnvNS, XMLNSXSI: legacyXSINS, Body: legacyRespBody{Content: content}}
	if err := xml.NewEncoder(&buf).Encode(env); err != nil {
		slog.ErrorContext(ctx, "inventory: encoding response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		slog.DebugContext(ctx, "inventory: writing response", "err", err)
	}
}

// ---- operations ----

// legacyRequired returns the trimmed text of a required child element.
func legacyRequired(op, name string, v *string) (string, *legacyFault) {
	if v == nil {
		return "", legacyClientFault("%s: missing required element %s", op, name)
	}
	s := strings.TrimSpace(*v)
	if s == "" {
		return "", legacyClientFault("%s: element %s must not be empty", op, name)
	}
	return s, nil
}

func legacyInt(op, name, s string) (int, *legacyFault) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, legacyClientFault("%s: %s must be an integer, got %q", op, name, s)
	}
	return int(n), nil
}

func (l *Legacy) getItem(req legacyGetItemReq) (any, *legacyFault) {
	sku, f := legacyRequired(legacyOpGetItem, "sku", req.SKU)
	if f != nil {
		return nil, f
	}
	if sku == legacyOfflineSKU {
		return nil, legacyWarehouseOffline()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	it, ok := l.items[sku]
	if !ok {
		return nil, legacyUnknownSKU(sku)
	}
	return &legacyGetItemResp{XMLNS: legacyInvNS, Item: it.toXML()}, nil
}

func (l *Legacy) listItems(req legacyListItemsReq) (any, *legacyFault) {
	category, f := legacyRequired(legacyOpListItems, "category", req.Category)
	if f != nil {
		return nil, f
	}
	limit := 0
	if req.MaxResults != nil && strings.TrimSpace(*req.MaxResults) != "" {
		if limit, f = legacyInt(legacyOpListItems, "maxResults", *req.MaxResults); f != nil {
			return nil, f
		}
		if limit < 0 {
			return nil, legacyClientFault("%s: maxResults must not be negative, got %d", legacyOpListItems, limit)
		}
	}
	if limit == 0 {
		limit = legacyDefaultMaxResults
	}
	l.mu.Lock()
	var items []legacyItemXML
	for _, it := range l.items {
		if it.category == category {
			items = append(items, it.toXML())
		}
	}
	l.mu.Unlock()
	slices.SortFunc(items, func(a, b legacyItemXML) int { return strings.Compare(a.SKU, b.SKU) })
	if len(items) > limit {
		items = items[:limit]
	}
	return &legacyListItemsResp{XMLNS: legacyInvNS, Items: legacyItemListXML{Items: items}}, nil
}

func (l *Legacy) reserveItem(ctx context.Context, req legacyReserveItemReq) (any, *legacyFault) {
	const op = legacyOpReserveItem
	sku, f := legacyRequired(op, "sku", req.SKU)
	if f != nil {
		return nil, f
	}
	qtyText, f := legacyRequired(op, "quantity", req.Quantity)
	if f != nil {
		return nil, f
	}
	qty, f := legacyInt(op, "quantity", qtyText)
	if f != nil {
		return nil, f
	}
	if qty <= 0 {
		return nil, legacyClientFault("%s: quantity must be a positive integer, got %d", op, qty)
	}
	customerRef := ""
	if req.CustomerRef != nil {
		customerRef = strings.TrimSpace(*req.CustomerRef)
	}
	if sku == legacyOfflineSKU {
		return nil, legacyWarehouseOffline()
	}
	now := l.now().UTC()

	l.mu.Lock()
	it, ok := l.items[sku]
	if !ok {
		l.mu.Unlock()
		return nil, legacyUnknownSKU(sku)
	}
	if it.discontinued {
		l.mu.Unlock()
		f := legacyClientFault("item %s is discontinued and cannot be reserved", sku)
		f.detail = &legacyItemDiscontinuedXML{XMLNS: legacyInvNS, SKU: sku}
		return nil, f
	}
	if qty > it.onHand {
		onHand := it.onHand
		l.mu.Unlock()
		f := legacyClientFault("insufficient stock for %s: %d on hand, %d requested", sku, onHand, qty)
		f.detail = &legacyStockFaultXML{XMLNS: legacyInvNS, SKU: sku, OnHand: onHand, Requested: qty}
		return nil, f
	}
	it.onHand -= qty
	it.updatedAt = now
	remaining := it.onHand
	l.lastReservation++
	id := fmt.Sprintf("R-%06d", l.lastReservation)
	l.mu.Unlock()
	l.ReservationMade(id, sku, qty, remaining, now) // the warehouse reports it (legacy_events.go)

	slog.InfoContext(ctx, "inventory: reservation created",
		"reservation", id, "sku", sku, "quantity", qty, "customerRef", customerRef, "remaining", remaining)
	return &legacyReserveItemResp{
		XMLNS:         legacyInvNS,
		ReservationID: id,
		ExpiresAt:     now.Add(legacyReservationTTL).Format(time.RFC3339),
		Remaining:     remaining,
	}, nil
}
