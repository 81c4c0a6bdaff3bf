//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const batchReserve = "agentbridge.demo.v1.InventoryService/ReserveItem"

var (
	batchPeerOnce sync.Once
	batchPeerPath string
	batchPeerErr  error
	batchPeerOut  []byte
)

// startBatchPeer builds and starts testdata/batchsoap, a SOAP inventory that de-duplicates
// reservations by customerRef and counts them, and returns its base URL.
func startBatchPeer(t *testing.T, delay time.Duration) string {
	t.Helper()
	batchPeerOnce.Do(func() {
		agentbridgeBinary(t) // makes binDir
		batchPeerPath = filepath.Join(binDir, "batchsoap")
		batchPeerOut, batchPeerErr = exec.Command("go", "build", "-o", batchPeerPath, "./testdata/batchsoap").CombinedOutput()
	})
	if batchPeerErr != nil {
		t.Fatalf("go build ./testdata/batchsoap: %v\n%s", batchPeerErr, batchPeerOut)
	}
	cmd := exec.Command(batchPeerPath, "-delay", delay.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("batchsoap: %q %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}

// batchConfig is a config serving the demo inventory against peer with batches on, its
// store in dir.
func batchConfig(t *testing.T, dir, peer string, backendConcurrency, batchConcurrency int) string {
	t.Helper()
	path := filepath.Join(dir, "agentbridge.yaml")
	text := fmt.Sprintf(`http_addr: 127.0.0.1:0
grpc_addr: 127.0.0.1:0
shutdown_grace: 5s
services: [agentbridge.demo.v1.InventoryService]
audit: {sink: "off"}
backends:
  inventory:
    kind: soap
    endpoint: %s/inventory
    timeout: 30s
    concurrency: %d
    queue_timeout: 30s
store:
  path: data/agentbridge.db
batches:
  max_items: 200000
  concurrency: %d
`, peer, backendConcurrency, batchConcurrency)
	if os.Getenv("AGENTBRIDGE_BATCH_DEDUP") != "0" { // 0: the backend's de-duplication is not used
		text += fmt.Sprintf("  methods:\n    %s: {idempotency_field: customer_ref}\n", batchReserve)
	}
	text += os.Getenv("AGENTBRIDGE_BATCH_CONFIG")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type batchState struct {
	ID             string  `json:"id"`
	State          string  `json:"state"`
	Total          string  `json:"total"`
	Succeeded      string  `json:"succeeded"`
	Failed         string  `json:"failed"`
	Remaining      string  `json:"remaining"`
	ItemsPerSecond float64 `json:"itemsPerSecond"`
}

func httpJSON(t *testing.T, method, url, contentType string, body io.Reader, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, data)
	}
}

// uploadReservations submits n ReserveItem inputs as an NDJSON upload, streamed.
func uploadReservations(t *testing.T, base string, n int) batchState {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriter(pw)
		for i := range n {
			fmt.Fprintf(w, `{"sku":"A-%03d","quantity":1}`+"\n", i%1000)
		}
		_ = w.Flush()
		_ = pw.Close()
	}()
	var out struct {
		Batch batchState `json:"batch"`
	}
	httpJSON(t, "POST", base+"/v1/batches?method="+batchReserve, "application/x-ndjson", pr, &out)
	return out.Batch
}

func getBatch(t *testing.T, base, id string) batchState {
	t.Helper()
	var out struct {
		Batch batchState `json:"batch"`
	}
	httpJSON(t, "GET", base+"/v1/batches/"+id, "", nil, &out)
	return out.Batch
}

// waitBatchDone polls until the batch leaves RUNNING.
func waitBatchDone(t *testing.T, base, id string, within time.Duration) batchState {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		b := getBatch(t, base, id)
		if b.State != "BATCH_STATE_RUNNING" {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch not done after %s: %+v", within, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkResults downloads the results as NDJSON and checks there are n, in input order, all
// succeeded, each with its own reservation; it reads them as a stream.
func checkResults(t *testing.T, base, id string, n int) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1/batches/"+id+"/results.ndjson", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := make(map[string]bool, n)
	i := 0
	for sc.Scan() {
		var item struct {
			Index    string `json:"index"`
			State    string `json:"state"`
			Message  string `json:"message"`
			Response struct {
				ReservationID string `json:"reservationId"`
			} `json:"response"`
		}
		if err := json.Unmarshal(sc.Bytes(), &item); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, sc.Bytes())
		}
		if item.Index != fmt.Sprint(i) {
			t.Fatalf("line %d has index %s: results out of order", i+1, item.Index)
		}
		if item.State != "BATCH_ITEM_STATE_SUCCEEDED" || item.Response.ReservationID == "" {
			t.Fatalf("item %d: %s %s", i, item.State, item.Message)
		}
		if seen[item.Response.ReservationID] {
			t.Fatalf("item %d: reservation %s reported twice", i, item.Response.ReservationID)
		}
		seen[item.Response.ReservationID] = true
		i++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("%d results, want %d", i, n)
	}
}

// TestBatchCrash: a 10,000-item state-changing batch (ReserveItem, de-duplicated by the backend
// on customer_ref) is submitted over REST; the bridge is killed with SIGKILL mid-way and
// started again on the same store file. The job resumes and finishes; the backend counted
// every item's reservation exactly once; the results are complete and in input order.
func TestBatchCrash(t *testing.T) {
	t.Parallel()
	const n = 10000
	peer := startBatchPeer(t, 2*time.Millisecond)
	dir := t.TempDir()
	config := batchConfig(t, dir, peer, 8, 6)
	first := startBridgeProc(t, config)
	b := uploadReservations(t, first.url, n)
	if b.Total != fmt.Sprint(n) || b.State != "BATCH_STATE_RUNNING" {
		t.Fatalf("submitted %+v", b)
	}
	// Kill mid-way: once a good part of the items, but not all, have an outcome.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cur := getBatch(t, first.url, b.ID)
		var done int
		_, _ = fmt.Sscan(cur.Succeeded, &done)
		if done >= n/4 {
			if done >= n {
				t.Fatalf("the batch finished before the kill: %+v", cur)
			}
			t.Logf("killing the bridge at %d of %d items", done, n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", cur)
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.kill(t)

	second := startBridgeProc(t, config)
	done := waitBatchDone(t, second.url, b.ID, 3*time.Minute)
	if done.State != "BATCH_STATE_DONE" || done.Succeeded != fmt.Sprint(n) || done.Failed != "0" {
		t.Fatalf("after the restart: %+v", done)
	}
	// Counted on the backend: each item's derived customer_ref reserved exactly once.
	var effects map[string]int
	httpJSON(t, "GET", peer+"/effects?prefix="+b.ID+"-", "", nil, &effects)
	if len(effects) != n {
		t.Errorf("the backend holds %d of the batch's %d reservations", len(effects), n)
	}
	for ref, count := range effects {
		if count != 1 {
			t.Errorf("%s reserved %d times", ref, count)
		}
	}
	var stats map[string]int
	httpJSON(t, "GET", peer+"/stats", "", nil, &stats)
	t.Logf("backend: %v", stats)
	checkResults(t, second.url, b.ID, n)
}
