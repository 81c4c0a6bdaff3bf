package adapters

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Auth is how the bridge proves who it is to a backend (config backends.NAME.auth). Kinds
// combine: tls with any other, ws_security with basic or an API key. basic and oauth2 both
// set Authorization, so only one of them may be set.
//
// Secrets are never written in the config in clear: a secret field holds a ${ENV_VAR}
// reference, or its _file sibling names a file holding the secret. A literal secret is a
// config error, so a config file can be shared, committed and printed without leaking.
type Auth struct {
	// Basic sends HTTP Basic credentials.
	Basic *BasicAuth `yaml:"basic"`
	// APIKey sends a key in a header or a query parameter.
	APIKey *APIKeyAuth `yaml:"api_key"`
	// OAuth2 gets a bearer token from a token endpoint with the client credentials grant.
	OAuth2 *OAuth2Auth `yaml:"oauth2"`
	// WSSecurity puts a WS-Security header in every SOAP envelope (soap backends only).
	WSSecurity *WSSecurityAuth `yaml:"ws_security"`
	// TLS sets a client certificate and the CAs the backend's certificate is checked against.
	TLS *ClientTLS `yaml:"tls"`
}

// BasicAuth is HTTP Basic authentication.
type BasicAuth struct {
	// User is the user name; it may be a ${ENV_VAR} reference.
	User string `yaml:"user"`
	// Password is a ${ENV_VAR} reference; or use PasswordFile.
	Password string `yaml:"password"`
	// PasswordFile names a file holding the password (a trailing newline is dropped).
	PasswordFile string `yaml:"password_file"`
}

// APIKeyAuth sends an API key with every call, in a header or a query parameter.
type APIKeyAuth struct {
	// Header names the header that carries the key, for example X-API-Key.
	Header string `yaml:"header"`
	// Query names the query parameter that carries the key, when the backend wants it there.
	Query string `yaml:"query"`
	// Key is a ${ENV_VAR} reference; or use KeyFile.
	Key string `yaml:"key"`
	// KeyFile names a file holding the key.
	KeyFile string `yaml:"key_file"`
}

// OAuth2Auth is the OAuth 2.0 client credentials grant (RFC 6749 section 4.4). The token is
// cached and refreshed before it expires by golang.org/x/oauth2.
type OAuth2Auth struct {
	// TokenURL is the token endpoint.
	TokenURL string `yaml:"token_url"`
	// ClientID identifies the bridge to the token endpoint; it may be a ${ENV_VAR} reference.
	ClientID string `yaml:"client_id"`
	// ClientSecret is a ${ENV_VAR} reference; or use ClientSecretFile.
	ClientSecret string `yaml:"client_secret"`
	// ClientSecretFile names a file holding the client secret.
	ClientSecretFile string `yaml:"client_secret_file"`
	// Scopes are requested with the token.
	Scopes []string `yaml:"scopes"`
}

// WSSecurityAuth is a WS-Security UsernameToken (OASIS Username Token Profile 1.0), with an
// optional Timestamp, in the SOAP header of every request.
type WSSecurityAuth struct {
	// Username may be a ${ENV_VAR} reference.
	Username string `yaml:"username"`
	// Password is a ${ENV_VAR} reference; or use PasswordFile.
	Password string `yaml:"password"`
	// PasswordFile names a file holding the password.
	PasswordFile string `yaml:"password_file"`
	// PasswordType is digest (Base64(SHA-1(nonce + created + password)), with Nonce and
	// Created; the password never crosses the wire) or text (the password itself, for backends
	// that check it against a directory). Default digest.
	PasswordType string `yaml:"password_type"`
	// Timestamp adds a wsu:Timestamp whose Expires is this long after Created. Zero: no
	// Timestamp.
	Timestamp time.Duration `yaml:"timestamp"`
}

// ClientTLS configures TLS towards the backend.
type ClientTLS struct {
	// CertFile and KeyFile hold the client certificate and its key, PEM.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile holds PEM CA certificates that the backend's certificate is checked against,
	// instead of the system's.
	CAFile string `yaml:"ca_file"`
}

// Password types of WS-Security UsernameToken.
const (
	PasswordDigest = "digest"
	PasswordText   = "text"
)

// envRef is a whole-value ${ENV_VAR} reference.
var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// Check reports what is wrong with the auth config without reading any secret: a literal
// secret, two ways to give one secret, missing fields, kinds that cannot combine. where
// prefixes each error (for example `backend "erp": auth`).
func (a *Auth) Check(where string) error {
	if a == nil {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(where+"."+format, args...))
	}
	secret := func(field, value, fileField, file string) {
		switch {
		case value != "" && file != "":
			bad("%s: set %s or %s, not both", field, field, fileField)
		case value == "" && file == "":
			bad("%s: missing; pass it as %s: ${ENV_VAR} or %s: /path/to/file", field, field, fileField)
		case value != "" && !envRef.MatchString(value):
			// The value itself is never repeated: it is the secret.
			bad("%s: a secret cannot be written in the config in clear; pass it as %s: ${ENV_VAR} or %s: /path/to/file", field, field, fileField)
		}
	}
	if b := a.Basic; b != nil {
		if b.User == "" {
			bad("basic.user: missing")
		}
		secret("basic.password", b.Password, "basic.password_file", b.PasswordFile)
	}
	if k := a.APIKey; k != nil {
		if (k.Header == "") == (k.Query == "") {
			bad("api_key: set header or query (where the key goes), one of them")
		}
		secret("api_key.key", k.Key, "api_key.key_file", k.KeyFile)
	}
	if o := a.OAuth2; o != nil {
		if o.TokenURL == "" {
			bad("oauth2.token_url: missing")
		}
		if o.ClientID == "" {
			bad("oauth2.client_id: missing")
		}
		secret("oauth2.client_secret", o.ClientSecret, "oauth2.client_secret_file", o.ClientSecretFile)
	}
	if w := a.WSSecurity; w != nil {
		if w.Username == "" {
			bad("ws_security.username: missing")
		}
		secret("ws_security.password", w.Password, "ws_security.password_file", w.PasswordFile)
		if w.PasswordType != "" && w.PasswordType != PasswordDigest && w.PasswordType != PasswordText {
			bad("ws_security.password_type: %q is neither digest nor text", w.PasswordType)
		}
		if w.Timestamp < 0 {
			bad("ws_security.timestamp: negative")
		}
	}
	if t := a.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		bad("tls: cert_file and key_file go together")
	}
	if a.Basic != nil && a.OAuth2 != nil {
		bad("basic and oauth2 both set the Authorization header; choose one")
	}
	return errors.Join(errs...)
}

// RelativeTo returns a copy of a whose relative file names are made relative to dir, the
// config file's directory, as every other path in the config is.
func (a *Auth) RelativeTo(dir string) *Auth {
	if a == nil || dir == "" {
		return a
	}
	c := *a
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.Basic != nil {
		b := *c.Basic
		rel(&b.PasswordFile)
		c.Basic = &b
	}
	if c.APIKey != nil {
		k := *c.APIKey
		rel(&k.KeyFile)
		c.APIKey = &k
	}
	if c.OAuth2 != nil {
		o := *c.OAuth2
		rel(&o.ClientSecretFile)
		c.OAuth2 = &o
	}
	if c.WSSecurity != nil {
		w := *c.WSSecurity
		rel(&w.PasswordFile)
		c.WSSecurity = &w
	}
	if c.TLS != nil {
		t := *c.TLS
		rel(&t.CertFile)
		rel(&t.KeyFile)
		rel(&t.CAFile)
		c.TLS = &t
	}
	return &c
}

// Credentials are a backend's resolved outbound credentials: secrets read from the
// environment and files, the OAuth2 token source, the TLS config. Build them with
// Backend.Credentials.
type Credentials struct {
	backend    string
	basicUser  string
	basicPass  string
	keyHeader  string
	keyQuery   string
	key        string
	tokens     oauth2.TokenSource
	tokenMu    sync.Mutex
	lastToken  string // the bearer token last sent, hidden by the backend's Redactor too
	tls        *tls.Config
	wss        *WSSecurity
	secrets    []string
	tokenHTTPC *http.Client
	headers    map[string]string // Backend.Headers with ${ENV_VAR} references resolved
}

// WSSecurity is a resolved WS-Security UsernameToken config, for kinds that write SOAP
// headers.
type WSSecurity struct {
	Username string
	Password string
	// Digest says the password is sent as PasswordDigest, not PasswordText.
	Digest bool
	// Timestamp is the life of the wsu:Timestamp; zero means none.
	Timestamp time.Duration
}

// Credentials resolves the backend's auth config: it reads the secrets its ${ENV_VAR}
// references and files name, loads its TLS files, and sets up the OAuth2 token source. A
// backend without auth gets empty credentials. Errors name the field and the variable or
// file, never a secret.
func (b Backend) Credentials() (*Credentials, error) {
	c := &Credentials{backend: b.Name}
	a := b.Auth
	where := fmt.Sprintf("backend %q: auth", b.Name)
	if err := a.Check(where); err != nil {
		return nil, err
	}
	var errs []error
	// A fixed header (an API key a backend wants under its own name) may be a ${ENV_VAR}
	// reference too, so that it need not be written in the config.
	if len(b.Headers) > 0 {
		c.headers = make(map[string]string, len(b.Headers))
		for k, v := range b.Headers {
			if envRef.MatchString(v) {
				var err error
				if v, err = readSecret(v, ""); err != nil {
					errs = append(errs, fmt.Errorf("backend %q: headers.%s: %w", b.Name, k, err))
					continue
				}
			}
			c.headers[k] = v
		}
	}
	if a == nil {
		return c, errors.Join(errs...)
	}
	read := func(field, value, file string) string {
		v, err := readSecret(value, file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", where, field, err))
			return ""
		}
		c.secrets = append(c.secrets, v)
		return v
	}
	if t := a.TLS; t != nil {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.tls: client certificate: %w", where, err))
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			pool := x509.NewCertPool()
			if err == nil && !pool.AppendCertsFromPEM(pem) {
				err = errors.New("no PEM certificate in it")
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.tls.ca_file: %w", where, err))
			}
			cfg.RootCAs = pool
		}
		c.tls = cfg
	}
	if x := a.Basic; x != nil {
		c.basicUser = expandUser(x.User)
		c.basicPass = read("basic.password", x.Password, x.PasswordFile)
		// What Basic auth sends, so a fault echoing the Authorization header is scrubbed.
		c.secrets = append(c.secrets, basicValue(c.basicUser, c.basicPass), c.basicUser+":"+c.basicPass)
	}
	if x := a.APIKey; x != nil {
		c.keyHeader, c.keyQuery = x.Header, x.Query
		c.key = read("api_key.key", x.Key, x.KeyFile)
	}
	if x := a.OAuth2; x != nil {
		secret := read("oauth2.client_secret", x.ClientSecret, x.ClientSecretFile)
		cc := &clientcredentials.Config{ClientID: expandUser(x.ClientID), ClientSecret: secret, TokenURL: x.TokenURL, Scopes: x.Scopes}
		// The token endpoint gets the backend's TLS settings (a private CA often signs both)
		// and its timeout, as Token has no context of its own to bound the fetch.
		c.tokenHTTPC = &http.Client{Timeout: b.WithDefaults().Timeout, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: c.tls}}
		c.tokens = cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, c.tokenHTTPC))
	}
	if x := a.WSSecurity; x != nil {
		c.wss = &WSSecurity{
			Username:  expandUser(x.Username),
			Password:  read("ws_security.password", x.Password, x.PasswordFile),
			Digest:    x.PasswordType != PasswordText,
			Timestamp: x.Timestamp,
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// readSecret reads a secret from a ${ENV_VAR} reference or a file.
func readSecret(ref, file string) (string, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the secret file: %w", err)
		}
		v := strings.TrimRight(string(data), "\r\n")
		if v == "" {
			return "", fmt.Errorf("the secret file %s is empty", file)
		}
		return v, nil
	}
	m := envRef.FindStringSubmatch(ref)
	if m == nil {
		return "", errors.New("not a ${ENV_VAR} reference")
	}
	v, ok := os.LookupEnv(m[1])
	if !ok || v == "" {
		return "", fmt.Errorf("environment variable %s is not set", m[1])
	}
	return v, nil
}

// expandUser resolves a whole-value ${ENV_VAR} reference in a field that is not secret (a user
// name, a client id) and leaves any other value as written.
func expandUser(v string) string {
	if m := envRef.FindStringSubmatch(v); m != nil {
		return os.Getenv(m[1])
	}
	return v
}

// Headers returns the backend's fixed headers with ${ENV_VAR} references resolved.
func (c *Credentials) Headers() map[string]string {
	if c == nil {
		return nil
	}
	return c.headers
}

// Secrets returns every secret value the credentials hold, for the backend's Redactor.
func (c *Credentials) Secrets() []string {
	if c == nil {
		return nil
	}
	out := append([]string(nil), c.secrets...)
	if c.wss != nil {
		out = append(out, c.wss.Password)
	}
	return out
}

// currentToken returns the bearer token last sent, or "".
func (c *Credentials) currentToken() string {
	if c == nil || c.tokens == nil {
		return ""
	}
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	return c.lastToken
}

// WSSecurity returns the WS-Security config, or nil.
func (c *Credentials) WSSecurity() *WSSecurity {
	if c == nil {
		return nil
	}
	return c.wss
}

// TLSConfig returns the TLS config towards the backend, or nil for Go's default.
func (c *Credentials) TLSConfig() *tls.Config {
	if c == nil || c.tls == nil {
		return nil
	}
	return c.tls.Clone()
}

// apply adds the credentials to a request. A token endpoint failure is Unavailable with the
// reason the endpoint gave (its error code and HTTP status), never the client secret.
func (c *Credentials) apply(req *http.Request) error {
	if c == nil {
		return nil
	}
	if c.basicPass != "" {
		req.SetBasicAuth(c.basicUser, c.basicPass)
	}
	if c.key != "" {
		if c.keyHeader != "" {
			req.Header.Set(c.keyHeader, c.key)
		} else {
			q := req.URL.Query()
			q.Set(c.keyQuery, c.key)
			req.URL.RawQuery = q.Encode()
		}
	}
	if c.tokens != nil {
		tok, err := c.tokens.Token()
		if err != nil {
			return c.tokenError(err)
		}
		c.tokenMu.Lock()
		c.lastToken = tok.AccessToken
		c.tokenMu.Unlock()
		tok.SetAuthHeader(req)
	}
	return nil
}

func (c *Credentials) tokenError(err error) error {
	name := c.backend
	md := map[string]string{MetaRequestSent: "false"}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		why := ""
		if re.Response != nil {
			md["token_http_status"] = fmt.Sprint(re.Response.StatusCode)
			why = fmt.Sprintf(" HTTP %d", re.Response.StatusCode)
		}
		if re.ErrorCode != "" && safeCode.MatchString(re.ErrorCode) {
			md["token_error"] = re.ErrorCode
			why += " " + re.ErrorCode
		}
		return Errorf(name, ReasonBackendAuth, md, "backend %s: the OAuth2 token endpoint refused the bridge's client credentials (%s); check the backend's auth.oauth2 config", name, strings.TrimSpace(why))
	}
	return Errorf(name, ReasonBackendAuth, md, "backend %s: the OAuth2 token endpoint could not be reached; try again later", name)
}

// safeCode is what an OAuth2 error code looks like (RFC 6749 5.2); anything else from the
// token endpoint is not repeated.
var safeCode = regexp.MustCompile(`^[a-z_]{1,64}$`)

func basicValue(user, pass string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	v := r.Header.Get("Authorization")
	return strings.TrimPrefix(v, "Basic ")
}

// ReadSecret reads a secret given as a whole-value ${ENV_VAR} reference or as a file, as the
// backends' credentials are; other packages (the shared Redis store) read theirs with it.
func ReadSecret(ref, file string) (string, error) { return readSecret(ref, file) }

// IsEnvRef reports whether v is a whole-value ${ENV_VAR} reference, the only way a secret may
// be written in the config.
func IsEnvRef(v string) bool { return envRef.MatchString(v) }
