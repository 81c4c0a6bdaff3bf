//go:build unix

package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestEventsSurviveKill9 posts 10,000 events to a bridge on the embedded store while two
// subscribers read and acknowledge them over REST, kills the bridge with SIGKILL part way,
// restarts it on the same store file, and lets the sender post again everything it got no
// success reply for (and, to be hostile, some that it did). Every event that got a 2xx reaches
// each subscriber, and none reaches a subscriber again once its acknowledgement was confirmed.
func TestEventsSurviveKill9(t *testing.T) {
	t.Parallel()
	const total = 10000
	dir := t.TempDir()
	config := eventsDir(t, dir, "store: {engine: embedded, path: data/events.db}\n")
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

	<-killAt
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
}
