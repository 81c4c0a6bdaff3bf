//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
)

// TestEventsSurviveKill9 posts 10,000 events to a bridge while two subscribers fetch and
// acknowledge them over REST and a third streams them (GET :subscribe, NDJSON) and acknowledges
// every 100, kills the bridge with SIGKILL part way, restarts it on the same store, and lets
// the sender post again everything it got no success reply for (and, to be hostile, some that
// it did). Every event that got a 2xx reaches each subscriber, none reaches a subscriber again
// once its acknowledgement was confirmed, and the stream, opened again without a cursor,
// resumes right after its acknowledged cursor. It runs on the embedded store (the same file
// reopened) and on Redis (a real redis-server that outlives the bridge).
func TestEventsSurviveKill9(t *testing.T) {
	t.Parallel()
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		config := eventsDir(t, t.TempDir(), "store: {engine: embedded, path: data/events.db}\n")
		eventsSurviveKill9(t, config)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		r := redistest.Start(t)
		config := eventsDir(t, t.TempDir(), `redis: {address: "unix://`+r.Socket+`", timeout: 5s}
store: {engine: redis}
`)
		eventsSurviveKill9(t, config)
	})
}

func eventsSurviveKill9(t *testing.T, config string) {
	const total = 10000
	first := startBridgeProc(t, config)
	c := newEventsClient(first.url)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	var mu sync.Mutex
	succeeded := map[string]bool{} // ids that got a 2xx, at least once
	var restarted sync.WaitGroup
	restarted.Add(1)
	killAt := make(chan struct{})
	var killOnce sync.Once

	// The sender: 8 workers post their share; a failed post (the bridge is down) waits for the
	// restart and posts again, until it gets a 2xx.
	senders := sync.WaitGroup{}
	for w := range 8 {
		senders.Go(func() {
			for i := w; i < total; i += 8 {
				id := fmt.Sprintf("ev-%05d", i)
				for {
					base := c.base()
					ok, err := c.post(ctx, base, id)
					if ok {
						mu.Lock()
						succeeded[id] = true
						n := len(succeeded)
						mu.Unlock()
						if n == total/3 {
							killOnce.Do(func() { close(killAt) })
						}
						break
					}
					if ctx.Err() != nil {
						t.Errorf("posting %s: %v", id, err)
						return
					}
					if base == first.url {
						restarted.Wait() // the bridge was killed: wait for the new one
					}
				}
			}
		})
	}

	subs := []*subscriberLog{{name: "billing"}, {name: "shipping"}}
	allDelivered := func(s *subscriberLog) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(succeeded) < total {
			return false
		}
		for id := range succeeded {
			if s.delivered[id] == 0 {
				return false
			}
		}
		return true
	}
	readers := sync.WaitGroup{}
	for _, s := range subs {
		readers.Go(func() {
			if _, err := s.run(ctx, c, 200, "", true, allDelivered); err != nil {
				t.Error(err)
			}
		})
	}
	stream := &streamLog{name: "streaming", acked: make(chan struct{})}
	readers.Go(func() {
		if err := stream.run(ctx, c, 100, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return stream.hasAll(succeeded, total)
		}); err != nil {
			t.Error(err)
		}
	})

	<-killAt
	select { // the stream has an acknowledgement confirmed before the kill
	case <-stream.acked:
	case <-ctx.Done():
		t.Fatal("the streaming subscriber confirmed no acknowledgement")
	}
	first.kill(t)
	t.Logf("killed the bridge with SIGKILL after %d successful posts", func() int { mu.Lock(); defer mu.Unlock(); return len(succeeded) }())
	second := startBridgeProc(t, config)
	c.addr.Store(&second.url)
	restarted.Done()
	// Hostile: post again some events that already succeeded; they are stored once.
	mu.Lock()
	var again []string
	for id := range succeeded {
		if len(again) < 500 {
			again = append(again, id)
		}
	}
	mu.Unlock()
	for _, id := range again {
		if ok, err := c.post(ctx, second.url, id); !ok {
			t.Fatalf("re-posting %s: %v", id, err)
		}
	}
	senders.Wait()
	readers.Wait()
	if t.Failed() {
		return
	}
	for _, s := range subs {
		missing, twice := 0, 0
		for id := range succeeded {
			if s.delivered[id] == 0 {
				missing++
			}
		}
		for _, n := range s.delivered {
			if n > 1 {
				twice++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d acknowledged events never delivered", s.name, missing, len(succeeded))
		}
		if len(s.afterAck) > 0 {
			t.Errorf("%s: %d events delivered again after their ack was confirmed, such as %v", s.name, len(s.afterAck), s.afterAck[:min(5, len(s.afterAck))])
		}
		t.Logf("%s: %d events delivered, %d of them more than once (read but not yet acknowledged at the kill)", s.name, len(s.delivered), twice)
	}
	stream.check(t, succeeded)
}

// streamLog is a subscriber that streams over REST (GET /v1/events/stock:subscribe, NDJSON)
// and acknowledges with POST :ack every few events; when the stream breaks it opens it again
// on the current bridge without a cursor, so the bridge resumes after its acknowledged cursor.
type streamLog struct {
	name  string
	acked chan struct{} // closed at the first confirmed acknowledgement

	mu        sync.Mutex
	order     []fetchedEvent  // every event as delivered, in order
	delivered map[string]int  // by id
	ackedIDs  map[string]bool // events whose acknowledgement was confirmed
	afterAck  []string        // delivered again after that
	resumes   []string        // what went wrong at each reopening, "" when it resumed right
	reopened  int             // streams opened after one broke
}

func (s *streamLog) hasAll(succeeded map[string]bool, total int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(succeeded) < total {
		return false
	}
	for id := range succeeded {
		if s.delivered[id] == 0 {
			return false
		}
	}
	return true
}

// run streams until done says every event arrived, then acknowledges what it read.
func (s *streamLog) run(ctx context.Context, c *eventsClient, every int, done func() bool) error {
	s.delivered, s.ackedIDs = map[string]int{}, map[string]bool{}
	confirmed, tried := "", "" // the last ack answered 200; one sent that got no answer
	var unacked []string
	var ackOnce sync.Once
	ack := func(cursor string) {
		if err := c.ack(ctx, c.base(), s.name, cursor); err != nil {
			tried = cursor
			return
		}
		confirmed, tried = cursor, ""
		s.mu.Lock()
		for _, id := range unacked {
			s.ackedIDs[id] = true
		}
		s.mu.Unlock()
		unacked = nil
		ackOnce.Do(func() { close(s.acked) })
	}
	for opened := 0; ; opened++ {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", s.name, ctx.Err())
		}
		sctx, stop := context.WithCancel(ctx)
		finished := make(chan struct{})
		go func() { // the stream never ends by itself: stop it once everything arrived
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-finished:
					return
				case <-tick.C:
					if done() {
						stop()
						return
					}
				}
			}
		}()
		req, _ := http.NewRequestWithContext(sctx, http.MethodGet, c.base()+"/v1/events/stock:subscribe?subscriber="+s.name, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil && resp.StatusCode != http.StatusOK {
			_ = resp.Body.Close()
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if err != nil {
			close(finished)
			stop()
			if done() {
				break
			}
			select { // the bridge is down or restarting: try again shortly
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		first := true
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var line struct {
				Result struct {
					Event fetchedEvent `json:"event"`
				} `json:"result"`
				Error json.RawMessage `json:"error"`
			}
			err := json.Unmarshal(sc.Bytes(), &line)
			if err == nil && line.Error != nil {
				err = errors.New("the stream ended with an error")
			}
			if err != nil {
				_ = resp.Body.Close()
				close(finished)
				stop()
				return fmt.Errorf("%s: stream line %q: %w", s.name, sc.Text(), err)
			}
			e := line.Result.Event
			s.mu.Lock()
			if first && opened > 0 {
				s.reopened++
				s.resumes = append(s.resumes, s.resumedRight(e, confirmed, tried))
			}
			first = false
			if s.ackedIDs[e.ID] {
				s.afterAck = append(s.afterAck, e.ID)
			}
			s.delivered[e.ID]++
			s.order = append(s.order, e)
			n := len(s.order)
			s.mu.Unlock()
			unacked = append(unacked, e.ID)
			if n%every == 0 {
				ack(e.Cursor)
			}
		}
		_ = resp.Body.Close()
		close(finished)
		stop()
		if done() {
			break
		}
	}
	s.mu.Lock()
	last := s.order[len(s.order)-1].Cursor
	s.mu.Unlock()
	for ctx.Err() == nil && confirmed != last {
		ack(last)
	}
	return ctx.Err()
}

// resumedRight says what is wrong with e as the first event of a reopened stream, or "": it
// must be the one delivered right after the acknowledged cursor (or after the one whose
// acknowledgement got no answer, which the bridge may have kept), or a new one when the stream
// had delivered nothing after that. s.mu is held.
func (s *streamLog) resumedRight(e fetchedEvent, confirmed, tried string) string {
	var want []string
	for _, cursor := range []string{confirmed, tried} {
		if cursor == "" && confirmed != "" {
			continue
		}
		next := 0 // no acknowledgement: from the first event
		if cursor != "" {
			next = -1
			for i, o := range s.order {
				if o.Cursor == cursor {
					next = i + 1
					break
				}
			}
			if next < 0 {
				return fmt.Sprintf("the acknowledged cursor %s was never delivered", cursor)
			}
		}
		if next >= len(s.order) {
			return "" // nothing was delivered after it: e is new
		}
		if s.order[next].ID == e.ID && s.order[next].Cursor == e.Cursor {
			return ""
		}
		want = append(want, s.order[next].ID+" at "+s.order[next].Cursor)
	}
	return fmt.Sprintf("reopened after ack %q resumed at %s (cursor %s), want %s", confirmed, e.ID, e.Cursor, strings.Join(want, " or "))
}

func (s *streamLog) check(t *testing.T, succeeded map[string]bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	missing, twice := 0, 0
	for id := range succeeded {
		if s.delivered[id] == 0 {
			missing++
		}
	}
	for _, n := range s.delivered {
		if n > 1 {
			twice++
		}
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d acknowledged events never delivered", s.name, missing, len(succeeded))
	}
	if len(s.afterAck) > 0 {
		t.Errorf("%s: %d events delivered again after their ack was confirmed, such as %v", s.name, len(s.afterAck), s.afterAck[:min(5, len(s.afterAck))])
	}
	if s.reopened == 0 {
		t.Errorf("%s: the stream was never opened again after the kill", s.name)
	}
	for _, r := range s.resumes {
		if r != "" {
			t.Errorf("%s: %s", s.name, r)
		}
	}
	t.Logf("%s: %d events delivered, %d of them more than once; the stream was reopened %d times, each right after its acknowledged cursor", s.name, len(s.delivered), twice, s.reopened)
}
