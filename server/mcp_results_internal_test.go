package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
)

// TestTakeMember takes "fields" out of arguments, leaving every other byte as it was written:
// numbers beyond 2^53, key order and spacing reach protojson unchanged.
func TestTakeMember(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, rest, value string
		found                 bool
	}{
		{"only", `{"fields":["a"]}`, `{}`, `["a"]`, true},
		{"first", `{"fields":["a"],"id":"9007199254740993"}`, `{"id":"9007199254740993"}`, `["a"]`, true},
		{"middle, spaced", "{ \"a\": 1 ,\n \"fields\" : [\"x\", \"y\"] , \"b\": 12345678901234567890 }", "{ \"a\": 1  , \"b\": 12345678901234567890 }", `["x", "y"]`, true},
		{"last", `{"a":1,"fields":null}`, `{"a":1}`, `null`, true},
		{"first, spaced", `{ "fields": [] , "a": 1}`, `{  "a": 1}`, `[]`, true},
		{"absent", `{"a":{"fields":1}}`, `{"a":{"fields":1}}`, ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rest, value, found, err := takeMember(json.RawMessage(tt.in), fieldsArgument)
			if err != nil || found != tt.found || string(rest) != tt.rest || string(value) != tt.value {
				t.Errorf("got %s, %s, %v, %v; want %s, %s, %v", rest, value, found, err, tt.rest, tt.value, tt.found)
			}
			if found && !json.Valid(rest) {
				t.Errorf("%s is not JSON", rest)
			}
		})
	}
}

// TestFitIsExact cuts a list written with spaces, as protojson may write it, to budgets around
// the sizes where one more element fits: the result never exceeds the budget, and keeps as many
// elements as fit.
func TestFitIsExact(t *testing.T) {
	t.Parallel()
	var elems []string
	for i := range 200 {
		elems = append(elems, fmt.Sprintf(`{"sku": "A-%03d", "name": %q}`, i, strings.Repeat("n", i%17)))
	}
	data := `{"items": [` + strings.Join(elems, ", ") + `] }`
	tool := &toolResults{output: (&demov1.ListItemsResponse{}).ProtoReflect().Descriptor(), fieldsArg: true, noted: true, example: []string{"items.sku"}}
	for _, budget := range []int{1024, 1500, 2000, 2001, 2002, 2003, 4096, 5000} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			t.Parallel()
			r := &resultShape{tool: tool, maxBytes: budget}
			res := r.unary(json.RawMessage(data), false)
			if res.IsError {
				t.Fatal(res.Content[0].(*mcp.TextContent).Text)
			}
			out := res.StructuredContent.(json.RawMessage)
			if len(out) > budget {
				t.Fatalf("%d bytes, over %d", len(out), budget)
			}
			var got struct {
				Items     []json.RawMessage `json:"items"`
				Truncated truncationNote    `json:"_truncated"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			kept := len(got.Items)
			if f := got.Truncated.Fields; len(f) != 1 || f[0].Kept != kept || f[0].Total != 200 {
				t.Fatalf("note %+v for %d items", got.Truncated, kept)
			}
			// One more element (and a comma), with the note's two counts a digit longer, would not
			// have fit.
			if more := len(out) + len(elems[kept]) + 1 + 2; more <= budget {
				t.Errorf("kept %d in %d bytes; %d more fit in %d", kept, len(out), more-len(out), budget)
			}
		})
	}
}

// TestTakeIdempotencyKey: the key is taken however its name is written, escapes included,
// and arguments without it are passed on unread.
func TestTakeIdempotencyKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, rest, key string }{
		{`{"a":1}`, `{"a":1}`, ""},
		{`{"a":1,"idempotency_key":"k-1"}`, `{"a":1}`, "k-1"},
		{`{"idempotency\u005fkey":"k-2","a":1}`, `{"a":1}`, "k-2"},
		{`{"a":"\u0041","idempotency_key":null}`, `{"a":"\u0041"}`, ""},
		{`not json`, `not json`, ""},
	} {
		rest, key, st := takeIdempotencyKey(json.RawMessage(tt.in))
		if st != nil || string(rest) != tt.rest || key != tt.key {
			t.Errorf("%s: got %s, %q, %v; want %s, %q", tt.in, rest, key, st, tt.rest, tt.key)
		}
	}
}
