package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/server/toolschema"
)

// This file makes a call with side effects safe to retry: a call of a method whose
// idempotency_level is not NO_SIDE_EFFECTS or IDEMPOTENT that carries an idempotency key runs
// at most once per key (for one principal and method) within a TTL. A retry gets the first
// call's outcome, the same response or the same error status; a duplicate arriving while the
// first runs waits for it. The key is the Idempotency-Key header on REST and Connect,
// idempotency-key metadata on gRPC, and the idempotency_key argument (or the header) on MCP.

// HeaderIdempotencyKey carries a call's idempotency key (gRPC metadata keys are lower case).
const HeaderIdempotencyKey = "idempotency-key"

// HeaderIdempotentReplayed is set to "true" on a response that repeats an earlier call's
// outcome instead of running the call.
const HeaderIdempotentReplayed = "idempotent-replayed"

// idempotencyArgument is the MCP tool argument that carries the key.
const idempotencyArgument = "idempotency_key"

// maxIdempotencyKey bounds a key's length; longer keys are refused.
const maxIdempotencyKey = 255

// IdempotencyOptions configure idempotency keys (config idempotency:).
type IdempotencyOptions struct {
	// Disabled ignores idempotency keys: every call runs.
	Disabled bool `yaml:"disabled"`
	// TTL is how long a call's outcome is kept for its key. Default 24h.
	TTL time.Duration `yaml:"ttl"`
	// Lease is how long a call may hold its key before it has an outcome; a duplicate that
	// finds the key still held after that (the bridge running the first call died) runs the
	// call itself. Keep it above the longest call (timeout × attempts). Default 2m.
	Lease time.Duration `yaml:"lease"`
	// OnStoreError says what a call with a key does when the store (Redis) cannot be reached:
	// closed (default) refuses it with Unavailable, so no call can run twice; open runs it
	// without the protection.
	OnStoreError string `yaml:"on_store_error"`
}

// Defaults of IdempotencyOptions, and the values of OnStoreError.
const (
	DefaultIdempotencyTTL   = 24 * time.Hour
	DefaultIdempotencyLease = 2 * time.Minute
	FailClosed              = "closed"
	FailOpen                = "open"
)

func (o IdempotencyOptions) withDefaults() IdempotencyOptions {
	if o.TTL <= 0 {
		o.TTL = DefaultIdempotencyTTL
	}
	if o.Lease <= 0 {
		o.Lease = DefaultIdempotencyLease
	}
	if o.OnStoreError == "" {
		o.OnStoreError = FailClosed
	}
	return o
}

// Check reports settings that cannot be used.
func (o IdempotencyOptions) Check() error {
	var errs []error
	if o.TTL < 0 || o.Lease < 0 {
		errs = append(errs, errors.New("idempotency: ttl and lease must not be negative"))
	}
	switch o.OnStoreError {
	case "", FailClosed, FailOpen:
	default:
		errs = append(errs, fmt.Errorf("idempotency.on_store_error %q: use closed or open", o.OnStoreError))
	}
	return errors.Join(errs...)
}

// IdempotencyStore keeps idempotency records: opaque values under keys, with expiry. The
// in-memory one (the default) serves one process; the Redis one (config redis:) is shared by
// replicas, so a retry that reaches another replica still gets the first outcome.
type IdempotencyStore interface {
	// Claim stores value under key for lease unless key holds something; it returns claimed
	// true, or what key holds. It is atomic: of two concurrent claims, one wins.
	Claim(ctx context.Context, key string, value []byte, lease time.Duration) (existing []byte, claimed bool, err error)
	// Replace sets key to value for ttl, or deletes key when value is nil, if key still holds
	// old.
	Replace(ctx context.Context, key string, old, value []byte, ttl time.Duration) error
}

// WithIdempotency sets how idempotency keys are honoured. Default: on, in memory, a 24h TTL,
// closed when the store fails.
func WithIdempotency(o IdempotencyOptions) Option {
	return func(opts *options) { opts.idempotency = o }
}

// WithIdempotencyStore sets where idempotency records are kept. Default: process memory
// (Config.Build uses Redis when the config has redis:).
func WithIdempotencyStore(s IdempotencyStore) Option {
	return func(opts *options) { opts.idemStore = s }
}

// memoryIdempotency is an IdempotencyStore in process memory.
type memoryIdempotency struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]idemEntry
	sweepAt int // sweep expired entries when the map grows to this size
}

type idemEntry struct {
	value   []byte
	expires time.Time
}

func newMemoryIdempotency() *memoryIdempotency {
	return &memoryIdempotency{now: time.Now, entries: map[string]idemEntry{}, sweepAt: 1024}
}

func (m *memoryIdempotency) Claim(_ context.Context, key string, value []byte, lease time.Duration) ([]byte, bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok && now.Before(e.expires) {
		return e.value, false, nil
	}
	if len(m.entries) >= m.sweepAt {
		for k, e := range m.entries {
			if !now.Before(e.expires) {
				delete(m.entries, k)
			}
		}
		m.sweepAt = max(1024, 2*len(m.entries)) // amortized: the map at most doubles between sweeps
	}
	m.entries[key] = idemEntry{value: value, expires: now.Add(lease)}
	return nil, true, nil
}

func (m *memoryIdempotency) Replace(_ context.Context, key string, old, value []byte, ttl time.Duration) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; !ok || !bytes.Equal(e.value, old) {
		return nil
	}
	if value == nil {
		delete(m.entries, key)
		return nil
	}
	m.entries[key] = idemEntry{value: value, expires: now.Add(ttl)}
	return nil
}

// Records are a state byte and the request's fingerprint (SHA-256 of its deterministic
// encoding), then for a pending claim a random token (so only its owner replaces it), and for
// an outcome the status (google.rpc.Status, length-prefixed) and the response.
const (
	recordPending = 'P'
	recordDone    = 'D'
	fingerprintN  = sha256.Size
)

func pendingRecord(fp [fingerprintN]byte) []byte {
	rec := make([]byte, 0, 1+fingerprintN+16)
	rec = append(append(rec, recordPending), fp[:]...)
	var token [16]byte
	_, _ = rand.Read(token[:])
	return append(rec, token[:]...)
}

func doneRecord(fp [fingerprintN]byte, resp proto.Message, err error) ([]byte, error) {
	var st, body []byte
	var merr error
	if err != nil {
		st, merr = proto.Marshal(status.Convert(err).Proto())
	} else if resp != nil {
		body, merr = proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	}
	if merr != nil {
		return nil, merr
	}
	rec := make([]byte, 0, 1+fingerprintN+binary.MaxVarintLen64+len(st)+len(body))
	rec = append(append(rec, recordDone), fp[:]...)
	rec = binary.AppendUvarint(rec, uint64(len(st)))
	return append(append(rec, st...), body...), nil
}

// parseDone returns an outcome record's status (nil for success) and response bytes.
func parseDone(rec []byte) (*spb.Status, []byte, error) {
	rest := rec[1+fingerprintN:]
	n, k := binary.Uvarint(rest)
	if k <= 0 || uint64(len(rest)-k) < n {
		return nil, nil, errors.New("a malformed idempotency record")
	}
	rest = rest[k:]
	if n == 0 {
		return nil, rest, nil
	}
	st := new(spb.Status)
	if err := proto.Unmarshal(rest[:n], st); err != nil {
		return nil, nil, err
	}
	return st, nil, nil
}

// idempotencyKey returns the call's key, "" for none: the header or metadata, or the MCP
// argument the tool handler moved into the context.
func idempotencyKey(ctx context.Context) string {
	if k, ok := ctx.Value(idempotencyArgKey{}).(string); ok {
		return k
	}
	if vs := metadata.ValueFromIncomingContext(ctx, HeaderIdempotencyKey); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

type idempotencyArgKey struct{}

// checkIdempotencyKey refuses a key that is empty, too long or not printable ASCII.
func checkIdempotencyKey(k string) error {
	if k == "" || len(k) > maxIdempotencyKey {
		return fmt.Errorf("the idempotency key must be 1 to %d characters", maxIdempotencyKey)
	}
	for i := range len(k) {
		if k[i] < 0x21 || k[i] > 0x7e {
			return errors.New("the idempotency key must be printable ASCII without spaces (a UUID is a good key)")
		}
	}
	return nil
}

// idempotencyInterceptor runs a keyed call of a method with side effects at most once per key.
// It runs last, after validation: a request refused before it was never run and holds no key.
func (s *Server) idempotencyInterceptor(o IdempotencyOptions, store IdempotencyStore) grpc.UnaryServerInterceptor {
	o = o.withDefaults()
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		key := idempotencyKey(ctx)
		if key == "" {
			return handler(ctx, req)
		}
		m := s.gen.Load().methods[info.FullMethod]
		if m == nil || m.stream != nil {
			return handler(ctx, req)
		}
		if safeToRepeat(m.desc) {
			return handler(ctx, req) // safe to repeat as it is
		}
		if err := checkIdempotencyKey(key); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		msg, _ := req.(proto.Message)
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		if err != nil {
			return nil, status.Error(codes.Internal, "the request could not be fingerprinted")
		}
		fp := sha256.Sum256(body)
		principal := anonymous
		if p := PrincipalFromContext(ctx); p != nil {
			principal = p.ID
		}
		scope := sha256.Sum256([]byte(principal + "\x00" + info.FullMethod + "\x00" + key))
		storeKey := hex.EncodeToString(scope[:])
		return s.runOnce(ctx, o, store, m, storeKey, fp, req, handler)
	}
}

// runOnce claims storeKey and runs the call, or waits for and returns the outcome of the call
// that holds it.
func (s *Server) runOnce(ctx context.Context, o IdempotencyOptions, store IdempotencyStore, m *method, storeKey string, fp [fingerprintN]byte, req any, handler grpc.UnaryHandler) (any, error) {
	pending := pendingRecord(fp)
	wait := time.Millisecond
	for {
		existing, claimed, err := store.Claim(ctx, storeKey, pending, o.Lease)
		if err != nil {
			s.metrics.idempotency("store_error")
			if o.OnStoreError == FailOpen {
				s.log.Warn("the idempotency store cannot be reached; the call runs unprotected (on_store_error: open)", "method", m.procedure, "err", err)
				return handler(ctx, req)
			}
			s.log.Warn("call refused: the idempotency store cannot be reached (on_store_error: closed)", "method", m.procedure, "err", err)
			return nil, idempotencyUnavailable()
		}
		if claimed {
			return s.runClaimed(ctx, o, store, m, storeKey, fp, pending, req, handler)
		}
		if len(existing) < 1+fingerprintN || !bytes.Equal(existing[1:1+fingerprintN], fp[:]) {
			s.metrics.idempotency("conflict")
			st := status.New(codes.InvalidArgument, "this idempotency key was used for a different request to this method; use a new key for a new request")
			if ds, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "IDEMPOTENCY_KEY_REUSED", Domain: "agentbridge"}); err == nil {
				st = ds
			}
			return nil, st.Err()
		}
		if existing[0] == recordDone {
			return s.replay(ctx, m, existing)
		}
		// Another call with this key is running: wait for its outcome, polling with backoff up
		// to 50ms, within this caller's deadline.
		select {
		case <-ctx.Done():
			return nil, status.Error(status.FromContextError(ctx.Err()).Code(), "the first call with this idempotency key is still running; retry with the same key to get its outcome")
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// runClaimed runs the call that holds the key and records its outcome. The call is not
// cancelled when its caller goes away (it keeps the caller's deadline): its outcome is what
// the caller's retry will get.
func (s *Server) runClaimed(ctx context.Context, o IdempotencyOptions, store IdempotencyStore, m *method, storeKey string, fp [fingerprintN]byte, pending []byte, req any, handler grpc.UnaryHandler) (any, error) {
	runCtx := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(runCtx, dl)
		defer cancel()
	}
	resp, err := handler(runCtx, req)
	storeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err != nil && notSent(err) {
		// Refused before reaching the backend (a limit, an open breaker): nothing happened, so
		// the key is released and a retry runs the call.
		if rerr := store.Replace(storeCtx, storeKey, pending, nil, 0); rerr != nil {
			s.metrics.idempotency("store_error")
			s.log.Warn("an idempotency key could not be released; a retry waits until its lease ends", "method", m.procedure, "lease", o.Lease, "err", rerr)
		}
		s.metrics.idempotency("released")
		return resp, err
	}
	msg, _ := resp.(proto.Message)
	rec, merr := doneRecord(fp, msg, err)
	if merr == nil {
		merr = store.Replace(storeCtx, storeKey, pending, rec, o.TTL)
	}
	if merr != nil {
		s.metrics.idempotency("store_error")
		s.log.Error("the outcome of a call with an idempotency key could not be recorded; a retry after the lease may run it again", "method", m.procedure, "lease", o.Lease, "err", merr)
	}
	s.metrics.idempotency("executed")
	return resp, err
}

// notSent reports whether err says the request never reached the backend.
func notSent(err error) bool {
	st, _ := status.FromError(err)
	return errorInfoOf(st).GetMetadata()["request_sent"] == "false"
}

// replay returns the outcome an earlier call with the key recorded.
func (s *Server) replay(ctx context.Context, m *method, rec []byte) (any, error) {
	s.metrics.idempotency("replayed")
	_ = grpc.SetHeader(ctx, metadata.Pairs(HeaderIdempotentReplayed, "true"))
	st, body, err := parseDone(rec)
	if err != nil {
		return nil, status.Error(codes.Internal, "the recorded outcome of this idempotency key cannot be read")
	}
	if st != nil {
		return nil, status.FromProto(st).Err()
	}
	resp := adapters.MessageType(m.desc.Output()).New().Interface()
	if err := proto.Unmarshal(body, resp); err != nil {
		return nil, status.Error(codes.Internal, "the recorded outcome of this idempotency key cannot be read")
	}
	return resp, nil
}

func idempotencyUnavailable() error {
	st := status.New(codes.Unavailable, "the idempotency store cannot be reached, so a call with an idempotency key is not run (it could run twice); retry later with the same key")
	if ds, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: "IDEMPOTENCY_STORE_UNAVAILABLE", Domain: "agentbridge", Metadata: map[string]string{"request_sent": "false"}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)},
	); err == nil {
		st = ds
	}
	return st.Err()
}

// takesIdempotencyKey reports whether a method's MCP tool takes the idempotency_key argument: a
// unary method with side effects, whose request has no field of that name.
func (s *Server) takesIdempotencyKey(m *method) bool {
	if s.opts.idempotency.Disabled || m.stream != nil || safeToRepeat(m.desc) || toolschema.Wrapped(m.desc.Input()) {
		return false
	}
	in := m.desc.Input().Fields()
	return in.ByName(idempotencyArgument) == nil && in.ByJSONName(idempotencyArgument) == nil && in.ByJSONName("idempotencyKey") == nil
}

// takeIdempotencyKey removes the idempotency_key argument from a tool's arguments.
func takeIdempotencyKey(args json.RawMessage) (json.RawMessage, string, *status.Status) {
	// Most calls carry no key; its text (or an escape, which could spell it) must be there for
	// the arguments to have it, and looking costs less than tokenizing them.
	if !bytes.Contains(args, []byte(idempotencyArgument)) && !bytes.Contains(args, []byte(`\u`)) {
		return args, "", nil
	}
	rest, value, found, err := takeMember(args, idempotencyArgument)
	if err != nil || !found {
		return args, "", nil // the schema check explains malformed arguments
	}
	if string(bytes.TrimSpace(value)) == "null" {
		return rest, "", nil // not set, as openai-strict hosts say it
	}
	var key string
	if json.Unmarshal(value, &key) != nil {
		return nil, "", status.New(codes.InvalidArgument, "idempotency_key must be a string, such as a UUID")
	}
	if err := checkIdempotencyKey(key); err != nil {
		return nil, "", status.New(codes.InvalidArgument, "idempotency_key: "+err.Error())
	}
	return rest, key, nil
}

// errorInfoOf returns a status's ErrorInfo, or nil.
func errorInfoOf(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}
