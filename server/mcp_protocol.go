package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MCPProtocolOptions configures the MCP protocol features a bridge in front of slow legacy
// systems needs: sessions, statelessness and progress. In YAML its keys sit directly under mcp.
type MCPProtocolOptions struct {
	// Stateless serves Streamable HTTP without sessions (the go-sdk's stateless mode, the
	// sessionless protocol of 2026-07-28 and later), so replicas behind a load balancer need
	// no sticky sessions. Server-to-client requests are then impossible, and
	// notifications/cancelled cannot reach a call that another replica serves: closing the
	// call's HTTP request cancels it instead. Default false. A reload cannot change it.
	Stateless bool `yaml:"stateless"`
	// SessionIdleTimeout closes a Streamable HTTP session that has sent no request for this
	// long, and frees its memory. Default 30m (DefaultMCPSessionIdleTimeout); negative keeps
	// idle sessions forever. A reload cannot change it.
	SessionIdleTimeout time.Duration `yaml:"session_idle_timeout"`
	// MaxSessions bounds the live Streamable HTTP sessions over all toolsets; an initialize
	// beyond it is refused with HTTP 503 and a JSON-RPC error saying so. Default 10000
	// (DefaultMCPMaxSessions); negative means no bound.
	MaxSessions int `yaml:"max_sessions"`
	// ProgressInterval is how often a tools/call that carries a progress token hears that the
	// backend is still working (notifications/progress). A server-streaming tool reports each
	// message it collects instead. Default 1s (DefaultMCPProgressInterval); negative turns the
	// heartbeat off.
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// WSDL maps a backend name to the location of its WSDL, an http(s) URL or a file, served as
	// the MCP resource agentbridge://wsdl/{backend}. Config fills it from each backend's wsdl
	// key.
	WSDL map[string]string `yaml:"-"`
}

// Defaults of MCPProtocolOptions.
const (
	DefaultMCPSessionIdleTimeout = 30 * time.Minute
	DefaultMCPMaxSessions        = 10000
	DefaultMCPProgressInterval   = time.Second
)

func (o MCPProtocolOptions) sessionIdleTimeout() time.Duration {
	switch {
	case o.SessionIdleTimeout < 0:
		return 0 // the SDK's "never"
	case o.SessionIdleTimeout == 0:
		return DefaultMCPSessionIdleTimeout
	}
	return o.SessionIdleTimeout
}

func (o MCPProtocolOptions) maxSessions() int {
	if o.MaxSessions == 0 {
		return DefaultMCPMaxSessions
	}
	return o.MaxSessions
}

func (o MCPProtocolOptions) progressInterval() time.Duration {
	if o.ProgressInterval == 0 {
		return DefaultMCPProgressInterval
	}
	return o.ProgressInterval
}

// newMCPServer makes the MCP server of one toolset. Tools and resources are added by
// updateMCP and updateMCPResources.
func (s *Server) newMCPServer() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "agentbridge", Title: "agentbridge", Version: "v1"}, &mcp.ServerOptions{
		Instructions: "Tools call legacy enterprise systems through agentbridge. Send only the properties a tool's schema lists; 64-bit integers are decimal strings. " +
			"Resources hold the contract: the OpenAPI document, the proto files and, where known, each backend's WSDL.",
		Logger: s.log.With("surface", "mcp"),
		// Subscribing lets a client hear notifications/resources/updated when a reload changes
		// the contract behind a resource it reads; the SDK keeps the subscriptions.
		SubscribeHandler:   s.subscribeResource,
		UnsubscribeHandler: s.unsubscribeEvents, // nothing to do but for event sources (mcp_events.go)
	})
	srv.AddReceivingMiddleware(cancelWithRequest, s.progressMiddleware)
	return srv
}

// progressKey carries a call's *progress in its context, from the middleware to collectStream.
type progressKey struct{}

// progress sends notifications/progress for one tools/call that asked for them. Progress only
// grows, as the protocol requires, whichever goroutine reports.
type progress struct {
	session *mcp.ServerSession
	token   any
	mu      sync.Mutex
	last    float64
}

// progressMiddleware starts progress reporting for a tools/call that carries a progress token:
// a heartbeat for a unary method, whose backend gives no sign of life until it answers; a
// streaming tool reports each message in collectStream. The heartbeat stops before the result
// is returned, so no notification follows the response.
func (s *Server) progressMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		call, ok := req.(*mcp.CallToolRequest)
		if !ok || call.Params == nil || call.Session == nil {
			return next(ctx, method, req)
		}
		token := call.Params.GetProgressToken()
		if token == nil {
			return next(ctx, method, req)
		}
		p := &progress{session: call.Session, token: token}
		ctx = context.WithValue(ctx, progressKey{}, p)
		g := s.gen.Load()
		if t := g.tool(call.Params.Name); t != nil && t.method.stream == nil {
			if every := g.mcpOpts.progressInterval(); every > 0 {
				stop := p.heartbeat(ctx, every, t.tool.Title)
				defer stop()
			}
		}
		return next(ctx, method, req)
	}
}

// heartbeat reports, every interval until stop is called or ctx ends, that the backend has not
// answered yet. stop returns once no notification can be sent any more.
func (p *progress) heartbeat(ctx context.Context, every time.Duration, what string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		start := time.Now()
		for beat := 1; ; beat++ {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			elapsed := time.Since(start).Round(every)
			p.notify(ctx, float64(beat), 0, fmt.Sprintf("%s: waiting for the backend to answer (%s so far)", what, elapsed))
		}
	}()
	return func() { cancel(); <-done }
}

// notify sends one progress notification unless it would not be above the last one. Failures
// are not the call's: a client that went away is seen by the call through its context.
func (p *progress) notify(ctx context.Context, value, total float64, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if value <= p.last || ctx.Err() != nil {
		return
	}
	p.last = value
	_ = p.session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: p.token, Progress: value, Total: total, Message: message})
}

// reportItem tells a caller that asked for progress that a streaming tool has collected n of
// at most limit messages.
func reportItem(ctx context.Context, n, limit int) {
	if p, ok := ctx.Value(progressKey{}).(*progress); ok {
		p.notify(ctx, float64(n), float64(limit), fmt.Sprintf("collected %d of at most %d messages", n, limit))
	}
}
