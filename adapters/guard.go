package adapters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// This file protects one backend from its callers and its callers from it, once for every kind
// and every surface: an outbound rate limit, a concurrency cap (bulkhead), a circuit breaker
// and retries of the failures that are safe to repeat. Config.BuildServices wraps every bound
// method in its backend's Guard; a method written in Go can use one too.

// RetryPolicy says how a failed call is repeated (backend config retry:). A call is repeated
// only when that cannot do harm: always when it failed before the request was sent (a refused
// connection, a name that does not resolve), and otherwise only for methods whose
// idempotency_level is NO_SIDE_EFFECTS or IDEMPOTENT, on a failure that may pass (Unavailable,
// or the backend's own timeout while the caller still has time). Waits between attempts are
// exponential with full jitter and end before the caller's deadline.
type RetryPolicy struct {
	// MaxAttempts caps the attempts per call, the first included; 1 turns retries off.
	// Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// InitialBackoff is the cap on the wait before the second attempt; each later wait's cap
	// doubles. The wait is drawn uniformly below the cap (full jitter). Default 50ms.
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps any wait. Default 1s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Defaults of RetryPolicy and BreakerPolicy.
const (
	DefaultRetryAttempts    = 3
	DefaultInitialBackoff   = 50 * time.Millisecond
	DefaultMaxBackoff       = time.Second
	DefaultBreakerFailures  = 5
	DefaultBreakerOpenFor   = 30 * time.Second
	DefaultBreakerHalfOpen  = 1
	maxRetryAttemptsAllowed = 10
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryAttempts
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = DefaultInitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	return p
}

// Check reports a policy that cannot be used.
func (p RetryPolicy) Check() error {
	var errs []error
	if p.MaxAttempts < 0 || p.MaxAttempts > maxRetryAttemptsAllowed {
		errs = append(errs, fmt.Errorf("retry.max_attempts %d: use 1 to %d (1: no retries)", p.MaxAttempts, maxRetryAttemptsAllowed))
	}
	if p.InitialBackoff < 0 || p.MaxBackoff < 0 {
		errs = append(errs, errors.New("retry: backoffs must not be negative"))
	}
	if p.InitialBackoff > 0 && p.MaxBackoff > 0 && p.InitialBackoff > p.MaxBackoff {
		errs = append(errs, fmt.Errorf("retry.initial_backoff %s is above max_backoff %s", p.InitialBackoff, p.MaxBackoff))
	}
	return errors.Join(errs...)
}

// BreakerPolicy configures a backend's circuit breaker (backend config breaker:). After
// Failures consecutive failures that say the backend is in trouble (Unavailable,
// DeadlineExceeded) it opens: calls fail at once with Unavailable for OpenFor, then HalfOpen
// trial calls go through, and the breaker closes when they succeed.
type BreakerPolicy struct {
	// Disabled turns the breaker off.
	Disabled bool `yaml:"disabled"`
	// Failures is how many consecutive failures open the breaker. Default 5.
	Failures int `yaml:"failures"`
	// OpenFor is how long the breaker stays open before trial calls. Default 30s.
	OpenFor time.Duration `yaml:"open_for"`
	// HalfOpen is how many trial calls may run while the breaker is half-open. Default 1.
	HalfOpen int `yaml:"half_open"`
}

func (p BreakerPolicy) withDefaults() BreakerPolicy {
	if p.Failures <= 0 {
		p.Failures = DefaultBreakerFailures
	}
	if p.OpenFor <= 0 {
		p.OpenFor = DefaultBreakerOpenFor
	}
	if p.HalfOpen <= 0 {
		p.HalfOpen = DefaultBreakerHalfOpen
	}
	return p
}

// Check reports a policy that cannot be used.
func (p BreakerPolicy) Check() error {
	if p.Failures < 0 || p.OpenFor < 0 || p.HalfOpen < 0 {
		return errors.New("breaker: failures, open_for and half_open must not be negative")
	}
	return nil
}

// BreakerState is a breaker's state as readiness and metrics show it.
type BreakerState struct {
	// State is closed, half-open or open.
	State string
	// Since is when the breaker entered the state (zero for a breaker that never changed).
	Since time.Time
	// Until is when an open breaker lets trial calls through.
	Until time.Time
}

// GuardStats are a guard's counters since it was made.
type GuardStats struct {
	InFlight       int64            // calls holding a concurrency slot now (all calls when there is no cap)
	Concurrency    int              // the cap, 0 for none
	Retries        int64            // attempts after the first
	Rejected       map[string]int64 // calls not sent, by why: rate, concurrency, circuit_open
	BreakerOpened  int64            // times the breaker opened
	LimiterErrored int64            // rate checks that failed and let the call through
}

// Guard protects one backend. Build it with NewGuard; wrap implementations with Unary and
// Stream. It is safe for concurrent use.
type Guard struct {
	backend Backend
	log     atomic.Pointer[slog.Logger]
	limiter Limiter
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	jitter  func(n int64) int64 // uniform in [0, n)

	slots   chan struct{} // nil: no cap
	breaker *gobreaker.TwoStepCircuitBreaker[proto.Message]
	rateKey string // the outbound budget's key in the limiter
	observe atomic.Pointer[func(time.Duration, error)]

	inFlight      atomic.Int64
	retries       atomic.Int64
	rejectRate    atomic.Int64
	rejectSlots   atomic.Int64
	rejectOpen    atomic.Int64
	opened        atomic.Int64
	limiterErrors atomic.Int64

	probeClient *http.Client // nil without a probe

	mu         sync.Mutex
	state      BreakerState
	probe      ProbeState
	probeFails int
	watchers   []func()
	openTimer  *time.Timer
	closed     bool // Close was called: no more timers
}

// GuardOption configures a Guard.
type GuardOption func(*Guard)

// WithGuardLogger sets where the guard logs rejections and breaker changes. Default
// slog.Default().
func WithGuardLogger(l *slog.Logger) GuardOption { return func(g *Guard) { g.log.Store(l) } }

// SetLogger sets where the guard logs from now on (the server gives guards its own logger).
func (g *Guard) SetLogger(l *slog.Logger) { g.log.Store(l) }

func (g *Guard) logger() *slog.Logger { return g.log.Load() }

// WithGuardLimiter sets the Limiter the outbound rate is kept in. Default: a MemoryLimiter of
// the guard's own.
func WithGuardLimiter(l Limiter) GuardOption { return func(g *Guard) { g.limiter = l } }

// WithGuardClock sets the guard's clock and how it waits between attempts (tests pass fakes).
// Default time.Now and a timer that stops when the context ends.
func WithGuardClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) GuardOption {
	return func(g *Guard) { g.now, g.sleep = now, sleep }
}

// WithGuardJitter sets how backoff waits are drawn: uniform in [0, n). Default math/rand/v2.
func WithGuardJitter(f func(n int64) int64) GuardOption { return func(g *Guard) { g.jitter = f } }

// NewGuard returns the guard of a backend, with b's settings (zero fields take their defaults).
func NewGuard(b Backend, opts ...GuardOption) *Guard {
	b = b.WithDefaults()
	g := &Guard{backend: b, now: time.Now, sleep: sleepCtx, jitter: rand.Int64N, state: BreakerState{State: "closed"}}
	g.log.Store(slog.Default())
	for _, o := range opts {
		o(g)
	}
	if g.limiter == nil {
		g.limiter = NewMemoryLimiter(g.now)
	}
	if b.Probe.Interval > 0 {
		g.probeClient = newProbeClient(b)
	}
	g.rateKey = "backend:" + b.Name
	if b.Concurrency > 0 {
		g.slots = make(chan struct{}, b.Concurrency)
	}
	if !b.Breaker.Disabled {
		p := b.Breaker
		g.breaker = gobreaker.NewTwoStepCircuitBreaker[proto.Message](gobreaker.Settings{
			Name:        b.Name,
			MaxRequests: uint32(p.HalfOpen), //nolint:gosec // checked positive
			Timeout:     p.OpenFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(p.Failures) }, //nolint:gosec // checked positive
			IsSuccessful: func(err error) bool {
				st := status.Convert(err)
				switch st.Code() {
				case codes.Unavailable, codes.DeadlineExceeded:
					// A SOAP fault, even one a fault rule maps to Unavailable ("the member
					// state's service is down"), is an answer: the backend itself is up.
					_, answered := errorInfoOf(st).GetMetadata()["fault_code"]
					return answered
				}
				return true
			},
			// A caller that went away says nothing about the backend.
			IsExcluded:    func(err error) bool { return errors.Is(err, errNotSent) || status.Code(err) == codes.Canceled },
			OnStateChange: g.stateChanged,
		})
	}
	return g
}

// SetObserver sets a function called after every attempt sent to the backend, with its duration
// and error (the server records them as metrics).
func (g *Guard) SetObserver(f func(d time.Duration, err error)) { g.observe.Store(&f) }

// Backend returns the settings the guard was made with, defaults applied.
func (g *Guard) Backend() Backend { return g.backend }

// Name returns the backend's name.
func (g *Guard) Name() string { return g.backend.Name }

// Breaker returns the breaker's state; closed when the breaker is disabled.
func (g *Guard) Breaker() BreakerState {
	if g.breaker != nil {
		g.breaker.State() // moves an open breaker whose time is up to half-open
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// Stats returns the guard's counters.
func (g *Guard) Stats() GuardStats {
	return GuardStats{
		InFlight:    g.inFlight.Load(),
		Concurrency: g.backend.Concurrency,
		Retries:     g.retries.Load(),
		Rejected: map[string]int64{
			"rate":         g.rejectRate.Load(),
			"concurrency":  g.rejectSlots.Load(),
			"circuit_open": g.rejectOpen.Load(),
		},
		BreakerOpened:  g.opened.Load(),
		LimiterErrored: g.limiterErrors.Load(),
	}
}

// OnChange calls f (on its own goroutine) whenever the breaker's state changes, including an
// open breaker whose time is up. The server uses it to update gRPC health.
func (g *Guard) OnChange(f func()) {
	g.mu.Lock()
	g.watchers = append(g.watchers, f)
	g.mu.Unlock()
}

// Close stops the guard's timer; the guard still serves calls.
func (g *Guard) Close() {
	g.mu.Lock()
	g.closed = true
	if g.openTimer != nil {
		g.openTimer.Stop()
	}
	g.mu.Unlock()
}

func (g *Guard) stateChanged(_ string, from, to gobreaker.State) {
	now := g.now()
	g.mu.Lock()
	g.state = BreakerState{State: to.String(), Since: now}
	if to == gobreaker.StateOpen {
		g.state.Until = now.Add(g.backend.Breaker.OpenFor)
		g.opened.Add(1)
		if g.openTimer != nil {
			g.openTimer.Stop()
		}
		// gobreaker moves to half-open lazily, on the next call or State; watchers (gRPC health
		// Watch) should hear of it without one.
		if !g.closed {
			g.openTimer = time.AfterFunc(g.backend.Breaker.OpenFor, func() { g.breaker.State() })
		}
	}
	watchers := append([]func(){}, g.watchers...)
	g.mu.Unlock()
	lvl := slog.LevelInfo
	if to == gobreaker.StateOpen {
		lvl = slog.LevelWarn
	}
	g.logger().Log(context.Background(), lvl, "backend circuit breaker changed state", "backend", g.backend.Name, "from", from.String(), "to", to.String())
	for _, f := range watchers {
		go f()
	}
}

// Unary wraps the implementation of method md, bound to this guard's backend.
func (g *Guard) Unary(md protoreflect.MethodDescriptor, u Unary) Unary {
	safe := repeatable(md)
	return func(ctx context.Context, req proto.Message) (proto.Message, error) {
		var last error
		for attempt := 1; ; attempt++ {
			resp, err := g.attempt(ctx, func(ctx context.Context) (proto.Message, error) { return u(ctx, req) })
			if err == nil {
				return resp, nil
			}
			if last != nil && notSentByGuard(err) {
				return nil, last // the breaker opened or the backend got busy while retrying: the backend's own failure says more
			}
			last = err
			if attempt >= g.backend.Retry.MaxAttempts || !retryable(ctx, err, safe) {
				return nil, err
			}
			if !g.backoff(ctx, attempt) {
				return nil, err
			}
			g.retries.Add(1)
			g.logger().Info("retrying a backend call", "backend", g.backend.Name, "method", string(md.FullName()), "attempt", attempt+1, "code", status.Code(err).String())
		}
	}
}

// Stream wraps the implementation of server-streaming method md. A stream is retried only when
// it failed before sending anything to the caller.
func (g *Guard) Stream(md protoreflect.MethodDescriptor, s ServerStream) ServerStream {
	safe := repeatable(md)
	return func(ctx context.Context, req proto.Message, send func(proto.Message) error) error {
		var last error
		for attempt := 1; ; attempt++ {
			sent := false
			_, err := g.attempt(ctx, func(ctx context.Context) (proto.Message, error) {
				return nil, s(ctx, req, func(m proto.Message) error { sent = true; return send(m) })
			})
			if err == nil {
				return nil
			}
			if last != nil && notSentByGuard(err) {
				return last
			}
			last = err
			if sent || attempt >= g.backend.Retry.MaxAttempts || !retryable(ctx, err, safe) || !g.backoff(ctx, attempt) {
				return err
			}
			g.retries.Add(1)
		}
	}
}

// attempt sends one attempt through the breaker, the rate limit and the bulkhead, in that
// order: a call the open breaker refuses spends no token and waits for no slot.
func (g *Guard) attempt(ctx context.Context, call func(context.Context) (proto.Message, error)) (proto.Message, error) {
	done := func(error) {}
	if g.breaker != nil {
		var err error
		if done, err = g.breaker.Allow(); err != nil {
			g.rejectOpen.Add(1)
			g.logger().Warn("call refused: the backend's circuit breaker is open", "backend", g.backend.Name)
			return nil, g.open()
		}
	}
	if r := g.backend.Rate; r.Limited() {
		after, ok, err := g.limiter.Take(ctx, g.rateKey, r)
		switch {
		case err != nil:
			g.limiterErrors.Add(1)
			g.logger().Warn("the outbound rate limit could not be checked; the call goes through", "backend", g.backend.Name, "err", err)
		case !ok:
			done(errNotSent)
			g.rejectRate.Add(1)
			g.logger().Warn("call refused: the backend's outbound rate limit is reached", "backend", g.backend.Name, "retry_after", after)
			return nil, g.busy(fmt.Sprintf("backend %s takes at most %g calls per second through this bridge, and that budget is spent", g.backend.Name, r.PerSecond), "rate", after)
		}
	}
	if g.slots != nil {
		if err := g.acquire(ctx); err != nil {
			done(errNotSent) // waiting for a slot says nothing about the backend
			return nil, err
		}
		defer func() { <-g.slots }()
	}
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	start := time.Now()
	resp, err := call(ctx)
	done(err)
	if f := g.observe.Load(); f != nil {
		(*f)(time.Since(start), err)
	}
	return resp, err
}

// errNotSent tells the breaker an attempt it allowed was not sent (the rate limit or the
// bulkhead refused it): neither a success nor a failure.
var errNotSent = errors.New("not sent")

// acquire takes a concurrency slot, waiting up to the queue timeout within the caller's
// deadline.
func (g *Guard) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(g.backend.QueueTimeout)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		g.rejectSlots.Add(1)
		g.logger().Warn("call gave up waiting for a slot under the backend's concurrency cap", "backend", g.backend.Name, "concurrency", g.backend.Concurrency, "err", ctx.Err())
		return status.FromContextError(ctx.Err()).Err()
	case <-timer.C:
		g.rejectSlots.Add(1)
		g.logger().Warn("call refused: the backend's concurrency cap is reached", "backend", g.backend.Name, "concurrency", g.backend.Concurrency, "waited", g.backend.QueueTimeout)
		return g.busy(fmt.Sprintf("backend %s already has %d calls in flight, its configured concurrency, and none finished within %s", g.backend.Name, g.backend.Concurrency, g.backend.QueueTimeout), "concurrency", time.Second)
	}
}

// busy is the ResourceExhausted status of a call the guard did not send.
func (g *Guard) busy(msg, limit string, after time.Duration) error {
	return WithRetryInfo(Errorf(g.backend.Name, ReasonBackendBusy, map[string]string{MetaRequestSent: "false", "limit": limit, "retry_after": retryAfterText(after)},
		"%s; retry after %s", msg, retryAfterText(after)), after)
}

// open is the Unavailable status of a call refused by an open breaker.
func (g *Guard) open() error {
	st := g.Breaker()
	after := st.Until.Sub(g.now())
	if after < 0 || st.State != "open" {
		after = 0 // half-open with its trial calls taken: the next may go through soon
	}
	md := map[string]string{MetaRequestSent: "false", "retry_after": retryAfterText(after)}
	msg := fmt.Sprintf("backend %s is failing, so the bridge is not sending it calls: its circuit breaker opened", g.backend.Name)
	if !st.Since.IsZero() {
		md["since"] = st.Since.UTC().Format(time.RFC3339)
		msg += " at " + md["since"]
	}
	msg += fmt.Sprintf(" after %d consecutive failures; retry after %s", g.backend.Breaker.Failures, retryAfterText(after))
	return WithRetryInfo(Errorf(g.backend.Name, ReasonCircuitOpen, md, "%s", msg), after)
}

// backoff waits before attempt+1: uniform in [0, min(max, initial·2^(attempt-1))). It reports
// false, without waiting, when the wait would end past the caller's deadline.
func (g *Guard) backoff(ctx context.Context, attempt int) bool {
	p := g.backend.Retry
	ceiling := p.InitialBackoff << min(attempt-1, 30)
	if ceiling <= 0 || ceiling > p.MaxBackoff {
		ceiling = p.MaxBackoff
	}
	d := time.Duration(g.jitter(int64(ceiling)))
	if deadline, ok := ctx.Deadline(); ok && g.now().Add(d).After(deadline) {
		return false
	}
	return g.sleep(ctx, d) == nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryable reports whether a failed attempt may be repeated: always when the request was not
// sent (and not refused by the guard itself), else only for a method safe to repeat, on a
// failure that may pass.
func retryable(ctx context.Context, err error, safe bool) bool {
	if ctx.Err() != nil {
		return false
	}
	st, _ := status.FromError(err)
	info := errorInfoOf(st)
	switch Reason(info.GetReason()) {
	case ReasonCircuitOpen, ReasonBackendBusy, ReasonBackendAuth, ReasonRequestNotEncodable, ReasonCanceled:
		return false
	}
	if info.GetMetadata()[MetaRequestSent] == "false" {
		return true
	}
	if _, answered := info.GetMetadata()["fault_code"]; answered {
		// A SOAP fault is the backend's answer, not a failure to reach it; a fault rule that
		// makes it Unavailable tells the agent to retry later, not the bridge to retry now.
		return false
	}
	if !safe {
		return false
	}
	switch st.Code() {
	case codes.Unavailable:
		return true
	case codes.DeadlineExceeded:
		return Reason(info.GetReason()) == ReasonBackendTimeout // the backend's own timeout; the caller's deadline is checked above
	}
	return false
}

func notSentByGuard(err error) bool {
	switch Reason(errorInfoOf(status.Convert(err)).GetReason()) {
	case ReasonCircuitOpen, ReasonBackendBusy:
		return true
	}
	return false
}

func errorInfoOf(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// repeatable reports whether md's idempotency_level is NO_SIDE_EFFECTS or IDEMPOTENT. The
// option is read by reflection, so descriptors loaded at run time work too.
func repeatable(md protoreflect.MethodDescriptor) bool {
	if md == nil || md.Options() == nil {
		return false
	}
	opts := md.Options().ProtoReflect()
	fd := opts.Descriptor().Fields().ByName("idempotency_level")
	if fd == nil || !opts.Has(fd) {
		return false
	}
	ev := fd.Enum().Values().ByNumber(opts.Get(fd).Enum())
	if ev == nil {
		return false
	}
	switch ev.Name() {
	case "NO_SIDE_EFFECTS", "IDEMPOTENT":
		return true
	}
	return false
}

// WithRetryInfo adds a google.rpc.RetryInfo detail saying when to call again to a status
// error. Surfaces render it: the Retry-After header on REST, the detail on gRPC and Connect,
// the text of an MCP error result.
func WithRetryInfo(err error, after time.Duration) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	if ds, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(after)}); derr == nil {
		return ds.Err()
	}
	return err
}

// retryAfterText is a wait for people and agents to read: whole seconds, rounded up, from 1s.
func retryAfterText(d time.Duration) string {
	return strconv.FormatInt(RetryAfterSeconds(d), 10) + "s"
}

// RetryAfterSeconds rounds a wait up to whole seconds, at least 1, as HTTP's Retry-After
// header takes it.
func RetryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(1, s)
}
