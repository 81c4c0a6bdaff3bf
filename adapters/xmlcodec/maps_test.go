package xmlcodec_test

import (
	"encoding/xml"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

// maps has entries whose keys sort differently as text and as numbers, escaping in keys and
// values, and every kind of value.
func maps() *testingv1.Maps {
	return &testingv1.Maps{
		Labels:  map[string]string{"color": "red", "Color": "<b>&", "": "empty key", "size": ""},
		Palette: map[int32]testingv1.Color{10: testingv1.Color_COLOR_GREEN, -1: testingv1.Color_COLOR_RED, 2: testingv1.Color_COLOR_UNSPECIFIED},
		Prices: map[string]*testingv1.Priced{
			"b": {Currency: proto.String("EUR"), Amount: "12.50"},
			"a": {Amount: "3"},
		},
		Seen: map[bool]*timestamppb.Timestamp{
			true:  timestamppb.New(time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)),
			false: timestamppb.New(time.Date(1999, 1, 1, 0, 0, 0, 5, time.UTC)),
		},
		Counts: map[uint64]*wrapperspb.Int32Value{math.MaxUint64: wrapperspb.Int32(-1), 9: wrapperspb.Int32(0)},
		Blobs:  map[int64][]byte{math.MinInt64: {0xff}, 100: nil},
	}
}

// TestMapsAreWrittenInKeyOrder checks that the order entries are added in does not change the
// XML, and that numeric keys sort as numbers.
func TestMapsAreWrittenInKeyOrder(t *testing.T) {
	t.Parallel()
	up, down := &testingv1.Maps{Palette: map[int32]testingv1.Color{}}, &testingv1.Maps{Palette: map[int32]testingv1.Color{}}
	for i := range int32(200) {
		up.Palette[i-100] = testingv1.Color_COLOR_RED
		down.Palette[99-i] = testingv1.Color_COLOR_RED
	}
	a := encode(t, up, xmlcodec.Name{Local: "r"})
	for range 5 { // Go randomises map iteration; several runs would show an order leaking through
		if b := encode(t, down, xmlcodec.Name{Local: "r"}); string(a) != string(b) {
			t.Fatalf("the same map encodes differently:\n%s\n%s", a, b)
		}
	}
	last := -101
	for _, part := range strings.Split(string(a), "<ns0:id>")[1:] {
		n, err := strconv.Atoi(part[:strings.IndexByte(part, '<')])
		if err != nil {
			t.Fatal(err)
		}
		if n <= last {
			t.Fatalf("key %d written after %d", n, last)
		}
		last = n
	}
	if last != 99 {
		t.Fatalf("last key %d, want 99", last)
	}
}

func TestDecodeMaps(t *testing.T) {
	t.Parallel()
	const xsi = `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`
	tests := []struct {
		name string
		xml  string
		want *testingv1.Maps
	}{
		{"value before key, unqualified, whitespace",
			`<r><labels>
			   <entry><value>red</value><key>color</key></entry>
			   <entry> <key>size</key> <value>L</value> </entry>
			 </labels></r>`,
			&testingv1.Maps{Labels: map[string]string{"color": "red", "size": "L"}}},
		{"string keys and values keep their whitespace",
			`<r><labels><entry><key> a </key><value> b </value></entry></labels></r>`,
			&testingv1.Maps{Labels: map[string]string{" a ": " b "}}},
		{"empty key and empty value are values",
			`<r><labels><entry><key/><value/></entry></labels></r>`,
			&testingv1.Maps{Labels: map[string]string{"": ""}}},
		{"named elements, enum values by name and xml_value",
			`<r xmlns:m="urn:test:maps"><m:colorTable><m:row><m:id> 7 </m:id><m:shade>dark-green</m:shade></m:row><m:row><m:id>-3</m:id><m:shade>COLOR_RED</m:shade></m:row></m:colorTable></r>`,
			&testingv1.Maps{Palette: map[int32]testingv1.Color{7: testingv1.Color_COLOR_GREEN, -3: testingv1.Color_COLOR_RED}}},
		{"message values, an empty one included",
			`<r><prices><entry><key>a</key><value currency="EUR">1.5</value></entry><entry><key>b</key><value/></entry></prices></r>`,
			&testingv1.Maps{Prices: map[string]*testingv1.Priced{"a": {Currency: proto.String("EUR"), Amount: "1.5"}, "b": {}}}},
		{"bool keys as 1 and false, timestamp values",
			`<r><seen><entry><key>1</key><value>2026-01-02T03:04:05Z</value></entry><entry><key>false</key><value>2026-01-02T00:00:00+00:00</value></entry></seen></r>`,
			&testingv1.Maps{Seen: map[bool]*timestamppb.Timestamp{
				true:  timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
				false: timestamppb.New(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)),
			}}},
		{"wrapper values and bytes",
			`<r><counts><entry><key>18446744073709551615</key><value>-5</value></entry></counts><blobs><entry><key>-1</key><value>AAE=</value></entry></blobs></r>`,
			&testingv1.Maps{Counts: map[uint64]*wrapperspb.Int32Value{math.MaxUint64: wrapperspb.Int32(-5)}, Blobs: map[int64][]byte{-1: {0, 1}}}},
		{"the field element given twice merges",
			`<r><labels><entry><key>a</key><value>1</value></entry></labels><labels><entry><key>b</key><value>2</value></entry></labels></r>`,
			&testingv1.Maps{Labels: map[string]string{"a": "1", "b": "2"}}},
		{"xsi:nil=false is no nil",
			`<r ` + xsi + `><labels xsi:nil="false"><entry xsi:nil="0"><key>a</key><value xsi:nil=" false ">b</value></entry></labels></r>`,
			&testingv1.Maps{Labels: map[string]string{"a": "b"}}},
		{"an empty wrapper is an empty map",
			`<r><labels/></r>`,
			&testingv1.Maps{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := &testingv1.Maps{}
			if err := decode([]byte(tt.xml), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeMapErrors(t *testing.T) {
	t.Parallel()
	const xsi = `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`
	tests := []struct {
		name, xml, want string
	}{
		{"duplicate key", `<r><labels><entry><key>a</key><value>1</value></entry><entry><key>a</key><value>2</value></entry></labels></r>`,
			`element labels/entry: key "a" appears more than once`},
		{"duplicate key across two field elements", `<r><labels><entry><key>a</key><value>1</value></entry></labels><labels><entry><key>a</key><value>1</value></entry></labels></r>`,
			`key "a" appears more than once`},
		{"duplicate numeric key written differently", `<r><colorTable><row><id>7</id><shade>RED</shade></row><row><id>+7</id><shade>RED</shade></row></colorTable></r>`,
			`element colorTable/row: key 7 appears more than once`},
		{"entry without a key", `<r><labels><entry><value>1</value></entry></labels></r>`,
			`element labels/entry: the entry has no key element`},
		{"entry without a named key", `<r><colorTable><row><shade>RED</shade></row></colorTable></r>`,
			`element colorTable/row: the entry has no id element`},
		// Another element would be lost, so it is refused rather than skipped.
		{"an entry's key under the default name where the binding names another", `<r><colorTable><row><shade>RED</shade><key>1</key></row></colorTable></r>`,
			`element colorTable/row/key: a map entry holds only id and shade elements; this one would be lost`},
		{"another element in the wrapper", `<r><labels><count>1</count><entry><key>a</key><value>b</value></entry></labels></r>`,
			`element labels/count: the wrapper holds only entry elements; this one would be lost`},
		{"another element in an entry", `<r><labels><entry><key>a</key><comment>x</comment><value>b</value></entry></labels></r>`,
			`element labels/entry/comment: a map entry holds only key and value elements; this one would be lost`},
		{"entry without a value", `<r><labels><entry><key>a</key></entry></labels></r>`,
			`element labels/entry: the entry for key "a" has no value element`},
		{"empty entry", `<r><labels><entry/></labels></r>`, `the entry has no key element`},
		{"two keys", `<r><labels><entry><key>a</key><key>b</key><value>1</value></entry></labels></r>`,
			`element labels/entry/key: the entry has more than one key element`},
		{"two values", `<r><labels><entry><key>a</key><value>1</value><value>2</value></entry></labels></r>`,
			`element labels/entry/value: the entry has more than one value element`},
		{"nil key", `<r ` + xsi + `><labels><entry><key xsi:nil="true"/><value>1</value></entry></labels></r>`,
			`element labels/entry/key: xsi:nil, but a map's keys and values cannot be null`},
		{"nil value", `<r ` + xsi + `><prices><entry><key>a</key><value xsi:nil="true"/></entry></prices></r>`,
			`element prices/entry/value: xsi:nil`},
		{"nil map", `<r ` + xsi + `><labels xsi:nil="true"/></r>`,
			`element labels: xsi:nil on map field agentbridge.testing.v1.Maps.labels: a map cannot be nil`},
		{"nil entry", `<r ` + xsi + `><prices><entry xsi:nil="true"/></prices></r>`,
			`element prices/entry: xsi:nil on a map entry: a map cannot hold a nil entry`},
		{"xsi:nil not a boolean", `<r ` + xsi + `><labels><entry><key>a</key><value xsi:nil="yes"/></entry></labels></r>`,
			`element labels/entry/value: xsi:nil="yes" is not an xsd:boolean`},
		{"a date as a timestamp value", `<r><seen><entry><key>false</key><value>2026-01-02</value></entry></seen></r>`,
			`element seen/entry/value: "2026-01-02" is an xsd:date`},
		{"key not a number", `<r><colorTable><row><id>seven</id><shade>RED</shade></row></colorTable></r>`,
			`element colorTable/row/id: "seven" is not a 32-bit integer`},
		{"key not a bool", `<r><seen><entry><key>yes</key><value>2026-01-02</value></entry></seen></r>`,
			`element seen/entry/key: "yes" is not an xsd:boolean`},
		{"value not an enum", `<r><colorTable><row><id>1</id><shade>PURPLE</shade></row></colorTable></r>`,
			`element colorTable/row/shade: "PURPLE" is not a value of agentbridge.testing.v1.Color`},
		{"bad timestamp value after good message values", `<r><prices><entry><key>a</key><value currency="EUR">1</value></entry><entry><key>b</key><value>` +
			`</value></entry><entry><key>c</key><value>2026</value></entry></prices><seen><entry><key>true</key><value>soon</value></entry></seen></r>`,
			`element seen/entry/value: "soon" is not an xsd:dateTime`},
		{"truncated entry", `<r><labels><entry><key>a</key>`, `EOF`},
		{"DOCTYPE inside an entry", `<r><labels><entry><!DOCTYPE x><key>a</key></entry></labels></r>`, `document type declarations are not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := decode([]byte(tt.xml), &testingv1.Maps{})
			var de *xmlcodec.DecodeError
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			if !errors.As(err, &de) && !strings.Contains(tt.want, "EOF") {
				t.Errorf("%v is not a *DecodeError", err)
			}
		})
	}
}

func TestEncodeMapErrorsNameTheMapAndKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		msg       *testingv1.Maps
		field     string
		wantInErr string
	}{
		{"control character in a key", &testingv1.Maps{Labels: map[string]string{"a\x01": "x"}}, "agentbridge.testing.v1.Maps.labels", "U+0001"},
		{"control character in a value", &testingv1.Maps{Labels: map[string]string{"k": "\x02"}}, "agentbridge.testing.v1.Maps.labels", `key "k": character U+0002`},
		{"enum value out of range", &testingv1.Maps{Palette: map[int32]testingv1.Color{4: 99}}, "agentbridge.testing.v1.Maps.palette", "key 4: 99 is not a value"},
		{"timestamp out of range", &testingv1.Maps{Seen: map[bool]*timestamppb.Timestamp{true: {Seconds: -1 << 40}}}, "agentbridge.testing.v1.Maps.seen", "key true: timestamp"},
		{"inside a message value, the nested field", &testingv1.Maps{Prices: map[string]*testingv1.Priced{"a": {Amount: "\x03"}}}, "agentbridge.testing.v1.Priced.amount", "U+0003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := xmlcodec.For(tt.msg.ProtoReflect().Descriptor())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.AppendElement(nil, xmlcodec.Name{Local: "r"}, tt.msg)
			var ee *xmlcodec.EncodeError
			if !errors.As(err, &ee) || string(ee.Field) != tt.field || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("got %v, want an EncodeError for %s containing %q", err, tt.field, tt.wantInErr)
			}
		})
	}
}

// TestMapOptionsThatCannotWork checks that contradictory map options fail when the plan is
// built, at start-up, not at the first call.
func TestMapOptionsThatCannotWork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, field, want string
	}{
		{"map_key on a string", `string s = 1 [(agentbridge.v1.xml) = {map_key: "k"}];`, "names a map key or value element but is not a map"},
		{"map_value on a list", `repeated string s = 1 [(agentbridge.v1.xml) = {map_value: "v"}];`, "is not a map"},
		{"key and value with one name", `map<string, string> m = 1 [(agentbridge.v1.xml) = {map_key: "x", map_value: "x"}];`, `names its key and value elements both "x"`},
		{"value named key", `map<string, string> m = 1 [(agentbridge.v1.xml) = {map_value: "key"}];`, `both "key"`},
		{"a map as an attribute", `map<string, string> m = 1 [(agentbridge.v1.xml) = {attribute: true}];`, "is an attribute but not a single scalar"},
		{"a map as text", `map<string, string> m = 1 [(agentbridge.v1.xml) = {text: true}];`, "is text content but not"},
		{"a map of a type with no mapping", `map<string, google.protobuf.Any> m = 1;`, "has type google.protobuf.Any, which has no XML mapping"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := `syntax = "proto3"; package agentbridge.dyntest.badmap` + strconv.Itoa(i) + `;
import "agentbridge/v1/options.proto"; import "google/protobuf/any.proto";
message M { ` + tt.field + ` }`
			md := prototest.Compile(t, "bad.proto", src).Messages().ByName("M")
			if _, err := xmlcodec.For(md); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("For: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestElementInsideSimpleValue: an element inside a value held as text would be lost, so the
// reply is refused naming it rather than read as the text around it.
func TestElementInsideSimpleValue(t *testing.T) {
	t.Parallel()
	plan, err := xmlcodec.For((&testingv1.Maps{}).ProtoReflect().Descriptor())
	if err != nil {
		t.Fatal(err)
	}
	d := xmlcodec.NewScanner([]byte(`<r><labels><entry><key>a</key><value>b<i>c</i></value></entry></labels></r>`))
	start, err := d.Token()
	for err == nil {
		if se, ok := start.(xml.StartElement); ok {
			err = plan.Decode(d, se, &testingv1.Maps{})
			break
		}
		start, err = d.Token()
	}
	if err == nil || !strings.Contains(err.Error(), "element labels/entry/value/i: an element inside a simple value") {
		t.Fatalf("got %v", err)
	}
}
