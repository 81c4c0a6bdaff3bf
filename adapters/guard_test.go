package adapters_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/agentbridge/agentbridge/adapters"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
)

var (
	getItem     = demov1.File_agentbridge_demo_v1_inventory_proto.Services().Get(0).Methods().ByName("GetItem")     // NO_SIDE_EFFECTS
	reserveItem = demov1.File_agentbridge_demo_v1_inventory_proto.Services().Get(0).Methods().ByName("ReserveItem") // has side effects
)

// fakeClock is a clock that moves only when told; sleeping on it records the wait and moves it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func quiet() adapters.GuardOption { return adapters.WithGuardLogger(slog.New(slog.DiscardHandler)) }

// scripted is an implementation that fails with errs in turn, then succeeds, counting calls.
func scripted(calls *atomic.Int64, errs ...error) adapters.Unary {
	return func(context.Context, proto.Message) (proto.Message, error) {
		n := calls.Add(1)
		if int(n) <= len(errs) {
			return nil, errs[n-1]
		}
		return &emptypb.Empty{}, nil
	}
}

var (
	refused  = adapters.Errorf("inv", adapters.ReasonBackendUnreachable, map[string]string{adapters.MetaRequestSent: "false"}, "backend inv refused the connection; try again later")
	reset    = adapters.Errorf("inv", adapters.ReasonBackendUnreachable, map[string]string{adapters.MetaRequestSent: "unknown"}, "backend inv closed the connection mid-call; try again later")
	badReply = adapters.Errorf("inv", adapters.ReasonBackendBadReply, map[string]string{"http_status": "503"}, "backend inv answered HTTP 503")
	timedOut = adapters.Errorf("inv", adapters.ReasonBackendTimeout, map[string]string{adapters.MetaRequestSent: "unknown"}, "backend inv did not answer in time")
	fault    = adapters.Errorf("inv", adapters.ReasonSOAPServerFault, nil, "backend inv failed")
	invalid  = adapters.Errorf("inv", adapters.ReasonSOAPClientFault, nil, "bad sku")
)

// TestGuardRetriesOnlyWhatIsSafe: a refused connection is retried for any method; a failure
// after sending only for a method safe to repeat, and only when it may pass.
func TestGuardRetriesOnlyWhatIsSafe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		method    protoreflect.MethodDescriptor
		errs      []error
		wantCalls int64
		wantCode  codes.Code
	}{
		{"refused, side effects: retried", reserveItem, []error{refused, refused}, 3, codes.OK},
		{"reset, side effects: not retried", reserveItem, []error{reset}, 1, codes.Unavailable},
		{"reset, read-only: retried", getItem, []error{reset}, 2, codes.OK},
		{"HTTP 503, read-only: retried", getItem, []error{badReply, badReply}, 3, codes.OK},
		{"HTTP 503, side effects: not retried", reserveItem, []error{badReply}, 1, codes.Unavailable},
		{"backend timeout, read-only: retried", getItem, []error{timedOut}, 2, codes.OK},
		{"server fault, read-only: not retried", getItem, []error{fault}, 1, codes.Internal},
		{"client fault: not retried", getItem, []error{invalid}, 1, codes.InvalidArgument},
		{"attempt cap: three refusals, three attempts", getItem, []error{refused, refused, refused}, 3, codes.Unavailable},
		{"a fault mapped to Unavailable, read-only: not retried", getItem, []error{faultUnavailable()}, 1, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			g := adapters.NewGuard(adapters.Backend{Name: "inv", Breaker: adapters.BreakerPolicy{Disabled: true}}, quiet(),
				adapters.WithGuardClock(clock.Now, clock.Sleep))
			var calls atomic.Int64
			_, err := g.Unary(tc.method, scripted(&calls, tc.errs...))(t.Context(), &emptypb.Empty{})
			if status.Code(err) != tc.wantCode || calls.Load() != tc.wantCalls {
				t.Errorf("got %v after %d calls, want %v after %d", err, calls.Load(), tc.wantCode, tc.wantCalls)
			}
			if got := g.Stats().Retries; got != tc.wantCalls-1 {
				t.Errorf("Stats().Retries = %d, want %d", got, tc.wantCalls-1)
			}
		})
	}
}

// TestGuardBackoff: waits are drawn below an exponential ceiling capped by max_backoff (full
// jitter), and a wait that would pass the caller's deadline is not started.
func TestGuardBackoff(t *testing.T) {
	t.Parallel()
	t.Run("exponential ceilings", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		var ceilings []time.Duration
		g := adapters.NewGuard(adapters.Backend{Name: "inv", Breaker: adapters.BreakerPolicy{Disabled: true},
			Retry: adapters.RetryPolicy{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}},
			quiet(), adapters.WithGuardClock(clock.Now, clock.Sleep),
			adapters.WithGuardJitter(func(n int64) int64 { ceilings = append(ceilings, time.Duration(n)); return n - 1 }))
		var calls atomic.Int64
		if _, err := g.Unary(getItem, scripted(&calls, refused, refused, refused, refused))(t.Context(), &emptypb.Empty{}); err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
		if len(ceilings) != len(want) {
			t.Fatalf("ceilings %v, want %v", ceilings, want)
		}
		for i := range want {
			if ceilings[i] != want[i] || clock.waits[i] != want[i]-1 {
				t.Errorf("wait %d: ceiling %v, waited %v; want ceiling %v", i, ceilings[i], clock.waits[i], want[i])
			}
		}
	})
	t.Run("within the deadline", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		g := adapters.NewGuard(adapters.Backend{Name: "inv", Breaker: adapters.BreakerPolicy{Disabled: true},
			Retry: adapters.RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Second, MaxBackoff: time.Second}},
			quiet(), adapters.WithGuardClock(clock.Now, clock.Sleep), adapters.WithGuardJitter(func(n int64) int64 { return n - 1 }))
		ctx, cancel := context.WithDeadline(t.Context(), clock.Now().Add(500*time.Millisecond))
		defer cancel()
		var calls atomic.Int64
		_, err := g.Unary(getItem, scripted(&calls, refused, refused))(ctx, &emptypb.Empty{})
		if status.Code(err) != codes.Unavailable || calls.Load() != 1 || len(clock.waits) != 0 {
			t.Errorf("got %v after %d calls and waits %v; want the first failure, no wait past the deadline", err, calls.Load(), clock.waits)
		}
	})
}

// TestGuardBreaker: consecutive failures open the breaker; calls then fail fast with
// Unavailable, naming the backend and when to retry, without reaching the implementation; after
// open_for a trial call closes it again. Watchers hear every change.
func TestGuardBreaker(t *testing.T) {
	t.Parallel()
	changes := make(chan struct{}, 10)
	g := adapters.NewGuard(adapters.Backend{Name: "inv", Retry: adapters.RetryPolicy{MaxAttempts: 1},
		Breaker: adapters.BreakerPolicy{Failures: 3, OpenFor: 50 * time.Millisecond}}, quiet())
	t.Cleanup(g.Close)
	g.OnChange(func() { changes <- struct{}{} })
	var calls atomic.Int64
	failing := true
	impl := g.Unary(getItem, func(ctx context.Context, req proto.Message) (proto.Message, error) {
		calls.Add(1)
		if failing {
			return nil, badReply
		}
		return &emptypb.Empty{}, nil
	})
	// Caller mistakes say nothing about the backend's health, and neither do SOAP faults a
	// rule maps to Unavailable: the backend answered them.
	for range 5 {
		_, _ = g.Unary(getItem, scripted(new(atomic.Int64), invalid))(t.Context(), &emptypb.Empty{})
		_, _ = g.Unary(getItem, scripted(new(atomic.Int64), faultUnavailable()))(t.Context(), &emptypb.Empty{})
	}
	if s := g.Breaker().State; s != "closed" {
		t.Fatalf("InvalidArgument opened the breaker: %s", s)
	}
	for range 3 {
		if _, err := impl(t.Context(), &emptypb.Empty{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("failure: %v", err)
		}
	}
	<-changes
	st := g.Breaker()
	if st.State != "open" || st.Since.IsZero() || !st.Until.After(st.Since) {
		t.Fatalf("after 3 failures: %+v", st)
	}
	_, err := impl(t.Context(), &emptypb.Empty{})
	s := status.Convert(err)
	if s.Code() != codes.Unavailable || calls.Load() != 3 {
		t.Fatalf("open breaker: %v, implementation called %d times (want 3)", err, calls.Load())
	}
	var info *errdetails.ErrorInfo
	var retry *errdetails.RetryInfo
	for _, d := range s.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.RetryInfo:
			retry = d
		}
	}
	if info.GetReason() != "BACKEND_CIRCUIT_OPEN" || info.GetDomain() != "inv" || info.GetMetadata()["since"] == "" || retry == nil ||
		!strings.Contains(s.Message(), "backend inv") || !strings.Contains(s.Message(), "retry after") {
		t.Errorf("open breaker status: %q %v %v", s.Message(), info, retry)
	}
	if g.Stats().Rejected["circuit_open"] != 1 || g.Stats().BreakerOpened != 1 {
		t.Errorf("stats %+v", g.Stats())
	}
	<-changes // half-open, announced by the guard's timer without any call
	if st := g.Breaker(); st.State != "half-open" {
		t.Fatalf("after open_for: %+v", st)
	}
	failing = false
	if _, err := impl(t.Context(), &emptypb.Empty{}); err != nil {
		t.Fatalf("trial call: %v", err)
	}
	<-changes
	if st := g.Breaker(); st.State != "closed" {
		t.Errorf("after a successful trial: %+v", st)
	}
}

// TestGuardBulkhead: past the concurrency cap a call waits up to queue_timeout, then fails with
// ResourceExhausted and retry information; it never reaches the implementation.
func TestGuardBulkhead(t *testing.T) {
	t.Parallel()
	g := adapters.NewGuard(adapters.Backend{Name: "inv", Concurrency: 2, QueueTimeout: 20 * time.Millisecond}, quiet())
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	impl := g.Unary(getItem, func(ctx context.Context, req proto.Message) (proto.Message, error) {
		calls.Add(1)
		entered <- struct{}{}
		<-release
		return &emptypb.Empty{}, nil
	})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := impl(t.Context(), &emptypb.Empty{}); err != nil {
				t.Error(err)
			}
		})
	}
	<-entered
	<-entered
	if n := g.Stats().InFlight; n != 2 {
		t.Errorf("in flight %d, want 2", n)
	}
	_, err := impl(t.Context(), &emptypb.Empty{})
	s := status.Convert(err)
	if s.Code() != codes.ResourceExhausted || !strings.Contains(s.Message(), "retry after") || calls.Load() != 2 {
		t.Errorf("third call: %v, %d calls", err, calls.Load())
	}
	if g.Stats().Rejected["concurrency"] != 1 {
		t.Errorf("stats %+v", g.Stats())
	}
	close(release)
	wg.Wait()
}

// TestGuardOutboundRate: a backend's rate is spent across callers; the refusal says when the
// budget allows the next call.
func TestGuardOutboundRate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	g := adapters.NewGuard(adapters.Backend{Name: "inv", Rate: adapters.Rate{PerSecond: 0.5, Burst: 1}}, quiet(),
		adapters.WithGuardClock(clock.Now, clock.Sleep))
	var calls atomic.Int64
	impl := g.Unary(reserveItem, scripted(&calls))
	if _, err := impl(t.Context(), &emptypb.Empty{}); err != nil {
		t.Fatal(err)
	}
	_, err := impl(t.Context(), &emptypb.Empty{})
	s := status.Convert(err)
	var retry *errdetails.RetryInfo
	for _, d := range s.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if s.Code() != codes.ResourceExhausted || retry.GetRetryDelay().AsDuration() != 2*time.Second || !strings.Contains(s.Message(), "retry after 2s") {
		t.Errorf("over the rate: %v, %v", err, retry)
	}
	clock.Advance(2 * time.Second)
	if _, err := impl(t.Context(), &emptypb.Empty{}); err != nil || calls.Load() != 2 {
		t.Errorf("after the wait: %v, %d calls", err, calls.Load())
	}
}

// TestTransportBoundsConnections: however many calls run at once, the transport opens at most
// max_connections connections to the backend. 1,500 concurrent calls once opened 1,404.
func TestTransportBoundsConnections(t *testing.T) {
	t.Parallel()
	const limit, callers = 4, 40
	var conns, inHandler atomic.Int64
	full := make(chan struct{})
	release := make(chan struct{})
	var fullOnce sync.Once
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if inHandler.Add(1) == limit {
			fullOnce.Do(func() { close(full) })
		}
		<-release
		_, _ = io.WriteString(w, "ok")
	}))
	backend.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	backend.Start()
	t.Cleanup(backend.Close)
	tr := adapters.NewTransport(adapters.Backend{Name: "inv", Endpoint: backend.URL, MaxConnections: limit}, nil)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := tr.Post(t.Context(), nil, []byte("x")); err != nil {
				t.Error(err)
			}
		})
	}
	<-full
	close(release)
	wg.Wait()
	if n := conns.Load(); n > limit {
		t.Errorf("%d calls opened %d connections; max_connections is %d", callers, n, limit)
	}
	if n := inHandler.Load(); n != callers {
		t.Errorf("the backend saw %d calls, want %d", n, callers)
	}
}

// TestGuardStream: a stream that failed before sending anything is retried when safe; one that
// already sent a message is not, since the caller has it.
func TestGuardStream(t *testing.T) {
	t.Parallel()
	listItems := demov1.File_agentbridge_demo_v1_inventory_proto.Services().Get(0).Methods().ByName("ListItems")
	for _, tc := range []struct {
		name      string
		sendFirst bool
		wantCalls int64
		wantSent  int
	}{
		{"refused before sending: retried", false, 2, 1},
		{"failed after a message: not retried", true, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			g := adapters.NewGuard(adapters.Backend{Name: "inv"}, quiet(), adapters.WithGuardClock(clock.Now, clock.Sleep))
			var calls atomic.Int64
			impl := g.Stream(listItems, func(ctx context.Context, req proto.Message, send func(proto.Message) error) error {
				if calls.Add(1) == 1 {
					if tc.sendFirst {
						if err := send(&emptypb.Empty{}); err != nil {
							return err
						}
						return reset
					}
					return refused
				}
				return send(&emptypb.Empty{})
			})
			sent := 0
			err := impl(t.Context(), &emptypb.Empty{}, func(proto.Message) error { sent++; return nil })
			if calls.Load() != tc.wantCalls || sent != tc.wantSent || (tc.sendFirst != (err != nil)) {
				t.Errorf("%d calls, %d messages sent, err %v; want %d calls, %d sent", calls.Load(), sent, err, tc.wantCalls, tc.wantSent)
			}
		})
	}
}

// TestGuardBreakerIgnoresWhatWasNotSent: a caller whose deadline passed while waiting for a
// concurrency slot, or a call the rate limit refused, says nothing about the backend: the
// breaker does not count it. And an open breaker refuses before the rate limit, so it spends no
// token.
func TestGuardBreakerIgnoresWhatWasNotSent(t *testing.T) {
	t.Parallel()
	g := adapters.NewGuard(adapters.Backend{Name: "inv", Concurrency: 1, QueueTimeout: time.Hour,
		Retry: adapters.RetryPolicy{MaxAttempts: 1}, Breaker: adapters.BreakerPolicy{Failures: 1, OpenFor: time.Hour}}, quiet())
	t.Cleanup(g.Close)
	entered, release := make(chan struct{}), make(chan struct{})
	blocking := g.Unary(getItem, func(context.Context, proto.Message) (proto.Message, error) {
		close(entered)
		<-release
		return &emptypb.Empty{}, nil
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := blocking(t.Context(), &emptypb.Empty{}); err != nil {
			t.Error(err)
		}
	}()
	<-entered
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := g.Unary(getItem, scripted(new(atomic.Int64)))(expired, &emptypb.Empty{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("waiting for a slot past the deadline: %v", err)
	}
	if st := g.Breaker().State; st != "closed" {
		t.Errorf("a call that never left the queue opened the breaker: %s", st)
	}
	if n := g.Stats().Rejected["concurrency"]; n != 1 {
		t.Errorf("a call that gave up in the queue was counted %d times, want 1", n)
	}
	close(release)
	<-done

	clock := newFakeClock()
	rated := adapters.NewGuard(adapters.Backend{Name: "inv", Rate: adapters.Rate{PerSecond: 1, Burst: 1},
		Retry: adapters.RetryPolicy{MaxAttempts: 1}, Breaker: adapters.BreakerPolicy{Failures: 1, OpenFor: time.Hour}}, quiet(), adapters.WithGuardClock(clock.Now, clock.Sleep))
	t.Cleanup(rated.Close)
	var calls atomic.Int64
	impl := rated.Unary(getItem, scripted(&calls, badReply))
	if _, err := impl(t.Context(), &emptypb.Empty{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("failure: %v", err)
	}
	for range 3 {
		_, err := impl(t.Context(), &emptypb.Empty{})
		if r := status.Convert(err); r.Code() != codes.Unavailable || !strings.Contains(r.Message(), "circuit breaker") {
			t.Errorf("open breaker: %v", err)
		}
	}
	if n := rated.Stats().Rejected["rate"]; n != 0 {
		t.Errorf("the open breaker's refusals took %d rate refusals", n)
	}
}

// faultUnavailable is a SOAP fault a fault rule maps to Unavailable ("the member state's
// service is down"): an answer from the backend, with its fault code in the metadata.
func faultUnavailable() error {
	st, err := status.New(codes.Unavailable, "backend inv failed: MS_UNAVAILABLE").WithDetails(&errdetails.ErrorInfo{
		Reason: "MS_UNAVAILABLE", Domain: "inv", Metadata: map[string]string{"fault_code": "soap:Server", "fault_rule": "backend:inv:0"}})
	if err != nil {
		panic(err)
	}
	return st.Err()
}
