package xmlhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/clbanning/mxj/v2"
	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlhttp"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/contract"
)

// unitService is UnitService from testdata/proto, loaded once so that every test binds and
// calls the same descriptors.
var unitService = sync.OnceValues(func() (protoreflect.ServiceDescriptor, error) {
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{"testdata/proto"}, Protos: []string{"xhttptest/v1/unit.proto"}})
	if err != nil {
		return nil, err
	}
	return set.Service("xhttptest.v1.UnitService")
})

// unitMethod returns a method of UnitService.
func unitMethod(t *testing.T, name string) protoreflect.MethodDescriptor {
	t.Helper()
	sd, err := unitService()
	if err != nil {
		t.Fatal(err)
	}
	return sd.Methods().ByName(protoreflect.Name(name))
}

func binding(call *agentbridgev1.XmlHttpCall, faults ...*agentbridgev1.FaultRule) *agentbridgev1.Binding {
	return &agentbridgev1.Binding{Backend: "unit", Operation: &agentbridgev1.Binding_XmlHttp{XmlHttp: call}, Faults: faults}
}

func name(local, space string) *agentbridgev1.XmlHttpName {
	return &agentbridgev1.XmlHttpName{Name: local, Namespace: space}
}

// recorder is a backend that records each request and answers with a fixed reply.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	status   int
	ctype    string
	body     string
	calls    atomic.Int32
}

type recorded struct {
	method, uri, ctype, accept, body string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests = append(r.requests, recorded{req.Method, req.URL.RequestURI(), req.Header.Get("Content-Type"), req.Header.Get("Accept"), string(body)})
	r.mu.Unlock()
	if r.ctype != "" {
		w.Header().Set("Content-Type", r.ctype)
	}
	w.WriteHeader(r.status)
	_, _ = io.WriteString(w, r.body)
}

func (r *recorder) last(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.requests) == 0 {
		t.Fatal("the backend got no request")
	}
	return r.requests[len(r.requests)-1]
}

func serveRecorder(t *testing.T, r *recorder) string {
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return ts.URL
}

// bindUnit binds a UnitService method to a backend at endpoint.
func bindUnit(t *testing.T, b adapters.Backend, s xmlhttp.Settings, method string, bd *agentbridgev1.Binding) adapters.Unary {
	t.Helper()
	b.Name, b.Kind = "unit", xmlhttp.Kind
	a := xmlhttp.New(b, s, nil)
	t.Cleanup(func() { _ = a.Close() })
	u, err := a.Bind(unitMethod(t, method), bd)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return u
}

func invoke(t *testing.T, u adapters.Unary, md protoreflect.MethodDescriptor, args string) (proto.Message, error) {
	t.Helper()
	req := dynamicpb.NewMessage(md.Input())
	if err := protojson.Unmarshal([]byte(args), req); err != nil {
		t.Fatal(err)
	}
	return u(context.Background(), req)
}

func errorInfo(err error) (codes.Code, *errdetails.ErrorInfo, string) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return st.Code(), ei, st.Message()
		}
	}
	return st.Code(), nil, st.Message()
}

func TestQueryParameters(t *testing.T) {
	r := &recorder{status: 200, ctype: "text/xml", body: `<result><status>ok</status></result>`}
	u := bindUnit(t, adapters.Backend{Endpoint: serveRecorder(t, r) + "/api"}, xmlhttp.Settings{}, "Search",
		binding(&agentbridgev1.XmlHttpCall{Path: "/search/{name}?v=2", Response: name("result", "")}))
	md := unitMethod(t, "Search")
	resp, err := invoke(t, u, md, `{"name":"a b/c","page":2,"tag":["x","y&z"],"color":"COLOR_RED","since":"2026-11-02T09:30:00Z",
		"filter":{"owner":"ö","min_size":"5"},"active":false,"id":"7","limit":0}`)
	if err != nil {
		t.Fatal(err)
	}
	got := r.last(t)
	want := "/api/search/a%20b%2Fc?v=2&page=2&tag=x&tag=y%26z&color=COLOR_RED&since=2026-11-02T09%3A30%3A00Z&filter.owner=%C3%B6&filter.minSize=5&active=false&ID=7&limit=0"
	if got.method != http.MethodGet || got.uri != want || got.body != "" || got.ctype != "" {
		t.Errorf("sent %s %s (Content-Type %q, body %q)\nwant GET %s, no body", got.method, got.uri, got.ctype, got.body, want)
	}
	if got.accept != xmlhttp.DefaultAccept {
		t.Errorf("Accept %q", got.accept)
	}
	if b, _ := protojson.Marshal(resp); string(b) != `{"status":"ok"}` {
		t.Errorf("reply %s", b)
	}
	// Unset fields are not sent; a field without presence at its zero value is unset.
	if _, err := invoke(t, u, md, `{"name":"n"}`); err != nil {
		t.Fatal(err)
	}
	if got := r.last(t).uri; got != "/api/search/n?v=2" {
		t.Errorf("sent %s", got)
	}
	// A URL variable left empty is the caller's mistake, and nothing is sent.
	n := r.calls.Load()
	_, err = invoke(t, u, md, `{"page":1}`)
	if code, ei, msg := errorInfo(err); code != codes.InvalidArgument || ei.GetReason() != "REQUEST_NOT_ENCODABLE" || !strings.Contains(msg, "name is required") {
		t.Errorf("empty variable: %v %v %q", code, ei, msg)
	}
	if r.calls.Load() != n {
		t.Error("a request was sent")
	}
}

func TestPostDocumentAndSettings(t *testing.T) {
	r := &recorder{status: 200, ctype: "application/vnd.acme.result+xml; charset=utf-8", body: `<?xml version="1.0"?><!-- ok --><result><status>queued</status></result>`}
	endpoint := serveRecorder(t, r)
	var b adapters.Backend
	if err := yaml.Unmarshal([]byte("kind: xmlhttp\nendpoint: "+endpoint+"\nxmlhttp:\n  content_type: text/xml\n  accept: text/xml\n"), &b); err != nil {
		t.Fatal(err)
	}
	b.Name = "unit"
	a, err := adapters.New(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.(io.Closer).Close() })
	md := unitMethod(t, "Send")
	u, err := a.Bind(md, binding(&agentbridgev1.XmlHttpCall{Path: "/orders/{sku}", Request: name("order", "urn:acme:orders"), Response: name("result", "")}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := invoke(t, u, md, `{"sku":"A-1","quantity":3,"note":"<fragile> & \"dry\""}`); err != nil {
		t.Fatal(err)
	}
	got := r.last(t)
	want := `<?xml version="1.0" encoding="UTF-8"?><ns0:order xmlns:ns0="urn:acme:orders" sku="A-1"><ns0:quantity>3</ns0:quantity><ns0:note>&lt;fragile&gt; &amp; "dry"</ns0:note></ns0:order>`
	if got.method != http.MethodPost || got.uri != "/orders/A-1" || got.ctype != "text/xml" || got.accept != "text/xml" || got.body != want {
		t.Errorf("sent %s %s %q %q\n%s\nwant POST /orders/A-1 text/xml\n%s", got.method, got.uri, got.ctype, got.accept, got.body, want)
	}
	// A misspelt setting stops the backend at start, with its line.
	if err := yaml.Unmarshal([]byte("kind: xmlhttp\nendpoint: "+endpoint+"\nxmlhttp:\n  content_typ: text/xml\n"), &b); err != nil {
		t.Fatal(err)
	}
	if _, err := adapters.New(b); err == nil || !strings.Contains(err.Error(), `line 4: unknown setting "content_typ"`) || !strings.Contains(err.Error(), `did you mean "content_type"`) {
		t.Errorf("misspelt setting: %v", err)
	}
}

func TestBindErrors(t *testing.T) {
	a := xmlhttp.New(adapters.Backend{Name: "unit", Kind: xmlhttp.Kind, Endpoint: "http://127.0.0.1:1"}, xmlhttp.Settings{}, nil)
	t.Cleanup(func() { _ = a.Close() })
	for _, tt := range []struct {
		method string
		call   *agentbridgev1.XmlHttpCall
		want   string
	}{
		{"Search", &agentbridgev1.XmlHttpCall{Method: "GET", Request: name("q", ""), Response: name("r", "")}, "a GET, which sends no document"},
		{"Send", &agentbridgev1.XmlHttpCall{Method: "PUT", Response: name("r", "")}, "it needs request.name"},
		{"Send", &agentbridgev1.XmlHttpCall{Method: "DELETE", Response: name("r", "")}, `method "DELETE" is not GET, POST or PUT`},
		{"Search", &agentbridgev1.XmlHttpCall{}, "needs response.name"},
		{"Search", &agentbridgev1.XmlHttpCall{Response: name("", "urn:x")}, "a namespace but no name"},
		{"Search", &agentbridgev1.XmlHttpCall{Response: name("ns:r", "")}, "not an XML local name"},
		{"Search", &agentbridgev1.XmlHttpCall{Path: "/x/{nope}", Response: name("r", "")}, `has no field "nope"`},
		{"Label", &agentbridgev1.XmlHttpCall{Response: name("r", "")}, "is a map, which a GET cannot send"},
		{"Search", &agentbridgev1.XmlHttpCall{Response: name("r", ""), ErrorDocument: &agentbridgev1.XmlHttpErrorDocument{}}, "error_document needs root, path or both"},
		{"Search", &agentbridgev1.XmlHttpCall{ReplyPaths: []*agentbridgev1.FieldPath{{Field: "nope", Path: "a"}}}, `has no field "nope"`},
	} {
		_, err := a.Bind(unitMethod(t, tt.method), binding(tt.call))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v; want %q", tt.call, err, tt.want)
		}
	}
	if _, err := a.Bind(unitMethod(t, "Search"), &agentbridgev1.Binding{Backend: "unit"}); err == nil || !strings.Contains(err.Error(), "no xml_http call") {
		t.Errorf("no call: %v", err)
	}
}

// An error document recognized by a path and value, mapped by the backend's fault rules from
// the config; a fault is the backend's answer, so the guard does not retry it.
func TestErrorDocumentByPath(t *testing.T) {
	r := &recorder{status: 200, ctype: "application/xml", body: `<response status="error"><error code="E42"><text>quota used up</text><where>billing</where></error></response>`}
	b := adapters.Backend{Endpoint: serveRecorder(t, r), Faults: []adapters.FaultRule{
		{FaultCode: "E42", FaultDetail: &adapters.FaultDetailMatch{Element: "where", Value: ptr("billing")}, Status: "RESOURCE_EXHAUSTED", Reason: "QUOTA_USED_UP"},
	}}
	call := &agentbridgev1.XmlHttpCall{Response: name("response", ""), ErrorDocument: &agentbridgev1.XmlHttpErrorDocument{
		Path: "response.-status", Value: ptr("error"), CodePath: "response.error.-code", MessagePath: "response.error.text"}}
	u := bindUnit(t, b, xmlhttp.Settings{}, "Search", binding(call))
	md := unitMethod(t, "Search")
	guard := adapters.NewGuard(adapters.Backend{Name: "unit", Retry: adapters.RetryPolicy{MaxAttempts: 3}}.WithDefaults())
	_, err := guard.Unary(md, u)(context.Background(), dynamicpb.NewMessage(md.Input()))
	code, ei, msg := errorInfo(err)
	if code != codes.ResourceExhausted || ei.GetReason() != "QUOTA_USED_UP" || ei.GetMetadata()["fault_code"] != "E42" ||
		ei.GetMetadata()["fault_rule"] != "backend:unit:0" || msg != "backend unit rejected the request: quota used up" {
		t.Errorf("got %v %v %q", code, ei, msg)
	}
	if n := r.calls.Load(); n != 1 {
		t.Errorf("%d calls; a fault is the backend's answer and is not retried", n)
	}
	// Without the value, the same root is a reply.
	r.body = `<response status="ok"><status>done</status></response>`
	resp, err := invoke(t, u, md, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := protojson.Marshal(resp); string(b) != `{"status":"done"}` {
		t.Errorf("reply %s", b)
	}
}

func ptr[T any](v T) *T { return &v }

// Paths over a document nested past the codec's depth limit fail on the limit, not on memory.
func TestPathsLimits(t *testing.T) {
	deep := strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200)
	r := &recorder{status: 200, ctype: "application/xml", body: deep}
	u := bindUnit(t, adapters.Backend{Endpoint: serveRecorder(t, r)}, xmlhttp.Settings{}, "Search",
		binding(&agentbridgev1.XmlHttpCall{ReplyPaths: []*agentbridgev1.FieldPath{{Field: "status", Path: "a.a"}}}))
	_, err := invoke(t, u, unitMethod(t, "Search"), `{}`)
	if code, ei, msg := errorInfo(err); code != codes.Internal || ei.GetReason() != "BACKEND_REPLY_INVALID" || !strings.Contains(msg, "nested deeper than 64") {
		t.Errorf("got %v %v %q", code, ei, msg)
	}
	// A path that finds nothing names the field and the path.
	r.body = `<a><b>1</b></a>`
	_, err = invoke(t, u, unitMethod(t, "Search"), `{}`)
	if code, ei, msg := errorInfo(err); code != codes.Internal || ei.GetMetadata()["field"] != "status" || ei.GetMetadata()["path"] != "a.a" || !strings.Contains(msg, "no value at this path") {
		t.Errorf("got %v %v %q", code, ei, msg)
	}
}

// The map the kind reads for paths has the shape mxj.NewMapXml gives, so paths written against
// mxj's documentation hold.
func TestTreeMatchesMxj(t *testing.T) {
	doc := `<?xml version="1.0"?><ns:a xmlns:ns="urn:x" id="1"><ns:b>x</ns:b><b> y </b><c k="v">t</c><e/><l>1</l><l>2</l><m><n>3</n></m></ns:a>`
	want, err := mxj.NewMapXml([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	delete(want["a"].(map[string]any), "-ns") // mxj keeps xmlns:ns as an attribute; the kind does not
	got := xmlhttp.ReadTreeForTest(t, doc)
	if !reflect.DeepEqual(map[string]any(got), map[string]any(want)) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("got  %s\nwant %s", g, w)
	}
}
