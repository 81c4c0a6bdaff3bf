// Command agentbridge serves legacy backends (SOAP today) to agents over gRPC, Connect,
// gRPC-Web and REST/JSON, from proto services bound to the backends by options.
//
// Usage:
//
//	agentbridge serve -config agentbridge.yaml [-watch]  serve the services a config names;
//	                                             SIGHUP (or, with -watch, a changed file) reloads
//	agentbridge demo                             serve the embedded demo
//	agentbridge mcp -stdio [-config FILE|-demo]  serve the MCP tools over stdio (desktop hosts)
//	agentbridge config validate -config FILE     check a config and its bindings
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
  agentbridge serve -config FILE [-watch] [-grpc-addr ADDR] [-http-addr ADDR]
  agentbridge demo [-grpc-addr ADDR] [-http-addr ADDR] [-legacy-addr ADDR]
  agentbridge mcp -stdio [-config FILE | -demo] [-toolset NAME]
  agentbridge config validate -config FILE
  agentbridge import wsdl SOURCE -o DIR [-package P] [-binding B] [-read-only 'Get*,List*'] [-endpoint URL]
  agentbridge hash-key < KEYFILE   (prints the SHA-256 for auth.api_keys[].sha256)
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
	case "mcp":
		return serveMCP(ctx, args[1:], logger)
	case "config":
		if len(args) < 2 || args[1] != "validate" {
			fmt.Fprint(stderr, usage)
			return errors.New("unknown config command")
		}
		return validate(args[2:], stdout)
	case "hash-key":
		return hashKey(os.Stdin, stdout)
	case "import":
		return importCmd(ctx, args[1:], stdout, stderr)
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
	watch := fs.Bool("watch", false, "reload when the config, a .proto under its proto paths or a descriptor set changes (SIGHUP always reloads)")
	grpcAddr, httpAddr := listenerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	load := func() (*server.Config, error) {
		cfg, err := server.LoadConfig(*path)
		if err != nil {
			return nil, err
		}
		overrideAddrs(cfg, *grpcAddr, *httpAddr)
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	srv, err := cfg.Build(server.WithLogger(logger))
	if err != nil {
		return err
	}
	go reloadLoop(ctx, srv, load, *watch, logger)
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
	// Build exactly what serve builds, minus the listeners and the embedded store's lock (a
	// running bridge holds it): its file is checked instead.
	srv, err := cfg.Build(server.WithLogger(slog.New(slog.DiscardHandler)), server.CheckOnly())
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, svc := range srv.Services() {
		n := svc.Desc.Methods().Len()
		fmt.Fprintf(stdout, "%s: %d %s bound\n", svc.Desc.FullName(), n, map[bool]string{true: "method", false: "methods"}[n == 1])
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

// DefaultLegacyAddr is where the demo's legacy SOAP system listens, so that its endpoint and
// WSDL stay put for configs and imports written against it.
const DefaultLegacyAddr = "127.0.0.1:8081"

// runDemo starts the legacy inventory system and the bridge in front of it, prints the bound
// addresses and the calls to try, and serves until interrupted. Port 0 picks a free port; the
// printed addresses are the bound ones.
func runDemo(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	grpcAddr, httpAddr := listenerFlags(fs)
	legacyAddr := fs.String("legacy-addr", DefaultLegacyAddr, "address of the demo's legacy SOAP system")
	if err := fs.Parse(args); err != nil {
		return err
	}
	legacy, endpoint, stop, err := startLegacy(ctx, *legacyAddr)
	if err != nil {
		return err
	}
	defer stop()
	secret, err := demoHookSecret()
	if err != nil {
		return err
	}

	cfg := demo.Config(endpoint)
	overrideAddrs(cfg, *grpcAddr, *httpAddr)
	srv, err := cfg.Build(server.WithLogger(logger))
	if err != nil {
		return err
	}
	gAddr, hAddr := cfg.GRPCAddr, cfg.HTTPAddr
	if gAddr == "" {
		gAddr = server.DefaultGRPCAddr
	}
	if hAddr == "" {
		hAddr = server.DefaultHTTPAddr
	}
	var lc net.ListenConfig
	httpLis, err := lc.Listen(ctx, "tcp", hAddr)
	if err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}
	var grpcLis net.Listener
	if gAddr != "off" {
		if grpcLis, err = lc.Listen(ctx, "tcp", gAddr); err != nil {
			_ = httpLis.Close()
			return fmt.Errorf("gRPC listener: %w", err)
		}
		gAddr = grpcLis.Addr().String()
	} else {
		gAddr = ""
	}
	hAddr = httpLis.Addr().String()
	fmt.Fprintf(stdout, "agentbridge demo\n  legacy SOAP 1.1 inventory system: %s (WSDL: %s?wsdl)\n  bridge HTTP (REST, Connect, gRPC-Web, gRPC): http://%s\n  MCP (Streamable HTTP): http://%s/mcp\n", endpoint, endpoint, hAddr, hAddr)
	if gAddr != "" {
		fmt.Fprintf(stdout, "  bridge gRPC: %s\n", gAddr)
	}
	fmt.Fprintf(stdout, "\nTry:\n%s\nCtrl-C stops.\n", demo.Calls(hAddr, gAddr))
	// The warehouse posts its events to the bridge's hooks once the bridge listens; the
	// sender retries until they are stored, so events raised before serving starts arrive.
	defer legacy.NotifyTo("http://"+hAddr, secret)()
	return srv.ServeListeners(ctx, grpcLis, httpLis)
}

// demoHookSecret is the secret the demo warehouse signs its events with: the one in
// demo.EventSecretEnv, or a random one put there for the demo's config to read.
func demoHookSecret() ([]byte, error) {
	if s := os.Getenv(demo.EventSecretEnv); s != "" {
		return []byte(s), nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(b)
	if err := os.Setenv(demo.EventSecretEnv, s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// startLegacy serves the demo's legacy SOAP system at addr.
func startLegacy(ctx context.Context, addr string) (legacy *demo.Legacy, endpoint string, stop func(), err error) {
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, "", nil, fmt.Errorf("the demo's legacy system: %w (choose another address with -legacy-addr)", err)
	}
	legacy = demo.NewLegacy(nil)
	hs := &http.Server{Handler: legacy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	return legacy, "http://" + lis.Addr().String() + "/inventory", func() { _ = hs.Close() }, nil
}

// serveMCP serves the MCP surface over stdio, for desktop hosts that start the bridge as a
// subprocess. Logs go to stderr; stdout carries only the protocol.
func serveMCP(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	stdio := fs.Bool("stdio", false, "serve MCP over standard input and output")
	path := fs.String("config", "", "config file")
	withDemo := fs.Bool("demo", false, "serve the embedded demo (its legacy system runs in this process)")
	legacyAddr := fs.String("legacy-addr", "127.0.0.1:0", "with -demo: address of the demo's legacy SOAP system")
	toolset := fs.String("toolset", "", "serve only this toolset from the config")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*stdio {
		return errors.New("mcp: only -stdio is supported here; the HTTP transport is served by serve and demo at /mcp")
	}
	var cfg *server.Config
	switch {
	case *withDemo && *path != "":
		return errors.New("mcp: give -config or -demo, not both")
	case *withDemo:
		_, endpoint, stop, err := startLegacy(ctx, *legacyAddr)
		if err != nil {
			return err
		}
		defer stop()
		cfg = demo.Config(endpoint)
		// Over stdio there is no HTTP listener for the warehouse to post events to.
		cfg.Events = server.EventsConfig{}
	case *path != "":
		var err error
		if cfg, err = server.LoadConfig(*path); err != nil {
			return err
		}
	default:
		return errors.New("mcp: give -config FILE or -demo")
	}
	if cfg.Audit.Sink == "stdout" {
		// stdout carries the MCP protocol here; audit lines in it would break the host's reader.
		return errors.New("mcp: audit.sink stdout would mix audit lines into the MCP protocol on stdout; use stderr (the default), off or a file")
	}
	srv, err := cfg.Build(server.WithLogger(logger))
	if err != nil {
		return err
	}
	if *path != "" {
		reload := func() (*server.Config, error) { return server.LoadConfig(*path) }
		go reloadLoop(ctx, srv, reload, false, logger)
	}
	return srv.ServeMCPStdio(ctx, *toolset)
}
