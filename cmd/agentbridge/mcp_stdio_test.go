package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMCPStdioBinaryGoesOn runs the built binary's `mcp -stdio -demo` as a host does and writes
// lines a broken host might: each gets a JSON-RPC error and the process goes on to serve the
// session (it used to exit at the first line that was not JSON). It then reads the demo's WSDL
// as a resource and ends cleanly when its input closes.
func TestMCPStdioBinaryGoesOn(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), agentbridgeBinary(t), "mcp", "-stdio", "-demo")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	type response struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	exchange := func(line string) response {
		t.Helper()
		if _, err := io.WriteString(in, line+"\n"); err != nil {
			t.Fatalf("writing %q: %v\n%s", line, err, stderr.String())
		}
		select {
		case got, ok := <-lines:
			if !ok {
				t.Fatalf("the process closed its output after %q\n%s", line, stderr.String())
			}
			var r response
			if err := json.Unmarshal([]byte(got), &r); err != nil {
				t.Fatalf("not JSON-RPC: %s", got)
			}
			return r
		case <-time.After(time.Minute):
			t.Fatalf("no answer to %q", line)
			panic("unreachable")
		}
	}
	for _, tc := range []struct {
		line string
		code int
	}{
		{`not json at all`, -32700},
		{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"s\":\"\xc3\x28\"}}", -32700},
		{`[{"jsonrpc":"2.0","id":2,"method":"ping"}]`, -32600},
		{`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, -32600},
	} {
		if r := exchange(tc.line); r.Error == nil || r.Error.Code != tc.code {
			t.Errorf("%q: got %+v, want code %d", tc.line, r, tc.code)
		}
	}
	if r := exchange(`{"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`); r.Error != nil {
		t.Fatalf("initialize: %+v", r.Error)
	}
	if _, err := io.WriteString(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	if r := exchange(`{"jsonrpc":"2.0","id":5,"method":"tools/list"}`); r.Error != nil || !strings.Contains(string(r.Result), "InventoryService_GetItem") {
		t.Errorf("tools/list: %s %+v", r.Result, r.Error)
	}
	if r := exchange(`{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"uri":"agentbridge://wsdl/inventory"}}`); r.Error != nil || !strings.Contains(string(r.Result), "definitions") {
		t.Errorf("resources/read of the WSDL: %.300s %+v", r.Result, r.Error)
	}
	_ = in.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("the process ended with %v\n%s", err, stderr.String())
	}
}
