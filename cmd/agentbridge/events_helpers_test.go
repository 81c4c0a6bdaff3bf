//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The event tests run `agentbridge serve` processes with one JSON event source, post events to
// its webhook and read them back over REST as agents do.

const eventsTestProto = `syntax = "proto3";
package acme.events.v1;
// StockChanged is what the warehouse posts when stock moves.
message StockChanged {
  string event_id = 1;
  string sku = 2;
  int32 quantity = 3;
}
`

const eventsTestToken = "s3cret-webhook-token"

// eventsDir writes the event proto and token file, and a config with extra appended (the store
// section), and returns the config's path.
func eventsDir(t *testing.T, dir, extra string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "acme/events/v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acme/events/v1/stock.proto"), []byte(eventsTestProto), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token.txt"), []byte(eventsTestToken), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `http_addr: 127.0.0.1:0
grpc_addr: "off"
shutdown_grace: 2s
audit: {sink: "off"}
protos: [acme/events/v1/stock.proto]
services: [agentbridge.demo.v1.InventoryService]
backends:
  inventory: {kind: soap, endpoint: "http://127.0.0.1:1/inventory"}
events:
  sources:
    stock:
      message: acme.events.v1.StockChanged
      id: event_id
      type: stock.changed
      verify: {token: {token_file: token.txt}}
` + extra
	path := filepath.Join(dir, "agentbridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventsClient talks to whichever bridge address is current.
type eventsClient struct {
	http *http.Client
	addr atomic.Pointer[string]
}

func newEventsClient(addr string) *eventsClient {
	c := &eventsClient{http: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	c.addr.Store(&addr)
	return c
}

func (c *eventsClient) base() string { return *c.addr.Load() }

// post delivers one event as the legacy system would; it reports whether the bridge said 2xx.
func (c *eventsClient) post(ctx context.Context, base, id string) (bool, error) {
	body := fmt.Sprintf(`{"eventId": %q, "sku": "A-%s", "quantity": 1}`, id, id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/hooks/stock", strings.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Webhook-Token", eventsTestToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return true, nil
}

// ack acknowledges cursor for subscriber with POST :ack; nil only when the bridge answered 200.
func (c *eventsClient) ack(ctx context.Context, base, subscriber, cursor string) error {
	body, _ := json.Marshal(map[string]string{"subscriber": subscriber, "cursor": cursor})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/events/stock:ack", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	data, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	return nil
}

type fetchedEvent struct {
	ID     string `json:"id"`
	Cursor string `json:"cursor"`
	Data   struct {
		EventID string `json:"eventId"`
	} `json:"data"`
}

type fetchedPage struct {
	Events     []fetchedEvent `json:"events"`
	NextCursor string         `json:"nextCursor"`
}

// fetch reads one page as subscriber, acknowledging ack first when set.
func (c *eventsClient) fetch(ctx context.Context, base, subscriber, ack string, limit int) (*fetchedPage, error) {
	q := url.Values{"subscriber": {subscriber}, "limit": {fmt.Sprint(limit)}, "wait": {"0.5s"}}
	if ack != "" {
		q.Set("ack", ack)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events/stock?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
	}
	var p fetchedPage
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// subscriberLog is what one subscriber saw: how often each event was delivered, and which
// events it knows are acknowledged (a fetch that carried their page's cursor as ack answered).
type subscriberLog struct {
	name      string
	delivered map[string]int
	acked     map[string]bool
	// afterAck lists events delivered again after their acknowledgement was confirmed.
	afterAck []string
}

// run reads pages and acknowledges each on the next fetch, riding out the bridge's absence
// (errors are retried, with the same ack), starting with ack. Once stop says so it returns the
// ack it has not sent yet; with drain, only after a fetch found nothing more (so every page
// read is acknowledged).
func (s *subscriberLog) run(ctx context.Context, c *eventsClient, limit int, ack string, drain bool, stop func(*subscriberLog) bool) (string, error) {
	if s.delivered == nil {
		s.delivered, s.acked = map[string]int{}, map[string]bool{}
	}
	var unacked []string // ids of the pages read since the last confirmed ack
	var pendingIDs []string
	for {
		if ctx.Err() != nil {
			return ack, fmt.Errorf("%s: %w", s.name, ctx.Err())
		}
		p, err := c.fetch(ctx, c.base(), s.name, ack, limit)
		if err != nil {
			select { // the bridge is down or restarting: try again shortly
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if ack != "" {
			// The fetch answered, so everything up to ack is acknowledged for good.
			for _, id := range pendingIDs {
				s.acked[id] = true
			}
			pendingIDs = nil
		}
		for _, e := range p.Events {
			if s.acked[e.ID] {
				s.afterAck = append(s.afterAck, e.ID)
			}
			s.delivered[e.ID]++
			unacked = append(unacked, e.ID)
		}
		if p.NextCursor != "" && p.NextCursor != ack {
			ack = p.NextCursor
			pendingIDs = append(pendingIDs, unacked...)
			unacked = nil
		}
		if stop(s) && (!drain || len(p.Events) == 0) {
			return ack, nil
		}
	}
}
