package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// jwks is an issuer's key set for go-oidc's verifier. go-oidc's own RemoteKeySet fetches the
// set again for every token its cached keys do not verify, so anyone could make the bridge
// fetch from the issuer once per forged token; this one fetches at most once per
// jwksMinRefresh, failed fetches included. A key the issuer rotates in is picked up by the
// first token it signs after that interval.
type jwks struct {
	url    string
	client *http.Client
	algs   []jose.SignatureAlgorithm

	mu      sync.Mutex // held across a fetch: callers wait for it rather than fetch again
	keys    []jose.JSONWebKey
	fetched time.Time
	err     error // of the last fetch
}

// jwksMinRefresh is the shortest time between two fetches of the key set.
const jwksMinRefresh = 30 * time.Second

// maxJWKSBytes bounds the key set document.
const maxJWKSBytes = 1 << 20

func newJWKS(url string, client *http.Client, algs []string) *jwks {
	j := &jwks{url: url, client: client}
	for _, a := range algs {
		j.algs = append(j.algs, jose.SignatureAlgorithm(a))
	}
	return j
}

// VerifySignature implements oidc.KeySet.
func (j *jwks) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	sig, err := jose.ParseSignedCompact(raw, j.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if len(sig.Signatures) != 1 {
		return nil, errors.New("a token must carry one signature")
	}
	kid := sig.Signatures[0].Header.KeyID
	j.mu.Lock()
	keys := j.keys
	j.mu.Unlock()
	if payload, ok := verifyWith(sig, kid, keys); ok {
		return payload, nil
	}
	if keys, err = j.refresh(ctx); err != nil {
		return nil, err
	}
	if payload, ok := verifyWith(sig, kid, keys); ok {
		return payload, nil
	}
	return nil, errors.New("no key of the issuer verifies the token's signature")
}

func verifyWith(sig *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for i := range keys {
		if kid == "" || keys[i].KeyID == kid {
			if payload, err := sig.Verify(&keys[i]); err == nil {
				return payload, true
			}
		}
	}
	return nil, false
}

// refresh fetches the key set unless it was fetched (or tried) within jwksMinRefresh.
func (j *jwks) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.fetched.IsZero() && time.Since(j.fetched) < jwksMinRefresh {
		return j.keys, j.err
	}
	keys, err := j.fetch(ctx)
	j.fetched, j.err = time.Now(), err
	if err == nil {
		j.keys = keys
	}
	return j.keys, err
}

func (j *jwks) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, j.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the issuer's keys: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the issuer's keys: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("the issuer's keys: %w", err)
	}
	return set.Keys, nil
}
