package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/redisstore"
	"github.com/agentbridge/agentbridge/adapters/redisstore/redistest"
	demov1 "github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1"
	"github.com/agentbridge/agentbridge/gen/agentbridge/demo/v1/demov1connect"
	"github.com/agentbridge/agentbridge/server"
)

// reserveConcurrently fires n concurrent ReserveItem calls over gRPC carrying one idempotency
// key, spread over the bridges, and returns the reservation ids they got, by id.
func reserveConcurrently(t *testing.T, bridges []*bridge, key string, n int) map[string]int {
	t.Helper()
	clients := make([]demov1.InventoryServiceClient, len(bridges))
	for i, b := range bridges {
		clients[i] = grpcClient(t, b.grpcAddr)
	}
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "idempotency-key", key), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	ids := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		c := clients[i%len(clients)]
		wg.Go(func() {
			resp, err := c.ReserveItem(ctx, &demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1})
			if err != nil {
				t.Errorf("ReserveItem: %v", err)
				return
			}
			mu.Lock()
			ids[resp.GetReservationId()]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return ids
}

// TestIdempotencyKeyOneSideEffect: 1,000 concurrent retries of one ReserveItem with one key
// reach the legacy system once, and every caller gets the first call's reservation; with one
// bridge (keys in memory) and with two bridges sharing Redis.
func TestIdempotencyKeyOneSideEffect(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	for _, tc := range []struct {
		name    string
		bridges int
		redis   bool
	}{
		{"one bridge, in memory", 1, false},
		{"one bridge, Redis", 1, true},
		{"two bridges sharing Redis", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			legacy := newFlakyLegacy(t)
			var bridges []*bridge
			for range tc.bridges {
				bridges = append(bridges, startConfigured(t, legacy.url, func(c *server.Config, _ *adapters.Backend) {
					if tc.redis {
						c.Redis = &redisstore.Config{Address: r.Socket, KeyPrefix: t.Name() + ":", Timeout: 5 * time.Second}
					}
				}))
			}
			ids := reserveConcurrently(t, bridges, "order-4711", 1000)
			if n := legacy.calls.Load(); n != 1 {
				t.Errorf("the legacy system got %d reservations, want 1", n)
			}
			if len(ids) != 1 {
				t.Errorf("callers got different reservations: %v", ids)
			}
			for _, b := range bridges {
				fams := scrape(t, b.httpURL)
				executed := counterValue(fams, "agentbridge_idempotency_total", map[string]string{"outcome": "executed"})
				replayed := counterValue(fams, "agentbridge_idempotency_total", map[string]string{"outcome": "replayed"})
				if executed+replayed != float64(1000/tc.bridges) {
					t.Errorf("executed %v + replayed %v, want %d", executed, replayed, 1000/tc.bridges)
				}
			}
			// A new key is a new reservation.
			if ids := reserveConcurrently(t, bridges, "order-4712", 10); len(ids) != 1 || legacy.calls.Load() != 2 {
				t.Errorf("a new key: ids %v, legacy calls %d; want one new reservation", ids, legacy.calls.Load())
			}
		})
	}
}

// TestIdempotencyKeyOnEverySurface: the key is the Idempotency-Key header on REST and Connect,
// idempotency-key metadata on gRPC and the idempotency_key argument on MCP; a retry gets the
// first result, marked Idempotent-Replayed, without reaching the backend.
func TestIdempotencyKeyOnEverySurface(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	b := startConfigured(t, legacy.url, nil)
	type result struct {
		id       string
		replayed bool
	}
	calls := map[string]func(key string) result{
		"gRPC": func(key string) result {
			var header metadata.MD
			ctx := metadata.AppendToOutgoingContext(t.Context(), "idempotency-key", key)
			resp, err := grpcClient(t, b.grpcAddr).ReserveItem(ctx, &demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1}, grpc.Header(&header))
			if err != nil {
				t.Fatal(err)
			}
			return result{resp.GetReservationId(), strings.Join(header.Get("idempotent-replayed"), "") == "true"}
		},
		"Connect": func(key string) result {
			req := connect.NewRequest(&demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1})
			req.Header().Set("Idempotency-Key", key)
			resp, err := demov1connect.NewInventoryServiceClient(h2cClient(), b.httpURL).ReserveItem(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			return result{resp.Msg.GetReservationId(), resp.Header().Get("Idempotent-Replayed") == "true"}
		},
		"REST": func(key string) result {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, b.httpURL+"/v1/items/A-100:reserve", strings.NewReader(`{"quantity": 1}`))
			req.Header.Set("Idempotency-Key", key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			var out demov1.ReserveItemResponse
			if resp.StatusCode != http.StatusOK || protojson.Unmarshal(body, &out) != nil {
				t.Fatalf("REST: HTTP %d %s", resp.StatusCode, body)
			}
			return result{out.GetReservationId(), resp.Header.Get("Idempotent-Replayed") == "true"}
		},
		"MCP": func(key string) result {
			res, err := mcpSession(t, b.httpURL+"/mcp").CallTool(t.Context(), &mcp.CallToolParams{Name: "InventoryService_ReserveItem",
				Arguments: map[string]any{"sku": "A-100", "quantity": 1, "idempotency_key": key}})
			if err != nil || res.IsError {
				t.Fatalf("MCP: %v %s", err, textOf(res))
			}
			data, _ := json.Marshal(res.StructuredContent)
			var out demov1.ReserveItemResponse
			if err := protojson.Unmarshal(data, &out); err != nil {
				t.Fatalf("MCP result %s: %v", data, err)
			}
			return result{out.GetReservationId(), false}
		},
	}
	for name, call := range calls {
		key := "key-" + name
		before := legacy.calls.Load()
		first := call(key)
		second := call(key)
		if n := legacy.calls.Load() - before; n != 1 {
			t.Errorf("%s: two calls with one key reached the backend %d times", name, n)
		}
		if first.id == "" || first.id != second.id || first.replayed {
			t.Errorf("%s: first %+v, retry %+v; want the same reservation", name, first, second)
		}
		if name != "MCP" && !second.replayed {
			t.Errorf("%s: the retry is not marked Idempotent-Replayed", name)
		}
	}
	// The MCP tool advertises the argument; read-only tools do not.
	tools, err := mcpSession(t, b.httpURL+"/mcp").ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		schema, _ := json.Marshal(tool.InputSchema)
		has := bytes.Contains(schema, []byte(`"idempotency_key"`))
		if has != (tool.Name == "InventoryService_ReserveItem") {
			t.Errorf("%s: idempotency_key in the input schema: %v", tool.Name, has)
		}
	}
}

// TestIdempotencyKeyErrorsAndConflicts: a failed call's status is replayed too (the backend is
// asked once); a key reused for another request is refused; a call the bridge refused before
// the backend (an outbound rate limit) frees its key; keys are scoped by caller and method.
func TestIdempotencyKeyErrorsAndConflicts(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	b := startConfigured(t, legacy.url, nil)
	client := grpcClient(t, b.grpcAddr)
	reserve := func(key, sku string) (*demov1.ReserveItemResponse, *status.Status) {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "idempotency-key", key)
		resp, err := client.ReserveItem(ctx, &demov1.ReserveItemRequest{Sku: sku, Quantity: 1})
		st, _ := status.FromError(err)
		return resp, st
	}
	before := legacy.calls.Load()
	_, st1 := reserve("k-unknown", "Z-999")
	_, st2 := reserve("k-unknown", "Z-999")
	if st1.Code() == codes.OK || st1.Code() != st2.Code() || st1.Message() != st2.Message() {
		t.Errorf("a failed call's retry: %v, then %v; want the same status", st1, st2)
	}
	if n := legacy.calls.Load() - before; n != 1 {
		t.Errorf("the failed call and its retry reached the backend %d times, want 1", n)
	}
	_, st := reserve("k-unknown", "A-100")
	if st.Code() != codes.InvalidArgument || detailOf[*errdetails.ErrorInfo](st).GetReason() != "IDEMPOTENCY_KEY_REUSED" {
		t.Errorf("a key reused for another request: %v", st)
	}
	if _, st := reserve(strings.Repeat("x", 300), "A-100"); st.Code() != codes.InvalidArgument {
		t.Errorf("a 300-character key: %v", st)
	}
	// Read-only methods ignore the key: each call runs.
	before = legacy.calls.Load()
	for range 2 {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "idempotency-key", "k-read")
		if _, err := client.GetItem(ctx, &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := legacy.calls.Load() - before; n != 2 {
		t.Errorf("two GetItem calls with one key reached the backend %d times, want 2", n)
	}
}

// TestIdempotencyKeyRefusedBeforeTheBackendFreesTheKey: a keyed call that the backend's rate
// limit refused never ran, so its retry runs once the budget allows.
func TestIdempotencyKeyRefusedBeforeTheBackendFreesTheKey(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	b := startConfigured(t, legacy.url, func(_ *server.Config, be *adapters.Backend) {
		// One token a second: slow enough that a loaded machine does not refill it between
		// the two calls below (at 20 a second it did, and the first try went through).
		be.Rate = adapters.Rate{PerSecond: 1, Burst: 1}
	})
	client := grpcClient(t, b.grpcAddr)
	if _, err := client.GetItem(t.Context(), &demov1.GetItemRequest{Sku: "A-100"}); err != nil {
		t.Fatal(err) // spends the token
	}
	ctx := metadata.AppendToOutgoingContext(t.Context(), "idempotency-key", "k-busy")
	_, err := client.ReserveItem(ctx, &demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("first try: %v, want ResourceExhausted from the backend's rate limit", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.ReserveItem(ctx, &demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1})
		if err == nil && resp.GetReservationId() != "" {
			return
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("retry: %v; want the call to run once the budget refills", err)
		}
		time.Sleep(50 * time.Millisecond) // a bounded poll: the budget refills within a second
	}
}

// TestIdempotencyRedisDown: with Redis gone, a keyed call is refused with Unavailable by
// default (on_store_error: closed), or runs unprotected with on_store_error: open; both are
// counted. Calls without a key are not affected.
func TestIdempotencyRedisDown(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{server.FailClosed, server.FailOpen} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := redistest.Start(t)
			legacy := newFlakyLegacy(t)
			b := startConfigured(t, legacy.url, func(c *server.Config, _ *adapters.Backend) {
				c.Redis = &redisstore.Config{Address: r.Socket, Timeout: 200 * time.Millisecond}
				c.Idempotency.OnStoreError = mode
			})
			r.Stop()
			client := grpcClient(t, b.grpcAddr)
			ctx := metadata.AppendToOutgoingContext(t.Context(), "idempotency-key", "k-down")
			before := legacy.calls.Load()
			_, err := client.ReserveItem(ctx, &demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1})
			st, _ := status.FromError(err)
			switch mode {
			case server.FailClosed:
				if st.Code() != codes.Unavailable || detailOf[*errdetails.ErrorInfo](st).GetReason() != "IDEMPOTENCY_STORE_UNAVAILABLE" || detailOf[*errdetails.RetryInfo](st) == nil {
					t.Errorf("closed: %v", st)
				}
				if n := legacy.calls.Load() - before; n != 0 {
					t.Errorf("closed: the call reached the backend %d times", n)
				}
			case server.FailOpen:
				if err != nil || legacy.calls.Load()-before != 1 {
					t.Errorf("open: %v, backend calls %d; want the call run", err, legacy.calls.Load()-before)
				}
			}
			if _, err := client.ReserveItem(t.Context(), &demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1}); err != nil {
				t.Errorf("a call without a key: %v", err)
			}
			if v := counterValue(scrape(t, b.httpURL), "agentbridge_idempotency_total", map[string]string{"outcome": "store_error"}); v != 1 {
				t.Errorf("agentbridge_idempotency_total{store_error} = %v, want 1", v)
			}
		})
	}
}

// TestIdempotencyKeyScopedByPrincipal: two callers using the same key do not share it: each
// call runs, and each caller's retry gets its own first outcome.
func TestIdempotencyKeyScopedByPrincipal(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	hash := func(k string) string { h := sha256.Sum256([]byte(k)); return hex.EncodeToString(h[:]) }
	b := startConfigured(t, legacy.url, func(c *server.Config, _ *adapters.Backend) {
		c.Auth = &server.AuthConfig{
			APIKeys: []server.APIKey{{ID: "alice", SHA256: hash("key-alice"), Scopes: []string{"w"}}, {ID: "bob", SHA256: hash("key-bob"), Scopes: []string{"w"}}},
			Scopes:  map[string][]string{"agentbridge.demo.v1.InventoryService.*": {"w"}},
		}
	})
	client := grpcClient(t, b.grpcAddr)
	reserve := func(apiKey string) string {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "idempotency-key", "shared-key", "x-api-key", apiKey)
		resp, err := client.ReserveItem(ctx, &demov1.ReserveItemRequest{Sku: "A-100", Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetReservationId()
	}
	alice, bob := reserve("key-alice"), reserve("key-bob")
	if alice == bob || reserve("key-alice") != alice || reserve("key-bob") != bob {
		t.Errorf("alice %s, bob %s: want two reservations, each replayed to its own caller", alice, bob)
	}
	if n := legacy.calls.Load(); n != 2 {
		t.Errorf("the backend got %d reservations, want 2", n)
	}
}

// TestIdempotencyKeyArgumentChecked: the MCP argument must be a usable key; null means not set.
func TestIdempotencyKeyArgumentChecked(t *testing.T) {
	t.Parallel()
	legacy := newFlakyLegacy(t)
	b := startConfigured(t, legacy.url, nil)
	session := mcpSession(t, b.httpURL+"/mcp")
	for _, tc := range []struct {
		key  any
		fail bool
	}{{"", true}, {"has space", true}, {42, true}, {nil, false}, {"ok-key", false}} {
		res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "InventoryService_ReserveItem",
			Arguments: map[string]any{"sku": "A-100", "quantity": 1, "idempotency_key": tc.key}})
		if err != nil {
			t.Fatal(err)
		}
		if res.IsError != tc.fail || (tc.fail && !strings.Contains(textOf(res), "InvalidArgument")) {
			t.Errorf("idempotency_key %#v: isError %v, %s", tc.key, res.IsError, textOf(res))
		}
	}
}
