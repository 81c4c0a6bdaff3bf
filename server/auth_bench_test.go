package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
)

// BenchmarkAuth measures what authentication and authorization add to one call through the
// chain (GetItem, implemented in Go, validation on), against the bare call path in the same run:
// an API key (among 3), a client certificate, and a JWT bearer token (RS256, the same token on
// every call, as an agent reuses its token).
//
//	go test ./server -run '^$' -bench BenchmarkAuth -benchmem -count 6
func BenchmarkAuth(b *testing.B) {
	iss := benchIssuer(b)
	token := iss.sign(b, map[string]any{"iss": iss.url, "sub": "agent-7", "aud": "bench", "scope": "inventory.read",
		"exp": time.Now().Add(time.Hour).Unix()})
	keyHash := func(k string) string { s := sha256.Sum256([]byte(k)); return hex.EncodeToString(s[:]) }
	auth := AuthConfig{
		APIKeys: []APIKey{
			{ID: "a", SHA256: keyHash("key-a"), Scopes: []string{"inventory.read"}},
			{ID: "b", SHA256: keyHash("key-b"), Scopes: []string{"inventory.read"}},
			{ID: "c", SHA256: keyHash("key-c"), Scopes: []string{"inventory.read"}},
		},
		OIDC:   &OIDCConfig{Issuer: iss.url, Audience: "bench"},
		MTLS:   &MTLSConfig{ClientCAFile: "unused", Principals: map[string][]string{"svc": {"inventory.read"}}},
		Scopes: map[string][]string{"agentbridge.demo.v1.InventoryService.*": {"inventory.read"}},
	}
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "svc"}}
	certPeer := &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}}}
	cases := []struct {
		name string
		opts []Option
		md   metadata.MD
		peer *peer.Peer
	}{
		{"bare", nil, metadata.MD{"user-agent": {"bench"}}, nil},
		{"api_key", []Option{WithAuth(auth)}, metadata.MD{"user-agent": {"bench"}, "x-api-key": {"key-b"}}, nil},
		{"mtls", []Option{WithAuth(auth)}, metadata.MD{"user-agent": {"bench"}}, certPeer},
		{"jwt", []Option{WithAuth(auth)}, metadata.MD{"user-agent": {"bench"}, "authorization": {"Bearer " + token}}, nil},
		// Both interceptors on, as a production config has them: JWT, then an audit line.
		{"jwt+audit", []Option{WithAuth(auth), WithAudit(AuditOptions{}), WithAuditWriter(io.Discard)},
			metadata.MD{"user-agent": {"bench"}, "authorization": {"Bearer " + token}, "x-request-id": {"r-1"}}, nil},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s, m := benchServer(b, c.opts...)
			req := &demov1.GetItemRequest{Sku: "A-100"}
			base := context.Background()
			if c.peer != nil {
				base = peer.NewContext(base, c.peer)
			}
			ctx, _ := callContext(base, SurfaceConnect, m.procedure, c.md)
			if _, err := s.call(ctx, m, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ctx, _ := callContext(base, SurfaceConnect, m.procedure, c.md)
				if _, err := s.call(ctx, m, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchServer(b *testing.B, opts ...Option) (*Server, *method) {
	b.Helper()
	sd := demov1.File_agentbridge_demo_v1_inventory_proto.Services().ByName("InventoryService")
	resp := &demov1.GetItemResponse{Item: &demov1.Item{Sku: "A-100", Name: "Hammer"}}
	impl := func(context.Context, proto.Message) (proto.Message, error) { return resp, nil }
	s, err := New([]Service{{Desc: sd, Methods: map[protoreflect.Name]adapters.Unary{"GetItem": impl, "ListItems": impl, "ReserveItem": impl}}},
		append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return s, s.gen.Load().methods["/agentbridge.demo.v1.InventoryService/GetItem"]
}

type benchOIDC struct {
	url string
	key *rsa.PrivateKey
}

func benchIssuer(b *testing.B) *benchOIDC {
	b.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	iss := &benchOIDC{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss.url, "jwks_uri": iss.url + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	iss.url = srv.URL
	return iss
}

func (i *benchOIDC) sign(b *testing.B, claims map[string]any) string {
	b.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: i.key, KeyID: "k1"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}
