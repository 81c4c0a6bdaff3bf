package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/agentbridge/agentbridge/adapters"
)

// Config is the runtime config (YAML): listeners, the services to serve, and the backends
// their bindings name. The proto says what to call; the config says where.
type Config struct {
	// GRPCAddr is the gRPC listener's address; "off" turns it off. Default 127.0.0.1:9090.
	GRPCAddr string `yaml:"grpc_addr"`
	// HTTPAddr is the HTTP listener's address. Default 127.0.0.1:8080.
	HTTPAddr string `yaml:"http_addr"`
	// TLS serves the HTTP listener over TLS when set.
	TLS *TLSConfig `yaml:"tls"`
	// ShutdownGrace is how long calls in flight may finish after SIGINT/SIGTERM. Default 15s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// MaxBodyBytes bounds request bodies on every surface. Default 4 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MCP configures the MCP surface (toolsets, allowed origins).
	MCP MCPOptions `yaml:"mcp"`
	// Services lists the full names of the proto services to serve.
	Services []string `yaml:"services"`
	// Backends names the legacy systems that method bindings refer to.
	Backends map[string]adapters.Backend `yaml:"backends"`
}

// TLSConfig names a certificate and key in PEM files.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// LoadConfig reads a YAML config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes a YAML config strictly: an unknown key is an error, not ignored.
func ParseConfig(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &c, c.Validate()
}

// Validate checks what can be checked without building anything.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Services) == 0 {
		errs = append(errs, errors.New("config: services is empty"))
	}
	for name, b := range c.Backends {
		if b.Kind == "" {
			errs = append(errs, fmt.Errorf("config: backend %q has no kind", name))
		}
		if b.Endpoint == "" {
			errs = append(errs, fmt.Errorf("config: backend %q has no endpoint", name))
		}
	}
	return errors.Join(errs...)
}

// Options turns the listener settings into server options.
func (c *Config) Options() ([]Option, error) {
	var opts []Option
	switch c.GRPCAddr {
	case "":
	case "off":
		opts = append(opts, WithGRPCAddr(""))
	default:
		opts = append(opts, WithGRPCAddr(c.GRPCAddr))
	}
	if c.HTTPAddr != "" {
		opts = append(opts, WithHTTPAddr(c.HTTPAddr))
	}
	if c.ShutdownGrace > 0 {
		opts = append(opts, WithShutdownGrace(c.ShutdownGrace))
	}
	if c.MaxBodyBytes > 0 {
		opts = append(opts, WithMaxBodyBytes(c.MaxBodyBytes))
	}
	opts = append(opts, WithMCP(c.MCP))
	if c.TLS != nil {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config: tls: %w", err)
		}
		opts = append(opts, WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}
	return opts, nil
}

// BuildServices makes an adapter per backend and binds every method of every listed service.
func (c *Config) BuildServices() ([]Service, error) {
	backends := make(map[string]adapters.Adapter, len(c.Backends))
	names := make([]string, 0, len(c.Backends))
	for name := range c.Backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b := c.Backends[name]
		b.Name = name
		a, err := adapters.New(b)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		backends[name] = a
	}
	services := make([]Service, 0, len(c.Services))
	var errs []error
	for _, name := range c.Services {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("config: service %q is not linked into this binary", name))
			continue
		}
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if !ok {
			errs = append(errs, fmt.Errorf("config: %q is not a service", name))
			continue
		}
		methods, streams, err := adapters.BindService(sd, backends)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		services = append(services, Service{Desc: sd, Methods: methods, Streams: streams, Gateway: gatewayFor(sd.FullName())})
	}
	return services, errors.Join(errs...)
}

// GatewayFunc registers one service's REST routes; see Service.Gateway.
type GatewayFunc = func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error

var (
	gatewaysMu sync.RWMutex
	gateways   = map[protoreflect.FullName]GatewayFunc{}
)

// RegisterGateway makes a service's REST routes known to configs that serve it. grpc-gateway
// generates the routes as Go, so each service linked into a binary registers them once, in an
// init function.
func RegisterGateway(service protoreflect.FullName, f GatewayFunc) {
	gatewaysMu.Lock()
	defer gatewaysMu.Unlock()
	if _, dup := gateways[service]; dup {
		panic(fmt.Sprintf("server: REST routes of %s registered twice", service))
	}
	gateways[service] = f
}

func gatewayFor(service protoreflect.FullName) GatewayFunc {
	gatewaysMu.RLock()
	defer gatewaysMu.RUnlock()
	return gateways[service]
}
