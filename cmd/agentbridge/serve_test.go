package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agentbridge.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeFromConfig runs agentbridge serve with a YAML config naming the demo service and a
// backend, and calls it over REST.
func TestServeFromConfig(t *testing.T) {
	t.Parallel()
	legacy := httptest.NewServer(demo.NewLegacy(nil))
	t.Cleanup(legacy.Close)
	path := writeConfig(t, `
http_addr: 127.0.0.1:0
grpc_addr: "off"
shutdown_grace: 2s
services: [agentbridge.demo.v1.InventoryService]
backends:
  inventory:
    kind: soap
    endpoint: `+legacy.URL+`/inventory
    timeout: 5s
mcp:
  toolsets:
    readonly:
      include: ["agentbridge.demo.v1.InventoryService.*"]
      exclude: ["*.ReserveItem"]
`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := watchAddrs(serveHTTP)
	go func() { done <- run(ctx, []string{"serve", "-config", path}, io.Discard, logs) }()
	httpAddr := logs.wait(t, done)[0]
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve exited with %v", err)
		}
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+httpAddr+"/v1/items/A-100", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Cordless drill") {
		t.Errorf("HTTP %d %s", resp.StatusCode, body)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config, want string
		ok                 bool
	}{
		{"valid", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: soap, endpoint: http://127.0.0.1:1/inventory}\n",
			"agentbridge.demo.v1.InventoryService: 3 methods bound", true},
		{"unknown key", "services: [agentbridge.demo.v1.InventoryService]\nbackendz: {}\n", "field backendz not found", false},
		{"missing backend", "services: [agentbridge.demo.v1.InventoryService]\n", `backend "inventory" is not in the config`, false},
		{"bad fault rule", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory:\n    kind: soap\n    endpoint: http://127.0.0.1:1/inventory\n    faults: [{fault_string: '(', status: INVALID_ARGUMENT, reason: INVALID_INPUT}]\n",
			`backend "inventory": faults[0]: fault_string "(" is not an RE2 regular expression`, false},
		{"unknown kind", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: corba, endpoint: http://x}\n", `unknown kind "corba"`, false},
		{"unknown service", "services: [acme.v1.Nope]\n", `service "acme.v1.Nope" is neither in the loaded contracts nor linked into this binary`, false},
		{"toolset selects nothing", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: soap, endpoint: http://127.0.0.1:1/inventory}\nmcp:\n  toolsets:\n    empty: {include: [acme.*]}\n", `toolset "empty" selects no tool`, false},
		{"endpoint without a scheme", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: soap, endpoint: 127.0.0.1:8081/inventory}\n", `endpoint "127.0.0.1:8081/inventory" has no scheme`, false},
		{"endpoint not over HTTP", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: soap, endpoint: ftp://legacy/inventory}\n", `the soap kind calls over HTTP`, false},
		{"misspelt backend setting", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory:\n    kind: soap\n    endpoint: http://127.0.0.1:1/inventory\n    max_reply_byte: 10\n", `backend "inventory": line 6: unknown setting "max_reply_byte"; did you mean "max_reply_bytes"?`, false},
		{"a section the kind does not read", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory:\n    kind: soap\n    endpoint: http://127.0.0.1:1/inventory\n    soap: {version: 2}\n", `line 6: the soap kind has no settings of its own`, false},
		{"batches on the embedded store", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: soap, endpoint: http://127.0.0.1:1/inventory}\nbatches: {max_items: 10}\n",
			"agentbridge.v1.BatchService: 6 methods bound", true},
		{"store path under a file", "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: soap, endpoint: http://127.0.0.1:1/inventory}\nbatches: {max_items: 10}\nstore: {path: broken.proto/data/bridge.db}\n",
			"broken.proto is not a directory", false},
		{"proto does not compile", "protos: [broken.proto]\nservices: [acme.v1.S]\n", `broken.proto:3:12: syntax error`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			path := writeConfig(t, tt.config)
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), "broken.proto"), []byte("syntax = \"proto3\";\npackage acme.v1;\nmessage A {{\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := run(t.Context(), []string{"config", "validate", "-config", path}, &out, io.Discard)
			text := out.String()
			if err != nil {
				text += err.Error()
			}
			if (err == nil) != tt.ok || !strings.Contains(text, tt.want) {
				t.Errorf("got %v, output %q; want ok=%v and %q", err, out.String(), tt.ok, tt.want)
			}
		})
	}
}

// TestMCPStdioRefusesAuditOnStdout: over stdio, stdout is the protocol, so an audit log there
// is refused with the reason instead of corrupting what the host reads.
func TestMCPStdioRefusesAuditOnStdout(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "services: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: soap, endpoint: http://127.0.0.1:1/inventory}\naudit: {sink: stdout}\n")
	err := run(t.Context(), []string{"mcp", "-stdio", "-config", path}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "audit.sink stdout") {
		t.Fatalf("got %v", err)
	}
}

// TestConfigValidateWhileServing: config validate checks a config whose embedded store a
// running bridge holds (locked), without waiting for the lock or taking it.
func TestConfigValidateWhileServing(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "http_addr: 127.0.0.1:0\ngrpc_addr: \"off\"\naudit: {sink: \"off\"}\nservices: [agentbridge.demo.v1.InventoryService]\nbackends:\n  inventory: {kind: soap, endpoint: http://127.0.0.1:1/inventory}\nbatches: {max_items: 10}\n")
	bridge := startBridgeProc(t, path)
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "agentbridge-data", "agentbridge.db")); err != nil {
		t.Fatalf("the serving bridge has no store file: %v", err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"config", "validate", "-config", path}, &out, io.Discard); err != nil {
		t.Fatalf("config validate while %s serves: %v", bridge.url, err)
	}
	if !strings.Contains(out.String(), "config is valid") {
		t.Fatalf("config validate printed %q", out.String())
	}
}
