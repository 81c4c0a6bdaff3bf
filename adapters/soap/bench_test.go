package soap

// BenchmarkDecodeReply measures the adapter's whole reply path on the demo's real replies:
// openBody, the fault and status checks, and the body element decoded by plan into a new
// response message, as Bind's handler does. adapters/xmlcodec's BenchmarkDecode compares the
// codec alone with encoding/xml; docs/benchmarks.md records both.

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

func BenchmarkDecodeReply(b *testing.B) {
	legacy := demo.NewLegacy(func() time.Time { return time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC) })
	service := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	for _, c := range []struct{ op, body string }{
		{"GetItem", `<inv:GetItem xmlns:inv="urn:acme:inventory"><sku>A-100</sku></inv:GetItem>`},
		{"ListItems", `<inv:ListItems xmlns:inv="urn:acme:inventory"><category>tools</category></inv:ListItems>`},
	} {
		method := service.Methods().ByName(protoreflect.Name(c.op))
		binding, _ := proto.GetExtension(method.Options(), agentbridgev1.E_Binding).(*agentbridgev1.Binding)
		op, err := NewOperation(binding.GetSoap(), method.Input(), method.Output())
		if err != nil {
			b.Fatal(err)
		}

		env := `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="` + NamespaceSOAP11 + `"><soap:Body>` + c.body + `</soap:Body></soap:Envelope>`
		req := httptest.NewRequest(http.MethodPost, "/inventory", strings.NewReader(env))
		for k, v := range V11.Header(binding.GetSoap().GetAction()) {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		legacy.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("demo %s: HTTP %d: %s", c.op, rec.Code, rec.Body)
		}
		reply := &adapters.Reply{StatusCode: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}

		first := op.newOut()
		if err := op.decodeReply("inventory", nil, adapters.FaultRules{}, false, nil, reply, first); err != nil {
			b.Fatal(err)
		}
		if proto.Size(first) == 0 {
			b.Fatalf("%s decoded to an empty message", c.op)
		}

		b.Run("reply="+c.op+"/impl=xmlcodec", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(reply.Body)))
			for b.Loop() {
				if err := op.decodeReply("inventory", nil, adapters.FaultRules{}, false, nil, reply, op.newOut()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
