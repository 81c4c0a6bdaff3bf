package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/server"
)

// TestStoreConfig: store: is decoded strictly and checked at load, without opening anything.
func TestStoreConfig(t *testing.T) {
	t.Parallel()
	const base = "services: [agentbridge.demo.v1.InventoryService]\n"
	c, err := server.ParseConfig([]byte(base + "store: {engine: embedded, path: data/bridge.db, retention: {max_age: 72h, max_entries: 1000000, max_bytes: 1073741824}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Store; s.Engine != server.StoreEmbedded || s.Path != "data/bridge.db" || s.Retention.MaxAge != 72*time.Hour || s.Retention.MaxEntries != 1000000 || s.Retention.MaxBytes != 1<<30 {
		t.Errorf("store decoded as %+v", s)
	}
	for yaml, want := range map[string]string{
		"redis: {address: /tmp/r.sock}\nstore: {engine: redis, retention: {max_bytes: 10}}\n": "max_bytes is not supported by the redis engine",
		"store: {engine: bolt}\n":                       `store: engine "bolt": use embedded, redis or memory`,
		"store: {engine: redis}\n":                      "engine redis needs a redis: section",
		"store: {engine: memory, path: x.db}\n":         "path is for the embedded engine, not memory",
		"store: {retention: {max_entries: -1}}\n":       "retention bounds must not be negative",
		"store: {retention: {max_events: 10}}\n":        "field max_events not found",
		"store: {engine: embedded, dir: /var/lib/ab}\n": "field dir not found",
	} {
		if _, err := server.ParseConfig([]byte(base + yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want an error containing %q", yaml, err, want)
		}
	}
}
