package soap_test

// Server-streaming against the real node-soap peer: its catalog server (testdata/catalog.wsdl)
// answers ListProducts with every product in one reply, and the adapter streams them, bound
// by options alone (adapters.BindService) on a contract compiled at run time (catalogProto in
// stream_test.go), so every message is a dynamicpb one. As the other node-soap tests, these
// top-level tests do not call t.Parallel (see nodesoap_test.go).
//
// They call the stream the adapter binds rather than a served surface: server.New still needs
// the generated OpenAPI document of a service's file, which a contract loaded at run time does
// not have.

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap"
)

func TestNodeSOAPCatalogStream(t *testing.T) {
	p := nodeSOAP(t)
	c := compileCatalog(t)
	a := soap.New(adapters.Backend{Name: "catalog", Kind: soap.Kind, Endpoint: p.Catalog}, nil)
	_, streams, err := adapters.BindService(c.listProducts.Parent().(protoreflect.ServiceDescriptor), map[string]adapters.Adapter{"catalog": a})
	if err != nil {
		t.Fatal(err)
	}
	list := streams["ListProducts"]

	start := len(p.received(t))
	var sent nodeExpectations
	tests := []struct {
		name       string
		count      int
		spoil      int
		wantSent   int
		wantCode   codes.Code
		wantReason string
		wantMsg    string
	}{
		{name: "three products", count: 3, wantSent: 3},
		{name: "no products", count: 0, wantSent: 0},
		{name: "two thousand products", count: 2000, wantSent: 2000},
		{name: "the third of five spoiled", count: 5, spoil: 3, wantSent: 2, wantCode: codes.Internal, wantReason: "BACKEND_REPLY_INVALID",
			wantMsg: `element ListProductsResponse/product/quantity: "lots" is not a 32-bit integer (after 2 streamed messages)`},
		{name: "the first spoiled", count: 2, spoil: 1, wantSent: 0, wantCode: codes.Internal, wantReason: "BACKEND_REPLY_INVALID"},
		{name: "a fault", count: -1, wantSent: 0, wantCode: codes.InvalidArgument, wantReason: "SOAP_CLIENT_FAULT", wantMsg: "count must not be negative"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				js := fmt.Sprintf(`{"category": "tools", "count": %d, "spoil": %d}`, tt.count, tt.spoil)
				sent.add(nodeCall{Service: "catalog", Operation: "ListProducts", Args: map[string]any{
					"category": "tools", "count": fmt.Sprint(tt.count), "spoil": fmt.Sprint(tt.spoil),
				}})
				got, err := collect(nodeCallContext(t), list, c.request(t, js))
				equalMessages(t, got, c.wantProducts(t, 1, tt.wantSent))
				if tt.wantReason == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				v := nodeGRPCError(t, err)
				nodeWantError{code: tt.wantCode, reasons: []string{tt.wantReason}, domain: "catalog", message: tt.wantMsg}.check(t, v)
				checkNodeNoLeak(t, v)
			})
		}
	})
	checkNodeReceivedSince(t, p, start, &sent)
}

// TestNodeSOAPCatalogStreamMatchesUnary calls the peer's fault through a unary and a streaming
// binding of ListProducts: the agent sees one status either way.
func TestNodeSOAPCatalogStreamMatchesUnary(t *testing.T) {
	p := nodeSOAP(t)
	c := compileCatalog(t)
	a := soap.New(adapters.Backend{Name: "catalog", Kind: soap.Kind, Endpoint: p.Catalog}, nil)
	for _, spoil := range []int{0, 1} {
		count := -1 // a fault
		if spoil != 0 {
			count = 3 // the first product does not fit
		}
		req := c.request(t, fmt.Sprintf(`{"category": "tools", "count": %d, "spoil": %d}`, count, spoil))
		_, uerr := bindMethod(t, a, c.getProducts)(nodeCallContext(t), req)
		got, serr := collect(nodeCallContext(t), bindStream(t, a, c.listProducts), req)
		if len(got) != 0 {
			t.Errorf("count %d: the stream sent %d messages", count, len(got))
		}
		u, s := nodeGRPCError(t, uerr), nodeGRPCError(t, serr)
		if u.code != s.code || u.info.GetReason() != s.info.GetReason() || u.info.GetMetadata()["element"] != s.info.GetMetadata()["element"] {
			t.Errorf("count %d: unary %v %v, stream %v %v", count, u.code, u.info, s.code, s.info)
		}
	}
}
