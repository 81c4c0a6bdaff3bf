package server_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
	"github.com/agentbridge/agentbridge/server"
)

// BenchmarkWebhookIntake measures events taken in per second: a signed JSON StockChanged POSTed
// through the bridge's HTTP handler in process (HMAC verified, decoded, validated, appended),
// each with a new id, into the memory store, the embedded (bbolt) store and Redis (a
// redis-server the benchmark starts on a unix socket, without persistence), one sender at a
// time and several at once (the embedded store commits concurrent appends together).
func BenchmarkWebhookIntake(b *testing.B) {
	b.Setenv("HOOK_SECRET", hookSecret)
	for _, engine := range []string{"memory", "embedded", "redis"} {
		for _, parallel := range []bool{false, true} {
			name := engine + "/serial"
			if parallel {
				name = engine + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				dir := b.TempDir()
				yaml := "store: {engine: memory}\n"
				switch engine {
				case "embedded":
					yaml = "store: {engine: embedded, path: " + filepath.Join(dir, "events.db") + "}\n"
				case "redis":
					r := redistest.Start(b)
					yaml = "redis: {address: \"unix://" + r.Socket + "\", timeout: 5s}\nstore: {engine: redis}\n"
				}
				h, closeFn := benchHookBridge(b, yaml+stockSource, dir)
				defer closeFn()
				var seq atomic.Int64
				post := func() {
					n := seq.Add(1)
					body := fmt.Sprintf(`{"eventId":"ev-%d","sku":"A-100","onHand":%d,"previous":%d,"changedAt":"2026-01-02T03:04:05Z"}`, n, n%100, n%100+1)
					r := httptest.NewRequest(http.MethodPost, "/hooks/stock", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("X-Hub-Signature-256", githubSig(body))
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusAccepted {
						b.Errorf("got %d %s", w.Code, w.Body)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				if parallel {
					b.SetParallelism(8)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							post()
						}
					})
				} else {
					for b.Loop() {
						post()
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// benchHookBridge builds hookHead+yaml (written to dir) with the store its store: section
// names, and returns its handler and a close.
func benchHookBridge(b *testing.B, yaml, dir string) (http.Handler, func()) {
	b.Helper()
	c := parseHookConfig(b, yaml, dir)
	srv, err := c.Build(server.WithLogger(slog.New(slog.DiscardHandler)), server.WithAudit(server.AuditOptions{Sink: "off"}))
	if err != nil {
		b.Fatal(err)
	}
	return srv.Handler(), func() { _ = srv.Close() }
}
