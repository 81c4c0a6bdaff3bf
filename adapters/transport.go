package adapters

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Transport sends one request to a backend over HTTP and reads its reply within the bounds the
// backend's config sets. It turns transport failures into Outcomes; reading the reply's meaning
// (faults, HTTP statuses) is the adapter's job.
type Transport struct {
	backend  Backend
	endpoint *url.URL // parsed once; nil when the endpoint is unusable (see Err)
	client   *http.Client
	// rt is the default client's round tripper, called directly (see send); nil for a client
	// given to NewTransport.
	rt       http.RoundTripper
	creds    *Credentials
	credsErr error // why the backend's credentials could not be resolved; every call fails
	urlErr   error // why the endpoint cannot be called over HTTP
	closed   atomic.Bool
}

// NewTransport returns a transport for a backend. A nil client means a client with a private
// connection pool, no overall timeout (deadlines come from the context) and no redirects
// followed: Go would turn a redirected POST into a GET without the envelope (301 to 303) and
// would send the backend's fixed headers, API keys included, to whatever host the redirect
// names. A redirect reaches the adapter as its 3xx status instead.
//
// The backend's credentials (Backend.Auth) are resolved here, once: the default client gets
// their TLS settings, and every request their headers. When they cannot be resolved, Err says
// why and every call fails without reaching the backend.
func NewTransport(b Backend, client *http.Client) *Transport {
	creds, credsErr := b.Credentials()
	var rt http.RoundTripper
	if client == nil {
		client = &http.Client{
			Transport: traced(&http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConnsPerHost:   min(64, b.WithDefaults().MaxConnections),
				MaxConnsPerHost:       b.WithDefaults().MaxConnections, // 1,500 concurrent calls once opened 1,404 connections
				IdleConnTimeout:       90 * time.Second,
				TLSHandshakeTimeout:   10 * time.Second,
				ExpectContinueTimeout: time.Second,
				TLSClientConfig:       creds.TLSConfig(),
			}),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		rt = client.Transport
	}
	t := &Transport{backend: b.WithDefaults(), client: client, rt: rt, creds: creds, credsErr: credsErr}
	t.endpoint, t.urlErr = httpEndpoint(b)
	return t
}

// httpEndpoint parses the backend's endpoint as an http(s) URL with a host.
func httpEndpoint(b Backend) (*url.URL, error) {
	if err := b.CheckEndpoint(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(b.Endpoint)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("backend %q: the %s kind calls over HTTP; its endpoint must be an http:// or https:// URL, not %s://", b.Name, b.Kind, u.Scheme)
	}
	return u, nil
}

// Err returns why the backend cannot be called: credentials that could not be resolved, or an
// endpoint that is not an http(s) URL. Adapters report it when they are made, so a missing
// secret stops the server at start.
func (t *Transport) Err() error { return errors.Join(t.urlErr, t.credsErr) }

// Close releases the transport's idle connections, and from then on each connection as soon as
// its call ends: calls already under way finish first. A kind's adapter calls it from its own
// Close (see Factory).
func (t *Transport) Close() error {
	t.closed.Store(true)
	t.client.CloseIdleConnections()
	return nil
}

// afterCall drops the connection a call returned to the pool once the transport is closed.
func (t *Transport) afterCall() {
	if t.closed.Load() {
		t.client.CloseIdleConnections()
	}
}

// Credentials returns the backend's resolved credentials (nil when Err is not).
func (t *Transport) Credentials() *Credentials { return t.creds }

// Redactor returns the backend's Redactor (see NewRedactor), hiding the resolved secrets and
// the bearer token last sent as well.
func (t *Transport) Redactor() *Redactor {
	b := t.backend
	if t.creds != nil {
		b.Headers = t.creds.Headers() // resolved, so an Authorization header's parts are hidden too
	}
	r := NewRedactor(b, t.creds.Secrets()...)
	r.creds = t.creds
	return r
}

// Reply is a backend's answer, read in full up to the size bound.
type Reply struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Post sends body to the backend's endpoint. The call ends at the earlier of the context's
// deadline and the backend's timeout. Failures come back as Outcome errors.
func (t *Transport) Post(ctx context.Context, header http.Header, body []byte) (*Reply, error) {
	return t.Do(ctx, &Request{Method: http.MethodPost, Header: header, Body: body})
}

// Request is one HTTP request to a backend, for Do and DoStream.
type Request struct {
	// Method is the HTTP verb; "" is POST.
	Method string
	// URL is where the request goes: "" is the backend's endpoint; a reference such as
	// "/items/42?x=1" extends the endpoint's path ("http://h/api" + "/items/42" is
	// "http://h/api/items/42") and adds to its query; an absolute URL (a next-page link a
	// backend sent) must have the endpoint's scheme and host, as credentials go with it. Build
	// paths with ExpandPath, which escapes values.
	URL string
	// Header is sent after the backend's own headers and credentials, replacing them by name.
	Header http.Header
	// Body is sent as is; nil sends none.
	Body []byte
	// Records says the reply is read as a stream of records (a server-streaming method's
	// items), for DoStream: max_reply_bytes then bounds each record instead of the whole body,
	// from one ReplyStream.MarkRecord to the next, so a reply of any length streams in bounded
	// memory while no single record can exceed the bound. The backend's timeout still bounds
	// the whole call.
	Records bool
}

// recordSlack is how far past a record's start a stream's reader may have read ahead (its
// buffer), which the per-record bound allows on top of max_reply_bytes.
const recordSlack = 64 << 10

// Do sends r to the backend and reads the reply in full up to the size bound. The call ends at
// the earlier of the context's deadline and the backend's timeout. Failures come back as
// Outcome errors; the reply's HTTP status is the caller's to judge (see StatusError).
func (t *Transport) Do(ctx context.Context, r *Request) (*Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, t.backend.Timeout)
	defer cancel()
	resp, err := t.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer t.afterCall()
	defer func() { _ = resp.Body.Close() }()
	limit := t.backend.MaxReplyBytes
	data, err := readReply(resp.Body, resp.ContentLength, limit)
	if err != nil {
		return nil, t.transportError(ctx, err)
	}
	if int64(len(data)) > limit {
		return nil, t.tooLarge(resp.StatusCode)
	}
	return &Reply{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// readReply reads a reply body of at most limit bytes, and one more if there is more. A body
// whose length was declared (send refused one over limit) is read into a buffer of that size
// at once, instead of growing one from 512 bytes by copies.
func readReply(body io.Reader, declared, limit int64) ([]byte, error) {
	if declared < 0 || declared > limit {
		return io.ReadAll(io.LimitReader(body, limit+1))
	}
	// One byte over the declared length, so that the read which finds the end needs no more
	// room; a body longer than it said grows the buffer and is still bounded.
	buf := make([]byte, 0, declared+1)
	r := io.LimitReader(body, limit+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // let append pick the next size
		}
	}
}

// ReplyStream is a backend's answer whose body is read as it arrives rather than held in
// memory, for replies that are read piece by piece (a server-streaming method's). The caller
// must Close it.
type ReplyStream struct {
	StatusCode int
	Header     http.Header
	// Body reads the reply body within the same bounds Post applies to a whole reply: past
	// max_reply_bytes it fails with REPLY_TOO_LARGE, and at the call's deadline, on a reset
	// connection or when the caller cancels, with the Outcome error Post would return.
	Body io.Reader

	body   *boundedBody
	close  func() error
	cancel context.CancelFunc
}

// MarkRecord starts a new record of a reply read with Request.Records: the size bound applies
// afresh from here. It does nothing for other replies.
func (r *ReplyStream) MarkRecord() {
	if r.body.records && r.body.err == nil {
		r.body.left = r.body.t.backend.MaxReplyBytes + recordSlack
		r.body.record++
	}
}

// RecordTooLarge is the error of a streamed reply whose record (1-based; 0 for what precedes
// the first) a kind found to be over max_reply_bytes by the bytes it consumed, which is exact
// where the transport's window (see Request.Records) allows the reader's read-ahead.
func (r *ReplyStream) RecordTooLarge(record int) error {
	return r.body.t.recordTooLarge(r.StatusCode, record)
}

// Err returns the error Body failed with, or nil while it has not failed (io.EOF is not a
// failure). A decoder reading Body may wrap or replace the errors it gets, so the caller asks
// here whether a failure was the transport's.
func (r *ReplyStream) Err() error { return r.body.err }

// Close ends the call: the body is closed and the call's context canceled, so a backend still
// sending learns that no one is reading.
func (r *ReplyStream) Close() error {
	r.cancel()
	return r.close()
}

// PostStream sends body as Post does, but returns once the reply's headers have arrived; the
// body is read through the returned ReplyStream. The backend's timeout bounds the whole call,
// reading the body included, as it does for Post; so does the context's deadline.
func (t *Transport) PostStream(ctx context.Context, header http.Header, body []byte) (*ReplyStream, error) {
	return t.DoStream(ctx, &Request{Method: http.MethodPost, Header: header, Body: body})
}

// DoStream sends r as Do does, but returns once the reply's headers have arrived; the body is
// read through the returned ReplyStream, within the same bounds.
func (t *Transport) DoStream(ctx context.Context, r *Request) (*ReplyStream, error) {
	ctx, cancel := context.WithTimeout(ctx, t.backend.Timeout)
	resp, err := t.send(ctx, r) //nolint:bodyclose // the caller closes it with ReplyStream.Close
	if err != nil {
		cancel()
		return nil, err
	}
	bb := &boundedBody{r: resp.Body, left: t.backend.MaxReplyBytes, t: t, ctx: ctx, status: resp.StatusCode, records: r.Records}
	if r.Records {
		bb.left += recordSlack
	}
	closeBody := func() error {
		err := resp.Body.Close()
		t.afterCall()
		return err
	}
	return &ReplyStream{StatusCode: resp.StatusCode, Header: resp.Header, Body: bb, body: bb, close: closeBody, cancel: cancel}, nil
}

// send makes the request and returns the response once its headers have arrived. A reply whose
// Content-Length says it is over the bound fails here, before any of it is read.
func (t *Transport) send(ctx context.Context, r *Request) (*http.Response, error) {
	if t.urlErr != nil {
		return nil, Errorf(t.backend.Name, ReasonBackendUnreachable, map[string]string{MetaRequestSent: "false"}, "backend %s has an unusable endpoint; an operator must fix its config", t.backend.Name)
	}
	target, err := t.resolve(r.URL)
	if err != nil {
		return nil, err
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	where := t.backend.Endpoint // the endpoint as configured: no URL to write again per call
	if r.URL != "" {
		where = target.String()
	}
	req, err := http.NewRequestWithContext(ctx, method, where, body)
	if err != nil {
		return nil, Errorf(t.backend.Name, ReasonRequestNotEncodable, map[string]string{MetaRequestSent: "false"}, "the call to backend %s cannot be made: %s", t.backend.Name, redactURLError(err))
	}
	for k, v := range t.creds.Headers() {
		req.Header.Set(k, v)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if t.credsErr != nil {
		return nil, Errorf(t.backend.Name, ReasonBackendAuth, map[string]string{MetaRequestSent: "false"}, "backend %s has credentials the bridge cannot read; an operator must fix its auth config", t.backend.Name)
	}
	if err := t.creds.apply(req); err != nil {
		return nil, err
	}
	var resp *http.Response
	if t.rt != nil {
		// The default client follows no redirect and has no timeout and no cookie jar, so of
		// what Client.Do adds it needs only the Authorization of an endpoint's user:password;
		// the rest (a copy of the headers per call for redirects, their bookkeeping) is work
		// and garbage on every call for nothing.
		if u := req.URL.User; u != nil && req.Header.Get("Authorization") == "" {
			pw, _ := u.Password()
			req.SetBasicAuth(u.Username(), pw)
		}
		resp, err = t.rt.RoundTrip(req)
	} else {
		resp, err = t.client.Do(req)
	}
	if err != nil {
		return nil, t.transportError(ctx, err)
	}
	if resp.ContentLength > t.backend.MaxReplyBytes && !r.Records {
		_ = resp.Body.Close()
		return nil, t.tooLarge(resp.StatusCode)
	}
	return resp, nil
}

// boundedBody reads a reply body up to the size bound, turning read failures into Outcome
// errors. The first failure sticks: every later Read returns it.
type boundedBody struct {
	r      io.Reader
	left   int64 // bytes that may still be read
	t      *Transport
	ctx    context.Context // the call's, to tell a deadline from a reset when a read fails
	status int
	err    error
	// records: the bound is per record (see Request.Records); record counts MarkRecord calls.
	records bool
	record  int
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the bound is enough to know the reply is too large
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		if b.records {
			b.err = b.t.recordTooLarge(b.status, b.record)
		} else {
			b.err = b.t.tooLarge(b.status)
		}
		return 0, b.err
	}
	b.left -= int64(n)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF):
		return n, io.EOF
	}
	b.err = b.t.transportError(b.ctx, err)
	return n, b.err
}

func (t *Transport) tooLarge(status int) error {
	return Errorf(t.backend.Name, ReasonReplyTooLarge, map[string]string{"http_status": strconv.Itoa(status), "limit_bytes": strconv.FormatInt(t.backend.MaxReplyBytes, 10)},
		"backend %s replied with more than %d bytes, the configured max_reply_bytes", t.backend.Name, t.backend.MaxReplyBytes)
}

func (t *Transport) recordTooLarge(status, record int) error {
	what := "before its first record"
	if record > 0 {
		what = fmt.Sprintf("in record %d", record)
	}
	return Errorf(t.backend.Name, ReasonReplyTooLarge, map[string]string{"http_status": strconv.Itoa(status), "limit_bytes": strconv.FormatInt(t.backend.MaxReplyBytes, 10), "records_started": strconv.Itoa(record)},
		"backend %s sent more than %d bytes %s of a streamed reply; the configured max_reply_bytes bounds each record", t.backend.Name, t.backend.MaxReplyBytes, what)
}

// transportError classifies a failed exchange. The message names the backend and the kind of
// failure, never the endpoint URL (it may carry credentials) or Go's internal error text.
func (t *Transport) transportError(ctx context.Context, err error) error {
	name := t.backend.Name
	// A timeout or a connection lost mid-call may come after the backend received the request
	// and acted on it; a refused connection or a name that does not resolve never sent it. The
	// server tells callers of state-changing methods so (see adapters.MetaRequestSent).
	maybeSent := map[string]string{MetaRequestSent: "unknown"}
	notSent := map[string]string{MetaRequestSent: "false"}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return Errorf(name, ReasonBackendTimeout, maybeSent, "backend %s did not answer in time (deadline or the backend's %s timeout)", name, t.backend.Timeout)
	case errors.Is(ctx.Err(), context.Canceled):
		return Errorf(name, ReasonCanceled, maybeSent, "call to backend %s canceled by the caller", name)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return Errorf(name, ReasonBackendTimeout, maybeSent, "backend %s timed out", name)
	}
	var cause string
	sent := maybeSent
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		cause, sent = "refused the connection", notSent
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		cause = "closed the connection mid-call"
	case errors.As(err, &dnsErr):
		cause, sent = "has a host name that does not resolve", notSent
	default:
		cause = "could not be reached"
	}
	return Errorf(name, ReasonBackendUnreachable, sent, "backend %s %s; try again later", name, cause)
}

// resolve turns a Request's URL into the URL to call (see Request.URL).
func (t *Transport) resolve(ref string) (*url.URL, error) {
	if ref == "" {
		return t.endpoint, nil
	}
	notSent := map[string]string{MetaRequestSent: "false"}
	u, err := url.Parse(ref)
	if err != nil {
		return nil, Errorf(t.backend.Name, ReasonRequestNotEncodable, notSent, "the call to backend %s has a malformed URL: %s", t.backend.Name, redactURLError(err))
	}
	if u.IsAbs() || u.Host != "" {
		if !strings.EqualFold(u.Scheme, t.endpoint.Scheme) || !strings.EqualFold(u.Host, t.endpoint.Host) {
			// A link a backend sent (the next page) pointing elsewhere would carry the backend's
			// credentials to another host.
			return nil, Errorf(t.backend.Name, ReasonBackendReplyInvalid, nil, "backend %s pointed the bridge at another host, which it does not call with the backend's credentials", t.backend.Name)
		}
		return u, nil
	}
	out := *t.endpoint
	path := strings.TrimSuffix(out.Path, "/")
	if u.Path != "" {
		path += "/" + strings.TrimPrefix(u.Path, "/")
	}
	out.Path, out.RawPath = path, ""
	if u.RawPath != "" || strings.Contains(u.EscapedPath(), "%") {
		out.RawPath = strings.TrimSuffix(t.endpoint.EscapedPath(), "/")
		if u.Path != "" {
			out.RawPath += "/" + strings.TrimPrefix(u.EscapedPath(), "/")
		}
	}
	switch {
	case u.RawQuery == "":
	case out.RawQuery == "":
		out.RawQuery = u.RawQuery
	default:
		out.RawQuery += "&" + u.RawQuery
	}
	out.Fragment, out.RawFragment = "", ""
	return &out, nil
}
