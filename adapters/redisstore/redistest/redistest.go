// Package redistest starts a real redis-server for a test, on a unix socket in the test's
// temporary directory, and stops it when the test ends.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	// Socket is the unix socket it listens on; give it as redis.address.
	Socket string
	cmd    *exec.Cmd
}

// Start starts redis-server (found on PATH) with no persistence, listening only on a unix
// socket in t.TempDir(), waits until it answers PING, and stops it by its pid in t.Cleanup. It
// fails the test, saying how to install it, when redis-server is not installed: CI installs it
// (.ci/run), and a test that needs Redis must not pass without it.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed; this test needs a real Redis: install it (apt-get install redis-server, or brew install redis) and run again. .ci/run installs it in CI. (%v)", err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, //nolint:noctx // stopped by its pid in t.Cleanup
		"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	exited := make(chan struct{}) // closed when the process has exited and been reaped
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	s := &Server{Socket: sock, cmd: cmd}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(sock); err == nil {
			return s
		} else if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer PING on %s within 10s: %v (see %s)", sock, err, filepath.Join(dir, "redis.log"))
		}
		select {
		case <-exited:
			t.Fatalf("redis-server exited before answering PING: %v (see %s)", waitErr, filepath.Join(dir, "redis.log"))
		case <-time.After(5 * time.Millisecond): // a bounded poll of the socket
		}
	}
}

// Stop kills the server now (to test what Redis down does); Cleanup does nothing more.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
}

// ping sends one inline PING on the socket and expects +PONG.
func ping(sock string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", sock)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New("unexpected reply " + line)
	}
	return nil
}
