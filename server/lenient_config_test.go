package server_test

import (
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/server"
)

// TestConfigLenient reads a backend's lenient setting, strict by default, and refuses a
// misspelled key rather than leaving the backend strict without a word.
func TestConfigLenient(t *testing.T) {
	t.Parallel()
	const head = "services: [agentbridge.testing.v1.VatService]\nbackends:\n  vat:\n    kind: soap\n    endpoint: http://127.0.0.1:1/vat\n"
	for _, tt := range []struct {
		name, yaml string
		want       bool
		err        string
	}{
		{"default strict", "", false, ""},
		{"lenient", "    lenient: true\n", true, ""},
		{"misspelled", "    lenient_replies: true\n", false, "line 6: unknown setting \"lenient_replies\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := server.ParseConfig([]byte(head + tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Backends["vat"].Lenient; got != tt.want {
				t.Errorf("lenient = %v, want %v", got, tt.want)
			}
		})
	}
}
