package adapters

import (
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/internal/prototest"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// TestDetailTypeNeedsAMethod: a detail_type names a message of a method's contract, so rules
// compiled without one (the config's backend rules) refuse it; a binding's rules resolve it
// through the method's file and its imports (adapters/soap/faultdetail_test.go).
func TestDetailTypeNeedsAMethod(t *testing.T) {
	t.Parallel()
	r := rule(func(r *agentbridgev1.FaultRule) {
		r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "fault"}
		r.DetailType = "agentbridge.v1.FaultRule"
	})
	_, err := CompileFaultRules("backend:b", []*agentbridgev1.FaultRule{r})
	if err == nil || !strings.Contains(err.Error(), `faults[0]: detail_type "agentbridge.v1.FaultRule": only a binding's fault rules can name a detail type`) {
		t.Errorf("CompileFaultRules: %v, want detail_type refused", err)
	}
}

// TestDetailTypeResolvesThroughImports: a binding's detail_type is found in the method's file,
// nested, and in a file it imports.
func TestDetailTypeResolvesThroughImports(t *testing.T) {
	t.Parallel()
	file := prototest.Compile(t, "detail.proto", `syntax = "proto3";
package agentbridge.detailtest;
import "agentbridge/v1/options.proto";
service S { rpc M(Outer) returns (Outer); }
message Outer { message Inner { string a = 1; } }`)
	md := file.Services().ByName("S").Methods().ByName("M")
	for _, name := range []string{"agentbridge.detailtest.Outer.Inner", "agentbridge.v1.XmlName"} {
		r := rule(func(r *agentbridgev1.FaultRule) {
			r.FaultDetail = &agentbridgev1.FaultDetailMatch{Element: "fault"}
			r.DetailType = name
		})
		rs, err := CompileBindingFaultRules(md, []*agentbridgev1.FaultRule{r})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m, ok := rs.Match(&FaultView{Detail: []DetailElement{{Path: []string{"fault"}}}})
		if !ok || m.DetailType == nil || string(m.DetailType.FullName()) != name || m.DetailElement != "fault" {
			t.Errorf("%s: mapping %+v", name, m)
		}
	}
}
