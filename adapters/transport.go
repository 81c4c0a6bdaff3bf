package adapters

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// Transport sends one request to a backend over HTTP and reads its reply within the bounds the
// backend's config sets. It turns transport failures into Outcomes; reading the reply's meaning
// (faults, HTTP statuses) is the adapter's job.
type Transport struct {
	backend  Backend
	client   *http.Client
	creds    *Credentials
	credsErr error // why the backend's credentials could not be resolved; every call fails
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
	}
	return &Transport{backend: b.WithDefaults(), client: client, creds: creds, credsErr: credsErr}
}

// Err returns why the backend's credentials could not be resolved, or nil. Adapters report it
// when they are made, so a missing secret stops the server at start.
func (t *Transport) Err() error { return t.credsErr }

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
	ctx, cancel := context.WithTimeout(ctx, t.backend.Timeout)
	defer cancel()
	resp, err := t.send(ctx, header, body)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	limit := t.backend.MaxReplyBytes
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, t.transportError(ctx, err)
	}
	if int64(len(data)) > limit {
		return nil, t.tooLarge(resp.StatusCode)
	}
	return &Reply{StatusCode: resp.StatusCode, Header: resp.Header, Body: data}, nil
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
	ctx, cancel := context.WithTimeout(ctx, t.backend.Timeout)
	resp, err := t.send(ctx, header, body) //nolint:bodyclose // the caller closes it with ReplyStream.Close
	if err != nil {
		cancel()
		return nil, err
	}
	bb := &boundedBody{r: resp.Body, left: t.backend.MaxReplyBytes, t: t, ctx: ctx, status: resp.StatusCode}
	return &ReplyStream{StatusCode: resp.StatusCode, Header: resp.Header, Body: bb, body: bb, close: resp.Body.Close, cancel: cancel}, nil
}

// send makes the request and returns the response once its headers have arrived. A reply whose
// Content-Length says it is over the bound fails here, before any of it is read.
func (t *Transport) send(ctx context.Context, header http.Header, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.backend.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, Errorf(t.backend.Name, ReasonBackendUnreachable, nil, "backend %s has an unusable endpoint", t.backend.Name)
	}
	for k, v := range t.creds.Headers() {
		req.Header.Set(k, v)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if t.credsErr != nil {
		return nil, Errorf(t.backend.Name, ReasonBackendAuth, map[string]string{MetaRequestSent: "false"}, "backend %s has credentials the bridge cannot read; an operator must fix its auth config", t.backend.Name)
	}
	if err := t.creds.apply(req); err != nil {
		return nil, err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, t.transportError(ctx, err)
	}
	if resp.ContentLength > t.backend.MaxReplyBytes {
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
		b.err = b.t.tooLarge(b.status)
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
