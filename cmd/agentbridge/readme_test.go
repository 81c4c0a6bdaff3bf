package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// readmeCall is one command of the README's "Try it" section and the output it shows, if any.
type readmeCall struct {
	command string
	output  string // JSON; empty when the README shows none
}

// readmeCalls reads the ```sh blocks of the "## Try it" section, each with the ```json block
// that follows it.
func readmeCalls(t *testing.T) []readmeCall {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
	start := strings.Index(section, "\n## Try it\n")
	if start < 0 {
		t.Fatal(`README.md has no "## Try it" section`)
	}
	section = section[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	block := regexp.MustCompile("(?s)```(sh|json)\n(.*?)```")
	var calls []readmeCall
	for _, m := range block.FindAllStringSubmatch(section, -1) {
		switch m[1] {
		case "sh":
			calls = append(calls, readmeCall{command: strings.TrimSpace(m[2])})
		case "json":
			if len(calls) == 0 || calls[len(calls)-1].output != "" {
				t.Fatalf("README: a json block without the command before it: %s", m[2])
			}
			calls[len(calls)-1].output = m[2]
		}
	}
	return calls
}

// TestReadmeCalls starts the demo as make run does (on free ports instead of 8080 and 9090) and
// runs every call of the README's "Try it" section with bash, exactly as written but for the
// ports, checking each output against the one the README shows. Timestamps may differ.
func TestReadmeCalls(t *testing.T) {
	grpcurl := grpcurlPath(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed for the README's calls")
	}
	stdout := watchAddrs(demoHTTP, demoGRPC)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-http-addr", "127.0.0.1:0", "-grpc-addr", "127.0.0.1:0", "-legacy-addr", "127.0.0.1:0"}, stdout, io.Discard)
	}()
	addrs := stdout.wait(t, done)
	httpAddr, grpcAddr := addrs[0], addrs[1]
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo exited with %v", err)
		}
	})

	calls := readmeCalls(t)
	if len(calls) < 6 {
		t.Fatalf("found %d calls in the README, expected the whole Try it section", len(calls))
	}
	for i, c := range calls {
		cmdline := strings.NewReplacer("127.0.0.1:8080", httpAddr, "127.0.0.1:9090", grpcAddr, "bin/grpcurl", grpcurl).Replace(c.command)
		cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", cmdline)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("call %d %q failed: %v\n%s", i+1, c.command, err, out)
		}
		if c.output == "" {
			if len(out) == 0 {
				t.Errorf("call %d %q printed nothing", i+1, c.command)
			}
			continue
		}
		if diff := jsonDiff(c.output, string(out)); diff != "" {
			t.Errorf("call %d %q:\n%s\nREADME shows:\n%s\ngot:\n%s", i+1, c.command, diff, c.output, out)
		}
	}

	// The demo prints the calls it serves; each must be one the README documents or runs.
	printed := stdout.String()
	readme, _ := os.ReadFile("../../README.md")
	for line := range strings.SplitSeq(printed, "\n") {
		if !strings.HasPrefix(line, "curl ") && !strings.HasPrefix(line, "bin/grpcurl ") {
			continue
		}
		line = strings.NewReplacer(httpAddr, "127.0.0.1:8080", grpcAddr, "127.0.0.1:9090").Replace(line)
		if !bytes.Contains(readme, []byte(line)) {
			t.Errorf("the demo prints %q, which the README does not show", line)
		}
	}
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)

// jsonDiff compares two JSON documents, or two sequences of them (newline-delimited JSON); a
// timestamp matches any timestamp.
func jsonDiff(want, got string) string {
	w, err := jsonValues(want)
	if err != nil {
		return "the README's output is not JSON: " + err.Error()
	}
	g, err := jsonValues(got)
	if err != nil {
		return "the output is not JSON: " + err.Error()
	}
	if len(w) != len(g) {
		return fmt.Sprintf("want %d JSON values, got %d", len(w), len(g))
	}
	for i := range w {
		if d := compare(fmt.Sprintf("$%d", i+1), w[i], g[i]); d != "" {
			return d
		}
	}
	return ""
}

// jsonValues reads the JSON values of s, one after the other.
func jsonValues(s string) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var vs []any
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, errors.New("no JSON value")
	}
	return vs, nil
}

func compare(path string, w, g any) string {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Sprintf("%s: want %v, got %v", path, w, g)
		}
		for k, v := range wv {
			if d := compare(path+"."+k, v, gv[k]); d != "" {
				return d
			}
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Sprintf("%s: want %v, got %v", path, w, g)
		}
		for i := range wv {
			if d := compare(fmt.Sprintf("%s[%d]", path, i), wv[i], gv[i]); d != "" {
				return d
			}
		}
	case string:
		if gs, ok := g.(string); ok && rfc3339.MatchString(wv) && rfc3339.MatchString(gs) {
			return ""
		}
		if w != g {
			return fmt.Sprintf("%s: want %q, got %v", path, wv, g)
		}
	default:
		if w != g {
			return fmt.Sprintf("%s: want %v, got %v", path, w, g)
		}
	}
	return ""
}
