package main

import (
	"io"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

// bridgeProc is a running `agentbridge serve` process, for tests that crash and restart it.
type bridgeProc struct {
	cmd    *exec.Cmd
	url    string // http://host:port of the HTTP listener
	logs   *logWatch
	exited chan error
	once   sync.Once
}

// startBridgeProc starts serve on config and waits for its HTTP address. When the test ends, a
// process still running is stopped with SIGTERM and must exit cleanly; its log is shown when the
// test failed.
func startBridgeProc(t *testing.T, config string) *bridgeProc {
	t.Helper()
	cmd := exec.Command(agentbridgeBinary(t), "serve", "-config", config)
	p := &bridgeProc{cmd: cmd, logs: newLogWatch(), exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = io.Discard, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		p.once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			if err := <-p.exited; err != nil {
				t.Errorf("serve exited with %v", err)
			}
		})
		if t.Failed() {
			t.Logf("serve log:\n%s", p.logs.String())
		}
	})
	p.url = "http://" + p.logs.waitFor(t, serveHTTP, 1)[1]
	return p
}

// grpc waits for the gRPC listener's address (the config must not turn it off).
func (p *bridgeProc) grpc(t *testing.T) string {
	t.Helper()
	return p.logs.waitFor(t, serveGRPC, 1)[1]
}

// kill ends the bridge with SIGKILL, as a crash would: no shutdown, no flush.
func (p *bridgeProc) kill(t *testing.T) {
	t.Helper()
	p.once.Do(func() {
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := <-p.exited; err == nil {
			t.Fatal("the bridge exited cleanly after SIGKILL")
		}
	})
}
