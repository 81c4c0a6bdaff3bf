package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
)

// This file verifies webhook senders: HMAC signatures in GitHub's, Stripe's and a generic style,
// a shared token, the client certificate, and the address a delivery came from. Each check
// answers with an error that says what failed and never what was expected: no secret, no
// computed signature.

// webhookCheck is one verification method of a source.
type webhookCheck struct {
	// name is the check's name in the 401 reply, the log and the metrics: hmac, token, mtls,
	// allow_ips.
	name string
	// body: the check reads the body (it runs after the body is read).
	body bool
	// check returns why the delivery fails the check, or nil.
	check func(r *http.Request, body []byte, now time.Time) error
}

// compileVerify builds a source's checks, reading its secrets (relative to dir). Errors name the
// variable or file, never a secret.
func compileVerify(name string, v WebhookVerify, dir string) ([]webhookCheck, error) {
	var checks []webhookCheck
	where := "config: events.sources." + name + ".verify"
	if len(v.AllowIPs) > 0 {
		c, err := ipCheck(v.AllowIPs, v.TrustedProxies)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		checks = append(checks, c)
	}
	if m := v.MTLS; m != nil {
		checks = append(checks, mtlsCheck(m.Allow))
	}
	if t := v.Token; t != nil {
		token, err := readWebhookSecret(t.Token, t.TokenFile, dir)
		if err != nil {
			return nil, fmt.Errorf("%s.token: %w", where, err)
		}
		checks = append(checks, tokenCheck(t.Header, token))
	}
	if h := v.HMAC; h != nil {
		secret, err := readWebhookSecret(h.Secret, h.SecretFile, dir)
		if err != nil {
			return nil, fmt.Errorf("%s.hmac: %w", where, err)
		}
		checks = append(checks, hmacCheck(*h, []byte(secret)))
	}
	return checks, nil
}

// readWebhookSecret reads a secret from a ${ENV_VAR} reference or a file (relative to dir), as
// backend secrets are read.
func readWebhookSecret(ref, file, dir string) (string, error) {
	if file != "" && !filepath.IsAbs(file) && dir != "" {
		file = filepath.Join(dir, file)
	}
	return adapters.ReadSecret(ref, file)
}

// hmacSHA256 is HMAC-SHA256 of the parts, in order, with secret.
func hmacSHA256(secret []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, secret)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// hmacCheck checks a signature in the style h names.
func hmacCheck(h HMACVerify, secret []byte) webhookCheck {
	tolerance := h.Tolerance
	if tolerance == 0 {
		tolerance = DefaultHMACTolerance
	}
	c := webhookCheck{name: "hmac", body: true}
	switch h.Style {
	case HMACGitHub:
		c.check = func(r *http.Request, body []byte, _ time.Time) error {
			return checkPrefixedHex(r, "X-Hub-Signature-256", "sha256=", hmacSHA256(secret, body))
		}
	case HMACStripe:
		c.check = func(r *http.Request, body []byte, now time.Time) error {
			return checkStripe(r.Header.Get("Stripe-Signature"), secret, body, now, tolerance)
		}
	default:
		header := h.Header
		if header == "" {
			header = "X-Signature"
		}
		decode := hex.DecodeString
		if h.Encoding == "base64" {
			decode = decodeBase64
		}
		payload := h.Payload
		if payload == "" {
			payload = "{timestamp}.{body}"
		}
		c.check = func(r *http.Request, body []byte, now time.Time) error {
			v := r.Header.Get(header)
			if v == "" {
				return fmt.Errorf("the %s header is missing", header)
			}
			enc, ok := strings.CutPrefix(v, h.Prefix)
			if !ok {
				return fmt.Errorf("the %s header does not start with %q", header, h.Prefix)
			}
			sig, err := decode(strings.TrimSpace(enc))
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("the %s header does not hold a %s HMAC-SHA256 signature", header, encodingName(h.Encoding))
			}
			var want []byte
			if h.TimestampHeader == "" {
				want = hmacSHA256(secret, body)
			} else {
				t := r.Header.Get(h.TimestampHeader)
				if t == "" {
					return fmt.Errorf("the %s header is missing", h.TimestampHeader)
				}
				// The template is read once: text the timestamp or the body holds is not
				// replaced again.
				want = hmacSHA256(secret, []byte(strings.NewReplacer("{timestamp}", t, "{body}", string(body)).Replace(payload)))
				if !hmac.Equal(sig, want) {
					return fmt.Errorf("the %s header does not match the body", header)
				}
				return checkTimestamp(t, now, tolerance, h.TimestampHeader)
			}
			if !hmac.Equal(sig, want) {
				return fmt.Errorf("the %s header does not match the body", header)
			}
			return nil
		}
	}
	return c
}

func encodingName(e string) string {
	if e == "" {
		return "hex"
	}
	return e
}

// decodeBase64 reads standard base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// checkPrefixedHex checks a header of the form <prefix><hex signature> against want.
func checkPrefixedHex(r *http.Request, header, prefix string, want []byte) error {
	v := r.Header.Get(header)
	if v == "" {
		return fmt.Errorf("the %s header is missing", header)
	}
	enc, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return fmt.Errorf("the %s header does not start with %q", header, prefix)
	}
	sig, err := hex.DecodeString(enc)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("the %s header does not hold a hex HMAC-SHA256 signature", header)
	}
	if !hmac.Equal(sig, want) {
		return fmt.Errorf("the %s header does not match the body", header)
	}
	return nil
}

// checkStripe checks a Stripe-Signature header: t=<unix seconds> and one or more v1=<hex>, the
// HMAC-SHA256 of "<t>.<body>"; any v1 may match (Stripe sends several while a secret is
// rolled), and t must be within tolerance of now.
func checkStripe(v string, secret, body []byte, now time.Time, tolerance time.Duration) error {
	if v == "" {
		return errors.New("the Stripe-Signature header is missing")
	}
	var t string
	var sigs [][]byte
	for item := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return errors.New("the Stripe-Signature header is not a list of key=value")
		}
		switch k {
		case "t":
			if t != "" {
				return errors.New("the Stripe-Signature header has two timestamps")
			}
			t = val
		case "v1":
			if sig, err := hex.DecodeString(val); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if t == "" {
		return errors.New("the Stripe-Signature header has no timestamp (t=)")
	}
	if len(sigs) == 0 {
		return errors.New("the Stripe-Signature header has no v1 signature")
	}
	want := hmacSHA256(secret, []byte(t), []byte("."), body)
	matched := 0
	for _, sig := range sigs {
		matched |= subtle.ConstantTimeCompare(sig, want)
	}
	if matched != 1 {
		return errors.New("no v1 signature of the Stripe-Signature header matches the body")
	}
	return checkTimestamp(t, now, tolerance, "Stripe-Signature")
}

// checkTimestamp checks that a signed unix-seconds timestamp is within tolerance of now.
func checkTimestamp(t string, now time.Time, tolerance time.Duration, header string) error {
	secs, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return fmt.Errorf("the %s timestamp is not unix seconds", header)
	}
	d := now.Sub(time.Unix(secs, 0))
	if d < -tolerance || d > tolerance {
		return fmt.Errorf("the %s timestamp is %s away from now, beyond the tolerance of %s (a replay, or a clock that is off)", header, d.Abs().Round(time.Second), tolerance)
	}
	return nil
}

// tokenCheck compares a shared token in constant time (over hashes, so its length does not
// show either).
func tokenCheck(header, token string) webhookCheck {
	if header == "" {
		header = "X-Webhook-Token"
	}
	want := sha256.Sum256([]byte(token))
	bearer := strings.EqualFold(header, "Authorization")
	return webhookCheck{name: "token", check: func(r *http.Request, _ []byte, _ time.Time) error {
		v := r.Header.Get(header)
		if bearer {
			var ok bool
			if v, ok = cutBearer(v); !ok {
				return errors.New("the Authorization header does not carry a Bearer token")
			}
		}
		if v == "" {
			return fmt.Errorf("the %s header is missing", header)
		}
		got := sha256.Sum256([]byte(v))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return fmt.Errorf("the %s token is not the configured one", header)
		}
		return nil
	}}
}

func cutBearer(v string) (string, bool) {
	if len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
		return strings.TrimSpace(v[7:]), true
	}
	return "", false
}

// mtlsCheck passes a delivery whose connection presented a client certificate the listener
// verified, naming an allowed identity.
func mtlsCheck(allow []string) webhookCheck {
	ok := make(map[string]bool, len(allow))
	for _, a := range allow {
		ok[a] = true
	}
	return webhookCheck{name: "mtls", check: func(r *http.Request, _ []byte, _ time.Time) error {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
			return errors.New("no verified client certificate was presented")
		}
		c := r.TLS.PeerCertificates[0]
		if ok[c.Subject.CommonName] && c.Subject.CommonName != "" {
			return nil
		}
		for _, d := range c.DNSNames {
			if ok[d] {
				return nil
			}
		}
		for _, u := range c.URIs {
			if ok[u.String()] {
				return nil
			}
		}
		return fmt.Errorf("the client certificate %s is not in mtls.allow", certIdentity(c))
	}}
}

// ipCheck passes deliveries from the allowed networks: the connection's address, or, when it is
// a trusted proxy, the last address in X-Forwarded-For that is not one.
func ipCheck(allow, proxies []string) (webhookCheck, error) {
	parse := func(list []string) ([]netip.Prefix, error) {
		out := make([]netip.Prefix, 0, len(list))
		for _, s := range list {
			p, err := parsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
			}
			out = append(out, p)
		}
		return out, nil
	}
	allowed, err := parse(allow)
	if err != nil {
		return webhookCheck{}, err
	}
	trusted, err := parse(proxies)
	if err != nil {
		return webhookCheck{}, err
	}
	in := func(list []netip.Prefix, a netip.Addr) bool {
		for _, p := range list {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return webhookCheck{name: "allow_ips", check: func(r *http.Request, _ []byte, _ time.Time) error {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return errors.New("the sender's address is unknown")
		}
		addr := ap.Addr().Unmap()
		if in(trusted, addr) {
			// Walk X-Forwarded-For from the nearest hop; the first address that is not a
			// trusted proxy is the sender.
			var hops []string
			for _, v := range r.Header.Values("X-Forwarded-For") {
				for h := range strings.SplitSeq(v, ",") {
					hops = append(hops, strings.TrimSpace(h))
				}
			}
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(hops[i])
				if err != nil {
					return errors.New("X-Forwarded-For holds something that is not an address")
				}
				addr = a.Unmap()
				if !in(trusted, addr) {
					break
				}
			}
		}
		if !in(allowed, addr) {
			return fmt.Errorf("the sender's address %s is not in allow_ips", addr)
		}
		return nil
	}}, nil
}
