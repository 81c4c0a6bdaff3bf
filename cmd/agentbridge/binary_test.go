package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// binDir holds the agentbridge binary the tests build once and run as a user would.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
	binOut   []byte
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// agentbridgeBinary builds bin/agentbridge's equivalent once per test run and returns its path.
func agentbridgeBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binError = os.MkdirTemp("", "agentbridge-bin"); binError != nil {
			return
		}
		binPath = filepath.Join(binDir, "agentbridge")
		binOut, binError = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	})
	if binError != nil {
		t.Fatalf("go build: %v\n%s", binError, binOut)
	}
	return binPath
}

// grpcurlPath returns the pinned grpcurl that make test builds (AGENTBRIDGE_GRPCURL, else
// bin/grpcurl), failing the test when it is missing.
func grpcurlPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AGENTBRIDGE_GRPCURL")
	if path == "" {
		path = "../../bin/grpcurl"
	}
	path, _ = filepath.Abs(path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("grpcurl is needed: %v (make test builds it into bin/)", err)
	}
	return path
}
