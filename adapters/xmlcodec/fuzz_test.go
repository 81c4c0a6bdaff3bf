package xmlcodec_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

// corpusMessages are the SOAP messages of ../shared/corpus, read in place, as fuzz seeds.
func corpusMessages(f *testing.F) [][]byte {
	f.Helper()
	paths, _ := filepath.Glob("../../../shared/corpus/soap-messages/*/*.xml")
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// fuzzSeeds are replies into agentbridge.testing.v1.Everything that reach each part of the
// decoder, besides the corpus.
var fuzzSeeds = []string{
	`<r><i32> 42 </i32><flag>1</flag><u64>+7</u64><text>x</text></r>`,
	`<r xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><maybe xsi:nil="true"/><note xsi:nil="false"></note></r>`,
	`<r><color>dark-green</color><color-list>RED</color-list><at>2026-01-02T03:04:05Z</at><took>P1DT2H</took></r>`,
	`<r><child><i32>1</i32><child><text><![CDATA[a<b]]></text></child></child><raw>AAEC/w==</raw><db>-INF</db></r>`,
	`<r><unknown><deep>1</deep></unknown></r>`,
}

// FuzzDecode decodes arbitrary XML into a message with every kind of field, strict and
// lenient: it must never panic, and a message it decodes must survive encoding and decoding
// again unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	for _, b := range corpusMessages(f) {
		f.Add(b, true)
	}
	p, err := xmlcodec.For((&testingv1.Everything{}).ProtoReflect().Descriptor())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		var opts xmlcodec.DecodeOptions
		if lenient {
			opts.Skipped = func(string) {}
		}
		got := &testingv1.Everything{}
		if err := decodeWith(data, got, opts); isDisagreement(err) {
			t.Fatal(err)
		} else if err != nil {
			return
		}
		out, err := p.AppendElement(nil, xmlcodec.Name{Local: "r"}, got)
		if err != nil {
			return // a decoded value the encoder refuses is reported as such, not lost
		}
		again := &testingv1.Everything{}
		if err := decodeWith(out, again, xmlcodec.DecodeOptions{}); err != nil {
			t.Fatalf("the encoder's output does not decode: %v\ninput: %q\noutput: %s", err, data, out)
		}
		if diff := cmp.Diff(got, again, protocmp.Transform(), cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("round trip changed the message (-decoded +again):\n%s\ninput: %q\noutput: %s", diff, data, out)
		}
	})
}

// FuzzEncodeRoundTrip writes arbitrary messages (protobuf wire bytes into a message with every
// kind of field) as XML and reads them back: a message the encoder accepts must decode to
// itself, and the encoder must never panic.
func FuzzEncodeRoundTrip(f *testing.F) {
	for _, s := range fuzzSeeds {
		m := &testingv1.Everything{}
		if err := decodeWith([]byte(s), m, xmlcodec.DecodeOptions{Skipped: func(string) {}}); err != nil {
			continue
		}
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p, err := xmlcodec.For((&testingv1.Everything{}).ProtoReflect().Descriptor())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		m := &testingv1.Everything{}
		// Unknown fields have no XML form: the codec writes what the descriptor names.
		if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(wire, m); err != nil {
			return
		}
		out, err := p.AppendElement(nil, xmlcodec.Name{Local: "r"}, m)
		if err != nil {
			return // refused with a reason (a value XML cannot carry)
		}
		again := &testingv1.Everything{}
		if err := decodeWith(out, again, xmlcodec.DecodeOptions{}); err != nil {
			t.Fatalf("the encoder's output does not decode: %v\nmessage: %v\noutput: %s", err, m, out)
		}
		if diff := cmp.Diff(m, again, protocmp.Transform(), cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("round trip changed the message (-sent +again):\n%s\noutput: %s", diff, out)
		}
	})
}
