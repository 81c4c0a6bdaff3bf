package server

import (
	"context"
	"encoding/json"
	"time"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/store"
)

// NewMemoryIdempotencyForTest returns the in-memory idempotency store, to share between two
// servers as a durable one would be.
func NewMemoryIdempotencyForTest() IdempotencyStore { return newMemoryIdempotency() }

// SeedInterruptedBatch writes what a bridge killed in the middle of a batch leaves behind:
// a running job of method over inputs, dispatched up to the end; item 0 succeeded, item 1 in
// flight (marked started), the others never started.
func SeedInterruptedBatch(ctx context.Context, st store.Store, id, method string, inputs []string) error {
	job := batchJob{ID: id, Method: normalizeProcedure(method), State: int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING),
		Total: int64(len(inputs)), Created: time.Now().UTC(), Dispatched: int64(len(inputs)), Epoch: 1}
	data, _ := json.Marshal(job)
	if err := st.Put(ctx, batchJobsTable, store.KV{Key: id, Value: data}); err != nil {
		return err
	}
	for i, in := range inputs {
		data, _ := json.Marshal(batchInput{JSON: json.RawMessage(in)})
		if err := st.Put(ctx, batchItemsTable(id), store.KV{Key: batchKey(int64(i)), Value: data}); err != nil {
			return err
		}
	}
	done, _ := json.Marshal(batchResult{State: int32(agentbridgev1.BatchItemState_BATCH_ITEM_STATE_SUCCEEDED), Attempts: 1, Response: json.RawMessage(`{"reservationId":"R-0"}`)})
	if err := st.Put(ctx, batchResultsTable(id), store.KV{Key: batchKey(0), Value: done}); err != nil {
		return err
	}
	return st.Put(ctx, batchStartedTable(id), store.KV{Key: batchKey(1), Value: []byte("0")})
}

// BatchRunning reports whether srv runs batch id now, and whether that run lost its lease.
func BatchRunning(srv *Server, id string) (running, lost bool) {
	for _, svc := range srv.gen.Load().services {
		for _, cl := range svc.Closers {
			if h, ok := cl.(*batchHub); ok {
				h.mu.Lock()
				run := h.jobs[id]
				h.mu.Unlock()
				return run != nil, run != nil && run.lost.Load()
			}
		}
	}
	return false, false
}

// StealBatchLease makes the lease of batch id held by someone else for d, as if its runner's
// lease had run out and another replica had taken it (idem must be the in-memory store).
func StealBatchLease(idem IdempotencyStore, id string, d time.Duration) {
	m := idem.(*memoryIdempotency)
	m.mu.Lock()
	m.entries[batchLeaseKey(id)] = idemEntry{value: []byte("thief"), expires: m.now().Add(d)}
	m.mu.Unlock()
}
