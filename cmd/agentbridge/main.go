// Command agentbridge serves legacy backends (SOAP today) to agents over gRPC, Connect,
// gRPC-Web and REST/JSON, from proto services bound to the backends by options.
//
// Usage:
//
//	agentbridge serve -config agentbridge.yaml   serve the services a config names
//	agentbridge demo                             serve the embedded demo
//	agentbridge config validate -config FILE     check a config and its bindings
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/agentbridge/agentbridge/adapters/standard"
	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	"github.com/agentbridge/agentbridge/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agentbridge:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  agentbridge serve -config FILE [-grpc-addr ADDR] [-http-addr ADDR]
  agentbridge demo [-grpc-addr ADDR] [-http-addr ADDR]
  agentbridge config validate -config FILE
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], logger)
	case "demo":
		return runDemo(ctx, args[1:], stdout, logger)
	case "config":
		if len(args) < 2 || args[1] != "validate" {
			fmt.Fprint(stderr, usage)
			return errors.New("unknown config command")
		}
		return validate(args[2:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func listenerFlags(fs *flag.FlagSet) (grpcAddr, httpAddr *string) {
	grpcAddr = fs.String("grpc-addr", "", `gRPC listener address (default from config, else 127.0.0.1:9090; "off" turns it off)`)
	httpAddr = fs.String("http-addr", "", "HTTP listener address (default from config, else 127.0.0.1:8080)")
	return grpcAddr, httpAddr
}

func serve(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := fs.String("config", "agentbridge.yaml", "config file")
	grpcAddr, httpAddr := listenerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := server.LoadConfig(*path)
	if err != nil {
		return err
	}
	overrideAddrs(cfg, *grpcAddr, *httpAddr)
	srv, err := build(cfg, logger)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

func validate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("config validate", flag.ContinueOnError)
	path := fs.String("config", "agentbridge.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := server.LoadConfig(*path)
	if err != nil {
		return err
	}
	services, err := cfg.BuildServices()
	if err != nil {
		return err
	}
	for _, svc := range services {
		fmt.Fprintf(stdout, "%s: %d methods bound\n", svc.Desc.FullName(), len(svc.Methods))
	}
	fmt.Fprintln(stdout, "config is valid")
	return nil
}

func overrideAddrs(cfg *server.Config, grpcAddr, httpAddr string) {
	if grpcAddr != "" {
		cfg.GRPCAddr = grpcAddr
	}
	if httpAddr != "" {
		cfg.HTTPAddr = httpAddr
	}
}

func build(cfg *server.Config, logger *slog.Logger) (*server.Server, error) {
	services, err := cfg.BuildServices()
	if err != nil {
		return nil, err
	}
	opts, err := cfg.Options()
	if err != nil {
		return nil, err
	}
	return server.New(services, append(opts, server.WithLogger(logger))...)
}

// runDemo starts the legacy inventory system on a loopback port and the bridge in front of it,
// prints the calls to try, and serves until interrupted.
func runDemo(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	grpcAddr, httpAddr := listenerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	legacyLis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	legacy := &http.Server{Handler: demo.NewLegacy(nil), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = legacy.Serve(legacyLis) }()
	defer func() { _ = legacy.Close() }()
	endpoint := "http://" + legacyLis.Addr().String() + "/inventory"

	cfg := demo.Config(endpoint)
	overrideAddrs(cfg, *grpcAddr, *httpAddr)
	srv, err := build(cfg, logger)
	if err != nil {
		return err
	}
	gAddr, hAddr := cfg.GRPCAddr, cfg.HTTPAddr
	if gAddr == "" {
		gAddr = server.DefaultGRPCAddr
	}
	if gAddr == "off" {
		gAddr = ""
	}
	if hAddr == "" {
		hAddr = server.DefaultHTTPAddr
	}
	fmt.Fprintf(stdout, "agentbridge demo\n  legacy SOAP 1.1 inventory system: %s (WSDL: %s?wsdl)\n  bridge HTTP (REST, Connect, gRPC-Web, gRPC): http://%s\n", endpoint, endpoint, hAddr)
	if gAddr != "" {
		fmt.Fprintf(stdout, "  bridge gRPC: %s\n", gAddr)
	}
	fmt.Fprintf(stdout, "\nTry:\n%s\nCtrl-C stops.\n", demo.Calls(hAddr, gAddr))
	return srv.Serve(ctx)
}
