//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The OpenAPI consumers these tests run were written by others: @readme/openapi-parser, which
// validates OpenAPI documents (driven by testdata/openapi/validate.mjs, which also compiles every
// schema with Ajv in strict mode), and @ivotoby/openapi-mcp-server, an agent toolkit that makes an
// MCP tool of each operation of a document and calls the API (driven by toolkit.mjs with the MCP
// TypeScript SDK client). Their versions are pinned by testdata/openapi/package-lock.json.
const (
	openAPIPeersDir     = "testdata/openapi"
	openAPIPeersInstall = "npm ci --prefix cmd/agentbridge/testdata/openapi"
)

// TestOpenAPIPeers builds the binary, starts its demo with the HTTP listener on port 0 and gRPC
// off, and lets the OpenAPI consumers loose on it.
func TestOpenAPIPeers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs an OpenAPI validator and an OpenAPI agent toolkit under node; skipped in -short mode")
	}
	node := nodeDeps(t, openAPIPeersDir, openAPIPeersInstall)
	dir, err := filepath.Abs(openAPIPeersDir)
	if err != nil {
		t.Fatal(err)
	}
	base := startDemoBinary(t)

	// The validator reads the served document, and the goldens of the server package, which
	// document the testing services and every kind of binding.
	t.Run("validator", func(t *testing.T) {
		t.Parallel()
		sources := []string{base + "/openapi.json"}
		for _, g := range []string{"openapi.golden.json", "openapi_routes.golden.json"} {
			p, err := filepath.Abs(filepath.Join("..", "..", "server", "testdata", g))
			if err != nil {
				t.Fatal(err)
			}
			sources = append(sources, p)
		}
		var sum struct {
			Documents []struct {
				Source     string   `json:"source"`
				OpenAPI    string   `json:"openapi"`
				Operations int      `json:"operations"`
				Schemas    int      `json:"schemas"`
				Errors     []string `json:"errors"`
			} `json:"documents"`
			Failures []string `json:"failures"`
		}
		runNodeSummary(t, dir, node, &sum, append([]string{"validate.mjs"}, sources...)...)
		for _, f := range sum.Failures {
			t.Errorf("validate.mjs: %s", f)
		}
		if len(sum.Documents) != len(sources) {
			t.Fatalf("validate.mjs checked %d documents, want %d", len(sum.Documents), len(sources))
		}
		for _, d := range sum.Documents {
			t.Logf("%s: OpenAPI %s, %d operations, %d schemas compiled", d.Source, d.OpenAPI, d.Operations, d.Schemas)
			if d.OpenAPI != "3.1.0" || d.Operations == 0 || d.Schemas == 0 {
				t.Errorf("%s: openapi %q, %d operations, %d schemas", d.Source, d.OpenAPI, d.Operations, d.Schemas)
			}
		}
		if sum.Documents[0].Operations != 22 { // InventoryService 3, StockRestService 3, StockDeskService 3, XmlStockService 4, EventService 3, BatchService 6
			t.Errorf("the demo's document has %d operations, want 22", sum.Documents[0].Operations)
		}
	})

	t.Run("toolkit", func(t *testing.T) {
		t.Parallel()
		type call struct {
			OperationID string         `json:"operationId"`
			Arguments   map[string]any `json:"arguments"`
			ExpectError bool           `json:"expectError,omitempty"`
		}
		calls := []call{
			{"InventoryService_GetItem", map[string]any{"sku": "A-100"}, false},
			{"InventoryService_ListItems", map[string]any{"category": "tools", "maxResults": 2}, false},
			{"InventoryService_ReserveItem", map[string]any{"sku": "G-100", "quantity": 1, "customerRef": "PO-7"}, false},
			{"InventoryService_GetItem", map[string]any{"sku": "bad"}, true},
		}
		data, err := json.Marshal(calls)
		if err != nil {
			t.Fatal(err)
		}
		callsFile := filepath.Join(t.TempDir(), "calls.json")
		if err := os.WriteFile(callsFile, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var sum struct {
			Tools []struct {
				Name        string `json:"name"`
				Description string `json:"description"`
				InputSchema struct {
					Properties map[string]map[string]any `json:"properties"`
					Required   []string                  `json:"required"`
				} `json:"inputSchema"`
			} `json:"tools"`
			CallResults []struct {
				OperationID string          `json:"operationId"`
				Tool        string          `json:"tool"`
				IsError     bool            `json:"isError"`
				Text        string          `json:"text"`
				JSON        json.RawMessage `json:"json"`
			} `json:"callResults"`
			Failures []string `json:"failures"`
		}
		runNodeSummary(t, dir, node, &sum, "toolkit.mjs", "--calls", callsFile, base)
		for _, f := range sum.Failures {
			t.Errorf("toolkit.mjs: %s", f)
		}

		// The toolkit made one tool per operation, described and parameterized from the document.
		var doc struct {
			Paths map[string]map[string]struct {
				OperationID string `json:"operationId"`
				Description string `json:"description"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(httpGet(t, base+"/openapi.json"), &doc); err != nil {
			t.Fatal(err)
		}
		described := map[string]string{}
		for _, item := range doc.Paths {
			for _, op := range item {
				described[op.OperationID] = op.Description
			}
		}
		var names []string
		for _, tool := range sum.Tools {
			names = append(names, tool.Name)
		}
		t.Logf("toolkit tools: %v", names)
		if len(sum.Tools) != len(described) {
			t.Errorf("the toolkit made %d tools of %d operations", len(sum.Tools), len(described))
		}
		for _, tool := range sum.Tools {
			var id string
			for op := range described {
				if letters(op) == letters(tool.Name) {
					id = op
				}
			}
			if id == "" || tool.Description != described[id] {
				t.Errorf("tool %s: description %q, want that of an operation (%v)", tool.Name, tool.Description, described)
			}
			if id == "InventoryService_GetItem" {
				if loc := tool.InputSchema.Properties["sku"]["x-parameter-location"]; loc != "path" || !slices.Contains(tool.InputSchema.Required, "sku") {
					t.Errorf("GetItem's sku: %v, required %v; want a required path parameter", tool.InputSchema.Properties["sku"], tool.InputSchema.Required)
				}
			}
		}

		if len(sum.CallResults) != len(calls) {
			t.Fatalf("toolkit.mjs reports %d calls, made %d", len(sum.CallResults), len(calls))
		}
		// What the toolkit got over REST is what the REST surface answers directly.
		sameAs := func(i int, url string) {
			t.Helper()
			var got, want any
			if err := json.Unmarshal(sum.CallResults[i].JSON, &got); err != nil {
				t.Errorf("call %d %s: %v: %s", i, calls[i].OperationID, err, sum.CallResults[i].Text)
				return
			}
			if err := json.Unmarshal(httpGet(t, url), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("call %d %s: the toolkit got\n%s\nGET %s answers\n%s", i, calls[i].OperationID, sum.CallResults[i].JSON, url, jsonString(want))
			}
		}
		sameAs(0, base+"/v1/items/A-100")
		sameAs(1, base+"/v1/items?category=tools&maxResults=2")
		var item struct {
			Item struct {
				SKU  string `json:"sku"`
				Name string `json:"name"`
			} `json:"item"`
		}
		if err := json.Unmarshal(sum.CallResults[0].JSON, &item); err != nil || item.Item.SKU != "A-100" || item.Item.Name != "Cordless drill" {
			t.Errorf("GetItem A-100: %s (%v), want the Cordless drill", sum.CallResults[0].JSON, err)
		}
		var list struct {
			Items []struct {
				Category string `json:"category"`
			} `json:"items"`
		}
		if err := json.Unmarshal(sum.CallResults[1].JSON, &list); err != nil || len(list.Items) != 2 || list.Items[0].Category != "tools" {
			t.Errorf("ListItems tools, 2: %s (%v)", sum.CallResults[1].JSON, err)
		}
		var reserved struct {
			ReservationID string `json:"reservationId"`
			ExpiresAt     string `json:"expiresAt"`
		}
		if err := json.Unmarshal(sum.CallResults[2].JSON, &reserved); err != nil || reserved.ReservationID == "" || !rfc3339.MatchString(reserved.ExpiresAt) {
			t.Errorf("ReserveItem G-100: %s (%v), want a reservation", sum.CallResults[2].JSON, err)
		}
		// The error is the REST surface's google.rpc.Status, as the document's default response says.
		if bad := sum.CallResults[3]; !bad.IsError || !strings.Contains(bad.Text, `"code":3`) || !strings.Contains(bad.Text, "string.pattern") {
			t.Errorf("GetItem bad: %+v, want an error with the INVALID_ARGUMENT status", bad)
		}
	})
}

func letters(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func jsonString(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, body)
	}
	return body
}

// runNodeSummary runs a node script in dir that prints a JSON summary as its last line, and
// decodes that line into sum.
func runNodeSummary(t *testing.T, dir, node string, sum any, args ...string) {
	t.Helper()
	stdout, stderr, runErr := mcpRunNode(t, dir, node, args...)
	lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), sum); err != nil {
		t.Fatalf("%s (%v) printed no summary line: %v\nstdout:\n%s\nstderr:\n%s", args[0], runErr, err, stdout, stderr)
	}
	if runErr != nil {
		t.Errorf("%s exited with %v\nstdout:\n%s\nstderr:\n%s", args[0], runErr, stdout, stderr)
	}
}

// startDemoBinary builds the binary and runs `agentbridge demo` with gRPC off and the HTTP
// listener on port 0, and returns the base URL the demo prints. The demo is stopped by its pid
// with SIGTERM when the test ends (and killed if it does not exit); its log is shown on failure.
func startDemoBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "agentbridge")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "demo", "-grpc-addr", "off", "-http-addr", "127.0.0.1:0")
	const prefix = "bridge HTTP (REST, Connect, gRPC-Web, gRPC): "
	stdout := &lineWatcher{prefix: prefix, found: make(chan string, 1)}
	logs := &mcpLockedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("the demo exited with %v", err)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("the demo was still running 20s after SIGTERM; killed (%v)", <-exited)
		}
		if t.Failed() {
			t.Logf("demo stdout:\n%s\ndemo log:\n%s", stdout.String(), logs.String())
		}
	})
	select {
	case url := <-stdout.found:
		return url
	case err := <-exited:
		t.Fatalf("the demo exited (%v) before printing its address:\n%s\n%s", err, stdout.String(), logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo printed no %q line in 30s:\n%s", prefix, stdout.String())
	}
	return ""
}

// lineWatcher keeps what a process writes and reports the rest of the first line that starts
// with prefix (after spaces).
type lineWatcher struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	prefix string
	found  chan string
	sent   bool
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.sent {
		text := w.buf.String()
		complete := text[:strings.LastIndexByte(text, '\n')+1]
		for line := range strings.SplitSeq(complete, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), w.prefix); ok {
				w.found <- rest
				w.sent = true
				break
			}
		}
	}
	return len(p), nil
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
