package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
)

// TestGRPCHealthOnBothListeners asks the standard health service on the gRPC listener and, over
// h2c, on the HTTP listener.
func TestGRPCHealthOnBothListeners(t *testing.T) {
	t.Parallel()
	b := startBridge(t, true)
	for _, addr := range []string{b.grpcAddr, strings.TrimPrefix(b.httpURL, "http://")} {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cc.Close() }()
		for _, svc := range []string{"", "agentbridge.demo.v1.InventoryService"} {
			resp, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("%s: health of %q: %v %v", addr, svc, resp, err)
			}
		}
	}
}

// TestTLS serves the HTTP listener over TLS: REST over HTTP/1.1 and gRPC and Connect over
// HTTP/2 negotiated by ALPN.
func TestTLS(t *testing.T) {
	t.Parallel()
	// httptest's certificate is valid for 127.0.0.1 and example.com.
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	cert := ts.TLS.Certificates[0]
	ts.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))

	b := startBridge(t, false, server.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	url := strings.Replace(b.httpURL, "http://", "https://", 1)
	clientTLS := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	rest := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/v1/items/A-100", nil)
	resp, err := rest.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("REST over TLS: HTTP %d", resp.StatusCode)
	}

	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS, ForceAttemptHTTP2: true}}
	for _, opt := range []connect.ClientOption{connect.WithGRPC(), connect.WithGRPCWeb(), connect.WithProtoJSON()} {
		client := demov1connect.NewInventoryServiceClient(h2, url, opt)
		out, err := client.GetItem(t.Context(), connect.NewRequest(&demov1.GetItemRequest{Sku: "A-100"}))
		if err != nil || out.Msg.GetItem().GetSku() != "A-100" {
			t.Errorf("over TLS: %v %v", out, err)
		}
	}
	cc, err := grpc.NewClient(strings.TrimPrefix(b.httpURL, "http://"), grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cc.Close() }()
	if _, err := demov1.NewInventoryServiceClient(cc).GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
		t.Errorf("grpc-go over TLS on the HTTP listener: %v", err)
	}
}

// TestTLSOnTheGRPCListener: with TLS configured, the gRPC listener speaks TLS too and refuses a
// plaintext client; it used to serve plaintext silently.
func TestTLSOnTheGRPCListener(t *testing.T) {
	t.Parallel()
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	cert := ts.TLS.Certificates[0]
	ts.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))

	b := startBridge(t, true, server.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	secure, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = secure.Close() }()
	if _, err := demov1.NewInventoryServiceClient(secure).GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
		t.Errorf("gRPC over TLS on the gRPC listener: %v", err)
	}
	plain, err := grpc.NewClient(b.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = plain.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := demov1.NewInventoryServiceClient(plain).GetItem(ctx, &demov1.GetItemRequest{Sku: "A-100"}); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext gRPC on a TLS listener: %v, want Unavailable", err)
	}
}

// TestGRPCMetadataIsBounded: the gRPC listener refuses a call with more metadata than the HTTP
// listener takes in headers (64 KiB); it used to take 8 MB per call.
func TestGRPCMetadataIsBounded(t *testing.T) {
	t.Parallel()
	b := startBridge(t, true)
	client := grpcClient(t, b.grpcAddr)
	big := metadata.Pairs("x-big", strings.Repeat("a", 200<<10))
	_, err := client.GetItem(metadata.NewOutgoingContext(t.Context(), big), &demov1.GetItemRequest{Sku: "A-100"})
	if err == nil {
		t.Fatal("a call with 200 KiB of metadata was served")
	}
	if n := b.backendCalls.Load(); n != 0 {
		t.Errorf("the backend saw %d calls", n)
	}
	small := metadata.Pairs("x-small", strings.Repeat("a", 1<<10))
	if _, err := client.GetItem(metadata.NewOutgoingContext(t.Context(), small), &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
		t.Errorf("a call with 1 KiB of metadata: %v", err)
	}
}
