//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBatchLoad is the batch throughput and memory test, run only when
// AGENTBRIDGE_BATCH_LOAD=1 (make test does not): for 10,000 and then 100,000 ReserveItem
// items, each in a fresh `agentbridge serve` with the embedded store, against the batchsoap
// process taking AGENTBRIDGE_BATCH_DELAY (default 5ms) per call, with batches.concurrency
// AGENTBRIDGE_BATCH_CONCURRENCY (default 8) under a backend cap of twice that. It reports
// items/s against the cap's theoretical rate (concurrency / delay) and the bridge's peak RSS
// (VmHWM), and checks every result, in order, and the backend's count.
//
//	AGENTBRIDGE_BATCH_LOAD=1 go test ./cmd/agentbridge -run TestBatchLoad -v -timeout 30m
func TestBatchLoad(t *testing.T) {
	if os.Getenv("AGENTBRIDGE_BATCH_LOAD") != "1" {
		t.Skip("the batch load test runs with AGENTBRIDGE_BATCH_LOAD=1")
	}
	delay, concurrency := 5*time.Millisecond, 8
	if v, err := time.ParseDuration(os.Getenv("AGENTBRIDGE_BATCH_DELAY")); err == nil && v > 0 {
		delay = v
	}
	if v, err := strconv.Atoi(os.Getenv("AGENTBRIDGE_BATCH_CONCURRENCY")); err == nil && v > 0 {
		concurrency = v
	}
	theory := float64(concurrency) / delay.Seconds()
	t.Logf("backend delay %s, batch concurrency %d: at most %.0f items/s", delay, concurrency, theory)
	sizes := []int{10000, 100000}
	if v := os.Getenv("AGENTBRIDGE_BATCH_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			if n, err := strconv.Atoi(f); err == nil {
				sizes = append(sizes, n)
			}
		}
	}
	for _, n := range sizes {
		peer := startBatchPeer(t, delay)
		dir := t.TempDir()
		bridge := startBridgeProc(t, batchConfig(t, dir, peer, 2*concurrency, concurrency))
		peakAnon := sampleRssAnon(t, bridge.cmd.Process.Pid)
		start := time.Now()
		b := uploadReservations(t, bridge.url, n)
		submitted := time.Since(start)
		done := waitBatchDone(t, bridge.url, b.ID, 30*time.Minute)
		elapsed := time.Since(start)
		if done.State != "BATCH_STATE_DONE" || done.Succeeded != strconv.Itoa(n) {
			t.Fatalf("%d items: %+v", n, done)
		}
		checkResults(t, bridge.url, b.ID, n)
		hwm := procStatus(t, bridge.cmd.Process.Pid, "VmHWM")
		anon := peakAnon()
		cpu := cpuSeconds(t, bridge.cmd.Process.Pid)
		var stats map[string]int
		httpJSON(t, "GET", peer+"/stats", "", nil, &stats)
		if stats["effects"] != n || stats["duplicateEffects"] != 0 || stats["peakInFlight"] > concurrency {
			t.Errorf("backend: %v", stats)
		}
		size := int64(0)
		_ = filepath.Walk(filepath.Join(dir, "data"), func(_ string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				size += info.Size()
			}
			return nil
		})
		rate := float64(n) / elapsed.Seconds()
		t.Logf("| %d | %.1f s | %.1f s | %.0f | %.0f%% | %.1f MB | %.1f MB | %.2f ms | %d | %.1f MB |", n, submitted.Seconds(), elapsed.Seconds(), rate, 100*rate/theory,
			float64(hwm)/1024, float64(anon)/1024, 1000*cpu/float64(n), stats["peakInFlight"], float64(size)/(1<<20))
	}
}

// procStatus returns a field of /proc/<pid>/status in KiB (VmHWM: peak resident set size;
// RssAnon: resident anonymous memory, without the store's file pages the kernel maps in).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	t.Fatalf("no %s", field)
	return 0
}

// sampleRssAnon samples RssAnon every 100ms until the returned function is called, which
// returns the peak.
func sampleRssAnon(t *testing.T, pid int) func() int64 {
	stop, done := make(chan struct{}), make(chan int64)
	go func() {
		peak := int64(0)
		for {
			peak = max(peak, procStatus(t, pid, "RssAnon"))
			select {
			case <-stop:
				done <- peak
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() int64 { close(stop); return <-done }
}

// cpuSeconds returns the user and system CPU time a process used.
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}
