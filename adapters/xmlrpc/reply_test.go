package xmlrpc

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
)

// canned is an HTTP reply a test backend sends.
type canned struct {
	status int
	header map[string]string
	body   string
}

// cannedBackend answers every call with the reply set last, and keeps the last request.
type cannedBackend struct {
	mu       sync.Mutex
	reply    canned
	lastReq  *http.Request
	lastBody string
}

func (c *cannedBackend) set(r canned) {
	c.mu.Lock()
	c.reply = r
	c.mu.Unlock()
}

func (c *cannedBackend) last() (*http.Request, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastReq, c.lastBody
}

func (c *cannedBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	reply := c.reply
	c.lastReq, c.lastBody = r, string(body)
	c.mu.Unlock()
	ct := "text/xml"
	if v, ok := reply.header["Content-Type"]; ok {
		ct = v
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	for k, v := range reply.header {
		if k != "Content-Type" {
			w.Header().Set(k, v)
		}
	}
	if reply.status == 0 {
		reply.status = http.StatusOK
	}
	w.WriteHeader(reply.status)
	_, _ = io.WriteString(w, reply.body)
}

func startCanned(t *testing.T) (*cannedBackend, string) {
	t.Helper()
	c := &cannedBackend{}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, srv.URL + "/RPC2"
}

// result wraps a value's XML as a methodResponse.
func result(valueXML string) string {
	return `<?xml version="1.0"?><methodResponse><params><param><value>` + valueXML + `</value></param></params></methodResponse>`
}

func faultReply(members string) string {
	return `<?xml version="1.0"?><methodResponse><fault><value><struct>` + members + `</struct></value></fault></methodResponse>`
}

const goodTicket = `<struct>
	<member><name>id</name><value><i4>7</i4></value></member>
	<member><name>title</name><value>untyped is a string</value></member>
	<member><name>owner</name><value><string>ops</string></value></member>
	<member><name>tags</name><value><array><data><value>a</value><value><string>b</string></value></data></array></value></member>
	<member><name>opened</name><value><dateTime.iso8601>20261129T08:30:00</dateTime.iso8601></value></member>
</struct>`

// TestBadReplies sends every kind of bad input a backend or a proxy in front of it produces;
// each is a clear status, and the adapter serves the next call.
func TestBadReplies(t *testing.T) {
	t.Parallel()
	c, url := startCanned(t)
	b := backendOf(t, url, "")
	b.MaxReplyBytes = 6 << 20
	m := bindAll(t, b)
	deep := "<array><data>" + strings.Repeat("<value><array><data>", 100_000) + strings.Repeat("</data></array></value>", 100_000) + "</data></array>"
	for _, tc := range []struct {
		name   string
		reply  canned
		code   codes.Code
		reason adapters.Reason
		parts  []string
	}{
		{"JSON", canned{header: map[string]string{"Content-Type": "application/json"}, body: `{"id": 7}`},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"JSON", "not an XML-RPC methodResponse"}},
		{"JSON as text/xml", canned{body: `{"jsonrpc": "2.0", "result": 7}`},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"answered with JSON"}},
		{"HTML page 200", canned{header: map[string]string{"Content-Type": "text/html"}, body: `<!DOCTYPE html><html><body>Login</body></html>`},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"an HTML page"}},
		{"HTML page 502", canned{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: `<html><body>Bad gateway</body></html>`},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"HTTP 502", "without an XML-RPC fault", "HTML page"}},
		{"HTML page as text/xml", canned{body: `<!DOCTYPE html><html><body>oops</body></html>`},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"HTML page"}},
		{"text/plain", canned{header: map[string]string{"Content-Type": "text/plain"}, body: result(`<int>1</int>`)},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{`Content-Type "text/plain"`}},
		{"partial page", canned{body: result(goodTicket)[:200]},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"malformed XML"}},
		{"empty body", canned{body: ""},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"the body is empty"}},
		{"other XML", canned{body: `<methodCall><methodName>x</methodName></methodCall>`},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"root element is methodCall"}},
		{"DOCTYPE", canned{body: `<?xml version="1.0"?><!DOCTYPE methodResponse [<!ENTITY x "y">]>` + result(`<int>1</int>`)[21:]},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"document type declarations are not allowed"}},
		{"429 Retry-After", canned{status: 429, header: map[string]string{"Retry-After": "7"}, body: "slow down"},
			codes.ResourceExhausted, adapters.ReasonBackendRateLimited, nil},
		{"500 no fault", canned{status: 500, body: "<error/>"},
			codes.Unavailable, adapters.ReasonBackendBadReply, []string{"HTTP 500", "without an XML-RPC fault"}},
		{"over the bound", canned{body: result("<string>" + strings.Repeat("x", 7<<20) + "</string>")},
			codes.ResourceExhausted, adapters.ReasonReplyTooLarge, nil},
		{"neither params nor fault", canned{body: `<methodResponse></methodResponse>`},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"neither params nor a fault"}},
		{"two params", canned{body: `<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>`},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"more than one param"}},
		{"params and fault", canned{body: `<methodResponse><params><param><value>a</value></param></params><fault><value><struct/></value></fault></methodResponse>`},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"one params or one fault"}},
		{"fault without faultCode", canned{body: faultReply(`<member><name>faultString</name><value>x</value></member>`)},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"no faultCode"}},
		{"fault not a struct", canned{body: `<methodResponse><fault><value><int>4</int></value></fault></methodResponse>`},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"not a struct"}},
		{"unknown type", canned{body: result(`<decimal>1.5</decimal>`)},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"type decimal, which XML-RPC does not have"}},
		{"nested 100k deep", canned{body: result(deep)},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"decoding limits", "nested deeper than 64"}},
		{"two values", canned{body: result(`<int>1</int><int>2</int>`)},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"one type element"}},
		{"int holds element", canned{body: result(`<int><b/></int>`)},
			codes.Internal, adapters.ReasonBackendReplyInvalid, []string{"holds only text"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.set(tc.reply)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := call(t, m, "GetTicket", `{"ticketId": 7}`)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			o := outcomeOf(t, err)
			o.want(t, tc.code, tc.reason, tc.parts...)
			if tc.name == "nested 100k deep" {
				// The 4.3 MB reply is read up to depth 64: its decoding allocates a little
				// beyond the body the transport holds.
				if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
					t.Errorf("decoding allocated %d bytes", grew)
				}
			}
			if tc.name == "429 Retry-After" {
				st, _ := status.FromError(err)
				found := false
				for _, d := range st.Details() {
					if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().GetSeconds() == 7 {
						found = true
					}
				}
				if !found {
					t.Errorf("no RetryInfo of 7s in %v", st.Details())
				}
			}
			if strings.Contains(o.message, "goroutine") || strings.Contains(o.message, url) {
				t.Errorf("message leaks: %s", o.message)
			}
			// The bridge is healthy after: the next call succeeds.
			c.set(canned{body: result(goodTicket)})
			got, err := call(t, m, "GetTicket", `{"ticketId": 7}`)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, got, `{"id": 7, "title": "untyped is a string", "owner": "ops", "tags": ["a", "b"], "opened": "2026-11-29T08:30:00Z"}`)
		})
	}
}

// TestRepliesThatDoNotFit: unknown members, wrong types, nils and missing members, each an
// error naming the path from the return value down.
func TestRepliesThatDoNotFit(t *testing.T) {
	t.Parallel()
	c, url := startCanned(t)
	m := bindAll(t, backendOf(t, url, ""))
	ticket := func(extra string) string {
		return `<struct><member><name>id</name><value><int>1</int></value></member>
			<member><name>title</name><value>t</value></member><member><name>owner</name><value>o</value></member>` + extra + `</struct>`
	}
	for _, tc := range []struct {
		name, method, reply string
		parts               []string
	}{
		{"unknown member", "ListTickets", `<array><data><value>` + ticket("") + `</value><value>` + ticket(`<member><name>priority</name><value><int>3</int></value></member>`) + `</value></data></array>`,
			[]string{`result[1].priority: the reply has member "priority", which no field of xrpctest.v1.Ticket names`}},
		{"string for int", "GetTicket", `<struct><member><name>id</name><value>seven</value></member></struct>`,
			[]string{"result.id: is a string, but field xrpctest.v1.Ticket.id (int32) takes an int"}},
		{"int out of range", "GetTicket", `<struct><member><name>id</name><value><i8>5000000000</i8></value></member></struct>`,
			[]string{"result.id: field xrpctest.v1.Ticket.id: 5000000000 is outside the range of int32"}},
		{"array for string", "GetTicket", ticket(`<member><name>tags</name><value><string>x</string></value></member>`),
			[]string{"result.tags: is a string, but field xrpctest.v1.Ticket.tags is a list"}},
		{"nil without presence", "GetTicket", `<struct><member><name>id</name><value><nil/></value></member></struct>`,
			[]string{"result.id: nil for field xrpctest.v1.Ticket.id, which has no presence"}},
		{"nil in a list", "GetTicket", ticket(`<member><name>tags</name><value><array><data><value><nil/></value></data></array></value></member>`),
			[]string{"result.tags[0]: nil in an array"}},
		{"missing member", "GetTicket", `<struct><member><name>id</name><value><int>1</int></value></member></struct>`,
			[]string{"result.title: the reply has no such member", "mark the field optional"}},
		{"NaN into a Value", "Echo", `<double>NaN</double>`,
			[]string{"result: NaN has no JSON form"}},
		{"year 0", "GetTicket", ticket(`<member><name>opened</name><value><dateTime.iso8601>00001231T23:00:00</dateTime.iso8601></value></member>`),
			[]string{"outside the years 0001 to 9999"}},
		{"missing REQUIRED member", "GetSure", `<struct></struct>`,
			[]string{"result.id: the reply has no such member, but field xrpctest.v1.Sure.id is REQUIRED"}},
		{"not a struct", "GetTicket", `<int>1</int>`,
			[]string{"the method returned an int, but without result_field the return value must be a struct"}},
		{"bad dateTime", "GetTicket", ticket(`<member><name>opened</name><value><dateTime.iso8601>yesterday</dateTime.iso8601></value></member>`),
			[]string{`result.opened: "yesterday" is not a dateTime.iso8601`}},
		{"bad boolean", "GetAllTypes", `<struct><member><name>flag</name><value><boolean>yes</boolean></value></member></struct>`,
			[]string{`result.flag: field xrpctest.v1.AllTypes.flag: boolean "yes" is neither 0 nor 1`}},
		{"bad base64", "GetAllTypes", `<struct><member><name>blob</name><value><base64>!!</base64></value></member></struct>`,
			[]string{"result.blob", "is not valid base64"}},
		{"empty result for empty response", "RaiseFault", `<string>ok</string>`,
			[]string{"returned a string, but xrpctest.v1.Empty has no field to hold it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.set(canned{body: result(tc.reply)})
			req := `{}`
			if tc.method == "GetTicket" {
				req = `{"ticketId": 1}`
			}
			_, err := call(t, m, protoName(tc.method), req)
			outcomeOf(t, err).want(t, codes.Internal, adapters.ReasonBackendReplyInvalid, tc.parts...)
		})
	}
}

// TestLenientSkipsUnknownMembers: a lenient backend skips a member no field names, counts it
// and logs it once per path.
func TestLenientSkipsUnknownMembers(t *testing.T) {
	t.Parallel()
	c, url := startCanned(t)
	b := backendOf(t, url, "")
	b.Name, b.Lenient = "lenient-peer", true
	m := bindAll(t, b)
	c.set(canned{body: result(`<struct><member><name>id</name><value><int>1</int></value></member>
		<member><name>title</name><value>t</value></member><member><name>owner</name><value>o</value></member>
		<member><name>priority</name><value><int>3</int></value></member></struct>`)})
	before := adapters.SkippedCount("lenient-peer")
	got, err := call(t, m, "GetTicket", `{"ticketId": 1}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"id": 1, "title": "t", "owner": "o"}`)
	if n := adapters.SkippedCount("lenient-peer") - before; n != 1 {
		t.Errorf("skipped %v members, want 1", n)
	}
}

// TestValueForms reads every form a value comes in: int, i4, i8, the Apache extensions ex:i8
// and ex:nil, a dateTime with dashes or a zone, a value without a type, a fault over HTTP 500,
// a Latin-1 reply.
func TestValueForms(t *testing.T) {
	t.Parallel()
	c, url := startCanned(t)
	m := bindAll(t, backendOf(t, url, "  timezone: America/New_York\n"))
	const ex = `xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"`
	for _, tc := range []struct{ name, reply, want string }{
		{"int forms", `<array><data><value><int>1</int></value><value><i4>-2</i4></value><value><i8>9007199254740992</i8></value><value><ex:i8 ` + ex + `>4</ex:i8></value><value> <int> +5 </int> </value></data></array>`,
			`{"result": [1, -2, 9007199254740992, 4, 5]}`},
		{"nil forms", `<array><data><value><nil/></value><value><ex:nil ` + ex + `/></value></data></array>`, `{"result": [null, null]}`},
		{"dateTime in the backend's zone", `<dateTime.iso8601>20260704T12:00:00</dateTime.iso8601>`, `{"result": "2026-07-04T12:00:00-04:00"}`},
		{"dateTime with dashes and a zone", `<dateTime.iso8601>2026-07-04T12:00:00Z</dateTime.iso8601>`, `{"result": "2026-07-04T12:00:00Z"}`},
		{"untyped value", `  plain  `, `{"result": "  plain  "}`},
		{"empty string", `<string/>`, `{"result": ""}`},
		{"double", `<double>-0.5</double>`, `{"result": -0.5}`},
		{"base64", `<base64>aGk=</base64>`, `{"result": "aGk="}`},
		{"empty struct and array", `<struct><member><name>a</name><value><array><data/></array></value></member></struct>`, `{"result": {"a": []}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.set(canned{body: result(tc.reply)})
			got, err := call(t, m, "Echo", `{"result": 1}`)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, got, tc.want)
		})
	}

	c.set(canned{status: 500, body: faultReply(`<member><name>faultCode</name><value><int>-32601</int></value></member>
		<member><name>faultString</name><value><string>no such method at ` + url + `</string></value></member>
		<member><name>faultCause</name><value>java.lang.NoSuchMethodException</value></member>`)})
	_, err := call(t, m, "Echo", `{"result": 1}`)
	o := outcomeOf(t, err)
	o.want(t, codes.Internal, adapters.ReasonBackendFault, "(fault -32601)")
	if strings.Contains(o.message, url) || o.meta["http_status"] != "500" || o.meta["fault_detail"] != "faultCause: java.lang.NoSuchMethodException" {
		t.Errorf("%s %v", o.message, o.meta)
	}

	c.set(canned{header: map[string]string{"Content-Type": "text/xml; charset=ISO-8859-1"}, body: result("<string>caf\xe9</string>")})
	got, err := call(t, m, "Echo", `{"result": 1}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"result": "café"}`)
	c.set(canned{body: `<?xml version="1.0" encoding="ISO-8859-1"?><methodResponse><params><param><value>na` + "\xef" + `ve</value></param></params></methodResponse>`})
	got, err = call(t, m, "Echo", `{"result": 1}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"result": "naïve"}`)
}

// TestRequestForm checks the methodCall the bridge writes: POST text/xml to the binding's
// path, JSON member names, an enum as its number, a Timestamp in the backend's zone.
func TestRequestForm(t *testing.T) {
	t.Parallel()
	c, url := startCanned(t)
	m := bindAll(t, backendOf(t, url, ""))
	c.set(canned{body: result(`<struct><member><name>sku</name><value>A-1</value></member><member><name>color</name><value><int>2</int></value></member></struct>`)})
	got, err := call(t, m, "PutItem", `{"sku": "A-1", "quantity": 3, "color": "COLOR_RED"}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"sku": "A-1", "color": "COLOR_GREEN"}`)
	req, body := c.last()
	if req.Method != http.MethodPost || req.URL.Path != "/RPC2/items/RPC2" || req.Header.Get("Content-Type") != "text/xml; charset=utf-8" {
		t.Errorf("%s %s %s", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	const want = `<?xml version="1.0" encoding="UTF-8"?>
<methodCall><methodName>item.put</methodName><params><param><value><string>A-1</string></value></param><param><value><int>3</int></value></param><param><value><int>1</int></value></param></params></methodCall>
`
	if body != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
}

// TestBindErrors: mistakes in a binding fail at start, naming what to fix.
func TestBindErrors(t *testing.T) {
	t.Parallel()
	const proto = `
syntax = "proto3";
package xrpcbad.v1;
import "agentbridge/v1/options.proto";
import "agentbridge/v1/xmlrpc.proto";
import "google/protobuf/duration.proto";
message M { string a = 1; }
message D { google.protobuf.Duration d = 1; }
message Dup { string a = 1; string b = 2 [(agentbridge.v1.xmlrpc_member) = "a"]; }
service S {
  rpc NoMethod(M) returns (M) { option (agentbridge.v1.binding) = {backend: "b", xmlrpc: {}}; }
  rpc BadResult(M) returns (M) { option (agentbridge.v1.binding) = {backend: "b", xmlrpc: {method: "x", result_field: "nope"}}; }
  rpc Duration(D) returns (M) { option (agentbridge.v1.binding) = {backend: "b", xmlrpc: {method: "x"}}; }
  rpc DupNames(Dup) returns (M) { option (agentbridge.v1.binding) = {backend: "b", xmlrpc: {method: "x"}}; }
  rpc NotXmlRpc(M) returns (M) { option (agentbridge.v1.binding) = {backend: "b", soap: {}}; }
}`
	sd := compileExtra(t, proto).Services().ByName("S")
	a, err := adapters.New(adapters.Backend{Name: "b", Kind: Kind, Endpoint: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = adapters.BindService(sd, map[string]adapters.Adapter{"b": a})
	for _, want := range []string{
		"NoMethod: the xmlrpc binding needs method",
		`BadResult: the xmlrpc binding's result_field "nope" is not a field of xrpcbad.v1.M`,
		"Duration: field xrpcbad.v1.D.d: google.protobuf.Duration has no XML-RPC form",
		`DupNames: fields a and b of xrpcbad.v1.Dup have the same XML-RPC member name "a"`,
		"NotXmlRpc: backend \"b\" is of kind xmlrpc but the binding has no xmlrpc call",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestSettings: the xmlrpc: section is decoded strictly; a bad zone stops the start.
func TestSettings(t *testing.T) {
	t.Parallel()
	for settings, want := range map[string]string{
		"  timezone: Mars/Olympus\n": `timezone "Mars/Olympus" is not an IANA time zone name`,
		"  nill: true\n":             `unknown setting "nill"`,
	} {
		_, err := adapters.New(backendOf(t, "http://127.0.0.1:1/", settings))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", settings, err, want)
		}
	}
}

// TestFaultRuleOnExtraMember: a rule's fault_detail names a member of the fault struct beside
// faultCode and faultString, and fault_string matches the text.
func TestFaultRuleOnExtraMember(t *testing.T) {
	t.Parallel()
	c, url := startCanned(t)
	b := backendOf(t, url, "")
	cause := "java.lang.IllegalArgumentException"
	b.Faults = []adapters.FaultRule{
		{FaultDetail: &adapters.FaultDetailMatch{Element: "faultCause", Value: &cause}, Status: "INVALID_ARGUMENT", Reason: "BAD_ARGUMENT"},
		{FaultString: "^quota", Status: "RESOURCE_EXHAUSTED", Reason: "QUOTA"},
	}
	m := bindAll(t, b)
	c.set(canned{body: faultReply(`<member><name>faultCode</name><value><int>0</int></value></member>
		<member><name>faultString</name><value>bad id</value></member>
		<member><name>faultCause</name><value>` + cause + `</value></member>`)})
	_, err := call(t, m, "Echo", `{"result": 1}`)
	outcomeOf(t, err).want(t, codes.InvalidArgument, "BAD_ARGUMENT", "backend peer rejected the request: bad id (fault 0)")
	c.set(canned{body: faultReply(`<member><name>faultCode</name><value><string>Server</string></value></member>
		<member><name>faultString</name><value>quota exceeded</value></member>`)})
	_, err = call(t, m, "Echo", `{"result": 1}`)
	o := outcomeOf(t, err)
	o.want(t, codes.ResourceExhausted, "QUOTA", "quota exceeded (fault Server)")
	if o.meta["fault_code"] != "Server" || o.meta["fault_rule"] != "backend:peer:1" {
		t.Errorf("metadata %v", o.meta)
	}
}

// TestNilIntoFieldsWithPresence: nil leaves an optional field, a message and a wrapper unset,
// and makes a Value null.
func TestNilIntoFieldsWithPresence(t *testing.T) {
	t.Parallel()
	c, url := startCanned(t)
	m := bindAll(t, backendOf(t, url, ""))
	c.set(canned{body: result(`<struct><member><name>sku</name><value>A-1</value></member>
		<member><name>quantity</name><value><nil/></value></member><member><name>color</name><value>RED</value></member></struct>`)})
	got, err := call(t, m, "PutItem", `{"sku": "A-1", "quantity": 1}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"sku": "A-1", "color": "COLOR_RED"}`)
	c.set(canned{body: result(`<struct><member><name>nothing</name><value><nil/></value></member><member><name>anything</name><value><nil/></value></member>
		<member><name>i</name><value><int>0</int></value></member><member><name>neg</name><value><int>0</int></value></member>
		<member><name>flag</name><value><boolean>0</boolean></value></member><member><name>text</name><value></value></member>
		<member><name>ratio</name><value><double>0</double></value></member><member><name>blob</name><value><base64></base64></value></member>
		<member><name>when</name><value><nil/></value></member></struct>`)})
	got, err = call(t, m, "GetAllTypes", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{}`)
}
