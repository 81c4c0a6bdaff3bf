package server

import (
	"net"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Limits bound what clients can hold on the listeners: connections, streams, and time spent
// sending a body or sitting idle. Zero fields take the defaults below (config `limits:`).
type Limits struct {
	// MaxConnections caps open connections per listener; past it new connections wait in the
	// kernel's backlog until one closes. Default 1024.
	MaxConnections int `yaml:"max_connections"`
	// MaxConcurrentStreams caps the calls in flight on one HTTP/2 connection, on the gRPC
	// listener and for h2 on the HTTP listener. Default 100.
	MaxConcurrentStreams uint32 `yaml:"max_concurrent_streams"`
	// BodyTimeout bounds how long a client may take to send a request, headers and body (the
	// HTTP listener's http.Server.ReadTimeout); a slower client gets its request failed and,
	// on HTTP/1.1, its connection closed. It ends with the body: a call may run longer.
	// Default 20s.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// IdleTimeout closes connections that carry no call for this long, on both listeners.
	// Default 2m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// KeepaliveMinTime is the shortest interval between a gRPC client's keepalive pings that the
	// gRPC listener accepts; a client pinging faster is sent GOAWAY (too_many_pings), as pings
	// cost the server work without carrying calls. Default 30s.
	KeepaliveMinTime time.Duration `yaml:"keepalive_min_time"`
	// Rate are inbound rate limits, per principal and per method; see RateRule. Default: none.
	Rate []RateRule `yaml:"rate"`
}

// Defaults of Limits.
const (
	DefaultMaxConnections       = 1024
	DefaultMaxConcurrentStreams = 100
	DefaultBodyTimeout          = 20 * time.Second
	DefaultIdleTimeout          = 2 * time.Minute
	DefaultKeepaliveMinTime     = 30 * time.Second
)

// withDefaults returns l with zero fields set to their defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultMaxConnections
	}
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = DefaultBodyTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.KeepaliveMinTime <= 0 {
		l.KeepaliveMinTime = DefaultKeepaliveMinTime
	}
	return l
}

// WithLimits sets the listener limits; zero fields keep their defaults (see Limits).
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l.withDefaults() } }

// grpcLimitOptions are the gRPC listener's stream cap and keepalive policy. The server pings a
// connection idle for two minutes and drops it when the ping goes unanswered, so a vanished
// peer does not hold a connection (and a slot under MaxConnections) forever.
func (l Limits) grpcLimitOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxConcurrentStreams(l.MaxConcurrentStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: l.KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: l.IdleTimeout, Time: 2 * time.Minute, Timeout: 20 * time.Second}),
	}
}

// limitListener caps the connections a listener holds open at once.
func (l Limits) limitListener(lis net.Listener) net.Listener {
	return netutil.LimitListener(lis, l.MaxConnections)
}
