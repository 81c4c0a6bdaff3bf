package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
)

// paintProto is a contract that exists only as text: nothing of it is linked into the test
// binary, so its messages are dynamicpb messages and its enum is unknown to protoregistry.
const paintProto = `syntax = "proto3";
package agentbridge.dyntest.v1;

import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";

enum Shade {
  SHADE_UNSPECIFIED = 0;
  SHADE_DARK = 1;
  SHADE_LIGHT = 2;
}

message Inner {
  Shade shade = 1;
  string code = 2;
}

message Paint {
  string name = 1;
  Shade shade = 2;
  repeated Shade shades = 3;
  int64 liters = 4;
  google.protobuf.Timestamp mixed = 5;
  map<string, Shade> by_room = 6;
  Inner inner = 7;
}

message GetPaintRequest {
  string name = 1;
  Shade shade = 2;
  repeated Shade shades = 3;
  int64 liters = 4;
  google.protobuf.Timestamp mixed = 5;
  map<string, Shade> by_room = 6;
  Inner inner = 7;
}

message MixPaintRequest {
  Inner inner = 1;
  Paint paint = 2;
}

message ShadesResponse {
  repeated Shade shades = 1;
  Paint paint = 2;
}

service PaintService {
  rpc GetPaint(GetPaintRequest) returns (Paint) {
    option (google.api.http) = {get: "/v1/{name=paints/*}"};
  }
  rpc MixPaint(MixPaintRequest) returns (Paint) {
    option (google.api.http) = {
      post: "/v1/mixes/{inner.shade}/{inner.code}:mix"
      body: "paint"
    };
  }
  rpc ListShades(GetPaintRequest) returns (ShadesResponse) {
    option (google.api.http) = {
      get: "/v1/shades/{shade}"
      response_body: "shades"
    };
  }
  rpc WatchPaint(GetPaintRequest) returns (stream Paint) {
    option (google.api.http) = {get: "/v1/{name=paints/*}:watch"};
  }
}
`

// compileProto compiles .proto sources given as text, importing google/api from the vendored
// googleapis and google/protobuf from protocompile's standard imports.
func compileProto(t *testing.T, files map[string]string) protoreflect.FileDescriptor {
	t.Helper()
	var names []string
	for name := range files {
		names = append(names, name)
	}
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(files)},
			&protocompile.SourceResolver{ImportPaths: []string{"../proto/third_party/googleapis"}},
		}),
	}
	compiled, err := compiler.Compile(t.Context(), names...)
	if err != nil {
		t.Fatal(err)
	}
	return compiled[0]
}

// dynamicMethods makes methods of a service with dynamic request types.
func dynamicMethods(sd protoreflect.ServiceDescriptor, unary map[protoreflect.Name]adapters.Unary, streams map[protoreflect.Name]adapters.ServerStream) map[string]*method {
	methods := map[string]*method{}
	for i := range sd.Methods().Len() {
		md := sd.Methods().Get(i)
		input := dynamicpb.NewMessageType(md.Input())
		var m *method
		if md.IsStreamingServer() {
			m = newStreamMethod(md, input, streams[md.Name()])
		} else {
			m = newMethod(md, input, unary[md.Name()])
		}
		methods[m.procedure] = m
	}
	return methods
}

// copyFields copies in into out, messages with the same fields, through the wire format.
func copyFields(t *testing.T, out, in protoreflect.Message) {
	b, err := proto.Marshal(in.Interface())
	if err == nil {
		err = proto.Unmarshal(b, out.Interface())
	}
	if err != nil {
		t.Error(err)
	}
}

func newPaintREST(t *testing.T) http.Handler {
	t.Helper()
	fd := compileProto(t, map[string]string{"agentbridge/dyntest/v1/paint.proto": paintProto})
	if _, err := protoregistry.GlobalTypes.FindEnumByName("agentbridge.dyntest.v1.Shade"); err == nil {
		t.Fatal("the test enum is linked into the binary; the test needs one that is not")
	}
	sd := fd.Services().ByName("PaintService")
	paint := dynamicpb.NewMessageType(fd.Messages().ByName("Paint"))
	shades := fd.Messages().ByName("ShadesResponse")
	isDynamic := func(req proto.Message) {
		if !adapters.Dynamic(req) {
			t.Errorf("request is a %T, not a dynamic message", req)
		}
	}
	unary := map[protoreflect.Name]adapters.Unary{
		"GetPaint": func(_ context.Context, req proto.Message) (proto.Message, error) {
			isDynamic(req)
			out := paint.New()
			copyFields(t, out, req.ProtoReflect())
			return out.Interface(), nil
		},
		"MixPaint": func(_ context.Context, req proto.Message) (proto.Message, error) {
			isDynamic(req)
			r := req.ProtoReflect()
			out := paint.New()
			copyFields(t, out, r.Get(r.Descriptor().Fields().ByName("paint")).Message())
			out.Set(out.Descriptor().Fields().ByName("inner"), r.Get(r.Descriptor().Fields().ByName("inner")))
			return out.Interface(), nil
		},
		"ListShades": func(_ context.Context, req proto.Message) (proto.Message, error) {
			isDynamic(req)
			r := req.ProtoReflect()
			out := dynamicpb.NewMessage(shades)
			list := out.Mutable(shades.Fields().ByName("shades")).List()
			in := r.Get(r.Descriptor().Fields().ByName("shades")).List()
			for i := range in.Len() {
				list.Append(in.Get(i))
			}
			list.Append(r.Get(r.Descriptor().Fields().ByName("shade")))
			return out, nil
		},
	}
	streams := map[protoreflect.Name]adapters.ServerStream{
		"WatchPaint": func(_ context.Context, req proto.Message, send func(proto.Message) error) error {
			isDynamic(req)
			for range 2 {
				out := paint.New()
				copyFields(t, out, req.ProtoReflect())
				if err := send(out.Interface()); err != nil {
					return err
				}
			}
			return nil
		},
	}
	s, err := New(nil, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.newREST(&generation{methods: dynamicMethods(sd, unary, streams)})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRESTDynamicContract(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newPaintREST(t))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string   // JSON, compared by value
		lines                    []string // instead of want for a stream: one JSON value a line
		contains                 string   // instead of want: a part of the body
	}{
		{
			name: "query of every enum form", method: "GET", status: 200,
			path: "/v1/paints/p1?shade=SHADE_DARK&shades=2&shades=SHADE_DARK&byRoom[kitchen]=SHADE_LIGHT&by_room[hall]=1" +
				"&inner.shade=1&inner.code=c&mixed=2020-01-01T00:00:00Z&liters=5",
			want: `{"name":"paints/p1","shade":"SHADE_DARK","shades":["SHADE_LIGHT","SHADE_DARK"],"liters":"5",
				"mixed":"2020-01-01T00:00:00Z","byRoom":{"kitchen":"SHADE_LIGHT","hall":"SHADE_DARK"},
				"inner":{"shade":"SHADE_DARK","code":"c"}}`,
		},
		{
			name: "unknown enum name", method: "GET", path: "/v1/paints/p1?shade=PURPLE", status: 400,
			want: `{"code":3,"message":"parsing field \"shade\": \"PURPLE\" is not a valid value"}`,
		},
		{
			name: "unknown enum number", method: "GET", path: "/v1/paints/p1?shades=7", status: 400,
			want: `{"code":3,"message":"parsing list \"shades\": \"7\" is not a valid value"}`,
		},
		{
			name: "unknown map value", method: "GET", path: "/v1/paints/p1?byRoom[kitchen]=PURPLE", status: 400,
			want: `{"code":3,"message":"parsing map value \"by_room\": \"PURPLE\" is not a valid value"}`,
		},
		{
			name: "one map key twice", method: "GET", path: "/v1/paints/p1?byRoom[a]=1&by_room[a]=2", status: 400,
			want: `{"code":3,"message":"duplicate field \"by_room[a]\""}`,
		},
		{
			name: "two values for an enum", method: "GET", path: "/v1/paints/p1?shade=1&shade=2", status: 400,
			want: `{"code":3,"message":"too many values for field \"shade\": 1, 2"}`,
		},
		{
			name: "bad timestamp", method: "GET", path: "/v1/paints/p1?mixed=noon", status: 400,
			want: `{"code":3,"message":"parsing field \"mixed\": parsing time \"noon\" as \"2006-01-02T15:04:05.999999999Z07:00\": cannot parse \"noon\" as \"2006\""}`,
		},
		{
			name: "message field body and nested enum path", method: "POST", path: "/v1/mixes/SHADE_LIGHT/c1:mix", status: 200,
			body: `{"name":"n","shades":["SHADE_DARK"],"byRoom":{"x":"SHADE_LIGHT"}}`,
			want: `{"name":"n","shade":"SHADE_UNSPECIFIED","shades":["SHADE_DARK"],"liters":"0","byRoom":{"x":"SHADE_LIGHT"},
				"inner":{"shade":"SHADE_LIGHT","code":"c1"}}`,
		},
		{
			name: "nested enum path by number", method: "POST", path: "/v1/mixes/2/c1:mix", status: 200,
			want: `{"name":"","shade":"SHADE_UNSPECIFIED","shades":[],"liters":"0","byRoom":{},"inner":{"shade":"SHADE_LIGHT","code":"c1"}}`,
		},
		{
			name: "bad nested enum path", method: "POST", path: "/v1/mixes/PURPLE/c1:mix", status: 400,
			want: `{"code":3,"message":"type mismatch, parameter: inner.shade, error: parsing field \"shade\": \"PURPLE\" is not a valid value"}`,
		},
		{
			name: "bad field body", method: "POST", path: "/v1/mixes/1/c1:mix", body: `{"shade":"PURPLE"}`, status: 400,
			// protojson's message, which varies its spacing on purpose.
			contains: `invalid value for enum field shade: \"PURPLE\"`,
		},
		{
			name: "response body of enums", method: "GET", path: "/v1/shades/SHADE_DARK?shades=2&shades=0", status: 200,
			want: `["SHADE_LIGHT","SHADE_UNSPECIFIED","SHADE_DARK"]`,
		},
		{
			name: "enum path by number", method: "GET", path: "/v1/shades/2", status: 200,
			want: `["SHADE_LIGHT"]`,
		},
		{
			name: "bad enum path", method: "GET", path: "/v1/shades/7", status: 400,
			want: `{"code":3,"message":"type mismatch, parameter: shade, error: 7 is not valid"}`,
		},
		{
			name: "stream", method: "GET", path: "/v1/paints/p2:watch?shade=2", status: 200,
			lines: []string{
				`{"result":{"name":"paints/p2","shade":"SHADE_LIGHT","shades":[],"liters":"0","byRoom":{}}}`,
				`{"result":{"name":"paints/p2","shade":"SHADE_LIGHT","shades":[],"liters":"0","byRoom":{}}}`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.contains != "" {
				if !strings.Contains(string(data), tc.contains) {
					t.Errorf("body %s does not contain %s", data, tc.contains)
				}
				return
			}
			wants := tc.lines
			if wants == nil {
				wants = []string{tc.want}
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != len(wants) {
				t.Fatalf("%d lines, want %d: %s", len(lines), len(wants), data)
			}
			for i, line := range lines {
				if !sameJSON(t, line, wants[i]) {
					t.Errorf("got  %s\nwant %s", line, wants[i])
				}
			}
		})
	}
}

// sameJSON compares JSON by value, since protojson varies its spacing on purpose.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("response is not JSON: %v: %s", err, got)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expectation is not JSON: %v: %s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

func TestRESTRouteErrors(t *testing.T) {
	t.Parallel()
	const header = `syntax = "proto3";
package agentbridge.dyntest.v1;
import "google/api/annotations.proto";
message Inner { string code = 1; }
message Req { string id = 1; string name = 2; Inner inner = 3; map<string, string> labels = 4; repeated Inner list = 5; }
message Resp { string id = 1; }
`
	for _, tc := range []struct {
		name, services string
		want           []string // each must appear in the error
	}{
		{
			name: "same route in two services",
			services: `service A { rpc Get(Req) returns (Resp) { option (google.api.http) = {get: "/v1/things/{id}"}; } }
service B { rpc Fetch(Req) returns (Resp) { option (google.api.http) = {get: "/v1/things/{name}"}; } }`,
			want: []string{"agentbridge.dyntest.v1.A.Get", "agentbridge.dyntest.v1.B.Fetch", "GET /v1/things/{id}", "GET /v1/things/{name}", "collides"},
		},
		{
			name: "same route twice in one method",
			services: `service A { rpc Get(Req) returns (Resp) { option (google.api.http) = {
  get: "/v1/things/{id=*}" additional_bindings {get: "/v1/things/{name}"} }; } }`,
			want: []string{"agentbridge.dyntest.v1.A.Get", "collides"},
		},
		{
			name: "custom verb twice",
			services: `service A {
  rpc One(Req) returns (Resp) { option (google.api.http) = {post: "/v1/{name=things/*}:run" body: "*"}; }
  rpc Two(Req) returns (Resp) { option (google.api.http) = {post: "/v1/{id=things/*}:run" body: "*"}; }
}`,
			want: []string{"agentbridge.dyntest.v1.A.One", "agentbridge.dyntest.v1.A.Two", "collides"},
		},
		{
			name:     "message path variable",
			services: `service A { rpc Get(Req) returns (Resp) { option (google.api.http) = {get: "/v1/{inner}"}; } }`,
			want:     []string{"agentbridge.dyntest.v1.A.Get", "inner", "message field"},
		},
		{
			name:     "map path variable",
			services: `service A { rpc Get(Req) returns (Resp) { option (google.api.http) = {get: "/v1/{labels}"}; } }`,
			want:     []string{"agentbridge.dyntest.v1.A.Get", "labels", "map field"},
		},
		{
			name:     "unknown field",
			services: `service A { rpc Get(Req) returns (Resp) { option (google.api.http) = {get: "/v1/{nope}"}; } }`,
			want:     []string{"agentbridge.dyntest.v1.A.Get", "nope"},
		},
		{
			name:     "malformed template",
			services: `service A { rpc Get(Req) returns (Resp) { option (google.api.http) = {get: "/v1/{id=**}/x/**"}; } }`,
			want:     []string{"agentbridge.dyntest.v1.A.Get", "/v1/{id=**}/x/**"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fd := compileProto(t, map[string]string{"agentbridge/dyntest/v1/routes.proto": header + tc.services})
			methods := map[string]*method{}
			impl := func(context.Context, proto.Message) (proto.Message, error) { return nil, nil }
			for i := range fd.Services().Len() {
				sd := fd.Services().Get(i)
				unary := map[protoreflect.Name]adapters.Unary{}
				for j := range sd.Methods().Len() {
					unary[sd.Methods().Get(j).Name()] = impl
				}
				for k, v := range dynamicMethods(sd, unary, nil) {
					methods[k] = v
				}
			}
			s := &Server{opts: defaultOptions()}
			_, err := s.newREST(&generation{methods: methods})
			if err == nil {
				t.Fatal("newREST accepted the routes")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
