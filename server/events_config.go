package server

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/agentbridge/agentbridge/adapters"
)

// EventsConfig is the events: section: the sources legacy systems push events to.
type EventsConfig struct {
	// Sources are the event sources, by name; a source's events are read by that name.
	Sources map[string]EventSource `yaml:"sources"`
}

// config is the sources, nil when there are none, for reloads to compare.
func (ev EventsConfig) config() map[string]EventSource {
	if len(ev.Sources) == 0 {
		return nil
	}
	return ev.Sources
}

// EventSource is one place a legacy system posts events to (see docs/events.md).
type EventSource struct {
	// Path is where the HTTP listener takes the source's events. Default /hooks/<name>.
	Path string `yaml:"path"`
	// Format is the body's format: json (the default), xml, form
	// (application/x-www-form-urlencoded) or soap_notification (Salesforce Outbound Messaging).
	Format string `yaml:"format"`
	// Message is the full name of the proto message an event's body decodes into.
	Message string `yaml:"message"`
	// ID names the event's identifier, which de-duplicates deliveries: a field path in the
	// decoded message (event_id, or order.id) or header:<Header-Name>. Unset, the key is the
	// SHA-256 of the body. A soap_notification source always uses each Notification's Id.
	ID string `yaml:"id"`
	// Type is the type every event of the source has, such as stock.changed.
	Type string `yaml:"type"`
	// TypeField is a field path in the decoded message holding the event's type instead.
	TypeField string `yaml:"type_field"`
	// Verify says how the sender proves it is who it says; every method given must pass.
	Verify WebhookVerify `yaml:"verify"`
	// MaxBodyBytes bounds a body. Default: the server's max_body_bytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Formats of EventSource.
const (
	FormatJSON             = "json"
	FormatXML              = "xml"
	FormatForm             = "form"
	FormatSOAPNotification = "soap_notification"
)

// WebhookVerify is how a source's sender is verified. Several methods may be given; a
// delivery must pass every one. A source without any is refused unless None is set, which is
// allowed only when the HTTP listener is bound to loopback.
type WebhookVerify struct {
	// None accepts unverified deliveries (HTTP listener on loopback only).
	None bool `yaml:"none"`
	// HMAC checks a signature over the body computed with a shared secret.
	HMAC *HMACVerify `yaml:"hmac"`
	// Token checks a shared token in a header.
	Token *TokenVerify `yaml:"token"`
	// MTLS checks the client certificate the listener verified (auth.mtls.client_ca_file).
	MTLS *MTLSVerify `yaml:"mtls"`
	// AllowIPs lists the networks (CIDRs or addresses) deliveries may come from.
	AllowIPs []string `yaml:"allow_ips"`
	// OrganizationIDs lists the Salesforce organizations (15- or 18-character ids) whose
	// outbound messages a soap_notification source takes; a message naming another
	// OrganizationId is refused. It checks what the message says, not who sent it, so it is
	// given beside mtls or allow_ips, not instead of them.
	OrganizationIDs []string `yaml:"organization_ids"`
	// TrustedProxies lists the proxies (CIDRs or addresses) whose X-Forwarded-For is believed
	// when checking allow_ips. Default: none; the connection's address is checked.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// HMAC signature styles.
const (
	HMACGitHub  = "github"
	HMACStripe  = "stripe"
	HMACGeneric = "generic"
)

// HMACVerify checks an HMAC-SHA256 signature over the raw body.
type HMACVerify struct {
	// Style is github (X-Hub-Signature-256: sha256=<hex>), stripe (Stripe-Signature:
	// t=<unix>,v1=<hex> over "<t>.<body>") or generic (the fields below).
	Style string `yaml:"style"`
	// Secret is a ${ENV_VAR} reference; or use SecretFile.
	Secret string `yaml:"secret"`
	// SecretFile names a file holding the secret (a trailing newline is dropped), relative to
	// the config file.
	SecretFile string `yaml:"secret_file"`
	// Header carries the signature (generic). Default X-Signature.
	Header string `yaml:"header"`
	// Encoding of the signature: hex (default) or base64 (generic).
	Encoding string `yaml:"encoding"`
	// Prefix precedes the encoded signature in the header, such as "sha256=" (generic).
	Prefix string `yaml:"prefix"`
	// TimestampHeader carries the time of sending, unix seconds, folded into the signed
	// payload (generic). Default: none; the body alone is signed.
	TimestampHeader string `yaml:"timestamp_header"`
	// Payload is what is signed when TimestampHeader is set: {timestamp} and {body} in a
	// template. Default "{timestamp}.{body}".
	Payload string `yaml:"payload"`
	// Tolerance is how far the signed timestamp may be from now (stripe, and generic with a
	// timestamp header). Default 5m.
	Tolerance time.Duration `yaml:"tolerance"`
}

// TokenVerify checks a shared token sent in a header.
type TokenVerify struct {
	// Header carries the token. Default X-Webhook-Token; "Authorization" takes it as
	// "Bearer <token>".
	Header string `yaml:"header"`
	// Token is a ${ENV_VAR} reference; or use TokenFile.
	Token string `yaml:"token"`
	// TokenFile names a file holding the token, relative to the config file.
	TokenFile string `yaml:"token_file"`
}

// MTLSVerify checks the client certificate the HTTP listener verified against
// auth.mtls.client_ca_file.
type MTLSVerify struct {
	// Allow lists the identities accepted: a certificate passes when its subject common name,
	// or any of its DNS or URI SANs, is listed.
	Allow []string `yaml:"allow"`
}

// EventTopic is the store topic holding a source's events.
func EventTopic(source string) string { return "events/" + source }

// DefaultHMACTolerance is how far a signed timestamp may be from now by default.
const DefaultHMACTolerance = 5 * time.Minute

// sourceName is what a source may be called: it is part of a path and a topic.
var sourceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// eventFieldPath is a dotted field path.
var eventFieldPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// hookPath is a path a source may be mounted at: plain segments, no wildcards.
var hookPath = regexp.MustCompile(`^(/[A-Za-z0-9_.~-]+)+$`)

// reservedPaths are the listener's own paths (prefixes end in /).
var reservedPaths = []string{"/mcp", "/mcp/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/.well-known/", "/v1/"}

// path is where the source is mounted.
func (es EventSource) path(name string) string {
	if es.Path != "" {
		return es.Path
	}
	return "/hooks/" + name
}

func (es EventSource) format() string {
	if es.Format == "" {
		return FormatJSON
	}
	return es.Format
}

// checkEvents reports what is wrong with the events: section without reading any secret or
// loading any contract (the message type is found at Build).
func (c *Config) checkEvents() error {
	var errs []error
	names := make([]string, 0, len(c.Events.Sources))
	for name := range c.Events.Sources {
		names = append(names, name)
	}
	sort.Strings(names)
	paths := map[string]string{}
	for _, name := range names {
		es := c.Events.Sources[name]
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("config: events.sources.%s: "+format, append([]any{name}, args...)...))
		}
		if !sourceName.MatchString(name) {
			bad("a source name is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit")
		}
		p := es.path(name)
		switch {
		case !hookPath.MatchString(p):
			bad("path %q: use a plain absolute path such as /hooks/%s (no wildcards, query or trailing slash)", p, name)
		case reserved(p):
			bad("path %q is one of the listener's own paths", p)
		case paths[p] != "":
			bad("path %q is also the path of source %q", p, paths[p])
		}
		paths[p] = name
		switch es.format() {
		case FormatJSON, FormatXML, FormatForm, FormatSOAPNotification:
		default:
			bad("format %q: use json, xml, form or soap_notification", es.Format)
		}
		if es.Message == "" {
			bad("message: missing; name the proto message an event decodes into (full name, such as acme.v1.OrderShipped)")
		}
		if id, ok := strings.CutPrefix(es.ID, "header:"); ok {
			if !validHeaderName(id) {
				bad("id %q: header:<Header-Name> needs a header name", es.ID)
			}
		} else if es.ID != "" && !eventFieldPath.MatchString(es.ID) {
			bad("id %q: use a field path (event_id, order.id) or header:<Header-Name>", es.ID)
		}
		if len(es.Verify.OrganizationIDs) > 0 && es.format() != FormatSOAPNotification {
			bad("verify.organization_ids is for format soap_notification")
		}
		if es.format() == FormatSOAPNotification && es.ID != "" {
			bad("id: a soap_notification source keys each event by its Notification's Id; remove id")
		}
		if es.Type != "" && es.TypeField != "" {
			bad("type and type_field: give one")
		}
		if es.TypeField != "" && !eventFieldPath.MatchString(es.TypeField) {
			bad("type_field %q: use a field path such as type or meta.kind", es.TypeField)
		}
		if es.MaxBodyBytes < 0 {
			bad("max_body_bytes must not be negative")
		}
		errs = append(errs, c.checkVerify(name, es.Verify)...)
	}
	return errors.Join(errs...)
}

func reserved(p string) bool {
	for _, r := range reservedPaths {
		if p == r || (strings.HasSuffix(r, "/") && strings.HasPrefix(p, r)) {
			return true
		}
	}
	return false
}

func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for _, r := range h {
		switch {
		case r == '-', r == '_', r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		default:
			return false
		}
	}
	return true
}

// checkVerify checks one source's verify: section.
func (c *Config) checkVerify(name string, v WebhookVerify) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: events.sources.%s.verify: "+format, append([]any{name}, args...)...))
	}
	secret := func(field, value, fileField, file string) {
		switch {
		case value != "" && file != "":
			bad("%s: set %s or %s, not both", field, field, fileField)
		case value == "" && file == "":
			bad("%s: missing; pass it as %s: ${ENV_VAR} or %s: /path/to/file", field, field, fileField)
		case value != "" && !adapters.IsEnvRef(value):
			bad("%s: a secret cannot be written in the config in clear; pass it as %s: ${ENV_VAR} or %s: /path/to/file", field, field, fileField)
		}
	}
	some := v.HMAC != nil || v.Token != nil || v.MTLS != nil || len(v.AllowIPs) > 0
	switch {
	case v.None && some:
		bad("none: true is set together with verification methods; remove one")
	case v.None && !c.httpLoopback():
		bad("none: true accepts anyone's events, so it is allowed only while http_addr is a loopback address (%s is not); verify with hmac, token, mtls or allow_ips", c.httpAddr())
	case !v.None && !some:
		bad("missing: a source must verify its sender (hmac, token, mtls or allow_ips); none: true turns verification off, on a loopback listener only")
	}
	if h := v.HMAC; h != nil {
		secret("hmac.secret", h.Secret, "hmac.secret_file", h.SecretFile)
		generic := h.Style == HMACGeneric
		switch h.Style {
		case HMACGitHub, HMACStripe, HMACGeneric:
		case "":
			bad("hmac.style: missing; use github, stripe or generic")
		default:
			bad("hmac.style %q: use github, stripe or generic", h.Style)
		}
		if !generic && (h.Header != "" || h.Encoding != "" || h.Prefix != "" || h.TimestampHeader != "" || h.Payload != "") {
			bad("hmac: header, encoding, prefix, timestamp_header and payload are for style generic; style %s has its own", h.Style)
		}
		if h.Header != "" && !validHeaderName(h.Header) {
			bad("hmac.header %q is not a header name", h.Header)
		}
		if h.TimestampHeader != "" && !validHeaderName(h.TimestampHeader) {
			bad("hmac.timestamp_header %q is not a header name", h.TimestampHeader)
		}
		switch h.Encoding {
		case "", "hex", "base64":
		default:
			bad("hmac.encoding %q: use hex or base64", h.Encoding)
		}
		if h.Payload != "" {
			if h.TimestampHeader == "" {
				bad("hmac.payload needs hmac.timestamp_header (the body alone is signed otherwise)")
			}
			if strings.Count(h.Payload, "{body}") != 1 || strings.Count(h.Payload, "{timestamp}") != 1 {
				bad("hmac.payload %q: name {timestamp} and {body} once each", h.Payload)
			}
		}
		if h.Tolerance < 0 {
			bad("hmac.tolerance must not be negative")
		}
		if h.Tolerance != 0 && h.Style == HMACGitHub || h.Tolerance != 0 && generic && h.TimestampHeader == "" {
			bad("hmac.tolerance applies to a signed timestamp, which this style has none of")
		}
	}
	if t := v.Token; t != nil {
		secret("token.token", t.Token, "token.token_file", t.TokenFile)
		if t.Header != "" && !validHeaderName(t.Header) {
			bad("token.header %q is not a header name", t.Header)
		}
	}
	if m := v.MTLS; m != nil {
		if len(m.Allow) == 0 {
			bad("mtls.allow: list the certificate identities (subject CN, DNS or URI SAN) accepted")
		}
		if c.Auth == nil || c.Auth.MTLS == nil || c.TLS == nil {
			bad("mtls needs tls and auth.mtls.client_ca_file: the listener verifies client certificates only then")
		}
	}
	for _, list := range []struct {
		field string
		cidrs []string
	}{{"allow_ips", v.AllowIPs}, {"trusted_proxies", v.TrustedProxies}} {
		for _, s := range list.cidrs {
			if _, err := parsePrefix(s); err != nil {
				bad("%s: %q is neither a CIDR nor an IP address", list.field, s)
			}
		}
	}
	for _, id := range v.OrganizationIDs {
		if !sfOrgID.MatchString(id) {
			bad("organization_ids: %q is not a Salesforce organization id (15 or 18 letters and digits, starting 00D)", id)
		}
	}
	if len(v.TrustedProxies) > 0 && len(v.AllowIPs) == 0 {
		bad("trusted_proxies is only read for allow_ips, which is empty")
	}
	return errs
}

// sfOrgID is a Salesforce organization id.
var sfOrgID = regexp.MustCompile(`^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$`)

// parsePrefix reads a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// httpAddr is the HTTP listener's address as configured.
func (c *Config) httpAddr() string {
	if c.HTTPAddr == "" {
		return DefaultHTTPAddr
	}
	return c.HTTPAddr
}

// httpLoopback says whether the HTTP listener is bound to a loopback address only.
func (c *Config) httpLoopback() bool { return loopbackAddr(c.httpAddr()) }
