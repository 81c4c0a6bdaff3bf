package e2e

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/adapters/standard" // the soap kind, as the binary has it
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
)

const (
	serviceName = "acme.orders.v1.OrderService"
	protoFile   = "acme/orders/v1/orders.proto"
)

// agentbridgeConfig is the runtime config a user would write for the backend at endpoint:
//
//	proto_paths: [testdata]
//	protos: [acme/orders/v1/orders.proto]
//	services: [acme.orders.v1.OrderService]
//	backends:
//	  orders: {kind: soap, endpoint: <endpoint>}
//	audit: {sink: <audit>}
//
// audit is "off" for the rows compared with the hand-written bridge, which writes no audit
// line either, or a file path to price the audit line the default config writes.
func agentbridgeConfig(endpoint, audit string) (*server.Config, error) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		return nil, err
	}
	return &server.Config{
		ProtoPaths: []string{dir},
		Protos:     []string{protoFile},
		Services:   []string{serviceName},
		Backends:   map[string]adapters.Backend{"orders": {Kind: "soap", Endpoint: endpoint}},
		Audit:      server.AuditOptions{Sink: audit},
	}, nil
}

// buildAgentbridge builds the config as serve does.
func buildAgentbridge(endpoint, audit string) (*server.Server, error) {
	cfg, err := agentbridgeConfig(endpoint, audit)
	if err != nil {
		return nil, err
	}
	return cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)), server.WithShutdownGrace(time.Second))
}

// agentbridge is one built server on its listeners.
type agentbridge struct {
	srv      *server.Server
	httpURL  string // REST and Connect
	grpcAddr string
	service  protoreflect.ServiceDescriptor
}

// startAgentbridge builds the config and serves it: srv.Handler() on a loopback HTTP server,
// srv.GRPCServer() on a loopback listener.
func startAgentbridge(tb testing.TB, endpoint, audit string) *agentbridge {
	tb.Helper()
	srv, err := buildAgentbridge(endpoint, audit)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := srv.GRPCServer()
	done := make(chan error, 1)
	go func() { done <- gs.Serve(lis) }()
	tb.Cleanup(func() {
		gs.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Error(err)
		}
		hs.Close()
		_ = srv.Close()
	})
	return &agentbridge{srv: srv, httpURL: hs.URL, grpcAddr: lis.Addr().String(), service: srv.Services()[0].Desc}
}

// loadService compiles the contract, as a client holding the .proto would.
func loadService(tb testing.TB) protoreflect.ServiceDescriptor {
	tb.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := contract.Load(context.Background(), contract.Sources{ProtoPaths: []string{dir}, Protos: []string{protoFile}})
	if err != nil {
		tb.Fatal(err)
	}
	sd, err := set.Service(serviceName)
	if err != nil {
		tb.Fatal(err)
	}
	return sd
}
