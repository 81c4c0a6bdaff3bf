package soap

import (
	"net/http"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// TestHostileRepliesBounded: a reply of 500,000 nested elements (3.5 MB) fails with
// BACKEND_REPLY_INVALID in bounded memory wherever the nesting is: under an unknown element
// (strict and lenient) and in a header block the bridge skips. (Nesting of known, recursive
// messages is xmlcodec's TestLimitsHostileReplies.)
func TestHostileRepliesBounded(t *testing.T) {
	// Not parallel: it measures allocations.
	method := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService").Methods().ByName(protoreflect.Name("GetItem"))
	binding, _ := proto.GetExtension(method.Options(), agentbridgev1.E_Binding).(*agentbridgev1.Binding)
	op, err := NewOperation(binding.GetSoap(), method.Input(), method.Output())
	if err != nil {
		t.Fatal(err)
	}
	nest := func(name string, n int) string {
		return strings.Repeat("<"+name+">", n) + strings.Repeat("</"+name+">", n)
	}
	envelope := func(header, body string) []byte {
		return []byte(`<soap:Envelope xmlns:soap="` + NamespaceSOAP11 + `"><soap:Header>` + header + `</soap:Header><soap:Body><GetItemResponse xmlns="urn:acme:inventory">` +
			body + `</GetItemResponse></soap:Body></soap:Envelope>`)
	}
	tests := []struct {
		name    string
		reply   []byte
		lenient bool
		want    string
	}{
		{"nested unknown elements, strict", envelope("", nest("a", 500_000)), false, "no field for this element"},
		{"nested unknown elements, lenient", envelope("", nest("a", 500_000)), true, "nested deeper than 64 elements"},
		{"nested in a skipped header block", envelope(nest("h", 500_000), ""), false, "nested deeper than 64 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var skipped func(string)
			if tt.lenient {
				skipped = func(string) {}
			}
			reply := &adapters.Reply{StatusCode: http.StatusOK, Header: http.Header{}, Body: tt.reply}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := op.decodeReply("inventory", nil, adapters.FaultRules{}, false, skipped, reply, op.newOut())
			runtime.ReadMemStats(&after)
			if reasonOf(err) != string(adapters.ReasonBackendReplyInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %s saying %q", err, adapters.ReasonBackendReplyInvalid, tt.want)
			}
			n := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes allocated for a %d-byte reply", n, len(tt.reply))
			if limit := uint64(4 << 20); n > limit {
				t.Errorf("decoding allocated %d bytes, want at most %d", n, limit)
			}
		})
	}
}

// reasonOf is the ErrorInfo reason of a status error, or "".
func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}
