//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The MCP clients these tests run were written by others: the official TypeScript SDK's Client
// (driven by testdata/mcpclient/client.mjs, which also compiles every tool schema with Ajv in
// strict mode) and the MCP Inspector CLI. Their versions are pinned by package-lock.json.
const (
	mcpClientDir     = "testdata/mcpclient"
	mcpClientInstall = "npm ci --prefix cmd/agentbridge/testdata/mcpclient"
	mcpNodeTimeout   = 2 * time.Minute
)

// mcpDemoTools are the tools the embedded demo serves.
var mcpDemoTools = []string{"InventoryService_GetItem", "InventoryService_ListItems", "InventoryService_ReserveItem"}

// mcpDemoCalls are the calls client.mjs makes: each tool once, an item with an xsd:date and a nil
// (null) note, which the client checks against the tool's outputSchema, and two that must fail
// as isError results (a SKU the pattern rejects, a quantity over the limit and the stock).
var mcpDemoCalls = []mcpCall{
	{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-100"}},
	{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "A-400"}},
	{Name: "InventoryService_ListItems", Arguments: map[string]any{"category": "tools", "maxResults": 2}},
	{Name: "InventoryService_ReserveItem", Arguments: map[string]any{"sku": "G-100", "quantity": 1, "customerRef": "PO-7"}},
	{Name: "InventoryService_GetItem", Arguments: map[string]any{"sku": "bad"}, ExpectError: true},
	{Name: "InventoryService_ReserveItem", Arguments: map[string]any{"sku": "A-100", "quantity": 100000}, ExpectError: true},
}

type mcpCall struct {
	Name        string         `json:"name"`
	Arguments   map[string]any `json:"arguments"`
	ExpectError bool           `json:"expectError,omitempty"`
}

// mcpClientSummary is the JSON line client.mjs prints.
type mcpClientSummary struct {
	Transport       string                    `json:"transport"`
	Server          map[string]any            `json:"server"`
	ProtocolVersion string                    `json:"protocolVersion"`
	Tools           []string                  `json:"tools"`
	InputSchemas    map[string]map[string]any `json:"inputSchemas"`
	SchemaErrors    []struct {
		Tool    string   `json:"tool"`
		Schema  string   `json:"schema"`
		Message string   `json:"message"`
		At      []string `json:"at"`
	} `json:"schemaErrors"`
	CallResults []struct {
		Name              string          `json:"name"`
		ExpectError       bool            `json:"expectError"`
		OK                bool            `json:"ok"`
		IsError           bool            `json:"isError"`
		Text              string          `json:"text"`
		Error             string          `json:"error"`
		StructuredContent json.RawMessage `json:"structuredContent"`
	} `json:"callResults"`
	Failures []string `json:"failures"`
}

// TestMCPTypeScriptClientHTTP runs the TypeScript SDK client against /mcp of the demo (served in
// this process) over Streamable HTTP.
func TestMCPTypeScriptClientHTTP(t *testing.T) {
	node := mcpNodeDeps(t)
	httpAddr := mcpStartDemo(t)
	sum := mcpRunClient(t, node, "http", "http://"+httpAddr+"/mcp")
	mcpCheckSummary(t, sum)
}

// TestMCPTypeScriptClientStdio runs the TypeScript SDK client against the built binary's
// `mcp -stdio -demo`, which the client starts as a host would.
func TestMCPTypeScriptClientStdio(t *testing.T) {
	t.Parallel()
	node := mcpNodeDeps(t)
	bin := agentbridgeBinary(t)
	sum := mcpRunClient(t, node, "stdio", bin, "mcp", "-stdio", "-demo")
	mcpCheckSummary(t, sum)
}

// TestMCPInspectorCLI lists the demo's tools and calls two of them with the MCP Inspector CLI
// over Streamable HTTP.
func TestMCPInspectorCLI(t *testing.T) {
	node := mcpNodeDeps(t)
	httpAddr := mcpStartDemo(t)
	cli := mcpInspectorCLI(t)
	url := "http://" + httpAddr + "/mcp"
	inspect := func(args ...string) map[string]any {
		t.Helper()
		// The CLI reads its own package.json from ../package.json relative to the working
		// directory (modelcontextprotocol/inspector#1334), so it runs in its build directory.
		stdout, stderr, err := mcpRunNode(t, filepath.Dir(cli), node, append([]string{cli, "--cli", url, "--transport", "http"}, args...)...)
		if err != nil {
			t.Fatalf("mcp-inspector-cli %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
		}
		var out map[string]any
		if err := json.Unmarshal(stdout, &out); err != nil {
			t.Fatalf("mcp-inspector-cli %s printed no JSON: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
		}
		return out
	}

	list := inspect("--method", "tools/list")
	tools, _ := list["tools"].([]any)
	var names []string
	for _, tool := range tools {
		m, _ := tool.(map[string]any)
		name, _ := m["name"].(string)
		names = append(names, name)
		if d, _ := m["description"].(string); d == "" {
			t.Errorf("tools/list: %s has no description", name)
		}
		if _, ok := m["inputSchema"].(map[string]any); !ok {
			t.Errorf("tools/list: %s has no inputSchema", name)
		}
		if _, ok := m["outputSchema"].(map[string]any); !ok {
			t.Errorf("tools/list: %s has no outputSchema", name)
		}
	}
	for _, want := range mcpDemoTools {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list names %v, missing %s (nextCursor %v: the CLI shows the first page only)", names, want, list["nextCursor"])
		}
	}

	get := inspect("--method", "tools/call", "--tool-name", "InventoryService_GetItem", "--tool-arg", "sku=A-100")
	if get["isError"] == true {
		t.Fatalf("GetItem A-100 failed: %v", get)
	}
	sc, _ := get["structuredContent"].(map[string]any)
	item, _ := sc["item"].(map[string]any)
	if item["sku"] != "A-100" || item["name"] != "Cordless drill" {
		t.Errorf("GetItem A-100: structuredContent %v, want the Cordless drill A-100", sc)
	}
	if content, _ := get["content"].([]any); len(content) == 0 || !strings.Contains(fmt.Sprint(content), "Cordless drill") {
		t.Errorf("GetItem A-100: content %v does not show the item", get["content"])
	}

	// A number argument: the CLI sends maxResults=2 as the JSON number 2.
	listed := inspect("--method", "tools/call", "--tool-name", "InventoryService_ListItems", "--tool-arg", "category=tools", "maxResults=2")
	if listed["isError"] == true {
		t.Fatalf("ListItems tools: %v", listed)
	}
	sc, _ = listed["structuredContent"].(map[string]any)
	if items, _ := sc["items"].([]any); len(items) != 2 {
		t.Errorf("ListItems tools maxResults=2: structuredContent %v, want 2 items", sc)
	}

	bad := inspect("--method", "tools/call", "--tool-name", "InventoryService_GetItem", "--tool-arg", "sku=bad")
	if bad["isError"] != true {
		t.Errorf("GetItem bad: want an isError result, got %v", bad)
	}
}

// mcpNodeDeps returns the node binary, failing the test when node or the pinned packages are
// missing: these clients are part of the suite, not optional.
func mcpNodeDeps(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the MCP TypeScript SDK client and Inspector CLI under node; skipped in -short mode")
	}
	return nodeDeps(t, mcpClientDir, mcpClientInstall)
}

// nodeDeps returns the node binary, failing the test when node is missing or the packages dir's
// package.json pins are not what is installed there; install is the command that fixes that.
func nodeDeps(t *testing.T, dir, install string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (%v); install Node.js 20 or later, then run `%s` from the module root", err, install)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		t.Fatalf("%s/package.json: %v", dir, err)
	}
	for _, name := range slices.Sorted(maps.Keys(pkg.Dependencies)) {
		want := pkg.Dependencies[name]
		var installed struct {
			Version string `json:"version"`
		}
		data, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err == nil {
			err = json.Unmarshal(data, &installed)
		}
		if err != nil {
			t.Fatalf("npm package %s is not installed in %s (%v); run `%s` from the module root", name, dir, err, install)
		}
		if installed.Version != want {
			t.Fatalf("npm package %s is %s in %s/node_modules, package.json pins %s; run `%s` from the module root", name, installed.Version, dir, want, install)
		}
	}
	return node
}

// mcpInspectorCLI returns the absolute path of the Inspector CLI's bin script.
func mcpInspectorCLI(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(mcpClientDir, "node_modules", "@modelcontextprotocol", "inspector-cli"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Bin map[string]string `json:"bin"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &pkg)
	}
	if err != nil || pkg.Bin["mcp-inspector-cli"] == "" {
		t.Fatalf("%s/package.json names no mcp-inspector-cli bin (%v); run `%s` from the module root", dir, err, mcpClientInstall)
	}
	return filepath.Join(dir, pkg.Bin["mcp-inspector-cli"])
}

// mcpStartDemo serves the demo in this process on a free port, with gRPC off, until the test
// ends, and returns the HTTP address.
func mcpStartDemo(t *testing.T) string {
	t.Helper()
	httpAddr, _ := startDemo(t, false)
	return httpAddr
}

// mcpRunClient runs client.mjs with mcpDemoCalls against the target and returns its summary,
// failing the test when it cannot be read.
func mcpRunClient(t *testing.T, node string, target ...string) *mcpClientSummary {
	t.Helper()
	return mcpRunClientAs(t, node, "", target...)
}

// mcpRunClientAs is mcpRunClient with the client announcing itself as clientName ("" for
// client.mjs's default).
func mcpRunClientAs(t *testing.T, node, clientName string, target ...string) *mcpClientSummary {
	t.Helper()
	calls, err := json.Marshal(mcpDemoCalls)
	if err != nil {
		t.Fatal(err)
	}
	callsFile := filepath.Join(t.TempDir(), "calls.json")
	if err := os.WriteFile(callsFile, calls, 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs(mcpClientDir)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"client.mjs", "--calls", callsFile}
	if clientName != "" {
		args = append(args, "--client-name", clientName)
	}
	stdout, stderr, runErr := mcpRunNode(t, dir, node, append(args, target...)...)
	lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
	var sum mcpClientSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("client.mjs (%v) printed no summary line: %v\nstdout:\n%s\nstderr:\n%s", runErr, err, stdout, stderr)
	}
	t.Logf("client.mjs %s: server %v, protocol %s, tools %v", target[0], sum.Server, sum.ProtocolVersion, sum.Tools)
	for _, f := range sum.Failures {
		t.Errorf("client.mjs: %s", f)
	}
	if runErr != nil {
		t.Errorf("client.mjs exited with %v\nstdout:\n%s\nstderr:\n%s", runErr, stdout, stderr)
	} else if t.Failed() {
		t.Logf("client.mjs stderr:\n%s", stderr)
	}
	return &sum
}

// mcpCheckSummary checks what the client saw of the demo beyond its own checks: the three tools
// and the data of each call.
func mcpCheckSummary(t *testing.T, sum *mcpClientSummary) {
	t.Helper()
	for _, want := range mcpDemoTools {
		if !slices.Contains(sum.Tools, want) {
			t.Errorf("tools/list names %v, missing %s", sum.Tools, want)
		}
	}
	if len(sum.CallResults) != len(mcpDemoCalls) {
		t.Fatalf("client.mjs reports %d calls, made %d", len(sum.CallResults), len(mcpDemoCalls))
	}
	for i, r := range sum.CallResults {
		call := mcpDemoCalls[i]
		if r.Name != call.Name || !r.OK {
			t.Errorf("call %d %s %v: not ok (%+v)", i, call.Name, call.Arguments, r)
			continue
		}
		if call.ExpectError {
			continue
		}
		var sc struct {
			Item *struct {
				SKU             string          `json:"sku"`
				Name            string          `json:"name"`
				DiscontinuedOn  string          `json:"discontinuedOn"`
				SupplierNoteNil json.RawMessage `json:"supplierNoteNil"`
			} `json:"item"`
			Items []struct {
				SKU      string `json:"sku"`
				Category string `json:"category"`
			} `json:"items"`
			ReservationID string `json:"reservationId"`
			ExpiresAt     string `json:"expiresAt"`
		}
		if err := json.Unmarshal(r.StructuredContent, &sc); err != nil {
			t.Errorf("call %d %s: structuredContent %s: %v", i, call.Name, r.StructuredContent, err)
			continue
		}
		var ok bool
		switch call.Name {
		case "InventoryService_GetItem":
			if call.Arguments["sku"] == "A-400" {
				ok = sc.Item != nil && sc.Item.DiscontinuedOn == "2026-09-15+02:00" && string(sc.Item.SupplierNoteNil) == "null"
				break
			}
			ok = sc.Item != nil && sc.Item.SKU == "A-100" && sc.Item.Name == "Cordless drill"
		case "InventoryService_ListItems":
			ok = len(sc.Items) == 2 && sc.Items[0].Category == "tools" && sc.Items[1].Category == "tools"
		case "InventoryService_ReserveItem":
			ok = sc.ReservationID != "" && rfc3339.MatchString(sc.ExpiresAt)
		}
		if !ok {
			t.Errorf("call %d %s %v: unexpected structuredContent %s", i, call.Name, call.Arguments, r.StructuredContent)
		}
	}
}

// mcpRunNode runs node with args in dir, in a process group of its own that is killed when the
// run ends, times out or the test ends, so no client, server or helper process outlives it.
func mcpRunNode(t *testing.T, dir, node string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), mcpNodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	err = cmd.Wait()
	// Whatever node started and left behind is still in the group: end it.
	if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Errorf("killing process group %d: %v", cmd.Process.Pid, kerr)
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (killed after %s)", err, mcpNodeTimeout)
	}
	return outBuf.Bytes(), errBuf.Bytes(), err
}

// mcpLockedBuffer is a bytes.Buffer safe for the demo's log writer and the test to share.
type mcpLockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *mcpLockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *mcpLockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
