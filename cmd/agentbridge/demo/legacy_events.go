package demo

// This file makes the Acme warehouse push events, the way such systems do: after a stock change
// it POSTs a JSON event, signed GitHub-style (X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of
// the body>), to the bridge's hook, and sends it again with backoff until the bridge says it is
// stored. A reservation changes stock (StockChanged); a reservation that lapses gives its units
// back (StockChanged) and is reported (ReservationExpired). Events wait in a bounded queue, so
// a slow or absent bridge never holds up a SOAP call; when the queue is full, the newest event
// is dropped and logged.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/server"
)

// The demo's event sources: the paths the warehouse posts to, below the bridge's URL.
const (
	StockEventsSource       = "stock"
	ReservationEventsSource = "reservations"
	// EventSecretEnv is the environment variable the demo's config reads the hook secret from.
	EventSecretEnv = "AGENTBRIDGE_DEMO_HOOK_SECRET"
)

// EventSources is the events: section that takes the warehouse's events: StockChanged at
// /hooks/stock and ReservationExpired at /hooks/reservations, both verified by the HMAC secret
// in the environment variable secretEnv (${secretEnv}).
func EventSources(secretEnv string) server.EventsConfig {
	verify := server.WebhookVerify{HMAC: &server.HMACVerify{Style: server.HMACGitHub, Secret: "${" + secretEnv + "}"}}
	return server.EventsConfig{Sources: map[string]server.EventSource{
		StockEventsSource:       {Message: "agentbridge.demo.v1.StockChanged", ID: "event_id", Type: "stock.changed", Verify: verify},
		ReservationEventsSource: {Message: "agentbridge.demo.v1.ReservationExpired", ID: "event_id", Type: "reservation.expired", Verify: verify},
	}}
}

// Bounds of the sender.
const (
	eventQueueSize    = 1024
	eventRetryFirst   = 100 * time.Millisecond
	eventRetryMax     = 10 * time.Second
	eventPostTimeout  = 10 * time.Second
	eventExpiryPeriod = time.Second
)

// notifiers holds each Legacy's sender (Legacy has no field for one).
var notifiers sync.Map // *Legacy → *eventNotifier

// eventNotifier posts one Legacy's events to a bridge.
type eventNotifier struct {
	l       *Legacy
	base    string
	secret  []byte
	client  *http.Client
	queue   chan outEvent
	ctx     context.Context
	stop    context.CancelFunc
	done    sync.WaitGroup
	retryLo time.Duration

	mu      sync.Mutex
	pending []heldReservation // reservations not yet lapsed, oldest first
	sent    int               // events the bridge acknowledged
	dropped int               // events dropped: queue full, or refused for good
}

// outEvent is one event waiting to be sent.
type outEvent struct {
	source string
	msg    proto.Message
}

// heldReservation is a reservation the notifier will see lapse.
type heldReservation struct {
	id, sku string
	qty     int
	expires time.Time
}

// NotifyTo makes the warehouse post its events to the bridge at baseURL (such as
// http://127.0.0.1:8080): StockChanged to baseURL/hooks/stock, ReservationExpired to
// baseURL/hooks/reservations, each signed with secret. Reservations lapse after 15 minutes of
// the warehouse's clock, giving their units back. stop ends the sender; events not yet
// acknowledged are lost with it. Calling NotifyTo again replaces the sender.
func (l *Legacy) NotifyTo(baseURL string, secret []byte) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	n := &eventNotifier{
		l: l, base: strings.TrimSuffix(baseURL, "/"), secret: append([]byte(nil), secret...),
		client: &http.Client{Timeout: eventPostTimeout},
		queue:  make(chan outEvent, eventQueueSize), ctx: ctx, stop: cancel, retryLo: eventRetryFirst,
	}
	if old, ok := notifiers.Swap(l, n); ok {
		old.(*eventNotifier).close()
	}
	n.done.Add(2)
	go n.send()
	go n.expireLoop(eventExpiryPeriod)
	var once sync.Once
	return func() {
		once.Do(func() {
			notifiers.CompareAndDelete(l, n)
			n.close()
		})
	}
}

func (n *eventNotifier) close() {
	n.stop()
	n.done.Wait()
}

// ReservationMade is the hook a reservation calls once it is made: the warehouse reports the
// stock change and will see the reservation lapse. remaining is the item's stock after it; at
// is the warehouse's time of the reservation. It does nothing when no sender is set up, and
// never blocks.
func (l *Legacy) ReservationMade(id, sku string, qty, remaining int, at time.Time) {
	v, ok := notifiers.Load(l)
	if !ok {
		return
	}
	n := v.(*eventNotifier)
	n.mu.Lock()
	for _, r := range n.pending {
		if r.id == id { // reported already
			n.mu.Unlock()
			return
		}
	}
	n.pending = append(n.pending, heldReservation{id: id, sku: sku, qty: qty, expires: at.Add(legacyReservationTTL)})
	n.mu.Unlock()
	n.enqueue(StockEventsSource, &demov1.StockChanged{
		EventId: id + ".reserved", Sku: sku, OnHand: int32(remaining), Previous: int32(remaining + qty), ChangedAt: timestamppb.New(at),
	})
}

// ExpireReservations lapses the reservations whose time is up by the warehouse's clock: their
// units go back into stock, and the warehouse reports each (ReservationExpired and
// StockChanged). The sender calls it every second; tests call it after moving the clock.
func (l *Legacy) ExpireReservations() {
	v, ok := notifiers.Load(l)
	if !ok {
		return
	}
	v.(*eventNotifier).expire()
}

func (n *eventNotifier) expire() {
	now := n.l.now()
	n.mu.Lock()
	var due []heldReservation
	keep := n.pending[:0]
	for _, r := range n.pending {
		if now.Before(r.expires) {
			keep = append(keep, r)
		} else {
			due = append(due, r)
		}
	}
	n.pending = keep
	n.mu.Unlock()
	for _, r := range due {
		n.l.mu.Lock()
		it, ok := n.l.items[r.sku]
		var before, after int
		if ok {
			before = it.onHand
			it.onHand += r.qty
			it.updatedAt = now.UTC()
			after = it.onHand
		}
		n.l.mu.Unlock()
		slog.Info("inventory: reservation expired", "reservation", r.id, "sku", r.sku, "quantity", r.qty)
		n.enqueue(ReservationEventsSource, &demov1.ReservationExpired{EventId: r.id + ".expired", ReservationId: r.id, Sku: r.sku, Quantity: int32(r.qty)})
		if ok {
			n.enqueue(StockEventsSource, &demov1.StockChanged{EventId: r.id + ".expired", Sku: r.sku, OnHand: int32(after), Previous: int32(before), ChangedAt: timestamppb.New(now)})
		}
	}
}

func (n *eventNotifier) expireLoop(every time.Duration) {
	defer n.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.expire()
		}
	}
}

// enqueue queues an event without waiting; a full queue drops it, with a log line.
func (n *eventNotifier) enqueue(source string, msg proto.Message) {
	select {
	case n.queue <- outEvent{source: source, msg: msg}:
	default:
		n.mu.Lock()
		n.dropped++
		dropped := n.dropped
		n.mu.Unlock()
		if dropped == 1 || dropped%100 == 0 { // one line per hundred, not one per event
			slog.Warn("inventory: event queue full; events dropped", "source", source, "dropped", dropped)
		}
	}
}

// send posts queued events one at a time, in order.
func (n *eventNotifier) send() {
	defer n.done.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case ev := <-n.queue:
			n.deliver(ev)
		}
	}
}

// deliver posts one event until the bridge acknowledges it (2xx), backing off between tries.
// A refusal that sending again cannot change (4xx other than 408 and 429) drops it, logged.
func (n *eventNotifier) deliver(ev outEvent) {
	body, err := protojson.Marshal(ev.msg)
	if err != nil {
		slog.Error("inventory: event cannot be encoded", "error", err)
		return
	}
	mac := hmac.New(sha256.New, n.secret)
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	url := n.base + "/hooks/" + ev.source
	wait := n.retryLo
	for {
		code, err := n.post(url, body, sig)
		switch {
		case err == nil && code >= 200 && code < 300:
			n.mu.Lock()
			n.sent++
			n.mu.Unlock()
			return
		case err == nil && code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
			n.mu.Lock()
			n.dropped++
			n.mu.Unlock()
			slog.Error("inventory: the bridge refused an event; dropped", "url", url, "status", code)
			return
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, eventRetryMax)
	}
}

func (n *eventNotifier) post(url string, body []byte, sig string) (int, error) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", sig)
	req.Header.Set("User-Agent", "AcmeWarehouse/3.1 events")
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// notifierStats reports a Legacy's sender's counts, for tests.
func (l *Legacy) notifierStats() (sent, dropped, queued int) {
	v, ok := notifiers.Load(l)
	if !ok {
		return 0, 0, 0
	}
	n := v.(*eventNotifier)
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sent, n.dropped, len(n.queue)
}
