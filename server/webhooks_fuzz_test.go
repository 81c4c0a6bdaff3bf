package server_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/store"
)

// FuzzWebhookIntake: any body, with any content type, to a JSON, an XML and a form source gets a
// clear answer (stored, duplicate, or a 4xx), never a panic or a 5xx, and only a 2xx stores.
//
//	go test ./server -run '^$' -fuzz FuzzWebhookIntake -fuzztime 10m
func FuzzWebhookIntake(f *testing.F) {
	f.Setenv("HOOK_TOKEN", "fuzz-token")
	c := parseHookConfig(f, `store: {engine: memory}
events:
  sources:
    json: {format: json, message: agentbridge.demo.v1.StockChanged, id: event_id, type: stock.changed, verify: {token: {header: X-Token, token: "${HOOK_TOKEN}"}}}
    xml: {format: xml, message: agentbridge.demo.v1.StockChanged, id: event_id, type: stock.changed, verify: {token: {header: X-Token, token: "${HOOK_TOKEN}"}}}
    form: {format: form, message: agentbridge.demo.v1.ReservationExpired, id: event_id, type: reservation.expired, verify: {token: {header: X-Token, token: "${HOOK_TOKEN}"}}}
`, "")
	st := store.NewMemory(store.Retention{})
	srv, err := c.Build(server.WithStore(st), server.WithLogger(slog.New(slog.DiscardHandler)), server.WithAuditWriter(&bytes.Buffer{}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	h := srv.Handler()
	f.Add(uint8(0), "application/json", []byte(`{"eventId":"e-1","sku":"A-100","onHand":3,"previous":5,"changedAt":"2026-01-02T03:04:05Z"}`))
	f.Add(uint8(0), "application/json; charset=iso-8859-1", []byte("{\"eventId\":\"e-\xe9\",\"sku\":\"A-100\"}"))
	f.Add(uint8(1), "application/xml", []byte(`<?xml version="1.0"?><stockChanged><eventId>x-1</eventId><sku>B-200</sku><onHand>3</onHand></stockChanged>`))
	f.Add(uint8(1), "text/xml; charset=utf-16", []byte("\xff\xfe<\x00a\x00/\x00>\x00"))
	f.Add(uint8(2), "application/x-www-form-urlencoded", []byte("eventId=r-1&reservationId=R-000001&sku=A-100&quantity=2"))
	f.Add(uint8(2), "application/x-www-form-urlencoded", []byte("eventId=%zz&quantity=two&quantity=3"))
	paths := []string{"/hooks/json", "/hooks/xml", "/hooks/form"}
	f.Fuzz(func(t *testing.T, which uint8, contentType string, body []byte) {
		path := paths[int(which)%len(paths)]
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-Token", "fuzz-token")
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); h.ServeHTTP(w, r) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %q %q: no answer within 5s", path, contentType, body)
		}
		switch code := w.Code; {
		case code == http.StatusOK || code == http.StatusAccepted:
		case code >= 400 && code < 500:
		default:
			t.Fatalf("%s %q %q: HTTP %d %s", path, contentType, body, code, w.Body)
		}
	})
}
