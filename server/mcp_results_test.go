package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// catalogProto is a legacy-sized service: its Go implementation answers with as many products
// as asked for, each carrying a description of payload bytes, so a reply of 5 MB is one call.
const catalogProto = `syntax = "proto3";

package acme.catalog.v1;

import "google/protobuf/timestamp.proto";

// The catalogue.
service CatalogService {
  // List products, a page at a time.
  rpc ListProducts(ListProductsRequest) returns (ListProductsResponse);
  // Export products and lines at once, without paging.
  rpc Export(ExportRequest) returns (ExportResponse);
  // Watch products, one message each.
  rpc WatchProducts(ExportRequest) returns (stream Product);
  // Read a blob.
  rpc GetBlob(ExportRequest) returns (Blob);
}

// Which page.
message ListProductsRequest {
  // Products per page.
  int32 page_size = 1;
  // Where the page starts.
  string page_token = 2;
  // How many products the reply holds.
  int32 count = 3;
  // Bytes of description per product.
  int32 payload = 4;
}

// One page.
message ListProductsResponse {
  // The products.
  repeated Product products = 1;
  // The next page.
  string next_page_token = 2;
  // A summary.
  Summary summary = 3;
}

// A summary of the page.
message Summary {
  // How many.
  int32 total = 1;
  // Notes.
  repeated string notes = 2;
  // The products by SKU.
  map<string, Product> by_sku = 3;
}

// A product.
message Product {
  // Its SKU.
  string sku = 1;
  // Its name.
  string name = 2;
  // A long text.
  string description = 3;
  // Tags.
  repeated string tags = 4;
  // Its price.
  Price price = 5;
  // Labels.
  map<string, string> labels = 6;
  // Last change.
  google.protobuf.Timestamp updated = 7;
}

// A price.
message Price {
  // ISO 4217.
  string currency = 1;
  // In the smallest unit.
  int64 minor_units = 2;
}

// What to export.
message ExportRequest {
  // How many products.
  int32 count = 1;
  // Bytes of description per product.
  int32 payload = 2;
  // How many lines.
  int32 lines = 3;
  // Bytes per line.
  int32 line_payload = 4;
}

// Everything.
message ExportResponse {
  // The products.
  repeated Product products = 1;
  // Free-form lines.
  repeated string lines = 2;
}

// A blob.
message Blob {
  // Its bytes, as text.
  string data = 1;
}
`

// catalog is the running catalogue service and the payload sizes its implementation was
// called with, which tests running in parallel keep apart.
type catalog struct {
	b        *bridge
	srv      *server.Server
	payloads sync.Map // int → true
}

// called reports whether the implementation saw a request with this payload.
func (c *catalog) called(payload int) bool {
	_, ok := c.payloads.Load(payload)
	return ok
}

func startCatalog(t *testing.T, opts server.MCPOptions) *catalog {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "acme", "catalog", "v1", "catalog.proto")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(catalogProto), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := contract.Load(t.Context(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{"acme/catalog/v1/catalog.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.catalog.v1.CatalogService")
	if err != nil {
		t.Fatal(err)
	}
	c := &catalog{}
	product := func(i, payload int) protoreflect.Message {
		md := sd.Methods().ByName("WatchProducts").Output()
		p := dynamicpb.NewMessage(md)
		f := md.Fields()
		p.Set(f.ByName("sku"), protoreflect.ValueOfString(fmt.Sprintf("P-%04d", i)))
		p.Set(f.ByName("name"), protoreflect.ValueOfString(fmt.Sprintf("Product %d", i)))
		p.Set(f.ByName("description"), protoreflect.ValueOfString(strings.Repeat("x", payload)))
		tags := p.Mutable(f.ByName("tags")).List()
		tags.Append(protoreflect.ValueOfString("a"))
		tags.Append(protoreflect.ValueOfString("b"))
		price := p.Mutable(f.ByName("price")).Message()
		price.Set(price.Descriptor().Fields().ByName("currency"), protoreflect.ValueOfString("EUR"))
		price.Set(price.Descriptor().Fields().ByName("minor_units"), protoreflect.ValueOfInt64(int64(100+i)))
		labels := p.Mutable(f.ByName("labels")).Map()
		labels.Set(protoreflect.ValueOfString("colour").MapKey(), protoreflect.ValueOfString("red"))
		return p
	}
	intOf := func(req proto.Message, name protoreflect.Name) int {
		m := req.ProtoReflect()
		n := int(m.Get(m.Descriptor().Fields().ByName(name)).Int())
		if name == "payload" {
			c.payloads.Store(n, true)
		}
		return n
	}
	newOutput := func(method protoreflect.Name) protoreflect.Message {
		return adapters.MessageType(sd.Methods().ByName(method).Output()).New()
	}
	svc := server.Service{
		Desc: sd,
		Methods: map[protoreflect.Name]adapters.Unary{
			"ListProducts": func(_ context.Context, req proto.Message) (proto.Message, error) {
				out := newOutput("ListProducts")
				f := out.Descriptor().Fields()
				list := out.Mutable(f.ByName("products")).List()
				summary := out.Mutable(f.ByName("summary")).Message()
				sf := summary.Descriptor().Fields()
				bySKU := summary.Mutable(sf.ByName("by_sku")).Map()
				for i := range intOf(req, "count") {
					list.Append(protoreflect.ValueOfMessage(product(i, intOf(req, "payload"))))
					if i < 3 {
						bySKU.Set(protoreflect.ValueOfString(fmt.Sprintf("P-%04d", i)).MapKey(), protoreflect.ValueOfMessage(product(i, 10)))
					}
				}
				summary.Set(sf.ByName("total"), protoreflect.ValueOfInt32(int32(intOf(req, "count"))))
				summary.Mutable(sf.ByName("notes")).List().Append(protoreflect.ValueOfString("fresh"))
				out.Set(f.ByName("next_page_token"), protoreflect.ValueOfString("page-2"))
				return out.Interface(), nil
			},
			"Export": func(_ context.Context, req proto.Message) (proto.Message, error) {
				out := newOutput("Export")
				f := out.Descriptor().Fields()
				list := out.Mutable(f.ByName("products")).List()
				for i := range intOf(req, "count") {
					list.Append(protoreflect.ValueOfMessage(product(i, intOf(req, "payload"))))
				}
				lines := out.Mutable(f.ByName("lines")).List()
				for i := range intOf(req, "lines") {
					lines.Append(protoreflect.ValueOfString(fmt.Sprintf("%05d%s", i, strings.Repeat("y", intOf(req, "line_payload")))))
				}
				return out.Interface(), nil
			},
			"GetBlob": func(_ context.Context, req proto.Message) (proto.Message, error) {
				out := newOutput("GetBlob")
				out.Set(out.Descriptor().Fields().ByName("data"), protoreflect.ValueOfString(strings.Repeat("z", intOf(req, "payload"))))
				return out.Interface(), nil
			},
		},
		Streams: map[protoreflect.Name]adapters.ServerStream{
			"WatchProducts": func(ctx context.Context, req proto.Message, send func(proto.Message) error) error {
				for i := range intOf(req, "count") {
					if err := send(product(i, intOf(req, "payload")).Interface()); err != nil {
						return err
					}
				}
				return nil
			},
		},
	}
	srv, err := server.New([]server.Service{svc}, server.WithMCP(opts), server.WithMaxBodyBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	c.srv = srv
	c.b = serve(t, srv, false, nil, nil)
	return c
}

// TestMCPResultsOverStdio: the fields argument and the byte budget hold over stdio as over
// Streamable HTTP, since both live in the one tool handler.
func TestMCPResultsOverStdio(t *testing.T) {
	t.Parallel()
	c := startCatalog(t, server.MCPOptions{})
	session := stdioSession(t, c.srv, nil)
	masked := callCatalog(t, session, "CatalogService_ListProducts", map[string]any{"count": 2, "payload": 1, "fields": []string{"products.sku"}})
	if masked.res.IsError || compact(masked.structured) != `{"products":[{"sku":"P-0000"},{"sku":"P-0001"}]}` {
		t.Errorf("fields over stdio: %s", masked.text)
	}
	cut := callCatalog(t, session, "CatalogService_ListProducts", map[string]any{"count": 5000, "payload": 1000, "pageSize": 5000})
	note, _ := cut.structured["_truncated"].(map[string]any)
	if cut.res.IsError || note == nil || len(cut.text) > server.DefaultMaxResultBytes || !strings.Contains(cut.note, "pageToken") {
		t.Errorf("a 5 MB page over stdio: %d bytes, note %v, %q", len(cut.text), note, cut.note)
	}
	bad := callCatalog(t, session, "CatalogService_ListProducts", map[string]any{"count": 1, "fields": []string{"products.colour"}})
	if !bad.res.IsError || !strings.Contains(bad.text, `unknown field path "products.colour"`) {
		t.Errorf("an unknown path over stdio: %s", bad.text)
	}
}

// toolCall is one tools/call and its result as the agent sees it.
type toolCall struct {
	res        *mcp.CallToolResult
	text       string         // the first text content: the result's JSON
	note       string         // the second text content, if any
	structured map[string]any // structuredContent
}

func callCatalog(t *testing.T, session *mcp.ClientSession, tool string, args map[string]any) toolCall {
	t.Helper()
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatal(err)
	}
	out := toolCall{res: res}
	if res.IsError {
		out.text = textOf(res)
		return out
	}
	if len(res.Content) == 0 || len(res.Content) > 2 {
		t.Fatalf("%d contents", len(res.Content))
	}
	out.text = res.Content[0].(*mcp.TextContent).Text
	if len(res.Content) == 2 {
		out.note = res.Content[1].(*mcp.TextContent).Text
	}
	data, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(data, &out.structured); err != nil {
		t.Fatal(err)
	}
	if canonical(t, []byte(out.text)) != canonical(t, data) {
		t.Errorf("the first text content is not the structuredContent")
	}
	return out
}

// outputValidators resolves each tool's output schema, to check results against.
func outputValidators(t *testing.T, session *mcp.ClientSession) map[string]*jsonschema.Resolved {
	t.Helper()
	res, err := session.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Resolved{}
	for _, tool := range res.Tools {
		data, _ := json.Marshal(tool.OutputSchema)
		var s jsonschema.Schema
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		r, err := s.Resolve(nil)
		if err != nil {
			t.Fatalf("%s: %v", tool.Name, err)
		}
		out[tool.Name] = r
	}
	return out
}

func compact(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// TestMCPFieldsArgument trims results to a field mask: nested messages, each element of a
// list, each value of a map, whole messages; an unknown path fails before the method runs.
func TestMCPFieldsArgument(t *testing.T) {
	t.Parallel()
	c := startCatalog(t, server.MCPOptions{})
	session := mcpSession(t, c.b.httpURL+"/mcp")
	validators := outputValidators(t, session)
	tests := []struct {
		name   string
		tool   string
		fields any
		want   string // the structuredContent, canonical; or, for an error, text it contains
		err    bool
	}{
		{
			name: "nested paths through a list", tool: "CatalogService_ListProducts", fields: []string{"products.sku", "products.price.currency"},
			want: `{"products":[{"price":{"currency":"EUR"},"sku":"P-0000"},{"price":{"currency":"EUR"},"sku":"P-0001"}]}`,
		},
		{
			name: "each value of a map", tool: "CatalogService_ListProducts", fields: []string{"summary.bySku.name"},
			want: `{"summary":{"bySku":{"P-0000":{"name":"Product 0"},"P-0001":{"name":"Product 1"}}}}`,
		},
		{
			name: "a message whole, over a narrower path", tool: "CatalogService_ListProducts", fields: []string{"summary.total", "summary", "nextPageToken"},
			want: `{"nextPageToken":"page-2","summary":{"bySku":{"P-0000":` + compactProduct(0, 10) + `,"P-0001":` + compactProduct(1, 10) + `},"notes":["fresh"],"total":2}}`,
		},
		{
			name: "a map of scalars and a list of scalars whole", tool: "CatalogService_ListProducts", fields: []string{"products.labels", "products.tags"},
			want: `{"products":[{"labels":{"colour":"red"},"tags":["a","b"]},{"labels":{"colour":"red"},"tags":["a","b"]}]}`,
		},
		{
			name: "a well-known type whole", tool: "CatalogService_ListProducts", fields: []string{"products.updated", "summary.notes"},
			want: `{"products":[{},{}],"summary":{"notes":["fresh"]}}`,
		},
		// A result without a list or a map stays small: its tool is not offered the argument.
		{name: "no mask for a flat result", tool: "CatalogService_GetBlob", fields: []string{}, err: true, want: `unknown field "fields"`},
		{name: "unknown field", tool: "CatalogService_ListProducts", fields: []string{"products.sku", "products.colour"}, err: true,
			want: `fields: unknown field path "products.colour": products has no field colour; it has sku, name, description, tags, price, labels, updated`},
		{name: "proto name", tool: "CatalogService_ListProducts", fields: []string{"products.price.minor_units"}, err: true,
			want: `write minor_units as minorUnits`},
		{name: "into a scalar", tool: "CatalogService_ListProducts", fields: []string{"products.sku.x"}, err: true,
			want: `unknown field path "products.sku.x": products.sku has no fields to select from`},
		{name: "into a well-known type", tool: "CatalogService_ListProducts", fields: []string{"products.updated.seconds"}, err: true,
			want: `products.updated has no fields to select from`},
		{name: "empty segment", tool: "CatalogService_ListProducts", fields: []string{"products..sku"}, err: true, want: `empty segment`},
		{name: "not a list", tool: "CatalogService_ListProducts", fields: "products.sku", err: true, want: `fields must be a list of field paths`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			payload := 2
			if tt.err {
				payload = 100 + i // this call's own, to tell whether it reached the implementation
			}
			args := map[string]any{"count": 2, "payload": payload, "fields": tt.fields}
			got := callCatalog(t, session, tt.tool, args)
			if tt.err {
				if !got.res.IsError || !strings.HasPrefix(got.text, "InvalidArgument: ") || !strings.Contains(got.text, tt.want) {
					t.Errorf("got %s, want InvalidArgument containing %q", got.text, tt.want)
				}
				if c.called(payload) {
					t.Error("a call with an invalid mask reached the implementation")
				}
				return
			}
			if got.res.IsError {
				t.Fatal(got.text)
			}
			if s := compact(got.structured); s != tt.want {
				t.Errorf("structuredContent\n%s\nwant\n%s", s, tt.want)
			}
			if err := validators[tt.tool].Validate(got.structured); err != nil {
				t.Errorf("structuredContent does not match the outputSchema: %v", err)
			}
		})
	}
}

// compactProduct is product i as the catalogue writes it, canonical.
func compactProduct(i, payload int) string {
	return fmt.Sprintf(`{"description":%q,"labels":{"colour":"red"},"name":"Product %d","price":{"currency":"EUR","minorUnits":"%d"},"sku":"P-%04d","tags":["a","b"]}`,
		strings.Repeat("x", payload), i, 100+i, i)
}

// truncated is the _truncated note of a result.
type truncated struct {
	Fields []struct {
		Path  string `json:"path"`
		Kept  int    `json:"kept"`
		Total int    `json:"total"`
	} `json:"fields"`
	Hint string `json:"hint"`
}

func noteOf(t *testing.T, structured map[string]any) *truncated {
	t.Helper()
	v, ok := structured["_truncated"]
	if !ok {
		return nil
	}
	var n truncated
	if err := json.Unmarshal([]byte(compact(v)), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

// TestMCPResultBudget sends replies of 5 MB through tools with a byte budget: repeated fields are
// cut, largest first and whole elements at a time, the result says exactly what was cut and how
// to get the rest, it still matches the output schema, and what cannot be cut fails clearly.
func TestMCPResultBudget(t *testing.T) {
	t.Parallel()
	c := startCatalog(t, server.MCPOptions{
		MaxStreamItems: 1000,
		Toolsets: map[string]server.Toolset{
			"small":     {Results: server.ResultOptions{MaxBytes: 4096}},
			"unbounded": {Results: server.ResultOptions{MaxBytes: -1}},
		},
	})
	sessions := map[string]*mcp.ClientSession{}
	for _, ts := range []string{"", "small", "unbounded"} {
		sessions[ts] = mcpSession(t, strings.TrimSuffix(c.b.httpURL+"/mcp/"+ts, "/"))
	}
	validators := outputValidators(t, sessions[""])
	type field struct {
		path        string
		kept, total int // kept -1: some, fewer than total
	}
	tests := []struct {
		name     string
		toolset  string
		tool     string
		args     map[string]any
		maxBytes int
		cut      []field  // what _truncated lists, in order; none: the whole result
		hint     []string // what the hint says
		err      string   // an isError result containing this
	}{
		{
			name: "a page of 5 MB", tool: "CatalogService_ListProducts", args: map[string]any{"count": 5000, "payload": 1000, "pageSize": 5000},
			maxBytes: server.DefaultMaxResultBytes, cut: []field{{"products", -1, 5000}},
			hint: []string{"was cut to fit this tool's budget of 65536 bytes", "products kept ", " of 5000", "ask for at most ", " per call with pageSize and pass each reply's nextPageToken back as pageToken", `or ask for fewer fields of each element with the fields argument, such as ["products.sku","products.name"]`},
		},
		{
			name: "5 MB without paging: the largest field is cut, the small one kept", tool: "CatalogService_Export", args: map[string]any{"count": 5000, "payload": 1000, "lines": 10, "linePayload": 10},
			maxBytes: server.DefaultMaxResultBytes, cut: []field{{"products", -1, 5000}},
			hint: []string{`To get the rest, ask for fewer fields of each element with the fields argument, such as ["products.sku","products.name"].`},
		},
		{
			name: "two large fields are both cut, the largest first", tool: "CatalogService_Export", args: map[string]any{"count": 3000, "payload": 1000, "lines": 2000, "linePayload": 1000},
			maxBytes: server.DefaultMaxResultBytes, cut: []field{{"products", -1, 3000}, {"lines", -1, 2000}},
			hint: []string{"products kept ", "lines kept "},
		},
		{
			name: "a narrower mask fits without a cut", tool: "CatalogService_Export", args: map[string]any{"count": 2000, "payload": 1000, "fields": []string{"products.sku"}},
			maxBytes: server.DefaultMaxResultBytes,
		},
		{
			name: "a mask and a cut", tool: "CatalogService_ListProducts", args: map[string]any{"count": 5000, "payload": 1000, "fields": []string{"products.sku", "products.description"}},
			maxBytes: server.DefaultMaxResultBytes, cut: []field{{"products", -1, 5000}},
		},
		{
			name: "nothing repeated to cut", tool: "CatalogService_GetBlob", args: map[string]any{"payload": 5 << 20},
			err: "bytes of JSON) does not fit this tool's budget of 65536 bytes even with its repeated fields cut; narrow the request so that the backend returns less",
		},
		{
			name: "a toolset's own budget", toolset: "small", tool: "CatalogService_ListProducts", args: map[string]any{"count": 5000, "payload": 1000},
			maxBytes: 4096, cut: []field{{"products", -1, 5000}},
		},
		{
			name: "a toolset without a budget", toolset: "unbounded", tool: "CatalogService_ListProducts", args: map[string]any{"count": 5000, "payload": 1000},
		},
		{
			name: "a stream of 5 MB", tool: "CatalogService_WatchProducts", args: map[string]any{"count": 500, "payload": 10000},
			maxBytes: server.DefaultMaxResultBytes, cut: []field{{"items", -1, -1}},
			hint: []string{"items kept ", `ask for fewer fields of each element with the fields argument, such as ["sku","name"]`},
		},
		{
			name: "a trimmed stream", tool: "CatalogService_WatchProducts", args: map[string]any{"count": 500, "payload": 10000, "fields": []string{"sku"}},
			maxBytes: server.DefaultMaxResultBytes,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := callCatalog(t, sessions[tt.toolset], tt.tool, tt.args)
			if tt.err != "" {
				if !got.res.IsError || !strings.HasPrefix(got.text, "ResourceExhausted: the method ran, but its result (") || !strings.Contains(got.text, tt.err) {
					t.Errorf("got %.500s, want an isError result containing %q", got.text, tt.err)
				}
				return
			}
			if got.res.IsError {
				t.Fatal(got.text)
			}
			if tt.maxBytes > 0 && len(got.text) > tt.maxBytes {
				t.Errorf("the result is %d bytes, over the budget of %d", len(got.text), tt.maxBytes)
			}
			if err := validators[tt.tool].Validate(got.structured); err != nil {
				t.Errorf("structuredContent does not match the outputSchema: %v", err)
			}
			note := noteOf(t, got.structured)
			if len(tt.cut) == 0 {
				if note != nil || got.note != "" {
					t.Errorf("an uncut result has a note: %v %q", note, got.note)
				}
				return
			}
			if note == nil {
				t.Fatalf("no _truncated note in a %d-byte result", len(got.text))
			}
			if got.note != note.Hint {
				t.Errorf("the text note %q is not the hint %q", got.note, note.Hint)
			}
			if len(note.Fields) != len(tt.cut) {
				t.Fatalf("cut %+v, want %v", note.Fields, tt.cut)
			}
			for i, want := range tt.cut {
				f := note.Fields[i]
				if f.Path != want.path || (want.total >= 0 && f.Total != want.total) || f.Kept >= f.Total || f.Kept < 1 {
					t.Errorf("cut %+v, want %+v", f, want)
				}
				if !strings.Contains(note.Hint, fmt.Sprintf("%s kept %d of %d", f.Path, f.Kept, f.Total)) {
					t.Errorf("the hint %q does not say %s kept %d of %d", note.Hint, f.Path, f.Kept, f.Total)
				}
			}
			for _, h := range tt.hint {
				if !strings.Contains(note.Hint, h) {
					t.Errorf("the hint %q does not say %q", note.Hint, h)
				}
			}
			// Whole elements, the first ones, as the method returned them.
			list, _ := got.structured[note.Fields[0].Path].([]any)
			if len(list) != note.Fields[0].Kept {
				t.Fatalf("%s has %d elements, the note says %d", note.Fields[0].Path, len(list), note.Fields[0].Kept)
			}
			for i, el := range list {
				p, _ := el.(map[string]any)
				if p["sku"] != fmt.Sprintf("P-%04d", i) || (p["description"] != nil && len(p["description"].(string)) != tt.args["payload"]) {
					t.Fatalf("element %d is not the method's element %d, whole: %.200s", i, i, compact(el))
				}
			}
		})
	}
}

// TestMCPResultOptions checks the schemas each setting gives and the settings refused.
func TestMCPResultOptions(t *testing.T) {
	t.Parallel()
	off := false
	tests := []struct {
		name       string
		opts       server.MCPOptions
		wantFields bool
		err        string
	}{
		{name: "default", wantFields: true},
		{name: "fields argument off", opts: server.MCPOptions{Results: server.ResultOptions{FieldsArgument: &off}}},
		{name: "budget too small", opts: server.MCPOptions{Results: server.ResultOptions{MaxBytes: 100}}, err: "mcp.results.max_bytes 100: use -1 (no bound) or at least 1024"},
		{name: "fields argument per toolset", opts: server.MCPOptions{Toolsets: map[string]server.Toolset{"a": {Results: server.ResultOptions{FieldsArgument: &off}}}},
			err: "mcp.toolsets.a.results.fields_argument: set it for all toolsets under mcp.results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.err != "" {
				sd := loadOrders(t)
				impl := func(context.Context, proto.Message) (proto.Message, error) { return nil, nil }
				_, err := server.New([]server.Service{{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{"PlaceOrder": impl}}}, server.WithMCP(tt.opts))
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("got %v, want %q", err, tt.err)
				}
				return
			}
			c := startCatalog(t, tt.opts)
			res, err := mcpSession(t, c.b.httpURL+"/mcp").ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, tool := range res.Tools {
				in := tool.InputSchema.(map[string]any)["properties"].(map[string]any)
				out := tool.OutputSchema.(map[string]any)
				fields, has := in["fields"].(map[string]any)
				// A result without a list or a map (GetBlob's) is never offered the argument.
				if want := tt.wantFields && tool.Name != "CatalogService_GetBlob"; has != want {
					t.Errorf("%s: fields argument %v, want %v", tool.Name, has, want)
				}
				if has && !strings.Contains(fmt.Sprint(fields["description"]), "lowerCamel paths") {
					t.Errorf("%s: fields argument undocumented: %v", tool.Name, fields)
				}
				if _, noted := out["properties"].(map[string]any)["_truncated"]; !noted {
					t.Errorf("%s: no _truncated in the output schema", tool.Name)
				}
				// A mask may leave any field out, so output schemas require none of them then; and
				// the default profile (portable) shows every host a loosened output schema that
				// requires nothing anyway.
				if _, required := out["required"]; required {
					t.Errorf("%s: the portable output schema requires fields", tool.Name)
				}
			}
			got := callCatalog(t, mcpSession(t, c.b.httpURL+"/mcp"), "CatalogService_Export", map[string]any{"payload": 1, "fields": []string{"lines"}})
			if tt.wantFields && (got.res.IsError || strings.Contains(compact(got.structured), `"products"`)) {
				t.Errorf("fields with the argument: %s", got.text)
			}
			if !tt.wantFields && (!got.res.IsError || !strings.Contains(got.text, `unknown field "fields"`)) {
				t.Errorf("fields without the argument: %s", got.text)
			}
		})
	}
}
