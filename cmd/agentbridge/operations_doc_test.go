package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperationsDocConfig validates the production config docs/operations.md shows, as written,
// with config validate: it builds what serve builds, limits and guards included.
func TestOperationsDocConfig(t *testing.T) {
	t.Setenv("AGENTBRIDGE_REDIS_PASSWORD", "example") // the config's redis.password; subtests run in parallel
	data, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- config validate checks this example: cmd/agentbridge/operations_doc_test.go -->\n```yaml\n"
	_, rest, ok := strings.Cut(string(data), marker)
	if !ok {
		t.Fatal("docs/operations.md has no marked production config")
	}
	config, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the production config block does not end")
	}
	for _, key := range []string{"shutdown_drain:", "rate:", "max_connections:", "concurrency:", "queue_timeout:", "retry:", "breaker:", "probe:", "redis:"} {
		if !strings.Contains(config, key) {
			t.Errorf("the production config does not show %s", key)
		}
	}
	for _, c := range []struct {
		name, config, want string
		ok                 bool
	}{
		{"as documented", config, "config is valid", true},
		{"a rule without a rate", strings.Replace(config, "{per_second: 20, burst: 40}", "{burst: 40}", 1), "limits.rate[0]: per_second is missing", false},
		{"a Redis password in clear", strings.Replace(config, "${AGENTBRIDGE_REDIS_PASSWORD}", "hunter2", 1), "redis.password: a secret cannot be written in the config in clear", false},
		{"too many attempts", strings.Replace(config, "max_attempts: 3", "max_attempts: 30", 1), `backend "inventory": retry.max_attempts 30`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bridge.yaml")
			if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := run(t.Context(), []string{"config", "validate", "-config", path}, &out, io.Discard)
			text := out.String()
			if err != nil {
				text += err.Error()
			}
			if (err == nil) != c.ok || !strings.Contains(text, c.want) {
				t.Fatalf("got %v, output %q; want ok=%v and %q", err, out.String(), c.ok, c.want)
			}
		})
	}
}
