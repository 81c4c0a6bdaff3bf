package server

// This file lets several replicas share the jobs of one store (store engine redis) without two
// of them running a job at once: a per-job lease in the idempotency store (Claim and Replace
// are atomic in Redis, in the embedded store and in memory), renewed while the job runs, and
// a periodic scan through which a replica takes over a running job whose lease ran out (its
// replica died). A cancel on any replica is a flag in the store that the job's runner polls.
//
//	idempotency store  batch-lease:<id> → the holder's token (random), for batches.lease
//	batch/cancel       <id> → when the cancel was asked (a replica not running the job
//	                   asked it; the runner stops at its next poll)

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/store"
)

const batchCancelTable = "batch/cancel"

func batchLeaseKey(id string) string { return "batch-lease:" + id }

// batchLease is a job's lease as one run holds it.
type batchLease struct {
	token []byte
	until time.Time // no write after this (less a margin): another replica may hold it then
}

// leaseOn reports whether jobs run under leases, and the lease's length.
func (h *batchHub) leaseOn() (bool, time.Duration) {
	cfg := h.config()
	return h.leases, cfg.Lease
}

// acquireLease claims id's lease; ok false when another run holds it.
func (h *batchHub) acquireLease(ctx context.Context, id string) (*batchLease, bool, error) {
	_, d := h.leaseOn()
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := []byte(h.instance + ":" + hex.EncodeToString(b[:]))
	start := time.Now()
	_, claimed, err := h.leaseStore.Claim(ctx, batchLeaseKey(id), token, d)
	if err != nil || !claimed {
		return nil, false, err
	}
	return &batchLease{token: token, until: start.Add(d)}, true, nil
}

// renew extends the lease and confirms it is still this run's: false when it ran out and
// another run took it, or it ran out unnoticed (then it is given up, not taken again: another
// replica may have run items meanwhile).
func (h *batchHub) renew(ctx context.Context, id string, l *batchLease) (bool, error) {
	_, d := h.leaseOn()
	start := time.Now()
	key := batchLeaseKey(id)
	if err := h.leaseStore.Replace(ctx, key, l.token, l.token, d); err != nil {
		return false, err
	}
	// Replace does not say whether it replaced: a Claim reads what the key holds.
	existing, claimed, err := h.leaseStore.Claim(ctx, key, l.token, d)
	if err != nil {
		return false, err
	}
	if claimed {
		_ = h.leaseStore.Replace(ctx, key, l.token, nil, 0)
		return false, nil
	}
	if !bytes.Equal(existing, l.token) {
		return false, nil
	}
	l.until = start.Add(d)
	return true, nil
}

// releaseLease gives the lease up, so another replica may take the job at once.
func (h *batchHub) releaseLease(id string, l *batchLease) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.leaseStore.Replace(ctx, batchLeaseKey(id), l.token, nil, 0)
}

// mayWrite reports whether the run may write the job's state: always without leases; with
// them, while its lease is surely held (until its end, less a tenth for clock drift and the
// write's own time).
func (r *batchRun) mayWrite() bool {
	on, d := r.hub.leaseOn()
	if !on {
		return true
	}
	if r.lost.Load() {
		return false
	}
	until := time.Unix(0, r.leaseUntil.Load())
	return time.Now().Before(until.Add(-d / 10))
}

// keepLease renews the run's lease every lease/3 and polls the job's cancel flag, until ctx
// ends. When a renewal fails, or the lease is lost, the run stops: no item starts, and
// nothing more of the job is written by this run.
func (r *batchRun) keepLease(ctx context.Context) {
	h := r.hub
	on, d := h.leaseOn()
	if !on {
		return
	}
	id := r.snapshot().ID
	t := time.NewTicker(max(d/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, d/3)
		held, err := h.renew(rctx, id, r.lease)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil || !held {
			r.lost.Store(true)
			h.log.Warn("batches: a job's lease was lost; this replica stops running it (another takes it over)", "batch", id, "err", err)
			r.cancel()
			return
		}
		r.leaseUntil.Store(r.lease.until.UnixNano())
		r.checkCancelled(ctx)
	}
}

// checkCancelled stops the run when another replica asked to cancel the job.
func (r *batchRun) checkCancelled(ctx context.Context) {
	if on, _ := r.hub.leaseOn(); !on {
		return
	}
	if !r.hub.cancelAsked(ctx, r.snapshot().ID) {
		return
	}
	r.mu.Lock()
	if r.job.State == int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) {
		r.job.State = int32(agentbridgev1.BatchState_BATCH_STATE_CANCELLED)
		r.job.Done = time.Now().UTC()
	}
	r.mu.Unlock()
	r.cancel()
}

// cancelAsked reports whether the job's cancel flag is set.
func (h *batchHub) cancelAsked(ctx context.Context, id string) bool {
	_, err := h.st.Get(ctx, batchCancelTable, id)
	return err == nil
}

// askCancel sets the job's cancel flag, for the replica that runs it.
func (h *batchHub) askCancel(ctx context.Context, id string) error {
	return h.st.Put(ctx, batchCancelTable, store.KV{Key: id, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))})
}

// scanLoop takes over, every scan_interval, the running jobs whose lease is free (their
// replica died or stopped), and, without leases, the running jobs that no run here carries.
func (h *batchHub) scanLoop() {
	h.resume()
	for {
		// Without leases too: a job whose run stopped short here (its results could not be
		// written, say) is still running by its record, and is resumed instead of waiting for
		// a restart.
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(h.config().ScanInterval):
		}
		h.resume()
	}
}

// takeOver starts job here, when it is still running and its lease can be had. A job whose
// cancel flag is set is recorded cancelled instead.
func (h *batchHub) takeOver(job batchJob) {
	on, _ := h.leaseOn()
	if !on {
		h.log.Info("batches: resuming a job", "batch", job.ID, "method", job.Method, "total", job.Total)
		h.start(job, true, nil)
		return
	}
	lease, ok, err := h.acquireLease(h.ctx, job.ID)
	if err != nil || !ok {
		return // another replica runs it, or the store is down: the next scan looks again
	}
	// Read the record again under the lease: the job may have ended since the scan read it.
	data, err := h.st.Get(h.ctx, batchJobsTable, job.ID)
	var cur batchJob
	if err != nil || json.Unmarshal(data, &cur) != nil || cur.State != int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) {
		h.releaseLease(job.ID, lease)
		return
	}
	if h.cancelAsked(h.ctx, job.ID) {
		cur.State = int32(agentbridgev1.BatchState_BATCH_STATE_CANCELLED)
		cur.Done = time.Now().UTC()
		if err := h.saveJob(h.ctx, &cur); err != nil && !errors.Is(err, context.Canceled) {
			h.log.Error("batches: a cancelled job could not be saved", "batch", job.ID, "err", err)
		}
		h.releaseLease(job.ID, lease)
		return
	}
	h.log.Info("batches: taking a job over", "batch", job.ID, "method", job.Method, "total", job.Total)
	h.start(cur, true, lease)
}

var errBatchLeaseLost = errors.New("batches: this replica no longer holds the job's lease")

// batchMark asks writeMarks to mark an item started.
type batchMark struct {
	idx  int64
	gen  int32
	done chan error
}

// marked reports whether m's items are marked started before their call: a method not safe
// to repeat whose backend does not de-duplicate it.
func (r *batchRun) marked(m *method) bool {
	return !safeToRepeat(m.desc) && r.hub.dedupField(m.procedure, m) == nil
}

// mark records, durably, that item idx's call of generation gen is about to start. Items
// marked at about the same time share one store write.
func (r *batchRun) mark(ctx context.Context, idx int64, gen int32) error {
	m := batchMark{idx: idx, gen: gen, done: make(chan error, 1)}
	select {
	case r.marks <- m:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-m.done
}

// unmark removes the mark of an item whose call was never sent.
func (r *batchRun) unmark(idx int64) {
	if !r.mayWrite() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.hub.st.Delete(ctx, batchStartedTable(r.snapshot().ID), batchKey(idx))
}

// writeMarks stores marks as they come, those that arrive together in one write: a group
// commit, so the store's write latency is paid once per group rather than once per item.
func (r *batchRun) writeMarks() {
	h := r.hub
	var page []batchMark
	for first := range r.marks {
		page = append(page[:0], first)
	more:
		for len(page) < 512 {
			select {
			case m, ok := <-r.marks:
				if !ok {
					break more
				}
				page = append(page, m)
			default:
				break more
			}
		}
		err := errBatchLeaseLost
		if r.mayWrite() {
			kvs := make([]store.KV, len(page))
			for i, m := range page {
				kvs[i] = store.KV{Key: batchKey(m.idx), Value: []byte(strconv.Itoa(int(m.gen)))}
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), 30*time.Second)
			err = h.st.Put(ctx, batchStartedTable(r.snapshot().ID), kvs...)
			cancel()
		}
		for _, m := range page {
			m.done <- err
		}
	}
}
