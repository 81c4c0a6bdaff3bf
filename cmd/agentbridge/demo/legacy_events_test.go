package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters"
	_ "github.com/agentbridge/agentbridge/adapters/standard"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/store"
)

// eventsClock is a warehouse clock the test moves.
type eventsClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *eventsClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *eventsClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// eventsBridge is a bridge built from the demo's event sources over a memory store the test
// reads, served on loopback; fail answers 503 to that many deliveries first.
func eventsBridge(t *testing.T, secret string, fail int32) (string, store.Store) {
	t.Helper()
	t.Setenv(EventSecretEnv, secret)
	soap := httptest.NewServer(NewLegacy(nil))
	t.Cleanup(soap.Close)
	cfg := &server.Config{
		Services: []string{ServiceName},
		Backends: map[string]adapters.Backend{"inventory": {Kind: "soap", Endpoint: soap.URL}},
		Audit:    server.AuditOptions{Sink: "off"},
		Events:   EventSources(EventSecretEnv),
		Store:    server.StoreConfig{Engine: server.StoreMemory},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory(store.Retention{})
	srv, err := cfg.Build(server.WithStore(st), server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	var refused atomic.Int32
	h := srv.Handler()
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refused.Add(1) <= fail {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(bridge.Close)
	return bridge.URL, st
}

// readEvents waits until a source holds n events and returns them.
func readEvents(t *testing.T, st store.Store, source string, n int) []*agentbridgev1.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out []*agentbridgev1.Event
	after := ""
	for len(out) < n {
		entries, err := st.Read(ctx, server.EventTopic(source), after, 100, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %d of %d events: %v", source, len(out), n, err)
		}
		for _, e := range entries {
			ev := &agentbridgev1.Event{}
			if err := proto.Unmarshal(e.Data, ev); err != nil {
				t.Fatal(err)
			}
			out = append(out, ev)
			after = e.Cursor
		}
	}
	return out
}

// TestLegacyEvents: the warehouse reports a reservation's stock change and, once it lapses,
// the expiry and the stock it gave back, signed, to a bridge that is busy at first; the bridge
// stores each event once.
func TestLegacyEvents(t *testing.T) {
	const secret = "demo-hook-secret"
	url, st := eventsBridge(t, secret, 2)
	clock := &eventsClock{now: legacyTestNow}
	l := NewLegacy(clock.Now)
	stop := l.NotifyTo(url, []byte(secret))
	defer stop()

	// A reservation, as the SOAP service makes it, then the hook it calls.
	sku, qty := "A-100", "5"
	res, f := l.reserveItem(t.Context(), legacyReserveItemReq{SKU: &sku, Quantity: &qty})
	if f != nil {
		t.Fatal(f.message)
	}
	r := res.(*legacyReserveItemResp)
	l.ReservationMade(r.ReservationID, sku, 5, r.Remaining, clock.Now())
	l.ReservationMade(r.ReservationID, sku, 5, r.Remaining, clock.Now()) // reported twice: once

	stock := readEvents(t, st, StockEventsSource, 1)
	var sc demov1.StockChanged
	if err := stock[0].GetData().UnmarshalTo(&sc); err != nil {
		t.Fatal(err)
	}
	if stock[0].GetType() != "stock.changed" || sc.GetSku() != "A-100" || sc.GetPrevious() != 42 || sc.GetOnHand() != 37 || !sc.GetChangedAt().AsTime().Equal(legacyTestNow) {
		t.Errorf("stock event %v: %v", stock[0], &sc)
	}

	// Not yet due: nothing happens.
	clock.add(14 * time.Minute)
	l.ExpireReservations()
	clock.add(2 * time.Minute)
	l.ExpireReservations()
	expired := readEvents(t, st, ReservationEventsSource, 1)
	var re demov1.ReservationExpired
	if err := expired[0].GetData().UnmarshalTo(&re); err != nil {
		t.Fatal(err)
	}
	if expired[0].GetType() != "reservation.expired" || re.GetReservationId() != r.ReservationID || re.GetQuantity() != 5 || re.GetSku() != "A-100" {
		t.Errorf("expiry event %v: %v", expired[0], &re)
	}
	stock = readEvents(t, st, StockEventsSource, 2)
	if err := stock[1].GetData().UnmarshalTo(&sc); err != nil {
		t.Fatal(err)
	}
	if sc.GetPrevious() != 37 || sc.GetOnHand() != 42 {
		t.Errorf("stock given back: %v", &sc)
	}
	l.mu.Lock()
	onHand := l.items["A-100"].onHand
	l.mu.Unlock()
	if onHand != 42 {
		t.Errorf("on hand %d after the reservation lapsed, want 42", onHand)
	}
	// Wait for the sender to settle, then check nothing more arrived (the first two deliveries
	// were refused with 503 and sent again).
	deadline := time.Now().Add(10 * time.Second)
	for {
		sent, dropped, queued := l.notifierStats()
		if sent == 3 && queued == 0 {
			if dropped != 0 {
				t.Errorf("%d events dropped", dropped)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d, dropped %d, queued %d", sent, dropped, queued)
		}
		time.Sleep(10 * time.Millisecond)
	}
	entries, err := st.Read(t.Context(), server.EventTopic(StockEventsSource), "", 100, 0)
	if err != nil || len(entries) != 2 {
		t.Errorf("%d stock events stored (%v), want 2", len(entries), err)
	}
}

// TestLegacyEventsNeverBlock: with a bridge that does not answer, reservations go on at full
// speed; events beyond the queue are dropped, counted.
func TestLegacyEventsNeverBlock(t *testing.T) {
	hang := make(chan struct{})
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer bridge.Close()
	defer close(hang)
	l := NewLegacy(legacyTestClock)
	stop := l.NotifyTo(bridge.URL, []byte("s"))
	defer stop()
	start := time.Now()
	for i := range 3 * eventQueueSize {
		l.ReservationMade(fmt.Sprintf("R-%06d", i), "A-100", 1, 10, legacyTestNow)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d hook calls took %s", 3*eventQueueSize, d)
	}
	if _, dropped, _ := l.notifierStats(); dropped < eventQueueSize {
		t.Errorf("%d dropped, want at least %d", dropped, eventQueueSize)
	}
}
