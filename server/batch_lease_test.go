package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/store"
)

// twoReplicas builds two bridges on one store and one idempotency store, as two replicas on
// one Redis would be, with short leases and scans.
func twoReplicas(t *testing.T, backend *batchBackend) (a, b *server.Server, baseA, baseB string, idem server.IdempotencyStore) {
	t.Helper()
	st := store.NewMemory(store.Retention{})
	idem = server.NewMemoryIdempotencyForTest()
	leases := func(c *server.Config) {
		on := true
		c.Batches.Leases = &on
		c.Batches.Lease = 300 * time.Millisecond
		c.Batches.ScanInterval = 20 * time.Millisecond
		c.Batches.Concurrency = 2
		c.Batches.MaxItems = 1000
	}
	a, baseA = newBatchServer(t, backend, leases, server.WithStore(st), server.WithIdempotencyStore(idem))
	b, baseB = newBatchServer(t, backend, leases, server.WithStore(st), server.WithIdempotencyStore(idem))
	return a, b, baseA, baseB, idem
}

func getJSON(t *testing.T, base, id string) batchJSON {
	t.Helper()
	code, data := do(t, "GET", base+"/v1/batches/"+id, "", "")
	if code != http.StatusOK {
		t.Fatalf("get: %d %s", code, data)
	}
	var out struct {
		Batch batchJSON `json:"batch"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out.Batch
}

// waitFor polls cond (observable state) until it holds, failing after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func heldLines(n int) string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = `{"sku":"H-100","quantity":1}`
	}
	return strings.Join(lines, "\n")
}

// TestBatchLeaseTakeover: replica A runs a batch under its lease while replica B, scanning,
// leaves it alone; when A's lease is lost (taken by another holder, as after an expiry), A
// stops: no item starts, and the outcomes of its items in flight are not written. Once the
// lease is free, B takes the job over and finishes it; every item reached the backend once,
// except the two A had in flight, which B ran again and the backend de-duplicated.
func TestBatchLeaseTakeover(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	srvA, srvB, baseA, baseB, idem := twoReplicas(t, backend)
	const n = 60
	bt := submitREST(t, baseA, "application/x-ndjson", heldLines(n), "?method="+reserveMethod)
	waitFor(t, "two items held", func() bool { return backend.held.Load() >= 2 })
	// B serves and scans; A holds the lease, so B does not run the job.
	if got := getJSON(t, baseB, bt.ID); got.State != "BATCH_STATE_RUNNING" || got.Total != fmt.Sprint(n) {
		t.Fatalf("GetBatch on B: %+v", got)
	}
	if running, _ := server.BatchRunning(srvB, bt.ID); running {
		t.Fatal("B runs a job A holds the lease of")
	}
	server.StealBatchLease(idem, bt.ID, time.Second)
	waitFor(t, "A to notice the lost lease", func() bool { _, lost := server.BatchRunning(srvA, bt.ID); return lost })
	close(backend.hold) // A's two calls finish; A starts no more
	waitFor(t, "A to stop", func() bool { running, _ := server.BatchRunning(srvA, bt.ID); return !running })
	done := waitBatch(t, baseB, bt.ID)
	if done.State != "BATCH_STATE_DONE" || done.Succeeded != fmt.Sprint(n) || done.Failed != "0" {
		t.Fatalf("after the takeover: %+v", done)
	}
	twice := 0
	for i := range n {
		switch c := backend.count(fmt.Sprintf("%s-%d", bt.ID, i)); c {
		case 1:
		case 2:
			twice++ // in flight on A when it lost the lease
		default:
			t.Errorf("item %d: %d calls", i, c)
		}
	}
	if twice > 2 {
		t.Errorf("%d items called twice, want at most the 2 A had in flight", twice)
	}
	items := listResults(t, baseA, bt.ID, "")
	if len(items) != n {
		t.Fatalf("%d results", len(items))
	}
	for i, it := range items {
		if it.Index != fmt.Sprint(i) || it.State != "BATCH_ITEM_STATE_SUCCEEDED" {
			t.Fatalf("item %d: %+v", i, it)
		}
	}
}

// TestBatchLeaseCancel: a cancel on replica B reaches the runner on replica A through the
// store: A stops starting items, the items in flight finish, the rest are NOT_RUN, and both
// replicas report the batch cancelled.
func TestBatchLeaseCancel(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	srvA, _, baseA, baseB, _ := twoReplicas(t, backend)
	const n = 20
	bt := submitREST(t, baseA, "application/x-ndjson", heldLines(n), "?method="+reserveMethod)
	waitFor(t, "two items held", func() bool { return backend.held.Load() >= 2 })
	code, data := do(t, "POST", baseB+"/v1/batches/"+bt.ID+":cancel", "application/json", `{}`)
	if code != http.StatusOK || !strings.Contains(string(data), "BATCH_STATE_CANCELLED") {
		t.Fatalf("cancel on B: %d %s", code, data)
	}
	if got := getJSON(t, baseB, bt.ID); got.State != "BATCH_STATE_CANCELLED" {
		t.Fatalf("GetBatch on B after its cancel: %+v", got)
	}
	waitFor(t, "A's runner to see the cancel", func() bool { return getJSON(t, baseA, bt.ID).State == "BATCH_STATE_CANCELLED" })
	close(backend.hold)
	waitFor(t, "A to stop", func() bool { running, _ := server.BatchRunning(srvA, bt.ID); return !running })
	items := listResults(t, baseB, bt.ID, "")
	succeeded, notRun := 0, 0
	for _, it := range items {
		switch it.State {
		case "BATCH_ITEM_STATE_SUCCEEDED":
			succeeded++
		case "BATCH_ITEM_STATE_NOT_RUN":
			notRun++
		}
	}
	if succeeded != 2 || notRun != n-2 || backend.held.Load() != 2 {
		t.Fatalf("after the cancel: %d succeeded, %d not run, %d calls", succeeded, notRun, backend.held.Load())
	}
	for _, base := range []string{baseA, baseB} {
		if got := getJSON(t, base, bt.ID); got.State != "BATCH_STATE_CANCELLED" || got.Succeeded != "2" {
			t.Errorf("GetBatch on %s: %+v", base, got)
		}
	}
}
