package e2e

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// drive sends op from clients concurrent callers until d has passed (calls in flight finish)
// and returns how many calls were answered.
func drive(ctx context.Context, clients []*client, op string, d time.Duration) (int64, error) {
	end := time.Now().Add(d)
	var calls atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				if _, err := cl.call(ctx, op, false); err != nil {
					failed.Store(err)
					return
				}
				calls.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return calls.Load(), nil
}

// driveTogether loads two bridges at once until d has passed: caller i alternates between
// base[i] and measure[i], so both bridges take calls in the same moments and see the same
// machine. It returns how many calls each answered.
func driveTogether(ctx context.Context, base, measure []*client, op string, d time.Duration) (nBase, nMeasure int64, err error) {
	end := time.Now().Add(d)
	var calls [2]atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for i := range base {
		wg.Go(func() {
			for k := i % 2; time.Now().Before(end); k ^= 1 {
				cl := base[i]
				if k == 1 {
					cl = measure[i]
				}
				if _, err := cl.call(ctx, op, false); err != nil {
					failed.Store(err)
					return
				}
				calls[k].Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, 0, err
	}
	return calls[0].Load(), calls[1].Load(), nil
}

// TestE2ECPUPaired measures each of agentbridge's surfaces against the hand-written bridge in
// short slices taken in turn, so that both sides of a ratio see the same machine. For each op
// and surface it starts both bridges as programs (as TestE2ERSS does), then runs
// AGENTBRIDGE_E2E_PAIRS pairs (default 10) of AGENTBRIDGE_E2E_SLICE_MS slices (default 1000):
// the load (AGENTBRIDGE_E2E_CLIENTS callers, default 20) goes to one bridge for a slice, then to
// the other, the order swapped from pair to pair. A slice's CPU is the loaded bridge's
// utime+stime over the slice, from /proc (10 ms ticks). Each pair gives agentbridge's CPU per
// call ÷ the hand-written bridge's; the test reports the median and range over the pairs. The
// last row of each op pairs two surfaces of one agentbridge program instead: MCP tools/call
// from a plain HTTP client (one session per caller) against the same call over REST. TestE2ERSS,
// with a fresh program per row, stays the measure of memory. It runs only with
// AGENTBRIDGE_E2E_PAIRED=1; AGENTBRIDGE_E2E_ROW=text runs only the rows whose op and name
// contain text ("add rest", "list mcp"). With AGENTBRIDGE_E2E_TOGETHER=1 the rows against the
// hand-written bridge load both programs at once instead (each caller alternates between
// them), one slice per pair: slow changes in the machine's other load then fall on both sides
// of a ratio alike, where slices taken in turn can each catch a different moment.
func TestE2ECPUPaired(t *testing.T) {
	if os.Getenv("AGENTBRIDGE_E2E_PAIRED") != "1" {
		t.Skip("set AGENTBRIDGE_E2E_PAIRED=1 to run the paired CPU comparison (about 3 minutes)")
	}
	nClients, pairs := envInt(t, "AGENTBRIDGE_E2E_CLIENTS", 20), envInt(t, "AGENTBRIDGE_E2E_PAIRS", 10)
	slice := time.Duration(envInt(t, "AGENTBRIDGE_E2E_SLICE_MS", 1000)) * time.Millisecond
	svc, endpoint, agentbridgeBin, handwrittenBin, config := setUpPrograms(t)
	together := os.Getenv("AGENTBRIDGE_E2E_TOGETHER") == "1"
	if together {
		t.Logf("%d clients, %d slices of %v per row, both programs loaded at once in the rows against the hand-written bridge", nClients, pairs, slice)
	} else {
		t.Logf("%d clients, %d pairs of %v slices per row; CPU of the loaded program alone", nClients, pairs, slice)
	}
	t.Logf("%-5s %-18s %-24s %s", "op", "row", "cpu per call ratio", "µs per call: baseline, measured (medians)")
	type side struct {
		handwritten bool   // the hand-written bridge, else agentbridge
		bridge      string // the surface its clients call
	}
	for _, op := range []string{opAdd, opList} {
		for _, row := range []struct {
			name          string
			base, measure side
		}{
			{"rest ÷ hw", side{true, bridgeHandwritten}, side{false, bridgeREST}},
			{"connect ÷ hw", side{true, bridgeHandwritten}, side{false, bridgeConnect}},
			{"grpc ÷ hw", side{true, bridgeHandwritten}, side{false, bridgeGRPC}},
			{"mcp ÷ rest", side{false, bridgeREST}, side{false, bridgeMCP}},
		} {
			if only := os.Getenv("AGENTBRIDGE_E2E_ROW"); only != "" && !strings.Contains(op+" "+row.name, only) {
				continue
			}
			var hw, ab *child
			if row.base.handwritten {
				hw = startChild(t, handwrittenBin, "-backend", endpoint)
			}
			ab = startChild(t, agentbridgeBin, "serve", "-config", config, "-grpc-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0")
			var cc *grpc.ClientConn
			if row.measure.bridge == bridgeGRPC {
				var err error
				if cc, err = grpc.NewClient(ab.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
					t.Fatal(err)
				}
			}
			type load struct {
				clients []*client
				pid     int
			}
			loadOf := func(sd side) load {
				c := ab
				if sd.handwritten {
					c = hw
				}
				clients := make([]*client, nClients)
				for i := range clients {
					clients[i] = newClient(sd.bridge, c.httpURL, cc, svc)
				}
				return load{clients, c.cmd.Process.Pid}
			}
			baseLoad, measureLoad := loadOf(row.base), loadOf(row.measure)
			runner := func(l load) func() (float64, error) {
				clients, pid := l.clients, l.pid
				return func() (float64, error) {
					cpu0, err := procCPU(pid)
					if err != nil {
						return 0, err
					}
					n, err := drive(t.Context(), clients, op, slice)
					if err != nil {
						return 0, err
					}
					cpu1, err := procCPU(pid)
					if err != nil {
						return 0, err
					}
					if n == 0 {
						return 0, errors.New("no call answered in the slice")
					}
					return float64((cpu1 - cpu0).Microseconds()) / float64(n), nil
				}
			}
			runBase, runMeasure := runner(baseLoad), runner(measureLoad)
			// One slice each first, unmeasured: connections, sessions, caches and the heap warm up.
			for _, run := range []func() (float64, error){runBase, runMeasure} {
				if _, err := run(); err != nil {
					t.Fatalf("%s %s: %v", op, row.name, err)
				}
			}
			var ratios, baseCPU, measureCPU []float64
			if together && row.base.handwritten {
				for range pairs {
					b, m, err := togetherSlice(baseLoad.pid, measureLoad.pid, func() (int64, int64, error) {
						return driveTogether(t.Context(), baseLoad.clients, measureLoad.clients, op, slice)
					})
					if err != nil {
						t.Fatalf("%s %s: %v", op, row.name, err)
					}
					ratios, baseCPU, measureCPU = append(ratios, m/b), append(baseCPU, b), append(measureCPU, m)
				}
			}
			inTurn := pairs
			if together && row.base.handwritten {
				inTurn = 0 // measured together above
			}
			for i := range inTurn {
				order := []func() (float64, error){runBase, runMeasure}
				if i%2 == 1 {
					order[0], order[1] = order[1], order[0]
				}
				var got [2]float64
				for j, run := range order {
					v, err := run()
					if err != nil {
						t.Fatalf("%s %s: %v", op, row.name, err)
					}
					got[j] = v
				}
				b, m := got[0], got[1]
				if i%2 == 1 {
					b, m = m, b
				}
				ratios, baseCPU, measureCPU = append(ratios, m/b), append(baseCPU, b), append(measureCPU, m)
			}
			if cc != nil {
				_ = cc.Close()
			}
			for _, c := range []*child{hw, ab} {
				if c != nil {
					_ = c.cmd.Process.Signal(syscall.SIGTERM)
				}
			}
			t.Logf("%-5s %-18s %-24s %.1f, %.1f", op, row.name, medianRange(ratios), median(baseCPU), median(measureCPU))
		}
	}
}

// togetherSlice runs drive, which loads two programs at once and returns how many calls each
// answered, and returns each program's CPU per call over it, in µs.
func togetherSlice(basePID, measurePID int, drive func() (int64, int64, error)) (base, measure float64, err error) {
	var cpu0, cpu1 [2]time.Duration
	for i, pid := range []int{basePID, measurePID} {
		if cpu0[i], err = procCPU(pid); err != nil {
			return 0, 0, err
		}
	}
	nBase, nMeasure, err := drive()
	if err != nil {
		return 0, 0, err
	}
	for i, pid := range []int{basePID, measurePID} {
		if cpu1[i], err = procCPU(pid); err != nil {
			return 0, 0, err
		}
	}
	if nBase == 0 || nMeasure == 0 {
		return 0, 0, errors.New("no call answered in the slice")
	}
	return float64((cpu1[0] - cpu0[0]).Microseconds()) / float64(nBase), float64((cpu1[1] - cpu0[1]).Microseconds()) / float64(nMeasure), nil
}
