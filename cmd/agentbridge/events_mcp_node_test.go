//go:build unix

package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEventsMCPTypeScriptClient has the official MCP TypeScript SDK client subscribe to an
// event source of a running bridge, hear notifications/resources/updated when an event is
// posted to the source's webhook, read the resource, and fetch and acknowledge with the
// events_fetch tool.
func TestEventsMCPTypeScriptClient(t *testing.T) {
	t.Parallel()
	node := mcpNodeDeps(t)
	p := startBridgeProc(t, eventsDir(t, t.TempDir(), "store: {engine: memory}\n"))
	dir, err := filepath.Abs(mcpClientDir)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, runErr := mcpRunNode(t, dir, node, "events.mjs", p.url+"/mcp", p.url+"/hooks/stock", eventsTestToken, "stock")
	lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
	var sum struct {
		Resources []string `json:"resources"`
		Updated   []string `json:"updated"`
		Read      struct {
			Events []fetchedEvent `json:"events"`
		} `json:"read"`
		Fetched  fetchedPage `json:"fetched"`
		AfterAck fetchedPage `json:"afterAck"`
		Failures []string    `json:"failures"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("events.mjs (%v) printed no summary: %v\nstdout:\n%s\nstderr:\n%s", runErr, err, stdout, stderr)
	}
	if len(sum.Failures) > 0 || runErr != nil {
		t.Fatalf("events.mjs: %v %v\nstderr:\n%s", runErr, sum.Failures, stderr)
	}
	if !slices.Contains(sum.Updated, "agentbridge://events/stock") {
		t.Errorf("heard updates for %v", sum.Updated)
	}
	if len(sum.Read.Events) != 1 || sum.Read.Events[0].Data.EventID != "mcp-1" {
		t.Errorf("resources/read gave %+v", sum.Read)
	}
	if len(sum.Fetched.Events) != 1 || sum.Fetched.Events[0].ID != "mcp-1" || len(sum.AfterAck.Events) != 0 {
		t.Errorf("events_fetch gave %+v, then after the ack %+v", sum.Fetched, sum.AfterAck)
	}
}
