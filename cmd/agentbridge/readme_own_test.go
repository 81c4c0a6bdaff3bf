package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
)

// readmeSection returns the README's section under the heading, up to the next one.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	return text
}

// TestReadmeServeYourOwn does what the README's "Serve your own service" section says, as a new
// user would: it writes the files the section shows where it says, runs the one command (on
// free ports, against the demo's legacy system), and runs the calls, comparing their output.
func TestReadmeServeYourOwn(t *testing.T) {
	t.Parallel()
	grpcurl := grpcurlPath(t)
	legacy := httptest.NewServer(demo.NewLegacy(nil))
	t.Cleanup(legacy.Close)
	legacyAddr := strings.TrimPrefix(legacy.URL, "http://")

	section := readmeSection(t, "## Serve your own service")
	// A file is a line naming it in backticks, then the next fenced block.
	fileBlock := regexp.MustCompile("(?s)\n`(stock/[^`]+)`[^\n]*\n.*?```(?:proto|yaml)\n(.*?)```")
	dir := t.TempDir()
	var files []string
	for _, m := range fileBlock.FindAllStringSubmatch(section, -1) {
		body := strings.NewReplacer("127.0.0.1:8081", legacyAddr, "127.0.0.1:8090", "127.0.0.1:0", "127.0.0.1:9091", "127.0.0.1:0").Replace(m[2])
		path := filepath.Join(dir, m[1])
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, m[1])
	}
	if len(files) != 2 {
		t.Fatalf("the section shows files %v; want the proto and the config", files)
	}

	var validated bytes.Buffer
	if err := run(t.Context(), []string{"config", "validate", "-config", filepath.Join(dir, "stock/agentbridge.yaml")}, &validated, os.Stderr); err != nil {
		t.Fatalf("config validate: %v", err)
	}

	block := regexp.MustCompile("(?s)```(sh|json)\n(.*?)```")
	var calls []readmeCall
	for _, m := range block.FindAllStringSubmatch(section, -1) {
		if m[1] == "sh" {
			calls = append(calls, readmeCall{command: strings.TrimSpace(m[2])})
		} else if len(calls) > 0 {
			calls[len(calls)-1].output = m[2]
		}
	}
	if len(calls) < 3 || !strings.HasPrefix(calls[0].command, "bin/agentbridge serve ") {
		t.Fatalf("the section's first command should be the serve command; got %v", calls)
	}
	args := strings.Fields(strings.TrimPrefix(calls[0].command, "bin/agentbridge "))
	for i, a := range args {
		if a == "stock/agentbridge.yaml" {
			args[i] = filepath.Join(dir, a)
		}
	}
	logs := watchAddrs(serveHTTP, serveGRPC)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, os.Stdout, logs) }()
	addrs := logs.wait(t, done)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve exited with %v", err)
		}
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})
	for i, c := range calls[1:] {
		cmdline := strings.NewReplacer("127.0.0.1:8090", addrs[0], "127.0.0.1:9091", addrs[1], "bin/grpcurl", grpcurl).Replace(c.command)
		out, err := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", cmdline).Output()
		if err != nil {
			t.Fatalf("call %d %q failed: %v\n%s", i+1, c.command, err, out)
		}
		if diff := jsonDiff(c.output, string(out)); diff != "" {
			t.Errorf("call %d %q:\n%s\nREADME shows:\n%s\ngot:\n%s", i+1, c.command, diff, c.output, out)
		}
	}
}
