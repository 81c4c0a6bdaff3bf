package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The RSS run: each bridge alone in a process of its own, built as a user would build it:
// agentbridge is cmd/agentbridge serving a config file, the hand-written bridge is
// cmd/handwritten-bridge. The backend and the clients are in the test's process, so the
// child's VmHWM (peak RSS), VmRSS and CPU time are the bridge's and nothing else's.

// child is a running bridge process.
type child struct {
	cmd      *exec.Cmd
	httpURL  string
	grpcAddr string
}

// buildBridges builds the two programs into dir with the go command on PATH, agentbridge with
// the build tags `make build` gives it.
func buildBridges(t *testing.T, dir string) (agentbridgeBin, handwrittenBin string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("TestE2ERSS builds the bridges with the go command: install Go and put it on PATH (%v)", err)
	}
	agentbridgeBin, handwrittenBin = filepath.Join(dir, "agentbridge"), filepath.Join(dir, "handwritten-bridge")
	for bin, pkg := range map[string]string{agentbridgeBin: "../../cmd/agentbridge", handwrittenBin: "./cmd/handwritten-bridge"} {
		out, err := exec.CommandContext(t.Context(), goBin, "build", "-tags", "grpcnotrace", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return agentbridgeBin, handwrittenBin
}

// writeConfig writes the agentbridge config a user would write for the backend at endpoint.
func writeConfig(t *testing.T, dir, endpoint string) string {
	t.Helper()
	protos, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agentbridge.yaml")
	text := fmt.Sprintf(`proto_paths: [%q]
protos: [%s]
services: [%s]
backends:
  orders: {kind: soap, endpoint: %q}
audit: {sink: "off"}
shutdown_grace: 1s
`, protos, protoFile, serviceName, endpoint)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startChild starts bin with args and reads the addresses it listens on: agentbridge logs
// them (msg="serving HTTP" addr=..., msg="serving gRPC" addr=...) on stderr; the hand-written
// bridge prints http=<addr> on stdout. The child ends with the test.
func startChild(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	stdin, err := cmd.StdinPipe() // the hand-written bridge serves until it closes
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 16)
	scan := func(r io.Reader) {
		s := bufio.NewScanner(r)
		for s.Scan() {
			select {
			case lines <- s.Text():
			default: // nobody listens any more
			}
		}
	}
	go scan(stdout)
	go scan(stderr)
	addr := func(line string) string {
		_, rest, _ := strings.Cut(line, " addr=")
		a, _, _ := strings.Cut(rest, " ")
		return a
	}
	timeout := time.After(30 * time.Second)
	for c.httpURL == "" || (c.grpcAddr == "" && filepath.Base(bin) == "agentbridge") {
		select {
		case line := <-lines:
			switch {
			case strings.HasPrefix(line, "http="):
				c.httpURL = "http://" + strings.TrimPrefix(line, "http=")
			case strings.Contains(line, `msg="serving HTTP"`):
				c.httpURL = "http://" + addr(line)
			case strings.Contains(line, `msg="serving gRPC"`):
				c.grpcAddr = addr(line)
			case strings.Contains(line, "level=ERROR"):
				t.Fatalf("%s: %s", bin, line)
			}
		case <-timeout:
			t.Fatalf("%s did not say where it listens within 30 s", bin)
		}
	}
	return c
}

// procStatus reads kB values (VmHWM, VmRSS, RssAnon, RssFile) from /proc/<pid>/status.
func procStatus(pid int, keys ...string) (map[string]int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %q", k, v)
				}
				out[k] = n
			}
		}
	}
	return out, nil
}

// procCPU is a process's CPU time (utime+stime) from /proc/<pid>/stat, in clock ticks of
// 10 ms (USER_HZ is 100 on Linux).
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')') // the command may hold spaces
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state); utime is field 14, stime 15
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// setUpPrograms starts the SOAP backend in this process and builds the two bridges as programs:
// it returns the contract's service, the backend's endpoint, the programs and agentbridge's
// config for that endpoint.
func setUpPrograms(t *testing.T) (svc protoreflect.ServiceDescriptor, endpoint, agentbridgeBin, handwrittenBin, config string) {
	t.Helper()
	svc = loadService(t)
	endpoint = newHTTPServer(t, newBackend()) + "/orders"
	dir := t.TempDir()
	agentbridgeBin, handwrittenBin = buildBridges(t, dir)
	return svc, endpoint, agentbridgeBin, handwrittenBin, writeConfig(t, dir, endpoint)
}

// TestE2ERSS runs each bridge in a child process under a fixed load (AGENTBRIDGE_E2E_CLIENTS
// concurrent clients, default 20, for AGENTBRIDGE_E2E_SECONDS, default 10, per op and
// surface) and reports the child's peak and current RSS and its CPU per call. With
// AGENTBRIDGE_E2E_ROUNDS=N (default 1) it does so N times, each round one row per op and
// bridge in a fresh child, and ends with each bridge's ratios to the hand-written bridge of
// the same round: the median over the rounds, with the smallest and largest, as e2e-ratios
// prints for the in-process benchmark. It runs only with AGENTBRIDGE_E2E_RSS=1.
func TestE2ERSS(t *testing.T) {
	if os.Getenv("AGENTBRIDGE_E2E_RSS") != "1" {
		t.Skip("set AGENTBRIDGE_E2E_RSS=1 to run the RSS comparison (about 80 s)")
	}
	clients, seconds := envInt(t, "AGENTBRIDGE_E2E_CLIENTS", 20), envInt(t, "AGENTBRIDGE_E2E_SECONDS", 10)
	rounds := envInt(t, "AGENTBRIDGE_E2E_ROUNDS", 1)
	svc, endpoint, agentbridgeBin, handwrittenBin, config := setUpPrograms(t)
	t.Logf("%d clients, %d s per row, %d rounds; child = the bridge alone", clients, seconds, rounds)
	t.Logf("%-5s %-12s %8s %17s %9s %17s %12s %8s", "op", "bridge", "calls", "idle kB anon+file", "VmHWM kB", "VmRSS kB anon+file", "cpu µs/call", "calls/s")
	type key struct{ op, bridge string }
	type row struct{ cpu, peak float64 }
	results := make([]map[key]row, rounds)
	for r := range rounds {
		results[r] = map[key]row{}
		for _, op := range []string{opList, opAdd} {
			for _, bridge := range []string{bridgeHandwritten, bridgeREST, bridgeConnect, bridgeGRPC} {
				results[r][key{op, bridge}] = rssRow(t, op, bridge, clients, seconds, agentbridgeBin, handwrittenBin, endpoint, config, svc)
			}
		}
	}
	if rounds < 2 {
		return
	}
	t.Logf("%d rounds; ratio = the bridge's ÷ the hand-written bridge's of the same round; median [min, max]", rounds)
	t.Logf("%-5s %-12s %-24s %-24s", "op", "bridge", "cpu per call", "peak RSS")
	for _, op := range []string{opList, opAdd} {
		for _, bridge := range []string{bridgeREST, bridgeConnect, bridgeGRPC} {
			var cpu, peak []float64
			for _, res := range results {
				hw, b := res[key{op, bridgeHandwritten}], res[key{op, bridge}]
				cpu, peak = append(cpu, b.cpu/hw.cpu), append(peak, b.peak/hw.peak)
			}
			t.Logf("%-5s %-12s %-24s %-24s", op, bridge, medianRange(cpu), medianRange(peak))
		}
	}
}

// medianRange formats the median of xs with its smallest and largest.
func medianRange(xs []float64) string {
	m := median(xs)
	return fmt.Sprintf("%.2f [%.2f, %.2f]", m, xs[0], xs[len(xs)-1])
}

// median is the median of xs, which it sorts.
func median(xs []float64) float64 {
	slices.Sort(xs)
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

// rssRow runs one row of TestE2ERSS: bridge in a child of its own under the load, logged, and
// returns its CPU µs per call and peak RSS in kB.
func rssRow(t *testing.T, op, bridge string, clients, seconds int, agentbridgeBin, handwrittenBin, endpoint, config string, svc protoreflect.ServiceDescriptor) (out struct{ cpu, peak float64 }) {
	t.Helper()
	var c *child
	if bridge == bridgeHandwritten {
		c = startChild(t, handwrittenBin, "-backend", endpoint)
	} else {
		c = startChild(t, agentbridgeBin, "serve", "-config", config, "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0")
	}
	var cc *grpc.ClientConn
	if bridge == bridgeGRPC {
		var err error
		if cc, err = grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			t.Fatal(err)
		}
	}
	pid := c.cmd.Process.Pid
	idle, err := procStatus(pid, "VmRSS", "RssAnon", "RssFile")
	if err != nil {
		t.Fatal(err)
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	clientsOf := make([]*client, clients)
	for i := range clientsOf {
		clientsOf[i] = newClient(bridge, c.httpURL, cc, svc)
	}
	n, err := drive(t.Context(), clientsOf, op, time.Duration(seconds)*time.Second)
	if err != nil {
		t.Fatalf("%s %s: %v", op, bridge, err)
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := procStatus(pid, "VmHWM", "VmRSS", "RssAnon", "RssFile")
	if err != nil {
		t.Fatal(err)
	}
	if cc != nil {
		_ = cc.Close()
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM) // measured: the next row runs without it (the test's cleanup waits for it)
	out.cpu, out.peak = float64((cpu1-cpu0).Microseconds())/float64(n), float64(mem["VmHWM"])
	t.Logf("%-5s %-12s %8d %17s %9d %17s %12.1f %8.0f", op, bridge, n,
		fmt.Sprintf("%d+%d", idle["RssAnon"], idle["RssFile"]), mem["VmHWM"], fmt.Sprintf("%d+%d", mem["RssAnon"], mem["RssFile"]),
		out.cpu, float64(n)/float64(seconds))
	return out
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// newHTTPServer serves h on a loopback listener until the test ends, with keep-alive
// connections for as many clients as the load has.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + lis.Addr().String()
}
