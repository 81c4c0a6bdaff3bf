package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/agentbridge/agentbridge/adapters"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// file builds a proto file with services of the given methods, each taking and returning
// google.protobuf.Empty, with options per method.
func file(t *testing.T, pkg string, services map[string]map[string]*descriptorpb.MethodOptions) protoreflect.FileDescriptor {
	t.Helper()
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(strings.ReplaceAll(pkg, ".", "/") + "/test.proto"),
		Package:    proto.String(pkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/empty.proto", "google/protobuf/descriptor.proto", "agentbridge/v1/options.proto"},
	}
	for svc, methods := range services {
		sd := &descriptorpb.ServiceDescriptorProto{Name: proto.String(svc)}
		for name, opts := range methods {
			sd.Method = append(sd.Method, &descriptorpb.MethodDescriptorProto{
				Name: proto.String(name), InputType: proto.String(".google.protobuf.Empty"),
				OutputType: proto.String(".google.protobuf.Empty"), Options: opts,
			})
		}
		fdp.Service = append(fdp.Service, sd)
	}
	_ = emptypb.Empty{}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func methodsOf(fds ...protoreflect.FileDescriptor) (map[string]*method, []string) {
	methods := map[string]*method{}
	var procs []string
	for _, fd := range fds {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				p := "/" + string(sd.FullName()) + "/" + string(md.Name())
				methods[p] = &method{desc: md, procedure: p}
				procs = append(procs, p)
			}
		}
	}
	return methods, procs
}

func TestToolNames(t *testing.T) {
	t.Parallel()
	named := &descriptorpb.MethodOptions{}
	proto.SetExtension(named, agentbridgev1.E_McpTool, &agentbridgev1.McpTool{Name: "lookup"})
	long := strings.Repeat("VeryLongLegacyServiceName", 3)
	a := file(t, "acme.crm.v1", map[string]map[string]*descriptorpb.MethodOptions{
		"OrderService":   {"Get": nil, "Find": named},
		long + "Service": {"GetCustomerAccountHistoryWithAllTransactions": nil},
	})
	b := file(t, "acme.billing.v1", map[string]map[string]*descriptorpb.MethodOptions{
		"OrderService": {"Get": nil},
	})
	methods, procs := methodsOf(a, b)
	names := toolNames(methods, procs, 0)
	want := map[string]string{
		"/acme.crm.v1.OrderService/Find":    "lookup",
		"/acme.crm.v1.OrderService/Get":     "acme_crm_v1_OrderService_Get", // OrderService_Get is taken twice
		"/acme.billing.v1.OrderService/Get": "acme_billing_v1_OrderService_Get",
	}
	for p, w := range want {
		if names[p] != w {
			t.Errorf("%s: tool name %q, want %q", p, names[p], w)
		}
	}
	longName := names["/acme.crm.v1."+long+"Service/GetCustomerAccountHistoryWithAllTransactions"]
	if len(longName) != DefaultToolNameBudget || !toolNamePattern.MatchString(longName) || !strings.HasPrefix(longName, long[:DefaultToolNameBudget-9]) {
		t.Errorf("long name %q: want %d valid characters keeping the start", longName, DefaultToolNameBudget)
	}
	if wide := toolNames(methods, procs, 64)["/acme.crm.v1."+long+"Service/GetCustomerAccountHistoryWithAllTransactions"]; len(wide) != 64 || !strings.HasPrefix(wide, long[:55]) {
		t.Errorf("with a budget of 64: %q", wide)
	}
	if again := toolNames(methods, procs, 0); again[procs[0]] != names[procs[0]] {
		t.Error("tool names are not deterministic")
	}
}

func TestToolAnnotations(t *testing.T) {
	t.Parallel()
	readOnly := &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_NO_SIDE_EFFECTS.Enum()}
	idempotent := &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_IDEMPOTENT.Enum()}
	destructive := &descriptorpb.MethodOptions{}
	proto.SetExtension(destructive, agentbridgev1.E_McpTool, &agentbridgev1.McpTool{Destructive: proto.Bool(true)})
	additive := &descriptorpb.MethodOptions{}
	proto.SetExtension(additive, agentbridgev1.E_McpTool, &agentbridgev1.McpTool{Destructive: proto.Bool(false)})
	named := &descriptorpb.MethodOptions{}
	proto.SetExtension(named, agentbridgev1.E_McpTool, &agentbridgev1.McpTool{Name: "delete_it"})
	fd := file(t, "acme.hints.v1", map[string]map[string]*descriptorpb.MethodOptions{
		"HintService": {"Read": readOnly, "Put": idempotent, "Purge": destructive, "Create": nil, "Append": additive, "Delete": named},
	})
	sd := fd.Services().Get(0)
	for _, tc := range []struct {
		method                                    protoreflect.Name
		readOnly, idempotent, destructive, hasDst bool
	}{
		{"Read", true, true, false, false},
		{"Put", false, true, false, true},
		{"Purge", false, false, true, true},
		{"Create", false, false, true, true}, // unreviewed and state-changing: destructive, as MCP assumes
		{"Append", false, false, false, true},
		{"Delete", false, false, true, true},
	} {
		a := annotations(sd.Methods().ByName(tc.method))
		if a.ReadOnlyHint != tc.readOnly || a.IdempotentHint != tc.idempotent || (a.DestructiveHint != nil) != tc.hasDst ||
			(a.DestructiveHint != nil && *a.DestructiveHint != tc.destructive) || a.OpenWorldHint == nil || !*a.OpenWorldHint {
			t.Errorf("%s: %+v", tc.method, a)
		}
	}
}

// TestToolLookupAcrossServices: a call finds its tool whatever the order of procedures and tool
// names (a.y.v1.Zulu sorts before b.z.v1.Alpha by procedure, after it by tool name); a lookup
// that assumed one order answered NotFound for a listed tool.
func TestToolLookupAcrossServices(t *testing.T) {
	t.Parallel()
	empty := func(context.Context, proto.Message) (proto.Message, error) { return &emptypb.Empty{}, nil }
	var services []Service
	for _, fd := range []protoreflect.FileDescriptor{
		file(t, "a.y.v1", map[string]map[string]*descriptorpb.MethodOptions{"Zulu": {"Get": nil}}),
		file(t, "b.z.v1", map[string]map[string]*descriptorpb.MethodOptions{"Alpha": {"Get": nil}, "Mike": {"Put": nil}}),
	} {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			impl := map[protoreflect.Name]adapters.Unary{}
			for j := range sd.Methods().Len() {
				impl[sd.Methods().Get(j).Name()] = empty
			}
			services = append(services, Service{Desc: sd, Methods: impl})
		}
	}
	s, err := New(services, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	g := s.gen.Load()
	for _, name := range []string{"Zulu_Get", "Alpha_Get", "Mike_Put"} {
		if tool := g.tool(name); tool == nil || tool.tool.Name != name {
			t.Errorf("tool %s not found", name)
		}
	}
	if g.tool("Nope_Get") != nil {
		t.Error("an unknown tool was found")
	}
}
