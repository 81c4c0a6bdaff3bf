package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// nullsProto has a field for every position JSON null can take in a request.
const nullsProto = `syntax = "proto3";

package acme.nulls.v1;

import "google/api/annotations.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

// Echoes requests, so a test sees the message that reached the implementation.
service NullService {
  // Answer with the request.
  rpc Echo(Probe) returns (Probe) {
    option (google.api.http) = {post: "/v1/echo" body: "*"};
  }
}

// A shade.
enum Shade {
  // Not given.
  SHADE_UNSPECIFIED = 0;
  // Dark.
  SHADE_DARK = 1;
}

// Every position of null.
message Probe {
  // A string.
  string text = 1;
  // A 64-bit integer.
  int64 count = 2;
  // A string with presence.
  optional string nickname = 3;
  // An enum.
  Shade shade = 4;
  // A message.
  Inner inner = 5;
  // A list of scalars.
  repeated string tags = 6;
  // A list of messages.
  repeated Inner inners = 7;
  // A map of scalars.
  map<string, string> labels = 8;
  // A map of messages.
  map<string, Inner> inner_by_name = 9;
  // A trader's name, or xsi:nil for it, as the XML codec maps nil.
  oneof trader {
    // The name.
    string trader_name = 10;
    // The name was xsi:nil.
    google.protobuf.NullValue trader_name_nil = 11;
  }
  // Any JSON value.
  google.protobuf.Value anything = 12;
  // A JSON object.
  google.protobuf.Struct attributes = 13;
  // A JSON array.
  google.protobuf.ListValue list = 14;
  // An int32 that can be absent.
  google.protobuf.Int32Value maybe = 15;
  // A string that can be absent.
  google.protobuf.StringValue maybe_text = 16;
  // A list of JSON values.
  repeated google.protobuf.Value values = 17;
  // JSON values by name.
  map<string, google.protobuf.Value> value_by_name = 18;
  // A point in time.
  google.protobuf.Timestamp at = 19;
  // A list of wrappers.
  repeated google.protobuf.Int32Value maybes = 20;
  // A list of enums.
  repeated Shade shades = 21;
  // A NullValue outside a oneof.
  google.protobuf.NullValue null = 22;
  // A list of NullValues.
  repeated google.protobuf.NullValue nulls = 23;
  // A map with integer keys.
  map<int32, string> by_number = 24;
}

// A nested message.
message Inner {
  // Its name.
  string name = 1;
  // The next one.
  Inner next = 2;
  // Numbers.
  repeated int32 numbers = 3;
}
`

// loadProto compiles one .proto file from source, as a config's protos are, and returns the
// named service.
func loadProto(t testing.TB, path, source, service string) protoreflect.ServiceDescriptor {
	t.Helper()
	dir := writeProto(t, path, source)
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service(service)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// writeProto writes source at path under a new temporary import root, and returns the root.
func writeProto(t testing.TB, path, source string) string {
	t.Helper()
	dir := t.TempDir()
	full := filepath.Join(dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(source), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// jsonOutcome is what one JSON surface made of a request: the message that reached the
// implementation (as it echoed it), or the failure's code and message.
type jsonOutcome struct {
	msg  proto.Message
	code string
	text string
}

func (o jsonOutcome) String() string {
	if o.msg != nil {
		data, _ := protojson.Marshal(o.msg)
		return "request " + string(data)
	}
	return o.code + ": " + o.text
}

// jsonSurfaces sends one JSON request body to a method on REST (route path), Connect (JSON) and
// MCP (tool), and reads each answer as a jsonOutcome.
func jsonSurfaces(t *testing.T, b *bridge, md protoreflect.MethodDescriptor, route, tool string) map[string]func(body []byte) jsonOutcome {
	t.Helper()
	decode := func(t *testing.T, data []byte) jsonOutcome {
		msg := dynamicpb.NewMessage(md.Output())
		if err := protojson.Unmarshal(data, msg); err != nil {
			t.Fatalf("answer %s: %v", data, err)
		}
		return jsonOutcome{msg: msg}
	}
	session := mcpSession(t, b.httpURL+"/mcp")
	procedure := "/" + string(md.Parent().FullName()) + "/" + string(md.Name())
	return map[string]func(body []byte) jsonOutcome{
		"rest": func(body []byte) jsonOutcome {
			code, data := post(t, b.httpURL+route, "application/json", body)
			if code != http.StatusOK {
				st := restStatus(t, data)
				return jsonOutcome{code: st.Code().String(), text: st.Message()}
			}
			return decode(t, data)
		},
		"connect json": func(body []byte) jsonOutcome {
			code, data := post(t, b.httpURL+procedure, "application/json", body)
			if code != http.StatusOK {
				var e struct{ Code, Message string }
				if err := json.Unmarshal(data, &e); err != nil {
					t.Fatalf("Connect error %s: %v", data, err)
				}
				return jsonOutcome{code: connectCodeName(e.Code), text: e.Message}
			}
			return decode(t, data)
		},
		"mcp": func(body []byte) jsonOutcome {
			res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: json.RawMessage(body)})
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError {
				text, _, _ := strings.Cut(textOf(res), "\n")
				code, msg, _ := strings.Cut(text, ": ")
				return jsonOutcome{code: code, text: msg}
			}
			data, _ := json.Marshal(res.StructuredContent)
			return decode(t, data)
		},
	}
}

// connectCodeName turns a Connect error code ("invalid_argument") into the gRPC code's name.
func connectCodeName(code string) string {
	var b strings.Builder
	for word := range strings.SplitSeq(code, "_") {
		if word != "" {
			b.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
	}
	return b.String()
}

// TestNullMeansTheSameOnEverySurface sends JSON with null in every position to REST, Connect
// and MCP: each must make the same request of it, or refuse it with the same message naming
// the field. null for a field is "not sent", except where it is the value (NullValue, Value);
// null as a list element or map value is refused, except where the element reads null as a
// value (Value, NullValue).
func TestNullMeansTheSameOnEverySurface(t *testing.T) {
	t.Parallel()
	sd := loadProto(t, "acme/nulls/v1/nulls.proto", nullsProto, "acme.nulls.v1.NullService")
	srv, err := server.New([]server.Service{{
		Desc: sd,
		Methods: map[protoreflect.Name]adapters.Unary{
			"Echo": func(_ context.Context, req proto.Message) (proto.Message, error) { return req, nil },
		},
	}}, server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, false, nil, nil)
	md := sd.Methods().ByName("Echo")
	calls := jsonSurfaces(t, b, md, "/v1/echo", "NullService_Echo")
	const prefix = "invalid JSON for acme.nulls.v1.Probe: "

	tests := []struct {
		name, body string
		want       string // the request the implementation must see, as protojson
		wantErr    string // or the InvalidArgument message every surface must give
	}{
		// null for a field: not sent.
		{name: "scalar", body: `{"text": null, "count": null}`, want: `{}`},
		{name: "scalar with presence", body: `{"nickname": null}`, want: `{}`},
		{name: "enum", body: `{"shade": null}`, want: `{}`},
		{name: "message", body: `{"inner": null}`, want: `{}`},
		{name: "fields of a nested message", body: `{"inner": {"name": null, "next": {"numbers": null}}}`, want: `{"inner": {"next": {}}}`},
		{name: "list", body: `{"tags": null, "inners": null, "shades": null, "maybes": null}`, want: `{}`},
		{name: "map", body: `{"labels": null, "innerByName": null, "valueByName": null, "byNumber": null}`, want: `{}`},
		{name: "field of a list element", body: `{"inners": [{"name": null}, {"name": "b"}]}`, want: `{"inners": [{}, {"name": "b"}]}`},
		{name: "field of a map value", body: `{"innerByName": {"k": {"name": null, "next": null}}}`, want: `{"innerByName": {"k": {}}}`},
		{name: "oneof member", body: `{"traderName": null}`, want: `{}`},
		{name: "oneof member beside another", body: `{"traderName": null, "traderNameNil": null}`, want: `{"traderNameNil": null}`},
		{name: "oneof member after another", body: `{"traderName": "Acme", "traderNameNil": null}`, wantErr: prefix + `(line 1:22): error parsing "traderNameNil", oneof acme.nulls.v1.Probe.trader is already set`},
		{name: "wrappers", body: `{"maybe": null, "maybeText": null}`, want: `{}`},
		{name: "wrapper zero is not null", body: `{"maybe": 0, "maybeText": ""}`, want: `{"maybe": 0, "maybeText": ""}`},
		{name: "timestamp", body: `{"at": null}`, want: `{}`},
		{name: "struct", body: `{"attributes": null}`, want: `{}`},
		{name: "list value", body: `{"list": null}`, want: `{}`},

		// null as the value.
		{name: "NullValue in a oneof", body: `{"traderNameNil": null}`, want: `{"traderNameNil": null}`},
		{name: "NullValue outside a oneof", body: `{"null": null}`, want: `{}`},
		{name: "Value", body: `{"anything": null}`, want: `{"anything": null}`},
		{name: "null inside a Value", body: `{"anything": {"a": null, "b": [null, 1]}}`, want: `{"anything": {"a": null, "b": [null, 1]}}`},
		{name: "null inside a Struct", body: `{"attributes": {"a": null}}`, want: `{"attributes": {"a": null}}`},
		{name: "null inside a ListValue", body: `{"list": [null, "x"]}`, want: `{"list": [null, "x"]}`},
		{name: "list of Values", body: `{"values": [null, "x"]}`, want: `{"values": [null, "x"]}`},
		{name: "map of Values", body: `{"valueByName": {"k": null}}`, want: `{"valueByName": {"k": null}}`},
		{name: "list of NullValues", body: `{"nulls": [null, null]}`, want: `{"nulls": [null, null]}`},

		// null refused.
		{name: "scalar list element", body: `{"tags": ["a", null]}`, wantErr: prefix + "field tags[1] is null: a list cannot hold null; leave the element out"},
		{name: "message list element", body: `{"inners": [{}, null]}`, wantErr: prefix + "field inners[1] is null: a list cannot hold null; leave the element out"},
		{name: "enum list element", body: `{"shades": [null]}`, wantErr: prefix + "field shades[0] is null: a list cannot hold null; leave the element out"},
		{name: "wrapper list element", body: `{"maybes": [1, null]}`, wantErr: prefix + "field maybes[1] is null: a list cannot hold null; leave the element out"},
		{name: "nested list element", body: `{"inner": {"next": {"numbers": [1, null]}}}`, wantErr: prefix + "field inner.next.numbers[1] is null: a list cannot hold null; leave the element out"},
		{name: "list element of a list element", body: `{"inners": [{"numbers": [null]}]}`, wantErr: prefix + "field inners[0].numbers[0] is null: a list cannot hold null; leave the element out"},
		{name: "scalar map value", body: `{"labels": {"a": "x", "b": null}}`, wantErr: prefix + `field labels["b"] is null: a map cannot hold null; leave the entry out`},
		{name: "message map value", body: `{"innerByName": {"k": null}}`, wantErr: prefix + `field innerByName["k"] is null: a map cannot hold null; leave the entry out`},
		{name: "map value with an integer key", body: `{"byNumber": {"7": null}}`, wantErr: prefix + "field byNumber[7] is null: a map cannot hold null; leave the entry out"},
		{name: "list of Values sent as null", body: `{"values": null}`, wantErr: prefix + "field values is null: a repeated google.protobuf.Value field cannot be null; send [] or leave the field out"},
		// Another fault before the null is reported as protojson reports it.
		{name: "wrong type before a null", body: `{"tags": [1, null]}`, wantErr: prefix + "(line 1:10): invalid value for string field tags: 1"},
		{name: "unknown field before a null", body: `{"tag": [null]}`, wantErr: prefix + `(line 1:2): unknown field "tag"`},
		{name: "list of NullValues sent as null", body: `{"nulls": null}`, wantErr: prefix + "field nulls is null: a repeated google.protobuf.NullValue field cannot be null; send [] or leave the field out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body bytes.Buffer
			if err := json.Compact(&body, []byte(tt.body)); err != nil {
				t.Fatal(err)
			}
			var want jsonOutcome
			if tt.wantErr != "" {
				want = jsonOutcome{code: "InvalidArgument", text: tt.wantErr}
			} else {
				msg := dynamicpb.NewMessage(md.Input())
				if err := protojson.Unmarshal([]byte(tt.want), msg); err != nil {
					t.Fatal(err)
				}
				want = jsonOutcome{msg: msg}
			}
			for name, call := range calls {
				got := call(body.Bytes())
				same := got.code == want.code && got.text == want.text
				if want.msg != nil {
					same = got.msg != nil && proto.Equal(got.msg, want.msg)
				}
				if !same {
					t.Errorf("%s: got %v\nwant %v", name, got, want)
				}
			}
		})
	}
}
