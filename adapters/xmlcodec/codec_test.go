package xmlcodec_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/google/go-cmp/cmp"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func everything() *testingv1.Everything {
	return &testingv1.Everything{
		Id:       proto.String(`a"<&>'b`),
		Text:     proto.String("  spaces kept, <tags> & ampersands\r\n"),
		Flag:     proto.Bool(true),
		I32:      proto.Int32(math.MinInt32),
		S32:      proto.Int32(-7),
		Sf32:     proto.Int32(math.MaxInt32),
		I64:      proto.Int64(math.MinInt64),
		S64:      proto.Int64(-1 << 53),
		Sf64:     proto.Int64(math.MaxInt64),
		U32:      proto.Uint32(math.MaxUint32),
		F32:      proto.Uint32(42),
		U64:      proto.Uint64(math.MaxUint64),
		F64:      proto.Uint64(1 << 60),
		Fl:       proto.Float32(float32(math.Inf(-1))),
		Db:       proto.Float64(0.1),
		Raw:      []byte{0, 1, 2, 0xff},
		Color:    testingv1.Color_COLOR_GREEN.Enum(),
		At:       timestamppb.New(time.Date(2026, 11, 2, 9, 30, 0, 123456789, time.UTC)),
		Took:     durationpb.New(-(90*time.Minute + 500*time.Millisecond)),
		Child:    &testingv1.Everything{Text: proto.String("nested"), Child: &testingv1.Everything{I32: proto.Int32(3)}},
		Numbers:  []int32{1, -2, 3},
		Children: []*testingv1.Everything{{Text: proto.String("first")}, {Text: proto.String("second"), Colors: []testingv1.Color{testingv1.Color_COLOR_RED}}},
		Colors:   []testingv1.Color{testingv1.Color_COLOR_RED, testingv1.Color_COLOR_GREEN},
		Maybe:    wrapperspb.Int32(0),
		Note:     proto.String(""),
		Foreign:  proto.String("other namespace"),
		Choice:   &testingv1.Everything_ChoiceNumber{ChoiceNumber: -9},
	}
}

func encode(t *testing.T, m proto.Message, name xmlcodec.Name) []byte {
	t.Helper()
	p, err := xmlcodec.For(m.ProtoReflect().Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.AppendElement(nil, name, m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decode(data []byte, into proto.Message) error {
	return decodeWith(data, into, xmlcodec.DecodeOptions{})
}

// decodeWith decodes the first element of data into into with options, through the codec's
// scanner, and checks that decoding through encoding/xml agrees: the same message, or an error
// both ways (the same one, unless the XML is malformed).
func decodeWith(data []byte, into proto.Message, o xmlcodec.DecodeOptions) error {
	p, err := xmlcodec.For(into.ProtoReflect().Descriptor())
	if err != nil {
		return err
	}
	err = decodeFirst(p, xmlcodec.NewScanner(data), into, o)
	other := into.ProtoReflect().New().Interface()
	if o.Skipped != nil {
		o.Skipped = func(string) {}
	}
	errStd := decodeFirst(p, xmlcodec.NewDecoder(bytes.NewReader(data)), other, o)
	// A generated message has its fields written into its Go struct (gostruct.go); a dynamic
	// one of the same descriptor goes through protoreflect: both must end the same.
	dyn := dynamicpb.NewMessage(into.ProtoReflect().Descriptor())
	errDyn := decodeFirst(p, xmlcodec.NewScanner(data), dyn, o)
	if (err == nil) != (errDyn == nil) || err != nil && err.Error() != errDyn.Error() || err == nil && !proto.Equal(into, dyn) {
		return disagree("writing the Go struct directly and through protoreflect disagree: %v (%v) against %v (%v)", err, into, errDyn, dyn)
	}
	switch {
	case err != nil && errStd == nil && isStricter(err): // see stricterRefusals
	case (err == nil) != (errStd == nil),
		err == nil && !proto.Equal(into, other),
		err != nil && !isMalformed(err) && err.Error() != errStd.Error():
		return disagree("the scanner and encoding/xml disagree: %v (%v) against %v (%v)", err, into, errStd, other)
	}
	return err
}

// isMalformed reports whether err says the XML is not well-formed: the decoder's ErrMalformed,
// or a tokenizer's syntax error before the decoder started, whose wording differs between the
// scanner and encoding/xml.
func isMalformed(err error) bool {
	var se *xml.SyntaxError
	return errors.Is(err, xmlcodec.ErrMalformed) || errors.As(err, &se)
}

func decodeFirst(p *xmlcodec.Plan, d xmlcodec.Tokens, into proto.Message, o xmlcodec.DecodeOptions) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return p.DecodeWith(d, start, into, o)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  proto.Message
	}{
		{"everything", everything()},
		{"empty", &testingv1.Everything{}},
		{"oneof text", &testingv1.Everything{Choice: &testingv1.Everything_ChoiceText{ChoiceText: ""}}},
		{"simple content", &testingv1.Priced{Currency: proto.String("EUR"), Amount: "12.50"}},
		{"maps", maps()},
		{"maps with zero keys and values", &testingv1.Maps{
			Labels:  map[string]string{"": ""},
			Palette: map[int32]testingv1.Color{0: testingv1.Color_COLOR_UNSPECIFIED},
			Prices:  map[string]*testingv1.Priced{"": {}},
			Seen:    map[bool]*timestamppb.Timestamp{false: {}},
			Counts:  map[uint64]*wrapperspb.Int32Value{0: {}},
			Blobs:   map[int64][]byte{0: {}},
		}},
		{"demo item", &demov1.ListItemsResponse{Items: []*demov1.Item{
			{Sku: "A-100", Name: "Drill", UnitPrice: "1.50", Status: demov1.ItemStatus_ITEM_STATUS_IN_STOCK, Tags: []string{"a", "b"}, Warehouse: &demov1.Warehouse{Code: "BER-1"},
				SupplierNoteState: &demov1.Item_SupplierNote{}},
			{Sku: "B-200", UnitPrice: "0", Status: demov1.ItemStatus_ITEM_STATUS_DISCONTINUED, DiscontinuedOn: proto.String("2026-09-15+02:00"),
				SupplierNoteState: &demov1.Item_SupplierNoteNil{}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := encode(t, tt.msg, xmlcodec.Name{Space: "urn:test:root", Local: "root"})
			got := tt.msg.ProtoReflect().New().Interface()
			if err := decode(data, got); err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			if diff := cmp.Diff(tt.msg, got, protocmp.Transform()); diff != "" {
				t.Errorf("round trip changed the message (-sent +got):\n%s\nXML: %s", diff, data)
			}
		})
	}
}

// TestGolden pins the exact XML written, namespaces, escaping and map entry order included.
func TestGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		msg  proto.Message
	}{
		{"everything.golden", everything()},
		{"maps.golden", maps()},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got := encode(t, tt.msg, xmlcodec.Name{Space: "urn:test:root", Local: "root"})
			path := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("XML differs from %s (run with -update after checking):\n got %s\nwant %s", path, got, want)
			}
		})
	}
}

func TestDecodeLegacyForms(t *testing.T) {
	t.Parallel()
	const ns = `xmlns:t="urn:test:everything" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`
	tests := []struct {
		name string
		xml  string
		want *testingv1.Everything
	}{
		{"whitespace around numbers and bools", `<r ` + ns + `><t:i32> 42 </t:i32><t:flag>1</t:flag><t:u64>+7</t:u64></r>`,
			&testingv1.Everything{I32: proto.Int32(42), Flag: proto.Bool(true), U64: proto.Uint64(7)}},
		{"unqualified children are matched by local name", `<r><i32>5</i32><text>x</text></r>`,
			&testingv1.Everything{I32: proto.Int32(5), Text: proto.String("x")}},
		{"xsi:nil false is a value", `<r ` + ns + `><t:maybe xsi:nil="false">0</t:maybe><t:note xsi:nil="0"></t:note></r>`,
			&testingv1.Everything{Maybe: wrapperspb.Int32(0), Note: proto.String("")}},
		{"enum by xml_value, short and full name", `<r><color>dark-green</color><color-list>RED</color-list><color-list>COLOR_GREEN</color-list></r>`,
			&testingv1.Everything{Color: testingv1.Color_COLOR_GREEN.Enum(), Colors: []testingv1.Color{testingv1.Color_COLOR_RED, testingv1.Color_COLOR_GREEN}}},
		{"dateTime in UTC, spelled three ways", `<r><at> 2026-01-02T03:04:05Z </at><child><at>2026-01-02T03:04:05.50-00:00</at><child><at>2026-01-01T24:00:00+00:00</at></child></child></r>`,
			&testingv1.Everything{At: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), Child: &testingv1.Everything{
				At: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC)), Child: &testingv1.Everything{At: timestamppb.New(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))}}}},
		{"duration in days", `<r><took>P1DT2H3M4.5S</took></r>`,
			&testingv1.Everything{Took: durationpb.New(26*time.Hour + 3*time.Minute + 4500*time.Millisecond)}},
		{"base64 with line breaks", "<r><raw>AAEC\n/w==</raw></r>", &testingv1.Everything{Raw: []byte{0, 1, 2, 0xff}}},
		{"floats spelled the XSD way", `<r><db>-INF</db><fl>1e3</fl></r>`, &testingv1.Everything{Db: proto.Float64(math.Inf(-1)), Fl: proto.Float32(1000)}},
		{"CDATA text", `<r><text><![CDATA[a<b]]></text></r>`, &testingv1.Everything{Text: proto.String("a<b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := &testingv1.Everything{}
			if err := decode([]byte(tt.xml), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("<child>", 100) + strings.Repeat("</child>", 100)
	tests := []struct {
		name, xml, want string
	}{
		{"not a number", `<r><child><i32>12abc</i32></child></r>`, `element child/i32: "12abc" is not a 32-bit integer`},
		{"int32 overflow", `<r><i32>2147483648</i32></r>`, `element i32: "2147483648" is not a 32-bit integer`},
		{"negative unsigned", `<r><u32>-1</u32></r>`, `is not an unsigned 32-bit integer`},
		{"unknown enum text", `<r><color>PURPLE</color></r>`, `element color: "PURPLE" is not a value of agentbridge.testing.v1.Color`},
		{"bad bool", `<r><flag>yes</flag></r>`, `"yes" is not an xsd:boolean`},
		{"bad dateTime", `<r><at>yesterday</at></r>`, `is not an xsd:dateTime`},
		{"dateTime without a zone into a Timestamp", `<r><at>2026-01-02T03:04:05</at></r>`,
			`element at: "2026-01-02T03:04:05" has no time zone and cannot be held exactly by a Timestamp, which would make it UTC; field agentbridge.testing.v1.Everything.at is a google.protobuf.Timestamp: map it as string with (agentbridge.v1.xml).xsd_type = "dateTime"`},
		{"dateTime with an offset into a Timestamp", `<r><child><at>2026-01-02T03:04:05.5+02:00</at></child></r>`,
			`element child/at: "2026-01-02T03:04:05.5+02:00" has the offset +02:00, which cannot be held exactly by a Timestamp (it holds UTC only); field agentbridge.testing.v1.Everything.at`},
		{"date into a Timestamp", `<r><at>2024-05-01+02:00</at></r>`, `"2024-05-01+02:00" is an xsd:date, a day rather than an instant`},
		{"nil without a nil_of field", `<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><note xsi:nil="true"/></r>`,
			`element note: xsi:nil, but field agentbridge.testing.v1.Everything.note has no nil_of field to carry it`},
		{"nil item of a list", `<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><number>1</number><number xsi:nil="true"/><number>3</number></r>`,
			`element number: xsi:nil on an item of a list`},
		{"nil item in a list's wrapper", `<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><children><child/><child xsi:nil="1"/></children></r>`,
			`element children/child: xsi:nil on an item of a list`},
		{"nil wrapper of a list", `<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><children xsi:nil="true"/></r>`,
			`element children: xsi:nil on the wrapper of repeated field agentbridge.testing.v1.Everything.children: a list cannot be nil`},
		{"duration in months", `<r><took>P1M</took></r>`, `years or months`},
		{"bad attribute", `<r><child id="x"><i32>x</i32></child></r>`, `element child/i32`},
		{"truncated", `<r><i32>1</i32>`, `malformed XML at line 1: unexpected EOF`},
		{"DOCTYPE", `<r><!DOCTYPE r><i32>1</i32></r>`, `malformed XML: document type declarations are not allowed`},
		{"mismatched tags", `<r><i32>1</i33></r>`, `malformed XML at line 1`},
		{"undefined entity", `<r><text>&xxe;</text></r>`, `malformed XML at line 1: invalid character entity &xxe;`},
		{"too deep", `<r>` + deep + `</r>`, `nested deeper than 64 elements`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := decode([]byte(tt.xml), &testingv1.Everything{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			if malformed := strings.Contains(tt.want, "malformed") || strings.Contains(tt.want, "EOF"); malformed != errors.Is(err, xmlcodec.ErrMalformed) {
				t.Errorf("errors.Is(%v, ErrMalformed) = %v, want %v", err, !malformed, malformed)
			}
		})
	}
}

func TestEncodeRejectsWhatXMLCannotCarry(t *testing.T) {
	t.Parallel()
	p, err := xmlcodec.For((&testingv1.Everything{}).ProtoReflect().Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.AppendElement(nil, xmlcodec.Name{Local: "r"}, &testingv1.Everything{Text: proto.String("bell\x07")})
	var ee *xmlcodec.EncodeError
	if !errors.As(err, &ee) || ee.Field != "agentbridge.testing.v1.Everything.text" || !strings.Contains(err.Error(), "U+0007") {
		t.Fatalf("got %v, want an EncodeError naming the field and the character", err)
	}
	_, err = p.AppendElement(nil, xmlcodec.Name{Local: "r"}, &testingv1.Everything{At: &timestamppb.Timestamp{Seconds: -1 << 40}})
	if !errors.As(err, &ee) || ee.Field != "agentbridge.testing.v1.Everything.at" {
		t.Fatalf("got %v, want an EncodeError for the out-of-range timestamp", err)
	}
}

func TestPlanIsBuiltOnce(t *testing.T) { //nolint:paralleltest // AllocsPerRun cannot run in parallel
	md := (&testingv1.Everything{}).ProtoReflect().Descriptor()
	a, err := xmlcodec.For(md)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := xmlcodec.For(md)
	if a != b {
		t.Fatal("For built a second plan for the same descriptor")
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = xmlcodec.For(md) }); allocs != 0 {
		t.Errorf("For allocates %v times per lookup, want 0", allocs)
	}
}
