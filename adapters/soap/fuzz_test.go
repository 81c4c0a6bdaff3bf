package soap

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// FuzzDecodeReply reads arbitrary replies as the demo's GetItem and ListItems operations do:
// the envelope, its header, a fault and its detail, the charset, the response element. It
// must never panic, and every failure must be a status (an *adapters outcome), whatever the
// bytes. Seeds: the SOAP messages of ../shared/corpus, read in place.
func FuzzDecodeReply(f *testing.F) {
	paths, _ := filepath.Glob("../../../shared/corpus/soap-messages/*/*.xml")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
	}
	for _, s := range []string{
		`<soap:Envelope xmlns:soap="` + NamespaceSOAP11 + `"><soap:Body><GetItemResponse xmlns="urn:acme:inventory"><item sku="A"><name>n</name><category>c</category><unitPrice>1</unitPrice><status>InStock</status><quantityOnHand>1</quantityOnHand><updatedAt>2026-01-01T00:00:00Z</updatedAt></item></GetItemResponse></soap:Body></soap:Envelope>`,
		`<soap:Envelope xmlns:soap="` + NamespaceSOAP11 + `"><soap:Header><h soap:mustUnderstand="1"/></soap:Header><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>x</faultstring><detail><e>1</e></detail></soap:Fault></soap:Body></soap:Envelope>`,
		`<env:Envelope xmlns:env="` + NamespaceSOAP12 + `"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>x:y</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">r</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`,
	} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(2))
	}
	service := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	var ops []*Operation
	for _, name := range []string{"GetItem", "ListItems"} {
		method := service.Methods().ByName(protoreflect.Name(name))
		binding, _ := proto.GetExtension(method.Options(), agentbridgev1.E_Binding).(*agentbridgev1.Binding)
		op, err := NewOperation(binding.GetSoap(), method.Input(), method.Output())
		if err != nil {
			f.Fatal(err)
		}
		ops = append(ops, op)
	}
	contentTypes := []string{"text/xml; charset=utf-8", "text/xml", "text/xml; charset=ISO-8859-1", "application/soap+xml; charset=utf-16"}
	f.Fuzz(func(t *testing.T, body []byte, sel uint8) {
		op := ops[int(sel)%len(ops)]
		var skipped func(string)
		if sel&2 != 0 {
			skipped = func(string) {}
		}
		status := http.StatusOK
		if sel&4 != 0 {
			status = http.StatusInternalServerError
		}
		reply := &adapters.Reply{StatusCode: status, Header: http.Header{"Content-Type": {contentTypes[int(sel>>3)%len(contentTypes)]}}, Body: body}
		err := op.decodeReply("fuzz", nil, adapters.FaultRules{}, sel&64 != 0, skipped, reply, op.newOut())
		if err != nil && reasonOf(err) == "" {
			t.Fatalf("an error without a reason: %v", err)
		}
	})
}
