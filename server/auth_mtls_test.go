package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
)

// testCA issues certificates for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate: a server one for 127.0.0.1 when server, else a client one
// named by its URI SAN (when uri is set) or its DNS SAN.
func (ca *testCA) issue(t *testing.T, server bool, name string) (certPEM, keyPEM []byte, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if u, err := url.Parse(name); err == nil && u.Scheme != "" {
			tmpl.URIs = []*url.URL{u}
		} else {
			tmpl.DNSNames = []string{name}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	pair, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM, pair
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMTLS serves both listeners over TLS with client certificates from a test CA as service
// accounts (configured as a config file would: PEM files and auth.mtls), and checks every
// surface: a listed certificate is its principal, an unlisted one is refused, a client without
// a certificate may still use an API key, and a certificate from another CA fails the handshake.
func TestMTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, otherCA := newTestCA(t, "bridge clients"), newTestCA(t, "someone else")
	serverCert, serverKey, _ := ca.issue(t, true, "bridge")
	_, _, agent := ca.issue(t, false, "spiffe://acme.example/agent-1")
	_, _, unlisted := ca.issue(t, false, "batch.internal.example")
	_, _, foreign := otherCA.issue(t, false, "spiffe://acme.example/agent-1")
	cfg := &server.Config{
		TLS: &server.TLSConfig{CertFile: writeFile(t, dir, "server.crt", serverCert), KeyFile: writeFile(t, dir, "server.key", serverKey)},
		Auth: &server.AuthConfig{
			APIKeys: []server.APIKey{{ID: "reader", SHA256: sha256Hex(readerKey), Scopes: []string{inventoryRead}}},
			MTLS: &server.MTLSConfig{
				ClientCAFile: writeFile(t, dir, "clients.pem", ca.pem),
				Principals:   map[string][]string{"spiffe://acme.example/agent-1": {inventoryRead}},
			},
			Scopes: map[string][]string{"agentbridge.demo.v1.InventoryService.*": {inventoryRead}},
		},
	}
	opts, err := cfg.Options()
	if err != nil {
		t.Fatal(err)
	}
	b := startGoService(t, principalEcho, opts...)
	httpsURL := strings.Replace(b.httpURL, "http://", "https://", 1)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	clientTLS := func(cert *tls.Certificate) *tls.Config {
		c := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != nil {
			// Sent whatever CAs the server names, as a client that means to get in would.
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		return c
	}
	httpsClient := func(cert *tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS(cert), ForceAttemptHTTP2: true}}
	}
	grpcCall := func(addr string) func(t *testing.T, cert *tls.Certificate, h map[string]string) authOutcome {
		return func(t *testing.T, cert *tls.Certificate, h map[string]string) authOutcome {
			cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(cert))))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cc.Close() }()
			ctx := t.Context()
			for k, v := range h {
				ctx = metadataAppend(ctx, k, v)
			}
			resp, err := demov1.NewInventoryServiceClient(cc).GetItem(ctx, &demov1.GetItemRequest{Sku: "A-100"})
			if err != nil {
				return outcomeOf(status.Convert(err))
			}
			return authOutcome{principal: resp.GetItem().GetName()}
		}
	}
	surfaces := []struct {
		name string
		call func(t *testing.T, cert *tls.Certificate, h map[string]string) authOutcome
	}{
		{"gRPC listener", grpcCall(b.grpcAddr)},
		{"gRPC on the HTTP listener", grpcCall(strings.TrimPrefix(b.httpURL, "http://"))},
		{"Connect", func(t *testing.T, cert *tls.Certificate, h map[string]string) authOutcome {
			req := connect.NewRequest(&demov1.GetItemRequest{Sku: "A-100"})
			for k, v := range h {
				req.Header().Set(k, v)
			}
			resp, err := demov1connect.NewInventoryServiceClient(httpsClient(cert), httpsURL).GetItem(t.Context(), req)
			if err != nil {
				var cerr *connect.Error
				if !errors.As(err, &cerr) || cerr.Code() == connect.CodeUnavailable || cerr.Code() == connect.CodeUnknown {
					return authOutcome{code: codes.Unavailable, message: err.Error()}
				}
				return outcomeOf(connectStatus(t, err))
			}
			return authOutcome{principal: resp.Msg.GetItem().GetName()}
		}},
		{"REST", func(t *testing.T, cert *tls.Certificate, h map[string]string) authOutcome {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, httpsURL+"/v1/items/A-100", nil)
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := httpsClient(cert).Do(req)
			if err != nil {
				return authOutcome{code: codes.Unavailable, message: err.Error()}
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				return outcomeOf(restStatus(t, body))
			}
			var out demov1.GetItemResponse
			if err := jsonUnmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			return authOutcome{principal: out.GetItem().GetName()}
		}},
		{"MCP", func(t *testing.T, cert *tls.Certificate, h map[string]string) authOutcome {
			client := mcp.NewClient(&mcp.Implementation{Name: "mtls-test", Version: "v0"}, nil)
			hc := httpsClient(cert)
			hc.Transport = headerTransport{h: h, next: hc.Transport}
			session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: httpsURL + "/mcp", HTTPClient: hc}, nil)
			if err != nil {
				// 401 as a word: the URL in the message has a port, which may hold "401".
				if strings.Contains(err.Error(), "Unauthorized") || status401.MatchString(err.Error()) {
					return authOutcome{code: codes.Unauthenticated, message: err.Error()}
				}
				return authOutcome{code: codes.Unavailable, message: err.Error()}
			}
			defer func() { _ = session.Close() }()
			res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}})
			if err != nil {
				t.Fatal(err)
			}
			text := res.Content[0].(*mcp.TextContent).Text
			if res.IsError {
				return toolOutcome(text)
			}
			var out struct{ Item struct{ Name string } }
			_ = json.Unmarshal([]byte(text), &out)
			return authOutcome{principal: out.Item.Name}
		}},
	}
	cases := []struct {
		name      string
		cert      *tls.Certificate
		headers   map[string]string
		code      codes.Code
		principal string
	}{
		{"listed certificate", &agent, nil, codes.OK, "spiffe://acme.example/agent-1"},
		{"unlisted certificate", &unlisted, nil, codes.Unauthenticated, ""},
		{"no certificate, API key", nil, map[string]string{"X-Api-Key": readerKey}, codes.OK, "reader"},
		{"no certificate, nothing else", nil, nil, codes.Unauthenticated, ""},
		{"certificate from another CA", &foreign, nil, codes.Unavailable, ""}, // the handshake fails
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, s := range surfaces {
				t.Run(s.name, func(t *testing.T) {
					got := s.call(t, c.cert, c.headers)
					// TLS 1.3 sends the server's verdict on a client certificate after the
					// client's handshake is done, so a client may already be writing its
					// request when the connection is reset: connect-go reports that as
					// Canceled. Either way the handshake refused the certificate.
					if c.code == codes.Unavailable && got.code == codes.Canceled && (strings.Contains(got.message, "connection reset by peer") || strings.Contains(got.message, "broken pipe")) {
						got.code = codes.Unavailable
					}
					if got.code != c.code || got.principal != c.principal {
						t.Fatalf("got %v %q (principal %q), want %v (principal %q)", got.code, got.message, got.principal, c.code, c.principal)
					}
				})
			}
		})
	}
}

// status401 finds the HTTP status 401 in an error message.
var status401 = regexp.MustCompile(`\b401\b`)

func metadataAppend(ctx context.Context, k, v string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, strings.ToLower(k), v)
}
