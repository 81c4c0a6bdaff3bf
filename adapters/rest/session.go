package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/agentbridge/agentbridge/adapters"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
)

// Login is how the bridge opens a session with a backend that wants one (config
// backends.NAME.rest.login): an optional GET for a login token, then a POST of credentials as a
// form or JSON. The cookies the backend sets are kept and sent with every call; the session is
// opened again, once per call, when a call is answered 401 or with one of ExpiredCodes, and
// after MaxAge. Calls that find the session closed wait for one login together.
type Login struct {
	// URL is where the credentials are posted, relative to the endpoint ("/api.php"), with a
	// query if the backend wants one.
	URL string `yaml:"url"`
	// Format of the credentials: form (default) or json.
	Format string `yaml:"format"`
	// Fields are sent as they are, beside the password; a value may be a ${ENV_VAR} reference
	// (a user name).
	Fields map[string]string `yaml:"fields"`
	// PasswordField names the field that carries the password.
	PasswordField string `yaml:"password_field"`
	// Password is a ${ENV_VAR} reference; or use PasswordFile. Never written in clear.
	Password string `yaml:"password"`
	// PasswordFile names a file holding the password.
	PasswordFile string `yaml:"password_file"`
	// Token, when set, is fetched first (MediaWiki's login token).
	Token *LoginToken `yaml:"token"`
	// Success says how a login reply says it worked, when a 2xx is not enough: the value at
	// Path must be Value.
	Success *LoginCheck `yaml:"success"`
	// MessagePath is where a refused login's reason is.
	MessagePath string `yaml:"message_path"`
	// ExpiredCodes are error codes (see body_error) that mean the session has ended.
	ExpiredCodes []string `yaml:"expired_codes"`
	// MaxAge, when set, opens a new session once the current one is this old.
	MaxAge time.Duration `yaml:"max_age"`
}

// LoginToken is a token the backend wants with the credentials, fetched by a GET.
type LoginToken struct {
	// URL is fetched with GET, relative to the endpoint.
	URL string `yaml:"url"`
	// Path is where the token is in the reply (mxj path).
	Path string `yaml:"path"`
	// Field is the login field that carries it.
	Field string `yaml:"field"`
}

// LoginCheck is a value a successful login reply holds.
type LoginCheck struct {
	Path  string `yaml:"path"`
	Value string `yaml:"value"`
}

// session is a backend's login state and cookies.
type session struct {
	backend  string
	cfg      *Login
	t        *adapters.Transport
	redact   *adapters.Redactor
	fields   url.Values
	password string
	hidePw   *strings.Replacer

	lock  chan struct{} // held while logging in or reading the state; a channel so waiting honours ctx
	gen   uint64        // counts logins
	valid bool
	at    time.Time

	cmu     sync.Mutex
	cookies map[string]*http.Cookie
}

func newSession(b adapters.Backend, cfg *Login, t *adapters.Transport) (*session, error) {
	s := &session{backend: b.Name, cfg: cfg, t: t, redact: t.Redactor(), fields: url.Values{}, lock: make(chan struct{}, 1), cookies: map[string]*http.Cookie{}}
	var errs []error
	if cfg.URL == "" {
		errs = append(errs, errors.New("url is required: where the credentials are posted"))
	}
	switch cfg.Format {
	case "", "form", "json":
	default:
		errs = append(errs, fmt.Errorf("format %q: form or json", cfg.Format))
	}
	if cfg.PasswordField == "" {
		errs = append(errs, errors.New("password_field is required"))
	}
	if cfg.Password == "" && cfg.PasswordFile == "" {
		errs = append(errs, errors.New("password (a ${ENV_VAR} reference) or password_file is required"))
	} else if cfg.Password != "" && cfg.PasswordFile != "" {
		errs = append(errs, errors.New("give password or password_file, not both"))
	} else {
		pw, err := adapters.ReadSecret(cfg.Password, b.Path(cfg.PasswordFile)) // relative to the config file
		if err != nil {
			errs = append(errs, fmt.Errorf("password: %w (a password is never written in the config in clear)", err))
		}
		s.password = pw
	}
	for k, v := range cfg.Fields {
		if adapters.IsEnvRef(v) {
			val, err := adapters.ReadSecret(v, "")
			if err != nil {
				errs = append(errs, fmt.Errorf("fields.%s: %w", k, err))
				continue
			}
			v = val
		}
		s.fields.Set(k, v)
	}
	if tk := cfg.Token; tk != nil && (tk.URL == "" || tk.Path == "" || tk.Field == "") {
		errs = append(errs, errors.New("token needs url, path and field"))
	}
	if c := cfg.Success; c != nil && c.Path == "" {
		errs = append(errs, errors.New("success needs path"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(s.password) >= 1 {
		s.hidePw = strings.NewReplacer(s.password, "[redacted]", url.QueryEscape(s.password), "[redacted]")
	}
	return s, nil
}

// hide removes the password from text a backend sent.
func (s *session) hide(text string) string {
	if s.hidePw == nil {
		return text
	}
	return s.hidePw.Replace(text)
}

// hide removes the backend's secrets (and the login password) from text the backend sent.
func (a *Adapter) hide(text string) string {
	if a.session != nil {
		text = a.session.hide(text)
	}
	return a.redact.Replace(text)
}

// ensure returns the current login's number, logging in first when there is none or it is too
// old. Concurrent callers wait for one login.
func (s *session) ensure(ctx context.Context) (uint64, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return 0, adapters.Errorf(s.backend, adapters.ReasonBackendAuth, map[string]string{adapters.MetaRequestSent: "false"}, "backend %s: the call ended while waiting for the bridge's login", s.backend)
	}
	defer func() { <-s.lock }()
	if s.valid && (s.cfg.MaxAge <= 0 || time.Since(s.at) < s.cfg.MaxAge) {
		return s.gen, nil
	}
	s.valid = false
	if err := s.login(ctx); err != nil {
		return 0, err
	}
	s.gen++
	s.valid, s.at = true, time.Now()
	return s.gen, nil
}

// expire marks login gen as ended, unless another call has logged in again since.
func (s *session) expire(gen uint64) {
	s.lock <- struct{}{}
	if s.gen == gen {
		s.valid = false
	}
	<-s.lock
}

// ended reports whether a call's outcome says the session has ended: HTTP 401, or an error
// code the config lists.
func (s *session) ended(reply *adapters.Reply, err error) bool {
	if reply.StatusCode == http.StatusUnauthorized {
		return true
	}
	if err == nil || len(s.cfg.ExpiredCodes) == 0 {
		return false
	}
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if code, ok := info.GetMetadata()["fault_code"]; ok && slices.Contains(s.cfg.ExpiredCodes, code) {
				return true
			}
		}
	}
	return false
}

// login opens a session: the token, then the credentials. No error carries the password.
func (s *session) login(ctx context.Context) error {
	name := s.backend
	s.cmu.Lock()
	clear(s.cookies)
	s.cmu.Unlock()
	fields := url.Values{}
	for k, v := range s.fields {
		fields[k] = slices.Clone(v)
	}
	if tk := s.cfg.Token; tk != nil {
		reply, err := s.t.Do(ctx, &adapters.Request{Method: http.MethodGet, URL: tk.URL, Header: s.withCookies(nil)})
		if err != nil {
			return err
		}
		s.keepCookies(reply.Header)
		if err := (adapters.HTTPStatus{Backend: name, Redactor: s.redact}).Err(reply); err != nil {
			return s.refused(err, "the login token")
		}
		doc, _, err := docOf(reply, agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_UNSPECIFIED)
		if err != nil {
			return adapters.Errorf(name, adapters.ReasonBackendAuth, map[string]string{adapters.MetaRequestSent: "false"}, "backend %s sent a login token reply the bridge cannot read: %v", name, err)
		}
		token := textAt(doc, tk.Path)
		if token == "" {
			return adapters.Errorf(name, adapters.ReasonBackendAuth, map[string]string{adapters.MetaRequestSent: "false"}, "backend %s sent no login token at %s", name, tk.Path)
		}
		fields.Set(tk.Field, token)
	}
	fields.Set(s.cfg.PasswordField, s.password)
	var body []byte
	header := s.withCookies(nil)
	if s.cfg.Format == "json" {
		obj := map[string]string{}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			obj[k] = fields.Get(k)
		}
		body, _ = json.Marshal(obj)
		header.Set("Content-Type", "application/json")
	} else {
		body = []byte(fields.Encode())
		header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	reply, err := s.t.Do(ctx, &adapters.Request{Method: http.MethodPost, URL: s.cfg.URL, Header: header, Body: body})
	if err != nil {
		return err
	}
	s.keepCookies(reply.Header)
	detail := ""
	var doc *document
	if !adapters.LooksLikeHTML(reply) {
		doc, _, _ = docOf(reply, agentbridgev1.RestReplyFormat_REST_REPLY_FORMAT_UNSPECIFIED)
		if doc != nil && s.cfg.MessagePath != "" {
			detail = s.hide(textAt(doc, s.cfg.MessagePath))
		}
	}
	if err := (adapters.HTTPStatus{Backend: name, Redactor: s.redact, Detail: detail}).Err(reply); err != nil {
		return s.refused(err, "the login")
	}
	if c := s.cfg.Success; c != nil {
		got := ""
		if doc != nil {
			got = textAt(doc, c.Path)
		}
		if c.Value == "" && got != "" || got == c.Value && c.Value != "" {
			return nil
		}
		if detail == "" {
			detail = "the reply does not say the login succeeded"
		}
		return adapters.Errorf(name, adapters.ReasonBackendRejected, map[string]string{adapters.MetaRequestSent: "false", "backend_message": adapters.Sanitize(s.redact.Replace(detail), 300)},
			"backend %s refused the bridge's login: %s; an operator must check the backend's rest.login config", name, adapters.Sanitize(s.redact.Replace(detail), 300))
	}
	return nil
}

// refused says the call was not made because the login failed, keeping the login's status.
func (s *session) refused(err error, what string) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	p := st.Proto()
	p.Message = "logging in: " + what + ": " + p.GetMessage()
	return status.FromProto(p).Err()
}

// withCookies returns h (or a new header) with the session's cookies.
func (s *session) withCookies(h http.Header) http.Header {
	if h == nil {
		h = http.Header{}
	} else {
		h = h.Clone()
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if len(s.cookies) == 0 {
		h.Del("Cookie")
		return h
	}
	names := make([]string, 0, len(s.cookies))
	for n := range s.cookies {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		c := s.cookies[n]
		parts = append(parts, (&http.Cookie{Name: c.Name, Value: c.Value}).String())
	}
	h.Set("Cookie", strings.Join(parts, "; "))
	return h
}

// keepCookies stores the cookies a reply sets, and drops those it expires. The backend is one
// host, reached only by its endpoint, so cookies are kept by name.
func (s *session) keepCookies(h http.Header) {
	cs := (&http.Response{Header: h}).Cookies()
	if len(cs) == 0 {
		return
	}
	now := time.Now()
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for _, c := range cs {
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(now)) || c.Value == "" {
			delete(s.cookies, c.Name)
			continue
		}
		s.cookies[c.Name] = c
	}
}
