package xmlcodec_test

import (
	"fmt"

	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// TestDirectFields checks which fields of generated messages decoding writes into their Go
// structs: every field but maps, which go through protoreflect, and nil_of fields, which are
// set through protoreflect when an element is nil.
// decodeWith compares every decode of the package's tests, and FuzzDecode's, with the same
// decode into a dynamic message, which goes through protoreflect alone.
func TestDirectFields(t *testing.T) {
	for _, m := range []proto.Message{
		&testingv1.Everything{}, &testingv1.Priced{}, &testingv1.Maps{}, &testingv1.Fidelity{}, &testingv1.Present{},
		&demov1.Item{}, &demov1.ListItemsResponse{}, &demov1.GetItemResponse{},
	} {
		md := m.ProtoReflect().Descriptor()
		got, err := xmlcodec.DirectFields(md)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			xf, _ := proto.GetExtension(fd.Options(), agentbridgev1.E_Xml).(*agentbridgev1.XmlField)
			if !fd.IsMap() && xf.GetNilOf() == "" {
				want = append(want, string(fd.Name()))
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: fields written directly %v, want %v", md.FullName(), got, want)
		}
	}
	// A message decoded into a dynamic message of a generated descriptor goes through
	// protoreflect, the same plan serving both.
	got := dynamicpb.NewMessage((&demov1.GetItemResponse{}).ProtoReflect().Descriptor())
	want := &demov1.GetItemResponse{}
	const reply = `<r><item sku="A-1"><name>Drill</name><category>tools</category><unitPrice>1.50</unitPrice>` +
		`<quantityOnHand>3</quantityOnHand><status>InStock</status><tag>a</tag><warehouse><code>W</code><city>C</city></warehouse>` +
		`<supplierNote>n</supplierNote></item></r>`
	for _, m := range []proto.Message{got, want} {
		if err := decodeWith([]byte(reply), m, xmlcodec.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if !proto.Equal(got, want) || want.GetItem().GetName() != "Drill" || len(want.GetItem().GetTags()) != 1 {
		t.Fatalf("dynamic %v, generated %v", got, want)
	}
}

// TestReleasedScannersLeaveResults decodes replies one after another, each with a scanner
// from the pool that is released as soon as its decode ends, and checks afterwards that no
// message changed: what a message holds (entity-decoded text, attribute values, CDATA) must
// be its own, not the released scanner's buffers.
func TestReleasedScannersLeaveResults(t *testing.T) {
	p, err := xmlcodec.For((&testingv1.Everything{}).ProtoReflect().Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	reply := func(i int) []byte {
		return fmt.Appendf(nil, `<r id="id-%d&amp;&#x41;"><text>t%d &lt;&amp;&gt; &#233;</text><note><![CDATA[n%d<>]]></note>`+
			`<child id="c%d"><text>x%d&#10;y</text></child><color-list>RED</color-list></r>`, i, i, i, i, i)
	}
	const n = 50
	got := make([]*testingv1.Everything, n)
	for i := range n {
		sc := xmlcodec.NewScanner(reply(i))
		got[i] = &testingv1.Everything{}
		if err := decodeFirst(p, sc, got[i], xmlcodec.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
		sc.Release()
	}
	for i := range n {
		want := &testingv1.Everything{}
		if err := decodeWith(reply(i), want, xmlcodec.DecodeOptions{}); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got[i], want) || got[i].GetText() != fmt.Sprintf("t%d <&> é", i) {
			t.Fatalf("reply %d: decoded with a released scanner %v, want %v", i, got[i], want)
		}
	}
}
