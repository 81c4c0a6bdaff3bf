package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHMACGitHubTestVector checks the github style against the example GitHub documents for
// validating webhook deliveries: secret "It's a Secret to Everybody", payload "Hello, World!".
func TestHMACGitHubTestVector(t *testing.T) {
	t.Parallel()
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	secret, body := []byte("It's a Secret to Everybody"), []byte("Hello, World!")
	if got := "sha256=" + hex.EncodeToString(hmacSHA256(secret, body)); got != want {
		t.Fatalf("HMAC = %s, want the documented %s", got, want)
	}
	c := hmacCheck(HMACVerify{Style: HMACGitHub}, secret)
	for _, tt := range []struct{ name, header, err string }{
		{"documented signature", want, ""},
		{"missing", "", "X-Hub-Signature-256 header is missing"},
		{"no prefix", strings.TrimPrefix(want, "sha256="), `does not start with "sha256="`},
		{"other body's", "sha256=" + hex.EncodeToString(hmacSHA256(secret, []byte("Hello, World?"))), "does not match the body"},
		{"not hex", "sha256=xyz", "does not hold a hex HMAC-SHA256 signature"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/hooks/x", nil)
		if tt.header != "" {
			r.Header.Set("X-Hub-Signature-256", tt.header)
		}
		err := c.check(r, body, time.Now())
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), want[7:]) {
			t.Errorf("%s: the error repeats the expected signature: %v", tt.name, err)
		}
	}
}

// TestHMACStripeScheme checks the stripe style as Stripe documents its scheme: the header
// t=<timestamp>,v1=<signature>[,v1=…][,v0=…], the signature the HMAC-SHA256 of
// "<timestamp>.<body>" in hex, any v1 matching, the timestamp within the tolerance.
func TestHMACStripeScheme(t *testing.T) {
	t.Parallel()
	secret := []byte("whsec_test_secret")
	body := []byte(`{"id":"evt_1","object":"event"}`)
	now := time.Unix(1492774577, 0)
	sign := func(ts int64, key []byte) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(strconv.FormatInt(ts, 10) + "." + string(body)))
		return hex.EncodeToString(m.Sum(nil))
	}
	ts := now.Unix()
	good := sign(ts, secret)
	c := hmacCheck(HMACVerify{Style: HMACStripe}, secret)
	for _, tt := range []struct {
		name, header string
		at           time.Time
		err          string
	}{
		{"signed now", "t=" + strconv.FormatInt(ts, 10) + ",v1=" + good, now, ""},
		{"v0 and several v1, one matching", "t=" + strconv.FormatInt(ts, 10) + ",v1=" + sign(ts, []byte("old")) + ",v1=" + good + ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39", now, ""},
		{"4m59s old", "t=" + strconv.FormatInt(ts, 10) + ",v1=" + good, now.Add(299 * time.Second), ""},
		{"6 minutes old", "t=" + strconv.FormatInt(ts, 10) + ",v1=" + good, now.Add(6 * time.Minute), "beyond the tolerance of 5m0s"},
		{"from the future", "t=" + strconv.FormatInt(ts, 10) + ",v1=" + good, now.Add(-6 * time.Minute), "beyond the tolerance"},
		{"other timestamp", "t=" + strconv.FormatInt(ts+1, 10) + ",v1=" + good, now, "no v1 signature of the Stripe-Signature header matches"},
		{"wrong secret", "t=" + strconv.FormatInt(ts, 10) + ",v1=" + sign(ts, []byte("other")), now, "no v1 signature"},
		{"no timestamp", "v1=" + good, now, "has no timestamp"},
		{"no v1", "t=" + strconv.FormatInt(ts, 10) + ",v0=" + good, now, "has no v1 signature"},
		{"missing", "", now, "Stripe-Signature header is missing"},
		{"garbage", "nonsense", now, "not a list of key=value"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/hooks/x", nil)
		if tt.header != "" {
			r.Header.Set("Stripe-Signature", tt.header)
		}
		err := c.check(r, body, tt.at)
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.err)
		}
	}
	// A tolerance of its own.
	short := hmacCheck(HMACVerify{Style: HMACStripe, Tolerance: 10 * time.Second}, secret)
	r := httptest.NewRequest(http.MethodPost, "/hooks/x", nil)
	r.Header.Set("Stripe-Signature", "t="+strconv.FormatInt(ts, 10)+",v1="+good)
	if err := short.check(r, body, now.Add(11*time.Second)); err == nil || !strings.Contains(err.Error(), "tolerance of 10s") {
		t.Errorf("tolerance 10s, 11s late: got %v", err)
	}
}

// TestHMACGeneric checks the generic style: a header of its own, hex or base64, a prefix, and a
// timestamp header folded into the signed payload by a template.
func TestHMACGeneric(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	body := []byte("a=1&b=2")
	now := time.Unix(1700000000, 0)
	sum := hmacSHA256(secret, body)
	slack := hmacSHA256(secret, []byte("v0:1700000000:a=1&b=2"))
	for _, tt := range []struct {
		name    string
		cfg     HMACVerify
		headers map[string]string
		at      time.Time
		err     string
	}{
		{"hex in X-Signature", HMACVerify{}, map[string]string{"X-Signature": hex.EncodeToString(sum)}, now, ""},
		{"base64 with a prefix", HMACVerify{Header: "X-Sig", Encoding: "base64", Prefix: "hmac-sha256="}, map[string]string{"X-Sig": "hmac-sha256=" + b64(sum)}, now, ""},
		{"base64 without its prefix", HMACVerify{Header: "X-Sig", Encoding: "base64", Prefix: "hmac-sha256="}, map[string]string{"X-Sig": b64(sum)}, now, "does not start with"},
		{"hex where base64 is expected", HMACVerify{Encoding: "base64"}, map[string]string{"X-Signature": hex.EncodeToString(sum)}, now, "does not hold a base64"},
		{"wrong signature", HMACVerify{}, map[string]string{"X-Signature": hex.EncodeToString(hmacSHA256([]byte("x"), body))}, now, "does not match the body"},
		{"missing", HMACVerify{}, nil, now, "X-Signature header is missing"},
		{"timestamp template (Slack's form)", HMACVerify{Header: "X-Slack-Signature", Prefix: "v0=", TimestampHeader: "X-Slack-Request-Timestamp", Payload: "v0:{timestamp}:{body}"},
			map[string]string{"X-Slack-Signature": "v0=" + hex.EncodeToString(slack), "X-Slack-Request-Timestamp": "1700000000"}, now.Add(time.Minute), ""},
		{"timestamp stale", HMACVerify{Header: "X-Slack-Signature", Prefix: "v0=", TimestampHeader: "X-Slack-Request-Timestamp", Payload: "v0:{timestamp}:{body}"},
			map[string]string{"X-Slack-Signature": "v0=" + hex.EncodeToString(slack), "X-Slack-Request-Timestamp": "1700000000"}, now.Add(time.Hour), "beyond the tolerance"},
		{"timestamp changed", HMACVerify{Header: "X-Slack-Signature", Prefix: "v0=", TimestampHeader: "X-Slack-Request-Timestamp", Payload: "v0:{timestamp}:{body}"},
			map[string]string{"X-Slack-Signature": "v0=" + hex.EncodeToString(slack), "X-Slack-Request-Timestamp": "1700000001"}, now, "does not match"},
		{"timestamp missing", HMACVerify{TimestampHeader: "X-Timestamp"}, map[string]string{"X-Signature": hex.EncodeToString(sum)}, now, "X-Timestamp header is missing"},
		{"default template", HMACVerify{TimestampHeader: "X-Timestamp"}, map[string]string{"X-Signature": hex.EncodeToString(hmacSHA256(secret, []byte("1700000000.a=1&b=2"))), "X-Timestamp": "1700000000"}, now, ""},
	} {
		tt.cfg.Style = HMACGeneric
		c := hmacCheck(tt.cfg, secret)
		r := httptest.NewRequest(http.MethodPost, "/hooks/x", nil)
		for k, v := range tt.headers {
			r.Header.Set(k, v)
		}
		err := c.check(r, body, tt.at)
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.err)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
