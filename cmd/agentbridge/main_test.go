package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSignalsStopCleanly builds the binary, starts the demo, and sends SIGTERM and SIGINT: the
// process must drain and exit 0.
func TestSignalsStopCleanly(t *testing.T) {
	t.Parallel()
	bin := agentbridgeBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin, "demo", "-http-addr", "127.0.0.1:0", "-grpc-addr", "127.0.0.1:0", "-legacy-addr", "127.0.0.1:0")
			stdout := watchAddrs(demoHTTP, demoGRPC)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			httpAddr := stdout.wait(t, done)[0]
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var exit *exec.ExitError
				if errors.As(err, &exit) || err != nil {
					t.Fatalf("exit after %v: %v\n%s", sig, err, stderr.String())
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("still running 20s after %v", sig)
			}
			if !strings.Contains(stderr.String(), "shutting down") {
				t.Errorf("no shutdown in the log:\n%s", stderr.String())
			}
			if !strings.Contains(stdout.String(), "http://"+httpAddr) {
				t.Errorf("the demo did not print its address:\n%s", stdout.String())
			}
		})
	}
}
