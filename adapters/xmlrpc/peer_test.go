package xmlrpc

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/agentbridge/agentbridge/adapters"
)

// The tests in this file call Python's standard xmlrpc.server (testdata/peer.py), a peer
// nobody in this project wrote.

// TestPeerEveryTypeFromPython reads a struct with a member of every type, as Python's
// marshaller writes them (dateTime without a zone, base64 across lines, <nil/>).
func TestPeerEveryTypeFromPython(t *testing.T) {
	t.Parallel()
	m := bindAll(t, backendOf(t, startPeer(t), ""))
	got, err := call(t, m, "GetAllTypes", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{
		"i": 42, "neg": -7, "flag": true, "text": "h\u00e9llo <&> \u4e16\u754c", "ratio": 3.25,
		"when": "2026-01-02T03:04:05Z", "blob": "AAFiaW5hcnn/", "items": [1, 2, 3],
		"labels": {"color": "red", "size": "L"},
		"anything": [1, "two", 3.5, {"k": false}, null]
	}`)
}

// TestPeerEveryTypeRoundTrip sends every type to Python's echo and reads it back: what
// Python reads of the bridge's XML it writes again. (A carriage return does not survive the
// trip: the bridge sends it as &#13;, but Python writes it back raw, which XML reads as a line
// feed.)
func TestPeerEveryTypeRoundTrip(t *testing.T) {
	t.Parallel()
	m := bindAll(t, backendOf(t, startPeer(t), "  nil: true\n"))
	in := `{
		"i": 2147483647, "neg": -2147483648, "flag": true, "text": "a\nb\tc <&> \"q\" \u00e9\u4e16 \ud83d\ude00",
		"ratio": 0.1, "when": "1999-12-31T23:59:59Z", "blob": "AAEC/w==", "items": [0, 1],
		"labels": {"": "empty key", "k<&>": "v"}, "nothing": "set",
		"anything": [null, 1, -1.5, "s", true, {"deep": [[]]}]
	}`
	got, err := call(t, m, "EchoAll", in)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, in)

	for _, v := range []string{`null`, `"text"`, `12`, `1.5`, `true`, `{"a": {"b": [1, null]}}`, `[]`, `{}`} {
		got, err := call(t, m, "Echo", `{"result": `+v+`}`)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		sameJSON(t, got, `{"result": `+v+`}`)
	}
}

// TestPeerReadsEveryParam checks what Python read of each type the bridge sends: positional
// params in field-number order (i, number 9, is declared last but sent ninth), an int64 as int or i8, a Timestamp as a naive datetime, bytes
// as bytes, an enum by name, a nested message as a struct with its member names.
func TestPeerReadsEveryParam(t *testing.T) {
	t.Parallel()
	m := bindAll(t, backendOf(t, startPeer(t), ""))
	got, err := call(t, m, "Describe", `{
		"a": -5, "b": "5000000000", "c": true, "d": "x", "e": 2.5, "f": "2026-11-29T08:30:00Z",
		"g": "aGk=", "h": "COLOR_RED", "i": "ninth", "j": ["p", "q"], "k": {"name": "N", "n": 1},
		"l": {"one": 1}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"result": [
		"int:-5", "int:5000000000", "bool:True", "str:'x'", "float:2.5",
		"datetime:datetime.datetime(2026, 11, 29, 8, 30)", "bytes:b'hi'", "str:'COLOR_RED'",
		"str:'ninth'", "list:['p', 'q']", "dict:{'Name': 'N', 'n': 1}", "dict:{'one': 1}"
	]}`)

	// The timezone setting writes a Timestamp in the backend's zone.
	berlin := bindAll(t, backendOf(t, startPeer(t), "  timezone: Europe/Berlin\n"))
	got, err = call(t, berlin, "Describe", `{"f": "2026-11-29T08:30:00Z", "i": "", "k": {}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "datetime.datetime(2026, 11, 29, 9, 30)") {
		t.Errorf("Europe/Berlin: %s", got)
	}
}

// TestPeerI8 finds out what Python does with 64-bit integers: it reads <i8> (and <int> beyond
// 32 bits), but its marshaller refuses to write an int beyond 32 bits, answering with fault 1
// (OverflowError) instead. With i8: true every int64 field goes as <i8>, which Python reads.
func TestPeerI8(t *testing.T) {
	t.Parallel()
	url := startPeer(t)
	m := bindAll(t, backendOf(t, url, ""))
	got, err := call(t, m, "DescribeWide", `{"n": "-9223372036854775808", "u": "9223372036854775807"}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"result": ["int:-9223372036854775808", "int:9223372036854775807"]}`)

	_, err = call(t, m, "DescribeWide", `{"u": "9223372036854775808"}`)
	outcomeOf(t, err).want(t, codes.InvalidArgument, adapters.ReasonRequestNotEncodable, "field u", "beyond XML-RPC's largest integer")

	o := outcomeOf(t, func() error { _, err := call(t, m, "GetBig", `{}`); return err }())
	o.want(t, codes.Internal, adapters.ReasonBackendFault, "int exceeds XML-RPC limits", "(fault 1)")
	if o.meta["fault_code"] != "1" {
		t.Errorf("metadata %v", o.meta)
	}

	wide := bindAll(t, backendOf(t, url, "  i8: true\n"))
	got, err = call(t, wide, "DescribeWide", `{"n": "1", "u": "2"}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"result": ["int:1", "int:2"]}`)
}

// TestPeerFaults maps Python's faults: code and string in the metadata, a fault rule's status,
// a Python exception's fault 1 without its traceback.
func TestPeerFaults(t *testing.T) {
	t.Parallel()
	m := bindAll(t, backendOf(t, startPeer(t), ""))

	o := outcomeOf(t, func() error {
		_, err := call(t, m, "RaiseFault", `{"code": 42, "text": "the answer is wrong"}`)
		return err
	}())
	o.want(t, codes.Internal, adapters.ReasonBackendFault, "backend peer failed: the answer is wrong (fault 42)")
	if o.meta["fault_code"] != "42" || o.meta["fault_string"] != "the answer is wrong" || o.meta["http_status"] != "200" {
		t.Errorf("metadata %v", o.meta)
	}

	o = outcomeOf(t, func() error { _, err := call(t, m, "GetTicket", `{"ticketId": 404}`); return err }())
	o.want(t, codes.NotFound, "NO_SUCH_TICKET", "backend peer rejected the request: ticket 404 does not exist (fault 404)")
	if o.meta["fault_rule"] != "method:0" {
		t.Errorf("metadata %v", o.meta)
	}

	got, err := call(t, m, "GetTicket", `{"ticketId": 7}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"id": 7, "title": "Printer on fire", "owner": "ops", "tags": ["hardware", "urgent"], "opened": "2026-11-29T08:30:00Z"}`)

	o = outcomeOf(t, func() error { _, err := call(t, m, "Crash", `{}`); return err }())
	o.want(t, codes.Internal, adapters.ReasonBackendFault, "ValueError", "secret internal state")

	// The backend's rules from the config apply after the method's.
	b := backendOf(t, startPeer(t), "")
	b.Faults = []adapters.FaultRule{{FaultCode: "42", Status: "FAILED_PRECONDITION", Reason: "WRONG_ANSWER", Hint: "Ask another question."}}
	m = bindAll(t, b)
	o = outcomeOf(t, func() error { _, err := call(t, m, "RaiseFault", `{"code": 42, "text": "no"}`); return err }())
	o.want(t, codes.FailedPrecondition, "WRONG_ANSWER", "rejected the request: no (fault 42). Ask another question.")
	if o.meta["fault_rule"] != "backend:peer:0" {
		t.Errorf("metadata %v", o.meta)
	}
}

// TestPeerPositionalParams sends unset optional fields: trailing ones are left out, a middle
// one is an error without the nil extension and <nil/> with it.
func TestPeerPositionalParams(t *testing.T) {
	t.Parallel()
	url := startPeer(t)
	m := bindAll(t, backendOf(t, url, ""))
	got, err := call(t, m, "Params", `{"a": "x"}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"result": ["x"]}`)
	got, err = call(t, m, "Params", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{}`)

	_, err = call(t, m, "Params", `{"a": "x", "c": "z"}`)
	outcomeOf(t, err).want(t, codes.InvalidArgument, adapters.ReasonRequestNotEncodable, "field b: is unset, but a later parameter (c) is set", "nil: true")

	withNil := bindAll(t, backendOf(t, url, "  nil: true\n"))
	got, err = call(t, withNil, "Params", `{"a": "x", "c": "z"}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"result": ["x", null, "z"]}`)
}

// TestPeerSideEffects counts what reached Python: a call is sent once, and a fault, even one
// a rule maps to UNAVAILABLE, is the backend's answer: not retried by the guard.
func TestPeerSideEffects(t *testing.T) {
	t.Parallel()
	m := bindAll(t, backendOf(t, startPeer(t), ""))
	for want := 1; want <= 3; want++ {
		got, err := call(t, m, "CounterAdd", `{"n": 1}`)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, got, `{"n": `+string(rune('0'+want))+`}`)
	}
	_, err := call(t, m, "CounterFault", `{"n": 10}`)
	o := outcomeOf(t, err)
	o.want(t, codes.Unavailable, "LEDGER_BUSY", "the ledger is busy (fault 503)")
	if o.meta["fault_code"] != "503" {
		t.Errorf("metadata %v: fault_code tells the guard the backend answered", o.meta)
	}
	got, err := call(t, m, "CounterGet", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, got, `{"n": 13}`)
}

// TestPeerHTTPErrors calls a path Python does not serve (404) and a method it does not have.
func TestPeerHTTPErrors(t *testing.T) {
	t.Parallel()
	url := startPeer(t)
	m := bindAll(t, backendOf(t, strings.TrimSuffix(url, "/RPC2")+"/nowhere", ""))
	_, err := call(t, m, "CounterGet", `{}`)
	o := outcomeOf(t, err)
	o.want(t, codes.FailedPrecondition, adapters.ReasonBackendRejected, "HTTP 404", "XML-RPC fault")

	m = bindAll(t, backendOf(t, url, ""))
	_, err = call(t, m, "ListTickets", `{}`)
	outcomeOf(t, err).want(t, codes.Internal, adapters.ReasonBackendFault, `method "ticket.list" is not supported`)
}
