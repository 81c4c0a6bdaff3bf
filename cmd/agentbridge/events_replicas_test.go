//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
)

// TestEventsOnTwoReplicas runs two bridges on one real redis-server with store engine redis.
// Events are posted to both, some with the same id to both; a subscriber on each instance, and
// one that reads half its events from one instance and then reconnects to the other, each get
// every event exactly once.
func TestEventsOnTwoReplicas(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	config := eventsDir(t, t.TempDir(), `redis: {address: "unix://`+r.Socket+`", timeout: 5s}
store: {engine: redis}
`)
	a, b := startBridgeProc(t, config), startBridgeProc(t, config)
	ca, cb := newEventsClient(a.url), newEventsClient(b.url)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// A live stream on B, opened before anything is posted, sees what A stores too.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/v1/events/stock:subscribe?subscriber=live", nil)
	live, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.Body.Close() }()
	liveSeen := map[string]int{}
	liveDone := make(chan error, 1)

	want := map[string]bool{}
	var posts sync.WaitGroup
	post := func(c *eventsClient, id string) {
		posts.Go(func() {
			if ok, err := c.post(ctx, c.base(), id); !ok {
				t.Errorf("post %s to %s: %v", id, c.base(), err)
			}
		})
	}
	for i := range 150 {
		post(ca, fmt.Sprintf("a-%03d", i))
		post(cb, fmt.Sprintf("b-%03d", i))
		want[fmt.Sprintf("a-%03d", i)], want[fmt.Sprintf("b-%03d", i)] = true, true
		if i%3 == 0 {
			id := fmt.Sprintf("both-%03d", i)
			post(ca, id)
			post(cb, id) // the same event delivered to both replicas is stored once
			want[id] = true
		}
	}
	posts.Wait()
	if t.Failed() {
		return
	}
	go func() {
		sc := bufio.NewScanner(live.Body)
		for len(liveSeen) < len(want) && sc.Scan() {
			var line struct {
				Result struct {
					Event fetchedEvent `json:"event"`
				} `json:"result"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				liveDone <- fmt.Errorf("line %q: %w", sc.Text(), err)
				return
			}
			liveSeen[line.Result.Event.ID]++
		}
		liveDone <- sc.Err()
	}()
	done := func(s *subscriberLog) bool { return len(s.delivered) >= len(want) }

	onA, onB := &subscriberLog{name: "on-a"}, &subscriberLog{name: "on-b"}
	var readers sync.WaitGroup
	readers.Go(func() {
		if _, err := onA.run(ctx, ca, 25, "", true, done); err != nil {
			t.Error(err)
		}
	})
	readers.Go(func() {
		if _, err := onB.run(ctx, cb, 25, "", true, done); err != nil {
			t.Error(err)
		}
	})
	// The moving subscriber reads about half from A, acknowledging as it goes, then moves to
	// B, whose first fetch acknowledges A's last page and goes on from there.
	moving := &subscriberLog{name: "moving"}
	readers.Go(func() {
		ack, err := moving.run(ctx, ca, 25, "", false, func(s *subscriberLog) bool { return len(s.delivered) >= len(want)/2 })
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := moving.run(ctx, cb, 25, ack, true, done); err != nil {
			t.Error(err)
		}
	})
	readers.Wait()
	if err := <-liveDone; err != nil {
		t.Fatalf("live stream: %v", err)
	}
	for id := range want {
		if liveSeen[id] != 1 {
			t.Errorf("live stream on B: %s seen %d times, want once", id, liveSeen[id])
		}
	}
	for _, s := range []*subscriberLog{onA, onB, moving} {
		for id := range want {
			if n := s.delivered[id]; n != 1 {
				t.Errorf("%s: %s delivered %d times, want once", s.name, id, n)
			}
		}
		if len(s.delivered) != len(want) {
			t.Errorf("%s: %d events delivered, want %d", s.name, len(s.delivered), len(want))
		}
	}
}
