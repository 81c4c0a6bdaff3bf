package server

import (
	"context"
	"crypto/sha256"
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
// flight (its idempotency record pending), the others never started.
func SeedInterruptedBatch(ctx context.Context, st store.Store, idem IdempotencyStore, id, method string, inputs []string) error {
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
	key := idempotencyStoreKey(anonymous, job.Method, "batch:"+id+":1:0")
	_, _, err := idem.Claim(ctx, key, pendingRecord(sha256.Sum256(nil)), time.Hour)
	return err
}
