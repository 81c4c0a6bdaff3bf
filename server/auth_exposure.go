package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// WithAuth authenticates and authorizes every call on every surface (see AuthConfig). Without
// credentials configured nobody is asked for any, which Serve allows only on loopback
// listeners unless cfg.Insecure says otherwise. Default: no authentication.
func WithAuth(cfg AuthConfig) Option {
	return func(o *options) { o.auth = &cfg }
}

// checkExposure refuses to serve a listener beyond loopback without authentication, unless the
// operator said insecure; then the log says so at every start.
func (s *Server) checkExposure(grpcLis, httpLis net.Listener) error {
	for _, l := range []struct {
		name string
		lis  net.Listener
	}{{"gRPC", grpcLis}, {"HTTP", httpLis}} {
		if l.lis == nil || isLoopback(l.lis.Addr()) || s.auth != nil {
			continue
		}
		if s.opts.auth != nil && s.opts.auth.Insecure {
			s.log.Warn("serving WITHOUT authentication beyond loopback (auth.insecure: true): anyone who can reach this address can call every method",
				"listener", l.name, "addr", l.lis.Addr().String())
			continue
		}
		return fmt.Errorf("the %s listener %s is reachable beyond loopback and no authentication is configured: %w", l.name, l.lis.Addr(), errNoAuth)
	}
	return nil
}

var errNoAuth = errors.New("configure auth.api_keys, auth.oidc or auth.mtls, or set auth.insecure: true to serve without authentication")

// validateExposure is checkExposure on the config's addresses, for config validate.
func (c *Config) validateExposure() error {
	if c.Auth.enabled() || (c.Auth != nil && c.Auth.Insecure) {
		return nil
	}
	var errs []error
	for _, l := range []struct{ key, addr, def string }{
		{"grpc_addr", c.GRPCAddr, DefaultGRPCAddr},
		{"http_addr", c.HTTPAddr, DefaultHTTPAddr},
	} {
		addr := l.addr
		if addr == "off" {
			continue
		}
		if addr == "" {
			addr = l.def
		}
		if !loopbackAddr(addr) {
			errs = append(errs, fmt.Errorf("config: %s %s is reachable beyond loopback and no authentication is configured: %w", l.key, addr, errNoAuth))
		}
	}
	return errors.Join(errs...)
}

// loopbackAddr reports whether a listen address (host:port) binds loopback only: an empty
// host, 0.0.0.0 or :: bind every interface, and a host name may resolve anywhere.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// applyMTLS asks clients of both listeners for a certificate chaining to the configured CAs.
// A certificate is optional at the handshake (VerifyClientCertIfGiven), so callers with a key
// or token still connect; one that is sent must verify.
func (c *AuthConfig) applyMTLS(cfg *tls.Config) error {
	if c == nil || c.MTLS == nil {
		return nil
	}
	if cfg == nil {
		return errors.New("config: auth.mtls needs tls (cert_file, key_file): client certificates are sent only over TLS")
	}
	pool, err := c.MTLS.clientCAs()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	return nil
}
