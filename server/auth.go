package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// This file authenticates every call, on every surface, as the first interceptor of the chain:
// an API key, a bearer token from an OIDC issuer, or a client certificate becomes a Principal
// in the context. The credential itself is taken out of the call's metadata once checked, so no
// later interceptor, implementation or backend request can see it, log it or forward it.

// AuthMethod says how a principal proved who it is.
type AuthMethod string

// The ways a principal can be authenticated.
const (
	AuthAPIKey AuthMethod = "api_key" // a key from auth.api_keys
	AuthJWT    AuthMethod = "jwt"     // a bearer token signed by the auth.oidc issuer
	AuthMTLS   AuthMethod = "mtls"    // a client certificate from auth.mtls.client_ca_file
	AuthLocal  AuthMethod = "local"   // MCP over stdio: the operator who started the process
)

// Principal is who a call is made by. It never holds the credential it was proved with.
type Principal struct {
	// ID names the caller: the API key's id, the token's subject, or the certificate's URI or
	// DNS name (else its subject's common name).
	ID string
	// Scopes are what the caller may do; see AuthConfig.Scopes.
	Scopes []string
	// Method is how the caller was authenticated.
	Method AuthMethod
}

// HasScope reports whether the principal holds scope.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

type principalKey struct{}

// PrincipalFromContext returns the principal of the call being served, or nil when the server
// runs without authentication.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// localPrincipal is the caller on MCP over stdio: the host that started the process, with the
// operator's own rights (it can read the config, and so every key hash and scope, anyway).
var localPrincipal = &Principal{ID: "local", Method: AuthLocal}

// AuthConfig configures inbound authentication and authorization (YAML under auth:). A server
// with any credential source configured refuses calls that prove none (Unauthenticated) and
// calls whose principal lacks a method's scopes (PermissionDenied), on every surface.
type AuthConfig struct {
	// Insecure serves without authentication on listeners bound beyond loopback, which is
	// otherwise refused at start. The log says so at every start.
	Insecure bool `yaml:"insecure"`
	// APIKeys are the accepted API keys, by the SHA-256 of the key: the config never holds a
	// key itself.
	APIKeys []APIKey `yaml:"api_keys"`
	// APIKeyHeader is the header (gRPC metadata key) API keys arrive in. Default x-api-key;
	// "authorization" takes them as Authorization: Bearer KEY.
	APIKeyHeader string `yaml:"api_key_header"`
	// OIDC accepts JWT bearer tokens signed by an OpenID Connect issuer.
	OIDC *OIDCConfig `yaml:"oidc"`
	// MTLS accepts client certificates as service accounts. It needs tls.
	MTLS *MTLSConfig `yaml:"mtls"`
	// Scopes are the scopes each method needs, by full method name (package.Service.Method) or
	// a glob over it ("package.Service.*"): the caller needs every scope listed. The most
	// specific (longest) matching pattern wins, and it overrides the method's
	// (agentbridge.v1.scopes) option; an empty list lets any authenticated caller in.
	Scopes map[string][]string `yaml:"scopes"`
	// Resource is the MCP endpoint's URL as clients reach it (https://bridge.example.com/mcp), the
	// resource identifier of its OAuth protected resource metadata (RFC 9728). Default: the
	// OIDC audience when it is a URL, else built from the request's Host.
	Resource string `yaml:"resource"`
}

// APIKey is one accepted API key.
type APIKey struct {
	// ID names the caller the key belongs to; it is the principal's ID.
	ID string `yaml:"id"`
	// SHA256 is the hex SHA-256 of the key: agentbridge hash-key, or
	// printf %s "$KEY" | sha256sum.
	SHA256 string `yaml:"sha256"`
	// Scopes are the caller's scopes.
	Scopes []string `yaml:"scopes"`
}

// OIDCConfig accepts JWT bearer tokens from one issuer.
type OIDCConfig struct {
	// Issuer is the issuer URL; its discovery document names the JWKS the tokens are checked
	// against. Tokens must carry it as iss.
	Issuer string `yaml:"issuer"`
	// Audience must be among a token's aud: the bridge's own identifier (for MCP, the resource
	// URL clients ask tokens for), so a token minted for another service is refused.
	Audience string `yaml:"audience"`
	// Algorithms are the signature algorithms accepted. Default RS256.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is how long after exp a token is still accepted, for clocks that differ.
	// Default 30s; at most 5m.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// ScopesClaim is the claim holding the scopes: a space-separated string (scope) or a list
	// (scp). Default: scope, else scp.
	ScopesClaim string `yaml:"scopes_claim"`
}

// MTLSConfig accepts client certificates that chain to a CA as service accounts.
type MTLSConfig struct {
	// ClientCAFile holds the PEM certificates of the CAs client certificates must chain to. It
	// applies to both listeners; a client without a certificate may still use other credentials.
	ClientCAFile string `yaml:"client_ca_file"`
	// Principals are the service accounts, by the certificate's identity (its first URI SAN,
	// else its first DNS SAN, else its subject's common name), with their scopes. A certificate
	// whose identity is not listed is refused.
	Principals map[string][]string `yaml:"principals"`
}

// enabled reports whether any credential source is configured.
func (c *AuthConfig) enabled() bool {
	return c != nil && (len(c.APIKeys) > 0 || c.OIDC != nil || c.MTLS != nil)
}

// Validate checks the auth config without reaching the issuer.
func (c *AuthConfig) Validate() error {
	if c == nil {
		return nil
	}
	var errs []error
	if c.Insecure && c.enabled() {
		errs = append(errs, errors.New("auth: insecure is set together with credentials; remove one"))
	}
	ids := map[string]bool{}
	for i, k := range c.APIKeys {
		if k.ID == "" {
			errs = append(errs, fmt.Errorf("auth: api_keys[%d] has no id", i))
		}
		if ids[k.ID] {
			errs = append(errs, fmt.Errorf("auth: api key id %q is used twice", k.ID))
		}
		ids[k.ID] = true
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("auth: api key %q: sha256 must be 64 hex digits (agentbridge hash-key, or printf %%s \"$KEY\" | sha256sum), not the key itself", k.ID))
		}
	}
	switch strings.ToLower(c.APIKeyHeader) {
	case "", "authorization":
	default:
		if strings.HasPrefix(strings.ToLower(c.APIKeyHeader), "grpc-") || strings.ContainsAny(c.APIKeyHeader, " :") {
			errs = append(errs, fmt.Errorf("auth: api_key_header %q is not a usable header name", c.APIKeyHeader))
		}
	}
	if o := c.OIDC; o != nil {
		if o.Issuer == "" {
			errs = append(errs, errors.New("auth: oidc.issuer is empty"))
		}
		if o.Audience == "" {
			errs = append(errs, errors.New("auth: oidc.audience is empty; set the identifier tokens for this bridge carry in aud"))
		}
		if o.ClockSkew < 0 || o.ClockSkew > 5*time.Minute {
			errs = append(errs, fmt.Errorf("auth: oidc.clock_skew %s: use 0 to 5m", o.ClockSkew))
		}
		for _, alg := range o.Algorithms {
			if strings.EqualFold(alg, "none") || strings.HasPrefix(strings.ToUpper(alg), "HS") {
				errs = append(errs, fmt.Errorf("auth: oidc.algorithms: %s is not accepted; use asymmetric algorithms (RS256, ES256, …)", alg))
			}
		}
	}
	if m := c.MTLS; m != nil && m.ClientCAFile == "" {
		errs = append(errs, errors.New("auth: mtls.client_ca_file is empty"))
	}
	for pattern := range c.Scopes {
		if err := checkGlob(pattern); err != nil {
			errs = append(errs, fmt.Errorf("auth: scopes: %w", err))
		}
	}
	return errors.Join(errs...)
}

// clientCAs loads the CAs client certificates must chain to.
func (m *MTLSConfig) clientCAs() (*x509.CertPool, error) {
	data, err := os.ReadFile(m.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("auth: mtls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("auth: mtls.client_ca_file %s holds no PEM certificate", m.ClientCAFile)
	}
	return pool, nil
}

// authenticator checks credentials. It is built once from an AuthConfig.
type authenticator struct {
	cfg       AuthConfig
	keys      []apiKey
	keyHeader string // lower-case; "authorization" for Authorization: Bearer
	oidc      *oidcVerifier
	certs     map[string]*Principal // mTLS service accounts by certificate identity; nil without mtls
	scopes    *scopePolicy
	hint      string // what to send, for Unauthenticated messages
}

type apiKey struct {
	hash      [sha256.Size]byte
	principal *Principal
}

func newAuthenticator(cfg AuthConfig) (*authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &authenticator{cfg: cfg, keyHeader: strings.ToLower(cfg.APIKeyHeader), scopes: newScopePolicy(cfg.Scopes)}
	if a.keyHeader == "" {
		a.keyHeader = "x-api-key"
	}
	for _, k := range cfg.APIKeys {
		var ak apiKey
		b, _ := hex.DecodeString(k.SHA256)
		copy(ak.hash[:], b)
		ak.principal = &Principal{ID: k.ID, Scopes: slices.Clone(k.Scopes), Method: AuthAPIKey}
		a.keys = append(a.keys, ak)
	}
	if cfg.OIDC != nil {
		a.oidc = newOIDCVerifier(*cfg.OIDC)
	}
	if cfg.MTLS != nil {
		a.certs = make(map[string]*Principal, len(cfg.MTLS.Principals))
		for id, scopes := range cfg.MTLS.Principals {
			a.certs[id] = &Principal{ID: id, Scopes: slices.Clone(scopes), Method: AuthMTLS}
		}
	}
	var ways []string
	if a.oidc != nil {
		ways = append(ways, "an OAuth access token from "+cfg.OIDC.Issuer+" (audience "+cfg.OIDC.Audience+") as Authorization: Bearer TOKEN")
	}
	if len(a.keys) > 0 {
		if a.keyHeader == "authorization" {
			ways = append(ways, "an API key as Authorization: Bearer KEY")
		} else {
			ways = append(ways, "an API key in the "+a.keyHeader+" header")
		}
	}
	if a.certs != nil {
		ways = append(ways, "a client certificate over TLS")
	}
	a.hint = "send " + strings.Join(ways, ", or ")
	return a, nil
}

// Errors for calls without acceptable credentials. Messages say what to send and never repeat
// what was sent.
func (a *authenticator) missing() error {
	return status.Error(codes.Unauthenticated, "this call needs credentials: "+a.hint)
}

func (a *authenticator) rejected(what string) error {
	return status.Error(codes.Unauthenticated, what+" was not accepted; "+a.hint)
}

// authenticate finds the caller of a call from its credentials (the values of the
// authorization and API key headers, or gRPC metadata keys) and its TLS peer. Explicit
// credentials come first: a client certificate identifies the machine, a key or token the
// caller on it.
func (a *authenticator) authenticate(ctx context.Context, authorization, apiKey []string) (*Principal, error) {
	bearer := ""
	if len(authorization) > 0 {
		scheme, token, ok := strings.Cut(authorization[0], " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
			return nil, status.Error(codes.Unauthenticated, "the authorization header must be Bearer TOKEN; "+a.hint)
		}
		bearer = strings.TrimSpace(token)
	}
	key := bearer
	if a.keyHeader != "authorization" {
		key = ""
		if len(apiKey) > 0 {
			key = apiKey[0]
		}
	}
	if key != "" && len(a.keys) > 0 {
		if p := a.matchKey(key); p != nil {
			return p, nil
		}
		if a.keyHeader != "authorization" || a.oidc == nil {
			return nil, a.rejected("the API key")
		}
	}
	if bearer != "" {
		if a.oidc == nil {
			return nil, a.rejected("the bearer token")
		}
		return a.oidc.verify(ctx, bearer, a)
	}
	if p, err, ok := a.fromCertificate(ctx); ok {
		return p, err
	}
	return nil, a.missing()
}

// matchKey compares the key's hash with every configured hash in constant time, so neither the
// time taken nor an early exit says which key, or which part of one, came close.
func (a *authenticator) matchKey(key string) *Principal {
	sum := sha256.Sum256([]byte(key))
	var found *Principal
	for i := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], a.keys[i].hash[:]) == 1 {
			found = a.keys[i].principal
		}
	}
	return found
}

// fromCertificate authenticates the verified client certificate of the call's TLS connection;
// ok is false when there is none.
func (a *authenticator) fromCertificate(ctx context.Context) (p *Principal, err error, ok bool) {
	if a.certs == nil {
		return nil, nil, false
	}
	pr, found := peer.FromContext(ctx)
	if !found {
		return nil, nil, false
	}
	info, isTLS := pr.AuthInfo.(credentials.TLSInfo)
	if !isTLS || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil, nil, false
	}
	id := certIdentity(info.State.VerifiedChains[0][0])
	p, listed := a.certs[id]
	if !listed {
		return nil, status.Error(codes.Unauthenticated, "the client certificate for "+id+" is not a configured service account (auth.mtls.principals)"), true
	}
	return p, nil, true
}

// certIdentity names a client certificate: its first URI SAN (a SPIFFE ID), else its first DNS
// SAN, else its subject's common name.
func certIdentity(c *x509.Certificate) string {
	if len(c.URIs) > 0 {
		return c.URIs[0].String()
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return c.Subject.CommonName
}

// interceptor authenticates the call (unless the MCP transport already did, for the session),
// removes the credential from its metadata, and checks the method's scopes.
func (s *Server) authInterceptor(a *authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		// Only the two credential keys are read; the whole metadata is copied only when one is
		// there, to take it out.
		authorization := metadata.ValueFromIncomingContext(ctx, "authorization")
		apiKey := metadata.ValueFromIncomingContext(ctx, a.keyHeader)
		p := PrincipalFromContext(ctx)
		if p == nil {
			var err error
			if p, err = a.authenticate(ctx, authorization, apiKey); err != nil {
				return nil, err
			}
			ctx = withPrincipal(ctx, p)
		}
		if len(authorization) > 0 || len(apiKey) > 0 {
			md, _ := metadata.FromIncomingContext(ctx) // a copy, ours to change
			delete(md, "authorization")
			delete(md, a.keyHeader)
			ctx = metadata.NewIncomingContext(ctx, md)
		}
		// A method the current generation no longer serves has no policy to check against:
		// refuse it rather than let it through unchecked.
		m := s.gen.Load().methods[info.FullMethod]
		if m == nil {
			return nil, status.Errorf(codes.Unavailable, "%s is no longer served; call again", info.FullMethod)
		}
		if err := a.scopes.check(p, m.desc); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}
