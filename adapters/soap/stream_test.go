package soap_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/soap"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// catalogProto is a contract compiled at run time, so every message is a dynamicpb one: nested
// messages, an enum, repeated fields, maps of scalars and of messages, a oneof, and a
// server-streaming method bound declaratively to a SOAP operation whose reply lists products.
// The node-soap peer serves the same operation from testdata/catalog.wsdl.
const catalogProto = `syntax = "proto3";
package agentbridge.dyntest.catalog;
import "agentbridge/v1/options.proto";

service CatalogService {
  // ListProducts streams the products of a category, one message per product element.
  rpc ListProducts(ListProductsRequest) returns (stream Product) {
    option (agentbridge.v1.binding) = {
      backend: "catalog"
      soap: {
        action: "urn:acme:catalog#ListProducts"
        request: {name: "ListProducts" namespace: "urn:acme:catalog"}
        response: {name: "ListProductsResponse" namespace: "urn:acme:catalog"}
        stream_item: {name: "product" namespace: "urn:acme:catalog"}
      }
    };
  }
  // GetProducts is the same operation bound as a unary method, to compare the two.
  rpc GetProducts(ListProductsRequest) returns (ListProductsResponse) {
    option (agentbridge.v1.binding) = {
      backend: "catalog"
      soap: {
        action: "urn:acme:catalog#ListProducts"
        request: {name: "ListProducts" namespace: "urn:acme:catalog"}
        response: {name: "ListProductsResponse" namespace: "urn:acme:catalog"}
      }
    };
  }
}

enum Status {
  STATUS_UNSPECIFIED = 0;
  STATUS_ACTIVE = 1;
  STATUS_RETIRED = 2 [(agentbridge.v1.xml_value) = "retired"];
}

message ListProductsRequest {
  string category = 1;
  // How many products the peer makes up; a negative count makes it fault.
  int32 count = 2;
  // The 1-based position of a product the peer spoils (a quantity that is not a number).
  int32 spoil = 3;
}

message ListProductsResponse {
  repeated Product product = 1;
}

message Money {
  string currency = 1 [(agentbridge.v1.xml) = {attribute: true}];
  string amount = 2 [(agentbridge.v1.xml) = {text: true}];
}

message Dimensions {
  double width = 1;
  double height = 2;
}

message Product {
  string sku = 1 [(agentbridge.v1.xml) = {attribute: true}];
  string name = 2;
  Status status = 3;
  repeated string tags = 4 [(agentbridge.v1.xml) = {name: "tag"}];
  map<string, string> labels = 5;
  map<string, Money> prices = 6 [(agentbridge.v1.xml) = {item: "price" map_key: "market" map_value: "money"}];
  Dimensions size = 7;
  oneof stock {
    int32 quantity = 8;
    string backorder_note = 9;
  }
}
`

// compileAddStream returns a server-streaming method bound to the calculator's add operation,
// streaming each value element of addResponse as one message: the same reply read both ways.
func compileAddStream(t *testing.T) protoreflect.MethodDescriptor {
	t.Helper()
	const src = `syntax = "proto3";
package agentbridge.dyntest.addstream;
import "agentbridge/v1/options.proto";
import "agentbridge/testing/v1/calculator.proto";
message Value {
  int32 value = 1 [(agentbridge.v1.xml) = {text: true}];
}
service AddStreamService {
  rpc AddStream(agentbridge.testing.v1.AddRequest) returns (stream Value) {
    option (agentbridge.v1.binding) = {
      backend: "calc"
      soap: {
        request: {name: "add" namespace: "http://example.com/"}
        response: {name: "addResponse" namespace: "http://example.com/"}
        stream_item: {name: "value"}
      }
    };
  }
}
`
	return prototest.Compile(t, "addstream.proto", src).Services().Get(0).Methods().Get(0)
}

// catalog is the compiled contract's descriptors.
type catalog struct {
	listProducts, getProducts protoreflect.MethodDescriptor
	product                   protoreflect.MessageDescriptor
}

func compileCatalog(t testing.TB) catalog {
	t.Helper()
	svc := prototest.Compile(t, "catalog.proto", catalogProto).Services().ByName("CatalogService")
	c := catalog{listProducts: svc.Methods().ByName("ListProducts"), getProducts: svc.Methods().ByName("GetProducts")}
	c.product = c.listProducts.Output()
	return c
}

// request makes a ListProductsRequest from protojson.
func (c catalog) request(t testing.TB, js string) proto.Message {
	t.Helper()
	m := dynamicpb.NewMessage(c.listProducts.Input())
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// productJSON is product n as protojson writes it, and productXML the same product as the
// backends in these tests send it.
func productJSON(n int) string {
	return fmt.Sprintf(`{"sku":"P-%d","name":"Product %d","status":"STATUS_RETIRED","tags":["a","b"],`+
		`"labels":{"color":"red","size":"%d"},"prices":{"ch":{"currency":"CHF","amount":"%d.00"},"eu":{"currency":"EUR","amount":"%d.50"}},`+
		`"size":{"width":1.5,"height":%d},"quantity":%d}`, n, n, n, n, n, n, n)
}

func productXML(n int) string {
	return fmt.Sprintf(`<c:product sku="P-%d"><name>Product %d</name><status>retired</status><tag>a</tag><tag>b</tag>`+
		`<labels><entry><key>size</key><value>%d</value></entry><entry><key>color</key><value>red</value></entry></labels>`+
		`<prices><price><market>eu</market><money currency="EUR">%d.50</money></price><price><market>ch</market><money currency="CHF">%d.00</money></price></prices>`+
		`<size><width>1.5</width><height>%d</height></size><quantity>%d</quantity></c:product>`, n, n, n, n, n, n, n)
}

func listReply(items ...string) string {
	return env11(`<c:ListProductsResponse xmlns:c="urn:acme:catalog">` + strings.Join(items, "\n") + `</c:ListProductsResponse>`)
}

func products(from, to int) []string {
	var out []string
	for n := from; n <= to; n++ {
		out = append(out, productXML(n))
	}
	return out
}

func (c catalog) wantProducts(t *testing.T, from, to int) []proto.Message {
	t.Helper()
	var out []proto.Message
	for n := from; n <= to; n++ {
		m := dynamicpb.NewMessage(c.product)
		if err := protojson.Unmarshal([]byte(productJSON(n)), m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func bindStream(t testing.TB, a *soap.Adapter, md protoreflect.MethodDescriptor) adapters.ServerStream {
	t.Helper()
	s, err := a.BindStream(md, adapters.BindingOf(md))
	if err != nil {
		t.Fatalf("BindStream(%s): %v", md.FullName(), err)
	}
	return s
}

// collect runs a stream and returns what it sent and how it ended.
func collect(ctx context.Context, s adapters.ServerStream, req proto.Message) ([]proto.Message, error) {
	var got []proto.Message
	err := s(ctx, req, func(m proto.Message) error {
		got = append(got, m)
		return nil
	})
	return got, err
}

func equalMessages(t *testing.T, got, want []proto.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("message %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func TestStreamDecodesEachItem(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	tests := []struct {
		name     string
		reply    string
		from, to int
	}{
		{"three products", listReply(products(1, 3)...), 1, 3},
		{"no products", listReply(), 1, 0},
		{"an empty response element", env11(`<ListProductsResponse xmlns="urn:acme:catalog"/>`), 1, 0},
		{"comments, whitespace and a header around the items", `<?xml version="1.0"?>` +
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><t>1</t></soap:Header><soap:Body>` +
			`<c:ListProductsResponse xmlns:c="urn:acme:catalog">` + "\n  <!-- page 1 -->\n  " + productXML(7) + "\n  <?pi x?>\n" + productXML(8) + "\n</c:ListProductsResponse></soap:Body></soap:Envelope>",
			7, 8},
		{"items unqualified", env11(`<ListProductsResponse>` + strings.ReplaceAll(productXML(4), "c:product", "product") + `</ListProductsResponse>`), 4, 4},
		{"SOAP 1.2 envelope", env12(`<c:ListProductsResponse xmlns:c="urn:acme:catalog">` + productXML(5) + `</c:ListProductsResponse>`), 5, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan string, 1)
			_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- r.Header.Get("SOAPAction") + " " + string(body)
				_, _ = io.WriteString(w, tt.reply)
			}), nil)
			msgs, err := collect(t.Context(), bindStream(t, a, c.listProducts), c.request(t, `{"category":"tools","count":3}`))
			if err != nil {
				t.Fatal(err)
			}
			equalMessages(t, msgs, c.wantProducts(t, tt.from, tt.to))
			const wantReq = `"urn:acme:catalog#ListProducts" <?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
				`<ns0:ListProducts xmlns:ns0="urn:acme:catalog"><category>tools</category><count>3</count><spoil>0</spoil></ns0:ListProducts></soap:Body></soap:Envelope>`
			if r := <-got; r != wantReq {
				t.Errorf("the backend got\n%s\nwant\n%s", r, wantReq)
			}
		})
	}
}

// TestStreamSendsItemsAsTheyArrive holds the reply back after the first product until the
// stream has sent that product: a stream that waited for the whole reply would never send it.
func TestStreamSendsItemsAsTheyArrive(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	firstSent := make(chan struct{})
	_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		reply := listReply(products(1, 3)...)
		cut := strings.Index(reply, productXML(2))
		_, _ = io.WriteString(w, reply[:cut])
		w.(http.Flusher).Flush()
		select {
		case <-firstSent:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, reply[cut:])
	}), nil)
	var got []proto.Message
	err := bindStream(t, a, c.listProducts)(t.Context(), c.request(t, `{}`), func(m proto.Message) error {
		got = append(got, m)
		if len(got) == 1 {
			close(firstSent)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	equalMessages(t, got, c.wantProducts(t, 1, 3))
}

// TestStreamStopsWhenTheCallerDoes checks that a failing send ends the call with send's error
// and that the backend sees the call end, rather than the rest of the reply being read.
func TestStreamStopsWhenTheCallerDoes(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	gone := make(chan struct{})
	_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><c:ListProductsResponse xmlns:c="urn:acme:catalog">`)
		for n := 1; r.Context().Err() == nil; n++ { // endless, until the client hangs up
			if _, err := io.WriteString(w, productXML(n)); err != nil {
				break
			}
		}
		close(gone)
	}), func(b *adapters.Backend) { b.MaxReplyBytes = 1 << 40 })
	errStop := errors.New("the caller has gone")
	sent := 0
	err := bindStream(t, a, c.listProducts)(t.Context(), c.request(t, `{}`), func(proto.Message) error {
		if sent == 5 {
			return errStop
		}
		sent++
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("got %v, want send's error", err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend kept sending after the stream ended")
	}
}

// TestStreamFailsMidStream checks failures after some products were sent: each ends the stream
// with a status, after exactly the products before the failure, none skipped.
func TestStreamFailsMidStream(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	const xmlCT = "text/xml; charset=utf-8"
	open := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><c:ListProductsResponse xmlns:c="urn:acme:catalog">`
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		configure  func(*adapters.Backend)
		ctxTimeout time.Duration
		wantSent   int
		wantCode   codes.Code
		wantReason adapters.Reason
		wantMeta   map[string]string
		wantMsg    []string
	}{
		{name: "a product that does not fit", handler: canned(200, xmlCT, listReply(append(products(1, 2), strings.Replace(productXML(3), "<quantity>3</quantity>", "<quantity>lots</quantity>", 1))...)),
			wantSent: 2, wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid,
			wantMeta: map[string]string{"element": "ListProductsResponse/product/quantity", "items_sent": "2", "http_status": "200"},
			wantMsg:  []string{"agentbridge.dyntest.catalog.Product", `"lots" is not a 32-bit integer`, "after 2 streamed messages"}},
		{name: "a product with a key given twice", handler: canned(200, xmlCT, listReply(productXML(1), strings.Replace(productXML(2), "<key>color</key>", "<key>size</key>", 1))),
			wantSent: 1, wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid,
			wantMeta: map[string]string{"element": "ListProductsResponse/product/labels/entry"},
			wantMsg:  []string{`key "size" appears more than once`}},
		{name: "another element among the products", handler: canned(200, xmlCT, listReply(productXML(1), `<c:total>2</c:total>`, productXML(2))),
			wantSent: 1, wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid,
			wantMsg: []string{"element total among the product items of ListProductsResponse"}},
		{name: "text among the products", handler: canned(200, xmlCT, listReply(productXML(1), `and more`, productXML(2))),
			wantSent: 1, wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid, wantMsg: []string{"text among the product items"}},
		{name: "cut off after two products", handler: canned(200, xmlCT, open+productXML(1)+productXML(2)),
			wantSent: 2, wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply, wantMsg: []string{"malformed XML after 2 streamed messages", "unexpected EOF"}},
		{name: "cut off inside a product", handler: canned(200, xmlCT, open+productXML(1)+productXML(2)[:40]),
			wantSent: 1, wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply,
			wantMeta: map[string]string{"element": "ListProductsResponse/product/name", "items_sent": "1"},
			wantMsg:  []string{"malformed XML after 1 streamed message, in element ListProductsResponse/product/name: at line 1: unexpected EOF"}},
		{name: "a DOCTYPE among the products", handler: canned(200, xmlCT, listReply(productXML(1), `<!DOCTYPE x>`)),
			wantSent: 1, wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply,
			wantMsg: []string{"a document type declaration among the product items"}},
		{name: "a DOCTYPE inside a product", handler: canned(200, xmlCT, listReply(productXML(1), strings.Replace(productXML(2), "<name>", "<!DOCTYPE x><name>", 1))),
			wantSent: 1, wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply,
			wantMsg: []string{"in element ListProductsResponse/product: document type declarations are not allowed"}},
		{name: "connection reset after a product", handler: resetAfter("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n" + open + productXML(1)),
			wantSent: 1, wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendUnreachable},
		{name: "a product over the size bound after some products", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.(http.Flusher).Flush() // chunked: the size is not known up front
			huge := strings.Replace(productXML(4), "<name>", "<name>"+strings.Repeat("x", 200<<10), 1)
			_, _ = io.WriteString(w, listReply(append(append(products(1, 3), huge), products(5, 6)...)...))
		}, configure: func(b *adapters.Backend) { b.MaxReplyBytes = 8 << 10 },
			wantSent: 3, wantCode: codes.ResourceExhausted, wantReason: adapters.ReasonReplyTooLarge,
			wantMeta: map[string]string{"limit_bytes": "8192", "records_started": "4"}, wantMsg: []string{"more than 8192 bytes in record 4 of a streamed reply"}},
		{name: "the caller's deadline after a product", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, open+productXML(1))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, ctxTimeout: 200 * time.Millisecond,
			wantSent: 1, wantCode: codes.DeadlineExceeded, wantReason: adapters.ReasonBackendTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, a := newCannedBackend(t, tt.handler, tt.configure)
			ctx := t.Context()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				t.Cleanup(cancel)
			}
			got, err := collect(ctx, bindStream(t, a, c.listProducts), c.request(t, `{}`))
			st, ei := statusOf(t, err)
			if st.Code() != tt.wantCode || ei.GetReason() != string(tt.wantReason) {
				t.Errorf("got %v %s, want %v %s; message %q", st.Code(), ei.GetReason(), tt.wantCode, tt.wantReason, st.Message())
			}
			switch {
			case tt.wantSent >= 0:
				equalMessages(t, got, c.wantProducts(t, 1, tt.wantSent))
			case len(got) == 0 || len(got) >= 100:
				t.Errorf("sent %d products, want some but not all", len(got))
			default:
				equalMessages(t, got, c.wantProducts(t, 1, len(got)))
			}
			for k, want := range tt.wantMeta {
				if got := ei.GetMetadata()[k]; got != want {
					t.Errorf("metadata[%s] = %q, want %q (all: %v)", k, got, want, ei.GetMetadata())
				}
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(st.Message(), s) {
					t.Errorf("message %q does not contain %q", st.Message(), s)
				}
			}
			assertAgentSafe(t, srv, st, ei)
			if testing.Verbose() {
				t.Logf("sent %d, then %v %q %v", len(got), st.Code(), st.Message(), ei.GetMetadata())
			}
		})
	}
}

// TestStreamMatchesUnaryBeforeTheFirstMessage binds one operation both ways and checks that a
// reply failing before any product fails alike: same code, reason and element.
func TestStreamMatchesUnaryBeforeTheFirstMessage(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	const xmlCT = "text/xml; charset=utf-8"
	bad := strings.Replace(productXML(1), "<quantity>1</quantity>", "<quantity>x</quantity>", 1)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    adapters.Reason
	}{
		{"fault with HTTP 200", canned(200, xmlCT, fault11("soap:Client", "unknown category", "")), adapters.ReasonSOAPClientFault},
		{"1.2 fault with HTTP 500", canned(500, "application/soap+xml", fault12("env:Receiver", "", "down", "")), adapters.ReasonSOAPServerFault},
		{"HTTP 503 with an HTML page", canned(503, "text/html", "<html><body>down</body></html>"), adapters.ReasonBackendBadReply},
		{"HTTP 401", canned(401, "text/plain", "no"), adapters.ReasonBackendRejected},
		{"wrong body element", canned(200, xmlCT, env11(`<c:Other xmlns:c="urn:acme:catalog"/>`)), adapters.ReasonBackendReplyInvalid},
		{"first product does not fit", canned(200, xmlCT, listReply(bad, productXML(2))), adapters.ReasonBackendReplyInvalid},
		{"first product does not fit, reply cut off later", canned(200, xmlCT, listReply(bad, productXML(2))[:len(listReply(bad))-30]), adapters.ReasonBackendBadReply},
		{"fault followed by more than the size bound", canned(200, xmlCT, fault11("soap:Client", "x", "")+strings.Repeat(" ", 200<<10)),
			adapters.ReasonReplyTooLarge},
		{"mismatched tags in the first product", canned(200, xmlCT, listReply(strings.Replace(productXML(1), "</name>", "</nam>", 1))), adapters.ReasonBackendBadReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, a := newCannedBackend(t, tt.handler, func(b *adapters.Backend) { b.MaxReplyBytes = 32 << 10 })
			req := c.request(t, `{}`)
			_, uerr := bindMethod(t, a, c.getProducts)(t.Context(), req)
			got, serr := collect(t.Context(), bindStream(t, a, c.listProducts), req)
			if len(got) != 0 {
				t.Errorf("the stream sent %d messages", len(got))
			}
			ust, uei := statusOf(t, uerr)
			sst, sei := statusOf(t, serr)
			if uei.GetReason() != string(tt.want) {
				t.Errorf("unary: %v %s %q, want %s", ust.Code(), uei.GetReason(), ust.Message(), tt.want)
			}
			if sst.Code() != ust.Code() || sei.GetReason() != uei.GetReason() || sei.GetMetadata()["element"] != uei.GetMetadata()["element"] {
				t.Errorf("stream: %v %s %v %q\nunary: %v %s %v %q", sst.Code(), sei.GetReason(), sei.GetMetadata(), sst.Message(), ust.Code(), uei.GetReason(), uei.GetMetadata(), ust.Message())
			}
			if testing.Verbose() {
				t.Logf("stream %q\n unary %q", sst.Message(), ust.Message())
			}
		})
	}
}

func TestBindStreamRejectsUnusableBindings(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	a := soap.New(adapters.Backend{Name: "catalog", Endpoint: "http://127.0.0.1:1/"}, nil)
	withItem := proto.CloneOf(adapters.BindingOf(c.getProducts))
	withItem.GetSoap().StreamItem = &agentbridgev1.XmlName{Name: "product"}
	noItem := proto.CloneOf(adapters.BindingOf(c.listProducts))
	noItem.GetSoap().StreamItem = nil
	tests := []struct {
		name    string
		bind    func() error
		wantErr string
	}{
		{"a unary method with BindStream", func() error { _, err := a.BindStream(c.getProducts, adapters.BindingOf(c.getProducts)); return err }, "not one"},
		{"a streaming method without stream_item", func() error { _, err := a.BindStream(c.listProducts, noItem); return err }, "needs stream_item"},
		{"a streaming method without a soap operation", func() error {
			_, err := a.BindStream(c.listProducts, &agentbridgev1.Binding{Backend: "catalog"})
			return err
		}, "no soap operation"},
		{"a streaming method with Bind", func() error { _, err := a.Bind(c.listProducts, adapters.BindingOf(c.listProducts)); return err }, "BindStream"},
		{"a unary method whose binding names a stream_item", func() error { _, err := a.Bind(c.getProducts, withItem); return err }, "stream_item"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.bind(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestBindServiceStreamsOverSOAP binds the catalog service declaratively, as the server's
// config does, and streams through the implementation it returns.
func TestBindServiceStreamsOverSOAP(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	_, a := newCannedBackend(t, canned(200, "text/xml", listReply(products(1, 2)...)), nil)
	unary, streams, err := adapters.BindService(c.listProducts.Parent().(protoreflect.ServiceDescriptor), map[string]adapters.Adapter{"catalog": a})
	if err != nil {
		t.Fatal(err)
	}
	if unary["GetProducts"] == nil || streams["ListProducts"] == nil || len(unary)+len(streams) != 2 {
		t.Fatalf("bound unary %v and streams %v", unary, streams)
	}
	got, err := collect(t.Context(), streams["ListProducts"], c.request(t, `{}`))
	if err != nil {
		t.Fatal(err)
	}
	equalMessages(t, got, c.wantProducts(t, 1, 2))
}

// TestConcurrentStreams runs streams in parallel through one adapter, for the race detector.
func TestConcurrentStreams(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	_, a := newCannedBackend(t, canned(200, "text/xml", listReply(products(1, 20)...)), nil)
	s := bindStream(t, a, c.listProducts)
	want := c.wantProducts(t, 1, 20)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := collect(context.Background(), s, c.request(t, `{}`))
			if err != nil || len(got) != len(want) {
				t.Errorf("got %d messages, %v", len(got), err)
			}
		}()
	}
	wg.Wait()
}

// TestStreamBoundsEachRecord: for a streaming method max_reply_bytes bounds each item, not the
// reply, so a reply many times the bound streams whole.
func TestStreamBoundsEachRecord(t *testing.T) {
	t.Parallel()
	c := compileCatalog(t)
	const items = 2_000 // about 940 KiB, over a hundred times the bound
	_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = io.WriteString(w, listReply(products(1, items)...))
	}), func(b *adapters.Backend) { b.MaxReplyBytes = 8 << 10 })
	got, err := collect(t.Context(), bindStream(t, a, c.listProducts), c.request(t, `{}`))
	if err != nil || len(got) != items {
		t.Fatalf("streamed %d of %d: %v", len(got), items, err)
	}
	// The same reply is over the bound for the unary binding, which holds it whole.
	_, uerr := bindMethod(t, a, c.getProducts)(t.Context(), c.request(t, `{}`))
	if st, _ := statusOf(t, uerr); st.Code() != codes.ResourceExhausted {
		t.Errorf("unary: %v, want ResourceExhausted", uerr)
	}
}
