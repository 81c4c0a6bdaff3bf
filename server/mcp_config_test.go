package server

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMCPProtocolConfig reads the MCP example of the README's "Agents over MCP" section as a
// config: its keys exist, and each backend's wsdl reaches the MCP options, a file relative to
// the config file.
func TestMCPProtocolConfig(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)[strings.Index(string(readme), "\n## Agents over MCP\n"):]
	section = section[:strings.Index(section[1:], "\n## ")+1]
	var block []string
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1) {
		if strings.Contains(b[1], "progress_interval") {
			block = b
		}
	}
	if block == nil {
		t.Fatal(`README: no yaml block under "Agents over MCP"`)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "agentbridge.yaml")
	config := block[1] + "  legacy:\n    kind: soap\n    endpoint: http://127.0.0.1:1/x\n    wsdl: wsdl/legacy.wsdl\nservices: [agentbridge.demo.v1.InventoryService]\n"
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("the README's MCP example: %v", err)
	}
	o := c.mcpOptions()
	want := MCPProtocolOptions{
		ProgressInterval: time.Second, SessionIdleTimeout: 30 * time.Minute, MaxSessions: 10000,
		WSDL: map[string]string{"inventory": "http://127.0.0.1:8081/inventory?wsdl", "legacy": filepath.Join(dir, "wsdl/legacy.wsdl")},
	}
	if o.ProgressInterval != want.ProgressInterval || o.SessionIdleTimeout != want.SessionIdleTimeout || o.MaxSessions != want.MaxSessions || o.Stateless ||
		len(o.WSDL) != 2 || o.WSDL["inventory"] != want.WSDL["inventory"] || o.WSDL["legacy"] != want.WSDL["legacy"] {
		t.Errorf("options %+v, want %+v", o.MCPProtocolOptions, want)
	}
	if _, err := ParseConfig([]byte("services: [x]\nbackends:\n  b: {kind: soap, endpoint: http://x, wsdl: 'ftp://x/y.wsdl'}\n")); err == nil || !strings.Contains(err.Error(), "use an http(s) URL or a file path") {
		t.Errorf("an ftp wsdl: %v", err)
	}
	var zero MCPProtocolOptions
	if zero.sessionIdleTimeout() != DefaultMCPSessionIdleTimeout || zero.maxSessions() != DefaultMCPMaxSessions || zero.progressInterval() != DefaultMCPProgressInterval {
		t.Error("the zero options do not mean the defaults")
	}
}
