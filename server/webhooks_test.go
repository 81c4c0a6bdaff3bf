package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/contract"
	"github.com/agentbridge/agentbridge/server/store"
)

// hookHead is a config serving one linked service (the bridge needs one) with a backend that
// is never called.
const hookHead = "services: [agentbridge.testing.v1.VatService]\nbackends:\n  vat:\n    kind: soap\n    endpoint: http://127.0.0.1:1/vat\n"

const hookSecret = "It's a Secret to Everybody"

// hookBridge is a bridge built from a config with event sources, over a store the test reads.
type hookBridge struct {
	h     http.Handler
	store store.Store
}

// newHookBridge builds the config yaml (after hookHead) with the environment variable
// HOOK_SECRET set, and st (a memory store when nil) as its store.
func newHookBridge(t *testing.T, yaml string, st store.Store, dir string) *hookBridge {
	t.Helper()
	c := parseHookConfig(t, "store: {engine: memory}\n"+yaml, dir)
	if st == nil {
		st = store.NewMemory(store.Retention{})
	}
	srv, err := c.Build(server.WithStore(st), server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &hookBridge{h: srv.Handler(), store: st}
}

func parseHookConfig(t testing.TB, yaml, dir string) *server.Config {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "agentbridge.yaml")
	if err := os.WriteFile(path, []byte(hookHead+yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := server.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// post sends a delivery through the bridge's HTTP handler.
func (b *hookBridge) post(t *testing.T, path, contentType, body string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	return w
}

// events reads every stored event of a source.
func (b *hookBridge) events(t *testing.T, source string) []*agentbridgev1.Event {
	t.Helper()
	entries, err := b.store.Read(t.Context(), server.EventTopic(source), "", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []*agentbridgev1.Event
	for _, e := range entries {
		ev := &agentbridgev1.Event{}
		if err := proto.Unmarshal(e.Data, ev); err != nil {
			t.Fatal(err)
		}
		if e.Key != ev.GetId() {
			t.Errorf("entry key %q, event id %q", e.Key, ev.GetId())
		}
		out = append(out, ev)
	}
	return out
}

func githubSig(body string) string {
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func stripeSig(ts int64, body string) string {
	m := hmac.New(sha256.New, []byte(hookSecret))
	m.Write([]byte(strconv.FormatInt(ts, 10) + "." + body))
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func replyJSON(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("reply %d is not JSON: %q", w.Code, w.Body.String())
	}
	return m
}

const stockSource = `
events:
  sources:
    stock:
      message: agentbridge.demo.v1.StockChanged
      id: event_id
      type: stock.changed
      verify:
        hmac: {style: github, secret: "${HOOK_SECRET}"}
`

const stockEvent = `{"eventId":"ev-1","sku":"A-100","onHand":7,"previous":9,"changedAt":"2026-01-02T03:04:05Z"}`

// TestWebhookJSON: a signed JSON event is stored as the Event the delivery side reads, the
// sender hears 202 with its id and cursor, and the same id sent again is acknowledged as a
// duplicate without a second entry.
func TestWebhookJSON(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	b := newHookBridge(t, stockSource, nil, "")
	w := b.post(t, "/hooks/stock", "application/json", stockEvent, map[string]string{"X-Hub-Signature-256": githubSig(stockEvent)})
	if w.Code != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202", w.Code, w.Body)
	}
	r := replyJSON(t, w)
	if r["id"] != "ev-1" || r["cursor"] == "" || r["duplicate"] != false {
		t.Errorf("reply %v", r)
	}
	evs := b.events(t, "stock")
	if len(evs) != 1 {
		t.Fatalf("%d events stored, want 1", len(evs))
	}
	ev := evs[0]
	if ev.GetSource() != "stock" || ev.GetId() != "ev-1" || ev.GetType() != "stock.changed" || ev.GetCursor() != "" || time.Since(ev.GetReceivedAt().AsTime()) > time.Minute {
		t.Errorf("event %v", ev)
	}
	if ev.GetData().GetTypeUrl() != "type.googleapis.com/agentbridge.demo.v1.StockChanged" {
		t.Errorf("type_url %q", ev.GetData().GetTypeUrl())
	}
	var sc demov1.StockChanged
	if err := ev.GetData().UnmarshalTo(&sc); err != nil {
		t.Fatal(err)
	}
	if sc.GetSku() != "A-100" || sc.GetOnHand() != 7 || sc.GetPrevious() != 9 || sc.GetChangedAt().AsTime().Year() != 2026 {
		t.Errorf("data %v", &sc)
	}

	w = b.post(t, "/hooks/stock", "application/json", stockEvent, map[string]string{"X-Hub-Signature-256": githubSig(stockEvent)})
	if w.Code != http.StatusOK {
		t.Fatalf("duplicate: got %d %s, want 200", w.Code, w.Body)
	}
	if d := replyJSON(t, w); d["duplicate"] != true || d["cursor"] != r["cursor"] || d["id"] != "ev-1" {
		t.Errorf("duplicate reply %v, first %v", d, r)
	}
	if n := len(b.events(t, "stock")); n != 1 {
		t.Errorf("%d events after a duplicate, want 1", n)
	}
	b.post(t, "/hooks/stock", "application/json", stockEvent, nil) // unverified

	// Each outcome is counted.
	mw := httptest.NewRecorder()
	b.h.ServeHTTP(mw, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		`agentbridge_webhook_deliveries_total{outcome="stored",source="stock"} 1`,
		`agentbridge_webhook_deliveries_total{outcome="duplicate",source="stock"} 1`,
		`agentbridge_webhook_deliveries_total{outcome="unverified",source="stock"} 1`,
	} {
		if !strings.Contains(mw.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestWebhookRefusals: each way a delivery can fail gets its status and a JSON error naming
// what failed (never the expected signature), and nothing is stored.
func TestWebhookRefusals(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	b := newHookBridge(t, stockSource+"      max_body_bytes: 300\n", nil, "")
	signed := func(body string) map[string]string {
		return map[string]string{"X-Hub-Signature-256": githubSig(body)}
	}
	big := `{"eventId":"ev-2","sku":"A-100","onHand":1,"previous":2,"changedAt":"2026-01-02T03:04:05Z","x":"` + strings.Repeat("x", 400) + `"}`
	for _, tt := range []struct {
		name, ct, body string
		headers        map[string]string
		code           int
		want           string
		check, field   string
	}{
		{"no signature", "application/json", stockEvent, nil, 401, "X-Hub-Signature-256 header is missing", "hmac", ""},
		{"bad signature", "application/json", stockEvent, signed(stockEvent + " "), 401, "does not match the body", "hmac", ""},
		{"signature of another secret", "application/json", stockEvent, map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("ab", 32)}, 401, "does not match", "hmac", ""},
		{"broken JSON", "application/json", `{"eventId":`, signed(`{"eventId":`), 400, "invalid JSON for agentbridge.demo.v1.StockChanged", "", ""},
		{"unknown field", "application/json", `{"eventId":"e","sku":"A-100","colour":"red"}`, signed(`{"eventId":"e","sku":"A-100","colour":"red"}`), 400, `unknown field "colour"`, "", "colour"},
		{"wrong type", "application/json", `{"eventId":"e","sku":"A-100","onHand":"lots"}`, signed(`{"eventId":"e","sku":"A-100","onHand":"lots"}`), 400, "onHand", "", "onHand"},
		{"compressed", "application/json", stockEvent, map[string]string{"X-Hub-Signature-256": githubSig(stockEvent), "Content-Encoding": "gzip"}, 415, "uncompressed", "", ""},
		{"rule broken", "application/json", `{"eventId":"e","sku":"a100"}`, signed(`{"eventId":"e","sku":"a100"}`), 400, "sku", "", ""},
		{"no id", "application/json", `{"sku":"A-100"}`, signed(`{"sku":"A-100"}`), 400, "event_id", "", ""},
		{"oversized", "application/json", big, signed(big), 413, "limit of 300 bytes", "", ""},
		{"wrong content type", "text/plain", stockEvent, signed(stockEvent), 415, "takes json bodies", "", ""},
		{"form to a JSON source", "application/x-www-form-urlencoded", "eventId=e", signed("eventId=e"), 415, "application/json", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := b.post(t, "/hooks/stock", tt.ct, tt.body, tt.headers)
			if w.Code != tt.code {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.code)
			}
			r := replyJSON(t, w)
			msg, _ := r["error"].(string)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
			if tt.check != "" && r["check"] != tt.check {
				t.Errorf("check %v, want %s", r["check"], tt.check)
			}
			if tt.field != "" && r["field"] != tt.field {
				t.Errorf("field %v, want %s", r["field"], tt.field)
			}
			if strings.Contains(w.Body.String(), githubSig(tt.body)[7:]) || strings.Contains(w.Body.String(), hookSecret) {
				t.Errorf("the reply gives away the expected signature or the secret: %s", w.Body)
			}
			if n := len(b.events(t, "stock")); n != 0 {
				t.Errorf("%d events stored", n)
			}
		})
	}
	// Only POST.
	r := httptest.NewRequest(http.MethodGet, "/hooks/stock", nil)
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// failingStore is a store whose appends fail.
type failingStore struct{ store.Store }

func (failingStore) Append(context.Context, string, ...store.Record) ([]store.Appended, error) {
	return nil, errors.New("disk on fire")
}

// TestWebhookStoreDown: when the store cannot take the event the sender hears 503 with
// Retry-After, and nothing says the event was taken.
func TestWebhookStoreDown(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	mem := store.NewMemory(store.Retention{})
	b := newHookBridge(t, stockSource, failingStore{mem}, "")
	w := b.post(t, "/hooks/stock", "application/json", stockEvent, map[string]string{"X-Hub-Signature-256": githubSig(stockEvent)})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if msg := replyJSON(t, w)["error"].(string); strings.Contains(msg, "fire") || !strings.Contains(msg, "nothing was stored") {
		t.Errorf("error %q", msg)
	}
	if n := len((&hookBridge{store: mem}).events(t, "stock")); n != 0 {
		t.Errorf("%d events stored", n)
	}
}

// TestWebhookVerifyStyles: stripe, generic, token, allow_ips and their combination, each
// passing and failing through the handler.
func TestWebhookVerifyStyles(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token.txt"), []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newHookBridge(t, `
events:
  sources:
    stripe:
      message: agentbridge.demo.v1.StockChanged
      id: event_id
      verify:
        hmac: {style: stripe, secret: "${HOOK_SECRET}"}
    generic:
      message: agentbridge.demo.v1.StockChanged
      id: header:X-Event-Id
      verify:
        hmac: {style: generic, secret: "${HOOK_SECRET}", header: X-Sig, encoding: base64, timestamp_header: X-Timestamp}
    token:
      path: /legacy/notify
      message: agentbridge.demo.v1.StockChanged
      verify:
        token: {header: X-Token, token_file: token.txt}
    bearer:
      message: agentbridge.demo.v1.StockChanged
      verify:
        token: {header: Authorization, token: "${HOOK_SECRET}"}
    ips:
      message: agentbridge.demo.v1.StockChanged
      verify:
        allow_ips: [10.1.0.0/16, 192.0.2.7]
        trusted_proxies: [192.0.2.1]
    both:
      message: agentbridge.demo.v1.StockChanged
      id: event_id
      verify:
        allow_ips: [192.0.2.0/24]
        hmac: {style: github, secret: "${HOOK_SECRET}"}
`, nil, dir)
	now := time.Now().Unix()
	genericSig := func(ts int64, body string) string {
		m := hmac.New(sha256.New, []byte(hookSecret))
		m.Write([]byte(strconv.FormatInt(ts, 10) + "." + body))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	for _, tt := range []struct {
		name, path string
		headers    map[string]string
		remote     string
		code       int
		want       string
	}{
		{"stripe", "/hooks/stripe", map[string]string{"Stripe-Signature": stripeSig(now, stockEvent)}, "", 202, ""},
		{"stripe stale", "/hooks/stripe", map[string]string{"Stripe-Signature": stripeSig(now-3600, stockEvent)}, "", 401, "beyond the tolerance"},
		{"stripe missing", "/hooks/stripe", nil, "", 401, "Stripe-Signature header is missing"},
		{"generic", "/hooks/generic", map[string]string{"X-Sig": genericSig(now, stockEvent), "X-Timestamp": strconv.FormatInt(now, 10), "X-Event-Id": "g-1"}, "", 202, ""},
		{"generic with an id too long", "/hooks/generic", map[string]string{"X-Sig": genericSig(now, stockEvent), "X-Timestamp": strconv.FormatInt(now, 10), "X-Event-Id": strings.Repeat("g", 513)}, "", 400, "at most 512"},
		{"generic without the id header", "/hooks/generic", map[string]string{"X-Sig": genericSig(now, stockEvent), "X-Timestamp": strconv.FormatInt(now, 10)}, "", 400, "X-Event-Id header"},
		{"generic stale", "/hooks/generic", map[string]string{"X-Sig": genericSig(now-600, stockEvent), "X-Timestamp": strconv.FormatInt(now-600, 10), "X-Event-Id": "g-2"}, "", 401, "beyond the tolerance"},
		{"generic no timestamp", "/hooks/generic", map[string]string{"X-Sig": genericSig(now, stockEvent), "X-Event-Id": "g-3"}, "", 401, "X-Timestamp header is missing"},
		{"token", "/legacy/notify", map[string]string{"X-Token": "tok-123"}, "", 202, ""},
		{"wrong token", "/legacy/notify", map[string]string{"X-Token": "tok-124"}, "", 401, "X-Token token is not the configured one"},
		{"no token", "/legacy/notify", nil, "", 401, "X-Token header is missing"},
		{"bearer", "/hooks/bearer", map[string]string{"Authorization": "Bearer " + hookSecret}, "", 202, ""},
		{"bearer wrong", "/hooks/bearer", map[string]string{"Authorization": "Bearer nope"}, "", 401, "not the configured one"},
		{"bearer basic", "/hooks/bearer", map[string]string{"Authorization": "Basic eDp5"}, "", 401, "does not carry a Bearer token"},
		{"ip allowed", "/hooks/ips", nil, "10.1.2.3:4000", 202, ""},
		{"ip listed alone", "/hooks/ips", nil, "192.0.2.7:4000", 202, ""},
		{"ip not allowed", "/hooks/ips", nil, "10.2.0.1:4000", 401, "10.2.0.1 is not in allow_ips"},
		{"forwarded-for from an untrusted hop is not believed", "/hooks/ips", map[string]string{"X-Forwarded-For": "10.1.2.3"}, "10.2.0.1:4000", 401, "10.2.0.1 is not in allow_ips"},
		{"forwarded-for through the trusted proxy", "/hooks/ips", map[string]string{"X-Forwarded-For": "10.1.2.3"}, "192.0.2.1:4000", 202, ""},
		{"forwarded-for through the trusted proxy, sender not allowed", "/hooks/ips", map[string]string{"X-Forwarded-For": "10.1.2.3, 172.16.0.1"}, "192.0.2.1:4000", 401, "172.16.0.1 is not in allow_ips"},
		{"both pass", "/hooks/both", map[string]string{"X-Hub-Signature-256": githubSig(stockEvent)}, "192.0.2.9:1", 202, ""},
		{"both: address fails", "/hooks/both", map[string]string{"X-Hub-Signature-256": githubSig(stockEvent)}, "198.51.100.1:1", 401, "allow_ips"},
		{"both: signature fails", "/hooks/both", map[string]string{"X-Hub-Signature-256": githubSig("x")}, "192.0.2.9:1", 401, "hmac: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			source := strings.TrimPrefix(strings.TrimPrefix(tt.path, "/hooks/"), "/legacy/")
			if source == "notify" {
				source = "token"
			}
			before := len(b.events(t, source))
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(stockEvent))
			r.Header.Set("Content-Type", "application/json")
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if tt.remote != "" {
				r.RemoteAddr = tt.remote
			}
			w := httptest.NewRecorder()
			b.h.ServeHTTP(w, r)
			if w.Code != tt.code && (tt.code != 202 || w.Code != 200) {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.code)
			}
			if w.Code == 401 {
				if got := w.Header().Get("WWW-Authenticate"); got != "" {
					t.Errorf("WWW-Authenticate %q on a webhook 401", got)
				}
				if msg := replyJSON(t, w)["error"].(string); !strings.Contains(msg, tt.want) {
					t.Errorf("error %q, want %q", msg, tt.want)
				}
				if n := len(b.events(t, source)); n != before {
					t.Errorf("refused, yet %d events stored (was %d)", n, before)
				}
			}
		})
	}
	// No id configured: the body's SHA-256 is the key, so the same body is one event.
	evs := b.events(t, "token")
	sum := sha256.Sum256([]byte(stockEvent))
	if len(evs) != 1 || evs[0].GetId() != hex.EncodeToString(sum[:]) {
		t.Errorf("token source events %v", evs)
	}
}

// TestWebhookMTLS: a source verified by client certificate passes a verified certificate whose
// identity is listed, and refuses one not listed and a connection without one. The
// certificate reaches the handler as the TLS connection state, as the listener hands it over.
func TestWebhookMTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "senders")
	serverCert, serverKey, _ := ca.issue(t, true, "bridge")
	_, _, erp := ca.issue(t, false, "erp.acme.example")
	_, _, other := ca.issue(t, false, "crm.acme.example")
	writeFile(t, dir, "server.crt", serverCert)
	writeFile(t, dir, "server.key", serverKey)
	writeFile(t, dir, "ca.pem", ca.pem)
	b := newHookBridge(t, `
tls: {cert_file: `+filepath.Join(dir, "server.crt")+`, key_file: `+filepath.Join(dir, "server.key")+`}
auth:
  mtls: {client_ca_file: `+filepath.Join(dir, "ca.pem")+`}
events:
  sources:
    erp:
      message: agentbridge.demo.v1.StockChanged
      id: event_id
      verify:
        mtls: {allow: [erp.acme.example]}
`, nil, dir)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	send := func(pair *tls.Certificate) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/hooks/erp", strings.NewReader(stockEvent))
		r.Header.Set("Content-Type", "application/json")
		if pair != nil {
			leaf, err := x509.ParseCertificate(pair.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			if err != nil {
				t.Fatal(err)
			}
			r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{leaf}, VerifiedChains: chains}
		}
		w := httptest.NewRecorder()
		b.h.ServeHTTP(w, r)
		return w
	}
	if w := send(&other); w.Code != 401 || !strings.Contains(w.Body.String(), "crm.acme.example is not in mtls.allow") {
		t.Errorf("unlisted certificate: %d %s", w.Code, w.Body)
	}
	if w := send(nil); w.Code != 401 || !strings.Contains(w.Body.String(), "no verified client certificate") {
		t.Errorf("no certificate: %d %s", w.Code, w.Body)
	}
	if n := len(b.events(t, "erp")); n != 0 {
		t.Errorf("%d events stored after refusals", n)
	}
	if w := send(&erp); w.Code != 202 {
		t.Errorf("listed certificate: %d %s", w.Code, w.Body)
	}
}

// TestWebhookXMLAndForm: the xml and form formats decode into the message with the codecs of
// replies and requests, strictly.
func TestWebhookXMLAndForm(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	b := newHookBridge(t, `
events:
  sources:
    xml:
      format: xml
      message: agentbridge.demo.v1.StockChanged
      id: event_id
      type_field: sku
      verify: {hmac: {style: github, secret: "${HOOK_SECRET}"}}
    form:
      format: form
      message: agentbridge.demo.v1.ReservationExpired
      id: event_id
      type: reservation.expired
      verify: {hmac: {style: github, secret: "${HOOK_SECRET}"}}
`, nil, "")
	const xmlEvent = `<?xml version="1.0" encoding="UTF-8"?>
<!-- the warehouse's stock event -->
<stockChanged><eventId>x-1</eventId><sku>B-200</sku><onHand>3</onHand><previous>5</previous><changedAt>2026-01-02T03:04:05Z</changedAt></stockChanged>
`
	for _, tt := range []struct {
		name, path, ct, body string
		code                 int
		want                 string
	}{
		{"xml", "/hooks/xml", "application/xml", xmlEvent, 202, ""},
		{"xml as text/xml", "/hooks/xml", "text/xml; charset=utf-8", strings.Replace(xmlEvent, "x-1", "x-2", 1), 202, ""},
		{"xml unknown element", "/hooks/xml", "application/xml", `<e><eventId>x-3</eventId><sku>B-200</sku><onHand>1</onHand><previous>1</previous><colour>red</colour></e>`, 400, "element colour: the contract has no field for this element, so it would be lost; add the field to the proto, add a repeated string field marked (agentbridge.v1.xml).any to keep such elements"},
		{"xml missing element", "/hooks/xml", "application/xml", `<e><eventId>x-7</eventId><sku>B-200</sku><previous>1</previous></e>`, 400, "element onHand: the event has no such element"},
		{"xml wrong type", "/hooks/xml", "application/xml", `<e><eventId>x-4</eventId><sku>B-200</sku><onHand>lots</onHand><previous>1</previous></e>`, 400, "onHand"},
		{"xml cut off", "/hooks/xml", "application/xml", `<e><eventId>x-5</eventId><sku>B-2`, 400, "XML"},
		{"xml two roots", "/hooks/xml", "application/xml", `<e><eventId>x-6</eventId><sku>B-200</sku><onHand>1</onHand><previous>1</previous></e><e/>`, 400, "after the root element"},
		{"xml doctype", "/hooks/xml", "application/xml", `<!DOCTYPE e [<!ENTITY x "y">]><e/>`, 400, "document type"},
		{"json to the xml source", "/hooks/xml", "application/json", stockEvent, 415, "application/xml or text/xml"},
		{"form", "/hooks/form", "application/x-www-form-urlencoded", "event_id=f-1&reservationId=R-9&sku=A-100&quantity=2", 202, ""},
		{"form unknown key", "/hooks/form", "application/x-www-form-urlencoded", "event_id=f-2&sku=A-100&colour=red", 400, `unknown field "colour"`},
		{"form bad number", "/hooks/form", "application/x-www-form-urlencoded", "event_id=f-3&sku=A-100&quantity=two", 400, "quantity"},
		{"form repeated", "/hooks/form", "application/x-www-form-urlencoded", "event_id=f-4&sku=A-100&sku=B-200", 400, "takes one value"},
		{"form malformed", "/hooks/form", "application/x-www-form-urlencoded", "event_id=%zz", 400, "malformed"},
		{"form rule broken", "/hooks/form", "application/x-www-form-urlencoded", "event_id=f-5&sku=nope", 400, "sku"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			source := strings.TrimPrefix(tt.path, "/hooks/")
			before := len(b.events(t, source))
			w := b.post(t, tt.path, tt.ct, tt.body, map[string]string{"X-Hub-Signature-256": githubSig(tt.body)})
			if w.Code != tt.code {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.code)
			}
			if tt.code != 202 {
				if msg := replyJSON(t, w)["error"].(string); !strings.Contains(msg, tt.want) || strings.Contains(msg, "lenient") || strings.Contains(msg, "backend") {
					t.Errorf("error %q, want %q (and no word of backends)", msg, tt.want)
				}
				if n := len(b.events(t, source)); n != before {
					t.Errorf("%d events stored, was %d", n, before)
				}
			}
		})
	}
	xs := b.events(t, "xml")
	if len(xs) != 2 || xs[0].GetId() != "x-1" || xs[0].GetType() != "B-200" {
		t.Fatalf("xml events %v", xs)
	}
	var sc demov1.StockChanged
	if err := xs[0].GetData().UnmarshalTo(&sc); err != nil || sc.GetOnHand() != 3 || sc.GetPrevious() != 5 {
		t.Errorf("xml data %v %v", &sc, err)
	}
	fs := b.events(t, "form")
	var re demov1.ReservationExpired
	if len(fs) != 1 || fs[0].GetType() != "reservation.expired" || fs[0].GetData().UnmarshalTo(&re) != nil || re.GetReservationId() != "R-9" || re.GetQuantity() != 2 {
		t.Errorf("form events %v (%v)", fs, &re)
	}
}

// sfProto is an sObject as a contract declares it: the fields Salesforce sends, named as it
// names them; optional, since an outbound message carries only the fields chosen for it.
const sfProto = `syntax = "proto3";
package acme.sf.v1;
import "agentbridge/v1/options.proto";
// Account is the Salesforce Account an outbound message carries.
message Account {
  optional string id = 1 [json_name = "Id"];
  optional string name = 2 [json_name = "Name"];
  optional double annual_revenue = 3 [json_name = "AnnualRevenue"];
}
`

// outboundMessage is an Outbound Messaging request as Salesforce documents it: a SOAP 1.1
// envelope whose body's notifications element names the organization and action, carries a
// session id and the API URLs, then one Notification per record, each with its own id and the
// record (sObject, typed by xsi:type) with the fields chosen for the message.
func outboundMessage(ids ...string) string {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00Dxx0000001gPL</OrganizationId>
   <ActionId>04kxx0000000001</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/60.0/00Dxx0000001gPL</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/60.0/00Dxx0000001gPL</PartnerUrl>
`)
	for i, id := range ids {
		sb.WriteString(`   <Notification>
    <Id>` + id + `</Id>
    <sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>001xx00000` + strconv.Itoa(i) + `</sf:Id>
     <sf:Name>Acme ` + strconv.Itoa(i) + `</sf:Name>
     <sf:AnnualRevenue>1.5E7</sf:AnnualRevenue>
    </sObject>
   </Notification>
`)
	}
	sb.WriteString("  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n")
	return sb.String()
}

// countingStore counts appends.
type countingStore struct {
	store.Store
	appends int
}

func (c *countingStore) Append(ctx context.Context, topic string, recs ...store.Record) ([]store.Appended, error) {
	c.appends++
	return c.Store.Append(ctx, topic, recs...)
}

// TestWebhookSOAPNotification: an Outbound Messaging request becomes one event per
// Notification, stored in one append, acknowledged with the Ack Salesforce expects; a
// re-sent message is acknowledged without new events; anything wrong is a SOAP fault.
func TestWebhookSOAPNotification(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sf.proto"), []byte(sfProto), 0o600); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: store.NewMemory(store.Retention{})}
	b := newHookBridge(t, `
proto_paths: [.]
protos: [sf.proto]
events:
  sources:
    accounts:
      format: soap_notification
      message: acme.sf.v1.Account
      verify:
        allow_ips: [192.0.2.0/24]
`, cs, dir)
	const ack = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>`
	w := b.post(t, "/hooks/accounts", "text/xml; charset=utf-8", outboundMessage("04lxx01", "04lxx02"), nil)
	if w.Code != 200 || w.Body.String() != ack || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/xml") {
		t.Fatalf("got %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if cs.appends != 1 {
		t.Errorf("%d appends, want one for both notifications", cs.appends)
	}
	evs := b.events(t, "accounts")
	if len(evs) != 2 || evs[0].GetId() != "04lxx01" || evs[1].GetId() != "04lxx02" || evs[0].GetType() != "Account" {
		t.Fatalf("events %v", evs)
	}
	// The data is the sObject as the contract's Account (a dynamic message here).
	md := accountDescriptor(t, dir)
	acct := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(evs[1].GetData().GetValue(), acct); err != nil {
		t.Fatal(err)
	}
	if got := acct.Get(md.Fields().ByName("name")).String(); got != "Acme 1" {
		t.Errorf("name %q", got)
	}
	if got := acct.Get(md.Fields().ByName("annual_revenue")).Float(); got != 1.5e7 {
		t.Errorf("annual_revenue %v", got)
	}
	if strings.Contains(string(evs[0].GetData().GetValue()), "00Dxx") {
		t.Error("the envelope's organization data leaked into the event")
	}

	// Sent again (Salesforce retries until it hears Ack): acknowledged, nothing new.
	w = b.post(t, "/hooks/accounts", "text/xml", outboundMessage("04lxx02", "04lxx03"), nil)
	if w.Code != 200 || w.Body.String() != ack {
		t.Fatalf("re-sent: %d %s", w.Code, w.Body)
	}
	if n := len(b.events(t, "accounts")); n != 3 {
		t.Errorf("%d events, want 3 (04lxx02 once)", n)
	}

	for _, tt := range []struct {
		name, body, remote string
		code               int
		want               string
	}{
		{"cut off", outboundMessage("04lxx09")[:300], "", 400, "malformed XML"},
		{"not an envelope", `<notifications xmlns="http://soap.sforce.com/2005/09/outbound"/>`, "", 400, "not a SOAP 1.1 Envelope"},
		{"no notification", strings.Replace(outboundMessage(), "", "", 1), "", 400, "holds no Notification"},
		{"unknown sObject field", strings.Replace(outboundMessage("04lxx10"), "<sf:Name>", "<sf:Industry>x</sf:Industry><sf:Name>", 1), "", 400, "Industry"},
		{"notification without id", strings.Replace(outboundMessage("04lxx11"), "<Id>04lxx11</Id>", "", 1), "", 400, "has no Id"},
		{"unknown notifications child", strings.Replace(outboundMessage("04lxx12"), "<ActionId>", "<Extra>1</Extra><ActionId>", 1), "", 400, "notifications/Extra"},
		{"from elsewhere", outboundMessage("04lxx13"), "203.0.113.5:443", 401, "not in allow_ips"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/hooks/accounts", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "text/xml")
			if tt.remote != "" {
				r.RemoteAddr = tt.remote
			}
			w := httptest.NewRecorder()
			b.h.ServeHTTP(w, r)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), "<soapenv:Fault>") || !strings.Contains(w.Body.String(), tt.want) || strings.Contains(w.Body.String(), "<Ack>") {
				t.Errorf("got %d %s, want %d with a fault saying %q", w.Code, w.Body, tt.code, tt.want)
			}
		})
	}
	if n := len(b.events(t, "accounts")); n != 3 {
		t.Errorf("%d events after refusals, want 3", n)
	}

	// Only the listed organizations: the 15-character form of the id matches its 18-character
	// form; another organization is refused as unverified.
	orgs := newHookBridge(t, `
proto_paths: [.]
protos: [sf.proto]
events:
  sources:
    accounts:
      format: soap_notification
      message: acme.sf.v1.Account
      verify: {allow_ips: [192.0.2.0/24], organization_ids: [00Dxx0000001gPL]}
`, nil, dir)
	w = orgs.post(t, "/hooks/accounts", "text/xml", strings.Replace(outboundMessage("04lxx30"), "00Dxx0000001gPL<", "00Dxx0000001gPLAAA<", 1), nil)
	if w.Code != 200 || w.Body.String() != ack {
		t.Errorf("listed organization: %d %s", w.Code, w.Body)
	}
	w = orgs.post(t, "/hooks/accounts", "text/xml", strings.Replace(outboundMessage("04lxx31"), "00Dxx0000001gPL<", "00Dyy0000009zzz<", 1), nil)
	if w.Code != 401 || !strings.Contains(w.Body.String(), `organization &#34;00Dyy0000009zzz&#34;, which is not in organization_ids`) || strings.Contains(w.Body.String(), "Ack") {
		t.Errorf("other organization: %d %s", w.Code, w.Body)
	}
	if evs := orgs.events(t, "accounts"); len(evs) != 1 || evs[0].GetId() != "04lxx30" {
		t.Errorf("events %v", evs)
	}

	// A store that fails: a Server fault with Retry-After, never an Ack.
	down := newHookBridge(t, `
proto_paths: [.]
protos: [sf.proto]
events:
  sources:
    accounts:
      format: soap_notification
      message: acme.sf.v1.Account
      verify: {allow_ips: [192.0.2.0/24]}
`, failingStore{store.NewMemory(store.Retention{})}, dir)
	w = down.post(t, "/hooks/accounts", "text/xml", outboundMessage("04lxx20"), nil)
	if w.Code != 503 || !strings.Contains(w.Body.String(), "<faultcode>soapenv:Server</faultcode>") || strings.Contains(w.Body.String(), "Ack") || w.Header().Get("Retry-After") == "" {
		t.Errorf("store down: %d %s", w.Code, w.Body)
	}
}

func accountDescriptor(t *testing.T, dir string) protoreflect.MessageDescriptor {
	t.Helper()
	c := parseHookConfig(t, "proto_paths: [.]\nprotos: [sf.proto]\n", dir)
	set, err := contract.Load(t.Context(), c.Sources())
	if err != nil {
		t.Fatal(err)
	}
	d, err := set.Files().FindDescriptorByName("acme.sf.v1.Account")
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

// TestWebhookConfig: what the events: section refuses, with errors that say what to do.
func TestWebhookConfig(t *testing.T) {
	for _, tt := range []struct{ name, yaml, err string }{
		{"no verification", "events:\n  sources:\n    s:\n      message: agentbridge.demo.v1.StockChanged\n", "a source must verify its sender"},
		{"none beyond loopback", "http_addr: 0.0.0.0:8080\nauth: {insecure: true}\nevents:\n  sources:\n    s:\n      message: agentbridge.demo.v1.StockChanged\n      verify: {none: true}\n", "only while http_addr is a loopback address"},
		{"none with a method", "events:\n  sources:\n    s:\n      message: m.M\n      verify: {none: true, allow_ips: [10.0.0.1]}\n", "together with verification methods"},
		{"secret in clear", "events:\n  sources:\n    s:\n      message: m.M\n      verify: {hmac: {style: github, secret: hunter2}}\n", "cannot be written in the config in clear"},
		{"unknown style", "events:\n  sources:\n    s:\n      message: m.M\n      verify: {hmac: {style: gitlab, secret: \"${X}\"}}\n", `hmac.style "gitlab"`},
		{"generic keys on github", "events:\n  sources:\n    s:\n      message: m.M\n      verify: {hmac: {style: github, secret: \"${X}\", header: X-Sig}}\n", "are for style generic"},
		{"bad format", "events:\n  sources:\n    s:\n      format: yaml\n      message: m.M\n      verify: {allow_ips: [10.0.0.1]}\n", `format "yaml"`},
		{"no message", "events:\n  sources:\n    s:\n      verify: {allow_ips: [10.0.0.1]}\n", "message: missing"},
		{"bad cidr", "events:\n  sources:\n    s:\n      message: m.M\n      verify: {allow_ips: [10.0.0.0/33]}\n", `"10.0.0.0/33" is neither a CIDR`},
		{"reserved path", "events:\n  sources:\n    s:\n      path: /mcp\n      message: m.M\n      verify: {allow_ips: [10.0.0.1]}\n", "one of the listener's own paths"},
		{"wildcard path", "events:\n  sources:\n    s:\n      path: /hooks/{x}\n      message: m.M\n      verify: {allow_ips: [10.0.0.1]}\n", "plain absolute path"},
		{"same path", "events:\n  sources:\n    a:\n      path: /in\n      message: m.M\n      verify: {allow_ips: [10.0.0.1]}\n    b:\n      path: /in\n      message: m.M\n      verify: {allow_ips: [10.0.0.1]}\n", `also the path of source "a"`},
		{"mtls without tls", "events:\n  sources:\n    s:\n      message: m.M\n      verify: {mtls: {allow: [erp]}}\n", "mtls needs tls and auth.mtls.client_ca_file"},
		{"id on soap", "events:\n  sources:\n    s:\n      format: soap_notification\n      id: x\n      message: m.M\n      verify: {allow_ips: [10.0.0.1]}\n", "keys each event by its Notification's Id"},
		{"organization ids beyond soap", "events:\n  sources:\n    s:\n      message: m.M\n      verify: {allow_ips: [10.0.0.1], organization_ids: [00Dxx0000001gPL]}\n", "organization_ids is for format soap_notification"},
		{"bad organization id", "events:\n  sources:\n    s:\n      format: soap_notification\n      message: m.M\n      verify: {allow_ips: [10.0.0.1], organization_ids: [acme]}\n", `"acme" is not a Salesforce organization id`},
		{"type and type_field", "events:\n  sources:\n    s:\n      type: a\n      type_field: b\n      message: m.M\n      verify: {allow_ips: [10.0.0.1]}\n", "give one"},
		{"unknown key", "events:\n  sources:\n    s:\n      mesage: m.M\n", "field mesage not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := server.ParseConfig([]byte(hookHead + tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an error containing %q", err, tt.err)
			}
		})
	}
	// Found at Build: the message type, the field paths, the secret.
	for _, tt := range []struct{ name, yaml, err string }{
		{"unknown message", "events:\n  sources:\n    s:\n      message: acme.v1.Nope\n      verify: {none: true}\n", `message "acme.v1.Nope" is neither in the loaded contracts nor linked`},
		{"unknown id field", "events:\n  sources:\n    s:\n      message: agentbridge.demo.v1.StockChanged\n      id: nope\n      verify: {none: true}\n", `has no field "nope"`},
		{"secret unset", "events:\n  sources:\n    s:\n      message: agentbridge.demo.v1.StockChanged\n      verify: {hmac: {style: github, secret: \"${WEBHOOK_TEST_UNSET}\"}}\n", "environment variable WEBHOOK_TEST_UNSET is not set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := server.ParseConfig([]byte(hookHead + tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			srv, err := c.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
			if err == nil {
				_ = srv.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an error containing %q", err, tt.err)
			}
		})
	}
	// A config made in Go is checked at Build as a parsed one is.
	goCfg := &server.Config{
		Services: []string{"agentbridge.testing.v1.VatService"},
		Backends: map[string]adapters.Backend{"vat": {Kind: "soap", Endpoint: "http://127.0.0.1:1/vat"}},
		HTTPAddr: "0.0.0.0:0",
		Auth:     &server.AuthConfig{Insecure: true},
		Store:    server.StoreConfig{Engine: server.StoreMemory},
		Events:   server.EventsConfig{Sources: map[string]server.EventSource{"s": {Message: "agentbridge.demo.v1.StockChanged"}}},
	}
	if srv, err := goCfg.Build(server.WithLogger(slog.New(slog.DiscardHandler))); err == nil || !strings.Contains(err.Error(), "a source must verify its sender") {
		if err == nil {
			_ = srv.Close()
		}
		t.Errorf("an unverified source made in Go: %v", err)
	}

	// verify: {none: true} on loopback builds, with the memory store, and takes events.
	c, err := server.ParseConfig([]byte(hookHead + "store: {engine: memory}\nevents:\n  sources:\n    s:\n      message: agentbridge.demo.v1.StockChanged\n      verify: {none: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := c.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	r := httptest.NewRequest(http.MethodPost, "/hooks/s", strings.NewReader(stockEvent))
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	if w.Code != 202 {
		t.Errorf("unverified source on loopback: %d %s", w.Code, w.Body)
	}
}

// TestWebhookEmbeddedStore: with the embedded store (the default engine), an acknowledged event
// is in the file once the sender hears 202: after the bridge closes, the file holds it.
func TestWebhookEmbeddedStore(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	c := parseHookConfig(t, "store: {path: data/events.db}\n"+stockSource, dir)
	srv, err := c.Build(server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	b := &hookBridge{h: srv.Handler()}
	w := b.post(t, "/hooks/stock", "application/json", stockEvent, map[string]string{"X-Hub-Signature-256": githubSig(stockEvent)})
	if w.Code != http.StatusAccepted {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(dir, "data", "events.db"), store.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	b.store = st
	if evs := b.events(t, "stock"); len(evs) != 1 || evs[0].GetId() != "ev-1" {
		t.Errorf("events in the file after close: %v", evs)
	}
}

// TestWebhookReload: a reload keeps the sources mounted (the handler is rebuilt per generation
// from the sources read at start), and a reload that changes them says a restart applies it.
func TestWebhookReload(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	dir := t.TempDir()
	c := parseHookConfig(t, "store: {engine: memory}\n"+stockSource, dir)
	logs := &syncWriter{}
	srv, err := c.Build(server.WithStore(store.NewMemory(store.Retention{})), server.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	if err := srv.ReloadConfig(c); err != nil {
		t.Fatal(err)
	}
	b := &hookBridge{h: srv.Handler()}
	if w := b.post(t, "/hooks/stock", "application/json", stockEvent, map[string]string{"X-Hub-Signature-256": githubSig(stockEvent)}); w.Code != http.StatusAccepted {
		t.Fatalf("after a reload: %d %s", w.Code, w.Body)
	}
	if strings.Contains(logs.String(), "setting=events") {
		t.Errorf("a reload without changes warned: %s", logs.String())
	}
	changed := parseHookConfig(t, "store: {engine: memory}\n"+strings.Replace(stockSource, "type: stock.changed", "type: stock.moved", 1), dir)
	if err := srv.ReloadConfig(changed); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "setting=events") {
		t.Errorf("a reload changing events did not warn: %s", logs.String())
	}
}

// syncWriter keeps what is written, for reading while others write.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWebhookCharsets: a body in ISO-8859-1 is decoded as such when its Content-Type (or, for
// XML, its declaration) says so, and refused with a 400 saying what to do when it names no
// charset; an unknown charset is refused. Before, a form's Latin-1 "é" became U+FFFD silently.
func TestWebhookCharsets(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	b := newHookBridge(t, `
events:
  sources:
    stock:
      message: agentbridge.demo.v1.StockChanged
      id: event_id
      type: stock.changed
      verify: {hmac: {style: github, secret: "${HOOK_SECRET}"}}
    xml:
      format: xml
      message: agentbridge.demo.v1.StockChanged
      id: event_id
      type: stock.changed
      verify: {hmac: {style: github, secret: "${HOOK_SECRET}"}}
    form:
      format: form
      message: agentbridge.demo.v1.ReservationExpired
      id: event_id
      type: reservation.expired
      verify: {hmac: {style: github, secret: "${HOOK_SECRET}"}}
`, nil, "")
	latin1 := func(s string) string { // "é" as its ISO-8859-1 byte
		return strings.ReplaceAll(s, "é", "\xe9")
	}
	xmlEvent := func(id, decl string) string {
		return decl + `<stockChanged><eventId>` + id + `</eventId><sku>B-200</sku><onHand>3</onHand><previous>5</previous><changedAt>2026-01-02T03:04:05Z</changedAt></stockChanged>`
	}
	jsonEvent := func(id string) string {
		return `{"eventId":"` + id + `","sku":"A-100","onHand":7,"previous":9,"changedAt":"2026-01-02T03:04:05Z"}`
	}
	for _, tt := range []struct {
		name, source, ct, body string
		code                   int
		want                   string // the stored id, or a part of the error
	}{
		{"xml declared latin-1", "xml", "application/xml", latin1(xmlEvent("café-x1", `<?xml version="1.0" encoding="ISO-8859-1"?>`)), 202, "café-x1"},
		{"xml latin-1 by content type", "xml", "text/xml; charset=ISO-8859-1", latin1(xmlEvent("café-x2", "")), 202, "café-x2"},
		{"xml latin-1 unnamed", "xml", "application/xml", latin1(xmlEvent("café-x3", "")), 400, "the body is not UTF-8 and names no charset"},
		{"xml unknown charset", "xml", "application/xml; charset=x-klingon", xmlEvent("x4", ""), 400, `charset "x-klingon", which the bridge does not know`},
		{"form latin-1", "form", "application/x-www-form-urlencoded; charset=ISO-8859-1", "event_id=caf%E9-f1&reservationId=R-1&sku=A-100&quantity=1", 202, "café-f1"},
		{"form utf-8", "form", "application/x-www-form-urlencoded; charset=utf-8", "event_id=caf%C3%A9-f2&reservationId=R-1&sku=A-100&quantity=1", 202, "café-f2"},
		{"form latin-1 unnamed", "form", "application/x-www-form-urlencoded", "event_id=caf%E9-f3&reservationId=R-1&sku=A-100&quantity=1", 400, "the value of form field event_id is not UTF-8"},
		{"json latin-1", "stock", "application/json; charset=iso-8859-1", latin1(jsonEvent("café-j1")), 202, "café-j1"},
		{"json latin-1 unnamed", "stock", "application/json", latin1(jsonEvent("café-j2")), 400, "the body is not UTF-8"},
		{"json unknown charset", "stock", "application/json; charset=x-klingon", jsonEvent("j3"), 415, `charset "x-klingon"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := b.events(t, tt.source)
			w := b.post(t, "/hooks/"+tt.source, tt.ct, tt.body, map[string]string{"X-Hub-Signature-256": githubSig(tt.body)})
			if w.Code != tt.code {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.code)
			}
			after := b.events(t, tt.source)
			if tt.code != 202 {
				if msg := replyJSON(t, w)["error"].(string); !strings.Contains(msg, tt.want) {
					t.Errorf("error %q, want %q", msg, tt.want)
				}
				if len(after) != len(before) {
					t.Errorf("%d events stored, was %d", len(after), len(before))
				}
				return
			}
			if len(after) != len(before)+1 || after[len(after)-1].GetId() != tt.want {
				t.Fatalf("stored %v, want the id %q", after[len(before):], tt.want)
			}
		})
	}
}

// TestWebhookAudit: every delivery has an audit line, as every call has: the source, the
// sender's address, what was stored (ids, duplicates) or why nothing was, and never a secret.
func TestWebhookAudit(t *testing.T) {
	t.Setenv("HOOK_SECRET", hookSecret)
	c := parseHookConfig(t, "store: {engine: memory}\n"+stockSource, "")
	var audit syncBuffer
	srv, err := c.Build(server.WithStore(store.NewMemory(store.Retention{})), server.WithLogger(slog.New(slog.DiscardHandler)), server.WithAuditWriter(&audit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	b := &hookBridge{h: srv.Handler()}
	for _, sig := range []string{githubSig(stockEvent), githubSig(stockEvent), "sha256=00"} {
		b.post(t, "/hooks/stock", "application/json", stockEvent, map[string]string{"X-Hub-Signature-256": sig})
	}
	var lines []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(audit.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if m["msg"] == "event delivery" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%d delivery lines, want 3:\n%s", len(lines), audit.String())
	}
	first, dup, refused := lines[0], lines[1], lines[2]
	if first["surface"] != "webhook" || first["source"] != "stock" || first["outcome"] != "stored" || first["stored"] != 1.0 || first["remote"] == "" || first["request_id"] == "" {
		t.Errorf("stored delivery: %v", first)
	}
	if ids, _ := first["ids"].([]any); len(ids) != 1 || ids[0] != "ev-1" {
		t.Errorf("stored delivery ids: %v", first["ids"])
	}
	if dup["stored"] != 0.0 || dup["duplicates"] != 1.0 {
		t.Errorf("repeated delivery: %v", dup)
	}
	if refused["outcome"] != "unverified" || refused["http_status"] != 401.0 || refused["check"] == "" {
		t.Errorf("refused delivery: %v", refused)
	}
	if strings.Contains(audit.String(), hookSecret) || strings.Contains(audit.String(), githubSig(stockEvent)) {
		t.Error("the audit log holds the secret or the signature")
	}
}
