package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unsafe"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ResultOptions keep MCP tool results within an agent's context: legacy replies are often
// megabytes, an agent's context holds far less.
type ResultOptions struct {
	// MaxBytes bounds the JSON of a tool's result (its structuredContent; the first text content
	// repeats it). A larger result has its repeated fields and maps cut, largest first and whole
	// elements at a time, and a "_truncated" note says what was cut and how to get the rest; a
	// result that cannot be cut enough fails with an isError result. Default 64 KiB
	// (DefaultMaxResultBytes); -1 for no bound; at least 1024 otherwise. A toolset may set its own.
	MaxBytes int `yaml:"max_bytes"`
	// FieldsArgument offers every tool an optional "fields" argument, a field mask of lowerCamel
	// paths into the result ("item.sku"), that trims the result to those fields. Default true.
	// It is one setting for all toolsets, since tools share their schemas. With it, output schemas
	// list no required properties, because a mask leaves properties out.
	FieldsArgument *bool `yaml:"fields_argument"`
}

// DefaultMaxResultBytes is the default bound of a tool result's JSON: 64 KiB, some 16k tokens.
const DefaultMaxResultBytes = 64 << 10

// minResultBytes is the smallest bound allowed: room for some data and the note.
const minResultBytes = 1 << 10

// Names of what tools add to their arguments and results.
const (
	fieldsArgument = "fields"
	truncatedKey   = "_truncated"
)

func (o ResultOptions) fieldsArgument() bool { return o.FieldsArgument == nil || *o.FieldsArgument }

// maxResultBytes is the bound for a toolset's tools, 0 for none.
func (o MCPOptions) maxResultBytes(toolset string) int {
	n := o.Results.MaxBytes
	if ts, ok := o.Toolsets[toolset]; ok && ts.Results.MaxBytes != 0 {
		n = ts.Results.MaxBytes
	}
	switch {
	case n == 0:
		return DefaultMaxResultBytes
	case n < 0:
		return 0
	}
	return n
}

// checkResults validates mcp.results and each toolset's results.
func checkResults(o MCPOptions) error {
	check := func(where string, n int) error {
		if n != 0 && n != -1 && n < minResultBytes {
			return fmt.Errorf("server: %s.max_bytes %d: use -1 (no bound) or at least %d", where, n, minResultBytes)
		}
		return nil
	}
	if err := check("mcp.results", o.Results.MaxBytes); err != nil {
		return err
	}
	for name, ts := range o.Toolsets {
		if err := check("mcp.toolsets."+name+".results", ts.Results.MaxBytes); err != nil {
			return err
		}
		if ts.Results.FieldsArgument != nil {
			return fmt.Errorf("server: mcp.toolsets.%s.results.fields_argument: set it for all toolsets under mcp.results, since toolsets share tool schemas", name)
		}
	}
	return nil
}

type toolsetKey struct{}

// inToolset tells a tool handler which toolset's server it was called on, for that toolset's
// result bound.
func inToolset(toolset string, h mcp.ToolHandler) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return h(context.WithValue(ctx, toolsetKey{}, toolset), req)
	}
}

// toolResults is what a tool needs to trim and bound its results, worked out once per tool.
type toolResults struct {
	output    protoreflect.MessageDescriptor // the result message, or each streamed one
	stream    bool
	fieldsArg bool     // the tool takes "fields"
	noted     bool     // the output schema has "_truncated"
	example   []string // a mask to show in descriptions and hints
	pageSize  string   // the request's page size field, by JSON name, if any
	pageToken string   // the request's page token field, by JSON name, if any
	nextToken string   // the response's next page token field, by JSON name, if any
}

func newToolResults(m *method, o ResultOptions, wrappedOutput bool) *toolResults {
	out := m.desc.Output()
	r := &toolResults{output: out, stream: m.stream != nil}
	// A result whose JSON is not an object has nothing to select; a request that has a "fields"
	// of its own keeps it (it is most likely the method's own read mask).
	// A result with no list or map in it stays small, so its tool is not offered the argument:
	// every tools/list would pay for it in each host's context for nothing.
	r.fieldsArg = o.fieldsArgument() && !wrappedOutput && !ownJSONForm(out) && out.Fields().Len() > 0 &&
		m.desc.Input().Fields().ByJSONName(fieldsArgument) == nil &&
		(r.stream || hasCollection(out, map[protoreflect.FullName]bool{}))
	// A wrapped result has nothing to cut; a message with a "_truncated" field of its own (only
	// possible with json_name) gets the note in words only.
	r.noted = !wrappedOutput && (r.stream || out.Fields().ByJSONName(truncatedKey) == nil)
	r.example = examplePaths(out, "", 2, 0)
	if len(r.example) == 0 && out.Fields().Len() > 0 {
		r.example = []string{out.Fields().Get(0).JSONName()}
	}
	in := m.desc.Input().Fields()
	for _, name := range []protoreflect.Name{"page_size", "max_page_size", "max_results", "limit"} {
		if fd := in.ByName(name); fd != nil && !fd.IsList() && fd.Kind() != protoreflect.MessageKind {
			r.pageSize = fd.JSONName()
			break
		}
	}
	if fd := in.ByName("page_token"); fd != nil {
		r.pageToken = fd.JSONName()
	}
	if fd := out.Fields().ByName("next_page_token"); fd != nil && !r.stream {
		r.nextToken = fd.JSONName()
	}
	return r
}

// ownJSONForm reports whether protojson writes md other than as an object of its fields: the
// well-known types are leaves to a field mask.
func ownJSONForm(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Package() == "google.protobuf"
}

// examplePaths finds up to n paths to scalar fields of md, depth first, for examples.
func examplePaths(md protoreflect.MessageDescriptor, prefix string, n, depth int) []string {
	var out []string
	fields := md.Fields()
	for i := 0; i < fields.Len() && len(out) < n; i++ {
		fd := fields.Get(i)
		path := prefix + fd.JSONName()
		switch sub := fd.Message(); {
		case fd.IsMap():
		case sub == nil || ownJSONForm(sub):
			out = append(out, path)
		case depth < 3:
			out = append(out, examplePaths(sub, path+".", n-len(out), depth+1)...)
		}
	}
	return out
}

// inputSchema adds the "fields" argument to a tool's input schema.
func (r *toolResults) inputSchema(in map[string]any) {
	props, ok := in["properties"].(map[string]any)
	if !r.fieldsArg || !ok {
		return
	}
	what := "the result"
	if r.stream {
		what = "each streamed message"
	}
	example, _ := json.Marshal(r.example)
	props[fieldsArgument] = map[string]any{
		"type":        "array",
		"items":       map[string]any{"type": "string"},
		"description": fmt.Sprintf("Optional: only these fields of %s, as lowerCamel paths (%s); omit for all.", what, example),
	}
}

// hasCollection reports whether a message's JSON can hold a list or a map, at any depth.
func hasCollection(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] || ownJSONForm(md) {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() || fd.IsMap() {
			return true
		}
		if fd.Message() != nil && hasCollection(fd.Message(), seen) {
			return true
		}
	}
	return false
}

// outputSchema makes a tool's output schema fit what the tool returns: no required properties
// where a mask may leave them out, and the optional "_truncated" note.
func (r *toolResults) outputSchema(out map[string]any) {
	props, _ := out["properties"].(map[string]any)
	if r.fieldsArg {
		if r.stream {
			if items, ok := props[streamItemsKey].(map[string]any); ok {
				dropRequired(items["items"])
			}
			if defs, ok := out["$defs"].(map[string]any); ok {
				for _, d := range defs {
					dropRequired(d)
				}
			}
		} else {
			dropRequired(out)
		}
	}
	if r.noted && props != nil {
		props[truncatedKey] = truncatedSchema
	}
}

// dropRequired removes "required" from a schema and every schema below it.
func dropRequired(schema any) {
	s, ok := schema.(map[string]any)
	if !ok {
		return
	}
	delete(s, "required")
	for _, key := range []string{"items", "additionalProperties", "not"} {
		dropRequired(s[key])
	}
	for _, key := range []string{"properties", "$defs", "dependentSchemas"} {
		if m, ok := s[key].(map[string]any); ok {
			for _, v := range m {
				dropRequired(v)
			}
		}
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf", "prefixItems"} {
		if l, ok := s[key].([]any); ok {
			for _, v := range l {
				dropRequired(v)
			}
		}
	}
}

// truncatedSchema describes the note a cut result carries.
var truncatedSchema = map[string]any{
	"type":        "object",
	"description": "Present only when the result was cut to fit the server's byte budget.",
	"properties": map[string]any{
		"fields": map[string]any{
			"type":        "array",
			"description": "The repeated fields and maps that lost elements, largest first.",
			"items": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"path":  map[string]any{"type": "string", "description": "The field's lowerCamel path."},
					"kept":  map[string]any{"type": "integer", "description": "Elements kept."},
					"total": map[string]any{"type": "integer", "description": "Elements the reply had."},
				},
				"required":             []any{"path", "kept", "total"},
				"additionalProperties": false,
			},
		},
		"hint": map[string]any{"type": "string", "description": "What was cut and how to get the rest."},
	},
	"required":             []any{"fields", "hint"},
	"additionalProperties": false,
}

// truncationNote is the "_truncated" note of a cut result.
type truncationNote struct {
	Fields []truncatedField `json:"fields"`
	Hint   string           `json:"hint"`
}

type truncatedField struct {
	Path  string `json:"path"`
	Kept  int    `json:"kept"`
	Total int    `json:"total"`
}

// resultShape is how one call's result is trimmed and bounded.
type resultShape struct {
	tool     *toolResults
	mask     *maskNode // nil: every field
	maxBytes int       // 0: no bound
	stopped  bool      // a stream the bridge stopped before its end
}

// shapeResult takes the "fields" argument out of args, so that the request is decoded as on
// every other surface, and returns how the result is to be trimmed and bounded. An invalid mask
// fails before the method is called.
func shapeResult(ctx context.Context, g *generation, t *mcpTool, args json.RawMessage) (json.RawMessage, *resultShape, *status.Status) {
	toolset, _ := ctx.Value(toolsetKey{}).(string)
	shape := &resultShape{tool: t.results, maxBytes: g.mcpOpts.maxResultBytes(toolset)}
	if !t.results.fieldsArg {
		return args, shape, nil
	}
	// Most calls do not ask for fields; the key's text (or an escape, which could spell it)
	// must be there for the arguments to have it, and looking costs less than parsing.
	if !bytes.Contains(args, []byte(fieldsArgument)) && !bytes.Contains(args, []byte(`\u`)) {
		return args, shape, nil
	}
	rest, value, found, err := takeMember(args, fieldsArgument)
	if err != nil || !found {
		return args, shape, nil // the schema check explains malformed arguments
	}
	var paths []string
	if json.Unmarshal(value, &paths) != nil {
		return nil, nil, status.New(codes.InvalidArgument, `fields must be a list of field paths such as ["`+strings.Join(t.results.example, `", "`)+`"]`)
	}
	if len(paths) > 0 {
		mask, err := parseMask(t.results.output, paths)
		if err != nil {
			return nil, nil, status.New(codes.InvalidArgument, "fields: "+err.Error())
		}
		shape.mask = mask
	}
	return rest, shape, nil
}

// unary trims and bounds a unary method's result, data being its JSON as the tool returns it.
func (r *resultShape) unary(data json.RawMessage, wrapped bool) *mcp.CallToolResult {
	if r.mask != nil && !wrapped {
		trimmed, err := r.mask.apply(data)
		if err != nil {
			return toolError(status.New(codes.Internal, "the result could not be trimmed to fields"))
		}
		data = trimmed
	}
	if r.maxBytes == 0 || len(data) <= r.maxBytes {
		return jsonResult(data, "")
	}
	root, err := readObject(data)
	if err != nil {
		return toolError(status.New(codes.Internal, "the result could not be cut to its budget"))
	}
	top := &cutObject{members: root}
	var cuts []*cutField
	if !wrapped {
		if err := top.collect(r.tool.output, "", &cuts); err != nil {
			return toolError(status.New(codes.Internal, "the result could not be cut to its budget"))
		}
	}
	return r.fit(data, top, cuts)
}

// item trims one streamed message.
func (r *resultShape) item(data json.RawMessage) (json.RawMessage, error) {
	if r.mask == nil {
		return data, nil
	}
	return r.mask.apply(data)
}

// full reports whether streamed messages of size bytes in all already exceed the bound, so that
// collecting more is wasted.
func (r *resultShape) full(size int) bool { return r.maxBytes > 0 && size > r.maxBytes }

// stream bounds a streaming tool's result: the messages collected, whole, and whether the stream
// was stopped early.
func (r *resultShape) stream(items []json.RawMessage, truncated bool) *mcp.CallToolResult {
	if items == nil {
		items = []json.RawMessage{}
	}
	flag := json.RawMessage("false")
	if truncated {
		flag = json.RawMessage("true")
	}
	list := &cutField{path: streamItemsKey}
	for _, it := range items {
		list.add(it)
	}
	top := &cutObject{members: jsonObject{{streamItemsKey, list.encode(len(items))}, {streamTruncatedKey, flag}}, cuts: map[int]*cutField{0: list}}
	data := top.encode()
	if r.maxBytes == 0 || len(data) <= r.maxBytes {
		return jsonResult(data, "")
	}
	r.stopped = truncated
	return r.fit(data, top, []*cutField{list})
}

// fit cuts the fields in cuts so that the result and its note fit the bound. The largest fields
// are cut first: every field is cut to at most the same number of bytes, the largest such number
// that fits, so small fields are kept whole and large ones keep what they can.
func (r *resultShape) fit(data json.RawMessage, top *cutObject, cuts []*cutField) *mcp.CallToolResult {
	// Measured on the object as it will be written: protojson may put spaces between elements
	// that the cut fields, written again, do not have.
	base := len(top.encode())
	largest := 0
	for _, c := range cuts {
		base -= c.size(len(c.elems))
		largest = max(largest, c.size(len(c.elems)))
	}
	sort.SliceStable(cuts, func(i, j int) bool { return cuts[i].size(len(cuts[i].elems)) > cuts[j].size(len(cuts[j].elems)) })
	// size returns the result's size when every field is cut to at most limit bytes, and sets
	// each field's kept count.
	size := func(limit int) int {
		total := base
		for _, c := range cuts {
			c.kept = c.fitting(limit)
			total += c.size(c.kept)
		}
		note := r.note(len(data), cuts)
		return total + len(`,"`+truncatedKey+`":`) + len(note)
	}
	if size(0) > r.maxBytes {
		// Not toolError: its hint for ResourceExhausted says to wait, which does not help here.
		st := r.tooLarge(len(data))
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: st.Code().String() + ": " + st.Message()}}}
	}
	lo, hi := 0, largest // size(lo) fits; find the largest limit that does
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if size(mid) <= r.maxBytes {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	size(lo)
	note := r.note(len(data), cuts)
	if r.tool.noted {
		top.members = append(top.members, jsonMember{truncatedKey, note})
	}
	var hint truncationNote
	_ = json.Unmarshal(note, &hint)
	return jsonResult(top.encode(), hint.Hint)
}

// note writes the "_truncated" note for the fields as cut.
func (r *resultShape) note(resultBytes int, cuts []*cutField) json.RawMessage {
	n := truncationNote{Fields: []truncatedField{}}
	var largest *cutField
	for _, c := range cuts {
		if c.kept < len(c.elems) {
			n.Fields = append(n.Fields, truncatedField{Path: c.path, Kept: c.kept, Total: len(c.elems)})
			if largest == nil {
				largest = c
			}
		}
	}
	var cut []string
	for _, f := range n.Fields {
		cut = append(cut, fmt.Sprintf("%s kept %d of %d", f.Path, f.Kept, f.Total))
	}
	n.Hint = fmt.Sprintf("The result (%d bytes of JSON) was cut to fit this tool's budget of %d bytes: %s.", resultBytes, r.maxBytes, strings.Join(cut, "; "))
	if r.stopped {
		n.Hint += " The stream had more messages; the bridge stopped it once it had more than fit."
	}
	if largest != nil {
		n.Hint += " " + r.rest(largest)
	}
	data, _ := json.Marshal(n)
	return data
}

// rest says how to get what was cut from a field: smaller pages where the request pages, fewer
// fields per element where the tool takes a mask, else a narrower request.
func (r *resultShape) rest(c *cutField) string {
	t := r.tool
	var ways []string
	if t.pageSize != "" && !strings.Contains(c.path, ".") && !r.isStream() {
		way := fmt.Sprintf("ask for at most %d per call with %s", max(c.kept, 1), t.pageSize)
		if t.pageToken != "" && t.nextToken != "" {
			way += fmt.Sprintf(" and pass each reply's %s back as %s", t.nextToken, t.pageToken)
		}
		ways = append(ways, way)
	} else if t.pageToken != "" && t.nextToken != "" && !r.isStream() {
		ways = append(ways, fmt.Sprintf("page with %s (each reply's %s), so that each reply is smaller", t.pageToken, t.nextToken))
	}
	if t.fieldsArg {
		if ex := narrower(t, c); len(ex) > 0 {
			data, _ := json.Marshal(ex)
			ways = append(ways, "ask for fewer fields of each element with the fields argument, such as "+string(data))
		} else {
			ways = append(ways, "leave "+c.path+" out with the fields argument, listing only the fields you need")
		}
	}
	if len(ways) == 0 {
		return "To get the rest, narrow the request so that the backend returns less."
	}
	return "To get the rest, " + strings.Join(ways, ", or ") + "."
}

func (r *resultShape) isStream() bool { return r.tool.stream }

// narrower suggests a mask keeping two scalar fields of a cut field's elements.
func narrower(t *toolResults, c *cutField) []string {
	md := t.output
	prefix := ""
	path := c.path
	if t.stream {
		path = "" // the stream's items are whole messages
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			break
		}
		fd := md.Fields().ByJSONName(seg)
		if fd == nil {
			return nil
		}
		if md = messageOf(fd); md == nil || ownJSONForm(md) {
			return nil
		}
		prefix += seg + "."
	}
	return examplePaths(md, prefix, 2, 0)
}

// tooLarge explains a result that no cut brings under the bound. The method has run: for a
// state-changing one the agent must know that it did.
func (r *resultShape) tooLarge(resultBytes int) *status.Status {
	msg := fmt.Sprintf("the method ran, but its result (%d bytes of JSON) does not fit this tool's budget of %d bytes even with its repeated fields cut", resultBytes, r.maxBytes)
	if r.tool.fieldsArg && r.tool.output.Fields().Len() > 1 {
		data, _ := json.Marshal(r.tool.example)
		msg += "; ask for fewer fields with the fields argument, such as " + string(data)
	} else {
		msg += "; narrow the request so that the backend returns less"
	}
	return status.New(codes.ResourceExhausted, msg)
}

// jsonResult is a tool result of JSON, repeated as text, with a note in words when it was cut.
// The text shares data's bytes, which nothing writes after this: every caller passes JSON just
// written for this result, which the SDK only reads.
func jsonResult(data json.RawMessage, hint string) *mcp.CallToolResult {
	content := []mcp.Content{&mcp.TextContent{Text: unsafe.String(unsafe.SliceData(data), len(data))}}
	if hint != "" {
		content = append(content, &mcp.TextContent{Text: hint})
	}
	return &mcp.CallToolResult{Content: content, StructuredContent: data}
}

// cutObject is a JSON object whose repeated fields may be cut, directly (cuts) or in the message
// fields it holds (subs), by member index.
type cutObject struct {
	members jsonObject
	subs    map[int]*cutObject
	cuts    map[int]*cutField
}

// collect finds the repeated fields and maps of an object of md's JSON and of the singular
// messages it holds; elements of a repeated field are kept or cut whole, so nothing is looked
// for inside them.
func (o *cutObject) collect(md protoreflect.MessageDescriptor, prefix string, out *[]*cutField) error {
	for i, m := range o.members {
		fd := md.Fields().ByJSONName(m.key)
		if fd == nil || bytes.Equal(m.value, []byte("null")) {
			continue
		}
		path := prefix + m.key
		switch {
		case fd.IsList():
			elems, err := readArray(m.value)
			if err != nil {
				return err
			}
			c := &cutField{path: path}
			for _, e := range elems {
				c.add(e)
			}
			o.setCut(i, c)
			*out = append(*out, c)
		case fd.IsMap():
			entries, err := readObject(m.value)
			if err != nil {
				return err
			}
			c := &cutField{path: path, isMap: true}
			for _, e := range entries {
				c.add(e.encode())
			}
			o.setCut(i, c)
			*out = append(*out, c)
		case fd.Message() != nil && !ownJSONForm(fd.Message()):
			members, err := readObject(m.value)
			if err != nil {
				return err
			}
			sub := &cutObject{members: members}
			if err := sub.collect(fd.Message(), path+".", out); err != nil {
				return err
			}
			if len(sub.cuts) > 0 || len(sub.subs) > 0 {
				if o.subs == nil {
					o.subs = map[int]*cutObject{}
				}
				o.subs[i] = sub
			}
		}
	}
	return nil
}

func (o *cutObject) setCut(i int, c *cutField) {
	if o.cuts == nil {
		o.cuts = map[int]*cutField{}
	}
	o.cuts[i] = c
}

func (o *cutObject) encode() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o.members {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(m.key)
		b.Write(key)
		b.WriteByte(':')
		switch {
		case o.cuts[i] != nil:
			c := o.cuts[i]
			b.Write(c.encode(c.kept))
		case o.subs[i] != nil:
			b.Write(o.subs[i].encode())
		default:
			b.Write(m.value)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// cutField is a repeated field or map that may lose elements from its end.
type cutField struct {
	path   string
	isMap  bool
	elems  []json.RawMessage // list elements, or map entries as "key":value
	prefix []int             // prefix[k]: bytes of the first k elements
	kept   int
}

func (c *cutField) add(e json.RawMessage) {
	if c.prefix == nil {
		c.prefix = []int{0}
	}
	c.elems = append(c.elems, e)
	c.prefix = append(c.prefix, c.prefix[len(c.prefix)-1]+len(e))
	c.kept = len(c.elems)
}

// size is the field's JSON with its first k elements: brackets, elements and commas.
func (c *cutField) size(k int) int {
	if k == 0 {
		return 2
	}
	return 2 + c.prefix[k] + k - 1
}

// fitting is the most elements whose JSON takes at most limit bytes.
func (c *cutField) fitting(limit int) int {
	return max(sort.Search(len(c.elems)+1, func(k int) bool { return c.size(k) > limit })-1, 0)
}

func (c *cutField) encode(k int) json.RawMessage {
	var b bytes.Buffer
	b.Grow(c.size(k))
	open, closing := byte('['), byte(']')
	if c.isMap {
		open, closing = '{', '}'
	}
	b.WriteByte(open)
	for i, e := range c.elems[:k] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteByte(closing)
	return b.Bytes()
}

// maskNode is a field mask as a tree: the fields selected below a message, by JSON name, or
// the whole field.
type maskNode struct {
	field    protoreflect.FieldDescriptor
	whole    bool
	children map[string]*maskNode
}

// parseMask reads lowerCamel paths into a tree, checking each against md: a path goes through
// message fields, and through a repeated message field or a map of messages to each element.
// A path to a message, list or map selects all of it.
func parseMask(md protoreflect.MessageDescriptor, paths []string) (*maskNode, error) {
	root := &maskNode{children: map[string]*maskNode{}}
	for _, path := range paths {
		segs := strings.Split(path, ".")
		fields := make([]protoreflect.FieldDescriptor, len(segs))
		cur := md
		for i, seg := range segs {
			if seg == "" {
				return nil, fmt.Errorf("field path %q has an empty segment; write paths such as item.sku", path)
			}
			if cur == nil {
				return nil, fmt.Errorf("unknown field path %q: %s has no fields to select from", path, strings.Join(segs[:i], "."))
			}
			fd := cur.Fields().ByJSONName(seg)
			if fd == nil {
				return nil, unknownPath(path, strings.Join(segs[:i], "."), seg, cur)
			}
			fields[i] = fd
			if cur = messageOf(fd); cur != nil && ownJSONForm(cur) {
				cur = nil
			}
		}
		node := root
		for i, seg := range segs {
			child := node.children[seg]
			if child == nil {
				child = &maskNode{field: fields[i]}
				node.children[seg] = child
			}
			if child.whole {
				break // an earlier path selected all of it
			}
			if i == len(segs)-1 {
				child.whole, child.children = true, nil
				break
			}
			if child.children == nil {
				child.children = map[string]*maskNode{}
			}
			node = child
		}
	}
	return root, nil
}

// unknownPath names the path and the fields it could have meant; parent is the path to md.
func unknownPath(path, parent, seg string, md protoreflect.MessageDescriptor) error {
	fields := md.Fields()
	names := make([]string, fields.Len())
	for i := range fields.Len() {
		names[i] = fields.Get(i).JSONName()
		if string(fields.Get(i).Name()) == seg {
			return fmt.Errorf("unknown field path %q: write %s as %s (lowerCamel, as the result has it)", path, seg, fields.Get(i).JSONName())
		}
	}
	where := "the result"
	if parent != "" {
		where = parent
	}
	return fmt.Errorf("unknown field path %q: %s has no field %s; it has %s", path, where, seg, strings.Join(names, ", "))
}

// apply keeps only the selected fields of an object of the node's message's JSON.
func (n *maskNode) apply(data json.RawMessage) (json.RawMessage, error) {
	if n.whole || bytes.Equal(data, []byte("null")) {
		return data, nil
	}
	obj, err := readObject(data)
	if err != nil {
		return nil, err
	}
	out := obj[:0]
	for _, m := range obj {
		child := n.children[m.key]
		if child == nil {
			continue
		}
		if !child.whole {
			if m.value, err = child.applyField(m.value); err != nil {
				return nil, err
			}
		}
		out = append(out, m)
	}
	return (&cutObject{members: out}).encode(), nil
}

// applyField applies the node below a field to the field's value: each element of a list, each
// value of a map, or the message.
func (n *maskNode) applyField(data json.RawMessage) (json.RawMessage, error) {
	switch {
	case n.field.IsList():
		elems, err := readArray(data)
		if err != nil {
			return nil, err
		}
		c := &cutField{}
		for _, e := range elems {
			trimmed, err := n.apply(e)
			if err != nil {
				return nil, err
			}
			c.add(trimmed)
		}
		return c.encode(len(c.elems)), nil
	case n.field.IsMap():
		entries, err := readObject(data)
		if err != nil {
			return nil, err
		}
		for i := range entries {
			if entries[i].value, err = n.apply(entries[i].value); err != nil {
				return nil, err
			}
		}
		return (&cutObject{members: entries}).encode(), nil
	}
	return n.apply(data)
}

// jsonObject is a JSON object's members in order, each value as its bytes.
type jsonObject []jsonMember

type jsonMember struct {
	key   string
	value json.RawMessage
}

func (m jsonMember) encode() json.RawMessage {
	key, _ := json.Marshal(m.key)
	return append(append(key, ':'), m.value...)
}

var errNotJSONKind = errors.New("unexpected JSON value")

// readObject splits a JSON object into its members, keeping each value's bytes.
func readObject(data json.RawMessage) (jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotJSONKind
	}
	var out jsonObject
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errNotJSONKind
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, jsonMember{key, v})
	}
	return out, nil
}

// readArray splits a JSON array into its elements' bytes.
func readArray(data json.RawMessage) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, errNotJSONKind
	}
	var out []json.RawMessage
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// takeMember removes the member key from a JSON object's bytes, leaving the rest as it was
// written (numbers, order, spacing), and returns its value.
func takeMember(data json.RawMessage, key string) (rest, value json.RawMessage, found bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return data, nil, false, errNotJSONKind
	}
	for first := true; dec.More(); first = false {
		start := dec.InputOffset() // after '{' or after the previous value, before its comma
		tok, err := dec.Token()
		if err != nil {
			return data, nil, false, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return data, nil, false, err
		}
		if tok != key {
			continue
		}
		end := int(dec.InputOffset())
		if first {
			// Take the comma after the member instead of the one before it.
			after := bytes.TrimLeft(data[end:], " \t\r\n")
			if len(after) > 0 && after[0] == ',' {
				end = len(data) - len(after) + 1
			}
		}
		out := make(json.RawMessage, 0, len(data))
		out = append(append(out, data[:start]...), data[end:]...)
		return out, v, true, nil
	}
	return data, nil, false, nil
}
