package xmlcodec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/agentbridge/agentbridge/adapters/xmlcodec"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
)

func TestStrictUnknownElements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, xml, path string
	}{
		{"top level", `<r><unknown><deep>1</deep></unknown><i32>5</i32></r>`, "unknown"},
		{"nested message", `<r><child><i32>1</i32><extra/></child></r>`, "child/extra"},
		{"after known fields", `<r><i32>5</i32><text>x</text><later>y</later></r>`, "later"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := decode([]byte(tt.xml), &testingv1.Everything{})
			var de *xmlcodec.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("strict decode: got %v, want a *DecodeError", err)
			}
			if de.Path != tt.path || !strings.Contains(err.Error(), "no field for this element") {
				t.Errorf("got path %q, error %v; want path %q", de.Path, err, tt.path)
			}

			// Lenient: the same reply decodes, and each skipped element is reported once with
			// its path.
			var skipped []string
			got := &testingv1.Everything{}
			if err := decodeWith([]byte(tt.xml), got, xmlcodec.DecodeOptions{Skipped: func(p string) { skipped = append(skipped, p) }}); err != nil {
				t.Fatalf("lenient decode: %v", err)
			}
			if diff := cmp.Diff([]string{tt.path}, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLenientKeepsKnownFields(t *testing.T) {
	t.Parallel()
	got := &testingv1.Everything{}
	err := decodeWith([]byte(`<r><unknown><deep>1</deep></unknown><i32>5</i32><child><x/><text>t</text></child></r>`), got,
		xmlcodec.DecodeOptions{Skipped: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	want := &testingv1.Everything{I32: proto.Int32(5), Child: &testingv1.Everything{Text: proto.String("t")}}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
