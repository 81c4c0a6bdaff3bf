package soap_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// The methods under test, with the bindings their protos declare.
var (
	calcMethods      = testingv1.File_agentbridge_testing_v1_calculator_proto.Services().ByName("CalculatorService").Methods()
	inventoryMethods = demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService").Methods()
	greeterMethods   = testingv1.File_agentbridge_testing_v1_greeter_proto.Services().ByName("GreeterService").Methods()

	addMethod       = calcMethods.ByName("Add")
	listItemsMethod = inventoryMethods.ByName("ListItems")
	getItemMethod   = inventoryMethods.ByName("GetItem")
	sayHiMethod     = greeterMethods.ByName("SayHi")

	numberToDollarsMethod = testingv1.File_agentbridge_testing_v1_numberconversion_proto.Services().ByName("NumberConversionService").Methods().ByName("NumberToDollars")
)

// endpointPath is appended to every test server's URL: the query stands for a credential that
// must never reach an agent.
const endpointPath = "/services/Calc?apikey=s3cr3t"

// newCannedBackend starts an httptest server with h and returns an adapter for it, named calc.
func newCannedBackend(t *testing.T, h http.Handler, configure func(*adapters.Backend)) (*httptest.Server, *soap.Adapter) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := adapters.Backend{Name: "calc", Kind: soap.Kind, Endpoint: srv.URL + endpointPath, Timeout: 10 * time.Second}
	if configure != nil {
		configure(&b)
	}
	return srv, soap.New(b, nil)
}

func bindMethod(t *testing.T, a *soap.Adapter, md protoreflect.MethodDescriptor) adapters.Unary {
	t.Helper()
	u, err := a.Bind(md, adapters.BindingOf(md))
	if err != nil {
		t.Fatalf("Bind(%s): %v", md.FullName(), err)
	}
	return u
}

// requestFor returns a valid request for the method.
func requestFor(md protoreflect.MethodDescriptor) proto.Message {
	switch md.FullName() {
	case listItemsMethod.FullName():
		return &demov1.ListItemsRequest{Category: "tools"}
	case getItemMethod.FullName():
		return &demov1.GetItemRequest{Sku: "A-100"}
	case sayHiMethod.FullName():
		return &testingv1.SayHiRequest{}
	}
	return &testingv1.AddRequest{IntA: 2, IntB: 3}
}

// statusOf returns the status and its ErrorInfo, failing the test when either is missing.
func statusOf(t *testing.T, err error) (*status.Status, *errdetails.ErrorInfo) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error")
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%v (%T) is not a gRPC status", err, err)
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return st, ei
		}
	}
	t.Fatalf("status %v has no google.rpc.ErrorInfo", st)
	return nil, nil
}

// assertAgentSafe checks what every status shown to an agent must hold: no endpoint (host,
// port, path or credential) and no stack trace, in the message or in the metadata.
func assertAgentSafe(t *testing.T, srv *httptest.Server, st *status.Status, ei *errdetails.ErrorInfo) {
	t.Helper()
	texts := map[string]string{"message": st.Message()}
	for k, v := range ei.GetMetadata() {
		texts["metadata "+k] = v
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for where, text := range texts {
		for _, bad := range []string{host, "s3cr3t", "/services/Calc", "\n\tat ", "\n    at ", ".java:", ".js:"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s %q contains %q", where, text, bad)
			}
		}
	}
}

func env11(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

func env12(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>` + body + `</env:Body></env:Envelope>`
}

func fault11(code, text, detail string) string {
	f := `<soap:Fault><faultcode>` + code + `</faultcode><faultstring>` + text + `</faultstring>`
	if detail != "" {
		f += `<detail>` + detail + `</detail>`
	}
	return env11(f + `</soap:Fault>`)
}

func fault12(code, subcode, text, detail string) string {
	f := `<env:Fault><env:Code><env:Value>` + code + `</env:Value>`
	if subcode != "" {
		f += `<env:Subcode><env:Value>` + subcode + `</env:Value></env:Subcode>`
	}
	f += `</env:Code><env:Reason><env:Text xml:lang="en">` + text + `</env:Text></env:Reason>`
	if detail != "" {
		f += `<env:Detail>` + detail + `</env:Detail>`
	}
	return env12(f + `</env:Fault>`)
}

// canned answers every request with one status, content type and body.
func canned(code int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// TestRequestEnvelope checks the exact request a backend receives for each SOAP version: the
// method, the headers that carry version and action, and the envelope, with hostile values
// escaped.
func TestRequestEnvelope(t *testing.T) {
	t.Parallel()
	const hostile = `a<b&c]]>"d'e</x>`
	calcOp := func(v agentbridgev1.SoapVersion, action string) *agentbridgev1.Binding {
		return &agentbridgev1.Binding{Backend: "calc", Operation: &agentbridgev1.Binding_Soap{Soap: &agentbridgev1.SoapOperation{
			Version: v, Action: action,
			Request:  &agentbridgev1.XmlName{Name: "add", Namespace: "http://example.com/"},
			Response: &agentbridgev1.XmlName{Name: "addResponse", Namespace: "http://example.com/"},
		}}}
	}
	const (
		prolog = `<?xml version="1.0" encoding="UTF-8"?>`
		open11 = prolog + `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`
		open12 = prolog + `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>`
		close  = `</soap:Body></soap:Envelope>`
	)
	tests := []struct {
		name    string
		method  protoreflect.MethodDescriptor
		binding *agentbridgev1.Binding // nil: the method's own option
		req     proto.Message
		// want headers; an empty value means the header must be absent.
		wantHeader map[string]string
		wantBody   string
	}{
		{
			name: "1.1 calculator, empty action", method: addMethod,
			req: &testingv1.AddRequest{IntA: 2, IntB: -3},
			wantHeader: map[string]string{
				"Content-Type": "text/xml; charset=utf-8",
				"SOAPAction":   `""`,
			},
			wantBody: open11 + `<ns0:add xmlns:ns0="http://example.com/"><intA>2</intA><intB>-3</intB></ns0:add>` + close,
		},
		{
			name: "1.1 inventory, hostile text is escaped", method: listItemsMethod,
			req: &demov1.ListItemsRequest{Category: hostile, MaxResults: 5},
			wantHeader: map[string]string{
				"Content-Type": "text/xml; charset=utf-8",
				"SOAPAction":   `"urn:acme:inventory#ListItems"`,
			},
			wantBody: open11 + `<ns0:ListItems xmlns:ns0="urn:acme:inventory"><category>a&lt;b&amp;c]]&gt;"d'e&lt;/x&gt;</category><maxResults>5</maxResults></ns0:ListItems>` + close,
		},
		{
			name: "1.1 inventory, markup that tries to close the envelope", method: getItemMethod,
			req: &demov1.GetItemRequest{Sku: `</sku></ns0:GetItem></soap:Body><soap:Body><evil/>`},
			wantHeader: map[string]string{
				"Content-Type": "text/xml; charset=utf-8",
				"SOAPAction":   `"urn:acme:inventory#GetItem"`,
			},
			wantBody: open11 + `<ns0:GetItem xmlns:ns0="urn:acme:inventory"><sku>&lt;/sku&gt;&lt;/ns0:GetItem&gt;&lt;/soap:Body&gt;&lt;soap:Body&gt;&lt;evil/&gt;</sku></ns0:GetItem>` + close,
		},
		{
			name: "1.2 greeter, token action is quoted", method: sayHiMethod,
			req: &testingv1.SayHiRequest{},
			wantHeader: map[string]string{
				"Content-Type": `application/soap+xml; charset=utf-8; action="sayHiAction"`,
				"SOAPAction":   "",
			},
			wantBody: open12 + `<ns0:sayHi xmlns:ns0="http://apache.org/hello_world_soap12_http/types"></ns0:sayHi>` + close,
		},
		{
			name: "1.2 URI action", method: addMethod, binding: calcOp(agentbridgev1.SoapVersion_SOAP_VERSION_1_2, "urn:acme:calc#Add"),
			req: &testingv1.AddRequest{IntA: 1},
			wantHeader: map[string]string{
				"Content-Type": `application/soap+xml; charset=utf-8; action="urn:acme:calc#Add"`,
				"SOAPAction":   "",
			},
			wantBody: open12 + `<ns0:add xmlns:ns0="http://example.com/"><intA>1</intA><intB>0</intB></ns0:add>` + close,
		},
		{
			name: "1.2 empty action has no action parameter", method: addMethod, binding: calcOp(agentbridgev1.SoapVersion_SOAP_VERSION_1_2, ""),
			req: &testingv1.AddRequest{},
			wantHeader: map[string]string{
				"Content-Type": `application/soap+xml; charset=utf-8`,
				"SOAPAction":   "",
			},
			wantBody: open12 + `<ns0:add xmlns:ns0="http://example.com/"><intA>0</intA><intB>0</intB></ns0:add>` + close,
		},
		{
			name: "1.2 action with quotes, backslash and non-ASCII", method: addMethod, binding: calcOp(agentbridgev1.SoapVersion_SOAP_VERSION_1_2, `urn:x#"q"\é`),
			req: &testingv1.AddRequest{},
			wantHeader: map[string]string{
				"Content-Type": `application/soap+xml; charset=utf-8; action="urn:x#%22q%22%5C%C3%A9"`,
				"SOAPAction":   "",
			},
			wantBody: open12 + `<ns0:add xmlns:ns0="http://example.com/"><intA>0</intA><intB>0</intB></ns0:add>` + close,
		},
		{
			name: "1.1 action with quotes, backslash and non-ASCII", method: addMethod, binding: calcOp(agentbridgev1.SoapVersion_SOAP_VERSION_1_1, `urn:x#"q"\é`),
			req: &testingv1.AddRequest{},
			wantHeader: map[string]string{
				"Content-Type": "text/xml; charset=utf-8",
				"SOAPAction":   `"urn:x#%22q%22%5C%C3%A9"`,
			},
			wantBody: open11 + `<ns0:add xmlns:ns0="http://example.com/"><intA>0</intA><intB>0</intB></ns0:add>` + close,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			type received struct {
				method, path string
				header       http.Header
				body         []byte
			}
			got := make(chan received, 1)
			out := tt.method.Output()
			_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- received{r.Method, r.URL.RequestURI(), r.Header.Clone(), body}
				// Answer with the binding's response element, holding what each response type needs.
				_, _ = io.WriteString(w, `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><r:`+
					responseName(tt.method, tt.binding)+` xmlns:r="urn:any"><value>0</value><responseType/></r:`+responseName(tt.method, tt.binding)+`></soap:Body></soap:Envelope>`)
			}), func(b *adapters.Backend) {
				b.Headers = map[string]string{"X-Api-Key": "k1"}
				b.Lenient = true // one canned reply answers every response type, so it holds fields each lacks
			})
			binding := tt.binding
			if binding == nil {
				binding = adapters.BindingOf(tt.method)
			}
			u, err := a.Bind(tt.method, binding)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := u(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if resp.ProtoReflect().Descriptor() != out {
				t.Errorf("response type %s, want %s", resp.ProtoReflect().Descriptor().FullName(), out.FullName())
			}
			r := <-got
			if r.method != http.MethodPost || r.path != endpointPath {
				t.Errorf("request %s %s, want POST %s", r.method, r.path, endpointPath)
			}
			for k, want := range tt.wantHeader {
				if vs := r.header.Values(k); want == "" && len(vs) > 0 {
					t.Errorf("header %s = %q, want none", k, vs)
				} else if want != "" && (len(vs) != 1 || vs[0] != want) {
					t.Errorf("header %s = %q, want %q", k, vs, want)
				}
			}
			if r.header.Get("X-Api-Key") != "k1" {
				t.Errorf("the backend's fixed header X-Api-Key was not sent")
			}
			if string(r.body) != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", r.body, tt.wantBody)
			}
			// Whatever went in, the envelope is well-formed and carries the value unchanged.
			if err := wellFormed(r.body); err != nil {
				t.Errorf("the envelope is not well-formed XML: %v", err)
			}
			if lr, ok := tt.req.(*demov1.ListItemsRequest); ok {
				var parsed struct {
					Category string `xml:"Body>ListItems>category"`
				}
				if err := xml.Unmarshal(r.body, &parsed); err != nil || parsed.Category != lr.Category {
					t.Errorf("the backend reads category %q (%v), want %q", parsed.Category, err, lr.Category)
				}
			}
		})
	}
}

func responseName(md protoreflect.MethodDescriptor, b *agentbridgev1.Binding) string {
	if b == nil {
		b = adapters.BindingOf(md)
	}
	return b.GetSoap().GetResponse().GetName()
}

func wellFormed(data []byte) error {
	d := xml.NewDecoder(strings.NewReader(string(data)))
	d.Strict = true
	for {
		if _, err := d.Token(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// TestRequestNotEncodable checks that a value XML cannot carry fails the call as the caller's
// mistake, before anything is sent.
func TestRequestNotEncodable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  proto.Message
		md   protoreflect.MethodDescriptor
		msg  string // part of the status message
	}{
		{"control character", &demov1.ListItemsRequest{Category: "bell\x07"}, listItemsMethod, "U+0007"},
		{"NUL", &demov1.GetItemRequest{Sku: "A\x00"}, getItemMethod, "U+0000"},
		{"invalid UTF-8", &demov1.GetItemRequest{Sku: "A\xff"}, getItemMethod, "invalid UTF-8"},
		// A value outside its xsd_type's lexical space is not rewritten into one: 1e3 is no
		// xsd:decimal, whatever number it means.
		{"not an xsd:decimal", &testingv1.NumberToDollarsRequest{DNum: "1e3"}, numberToDollarsMethod,
			`field agentbridge.testing.v1.NumberToDollarsRequest.d_num: "1e3" is not an xsd:decimal`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := make(chan struct{}, 1)
			srv, a := newCannedBackend(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called <- struct{}{} }), nil)
			_, err := bindMethod(t, a, tt.md)(context.Background(), tt.req)
			st, ei := statusOf(t, err)
			if st.Code() != codes.InvalidArgument || ei.GetReason() != string(adapters.ReasonRequestNotEncodable) || !strings.Contains(st.Message(), tt.msg) {
				t.Errorf("got %v %s (%q), want InvalidArgument REQUEST_NOT_ENCODABLE saying %q", st.Code(), ei.GetReason(), st.Message(), tt.msg)
			}
			assertAgentSafe(t, srv, st, ei)
			select {
			case <-called:
				t.Error("the backend was called with a request that cannot be encoded")
			default:
			}
		})
	}
}

func TestBindRejectsUnusableBindings(t *testing.T) {
	t.Parallel()
	a := soap.New(adapters.Backend{Name: "calc", Endpoint: "http://127.0.0.1:1/"}, nil)
	tests := []struct {
		name    string
		binding *agentbridgev1.Binding
	}{
		{"no soap operation", &agentbridgev1.Binding{Backend: "calc"}},
		// A request or response without a name is a body without a wrapper (styles_test.go); a
		// namespace without a name is a mistake.
		{"response namespace without a name", &agentbridgev1.Binding{Backend: "calc", Operation: &agentbridgev1.Binding_Soap{Soap: &agentbridgev1.SoapOperation{Request: &agentbridgev1.XmlName{Name: "add"}, Response: &agentbridgev1.XmlName{Namespace: "urn:calc"}}}}},
		{"request namespace without a name", &agentbridgev1.Binding{Backend: "calc", Operation: &agentbridgev1.Binding_Soap{Soap: &agentbridgev1.SoapOperation{Request: &agentbridgev1.XmlName{Namespace: "urn:calc"}, Response: &agentbridgev1.XmlName{Name: "addResponse"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := a.Bind(addMethod, tt.binding); err == nil {
				t.Error("Bind accepted an unusable binding")
			}
		})
	}
}

const listItemsReply = `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <soap:Header><acme:Trace xmlns:acme="urn:acme:inventory" soap:mustUnderstand="0">t-1</acme:Trace></soap:Header>
  <soap:Body>
    <inv:ListItemsResponse xmlns:inv="urn:acme:inventory">
      <items>
        <item sku="A-100">
          <name>Cordless drill &amp; case</name>
          <category>tools</category>
          <unitPrice>129.90</unitPrice>
          <quantityOnHand> 12 </quantityOnHand>
          <status>InStock</status>
          <updatedAt>2026-03-01T08:30:00.25Z</updatedAt>
          <tag>power</tag>
          <tag><![CDATA[fragile & heavy]]></tag>
          <warehouse><code>BER-1</code><city>Berlin</city></warehouse>
        </item>
        <item sku="B-200">
          <name>Claw hammer</name>
          <category/>
          <unitPrice>0.0</unitPrice>
          <quantityOnHand>0</quantityOnHand>
          <status>ITEM_STATUS_DISCONTINUED</status>
          <updatedAt>2026-01-02T03:04:05-00:00</updatedAt>
        </item>
      </items>
    </inv:ListItemsResponse>
  </soap:Body>
</soap:Envelope>`

const getItemReply = `<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
<env:Body><GetItemResponse xmlns="urn:acme:inventory"><item sku="C-300"><name>Ladder</name><unitPrice>7</unitPrice><category>outdoor</category><status>Backordered</status><quantityOnHand>-1</quantityOnHand><updatedAt>2025-12-31T23:59:59.999999999Z</updatedAt><tag>outdoor</tag><warehouse><city>Hamburg</city><code>HAM-2</code></warehouse></item></GetItemResponse></env:Body></env:Envelope>`

// TestDecodeReplies checks that a successful reply becomes the response message by descriptor:
// attributes, scalars, enums by XML value and by name, dateTime in UTC spelled Z and -00:00,
// repeated elements and wrappers, nested messages, unknown elements skipped, headers ignored.
func TestDecodeReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method protoreflect.MethodDescriptor
		status int
		body   string
		want   proto.Message
	}{
		{
			name: "inventory ListItems", method: listItemsMethod, status: http.StatusOK, body: listItemsReply,
			want: &demov1.ListItemsResponse{Items: []*demov1.Item{
				{
					Sku: "A-100", Name: "Cordless drill & case", Category: "tools", UnitPrice: "129.90", QuantityOnHand: 12,
					Status:    demov1.ItemStatus_ITEM_STATUS_IN_STOCK,
					UpdatedAt: timestamppb.New(time.Date(2026, 3, 1, 8, 30, 0, 250_000_000, time.UTC)),
					Tags:      []string{"power", "fragile & heavy"},
					Warehouse: &demov1.Warehouse{Code: "BER-1", City: "Berlin"},
				},
				{
					Sku: "B-200", Name: "Claw hammer", UnitPrice: "0.0", Status: demov1.ItemStatus_ITEM_STATUS_DISCONTINUED,
					UpdatedAt: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
				},
			}},
		},
		{
			name: "inventory GetItem, default namespace, fields out of order", method: getItemMethod, status: http.StatusOK, body: getItemReply,
			want: &demov1.GetItemResponse{Item: &demov1.Item{
				Sku: "C-300", Name: "Ladder", UnitPrice: "7", Category: "outdoor", Status: demov1.ItemStatus_ITEM_STATUS_BACKORDERED, QuantityOnHand: -1,
				UpdatedAt: timestamppb.New(time.Date(2025, 12, 31, 23, 59, 59, 999_999_999, time.UTC)),
				Tags:      []string{"outdoor"},
				Warehouse: &demov1.Warehouse{Code: "HAM-2", City: "Hamburg"},
			}},
		},
		{
			name: "inventory ListItems, no items", method: listItemsMethod, status: http.StatusOK,
			body: env11(`<inv:ListItemsResponse xmlns:inv="urn:acme:inventory"><items/></inv:ListItemsResponse>`),
			want: &demov1.ListItemsResponse{},
		},
		{
			name: "calculator Add", method: addMethod, status: http.StatusOK,
			body: env11(`<ns2:addResponse xmlns:ns2="http://example.com/"><value>-2147483648</value></ns2:addResponse>`),
			want: &testingv1.AddResponse{Value: -2147483648},
		},
		{
			name: "SOAP 1.2 greeter SayHi, qualified children", method: sayHiMethod, status: http.StatusOK,
			body: env12(`<t:sayHiResponse xmlns:t="http://apache.org/hello_world_soap12_http/types"><t:responseType> Bonjour </t:responseType></t:sayHiResponse>`),
			want: &testingv1.SayHiResponse{ResponseType: " Bonjour "},
		},
		{
			name: "success sent with HTTP 202", method: addMethod, status: http.StatusAccepted,
			body: env11(`<addResponse><value>5</value></addResponse>`),
			want: &testingv1.AddResponse{Value: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, a := newCannedBackend(t, canned(tt.status, "text/xml; charset=utf-8", tt.body), nil)
			got, err := bindMethod(t, a, tt.method)(context.Background(), requestFor(tt.method))
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

// billionLaughs is the classic entity expansion attack; a parser that expands it needs
// gigabytes.
const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><addResponse><value>&lol9;</value></addResponse></soap:Body></soap:Envelope>`

const javaTrace = "java.lang.NullPointerException: sku is null\n\tat com.acme.inventory.StockDao.find(StockDao.java:88)\n\tat com.acme.inventory.InventoryPort.getItem(InventoryPort.java:41)\n\tat sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method)"

const nodeTrace = "TypeError: Cannot read properties of undefined (reading 'intA')\n    at Object.add (/srv/calc/service.js:12:19)\n    at Server._executeMethod (/srv/node_modules/soap/lib/server.js:520:25)"

// TestReplyOutcomes runs every way a backend can answer, or fail to, through one call path and
// checks the status the mapping table gives it. Every status is also checked for what it must
// never show an agent, and every call for ending promptly. The calculator's cases also run
// through a server-streaming binding of the same operation, which must fail alike.
func TestReplyOutcomes(t *testing.T) {
	t.Parallel()
	addStream := compileAddStream(t)
	const slow = 5 * time.Second
	const xmlCT = "text/xml; charset=utf-8"
	tests := []struct {
		name        string
		handler     http.HandlerFunc // the backend; nil for a port nothing listens on
		method      protoreflect.MethodDescriptor
		configure   func(*adapters.Backend)
		ctxTimeout  time.Duration
		wantCode    codes.Code
		wantReason  adapters.Reason
		wantMeta    map[string]string // a subset of the ErrorInfo metadata
		wantMsg     []string          // substrings of the message
		wantNoMsg   []string          // not in the message
		maxDuration time.Duration     // default 2s
	}{
		// SOAP faults: recognised by the envelope, whatever the HTTP status.
		{name: "1.1 Client fault, HTTP 500", handler: canned(500, xmlCT, fault11("soap:Client", "Quantity must be positive", "<field>quantity</field>")),
			wantCode: codes.InvalidArgument, wantReason: adapters.ReasonSOAPClientFault,
			wantMeta: map[string]string{"fault_code": "soap:Client", "fault_string": "Quantity must be positive", "fault_detail": "field: quantity", "http_status": "500"},
			wantMsg:  []string{"backend calc rejected the request: Quantity must be positive", "field: quantity"}},
		{name: "1.1 Client fault, HTTP 200", handler: canned(200, xmlCT, fault11("soap:Client", "Quantity must be positive", "")),
			wantCode: codes.InvalidArgument, wantReason: adapters.ReasonSOAPClientFault,
			wantMeta: map[string]string{"fault_code": "soap:Client", "http_status": "200"}},
		{name: "1.1 Client fault with a dotted code, HTTP 400", handler: canned(400, xmlCT, fault11("SOAP-ENV:Client.Authentication", "bad password", "")),
			wantCode: codes.InvalidArgument, wantReason: adapters.ReasonSOAPClientFault,
			wantMeta: map[string]string{"fault_code": "SOAP-ENV:Client.Authentication", "http_status": "400"}},
		{name: "1.2 Sender fault with subcode, HTTP 400", handler: canned(400, "application/soap+xml", fault12("env:Sender", "m:BadSku", "SKU A-1 is malformed", `<m:sku xmlns:m="urn:m">A-1</m:sku>`)),
			wantCode: codes.InvalidArgument, wantReason: adapters.ReasonSOAPClientFault,
			wantMeta: map[string]string{"fault_code": "env:Sender", "fault_subcode": "m:BadSku", "fault_string": "SKU A-1 is malformed", "fault_detail": "sku: A-1"}},
		{name: "1.1 Server fault, HTTP 500", handler: canned(500, xmlCT, fault11("soap:Server", "database unavailable", "")),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault,
			wantMeta: map[string]string{"fault_code": "soap:Server", "fault_string": "database unavailable"},
			wantMsg:  []string{"backend calc failed: database unavailable"}},
		{name: "1.2 Receiver fault, HTTP 200", handler: canned(200, "application/soap+xml", fault12("env:Receiver", "", "try later", "")),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault,
			wantMeta: map[string]string{"fault_code": "env:Receiver", "fault_string": "try later", "http_status": "200"}},
		{name: "1.1 VersionMismatch", handler: canned(500, xmlCT, fault11("soap:VersionMismatch", "wrong envelope namespace", "")),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPVersionMismatch,
			wantMsg: []string{"check the binding's SOAP version"}},
		{name: "1.2 MustUnderstand", handler: canned(500, "application/soap+xml", fault12("env:MustUnderstand", "", "header not understood", "")),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPMustUnderstand},
		{name: "other fault code", handler: canned(500, xmlCT, fault11("soap:DataEncodingUnknown", "encoding", "")),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPFault},
		{name: "fault without a code or string", handler: canned(500, xmlCT, env11(`<soap:Fault/>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPFault, wantMsg: []string{"no fault string given"}},
		{name: "1.2 fault children in a 1.1 envelope (node-soap)", handler: canned(500, xmlCT, env11(`<soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code><soap:Reason><soap:Text>no such operation</soap:Text></soap:Reason></soap:Fault>`)),
			wantCode: codes.InvalidArgument, wantReason: adapters.ReasonSOAPClientFault, wantMeta: map[string]string{"fault_string": "no such operation"}},
		{name: "1.2 fault with role and several languages", handler: canned(500, "application/soap+xml", env12(`<env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="de">Lager gesperrt</env:Text><env:Text xml:lang="en-GB">stock locked</env:Text></env:Reason><env:Role>urn:acme:stock</env:Role></env:Fault>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault, wantMeta: map[string]string{"fault_string": "stock locked", "fault_actor": "urn:acme:stock"}},
		{name: "fault with a Java stack trace", handler: canned(500, xmlCT, fault11("soap:Server", javaTrace, "")),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault,
			wantMsg:   []string{"backend calc failed: java.lang.NullPointerException: sku is null (stack trace removed)"},
			wantNoMsg: []string{"StockDao", "\n"},
			wantMeta:  map[string]string{"fault_string": "java.lang.NullPointerException: sku is null (stack trace removed)"}},
		{name: "fault with a Node stack trace", handler: canned(500, xmlCT, fault11("soap:Client", nodeTrace, "")),
			wantCode: codes.InvalidArgument, wantReason: adapters.ReasonSOAPClientFault,
			wantMsg:   []string{"backend calc rejected the request: TypeError: Cannot read properties of undefined (reading 'intA') (stack trace removed)"},
			wantNoMsg: []string{"service.js", "\n"}},
		{name: "fault with a stack trace in the detail", handler: canned(500, xmlCT, fault11("soap:Server", "boom", "<stackTrace>"+javaTrace+"</stackTrace>")),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault, wantNoMsg: []string{"StockDao"}},
		{name: "fault that echoes the endpoint", handler: func(w http.ResponseWriter, r *http.Request) {
			self := "http://" + r.Host + r.URL.RequestURI()
			canned(500, xmlCT, env11(`<soap:Fault><faultcode>soap:Server</faultcode><faultstring>no service at http://`+r.Host+r.URL.Path+`</faultstring><faultactor>`+strings.ReplaceAll(self, "&", "&amp;")+`</faultactor></soap:Fault>`))(w, r)
		}, wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault, wantMsg: []string{"no service at"}},
		{name: "huge fault string is bounded", handler: canned(500, xmlCT, fault11("soap:Server", strings.Repeat("x", 100_000), "")),
			wantCode: codes.Internal, wantReason: adapters.ReasonSOAPServerFault},
		{name: "malformed fault", handler: canned(500, xmlCT, env11(`<soap:Fault><faultcode>soap:Server</faultstring></soap:Fault>`)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply, wantMeta: map[string]string{"http_status": "500"}},
		{name: "fault with an undefined entity", handler: canned(200, xmlCT, fault11("soap:Server", "&lol9;", "")),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},

		// HTTP statuses without a fault.
		{name: "HTTP 429 without a body", handler: canned(429, "", ""),
			wantCode: codes.ResourceExhausted, wantReason: adapters.ReasonBackendRateLimited, wantMeta: map[string]string{"http_status": "429"}},
		{name: "HTTP 401 with text", handler: canned(401, "text/plain", "Unauthorized"),
			wantCode: codes.FailedPrecondition, wantReason: adapters.ReasonBackendRejected, wantMeta: map[string]string{"http_status": "401"}},
		{name: "HTTP 404 with an HTML page", handler: canned(404, "text/html", "<html><body><h1>Not Found</h1></body></html>"),
			wantCode: codes.FailedPrecondition, wantReason: adapters.ReasonBackendRejected, wantMeta: map[string]string{"http_status": "404"}},
		{name: "HTTP 302 redirect", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://login.example.com/sso", http.StatusFound)
		}, wantCode: codes.FailedPrecondition, wantReason: adapters.ReasonBackendRejected,
			wantMeta: map[string]string{"http_status": "302"}, wantMsg: []string{"redirected", "endpoint"}, wantNoMsg: []string{"login.example.com"}},
		{name: "HTTP 307 redirect to the same host", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/moved" {
				canned(200, xmlCT, env11(`<addResponse><value>5</value></addResponse>`))(w, r)
				return
			}
			http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
		}, wantCode: codes.FailedPrecondition, wantReason: adapters.ReasonBackendRejected, wantMeta: map[string]string{"http_status": "307"}},
		{name: "HTTP 500 with an HTML page", handler: canned(500, "text/html", "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body><p>at java.lang.Thread.run</body></html>"),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply, wantMeta: map[string]string{"http_status": "500"}},
		{name: "HTTP 503 without a body", handler: canned(503, "", ""),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply, wantMeta: map[string]string{"http_status": "503"}},
		{name: "HTTP 500 with a success envelope", handler: canned(500, xmlCT, env11(`<addResponse><value>5</value></addResponse>`)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},

		// Bodies that are not a SOAP envelope, sent with 200.
		{name: "HTTP 200 with an HTML page", handler: canned(200, "text/html", "<html><body>Service Temporarily Unavailable<br></body></html>"),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply, wantMeta: map[string]string{"content_type": "text/html"},
			wantMsg: []string{"did not answer with a SOAP envelope"}},
		{name: "HTTP 200 with an HTML5 page", handler: canned(200, "text/html; charset=utf-8", "<!DOCTYPE html>\n<html lang=en><title>Login</title><p>Please sign in"),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply, wantMsg: []string{"did not answer with a SOAP envelope"}},
		{name: "HTTP 200 with an empty body", handler: canned(200, "", ""),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "HTTP 200 with JSON", handler: canned(200, "application/json", `{"error":"maintenance"}`),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply, wantMeta: map[string]string{"content_type": "application/json"}},
		{name: "HTTP 200 with XML that is not an envelope", handler: canned(200, xmlCT, `<addResponse><value>5</value></addResponse>`),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "truncated before the body", handler: canned(200, xmlCT, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Bo`),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "truncated inside the response element", handler: canned(200, xmlCT, `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><addResponse><value>5</value>`),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "truncated inside a value", handler: canned(200, xmlCT, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><addResponse><value>5`),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "mismatched tags in the response element", handler: canned(200, xmlCT, env11(`<addResponse><value>5</valu></addResponse>`)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "billion laughs before the envelope", handler: canned(200, xmlCT, billionLaughs),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply, wantNoMsg: []string{"lol"}},
		{name: "billion laughs before a fault, HTTP 500", handler: canned(500, xmlCT, strings.Replace(billionLaughs, "<addResponse><value>&lol9;</value></addResponse>", "<soap:Fault><faultcode>soap:Client</faultcode><faultstring>&lol9;</faultstring></soap:Fault>", 1)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "entity reference without a DTD", handler: canned(200, xmlCT, env11(`<addResponse><value>&lol9;</value></addResponse>`)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "DOCTYPE inside the body", handler: canned(200, xmlCT, env11(`<!DOCTYPE x [<!ENTITY a "b">]><addResponse><value>1</value></addResponse>`)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},
		{name: "DOCTYPE inside the response element", handler: canned(200, xmlCT, env11(`<addResponse><!DOCTYPE x [<!ENTITY a "b">]><value>1</value></addResponse>`)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},

		// Envelopes whose content does not fit the response message.
		{name: "empty Body", handler: canned(200, xmlCT, env11(``)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid, wantMsg: []string{"addResponse"}},
		{name: "envelope without a Body", handler: canned(200, xmlCT, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/></soap:Envelope>`),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid},
		{name: "wrong body element", handler: canned(200, xmlCT, env11(`<ns:subtractResponse xmlns:ns="http://example.com/"><value>1</value></ns:subtractResponse>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid, wantMsg: []string{"subtractResponse", "addResponse"}},
		{name: "value of the wrong type", handler: canned(200, xmlCT, env11(`<addResponse><value>abc</value></addResponse>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid,
			wantMsg:  []string{"addResponse/value", `"abc" is not a 32-bit integer`},
			wantMeta: map[string]string{"element": "addResponse/value"}},
		{name: "wrong-type value that echoes the endpoint", handler: func(w http.ResponseWriter, r *http.Request) {
			self := strings.ReplaceAll("http://"+r.Host+r.URL.RequestURI(), "&", "&amp;")
			canned(200, xmlCT, env11(`<addResponse><value>`+self+`</value></addResponse>`))(w, r)
		}, wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid, wantMsg: []string{"addResponse/value", "[endpoint]"}},
		{name: "value out of range", handler: canned(200, xmlCT, env11(`<addResponse><value>2147483648</value></addResponse>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid, wantMsg: []string{"addResponse/value"}},
		{name: "nested value of the wrong type", method: listItemsMethod,
			handler:  canned(200, xmlCT, env11(`<ListItemsResponse><items><item sku="A-100"><quantityOnHand>lots</quantityOnHand></item></items></ListItemsResponse>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid,
			wantMsg: []string{"ListItemsResponse/items/item/quantityOnHand", `"lots"`}},
		{name: "unknown enum value", method: getItemMethod,
			handler:  canned(200, xmlCT, env11(`<GetItemResponse><item sku="A-100"><status>Lost</status></item></GetItemResponse>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid, wantMsg: []string{"GetItemResponse/item/status", `"Lost"`}},
		{name: "bad dateTime", method: getItemMethod,
			handler:  canned(200, xmlCT, env11(`<GetItemResponse><item sku="A-100"><updatedAt>yesterday</updatedAt></item></GetItemResponse>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid, wantMsg: []string{"GetItemResponse/item/updatedAt"}},
		{name: "dateTime with an offset a Timestamp cannot keep", method: getItemMethod,
			handler:  canned(200, xmlCT, env11(`<GetItemResponse><item sku="A-100"><updatedAt>2026-03-01T09:30:00+01:00</updatedAt></item></GetItemResponse>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid,
			wantMsg:  []string{"GetItemResponse/item/updatedAt", "offset +01:00", `xsd_type = "dateTime"`},
			wantMeta: map[string]string{"element": "GetItemResponse/item/updatedAt"}},
		{name: "element missing for a field without presence", method: addMethod, handler: canned(200, xmlCT, env11(`<addResponse/>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid,
			wantMsg:  []string{"addResponse/value", "the reply has no such element", "would read as 0", "optional"},
			wantMeta: map[string]string{"element": "addResponse/value"}},
		{name: "xsi:nil for a field without a nil_of field", method: getItemMethod,
			handler:  canned(200, xmlCT, env11(`<GetItemResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><item xsi:nil="true"/></GetItemResponse>`)),
			wantCode: codes.Internal, wantReason: adapters.ReasonBackendReplyInvalid,
			wantMsg: []string{"GetItemResponse/item", "xsi:nil", "nil_of"}},
		{name: "bad attribute", method: getItemMethod,
			handler:  canned(200, xmlCT, env11(`<GetItemResponse><item sku="&#x1;"></item></GetItemResponse>`)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendBadReply},

		// Size, time and connection failures.
		// One record over the bound, so that a streaming method (whose bound is per record)
		// fails alike.
		{name: "reply over the size bound", handler: canned(200, xmlCT, env11(`<addResponse><value>1`+strings.Repeat(" ", 100_000)+`</value></addResponse>`)),
			configure: func(b *adapters.Backend) { b.MaxReplyBytes = 512 },
			wantCode:  codes.ResourceExhausted, wantReason: adapters.ReasonReplyTooLarge, wantMeta: map[string]string{"limit_bytes": "512"}},
		{name: "fault over the size bound", handler: canned(500, xmlCT, fault11("soap:Server", strings.Repeat("x", 4096), "")),
			configure: func(b *adapters.Backend) { b.MaxReplyBytes = 512 },
			wantCode:  codes.ResourceExhausted, wantReason: adapters.ReasonReplyTooLarge},
		{name: "endless chunked reply", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			chunk := []byte(strings.Repeat("<a>", 1024))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, configure: func(b *adapters.Backend) { b.MaxReplyBytes = 64 << 10 },
			wantCode: codes.ResourceExhausted, wantReason: adapters.ReasonReplyTooLarge},
		{name: "slower than the caller's deadline", handler: delayed(slow), ctxTimeout: 150 * time.Millisecond,
			wantCode: codes.DeadlineExceeded, wantReason: adapters.ReasonBackendTimeout, maxDuration: time.Second},
		{name: "slower than the backend's timeout", handler: delayed(slow), configure: func(b *adapters.Backend) { b.Timeout = 150 * time.Millisecond },
			wantCode: codes.DeadlineExceeded, wantReason: adapters.ReasonBackendTimeout, maxDuration: time.Second},
		{name: "headers in time, body too late", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", xmlCT)
			_, _ = io.WriteString(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">`)
			w.(http.Flusher).Flush()
			delayed(slow)(w, r)
		}, ctxTimeout: 150 * time.Millisecond, wantCode: codes.DeadlineExceeded, wantReason: adapters.ReasonBackendTimeout, maxDuration: time.Second},
		{name: "connection reset mid-reply", handler: resetAfter("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4000\r\n\r\n" + env11(`<addResponse><value>`)),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendUnreachable},
		{name: "connection reset before a reply", handler: resetAfter(""),
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendUnreachable},
		{name: "connection refused",
			wantCode: codes.Unavailable, wantReason: adapters.ReasonBackendUnreachable},
	}
	for _, tt := range tests {
		vias := []string{"unary"}
		if tt.method == nil { // the calculator's add, which the stream binding also calls
			vias = append(vias, "stream")
		}
		for _, via := range vias {
			t.Run(via+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				handler := tt.handler
				refused := handler == nil
				if refused {
					handler = func(http.ResponseWriter, *http.Request) {}
				}
				srv, a := newCannedBackend(t, handler, func(b *adapters.Backend) {
					if refused {
						b.Endpoint = closedPortURL(t) + endpointPath
					}
					if tt.configure != nil {
						tt.configure(b)
					}
				})
				md := tt.method
				if md == nil {
					md = addMethod
				}
				ctx := context.Background()
				if tt.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
					t.Cleanup(cancel)
				}
				start := time.Now()
				var err error
				if via == "stream" {
					_, err = collect(ctx, bindStream(t, a, addStream), requestFor(addMethod))
				} else {
					var resp proto.Message
					resp, err = bindMethod(t, a, md)(ctx, requestFor(md))
					if resp != nil {
						t.Errorf("got a response %v along with the error", resp)
					}
				}
				elapsed := time.Since(start)
				st, ei := statusOf(t, err)
				if st.Code() != tt.wantCode || ei.GetReason() != string(tt.wantReason) {
					t.Errorf("got %v %s, want %v %s; message %q", st.Code(), ei.GetReason(), tt.wantCode, tt.wantReason, st.Message())
				}
				if ei.GetDomain() != "calc" {
					t.Errorf("ErrorInfo domain = %q, want the backend name calc", ei.GetDomain())
				}
				for k, want := range tt.wantMeta {
					if got, ok := ei.GetMetadata()[k]; !ok || got != want {
						t.Errorf("metadata[%s] = %q, want %q (all: %v)", k, got, want, ei.GetMetadata())
					}
				}
				for _, s := range tt.wantMsg {
					if !strings.Contains(st.Message(), s) {
						t.Errorf("message %q does not contain %q", st.Message(), s)
					}
				}
				for _, s := range tt.wantNoMsg {
					if strings.Contains(st.Message(), s) {
						t.Errorf("message %q contains %q", st.Message(), s)
					}
				}
				if !strings.Contains(st.Message(), "calc") {
					t.Errorf("message %q does not name the backend", st.Message())
				}
				if len(st.Message()) > 1100 {
					t.Errorf("message is %d bytes; it must be bounded", len(st.Message()))
				}
				for k, v := range ei.GetMetadata() {
					if len(v) > 2100 {
						t.Errorf("metadata[%s] is %d bytes; it must be bounded", k, len(v))
					}
				}
				assertAgentSafe(t, srv, st, ei)
				limit := tt.maxDuration
				if limit == 0 {
					limit = 2 * time.Second
				}
				if elapsed > limit {
					t.Errorf("the call took %v, want under %v", elapsed, limit)
				}
			})
		}
	}
}

// delayed answers after d, or as soon as the client hangs up, so closing the server never waits.
func delayed(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets net/http notice the client hanging up
		select {
		case <-r.Context().Done():
		case <-time.After(d):
			_, _ = io.WriteString(w, env11(`<addResponse><value>1</value></addResponse>`))
		}
	}
}

// resetAfter takes over the connection, writes raw and resets the connection.
func resetAfter(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = buf.WriteString(raw)
		_ = buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	}
}

func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	_ = l.Close()
	return u
}

// TestCallerDeadlineBoundsTheCall checks that a call gives up at the caller's deadline even when
// the backend's own timeout is longer, and that it frees the backend's request.
func TestCallerDeadlineBoundsTheCall(t *testing.T) {
	t.Parallel()
	hungUp := make(chan struct{})
	_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			close(hungUp)
		case <-time.After(10 * time.Second):
		}
	}), func(b *adapters.Backend) { b.Timeout = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := bindMethod(t, a, addMethod)(ctx, requestFor(addMethod))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if e := time.Since(start); e > time.Second {
		t.Errorf("the call returned after %v, want about 200ms", e)
	}
	select {
	case <-hungUp:
	case <-time.After(2 * time.Second):
		t.Error("the backend's request was not abandoned after the deadline")
	}
}

// TestConcurrentCalls runs calls in parallel through one adapter, for the race detector.
func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			A int `xml:"Body>add>intA"`
			B int `xml:"Body>add>intB"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := xml.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, env11(`<r:addResponse xmlns:r="http://example.com/"><value>`+strconv.Itoa(req.A+req.B)+`</value></r:addResponse>`))
	}), nil)
	add := bindMethod(t, a, addMethod)
	errs := make(chan error, 32)
	for i := range 32 {
		go func() {
			resp, err := add(context.Background(), &testingv1.AddRequest{IntA: int32(i), IntB: 1000})
			if err == nil && resp.(*testingv1.AddResponse).GetValue() != int32(i+1000) {
				err = status.Errorf(codes.Internal, "call %d got %v", i, resp)
			}
			errs <- err
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
