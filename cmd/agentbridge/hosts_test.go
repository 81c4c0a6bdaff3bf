//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bufvalidate "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server"
)

// The host-compatibility suite runs the MCP client code of agent hosts, from npm, against the
// bridge: the official TypeScript SDK, the OpenAI Agents SDK (strict function tools), Google's
// @google/genai (mcpToTool), LangChain's MCP adapters (bound to ChatAnthropic) and the Vercel AI
// SDK's MCP client (with the Anthropic provider), driven by testdata/hosts/hosts.mjs. Each
// library sends its tool definitions to its model API, which is a capture server in hosts.mjs;
// this test checks what each sent against that host's documented rules, and that each library
// called a tool through its own call path. docs/mcp-hosts.md shows the table; `go test
// ./cmd/agentbridge -run TestMCPHosts -hosts.doc` rewrites it from a run.
const (
	hostsDir     = "testdata/hosts"
	hostsInstall = "npm ci --prefix cmd/agentbridge/testdata/hosts"
	hostsDocPath = "../../docs/mcp-hosts.md"
)

var hostsDoc = flag.Bool("hosts.doc", false, "rewrite the table in docs/mcp-hosts.md from this run of TestMCPHosts")

// hostsProfiles are the schema profiles of the MCP surface, chosen per toolset in config
// (mcp.toolsets.NAME.profile). "default" is /mcp with no profile configured.
var hostsProfiles = []string{"exact", "portable", "openai-strict", "gemini"}

// hostsRows are the table's rows: a host library run by hosts.mjs, or a host whose rules are
// checked on tools/list as the SDK client got it (cursor, claude-code).
var hostsRows = []struct {
	name, what string
	// asserted lists the profiles whose tools this host must accept; "default" counts only
	// once the default is no longer exact.
	asserted []string
}{
	{"mcp-sdk", "@modelcontextprotocol/sdk Client: tools/list, Ajv 2020-12 strict, callTool", []string{"default", "exact", "portable", "openai-strict", "gemini"}},
	{"cursor", "Cursor's reported rules on tools/list: no oneOf/anyOf/allOf anywhere, server + tool name ≤ 60", []string{"default", "portable"}},
	{"claude-code", "Claude Code: `mcp__agentbridge__TOOL` ≤ 64, Anthropic's input_schema rules", []string{"default", "portable"}},
	{"openai-agents", "@openai/agents MCP tools with convertSchemasToStrict → OpenAI Responses API (strict)", []string{"default", "portable", "openai-strict"}},
	{"google-genai", "@google/genai mcpToTool → Gemini generateContent", []string{"default", "portable", "gemini"}},
	{"langchain", "@langchain/mcp-adapters → ChatAnthropic.bindTools → Anthropic Messages API", []string{"default", "portable"}},
	{"vercel-ai", "@ai-sdk/mcp tools → ai generateText → @ai-sdk/anthropic → Anthropic Messages API", []string{"default", "portable"}},
}

// hostsService is one service the suite serves: how to build it for a config, and the call each
// library makes.
type hostsService struct {
	name  string
	what  string
	build func(t *testing.T, cfg *server.Config, opts ...server.Option) (*server.Server, error)
	// yaml is the config's services (and backends) section.
	yaml   func(t *testing.T) string
	call   hostsCall
	expect string
}

type hostsCall struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
}

type hostsTarget struct {
	Label string    `json:"label"`
	URL   string    `json:"url"`
	Call  hostsCall `json:"call"`

	service, profile, expect string
}

// hostsResult is what hosts.mjs reports of one host on one target.
type hostsResult struct {
	Library   string `json:"library"`
	API       string `json:"api"`
	ToolCount int    `json:"toolCount"`
	Tools     []struct {
		Name         string         `json:"name"`
		InputSchema  map[string]any `json:"inputSchema"`
		OutputSchema map[string]any `json:"outputSchema"`
		InputError   *string        `json:"inputError"`
		OutputError  *string        `json:"outputError"`
	} `json:"tools"`
	Sent     json.RawMessage `json:"sent"`
	Requests []struct {
		Method string `json:"method"`
		Path   string `json:"path"`
	} `json:"requests"`
	Call struct {
		Name      string         `json:"name"`
		Arguments map[string]any `json:"arguments"`
		OK        bool           `json:"ok"`
		Text      string         `json:"text"`
		Error     string         `json:"error"`
	} `json:"call"`
	Returned *string `json:"returned"`
	Error    string  `json:"error"`
	MS       int     `json:"ms"`
}

type hostsSummary struct {
	Capture string `json:"capture"`
	Targets []struct {
		Label string                  `json:"label"`
		URL   string                  `json:"url"`
		Hosts map[string]*hostsResult `json:"hosts"`
	} `json:"targets"`
	Failures []string `json:"failures"`
}

// hostsVerdict is one cell of the table.
type hostsVerdict struct {
	served   bool
	tools    int
	rules    map[string][]string // broken rule → tools that break it
	err      string              // the library failed before it sent anything
	callOK   bool
	callNote string
	lossy    []string // properties sent without any type (informational)
}

func (v *hostsVerdict) accepted() bool { return v.served && v.err == "" && len(v.rules) == 0 }

func (v *hostsVerdict) cell() string {
	if !v.served {
		return "not served yet"
	}
	var parts []string
	switch {
	case v.err != "":
		parts = append(parts, "✗ "+hostsShorten(v.err, 120))
	case len(v.rules) == 0:
		parts = append(parts, "✓")
	default:
		// Rules are "what: detail"; each what is shown once with its details and how many
		// tools broke each.
		var whats []string
		details := map[string][]string{}
		for _, r := range slices.Sorted(maps.Keys(v.rules)) {
			what, detail, _ := strings.Cut(r, ": ")
			if details[what] == nil {
				whats = append(whats, what)
			}
			details[what] = append(details[what], fmt.Sprintf("%s (%d/%d)", hostsShorten(detail, 100), len(v.rules[r]), v.tools))
		}
		var rs []string
		for _, what := range whats {
			rs = append(rs, what+": "+strings.Join(details[what], ", "))
		}
		parts = append(parts, "✗ "+strings.Join(rs, "; "))
	}
	if len(v.lossy) > 0 {
		parts = append(parts, fmt.Sprintf("%d properties sent without a type", len(v.lossy)))
	}
	if v.callOK {
		parts = append(parts, "call ✓")
	} else {
		parts = append(parts, "call ✗ "+hostsShorten(v.callNote, 120))
	}
	return strings.Join(parts, "<br>")
}

func hostsShorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// TestMCPHosts serves the demo, the schema probe service and a 160-method service in every
// schema profile the server knows, runs every host library against each, and checks what they
// sent to their model APIs. A profile the config does not take yet is reported as not served and
// its assertions skipped; so are the default's while it is still exact.
func TestMCPHosts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the MCP client code of agent hosts under node; skipped in -short mode")
	}
	node := nodeDeps(t, hostsDir, hostsInstall)
	dir, err := filepath.Abs(hostsDir)
	if err != nil {
		t.Fatal(err)
	}

	services := []hostsService{hostsDemo(), hostsProbe(), hostsWide()}
	notServed := map[string]string{} // service/profile → why
	// verdicts[service][profile][row]
	verdicts := map[string]map[string]map[string]*hostsVerdict{}
	libraries := map[string]string{}
	defaultProfile := map[string]string{}
	for _, svc := range services {
		base, served, why := hostsServe(t, svc)
		var targets []hostsTarget
		if svc.name == "demo" {
			// The default is the demo as `agentbridge demo` serves it.
			targets = append(targets, hostsTarget{Label: "demo/default", URL: "http://" + mcpStartDemo(t) + "/mcp", Call: svc.call, service: svc.name, profile: "default", expect: svc.expect})
		} else {
			targets = append(targets, hostsTarget{Label: svc.name + "/default", URL: base + "/mcp", Call: svc.call, service: svc.name, profile: "default", expect: svc.expect})
		}
		verdicts[svc.name] = map[string]map[string]*hostsVerdict{}
		for _, p := range hostsProfiles {
			if !slices.Contains(served, p) {
				notServed[svc.name+"/"+p] = why[p]
				row := map[string]*hostsVerdict{}
				for _, h := range hostsRows {
					row[h.name] = &hostsVerdict{}
				}
				verdicts[svc.name][p] = row
				continue
			}
			targets = append(targets, hostsTarget{Label: svc.name + "/" + p, URL: base + "/mcp/" + p, Call: svc.call, service: svc.name, profile: p, expect: svc.expect})
		}

		// One node run per target keeps each well within mcpNodeTimeout (the 160 tools of the wide
		// service take each library seconds under -race).
		for _, tg := range targets {
			got := hostsRun(t, dir, node, []hostsTarget{tg}).Targets[0]
			row := map[string]*hostsVerdict{}
			verdicts[svc.name][tg.profile] = row
			for _, h := range hostsRows {
				row[h.name] = hostsJudge(h.name, tg, got.Hosts)
				if r := got.Hosts[h.name]; r != nil && r.Library != "" {
					libraries[h.name] = r.Library
				}
			}
			if tg.profile == "default" {
				defaultProfile[svc.name] = hostsDefaultServes(got.Hosts["mcp-sdk"])
			}
			var took []string
			for _, name := range slices.Sorted(maps.Keys(got.Hosts)) {
				took = append(took, fmt.Sprintf("%s %dms", name, got.Hosts[name].MS))
			}
			t.Logf("%s: %s", tg.Label, strings.Join(took, ", "))
		}
	}

	table := hostsTable(services, verdicts, libraries, defaultProfile, notServed)
	t.Logf("host × profile × service:\n%s", table)
	if *hostsDoc {
		hostsWriteDoc(t, table)
	}

	// The assertions: each host accepts the profile built for it, and calls a tool through its
	// own call path there.
	for _, svc := range services {
		for _, p := range append([]string{"default"}, hostsProfiles...) {
			if _, skipped := notServed[svc.name+"/"+p]; skipped {
				t.Logf("%s/%s: not served (%s); its assertions are skipped until the config takes it", svc.name, p, hostsShorten(notServed[svc.name+"/"+p], 200))
				continue
			}
			for _, h := range hostsRows {
				if !hostsAsserted(h.name, h.asserted, p, defaultProfile[svc.name]) {
					continue
				}
				v := verdicts[svc.name][p][h.name]
				if !v.accepted() {
					t.Errorf("%s/%s: %s does not accept the tools: %s%s", svc.name, p, h.name, v.cell(), hostsDetails(v))
				}
				if !v.callOK {
					t.Errorf("%s/%s: %s could not call %s: %s", svc.name, p, h.name, svc.call.Name, v.callNote)
				}
			}
		}
	}
	for svc, p := range defaultProfile {
		if p == "exact" {
			t.Logf("%s/default still serves exact schemas ($schema at the root): only mcp-sdk is asserted there", svc)
		}
	}
}

// hostsAsserted says whether host must accept profile: one it is built for, or the default once
// the default is no longer exact (the SDK client's Ajv check holds for every profile).
func hostsAsserted(host string, asserted []string, profile, defaultServes string) bool {
	if !slices.Contains(asserted, profile) {
		return false
	}
	return profile != "default" || defaultServes != "exact" || host == "mcp-sdk"
}

// hostsRun runs hosts.mjs on targets and returns its summary, failing the test when it cannot be
// read or reports failures of its own (a request that would have left the machine).
func hostsRun(t *testing.T, dir, node string, targets []hostsTarget) *hostsSummary {
	t.Helper()
	data, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	targetsFile := filepath.Join(t.TempDir(), "targets.json")
	if err := os.WriteFile(targetsFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var sum hostsSummary
	runNodeSummary(t, dir, node, &sum, "hosts.mjs", targetsFile)
	for _, f := range sum.Failures {
		t.Errorf("hosts.mjs: %s", f)
	}
	if len(sum.Targets) != len(targets) {
		t.Fatalf("hosts.mjs reports %d targets, was given %d", len(sum.Targets), len(targets))
	}
	for i, tg := range targets {
		if sum.Targets[i].Label != tg.Label {
			t.Fatalf("hosts.mjs target %d is %q, want %q", i, sum.Targets[i].Label, tg.Label)
		}
	}
	return &sum
}

// hostsDetails lists, for a failed cell, which tools broke which rule (the first few).
func hostsDetails(v *hostsVerdict) string {
	var b strings.Builder
	for _, r := range slices.Sorted(maps.Keys(v.rules)) {
		tools := v.rules[r]
		if len(tools) > 3 {
			tools = append(tools[:3:3], fmt.Sprintf("and %d more", len(v.rules[r])-3))
		}
		fmt.Fprintf(&b, "\n\t%s: %s", r, strings.Join(tools, ", "))
	}
	return b.String()
}

// hostsDefaultServes names the profile the default serves as far as tools/list shows: "exact"
// while any tool's inputSchema still carries $schema, else "not exact".
func hostsDefaultServes(r *hostsResult) string {
	if r == nil || len(r.Tools) == 0 {
		return "unknown"
	}
	for _, tool := range r.Tools {
		if _, ok := tool.InputSchema["$schema"]; ok {
			return "exact"
		}
	}
	return "not exact"
}

// hostsServe serves svc with one toolset per profile the config takes, at /mcp/PROFILE, until
// the test ends; /mcp is the default profile. It returns the base URL, the profiles served, and
// for the others why the config or the server refused them.
func hostsServe(t *testing.T, svc hostsService) (base string, served []string, why map[string]string) {
	t.Helper()
	why = map[string]string{}
	logs := &mcpLockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	config := func(profiles []string) (*server.Server, error) {
		var b strings.Builder
		b.WriteString(svc.yaml(t))
		if len(profiles) > 0 {
			b.WriteString("mcp:\n  toolsets:\n")
			for _, p := range profiles {
				fmt.Fprintf(&b, "    %s:\n      profile: %s\n", p, p)
			}
		}
		cfg, err := server.ParseConfig([]byte(b.String()))
		if err != nil {
			return nil, err
		}
		return svc.build(t, cfg, server.WithLogger(logger), server.WithGRPCAddr(""), server.WithShutdownGrace(time.Second))
	}
	for _, p := range hostsProfiles {
		if _, err := config([]string{p}); err != nil {
			why[p] = err.Error()
			continue
		}
		served = append(served, p)
	}
	srv, err := config(served)
	if err != nil {
		t.Fatalf("%s: serving profiles %v: %v", svc.name, served, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListeners(ctx, nil, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: serving: %v", svc.name, err)
		}
		if t.Failed() && logs.String() != "" {
			t.Logf("%s server log:\n%s", svc.name, logs.String())
		}
	})
	return "http://" + lis.Addr().String(), served, why
}

// hostsDemo is the demo's InventoryService, bound by its proto options to the legacy SOAP system
// (served on an httptest server), exactly as `agentbridge serve` would from this config.
func hostsDemo() hostsService {
	var once sync.Once
	var endpoint string
	return hostsService{
		name: "demo",
		what: "the demo's " + demo.ServiceName + " (3 tools), bound to the legacy SOAP system",
		yaml: func(t *testing.T) string {
			once.Do(func() {
				legacy := httptest.NewServer(demo.NewLegacy(time.Now))
				t.Cleanup(legacy.Close)
				endpoint = legacy.URL + "/inventory"
			})
			return fmt.Sprintf("services: [%s]\nbackends:\n  inventory: {kind: soap, endpoint: %q}\n", demo.ServiceName, endpoint)
		},
		build: func(_ *testing.T, cfg *server.Config, opts ...server.Option) (*server.Server, error) {
			return cfg.Build(opts...)
		},
		call:   hostsCall{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}},
		expect: "Cordless drill",
	}
}

// hostsProbe serves agentbridge.testing.v1.SchemaProbe (schema.proto: every scalar, well-known
// type, oneof, map, recursion and validation rule) as the one method of a service that only this
// test declares, implemented in Go: it answers with its request.
func hostsProbe() hostsService {
	const name = "agentbridge.hoststest.v1.ProbeService"
	return hostsService{
		name: "probe",
		what: "the schema probe: " + name + ".Probe(agentbridge.testing.v1.SchemaProbe) (1 tool), echoing in Go",
		yaml: func(*testing.T) string { return "services: [" + name + "]\n" },
		build: func(t *testing.T, cfg *server.Config, opts ...server.Option) (*server.Server, error) {
			sd := hostsFile(t, "probe", hostsProbeFile).Services().Get(0)
			echo := func(_ context.Context, req proto.Message) (proto.Message, error) { return req, nil }
			return hostsBuild(cfg, []server.Service{{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{"Probe": echo}}}, opts)
		},
		call:   hostsCall{Name: "ProbeService_Probe", Arguments: map[string]any{"nickname": "hosts-probe"}},
		expect: "hosts-probe",
	}
}

func hostsProbeFile() *descriptorpb.FileDescriptorProto {
	probe := "." + string((&testingv1.SchemaProbe{}).ProtoReflect().Descriptor().FullName())
	return &descriptorpb.FileDescriptorProto{
		Name:       proto.String("agentbridge/hoststest/v1/probe.proto"),
		Package:    proto.String("agentbridge.hoststest.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{testingv1.File_agentbridge_testing_v1_schema_proto.Path()},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("ProbeService"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name: proto.String("Probe"), InputType: proto.String(probe), OutputType: proto.String(probe),
				Options: &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_NO_SIDE_EFFECTS.Enum()},
			}},
		}},
	}
}

// hostsWide is a back-office service of 160 methods (40 resources, each with Get, List, Create and
// Update), as an API imported from a large WSDL might look, implemented in Go: Get answers with
// the resource it was asked for, the others with an empty message.
func hostsWide() hostsService {
	const name = "agentbridge.hoststest.v1.BackOfficeService"
	return hostsService{
		name: "wide",
		what: "a 160-method " + name + " (160 tools), answering in Go",
		yaml: func(*testing.T) string { return "services: [" + name + "]\n" },
		build: func(t *testing.T, cfg *server.Config, opts ...server.Option) (*server.Server, error) {
			sd := hostsFile(t, "wide", hostsWideFile).Services().Get(0)
			methods := map[protoreflect.Name]adapters.Unary{}
			for i := range sd.Methods().Len() {
				md := sd.Methods().Get(i)
				methods[md.Name()] = func(_ context.Context, req proto.Message) (proto.Message, error) {
					out := dynamicpb.NewMessage(md.Output())
					if strings.HasPrefix(string(md.Name()), "Get") {
						field := md.Input().Fields().ByName("name")
						out.Set(md.Output().Fields().ByName("name"), req.ProtoReflect().Get(field))
					}
					return out, nil
				}
			}
			return hostsBuild(cfg, []server.Service{{Desc: sd, Methods: methods}}, opts)
		},
		call:   hostsCall{Name: "BackOfficeService_GetAccount", Arguments: map[string]any{"name": "accounts/a-1"}},
		expect: "accounts/a-1",
	}
}

// hostsBuild serves services implemented in Go with the config's options (its mcp section).
func hostsBuild(cfg *server.Config, services []server.Service, opts []server.Option) (*server.Server, error) {
	cfgOpts, err := cfg.Options()
	if err != nil {
		return nil, err
	}
	return server.New(services, append(cfgOpts, opts...)...)
}

var (
	hostsFilesMu sync.Mutex
	hostsFiles   = map[string]protoreflect.FileDescriptor{}
)

// hostsFile builds a file that exists only at run time, once per test binary, and registers its
// messages in GlobalTypes, where server.New looks request types up.
func hostsFile(t *testing.T, key string, file func() *descriptorpb.FileDescriptorProto) protoreflect.FileDescriptor {
	t.Helper()
	hostsFilesMu.Lock()
	defer hostsFilesMu.Unlock()
	if fd, ok := hostsFiles[key]; ok {
		return fd
	}
	// Registered nowhere: its messages are dynamic, as a contract loaded at run time has them.
	fd, err := protodesc.NewFile(file(), protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	hostsFiles[key] = fd
	return fd
}

var hostsWideResources = []string{
	"Account", "Address", "Asset", "Bank", "Batch", "Budget", "Campaign", "Carrier", "Claim", "Contact",
	"Contract", "CostCenter", "Coupon", "Customer", "Delivery", "Department", "Device", "Discount", "Employee", "Expense",
	"Invoice", "Journal", "Lead", "Ledger", "License", "Location", "Machine", "Opportunity", "Order", "Payment",
	"Policy", "Product", "Project", "PurchaseOrder", "Quote", "Refund", "Shipment", "Supplier", "Ticket", "Warranty",
}

// hostsWideFile describes the wide service: each resource has its own message with strings, an
// int64, an enum, shared nested messages, repeated fields and Timestamps; requests carry
// buf.validate rules (pattern, range, uuid, length) as an integrator would write them.
func hostsWideFile() *descriptorpb.FileDescriptorProto {
	const pkg = "agentbridge.hoststest.v1"
	type ft = descriptorpb.FieldDescriptorProto_Type
	str, i64, i32 := descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_INT64, descriptorpb.FieldDescriptorProto_TYPE_INT32
	enum, msg := descriptorpb.FieldDescriptorProto_TYPE_ENUM, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	ref := func(name string) string { return "." + pkg + "." + name }
	field := func(name string, n int32, repeated bool, typ ft, typeName string, rules *bufvalidate.FieldRules) *descriptorpb.FieldDescriptorProto {
		label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		if repeated {
			label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		}
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Label: label.Enum(), Type: typ.Enum(), JsonName: proto.String(hostsCamel(name))}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		if rules != nil {
			f.Options = &descriptorpb.FieldOptions{}
			proto.SetExtension(f.Options, bufvalidate.E_Field, rules)
		}
		return f
	}
	message := func(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
	}
	pattern := func(p string) *bufvalidate.FieldRules {
		return &bufvalidate.FieldRules{Type: &bufvalidate.FieldRules_String_{String_: &bufvalidate.StringRules{Pattern: proto.String(p)}}}
	}
	maxLen := func(n uint64) *bufvalidate.FieldRules {
		return &bufvalidate.FieldRules{Type: &bufvalidate.FieldRules_String_{String_: &bufvalidate.StringRules{MaxLen: proto.Uint64(n)}}}
	}
	uuid := &bufvalidate.FieldRules{Type: &bufvalidate.FieldRules_String_{String_: &bufvalidate.StringRules{WellKnown: &bufvalidate.StringRules_Uuid{Uuid: true}}}}
	pageSize := &bufvalidate.FieldRules{Type: &bufvalidate.FieldRules_Int32{Int32: &bufvalidate.Int32Rules{
		GreaterThan: &bufvalidate.Int32Rules_Gte{Gte: 0}, LessThan: &bufvalidate.Int32Rules_Lte{Lte: 1000}}}}
	file := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("agentbridge/hoststest/v1/wide.proto"),
		Package:    proto.String(pkg),
		Dependency: []string{"google/protobuf/timestamp.proto", "buf/validate/validate.proto"},
		Syntax:     proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("State"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("STATE_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("STATE_ACTIVE"), Number: proto.Int32(1)},
				{Name: proto.String("STATE_SUSPENDED"), Number: proto.Int32(2)},
				{Name: proto.String("STATE_CLOSED"), Number: proto.Int32(3)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			message("Money", field("currency_code", 1, false, str, "", pattern("^[A-Z]{3}$")), field("units", 2, false, i64, "", nil), field("nanos", 3, false, i32, "", nil)),
			message("PostalAddress", field("lines", 1, true, str, "", nil), field("city", 2, false, str, "", nil),
				field("postal_code", 3, false, str, "", nil), field("country_code", 4, false, str, "", pattern("^[A-Z]{2}$"))),
			message("LineItem", field("sku", 1, false, str, "", nil), field("quantity", 2, false, i64, "", nil), field("unit_price", 3, false, msg, ref("Money"), nil)),
		},
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("BackOfficeService")}
	readOnly := &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_NO_SIDE_EFFECTS.Enum()}
	idempotent := &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_IDEMPOTENT.Enum()}
	method := func(name, in, out string, opts *descriptorpb.MethodOptions) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(ref(in)), OutputType: proto.String(ref(out)), Options: opts}
	}
	for _, r := range hostsWideResources {
		rs := hostsPlural(r)
		lower, lowers := hostsSnake(r), hostsSnake(rs)
		file.MessageType = append(file.MessageType,
			message(r,
				field("name", 1, false, str, "", nil), field("display_name", 2, false, str, "", maxLen(200)),
				field("external_id", 3, false, str, "", nil), field("quantity", 4, false, i64, "", nil),
				field("state", 5, false, enum, ref("State"), nil), field("amount", 6, false, msg, ref("Money"), nil),
				field("address", 7, false, msg, ref("PostalAddress"), nil), field("tags", 8, true, str, "", nil),
				field("lines", 9, true, msg, ref("LineItem"), nil), field("create_time", 10, false, msg, ".google.protobuf.Timestamp", nil),
				field("update_time", 11, false, msg, ".google.protobuf.Timestamp", nil)),
			message("Get"+r+"Request", field("name", 1, false, str, "", pattern("^"+strings.ReplaceAll(lowers, "_", "-")+"/[A-Za-z0-9-]{1,40}$"))),
			message("List"+rs+"Request", field("page_size", 1, false, i32, "", pageSize), field("page_token", 2, false, str, "", nil),
				field("filter", 3, false, str, "", maxLen(500)), field("state", 4, false, enum, ref("State"), nil)),
			message("List"+rs+"Response", field(lowers, 1, true, msg, ref(r), nil), field("next_page_token", 2, false, str, "", nil),
				field("total_size", 3, false, i64, "", nil)),
			message("Create"+r+"Request", field(lower, 1, false, msg, ref(r), nil), field("request_id", 2, false, str, "", uuid)),
			message("Update"+r+"Request", field(lower, 1, false, msg, ref(r), nil), field("update_mask", 2, true, str, "", nil),
				field("request_id", 3, false, str, "", uuid)),
		)
		svc.Method = append(svc.Method,
			method("Get"+r, "Get"+r+"Request", r, readOnly),
			method("List"+rs, "List"+rs+"Request", "List"+rs+"Response", readOnly),
			method("Create"+r, "Create"+r+"Request", r, nil),
			method("Update"+r, "Update"+r+"Request", r, idempotent),
		)
	}
	file.Service = []*descriptorpb.ServiceDescriptorProto{svc}
	return file
}

func hostsPlural(s string) string {
	switch {
	case strings.HasSuffix(s, "y"):
		return strings.TrimSuffix(s, "y") + "ies"
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "ch"):
		return s + "es"
	}
	return s + "s"
}

func hostsSnake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if 'A' <= c && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func hostsCamel(name string) string {
	var b strings.Builder
	upper := false
	for _, c := range name {
		switch {
		case c == '_':
			upper = true
		case upper:
			b.WriteString(strings.ToUpper(string(c)))
			upper = false
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// hostsJudge checks what one host did on one target against that host's rules.
func hostsJudge(row string, tg hostsTarget, hosts map[string]*hostsResult) *hostsVerdict {
	v := &hostsVerdict{served: true, rules: map[string][]string{}}
	broke := func(rule, tool string) {
		if !slices.Contains(v.rules[rule], tool) {
			v.rules[rule] = append(v.rules[rule], tool)
		}
	}
	source := row
	if row == "cursor" || row == "claude-code" {
		source = "mcp-sdk"
	}
	r := hosts[source]
	if r == nil {
		v.err = "hosts.mjs did not run " + source
		return v
	}
	v.err = r.Error
	// The call, through the library's own call path.
	switch {
	case r.Call.OK && strings.Contains(r.Call.Text, tg.expect):
		v.callOK = true
	case r.Call.Error != "":
		v.callNote = r.Call.Error
	case !r.Call.OK:
		v.callNote = "an error result: " + r.Call.Text
	default:
		v.callNote = fmt.Sprintf("the result does not show %q: %s", tg.expect, r.Call.Text)
	}
	if v.callOK && (row == "openai-agents" || row == "google-genai") && (r.Returned == nil || !strings.Contains(*r.Returned, tg.expect)) {
		v.callOK, v.callNote = false, "the library did not send the tool's result back to the model API"
	}
	listed := hosts["mcp-sdk"]
	switch row {
	case "mcp-sdk":
		v.tools = len(r.Tools)
		for _, tool := range r.Tools {
			if tool.InputError != nil {
				broke("Ajv strict, inputSchema: "+hostsShorten(*tool.InputError, 80), tool.Name)
			}
			if tool.OutputError != nil {
				broke("Ajv strict, outputSchema: "+hostsShorten(*tool.OutputError, 80), tool.Name)
			}
		}
		if len(r.Tools) == 0 && v.err == "" {
			v.err = "tools/list listed no tool"
		}
	case "cursor":
		v.err = r.Error
		v.tools = len(r.Tools)
		for _, tool := range r.Tools {
			for _, kw := range []string{"oneOf", "anyOf", "allOf"} {
				if hostsHasKeyword(tool.InputSchema, kw) {
					broke("in inputSchema: "+kw, tool.Name)
				}
			}
			if len("agentbridge")+len(tool.Name) > 60 {
				broke("name: server + tool > 60", tool.Name)
			}
		}
	case "claude-code":
		v.tools = len(r.Tools)
		for _, tool := range r.Tools {
			if len("mcp__agentbridge__"+tool.Name) > 64 {
				broke("name: mcp__agentbridge__TOOL > 64", tool.Name)
			}
			for _, rule := range hostsAnthropicRules(tool.Name, tool.InputSchema) {
				broke(rule, tool.Name)
			}
		}
	case "openai-agents":
		var sent []struct {
			Type       string         `json:"type"`
			Name       string         `json:"name"`
			Parameters map[string]any `json:"parameters"`
			Strict     *bool          `json:"strict"`
		}
		v.err = hostsUnmarshalSent(r, &sent)
		v.tools = len(sent)
		for _, tool := range sent {
			if tool.Strict == nil || !*tool.Strict {
				broke("strict: sent non-strict (the SDK could not convert it)", tool.Name)
			}
			for _, rule := range hostsOpenAIStrictRules(tool.Name, tool.Parameters) {
				broke(rule, tool.Name)
			}
		}
	case "google-genai":
		var sent []struct {
			FunctionDeclarations []struct {
				Name                 string         `json:"name"`
				Parameters           map[string]any `json:"parameters"`
				ParametersJSONSchema map[string]any `json:"parametersJsonSchema"`
				ResponseJSONSchema   map[string]any `json:"responseJsonSchema"`
			} `json:"functionDeclarations"`
		}
		v.err = hostsUnmarshalSent(r, &sent)
		for _, tool := range sent {
			for _, fn := range tool.FunctionDeclarations {
				v.tools++
				params := fn.ParametersJSONSchema
				if params == nil {
					params = fn.Parameters
				}
				for _, rule := range hostsGeminiRules(params, "") {
					broke(rule, fn.Name)
				}
				for _, rule := range hostsGeminiRules(fn.ResponseJSONSchema, "") {
					broke("response, "+rule, fn.Name)
				}
			}
		}
	case "langchain", "vercel-ai":
		var sent []struct {
			Name        string         `json:"name"`
			InputSchema map[string]any `json:"input_schema"`
		}
		v.err = hostsUnmarshalSent(r, &sent)
		v.tools = len(sent)
		for _, tool := range sent {
			for _, rule := range hostsAnthropicRules(tool.Name, tool.InputSchema) {
				broke(rule, tool.Name)
			}
			for _, p := range hostsUntyped(tool.InputSchema, "") {
				v.lossy = append(v.lossy, tool.Name+p)
			}
		}
	}
	if v.err == "" && source != "mcp-sdk" && listed != nil && v.tools != len(listed.Tools) {
		v.err = fmt.Sprintf("sent %d of the %d tools listed", v.tools, len(listed.Tools))
	}
	return v
}

func hostsUnmarshalSent(r *hostsResult, into any) string {
	if r.Error != "" {
		return r.Error
	}
	if len(r.Sent) == 0 || string(r.Sent) == "null" {
		return "sent nothing to the model API"
	}
	if err := json.Unmarshal(r.Sent, into); err != nil {
		return "the tools sent are not what the API takes: " + err.Error()
	}
	return ""
}

// hostsHasKeyword says whether keyword appears in schema as a schema keyword, anywhere.
func hostsHasKeyword(schema any, keyword string) bool {
	found := false
	hostsWalk(schema, "", func(s map[string]any, _ string) {
		if _, ok := s[keyword]; ok {
			found = true
		}
	})
	return found
}

// hostsWalk calls f on schema and every subschema in it, with a JSON pointer to it; the values of
// enum, const, default and examples are data, not schemas.
func hostsWalk(schema any, path string, f func(s map[string]any, path string)) {
	s, ok := schema.(map[string]any)
	if !ok {
		return
	}
	f(s, path)
	for key, value := range s {
		switch key {
		case "properties", "$defs", "definitions", "patternProperties", "dependentSchemas":
			if m, ok := value.(map[string]any); ok {
				for _, name := range slices.Sorted(maps.Keys(m)) {
					hostsWalk(m[name], path+"/"+key+"/"+name, f)
				}
			}
		case "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems":
			hostsWalk(value, path+"/"+key, f)
		case "anyOf", "oneOf", "allOf", "prefixItems":
			if list, ok := value.([]any); ok {
				for i, sub := range list {
					hostsWalk(sub, fmt.Sprintf("%s/%s/%d", path, key, i), f)
				}
			}
		}
	}
}

var hostsToolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// hostsAnthropicRules are the Anthropic Messages API's rules for a tool: a name of letters,
// digits, _ and -, at most 64; an input_schema of type object with no oneOf, anyOf or allOf at
// its top level (the API refuses the whole request otherwise).
func hostsAnthropicRules(name string, schema map[string]any) []string {
	var out []string
	if !hostsToolName.MatchString(name) {
		out = append(out, "name: not ^[a-zA-Z0-9_-]{1,64}$")
	}
	if schema["type"] != "object" {
		out = append(out, "input_schema: type is not object")
	}
	for _, kw := range []string{"oneOf", "anyOf", "allOf"} {
		if _, ok := schema[kw]; ok {
			out = append(out, "at the top level: "+kw)
		}
	}
	return out
}

// hostsUntyped lists the properties of an input schema (and of nested objects) that carry no
// type, no enum and no subschema: what a host's model sees as "anything".
func hostsUntyped(schema map[string]any, path string) []string {
	var out []string
	hostsWalk(schema, path, func(s map[string]any, p string) {
		if !strings.Contains(p, "/properties/") || strings.HasSuffix(p, "/properties") {
			return
		}
		for _, k := range []string{"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "properties", "items"} {
			if _, ok := s[k]; ok {
				return
			}
		}
		out = append(out, p)
	})
	return out
}

// OpenAI's strict mode (Structured Outputs, "Supported schemas"): the root is an object, not
// anyOf; every object has additionalProperties false and lists every property in required; only
// these keywords are supported (no minLength/maxLength, default, $schema, ...); string formats
// are limited; patterns have no lookaround; a $ref stands alone; at most 10 levels of nesting and
// 5000 properties.
var (
	hostsOpenAIKeywords = []string{
		"type", "description", "title", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
		"$ref", "$defs", "definitions", "pattern", "format", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
		"exclusiveMinimum", "minItems", "maxItems",
	}
	hostsOpenAIFormats = []string{"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
	hostsLookaround    = regexp.MustCompile(`\(\?<?[=!]`)
)

func hostsOpenAIStrictRules(name string, schema map[string]any) []string {
	var out []string
	add := func(rule string) {
		if !slices.Contains(out, rule) {
			out = append(out, rule)
		}
	}
	if !hostsToolName.MatchString(name) {
		add("name: not ^[a-zA-Z0-9_-]{1,64}$")
	}
	if schema["type"] != "object" {
		add("root: not type object")
	}
	if _, ok := schema["anyOf"]; ok {
		add("root: anyOf")
	}
	props := 0
	hostsWalk(schema, "", func(s map[string]any, path string) {
		for _, k := range slices.Sorted(maps.Keys(s)) {
			if !slices.Contains(hostsOpenAIKeywords, k) {
				add("unsupported keywords: " + k)
			}
		}
		if f, ok := s["format"].(string); ok && !slices.Contains(hostsOpenAIFormats, f) {
			add("unsupported formats: " + f)
		}
		if p, ok := s["pattern"].(string); ok && hostsLookaround.MatchString(p) {
			add("unsupported keywords: pattern with lookaround")
		}
		if _, ok := s["$ref"]; ok && len(s) > 1 {
			add("structure: $ref with sibling keywords")
		}
		if p, ok := s["properties"].(map[string]any); ok || hostsHasType(s, "object") {
			props += len(p)
			if s["additionalProperties"] != false {
				add("structure: an object without additionalProperties false")
			}
			req, _ := s["required"].([]any)
			for name := range p {
				if !slices.Contains(req, any(name)) {
					add("structure: a property not in required")
					break
				}
			}
		}
		if depth := strings.Count(path, "/properties/") + strings.Count(path, "/items"); depth > 10 {
			add("limits: more than 10 levels of nesting")
		}
	})
	if props > 5000 {
		add("limits: more than 5000 properties")
	}
	return out
}

func hostsHasType(s map[string]any, typ string) bool {
	switch t := s["type"].(type) {
	case string:
		return t == typ
	case []any:
		return slices.Contains(t, any(typ))
	}
	return false
}

// Gemini's function declarations take an OpenAPI 3.0 subset, the Schema object: these keywords
// only (no $schema, $ref, $defs, additionalProperties, oneOf, allOf, const, ...), one type per
// schema, enums of strings.
var hostsGeminiKeywords = []string{
	"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
	"minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
	"default", "items", "minimum", "maximum",
}

func hostsGeminiRules(schema map[string]any, path string) []string {
	if schema == nil {
		return nil
	}
	var out []string
	add := func(rule string) {
		if !slices.Contains(out, rule) {
			out = append(out, rule)
		}
	}
	hostsWalk(schema, path, func(s map[string]any, _ string) {
		for _, k := range slices.Sorted(maps.Keys(s)) {
			if !slices.Contains(hostsGeminiKeywords, k) {
				add("not in Gemini's Schema: " + k)
			}
		}
		if _, ok := s["type"].([]any); ok {
			add("structure: a list of types")
		}
		if e, ok := s["enum"].([]any); ok {
			for _, x := range e {
				if _, ok := x.(string); !ok {
					add("structure: an enum of non-strings")
					break
				}
			}
		}
	})
	return out
}

// hostsTable renders the verdicts as one Markdown table per service.
func hostsTable(services []hostsService, verdicts map[string]map[string]map[string]*hostsVerdict, libraries, defaults, notServed map[string]string) string {
	var b strings.Builder
	b.WriteString("| host | what is checked | library |\n|---|---|---|\n")
	for _, h := range hostsRows {
		lib := libraries[h.name]
		if h.name == "cursor" || h.name == "claude-code" {
			lib = "rules on the SDK client's tools/list"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", h.name, h.what, lib)
	}
	profiles := append([]string{"default"}, hostsProfiles...)
	for _, svc := range services {
		fmt.Fprintf(&b, "\n### %s: %s\n\n", svc.name, svc.what)
		fmt.Fprintf(&b, "The default (/mcp, no profile configured) serves: %s. Call: `%s` %s.\n\n", defaults[svc.name], svc.call.Name, hostsJSON(svc.call.Arguments))
		b.WriteString("| host | " + strings.Join(profiles, " | ") + " |\n|---" + strings.Repeat("|---", len(profiles)) + "|\n")
		for _, h := range hostsRows {
			cells := []string{h.name}
			for _, p := range profiles {
				v := verdicts[svc.name][p][h.name]
				cell := v.cell()
				if v.served && hostsAsserted(h.name, h.asserted, p, defaults[svc.name]) {
					cell = "**" + strings.ReplaceAll(cell, "<br>", "**<br>**") + "**"
				}
				cells = append(cells, cell)
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
	// The same refusal for many targets is listed once.
	lineNumber := regexp.MustCompile(`line [0-9]+: `)
	byReason := map[string][]string{}
	for _, k := range slices.Sorted(maps.Keys(notServed)) {
		reason := hostsShorten(lineNumber.ReplaceAllString(notServed[k], ""), 200)
		byReason[reason] = append(byReason[reason], k)
	}
	var why []string
	for _, reason := range slices.Sorted(maps.Keys(byReason)) {
		why = append(why, fmt.Sprintf("- %s: %s", strings.Join(byReason[reason], ", "), reason))
	}
	if len(why) > 0 {
		b.WriteString("\nNot served yet (the config refused the profile):\n\n" + strings.Join(why, "\n") + "\n")
	}
	return b.String()
}

func hostsJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return "`" + string(data) + "`"
}

const (
	hostsDocBegin = "<!-- hosts table: generated by `go test ./cmd/agentbridge -run TestMCPHosts -hosts.doc` -->"
	hostsDocEnd   = "<!-- end of hosts table -->"
)

// hostsWriteDoc replaces the generated part of docs/mcp-hosts.md with table.
func hostsWriteDoc(t *testing.T, table string) {
	t.Helper()
	data, err := os.ReadFile(hostsDocPath)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := bytes.Index(data, []byte(hostsDocBegin)), bytes.Index(data, []byte(hostsDocEnd))
	if begin < 0 || end < begin {
		t.Fatalf("%s has no %q ... %q section to rewrite", hostsDocPath, hostsDocBegin, hostsDocEnd)
	}
	var out bytes.Buffer
	out.Write(data[:begin+len(hostsDocBegin)])
	fmt.Fprintf(&out, "\n\nMeasured on %s.\n\n%s\n", time.Now().UTC().Format("2006-01-02"), table)
	out.Write(data[end:])
	if err := os.WriteFile(hostsDocPath, out.Bytes(), 0o644); err != nil { //nolint:gosec // a doc in the repo, world-readable like the rest
		t.Fatal(err)
	}
	t.Logf("rewrote %s", hostsDocPath)
}

// TestMCPHostsRules checks the host rules themselves on schemas whose verdict is known.
func TestMCPHostsRules(t *testing.T) {
	t.Parallel()
	parse := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	strict := `{"type":"object","additionalProperties":false,"required":["a","b"],"properties":{
		"a":{"type":"string","pattern":"^[A-Z]-[0-9]{3}$","description":"A."},
		"b":{"anyOf":[{"$ref":"#/$defs/n"},{"type":"null"}]}},
		"$defs":{"n":{"type":"object","additionalProperties":false,"required":["c"],"properties":{"c":{"type":["integer","null"],"minimum":0}}}}}`
	for _, tc := range []struct {
		name      string
		rules     func(map[string]any) []string
		schema    string
		wantRules []string
	}{
		{"openai strict accepts", func(s map[string]any) []string { return hostsOpenAIStrictRules("T_Get", s) }, strict, nil},
		{"openai strict refuses", func(s map[string]any) []string { return hostsOpenAIStrictRules("T.Get", s) },
			`{"$schema":"x","type":"object","properties":{"a":{"type":"string","minLength":1,"format":"uri","pattern":"^(?!x)"},
			"m":{"type":"object","additionalProperties":{"type":"string"}},"r":{"$ref":"#/$defs/r","description":"R."}}}`,
			[]string{"name: not ^[a-zA-Z0-9_-]{1,64}$", "structure: a property not in required", "structure: an object without additionalProperties false",
				"structure: $ref with sibling keywords", "unsupported formats: uri", "unsupported keywords: $schema", "unsupported keywords: minLength",
				"unsupported keywords: pattern with lookaround"}},
		{"gemini accepts", func(s map[string]any) []string { return hostsGeminiRules(s, "") },
			`{"type":"object","properties":{"a":{"type":"string","enum":["X","Y"],"nullable":true},"b":{"type":"array","items":{"type":"integer","format":"int64"}}},"required":["a"]}`, nil},
		{"gemini refuses", func(s map[string]any) []string { return hostsGeminiRules(s, "") },
			`{"$schema":"x","type":"object","additionalProperties":false,"properties":{"a":{"type":["string","null"]},"b":{"enum":[1,2]},"c":{"$ref":"#/$defs/c"}},"$defs":{"c":{"type":"string"}}}`,
			[]string{"not in Gemini's Schema: $schema", "not in Gemini's Schema: additionalProperties", "not in Gemini's Schema: $defs",
				"not in Gemini's Schema: $ref", "structure: a list of types", "structure: an enum of non-strings"}},
		{"anthropic accepts nested anyOf", func(s map[string]any) []string { return hostsAnthropicRules("T_Get", s) },
			`{"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}`, nil},
		{"anthropic refuses a top-level allOf", func(s map[string]any) []string { return hostsAnthropicRules("T_Get", s) },
			`{"type":"object","properties":{},"allOf":[{"dependentSchemas":{}}]}`, []string{"at the top level: allOf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.rules(parse(tc.schema))
			slices.Sort(got)
			want := slices.Clone(tc.wantRules)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("rules broken:\n got %q\nwant %q", got, want)
			}
		})
	}
}
