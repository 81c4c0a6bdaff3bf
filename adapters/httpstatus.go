package adapters

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTPStatus judges the HTTP status of a backend's reply, for every HTTP kind, through the one
// outcome table (see outcomes). A kind first reads what its protocol puts in an error reply
// (a SOAP fault, an XML-RPC fault, an error field of a JSON body) and calls Err for the rest.
type HTTPStatus struct {
	// Backend names the backend in messages and in ErrorInfo's domain.
	Backend string
	// Redactor hides the backend's secrets and addresses in Detail.
	Redactor *Redactor
	// Lacking names what a well-formed error reply of the kind carries, with its article ("a
	// SOAP fault", "an XML-RPC fault"), said in messages about replies without one; "" says
	// nothing.
	Lacking string
	// Resource is true when the URL names the resource the call is about (REST): a 404 then
	// says that resource does not exist (NOT_FOUND), a 400 or 422 that the input was wrong
	// (INVALID_ARGUMENT), a 409 that it conflicts with the resource's state (ABORTED). When the
	// URL is one endpoint for every call (SOAP, XML-RPC), those statuses say the endpoint or the
	// bridge's config is wrong, which the caller cannot fix (FAILED_PRECONDITION).
	Resource bool
	// Detail is the backend's own words about the error, found in the body by the kind (an
	// error message field); it is sanitized, redacted and added to the message.
	Detail string
}

// Err returns nil for a 2xx reply and the outcome error for any other status. A 429 or 503
// with a Retry-After header (seconds or an HTTP date) carries a RetryInfo saying when.
func (h HTTPStatus) Err(reply *Reply) error {
	code := reply.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	md := map[string]string{"http_status": strconv.Itoa(code)}
	name := h.Backend
	detail := ""
	if h.Detail != "" {
		d := Sanitize(h.Redactor.Replace(h.Detail), 300)
		md["backend_message"] = d
		detail = ": " + d
	}
	without := ""
	if h.Lacking != "" {
		without = " without " + h.Lacking
	}
	page := ""
	if looksLikeHTML(reply) {
		page = " (an HTML page, as proxies and servers send for errors)"
		md["content_type"] = reply.Header.Get("Content-Type")
	}
	after, hasAfter := retryAfter(reply.Header, time.Now())
	if hasAfter {
		md["retry_after"] = retryAfterText(after)
	}
	withRetry := func(err error) error {
		if hasAfter {
			return WithRetryInfo(err, after)
		}
		return err
	}
	switch {
	case code == http.StatusTooManyRequests:
		return withRetry(Errorf(name, ReasonBackendRateLimited, md, "backend %s is rate limiting calls (HTTP 429); retry later%s", name, detail))
	case code >= 300 && code < 400:
		return Errorf(name, ReasonBackendRejected, md, "backend %s redirected the call (HTTP %d), which the bridge does not follow; the backend's endpoint needs updating", name, code)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return Errorf(name, ReasonBackendRejected, md, "backend %s refused the bridge's credentials (HTTP %d)%s; an operator must check the backend's auth config%s", name, code, page, detail)
	case h.Resource && code == http.StatusNotFound:
		return Errorf(name, ReasonBackendNotFound, md, "backend %s has no such resource (HTTP 404)%s", name, detail)
	case h.Resource && (code == http.StatusBadRequest || code == http.StatusUnprocessableEntity):
		return Errorf(name, ReasonBackendInvalidArgument, md, "backend %s refused the input (HTTP %d)%s", name, code, detail)
	case h.Resource && code == http.StatusConflict:
		return Errorf(name, ReasonBackendConflict, md, "backend %s refused the call as conflicting with the resource's state (HTTP 409)%s", name, detail)
	case code >= 400 && code < 500:
		return Errorf(name, ReasonBackendRejected, md, "backend %s refused the call with HTTP %d%s%s%s", name, code, without, page, detail)
	default:
		return withRetry(Errorf(name, ReasonBackendBadReply, md, "backend %s answered HTTP %d%s%s%s", name, code, without, page, detail))
	}
}

// looksLikeHTML reports whether a reply is an HTML page: by its Content-Type, or by how its
// body starts when the type says nothing useful.
func looksLikeHTML(r *Reply) bool {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "application/xhtml") {
		return true
	}
	head := bytes.TrimSpace(r.Body[:min(len(r.Body), 512)])
	head = bytes.ToLower(head)
	return bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html"))
}

// LooksLikeHTML reports whether a reply is an HTML page (an error page from a proxy or an
// application server), for kinds to say so instead of "malformed JSON".
func LooksLikeHTML(r *Reply) bool { return looksLikeHTML(r) }

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date, as RFC 9110 gives it.
// A value in the past or unreadable is no advice.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 86400)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour), true
	}
	return 0, false
}
