//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
)

// TestBatchReplicas runs two `agentbridge serve` processes on one real redis-server (store
// engine redis) in front of the real SOAP peer testdata/batchsoap, which counts every call per
// customerRef. A 2,000-item state-changing batch is submitted on replica A and watched, read
// and listed on replica B; a second batch submitted on A is cancelled on B. While both run,
// the backend sees no call twice (A holds the job's lease; B's scans leave it alone). A is
// killed with SIGKILL mid-way; B takes the job over once A's lease runs out and finishes it:
// every item reserved exactly once on the backend (the few in flight at the kill were called
// again and de-duplicated by customer_ref), the results complete and in order.
func TestBatchReplicas(t *testing.T) {
	t.Parallel()
	const n = 2000
	r := redistest.Start(t)
	peer := startBatchPeer(t, 5*time.Millisecond)
	dir := t.TempDir()
	config := filepath.Join(dir, "agentbridge.yaml")
	text := fmt.Sprintf(`http_addr: 127.0.0.1:0
grpc_addr: 127.0.0.1:0
shutdown_grace: 5s
services: [agentbridge.demo.v1.InventoryService]
audit: {sink: "off"}
backends:
  inventory:
    kind: soap
    endpoint: %s/inventory
    timeout: 30s
    concurrency: 8
    queue_timeout: 30s
redis: {address: "unix://%s", timeout: 5s}
store: {engine: redis}
batches:
  max_items: 10000
  concurrency: 6
  lease: 2s
  scan_interval: 100ms
  methods:
    %s: {idempotency_field: customer_ref}
`, peer, r.Socket, batchReserve)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := startBridgeProc(t, config), startBridgeProc(t, config)

	job := uploadReservations(t, a.url, n)
	if job.Total != fmt.Sprint(n) || job.State != "BATCH_STATE_RUNNING" {
		t.Fatalf("submitted on A: %+v", job)
	}
	// Watched on B from the start, across the kill and the takeover.
	watched := make(chan batchState, 1)
	go func() { watched <- watchLast(t, b.url, job.ID) }()
	if got := getBatch(t, b.url, job.ID); got.Total != fmt.Sprint(n) {
		t.Fatalf("GetBatch on B: %+v", got)
	}

	// A second batch, submitted on A and cancelled on B: A's runner stops it.
	other := uploadReservations(t, a.url, 500)
	var cancelled struct {
		Batch batchState `json:"batch"`
	}
	httpJSON(t, "POST", b.url+"/v1/batches/"+other.ID+":cancel", "application/json", nil, &cancelled)
	if cancelled.Batch.State != "BATCH_STATE_CANCELLED" {
		t.Fatalf("cancel on B: %+v", cancelled.Batch)
	}
	waitState(t, a.url, other.ID, "BATCH_STATE_CANCELLED")

	// Kill A mid-way, once no ref was called twice while both replicas ran.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cur := getBatch(t, a.url, job.ID) // A's live counts (B reads what A saves, once a second)
		onB := getBatch(t, b.url, job.ID)
		var done, seenOnB int
		_, _ = fmt.Sscan(cur.Succeeded, &done)
		_, _ = fmt.Sscan(onB.Succeeded, &seenOnB)
		if done >= n/4 && seenOnB > 0 && onB.State == "BATCH_STATE_RUNNING" {
			if done >= n {
				t.Fatalf("the batch finished before the kill: %+v", cur)
			}
			t.Logf("killing A at %d of %d items; B reads %d succeeded, %s remaining", done, n, seenOnB, onB.Remaining)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", cur)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.kill(t)
	// What the backend saw while both replicas ran: once A's calls in flight have ended (B
	// takes the job over only when A's lease runs out, seconds later), no ref called twice.
	for {
		var stats map[string]int
		httpJSON(t, "GET", peer+"/stats", "", nil, &stats)
		if stats["inFlight"] == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var atKill map[string]int
	httpJSON(t, "GET", peer+"/calls?prefix="+job.ID+"-", "", nil, &atKill)
	for ref, c := range atKill {
		if c != 1 {
			t.Errorf("while both replicas ran, %s was called %d times", ref, c)
		}
	}

	done := waitBatchDone(t, b.url, job.ID, 3*time.Minute)
	if done.State != "BATCH_STATE_DONE" || done.Succeeded != fmt.Sprint(n) || done.Failed != "0" {
		t.Fatalf("on B after the takeover: %+v", done)
	}
	var effects, calls map[string]int
	httpJSON(t, "GET", peer+"/effects?prefix="+job.ID+"-", "", nil, &effects)
	httpJSON(t, "GET", peer+"/calls?prefix="+job.ID+"-", "", nil, &calls)
	if len(effects) != n {
		t.Errorf("the backend holds %d of the batch's %d reservations", len(effects), n)
	}
	for ref, c := range effects {
		if c != 1 {
			t.Errorf("%s reserved %d times", ref, c)
		}
	}
	repeated := 0
	for ref, c := range calls {
		switch {
		case c == 2 && atKill[ref] == 1:
			// In flight at the kill: called (perhaps answered), its outcome not yet stored by
			// A; B called it again and the backend de-duplicated it.
			repeated++
		case c != 1:
			t.Errorf("%s called %d times", ref, c)
		}
	}
	if repeated > 64 {
		t.Errorf("%d items called again after the kill: more than can be in flight or waiting for their outcome's write", repeated)
	}
	t.Logf("%d items were in flight at the kill and were called again, de-duplicated by the backend", repeated)
	checkResults(t, b.url, job.ID, n)
	if last := <-watched; last.State != "BATCH_STATE_DONE" || last.Succeeded != fmt.Sprint(n) {
		t.Errorf("the watch on B ended with %+v", last)
	}

	// The cancelled batch stays cancelled: B never ran it.
	if got := getBatch(t, b.url, other.ID); got.State != "BATCH_STATE_CANCELLED" {
		t.Errorf("the cancelled batch on B: %+v", got)
	}
	var otherCalls map[string]int
	httpJSON(t, "GET", peer+"/calls?prefix="+other.ID+"-", "", nil, &otherCalls)
	for ref, c := range otherCalls {
		if c != 1 {
			t.Errorf("cancelled batch: %s called %d times", ref, c)
		}
	}
	if len(otherCalls) >= 500 {
		t.Errorf("the cancelled batch ran all its %d items", len(otherCalls))
	}
}

// waitState polls GetBatch on base until batch id is in state.
func waitState(t *testing.T, base, id, state string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if got := getBatch(t, base, id); got.State == state {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("batch %s on %s: %+v, want %s", id, base, got, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchLast streams WatchBatch over REST and returns the last message's batch.
func watchLast(t *testing.T, base, id string) batchState {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1/batches/"+id+":watch?interval=0.2s", nil)
	if err != nil {
		t.Error(err)
		return batchState{}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return batchState{}
	}
	defer func() { _ = resp.Body.Close() }()
	var last batchState
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line struct {
			Result struct {
				Batch batchState `json:"batch"`
			} `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("watch line %q: %v", sc.Text(), err)
			return last
		}
		last = line.Result.Batch
	}
	return last
}
