package soap_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap"
)

// TestNodeSOAPRpcEncoded calls node-soap serving the corpus's rpc/encoded example
// (nodesoap-rpcexample-encoded.wsdl, SOAP 1.2 encoding) through bindings with use ENCODED:
// node-soap reads every part and value of the encoded request (each with the xsi:type the
// bridge wrote), and its replies decode into the response messages.
func TestNodeSOAPRpcEncoded(t *testing.T) {
	t.Parallel()
	p := nodeSOAP(t)
	endpoint := nodeSOAPURLs(t, p)["rpcencoded"]
	if endpoint == "" {
		t.Fatal("the peer serves no rpcencoded endpoint")
	}
	a := soap.New(adapters.Backend{Name: "calc", Kind: soap.Kind, Endpoint: endpoint, Timeout: nodeSOAPCallLimit}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*nodeSOAPCallLimit)
	defer cancel()

	marker := "run-" + time.Now().Format("150405.000000000")
	exec := encodedMethod(t, "ExecFile")
	resp, err := bindMethod(t, a, exec)(ctx, newMessage(t, exec.Input(),
		`{"params": {"fileName": "`+marker+`", "arguments": ["-l", "/tmp"], "base64EncodedStdIn": "aW4=", "startDetached": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := newMessage(t, exec.Output(), `{"result": {"base64EncodedStdOut": "`+marker+`", "base64EncodedStdError": "true", "exitCode": 2}}`)
	if !proto.Equal(resp, want) {
		t.Errorf("execFile: %v, want %v", resp, want)
	}
	var got *rawCall
	for _, r := range receivedRaw(t, p) {
		if r.Operation == "execFile" && strings.Contains(r.XML, marker) {
			got = &r
		}
	}
	if got == nil {
		t.Fatal("node-soap recorded no execFile call with the marker")
	}
	params, _ := got.Args["params"].(map[string]any)
	for name, wantType := range map[string]string{"fileName": "xsd:string", "base64EncodedStdIn": "xsd:string", "startDetached": "xsd:boolean"} {
		v, _ := params[name].(map[string]any)
		attrs, _ := v["attributes"].(map[string]any)
		if attrs["xsi:type"] != wantType {
			t.Errorf("node-soap read %s as %v, want xsi:type %s", name, params[name], wantType)
		}
	}
	if args, _ := params["arguments"].([]any); len(args) != 2 {
		t.Errorf("node-soap read arguments %v, want two", params["arguments"])
	}
	for _, part := range []string{`soapenv:encodingStyle="http://www.w3.org/2003/05/soap-encoding"`, `<params xsi:type="ns0:execFileParams">`} {
		if !strings.Contains(got.XML, part) {
			t.Errorf("the request node-soap received lacks %s:\n%s", part, got.XML)
		}
	}

	list := encodedMethod(t, "ListFiles")
	resp, err = bindMethod(t, a, list)(ctx, newMessage(t, list.Input(), `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := newMessage(t, list.Output(), `{"result": ["a.txt", "b & c.txt"]}`); !proto.Equal(resp, want) {
		t.Errorf("listFiles: %v, want %v", resp, want)
	}
}
