package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/agentbridge/agentbridge/cmd/agentbridge/demo"
	agentbridgev1 "github.com/agentbridge/agentbridge/gen/agentbridge/v1"
	"github.com/agentbridge/agentbridge/server"
	"github.com/agentbridge/agentbridge/server/store"
)

const reserveMethod = "agentbridge.demo.v1.InventoryService/ReserveItem"

// batchBackend is a SOAP inventory that answers ReserveItem, counts the calls per
// customerRef and de-duplicates them (a repeat gets the first reservation), fails SKU F-000 with
// a fault, and holds calls for SKUs starting with H until released.
type batchBackend struct {
	url      string
	mu       sync.Mutex
	calls    map[string]int
	ids      map[string]string
	n        int
	inFlight atomic.Int64
	peak     atomic.Int64
	hold     chan struct{} // closed to release held calls
	held     atomic.Int64
	faults   atomic.Int64 // calls answered with a fault (SKU F-000)
}

var (
	reSKU = regexp.MustCompile(`<(?:\w+:)?sku>([^<]*)<`)
	reRef = regexp.MustCompile(`<(?:\w+:)?customerRef>([^<]*)<`)
)

func newBatchBackend(t *testing.T) *batchBackend {
	t.Helper()
	b := &batchBackend{calls: map[string]int{}, ids: map[string]string{}, hold: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.inFlight.Add(1)
		defer b.inFlight.Add(-1)
		for {
			p := b.peak.Load()
			if n <= p || b.peak.CompareAndSwap(p, n) {
				break
			}
		}
		body, _ := io.ReadAll(r.Body)
		sku, ref := "", ""
		if m := reSKU.FindSubmatch(body); m != nil {
			sku = string(m[1])
		}
		if m := reRef.FindSubmatch(body); m != nil {
			ref = string(m[1])
		}
		if strings.HasPrefix(sku, "H") {
			b.held.Add(1)
			select {
			case <-b.hold:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		if sku == "F-000" {
			b.faults.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>unknown SKU "F-000"</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
			return
		}
		b.mu.Lock()
		b.calls[ref]++
		id, seen := b.ids[ref]
		if !seen || ref == "" {
			b.n++
			id = fmt.Sprintf("R-%06d", b.n)
			b.ids[ref] = id
		}
		b.mu.Unlock()
		_, _ = fmt.Fprintf(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><inv:ReserveItemResponse xmlns:inv="urn:acme:inventory"><reservationId>%s</reservationId><expiresAt>2026-11-29T12:15:00Z</expiresAt><remaining>7</remaining></inv:ReserveItemResponse></soap:Body></soap:Envelope>`, id)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL + "/inventory"
	return b
}

func (b *batchBackend) count(ref string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[ref]
}

// newBatchServer builds the demo inventory service with batches on, in front of backend.
func newBatchServer(t *testing.T, backend *batchBackend, adjust func(*server.Config), opts ...server.Option) (*server.Server, string) {
	t.Helper()
	cfg := demo.InventoryConfig(backend.url)
	cfg.Store = server.StoreConfig{Engine: server.StoreMemory}
	cfg.Audit.Sink = "off"
	cfg.Batches = &server.BatchesConfig{
		MaxItems: 50,
		Methods:  map[string]server.BatchMethodConfig{reserveMethod: {IdempotencyField: "customer_ref"}},
	}
	if adjust != nil {
		adjust(cfg)
	}
	srv, err := cfg.Build(append([]server.Option{server.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	return srv, h.URL
}

// do sends a request and returns the status and body.
func do(t *testing.T, method, url, contentType, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

type batchJSON struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Total     string `json:"total"`
	Succeeded string `json:"succeeded"`
	Failed    string `json:"failed"`
	Remaining string `json:"remaining"`
	Retries   int    `json:"retries"`
}

type itemJSON struct {
	Index    string            `json:"index"`
	Line     string            `json:"line"`
	State    string            `json:"state"`
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Reason   string            `json:"reason"`
	Metadata map[string]string `json:"metadata"`
	Response map[string]any    `json:"response"`
	Attempts int               `json:"attempts"`
}

func submitREST(t *testing.T, base, contentType, body string, query string) batchJSON {
	t.Helper()
	code, data := do(t, "POST", base+"/v1/batches"+query, contentType, body)
	if code != http.StatusOK {
		t.Fatalf("submit: %d %s", code, data)
	}
	var out struct {
		Batch batchJSON `json:"batch"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out.Batch
}

// waitBatch polls GetBatch over REST until the batch leaves RUNNING.
func waitBatch(t *testing.T, base, id string) batchJSON {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		code, data := do(t, "GET", base+"/v1/batches/"+id, "", "")
		if code != http.StatusOK {
			t.Fatalf("get: %d %s", code, data)
		}
		var out struct {
			Batch batchJSON `json:"batch"`
		}
		_ = json.Unmarshal(data, &out)
		if out.Batch.State != "BATCH_STATE_RUNNING" {
			return out.Batch
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("batch %s did not finish", id)
	return batchJSON{}
}

func listResults(t *testing.T, base, id, query string) []itemJSON {
	t.Helper()
	var all []itemJSON
	token := ""
	for {
		q := "?page_size=7" + query
		if token != "" {
			q += "&page_token=" + token
		}
		code, data := do(t, "GET", base+"/v1/batches/"+id+"/results"+q, "", "")
		if code != http.StatusOK {
			t.Fatalf("list: %d %s", code, data)
		}
		var out struct {
			Results []itemJSON `json:"results"`
			Next    string     `json:"nextPageToken"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		all = append(all, out.Results...)
		if out.Next == "" {
			return all
		}
		token = out.Next
	}
}

// TestBatchREST submits over REST as a JSON body, an NDJSON upload and a CSV upload, and reads
// the results in input order, as pages and as NDJSON and CSV downloads. A malformed line or row
// fails that item with its line number, not the batch.
func TestBatchREST(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	_, base := newBatchServer(t, backend, nil)

	t.Run("JSON body", func(t *testing.T) {
		b := submitREST(t, base, "application/json", `{"method":"`+reserveMethod+`","items":[{"sku":"A-100","quantity":1},{"sku":"F-000","quantity":1},{"sku":"A-100","quantity":2,"customerRef":"PO-7"}]}`, "")
		done := waitBatch(t, base, b.ID)
		if done.State != "BATCH_STATE_DONE" || done.Succeeded != "2" || done.Failed != "1" || done.Remaining != "0" {
			t.Fatalf("batch %+v", done)
		}
		items := listResults(t, base, b.ID, "")
		if len(items) != 3 {
			t.Fatalf("items %+v", items)
		}
		for i, it := range items {
			if it.Index != fmt.Sprint(i) {
				t.Errorf("item %d has index %s", i, it.Index)
			}
		}
		if items[0].State != "BATCH_ITEM_STATE_SUCCEEDED" || items[0].Code != "OK" || items[0].Response["reservationId"] == "" {
			t.Errorf("item 0 %+v", items[0])
		}
		if items[1].State != "BATCH_ITEM_STATE_FAILED" || items[1].Reason == "" || !strings.Contains(items[1].Message, "F-000") {
			t.Errorf("item 1 %+v", items[1])
		}
		// The derived customer_ref reached the backend; an item's own value is kept.
		if backend.count(b.ID+"-0") != 1 || backend.count("PO-7") != 1 {
			t.Errorf("backend calls: derived %d, own %d", backend.count(b.ID+"-0"), backend.count("PO-7"))
		}
		// A single call's error, for comparison: the same code and reason.
		code, single := do(t, "POST", base+"/v1/items/F-000:reserve", "application/json", `{"quantity":1}`)
		if code == http.StatusOK || !strings.Contains(string(single), items[1].Reason) {
			t.Errorf("single call %d %s; batch item reason %s", code, single, items[1].Reason)
		}
		failed := listResults(t, base, b.ID, "&only_failed=true")
		if len(failed) != 1 || failed[0].Index != "1" {
			t.Errorf("only_failed %+v", failed)
		}
	})

	t.Run("NDJSON upload", func(t *testing.T) {
		body := `{"sku":"A-100","quantity":1}
{"sku":"A-100","quantity":
` + "\n" + `{"sku":"A-100","quantity":1,"colour":"red"}
{"sku":"B-200","quantity":3}
`
		b := submitREST(t, base, "application/x-ndjson", body, "?method="+reserveMethod)
		if b.Total != "4" {
			t.Fatalf("total %s", b.Total)
		}
		waitBatch(t, base, b.ID)
		items := listResults(t, base, b.ID, "")
		wantLines := []string{"1", "2", "4", "5"}
		wantStates := []string{"SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED"}
		for i, it := range items {
			if it.Line != wantLines[i] || it.State != "BATCH_ITEM_STATE_"+wantStates[i] {
				t.Errorf("item %d: %+v", i, it)
			}
		}
		if !strings.HasPrefix(items[1].Message, "line 2:") || items[1].Code != "INVALID_ARGUMENT" {
			t.Errorf("malformed line: %+v", items[1])
		}
		if !strings.HasPrefix(items[2].Message, "line 4:") || !strings.Contains(items[2].Message, "colour") {
			t.Errorf("unknown field: %+v", items[2])
		}
		// The NDJSON download: one item per line, in order.
		code, data := do(t, "GET", base+"/v1/batches/"+b.ID+"/results.ndjson", "", "")
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if code != http.StatusOK || len(lines) != 4 {
			t.Fatalf("download %d %s", code, data)
		}
		for i, l := range lines {
			var it itemJSON
			if err := json.Unmarshal([]byte(l), &it); err != nil || it.Index != fmt.Sprint(i) {
				t.Errorf("line %d: %s", i, l)
			}
		}
	})

	t.Run("NDJSON line over 1 MiB", func(t *testing.T) {
		long := `{"sku":"A-100","customerRef":"` + strings.Repeat("x", 1<<20) + `"}`
		b := submitREST(t, base, "application/x-ndjson", `{"sku":"A-100","quantity":1}`+"\n"+long+"\n"+`{"sku":"B-200","quantity":1}`, "?method="+reserveMethod)
		waitBatch(t, base, b.ID)
		items := listResults(t, base, b.ID, "")
		if len(items) != 3 || items[1].State != "BATCH_ITEM_STATE_FAILED" || !strings.HasPrefix(items[1].Message, "line 2: the line is longer than") ||
			items[2].Line != "3" || items[2].State != "BATCH_ITEM_STATE_SUCCEEDED" {
			t.Fatalf("items %+v", items)
		}
	})

	t.Run("CSV upload", func(t *testing.T) {
		body := "sku,quantity,customerRef\nA-100,2,PO-1\nB-2\"00,1,PO-2\nA-100,x,PO-3\nB-200,1\n"
		b := submitREST(t, base, "text/csv", body, "?method="+reserveMethod)
		waitBatch(t, base, b.ID)
		items := listResults(t, base, b.ID, "")
		if len(items) < 3 {
			t.Fatalf("items %+v", items)
		}
		if items[0].State != "BATCH_ITEM_STATE_SUCCEEDED" || items[0].Line != "2" {
			t.Errorf("row 2: %+v", items[0])
		}
		for _, it := range items[1:] {
			if it.State != "BATCH_ITEM_STATE_FAILED" || !strings.HasPrefix(it.Message, "line "+it.Line+":") {
				t.Errorf("bad row: %+v", it)
			}
		}
		code, data := do(t, "GET", base+"/v1/batches/"+b.ID+"/results.csv", "", "")
		rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if code != http.StatusOK || err != nil || len(rows) != len(items)+1 {
			t.Fatalf("csv download %d %v %s", code, err, data)
		}
		if strings.Join(rows[0], ",") != "index,line,state,code,message,reason,reservationId,expiresAt,remaining" || rows[1][6] == "" || rows[1][8] != "7" {
			t.Errorf("csv %q", rows[:2])
		}
		code, data = do(t, "POST", base+"/v1/batches?method="+reserveMethod, "text/csv", "sku,colour\nA-100,red\n")
		if code != http.StatusBadRequest || !strings.Contains(string(data), "colour") {
			t.Errorf("unknown column: %d %s", code, data)
		}
		// Two columns for one field (by JSON and by proto name) would lose a cell: refused.
		code, data = do(t, "POST", base+"/v1/batches?method="+reserveMethod, "text/csv", "sku,customerRef,customer_ref\nA-100,PO-1,PO-2\n")
		if code != http.StatusBadRequest || !strings.Contains(string(data), `both name the field customerRef`) {
			t.Errorf("duplicate column: %d %s", code, data)
		}
	})
}

// TestBatchRefusals: an unknown method, a streaming one, a batch over max_items (the limit is in
// the error), no items, and two kinds of input at once are refused up front.
func TestBatchRefusals(t *testing.T) {
	t.Parallel()
	_, base := newBatchServer(t, newBatchBackend(t), nil)
	var many []string
	for range 51 {
		many = append(many, `{"sku":"A-100","quantity":1}`)
	}
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"unknown method", `{"method":"acme.Nope/Call","items":[{}]}`, http.StatusNotFound, "no method /acme.Nope/Call"},
		{"no method", `{"items":[{}]}`, http.StatusBadRequest, "method is empty"},
		{"over max_items", `{"method":"` + reserveMethod + `","jsonItems":[` + strings.Join(quoteAll(many), ",") + `]}`, http.StatusBadRequest, "more than 50 items"},
		{"two inputs", `{"method":"` + reserveMethod + `","items":[{}],"ndjson":"{}"}`, http.StatusBadRequest, "exactly one"},
		{"no items", `{"method":"` + reserveMethod + `","ndjson":"\n\n"}`, http.StatusBadRequest, "no items"},
		{"batching batches", `{"method":"agentbridge.v1.BatchService/GetBatch","items":[{}]}`, http.StatusBadRequest, "BatchService"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, data := do(t, "POST", base+"/v1/batches", "application/json", tc.body)
			if code != tc.code || !strings.Contains(string(data), tc.want) {
				t.Errorf("%d %s", code, data)
			}
		})
	}
	// NDJSON over the limit: refused while reading, with the limit.
	code, data := do(t, "POST", base+"/v1/batches?method="+reserveMethod, "application/x-ndjson", strings.Repeat(`{"sku":"A-100","quantity":1}`+"\n", 51))
	if code != http.StatusBadRequest || !strings.Contains(string(data), "BATCH_TOO_LARGE") || !strings.Contains(string(data), `"max_items":"50"`) {
		t.Errorf("upload over the limit: %d %s", code, data)
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		b, _ := json.Marshal(s)
		out[i] = string(b)
	}
	return out
}

// TestBatchCancelAndRetry cancels a batch whose items the backend holds: items never started
// are not run; RetryBatch then runs only the items without success, and never repeats one that
// succeeded.
func TestBatchCancelAndRetry(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	_, base := newBatchServer(t, backend, func(c *server.Config) { c.Batches.Concurrency = 2 })
	var lines []string
	lines = append(lines, `{"sku":"A-100","quantity":1}`, `{"sku":"F-000","quantity":1}`)
	for range 10 {
		lines = append(lines, `{"sku":"H-100","quantity":1}`)
	}
	b := submitREST(t, base, "application/x-ndjson", strings.Join(lines, "\n"), "?method="+reserveMethod)
	deadline := time.Now().Add(10 * time.Second)
	for backend.held.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	code, data := do(t, "POST", base+"/v1/batches/"+b.ID+":cancel", "application/json", `{}`)
	if code != http.StatusOK || !strings.Contains(string(data), "BATCH_STATE_CANCELLED") {
		t.Fatalf("cancel %d %s", code, data)
	}
	code, data = do(t, "POST", base+"/v1/batches/"+b.ID+":retry", "application/json", `{}`)
	if code != http.StatusBadRequest && code != http.StatusOK {
		t.Logf("retry while items finish: %d %s", code, data)
	}
	close(backend.hold) // the two held items finish and keep their outcome
	// Wait for the in-flight items to be recorded.
	for time.Now().Before(deadline) {
		items := listResults(t, base, b.ID, "")
		done := 0
		for _, it := range items {
			if it.State == "BATCH_ITEM_STATE_SUCCEEDED" {
				done++
			}
		}
		if done >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	items := listResults(t, base, b.ID, "")
	notRun := 0
	for _, it := range items {
		if it.State == "BATCH_ITEM_STATE_NOT_RUN" {
			notRun++
		}
	}
	if notRun == 0 || items[1].State != "BATCH_ITEM_STATE_FAILED" {
		t.Fatalf("after cancel: %+v", items)
	}
	before := backend.count(b.ID + "-0")
	code, data = do(t, "POST", base+"/v1/batches/"+b.ID+":retry", "application/json", `{}`)
	if code != http.StatusOK || !strings.Contains(string(data), fmt.Sprintf(`"retried":"%d"`, notRun+1)) {
		t.Fatalf("retry %d %s (want %d retried)", code, data, notRun+1)
	}
	done := waitBatch(t, base, b.ID)
	if done.State != "BATCH_STATE_DONE" || done.Succeeded != "11" || done.Failed != "1" || done.Retries != 1 {
		t.Fatalf("after retry %+v", done)
	}
	if backend.count(b.ID+"-0") != before {
		t.Errorf("a succeeded item ran again")
	}
	items = listResults(t, base, b.ID, "")
	if items[1].Attempts != 2 || items[0].Attempts != 1 {
		t.Errorf("attempts: %+v %+v", items[0], items[1])
	}
}

// TestBatchInteractiveShare: a batch saturating its share of a backend (concurrency 4, a
// quarter kept for interactive calls) leaves a slot free: an interactive call to the same
// backend completes promptly while every batch item is held.
func TestBatchInteractiveShare(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	_, base := newBatchServer(t, backend, func(c *server.Config) {
		b := c.Backends["inventory"]
		b.Concurrency = 4
		b.QueueTimeout = 5 * time.Second
		c.Backends["inventory"] = b
		c.Batches.Concurrency = 16 // asks for more than the backend's cap leaves it
	})
	lines := strings.Repeat(`{"sku":"H-100","quantity":1}`+"\n", 20)
	b := submitREST(t, base, "application/x-ndjson", lines, "?method="+reserveMethod)
	deadline := time.Now().Add(10 * time.Second)
	for backend.held.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // had the batch taken a fourth slot, it would be held by now
	if n := backend.inFlight.Load(); n != 3 {
		t.Fatalf("batch calls in flight: %d, want 3 (4 less the interactive share)", n)
	}
	start := time.Now()
	code, data := do(t, "POST", base+"/v1/items/A-100:reserve", "application/json", `{"quantity":1}`)
	if code != http.StatusOK || time.Since(start) > 2*time.Second {
		t.Fatalf("interactive call: %d %s after %s", code, data, time.Since(start))
	}
	close(backend.hold)
	if done := waitBatch(t, base, b.ID); done.Succeeded != "20" {
		t.Fatalf("batch %+v", done)
	}
	if p := backend.peak.Load(); p > 4 {
		t.Errorf("peak calls in flight %d over the backend's cap", p)
	}
}

// TestBatchResume stops a server while a batch runs and starts another on the same store: the
// job resumes where it stopped, and every item reaches the backend exactly once (it
// de-duplicates by the derived customer_ref).
func TestBatchResume(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	st := store.NewMemory(store.Retention{})
	var lines []string
	for i := range 40 {
		sku := "A-100"
		if i >= 10 {
			sku = "H-100"
		}
		lines = append(lines, `{"sku":"`+sku+`","quantity":1}`)
	}
	srv1, base1 := newBatchServer(t, backend, nil, server.WithStore(st))
	b := submitREST(t, base1, "application/x-ndjson", strings.Join(lines, "\n"), "?method="+reserveMethod)
	deadline := time.Now().Add(10 * time.Second)
	for backend.held.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { _ = srv1.Close(); close(closed) }()
	time.Sleep(20 * time.Millisecond)
	close(backend.hold) // the items in flight finish after the first server stopped dispatching
	<-closed
	_, base2 := newBatchServer(t, backend, nil, server.WithStore(st))
	done := waitBatch(t, base2, b.ID)
	if done.State != "BATCH_STATE_DONE" || done.Succeeded != "40" {
		t.Fatalf("resumed batch %+v", done)
	}
	for i := range 40 {
		if n := backend.count(fmt.Sprintf("%s-%d", b.ID, i)); n < 1 {
			t.Errorf("item %d never reached the backend", i)
		}
	}
	items := listResults(t, base2, b.ID, "")
	ids := map[string]bool{}
	for _, it := range items {
		id := fmt.Sprint(it.Response["reservationId"])
		if ids[id] {
			t.Errorf("reservation %s reported twice", id)
		}
		ids[id] = true
	}
}

// TestBatchScopes: the submitter needs the target method's scope, checked at submit; the items
// run as the submitter, and another caller cannot read the batch.
func TestBatchScopes(t *testing.T) {
	t.Parallel()
	key := func(id string, scopes ...string) server.APIKey {
		sum := sha256.Sum256([]byte("key-" + id))
		return server.APIKey{ID: id, SHA256: hex.EncodeToString(sum[:]), Scopes: scopes}
	}
	_, base := newBatchServer(t, newBatchBackend(t), func(c *server.Config) {
		c.Auth = &server.AuthConfig{
			APIKeys: []server.APIKey{key("clerk", "batch"), key("buyer", "batch", "reserve")},
			Scopes:  map[string][]string{"agentbridge.demo.v1.InventoryService.ReserveItem": {"reserve"}, "agentbridge.v1.BatchService.*": {"batch"}},
		}
	})
	body := `{"method":"` + reserveMethod + `","items":[{"sku":"A-100","quantity":1}]}`
	code, data := do(t, "POST", base+"/v1/batches", "application/json", body, "x-api-key", "key-clerk")
	if code != http.StatusForbidden || !strings.Contains(string(data), "reserve") {
		t.Fatalf("clerk: %d %s", code, data)
	}
	code, data = do(t, "POST", base+"/v1/batches", "application/json", body, "x-api-key", "key-buyer")
	if code != http.StatusOK {
		t.Fatalf("buyer: %d %s", code, data)
	}
	var out struct {
		Batch batchJSON `json:"batch"`
	}
	_ = json.Unmarshal(data, &out)
	if code, data := do(t, "GET", base+"/v1/batches/"+out.Batch.ID, "", "", "x-api-key", "key-clerk"); code != http.StatusNotFound {
		t.Errorf("another caller reads the batch: %d %s", code, data)
	}
	if code, data := do(t, "GET", base+"/v1/batches/"+out.Batch.ID, "", "", "x-api-key", "key-buyer"); code != http.StatusOK || !strings.Contains(string(data), `"submittedBy":"buyer"`) {
		t.Errorf("buyer reads the batch: %d %s", code, data)
	}
}

// TestBatchGRPCConnectMCP submits and reads results on gRPC, Connect and MCP; WatchBatch over
// MCP with a progress token sends notifications/progress.
func TestBatchGRPCConnectMCP(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	srv, base := newBatchServer(t, backend, nil)

	t.Run("gRPC", func(t *testing.T) {
		lis := serveGRPC(t, srv)
		conn, err := grpc.NewClient(lis, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		client := agentbridgev1.NewBatchServiceClient(conn)
		resp, err := client.SubmitBatch(t.Context(), &agentbridgev1.SubmitBatchRequest{Method: reserveMethod, JsonItems: []string{`{"sku":"A-100","quantity":1}`, `{"sku":"B-200","quantity":2}`}})
		if err != nil {
			t.Fatal(err)
		}
		stream, err := client.WatchBatch(t.Context(), &agentbridgev1.WatchBatchRequest{Id: resp.GetBatch().GetId()})
		if err != nil {
			t.Fatal(err)
		}
		var last *agentbridgev1.Batch
		for {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			last = msg.GetBatch()
		}
		if last.GetState() != agentbridgev1.BatchState_BATCH_STATE_DONE || last.GetSucceeded() != 2 {
			t.Fatalf("last progress %v", last)
		}
		list, err := client.ListBatchResults(t.Context(), &agentbridgev1.ListBatchResultsRequest{Id: last.GetId()})
		if err != nil || len(list.GetResults()) != 2 || list.GetResults()[1].GetResponse().GetFields()["reservationId"].GetStringValue() == "" {
			t.Fatalf("results %v %v", list, err)
		}
	})

	t.Run("Connect", func(t *testing.T) {
		code, data := do(t, "POST", base+"/agentbridge.v1.BatchService/SubmitBatch", "application/json", `{"method":"`+reserveMethod+`","csv":"sku,quantity\nA-100,1\n"}`)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, data)
		}
		var out struct {
			Batch batchJSON `json:"batch"`
		}
		_ = json.Unmarshal(data, &out)
		waitBatch(t, base, out.Batch.ID)
		code, data = do(t, "POST", base+"/agentbridge.v1.BatchService/ListBatchResults", "application/json", `{"id":"`+out.Batch.ID+`"}`)
		if code != http.StatusOK || !strings.Contains(string(data), "BATCH_ITEM_STATE_SUCCEEDED") || !strings.Contains(string(data), `"line":"2"`) {
			t.Fatalf("%d %s", code, data)
		}
	})

	t.Run("MCP", func(t *testing.T) {
		notes := make(chan *mcp.ProgressNotificationParams, 1024)
		client := mcp.NewClient(&mcp.Implementation{Name: "batch-test", Version: "v0"}, &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			notes <- req.Params
		}})
		session, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: base + "/mcp"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = session.Close() }()
		res, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "batch_submit", Arguments: map[string]any{
			"method": reserveMethod,
			"items":  []any{map[string]any{"sku": "A-100", "quantity": 1}, map[string]any{"sku": "F-000", "quantity": 1}, map[string]any{"sku": "B-200", "quantity": 1}},
		}})
		if err != nil || res.IsError {
			t.Fatalf("submit: %v %+v", err, res)
		}
		id := structured(t, res)["batch"].(map[string]any)["id"].(string)
		params := &mcp.CallToolParams{Name: "batch_watch", Arguments: map[string]any{"id": id, "interval": "0.05s"}}
		params.SetProgressToken("watch-1")
		res, err = session.CallTool(t.Context(), params)
		if err != nil || res.IsError {
			t.Fatalf("watch: %v %+v", err, res)
		}
		items := structured(t, res)["items"].([]any)
		last := items[len(items)-1].(map[string]any)["batch"].(map[string]any)
		if last["state"] != "BATCH_STATE_DONE" || last["failed"] != "1" {
			t.Fatalf("watch result %v", last)
		}
		select {
		case n := <-notes: // handled apart from the result, perhaps after it
			if n.ProgressToken != "watch-1" || n.Total != 4 || !strings.Contains(n.Message, "items done") {
				t.Errorf("progress %+v", n)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("no progress notification")
		}
		res, err = session.CallTool(t.Context(), &mcp.CallToolParams{Name: "batch_results", Arguments: map[string]any{"id": id}})
		if err != nil || res.IsError {
			t.Fatalf("list: %v %+v", err, res)
		}
		results := structured(t, res)["results"].([]any)
		if len(results) != 3 || results[1].(map[string]any)["state"] != "BATCH_ITEM_STATE_FAILED" {
			t.Fatalf("results %v", results)
		}
	})
}

func structured(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// serveGRPC serves srv's gRPC server on a loopback port until the test ends.
func serveGRPC(t *testing.T, srv *server.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.GRPCServer().Serve(lis) }()
	t.Cleanup(srv.GRPCServer().Stop)
	return lis.Addr().String()
}

// TestBatchOutcomeUnknown: after a crash, an item of a method the backend does not
// de-duplicate whose call was in flight (its idempotency record started, never finished) is
// not repeated: it fails with outcome unknown. Items never started run. RetryBatch leaves it
// alone unless include_outcome_unknown says to run it.
func TestBatchOutcomeUnknown(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	st := store.NewMemory(store.Retention{})
	in := `{"sku":"A-100","quantity":1,"customerRef":"PO-%d"}`
	if err := server.SeedInterruptedBatch(t.Context(), st, "bseed", reserveMethod, []string{fmt.Sprintf(in, 0), fmt.Sprintf(in, 1), fmt.Sprintf(in, 2)}); err != nil {
		t.Fatal(err)
	}
	_, base := newBatchServer(t, backend, func(c *server.Config) { c.Batches.Methods = nil }, server.WithStore(st))
	done := waitBatch(t, base, "bseed")
	if done.State != "BATCH_STATE_DONE" || done.Succeeded != "2" || done.Failed != "1" {
		t.Fatalf("resumed %+v", done)
	}
	items := listResults(t, base, "bseed", "")
	if items[1].State != "BATCH_ITEM_STATE_FAILED" || items[1].Reason != "BATCH_OUTCOME_UNKNOWN" || items[1].Metadata["outcome"] != "unknown" || !strings.Contains(items[1].Message, "may or may not") {
		t.Fatalf("in-flight item: %+v", items[1])
	}
	if backend.count("PO-1") != 0 || backend.count("PO-2") != 1 || backend.count("PO-0") != 0 {
		t.Fatalf("backend calls: PO-0 %d, PO-1 %d, PO-2 %d", backend.count("PO-0"), backend.count("PO-1"), backend.count("PO-2"))
	}
	code, data := do(t, "POST", base+"/v1/batches/bseed:retry", "application/json", `{}`)
	if code != http.StatusOK || !strings.Contains(string(data), `"retried":"0"`) {
		t.Fatalf("retry without include: %d %s", code, data)
	}
	code, data = do(t, "POST", base+"/v1/batches/bseed:retry", "application/json", `{"includeOutcomeUnknown":true}`)
	if code != http.StatusOK || !strings.Contains(string(data), `"retried":"1"`) {
		t.Fatalf("retry with include: %d %s", code, data)
	}
	if done := waitBatch(t, base, "bseed"); done.Succeeded != "3" || backend.count("PO-1") != 1 {
		t.Fatalf("after retry %+v, PO-1 %d", done, backend.count("PO-1"))
	}
}

// TestBatchReload: a reload keeps BatchService and the running hub (a batch submitted before
// the reload is readable after it), with the new settings (a lower max_items refuses at once).
func TestBatchReload(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	var cfg *server.Config
	srv, base := newBatchServer(t, backend, func(c *server.Config) { cfg = c })
	b := submitREST(t, base, "application/json", `{"method":"`+reserveMethod+`","items":[{"sku":"A-100","quantity":1}]}`, "")
	waitBatch(t, base, b.ID)
	next := *cfg
	batches := *cfg.Batches
	batches.MaxItems = 1
	next.Batches = &batches
	if err := srv.ReloadConfig(&next); err != nil {
		t.Fatal(err)
	}
	if done := waitBatch(t, base, b.ID); done.Succeeded != "1" {
		t.Fatalf("after the reload: %+v", done)
	}
	code, data := do(t, "POST", base+"/v1/batches", "application/json", `{"method":"`+reserveMethod+`","items":[{"sku":"A-100","quantity":1},{"sku":"A-100","quantity":1}]}`)
	if code != http.StatusBadRequest || !strings.Contains(string(data), "more than 1 items") {
		t.Fatalf("max_items after the reload: %d %s", code, data)
	}
}

// TestBatchUploadBound: an upload over batches.max_upload_bytes is refused, naming the bound,
// and leaves no batch behind.
func TestBatchUploadBound(t *testing.T) {
	t.Parallel()
	_, base := newBatchServer(t, newBatchBackend(t), func(c *server.Config) { c.Batches.MaxUploadBytes = 64 })
	code, data := do(t, "POST", base+"/v1/batches?method="+reserveMethod, "application/x-ndjson", strings.Repeat(`{"sku":"A-100","quantity":1}`+"\n", 5))
	if code != http.StatusBadRequest || !strings.Contains(string(data), "larger than 64 bytes (batches.max_upload_bytes)") {
		t.Fatalf("%d %s", code, data)
	}
}

// TestBatchConcurrentRetries: retries of one batch sent at once run its failed items once per
// retry the batch counts, never twice for one: the first takes the start, the others are
// refused while it runs.
func TestBatchConcurrentRetries(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	_, base := newBatchServer(t, backend, nil)
	const items = 40
	lines := make([]string, items)
	for i := range lines {
		lines[i] = `{"sku":"F-000","quantity":1}`
	}
	b := submitREST(t, base, "application/x-ndjson", strings.Join(lines, "\n"), "?method="+reserveMethod)
	if done := waitBatch(t, base, b.ID); done.Failed != "40" {
		t.Fatalf("before the retries: %+v", done)
	}
	for round := range 5 {
		var wg sync.WaitGroup
		var accepted atomic.Int64
		for range 6 {
			wg.Go(func() {
				code, data := do(t, "POST", base+"/v1/batches/"+b.ID+":retry", "application/json", `{}`)
				switch {
				case code == http.StatusOK && strings.Contains(string(data), `"retried":"40"`):
					accepted.Add(1)
				case code == http.StatusBadRequest && strings.Contains(string(data), "still running"):
				default:
					t.Errorf("round %d: retry answered %d %s", round, code, data)
				}
			})
		}
		wg.Wait()
		done := waitBatch(t, base, b.ID)
		if accepted.Load() < 1 {
			t.Fatalf("round %d: no retry was accepted", round)
		}
		if want := int64(items * (1 + done.Retries)); backend.faults.Load() != want || int64(done.Retries) > int64(1+round)*6 {
			t.Fatalf("round %d: the backend had %d calls for %d items and %d retries (want %d)", round, backend.faults.Load(), items, done.Retries, want)
		}
	}
}

// pageFailingStore fails reads of a batch's results past the first thousand once armed: a
// store that goes away in the middle of a download.
type pageFailingStore struct {
	*store.Memory
	armed atomic.Bool
}

func (s *pageFailingStore) Scan(ctx context.Context, table, from, to string, limit int) ([]store.KV, error) {
	if s.armed.Load() && strings.HasSuffix(table, "/results") && from >= "0000001000" {
		return nil, errors.New("the store went away")
	}
	return s.Memory.Scan(ctx, table, from, to, limit)
}

// TestBatchDownloadCutShort: a download whose later page cannot be read ends abnormally, on both
// formats, so no client takes the rows so far for the whole file (CSV has no line to say so).
func TestBatchDownloadCutShort(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	st := &pageFailingStore{Memory: store.NewMemory(store.Retention{})}
	_, base := newBatchServer(t, backend, func(c *server.Config) { c.Batches.MaxItems = 1500 }, server.WithStore(st))
	lines := make([]string, 1200)
	for i := range lines {
		lines[i] = `{"sku":"F-000","quantity":1}`
	}
	b := submitREST(t, base, "application/x-ndjson", strings.Join(lines, "\n"), "?method="+reserveMethod)
	if done := waitBatch(t, base, b.ID); done.Failed != "1200" {
		t.Fatalf("%+v", done)
	}
	st.armed.Store(true)
	for _, format := range []string{"csv", "ndjson"} {
		resp, err := http.Get(base + "/v1/batches/" + b.ID + "/results." + format)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err == nil {
			t.Errorf("%s: HTTP %d, %d bytes read, %v: want the body to end abnormally", format, resp.StatusCode, len(body), err)
		}
	}
}

// resultsFailingStore refuses to write a batch's results while armed: a disk that fills up in
// the middle of a batch, then has room again.
type resultsFailingStore struct {
	*store.Memory
	armed atomic.Bool
}

func (s *resultsFailingStore) Put(ctx context.Context, table string, kvs ...store.KV) error {
	if s.armed.Load() && strings.HasSuffix(table, "/results") {
		return errors.New("no space left on device")
	}
	return s.Memory.Put(ctx, table, kvs...)
}

// TestBatchStalledRunResumes: a run that stops short because its results cannot be written
// leaves the job running by its record; the next scan resumes it once the store takes writes
// again, instead of it waiting for a restart, and the backend's de-duplication keeps each item
// done once.
func TestBatchStalledRunResumes(t *testing.T) {
	t.Parallel()
	backend := newBatchBackend(t)
	st := &resultsFailingStore{Memory: store.NewMemory(store.Retention{})}
	st.armed.Store(true)
	_, base := newBatchServer(t, backend, func(c *server.Config) { c.Batches.ScanInterval = 50 * time.Millisecond }, server.WithStore(st))
	const items = 10
	lines := make([]string, items)
	for i := range lines {
		lines[i] = `{"sku":"A-100","quantity":1}`
	}
	b := submitREST(t, base, "application/x-ndjson", strings.Join(lines, "\n"), "?method="+reserveMethod)
	deadline := time.Now().Add(30 * time.Second)
	for called := 0; called < items; {
		if time.Now().After(deadline) {
			t.Fatalf("the backend saw %d of %d items", called, items)
		}
		called = 0
		for i := range items {
			if backend.count(fmt.Sprintf("%s-%d", b.ID, i)) > 0 {
				called++
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	st.armed.Store(false)
	if done := waitBatch(t, base, b.ID); done.State != "BATCH_STATE_DONE" || done.Succeeded != "10" {
		t.Fatalf("after the store took writes again: %+v", done)
	}
	backend.mu.Lock()
	reservations := backend.n
	backend.mu.Unlock()
	if reservations != items {
		t.Fatalf("%d reservations for %d items", reservations, items)
	}
}

// TestBatchSubmitterScopesNow: items run with the scopes the submitter's key has when the run
// starts, not those recorded at submit. A batch submitted by a key that could reserve is
// retried after a restart in which that key id no longer has the reserve scope: the items are
// refused by the scope check, and the backend is not called again.
func TestBatchSubmitterScopesNow(t *testing.T) {
	t.Parallel()
	key := func(secret, id string, scopes ...string) server.APIKey {
		sum := sha256.Sum256([]byte(secret))
		return server.APIKey{ID: id, SHA256: hex.EncodeToString(sum[:]), Scopes: scopes}
	}
	scopes := map[string][]string{"agentbridge.demo.v1.InventoryService.ReserveItem": {"reserve"}, "agentbridge.v1.BatchService.*": {"batch"}}
	backend := newBatchBackend(t)
	st := store.NewMemory(store.Retention{})
	srv1, base1 := newBatchServer(t, backend, func(c *server.Config) {
		c.Auth = &server.AuthConfig{APIKeys: []server.APIKey{key("old-secret", "buyer", "batch", "reserve")}, Scopes: scopes}
	}, server.WithStore(st))
	body := `{"method":"` + reserveMethod + `","items":[{"sku":"F-000","quantity":1},{"sku":"F-000","quantity":2}]}`
	code, data := do(t, "POST", base1+"/v1/batches", "application/json", body, "x-api-key", "old-secret")
	if code != http.StatusOK {
		t.Fatalf("submit: %d %s", code, data)
	}
	var out struct {
		Batch batchJSON `json:"batch"`
	}
	_ = json.Unmarshal(data, &out)
	id := out.Batch.ID
	get := func(base, secret string) batchJSON {
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, data := do(t, "GET", base+"/v1/batches/"+id, "", "", "x-api-key", secret)
			var got struct {
				Batch batchJSON `json:"batch"`
			}
			if code != http.StatusOK || json.Unmarshal(data, &got) != nil {
				t.Fatalf("get: %d %s", code, data)
			}
			if got.Batch.State != "BATCH_STATE_RUNNING" || time.Now().After(deadline) {
				return got.Batch
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if b := get(base1, "old-secret"); b.Failed != "2" {
		t.Fatalf("first run: %+v", b)
	}
	faults := backend.faults.Load()
	_ = srv1.Close()

	// The key is rotated and narrowed: the same id, a new secret, no reserve scope.
	_, base2 := newBatchServer(t, backend, func(c *server.Config) {
		c.Auth = &server.AuthConfig{APIKeys: []server.APIKey{key("new-secret", "buyer", "batch")}, Scopes: scopes}
	}, server.WithStore(st))
	code, data = do(t, "POST", base2+"/v1/batches/"+id+":retry", "application/json", `{}`, "x-api-key", "new-secret")
	if code != http.StatusOK {
		t.Fatalf("retry: %d %s", code, data)
	}
	if b := get(base2, "new-secret"); b.State != "BATCH_STATE_DONE" || b.Failed != "2" {
		t.Fatalf("after retry: %+v", b)
	}
	if n := backend.faults.Load(); n != faults {
		t.Errorf("the backend was called %d more times by a submitter that lost the scope", n-faults)
	}
	code, data = do(t, "GET", base2+"/v1/batches/"+id+"/results", "", "", "x-api-key", "new-secret")
	var results struct {
		Results []itemJSON `json:"results"`
	}
	if code != http.StatusOK || json.Unmarshal(data, &results) != nil || len(results.Results) != 2 {
		t.Fatalf("results: %d %s", code, data)
	}
	for _, it := range results.Results {
		if it.Code != "PERMISSION_DENIED" || !strings.Contains(it.Message, "reserve") || it.Attempts != 2 {
			t.Errorf("item %s: %s %q (attempts %d), want PERMISSION_DENIED naming the reserve scope", it.Index, it.Code, it.Message, it.Attempts)
		}
	}
}
