package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server"
)

// The SOAP adapter's reply checks (strict decoding, lenient backends, xsi:nil, charsets,
// limits, per-record bounds of streamed replies) are tested at the adapter level in
// adapters/soap and adapters/xmlcodec. These tests show the same outcomes on every surface an
// agent uses: REST, Connect (JSON), the gRPC listener and MCP tools/call, for one contract
// loaded at run time and a SOAP backend answering each call with the reply the test scripted.

// replyChecksProto is the contract: Record is read from FetchRecordResponse, through three
// backends that differ only in their config (strict, lenient, a small max_reply_bytes), and
// streamed from the record children of ListRecordsResponse.
const replyChecksProto = `syntax = "proto3";

package acme.replies.v1;

import "agentbridge/v1/options.proto";
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";

// Reads records from a legacy SOAP system.
service ReplyService {
  // Read a record from the strict backend.
  rpc Fetch(FetchRequest) returns (Record) {
    option (agentbridge.v1.binding) = {
      backend: "legacy"
      soap: {
        action: "urn:replies#Fetch"
        request: {name: "FetchRecord" namespace: "urn:replies"}
        response: {name: "FetchRecordResponse" namespace: "urn:replies"}
      }
    };
    option (google.api.http) = {post: "/v1/records:fetch" body: "*"};
  }
  // Read a record from the lenient backend.
  rpc FetchLenient(FetchRequest) returns (Record) {
    option (agentbridge.v1.binding) = {
      backend: "replies-lenient"
      soap: {
        action: "urn:replies#Fetch"
        request: {name: "FetchRecord" namespace: "urn:replies"}
        response: {name: "FetchRecordResponse" namespace: "urn:replies"}
      }
    };
    option (google.api.http) = {post: "/v1/records:fetchLenient" body: "*"};
  }
  // Read a record from the backend with a small max_reply_bytes.
  rpc FetchSmall(FetchRequest) returns (Record) {
    option (agentbridge.v1.binding) = {
      backend: "small"
      soap: {
        action: "urn:replies#Fetch"
        request: {name: "FetchRecord" namespace: "urn:replies"}
        response: {name: "FetchRecordResponse" namespace: "urn:replies"}
      }
    };
    option (google.api.http) = {post: "/v1/records:fetchSmall" body: "*"};
  }
  // Stream records, each bounded by the small backend's max_reply_bytes.
  rpc List(FetchRequest) returns (stream Record) {
    option (agentbridge.v1.binding) = {
      backend: "small"
      soap: {
        action: "urn:replies#List"
        request: {name: "ListRecords" namespace: "urn:replies"}
        response: {name: "ListRecordsResponse" namespace: "urn:replies"}
        stream_item: {name: "record" namespace: "urn:replies"}
      }
    };
    option (google.api.http) = {post: "/v1/records:list" body: "*"};
  }
}

// Which reply to read.
message FetchRequest {
  option (agentbridge.v1.xml_message) = {namespace: "urn:replies"};

  // The id the backend scripts its reply by.
  string id = 1;
}

// A record.
message Record {
  option (agentbridge.v1.xml_message) = {namespace: "urn:replies"};

  // Always sent: a field without presence.
  string name = 1;
  // May be left out.
  optional string city = 2;
  // A wrapper: present or not, but no nil_of field.
  google.protobuf.StringValue note = 3;
  // Nillable: absent, nil or a value.
  oneof title_state {
    // The value.
    string title = 4;
    // xsi:nil.
    google.protobuf.NullValue title_nil = 5 [(agentbridge.v1.xml) = {nil_of: "title"}];
  }
  // A list in a wrapper element: <tags><tag>a</tag></tags>.
  repeated string tags = 6 [(agentbridge.v1.xml) = {item: "tag"}];
  // A list of wrappers in a wrapper element: <aliases><alias>a</alias></aliases>.
  repeated google.protobuf.StringValue aliases = 7 [(agentbridge.v1.xml) = {item: "alias"}];
  // minOccurs="1", as the WSDL importer writes it.
  optional string code = 8 [(google.api.field_behavior) = REQUIRED];
  // A presence field with no nil_of field.
  optional string label = 9;
}
`

const (
	replyService     = "acme.replies.v1.ReplyService"
	lenientBackend   = "replies-lenient" // as the contract names it; each test's own series, see startReplyChecks
	smallReplyBytes  = 8 << 10
	replyCallTimeout = 30 * time.Second // a reply check that hangs fails as a timeout
)

// scriptedReply is what the backend answers one call with.
type scriptedReply struct {
	contentType string
	body        []byte
}

// scriptedBackend answers each call with the reply scripted for the id in its request.
type scriptedBackend struct {
	mu      sync.Mutex
	replies map[string]scriptedReply
}

var requestID = regexp.MustCompile(`<(?:[\w.-]+:)?id>([^<]*)</`)

func (s *scriptedBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m := requestID.FindSubmatch(body)
	if m == nil {
		http.Error(w, "no id in the request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	reply, ok := s.replies[string(m[1])]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no reply scripted for "+string(m[1]), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", reply.contentType)
	w.(http.Flusher).Flush() // chunked: the size is not known up front
	_, _ = w.Write(reply.body)
}

func (s *scriptedBackend) script(id, contentType string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[id] = scriptedReply{contentType, body}
}

// replyOutcome is what one surface made of a unary call: the response, as a message and (on
// the surfaces that answer JSON text) as its top-level JSON members, or the failure.
type replyOutcome struct {
	msg *dynamicpb.Message
	raw map[string]json.RawMessage
	st  *status.Status
}

// streamOutcome is what one surface made of a streaming call: the names of the records that
// arrived, in order, and the status the stream ended with (nil: it completed).
type streamOutcome struct {
	names     []string
	truncated bool // MCP only
	st        *status.Status
}

type replySurface struct {
	call   func(ctx context.Context, method protoreflect.Name, id string) replyOutcome
	stream func(ctx context.Context, id string) streamOutcome
}

type replyEnv struct {
	backend  *scriptedBackend
	lenient  string // the lenient backend's name: the metric series of this test's skips
	sd       protoreflect.ServiceDescriptor
	record   protoreflect.MessageDescriptor
	surfaces map[string]replySurface
}

// replySurfaceNames are the surfaces, in the order the tests call them.
var replySurfaceNames = []string{"REST", "Connect", "gRPC", "MCP"}

func startReplyChecks(t *testing.T) *replyEnv {
	t.Helper()
	backend := &scriptedBackend{replies: map[string]scriptedReply{}}
	hs := httptest.NewServer(backend)
	t.Cleanup(hs.Close)
	// The skip metric is process-wide, by backend: each test's lenient backend has its own name.
	lenient := lenientBackend + "-" + strings.TrimPrefix(t.Name(), "TestReplyChecks")
	dir := writeProto(t, "acme/replies/v1/replies.proto", strings.ReplaceAll(replyChecksProto, `"`+lenientBackend+`"`, `"`+lenient+`"`))
	cfg := &server.Config{
		ProtoPaths: []string{dir},
		Protos:     []string{"acme/replies/v1/replies.proto"},
		Services:   []string{replyService},
		Backends: map[string]adapters.Backend{
			"legacy": {Kind: "soap", Endpoint: hs.URL},
			lenient:  {Kind: "soap", Endpoint: hs.URL, Lenient: true},
			"small":  {Kind: "soap", Endpoint: hs.URL, MaxReplyBytes: smallReplyBytes},
		},
	}
	services, err := cfg.BuildServices()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(services, server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, true, nil, nil)
	sd := services[0].Desc
	env := &replyEnv{backend: backend, lenient: lenient, sd: sd, record: sd.Methods().ByName("Fetch").Output()}
	env.surfaces = env.replySurfaces(t, b)
	return env
}

func (env *replyEnv) request(t *testing.T, id string) *dynamicpb.Message {
	t.Helper()
	req := dynamicpb.NewMessage(env.sd.Methods().ByName("Fetch").Input())
	req.Set(req.Descriptor().Fields().ByName("id"), protoreflect.ValueOfString(id))
	return req
}

// nameOf is a record's name field.
func (env *replyEnv) nameOf(m *dynamicpb.Message) string {
	return m.Get(env.record.Fields().ByName("name")).String()
}

func (env *replyEnv) replySurfaces(t *testing.T, b *bridge) map[string]replySurface {
	t.Helper()
	cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	session := mcpSession(t, b.httpURL+"/mcp")
	routes := map[protoreflect.Name]string{"Fetch": "/v1/records:fetch", "FetchLenient": "/v1/records:fetchLenient", "FetchSmall": "/v1/records:fetchSmall"}
	listMD := env.sd.Methods().ByName("List")
	connectOpts := func(md protoreflect.MethodDescriptor) []connect.ClientOption {
		return []connect.ClientOption{connect.WithProtoJSON(), connect.WithSchema(md), connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
			*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(md.Output())
			return nil
		})}
	}
	connectUnary := map[protoreflect.Name]*connect.Client[dynamicpb.Message, dynamicpb.Message]{}
	for name := range routes {
		md := env.sd.Methods().ByName(name)
		connectUnary[name] = connect.NewClient[dynamicpb.Message, dynamicpb.Message](h2cClient(), b.httpURL+"/"+replyService+"/"+string(name), connectOpts(md)...)
	}
	connectList := connect.NewClient[dynamicpb.Message, dynamicpb.Message](h2cClient(), b.httpURL+"/"+replyService+"/List", connectOpts(listMD)...)
	// fromJSON reads a JSON surface's answer both as the record and as its members.
	fromJSON := func(data []byte) replyOutcome {
		out := replyOutcome{msg: dynamicpb.NewMessage(env.record)}
		if err := protojson.Unmarshal(data, out.msg); err != nil {
			t.Fatalf("the answer %s is not a Record's JSON: %v", data, err)
		}
		if err := json.Unmarshal(data, &out.raw); err != nil {
			t.Fatalf("the answer %s is not a JSON object: %v", data, err)
		}
		return out
	}
	post := func(ctx context.Context, path, id string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.httpURL+path, strings.NewReader(fmt.Sprintf(`{"id":%q}`, id)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		return resp
	}
	return map[string]replySurface{
		"REST": {
			call: func(ctx context.Context, method protoreflect.Name, id string) replyOutcome {
				resp := post(ctx, routes[method], id)
				defer func() { _ = resp.Body.Close() }()
				data, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					return replyOutcome{st: restStatus(t, data)}
				}
				return fromJSON(data)
			},
			stream: func(ctx context.Context, id string) streamOutcome {
				resp := post(ctx, "/v1/records:list", id)
				defer func() { _ = resp.Body.Close() }()
				if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
					t.Errorf("REST stream: Content-Type %q, want application/x-ndjson", ct)
				}
				var out streamOutcome
				sc := bufio.NewScanner(resp.Body)
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					if out.st != nil {
						t.Errorf("REST stream: a line after the error line: %s", sc.Text())
					}
					var line struct {
						Result json.RawMessage `json:"result"`
						Error  json.RawMessage `json:"error"`
					}
					if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
						t.Fatalf("REST stream: line %q: %v", sc.Text(), err)
					}
					switch {
					case line.Result != nil && line.Error == nil:
						m := dynamicpb.NewMessage(env.record)
						if err := protojson.Unmarshal(line.Result, m); err != nil {
							t.Fatalf("REST stream: result %s: %v", line.Result, err)
						}
						out.names = append(out.names, env.nameOf(m))
					case line.Error != nil && line.Result == nil:
						var sp spb.Status
						if err := protojson.Unmarshal(line.Error, &sp); err != nil {
							t.Fatalf("REST stream: error %s is not a google.rpc.Status: %v", line.Error, err)
						}
						out.st = status.FromProto(&sp)
					default:
						t.Fatalf("REST stream: line %s is neither {\"result\"} nor {\"error\"}", sc.Text())
					}
				}
				if err := sc.Err(); err != nil {
					t.Fatalf("REST stream: %v", err)
				}
				return out
			},
		},
		"Connect": {
			call: func(ctx context.Context, method protoreflect.Name, id string) replyOutcome {
				resp, err := connectUnary[method].CallUnary(ctx, connect.NewRequest(env.request(t, id)))
				if err != nil {
					return replyOutcome{st: connectStatus(t, err)}
				}
				return replyOutcome{msg: resp.Msg}
			},
			stream: func(ctx context.Context, id string) streamOutcome {
				var out streamOutcome
				stream, err := connectList.CallServerStream(ctx, connect.NewRequest(env.request(t, id)))
				if err != nil {
					return streamOutcome{st: connectStatus(t, err)}
				}
				defer func() { _ = stream.Close() }()
				for stream.Receive() {
					out.names = append(out.names, env.nameOf(stream.Msg()))
				}
				if err := stream.Err(); err != nil {
					out.st = connectStatus(t, err)
				}
				return out
			},
		},
		"gRPC": {
			call: func(ctx context.Context, method protoreflect.Name, id string) replyOutcome {
				out := dynamicpb.NewMessage(env.record)
				if err := cc.Invoke(ctx, "/"+replyService+"/"+string(method), env.request(t, id), out); err != nil {
					return replyOutcome{st: status.Convert(err)}
				}
				return replyOutcome{msg: out}
			},
			stream: func(ctx context.Context, id string) streamOutcome {
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				cs, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/"+replyService+"/List")
				if err == nil {
					err = cs.SendMsg(env.request(t, id))
				}
				if err == nil {
					err = cs.CloseSend()
				}
				var out streamOutcome
				for err == nil {
					m := dynamicpb.NewMessage(env.record)
					if err = cs.RecvMsg(m); err == nil {
						out.names = append(out.names, env.nameOf(m))
					}
				}
				if !errors.Is(err, io.EOF) {
					out.st = status.Convert(err)
				}
				return out
			},
		},
		"MCP": {
			call: func(ctx context.Context, method protoreflect.Name, id string) replyOutcome {
				res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "ReplyService_" + string(method), Arguments: map[string]any{"id": id}})
				if err != nil {
					t.Fatalf("MCP: %v", err)
				}
				if res.IsError {
					return replyOutcome{st: mcpStatus(t, textOf(res))}
				}
				return fromJSON([]byte(textOf(res)))
			},
			stream: func(ctx context.Context, id string) streamOutcome {
				res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "ReplyService_List", Arguments: map[string]any{"id": id}})
				if err != nil {
					t.Fatalf("MCP: %v", err)
				}
				var data []byte
				var st *status.Status
				if res.IsError {
					// The error comes first; the messages streamed before it follow as the
					// tool's result form, in the last text block after a lead-in.
					first, _ := res.Content[0].(*mcp.TextContent)
					st = mcpStatus(t, first.Text)
					if len(res.Content) == 1 {
						return streamOutcome{st: st}
					}
					lead, _ := res.Content[1].(*mcp.TextContent)
					last, _ := res.Content[len(res.Content)-1].(*mcp.TextContent)
					if len(res.Content) != 3 || lead == nil || !strings.Contains(lead.Text, "streamed before it failed") || last == nil {
						t.Fatalf("MCP: an error result with items is the error, a lead-in and the items: %s", textOf(res))
					}
					data = []byte(last.Text)
				} else {
					data, _ = json.Marshal(res.StructuredContent)
				}
				var got struct {
					Items     []json.RawMessage `json:"items"`
					Truncated bool              `json:"truncated"`
				}
				if err := json.Unmarshal(data, &got); err != nil {
					t.Fatalf("MCP: structured content %s: %v", data, err)
				}
				out := streamOutcome{truncated: got.Truncated, st: st}
				for _, item := range got.Items {
					m := dynamicpb.NewMessage(env.record)
					if err := protojson.Unmarshal(item, m); err != nil {
						t.Fatalf("MCP: item %s: %v", item, err)
					}
					out.names = append(out.names, env.nameOf(m))
				}
				return out
			},
		},
	}
}

// ---- replies ----

const (
	soapNS = "http://schemas.xmlsoap.org/soap/envelope/"
	xsiNS  = "http://www.w3.org/2001/XMLSchema-instance"
	// goodFields are the fields every reply must hold (name has no presence, code is REQUIRED).
	goodFields = `<name>Ladder</name><code>C-300</code>`
)

// soapReply is a SOAP 1.1 envelope around body, after decl (an XML declaration or "").
func soapReply(decl, body string) string {
	return decl + `<soap:Envelope xmlns:soap="` + soapNS + `" xmlns:xsi="` + xsiNS + `"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

// fetchReply is a FetchRecordResponse holding content, in the contract's namespace.
func fetchReply(content string) string {
	return soapReply(`<?xml version="1.0" encoding="utf-8"?>`, `<FetchRecordResponse xmlns="urn:replies">`+content+`</FetchRecordResponse>`)
}

// scriptAll scripts the same reply for each surface's call and returns the ids, by surface.
func (env *replyEnv) scriptAll(prefix, contentType string, body []byte) map[string]string {
	ids := map[string]string{}
	for _, s := range replySurfaceNames {
		id := prefix + "/" + s
		env.backend.script(id, contentType, body)
		ids[s] = id
	}
	return ids
}

// errorInfo is the ErrorInfo of a failure, checked to be there.
func errorInfo(t *testing.T, surface string, st *status.Status) *errdetails.ErrorInfo {
	t.Helper()
	ei := detailOf[*errdetails.ErrorInfo](st)
	if ei == nil {
		t.Errorf("%s: the failure %v %q carries no google.rpc.ErrorInfo", surface, st.Code(), st.Message())
	}
	return ei
}

// wantFailure checks a failure's code, ErrorInfo reason, element metadata (when element is
// not "") and message.
func wantFailure(t *testing.T, surface string, st *status.Status, code codes.Code, reason adapters.Reason, element string, says ...string) {
	t.Helper()
	if st == nil {
		t.Errorf("%s: the call succeeded; want %v %s", surface, code, reason)
		return
	}
	ei := errorInfo(t, surface, st)
	if st.Code() != code || ei.GetReason() != string(reason) {
		t.Errorf("%s: got %v %s %q, want %v %s", surface, st.Code(), ei.GetReason(), st.Message(), code, reason)
	}
	if element != "" {
		if got := ei.GetMetadata()["element"]; got != element {
			t.Errorf("%s: ErrorInfo element %q, want %q (message %q)", surface, got, element, st.Message())
		}
		if !strings.Contains(st.Message(), element) {
			t.Errorf("%s: the message %q does not name the element %s", surface, st.Message(), element)
		}
	}
	for _, s := range says {
		if !strings.Contains(st.Message(), s) {
			t.Errorf("%s: the message %q does not say %q", surface, st.Message(), s)
		}
	}
}

func replyContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), replyCallTimeout)
	t.Cleanup(cancel)
	return ctx
}

// ---- the tests ----

// TestReplyChecksStrictOnEverySurface: a reply holding what the contract does not know, or
// lacking what it requires, fails on every surface with BACKEND_REPLY_INVALID naming the path.
func TestReplyChecksStrictOnEverySurface(t *testing.T) {
	t.Parallel()
	env := startReplyChecks(t)
	tests := []struct {
		name, reply, element, says string
	}{
		{"unknown element", fetchReply(goodFields + `<addedInV2>kept nowhere</addedInV2>`),
			"FetchRecordResponse/addedInV2", "no field for this element"},
		{"another element among a list's items", fetchReply(goodFields + `<tags><tag>a</tag><label>b</label></tags>`),
			"FetchRecordResponse/tags/label", "the wrapper holds only tag elements"},
		{"another element among a list of wrappers' items", fetchReply(goodFields + `<aliases><alias>a</alias><tag>b</tag></aliases>`),
			"FetchRecordResponse/aliases/tag", "the wrapper holds only alias elements"},
		{"response element in another namespace",
			soapReply("", `<o:FetchRecordResponse xmlns:o="urn:other" xmlns="urn:replies">`+goodFields+`</o:FetchRecordResponse>`),
			"FetchRecordResponse", `namespace "urn:other", expected namespace "urn:replies"`},
		{"REQUIRED element missing", fetchReply(`<name>Ladder</name><city>Bern</city>`),
			"FetchRecordResponse/code", "is REQUIRED"},
		{"element of a field without presence missing", fetchReply(`<code>C-300</code>`),
			"FetchRecordResponse/name", "no presence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ids := env.scriptAll("strict/"+tt.name, "text/xml; charset=utf-8", []byte(tt.reply))
			for _, s := range replySurfaceNames {
				out := env.surfaces[s].call(replyContext(t), "Fetch", ids[s])
				if out.st == nil {
					t.Errorf("%s: the reply was accepted as %s", s, jsonOf(out.msg))
					continue
				}
				wantFailure(t, s, out.st, codes.Internal, adapters.ReasonBackendReplyInvalid, tt.element, tt.says)
			}
		})
	}
}

// TestReplyChecksLenientOnEverySurface: the replies strict decoding refuses for an unknown
// child of a message or a response element in another namespace succeed from a lenient
// backend, with the known fields intact, and each skip is counted. Another element among a
// list wrapper's items is no unknown field of a message but a sign of a wrong item binding:
// the codec refuses it for a lenient backend too (xmlcodec's notAnItem), on every surface.
func TestReplyChecksLenientOnEverySurface(t *testing.T) {
	t.Parallel()
	env := startReplyChecks(t)
	known := `<name>Café</name><city>Bern</city><tags><tag>a</tag><tag>b</tag></tags><code>C-300</code>`
	tests := []struct{ name, reply, refused string }{
		{"unknown element", fetchReply(`<addedInV2><deep>kept nowhere</deep></addedInV2>` + known), ""},
		{"response element in another namespace", soapReply("", `<o:FetchRecordResponse xmlns:o="urn:other" xmlns="urn:replies">`+known+`</o:FetchRecordResponse>`), ""},
		{"another element among a list's items", fetchReply(`<tags><tag>a</tag><other>x</other><tag>b</tag></tags><name>Café</name><city>Bern</city><code>C-300</code>`),
			"FetchRecordResponse/tags/other"},
	}
	want := dynamicpb.NewMessage(env.record)
	if err := protojson.Unmarshal([]byte(`{"name":"Café","city":"Bern","tags":["a","b"],"code":"C-300"}`), want); err != nil {
		t.Fatal(err)
	}
	before := adapters.SkippedCount(env.lenient)
	skipping := 0
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			if tt.refused == "" {
				skipping++
			}
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				ids := env.scriptAll("lenient/"+tt.name, "text/xml; charset=utf-8", []byte(tt.reply))
				for _, s := range replySurfaceNames {
					out := env.surfaces[s].call(replyContext(t), "FetchLenient", ids[s])
					if tt.refused != "" {
						wantFailure(t, s, out.st, codes.Internal, adapters.ReasonBackendReplyInvalid, tt.refused, "the wrapper holds only tag elements")
						continue
					}
					if out.st != nil {
						t.Errorf("%s: the lenient backend's reply failed: %v %q", s, out.st.Code(), out.st.Message())
						continue
					}
					if !proto.Equal(out.msg, want) {
						t.Errorf("%s: got %s, want the known fields as sent: %s", s, jsonOf(out.msg), jsonOf(want))
					}
				}
			})
		}
	})
	// Each call that succeeded skipped one element (an unknown one, or the response element).
	if got, want := adapters.SkippedCount(env.lenient)-before, float64(skipping*len(replySurfaceNames)); got != want {
		t.Errorf("%v skips counted for %s, want %v", got, env.lenient, want)
	}
}

// TestReplyChecksNilOnEverySurface: xsi:nil, an empty element and an absent one are three
// statements, kept apart on every surface; a nil the contract has no place for is refused
// naming the element, never read as absent or empty, and never dropped from a list.
func TestReplyChecksNilOnEverySurface(t *testing.T) {
	t.Parallel()
	env := startReplyChecks(t)
	fields := env.record.Fields()
	title, titleNil, note, label := fields.ByName("title"), fields.ByName("title_nil"), fields.ByName("note"), fields.ByName("label")
	type state struct {
		fd      protoreflect.FieldDescriptor
		set     bool
		value   string // the value of a set string or StringValue field
		jsonKey string // the JSON member that must (set) or must not (unset) be there
		json    string // the member's JSON when set
	}
	tests := []struct {
		name, content string
		want          []state // for a reply that decodes
		element, says string  // for one that is refused
	}{
		{name: "nillable nil", content: `<title xsi:nil="true"/>`, want: []state{
			{fd: titleNil, set: true, jsonKey: "titleNil", json: "null"}, {fd: title, jsonKey: "title"}}},
		{name: "nillable nil, 1 and whitespace", content: "<title xsi:nil=\"1\">\n </title>", want: []state{
			{fd: titleNil, set: true, jsonKey: "titleNil", json: "null"}, {fd: title, jsonKey: "title"}}},
		{name: "nillable empty", content: `<title/>`, want: []state{
			{fd: title, set: true, jsonKey: "title", json: `""`}, {fd: titleNil, jsonKey: "titleNil"}}},
		{name: "nillable absent", content: ``, want: []state{{fd: title, jsonKey: "title"}, {fd: titleNil, jsonKey: "titleNil"}}},
		{name: "wrapper empty", content: `<note/>`, want: []state{{fd: note, set: true, jsonKey: "note", json: `""`}}},
		{name: "wrapper absent", content: ``, want: []state{{fd: note, jsonKey: "note"}}},
		{name: "presence field empty", content: `<label></label>`, want: []state{{fd: label, set: true, jsonKey: "label", json: `""`}}},
		{name: "presence field absent", content: ``, want: []state{{fd: label, jsonKey: "label"}}},
		{name: "wrapper nil", content: `<note xsi:nil="true"/>`, element: "FetchRecordResponse/note", says: "xsi:nil"},
		{name: "presence field nil", content: `<label xsi:nil="true"/>`, element: "FetchRecordResponse/label", says: "xsi:nil"},
		{name: "nil with content", content: `<title xsi:nil="true">x</title>`, element: "FetchRecordResponse/title", says: "xsi:nil"},
		{name: "nil item of a list", content: `<tags><tag>a</tag><tag xsi:nil="true"/><tag>b</tag></tags>`,
			element: "FetchRecordResponse/tags/tag", says: "xsi:nil"},
		{name: "nil item of a list of wrappers", content: `<aliases><alias>a</alias><alias xsi:nil="true"/><alias>b</alias></aliases>`,
			element: "FetchRecordResponse/aliases/alias", says: "xsi:nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ids := env.scriptAll("nil/"+tt.name, "text/xml; charset=utf-8", []byte(fetchReply(goodFields+tt.content)))
			for _, s := range replySurfaceNames {
				out := env.surfaces[s].call(replyContext(t), "Fetch", ids[s])
				if tt.element != "" {
					if out.st == nil {
						t.Errorf("%s: the reply was accepted as %s", s, jsonOf(out.msg))
						continue
					}
					wantFailure(t, s, out.st, codes.Internal, adapters.ReasonBackendReplyInvalid, tt.element, tt.says)
					continue
				}
				if out.st != nil {
					t.Errorf("%s: the reply failed: %v %q", s, out.st.Code(), out.st.Message())
					continue
				}
				for _, w := range tt.want {
					got := out.msg.Has(w.fd)
					if got != w.set {
						t.Errorf("%s: %s set = %v, want %v (record %s)", s, w.fd.Name(), got, w.set, jsonOf(out.msg))
					}
					if got && w.set && w.fd.Kind() == protoreflect.StringKind && out.msg.Get(w.fd).String() != w.value {
						t.Errorf("%s: %s = %q, want %q", s, w.fd.Name(), out.msg.Get(w.fd).String(), w.value)
					}
					if got && w.set && w.fd.Message() != nil {
						v := out.msg.Get(w.fd).Message()
						if inner := v.Get(v.Descriptor().Fields().ByName("value")).String(); inner != w.value {
							t.Errorf("%s: %s = %q, want %q", s, w.fd.Name(), inner, w.value)
						}
					}
					if out.raw == nil { // gRPC and Connect: the decoded message is what the agent has
						continue
					}
					member, ok := out.raw[w.jsonKey]
					switch {
					case ok != w.set:
						t.Errorf("%s: JSON member %q present = %v, want %v (answer %v)", s, w.jsonKey, ok, w.set, out.raw)
					case ok && string(member) != w.json:
						t.Errorf("%s: JSON member %q is %s, want %s", s, w.jsonKey, member, w.json)
					}
				}
			}
		})
	}
}

// TestReplyChecksCharsetsOnEverySurface: replies in ISO-8859-1 and UTF-16 reach every surface
// as the same UTF-8 text; a body that is not UTF-8 and names no charset fails saying so.
func TestReplyChecksCharsetsOnEverySurface(t *testing.T) {
	t.Parallel()
	env := startReplyChecks(t)
	const name = "Café Zürich"
	reply := func(decl string) string {
		return soapReply(decl, `<FetchRecordResponse xmlns="urn:replies"><name>`+name+`</name><code>C-300</code></FetchRecordResponse>`)
	}
	encode := func(e encoding.Encoding, s string) []byte {
		b, err := e.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(b)
	}
	tests := []struct {
		name, contentType string
		body              []byte
		fails             bool
	}{
		{"ISO-8859-1 by the XML declaration", "text/xml", encode(charmap.ISO8859_1, reply(`<?xml version="1.0" encoding="ISO-8859-1"?>`)), false},
		{"windows-1252 by the Content-Type", "text/xml; charset=windows-1252", encode(charmap.Windows1252, reply(`<?xml version="1.0"?>`)), false},
		{"UTF-16LE with a byte order mark", "text/xml", encode(unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), reply(`<?xml version="1.0" encoding="UTF-16"?>`)), false},
		{"UTF-16BE with a byte order mark", "text/xml", encode(unicode.UTF16(unicode.BigEndian, unicode.UseBOM), reply(`<?xml version="1.0" encoding="UTF-16"?>`)), false},
		{"undeclared ISO-8859-1", "text/xml", encode(charmap.ISO8859_1, reply("")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ids := env.scriptAll("charset/"+tt.name, tt.contentType, tt.body)
			for _, s := range replySurfaceNames {
				out := env.surfaces[s].call(replyContext(t), "Fetch", ids[s])
				if tt.fails {
					wantFailure(t, s, out.st, codes.Unavailable, adapters.ReasonBackendBadReply, "", "the reply is not UTF-8 and names no charset")
					if out.st != nil && strings.Contains(out.st.Message(), "not a SOAP envelope") {
						t.Errorf("%s: %q blames the envelope for the charset", s, out.st.Message())
					}
					continue
				}
				if out.st != nil {
					t.Errorf("%s: the reply failed: %v %q", s, out.st.Code(), out.st.Message())
					continue
				}
				if got := env.nameOf(out.msg); got != name {
					t.Errorf("%s: name %q, want %q", s, got, name)
				}
				if out.raw != nil && string(out.raw["name"]) != `"`+name+`"` {
					t.Errorf("%s: JSON name %s, want %q as UTF-8", s, out.raw["name"], name)
				}
			}
		})
	}
}

// TestReplyChecksLimitsOnEverySurface: hostile replies fail on every surface with the limit
// they hit, within the call's deadline.
func TestReplyChecksLimitsOnEverySurface(t *testing.T) {
	t.Parallel()
	env := startReplyChecks(t)
	nested := strings.Repeat("<a>", 100_000) + strings.Repeat("</a>", 100_000)
	var attrs strings.Builder
	for i := range 300 {
		fmt.Fprintf(&attrs, ` a%d="x"`, i)
	}
	tests := []struct {
		name    string
		method  protoreflect.Name
		reply   string
		code    codes.Code
		reason  adapters.Reason
		element string
		says    string
	}{
		{"100,000 nested unknown elements, strict", "Fetch", fetchReply(goodFields + nested),
			codes.Internal, adapters.ReasonBackendReplyInvalid, "FetchRecordResponse/a", "no field for this element"},
		{"100,000 nested unknown elements, lenient", "FetchLenient", fetchReply(goodFields + nested),
			codes.Internal, adapters.ReasonBackendReplyInvalid, "FetchRecordResponse/a", "reply exceeds a decoding limit: nested deeper than 64 elements"},
		{"300 attributes on an unknown element, lenient", "FetchLenient", fetchReply(goodFields + `<extra` + attrs.String() + `/>`),
			codes.Internal, adapters.ReasonBackendReplyInvalid, "FetchRecordResponse/extra", "reply exceeds a decoding limit: more than 256 attributes on one element"},
		{"a reply over max_reply_bytes", "FetchSmall", fetchReply(`<name>` + strings.Repeat("x", 4*smallReplyBytes) + `</name><code>C-300</code>`),
			codes.ResourceExhausted, adapters.ReasonReplyTooLarge, "", fmt.Sprintf("more than %d bytes, the configured max_reply_bytes", smallReplyBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ids := env.scriptAll("limits/"+tt.name, "text/xml; charset=utf-8", []byte(tt.reply))
			for _, s := range replySurfaceNames {
				out := env.surfaces[s].call(replyContext(t), tt.method, ids[s])
				wantFailure(t, s, out.st, tt.code, tt.reason, tt.element, tt.says)
			}
		})
	}
}

// TestReplyChecksStreamOnEverySurface: a streamed reply whose fourth record is over the
// per-record bound (max_reply_bytes) sends the three records before it, then ends with
// REPLY_TOO_LARGE naming record 4, on every streaming surface (REST as NDJSON result lines,
// then an error line). MCP's tool collects the stream into one result: a failure mid-stream is
// an isError result carrying the status, followed by the records that arrived before it in the
// tool's result form, so the agent has what every other surface delivered.
func TestReplyChecksStreamOnEverySurface(t *testing.T) {
	t.Parallel()
	env := startReplyChecks(t)
	record := func(name string) string { return `<record><name>` + name + `</name><code>C</code></record>` }
	list := func(records ...string) []byte {
		return []byte(soapReply(`<?xml version="1.0" encoding="utf-8"?>`, `<ListRecordsResponse xmlns="urn:replies">`+strings.Join(records, "")+`</ListRecordsResponse>`))
	}
	// The bound is max_reply_bytes plus the reader's read-ahead (64 KiB): 200 KiB is over it.
	huge := record("R4" + strings.Repeat("x", 200<<10))
	tests := []struct {
		name      string
		reply     []byte
		wantNames []string
		code      codes.Code
		reason    adapters.Reason
		meta      map[string]string // ErrorInfo metadata the failure must carry
		says      []string
	}{
		{name: "five records", reply: list(record("R1"), record("R2"), record("R3"), record("R4"), record("R5")),
			wantNames: []string{"R1", "R2", "R3", "R4", "R5"}},
		{name: "the fourth of five over the bound", reply: list(record("R1"), record("R2"), record("R3"), huge, record("R5")),
			wantNames: []string{"R1", "R2", "R3"},
			code:      codes.ResourceExhausted, reason: adapters.ReasonReplyTooLarge,
			meta: map[string]string{"limit_bytes": strconv.Itoa(smallReplyBytes), "records_started": "4"},
			says: []string{fmt.Sprintf("more than %d bytes in record 4 of a streamed reply", smallReplyBytes)}},
		{name: "an unknown element in the third record", reply: list(record("R1"), record("R2"), `<record><name>R3</name><code>C</code><extra/></record>`, record("R4")),
			wantNames: []string{"R1", "R2"},
			code:      codes.Internal, reason: adapters.ReasonBackendReplyInvalid,
			meta: map[string]string{"element": "ListRecordsResponse/record/extra", "items_sent": "2"},
			says: []string{"ListRecordsResponse/record/extra", "no field for this element", "after 2 streamed messages"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ids := env.scriptAll("stream/"+tt.name, "text/xml; charset=utf-8", tt.reply)
			for _, s := range replySurfaceNames {
				out := env.surfaces[s].stream(replyContext(t), ids[s])
				want := tt.wantNames
				if strings.Join(out.names, ",") != strings.Join(want, ",") {
					t.Errorf("%s: records %v arrived, want %v", s, out.names, want)
				}
				if out.truncated {
					t.Errorf("%s: the result says truncated", s)
				}
				if tt.reason == "" {
					if out.st != nil {
						t.Errorf("%s: the stream failed: %v %q", s, out.st.Code(), out.st.Message())
					}
					continue
				}
				wantFailure(t, s, out.st, tt.code, tt.reason, "", tt.says...)
				if out.st == nil {
					continue
				}
				for k, v := range tt.meta {
					if got := detailOf[*errdetails.ErrorInfo](out.st).GetMetadata()[k]; got != v {
						t.Errorf("%s: ErrorInfo metadata %s = %q, want %q", s, k, got, v)
					}
				}
			}
		})
	}
}
