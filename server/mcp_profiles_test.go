package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/agentbridge/agentbridge/adapters"
	testingv1 "github.com/agentbridge/agentbridge/gen/agentbridge/testing/v1"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// The schema probe service: one tool per message of proto/agentbridge/testing/v1/schema.proto,
// each echoing its request, so that every mapping rule (every scalar, well-known type, oneof,
// map, recursion, validation rule) reaches hosts as a tool. It exists only at run time; its
// comments are in the file's source info, as a contract compiled at start-up has them.
var probeParts = []struct {
	method, message, comment string
}{
	{"Scalars", "SchemaScalars", "Scalars echoes a message with a field of every scalar kind."},
	{"WellKnown", "SchemaWellKnown", "WellKnown echoes a message with a field of every well-known type."},
	{"Tree", "SchemaNode", "Tree echoes a tree whose nodes contain nodes."},
	{"Ping", "SchemaPing", "Ping echoes one side of a pair of messages that contain each other."},
	{"Containers", "SchemaContainers", "Containers echoes repeated fields and maps of every key kind."},
	{"Required", "SchemaRequired", "Required echoes fields that rules make required, with a required oneof."},
	{"Rules", "SchemaRules", "Rules echoes fields with a validation rule of each kind."},
	{"Probe", "SchemaProbe", "Probe echoes the whole probe: every part above, and a oneof at the top level."},
}

var probeServiceFile = sync.OnceValues(func() (protoreflect.FileDescriptor, error) {
	_ = testingv1.File_agentbridge_testing_v1_schema_proto // linked, so its file and types are registered
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("SchemaProbeService")}
	span := []int32{0, 0, 0}
	info := &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{{
		Path: []int32{6, 0}, Span: span,
		LeadingComments: proto.String(" SchemaProbeService offers every schema mapping rule as a tool.\n"),
	}}}
	readOnly := &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_NO_SIDE_EFFECTS.Enum()}
	for i, p := range probeParts {
		msg := ".agentbridge.testing.v1." + p.message
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name: proto.String(p.method), InputType: proto.String(msg), OutputType: proto.String(msg), Options: readOnly,
		})
		info.Location = append(info.Location, &descriptorpb.SourceCodeInfo_Location{
			Path: []int32{6, 0, 2, int32(i)}, Span: span, LeadingComments: proto.String(" " + p.comment + "\n"),
		})
	}
	return protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name:           proto.String("agentbridge/probetest/v1/probe_service.proto"),
		Package:        proto.String("agentbridge.probetest.v1"),
		Dependency:     []string{"agentbridge/testing/v1/schema.proto"},
		Syntax:         proto.String("proto3"),
		Service:        []*descriptorpb.ServiceDescriptorProto{svc},
		SourceCodeInfo: info,
	}, protoregistry.GlobalFiles)
})

// probeServices is the schema probe service, each method returning its request.
func probeServices(tb testing.TB) []server.Service {
	tb.Helper()
	fd, err := probeServiceFile()
	if err != nil {
		tb.Fatal(err)
	}
	sd := fd.Services().Get(0)
	methods := map[protoreflect.Name]adapters.Unary{}
	for i := range sd.Methods().Len() {
		methods[sd.Methods().Get(i).Name()] = func(_ context.Context, req proto.Message) (proto.Message, error) { return req, nil }
	}
	return []server.Service{{Desc: sd, Methods: methods}}
}

func demoServices(tb testing.TB) []server.Service {
	tb.Helper()
	return newGoInventory(tb).Services()
}

// profileToolsets serves every tool at /mcp/PROFILE in that profile, whatever the host.
func profileToolsets() server.MCPOptions {
	auto := false
	o := server.MCPOptions{Toolsets: map[string]server.Toolset{}, AutoProfile: &auto}
	for _, p := range toolschema.Profiles() {
		o.Toolsets[string(p)] = server.Toolset{Profile: string(p)}
	}
	return o
}

func serveWith(tb testing.TB, services []server.Service, o server.MCPOptions) string {
	tb.Helper()
	srv, err := server.New(services, server.WithMCP(o), server.WithLogger(slog.New(slog.DiscardHandler)), server.WithShutdownGrace(time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	return benchServe(tb, srv)
}

// hostSession is an initialized go-sdk session that announces itself as name.
func hostSession(tb testing.TB, endpoint, name string) *mcp.ClientSession {
	tb.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: name, Version: "v0"}, nil)
	session, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: benchHTTPClient(tb)}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = session.Close() })
	return session
}

func listAll(tb testing.TB, session *mcp.ClientSession) *mcp.ListToolsResult {
	tb.Helper()
	res, err := session.ListTools(context.Background(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if res.NextCursor != "" {
		tb.Fatalf("tools/list has a second page; the tests expect one")
	}
	return res
}

// profileOf tells the profile of the demo's ReserveItem input schema by what sets it apart.
func profileOf(s map[string]any) toolschema.Profile {
	props, _ := s["properties"].(map[string]any)
	ref, _ := props["customerRef"].(map[string]any)
	switch {
	case s["$schema"] != nil:
		return toolschema.Exact
	case fmt.Sprint(ref["type"]) == "[string null]":
		return toolschema.OpenAIStrict
	case ref["maxLength"] != nil:
		// Gemini keeps string lengths; portable, which OpenAI's strict mode also takes, states
		// them in words.
		return toolschema.Gemini
	}
	return toolschema.Portable
}

// The profile a session gets: the host's, where its clientInfo names it and auto_profile is on,
// else the toolset's, else mcp.profile, else portable.
func TestMCPProfileChoice(t *testing.T) {
	t.Parallel()
	off := false
	for _, tc := range []struct {
		name, client, path string
		opts               server.MCPOptions
		want               toolschema.Profile
	}{
		{"default", "agentbridge-test", "/mcp", server.MCPOptions{}, toolschema.Portable},
		{"gemini host", "gemini-cli-mcp-client", "/mcp", server.MCPOptions{}, toolschema.Gemini},
		{"codex host", "codex-mcp-client", "/mcp", server.MCPOptions{}, toolschema.OpenAIStrict},
		{"openai host", "OpenAI Agents SDK", "/mcp", server.MCPOptions{}, toolschema.OpenAIStrict},
		{"claude host over configured exact", "claude-code", "/mcp", server.MCPOptions{Profile: "exact"}, toolschema.Portable},
		{"cursor host over configured gemini", "cursor-vscode", "/mcp", server.MCPOptions{Profile: "gemini"}, toolschema.Portable},
		{"unknown host gets mcp.profile", "agentbridge-test", "/mcp", server.MCPOptions{Profile: "exact"}, toolschema.Exact},
		{"auto_profile off", "gemini-cli-mcp-client", "/mcp", server.MCPOptions{Profile: "exact", AutoProfile: &off}, toolschema.Exact},
		{"toolset profile", "agentbridge-test", "/mcp/g", server.MCPOptions{Profile: "exact",
			Toolsets: map[string]server.Toolset{"g": {Profile: "gemini"}}}, toolschema.Gemini},
		{"toolset inherits mcp.profile", "agentbridge-test", "/mcp/t", server.MCPOptions{Profile: "openai-strict",
			Toolsets: map[string]server.Toolset{"t": {}}}, toolschema.OpenAIStrict},
		{"/mcp ignores toolset profiles", "agentbridge-test", "/mcp", server.MCPOptions{
			Toolsets: map[string]server.Toolset{"g": {Profile: "gemini"}}}, toolschema.Portable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			endpoint := serveWith(t, demoServices(t), tc.opts) + tc.path
			res := listAll(t, hostSession(t, endpoint, tc.client))
			for _, tool := range res.Tools {
				if tool.Name != "InventoryService_ReserveItem" {
					continue
				}
				if got := profileOf(tool.InputSchema.(map[string]any)); got != tc.want {
					t.Errorf("%s on %s sees the %s profile, want %s: %v", tc.client, tc.path, got, tc.want, tool.InputSchema)
				}
				return
			}
			t.Fatal("no ReserveItem tool")
		})
	}
}

func TestMCPProfileConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts server.MCPOptions
		want string
	}{
		{"mcp.profile", server.MCPOptions{Profile: "strict"}, "mcp.profile"},
		{"toolset profile", server.MCPOptions{Toolsets: map[string]server.Toolset{"x": {Profile: "claude"}}}, "mcp.toolsets.x.profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := server.New(demoServices(t), server.WithMCP(tc.opts), server.WithLogger(slog.New(slog.DiscardHandler)))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "unknown schema profile") {
				t.Errorf("server.New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// Whatever a host is shown, the server checks exactly as before: it reads every protojson
// spelling (numbers for 64-bit integers, enum numbers, quoted 32-bit integers) though profiles
// advertise one, and refuses bad arguments with the same message in every profile. In
// openai-strict sessions null means "not set", at any depth.
func TestMCPProfilesKeepTheServerExact(t *testing.T) {
	t.Parallel()
	endpoint := serveWith(t, probeServices(t), server.MCPOptions{Profile: "exact"}) + "/mcp"
	hosts := map[toolschema.Profile]string{
		toolschema.Exact: "agentbridge-test", toolschema.Portable: "claude-code",
		toolschema.OpenAIStrict: "codex-mcp-client", toolschema.Gemini: "gemini-cli-mcp-client",
	}
	sessions := map[toolschema.Profile]*mcp.ClientSession{}
	for p, name := range hosts {
		sessions[p] = hostSession(t, endpoint, name)
	}
	call := func(p toolschema.Profile, tool, args string) *mcp.CallToolResult {
		t.Helper()
		res, err := sessions[p].CallTool(t.Context(), &mcp.CallToolParams{Name: "SchemaProbeService_" + tool, Arguments: json.RawMessage(args)})
		if err != nil {
			t.Fatalf("%s %s %s: %v", p, tool, args, err)
		}
		return res
	}
	for _, tc := range []struct {
		tool, args string
		want       string // in the structured result; "" when the call must fail
		only       toolschema.Profile
	}{
		{tool: "Scalars", args: `{"i64": 5, "u64": 18, "shade": 1, "i32": "7", "fl": "1.5"}`,
			want: `"i64":"5"`},
		{tool: "Scalars", args: `{"shade": 99}`, want: `"shade":99`},
		{tool: "Scalars", args: `{"i64": "x"}`},
		{tool: "Scalars", args: `{"i32": 2147483648}`},
		{tool: "Scalars", args: `{"shade": "NOPE"}`},
		{tool: "Rules", args: `{"count": 0}`},
		{tool: "Rules", args: `{"outside": 15}`},
		{tool: "Required", args: `{"name": "n", "sku": "A-100", "node": {}, "items": ["x"], "card": "1", "account": "2"}`},
		// null means "not sent" on every surface and in every profile (as protojson reads it),
		// and is the value itself for Value and NullValue fields.
		{tool: "Scalars", args: `{"text": "a", "i64": null}`, want: `"text":"a"`},
		{tool: "Tree", args: `{"name": "a", "first": {"name": "b", "first": null, "children": null}, "children": null}`,
			want: `"name":"b"`},
		{tool: "WellKnown", args: `{"anything": null, "null": null, "at": null}`, want: `"anything":null`},
	} {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			var first string
			for _, p := range toolschema.Profiles() {
				res := call(p, tc.tool, tc.args)
				text := textOf(res)
				switch {
				case tc.only != "" && p != tc.only:
					if !res.IsError {
						t.Errorf("%s: null arguments accepted outside openai-strict: %s", p, text)
					}
				case tc.want == "":
					if !res.IsError {
						t.Errorf("%s: %s accepted: %s", p, tc.args, text)
					}
					if first == "" {
						first = text
					} else if text != first {
						t.Errorf("%s refuses with %q, exact with %q", p, text, first)
					}
				default:
					structured, _ := json.Marshal(res.StructuredContent)
					if res.IsError || !strings.Contains(string(structured), tc.want) {
						t.Errorf("%s: %s: %s %s, want %s", p, tc.args, text, structured, tc.want)
					}
				}
			}
		})
	}
}

// toolsListBytes is what a tools/list costs per tool: the tool's JSON as listed (name, title,
// description, annotations, both schemas) and the part of it that is each schema. Hosts give
// the model a tool's name, description and inputSchema; the outputSchema they use to check
// results.
type toolsListBytes struct {
	tools            int
	perTool, in, out float64
	maxIn            int
	maxInTool        string
	inByTool         map[string]int
}

func measure(tb testing.TB, res *mcp.ListToolsResult) toolsListBytes {
	tb.Helper()
	all, err := json.Marshal(res.Tools)
	if err != nil {
		tb.Fatal(err)
	}
	m := toolsListBytes{tools: len(res.Tools), inByTool: map[string]int{}}
	var in, out int
	for _, t := range res.Tools {
		i, _ := json.Marshal(t.InputSchema)
		o, _ := json.Marshal(t.OutputSchema)
		in, out = in+len(i), out+len(o)
		m.inByTool[t.Name] = len(i)
		if len(i) > m.maxIn {
			m.maxIn, m.maxInTool = len(i), t.Name
		}
	}
	n := float64(len(res.Tools))
	m.perTool, m.in, m.out = float64(len(all))/n, float64(in)/n, float64(out)/n
	return m
}

// probeBudget is the most inputSchema bytes per tool the portable profile may spend, field
// descriptions kept, on the schema probe's tools for every scalar, well-known type, oneof, map
// and recursion (issue 8's list), on average. The probe's two aggregate tools are reported, not
// budgeted: Rules (40 fields, each with a rule stated in words) and Probe (every part at once).
const probeBudget = 1500

var probeAggregates = []string{"SchemaProbeService_Rules", "SchemaProbeService_Probe"}

// TestMCPToolsListBytes reports tools/list bytes per tool in every profile for the demo, the
// schema probe service and the 160-method service, and holds the portable probe to its budget.
// docs/benchmarks.md records its log.
func TestMCPToolsListBytes(t *testing.T) {
	t.Parallel()
	for _, svc := range []struct {
		name     string
		services func(testing.TB) []server.Service
	}{{"demo", demoServices}, {"probe", probeServices}, {"wide", wideServices}} {
		t.Run(svc.name, func(t *testing.T) {
			t.Parallel()
			base := serveWith(t, svc.services(t), profileToolsets())
			var lines []string
			for _, p := range toolschema.Profiles() {
				res := listAll(t, hostSession(t, base+"/mcp/"+string(p), "agentbridge-test"))
				m := measure(t, res)
				lines = append(lines, fmt.Sprintf("%-13s tools=%3d B/tool=%6.0f inputSchema-B/tool=%6.0f outputSchema-B/tool=%6.0f largest input=%d (%s)",
					p, m.tools, m.perTool, m.in, m.out, m.maxIn, m.maxInTool))
				if svc.name == "probe" {
					lines = append(lines, fmt.Sprintf("  inputSchema bytes by tool: %v", m.inByTool))
				}
				if svc.name == "probe" && p == toolschema.Portable {
					// The budget holds the profile's rendering of the request message; the
					// bridge's optional "fields" argument (on tools whose result holds a list or
					// a map; mcp.results.fields_argument turns it off) is reported beside it.
					fieldsArg := map[string]int{}
					for _, tool := range res.Tools {
						if f, ok := tool.InputSchema.(map[string]any)["properties"].(map[string]any)["fields"]; ok {
							data, _ := json.Marshal(f)
							fieldsArg[tool.Name] = len(data) + len(`"fields":,`)
						}
					}
					sum, n, extra := 0, 0, 0
					for tool, size := range m.inByTool {
						if !slices.Contains(probeAggregates, tool) {
							sum, n, extra = sum+size-fieldsArg[tool], n+1, extra+fieldsArg[tool]
						}
					}
					lines = append(lines, fmt.Sprintf("  budgeted (all but %v): %d inputSchema bytes per tool, plus %d for the fields argument", probeAggregates, sum/n, extra/n))
					if sum > probeBudget*n {
						t.Errorf("portable probe: %d inputSchema bytes per tool over %d tools, budget %d", sum/n, n, probeBudget)
					}
				}
			}
			t.Logf("tools/list of %s:\n%s", svc.name, strings.Join(lines, "\n"))
		})
	}
}

// Every tool of the demo, the probe and the 160-method service, in every profile, parses with
// the official TypeScript SDK's ListToolsResultSchema and compiles with Ajv in strict 2020-12
// mode (cmd/agentbridge/testdata/mcpclient/schemas.mjs).
func TestMCPProfilesCompileWithAjv(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs node; skipped in -short mode")
	}
	dir, err := filepath.Abs("../cmd/agentbridge/testdata/mcpclient")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (%v); install Node.js 20 or later, then run `npm ci --prefix cmd/agentbridge/testdata/mcpclient`", err)
	}
	for _, pkg := range []string{"ajv", "ajv-formats", "@modelcontextprotocol/sdk"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s is missing (%v); run `npm ci --prefix cmd/agentbridge/testdata/mcpclient` from the module root", pkg, err)
		}
	}
	lists := map[string]*mcp.ListToolsResult{}
	for _, svc := range []struct {
		name     string
		services func(testing.TB) []server.Service
	}{{"demo", demoServices}, {"probe", probeServices}, {"wide", wideServices}} {
		base := serveWith(t, svc.services(t), profileToolsets())
		for _, p := range toolschema.Profiles() {
			lists[svc.name+"/"+string(p)] = listAll(t, hostSession(t, base+"/mcp/"+string(p), "agentbridge-test"))
		}
	}
	data, err := json.Marshal(lists)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "lists.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "schemas.mjs", file)
	cmd.Dir = dir
	out, runErr := cmd.Output()
	var sum struct {
		Lists, Tools int
		Failures     []string
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("schemas.mjs (%v) printed no summary: %v\n%s", runErr, err, out)
	}
	for _, f := range sum.Failures {
		t.Error(f)
	}
	if runErr != nil && len(sum.Failures) == 0 {
		t.Errorf("schemas.mjs: %v", runErr)
	}
	if want := len(lists); sum.Lists != want || sum.Tools == 0 {
		t.Errorf("schemas.mjs checked %d lists (%d tools), want %d", sum.Lists, sum.Tools, want)
	}
	t.Logf("Ajv strict 2020-12 and ListToolsResultSchema: %d tools in %v", sum.Tools, slices.Sorted(maps.Keys(lists)))
}
