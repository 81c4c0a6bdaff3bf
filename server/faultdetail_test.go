package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

// accountsProto is a contract loaded at run time whose method maps NetSuite's
// invalidCredentialsFault (corpus s06) to a typed detail, as the WSDL importer writes it.
const accountsProto = `syntax = "proto3";

package acme.accounts.v1;

import "agentbridge/v1/options.proto";
import "google/api/annotations.proto";

// Accounts.
service AccountService {
  // Log in.
  rpc Login(LoginRequest) returns (LoginResponse) {
    option (google.api.http) = {post: "/v1/login" body: "*"};
    option (agentbridge.v1.binding) = {
      backend: "netsuite"
      soap: {action: "login" request: {name: "login" namespace: "urn:messages"} response: {name: "loginResponse" namespace: "urn:messages"}}
      faults: {
        fault_code: "Server"
        fault_detail: {element: "invalidCredentialsFault"}
        status: STATUS_CODE_FAILED_PRECONDITION
        reason: "INVALID_LOGIN_CREDENTIALS"
        detail_type: "acme.accounts.v1.InvalidCredentialsFault"
      }
    };
  }
}

// Who logs in.
message LoginRequest {
  // The e-mail address.
  string email = 1;
}

// The session.
message LoginResponse {
  // Its id.
  string session_id = 1;
}

// NetSuite's fault for credentials it does not accept.
message InvalidCredentialsFault {
  option (agentbridge.v1.xml_message) = {namespace: "urn:faults_2013_2.platform.webservices.netsuite.com"};
  // The fault code.
  string code = 1;
  // What it means.
  string message = 2;
}
`

// TestTypedFaultOnEverySurface: a backend fault that a rule maps to a typed detail reaches
// every surface with that detail, by its fields: gRPC and Connect as a status detail, REST in
// the error body's details, MCP in the status JSON of the error result.
func TestTypedFaultOnEverySurface(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "acme", "accounts", "v1", "accounts.proto")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(accountsProto), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{"acme/accounts/v1/accounts.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := set.Service("acme.accounts.v1.AccountService")
	if err != nil {
		t.Fatal(err)
	}
	md := sd.Methods().ByName("Login")
	detailDesc := md.ParentFile().Messages().ByName("InvalidCredentialsFault")

	fault, err := os.ReadFile("../../shared/corpus/soap-messages/s06-netsuite-fault-typed-detail/response.xml")
	if err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(fault)
	}))
	t.Cleanup(backend.Close)
	a := soap.New(adapters.Backend{Name: "netsuite", Kind: soap.Kind, Endpoint: backend.URL, Timeout: 10 * time.Second}, nil)
	login, err := a.Bind(md, adapters.BindingOf(md))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New([]server.Service{{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{"Login": login}}})
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, true, nil, nil)

	want := dynamicpb.NewMessage(detailDesc)
	if err := protojson.Unmarshal([]byte(`{"code": "INVALID_LOGIN_CREDENTIALS", "message": "You have entered an invalid email address or password. Please try again."}`), want); err != nil {
		t.Fatal(err)
	}
	const typeURL = "type.googleapis.com/acme.accounts.v1.InvalidCredentialsFault"
	request := func() *dynamicpb.Message {
		req := dynamicpb.NewMessage(md.Input())
		req.Set(md.Input().Fields().ByName("email"), protoreflect.ValueOfString("a@example.com"))
		return req
	}
	// fromStatus finds the typed detail among a status's details.
	fromStatus := func(t *testing.T, st *status.Status) {
		t.Helper()
		if st.Code() != codes.FailedPrecondition {
			t.Errorf("code %v, want FailedPrecondition (%s)", st.Code(), st.Message())
		}
		for _, d := range st.Proto().GetDetails() {
			if d.GetTypeUrl() != typeURL {
				continue
			}
			got := dynamicpb.NewMessage(detailDesc)
			if err := proto.Unmarshal(d.GetValue(), got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("detail %v, want %v", got, want)
			}
			return
		}
		t.Errorf("no %s detail in %v", typeURL, st.Proto())
	}
	// fromJSON finds the typed detail in a google.rpc.Status written as JSON.
	fromJSON := func(t *testing.T, data []byte) {
		t.Helper()
		var body struct {
			Code    int               `json:"code"`
			Details []json.RawMessage `json:"details"`
		}
		if err := json.Unmarshal(data, &body); err != nil {
			t.Fatalf("%v: %s", err, data)
		}
		if body.Code != int(codes.FailedPrecondition) {
			t.Errorf("code %d, want %d: %s", body.Code, codes.FailedPrecondition, data)
		}
		for _, d := range body.Details {
			var fields map[string]any
			_ = json.Unmarshal(d, &fields)
			if fields["@type"] != typeURL {
				continue
			}
			if fields["code"] != "INVALID_LOGIN_CREDENTIALS" || !strings.HasPrefix(fields["message"].(string), "You have entered") {
				t.Errorf("detail %s", d)
			}
			return
		}
		t.Errorf("no %s detail in %s", typeURL, data)
	}

	t.Run("grpc", func(t *testing.T) {
		cc, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		err = cc.Invoke(t.Context(), "/acme.accounts.v1.AccountService/Login", request(), dynamicpb.NewMessage(md.Output()))
		st, _ := status.FromError(err)
		fromStatus(t, st)
	})
	for name, opts := range map[string][]connect.ClientOption{
		"connect json": {connect.WithProtoJSON()}, "connect proto": nil, "grpc-web": {connect.WithGRPCWeb()},
	} {
		t.Run(name, func(t *testing.T) {
			opts = append(opts, connect.WithSchema(md), connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
				*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(md.Output())
				return nil
			}))
			client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](h2cClient(), b.httpURL+"/acme.accounts.v1.AccountService/Login", opts...)
			_, err := client.CallUnary(t.Context(), connect.NewRequest(request()))
			var cerr *connect.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("not a connect error: %v", err)
			}
			for _, d := range cerr.Details() {
				if d.Type() != "acme.accounts.v1.InvalidCredentialsFault" {
					continue
				}
				got := dynamicpb.NewMessage(detailDesc)
				if err := proto.Unmarshal(d.Bytes(), got); err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(got, want) {
					t.Errorf("detail %v, want %v", got, want)
				}
				return
			}
			t.Errorf("no typed detail among %d details: %v", len(cerr.Details()), cerr)
		})
	}
	t.Run("rest", func(t *testing.T) {
		resp, err := http.Post(b.httpURL+"/v1/login", "application/json", bytes.NewReader([]byte(`{"email": "a@example.com"}`)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("HTTP %d, want 400 (FAILED_PRECONDITION): %s", resp.StatusCode, data)
		}
		fromJSON(t, data)
	})
	t.Run("mcp", func(t *testing.T) {
		session := mcpSession(t, b.httpURL+"/mcp")
		res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "AccountService_Login", Arguments: map[string]any{"email": "a@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.IsError {
			t.Fatalf("not an error result: %s", textOf(res))
		}
		_, js, ok := strings.Cut(textOf(res), "\nstatus: ")
		if !ok {
			t.Fatalf("no status JSON in %q", textOf(res))
		}
		fromJSON(t, []byte(js))
	})
}

// TestUnknownDetailTypeStillRenders: a status detail of a type the bridge knows nowhere (a Go
// implementation's) cannot be written as JSON by its fields; REST and MCP still answer with the
// status, say which detail type was left out, and keep the details they can write.
func TestUnknownDetailTypeStillRenders(t *testing.T) {
	t.Parallel()
	sd := loadShop(t, "")
	svc := shopService(t, sd, "v1")
	svc.Methods["GetProduct"] = func(context.Context, proto.Message) (proto.Message, error) {
		st := status.New(codes.NotFound, "no such product")
		p := st.Proto()
		p.Details = append(p.Details, &anypb.Any{TypeUrl: "type.googleapis.com/elsewhere.v1.Unknown", Value: []byte{0x08, 0x01}})
		info, _ := anypb.New(&errdetails.ErrorInfo{Reason: "NO_PRODUCT", Domain: "shop"})
		p.Details = append(p.Details, info)
		return nil, status.FromProto(p).Err()
	}
	srv, err := server.New([]server.Service{svc})
	if err != nil {
		t.Fatal(err)
	}
	b := serve(t, srv, false, nil, nil)
	const note = "status details of types the bridge cannot write as JSON are left out: elsewhere.v1.Unknown"

	resp, err := http.Get(b.httpURL + "/v1/products/P-1")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(data), note) || !strings.Contains(string(data), "NO_PRODUCT") {
		t.Errorf("REST: HTTP %d %s, want 404 with the note and the ErrorInfo", resp.StatusCode, data)
	}

	session := mcpSession(t, b.httpURL+"/mcp")
	res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "ShopService_GetProduct", Arguments: map[string]any{"id": "P-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if text := textOf(res); !res.IsError || !strings.Contains(text, note) || !strings.Contains(text, "\nstatus: ") || !strings.Contains(text, "NO_PRODUCT") {
		t.Errorf("MCP: %q, want an error with the note and the status JSON", text)
	}
}
