package xmlrpc

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
)

// fuzzSeeds are methodResponses of every type and form, and broken ones.
var fuzzSeeds = []string{
	result(goodTicket),
	result(`<struct><member><name>i</name><value><int>42</int></value></member><member><name>flag</name><value><boolean>1</boolean></value></member>
		<member><name>ratio</name><value><double>3.25</double></value></member><member><name>when</name><value><dateTime.iso8601>20260102T03:04:05</dateTime.iso8601></value></member>
		<member><name>blob</name><value><base64>AAFi
aW5hcnn/</base64></value></member><member><name>items</name><value><array><data><value><i4>1</i4></value></data></array></value></member>
		<member><name>labels</name><value><struct><member><name>k</name><value>v</value></member></struct></value></member>
		<member><name>nothing</name><value><nil/></value></member><member><name>anything</name><value><array><data><value><i8>5</i8></value><value><ex:nil xmlns:ex="x"/></value></data></array></value></member></struct>`),
	result(`<array><data><value><array><data><value><struct></struct></value></data></array></value></data></array>`),
	result(`untyped`),
	faultReply(`<member><name>faultCode</name><value><int>4</int></value></member><member><name>faultString</name><value><string>Too many parameters.</string></value></member>`),
	`<methodResponse></methodResponse>`,
	`<methodResponse><params><param><value>a</value></param><param><value>b</value></param></params></methodResponse>`,
	`<?xml version="1.0" encoding="ISO-8859-1"?><methodResponse><params><param><value>caf` + "\xe9" + `</value></param></params></methodResponse>`,
	`<!DOCTYPE x><methodResponse/>`,
	`{"result": 1}`,
	result(`<dateTime.iso8601>2026-07-04T12:00:00+02:00</dateTime.iso8601>`),
}

// FuzzParseResponse parses any body as a methodResponse and decodes what parses into a typed
// message and into a google.protobuf.Value. Nothing may panic; an error is one of the kinds
// decodeReply maps; and a value read into a google.protobuf.Value, written again as XML-RPC,
// reads back as the same value.
func FuzzParseResponse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	sd := peerService(f)
	allTypes := sd.Methods().ByName("GetAllTypes").Output()
	valueMsg := sd.Methods().ByName("Echo").Output()
	resultField := valueMsg.Fields().ByName("result")
	c := &codec{nilExt: true, loc: time.UTC}
	lenient := &codec{nilExt: true, loc: time.UTC, skipped: func(string) {}}
	f.Fuzz(func(t *testing.T, body []byte) {
		limits := xmlcodec.Limits{MaxElements: 10_000, MaxTextBytes: 1 << 16}
		r, err := parseResponse(body, limits)
		if err != nil {
			var pe *protocolError
			if !errors.As(err, &pe) && !errors.Is(err, errNotXMLRPC) && !errors.Is(err, xmlcodec.ErrMalformed) && !errors.Is(err, xmlcodec.ErrLimit) {
				t.Fatalf("an error of no known kind: %v", err)
			}
			return
		}
		if r.fault != nil {
			_, _ = readFault(r.fault)
			return
		}
		for _, cc := range []*codec{c, lenient} {
			typed := adapters.MessageType(allTypes).New()
			if cc.decodeResult(r.result, typed, nil) == nil {
				if _, err := protojson.Marshal(typed.Interface()); err != nil {
					t.Fatalf("a decoded message has no JSON form: %v", err)
				}
			}
		}
		first := adapters.MessageType(valueMsg).New()
		if err := c.decodeResult(r.result, first, resultField); err != nil {
			return
		}
		out, err := c.appendSingle(nil, resultField, first.Get(resultField), "result")
		if err != nil {
			return // a number XML-RPC cannot write (NaN, an infinity)
		}
		r2, err := parseResponse([]byte(result(string(out))), limits)
		if err != nil {
			t.Fatalf("the bridge's own XML does not parse: %v\n%s", err, out)
		}
		second := adapters.MessageType(valueMsg).New()
		if err := c.decodeResult(r2.result, second, resultField); err != nil {
			t.Fatalf("the bridge's own XML does not decode: %v\n%s", err, out)
		}
		a, err := protojson.Marshal(first.Interface())
		if err != nil {
			t.Fatalf("a decoded value has no JSON form: %v", err)
		}
		b, _ := protojson.Marshal(second.Interface())
		if string(a) != string(b) {
			t.Fatalf("round trip changed the value:\n%s\n%s\nvia %s", a, b, out)
		}
	})
}
