package main

import (
	"bytes"
	"context"
	"regexp"
	"sync"
	"testing"
)

// What agentbridge prints about the addresses it bound: the demo's banner on stdout, serve's
// log on stderr. Tests listen on port 0 and read the bound address from these.
var (
	demoHTTP  = regexp.MustCompile(`bridge HTTP \([^)]*\): http://(\S+)`)
	demoGRPC  = regexp.MustCompile(`bridge gRPC: (\S+)`)
	serveHTTP = regexp.MustCompile(`msg="serving HTTP" addr=(\S+)`)
	serveGRPC = regexp.MustCompile(`msg="serving gRPC" addr=(\S+)`)
)

// addrWatch is an io.Writer for a command's output that finds the addresses it printed.
type addrWatch struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	patterns []*regexp.Regexp
	found    []string
	ready    chan struct{}
	once     sync.Once
}

// watchAddrs returns a writer that is ready once every pattern has matched; each pattern's
// first group is the address.
func watchAddrs(patterns ...*regexp.Regexp) *addrWatch {
	return &addrWatch{patterns: patterns, found: make([]string, len(patterns)), ready: make(chan struct{})}
}

func (a *addrWatch) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf.Write(p)
	all := true
	for i, re := range a.patterns {
		if a.found[i] == "" {
			if m := re.FindSubmatch(a.buf.Bytes()); m != nil {
				a.found[i] = string(m[1])
			}
		}
		all = all && a.found[i] != ""
	}
	if all {
		a.once.Do(func() { close(a.ready) })
	}
	return len(p), nil
}

func (a *addrWatch) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.String()
}

// wait returns the addresses in the order of the patterns, once printed; it fails the test
// when the command ends first (done yields its error) or the test's deadline passes.
func (a *addrWatch) wait(t *testing.T, done <-chan error) []string {
	t.Helper()
	select {
	case <-a.ready:
		a.mu.Lock()
		defer a.mu.Unlock()
		return append([]string(nil), a.found...)
	case err := <-done:
		t.Fatalf("exited before printing its addresses: %v\n%s", err, a.String())
	case <-t.Context().Done():
		t.Fatalf("never printed its addresses:\n%s", a.String())
	}
	return nil
}

// startDemo serves the demo in this process on free ports (gRPC too when withGRPC) until the
// test ends, and returns the bound HTTP and gRPC addresses. Its log is shown when the test
// fails.
func startDemo(t *testing.T, withGRPC bool) (httpAddr, grpcAddr string) {
	t.Helper()
	args := []string{"demo", "-http-addr", "127.0.0.1:0", "-legacy-addr", "127.0.0.1:0", "-grpc-addr", "off"}
	patterns := []*regexp.Regexp{demoHTTP}
	if withGRPC {
		args[len(args)-1] = "127.0.0.1:0"
		patterns = append(patterns, demoGRPC)
	}
	stdout, logs := watchAddrs(patterns...), watchAddrs()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, stdout, logs) }()
	addrs := stdout.wait(t, done)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo exited with %v", err)
		}
		if t.Failed() {
			t.Logf("demo log:\n%s", logs.String())
		}
	})
	if withGRPC {
		return addrs[0], addrs[1]
	}
	return addrs[0], ""
}
