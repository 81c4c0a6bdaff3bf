package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// SurfaceMCP is an MCP tools/call.
const SurfaceMCP Surface = "mcp"

// Toolset selects the tools a host sees: methods whose full name (package.Service.Method)
// matches an Include glob and no Exclude glob. Globs are path.Match patterns over the full name
// with '.' as an ordinary character, such as "agentbridge.demo.v1.InventoryService.*".
type Toolset struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// Results overrides mcp.results.max_bytes for this toolset's tools.
	Results ResultOptions `yaml:"results"`
	// Profile is the schema profile of the toolset's hosts that auto_profile does not place
	// (see toolschema.Profile): exact, portable, openai-strict or gemini. Default: mcp.profile.
	Profile string `yaml:"profile"`
}

// MCPOptions configures the MCP surface.
type MCPOptions struct {
	// Toolsets are served at /mcp/{name}; /mcp serves every tool.
	Toolsets map[string]Toolset `yaml:"toolsets"`
	// MaxStreamItems bounds how many messages a tool for a server-streaming method collects
	// before it stops the stream and says so in its result. Default 100.
	MaxStreamItems int `yaml:"max_stream_items"`
	// ToolNameBudget is the longest generated tool name, 16 to 64; longer names are cut and
	// end in a hash. Default 48 (DefaultToolNameBudget). Names set with mcp_tool.name are
	// taken as they are.
	ToolNameBudget int `yaml:"tool_name_budget"`
	// AllowedOrigins lists the browser origins (scheme://host[:port]) allowed to call /mcp, in
	// addition to loopback origins. A request with any other Origin header is refused, against
	// DNS rebinding.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Results bound what tools return: a byte budget and the "fields" argument.
	Results ResultOptions `yaml:"results"`
	// Profile is the schema profile of /mcp's hosts, and of every toolset's that sets none,
	// when auto_profile does not place the host: exact, portable, openai-strict or gemini.
	// Default portable (toolschema.DefaultProfile).
	Profile string `yaml:"profile"`
	// AutoProfile chooses the profile from the name a host announces in initialize (Gemini,
	// OpenAI and Codex, Claude, Cursor; see hostProfiles). Default true; false shows every host
	// the configured profile.
	AutoProfile *bool `yaml:"auto_profile"`
	// MCPProtocolOptions: sessions, stateless mode, progress, WSDL resources.
	MCPProtocolOptions `yaml:",inline"`
}

// toolNamePattern is what MCP clients accept in a tool name.
var toolNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// mcpTool is one RPC offered as an MCP tool.
type mcpTool struct {
	tool       *mcp.Tool
	method     *method
	input      *jsonschema.Resolved
	quick      *quickSchema                           // the same check for the usual arguments (see quickSchema); nil if none
	advertised map[toolschema.Profile]json.RawMessage // inputSchema in each profile but exact
	geminiOut  json.RawMessage                        // outputSchema for gemini and portable sessions
	wrapInput  bool
	wrapOutput bool
	results    *toolResults
	idemArg    bool // the tool takes idempotency_key
}

// buildTools makes one tool per served method, sorted by method name for a stable tools/list.
func (s *Server) buildTools(g *generation) ([]*mcpTool, error) {
	procs := make([]string, 0, len(g.methods))
	for p := range g.methods {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	names := toolNames(g.methods, procs, g.mcpOpts.ToolNameBudget)
	seen := map[string]string{}
	opts := toolschema.Options{Describe: g.describe}
	tools := make([]*mcpTool, 0, len(procs))
	for _, p := range procs {
		m := g.methods[p]
		name := names[p]
		if !toolNamePattern.MatchString(name) {
			return nil, fmt.Errorf("server: MCP tool name %q of %s: use 1 to 64 letters, digits, '_', '.' or '-'", name, m.desc.FullName())
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("server: MCP tool name %q is used by %s and %s; set (agentbridge.v1.mcp_tool).name on one", name, other, m.desc.FullName())
		}
		seen[name] = string(m.desc.FullName())
		in, err := toolschema.Input(m.desc.Input(), opts)
		if err != nil {
			return nil, fmt.Errorf("server: input schema of %s: %w", m.desc.FullName(), err)
		}
		out, err := toolschema.Output(m.desc.Output(), opts)
		if err != nil {
			return nil, fmt.Errorf("server: output schema of %s: %w", m.desc.FullName(), err)
		}
		if m.stream != nil {
			out = streamSchema(out, maxStreamItems(g.mcpOpts))
		}
		results := newToolResults(m, g.mcpOpts.Results, toolschema.Wrapped(m.desc.Output()) && m.stream == nil)
		results.inputSchema(in)
		results.outputSchema(out)
		idemArg := s.takesIdempotencyKey(m)
		if props, ok := in["properties"].(map[string]any); ok && idemArg {
			props[idempotencyArgument] = map[string]any{
				"type": "string", "minLength": 1, "maxLength": maxIdempotencyKey, "pattern": "^[!-~]+$",
				"description": "Optional: a unique key (a UUID) for this request. Calling again with the same key and the same arguments returns the first call's result instead of running it again; use it to retry safely.",
			}
		}
		// The SDK re-encodes a map schema on every tools/list; encoded once here, it is copied.
		inJSON, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("server: input schema of %s: %w", m.desc.FullName(), err)
		}
		outJSON, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("server: output schema of %s: %w", m.desc.FullName(), err)
		}
		checkJSON, err := json.Marshal(mergeTypedAnyOf(in))
		if err != nil {
			return nil, fmt.Errorf("server: input schema of %s: %w", m.desc.FullName(), err)
		}
		resolved, err := resolveSchema(checkJSON)
		if err != nil {
			return nil, fmt.Errorf("server: input schema of %s: %w", m.desc.FullName(), err)
		}
		var decoded any
		if err := json.Unmarshal(checkJSON, &decoded); err != nil {
			return nil, fmt.Errorf("server: input schema of %s: %w", m.desc.FullName(), err)
		}
		advertised, err := advertisedInputs(in)
		if err != nil {
			return nil, fmt.Errorf("server: input schema of %s: %w", m.desc.FullName(), err)
		}
		geminiOut, err := geminiOutput(out)
		if err != nil {
			return nil, fmt.Errorf("server: output schema of %s: %w", m.desc.FullName(), err)
		}
		tools = append(tools, &mcpTool{
			tool: &mcp.Tool{
				Name:         name,
				Title:        string(m.desc.FullName()),
				Description:  g.describe(m.desc.FullName()),
				InputSchema:  json.RawMessage(inJSON),
				OutputSchema: json.RawMessage(outJSON),
				Annotations:  annotations(m.desc),
			},
			method:     m,
			input:      resolved,
			quick:      compileQuick(decoded),
			advertised: advertised,
			geminiOut:  geminiOut,
			wrapInput:  toolschema.Wrapped(m.desc.Input()),
			wrapOutput: toolschema.Wrapped(m.desc.Output()) && m.stream == nil,
			results:    results,
			idemArg:    idemArg,
		})
	}
	return tools, nil
}

// unwrap returns the request's JSON from arguments: for a request message whose JSON is not an
// object (see toolschema.Wrapped) it is under the wrapper key.
func (t *mcpTool) unwrap(args json.RawMessage) json.RawMessage {
	if !t.wrapInput {
		return args
	}
	var w map[string]json.RawMessage
	if json.Unmarshal(args, &w) != nil {
		return args
	}
	return w[toolschema.WrapperKey]
}

func resolveSchema(data []byte) (*jsonschema.Resolved, error) {
	var js jsonschema.Schema
	if err := json.Unmarshal(data, &js); err != nil {
		return nil, err
	}
	return js.Resolve(nil)
}

// DefaultToolNameBudget is how long a generated tool name may be. Hosts prefix tool names
// (Claude Code's mcp__server__tool must fit 64 characters; Cursor's server and tool names
// together 60), so 48 leaves room for a server name.
const DefaultToolNameBudget = 48

// toolNames names each method's tool: its mcp_tool option, else Service_Method, else (when two
// services share a name) the full name with '.' as '_'. Names over budget characters keep their
// start and end in a hash of the full name, so they stay unique and deterministic; the tool's
// title carries the full name.
func toolNames(methods map[string]*method, procs []string, budget int) map[string]string {
	if budget <= 0 {
		budget = DefaultToolNameBudget
	}
	short := map[string]int{}
	for _, p := range procs {
		md := methods[p].desc
		short[string(md.Parent().Name())+"_"+string(md.Name())]++
	}
	names := make(map[string]string, len(procs))
	for _, p := range procs {
		md := methods[p].desc
		if opt := mcpToolOption(md); opt.GetName() != "" {
			names[p] = opt.GetName()
			continue
		}
		name := string(md.Parent().Name()) + "_" + string(md.Name())
		if short[name] > 1 {
			name = strings.ReplaceAll(string(md.FullName()), ".", "_")
		}
		if len(name) > budget {
			sum := sha256.Sum256([]byte(md.FullName()))
			name = name[:budget-9] + "_" + hex.EncodeToString(sum[:4])
		}
		names[p] = name
	}
	return names
}

func mcpToolOption(md protoreflect.MethodDescriptor) *agentbridgev1.McpTool {
	if md.Options() == nil {
		return nil
	}
	opt, _ := proto.GetExtension(md.Options(), agentbridgev1.E_McpTool).(*agentbridgev1.McpTool)
	return opt
}

// annotations derive MCP hints from the proto: NO_SIDE_EFFECTS is read-only, IDEMPOTENT is
// idempotent (and not destructive), any other method is destructive unless mcp_tool.destructive
// says false, so hosts that skip confirmation for harmless tools do not skip it for an
// unreviewed state-changing one; every tool reaches an outside system, so openWorldHint is true.
func annotations(md protoreflect.MethodDescriptor) *mcp.ToolAnnotations {
	openWorld := true
	a := &mcp.ToolAnnotations{OpenWorldHint: &openWorld}
	switch idempotencyOf(md) {
	case "NO_SIDE_EFFECTS":
		a.ReadOnlyHint = true
		a.IdempotentHint = true
	case "IDEMPOTENT":
		a.IdempotentHint = true
	}
	if !a.ReadOnlyHint {
		destructive := !a.IdempotentHint
		if opt := mcpToolOption(md); opt != nil && opt.Destructive != nil {
			destructive = opt.GetDestructive()
		}
		a.DestructiveHint = &destructive
	}
	return a
}

// toolHandler decodes arguments (schema first, then protojson with unknown fields rejected),
// calls the method through the chain, and renders the result or the failure. The tool is
// looked up in the generation current when the call starts, which it keeps to the end.
func (s *Server) toolHandler(name string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		g := s.gen.Load()
		t := g.tool(name)
		if t == nil {
			return toolError(status.New(codes.NotFound, "tool "+name+" is no longer served; list the tools again")), nil
		}
		args := req.Params.Arguments
		if len(args) == 0 || string(args) == "null" {
			args = json.RawMessage("{}")
		}
		args, shape, st := shapeResult(ctx, g, t, args)
		if st != nil {
			return toolError(st), nil
		}
		if t.idemArg {
			var key string
			if args, key, st = takeIdempotencyKey(args); st != nil {
				return toolError(st), nil
			}
			if key != "" {
				ctx = context.WithValue(ctx, idempotencyArgKey{}, key)
			}
		}
		var instance any
		if err := json.Unmarshal(args, &instance); err != nil {
			return toolError(status.New(codes.InvalidArgument, "arguments are not valid JSON: "+err.Error())), nil //nolint:nilerr // tool failures are results the agent reads, not protocol errors
		}
		if !t.wrapInput {
			// null for a field means "not sent", as on REST and Connect; the schema, which
			// teaches one spelling, has no null for it, so it checks what protojson will read.
			dropAbsentNulls(t.method.desc.Input(), instance)
		}
		if t.quick == nil || !t.quick.valid(instance) {
			if err := t.input.Validate(instance); err != nil {
				return toolError(s.argumentError(t, args, err)), nil
			}
		}
		args = t.unwrap(args)
		msg := t.method.newInput()
		if err := g.jsonDecoder().Unmarshal(args, msg); err != nil {
			return toolError(status.New(codes.InvalidArgument, jsonError(msg, args, err).Error())), nil
		}
		var header http.Header
		if req.Extra != nil {
			header = req.Extra.Header
		}
		ctx, _ = incomingContext(ctx, SurfaceMCP, t.method.procedure, header)
		if t.method.stream != nil {
			return s.collectStream(ctx, g, t, msg, maxStreamItems(g.mcpOpts), shape), nil
		}
		resp, err := s.call(ctx, t.method, msg)
		if err != nil {
			st, _ := status.FromError(err)
			return toolErrorJSON(st, g.errorJSON), nil
		}
		data, err := g.jsonEncoder().Marshal(resp)
		if err != nil {
			return toolError(status.New(codes.Internal, "the response could not be written as JSON")), nil //nolint:nilerr // as above
		}
		if t.wrapOutput {
			data, _ = json.Marshal(map[string]json.RawMessage{toolschema.WrapperKey: data})
		}
		return shape.unary(data, t.wrapOutput), nil
	}
}

// Keys of a streaming tool's result.
const (
	streamItemsKey     = "items"
	streamTruncatedKey = "truncated"
)

func maxStreamItems(o MCPOptions) int {
	if n := o.MaxStreamItems; n > 0 {
		return n
	}
	return 100
}

// streamSchema wraps the schema of one streamed message into the result of a streaming tool:
// the messages in order, and whether the bridge stopped the stream at the bound.
func streamSchema(item map[string]any, limit int) map[string]any {
	out := map[string]any{
		"$schema":              item["$schema"],
		"type":                 "object",
		"description":          fmt.Sprintf("The messages the method streamed, in order, at most %d; truncated says whether the stream had more.", limit),
		"additionalProperties": false,
		"required":             []string{streamItemsKey, streamTruncatedKey},
	}
	if defs, ok := item["$defs"]; ok {
		out["$defs"] = defs
	}
	inner := make(map[string]any, len(item))
	for k, v := range item {
		if k != "$schema" && k != "$defs" {
			inner[k] = v
		}
	}
	out["properties"] = map[string]any{
		streamItemsKey: map[string]any{"type": "array", "items": inner, "maxItems": limit,
			"description": "The streamed messages, in the order the method sent them."},
		streamTruncatedKey: map[string]any{"type": "boolean",
			"description": fmt.Sprintf("True when the stream had more messages than the bridge collected (at most %d, and no more than the result budget holds) and it stopped the stream early; narrow the request to see the rest.", limit)},
	}
	return out
}

// collectStream runs a server-streaming method, keeps up to the bound of its messages (trimmed
// to the call's fields, and no more than exceed the result budget), and cancels the stream when
// it has more.
func (s *Server) collectStream(ctx context.Context, g *generation, t *mcpTool, req proto.Message, limit int, shape *resultShape) *mcp.CallToolResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var items []json.RawMessage
	size := 0
	truncated := false
	errStop := errors.New("enough items")
	plans := g.jsonEncoder()
	err := s.callStream(ctx, t.method, req, func(msg proto.Message) error {
		if len(items) == limit || shape.full(size) {
			truncated = true
			cancel()
			return errStop
		}
		data, err := plans.Marshal(msg)
		if err != nil {
			return err
		}
		if data, err = shape.item(data); err != nil {
			return err
		}
		items = append(items, data)
		size += len(data) + 1
		reportItem(ctx, len(items), limit)
		return nil
	})
	if err != nil && !truncated {
		st, _ := status.FromError(err)
		res := toolErrorJSON(st, g.errorJSON)
		if len(items) > 0 {
			// The messages that arrived before the failure are the agent's, as on every other
			// surface: they follow the error, in the tool's result form.
			partial := shape.stream(items, false)
			res.Content = append(res.Content, &mcp.TextContent{Text: fmt.Sprintf(
				"The %d messages the method streamed before it failed, as the tool's result:", len(items))})
			res.Content = append(res.Content, partial.Content...)
		}
		return res
	}
	return shape.stream(items, truncated)
}

// argumentError explains arguments the input schema refused. The schema validator's wording
// names schema branches (anyOf, $ref) rather than fields, so the arguments are also decoded and
// validated as every other surface does, and that message, which names the field and the rule,
// is used when it finds the problem. Only where the schema is deliberately stricter than
// protojson (proto field names, one spelling of numbers and times) is the schema's own message
// shown; null for a field is not among them, as toolHandler drops it first (see
// dropAbsentNulls).
func (s *Server) argumentError(t *mcpTool, args json.RawMessage, schemaErr error) *status.Status {
	args = t.unwrap(args)
	msg := t.method.newInput()
	if err := jsonUnmarshal.Unmarshal(args, msg); err != nil {
		return status.New(codes.InvalidArgument, jsonError(msg, args, err).Error())
	}
	if err := s.validator.Validate(msg); err != nil {
		st, _ := status.FromError(validationStatus(err))
		return st
	}
	text := strings.TrimPrefix(schemaErr.Error(), "validating root: ")
	return status.New(codes.InvalidArgument, "arguments do not match the tool's inputSchema: "+text+
		" (send only the properties the schema lists, by their lowerCamel names, in the forms it gives)")
}

// hints say what an agent can do about each kind of failure. A backend's fault rules (see
// adapters.FaultRules) can give any code but OK, so the codes only rules produce
// (AlreadyExists, OutOfRange, Aborted) have hints too.
var hints = map[codes.Code]string{
	codes.InvalidArgument:    "Change the arguments as the message says and call again.",
	codes.OutOfRange:         "A value is outside the range the backend accepts; change it as the message says and call again.",
	codes.NotFound:           "Check the identifier; the backend has no such record.",
	codes.AlreadyExists:      "The backend already has this record; use it, or change the request to make a different one.",
	codes.Aborted:            "The backend gave up on a conflicting change; read the current state and try again.",
	codes.FailedPrecondition: "The backend refused the call in its current state; change the request or the backend's state first.",
	codes.ResourceExhausted:  "A limit was reached; wait before calling again, or ask for less.",
	codes.Unavailable:        "The backend is unavailable; retrying later may succeed.",
	codes.DeadlineExceeded:   "The backend did not answer in time; retrying later may succeed.",
	codes.PermissionDenied:   "The caller is not allowed to do this.",
	codes.Unauthenticated:    "The call needs credentials.",
	codes.Internal:           "The backend failed; retrying the same call is not known to help.",
}

// toolError renders a status as an MCP tool error: isError, with the code, the message, a hint
// and the status details as JSON, so the agent sees what to change.
func toolError(st *status.Status) *mcp.CallToolResult {
	return toolErrorJSON(st, errorJSON)
}

// toolErrorJSON is toolError writing the status with errJSON, whose resolver knows the types
// of its details: a generation's, for the failures of its methods, which may carry a typed
// backend fault (FaultRule.detail_type) as a detail, shown in the status JSON by its fields.
func toolErrorJSON(st *status.Status, errJSON *runtime.JSONPb) *mcp.CallToolResult {
	st = writableStatus(st, errJSON)
	text := fmt.Sprintf("%s: %s", st.Code().String(), st.Message())
	if outcomeUnknown(st) {
		text += "\n" + outcomeUnknownHint
	} else if h := hintFor(st); h != "" {
		text += "\n" + h
	}
	if details := st.Proto().GetDetails(); len(details) > 0 {
		if data, err := errJSON.Marshal(st.Proto()); err == nil {
			text += "\nstatus: " + string(data)
		}
	}
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// matches reports whether a toolset selects a method.
func (ts Toolset) matches(fullName string) bool {
	in := len(ts.Include) == 0
	for _, g := range ts.Include {
		if ok, _ := path.Match(g, fullName); ok {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, g := range ts.Exclude {
		if ok, _ := path.Match(g, fullName); ok {
			return false
		}
	}
	return true
}

// tool returns the tool of that name, or nil.
func (g *generation) tool(name string) *mcpTool { return g.toolByName[name] }

// toolsets checks the configured toolsets against g's tools: "" selects every tool, and a named
// toolset that selects nothing is a mistake.
func toolsets(g *generation, o MCPOptions) (map[string]Toolset, error) {
	if b := o.ToolNameBudget; b != 0 && (b < 16 || b > 64) {
		return nil, fmt.Errorf("server: mcp.tool_name_budget %d: use 16 to 64 characters", b)
	}
	if err := checkResults(o); err != nil {
		return nil, err
	}
	if err := checkProfiles(o); err != nil {
		return nil, err
	}
	sets := map[string]Toolset{"": {}}
	for name, ts := range o.Toolsets {
		if name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("server: toolset name %q must be a non-empty path segment", name)
		}
		for _, glob := range slices.Concat(ts.Include, ts.Exclude) {
			if _, err := path.Match(glob, ""); err != nil {
				return nil, fmt.Errorf("server: toolset %q: bad glob %q", name, glob)
			}
		}
		if !slices.ContainsFunc(g.tools, func(t *mcpTool) bool { return ts.matches(string(t.method.desc.FullName())) }) {
			return nil, fmt.Errorf("server: toolset %q selects no tool", name)
		}
		sets[name] = ts
	}
	return sets, nil
}

// updateMCP brings every toolset's MCP server to g's tools: tools that are gone are removed,
// new or changed ones added, and the SDK tells connected clients the list changed. A toolset
// that g no longer has loses its tools (its address answers 404 to new requests). The servers
// outlive generations, so sessions do too.
func (s *Server) updateMCP(g *generation) {
	s.mcpMu.Lock()
	defer s.mcpMu.Unlock()
	for name := range g.toolsets {
		if s.mcp[name] == nil {
			s.mcp[name] = s.newMCPServer()
			s.mcp[name].AddReceivingMiddleware(s.mcpAuth, s.profileMiddleware(name))
			s.mcpTools[name] = map[string][]byte{}
		}
	}
	for name, srv := range s.mcp {
		ts, served := g.toolsets[name]
		have := s.mcpTools[name]
		want := map[string]bool{}
		for _, t := range g.tools {
			if !served || !ts.matches(string(t.method.desc.FullName())) {
				continue
			}
			want[t.tool.Name] = true
			def, _ := json.Marshal(t.tool)
			if string(have[t.tool.Name]) != string(def) {
				srv.AddTool(t.tool, inToolset(name, s.toolHandler(t.tool.Name)))
				have[t.tool.Name] = def
			}
		}
		var gone []string
		for n := range have {
			if !want[n] {
				gone = append(gone, n)
				delete(have, n)
			}
		}
		if len(gone) > 0 {
			srv.RemoveTools(gone...)
		}
	}
}

// newMCPHTTP makes the Streamable HTTP handler for /mcp and /mcp/{toolset}. It is made once and
// outlives generations, so sessions survive a reload; origins and toolsets are checked against
// the current generation on every request.
func (s *Server) newMCPHTTP() http.Handler {
	h := s.newMCPGuard(mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		s.mcpMu.Lock()
		defer s.mcpMu.Unlock()
		return s.mcp[r.PathValue("toolset")]
	}, s.streamableOptions()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := s.gen.Load()
		if _, ok := g.toolsets[r.PathValue("toolset")]; !ok {
			http.Error(w, "no such toolset", http.StatusNotFound)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !originAllowed(origin, g.mcpOpts.AllowedOrigins) && !originAllowed(origin, s.opts.origins) {
			s.log.Warn("refused an MCP request from a foreign origin", "origin", origin)
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// originAllowed admits loopback origins and the configured ones. Browsers send Origin on
// cross-site requests; a page on a rebinding domain sends its own, which is refused.
func originAllowed(origin string, allowed []string) bool {
	for _, o := range allowed {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// MCPServer returns the MCP server of a toolset ("" for all tools), for transports other than
// HTTP such as stdio.
func (s *Server) MCPServer(toolset string) (*mcp.Server, error) {
	s.mcpMu.Lock()
	srv, ok := s.mcp[toolset]
	s.mcpMu.Unlock()
	if !ok {
		return nil, errors.New("no toolset " + toolset)
	}
	return srv, nil
}

// ServeMCPStdio serves the MCP surface over standard input and output until ctx is done or the
// client closes the stream.
func (s *Server) ServeMCPStdio(ctx context.Context, toolset string) error {
	s.log.Info("serving MCP on stdio", "toolset", toolset)
	return s.ServeMCPIO(ctx, toolset, os.Stdin, os.Stdout)
}
