package server_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server"
)

// TestEmbeddedCommentsDescribeTheDemo checks that the compiled-in descriptor set keeps the
// comments of every demo method, message, field and enum value: the OpenAPI document and agent
// surfaces describe them from it.
func TestEmbeddedCommentsDescribeTheDemo(t *testing.T) {
	t.Parallel()
	c, err := server.EmbeddedComments()
	if err != nil {
		t.Fatal(err)
	}
	fd := demov1.File_agentbridge_demo_v1_inventory_proto
	want := map[protoreflect.FullName]string{
		"agentbridge.demo.v1.InventoryService.GetItem": "GetItem returns one stock item by its SKU, with its price, stock level and warehouse.",
		"agentbridge.demo.v1.GetItemRequest.sku":       "SKU of the item: one capital letter, a dash and three digits, such as A-100.",
		"agentbridge.demo.v1.ITEM_STATUS_BACKORDERED":  "None on hand; reservations wait for the next delivery.",
		"agentbridge.demo.v1.ReserveItemResponse":      "ReserveItemResponse confirms a reservation.",
	}
	for name, text := range want {
		if got := c.Describe(name); got != text {
			t.Errorf("%s: got %q, want %q", name, got, text)
		}
	}
	var missing []protoreflect.FullName
	walk := func(md protoreflect.MessageDescriptor) {
		if c.Describe(md.FullName()) == "" {
			missing = append(missing, md.FullName())
		}
		for i := range md.Fields().Len() {
			if f := md.Fields().Get(i); c.Describe(f.FullName()) == "" {
				missing = append(missing, f.FullName())
			}
		}
	}
	for i := range fd.Services().Get(0).Methods().Len() {
		m := fd.Services().Get(0).Methods().Get(i)
		if c.Describe(m.FullName()) == "" {
			missing = append(missing, m.FullName())
		}
	}
	for i := range fd.Messages().Len() {
		walk(fd.Messages().Get(i))
	}
	if len(missing) > 0 {
		t.Errorf("no comment for %v", missing)
	}
}

func TestMultiLineCommentsLoseEveryLeadingSpace(t *testing.T) {
	t.Parallel()
	c, err := server.EmbeddedComments()
	if err != nil {
		t.Fatal(err)
	}
	got := c.Describe("agentbridge.demo.v1.InventoryService.ReserveItem")
	if !strings.Contains(got, "\n") {
		t.Fatalf("ReserveItem's comment should span lines: %q", got)
	}
	for line := range strings.SplitSeq(got, "\n") {
		if strings.HasPrefix(line, " ") {
			t.Errorf("line %q keeps the space after //", line)
		}
	}
}
