package xmlcodec_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

// nested is n unknown elements nested in one another inside r: 500,000 of them is the 3.5 MB
// reply that once cost 90 MB per call, because skipping an unknown element read it to any
// depth.
func nested(name string, n int) []byte {
	var b strings.Builder
	b.Grow(n*(2*len(name)+5) + 16)
	b.WriteString("<r>")
	for range n {
		b.WriteString("<" + name + ">")
	}
	for range n {
		b.WriteString("</" + name + ">")
	}
	b.WriteString("</r>")
	return []byte(b.String())
}

// allocated is the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestLimitsHostileReplies(t *testing.T) {
	// Not parallel: it measures allocations.
	lenient := xmlcodec.DecodeOptions{Skipped: func(string) {}}
	wide := "<r>" + strings.Repeat("<text>x</text>", 2000) + "</r>"
	tests := []struct {
		name string
		xml  []byte
		opts xmlcodec.DecodeOptions
		want string
	}{
		{"500,000 nested unknown elements, lenient", nested("a", 500_000), lenient, "nested deeper than 64 elements"},
		{"500,000 nested unknown elements, strict", nested("a", 500_000), xmlcodec.DecodeOptions{}, "no field for this element"},
		{"500,000 nested known elements", nested("child", 500_000), xmlcodec.DecodeOptions{}, "nested deeper than 64 elements"},
		{"element count, known elements", []byte(wide), xmlcodec.DecodeOptions{Limits: xmlcodec.Limits{MaxElements: 1000}}, "more than 1000 elements"},
		{"element count, skipped elements", []byte("<r><u>" + strings.Repeat("<v/>", 2000) + "</u></r>"),
			xmlcodec.DecodeOptions{Skipped: func(string) {}, Limits: xmlcodec.Limits{MaxElements: 1000}}, "more than 1000 elements"},
		{"attribute count on an unknown element", []byte(`<r><u` + attrs(300) + `/></r>`), lenient, "more than 256 attributes"},
		{"attribute size on a known element", []byte(`<r><child big="` + strings.Repeat("x", 70<<10) + `"/></r>`), xmlcodec.DecodeOptions{}, "attribute big holds more than 65536 bytes"},
		{"text size of a known element", []byte(`<r><text>` + strings.Repeat("x", 2000) + `</text></r>`),
			xmlcodec.DecodeOptions{Limits: xmlcodec.Limits{MaxTextBytes: 1000}}, "text of more than 1000 bytes"},
		{"text size inside a skipped element", []byte(`<r><u>` + strings.Repeat("x", 2000) + `</u></r>`),
			xmlcodec.DecodeOptions{Skipped: func(string) {}, Limits: xmlcodec.Limits{MaxTextBytes: 1000}}, "text of more than 1000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := allocated(func() { err = decodeWith(tt.xml, &testingv1.Everything{}, tt.opts) })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
			if strings.Contains(tt.want, "than") && !errors.Is(err, xmlcodec.ErrLimit) {
				t.Errorf("%v is not ErrLimit", err)
			}
			// Bounded: a few MB whatever the reply's nesting (the reader's buffer, the
			// decoder's stack of at most 64 elements, the error); the reply itself is not
			// counted, as it is built before.
			if limit := uint64(4 << 20); n > limit {
				t.Errorf("decoding allocated %d bytes, want at most %d", n, limit)
			}
			t.Logf("%d bytes allocated for a %d-byte reply", n, len(tt.xml))
		})
	}
}

// TestLimitsAnyField: an element kept whole in an any field is held to the same limits.
func TestLimitsAnyField(t *testing.T) {
	md := prototest.Compile(t, "any.proto", anyProto).Messages().ByName("Payment")
	if _, err := xmlcodec.For(md); err != nil { // the plan is built once, not per call
		t.Fatal(err)
	}
	reply := nested("a", 500_000)
	var err error
	n := allocated(func() { err = decodeWith(reply, dynamicpb.NewMessage(md), xmlcodec.DecodeOptions{}) })
	if !errors.Is(err, xmlcodec.ErrLimit) || !strings.Contains(err.Error(), "nested deeper than 64 elements") {
		t.Fatalf("got %v, want the depth limit", err)
	}
	if limit := uint64(4 << 20); n > limit {
		t.Errorf("decoding allocated %d bytes, want at most %d", n, limit)
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a'+i%26)) + string(rune('a'+i/26%26)))
		b.WriteString(`="1"`)
	}
	return b.String()
}
