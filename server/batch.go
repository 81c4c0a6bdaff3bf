package server

// This file is BatchService: a built-in service that runs one method for many inputs in the
// background. Jobs, their inputs and their results live in the store (s.opts.durable), so a job
// survives a restart and resumes where it stopped; each item is called through s.call, the one
// in-process call path, with the submitter's principal, so scopes, validation, limits, the
// breaker, audit, metrics and idempotency hold for each item exactly as for a single call.
//
// Store layout (tables):
//
//	batch/jobs             <id> → the job record (JSON, batchJob)
//	batch/<id>/items       <index, zero-padded> → the item's input (JSON, batchInput)
//	batch/<id>/results     <index, zero-padded> → the item's outcome (JSON, batchResult)
//	batch/<id>/started     <index, zero-padded> → the retry generation in which the item's
//	                       call was about to start (only for methods not safe to repeat)
//
// Zero-padded keys make Scan return items in input order, a page at a time: a job's items
// never sit in memory all at once.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agentbridge/agentbridge/adapters"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server/store"
)

// SurfaceBatch is the surface of a call a batch makes for one of its items.
const SurfaceBatch Surface = "batch"

const (
	batchJobsTable = "batch/jobs"
	batchPage      = 256 // items read, and dispatch marks written, at a time
)

func batchItemsTable(id string) string   { return "batch/" + id + "/items" }
func batchResultsTable(id string) string { return "batch/" + id + "/results" }
func batchStartedTable(id string) string { return "batch/" + id + "/started" }
func batchKey(i int64) string            { return fmt.Sprintf("%010d", i) }

// batchJob is a job's durable record.
type batchJob struct {
	ID      string          `json:"id"`
	Method  string          `json:"method"`
	State   int32           `json:"state"`
	Total   int64           `json:"total"`
	Created time.Time       `json:"created"`
	Updated time.Time       `json:"updated"`
	Done    time.Time       `json:"finished,omitzero"`
	By      *batchPrincipal `json:"by,omitempty"`
	Retries int32           `json:"retries,omitempty"`
	// RetryUnknown: the current retry also runs items whose outcome is unknown.
	RetryUnknown bool `json:"retry_unknown,omitempty"`
	// Dispatched: in the current pass, no item at or after it was started.
	Dispatched int64 `json:"dispatched"`
	// Epoch counts the runs of the job (resumes after a restart).
	Epoch     int32 `json:"epoch"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
}

// currentSubmitter is a batch's submitter as the server's auth config knows it now, which
// every item of a run is called as: an API key or a certificate identity with the scopes the
// config gives it today, so a key removed or narrowed (auth changes with a restart) is not
// honoured from a record made before. A submitter the config no longer knows gets a refusal
// for every item instead; RetryBatch runs them once it is configured again. A token's subject
// keeps the scopes its token carried at submit, while the issuer is still configured: the
// token cannot be verified again. Without auth now, items run as every call does.
func (s *Server) currentSubmitter(by *batchPrincipal) (*Principal, error) {
	if by == nil || s.auth == nil {
		return nil, nil
	}
	a := s.auth
	refuse := func(what string) error {
		return status.Errorf(codes.PermissionDenied, "%s that submitted this batch (%q) is no longer configured, so its items are not run; RetryBatch runs them once it is configured again", what, by.ID)
	}
	switch by.Method {
	case AuthAPIKey:
		for _, k := range a.keys {
			if k.principal.ID == by.ID {
				return k.principal, nil
			}
		}
		return nil, refuse("the API key")
	case AuthMTLS:
		if p := a.certs[by.ID]; p != nil {
			return p, nil
		}
		return nil, refuse("the client certificate identity")
	case AuthJWT:
		if a.oidc == nil {
			return nil, refuse("the OIDC issuer of the token")
		}
	}
	return &Principal{ID: by.ID, Scopes: slices.Clone(by.Scopes), Method: by.Method}, nil
}

// batchPrincipal is the submitter, whose rights every item runs with.
type batchPrincipal struct {
	ID     string     `json:"id"`
	Scopes []string   `json:"scopes,omitempty"`
	Method AuthMethod `json:"method"`
}

// batchInput is one item's input: its JSON request, or why it could not be read.
type batchInput struct {
	Line int64           `json:"l,omitempty"`
	JSON json.RawMessage `json:"j,omitempty"`
	Err  string          `json:"e,omitempty"`
}

// batchResult is one item's outcome.
type batchResult struct {
	State    int32           `json:"s"`
	Code     int32           `json:"c"`
	Status   []byte          `json:"st,omitempty"` // google.rpc.Status, for a failure
	Response json.RawMessage `json:"r,omitempty"`
	Attempts int32           `json:"a"`
	Gen      int32           `json:"g"` // the job's Retries when it ran
	Unknown  bool            `json:"u,omitempty"`
}

// batchHub runs the jobs of one server. It outlives generations (a reload keeps it) and is
// closed with the server, as the batch service's Closer.
type batchHub struct {
	srv *Server
	st  store.Store
	log *slog.Logger

	cfgMu sync.RWMutex
	cfg   BatchesConfig

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	called     chan struct{} // closed at the first call of BatchService
	calledOnce sync.Once

	mu       sync.Mutex
	jobs     map[string]*batchRun // running here
	starting map[string]bool      // being retried or resumed here, not yet in jobs (claimStart)
	backends map[string]*batchLane

	// leases: jobs run under a lease in leaseStore (batch_lease.go); instance names this hub
	// in the leases it holds.
	leases     bool
	leaseStore IdempotencyStore
	instance   string
}

// batchLane is a backend's share for batches: at most cap items in flight, paced by limit.
type batchLane struct {
	slots chan struct{}
	limit *rate.Limiter // nil: the backend has no rate limit
	cap   int
	rate  float64
}

// batchRun is a job running in this process.
type batchRun struct {
	hub    *batchHub
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	job       batchJob
	lastSave  time.Time
	samples   []batchSample
	succeeded atomic.Int64
	failed    atomic.Int64
	changed   chan struct{} // closed and replaced on every change
	outcomes  chan batchOutcome
	written   chan struct{} // closed when writeOutcomes has stored every outcome
	marks     chan batchMark

	lease      *batchLease // nil without leases
	leaseUntil atomic.Int64
	lost       atomic.Bool

	// principal is the submitter as the auth config knows it when the run starts (its
	// current scopes); refusal, when set, fails every item instead (see currentSubmitter).
	principal *Principal
	refusal   error
}

type batchSample struct {
	at   time.Time
	done int64
}

func newBatchHub(s *Server, cfg BatchesConfig, st store.Store) *batchHub {
	ctx, cancel := context.WithCancel(context.Background())
	var is IdempotencyStore = newMemoryIdempotency()
	if s.opts.idemStore != nil {
		is = s.opts.idemStore
	}
	return &batchHub{srv: s, st: st, log: s.log, cfg: cfg.withDefaults(), ctx: ctx, cancel: cancel, called: make(chan struct{}), jobs: map[string]*batchRun{}, backends: map[string]*batchLane{},
		leaseStore: is, instance: newBatchID()}
}

func (h *batchHub) config() BatchesConfig {
	h.cfgMu.RLock()
	defer h.cfgMu.RUnlock()
	return h.cfg
}

func (h *batchHub) setConfig(cfg BatchesConfig) {
	h.cfgMu.Lock()
	h.cfg = cfg.withDefaults()
	h.cfgMu.Unlock()
	h.mu.Lock()
	h.backends = map[string]*batchLane{} // recomputed from the new limits as items start
	h.mu.Unlock()
}

// Close stops every job (items in flight finish within a bound); jobs resume at the next start.
func (h *batchHub) Close() error {
	h.cancel()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		h.log.Warn("batch items still running at shutdown; they resume at the next start")
	}
	return nil
}

// startBatches serves BatchService when the config has a batches: section: it adds the service
// to the current generation and resumes the jobs a previous run left unfinished.
func (s *Server) startBatches(c *Config) error {
	if !c.Batches.enabled() {
		return nil
	}
	if err := c.Batches.check(); err != nil {
		return err
	}
	if s.opts.durable == nil {
		return errors.New("config: batches: needs a store (store: section)")
	}
	h := newBatchHub(s, *c.Batches, s.opts.durable)
	h.leases = c.Store.engine() == StoreRedis
	if c.Batches.Leases != nil {
		h.leases = *c.Batches.Leases
	}
	g := s.gen.Load()
	ng, err := s.newGeneration(context.Background(), append(slices.Clone(g.services), h.service()), g.mcpOpts)
	if err != nil {
		return err
	}
	s.install(ng)
	h.checkMethods(ng)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if !h.waitServing() {
			return
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.sweep()
		}()
		h.scanLoop()
	}()
	return nil
}

// waitServing waits until the server serves (Serve or ServeListeners started) or BatchService
// is first called (a server whose Handler is served by the caller), so `config validate`,
// which builds the server and closes it, never resumes a job. It reports false once the hub
// is closed.
func (h *batchHub) waitServing() bool {
	for {
		h.srv.probeMu.Lock()
		serving := h.srv.probeCtx != nil
		h.srv.probeMu.Unlock()
		if serving {
			return true
		}
		select {
		case <-h.ctx.Done():
			return false
		case <-h.called:
			return true
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// touch records that BatchService was called.
func (h *batchHub) touch() { h.calledOnce.Do(func() { close(h.called) }) }

// withBatchService keeps serving BatchService across a reload (ReloadConfig): the running
// hub, with the new config's settings.
func (s *Server) withBatchService(c *Config, services []Service) []Service {
	var h *batchHub
	for _, svc := range s.gen.Load().services {
		for _, cl := range svc.Closers {
			if hh, ok := cl.(*batchHub); ok {
				h = hh
			}
		}
	}
	switch {
	case h == nil && c.Batches.enabled():
		s.log.Warn("a reload cannot turn batches on; restart to apply it", "setting", "batches")
		return services
	case h == nil || !c.Batches.enabled():
		return services // a hub not kept is closed with the old generation
	}
	if err := c.Batches.check(); err != nil {
		s.log.Warn("batches: settings kept", "err", err)
	} else {
		h.setConfig(*c.Batches)
	}
	return append(services, h.service())
}

// service is BatchService bound to the hub.
func (h *batchHub) service() Service {
	sd := agentbridgev1.File_agentbridge_v1_batch_proto.Services().ByName("BatchService")
	unary := func(f func(context.Context, proto.Message) (proto.Message, error)) adapters.Unary {
		return func(ctx context.Context, req proto.Message) (proto.Message, error) {
			h.touch()
			return f(ctx, req)
		}
	}
	return Service{
		Desc: sd,
		Methods: map[protoreflect.Name]adapters.Unary{
			"SubmitBatch": unary(func(ctx context.Context, req proto.Message) (proto.Message, error) {
				return h.submit(ctx, req.(*agentbridgev1.SubmitBatchRequest))
			}),
			"GetBatch": unary(func(ctx context.Context, req proto.Message) (proto.Message, error) {
				return h.get(ctx, req.(*agentbridgev1.GetBatchRequest))
			}),
			"ListBatchResults": unary(func(ctx context.Context, req proto.Message) (proto.Message, error) {
				return h.list(ctx, req.(*agentbridgev1.ListBatchResultsRequest))
			}),
			"CancelBatch": unary(func(ctx context.Context, req proto.Message) (proto.Message, error) {
				return h.cancelJob(ctx, req.(*agentbridgev1.CancelBatchRequest))
			}),
			"RetryBatch": unary(func(ctx context.Context, req proto.Message) (proto.Message, error) {
				return h.retry(ctx, req.(*agentbridgev1.RetryBatchRequest))
			}),
		},
		Streams: map[protoreflect.Name]adapters.ServerStream{
			"WatchBatch": func(ctx context.Context, req proto.Message, send func(proto.Message) error) error {
				h.touch()
				return h.watch(ctx, req.(*agentbridgev1.WatchBatchRequest), send)
			},
		},
		Closers: []io.Closer{h},
	}
}

// checkMethods warns about per-method settings that name no served method or field.
func (h *batchHub) checkMethods(g *generation) {
	for name, mc := range h.config().Methods {
		m := g.methods[name]
		if m == nil {
			h.log.Warn("batches: methods names a method that is not served", "method", name)
			continue
		}
		if idempotencyFieldOf(m.desc.Input(), mc.IdempotencyField) == nil {
			h.log.Warn("batches: idempotency_field names no string field of the request", "method", name, "field", mc.IdempotencyField)
		}
	}
}

// idempotencyFieldOf returns the singular string field name (proto or JSON name) of md.
func idempotencyFieldOf(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	if name == "" {
		return nil
	}
	fd := md.Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		fd = md.Fields().ByJSONName(name)
	}
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() || fd.IsMap() {
		return nil
	}
	return fd
}

func newBatchID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "b" + fmt.Sprintf("%x", time.Now().Unix()) + hex.EncodeToString(b[:])
}

// saveJob writes a job record.
func (h *batchHub) saveJob(ctx context.Context, job *batchJob) error {
	job.Updated = time.Now().UTC()
	data, err := json.Marshal(job)
	if err != nil {
		return err
	}
	return h.st.Put(ctx, batchJobsTable, store.KV{Key: job.ID, Value: data})
}

// loadJob reads a job record: the running copy when it runs here.
func (h *batchHub) loadJob(ctx context.Context, id string) (batchJob, *batchRun, error) {
	if id == "" {
		return batchJob{}, nil, status.Error(codes.InvalidArgument, "id is empty: pass the id SubmitBatch returned")
	}
	h.mu.Lock()
	run := h.jobs[id]
	h.mu.Unlock()
	if run != nil {
		return run.snapshot(), run, nil
	}
	data, err := h.st.Get(ctx, batchJobsTable, id)
	if errors.Is(err, store.ErrNotFound) {
		return batchJob{}, nil, status.Errorf(codes.NotFound, "no batch %q (finished batches are kept for the configured retention)", id)
	}
	if err != nil {
		return batchJob{}, nil, batchStoreError(err)
	}
	var job batchJob
	if err := json.Unmarshal(data, &job); err != nil {
		return batchJob{}, nil, status.Errorf(codes.Internal, "batch %s: its record cannot be read", id)
	}
	if on, _ := h.leaseOn(); on && job.State == int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) && h.cancelAsked(ctx, id) {
		// Cancelled here while another replica runs it: that runner stops at its next poll.
		job.State = int32(agentbridgev1.BatchState_BATCH_STATE_CANCELLED)
	}
	return job, nil, nil
}

// mayRead refuses a job another caller submitted, when the server authenticates callers.
func (h *batchHub) mayRead(ctx context.Context, job batchJob) error {
	if h.srv.auth == nil || job.By == nil {
		return nil
	}
	p := PrincipalFromContext(ctx)
	// The same caller is the same id authenticated the same way: an API key named "billing"
	// is not the token subject "billing".
	if p == nil || ((p.ID != job.By.ID || p.Method != job.By.Method) && p.Method != AuthLocal) {
		return status.Errorf(codes.NotFound, "no batch %q (finished batches are kept for the configured retention)", job.ID)
	}
	return nil
}

// batchStoreError turns a batch store failure into a status, keeping one already made.
func batchStoreError(err error) error {
	if s, ok := status.FromError(err); ok {
		return s.Err()
	}
	return status.Error(codes.Unavailable, "the batch store cannot be reached; try again")
}

// get implements GetBatch.
func (h *batchHub) get(ctx context.Context, req *agentbridgev1.GetBatchRequest) (*agentbridgev1.GetBatchResponse, error) {
	job, run, err := h.loadJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if err := h.mayRead(ctx, job); err != nil {
		return nil, err
	}
	return &agentbridgev1.GetBatchResponse{Batch: batchView(job, run)}, nil
}

// cancelJob implements CancelBatch.
func (h *batchHub) cancelJob(ctx context.Context, req *agentbridgev1.CancelBatchRequest) (*agentbridgev1.CancelBatchResponse, error) {
	job, run, err := h.loadJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if err := h.mayRead(ctx, job); err != nil {
		return nil, err
	}
	if job.State != int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) {
		return &agentbridgev1.CancelBatchResponse{Batch: batchView(job, nil)}, nil
	}
	if run != nil {
		run.mu.Lock()
		run.job.State = int32(agentbridgev1.BatchState_BATCH_STATE_CANCELLED)
		run.job.Done = time.Now().UTC()
		run.mu.Unlock()
		run.cancel()
		if err := run.save(ctx, true); err != nil {
			return nil, batchStoreError(err)
		}
		return &agentbridgev1.CancelBatchResponse{Batch: batchView(run.snapshot(), run)}, nil
	}
	if on, _ := h.leaseOn(); on {
		// Another replica may run it: the flag reaches its runner, which stops and records
		// the cancel itself.
		if err := h.askCancel(ctx, job.ID); err != nil {
			return nil, batchStoreError(err)
		}
	}
	job.State = int32(agentbridgev1.BatchState_BATCH_STATE_CANCELLED)
	job.Done = time.Now().UTC()
	if err := h.saveJob(ctx, &job); err != nil {
		return nil, batchStoreError(err)
	}
	return &agentbridgev1.CancelBatchResponse{Batch: batchView(job, nil)}, nil
}

// retry implements RetryBatch.
func (h *batchHub) retry(ctx context.Context, req *agentbridgev1.RetryBatchRequest) (*agentbridgev1.RetryBatchResponse, error) {
	job, _, err := h.loadJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if err := h.mayRead(ctx, job); err != nil {
		return nil, err
	}
	// One start at a time: two retries at once (or a retry and a resume) would each run the
	// failed items. Read the job again once this retry holds the start.
	release, ok := h.claimStart(job.ID)
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "batch %s is still running; retry it once it is done, or cancel it first", job.ID)
	}
	defer release()
	job, run, err := h.loadJob(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if run != nil || job.State == int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) {
		return nil, status.Errorf(codes.FailedPrecondition, "batch %s is still running; retry it once it is done, or cancel it first", job.ID)
	}
	m := h.srv.gen.Load().methods[job.Method]
	repeatable := m != nil && (safeToRepeat(m.desc) || h.dedupField(job.Method, m) != nil)
	include := req.GetIncludeOutcomeUnknown() || repeatable
	// Count the failed items to run again, and those never run.
	var retried, failed, succeeded int64
	from := batchKey(0)
	for {
		page, err := h.st.Scan(ctx, batchResultsTable(job.ID), from, "", 1000)
		if err != nil {
			return nil, batchStoreError(err)
		}
		for _, kv := range page {
			var r batchResult
			if json.Unmarshal(kv.Value, &r) != nil {
				continue
			}
			switch {
			case r.State == int32(agentbridgev1.BatchItemState_BATCH_ITEM_STATE_SUCCEEDED):
				succeeded++
			case r.Unknown && !include:
				failed++
			default:
				retried++
			}
		}
		if len(page) < 1000 {
			break
		}
		from = page[len(page)-1].Key + "\x00"
	}
	unrun := job.Total - succeeded - failed - retried
	if retried+unrun == 0 {
		return &agentbridgev1.RetryBatchResponse{Batch: batchView(job, nil)}, nil
	}
	job.Retries++
	job.RetryUnknown = req.GetIncludeOutcomeUnknown()
	job.State = int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING)
	job.Done = time.Time{}
	job.Dispatched = 0
	job.Succeeded, job.Failed = succeeded, failed
	var lease *batchLease
	if on, _ := h.leaseOn(); on {
		var ok bool
		if lease, ok, err = h.acquireLease(ctx, job.ID); err != nil {
			return nil, batchStoreError(err)
		} else if !ok {
			return nil, status.Errorf(codes.FailedPrecondition, "batch %s is still running on another replica; retry it once it is done", job.ID)
		}
		if err := h.st.Delete(ctx, batchCancelTable, job.ID); err != nil {
			h.releaseLease(job.ID, lease)
			return nil, batchStoreError(err)
		}
	}
	if err := h.saveJob(ctx, &job); err != nil {
		if lease != nil {
			h.releaseLease(job.ID, lease)
		}
		return nil, batchStoreError(err)
	}
	run = h.start(job, false, lease)
	return &agentbridgev1.RetryBatchResponse{Batch: batchView(run.snapshot(), run), Retried: retried + unrun}, nil
}

// dedupField returns the request field the backend de-duplicates method's calls on, or nil.
func (h *batchHub) dedupField(procedure string, m *method) protoreflect.FieldDescriptor {
	mc, ok := h.config().Methods[procedure]
	if !ok {
		return nil
	}
	return idempotencyFieldOf(m.desc.Input(), mc.IdempotencyField)
}

// claimStart reserves job id for one start here (a retry, a resume, a takeover); ok is false
// when it runs here or another start of it is under way. release ends the reservation, after
// the start registered its run in jobs.
func (h *batchHub) claimStart(id string) (release func(), ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.jobs[id] != nil || h.starting[id] {
		return nil, false
	}
	if h.starting == nil {
		h.starting = map[string]bool{}
	}
	h.starting[id] = true
	return func() {
		h.mu.Lock()
		delete(h.starting, id)
		h.mu.Unlock()
	}, true
}

// resume starts the jobs a previous run left running.
func (h *batchHub) resume() {
	from := ""
	for h.ctx.Err() == nil {
		page, err := h.st.Scan(h.ctx, batchJobsTable, from, "", 100)
		if err != nil {
			h.log.Error("batches: unfinished jobs could not be listed; they resume at the next start", "err", err)
			return
		}
		for _, kv := range page {
			var job batchJob
			if json.Unmarshal(kv.Value, &job) != nil || job.State != int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) {
				continue
			}
			release, ok := h.claimStart(job.ID)
			if !ok { // running here, or being retried
				continue
			}
			h.takeOver(job)
			release()
		}
		if len(page) < 100 {
			return
		}
		from = page[len(page)-1].Key + "\x00"
	}
}

// sweep deletes finished jobs older than the retention, now and then hourly.
func (h *batchHub) sweep() {
	for {
		cutoff := time.Now().Add(-h.config().Retention)
		from := ""
		for h.ctx.Err() == nil {
			page, err := h.st.Scan(h.ctx, batchJobsTable, from, "", 100)
			if err != nil {
				break
			}
			for _, kv := range page {
				var job batchJob
				if json.Unmarshal(kv.Value, &job) != nil || job.Done.IsZero() || job.Done.After(cutoff) || job.State == int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) {
					continue
				}
				_ = h.st.Delete(h.ctx, batchItemsTable(job.ID))
				_ = h.st.Delete(h.ctx, batchResultsTable(job.ID))
				_ = h.st.Delete(h.ctx, batchStartedTable(job.ID))
				_ = h.st.Delete(h.ctx, batchCancelTable, job.ID)
				_ = h.st.Delete(h.ctx, batchJobsTable, job.ID)
			}
			if len(page) < 100 {
				break
			}
			from = page[len(page)-1].Key + "\x00"
		}
		select {
		case <-h.ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// start runs job in the background, under lease (nil: one is claimed, and without it the job
// does not start here: nil is returned). Without leases, lease is ignored.
func (h *batchHub) start(job batchJob, resumed bool, lease *batchLease) *batchRun {
	on, _ := h.leaseOn()
	if on && lease == nil {
		var ok bool
		if lease, ok, _ = h.acquireLease(h.ctx, job.ID); !ok {
			return nil
		}
	}
	ctx, cancel := context.WithCancel(h.ctx)
	run := &batchRun{hub: h, cancel: cancel, done: make(chan struct{}), job: job, changed: make(chan struct{}),
		outcomes: make(chan batchOutcome, 1024), written: make(chan struct{}), marks: make(chan batchMark, 64)}
	if on {
		run.lease = lease
		run.leaseUntil.Store(lease.until.UnixNano())
	}
	run.succeeded.Store(job.Succeeded)
	run.failed.Store(job.Failed)
	h.mu.Lock()
	h.jobs[job.ID] = run
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(run.done)
		keep := make(chan struct{})
		if on {
			go func() { defer close(keep); run.keepLease(ctx) }()
		} else {
			close(keep)
		}
		run.run(ctx, resumed)
		cancel()
		<-keep
		if on && !run.lost.Load() {
			h.releaseLease(job.ID, run.lease)
		}
		h.mu.Lock()
		if h.jobs[job.ID] == run {
			delete(h.jobs, job.ID)
		}
		h.mu.Unlock()
	}()
	return run
}

func (r *batchRun) snapshot() batchJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	job := r.job
	job.Succeeded, job.Failed = r.succeeded.Load(), r.failed.Load()
	return job
}

// save writes the job record; unless force, at most once a second.
func (r *batchRun) save(ctx context.Context, force bool) error {
	r.mu.Lock()
	if !force && time.Since(r.lastSave) < time.Second {
		r.mu.Unlock()
		return nil
	}
	r.lastSave = time.Now()
	job := r.job
	job.Succeeded, job.Failed = r.succeeded.Load(), r.failed.Load()
	r.mu.Unlock()
	if !r.mayWrite() {
		return errBatchLeaseLost
	}
	return r.hub.saveJob(ctx, &job)
}

// notify wakes watchers.
func (r *batchRun) notify() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *batchRun) waitChange() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// rate returns items completed per second over about the last minute.
func (r *batchRun) rate() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	done := r.succeeded.Load() + r.failed.Load()
	if len(r.samples) == 0 || now.Sub(r.samples[len(r.samples)-1].at) >= time.Second {
		r.samples = append(r.samples, batchSample{at: now, done: done})
	}
	for len(r.samples) > 2 && now.Sub(r.samples[1].at) > time.Minute {
		r.samples = r.samples[1:]
	}
	first := r.samples[0]
	if el := now.Sub(first.at).Seconds(); el > 0.05 && done > first.done {
		return float64(done-first.done) / el
	}
	return 0
}

// run dispatches the job's items that have no outcome yet, in input order.
func (r *batchRun) run(ctx context.Context, resumed bool) {
	h := r.hub
	job := r.snapshot()
	if resumed {
		r.mu.Lock()
		r.job.Epoch++
		r.mu.Unlock()
		// Counts are made again from the results, which are written before counts are.
		s, f, err := r.count(ctx)
		if err != nil {
			h.log.Error("batches: a job's results could not be read; it resumes at the next start", "batch", job.ID, "err", err)
			return
		}
		r.succeeded.Store(s)
		r.failed.Store(f)
	}
	r.principal, r.refusal = h.srv.currentSubmitter(job.By)
	if r.refusal != nil {
		h.log.Warn("batches: the job's submitter is no longer accepted; its items fail without a call", "batch", job.ID, "principal", job.By.ID, "err", r.refusal)
	}
	r.mu.Lock()
	r.samples = append(r.samples[:0], batchSample{at: time.Now(), done: r.succeeded.Load() + r.failed.Load()})
	r.mu.Unlock()
	if err := r.save(ctx, true); err != nil {
		h.log.Error("batches: a job could not be saved", "batch", job.ID, "err", err)
	}
	var items sync.WaitGroup
	ready := make(chan batchItem, 16)
	go r.writeOutcomes()
	go r.writeMarks()
	defer func() {
		r.drainReady(ctx, ready, &items)
		items.Wait()
		close(r.outcomes)
		close(r.marks)
		<-r.written
		r.finish()
	}()
	m0 := h.srv.gen.Load().methods[job.Method]
	marked := m0 != nil && r.marked(m0)
	from := int64(0)
	for ctx.Err() == nil {
		r.checkCancelled(ctx) // asked on another replica
		if ctx.Err() != nil {
			return
		}
		inputs, err := h.st.Scan(ctx, batchItemsTable(job.ID), batchKey(from), "", batchPage)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Error("batches: a job's items could not be read; it resumes at the next start", "batch", job.ID, "err", err)
				r.cancel()
			}
			return
		}
		if len(inputs) == 0 {
			return
		}
		last := inputs[len(inputs)-1].Key
		results, err := h.st.Scan(ctx, batchResultsTable(job.ID), inputs[0].Key, last+"\x00", batchPage)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Error("batches: a job's results could not be read; it resumes at the next start", "batch", job.ID, "err", err)
				r.cancel()
			}
			return
		}
		have := make(map[string]*batchResult, len(results))
		for _, kv := range results {
			var res batchResult
			if json.Unmarshal(kv.Value, &res) == nil {
				have[kv.Key] = &res
			}
		}
		var started map[string]bool // items whose call may have started in this generation
		if marked {
			marks, err := h.st.Scan(ctx, batchStartedTable(job.ID), inputs[0].Key, last+"\x00", batchPage)
			if err != nil {
				if ctx.Err() == nil {
					h.log.Error("batches: a job's items could not be read; it resumes at the next start", "batch", job.ID, "err", err)
					r.cancel()
				}
				return
			}
			gen := strconv.Itoa(int(r.snapshot().Retries))
			started = make(map[string]bool, len(marks))
			for _, kv := range marks {
				started[kv.Key] = string(kv.Value) == gen
			}
		}
		for _, kv := range inputs {
			var idx int64
			if _, err := fmt.Sscanf(kv.Key, "%d", &idx); err != nil {
				continue
			}
			from = idx + 1
			prev := have[kv.Key]
			if !r.needsRun(prev) {
				continue
			}
			uncertain := started[kv.Key] && (prev == nil || prev.Gen < r.snapshot().Retries)
			if !r.dispatch(ctx, ready, &items, batchItem{idx: idx, input: kv.Value, prev: prev, uncertain: uncertain}) {
				return
			}
		}
	}
}

// batchItem is an item on its way to a worker.
type batchItem struct {
	idx       int64
	input     []byte
	prev      *batchResult
	uncertain bool
}

// batchWorkerRun bounds the items a worker runs in a row before it gives its slot back, so the
// jobs sharing a backend take turns.
const batchWorkerRun = 64

// dispatch hands it to a worker: a new one when the backend's lane has a free slot, else the
// next worker to finish an item takes it from ready. A worker keeps its slot from item to item
// while ready has one, so a finished call is followed by the next without waiting for the
// dispatcher to be scheduled. It reports false once ctx ends.
func (r *batchRun) dispatch(ctx context.Context, ready chan batchItem, items *sync.WaitGroup, it batchItem) bool {
	if ctx.Err() != nil {
		return false
	}
	lane := r.hub.lane(r.hub.srv.gen.Load().methods[r.snapshot().Method])
	select {
	case lane.slots <- struct{}{}:
		r.startWorker(ctx, lane, ready, items, it)
		return true
	default:
	}
	select {
	case lane.slots <- struct{}{}:
		r.startWorker(ctx, lane, ready, items, it)
	case ready <- it:
	case <-ctx.Done():
		return false
	}
	return true
}

// drainReady starts workers for the items still in ready once the dispatcher has no more: it
// waits for a free slot, then hands it the next item (a worker may have taken them all).
func (r *batchRun) drainReady(ctx context.Context, ready chan batchItem, items *sync.WaitGroup) {
	lane := r.hub.lane(r.hub.srv.gen.Load().methods[r.snapshot().Method])
	for len(ready) > 0 {
		select {
		case lane.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		select {
		case it := <-ready:
			r.startWorker(ctx, lane, ready, items, it)
		default:
			lane.release()
			return
		}
	}
}

func (r *batchRun) startWorker(ctx context.Context, lane *batchLane, ready chan batchItem, items *sync.WaitGroup, it batchItem) {
	h := r.hub
	items.Add(1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer items.Done()
		defer lane.release()
		for n := 0; ctx.Err() == nil; n++ {
			if lane.limit != nil {
				if err := lane.limit.Wait(ctx); err != nil {
					return
				}
			}
			r.runItem(ctx, it.idx, it.input, it.prev, it.uncertain)
			if n+1 >= batchWorkerRun {
				return
			}
			select {
			case it = <-ready:
			default:
				return
			}
		}
	}()
}

// needsRun says whether an item with outcome prev (nil: none) runs in this pass.
func (r *batchRun) needsRun(prev *batchResult) bool {
	if prev == nil {
		return true
	}
	r.mu.Lock()
	job := r.job
	r.mu.Unlock()
	if prev.State != int32(agentbridgev1.BatchItemState_BATCH_ITEM_STATE_FAILED) || prev.Gen >= job.Retries {
		return false
	}
	if !prev.Unknown || job.RetryUnknown {
		return true
	}
	m := r.hub.srv.gen.Load().methods[job.Method]
	return m != nil && (safeToRepeat(m.desc) || r.hub.dedupField(job.Method, m) != nil)
}

// count recounts succeeded and failed items from the results.
func (r *batchRun) count(ctx context.Context) (succeeded, failed int64, err error) {
	from := batchKey(0)
	id := r.snapshot().ID
	for {
		page, err := r.hub.st.Scan(ctx, batchResultsTable(id), from, "", 1000)
		if err != nil {
			return 0, 0, err
		}
		for _, kv := range page {
			var res batchResult
			if json.Unmarshal(kv.Value, &res) != nil {
				continue
			}
			if res.State == int32(agentbridgev1.BatchItemState_BATCH_ITEM_STATE_SUCCEEDED) {
				succeeded++
			} else if !r.needsRun(&res) {
				failed++
			}
		}
		if len(page) < 1000 {
			return succeeded, failed, nil
		}
		from = page[len(page)-1].Key + "\x00"
	}
}

// finish records the job's end: done when it ran out of items, else it stays as it was
// (cancelled, or running, to resume at the next start).
func (r *batchRun) finish() {
	h := r.hub
	r.mu.Lock()
	if r.job.State == int32(agentbridgev1.BatchState_BATCH_STATE_RUNNING) && h.ctx.Err() == nil && r.succeeded.Load()+r.failed.Load() >= r.job.Total {
		r.job.State = int32(agentbridgev1.BatchState_BATCH_STATE_DONE)
		r.job.Done = time.Now().UTC()
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), 5*time.Second)
	defer cancel()
	if err := r.save(ctx, true); err != nil && h.ctx.Err() == nil && !errors.Is(err, errBatchLeaseLost) {
		h.log.Error("batches: a job's end could not be saved", "batch", r.job.ID, "err", err)
	}
	r.notify()
}

// lane returns the share of m's backend that batches use.
func (h *batchHub) lane(m *method) *batchLane {
	backend := ""
	if m != nil {
		backend = m.backend
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.backends[backend]; l != nil {
		return l
	}
	cfg := h.config()
	n := cfg.Concurrency
	if v, ok := cfg.BackendConcurrency[backend]; ok {
		n = v
	}
	share := *cfg.InteractiveShare
	l := &batchLane{}
	for _, g := range h.srv.gen.Load().guards {
		if g.Name() != backend {
			continue
		}
		b := g.Backend()
		if b.Concurrency > 0 {
			// The guard's cap holds every call; batches take at most their part of it.
			n = min(n, max(1, int(math.Floor(float64(b.Concurrency)*(1-share)))))
		}
		if b.Rate.Limited() {
			l.rate = b.Rate.PerSecond * (1 - share)
			l.limit = rate.NewLimiter(rate.Limit(l.rate), 1)
		}
	}
	l.cap = n
	l.slots = make(chan struct{}, n)
	h.backends[backend] = l
	return l
}

func (l *batchLane) release() { <-l.slots }

// runItem calls the method for one item and records its outcome. A call refused before it
// reached the backend (a limit, an open breaker) waits and runs again; shutting down leaves the
// item without an outcome, to run at the next start.
func (r *batchRun) runItem(ctx context.Context, idx int64, raw []byte, prev *batchResult, uncertain bool) {
	h := r.hub
	job := r.snapshot()
	res := &batchResult{Gen: job.Retries, Attempts: 1}
	if prev != nil {
		res.Attempts = prev.Attempts + 1
	}
	var in batchInput
	if err := json.Unmarshal(raw, &in); err != nil {
		in.Err = "the stored input cannot be read"
	}
	m := h.srv.gen.Load().methods[job.Method]
	switch {
	case in.Err != "":
		r.record(idx, res, nil, status.Error(codes.InvalidArgument, in.Err))
		return
	case m == nil:
		r.record(idx, res, nil, status.Errorf(codes.Unimplemented, "%s is no longer served by this bridge", job.Method))
		return
	}
	g := h.srv.gen.Load()
	req := m.newInput()
	if err := (jsonUnmarshalWith(g.types)).Unmarshal(in.JSON, req); err != nil {
		r.record(idx, res, nil, status.Error(codes.InvalidArgument, lineText(in.Line, jsonError(req, in.JSON, err).Error())))
		return
	}
	dedup := h.dedupField(job.Method, m)
	if dedup != nil && req.ProtoReflect().Get(dedup).String() == "" {
		req.ProtoReflect().Set(dedup, protoreflect.ValueOfString(fmt.Sprintf("%s-%d", job.ID, idx)))
	}
	// An item of a method that is not safe to repeat and that the backend does not
	// de-duplicate is marked started (in the store, many items in one write) before its call;
	// one found marked and without an outcome after a restart or a takeover may have been
	// carried out, so it is not repeated. Other items carry nothing: running them again is
	// harmless (safe methods) or de-duplicated by the backend (idempotency_field).
	marked := r.marked(m)
	if uncertain {
		res.Unknown = true
		st := status.New(codes.Unknown, "the bridge stopped while this item's call was in flight, so it may or may not have been carried out; it is not repeated (the backend does not de-duplicate it): check the backend's state, then RetryBatch with include_outcome_unknown if it was not")
		if ds, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "BATCH_OUTCOME_UNKNOWN", Domain: "agentbridge", Metadata: map[string]string{adapters.MetaOutcome: "unknown", "batch": job.ID}}); err == nil {
			st = ds
		}
		r.record(idx, res, nil, st.Err())
		return
	}
	if r.refusal != nil {
		r.record(idx, res, nil, r.refusal)
		return
	}
	if marked {
		if err := r.mark(ctx, idx, job.Retries); err != nil {
			return // not marked, not run: it runs at the next start or on the replica that takes over
		}
	}
	md := metadata.MD{"x-batch-id": {job.ID}}
	cuttable := safeToRepeat(m.desc)
	wait := 50 * time.Millisecond
	for {
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.config().ItemTimeout)
		stop := context.AfterFunc(ctx, func() {
			if cuttable {
				cancel() // a safe call may be cut short; others finish and are recorded
			}
		})
		callCtx, _ = callContext(callCtx, SurfaceBatch, m.procedure, md)
		if r.principal != nil {
			callCtx = withPrincipal(callCtx, r.principal)
		}
		resp, err := h.srv.call(callCtx, m, proto.Clone(req))
		stop()
		cancel()
		if err != nil && ctx.Err() != nil && (cuttable || notSent(err)) {
			if marked {
				r.unmark(idx) // never sent: it may run at the next start
			}
			return // stopped: runs at the next start, or not at all once cancelled
		}
		if err != nil && notSent(err) {
			// Refused before it reached the backend: wait as the refusal says, then again.
			delay := wait
			if d := retryDelay(err); d > 0 {
				delay = d
			}
			select {
			case <-ctx.Done():
				if marked {
					r.unmark(idx)
				}
				return
			case <-time.After(delay):
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		r.record(idx, res, resp, err)
		return
	}
}

// record stores an item's outcome, then counts it.
func (r *batchRun) record(idx int64, res *batchResult, resp proto.Message, err error) {
	h := r.hub
	if err != nil {
		st := status.Convert(err)
		res.State = int32(agentbridgev1.BatchItemState_BATCH_ITEM_STATE_FAILED)
		res.Code = int32(st.Code())
		res.Status, _ = proto.Marshal(st.Proto())
		res.Unknown = res.Unknown || outcomeUnknown(st)
	} else {
		res.State = int32(agentbridgev1.BatchItemState_BATCH_ITEM_STATE_SUCCEEDED)
		data, merr := h.srv.gen.Load().jsonEncoder().Marshal(resp)
		if merr == nil {
			res.Response = data
		} else {
			// The call happened (retrying it could repeat a side effect), but its response
			// cannot be shown: say so on the item rather than show a success with no data.
			res.Status, _ = proto.Marshal(&spb.Status{Code: int32(codes.OK), Message: "the call succeeded, but its response cannot be written as JSON: " + merr.Error()})
		}
	}
	data, merr := json.Marshal(res)
	if merr != nil {
		return
	}
	r.outcomes <- batchOutcome{kv: store.KV{Key: batchKey(idx), Value: data}, ok: res.State == int32(agentbridgev1.BatchItemState_BATCH_ITEM_STATE_SUCCEEDED)}
}

// batchOutcome is an item's stored outcome on its way to the store.
type batchOutcome struct {
	kv store.KV
	ok bool
}

// writeOutcomes stores outcomes as they come, those that arrive together in one write, then
// counts them. An item whose outcome is not stored yet when the bridge stops runs again at the
// next start, under the same idempotency key (or the backend's de-duplication), so writing
// apart from the call costs nothing in safety and takes a write off every item's path.
func (r *batchRun) writeOutcomes() {
	defer close(r.written)
	h := r.hub
	var page []batchOutcome
	for first := range r.outcomes {
		page = append(page[:0], first)
	more:
		for len(page) < 512 {
			select {
			case o, ok := <-r.outcomes:
				if !ok {
					break more
				}
				page = append(page, o)
			default:
				break more
			}
		}
		kvs := make([]store.KV, len(page))
		for i, o := range page {
			kvs[i] = o.kv
		}
		if !r.mayWrite() {
			h.log.Warn("batches: item outcomes dropped: this replica lost the job's lease (the replica that took it over runs those items or reports them unknown)", "batch", r.job.ID, "items", len(kvs))
			continue
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), 30*time.Second)
		if err := h.st.Put(ctx, batchResultsTable(r.job.ID), kvs...); err != nil {
			h.log.Error("batches: item outcomes could not be stored; those items run again at the next start", "batch", r.job.ID, "items", len(kvs), "err", err)
			cancel()
			continue
		}
		for _, o := range page {
			if o.ok {
				r.succeeded.Add(1)
			} else {
				r.failed.Add(1)
			}
		}
		_ = r.save(ctx, false)
		cancel()
		r.notify()
	}
}

func lineText(line int64, msg string) string {
	if line > 0 {
		return fmt.Sprintf("line %d: %s", line, msg)
	}
	return msg
}

// retryDelay returns the RetryInfo delay of err, or 0.
func retryDelay(err error) time.Duration {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return min(ri.GetRetryDelay().AsDuration(), 30*time.Second)
		}
	}
	return 0
}

// jsonUnmarshalWith is the JSON form every surface reads, resolving Any types through types.
func jsonUnmarshalWith(types detailTypes) protojson.UnmarshalOptions {
	u := jsonUnmarshal
	u.Resolver = types
	return u
}
