package e2e

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// The SOAP 1.1 backend every bridge calls: the Acme order system, document/literal wrapped with
// elementFormDefault="qualified", written as a Go service would be with net/http and
// encoding/xml. It decodes every request; it renders the list reply once per count and replays
// it, so its own CPU, which every row pays alike and the direct row measures, stays small next
// to the bridges'.

// backendEnvelope is a request as the backend reads it.
type backendEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Add *struct {
			A int32 `xml:"urn:acme:orders a"`
			B int32 `xml:"urn:acme:orders b"`
		} `xml:"urn:acme:orders Add"`
		ListOrders *struct {
			Count int32 `xml:"urn:acme:orders count"`
		} `xml:"urn:acme:orders ListOrders"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

// backendReply is a reply as the backend writes it: prefixed envelope, and the operation's
// element declaring the default namespace its unprefixed children are in.
type backendReply struct {
	XMLName xml.Name `xml:"soap:Envelope"`
	Soap    string   `xml:"xmlns:soap,attr"`
	Body    struct {
		Add  *backendAddResponse  `xml:"AddResponse"`
		List *backendListResponse `xml:"ListOrdersResponse"`
	} `xml:"soap:Body"`
}

type backendAddResponse struct {
	NS     string `xml:"xmlns,attr"`
	Result int32  `xml:"result"`
}

type backendListResponse struct {
	NS     string         `xml:"xmlns,attr"`
	Orders []backendOrder `xml:"orders>order"`
}

type backendOrder struct {
	ID       string        `xml:"id"`
	Customer string        `xml:"customer"`
	Date     string        `xml:"date"`
	Status   string        `xml:"status"`
	Total    string        `xml:"total"`
	Currency string        `xml:"currency"`
	Lines    []backendLine `xml:"lines>line"`
	Note     string        `xml:"note"`
}

type backendLine struct {
	SKU   string `xml:"sku"`
	Qty   int32  `xml:"qty"`
	Price string `xml:"price"`
}

// ListSize is the list the benchmark asks for.
const ListSize = 50

// backendOrders is the order book: n orders, newest first, each with three lines.
func backendOrders(n int) []backendOrder {
	customers := []string{"Müller & Söhne GmbH", "Acme Corp.", "Ølstad <Nordic> AS", "Zhang Wei Trading", "O'Brien Hardware"}
	statuses := []string{"Pending", "Shipped", "Delivered", "Cancelled"}
	out := make([]backendOrder, n)
	for i := range out {
		o := backendOrder{
			ID:       fmt.Sprintf("SO-%06d", 200000-i),
			Customer: customers[i%len(customers)],
			Date:     fmt.Sprintf("2026-%02d-%02d", 11-i/28, 28-i%28),
			Status:   statuses[i%len(statuses)],
			Currency: "EUR",
			Note:     fmt.Sprintf("Deliver to gate %d; call ahead.", i%7+1),
		}
		var cents int64
		for j := range 3 {
			price := int64(199 + 1000*j + 37*i)
			qty := int32(1 + (i+j)%5)
			o.Lines = append(o.Lines, backendLine{SKU: fmt.Sprintf("%c-%03d", 'A'+j, 100+i), Qty: qty, Price: decimal(price)})
			cents += price * int64(qty)
		}
		o.Total = decimal(cents)
		out[i] = o
	}
	return out
}

// decimal writes cents as an exact decimal with two places.
func decimal(cents int64) string {
	return strconv.FormatInt(cents/100, 10) + "." + fmt.Sprintf("%02d", cents%100)
}

// backend is the SOAP endpoint.
type backend struct {
	mu    sync.Mutex
	lists map[int32][]byte // count → rendered reply
}

func newBackend() *backend { return &backend{lists: map[int32][]byte{}} }

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var env backendEnvelope
	if err := xml.Unmarshal(data, &env); err != nil {
		soapFault(w, "soap:Client", err.Error())
		return
	}
	var reply []byte
	switch {
	case env.Body.Add != nil && r.Header.Get("SOAPAction") == `"urn:acme:orders#Add"`:
		var out backendReply
		out.Soap = soapEnvNS
		out.Body.Add = &backendAddResponse{NS: ordersNS, Result: env.Body.Add.A + env.Body.Add.B}
		if reply, err = xml.Marshal(out); err != nil {
			soapFault(w, "soap:Server", err.Error())
			return
		}
	case env.Body.ListOrders != nil && r.Header.Get("SOAPAction") == `"urn:acme:orders#ListOrders"`:
		if reply, err = b.list(env.Body.ListOrders.Count); err != nil {
			soapFault(w, "soap:Server", err.Error())
			return
		}
	default:
		soapFault(w, "soap:Client", "unknown operation "+r.Header.Get("SOAPAction"))
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(reply)
}

func (b *backend) list(count int32) ([]byte, error) {
	if count < 0 || count > 1000 {
		return nil, fmt.Errorf("count %d out of range", count)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if reply, ok := b.lists[count]; ok {
		return reply, nil
	}
	var out backendReply
	out.Soap = soapEnvNS
	out.Body.List = &backendListResponse{NS: ordersNS, Orders: backendOrders(int(count))}
	reply, err := xml.Marshal(out)
	if err != nil {
		return nil, err
	}
	b.lists[count] = reply
	return reply, nil
}

func soapFault(w http.ResponseWriter, code, text string) {
	var msg bytes.Buffer
	_ = xml.EscapeText(&msg, []byte(text))
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<soap:Envelope xmlns:soap=%q><soap:Body><soap:Fault><faultcode>%s</faultcode><faultstring>%s</faultstring></soap:Fault></soap:Body></soap:Envelope>`, soapEnvNS, code, msg.String())
}
