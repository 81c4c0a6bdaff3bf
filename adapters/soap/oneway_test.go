package soap_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/soap"
)

const oneWayProto = `syntax = "proto3";
package agentbridge.onewaytest.v1;
import "agentbridge/v1/options.proto";
service S {
  rpc Notify(NotifyRequest) returns (NotifyResponse) {
    option (agentbridge.v1.binding) = {backend: "b" soap: {action: "urn:notify" request: {name: "notify" namespace: "urn:n"} one_way: true}};
  }
}
message NotifyRequest { string text = 1; }
message NotifyResponse {}
`

// TestOneWay calls a one-way operation (a WSDL operation without output) against backends
// that acknowledge it the ways servers do, and that fail it.
func TestOneWay(t *testing.T) {
	t.Parallel()
	md := prototest.Compile(t, "agentbridge/onewaytest/v1/oneway.proto", oneWayProto).Services().ByName("S").Methods().ByName("Notify")
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		want   codes.Code
	}{
		{"202 Accepted without a body, as WS-I asks", http.StatusAccepted, "", "", codes.OK},
		{"200 without a body", http.StatusOK, "", "", codes.OK},
		{"200 with an empty Body", http.StatusOK, "text/xml", env11(``), codes.OK},
		{"a fault is still a fault", http.StatusInternalServerError, "text/xml", env11(`<soap:Fault><faultcode>soap:Client</faultcode><faultstring>no such queue</faultstring></soap:Fault>`), codes.InvalidArgument},
		{"an HTML error page", http.StatusOK, "text/html", `<html><body>maintenance</body></html>`, codes.Unknown},
		{"500 without a body", http.StatusInternalServerError, "", "", codes.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sent := make(chan string, 1)
			_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				sent <- string(b)
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}), nil)
			call, err := a.Bind(md, adapters.BindingOf(md))
			if err != nil {
				t.Fatal(err)
			}
			req := adapters.MessageType(md.Input()).New().Interface()
			req.ProtoReflect().Set(md.Input().Fields().ByName("text"), protoreflect.ValueOfString("hello"))
			resp, err := call(context.Background(), req)
			if got := <-sent; !strings.Contains(got, `<ns0:notify xmlns:ns0="urn:n"><text>hello</text></ns0:notify>`) {
				t.Errorf("request envelope: %s", got)
			}
			if tt.want == codes.OK {
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				if proto.Size(resp) != 0 {
					t.Errorf("response %v, want empty", resp)
				}
				return
			}
			if status.Code(err) == codes.OK {
				t.Fatalf("call succeeded; want an error")
			}
			if tt.want != codes.Unknown && status.Code(err) != tt.want {
				t.Errorf("call: %v, want code %v", err, tt.want)
			}
		})
	}
}

// TestOneWayRefusedAtBind checks one_way bindings that cannot be one-way.
func TestOneWayRefusedAtBind(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ binding, resp, want string }{
		{`soap: {request: {name: "n"} response: {name: "r"} one_way: true}`, `message Resp {}`, "no response element"},
		{`soap: {request: {name: "n"} one_way: true}`, `message Resp { string x = 1; }`, "answers nothing, but its response"},
	} {
		src := `syntax = "proto3"; package agentbridge.onewaytest.refused; import "agentbridge/v1/options.proto";
service S { rpc M(Req) returns (Resp) { option (agentbridge.v1.binding) = {backend: "b" ` + c.binding + `}; } }
message Req { string text = 1; }
` + c.resp
		md := prototest.Compile(t, "refused_oneway.proto", src).Services().ByName("S").Methods().ByName("M")
		a := soap.New(adapters.Backend{Name: "b", Endpoint: "http://127.0.0.1:1/"}, nil)
		if _, err := a.Bind(md, adapters.BindingOf(md)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Bind: %v, want an error saying %q", c.binding, err, c.want)
		}
	}
}

// TestOneWayReplyContentIsCounted: a backend that answers a one-way operation with an envelope
// holding an element (node-soap does) succeeds, and what it sent is counted, not dropped
// unseen, whether or not the backend is lenient.
func TestOneWayReplyContentIsCounted(t *testing.T) {
	md := prototest.Compile(t, "agentbridge/onewaytest/v1/oneway.proto", oneWayProto).Services().ByName("S").Methods().ByName("Notify")
	const backend = "oneway-counted" // its own label, so parallel tests do not move the count
	_, a := newCannedBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, env11(`<n:notifyResponse xmlns:n="urn:n"><n:queued>3</n:queued></n:notifyResponse>`))
	}), func(b *adapters.Backend) { b.Name = backend })
	call, err := a.Bind(md, adapters.BindingOf(md))
	if err != nil {
		t.Fatal(err)
	}
	before := adapters.SkippedCount(backend)
	if _, err := call(context.Background(), adapters.MessageType(md.Input()).New().Interface()); err != nil {
		t.Fatalf("call: %v", err)
	}
	if got := adapters.SkippedCount(backend) - before; got != 1 {
		t.Errorf("skipped elements counted: %v, want 1", got)
	}
}
