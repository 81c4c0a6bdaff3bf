package soap_test

// Memory of a streamed reply against the same reply bound as a unary method. Run with
//
//	go test ./adapters/soap/ -run '^$' -bench 'BenchmarkStreamReply' -benchmem -count 6 > stream.txt
//	benchstat -col '/impl@(unary stream)' stream.txt
//
// The backend is an httptest server that writes the reply as it goes, so the one process's
// heap holds only what the bridge keeps. peak-heap-MiB is the largest HeapAlloc seen, sampled
// every millisecond during one extra untimed call after a GC, less the HeapAlloc before it: what
// the call needed at once. docs/benchmarks.md records a run.

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agentbridge/agentbridge/adapters"
	"github.com/agentbridge/agentbridge/adapters/soap"
)

// newCatalogServer answers every call with items products, written as they are made: the
// server never holds the reply, so it adds nothing to the heap the caller's is measured in.
// It returns the server and the reply's size in bytes.
func newCatalogServer(tb testing.TB, items int) (*httptest.Server, int64) {
	tb.Helper()
	write := func(w io.Writer) int64 {
		bw := bufio.NewWriterSize(w, 32<<10)
		n, _ := io.WriteString(bw, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><c:ListProductsResponse xmlns:c="urn:acme:catalog">`)
		size := int64(n)
		for i := 1; i <= items; i++ {
			n, _ = io.WriteString(bw, productXML(i))
			size += int64(n)
		}
		n, _ = io.WriteString(bw, `</c:ListProductsResponse></soap:Body></soap:Envelope>`)
		size += int64(n)
		_ = bw.Flush()
		return size
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		write(w)
	}))
	tb.Cleanup(srv.Close)
	return srv, write(io.Discard)
}

// peakHeap runs f once after a GC and returns the most HeapAlloc grew above its level before f,
// sampled every millisecond and once more at the end (with f's result still reachable).
func peakHeap(f func() any) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	done := make(chan struct{})
	sampled := make(chan uint64)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		top := uint64(0)
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				sampled <- top
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				top = max(top, ms.HeapAlloc)
			}
		}
	}()
	result := f()
	runtime.ReadMemStats(&ms)
	close(done)
	peak = max(peak, ms.HeapAlloc, <-sampled)
	runtime.KeepAlive(result)
	return peak - base
}

func BenchmarkStreamReply(b *testing.B) {
	c := compileCatalog(b)
	for _, items := range []int{1_000, 10_000, 100_000} {
		srv, size := newCatalogServer(b, items)
		a := soap.New(adapters.Backend{Name: "catalog", Endpoint: srv.URL, MaxReplyBytes: 1 << 40, Timeout: time.Minute}, nil)
		stream := bindStream(b, a, c.listProducts)
		unary, err := a.Bind(c.getProducts, adapters.BindingOf(c.getProducts))
		if err != nil {
			b.Fatal(err)
		}
		req := c.request(b, `{}`)
		calls := map[string]func() any{
			"stream": func() any {
				n := 0
				err := stream(context.Background(), req, func(proto.Message) error { n++; return nil })
				if err != nil || n != items {
					b.Fatalf("streamed %d of %d: %v", n, items, err)
				}
				return nil
			},
			"unary": func() any {
				resp, err := unary(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				return resp
			},
		}
		for _, impl := range []string{"unary", "stream"} {
			call := calls[impl]
			b.Run("items="+strconv.Itoa(items)+"/impl="+impl, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(size)
				for b.Loop() {
					call()
				}
				b.StopTimer()
				b.ReportMetric(float64(peakHeap(call))/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(size)/(1<<20), "reply-MiB")
			})
		}
	}
}

// BenchmarkStreamHuge streams replies of about 10 MB, 100 MB and 1 GB through a server-streaming
// method with the default max_reply_bytes (4 MiB, which bounds each product), once each, and
// reports the process's peak RSS during the call (VmHWM, reset through /proc/self/clear_refs
// first) and the peak heap. Run it alone:
//
//	go test ./adapters/soap/ -run '^$' -bench BenchmarkStreamHuge -benchtime 1x -timeout 30m
func BenchmarkStreamHuge(b *testing.B) {
	c := compileCatalog(b)
	for _, mb := range []int{10, 100, 1000} {
		items := mb << 20 / 470 // a product is about 470 bytes of XML
		srv, size := newCatalogServer(b, items)
		a := soap.New(adapters.Backend{Name: "catalog", Endpoint: srv.URL, Timeout: 30 * time.Minute}, nil)
		stream := bindStream(b, a, c.listProducts)
		req := c.request(b, `{}`)
		b.Run("reply="+strconv.Itoa(mb)+"MB", func(b *testing.B) {
			b.SetBytes(size)
			var rss, heap uint64
			for b.Loop() {
				runtime.GC()
				debug.FreeOSMemory()
				resetPeakRSS(b)
				heap = peakHeap(func() any {
					n := 0
					if err := stream(context.Background(), req, func(proto.Message) error { n++; return nil }); err != nil || n != items {
						b.Fatalf("streamed %d of %d: %v", n, items, err)
					}
					return nil
				})
				rss = peakRSS(b)
			}
			b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
			b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(size)/(1<<20), "reply-MiB")
		})
	}
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux: clear_refs 5).
func resetPeakRSS(tb testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Skipf("cannot reset the peak RSS: %v", err)
	}
}

// peakRSS reads the process's VmHWM, in bytes.
func peakRSS(tb testing.TB) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	tb.Skip("no VmHWM in /proc/self/status")
	return 0
}

// TestStreamMemoryIsFlat streams a reply of about 11 MiB and checks that the heap never grew by
// more than a small part of it: products are decoded, sent and dropped one at a time. GC runs
// at GOGC=10 meanwhile, so garbage awaiting collection does not hide what is kept.
func TestStreamMemoryIsFlat(t *testing.T) { //nolint:paralleltest // measures the process's heap, so runs alone
	if testing.Short() {
		t.Skip("streams an 11 MiB reply")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	c := compileCatalog(t)
	const items = 25_000
	srv, size := newCatalogServer(t, items)
	a := soap.New(adapters.Backend{Name: "catalog", Endpoint: srv.URL, MaxReplyBytes: 1 << 30, Timeout: time.Minute}, nil)
	stream := bindStream(t, a, c.listProducts)
	req := c.request(t, `{}`)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	n := 0
	err := stream(t.Context(), req, func(proto.Message) error {
		if n++; n%500 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	if err != nil || n != items {
		t.Fatalf("streamed %d of %d: %v", n, items, err)
	}
	grew := int64(peak) - int64(base)
	t.Logf("a %.1f MiB reply of %d products streamed; the heap grew by at most %.2f MiB", float64(size)/(1<<20), items, float64(grew)/(1<<20))
	// About 1 MiB is the floor whatever the reply's size (the HTTP client's and the decoder's
	// buffers, one product, GC slack); 1 MiB at 5,000 products, 1.3 MiB at 200,000 when measured.
	const limit = 4 << 20
	if grew > limit {
		t.Errorf("the heap grew by %d bytes while streaming a %d-byte reply; want under %d: the reply is being held", grew, size, limit)
	}
}
