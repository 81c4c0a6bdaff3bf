package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// oidcVerifier checks JWT bearer tokens against an OIDC issuer's JWKS: signature (by one of the
// allowed algorithms), iss, aud and exp. The issuer is discovered at the first token rather
// than at start, so config validate and a start while the issuer is down do not depend on it;
// a failed discovery is tried again at the next token.
type oidcVerifier struct {
	cfg    OIDCConfig
	mu     sync.Mutex // one discovery at a time
	v      atomic.Pointer[oidc.IDTokenVerifier]
	client *http.Client

	discoveryAt  time.Time // of the last failed discovery; guarded by mu
	discoveryErr error

	// verified remembers tokens already verified, by their SHA-256, until they expire: an agent
	// sends the same token on every call, and checking its RSA signature again costs ~100 µs.
	// Only the hash is kept, never the token.
	cacheMu  sync.Mutex
	verified map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	principal *Principal
	until     time.Time // the token's exp plus the clock skew
}

// maxVerifiedTokens bounds the cache of verified tokens; when full, an entry is dropped.
const maxVerifiedTokens = 4096

// DefaultClockSkew is how long after its expiry a token is still accepted by default.
const DefaultClockSkew = 30 * time.Second

func newOIDCVerifier(cfg OIDCConfig) *oidcVerifier {
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{oidc.RS256}
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	return &oidcVerifier{cfg: cfg, client: &http.Client{Timeout: 10 * time.Second}, verified: map[[sha256.Size]byte]verifiedToken{}}
}

func (o *oidcVerifier) verifier() (*oidc.IDTokenVerifier, error) {
	if v := o.v.Load(); v != nil {
		return v, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if v := o.v.Load(); v != nil {
		return v, nil
	}
	// A failed discovery is not tried again for a while, so tokens arriving while the issuer is
	// down do not each become a request to it.
	if o.discoveryErr != nil && time.Since(o.discoveryAt) < jwksMinRefresh {
		return nil, o.discoveryErr
	}
	v, err := o.discover()
	o.discoveryAt, o.discoveryErr = time.Now(), err
	return v, err
}

// discover reads the issuer's discovery document and makes the verifier.
func (o *oidcVerifier) discover() (*oidc.IDTokenVerifier, error) {
	// Discovery serves every later caller, so a call's cancellation must not cut it short.
	ctx := oidc.ClientContext(context.Background(), o.client)
	provider, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&doc); err != nil || doc.JWKSURI == "" {
		return nil, errors.New("the issuer's discovery document names no jwks_uri")
	}
	skew := o.cfg.ClockSkew
	v := oidc.NewVerifier(o.cfg.Issuer, newJWKS(doc.JWKSURI, o.client, o.cfg.Algorithms), &oidc.Config{
		ClientID:             o.cfg.Audience,
		SupportedSigningAlgs: o.cfg.Algorithms,
		// Checking expiry against a clock set back by the skew accepts a token up to skew after
		// its exp, for an issuer whose clock runs ahead of ours.
		Now: func() time.Time { return time.Now().Add(-skew) },
	})
	o.v.Store(v)
	return v, nil
}

// tokenClaims are the claims a principal is made from.
type tokenClaims struct {
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Azp      string `json:"azp"`
	Scope    any    `json:"scope"`
	Scp      any    `json:"scp"`
}

// verify returns the token's principal. Errors say what kind of problem the token has and
// where to get a good one, never the token or its claims.
func (o *oidcVerifier) verify(ctx context.Context, token string, a *authenticator) (*Principal, error) {
	sum := sha256.Sum256([]byte(token))
	now := time.Now()
	o.cacheMu.Lock()
	hit, ok := o.verified[sum]
	o.cacheMu.Unlock()
	if ok && now.Before(hit.until) {
		return hit.principal, nil
	}
	p, exp, err := o.verifyToken(ctx, token, a)
	if err != nil {
		return nil, err
	}
	o.cacheMu.Lock()
	if len(o.verified) >= maxVerifiedTokens {
		for k, e := range o.verified {
			if !now.Before(e.until) || len(o.verified) >= maxVerifiedTokens {
				delete(o.verified, k)
			}
		}
	}
	o.verified[sum] = verifiedToken{principal: p, until: exp.Add(o.cfg.ClockSkew)}
	o.cacheMu.Unlock()
	return p, nil
}

// verifyToken checks a token with the issuer's keys and returns its principal and expiry.
func (o *oidcVerifier) verifyToken(ctx context.Context, token string, a *authenticator) (*Principal, time.Time, error) {
	v, err := o.verifier()
	if err != nil {
		return nil, time.Time{}, status.Error(codes.Unavailable, "the token issuer "+o.cfg.Issuer+" could not be reached to check the bearer token; try again later")
	}
	idt, err := v.Verify(ctx, token)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, time.Time{}, status.Error(codes.Unauthenticated, "the bearer token has expired; get a new one from "+o.cfg.Issuer)
		}
		return nil, time.Time{}, a.rejected("the bearer token (signature, issuer, audience or algorithm)")
	}
	var c tokenClaims
	if err := idt.Claims(&c); err != nil {
		return nil, time.Time{}, a.rejected("the bearer token's claims")
	}
	id := c.Subject
	if id == "" {
		id = c.ClientID
	}
	if id == "" {
		id = c.Azp
	}
	claim := c.Scope
	switch o.cfg.ScopesClaim {
	case "scp":
		claim = c.Scp
	case "", "scope":
		if claim == nil {
			claim = c.Scp
		}
	default:
		var all map[string]any
		_ = idt.Claims(&all)
		claim = all[o.cfg.ScopesClaim]
	}
	return &Principal{ID: id, Scopes: scopeList(claim), Method: AuthJWT}, idt.Expiry, nil
}

// scopeList reads a scope claim: a space-separated string (RFC 8693 scope) or a list (scp).
func scopeList(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
