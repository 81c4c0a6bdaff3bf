package xmlcodec_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

const xsiNS = `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`

// fidelity sets every lexical field to a form a conversion would have changed: offsets other
// than UTC, no zone at all, a date with a zone, trailing zeros, leading zeros, more digits than
// 64 bits hold.
func fidelity() *testingv1.Fidelity {
	return &testingv1.Fidelity{
		DateTime:           proto.String("2024-05-01T09:30:00.500+05:30"),
		DateTimeStamp:      proto.String("2024-05-01T09:30:00-00:00"),
		Date:               proto.String("2024-05-01+02:00"),
		Time:               proto.String("24:00:00"),
		GYear:              proto.String("0099"),
		GYearMonth:         proto.String("-0044-03"),
		GMonth:             proto.String("--05Z"),
		GMonthDay:          proto.String("--02-29"),
		GDay:               proto.String("---01+14:00"),
		Duration:           proto.String("P1Y2M3DT4H5M6.70S"),
		DayTimeDuration:    proto.String("PT36H"),
		YearMonthDuration:  proto.String("-P18M"),
		Decimal:            proto.String("+0012.3400"),
		Integer:            proto.String("123456789012345678901234567890"),
		NonNegativeInteger: proto.String("-0"),
		PositiveInteger:    proto.String("007"),
		NonPositiveInteger: proto.String("+0"),
		NegativeInteger:    proto.String("-18446744073709551616"),
		Dates:              []string{"2024-05-01", "2024-05-02Z"},
		MaybeDate:          wrapperspb.String("2024-12-31-05:00"),
		Stamped:            proto.String("2024-05-01T09:30:00"),
		Hex:                []byte{0x0f, 0xa0, 0xff},
		At:                 timestamppb.New(time.Date(2024, 5, 1, 4, 0, 0, 500_000_000, time.UTC)),
		Took:               durationpb.New(36*time.Hour + 500*time.Millisecond),
		TraderNameState:    &testingv1.Fidelity_TraderNameNil{},
		PriceState:         &testingv1.Fidelity_Price{Price: &testingv1.Priced{Currency: proto.String("EUR"), Amount: "12.50"}},
		CountState:         &testingv1.Fidelity_CountNil{},
		DueState:           &testingv1.Fidelity_Due{Due: "2024-06-30Z"},
	}
}

// TestFidelityGolden pins the XML of every lexical field and of nil elements, and checks that
// decoding it gives back the same message: each form byte for byte.
func TestFidelityGolden(t *testing.T) {
	t.Parallel()
	msg := fidelity()
	got := encode(t, msg, xmlcodec.Name{Space: "urn:test:root", Local: "root"})
	path := filepath.Join("testdata", "fidelity.golden")
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
	back := &testingv1.Fidelity{}
	if err := decode(got, back); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if diff := cmp.Diff(msg, back, protocmp.Transform()); diff != "" {
		t.Errorf("round trip changed the message (-sent +got):\n%s", diff)
	}
}

// TestDecodeKeepsLexicalForms decodes forms a conversion would have rewritten and checks each
// arrives as written; whitespace around a value means nothing to XSD and is dropped.
func TestDecodeKeepsLexicalForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		xml  string
		want *testingv1.Fidelity
	}{
		{"a date with a zone stays a date with that zone", `<r><date>2024-05-01+02:00</date></r>`,
			&testingv1.Fidelity{Date: proto.String("2024-05-01+02:00")}},
		{"a dateTime without a zone stays without one", `<r><dateTime>2024-05-01T12:00:00</dateTime></r>`,
			&testingv1.Fidelity{DateTime: proto.String("2024-05-01T12:00:00")}},
		{"an offset is kept, with every fractional digit", `<r><dateTime>2024-05-01T12:00:00.1234567890+05:30</dateTime></r>`,
			&testingv1.Fidelity{DateTime: proto.String("2024-05-01T12:00:00.1234567890+05:30")}},
		{"whitespace around a value is not part of it", "<r><date>\n  2024-05-01Z\t</date><decimal> 1.50 </decimal></r>",
			&testingv1.Fidelity{Date: proto.String("2024-05-01Z"), Decimal: proto.String("1.50")}},
		{"decimal digits and trailing zeros", `<r><decimal>-000.10</decimal></r>`, &testingv1.Fidelity{Decimal: proto.String("-000.10")}},
		{"an integer beyond 64 bits", `<r><integer>-99999999999999999999999</integer></r>`,
			&testingv1.Fidelity{Integer: proto.String("-99999999999999999999999")}},
		{"a duration in years and months", `<r><duration>P1Y2M</duration><yearMonthDuration>P14M</yearMonthDuration></r>`,
			&testingv1.Fidelity{Duration: proto.String("P1Y2M"), YearMonthDuration: proto.String("P14M")}},
		{"the g types", `<r><gYear>2024</gYear><gYearMonth>2024-05Z</gYearMonth><gMonth>--05</gMonth><gMonthDay>--05-01</gMonthDay><gDay>---31</gDay></r>`,
			&testingv1.Fidelity{GYear: proto.String("2024"), GYearMonth: proto.String("2024-05Z"), GMonth: proto.String("--05"), GMonthDay: proto.String("--05-01"), GDay: proto.String("---31")}},
		{"an attribute", `<r stamped="2024-05-01T12:00:00-03:00"/>`, &testingv1.Fidelity{Stamped: proto.String("2024-05-01T12:00:00-03:00")}},
		{"list items and a wrapper", `<r><dates><date>2024-01-01</date><date>2024-01-02+01:00</date></dates><maybeDate>2024-01-03</maybeDate></r>`,
			&testingv1.Fidelity{Dates: []string{"2024-01-01", "2024-01-02+01:00"}, MaybeDate: wrapperspb.String("2024-01-03")}},
		{"hexBinary, either case", `<r><hex> 0fA0ff </hex></r>`, &testingv1.Fidelity{Hex: []byte{0x0f, 0xa0, 0xff}}},
		{"a Timestamp from UTC forms only", `<r><at>2024-05-01T04:00:00.5+00:00</at><took>P1DT12H0.5S</took></r>`,
			&testingv1.Fidelity{At: timestamppb.New(time.Date(2024, 5, 1, 4, 0, 0, 5e8, time.UTC)), Took: durationpb.New(36*time.Hour + 500*time.Millisecond)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := &testingv1.Fidelity{}
			if err := decode([]byte(tt.xml), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeRefusesBadLexicalForms: a reply value outside its type's lexical space, or one a
// well-known type cannot hold as sent, fails naming the element.
func TestDecodeRefusesBadLexicalForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, xml, want string
	}{
		{"a dateTime as a date", `<r><date>2024-05-01T00:00:00Z</date></r>`, `element date: "2024-05-01T00:00:00Z" is not an xsd:date`},
		{"a day that does not exist", `<r><date>2023-02-29</date></r>`, `element date: "2023-02-29" is not an xsd:date`},
		{"an empty date", `<r><date/></r>`, `element date: "" is not an xsd:date`},
		{"a zone beyond 14 hours", `<r><dateTime>2024-05-01T00:00:00+14:30</dateTime></r>`, `is not an xsd:dateTime`},
		{"a dateTimeStamp without a zone", `<r><dateTimeStamp>2024-05-01T00:00:00</dateTimeStamp></r>`, `is not an xsd:dateTimeStamp`},
		{"a decimal in exponent form", `<r><decimal>1.5E3</decimal></r>`, `element decimal: "1.5E3" is not an xsd:decimal`},
		{"a positive integer that is zero", `<r><positiveInteger>000</positiveInteger></r>`, `is not an xsd:positiveInteger`},
		{"a day and time in a yearMonthDuration", `<r><yearMonthDuration>P1DT1H</yearMonthDuration></r>`, `is not an xsd:yearMonthDuration`},
		{"a bad list item", `<r><dates><date>2024-01-01</date><date>01/02/2024</date></dates></r>`, `element dates/date: "01/02/2024" is not an xsd:date`},
		{"a bad attribute", `<r stamped="noon"/>`, `element @stamped: "noon" is not an xsd:dateTime`},
		{"bad hex", `<r><hex>0g</hex></r>`, `element hex: not xsd:hexBinary`},
		{"an offset into a Timestamp", `<r><at>2024-05-01T09:30:00+05:30</at></r>`,
			`element at: "2024-05-01T09:30:00+05:30" has the offset +05:30, which cannot be held exactly by a Timestamp (it holds UTC only); field agentbridge.testing.v1.Fidelity.at is a google.protobuf.Timestamp: map it as string with (agentbridge.v1.xml).xsd_type = "dateTime", which keeps the value as written`},
		{"no zone into a Timestamp", `<r><at>2024-05-01T09:30:00</at></r>`, `has no time zone and cannot be held exactly by a Timestamp`},
		{"a date into a Timestamp", `<r><at>2024-05-01</at></r>`, `is an xsd:date, a day rather than an instant, and cannot be held exactly by a Timestamp; field agentbridge.testing.v1.Fidelity.at is a google.protobuf.Timestamp: map it as string with (agentbridge.v1.xml).xsd_type = "date"`},
		// took is a Duration with xsd_type dayTimeDuration: zero years are still years, which
		// that type has no place for; TestFidelity found them accepted.
		{"zero years in a dayTimeDuration", `<r><took>P0Y0MT1S</took></r>`, `element took: "P0Y0MT1S" is not an xsd:dayTimeDuration`},
		{"years into a Duration", `<r><took>P1Y</took></r>`,
			`element took: "P1Y" counts years or months, which have no fixed length in seconds, and cannot be held exactly by a Duration; field agentbridge.testing.v1.Fidelity.took is a google.protobuf.Duration: map it as string with (agentbridge.v1.xml).xsd_type = "duration"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := decode([]byte(tt.xml), &testingv1.Fidelity{})
			var de *xmlcodec.DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a DecodeError containing %q", err, tt.want)
			}
		})
	}
}

// TestEncodeRefusesBadLexicalForms: a request value outside its type's lexical space is the
// caller's to fix, and never reaches the backend rewritten.
func TestEncodeRefusesBadLexicalForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		msg   *testingv1.Fidelity
		field string
		want  string
	}{
		{"a date with a time", &testingv1.Fidelity{Date: proto.String("2024-05-01T00:00:00")}, "date", `"2024-05-01T00:00:00" is not an xsd:date; xsd:date, such as 2024-05-01`},
		{"an RFC 3339 offset without colon", &testingv1.Fidelity{DateTime: proto.String("2024-05-01T00:00:00+0530")}, "date_time", "is not an xsd:dateTime"},
		{"whitespace is not trimmed on the way out", &testingv1.Fidelity{Decimal: proto.String(" 1.5")}, "decimal", `" 1.5" is not an xsd:decimal`},
		{"an empty optional date", &testingv1.Fidelity{Date: proto.String("")}, "date", `"" is not an xsd:date`},
		{"a bad list item", &testingv1.Fidelity{Dates: []string{"2024-01-01", "tomorrow"}}, "dates", `"tomorrow" is not an xsd:date`},
		{"a bad attribute", &testingv1.Fidelity{Stamped: proto.String("noon")}, "stamped", "is not an xsd:dateTime"},
		{"a bad wrapper value", &testingv1.Fidelity{MaybeDate: wrapperspb.String("2024-02-30")}, "maybe_date", "is not an xsd:date"},
		{"a bad oneof member", &testingv1.Fidelity{DueState: &testingv1.Fidelity_Due{Due: "soon"}}, "due", "is not an xsd:date"},
		{"a negative integer that is not", &testingv1.Fidelity{NegativeInteger: proto.String("-0")}, "negative_integer", "is not an xsd:negativeInteger"},
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
			if !errors.As(err, &ee) || string(ee.Field) != "agentbridge.testing.v1.Fidelity."+tt.field || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an EncodeError for field %s containing %q", err, tt.field, tt.want)
			}
		})
	}
}

// TestNilAbsentAndEmpty: the three stay apart in both directions, for a string, a message, a
// number and a date.
func TestNilAbsentAndEmpty(t *testing.T) {
	t.Parallel()
	const root = `<r xmlns:ns0="urn:test:fidelity">`
	tests := []struct {
		name string
		msg  *testingv1.Fidelity
		xml  string // as encoded, and decoded back to msg
		json string // protojson of msg
	}{
		{"absent: neither field set", &testingv1.Fidelity{}, root + `</r>`, `{}`},
		{"nil string", &testingv1.Fidelity{TraderNameState: &testingv1.Fidelity_TraderNameNil{}},
			root + `<ns0:traderName xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></r>`, `{"traderNameNil":null}`},
		{"empty string", &testingv1.Fidelity{TraderNameState: &testingv1.Fidelity_TraderName{}},
			root + `<ns0:traderName></ns0:traderName></r>`, `{"traderName":""}`},
		{"nil message", &testingv1.Fidelity{PriceState: &testingv1.Fidelity_PriceNil{}},
			root + `<ns0:price xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></r>`, `{"priceNil":null}`},
		{"empty message", &testingv1.Fidelity{PriceState: &testingv1.Fidelity_Price{Price: &testingv1.Priced{}}},
			root + `<ns0:price></ns0:price></r>`, `{"price":{}}`},
		{"nil number", &testingv1.Fidelity{CountState: &testingv1.Fidelity_CountNil{}},
			root + `<ns0:count xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></r>`, `{"countNil":null}`},
		{"zero number", &testingv1.Fidelity{CountState: &testingv1.Fidelity_Count{}},
			root + `<ns0:count>0</ns0:count></r>`, `{"count":0}`},
		{"nil date", &testingv1.Fidelity{DueState: &testingv1.Fidelity_DueNil{DueNil: structpb.NullValue_NULL_VALUE}},
			root + `<ns0:due xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></r>`, `{"dueNil":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := encode(t, tt.msg, xmlcodec.Name{Local: "r"})
			if string(got) != tt.xml {
				t.Errorf("encoded\n got %s\nwant %s", got, tt.xml)
			}
			back := &testingv1.Fidelity{}
			if err := decode([]byte(tt.xml), back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.msg, back, protocmp.Transform()); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			js, err := protojson.Marshal(back)
			if err != nil {
				t.Fatal(err)
			}
			if compact := strings.ReplaceAll(string(js), " ", ""); compact != tt.json {
				t.Errorf("protojson %s, want %s", compact, tt.json)
			}
			fromJSON := &testingv1.Fidelity{}
			if err := protojson.Unmarshal([]byte(tt.json), fromJSON); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(fromJSON, tt.msg) {
				t.Errorf("protojson.Unmarshal(%s) = %v, want %v", tt.json, fromJSON, tt.msg)
			}
		})
	}
}

func TestDecodeNilForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, xml string
		want      *testingv1.Fidelity // nil when the decode must fail
		wantErr   string
	}{
		{"xsi:nil=1, whitespace and a comment inside", `<r ` + xsiNS + `><traderName xsi:nil=" 1 "> <!-- none --> </traderName></r>`,
			&testingv1.Fidelity{TraderNameState: &testingv1.Fidelity_TraderNameNil{}}, ""},
		{"a value after nil replaces it", `<r ` + xsiNS + `><count xsi:nil="true"/><count>3</count></r>`,
			&testingv1.Fidelity{CountState: &testingv1.Fidelity_Count{Count: 3}}, ""},
		{"a nil element with text", `<r ` + xsiNS + `><traderName xsi:nil="true">Acme</traderName></r>`, nil,
			`element traderName: xsi:nil, but the element holds text`},
		{"a nil element with a child", `<r ` + xsiNS + `><price xsi:nil="true"><x/></price></r>`, nil,
			`element price: xsi:nil, but the element holds element x`},
		{"a nil message element with one of its attributes", `<r ` + xsiNS + `><price xsi:nil="true" currency="EUR"/></r>`, nil,
			`element price: xsi:nil with attribute currency, which a nil field cannot carry`},
		{"xsi:nil that is no boolean", `<r ` + xsiNS + `><traderName xsi:nil="yes"/></r>`, nil,
			`element traderName: xsi:nil="yes" is not an xsd:boolean`},
		{"nil on a field without a nil_of field", `<r ` + xsiNS + `><date xsi:nil="true"/></r>`, nil,
			`element date: xsi:nil, but field agentbridge.testing.v1.Fidelity.date has no nil_of field to carry it, and reading it as absent or empty would say something else; add a google.protobuf.NullValue field in a oneof with it, marked [(agentbridge.v1.xml) = {nil_of: "date"}]`},
		{"nil on a list item", `<r ` + xsiNS + `><dates><date>2024-01-01</date><date xsi:nil="true"/></dates></r>`, nil,
			`element dates/date: xsi:nil on an item of a list: a repeated field cannot hold a nil item`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := &testingv1.Fidelity{}
			err := decode([]byte(tt.xml), got)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestAbsentStaysAbsent: a reply must carry every field without presence; fields with presence
// may be left out and stay unset; an empty element is a value, not an absence.
func TestAbsentStaysAbsent(t *testing.T) {
	t.Parallel()
	const complete = `<r code="C1"><name>n</name><count>1</count><flag>true</flag><color>RED</color><day>2024-05-01</day></r>`
	full := &testingv1.Present{Code: "C1", Name: "n", Count: 1, Flag: true, Color: testingv1.Color_COLOR_RED, Day: "2024-05-01"}
	got := &testingv1.Present{}
	if err := decode([]byte(complete), got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(full, got, protocmp.Transform()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	missing := []struct{ cut, path, field, zero string }{
		{` code="C1"`, "@code", "code", `""`},
		{`<name>n</name>`, "name", "name", `""`},
		{`<count>1</count>`, "count", "count", "0"},
		{`<flag>true</flag>`, "flag", "flag", "false"},
		{`<color>RED</color>`, "color", "color", "COLOR_UNSPECIFIED"},
		{`<day>2024-05-01</day>`, "day", "day", `""`},
	}
	for _, m := range missing {
		t.Run("without "+m.path, func(t *testing.T) {
			t.Parallel()
			err := decode([]byte(strings.Replace(complete, m.cut, "", 1)), &testingv1.Present{})
			what := "element"
			if m.path[0] == '@' {
				what = "attribute"
			}
			want := "element " + m.path + ": the reply has no such " + what + ", and field agentbridge.testing.v1.Present." + m.field +
				" cannot say so: it has no presence, so it would read as " + m.zero + "; mark the field optional in the proto if the backend may leave it out"
			var de *xmlcodec.DecodeError
			if !errors.As(err, &de) || err.Error() != want {
				t.Fatalf("got %v\nwant %s", err, want)
			}
		})
	}
	t.Run("empty elements are values", func(t *testing.T) {
		t.Parallel()
		got := &testingv1.Present{}
		if err := decode([]byte(`<r code=""><name/><count>0</count><flag>0</flag><color>RED</color><day>2024-05-01</day></r>`), got); err != nil {
			t.Fatal(err)
		}
		want := &testingv1.Present{Color: testingv1.Color_COLOR_RED, Day: "2024-05-01"}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("an empty element is no number", func(t *testing.T) {
		t.Parallel()
		err := decode([]byte(strings.Replace(complete, "<count>1</count>", "<count/>", 1)), &testingv1.Present{})
		if err == nil || !strings.Contains(err.Error(), `element count: "" is not a 32-bit integer`) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fields with presence stay unset", func(t *testing.T) {
		t.Parallel()
		got := &testingv1.Present{}
		if err := decode([]byte(complete), got); err != nil {
			t.Fatal(err)
		}
		if got.Maybe != nil || got.Price != nil || got.Numbers != nil {
			t.Errorf("absent fields with presence were set: %v", got)
		}
		js, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(js), "maybe") || strings.Contains(string(js), "price") {
			t.Errorf("protojson with EmitDefaultValues wrote absent fields: %s", js)
		}
	})
}

// TestEncodePresence: a request leaves out what was not given (a field with presence not set,
// an xsd-typed string or an enum left at its zero value) and writes the zero of any other field
// without presence, as an XSD element with minOccurs=1 needs.
func TestEncodePresence(t *testing.T) {
	t.Parallel()
	got := encode(t, &testingv1.Present{}, xmlcodec.Name{Local: "r"})
	const want = `<r xmlns:ns0="urn:test:present"><ns0:name></ns0:name><ns0:count>0</ns0:count><ns0:flag>false</ns0:flag></r>`
	if string(got) != want {
		t.Errorf("encoded\n got %s\nwant %s", got, want)
	}
}
