package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
)

// lockedBuffer is a log sink the server and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSecretsNeverReachCallers plants credentials in the backend's config, of every kind, and a
// backend whose fault echoes every request header it received, the query and the envelope it
// got (WS-Security header included), with a JDBC URL and an internal host name for good
// measure; no secret may appear in any answer on any surface, nor in the log. The fault once
// handed the API key and the Basic Authorization value to the caller.
func TestSecretsNeverReachCallers(t *testing.T) {
	t.Parallel()
	const apiKey, password = "ak_live_5f3b9c2e7d", "pa55-w0rd-legacy"
	const clientSecret, bearer = "oauth-cl1ent-s3cret", "bearer-tok-9a8b7c6d5e"
	basic := base64.StdEncoding.EncodeToString([]byte("bridge:" + password))
	file := func(t *testing.T, secret string) string {
		p := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, bearer)
	}))
	t.Cleanup(idp.Close)
	for _, tt := range []struct {
		name    string
		auth    func(t *testing.T) *adapters.Auth
		headers map[string]string
		secrets []string
	}{
		{"endpoint userinfo and header", nil, map[string]string{"X-API-Key": apiKey}, []string{apiKey, password, basic}},
		{"basic", func(t *testing.T) *adapters.Auth {
			return &adapters.Auth{Basic: &adapters.BasicAuth{User: "bridge", PasswordFile: file(t, password)}}
		}, nil, []string{password, basic}},
		{"api key in the query", func(t *testing.T) *adapters.Auth {
			return &adapters.Auth{APIKey: &adapters.APIKeyAuth{Query: "apikey", KeyFile: file(t, apiKey)}}
		}, nil, []string{apiKey}},
		{"api key header", func(t *testing.T) *adapters.Auth {
			return &adapters.Auth{APIKey: &adapters.APIKeyAuth{Header: "X-Legacy-Key", KeyFile: file(t, apiKey)}}
		}, nil, []string{apiKey}},
		{"oauth2", func(t *testing.T) *adapters.Auth {
			return &adapters.Auth{OAuth2: &adapters.OAuth2Auth{TokenURL: idp.URL, ClientID: "bridge", ClientSecretFile: file(t, clientSecret)}}
		}, nil, []string{bearer, clientSecret}},
		{"ws-security text", func(t *testing.T) *adapters.Auth {
			return &adapters.Auth{WSSecurity: &adapters.WSSecurityAuth{Username: "bridge", PasswordFile: file(t, password), PasswordType: adapters.PasswordText}}
		}, nil, []string{password}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var names []string
				for k := range r.Header {
					names = append(names, k)
				}
				sort.Strings(names)
				var seen strings.Builder
				for _, k := range names {
					fmt.Fprintf(&seen, "%s: %s; ", k, strings.Join(r.Header[k], ","))
				}
				body, _ := io.ReadAll(r.Body)
				fmt.Fprintf(&seen, "query %s; envelope %s", r.URL.RawQuery, body)
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>`+
					`<faultcode>soap:Client</faultcode><faultstring>rejected; request headers were %s pool jdbc:oracle:thin:@db01.corp:1521/ORCL, node erp-app-3.acme.internal:8443</faultstring>`+
					`<detail><echo>%s</echo></detail></soap:Fault></soap:Body></soap:Envelope>`, xmlEscape(seen.String()), xmlEscape(seen.String()))
			}))
			t.Cleanup(echo.Close)
			endpoint := echo.URL + "/inventory"
			if tt.auth == nil {
				endpoint = strings.Replace(echo.URL, "http://", "http://bridge:"+password+"@", 1) + "/inventory"
			}
			cfg := demo.InventoryConfig(endpoint)
			b := cfg.Backends["inventory"]
			b.Headers = tt.headers
			if tt.auth != nil {
				b.Auth = tt.auth(t)
			}
			cfg.Backends["inventory"] = b
			// The audit log, with bodies and credential headers asked for, is a log too.
			cfg.Audit = server.AuditOptions{Headers: []string{"authorization", "x-api-key"}, Bodies: true}
			logs := &lockedBuffer{}
			srv, err := cfg.Build(server.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))), server.WithAuditWriter(logs))
			if err != nil {
				t.Fatal(err)
			}
			all := callEverySurface(t, srv) + "\nlog: " + logs.String()
			if !strings.Contains(all, `"msg":"call"`) {
				t.Fatalf("no audit line:\n%s", all)
			}
			if !strings.Contains(all, "rejected; request headers were") {
				t.Fatalf("the fault did not come through at all:\n%s", all)
			}
			for _, secret := range append(tt.secrets, "jdbc:oracle", "db01.corp", "acme.internal", echo.Listener.Addr().String()) {
				if strings.Contains(all, secret) {
					t.Errorf("%q leaked:\n%s", secret, all)
				}
			}
			if !strings.Contains(all, adapters.RedactedSecret) || !strings.Contains(all, adapters.RedactedInternal) {
				t.Errorf("expected the placeholders in the answers:\n%s", all)
			}
		})
	}
}

// callEverySurface calls GetItem on every surface and returns every answer, errors included.
func callEverySurface(t *testing.T, srv *server.Server) string {
	t.Helper()
	br := serve(t, srv, true, nil, nil)
	var answers []string
	// REST
	resp, err := http.Get(br.httpURL + "/v1/items/A-100")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	answers = append(answers, "rest: "+string(data))
	// Connect, gRPC-Web and gRPC on the HTTP listener
	for name, opt := range map[string]connect.ClientOption{"connect": connect.WithProtoJSON(), "grpc-web": connect.WithGRPCWeb(), "grpc": connect.WithGRPC()} {
		_, err := demov1connect.NewInventoryServiceClient(h2cClient(), br.httpURL, opt).GetItem(t.Context(), connect.NewRequest(&demov1.GetItemRequest{Sku: "A-100"}))
		answers = append(answers, name+": "+fmt.Sprint(err)+" "+fmt.Sprint(connectStatus(t, err).Proto()))
	}
	// gRPC listener
	_, err = grpcClient(t, br.grpcAddr).GetItem(context.Background(), &demov1.GetItemRequest{Sku: "A-100"})
	answers = append(answers, "grpc listener: "+fmt.Sprint(err))
	// MCP
	res, err := mcpSession(t, br.httpURL+"/mcp").CallTool(t.Context(), &mcp.CallToolParams{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}})
	if err != nil {
		t.Fatal(err)
	}
	answers = append(answers, "mcp: "+textOf(res))
	return strings.Join(answers, "\n")
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xmlEscapeText(&b, s)
	return b.String()
}

func xmlEscapeText(w io.Writer, s string) error {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	_, err := io.WriteString(w, r.Replace(s))
	return err
}
