// Package e2e is the end-to-end benchmark of issue 10: agentbridge, serving a .proto from its
// runtime config as a user would, beside a hand-written encoding/xml + net/http +
// encoding/json bridge, both in front of the same SOAP backend in the same run.
//
// This file is the hand-written bridge, which the benchmark serves in process and
// cmd/handwritten-bridge serves as a program of its own (for the RSS comparison); it imports
// the standard library only. The rest is tests: `go test` runs only the quick TestSameAnswer;
// BenchmarkEndToEnd runs with -bench, and TestE2ERSS with AGENTBRIDGE_E2E_RSS=1.
// docs/benchmarks.md has the commands and the results.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The baseline: the bridge a Go developer would write by hand for the same backend, with
// encoding/xml structs for the envelope, net/http for both sides and encoding/json for the
// answer, in the JSON shape agentbridge's REST surface gives (field names, enum names, decimals
// and dates as strings). It checks what such code usually checks (status, fault, the reply's
// shape as encoding/xml reads it) and no more: it does not check xsd:date or xsd:decimal
// lexical forms, unknown elements or namespaces beyond the structs' tags.

// The namespaces of the backend's messages.
const (
	soapEnvNS = "http://schemas.xmlsoap.org/soap/envelope/"
	ordersNS  = "urn:acme:orders"
)

// hwEnvelope is the request envelope.
type hwEnvelope struct {
	XMLName xml.Name `xml:"soap:Envelope"`
	Soap    string   `xml:"xmlns:soap,attr"`
	Body    hwBody   `xml:"soap:Body"`
}

type hwBody struct {
	Add        *hwAdd        `xml:"Add,omitempty"`
	ListOrders *hwListOrders `xml:"ListOrders,omitempty"`
}

type hwAdd struct {
	NS string `xml:"xmlns,attr"`
	A  int32  `xml:"a"`
	B  int32  `xml:"b"`
}

type hwListOrders struct {
	NS    string `xml:"xmlns,attr"`
	Count int32  `xml:"count"`
}

// hwReply is the reply envelope as the bridge reads it.
type hwReply struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Fault *struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		Add *struct {
			Result int32 `xml:"urn:acme:orders result"`
		} `xml:"urn:acme:orders AddResponse"`
		List *struct {
			Orders []hwOrderXML `xml:"urn:acme:orders orders>order"`
		} `xml:"urn:acme:orders ListOrdersResponse"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type hwOrderXML struct {
	ID       string `xml:"urn:acme:orders id"`
	Customer string `xml:"urn:acme:orders customer"`
	Date     string `xml:"urn:acme:orders date"`
	Status   string `xml:"urn:acme:orders status"`
	Total    string `xml:"urn:acme:orders total"`
	Currency string `xml:"urn:acme:orders currency"`
	Lines    []struct {
		SKU   string `xml:"urn:acme:orders sku"`
		Qty   int32  `xml:"urn:acme:orders qty"`
		Price string `xml:"urn:acme:orders price"`
	} `xml:"urn:acme:orders lines>line"`
	Note string `xml:"urn:acme:orders note"`
}

// The JSON answer, as agentbridge's REST surface writes it.

type hwAddJSON struct {
	Result int32 `json:"result,omitempty"`
}

type hwListJSON struct {
	Orders []hwOrderJSON `json:"orders,omitempty"`
}

type hwOrderJSON struct {
	ID       string       `json:"id,omitempty"`
	Customer string       `json:"customer,omitempty"`
	Date     string       `json:"date,omitempty"`
	Status   string       `json:"status,omitempty"`
	Total    string       `json:"total,omitempty"`
	Currency string       `json:"currency,omitempty"`
	Lines    []hwLineJSON `json:"lines,omitempty"`
	Note     string       `json:"note,omitempty"`
}

type hwLineJSON struct {
	SKU   string `json:"sku,omitempty"`
	Qty   int32  `json:"qty,omitempty"`
	Price string `json:"price,omitempty"`
}

var hwStatuses = map[string]string{
	"Pending":   "ORDER_STATUS_PENDING",
	"Shipped":   "ORDER_STATUS_SHIPPED",
	"Delivered": "ORDER_STATUS_DELIVERED",
	"Cancelled": "ORDER_STATUS_CANCELLED",
}

// Handwritten is the hand-written bridge in front of the SOAP backend at endpoint.
type Handwritten struct {
	endpoint string
	client   *http.Client
}

// NewHandwritten returns the bridge, with a pooled keep-alive client for the backend.
func NewHandwritten(endpoint string) *Handwritten {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &Handwritten{endpoint: endpoint, client: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

// Handler serves POST /v1/add and GET /v1/orders.
func (h *Handwritten) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/add", h.add)
	mux.HandleFunc("GET /v1/orders", h.listOrders)
	return mux
}

func (h *Handwritten) add(w http.ResponseWriter, r *http.Request) {
	var in struct {
		A int32 `json:"a"`
		B int32 `json:"b"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	reply, status, err := h.call(r.Context(), "urn:acme:orders#Add", hwBody{Add: &hwAdd{NS: ordersNS, A: in.A, B: in.B}})
	if err != nil {
		writeError(w, status, err)
		return
	}
	if reply.Body.Add == nil {
		writeError(w, http.StatusBadGateway, errors.New("no AddResponse in the reply"))
		return
	}
	writeJSON(w, hwAddJSON{Result: reply.Body.Add.Result})
}

func (h *Handwritten) listOrders(w http.ResponseWriter, r *http.Request) {
	var count int64
	if c := r.URL.Query().Get("count"); c != "" {
		var err error
		if count, err = strconv.ParseInt(c, 10, 32); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
	}
	reply, status, err := h.call(r.Context(), "urn:acme:orders#ListOrders", hwBody{ListOrders: &hwListOrders{NS: ordersNS, Count: int32(count)}})
	if err != nil {
		writeError(w, status, err)
		return
	}
	if reply.Body.List == nil {
		writeError(w, http.StatusBadGateway, errors.New("no ListOrdersResponse in the reply"))
		return
	}
	out := hwListJSON{Orders: make([]hwOrderJSON, len(reply.Body.List.Orders))}
	for i, o := range reply.Body.List.Orders {
		status, ok := hwStatuses[o.Status]
		if !ok {
			writeError(w, http.StatusBadGateway, fmt.Errorf("order %s: unknown status %q", o.ID, o.Status))
			return
		}
		j := hwOrderJSON{ID: o.ID, Customer: o.Customer, Date: o.Date, Status: status, Total: o.Total, Currency: o.Currency, Note: o.Note,
			Lines: make([]hwLineJSON, len(o.Lines))}
		for k, l := range o.Lines {
			j.Lines[k] = hwLineJSON{SKU: l.SKU, Qty: l.Qty, Price: l.Price}
		}
		out.Orders[i] = j
	}
	writeJSON(w, out)
}

// call sends one SOAP request and reads its reply; status is the HTTP status to answer with
// when err is not nil.
func (h *Handwritten) call(ctx context.Context, action string, body hwBody) (*hwReply, int, error) {
	data, err := xml.Marshal(hwEnvelope{Soap: soapEnvNS, Body: body})
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint, bytes.NewReader(append([]byte(xml.Header), data...)))
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+action+`"`)
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, http.StatusBadGateway, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, http.StatusBadGateway, err
	}
	var reply hwReply
	if err := xml.Unmarshal(data, &reply); err != nil {
		return nil, http.StatusBadGateway, fmt.Errorf("backend reply: %w", err)
	}
	if f := reply.Body.Fault; f != nil {
		return nil, http.StatusBadGateway, fmt.Errorf("backend fault %s: %s", f.Code, f.String)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, http.StatusBadGateway, fmt.Errorf("backend status %d", resp.StatusCode)
	}
	return &reply, 0, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()-1))
	_, _ = w.Write(buf.Bytes()[:buf.Len()-1]) // without Encode's newline
}

func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": status, "message": err.Error()})
}
