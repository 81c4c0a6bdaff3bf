package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// This file carries authentication onto the HTTP listener: the client certificate of a TLS
// connection reaches the chain as the call's peer (as on the gRPC listener), a 401 carries
// WWW-Authenticate, and MCP over HTTP is an OAuth 2.1 resource server as the MCP authorization
// spec asks: every request to /mcp is authenticated before the SDK sees it, and the protected
// resource metadata (RFC 9728) tells clients where to get a token.

// wellKnownResource is the RFC 9728 metadata path; the path-suffixed form
// (/.well-known/oauth-protected-resource/mcp) describes the MCP endpoint.
const wellKnownResource = "/.well-known/oauth-protected-resource"

// authHTTP wraps the HTTP listener's handler when authentication is on.
func (s *Server) authHTTP(next http.Handler) http.Handler {
	a := s.auth
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wellKnownResource || strings.HasPrefix(r.URL.Path, wellKnownResource+"/") {
			s.serveResourceMetadata(w, r)
			return
		}
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			r = r.WithContext(peer.NewContext(r.Context(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: *r.TLS}}))
		}
		if isMCPPath(r.URL.Path) {
			s.serveMCPAuthenticated(w, r, next)
			return
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			// gRPC answers 200 with grpc-status; every other protocol answers 401 for
			// Unauthenticated, which HTTP says must carry a challenge.
			w = &challengeWriter{ResponseWriter: w, challenge: s.challenge(r)}
		}
		next.ServeHTTP(w, r)
	})
}

// challenge is the WWW-Authenticate value of a 401: Bearer, with the resource metadata's URL
// when an OIDC issuer hands out tokens.
func (s *Server) challenge(r *http.Request) string {
	a := s.auth
	if a.oidc == nil && len(a.keys) > 0 && a.keyHeader != "authorization" {
		return `APIKey realm="agentbridge", header="` + a.keyHeader + `"`
	}
	c := `Bearer realm="agentbridge"`
	if a.oidc != nil {
		meta := s.baseURL(r) + wellKnownResource
		if isMCPPath(r.URL.Path) {
			meta += r.URL.Path
		}
		c += `, resource_metadata="` + meta + `"`
	}
	return c
}

// baseURL is the scheme and host clients reach the listener by: from auth.resource when set,
// else from the request.
func (s *Server) baseURL(r *http.Request) string {
	if res := s.resource(r); res != "" {
		if u, err := url.Parse(res); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// resource is the configured resource identifier, or the OIDC audience when it is a URL.
func (s *Server) resource(_ *http.Request) string {
	a := s.auth
	if a.cfg.Resource != "" {
		return a.cfg.Resource
	}
	if a.oidc != nil {
		if u, err := url.Parse(a.oidc.cfg.Audience); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			return a.oidc.cfg.Audience
		}
	}
	return ""
}

// serveResourceMetadata serves RFC 9728 protected resource metadata: the resource identifier
// (the audience tokens must carry), the issuer that grants them, and the scopes methods need.
// It is public: clients read it before they have a token.
func (s *Server) serveResourceMetadata(w http.ResponseWriter, r *http.Request) {
	a := s.auth
	if a.oidc == nil {
		http.Error(w, "no OAuth authorization server is configured (auth.oidc); use the credentials the operator gave you", http.StatusNotFound)
		return
	}
	res := s.resource(r)
	if res == "" {
		res = s.baseURL(r) + strings.TrimPrefix(r.URL.Path, wellKnownResource)
	}
	meta := &oauthex.ProtectedResourceMetadata{
		Resource:               res,
		AuthorizationServers:   []string{a.oidc.cfg.Issuer},
		ScopesSupported:        a.scopes.knownScopes(s.gen.Load().methods),
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "agentbridge",
	}
	auth.ProtectedResourceMetadataHandler(meta).ServeHTTP(w, r)
}

// serveMCPAuthenticated authenticates a request to /mcp before the SDK sees it, answering 401
// with the challenge when it proves no one, and hands the principal to the SDK as its token
// info: the SDK binds each session to the principal that opened it (another principal's request
// on it is refused), and passes it to every request's handler, where mcpAuth reads it.
func (s *Server) serveMCPAuthenticated(w http.ResponseWriter, r *http.Request, next http.Handler) {
	a := s.auth
	p, err := a.authenticate(r.Context(), r.Header.Values("Authorization"), r.Header.Values(a.keyHeader))
	if err != nil {
		st, _ := status.FromError(err)
		writeStatus(&challengeWriter{ResponseWriter: w, challenge: s.challenge(r)}, r, st)
		return
	}
	ti := &auth.TokenInfo{UserID: string(p.Method) + ":" + p.ID, Scopes: p.Scopes, Extra: map[string]any{principalExtraKey: p}}
	// The SDK takes token info only from its own bearer middleware, which reads the
	// Authorization header; it is given one of its own to read, and the request the SDK then
	// serves keeps the caller's headers.
	headers := r.Header
	probe := r.WithContext(r.Context())
	probe.Header = http.Header{"Authorization": {"Bearer principal"}}
	verified := func(context.Context, string, *http.Request) (*auth.TokenInfo, error) { return ti, nil }
	auth.RequireBearerToken(verified, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header = headers
			next.ServeHTTP(w, r)
		})).ServeHTTP(w, probe)
}

const principalExtraKey = "agentbridge.principal"

// mcpAuth is receiving middleware on every MCP server: it gives each request the principal the
// HTTP layer authenticated (or, on stdio, the local operator), and leaves out of tools/list the
// tools the principal may not call. tools/call is checked by the chain, as on every surface.
func (s *Server) mcpAuth(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		a := s.auth
		if a == nil {
			return next(ctx, method, req)
		}
		var p *Principal
		extra := req.GetExtra()
		if extra != nil && extra.TokenInfo != nil {
			p, _ = extra.TokenInfo.Extra[principalExtraKey].(*Principal)
		}
		if p == nil {
			if extra != nil && extra.Header != nil {
				// Over HTTP without the HTTP layer's principal: not a request this server let in.
				return nil, errors.New("unauthenticated: " + a.hint)
			}
			p = localPrincipal // stdio and other in-process transports
		}
		ctx = withPrincipal(ctx, p)
		res, err := next(ctx, method, req)
		if list, ok := res.(*mcp.ListToolsResult); ok && err == nil && p.Method != AuthLocal {
			s.filterTools(list, p)
		}
		return res, err
	}
}

// filterTools keeps the tools p may call. The list then differs by caller, so it is marked
// private for caches.
func (s *Server) filterTools(list *mcp.ListToolsResult, p *Principal) {
	g := s.gen.Load()
	kept := list.Tools[:0:0]
	for _, t := range list.Tools {
		if gt := g.tool(t.Name); gt != nil && s.auth.scopes.allows(p, gt.method.desc) {
			kept = append(kept, t)
		}
	}
	list.Tools = kept
	list.CacheScope = "private"
}

// challengeWriter gives a 401 the WWW-Authenticate challenge. grpc-gateway's error handler
// puts the status message there, which is no challenge a client can parse, so it is replaced.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (c *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", c.challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming responses (Connect and REST server streams) flushing.
func (c *challengeWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
