//go:build unix

package main

import (
	"fmt"
	"testing"
)

// TestMCPTypeScriptClientProfiles runs the TypeScript SDK client against the demo's /mcp under
// the names hosts announce, so the bridge shows each the profile meant for it: the client
// compiles every schema with Ajv (strict, 2020-12) and makes the demo calls, which the server
// checks exactly whatever the profile.
func TestMCPTypeScriptClientProfiles(t *testing.T) {
	node := mcpNodeDeps(t)
	httpAddr := mcpStartDemo(t)
	for _, tc := range []struct {
		client string
		check  func(reserve map[string]any) error
	}{
		{"gemini-cli-mcp-client", func(s map[string]any) error {
			if _, ok := s["additionalProperties"]; ok {
				return fmt.Errorf("additionalProperties in a Gemini schema")
			}
			return nil
		}},
		{"codex-mcp-client", func(s map[string]any) error {
			// sku, quantity, customerRef and the bridge's idempotency_key, each nullable.
			if req, _ := s["required"].([]any); len(req) != 4 {
				return fmt.Errorf("required %v, want every property (openai-strict)", s["required"])
			}
			return nil
		}},
		{"claude-code", func(s map[string]any) error {
			if _, ok := s["$schema"]; ok {
				return fmt.Errorf("$schema in a portable schema")
			}
			if req, _ := s["required"].([]any); len(req) != 2 {
				return fmt.Errorf("required %v, want sku and quantity (portable)", s["required"])
			}
			return nil
		}},
	} {
		t.Run(tc.client, func(t *testing.T) {
			sum := mcpRunClientAs(t, node, tc.client, "http", "http://"+httpAddr+"/mcp")
			mcpCheckSummary(t, sum)
			if err := tc.check(sum.InputSchemas["InventoryService_ReserveItem"]); err != nil {
				t.Errorf("%s: ReserveItem's inputSchema: %v: %v", tc.client, err, sum.InputSchemas["InventoryService_ReserveItem"])
			}
		})
	}
}
